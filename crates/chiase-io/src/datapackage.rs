//! Frictionless Data Packages coming in: `datapackage.json` read and
//! checked (resource names, paths that stay inside the package, Table
//! Schemas mapped to chiase's `SchemaSpec`), and the zip archive a package
//! travels in, read with bounds (entries, bytes actually inflated — a zip's
//! declared sizes can lie). Nothing here touches the network or the
//! database: the server fetches URLs and writes.

use std::io::{Read, Seek};

use chiase_core::Msg;
use chiase_core::schema::{FieldSpec, Schema, SchemaSpec, check_field_name};
use serde_json::{Map, Value};

/// Bounds on what an untrusted package can make chiase read or hold.
#[derive(Debug, Clone, Copy)]
pub struct PackageLimits {
    /// Bytes of `datapackage.json`.
    pub descriptor: u64,
    /// Bytes of all the package's files together, as inflated.
    pub total: u64,
    pub resources: usize,
    /// Entries of a zip archive.
    pub entries: usize,
}

impl Default for PackageLimits {
    fn default() -> PackageLimits {
        PackageLimits { descriptor: 4 << 20, total: 64 << 20, resources: 100, entries: 1000 }
    }
}

/// Why a package cannot be imported, naming the resource (and field) when
/// the problem is in one.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageError {
    pub resource: Option<String>,
    pub msg: Msg,
}

impl std::fmt::Display for PackageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg.en)
    }
}

fn perr(resource: Option<&str>, vi: impl Into<String>, en: impl Into<String>) -> PackageError {
    let (vi, en) = (vi.into(), en.into());
    match resource {
        Some(r) => PackageError {
            resource: Some(r.to_string()),
            msg: Msg::new(format!("tài nguyên «{r}»: {vi}"), format!("resource «{r}»: {en}")),
        },
        None => PackageError { resource: None, msg: Msg::new(vi, en) },
    }
}

/// Where a resource's rows are.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// Inline `data`, as a JSON array of objects (arrays of arrays are
    /// turned into objects under their first row).
    Inline(Vec<u8>),
    /// A file of the package, by its path relative to `datapackage.json`
    /// (checked: no `..`, not absolute).
    Path(String),
    /// An `http(s)` URL: the caller decides whether it may be fetched.
    Url(String),
}

/// A resource as chiase will import it.
#[derive(Debug, Clone)]
pub struct Resource {
    /// `name` as written.
    pub name: String,
    /// The dataset id it becomes (`name` slugged).
    pub id: String,
    pub title: String,
    pub description: String,
    pub licence: Option<String>,
    /// chiase's own export says how the dataset was shared.
    pub sharing_mode: Option<String>,
    pub schema: SchemaSpec,
    pub data: Data,
    /// `format` or the path's extension (`csv`, `json`, `ndjson`…), for
    /// the record reader.
    pub file_name: String,
    /// `encoding`, when not UTF-8.
    pub encoding: Option<String>,
    /// Field names of the package chiase had to change: (the package's,
    /// chiase's). A CSV header finds them by title; JSON keys are renamed
    /// with [`Resource::json_rows`].
    pub renamed: Vec<(String, String)>,
}

