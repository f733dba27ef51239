#!/usr/bin/env python3
"""Check the dataset templates in crates/chiase-io/templates/datasets/.

    python3 bench/check_templates.py            # the repository's templates
    python3 bench/check_templates.py DIR        # another directory

Standard library only.  Every rule of docs/dataset-templates.md is checked:
structure and allowed keys at each level, NFC text, identifiers, coverage of
the 31 databases of Decision 641/QĐ-UBND, the sharing mode allowed for each
database, licence, schema references, constraints per type, and the demo
generators (kind fits the type, arguments valid, and representative generated
values satisfy the field's type and constraints).

Prints one line per file and a summary; exits 1 on any problem.
"""
import datetime
import itertools
import json
import os
import re
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.join(HERE, "..", "crates", "chiase-io", "templates", "datasets")

# Sharing modes each database of Decision 641 allows (docs: shared/CONTEXT.md).
ALLOWED_MODES = {}
for _no in range(1, 8):
    ALLOWED_MODES[_no] = {"specific"}
for _no in range(8, 13):
    ALLOWED_MODES[_no] = {"legal"}
ALLOWED_MODES.update({
    13: {"open"},
    14: {"open", "default", "specific"},
    15: {"open", "default", "specific"},
    16: {"open", "default", "specific"},
    17: {"open"},
    18: {"default"}, 19: {"default"}, 20: {"default"},
    21: {"default"}, 22: {"default"}, 23: {"default"},
    24: {"open"},
    25: {"default", "specific"},
    26: {"open", "default", "specific"},
    27: {"default"},
    28: {"open"},
    29: {"open", "default", "specific"},
    30: {"specific"},
    31: {"open"},
})

ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$")
DOMAIN_RE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
SEQ_PLACEHOLDER_RE = re.compile(r"\{n(?::0([1-9][0-9]?))?\}")
FMT_PLACEHOLDER_RE = re.compile(r"\{([a-z][a-z0-9_]*)\}")
# Field names chiase_core::schema refuses (its own columns, confusing SQL words).
RESERVED_NAMES = {"select", "from", "where", "table", "order", "group", "index", "limit",
                  "offset", "rowid", "oid"}

TOP_REQUIRED = ["template", "database_no", "slug", "title", "title_en", "description",
                "sharing_mode", "licence", "cadence", "schema", "demo"]
TOP_ALLOWED = set(TOP_REQUIRED)
SCHEMA_ALLOWED = {"fields", "primaryKey", "indexes"}
DEMO_ALLOWED = {"rows", "fields"}
FIELD_REQUIRED = ["name", "title", "type"]
FIELD_ALLOWED = {"name", "title", "description", "type", "format", "constraints",
                 "personal", "searchable", "geo"}
MODES = {"open", "default", "specific", "legal"}
CADENCES = {"yearly", "on_change", "continuous", "unspecified"}
PERSONAL = {"none", "basic", "sensitive"}
TYPES = {"string", "integer", "number", "boolean", "date", "datetime", "year",
         "geopoint", "geojson"}

CONSTRAINTS_BY_TYPE = {
    "string": {"required", "unique", "enum", "pattern", "maxLength", "minLength"},
    "integer": {"required", "unique", "enum", "minimum", "maximum"},
    "number": {"required", "unique", "enum", "minimum", "maximum"},
    "year": {"required", "unique", "enum", "minimum", "maximum"},
    "date": {"required", "unique", "enum", "minimum", "maximum"},
    "datetime": {"required", "unique"},
    "boolean": {"required"},
    "geopoint": {"required"},
    "geojson": {"required"},
}
ALL_CONSTRAINTS = set().union(*CONSTRAINTS_BY_TYPE.values())

# kind -> (required argument keys, optional argument keys)
KINDS = {
    "sequence": ({"start"}, {"pattern"}),
    "choice": ({"values"}, {"weights"}),
    "person_name": (set(), set()),
    "gender": (set(), set()),
    "district": (set(), set()),
    "commune": (set(), set()),
    "address": (set(), set()),
    "lat": (set(), set()),
    "lon": (set(), set()),
    "geopoint": (set(), set()),
    "polygon": (set(), {"size_m"}),
    "date": ({"from", "to"}, set()),
    "datetime": ({"from", "to"}, set()),
    "year": ({"from", "to"}, set()),
    "integer": ({"min", "max"}, set()),
    "number": ({"min", "max"}, {"decimals"}),
    "boolean": (set(), {"p_true"}),
    "phone": (set(), set()),
    "email": (set(), {"domain"}),
    "citizen_id": (set(), set()),
    "digits": ({"length"}, {"prefix"}),
    "words": ({"values", "min", "max"}, set()),
    "format": ({"pattern"}, set()),
    "maybe": ({"p_null", "then"}, set()),
}

