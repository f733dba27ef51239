#!/usr/bin/env python3
"""chiase and Datasette side by side, on the same data, in one run (issue 9).

Run it through bench/peer_bench.sh, which installs wrk and Datasette and
copies the chiase binary first:

    cargo build --release -p chiase-server
    bench/peer_bench.sh                      # 100k and 1M rows
    bench/peer_bench.sh --sizes 100k         # one size
    bench/peer_bench.sh --sizes 100k,1M,10M  # 10M: a 2.3 GB CSV, a long import
    bench/peer_bench.sh --duration 30 --only fts-common,bbox-dense --no-docs
    bench/peer_bench.sh --check-only         # the answers only, no load

For each size, the BTS table of bench/gen_bts.py (same seed: every file is a
prefix of the larger ones) is loaded into

- chiase: `catalog import`, `dataset create --template tram-bts --entry 26
  --sharing open`, `import`, then `chiase serve` on a free loopback port;
- Datasette 0.65: a SQLite file with the same typed columns and the indexes
  chiase makes for the template (primary key id, unique ma_tram, nha_mang,
  trang_thai, (huyen, xa), and the point index (lat, lon) that chiase adds
  for the lat/lon fields), an FTS5 table over huyen, xa, dia_chi with the
  `unicode61 remove_diacritics 2` tokenizer chiase uses, and ANALYZE as
  chiase runs after an import; served read-only (`-i`, immutable).

Both servers are up at once on loopback; wrk (2 threads x 16 connections,
10 s) loads one at a time. Every workload asks both for the same 100-row
page:

  first          the first page, no filter
  eq-index       nha_mang=Viettel: a field with its own index (42% of rows)
  eq-composite   huyen=Sơn Dương: the first column of the (huyen, xa)
                 index, a common district (20% of rows)
  eq-noindex     chieu_cao=36.0: a field with no index. A number with 481
                 values spread evenly (12.0-60.0 m): about 0.2% of rows
                 match (208 at 100k, 2,080 at 1M), so the page is full at
                 every size, yet both servers scan ~48,000 rows to fill it.
                 (A date would give only ~14 matches at 100k: 7,305 days.)
  filter-sort    huyen=Sơn Dương sorted by chieu_cao (Datasette: _sort)
  fts-common     full text "trang" (7.3% of rows: "Cột ngụy trang" in
                 addresses, and Xã Tràng Đà)
  fts-rare       full text "nang" (0.7%: Xã Năng Khả, the rarest word of the
                 data). Both words fold to themselves and contain no đ
                 (which unicode61 does not fold and chiase folds to d), and
                 neither is the prefix of another word (chiase reads the last
                 word as a prefix, Datasette matches whole words), so both
                 servers must find the same rows; the check proves it.
  row-by-key     /records/{id} against Datasette's row JSON, id = rows/2 + 1
  deep-page      the page after row rows/2: chiase's `after` cursor found by
                 walking pages of 1,000, Datasette's `_next` token (the last
                 primary key, which is what its own next link carries)
  bbox-dense     around the provincial city: 105.20-105.23 E, 21.80-21.83 N
  bbox-sparse    the edge of Sơn Dương: 105.50-105.56 E, 21.52-21.58 N

Datasette orders `_search` results by rowid in 0.65 (views/table.py: only
`_sort` changes the order; rank is not used), and chiase pages in record
order, which is file order here: both are asked for the same order. On a
`_sort`, Datasette 0.65 orders the first page by the sort column alone (the
primary key breaks ties only on later pages), so within a tie its rows may
come in any order: its filter-sort answer is checked as a correct page
(same sort values in order, each tie group a subset of the rows with that
value), chiase's as exactly (chieu_cao, id).

Datasette gets every advantage it offers: sql_time_limit_ms 120000 so that
slow queries finish rather than error, suggest_facets off, `_nocount=1` (it
would otherwise count every match of every page; chiase counts up to 1,000),
an immutable database. `--datasette-count` lets it count as it does by
default.

Before loading a workload, and again after, its page is fetched from both
servers and compared with SQLite itself (Python's sqlite3 on the Datasette
database, and an independent folding of the text for full text): the ids of
the 100 rows in order and every column's value, the next-page link, and
chiase's total. A wrong answer is reported loudly, the workload is not
loaded (a wrong answer has no speed), docs/benchmarks.md is left alone and
the script exits 1.

Output: per workload, each server's successful requests/s, p50 and p99
latency, the ratio chiase/Datasette and whether the answers matched; then
each server's VmRSS and VmHWM from /proc after the run. The tables replace
what is between `<!-- peer-bench:begin -->` and `<!-- peer-bench:end -->`
in docs/benchmarks.md.

Standard library only (Datasette runs in its own virtual environment).
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request

DS_DB = "bts"          # Datasette's database name (the file is bts.db)
DS_TABLE = "tram_bts"  # and its table
PAGE = 100
COLUMNS = ["id", "ma_tram", "nha_mang", "huyen", "xa", "dia_chi", "lat", "lon",
           "chieu_cao", "ngay_cap_phep", "trang_thai"]
BEGIN, END = "<!-- peer-bench:begin -->", "<!-- peer-bench:end -->"
CATALOG = "crates/chiase-io/catalogs/641-QD-UBND-2022-tuyen-quang.txt"

DISTRICT = "Sơn Dương"
NO_INDEX_VALUE = 36.0
WORD_COMMON, WORD_RARE = "trang", "nang"
BBOX_DENSE = (105.20, 21.80, 105.23, 21.83)   # minlon, minlat, maxlon, maxlat
BBOX_SPARSE = (105.50, 21.52, 105.56, 21.58)


def log(*a):
    print(*a, flush=True)


def loud(msg):
    bar = "!" * 78
    print(f"\n{bar}\n{msg}\n{bar}\n", file=sys.stderr, flush=True)


def parse_size(s):
    s = s.strip().lower().replace("_", "").replace(",", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s[:-1] if mult > 1 else s) * mult)


def size_label(n):
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


# ---------------------------------------------------------------- data

def ensure_csv(work, root, n):
    """The generated CSV, made once (to a temporary name, then renamed)."""
    path = os.path.join(work, f"bts_{n}.csv")
    if os.path.exists(path) and last_id(path) == n:
        return path
    log(f"generating {path} ...")
    tmp = path + f".tmp{os.getpid()}"
    subprocess.run([sys.executable, os.path.join(root, "bench", "gen_bts.py"), "--rows", str(n), "--out", tmp], check=True)
    os.replace(tmp, path)
    return path


def last_id(path):
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - 4096))
        tail = f.read().decode("utf-8", "replace").rstrip("\n").rsplit("\n", 1)[-1]
    try:
        return int(tail.split(",", 1)[0])
    except ValueError:
        return -1


DS_SCHEMA = f"""
CREATE TABLE {DS_TABLE} (
  id INTEGER PRIMARY KEY, ma_tram TEXT NOT NULL UNIQUE, nha_mang TEXT NOT NULL,
  huyen TEXT NOT NULL, xa TEXT NOT NULL, dia_chi TEXT, lat REAL NOT NULL,
  lon REAL NOT NULL, chieu_cao REAL, ngay_cap_phep TEXT, trang_thai TEXT NOT NULL);