impl Resource {
    /// A JSON or NDJSON file of this resource with its keys renamed to
    /// chiase's field names (other files as they are).
    pub fn json_rows(&self, bytes: Vec<u8>) -> Result<Vec<u8>, PackageError> {
        let lower = self.file_name.to_ascii_lowercase();
        let ndjson = lower.ends_with(".ndjson") || lower.ends_with(".jsonl");
        if self.renamed.is_empty() || !(ndjson || lower.ends_with(".json")) {
            return Ok(bytes);
        }
        let bad = |e: serde_json::Error| perr(Some(&self.name), format!("JSON không hợp lệ: {e}"), format!("invalid JSON: {e}"));
        let rename = |v: Value| match v {
            Value::Object(o) => Value::Object(
                o.into_iter().map(|(k, v)| (self.renamed.iter().find(|(o, _)| *o == k).map(|(_, c)| c.clone()).unwrap_or(k), v)).collect(),
            ),
            other => other,
        };
        if ndjson {
            let mut out = Vec::with_capacity(bytes.len());
            for line in bytes.split(|b| *b == b'\n') {
                if line.iter().all(u8::is_ascii_whitespace) {
                    out.push(b'\n');
                    continue;
                }
                serde_json::to_writer(&mut out, &rename(serde_json::from_slice(line).map_err(bad)?)).map_err(bad)?;
                out.push(b'\n');
            }
            return Ok(out);
        }
        match serde_json::from_slice(&bytes).map_err(bad)? {
            Value::Array(rows) => serde_json::to_vec(&rows.into_iter().map(rename).collect::<Vec<_>>()).map_err(bad),
            other => serde_json::to_vec(&other).map_err(bad),
        }
    }
}

/// `datapackage.json`, read and checked.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: Option<String>,
    pub title: Option<String>,
    pub resources: Vec<Resource>,
}

/// Reads `datapackage.json`: every resource must have a name that makes a
/// dataset id, a Table Schema chiase can hold (no schema is refused rather
/// than guessed: a province's dataset is declared, not inferred), and its
/// rows inline, in a file of the package, or at a URL.
pub fn parse_descriptor(bytes: &[u8], limits: &PackageLimits) -> Result<Package, PackageError> {
    if bytes.len() as u64 > limits.descriptor {
        return Err(perr(
            None,
            format!("datapackage.json lớn hơn {} MiB", limits.descriptor >> 20),
            format!("datapackage.json is larger than {} MiB", limits.descriptor >> 20),
        ));
    }
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| perr(None, "datapackage.json không phải UTF-8", "datapackage.json is not UTF-8"))?;
    let v: Value = serde_json::from_str(text).map_err(|e| {
        perr(None, format!("datapackage.json không phải JSON hợp lệ: {e}"), format!("datapackage.json is not valid JSON: {e}"))
    })?;
    let Value::Object(root) = v else {
        return Err(perr(None, "datapackage.json phải là một đối tượng JSON", "datapackage.json must be a JSON object"));
    };
    let resources = match root.get("resources") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err(perr(None, "gói dữ liệu không có tài nguyên nào («resources»)", "the package has no resources («resources»)")),
    };
    if resources.len() > limits.resources {
        return Err(perr(
            None,
            format!("gói có {} tài nguyên, tối đa {}", resources.len(), limits.resources),
            format!("the package has {} resources, at most {}", resources.len(), limits.resources),
        ));
    }
    let package_licence = first_licence(&root);
    let mut out = Vec::with_capacity(resources.len());
    let mut ids = std::collections::HashSet::new();
    for (i, r) in resources.iter().enumerate() {
        let r = resource(i, r, package_licence.as_deref())?;
        if !ids.insert(r.id.clone()) {
            return Err(perr(
                Some(&r.name),
                format!("hai tài nguyên cùng thành mã tập dữ liệu «{}»", r.id),
                format!("two resources make the same dataset id «{}»", r.id),
            ));
        }
        out.push(r);
    }
    Ok(Package { name: text_of(&root, "name"), title: text_of(&root, "title"), resources: out })
}

fn text_of(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(|s| chiase_core::fold::nfc(s.trim())).filter(|s| !s.is_empty())
}

fn first_licence(o: &Map<String, Value>) -> Option<String> {
    let l = o.get("licenses")?.as_array()?.first()?;
    l.get("name").or_else(|| l.get("title")).or_else(|| l.get("path")).and_then(Value::as_str).map(str::to_string)
}

/// The dataset id a resource name makes: chiase's slug (lower-case ASCII
/// words joined by `-`), at most 64 characters.
pub fn dataset_id(name: &str) -> Option<String> {
    let slug = chiase_core::fold::slugify(name, 64);
    (!slug.is_empty() && !slug.bytes().all(|b| b.is_ascii_digit() || b == b'-')).then_some(slug)
}