# Which generator kinds may fill which field type.  "sequence" fills an
# integer field without a pattern and a string field with one.
FITS = {
    "integer": {"sequence", "integer", "year", "choice"},
    "number": {"number", "lat", "lon", "choice"},
    "string": {"sequence", "choice", "person_name", "gender", "district", "commune",
               "address", "phone", "email", "citizen_id", "digits", "words", "format"},
    "boolean": {"boolean", "choice"},
    "date": {"date"},
    "datetime": {"datetime"},
    "year": {"year", "choice"},
    "geopoint": {"geopoint"},
    "geojson": {"polygon"},
}

# Representative values of the place and person kinds (the Rust generator
# uses the same gazetteer as bench/gen_bts.py: 7 districts of Tuyên Quang as
# they stood before 1/7/2025, communes with their level prefix).
SAMPLE_DISTRICTS = ["Thành phố Tuyên Quang", "Yên Sơn", "Sơn Dương", "Hàm Yên",
                    "Chiêm Hóa", "Na Hang", "Lâm Bình"]
SAMPLE_COMMUNES = ["Phường Phan Thiết", "Xã Kim Bình", "Thị trấn Sơn Dương",
                   "Xã Lăng Can", "Phường Ỷ La", "Thị trấn Vĩnh Lộc"]
SAMPLE_ADDRESSES = ["Thôn Làng Mới, Xã Kim Bình, huyện Chiêm Hóa, tỉnh Tuyên Quang",
                    "Tổ dân phố Đồng Tâm, Phường Phan Thiết, Thành phố Tuyên Quang, tỉnh Tuyên Quang"]
SAMPLE_NAMES = ["Nguyễn Văn An", "Hoàng Thị Thu Hà", "Ma Thị Hồng Nhung", "Nông Quốc Tuấn",
                "Lý Văn Dũng"]
LAT_RANGE = (21.5, 22.7)
LON_RANGE = (104.8, 105.6)

# A random-valued generator may back a unique field only if the chance of a
# collision among the demo rows (birthday bound) is below this.
MAX_COLLISION_P = 1e-3


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def valid_date(s):
    if not isinstance(s, str) or not DATE_RE.match(s):
        return False
    try:
        datetime.date.fromisoformat(s)
        return True
    except ValueError:
        return False


def valid_datetime(s):
    if not isinstance(s, str) or not DATETIME_RE.match(s):
        return False
    try:
        datetime.datetime.fromisoformat(s)
        return True
    except ValueError:
        return False


def walk_strings(o, path="$"):
    """Yield (path, string) for every key and string value."""
    if isinstance(o, str):
        yield path, o
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from walk_strings(v, "%s[%d]" % (path, i))
    elif isinstance(o, dict):
        for k, v in o.items():
            yield path + ".<key>", k
            yield from walk_strings(v, "%s.%s" % (path, k))


def rust_regex_problem(p):
    """Constructs Python accepts but the Rust regex crate does not."""
    for bad, what in (("(?=", "lookahead"), ("(?!", "lookahead"), ("(?<=", "lookbehind"),
                      ("(?<!", "lookbehind"), ("(?P=", "backreference")):
        if bad in p:
            return what
    if re.search(r"\\[1-9]", p):
        return "backreference"
    return None


def value_fits_type(v, t):
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return is_int(v)
    if t == "number":
        return is_num(v)
    if t == "year":
        return is_int(v)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "date":
        return valid_date(v)
    if t == "datetime":
        return valid_datetime(v)
    if t == "geopoint":
        return isinstance(v, str)
    if t == "geojson":
        return isinstance(v, dict)
    return False