"""
DS_INDEXES = f"""
CREATE INDEX {DS_TABLE}_nha_mang ON {DS_TABLE} (nha_mang);
CREATE INDEX {DS_TABLE}_trang_thai ON {DS_TABLE} (trang_thai);
CREATE INDEX {DS_TABLE}_huyen_xa ON {DS_TABLE} (huyen, xa);
CREATE INDEX {DS_TABLE}_lat_lon ON {DS_TABLE} (lat, lon);
CREATE VIRTUAL TABLE {DS_TABLE}_fts USING fts5 (huyen, xa, dia_chi,
  content="{DS_TABLE}", content_rowid="id", tokenize="unicode61 remove_diacritics 2");
INSERT INTO {DS_TABLE}_fts (rowid, huyen, xa, dia_chi) SELECT id, huyen, xa, dia_chi FROM {DS_TABLE};
PRAGMA analysis_limit = 1000;
ANALYZE;
"""


def ensure_datasette_db(csv_path, dir_, n):
    import csv
    path = os.path.join(dir_, f"{DS_DB}.db")
    if os.path.exists(path):
        return path
    log(f"building {path} (typed columns, indexes, FTS5) ...")
    t = time.perf_counter()
    tmp = path + ".tmp"
    for p in (tmp, tmp + "-journal"):
        if os.path.exists(p):
            os.remove(p)
    db = sqlite3.connect(tmp)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.executescript(DS_SCHEMA)

    def typed(rows):
        for r in rows:
            yield (int(r[0]), r[1], r[2], r[3], r[4], r[5] or None, float(r[6]), float(r[7]),
                   float(r[8]) if r[8] else None, r[9] or None, r[10])

    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        if next(rows) != COLUMNS:
            raise SystemExit(f"{csv_path}: unexpected header")
        db.execute("BEGIN")
        db.executemany(f"INSERT INTO {DS_TABLE} VALUES ({','.join('?' * len(COLUMNS))})", typed(rows))
        db.execute("COMMIT")
    db.executescript(DS_INDEXES)
    got = db.execute(f"SELECT count(*) FROM {DS_TABLE}").fetchone()[0]
    db.close()
    if got != n:
        raise SystemExit(f"{tmp}: {got} rows, expected {n}")
    os.replace(tmp, path)
    log(f"  {n:,} rows in {time.perf_counter() - t:.1f} s")
    return path


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def chiase_env():
    """The environment without CHIASE_* settings (a stray database URL or
    config file would change what is measured)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CHIASE_")}