fn resource(i: usize, v: &Value, package_licence: Option<&str>) -> Result<Resource, PackageError> {
    let Value::Object(o) = v else {
        return Err(perr(
            None,
            format!("tài nguyên thứ {} không phải đối tượng JSON", i + 1),
            format!("resource {} is not a JSON object", i + 1),
        ));
    };
    let name = match o.get("name").and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() => chiase_core::fold::nfc(n.trim()),
        _ => return Err(perr(None, format!("tài nguyên thứ {} không có «name»", i + 1), format!("resource {} has no «name»", i + 1))),
    };
    let r = Some(name.as_str());
    let id = dataset_id(&name).ok_or_else(|| {
        perr(r, "tên không tạo được mã tập dữ liệu (cần chữ cái hoặc chữ số)", "the name makes no dataset id (it needs letters or digits)")
    })?;
    let (schema, renamed) = match o.get("schema") {
        Some(s @ Value::Object(_)) => mapped_schema(&name, s)?,
        Some(Value::String(_)) => {
            return Err(perr(
                r,
                "lược đồ phải nằm ngay trong datapackage.json (không nhận lược đồ ở tệp hay URL riêng)",
                "the schema must be inline in datapackage.json (a schema in a separate file or at a URL is not read)",
            ));
        }
        _ => {
            return Err(perr(
                r,
                "không có lược đồ bảng («schema»): chiase không đoán lược đồ khi nhập gói; hãy khai báo lược đồ (có thể dùng POST /api/v1/schema/infer để có đề xuất)",
                "no Table Schema («schema»): chiase does not guess schemas when importing a package; declare one (POST /api/v1/schema/infer proposes one)",
            ));
        }
    };
    let format = o.get("format").and_then(Value::as_str).map(|f| f.trim().to_ascii_lowercase());
    let (data, stem) = match (o.get("data"), o.get("path")) {
        (Some(d), None) => (Data::Inline(inline_rows(&name, d, &renamed)?), "data".to_string()),
        (None, Some(Value::String(p))) => {
            let p = p.trim();
            if p.starts_with("http://") || p.starts_with("https://") {
                (Data::Url(p.to_string()), p.rsplit('/').next().unwrap_or(p).to_string())
            } else {
                let safe = safe_path(&name, p)?;
                let stem = safe.rsplit('/').next().unwrap_or(&safe).to_string();
                (Data::Path(safe), stem)
            }
        }
        (None, Some(Value::Array(_))) => {
            return Err(perr(
                r,
                "không nhận tài nguyên nhiều tệp («path» là danh sách)",
                "multi-part resources («path» as a list) are not read",
            ));
        }
        (Some(_), Some(_)) => return Err(perr(r, "có cả «data» lẫn «path»", "has both «data» and «path»")),
        _ => return Err(perr(r, "không có «path» hay «data»", "has neither «path» nor «data»")),
    };
    // The reader recognises files by their extension: `format` wins.
    let file_name = match (&data, format.as_deref()) {
        (Data::Inline(_), _) => "data.json".to_string(),
        (_, Some(f @ ("csv" | "tsv" | "json" | "ndjson" | "jsonl" | "xlsx" | "xls" | "ods"))) => format!("{}.{f}", stem),
        (_, Some(f)) if !stem.to_ascii_lowercase().ends_with(&format!(".{f}")) => {
            return Err(perr(r, format!("không đọc được định dạng «{f}»"), format!("the format «{f}» cannot be read")));
        }
        _ => stem,
    };
    let encoding = o
        .get("encoding")
        .and_then(Value::as_str)
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !matches!(e.as_str(), "utf-8" | "utf8" | "utf-8-sig"));
    Ok(Resource {
        title: text_of(o, "title").unwrap_or_else(|| name.clone()),
        description: text_of(o, "description").unwrap_or_default(),
        licence: first_licence(o).or_else(|| package_licence.map(str::to_string)),
        sharing_mode: o.get("chiase:sharingMode").and_then(Value::as_str).map(str::to_string),
        name,
        id,
        schema,
        data,
        file_name,
        encoding,
        renamed,
    })
}