class Checker:
    def __init__(self, fname):
        self.fname = fname
        self.problems = []

    def err(self, msg):
        self.problems.append(msg)

    # ---------------------------------------------------------------- top
    def check(self, t):
        for path, s in walk_strings(t):
            if not unicodedata.is_normalized("NFC", s):
                self.err("%s: text is not NFC" % path)
        if not isinstance(t, dict):
            self.err("top level is not an object")
            return
        for k in TOP_REQUIRED:
            if k not in t:
                self.err("missing key %r" % k)
        for k in t:
            if k not in TOP_ALLOWED:
                self.err("unknown key %r" % k)
        tid = t.get("template")
        if not isinstance(tid, str) or not ID_RE.match(tid):
            self.err("template %r does not match %s" % (tid, ID_RE.pattern))
        slug = t.get("slug")
        if not isinstance(slug, str) or not ID_RE.match(slug):
            self.err("slug %r does not match %s" % (slug, ID_RE.pattern))
        no = t.get("database_no")
        if not is_int(no) or not 1 <= no <= 31:
            self.err("database_no %r is not an integer 1..31" % (no,))
            no = None
        if no is not None and isinstance(tid, str):
            want = "%02d-%s.json" % (no, tid)
            if self.fname != want:
                self.err("file name should be %s" % want)
        for k in ("title", "title_en", "description"):
            v = t.get(k)
            if not isinstance(v, str) or not v.strip():
                self.err("%s must be a non-empty string" % k)
        for k in ("title", "description"):  # Vietnamese: has diacritics
            v = t.get(k)
            if isinstance(v, str) and v.isascii():
                self.err("%s has no Vietnamese diacritics: %r" % (k, v))
        d = t.get("description")
        if isinstance(d, str):
            n = len(re.findall(r"[.!?…](?:\s|$)", d))
            if not 1 <= n <= 3 or not d.rstrip().endswith((".", "!", "?", "…")):
                self.err("description should be 1–3 sentences ending in a full stop (found %d)" % n)
            if len(d) > 600:
                self.err("description longer than 600 characters")
        mode = t.get("sharing_mode")
        if mode not in MODES:
            self.err("sharing_mode %r is not one of %s" % (mode, sorted(MODES)))
        elif no is not None and mode not in ALLOWED_MODES[no]:
            self.err("sharing_mode %r not allowed for database %d (allowed: %s)"
                     % (mode, no, ", ".join(sorted(ALLOWED_MODES[no]))))
        lic = t.get("licence")
        want_lic = "CC-BY-4.0" if mode == "open" else "restricted"
        if lic != want_lic:
            self.err("licence %r should be %r for sharing_mode %r" % (lic, want_lic, mode))
        if t.get("cadence") not in CADENCES:
            self.err("cadence %r is not one of %s" % (t.get("cadence"), sorted(CADENCES)))
        fields = self.check_schema(t.get("schema"))
        self.check_demo(t.get("demo"), fields)

    # ------------------------------------------------------------- schema
    def check_schema(self, s):
        if not isinstance(s, dict):
            self.err("schema is not an object")
            return []
        for k in s:
            if k not in SCHEMA_ALLOWED:
                self.err("schema: unknown key %r" % k)
        fields = s.get("fields")
        if not isinstance(fields, list):
            self.err("schema.fields is not a list")
            return []
        if not 4 <= len(fields) <= 20:
            self.err("schema.fields has %d fields (4..20 allowed)" % len(fields))
        good, seen = [], set()
        lat = lon = 0
        for i, f in enumerate(fields):
            where = "field[%d]" % i
            if not isinstance(f, dict):
                self.err("%s is not an object" % where)
                continue
            name = f.get("name")
            if isinstance(name, str):
                where = "field %r" % name
            if not isinstance(name, str) or not NAME_RE.match(name) or "__" in name:
                self.err("%s: name %r must match %s without '__'" % (where, name, NAME_RE.pattern))
                continue
            if name in RESERVED_NAMES:
                self.err("%s: name %r is reserved" % (where, name))
                continue
            if name in seen:
                self.err("%s: duplicate field name" % where)
                continue
            seen.add(name)
            if self.check_field(f, where):
                good.append(f)
                geo = f.get("geo")
                lat += geo == "lat"
                lon += geo == "lon"
        if lat > 1 or lon > 1:
            self.err("schema: more than one geo lat or lon field")
        if (lat > 0) != (lon > 0):
            self.err("schema: a geo 'lat' field needs a geo 'lon' field and vice versa")
        byname = {f["name"]: f for f in good}
        pk = s.get("primaryKey")
        if pk is not None:
            if not isinstance(pk, list) or not pk or not all(isinstance(x, str) for x in pk):
                self.err("primaryKey must be a non-empty list of field names")
            else:
                if len(set(pk)) != len(pk):
                    self.err("primaryKey repeats a field")
                for x in pk:
                    if x not in seen:
                        self.err("primaryKey names unknown field %r" % x)
                    elif x in byname and not self.constraint(byname[x], "required"):
                        self.err("primaryKey field %r must be required" % x)
        idx = s.get("indexes")
        if idx is not None:
            if not isinstance(idx, list):
                self.err("indexes must be a list of lists of field names")
            else:
                keys = set()
                for ix in idx:
                    if not isinstance(ix, list) or not ix or not all(isinstance(x, str) for x in ix):
                        self.err("index %r must be a non-empty list of field names" % (ix,))
                        continue
                    if len(set(ix)) != len(ix):
                        self.err("index %r repeats a field" % (ix,))
                    for x in ix:
                        if x not in seen:
                            self.err("index %r names unknown field %r" % (ix, x))
                    if tuple(ix) in keys:
                        self.err("index %r given twice" % (ix,))
                    keys.add(tuple(ix))
        self.pk = pk if isinstance(pk, list) else None
        return good

    @staticmethod
    def constraint(f, k, default=None):
        c = f.get("constraints")
        return c.get(k, default) if isinstance(c, dict) else default

    def check_field(self, f, where):
        ok = True
        for k in FIELD_REQUIRED:
            if k not in f:
                self.err("%s: missing key %r" % (where, k))
                ok = False
        for k in f:
            if k not in FIELD_ALLOWED:
                self.err("%s: unknown key %r" % (where, k))
        if not isinstance(f.get("title"), str) or not f.get("title", "").strip():
            self.err("%s: title must be a non-empty string" % where)
        if "description" in f and not isinstance(f["description"], str):
            self.err("%s: description must be a string" % where)
        t = f.get("type")
        if t not in TYPES:
            self.err("%s: type %r is not one of %s" % (where, t, sorted(TYPES)))
            return False
        if "format" in f:
            self.check_date_format(f["format"], t, where)
        if f.get("personal", "none") not in PERSONAL:
            self.err("%s: personal %r is not one of %s" % (where, f.get("personal"), sorted(PERSONAL)))
        if "searchable" in f:
            if not isinstance(f["searchable"], bool):
                self.err("%s: searchable must be true or false" % where)
            elif f["searchable"] and t != "string":
                self.err("%s: only string fields can be searchable" % where)
        if "geo" in f:
            if t != "number":
                self.err("%s: geo is only allowed on type number" % where)
            if f["geo"] not in ("lat", "lon"):
                self.err("%s: geo must be 'lat' or 'lon'" % where)
        c = f.get("constraints")
        if c is not None:
            if not isinstance(c, dict):
                self.err("%s: constraints must be an object" % where)
            else:
                self.check_constraints(c, t, where)
        return ok

    def check_date_format(self, fmt, t, where):
        if t != "date":
            self.err("%s: format is only allowed on type date" % where)
            return
        if not isinstance(fmt, str) or "%" not in fmt:
            self.err("%s: format must be a strftime pattern like %%d/%%m/%%Y" % where)
            return
        if re.search(r"%[^dmYy%]", fmt):
            self.err("%s: format may only use %%d %%m %%Y %%y" % where)
            return
        d = datetime.date(2024, 1, 31)
        try:
            if datetime.datetime.strptime(d.strftime(fmt), fmt).date() != d:
                self.err("%s: format %r does not round-trip a date" % (where, fmt))
        except ValueError:
            self.err("%s: format %r does not round-trip a date" % (where, fmt))

    def check_constraints(self, c, t, where):
        allowed = CONSTRAINTS_BY_TYPE[t]
        for k in c:
            if k not in ALL_CONSTRAINTS:
                self.err("%s: unknown constraint %r" % (where, k))
            elif k not in allowed:
                self.err("%s: constraint %r not allowed on type %s" % (where, k, t))
        for k in ("required", "unique"):
            if k in c and not isinstance(c[k], bool):
                self.err("%s: %s must be true or false" % (where, k))
        if "enum" in c and "enum" in allowed:
            e = c["enum"]
            if not isinstance(e, list) or not e:
                self.err("%s: enum must be a non-empty list" % where)
            else:
                for v in e:
                    if not value_fits_type(v, t):
                        self.err("%s: enum value %r is not a %s" % (where, v, t))
                if len({json.dumps(v, ensure_ascii=False) for v in e}) != len(e):
                    self.err("%s: enum repeats a value" % where)
        for k in ("minimum", "maximum"):
            if k in c and k in allowed:
                v = c[k]
                ok = valid_date(v) if t == "date" else (is_int(v) if t in ("integer", "year") else is_num(v))
                if not ok:
                    self.err("%s: %s %r does not fit type %s" % (where, k, v, t))
        if "minimum" in c and "maximum" in c and type(c["minimum"]) is type(c["maximum"]) \
                and c["minimum"] > c["maximum"]:
            self.err("%s: minimum is greater than maximum" % where)
        if "pattern" in c and "pattern" in allowed:
            p = c["pattern"]
            if not isinstance(p, str):
                self.err("%s: pattern must be a string" % where)
            else:
                try:
                    re.compile(p)
                except re.error as e:
                    self.err("%s: pattern %r does not compile: %s" % (where, p, e))
                bad = rust_regex_problem(p)
                if bad:
                    self.err("%s: pattern uses a %s, which the Rust regex crate lacks" % (where, bad))
        for k in ("minLength", "maxLength"):
            if k in c and k in allowed and (not is_int(c[k]) or c[k] < 0):
                self.err("%s: %s must be a non-negative integer" % (where, k))
        if is_int(c.get("minLength")) and is_int(c.get("maxLength")) and c["minLength"] > c["maxLength"]:
            self.err("%s: minLength is greater than maxLength" % where)

    # --------------------------------------------------------------- demo
    def check_demo(self, d, fields):
        if not isinstance(d, dict):
            self.err("demo is not an object")
            return
        for k in ("rows", "fields"):
            if k not in d:
                self.err("demo: missing key %r" % k)
        for k in d:
            if k not in DEMO_ALLOWED:
                self.err("demo: unknown key %r" % k)
        rows = d.get("rows")
        if not is_int(rows) or not 50 <= rows <= 2000:
            self.err("demo.rows %r must be an integer 50..2000" % (rows,))
            rows = 2000
        self.rows = rows
        gens = d.get("fields")
        if not isinstance(gens, dict):
            self.err("demo.fields is not an object")
            return
        names = [f["name"] for f in fields]
        for k in gens:
            if k not in names:
                self.err("demo.fields: generator for unknown field %r" % k)
        samples, nullable, unique_src = {}, set(), set()
        earlier = []
        for f in fields:
            name = f["name"]
            where = "field %r" % name
            g = gens.get(name)
            if g is None:
                self.err("%s: no demo generator" % where)
                earlier.append(name)
                continue
            if not self.check_gen(g, f, where, earlier, nullable, top=True):
                earlier.append(name)
                continue
            vals = self.sample(g, samples)
            samples[name] = vals
            if any(v is None for v in vals):
                nullable.add(name)
            self.check_values(f, g, vals, where)
            if self.unique_capable(g, unique_src):
                unique_src.add(name)
            single_pk = self.pk is not None and self.pk == [name]
            if self.constraint(f, "unique") or single_pk:
                if name not in unique_src:
                    self.err("%s: unique (or sole primary key) but its generator %r can repeat values"
                             % (where, g.get("kind")))
            if g.get("kind") == "citizen_id" or (g.get("kind") == "maybe" and isinstance(g.get("then"), dict)
                                                 and g["then"].get("kind") == "citizen_id"):
                if f.get("personal", "none") == "none":
                    self.err("%s: holds citizen ID numbers but personal is 'none'" % where)
            earlier.append(name)

    def check_gen(self, g, f, where, earlier, nullable, top):
        t = f["type"]
        if not isinstance(g, dict) or not isinstance(g.get("kind"), str):
            self.err("%s: generator must be an object with a 'kind'" % where)
            return False
        kind = g["kind"]
        if kind not in KINDS:
            self.err("%s: unknown generator kind %r" % (where, kind))
            return False
        req, opt = KINDS[kind]
        for k in req:
            if k not in g:
                self.err("%s: %s generator needs %r" % (where, kind, k))
                return False
        for k in g:
            if k != "kind" and k not in req and k not in opt:
                self.err("%s: %s generator has unknown key %r" % (where, kind, k))
        if kind == "maybe":
            if not top:
                self.err("%s: maybe inside maybe" % where)
                return False
            p = g["p_null"]
            if not is_num(p) or not 0 < p < 1:
                self.err("%s: p_null must be a number strictly between 0 and 1" % where)
            if self.constraint(f, "required"):
                self.err("%s: maybe (null values) on a required field" % where)
            return self.check_gen(g["then"], f, where, earlier, nullable, top=False)
        if kind not in FITS[t]:
            self.err("%s: generator kind %r cannot fill type %s" % (where, kind, t))
            return False
        if kind == "sequence":
            if not is_int(g["start"]) or g["start"] < 0:
                self.err("%s: sequence start must be a non-negative integer" % where)
                return False
            pat = g.get("pattern")
            if t == "integer" and pat is not None:
                self.err("%s: a sequence with a pattern makes strings, not integers" % where)
                return False
            if t == "string":
                if not isinstance(pat, str):
                    self.err("%s: a sequence for a string field needs a pattern with {n}" % where)
                    return False
                if len(SEQ_PLACEHOLDER_RE.findall(pat)) != 1 or \
                        "{" in SEQ_PLACEHOLDER_RE.sub("", pat) or "}" in SEQ_PLACEHOLDER_RE.sub("", pat):
                    self.err("%s: sequence pattern %r needs exactly one {n} or {n:0W} and no other braces"
                             % (where, pat))
                    return False
        elif kind == "choice":
            vals = g["values"]
            if not isinstance(vals, list) or not vals:
                self.err("%s: choice values must be a non-empty list" % where)
                return False
            for v in vals:
                if not value_fits_type(v, t) or (t == "year" and not is_int(v)):
                    self.err("%s: choice value %r is not a %s" % (where, v, t))
                    return False
            w = g.get("weights")
            if w is not None:
                if not isinstance(w, list) or len(w) != len(vals) or not all(is_num(x) and x >= 0 for x in w) \
                        or sum(w) <= 0:
                    self.err("%s: weights must be non-negative numbers, one per value, not all zero" % where)
        elif kind in ("date", "datetime"):
            ok = valid_date if kind == "date" else valid_datetime
            if not ok(g["from"]) or not ok(g["to"]):
                self.err("%s: %s from/to must be ISO %ss" % (where, kind, kind))
                return False
            if g["from"] > g["to"]:
                self.err("%s: %s from is after to" % (where, kind))
        elif kind in ("year", "integer"):
            a, b = (g["from"], g["to"]) if kind == "year" else (g["min"], g["max"])
            if not is_int(a) or not is_int(b) or a > b:
                self.err("%s: %s bounds must be integers with lower <= upper" % (where, kind))
                return False
        elif kind == "number":
            if not is_num(g["min"]) or not is_num(g["max"]) or g["min"] > g["max"]:
                self.err("%s: number min/max must be numbers with min <= max" % where)
                return False
            dec = g.get("decimals", 2)
            if not is_int(dec) or not 0 <= dec <= 12:
                self.err("%s: decimals must be an integer 0..12" % where)
        elif kind == "boolean":
            p = g.get("p_true", 0.5)
            if not is_num(p) or not 0 <= p <= 1:
                self.err("%s: p_true must be a number 0..1" % where)
        elif kind == "email":
            dom = g.get("domain", "example.vn")
            if not isinstance(dom, str) or not DOMAIN_RE.match(dom):
                self.err("%s: email domain %r is not a domain name" % (where, dom))
        elif kind == "digits":
            n, pre = g["length"], g.get("prefix", "")
            if not is_int(n) or not 1 <= n <= 40:
                self.err("%s: digits length must be an integer 1..40" % where)
                return False
            if not isinstance(pre, str) or (pre and not pre.isdigit()) or len(pre) >= n:
                self.err("%s: digits prefix must be digits, shorter than length" % where)
                return False
        elif kind == "words":
            vals, a, b = g["values"], g["min"], g["max"]
            if not isinstance(vals, list) or not vals or not all(isinstance(v, str) and v.strip() for v in vals):
                self.err("%s: words values must be a non-empty list of non-empty strings" % where)
                return False
            if not is_int(a) or not is_int(b) or not 1 <= a <= b:
                self.err("%s: words min/max must be integers with 1 <= min <= max" % where)
                return False
        elif kind == "format":
            pat = g["pattern"]
            if not isinstance(pat, str):
                self.err("%s: format pattern must be a string" % where)
                return False
            refs = FMT_PLACEHOLDER_RE.findall(pat)
            rest = FMT_PLACEHOLDER_RE.sub("", pat)
            if not refs or "{" in rest or "}" in rest:
                self.err("%s: format pattern %r needs {field} placeholders and no other braces" % (where, pat))
                return False
            for r in refs:
                if r not in earlier:
                    self.err("%s: format placeholder {%s} is not an earlier field" % (where, r))
                    return False
                if r in nullable:
                    self.err("%s: format placeholder {%s} names a field that can be null" % (where, r))
                    return False
        elif kind == "polygon":
            s = g.get("size_m", 100)
            if not is_num(s) or s <= 0:
                self.err("%s: polygon size_m must be a positive number" % where)
        return True

    # ---- sampling: representative values a generator produces
    def sample(self, g, samples):
        kind = g["kind"]
        rows = self.rows
        if kind == "maybe":
            return [None] + self.sample(g["then"], samples)
        if kind == "sequence":
            ns = sorted({g["start"], g["start"] + 1, g["start"] + rows - 1})
            pat = g.get("pattern")
            if pat is None:
                return ns

            def fill(n):
                return SEQ_PLACEHOLDER_RE.sub(lambda m: str(n).zfill(int(m.group(1) or 0)), pat)
            return [fill(n) for n in ns]
        if kind == "choice":
            return list(g["values"])
        if kind == "person_name":
            return list(SAMPLE_NAMES)
        if kind == "gender":
            return ["Nam", "Nữ"]
        if kind == "district":
            return list(SAMPLE_DISTRICTS)
        if kind == "commune":
            return list(SAMPLE_COMMUNES)
        if kind == "address":
            return list(SAMPLE_ADDRESSES)
        if kind == "lat":
            return list(LAT_RANGE)
        if kind == "lon":
            return list(LON_RANGE)
        if kind == "geopoint":
            return ["105.214, 21.818"]
        if kind == "polygon":
            return [{"type": "Polygon", "coordinates": [[[105.21, 21.81], [105.22, 21.81],
                                                         [105.22, 21.82], [105.21, 21.81]]]}]
        if kind in ("date", "datetime"):
            return [g["from"], g["to"]]
        if kind == "year":
            return [g["from"], g["to"]]
        if kind in ("integer", "number"):
            return [g["min"], g["max"]]
        if kind == "boolean":
            p = g.get("p_true", 0.5)
            return ([True] if p > 0 else []) + ([False] if p < 1 else [])
        if kind == "phone":
            return ["0912345678", "0389999999"]
        if kind == "email":
            return ["nguyenvanan@" + g.get("domain", "example.vn")]
        if kind == "citizen_id":
            return ["008095001234", "008299999999"]
        if kind == "digits":
            pre = g.get("prefix", "")
            return [pre + "0" * (g["length"] - len(pre)), pre + "9" * (g["length"] - len(pre))]
        if kind == "words":
            vals = sorted(g["values"], key=len)
            short = " ".join([vals[0]] * g["min"])
            long_ = " ".join([vals[-1]] * g["max"])
            return [short, " ".join(g["values"][:g["max"]][:max(g["min"], 1)]), long_]
        if kind == "format":
            refs = FMT_PLACEHOLDER_RE.findall(g["pattern"])
            pools = []
            for r in refs:
                vs = [v for v in samples.get(r, []) if v is not None]
                by_len = sorted(vs, key=lambda v: len(str(v)))
                pools.append(list(dict.fromkeys([by_len[0], by_len[-1]] + vs[:3])) if vs else [""])
            out = []
            for combo in itertools.islice(itertools.product(*pools), 200):
                vals = dict(zip(refs, combo))
                out.append(FMT_PLACEHOLDER_RE.sub(lambda m: str(vals[m.group(1)]), g["pattern"]))
            return out
        return []

    def check_values(self, f, g, vals, where):
        t = f["type"]
        c = f.get("constraints") if isinstance(f.get("constraints"), dict) else {}
        enum = c.get("enum") if isinstance(c.get("enum"), list) else None
        pat = None
        if isinstance(c.get("pattern"), str):
            try:
                pat = re.compile(c["pattern"])
            except re.error:
                pat = None
        kind = g["kind"] if g["kind"] != "maybe" else g["then"]["kind"]
        if kind == "choice" and enum is not None:
            for v in vals:
                if v is not None and v not in enum:
                    self.err("%s: choice value %r is not in the field's enum" % (where, v))
                    return
        for v in vals:
            if v is None:
                continue
            if t == "year" and not is_int(v):
                self.err("%s: generated %r is not a year" % (where, v))
                return
            if not value_fits_type(v, t):
                self.err("%s: generated %r is not a %s" % (where, v, t))
                return
            if enum is not None and v not in enum:
                self.err("%s: generated %r is not in the enum" % (where, v))
                return
            if "minimum" in c and type(v) is not bool:
                try:
                    if v < c["minimum"]:
                        self.err("%s: generated %r is below minimum %r" % (where, v, c["minimum"]))
                        return
                except TypeError:
                    pass
            if "maximum" in c:
                try:
                    if v > c["maximum"]:
                        self.err("%s: generated %r is above maximum %r" % (where, v, c["maximum"]))
                        return
                except TypeError:
                    pass
            if isinstance(v, str):
                if pat is not None and not pat.fullmatch(v):
                    self.err("%s: generated %r does not match pattern %r" % (where, v, c["pattern"]))
                    return
                if is_int(c.get("maxLength")) and len(v) > c["maxLength"]:
                    self.err("%s: generated value of length %d exceeds maxLength %d"
                             % (where, len(v), c["maxLength"]))
                    return
                if is_int(c.get("minLength")) and len(v) < c["minLength"]:
                    self.err("%s: generated %r is shorter than minLength %d" % (where, v, c["minLength"]))
                    return
        if f.get("geo") == "lat" and kind not in ("lat", "number"):
            self.err("%s: geo lat field should use the lat generator" % where)
        if f.get("geo") == "lon" and kind not in ("lon", "number"):
            self.err("%s: geo lon field should use the lon generator" % where)

    def unique_capable(self, g, unique_src):
        kind = g["kind"]
        if kind == "sequence":
            return True
        if kind == "format":
            return any(r in unique_src for r in FMT_PLACEHOLDER_RE.findall(g["pattern"]))
        space = None
        if kind == "digits":
            space = 10 ** (g["length"] - len(g.get("prefix", "")))
        elif kind == "citizen_id":
            space = 10 ** 9
        elif kind == "phone":
            space = 10 ** 8
        if space:
            n = self.rows
            return n * (n - 1) / (2 * space) < MAX_COLLISION_P
        return False


