//! Reading a harvest source: what a CKAN site, another chiase, a DCAT
//! catalog or a Data Package lists, and for entries whose rows are open,
//! the rows, spooled to temporary files as NDJSON. Nothing here writes to
//! the store: a run reads everything first, so a source that is down,
//! slow or answers garbage fails the run before anything changes.

use std::io::Write;
use std::time::{Duration, Instant};

use chiase_core::catalog::Cadence;
use chiase_core::fold::slugify;
use chiase_core::schema::{FieldSpec, FieldType, SchemaSpec};
use openidconnect::http::{Request, header};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::oidc::http::send_bounded;

/// The largest answer read (a page of rows).
const MAX_ANSWER: usize = 64 << 20;
/// A whole run's deadline and the most rows, pages and entries it reads.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const MAX_ROWS: u64 = 5_000_000;
const MAX_PAGES: usize = 10_000;
const MAX_ENTRIES: usize = 10_000;

/// What a source lists.
pub struct Remote {
    pub entries: Vec<RemoteEntry>,
    /// Entries read but not taken (rows that are not open), for the report.
    pub notes: Vec<Value>,
}

/// One catalog entry of the source, and the open rows it carries.
pub struct RemoteEntry {
    pub remote_id: String,
    pub title: String,
    pub description: String,
    pub publisher: Option<String>,
    pub landing_url: Option<String>,
    pub modified: Option<String>,
    pub metadata: Value,
    pub data: Option<RemoteData>,
    pub hash: String,
}

/// Rows to keep here as a read-only dataset.
pub struct RemoteData {
    /// The local dataset's id.
    pub local_id: String,
    /// The catalog database it belongs to at the source (its id), used
    /// when this chiase has one of the same id.
    pub database: Option<String>,
    pub title: String,
    pub title_en: Option<String>,
    pub description: String,
    pub licence: Option<String>,
    pub cadence: Option<Cadence>,
    pub schema: SchemaSpec,
    /// The rows, in the format `rows_name`'s extension says (NDJSON from
    /// a DataStore; CSV or JSON from a Data Package).
    pub rows: tempfile::NamedTempFile,
    pub rows_name: String,
    pub row_count: u64,
}

/// Why reading a source failed: the whole run fails with it.
#[derive(Debug)]
pub struct SourceError(pub String);

fn err(what: impl Into<String>) -> SourceError {
    SourceError(what.into())
}

struct Client {
    started: Instant,
    rows: u64,
    pages: usize,
    /// One request's deadline (the source's `timeout_secs`).
    timeout: Duration,
}

impl Client {
    fn new(timeout: Duration) -> Client {
        Client { started: Instant::now(), rows: 0, pages: 0, timeout }
    }

    /// GET `url`; the answer's bytes when it is a 200, else an error naming
    /// the URL and status.
    async fn get(&mut self, url: &str, accept: &str) -> Result<(Vec<u8>, String), SourceError> {
        if self.started.elapsed() > RUN_TIMEOUT {
            return Err(err(format!("the run took longer than {} minutes", RUN_TIMEOUT.as_secs() / 60)));
        }
        self.pages += 1;
        if self.pages > MAX_PAGES {
            return Err(err(format!("more than {MAX_PAGES} requests in one run")));
        }
        let req = Request::builder()
            .uri(url)
            .header(header::ACCEPT, accept)
            .header(header::USER_AGENT, concat!("chiase-harvester/", env!("CARGO_PKG_VERSION")))
            .body(Vec::new())
            .map_err(|e| err(format!("{url}: {e}")))?;
        let res = send_bounded(req, self.timeout, MAX_ANSWER).await.map_err(|e| err(format!("{url}: {e}")))?;
        let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        if !res.status().is_success() {
            return Err(err(format!("{url}: HTTP {}", res.status())));
        }
        Ok((res.into_body(), content_type))
    }

    async fn get_json(&mut self, url: &str) -> Result<Value, SourceError> {
        let (body, _) = self.get(url, "application/json").await?;
        serde_json::from_slice(&body).map_err(|e| err(format!("{url}: not JSON ({e})")))
    }