/// A relative path inside the package: `/`-separated, no `..`, `.`, empty
/// part, backslash or drive letter, not absolute.
pub fn safe_path(resource: &str, p: &str) -> Result<String, PackageError> {
    let bad = p.is_empty()
        || p.starts_with('/')
        || p.contains('\\')
        || p.contains(':')
        || p.contains('\0')
        || p.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(perr(
            Some(resource),
            format!("đường dẫn «{}» không hợp lệ: phải là đường dẫn tương đối nằm trong gói (không «..», không bắt đầu bằng «/»)", clip(p)),
            format!("the path «{}» is not allowed: it must be relative and stay inside the package (no «..», no leading «/»)", clip(p)),
        ));
    }
    Ok(p.to_string())
}

fn clip(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Inline `data` as a JSON array of objects, keyed by chiase's field
/// names (`renamed`: the package's names that are not).
fn inline_rows(resource: &str, d: &Value, renamed: &[(String, String)]) -> Result<Vec<u8>, PackageError> {
    let rename = |k: &str| renamed.iter().find(|(o, _)| o == k).map(|(_, c)| c.clone()).unwrap_or_else(|| k.to_string());
    let Value::Array(rows) = d else {
        return Err(perr(Some(resource), "«data» phải là một danh sách", "«data» must be a list"));
    };
    let objects: Vec<Value> = match rows.first() {
        Some(Value::Array(header)) => {
            let names: Option<Vec<&str>> = header.iter().map(Value::as_str).collect();
            let names = names.ok_or_else(|| {
                perr(Some(resource), "dòng đầu của «data» phải là tên cột", "the first row of «data» must name the columns")
            })?;
            rows[1..]
                .iter()
                .map(|row| match row {
                    Value::Array(cells) => Ok(Value::Object(names.iter().map(|n| rename(n)).zip(cells.iter().cloned()).collect())),
                    _ => Err(perr(Some(resource), "mỗi dòng của «data» phải là một danh sách", "every row of «data» must be a list")),
                })
                .collect::<Result<_, _>>()?
        }
        _ => rows
            .iter()
            .map(|row| match row {
                Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (rename(k), v.clone())).collect()),
                other => other.clone(),
            })
            .collect(),
    };
    serde_json::to_vec(&objects).map_err(|e| perr(Some(resource), e.to_string(), e.to_string()))
}

/// Maps a Frictionless Table Schema to chiase's: the types chiase holds
/// (`any` read as text), their formats and constraints, `primaryKey`,
/// `missingValues`, and chiase's own extensions (`personal`, `searchable`,
/// `geo`, `locale`). A field name chiase cannot use as a column becomes
/// one (folded, `_`), keeping the original as its title so that the file's
/// header still finds it. What has no meaning here is refused, naming the
/// resource and field; `foreignKeys` are not kept (datasets do not refer to
/// each other).
pub fn table_schema(resource: &str, v: &Value) -> Result<SchemaSpec, PackageError> {
    mapped_schema(resource, v).map(|(spec, _)| spec)
}

