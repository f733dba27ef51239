//! Exports that stream: `GET /api/v1/datasets/{id}/export.{csv,json,ndjson,
//! xlsx,geojson}` with the same filters as the record API, and
//! `GET /api/v1/databases/{key}/datapackage.zip`, a Frictionless Data
//! Package of every dataset of a database the caller may read.
//!
//! Pages of 5,000 rows are read by keyset from one snapshot (the dataset's
//! change number when the export began), so a long export is consistent
//! even while the data changes, and memory stays flat.

use std::io::Write;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chiase_core::policy::ReadPermit;
use chiase_core::query::{self, Query};
use chiase_core::schema::{Field, FieldType, Schema, Value};
use chiase_store::Store;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::Dataset;
use chiase_store::datasets::rows::StoredRow;
use serde_json::json;
use std::sync::Arc;

use super::datasets::find;
use super::records::{pairs, query_error, row_json};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::gate::{read_permit, record_read};
use crate::params::ApiPath;

const PAGE: usize = 5000;
/// Excel's limit, less the header row.
const XLSX_MAX_ROWS: i64 = 1_048_575;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/datasets/{id}/{file}", get(export)).route("/api/v1/databases/{key}/datapackage.zip", get(datapackage))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Csv,
    Json,
    Ndjson,
    Xlsx,
    Geojson,
}

impl Kind {
    fn parse(file: &str) -> Option<Kind> {
        Some(match file {
            "export.csv" => Kind::Csv,
            "export.json" => Kind::Json,
            "export.ndjson" => Kind::Ndjson,
            "export.xlsx" => Kind::Xlsx,
            "export.geojson" => Kind::Geojson,
            _ => return None,
        })
    }

    fn content_type(self) -> &'static str {
        match self {
            Kind::Csv => "text/csv; charset=utf-8",
            Kind::Json => "application/json",
            Kind::Ndjson => "application/x-ndjson",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Kind::Geojson => "application/geo+json",
        }
    }

    fn ext(self) -> &'static str {
        match self {
            Kind::Csv => "csv",
            Kind::Json => "json",
            Kind::Ndjson => "ndjson",
            Kind::Xlsx => "xlsx",
            Kind::Geojson => "geojson",
        }
    }
}

/// Text of a value for CSV and XLSX cells, in the field's own format.
fn cell(f: &Field, v: &Value) -> String {
    f.export_text(v)
}

/// A GeoJSON geometry for a row, from the dataset's point, a geopoint or a
/// GeoJSON field (the first visible one).
fn geometry(schema: &Schema, fields: &[usize], values: &[Value]) -> serde_json::Value {
    let at = |i: usize| fields.iter().position(|f| *f == i).map(|p| &values[p]);
    if let Some((lat, lon)) = schema.point
        && let (Some(Value::Num(y)), Some(Value::Num(x))) = (at(lat), at(lon))
    {
        return json!({ "type": "Point", "coordinates": [x, y] });
    }
    for (p, f) in fields.iter().enumerate() {
        match (&values[p], schema.fields[*f].spec.field_type) {
            (Value::Point(x, y), FieldType::Geopoint) => return json!({ "type": "Point", "coordinates": [x, y] }),
            (Value::Geo(g, _), FieldType::Geojson) => return g.clone(),
            _ => {}
        }
    }
    serde_json::Value::Null
}

fn has_geometry(schema: &Schema, visible: &[usize]) -> bool {
    schema.point.is_some_and(|(a, b)| visible.contains(&a) && visible.contains(&b))
        || visible.iter().any(|f| matches!(schema.fields[*f].spec.field_type, FieldType::Geopoint | FieldType::Geojson))
}

/// Pages through a query from one snapshot.
struct Pager<'a> {
    store: &'a Store,
    permit: &'a ReadPermit,
    ds: &'a Dataset,
    q: Query,
    snapshot: i64,
    done: bool,
}

impl<'a> Pager<'a> {
    fn new(store: &'a Store, permit: &'a ReadPermit, ds: &'a Dataset, mut q: Query, snapshot: i64) -> Pager<'a> {
        q.limit = PAGE;
        q.facets.clear();
        Pager { store, permit, ds, q, snapshot, done: false }
    }

    async fn next_page(&mut self) -> Result<Option<Vec<StoredRow>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let page = self.store.read_records(self.permit, self.ds, &self.q, Some(self.snapshot)).await?;
        match page.next {
            Some(next) => {
                self.q.after = Some(query::Cursor::decode(&next).ok_or_else(|| ApiError::internal(&"a cursor made here does not decode"))?)
            }
            None => self.done = true,
        }
        Ok(Some(page.records))
    }
}

fn disposition(name: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).unwrap_or(HeaderValue::from_static("attachment"))
}