def ensure_chiase_data(args, csv_path, dir_, n, bin_hash):
    """chiase's data directory, imported by this binary (a data directory
    from another build is imported again: indexes and layout change)."""
    data = os.path.join(dir_, "chiase")
    marker = os.path.join(dir_, "chiase.imported-by")
    if os.path.exists(marker) and not args.reimport:
        with open(marker) as f:
            made_by = f.read().strip()
        if made_by == bin_hash or args.reuse_any:
            return data
        log(f"{data} was imported by another chiase binary ({made_by[:12]}): importing again")
    if os.path.exists(marker):
        os.remove(marker)
    shutil.rmtree(data, ignore_errors=True)
    env = chiase_env()

    def c(*cmd):
        subprocess.run([args.chiase, "--data", data, *cmd], check=True, env=env, stdout=subprocess.DEVNULL)

    log(f"importing {n:,} rows into chiase ({data}) ...")
    c("catalog", "import", os.path.join(args.root, CATALOG), "--decision", "641/QĐ-UBND", "--date", "2022-06-06")
    c("dataset", "create", "--template", "tram-bts", "--entry", "26", "--sharing", "open")
    t = time.perf_counter()
    c("import", "tram-bts", csv_path, "--mode", "append")
    log(f"  {n:,} rows in {time.perf_counter() - t:.1f} s")
    with open(marker, "w") as f:
        f.write(bin_hash + "\n")
    return data