/// [`table_schema`], with the names it changed: (the package's, chiase's).
fn mapped_schema(resource: &str, v: &Value) -> Result<(SchemaSpec, Vec<(String, String)>), PackageError> {
    let r = Some(resource);
    let o = v.as_object().ok_or_else(|| perr(r, "lược đồ phải là đối tượng JSON", "the schema must be a JSON object"))?;
    let fields = match o.get("fields") {
        Some(Value::Array(f)) if !f.is_empty() => f,
        _ => return Err(perr(r, "lược đồ không có trường nào («fields»)", "the schema has no fields («fields»)")),
    };
    // Names chiase accepts as they are keep them: a renamed one never takes one.
    let kept: Vec<&str> =
        fields.iter().filter_map(|f| f.get("name").and_then(Value::as_str)).filter(|n| check_field_name(n).is_ok()).collect();
    let mut names: Vec<(String, String)> = Vec::new();
    let mut specs = Vec::with_capacity(fields.len());
    for (i, f) in fields.iter().enumerate() {
        let spec = field(resource, i, f, &names, &kept)?;
        let original = f.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        names.push((original, spec.name.clone()));
        specs.push(spec);
    }
    let rename = |n: &str| names.iter().find(|(o, _)| o == n).map(|(_, c)| c.clone());
    let mut spec = serde_json::Map::new();
    spec.insert("fields".into(), Value::Array(vec![]));
    let mut out: SchemaSpec = serde_json::from_value(Value::Object(spec)).map_err(|e| perr(r, e.to_string(), e.to_string()))?;
    out.fields = specs;
    match o.get("primaryKey") {
        None | Some(Value::Null) => {}
        Some(pk) => {
            let list: Vec<&str> = match pk {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if list.is_empty() {
                return Err(perr(
                    r,
                    "«primaryKey» phải là tên trường hoặc danh sách tên trường",
                    "«primaryKey» must be a field name or a list of them",
                ));
            }
            for n in list {
                let c = rename(n).ok_or_else(|| {
                    perr(
                        r,
                        format!("khóa chính nhắc trường «{}» không có trong lược đồ", clip(n)),
                        format!("the primary key names «{}», which is not a field", clip(n)),
                    )
                })?;
                out.primary_key.push(c);
            }
        }
    }
    if let Some(m) = o.get("missingValues") {
        let list: Option<Vec<String>> = m.as_array().and_then(|a| a.iter().map(|s| s.as_str().map(str::to_string)).collect());
        out.missing_values =
            Some(list.ok_or_else(|| perr(r, "«missingValues» phải là danh sách chuỗi", "«missingValues» must be a list of strings"))?);
    }
    if let Some(l) = o.get("locale") {
        out.locale = Some(serde_json::from_value(l.clone()).map_err(|e| perr(r, format!("«locale»: {e}"), format!("«locale»: {e}")))?);
    }
    // The checked schema: patterns compile, enums and bounds fit their type,
    // the key exists, a point has both halves.
    Schema::new(out.clone()).map_err(|errors| {
        let vi: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.message.vi)).collect();
        let en: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.message.en)).collect();
        perr(r, format!("lược đồ không hợp lệ: {}", vi.join("; ")), format!("invalid schema: {}", en.join("; ")))
    })?;
    names.retain(|(o, c)| o != c);
    Ok((out, names))
}

/// Field properties read; any other is a note for people (Frictionless
/// allows custom ones) and ignored, except those that change how values
/// read, refused below.
const FIELD_KEYS: &[&str] = &[
    "name",
    "title",
    "description",
    "type",
    "format",
    "constraints",
    "trueValues",
    "falseValues",
    "decimalChar",
    "groupChar",
    "example",
    "personal",
    "searchable",
    "geo",
];
const CONSTRAINT_KEYS: &[&str] = &["required", "unique", "enum", "minimum", "maximum", "pattern", "minLength", "maxLength"];