async fn export(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, file)): ApiPath<(String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let kind = Kind::parse(&file).ok_or_else(|| ApiError::not_found(format!("không có «{file}»"), format!("no «{file}» here")))?;
    let ds = find(&app, &id).await?;
    let permit = read_permit(&app, &caller, &ds).await?;
    let schema = app.store.schema_of(&ds)?;
    let params = pairs(&uri);
    let bom = params.iter().any(|(k, v)| k == "bom" && (v == "true" || v == "1"));
    let mut q =
        query::parse(&params.into_iter().filter(|(k, _)| k != "limit" && k != "after").collect::<Vec<_>>(), &schema, permit.visible())
            .map_err(query_error)?;
    q.after = None;
    if kind == Kind::Geojson && !has_geometry(&schema, &q.fields) {
        return Err(ApiError::bad_request(
            "tập dữ liệu không có trường địa lý để xuất GeoJSON",
            "the dataset has no geographic field to export as GeoJSON",
        ));
    }
    let snapshot = match q.as_of {
        Some(at) => app.store.seq_at(&ds, at).await?,
        None => ds.last_seq,
    };
    let name = format!("{}.{}", ds.id, kind.ext());
    // The event is durable before the first byte leaves (rows: not known yet).
    record_read(&app, &caller, &ds, &permit, &format!("export.{}", kind.ext()), uri.query(), None).await?;
    if kind == Kind::Xlsx {
        return xlsx(app, permit, ds, schema, q, snapshot, name).await;
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let store = app.store.clone();
    tokio::spawn(async move {
        let fields: Vec<&Field> = q.fields.iter().map(|i| &schema.fields[*i]).collect();
        let mut first = true;
        let mut head = Vec::new();
        match kind {
            Kind::Csv => {
                if bom {
                    head.extend_from_slice("\u{feff}".as_bytes());
                }
                let mut w = csv::Writer::from_writer(Vec::new());
                let _ = w.write_record(fields.iter().map(|f| f.spec.name.as_str()));
                head.extend(w.into_inner().unwrap_or_default());
            }
            Kind::Json => head.push(b'['),
            Kind::Geojson => head.extend_from_slice(br#"{"type":"FeatureCollection","features":["#),
            _ => {}
        }
        if tx.send(Ok(head)).await.is_err() {
            return;
        }
        let mut pager = Pager::new(&store, &permit, &ds, q.clone(), snapshot);
        loop {
            let rows = match pager.next_page().await {
                Ok(Some(rows)) => rows,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(dataset = %ds.id, "export stopped: {}", e.msg.en);
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            };
            let mut buf = Vec::with_capacity(rows.len() * 128);
            for r in &rows {
                match kind {
                    Kind::Csv => {
                        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(&mut buf);
                        let _ = w.write_record(fields.iter().zip(&r.values).map(|(f, v)| cell(f, v)));
                    }
                    Kind::Json | Kind::Ndjson => {
                        if kind == Kind::Json && !first {
                            buf.push(b',');
                        }
                        let _ = serde_json::to_writer(&mut buf, &row_json(&fields, r));
                        if kind == Kind::Ndjson {
                            buf.push(b'\n');
                        }
                    }
                    Kind::Geojson => {
                        if !first {
                            buf.push(b',');
                        }
                        let props = chiase_store::datasets::records::record_json(&fields, r);
                        let feature = json!({ "type": "Feature", "id": r.meta.id, "geometry": geometry(&schema, &q.fields, &r.values), "properties": props });
                        let _ = serde_json::to_writer(&mut buf, &feature);
                    }
                    Kind::Xlsx => {}
                }
                first = false;
            }
            if tx.send(Ok(buf)).await.is_err() {
                return;
            }
        }
        let tail: &[u8] = match kind {
            Kind::Json => b"]",
            Kind::Geojson => b"]}",
            _ => b"",
        };
        let _ = tx.send(Ok(tail.to_vec())).await;
    });
    let stream = tokio_stream_from(rx);
    let mut resp = Body::from_stream(stream).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind.content_type()));
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, disposition(&name));
    Ok(resp)
}

/// A receiver as a stream of body chunks.
fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