    /// A CKAN action's `result`; a refusal (`success: false`) is `Ok(None)`
    /// when it is an authorization error, else an error.
    async fn ckan(&mut self, url: &str) -> Result<Option<Value>, SourceError> {
        let req = Request::builder()
            .uri(url)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, concat!("chiase-harvester/", env!("CARGO_PKG_VERSION")))
            .body(Vec::new())
            .map_err(|e| err(format!("{url}: {e}")))?;
        self.pages += 1;
        if self.pages > MAX_PAGES || self.started.elapsed() > RUN_TIMEOUT {
            return Err(err("the run read too many pages or took too long"));
        }
        let res = send_bounded(req, self.timeout, MAX_ANSWER).await.map_err(|e| err(format!("{url}: {e}")))?;
        let status = res.status();
        let v: Value = serde_json::from_slice(res.body()).map_err(|e| err(format!("{url}: HTTP {status}, not JSON ({e})")))?;
        if v["success"] == true {
            return Ok(Some(v["result"].clone()));
        }
        if v["error"]["__type"] == "Authorization Error" {
            return Ok(None);
        }
        Err(err(format!("{url}: HTTP {status}: {}", v["error"])))
    }
}

fn sha(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn opt_text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Joins a link the source gave (absolute, or a path on its host) to it.
pub(crate) fn join(base: &str, link: &str) -> Result<String, SourceError> {
    if link.starts_with("http://") || link.starts_with("https://") {
        // Links must stay on the source's host: a source cannot send the
        // harvester elsewhere.
        let host = |u: &str| u.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_default().to_string();
        if host(link) != host(base) {
            return Err(err(format!("the source links to another host: {link}")));
        }
        return Ok(link.to_string());
    }
    let origin: String = {
        let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
        format!("{scheme}://{}", rest.split('/').next().unwrap_or_default())
    };
    if link.starts_with('/') {
        Ok(format!("{origin}{link}"))
    } else {
        let dir = base.rsplit_once('/').map(|(d, _)| d).unwrap_or(base);
        Ok(format!("{dir}/{link}"))
    }
}

/// A CKAN site: every package (`package_search`, 100 at a time, by id),
/// and the rows of every resource in its DataStore the public may read.
/// With `native`, the source is another chiase: the schema comes from its
/// native API, and only open datasets are read.
pub async fn ckan(base: &str, native: bool, timeout: Duration) -> Result<Remote, SourceError> {
    let base = base.trim_end_matches('/');
    let mut client = Client::new(timeout);
    let mut packages = vec![];
    let mut start = 0;
    let mut previous_first: Option<String> = None;
    loop {
        let url = format!("{base}/api/3/action/package_search?rows=100&start={start}&sort={}", "id%20asc");
        let page = client.ckan(&url).await?.ok_or_else(|| err(format!("{url}: refused")))?;
        let results = page["results"].as_array().ok_or_else(|| err(format!("{url}: no results list")))?.clone();
        if results.is_empty() {
            break;
        }
        let first = text(&results[0]["id"]);
        if previous_first.as_deref() == Some(first.as_str()) {
            return Err(err(format!("{url}: the paging does not seem to work (the same page twice)")));
        }
        previous_first = Some(first);
        start += results.len();
        packages.extend(results);
        if packages.len() > MAX_ENTRIES {
            return Err(err(format!("more than {MAX_ENTRIES} packages")));
        }
    }
    let mut entries = vec![];
    let mut notes = vec![];
    for p in &packages {
        let name = opt_text(&p["name"]).or_else(|| opt_text(&p["id"])).ok_or_else(|| err("a package without name or id"))?;
        let resources: Vec<Value> = p["resources"].as_array().cloned().unwrap_or_default();
        let metadata = json!({
            "organization": p["organization"]["name"], "license_id": p["license_id"],
            "tags": p["tags"].as_array().map(|t| t.iter().map(|x| x["name"].clone()).collect::<Vec<_>>()).unwrap_or_default(),
            "resources": resources.iter().map(|r| json!({"id": r["id"], "name": r["name"], "format": r["format"], "url": r["url"]})).collect::<Vec<_>>(),
        });
        let mut entry = RemoteEntry {
            remote_id: name.clone(),
            title: opt_text(&p["title"]).unwrap_or_else(|| name.clone()),
            description: text(&p["notes"]),
            publisher: opt_text(&p["organization"]["title"]),
            landing_url: opt_text(&p["url"]),
            modified: opt_text(&p["metadata_modified"]),
            hash: String::new(),
            metadata,
            data: None,
        };
        entry.hash = sha(&[
            serde_json::to_vec(&entry.metadata).unwrap_or_default().as_slice(),
            entry.title.as_bytes(),
            entry.description.as_bytes(),
        ]);
        entries.push(entry);
        for r in &resources {
            let active = r["datastore_active"] == true || r["url_type"] == "datastore";
            let rid = text(&r["id"]);
            if !active || rid.is_empty() {
                continue;
            }
            if native && r["sharing_mode"] != "open" {
                notes.push(
                    json!({"entry": format!("{name}/{rid}"), "outcome": "skipped", "reason": "not open data: its rows are not harvested"}),
                );
                continue;
            }
            match resource_rows(&mut client, base, &name, r, native).await? {
                Some(e) => entries.push(e),
                None => notes.push(json!({"entry": format!("{name}/{rid}"), "outcome": "skipped", "reason": "the source does not let the public read its rows"})),
            }
        }
    }
    Ok(Remote { entries, notes })
}

/// The rows of one resource through `datastore_search`, following
/// `_links.next`; `None` when the public may not read them.
async fn resource_rows(
    client: &mut Client,
    base: &str,
    package: &str,
    r: &Value,
    native: bool,
) -> Result<Option<RemoteEntry>, SourceError> {
    let rid = text(&r["id"]);
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut url = format!("{base}/api/3/action/datastore_search?resource_id={}&limit=1000", enc(&rid));
    let mut file = tempfile::NamedTempFile::new().map_err(|e| err(format!("a temporary file: {e}")))?;
    let mut hasher = Sha256::new();
    let mut fields: Option<Vec<Value>> = None;
    let mut count = 0u64;
    loop {
        let Some(page) = client.ckan(&url).await? else { return Ok(None) };
        if fields.is_none() {
            fields = Some(page["fields"].as_array().cloned().unwrap_or_default());
        }
        let records = page["records"].as_array().ok_or_else(|| err(format!("{url}: no records list")))?;
        for rec in records {
            let Value::Object(m) = rec else { return Err(err(format!("{url}: a record is not an object"))) };
            let row: Map<String, Value> = m.iter().filter(|(k, _)| *k != "_id").map(|(k, v)| (k.clone(), v.clone())).collect();
            let line = serde_json::to_vec(&row).unwrap_or_default();
            hasher.update(&line);
            file.write_all(&line).and_then(|()| file.write_all(b"\n")).map_err(|e| err(format!("spooling rows: {e}")))?;
            count += 1;
            client.rows += 1;
        }
        if client.rows > MAX_ROWS {
            return Err(err(format!("more than {MAX_ROWS} rows in one run")));
        }
        let total = page["total"].as_u64();
        match page["_links"]["next"].as_str() {
            Some(next) if !records.is_empty() && total.is_none_or(|t| count < t) => url = join(base, next)?,
            _ => break,
        }
    }
    file.flush().map_err(|e| err(format!("spooling rows: {e}")))?;
    let fields = fields.unwrap_or_default();
    let (schema, title, title_en, description, licence, cadence, database) = if native {
        // Another chiase: its own schema (the fields the public sees) and description.
        let native_url = format!("{base}/api/v1/datasets/{}", enc(&rid));
        let d = client.get_json(&native_url).await?;
        let mut spec: SchemaSpec = serde_json::from_value(d["schema"].clone()).map_err(|e| err(format!("{native_url}: schema: {e}")))?;
        let seen: Vec<String> = fields.iter().map(|f| text(&f["id"])).filter(|n| n != "_id").collect();
        spec.fields.retain(|f| seen.contains(&f.name));
        if !spec.primary_key.iter().all(|k| seen.contains(k)) {
            spec.primary_key.clear();
        }
        spec.indexes.retain(|ix| ix.iter().all(|k| seen.contains(k)));
        (
            spec,
            text(&d["title"]),
            opt_text(&d["title_en"]),
            text(&d["description"]),
            opt_text(&d["licence"]),
            d["cadence"].as_str().and_then(|c| c.parse().ok()),
            opt_text(&d["database"]["id"]),
        )
    } else {
        (
            schema_of_fields(&fields).map_err(|e| err(format!("{package}/{rid}: {e}")))?,
            opt_text(&r["name"]).unwrap_or_else(|| rid.clone()),
            None,
            text(&r["description"]),
            None,
            None,
            Some(package.to_string()),
        )
    };
    let local_id = if native { rid.clone() } else { slugify(&rid, 60) };
    let schema_bytes = serde_json::to_vec(&schema).unwrap_or_default();
    let rows_hash: Vec<u8> = hasher.finalize().to_vec();
    let metadata = json!({"package": package, "resource": rid, "rows": count});
    let hash = sha(&[&schema_bytes, &rows_hash, title.as_bytes(), description.as_bytes()]);
    Ok(Some(RemoteEntry {
        remote_id: format!("{package}/{rid}"),
        title: title.clone(),
        description: description.clone(),
        publisher: None,
        landing_url: opt_text(&r["page_url"]).or_else(|| opt_text(&r["url"])),
        modified: opt_text(&r["last_modified"]).or_else(|| opt_text(&r["metadata_modified"])),
        metadata,
        hash,
        data: Some(RemoteData {
            local_id,
            database,
            title,
            title_en,
            description,
            licence,
            cadence,
            schema,
            rows: file,
            rows_name: "harvest.ndjson".into(),
            row_count: count,
        }),
    }))
}

/// A DataStore's fields as a Table Schema (CKAN's PostgreSQL type names).
fn schema_of_fields(fields: &[Value]) -> Result<SchemaSpec, String> {
    let mut out = vec![];
    for f in fields {
        let id = text(&f["id"]);
        if id == "_id" || id == "_full_text" {
            continue;
        }
        chiase_core::schema::check_field_name(&id).map_err(|m| m.en)?;
        let field_type = match f["type"].as_str().unwrap_or("text") {
            "int" | "int2" | "int4" | "int8" | "integer" | "bigint" => FieldType::Integer,
            "numeric" | "float" | "float4" | "float8" | "double precision" => FieldType::Number,
            "bool" | "boolean" => FieldType::Boolean,
            "date" => FieldType::Date,
            "timestamp" | "timestamptz" => FieldType::Datetime,
            _ => FieldType::String,
        };
        let mut spec: FieldSpec = serde_json::from_value(json!({"name": id, "type": "string"})).map_err(|e| e.to_string())?;
        spec.field_type = field_type;
        spec.title = opt_text(&f["info"]["label"]);
        spec.description = opt_text(&f["info"]["notes"]);
        out.push(spec);
    }
    serde_json::from_value(json!({"fields": out})).map_err(|e: serde_json::Error| e.to_string())
}

/// A DCAT catalog (Turtle, RDF/XML or JSON-LD, by its media type), its
/// pages followed through `hydra:next`: each `dcat:Dataset` an entry,
/// metadata only.
pub async fn dcat(url: &str, timeout: Duration) -> Result<Remote, SourceError> {
    let mut client = Client::new(timeout);
    let mut entries = vec![];
    let mut next = Some(url.to_string());
    let mut visited = std::collections::HashSet::new();
    while let Some(page_url) = next.take() {
        if !visited.insert(page_url.clone()) {
            break;
        }
        let (body, content_type) = client.get(&page_url, "text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.8").await?;
        let graph = super::rdf::parse(&body, &content_type, &page_url).map_err(|e| err(format!("{page_url}: {e}")))?;
        for d in graph.datasets() {
            entries.push(d);
            if entries.len() > MAX_ENTRIES {
                return Err(err(format!("more than {MAX_ENTRIES} datasets")));
            }
        }
        next = match graph.next_page() {
            Some(n) => Some(join(url, &n)?),
            None => None,
        };
    }
    Ok(Remote { entries, notes: vec![] })
}

/// A Frictionless Data Package (`datapackage.json` at `url`): each
/// resource an entry with its rows (inline, a file beside the descriptor,
/// or a URL on the same host); a resource chiase's own export marks as
/// not open is listed but its rows are not taken.
pub async fn datapackage(url: &str, timeout: Duration) -> Result<Remote, SourceError> {
    use chiase_io::datapackage::{Data, PackageLimits, parse_descriptor};
    let mut client = Client::new(timeout);
    let (body, _) = client.get(url, "application/json").await?;
    let limits = PackageLimits { total: MAX_ANSWER as u64 * 4, ..Default::default() };
    let package = parse_descriptor(&body, &limits).map_err(|e| err(format!("{url}: {}", e.msg.en)))?;
    let database = package.name.clone();
    let mut entries = vec![];
    let mut notes = vec![];
    for r in package.resources {
        if r.sharing_mode.as_deref().is_some_and(|m| m != "open") {
            notes.push(json!({"entry": r.name, "outcome": "skipped", "reason": "not open data: its rows are not harvested"}));
            continue;
        }
        let bytes = match &r.data {
            Data::Inline(b) => b.clone(),
            Data::Path(p) => client.get(&join(url, p)?, "*/*").await?.0,
            Data::Url(u) => client.get(&join(url, u)?, "*/*").await?.0,
        };
        let mut file = tempfile::NamedTempFile::new().map_err(|e| err(format!("a temporary file: {e}")))?;
        file.write_all(&bytes).and_then(|()| file.flush()).map_err(|e| err(format!("spooling rows: {e}")))?;
        let schema_bytes = serde_json::to_vec(&r.schema).unwrap_or_default();
        let hash = sha(&[&schema_bytes, &bytes, r.title.as_bytes(), r.description.as_bytes()]);
        let ext = if matches!(r.data, Data::Inline(_)) {
            "json".to_string()
        } else {
            r.file_name.rsplit('.').next().unwrap_or("csv").to_string()
        };
        entries.push(RemoteEntry {
            remote_id: r.name.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
            publisher: None,
            landing_url: None,
            modified: None,
            metadata: json!({"package": package.name, "resource": r.name, "licence": r.licence}),
            hash,
            data: Some(RemoteData {
                local_id: r.id.clone(),
                database: database.clone(),
                title: r.title,
                title_en: None,
                description: r.description,
                licence: r.licence,
                cadence: None,
                schema: r.schema,
                rows: file,
                rows_name: format!("harvest.{ext}"),
                row_count: 0,
            }),
        });
    }
    Ok(Remote { entries, notes })
}

pub(crate) fn entry_hash(metadata: &Value, title: &str, description: &str) -> String {
    sha(&[serde_json::to_vec(metadata).unwrap_or_default().as_slice(), title.as_bytes(), description.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_on_the_source() {
        assert_eq!(join("http://127.0.0.1:5/catalog.ttl", "/catalog.ttl?page=2").unwrap(), "http://127.0.0.1:5/catalog.ttl?page=2");
        assert_eq!(join("http://127.0.0.1:5/a/dp.json", "data/x.csv").unwrap(), "http://127.0.0.1:5/a/data/x.csv");
        assert!(join("http://127.0.0.1:5/a", "http://10.0.0.1/x").is_err());
    }

    #[test]
    fn datastore_fields_become_a_schema() {
        let s = schema_of_fields(&[
            json!({"id": "_id", "type": "int"}),
            json!({"id": "ma", "type": "text", "info": {"label": "Mã"}}),
            json!({"id": "so", "type": "int8"}),
            json!({"id": "gia", "type": "numeric"}),
            json!({"id": "ngay", "type": "date"}),
        ])
        .unwrap();
        let types: Vec<FieldType> = s.fields.iter().map(|f| f.field_type).collect();
        assert_eq!(types, vec![FieldType::String, FieldType::Integer, FieldType::Number, FieldType::Date]);
        assert_eq!(s.fields[0].title.as_deref(), Some("Mã"));
        assert!(schema_of_fields(&[json!({"id": "Tên có dấu", "type": "text"})]).is_err());
    }
}