fn field(resource: &str, i: usize, f: &Value, taken: &[(String, String)], kept: &[&str]) -> Result<FieldSpec, PackageError> {
    let r = Some(resource);
    let o = f.as_object().ok_or_else(|| {
        perr(r, format!("trường thứ {} không phải đối tượng JSON", i + 1), format!("field {} is not a JSON object", i + 1))
    })?;
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| perr(r, format!("trường thứ {} không có «name»", i + 1), format!("field {} has no «name»", i + 1)))?;
    let fe = |vi: String, en: String| perr(r, format!("trường «{}»: {vi}", clip(name)), format!("field «{}»: {en}", clip(name)));
    if taken.iter().any(|(o, _)| o == name) {
        return Err(fe("tên trường bị lặp".into(), "the name is repeated".into()));
    }
    let column = column_name(name, taken, kept);
    let mut out = Map::new();
    for (k, v) in o {
        if FIELD_KEYS.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        } else if k == "bareNumber" && v == &Value::Bool(false) {
            return Err(fe(
                "«bareNumber: false» (số kèm ký tự như «5%») không được hỗ trợ".into(),
                "«bareNumber: false» (numbers with text around them, «5%») is not supported".into(),
            ));
        }
    }
    out.insert("name".into(), Value::String(column.clone()));
    if column != name && !out.contains_key("title") {
        out.insert("title".into(), Value::String(chiase_core::fold::nfc(name)));
    }
    let ty = o.get("type").and_then(Value::as_str).unwrap_or("string");
    let ty = match ty {
        "string" | "integer" | "number" | "boolean" | "date" | "datetime" | "year" | "geopoint" | "geojson" => ty,
        // Frictionless reads `any` as it comes: text is what keeps it.
        "any" => "string",
        other => {
            return Err(fe(
                format!(
                    "kiểu «{}» không lưu được trong chiase (nhận: string, integer, number, boolean, date, datetime, year, geopoint, geojson, any)",
                    clip(other)
                ),
                format!(
                    "the type «{}» cannot be held by chiase (accepted: string, integer, number, boolean, date, datetime, year, geopoint, geojson, any)",
                    clip(other)
                ),
            ));
        }
    };
    out.insert("type".into(), Value::String(ty.into()));
    match (ty, o.get("format").and_then(Value::as_str)) {
        (_, None | Some("default")) => {
            out.remove("format");
        }
        // Text in a stated form stays text; chiase does not check it.
        ("string", Some("email" | "uri" | "uuid")) => {
            out.remove("format");
        }
        ("date" | "datetime", Some(_)) => {}
        (_, Some(fmt)) => {
            return Err(fe(
                format!("định dạng «{}» của kiểu {ty} không được hỗ trợ", clip(fmt)),
                format!("the format «{}» of type {ty} is not supported", clip(fmt)),
            ));
        }
    }
    if let Some(c) = o.get("constraints") {
        let c = c.as_object().ok_or_else(|| fe("«constraints» phải là đối tượng".into(), "«constraints» must be an object".into()))?;
        if let Some(k) = c.keys().find(|k| !CONSTRAINT_KEYS.contains(&k.as_str())) {
            return Err(fe(format!("ràng buộc «{}» không được hỗ trợ", clip(k)), format!("the constraint «{}» is not supported", clip(k))));
        }
    }
    serde_json::from_value(Value::Object(out)).map_err(|e| fe(e.to_string(), e.to_string()))
}

/// A column name chiase accepts for `name`, unique among `taken` and, when
/// made up, not one of the names `kept` as written.
fn column_name(name: &str, taken: &[(String, String)], kept: &[&str]) -> String {
    let base = if check_field_name(name).is_ok() {
        name.to_string()
    } else {
        let mut s = chiase_core::fold::slugify(name, 56).replace('-', "_");
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            s = format!("f_{s}");
        }
        if check_field_name(&s).is_err() {
            s = format!("{}_", s.trim_end_matches('_'));
        }
        s.trim_end_matches('_').to_string()
    };
    let mut candidate = base.clone();
    let mut n = 2;
    let made_up = base != name;
    while taken.iter().any(|(_, c)| *c == candidate)
        || (made_up && kept.contains(&candidate.as_str()))
        || check_field_name(&candidate).is_err()
    {
        // `f_2`, `f_3`… when the base cannot take a suffix within 63 bytes.
        candidate = format!("{}_{n}", if check_field_name(&base).is_ok() && base.len() <= 56 { base.as_str() } else { "f" });
        n += 1;
    }
    candidate
}

/// A package's zip archive: `datapackage.json` at its root or in its one
/// top folder, files read by path relative to it, every byte counted
/// against [`PackageLimits::total`] as inflated.
pub struct ZipPackage<R: Read + Seek> {
    zip: zip::ZipArchive<R>,
    base: String,
    left: u64,
}