async fn xlsx(
    app: AppState,
    permit: ReadPermit,
    ds: Dataset,
    schema: Arc<Schema>,
    q: Query,
    snapshot: i64,
    name: String,
) -> Result<Response, ApiError> {
    let mut count_q = q.clone();
    count_q.exact_total = true;
    count_q.limit = 1;
    let total = app.store.read_records(&permit, &ds, &count_q, Some(snapshot)).await?.total;
    if total > XLSX_MAX_ROWS {
        return Err(ApiError::bad_request(
            format!("{total} dòng vượt giới hạn của Excel ({XLSX_MAX_ROWS}); hãy xuất CSV hoặc lọc bớt"),
            format!("{total} rows exceed Excel's limit ({XLSX_MAX_ROWS}); export CSV or filter"),
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| ApiError::internal(&e))?;
    let path = dir.path().join(&name);
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory().map_err(|e| ApiError::internal(&e))?;
    let fields: Vec<&Field> = q.fields.iter().map(|i| &schema.fields[*i]).collect();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, f) in fields.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, &f.spec.name, &bold).map_err(|e| ApiError::internal(&e))?;
    }
    let mut row: u32 = 1;
    let mut pager = Pager::new(&app.store, &permit, &ds, q.clone(), snapshot);
    while let Some(rows) = pager.next_page().await? {
        for r in &rows {
            for (c, (f, v)) in fields.iter().zip(&r.values).enumerate() {
                let c = c as u16;
                match v {
                    Value::Null => Ok(&mut *sheet),
                    Value::Int(n) => sheet.write_number(row, c, *n as f64),
                    Value::Num(x) => sheet.write_number(row, c, *x),
                    Value::Bool(b) => sheet.write_boolean(row, c, *b),
                    other => sheet.write_string(row, c, cell(f, other)),
                }
                .map_err(|e| ApiError::internal(&e))?;
            }
            row += 1;
        }
    }
    book.save(&path).map_err(|e| ApiError::internal(&e))?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| ApiError::internal(&e))?;
    let mut resp = Body::from(bytes).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(Kind::Xlsx.content_type()));
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, disposition(&name));
    Ok(resp)
}

/// Frictionless field types are ours, except for the two geo encodings.
fn frictionless_field(f: &Field) -> serde_json::Value {
    let mut v = serde_json::to_value(&f.spec).unwrap_or(json!({}));
    if let Some(o) = v.as_object_mut() {
        // chiase extensions are kept under their own names; a reader that
        // does not know them ignores them.
        o.remove("decimalChar");
        o.remove("groupChar");
    }
    v
}

async fn datapackage(State(app): State<AppState>, caller: Caller, ApiPath(key): ApiPath<String>) -> Result<Response, ApiError> {
    let db = super::databases::find(&app, &key).await?;
    let datasets = app.store.datasets(Some(&DatabaseKey::Id(db.id.clone()))).await?;
    let dir = tempfile::tempdir().map_err(|e| ApiError::internal(&e))?;
    let zip_path = dir.path().join("datapackage.zip");
    let file = std::fs::File::create(&zip_path).map_err(|e| ApiError::internal(&e))?;
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut resources = Vec::new();
    for ds in &datasets {
        // Only what the caller may read goes in; the rest is named as omitted.
        let Ok(permit) = read_permit(&app, &caller, ds).await else { continue };
        record_read(&app, &caller, ds, &permit, "datapackage", None, None).await?;
        let schema = app.store.schema_of(ds)?;
        let q = query::parse(&[], &schema, permit.visible()).map_err(query_error)?;
        let fields: Vec<&Field> = q.fields.iter().map(|i| &schema.fields[*i]).collect();
        let path = format!("data/{}.csv", ds.id);
        zip.start_file(&path, opts).map_err(|e| ApiError::internal(&e))?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(fields.iter().map(|f| f.spec.name.as_str()));
        zip.write_all(&w.into_inner().unwrap_or_default()).map_err(|e| ApiError::internal(&e))?;
        let mut pager = Pager::new(&app.store, &permit, ds, q.clone(), ds.last_seq);
        while let Some(rows) = pager.next_page().await? {
            let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
            for r in &rows {
                let _ = w.write_record(fields.iter().zip(&r.values).map(|(f, v)| cell(f, v)));
            }
            zip.write_all(&w.into_inner().unwrap_or_default()).map_err(|e| ApiError::internal(&e))?;
        }
        let mut schema_json = json!({ "fields": fields.iter().map(|f| frictionless_field(f)).collect::<Vec<_>>() });
        if !schema.spec.primary_key.is_empty() && schema.key.iter().all(|k| q.fields.contains(k)) {
            schema_json["primaryKey"] = json!(schema.spec.primary_key);
        }
        resources.push(json!({
            "name": ds.id,
            "path": path,
            "title": ds.title,
            "description": ds.description,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "licenses": [{ "name": ds.licence }],
            "schema": schema_json,
        }));
    }
    let package = json!({
        "name": db.id,
        "title": db.name,
        "description": db.fields.description.plain(),
        "version": db.version.decision_no,
        "sources": [{ "title": format!("Quyết định {}", db.version.decision_no) }],
        "contributors": [{ "title": db.owner.name, "role": "publisher" }],
        "resources": resources,
    });
    zip.start_file("datapackage.json", opts).map_err(|e| ApiError::internal(&e))?;
    zip.write_all(serde_json::to_string_pretty(&package).unwrap_or_default().as_bytes()).map_err(|e| ApiError::internal(&e))?;
    zip.finish().map_err(|e| ApiError::internal(&e))?;
    let bytes = tokio::fs::read(&zip_path).await.map_err(|e| ApiError::internal(&e))?;
    let mut resp = (StatusCode::OK, bytes).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, disposition(&format!("{}-datapackage.zip", db.id)));
    Ok(resp)
}