def main(argv):
    d = os.path.abspath(argv[1] if len(argv) > 1 else DEFAULT_DIR)
    files = sorted(f for f in os.listdir(d) if f.endswith(".json")) if os.path.isdir(d) else []
    if not files:
        print("no templates found in %s" % d)
        return 1
    total = 0
    ids, slugs, covered = {}, {}, set()
    for fn in files:
        ch = Checker(fn)
        ch.pk = None
        ch.rows = 2000
        try:
            with open(os.path.join(d, fn), "rb") as fh:
                raw = fh.read()
            t = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            ch.err("does not parse as UTF-8 JSON: %s" % e)
            t = None
        if t is not None:
            ch.check(t)
            if isinstance(t, dict):
                tid, slug, no = t.get("template"), t.get("slug"), t.get("database_no")
                if isinstance(tid, str):
                    if tid in ids:
                        ch.err("template id %r also used by %s" % (tid, ids[tid]))
                    ids.setdefault(tid, fn)
                if isinstance(slug, str):
                    if slug in slugs:
                        ch.err("slug %r also used by %s" % (slug, slugs[slug]))
                    slugs.setdefault(slug, fn)
                if is_int(no) and 1 <= no <= 31 and not ch.problems:
                    covered.add(no)
        if ch.problems:
            print("FAIL %-42s %d problem(s)" % (fn, len(ch.problems)))
            for p in ch.problems:
                print("     - " + p)
        else:
            s = t["schema"]
            personal = sum(1 for f in s["fields"] if f.get("personal", "none") != "none")
            geo = "point" if any(f.get("geo") for f in s["fields"]) else \
                "polygon" if any(f["type"] == "geojson" for f in s["fields"]) else "-"
            print("ok   %-42s db %2d  %-8s %2d fields  %d personal  geo %-7s %4d rows"
                  % (fn, t["database_no"], t["sharing_mode"], len(s["fields"]), personal, geo,
                     t["demo"]["rows"]))
        total += len(ch.problems)
    missing = sorted(set(range(1, 32)) - covered)
    if missing:
        print("FAIL coverage: no valid template for database(s) %s" % ", ".join(map(str, missing)))
        total += 1
    print("%d template(s), %d/31 databases covered, %d problem(s)" % (len(files), len(covered), total))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