impl<R: Read + Seek> ZipPackage<R> {
    /// Opens the archive and reads its descriptor.
    pub fn open(reader: R, limits: &PackageLimits) -> Result<(ZipPackage<R>, Vec<u8>), PackageError> {
        let zip = zip::ZipArchive::new(reader)
            .map_err(|e| perr(None, format!("không phải tệp zip đọc được: {e}"), format!("not a readable zip archive: {e}")))?;
        if zip.len() > limits.entries {
            return Err(perr(
                None,
                format!("tệp zip có {} mục, tối đa {}", zip.len(), limits.entries),
                format!("the zip has {} entries, at most {}", zip.len(), limits.entries),
            ));
        }
        let names: Vec<String> = zip.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
        let base = if names.iter().any(|n| n == "datapackage.json") {
            String::new()
        } else {
            let found: Vec<&String> =
                names.iter().filter(|n| n.ends_with("/datapackage.json") && n.matches('/').count() == 1 && !n.starts_with('/')).collect();
            match found.as_slice() {
                [one] => one.trim_end_matches("datapackage.json").to_string(),
                _ => {
                    return Err(perr(
                        None,
                        "không tìm thấy datapackage.json ở gốc tệp zip (hoặc trong thư mục duy nhất của nó)",
                        "no datapackage.json at the root of the zip (or in its one folder)",
                    ));
                }
            }
        };
        let mut p = ZipPackage { zip, base, left: limits.total };
        let descriptor = p.read_bounded("datapackage.json", limits.descriptor)?;
        Ok((p, descriptor))
    }

    /// Bytes that may still be inflated.
    pub fn left(&self) -> u64 {
        self.left
    }

    /// A file of the package by its checked relative path.
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, PackageError> {
        self.read_bounded(path, self.left)
    }

    fn read_bounded(&mut self, path: &str, bound: u64) -> Result<Vec<u8>, PackageError> {
        let full = format!("{}{}", self.base, path);
        let entry = self
            .zip
            .by_name(&full)
            .map_err(|_| perr(None, format!("gói không có tệp «{}»", clip(path)), format!("the package has no file «{}»", clip(path))))?;
        let bound = bound.min(self.left);
        let mut out = Vec::new();
        // Read one byte past the bound: the declared size may lie.
        entry.take(bound + 1).read_to_end(&mut out).map_err(|e| {
            perr(
                None,
                format!("không đọc được «{}» trong tệp zip: {e}", clip(path)),
                format!("cannot read «{}» in the zip: {e}", clip(path)),
            )
        })?;
        if out.len() as u64 > bound {
            return Err(perr(
                None,
                format!("«{}» vượt giới hạn dung lượng của gói ({} MiB khi giải nén)", clip(path), bound >> 20),
                format!("«{}» goes past the package's size limit ({} MiB inflated)", clip(path), bound >> 20),
            ));
        }
        self.left -= out.len() as u64;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(resources: Value) -> Result<Package, PackageError> {
        parse_descriptor(json!({ "name": "p", "resources": resources }).to_string().as_bytes(), &PackageLimits::default())
    }

    #[test]
    fn frictionless_schemas_map_to_chiase() {
        let p = package(json!([{
            "name": "Trường_Học.2024",
            "path": "data/truong.csv",
            "schema": {
                "fields": [
                    {"name": "Mã trường", "type": "string", "constraints": {"required": true}},
                    {"name": "ngay", "type": "date", "format": "%d/%m/%Y"},
                    {"name": "ghi", "type": "any", "rdfType": "http://schema.org/Text"},
                    {"name": "email", "type": "string", "format": "email"}
                ],
                "primaryKey": "Mã trường",
                "foreignKeys": []
            }
        }]))
        .unwrap();
        let r = &p.resources[0];
        assert_eq!(r.id, "truong-hoc-2024");
        assert_eq!(r.data, Data::Path("data/truong.csv".into()));
        let names: Vec<&str> = r.schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["ma_truong", "ngay", "ghi", "email"]);
        assert_eq!(r.schema.fields[0].title.as_deref(), Some("Mã trường"));
        assert_eq!(r.schema.primary_key, ["ma_truong"]);
    }