# ---------------------------------------------------------------- servers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, cmd, port, ready_path, logfile, env=None):
        self.name, self.port = name, port
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(logfile, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.time() + 120
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise SystemExit(f"{name} exited at start ({self.proc.returncode}); see {logfile}")
            try:
                with urllib.request.urlopen(self.base + ready_path, timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.time() > deadline:
                self.stop()
                raise SystemExit(f"{name} not ready after 120 s; see {logfile}")
            time.sleep(0.1)

    def memory(self):
        """VmRSS and VmHWM in kB, from /proc."""
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def get_json(url, timeout):
    """(status, parsed body, milliseconds, start of the body); status None
    when no answer came within `timeout` seconds."""
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    except (urllib.error.URLError, OSError) as e:
        return None, None, (time.perf_counter() - t) * 1000, str(getattr(e, "reason", e)).encode()
    ms = (time.perf_counter() - t) * 1000
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return status, doc, ms, body[:300]


# ---------------------------------------------------------------- expected answers

def fold(s):
    """chiase's folding (chiase-core fold.rs): no marks, đ -> d, lower case."""
    out = []
    for ch in unicodedata.normalize("NFD", s):
        if unicodedata.combining(ch):
            continue
        out.append("d" if ch in "đĐðÐ" else ch.lower())
    return "".join(out)


def strip_marks(s):
    """What SQLite's unicode61 tokenizer with remove_diacritics 2 leaves of a
    word: no marks, lower case, but đ stays đ."""
    return "".join(ch for ch in unicodedata.normalize("NFD", s.lower()) if not unicodedata.combining(ch))


WORD = re.compile(r"[^\W_]+")


def fts_expected(db, word):
    """The first page of rows holding `word`, found by folding the text in
    Python (not through any FTS index). Also proves that the word is no
    other word's prefix there (chiase matches the last word as a prefix)."""
    ids = []
    for rid, *texts in db.execute(f"SELECT id, huyen, xa, dia_chi FROM {DS_TABLE} ORDER BY id"):
        words = set(WORD.findall(fold(" ".join(t or "" for t in texts))))
        exact = word in words
        if not exact and any(w.startswith(word) for w in words):
            raise SystemExit(f"setup: «{word}» is the prefix of another word in row {rid}: choose another word")
        if exact and word not in WORD.findall(strip_marks(" ".join(t or "" for t in texts))):
            raise SystemExit(f"setup: «{word}» matches row {rid} only by folding đ to d, which SQLite's tokenizer does not")
        if exact:
            ids.append(rid)
            if len(ids) > PAGE:
                break
    return ids


def rows_by_id(db, ids):
    out = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        q = f"SELECT {', '.join(COLUMNS)} FROM {DS_TABLE} WHERE id IN ({','.join('?' * len(chunk))})"
        out.update((r[0], dict(zip(COLUMNS, r))) for r in db.execute(q, chunk))
    return out


class Workload:
    """One page asked of both servers, and what SQLite says it holds."""

    def __init__(self, name, label, chiase, datasette, where="", params=(), order="id", ties=None, key=None,
                 offset=0, fts_word=None):
        self.name, self.label = name, label
        self.chiase_url, self.datasette_url = chiase, datasette  # query strings, made whole in run_size
        self.where, self.params, self.order = where, list(params), order
        self.ties = ties          # the sort column whose ties Datasette may order freely
        self.key = key            # a single row, not a page
        self.offset = offset      # the page after this many rows
        self.fts_word = fts_word  # full text: expected rows found by folding

    def expect(self, db):
        w = f"WHERE {self.where}" if self.where else ""
        if self.fts_word:
            self.count = db.execute(f"SELECT count(*) FROM {DS_TABLE}_fts WHERE {DS_TABLE}_fts MATCH ?",
                                    ['"' + self.fts_word + '"']).fetchone()[0]
            ids = fts_expected(db, self.fts_word)
            if len(ids) != min(self.count, PAGE + 1):
                raise SystemExit(f"setup: the FTS index counts {self.count} rows for «{self.fts_word}», "
                                 f"folding found {len(ids)} of the first {PAGE + 1}")
        else:
            self.count = db.execute(f"SELECT count(*) FROM {DS_TABLE} {w}", self.params).fetchone()[0]
            q = f"SELECT id FROM {DS_TABLE} {w} ORDER BY {self.order} LIMIT ? OFFSET ?"
            ids = [r[0] for r in db.execute(q, self.params + [PAGE + 1, self.offset])]
        self.more = len(ids) > PAGE
        self.ids = ids[:PAGE]
        self.rows = rows_by_id(db, self.ids)
        if self.ties:
            # every row of each sort value on the page (Datasette may pick any of a tie)
            values = sorted({self.rows[i][self.ties] for i in self.ids})
            q = f"SELECT id FROM {DS_TABLE} {w} {'AND' if w else 'WHERE'} {self.ties} = ?"
            self.tie_groups = {v: {r[0] for r in db.execute(q, self.params + [v])} for v in values}
            extra = [i for g in self.tie_groups.values() for i in g if i not in self.rows]
            self.rows.update(rows_by_id(db, extra))


# ---------------------------------------------------------------- checking

def chiase_page(doc, wl):
    if wl.key is not None:
        return [doc], None
    return doc.get("records", []), doc.get("next")


def datasette_page(doc, wl):
    cols = doc.get("columns", [])
    rows = [dict(zip(cols, r)) for r in doc.get("rows", [])]
    return rows, (None if wl.key is not None else doc.get("next"))


def compare_rows(got, wl, problems, server):
    """Ids in order and every column; for Datasette's sort, ties in any order."""
    got_ids = [r.get("id") for r in got]
    if wl.ties and server == "datasette":
        want_values = [wl.rows[i][wl.ties] for i in wl.ids]
        got_values = [r.get(wl.ties) for r in got]
        if got_values != want_values:
            problems.append(f"{wl.ties} values in order: expected {want_values[:8]}…, got {got_values[:8]}…")
            return
        bad = [i for i, v in zip(got_ids, got_values) if i not in wl.tie_groups.get(v, ())]
        if bad or len(set(got_ids)) != len(got_ids):
            problems.append(f"ids not in the matching tie groups (or repeated): {bad[:10]}")
            return
    elif got_ids != wl.ids:
        first = next((k for k, (a, b) in enumerate(zip(got_ids, wl.ids)) if a != b), min(len(got_ids), len(wl.ids)))
        problems.append(f"ids: expected {len(wl.ids)} rows {short(wl.ids)}, got {len(got_ids)} rows {short(got_ids)}; "
                        f"first difference at position {first}: expected {wl.ids[first] if first < len(wl.ids) else '(end)'}, "
                        f"got {got_ids[first] if first < len(got_ids) else '(end)'}")
        return
    for r in got:
        want = wl.rows.get(r.get("id"))
        for c in COLUMNS:
            if want is None or r.get(c) != want[c]:
                problems.append(f"row {r.get('id')} column {c}: expected {want and want[c]!r}, got {r.get(c)!r}")
                return


def short(ids):
    return f"[{', '.join(map(str, ids[:5]))}{', …' if len(ids) > 5 else ''}]" if ids else "[]"


class NoAnswer(Exception):
    """A server that does not answer in time: too slow, not wrong."""


def check(server, url, wl, timeout, datasette_counts):
    """Fetches the page and lists how it differs from SQLite's answer."""
    status, doc, ms, raw = get_json(url, timeout)
    problems = []
    if status is None:
        raise NoAnswer(f"no answer within {timeout} s ({raw.decode()})")
    if status != 200 or not isinstance(doc, dict):
        return [f"HTTP {status}: {raw!r}"], ms
    if server.name == "chiase":
        rows, nxt = chiase_page(doc, wl)
    else:
        rows, nxt = datasette_page(doc, wl)
    compare_rows(rows, wl, problems, server.name)
    if wl.key is None and (nxt is not None) != wl.more:
        problems.append(f"next page: expected {'a link' if wl.more else 'none'}, got {nxt!r}")
    if server.name == "chiase" and wl.key is None:
        total, exact = doc.get("total"), doc.get("total_exact")
        if exact and total != wl.count or not exact and not (isinstance(total, int) and min(wl.count, PAGE) <= total <= wl.count):
            problems.append(f"total: {wl.count} rows match, got total={total} total_exact={exact}")
    if server.name == "datasette" and datasette_counts and wl.key is None:
        if doc.get("filtered_table_rows_count") != wl.count:
            problems.append(f"count: expected {wl.count}, got {doc.get('filtered_table_rows_count')}")
    return problems, ms


# ---------------------------------------------------------------- load

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(s):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", s)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def wrk(url, args):
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
           f"--timeout={args.timeout}s", "--latency", url]
    done = subprocess.run(cmd, capture_output=True, text=True)
    out = done.stdout
    res = {"requests": 0, "seconds": float(args.duration), "non2xx": 0, "timeouts": 0, "errors": 0, "p50": None, "p99": None}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if m:
        res["requests"] = int(m.group(1))
        res["seconds"] = to_ms(m.group(2) + m.group(3)) / 1000
    else:
        loud(f"wrk gave no figures for {url} (exit {done.returncode}):\n{out}{done.stderr}")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["errors"] = sum(int(x) for x in m.groups()[:3])
        res["timeouts"] = int(m.group(4))
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        if m and res["requests"]:
            res["p" + pct] = to_ms(m.group(1))
    ok = res["requests"] - res["non2xx"]
    res["rps"] = ok / res["seconds"] if res["seconds"] else 0.0
    return res


# ---------------------------------------------------------------- one size

def workloads(n):
    q = urllib.parse.quote
    bbox_c = lambda b: "bbox=" + ",".join(f"{x:g}" for x in b)  # noqa: E731
    bbox_d = lambda b: f"lon__gte={b[0]:g}&lon__lte={b[2]:g}&lat__gte={b[1]:g}&lat__lte={b[3]:g}"  # noqa: E731
    bbox_w = "lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?"
    key = n // 2 + 1
    wls = [
        Workload("first", "first page", "", ""),
        Workload("eq-index", "nha_mang=Viettel (own index)", "nha_mang=Viettel", "nha_mang=Viettel",
                 "nha_mang = ?", ["Viettel"]),
        Workload("eq-composite", f"huyen={DISTRICT} (first of (huyen, xa))", f"huyen={q(DISTRICT)}", f"huyen={q(DISTRICT)}",
                 "huyen = ?", [DISTRICT]),
        Workload("eq-noindex", f"chieu_cao={NO_INDEX_VALUE} (no index)", f"chieu_cao={NO_INDEX_VALUE}",
                 f"chieu_cao={NO_INDEX_VALUE}", "chieu_cao = ?", [NO_INDEX_VALUE]),
        Workload("filter-sort", f"huyen={DISTRICT}, sort chieu_cao", f"huyen={q(DISTRICT)}&sort=chieu_cao",
                 f"huyen={q(DISTRICT)}&_sort=chieu_cao", "huyen = ?", [DISTRICT], order="chieu_cao, id", ties="chieu_cao"),
        Workload("fts-common", f"full text «{WORD_COMMON}»", f"q={WORD_COMMON}", f"_search={WORD_COMMON}",
                 fts_word=WORD_COMMON),
        Workload("fts-rare", f"full text «{WORD_RARE}»", f"q={WORD_RARE}", f"_search={WORD_RARE}", fts_word=WORD_RARE),
        Workload("row-by-key", f"row by key (id {key:,})", None, None, "id = ?", [key], key=key),
        Workload("deep-page", f"page after row {n // 2:,}", None, None, offset=n // 2),
        Workload("bbox-dense", "bbox, dense (provincial city)", bbox_c(BBOX_DENSE), bbox_d(BBOX_DENSE), bbox_w,
                 [BBOX_DENSE[0], BBOX_DENSE[2], BBOX_DENSE[1], BBOX_DENSE[3]]),
        Workload("bbox-sparse", "bbox, sparse (edge of Sơn Dương)", bbox_c(BBOX_SPARSE), bbox_d(BBOX_SPARSE), bbox_w,
                 [BBOX_SPARSE[0], BBOX_SPARSE[2], BBOX_SPARSE[1], BBOX_SPARSE[3]]),
    ]
    return wls


def walk_cursor(chiase, records, rows, timeout):
    """chiase's `after` cursor once `rows` rows have been read, walking
    pages of up to 1,000."""
    seen, cursor = 0, None
    while seen < rows:
        step = min(1000, rows - seen)
        page_url = f"{records}?limit={step}" + (f"&after={cursor}" if cursor else "")
        status, doc, _, raw = get_json(page_url, timeout)
        if status != 200 or not doc.get("next"):
            raise SystemExit(f"walking chiase's pages: {page_url} answered {status} {raw!r}")
        seen += len(doc["records"])
        cursor = doc["next"]
    return cursor


def run_size(args, n, bin_hash):
    label = size_label(n)
    dir_ = os.path.join(args.work, f"peer-{n}")
    os.makedirs(dir_, exist_ok=True)
    csv_path = ensure_csv(args.work, args.root, n)
    db_path = ensure_datasette_db(csv_path, dir_, n)
    data = ensure_chiase_data(args, csv_path, dir_, n, bin_hash)

    cport, dport = free_port(), free_port()
    servers = []
    try:
        chiase = Server("chiase", [args.chiase, "--data", data, "serve", "--listen", f"127.0.0.1:{cport}"],
                        cport, "/healthz", os.path.join(dir_, "chiase-serve.log"), env=chiase_env())
        servers.append(chiase)
        datasette = Server("datasette", [args.datasette, "serve", "-i", db_path, "--host", "127.0.0.1", "--port", str(dport),
                                         "--setting", "sql_time_limit_ms", str(args.datasette_time_limit_ms),
                                         "--setting", "suggest_facets", "off",
                                         "--setting", "max_returned_rows", "1000"],
                           dport, "/-/versions.json", os.path.join(dir_, "datasette-serve.log"))
        servers.append(datasette)
        log(f"\n== {n:,} rows: chiase on :{cport} (pid {chiase.proc.pid}), "
            f"Datasette on :{dport} (pid {datasette.proc.pid}, sql_time_limit_ms={args.datasette_time_limit_ms}, "
            f"suggest_facets off, {'counting' if args.datasette_count else '_nocount=1'}, immutable)")

        records = f"{chiase.base}/api/v1/datasets/tram-bts/records"
        table = f"{datasette.base}/{DS_DB}/{DS_TABLE}"
        ds_extra = "" if args.datasette_count else "&_nocount=1"
        wls = [w for w in workloads(n) if not args.only or w.name in args.only]
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        for w in wls:
            w.expect(db)
            if w.key is not None:
                w.chiase_url = f"{records}/{w.key}"
                w.datasette_url = f"{table}/{w.key}.json"
            elif w.name == "deep-page":
                cursor = walk_cursor(chiase, records, w.offset, args.timeout)
                token = urllib.parse.quote(str(w_last_id(db, w.offset)), safe="")
                w.chiase_url = f"{records}?limit={PAGE}&after={cursor}"
                w.datasette_url = f"{table}.json?_size={PAGE}&_next={token}{ds_extra}"
            else:
                w.chiase_url = f"{records}?limit={PAGE}" + (f"&{w.chiase_url}" if w.chiase_url else "")
                w.datasette_url = f"{table}.json?_size={PAGE}" + (f"&{w.datasette_url}" if w.datasette_url else "") + ds_extra
        db.close()

        load_before = os.getloadavg()[0]
        results, wrong = [], []
        for w in wls:
            log(f"-- {w.name}: {w.label} ({w.count:,} matching rows)")
            r = {"wl": w, "ok": True, "problems": {}, "unanswered": {}}
            for s, url in ((chiase, w.chiase_url), (datasette, w.datasette_url)):
                try:
                    problems, ms = check(s, url, w, args.timeout, args.datasette_count)
                except NoAnswer as e:
                    log(f"   {s.name:9s} {url}  (NOT CHECKED: {e})")
                    r["unanswered"][s.name] = str(e)
                    continue
                log(f"   {s.name:9s} {url}  ({'checked' if not problems else 'WRONG'}, {fmt_ms(ms)})")
                if problems:
                    r["ok"] = False
                    r["problems"][s.name] = problems
            if r["ok"] and not args.check_only:
                for s, url in ((chiase, w.chiase_url), (datasette, w.datasette_url)):
                    res = wrk(url, args)
                    r[s.name] = res
                    errs = res["non2xx"] + res["timeouts"] + res["errors"]
                    log(f"   {s.name:9s} {res['rps']:9.1f} req/s  p50 {fmt_ms(res['p50']):>9s}  p99 {fmt_ms(res['p99']):>9s}"
                        + (f"  ({res['non2xx']} non-2xx, {res['timeouts']} timeouts, {res['errors']} socket errors)" if errs else ""))
                    # let requests still running on the server finish before the next load
                    time.sleep(min(args.timeout, (res["p99"] or 0) / 1000) + 0.5)
                # the answers again, after the load
                for s, url in ((chiase, w.chiase_url), (datasette, w.datasette_url)):
                    try:
                        problems, _ = check(s, url, w, args.timeout, args.datasette_count)
                    except NoAnswer as e:
                        r["unanswered"].setdefault(s.name, "after the load: " + str(e))
                        continue
                    if problems:
                        r["ok"] = False
                        r["problems"][s.name] = ["after the load: " + p for p in problems]
            if not r["ok"]:
                for s, ps in r["problems"].items():
                    url = w.chiase_url if s == "chiase" else w.datasette_url
                    loud(f"WRONG ANSWER from {s} on {w.name} ({w.label}, {n:,} rows)\n  {url}\n  " + "\n  ".join(ps))
                    wrong.append((n, w.name, s, url, ps))
            results.append(r)

        mem = {s.name: s.memory() for s in servers}
        for s in servers:
            log(f"{s.name}: VmRSS {mem[s.name]['VmRSS'] / 1024:.0f} MB, VmHWM {mem[s.name]['VmHWM'] / 1024:.0f} MB")
        load = (load_before, os.getloadavg()[0])
        return {"n": n, "label": label, "results": results, "mem": mem, "wrong": wrong, "load": load}
    finally:
        for s in servers:
            s.stop()


def w_last_id(db, offset):
    """The primary key of the row at `offset` (1-based) in table order:
    Datasette's `_next` token after that row."""
    return db.execute(f"SELECT id FROM {DS_TABLE} ORDER BY id LIMIT 1 OFFSET ?", [offset - 1]).fetchone()[0]


# ---------------------------------------------------------------- report

def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms"


def fmt_rps(res):
    return f"{res['rps']:,.0f}" if res["rps"] >= 10 else f"{res['rps']:.2f}"


def table(size, args):
    lines = [
        "| workload | matches | chiase req/s | p50 | p99 | Datasette req/s | p50 | p99 | chiase ÷ Datasette | answers |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    notes = []
    for r in size["results"]:
        w = r["wl"]
        if not r["ok"]:
            who = " and ".join(sorted(r["problems"]))
            lines.append(f"| {w.label} | {w.count:,} | — | — | — | — | — | — | — | **WRONG ({who})** |")
            continue
        c, d = r["chiase"], r["datasette"]
        ratio = f"**{c['rps'] / d['rps']:.2f}×**" if d["rps"] > 0 else "—"
        answers = "same" if not r["unanswered"] else "unchecked: " + ", ".join(sorted(r["unanswered"])) + " too slow"
        lines.append(f"| {w.label} | {w.count:,} | {fmt_rps(c)} | {fmt_ms(c['p50'])} | {fmt_ms(c['p99'])} | "
                     f"{fmt_rps(d)} | {fmt_ms(d['p50'])} | {fmt_ms(d['p99'])} | {ratio} | {answers} |")
        for name, msg in sorted(r["unanswered"].items()):
            notes.append(f"{w.label}: {name} gave no answer to check ({msg})")
        for name, res in (("chiase", c), ("Datasette", d)):
            bad = res["non2xx"] + res["timeouts"] + res["errors"]
            if bad:
                notes.append(f"{w.label}: {name} {res['non2xx']} non-2xx answers, {res['timeouts']} timeouts "
                             f"({args.timeout} s), {res['errors']} socket errors (not counted as requests)")
    m = size["mem"]
    mem = (f"Resident memory after the run: chiase VmRSS {m['chiase']['VmRSS'] / 1024:.0f} MB "
           f"(peak VmHWM {m['chiase']['VmHWM'] / 1024:.0f} MB); Datasette VmRSS {m['datasette']['VmRSS'] / 1024:.0f} MB "
           f"(peak VmHWM {m['datasette']['VmHWM'] / 1024:.0f} MB). "
           f"Load average (1 min) {size['load'][0]:.1f} when the loads began, {size['load'][1]:.1f} at the end "
           f"({os.cpu_count()} cores: above that, other work shared the machine).")
    return lines, notes, mem


def report(sizes, args, meta):
    today = datetime.date.today().strftime("%d/%m/%Y")
    out = []
    for size in sizes:
        lines, notes, mem = table(size, args)
        out.append(f"### {size['n']:,} rows — run of {today}, {meta['cores']} cores\n")
        out.extend(lines)
        out.append("")
        for note in notes:
            out.append(f"- {note}")
        if notes:
            out.append("")
        out.append(mem)
        out.append("")
    out.append(f"chiase `{meta['chiase_version']}` (binary sha256 {meta['bin_hash'][:12]}), "
               f"Datasette {meta['datasette_version']}, SQLite {meta['sqlite_version']}; wrk {args.threads} threads × "
               f"{args.connections} connections, {args.duration} s per workload and server, request timeout "
               f"{args.timeout} s; Datasette sql_time_limit_ms {args.datasette_time_limit_ms}, suggest_facets off, "
               f"{'counting every match' if args.datasette_count else '`_nocount=1`'}, immutable. "
               "Requests/s count successful answers only.")
    return "\n".join(out)


def write_docs(path, body):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path}: the markers {BEGIN} and {END} are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def main():
    ap = argparse.ArgumentParser(description="chiase and Datasette side by side (issue 9)")
    ap.add_argument("--chiase", required=True, help="the chiase binary (a copy: peer_bench.sh makes it)")
    ap.add_argument("--datasette", required=True, help="the datasette executable in its virtual environment")
    ap.add_argument("--root", required=True, help="the repository (for gen_bts.py, the catalog and docs/)")
    ap.add_argument("--work", default=os.environ.get("BENCH_DIR", "/tmp/chiase-bench"))
    ap.add_argument("--sizes", default="100k,1M", help="comma-separated row counts: 100k, 1M, 10M, …")
    ap.add_argument("--duration", type=int, default=10, help="seconds of wrk per workload and server")
    ap.add_argument("--timeout", type=int, default=60, help="seconds before a request counts as timed out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--only", default="", help="comma-separated workload names (see the header)")
    ap.add_argument("--datasette-count", action="store_true", help="let Datasette count every match (its default)")
    ap.add_argument("--datasette-time-limit-ms", type=int, default=120_000)
    ap.add_argument("--reimport", action="store_true", help="import into chiase again even if this binary did")
    ap.add_argument("--reuse-any", action="store_true", help="reuse chiase's data whatever binary imported it")
    ap.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    ap.add_argument("--check-only", action="store_true", help="check both servers' answers, no load (and no docs)")
    args = ap.parse_args()
    args.only = {s for s in args.only.split(",") if s}
    known = {w.name for w in workloads(1000)}
    if args.only - known:
        raise SystemExit(f"unknown workloads {sorted(args.only - known)}; known: {sorted(known)}")
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    os.makedirs(args.work, exist_ok=True)

    bin_hash = sha256_file(args.chiase)
    meta = {
        "cores": os.cpu_count(),
        "bin_hash": bin_hash,
        "chiase_version": subprocess.run([args.chiase, "--version"], capture_output=True, text=True).stdout.strip(),
        "datasette_version": subprocess.run([args.datasette, "--version"], capture_output=True, text=True).stdout.strip().split()[-1],
        "sqlite_version": sqlite3.sqlite_version,
    }
    log(f"chiase {meta['chiase_version']} ({bin_hash[:12]}), Datasette {meta['datasette_version']}, "
        f"{meta['cores']} cores; sizes {', '.join(size_label(n) for n in sizes)}; data in {args.work}")
    log(f"Datasette runs with sql_time_limit_ms={args.datasette_time_limit_ms} so that slow queries finish rather than error")

    done = [run_size(args, n, bin_hash) for n in sizes]
    wrong = [x for s in done for x in s["wrong"]]
    if args.check_only:
        log("\nanswers checked, no load: " + ("all the same as SQLite's" if not wrong else f"{len(wrong)} wrong"))
    else:
        body = report(done, args, meta)
        print("\n" + body + "\n")
    if wrong:
        loud(f"{len(wrong)} WRONG ANSWER(S): " + "; ".join(f"{s} on {w} at {n:,} rows" for n, w, s, _, _ in wrong)
             + "\ndocs/benchmarks.md not updated")
        sys.exit(1)
    if not args.no_docs and not args.check_only:
        path = os.path.join(args.root, "docs", "benchmarks.md")
        write_docs(path, body)
        log(f"wrote the tables to {path}")


if __name__ == "__main__":
    main()