    #[test]
    fn what_cannot_be_held_is_refused_naming_resource_and_field() {
        for (field, word) in [
            (json!({"name": "t", "type": "time"}), "time"),
            (json!({"name": "t", "type": "number", "bareNumber": false}), "bareNumber"),
            (json!({"name": "t", "type": "geopoint", "format": "array"}), "array"),
            (json!({"name": "t", "type": "integer", "constraints": {"exclusiveMinimum": 1}}), "exclusiveMinimum"),
            (json!({"name": "t", "type": "string", "constraints": {"pattern": "("}}), "pattern"),
        ] {
            let e = package(json!([{ "name": "a", "data": [], "schema": {"fields": [field]} }])).unwrap_err();
            assert!(e.msg.en.contains("resource «a»") && e.msg.en.contains(word), "{}", e.msg.en);
            assert!(e.msg.vi.contains("tài nguyên «a»"), "{}", e.msg.vi);
        }
    }

    #[test]
    fn paths_stay_inside_the_package() {
        for p in ["../x.csv", "/etc/passwd", "a/../../b.csv", "C:/x.csv", "a\\b.csv", "", "./a.csv", "a//b.csv"] {
            let e = package(json!([{ "name": "a", "path": p, "schema": {"fields": [{"name": "x"}]} }])).unwrap_err();
            assert!(e.msg.en.contains("not allowed") || e.msg.en.contains("neither"), "{p}: {}", e.msg.en);
        }
        let ok = package(json!([{ "name": "a", "path": "http://127.0.0.1:9/a.csv", "schema": {"fields": [{"name": "x"}]} }])).unwrap();
        assert_eq!(ok.resources[0].data, Data::Url("http://127.0.0.1:9/a.csv".into()));
    }

    #[test]
    fn names_that_fold_alike_get_their_own_columns() {
        let long = "a".repeat(63);
        let fields = json!([{"name": "Số"}, {"name": "so"}, {"name": "SỐ"}, {"name": long}, {"name": "select"}, {"name": "1 năm"}]);
        let spec = table_schema("r", &json!({ "fields": fields })).unwrap();
        let names: Vec<&str> = spec.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["so_2", "so", "so_3", long.as_str(), "f_2", "f_1_nam"], "{names:?}");
    }

    #[test]
    fn no_schema_is_refused_not_guessed() {
        let e = package(json!([{ "name": "a", "path": "a.csv" }])).unwrap_err();
        assert!(e.msg.en.contains("does not guess"), "{}", e.msg.en);
    }

    #[test]
    fn inline_rows_as_arrays_become_objects() {
        let p = package(json!([{ "name": "a", "data": [["x", "y"], [1, "b"]], "schema": {"fields": [{"name": "x", "type": "integer"}, {"name": "y"}]} }]))
            .unwrap();
        assert_eq!(p.resources[0].data, Data::Inline(br#"[{"x":1,"y":"b"}]"#.to_vec()));
    }

    #[test]
    fn a_zip_bomb_stops_at_the_bound() {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            z.start_file("datapackage.json", o).unwrap();
            std::io::Write::write_all(&mut z, br#"{"resources":[{"name":"a","path":"a.csv","schema":{"fields":[{"name":"x"}]}}]}"#)
                .unwrap();
            z.start_file("a.csv", o).unwrap();
            let zeros = vec![b'0'; 1 << 20];
            for _ in 0..8 {
                std::io::Write::write_all(&mut z, &zeros).unwrap();
            }
            z.finish().unwrap();
        }
        assert!(buf.get_ref().len() < 100_000, "8 MiB of zeros compress well");
        buf.set_position(0);
        let limits = PackageLimits { total: 1 << 20, ..Default::default() };
        let (mut p, d) = ZipPackage::open(buf, &limits).unwrap();
        parse_descriptor(&d, &limits).unwrap();
        let e = p.read("a.csv").unwrap_err();
        assert!(e.msg.en.contains("size limit"), "{}", e.msg.en);
    }
}
