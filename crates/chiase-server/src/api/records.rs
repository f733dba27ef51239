//! `/api/v1/datasets/{id}/records`, `/import` and `/changes`: the rows of a
//! dataset. Every handler gets a permit from the policy decision point
//! first (`gate`); reads select only the fields the permit shows.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use chiase_core::query::{self, Query};
use chiase_core::schema::{Field, Schema};
use chiase_store::datasets::Dataset;
use chiase_store::datasets::import::{ImportMode, ParsedRow};
use chiase_store::datasets::records::{RecordPage, record_json};
use chiase_store::datasets::rows::StoredRow;
use futures_util::TryStreamExt;
use serde_json::{Value, json};

use super::datasets::{file_error, find, read_options};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::gate::{read_permit, record_read, record_write, write_permit};
use crate::ingest::{self, ImportFailure, ImportOutcome, ImportReport, ImportRequest, Progress, ReportError};
use crate::params::{ApiPath, Params};

/// Largest import body (the import itself streams; this only bounds abuse).
pub const MAX_IMPORT_BYTES: usize = 8 * 1024 * 1024 * 1024;
/// Largest body of a record batch.
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/datasets/{id}/records", get(list).post(insert).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)))
        .route("/api/v1/datasets/{id}/records/{key}", get(show).patch(patch_one).delete(delete_one))
        .route("/api/v1/datasets/{id}/import", post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)))
        .route("/api/v1/datasets/{id}/changes", get(changes))
}

/// All query pairs of a request.
pub fn pairs(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// A query error is a 400 naming the parameter.
pub fn query_error(e: query::QueryError) -> ApiError {
    ApiError::bad_request(e.message.vi, e.message.en).with_fields(json!({ e.param: ["invalid"] }))
}

/// One record as JSON: `_id`, then its visible fields.
pub fn row_json(fields: &[&Field], r: &StoredRow) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("_id".into(), json!(r.meta.id));
    m.extend(record_json(fields, r));
    Value::Object(m)
}

fn page_json(schema: &Schema, page: &RecordPage) -> Value {
    let fields: Vec<&Field> = page.fields.iter().map(|i| &schema.fields[*i]).collect();
    let facets: serde_json::Map<String, Value> = page
        .facets
        .iter()
        .map(|(f, counts)| {
            (
                schema.fields[*f].spec.name.clone(),
                Value::Array(counts.iter().map(|(v, n)| json!({ "value": v.to_json(), "count": n })).collect()),
            )
        })
        .collect();
    json!({
        "total": page.total,
        "total_exact": page.total_exact,
        "fields": fields.iter().map(|f| f.spec.name.as_str()).collect::<Vec<_>>(),
        "records": page.records.iter().map(|r| row_json(&fields, r)).collect::<Vec<_>>(),
        "next": page.next,
        "facets": facets,
        "seq": page.seq,
    })
}

async fn list(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let ds = find(&app, &id).await?;
    let permit = read_permit(&app, &caller, &ds).await?;
    let schema = app.store.schema_of(&ds)?;
    let q: Query = query::parse(&pairs(&uri), &schema, permit.visible()).map_err(query_error)?;
    let page = app.store.read_records(&permit, &ds, &q, None).await?;
    record_read(&app, &caller, &ds, &permit, "records", uri.query(), Some(page.records.len() as i64)).await?;
    Ok(Json(page_json(&schema, &page)))
}

async fn show(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, key)): ApiPath<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["as_of", "lang"])?;
    let ds = find(&app, &id).await?;
    let permit = read_permit(&app, &caller, &ds).await?;
    let schema = app.store.schema_of(&ds)?;
    let canonical = schema.key_from_url(&key).map_err(|e| ApiError::bad_request(e.message.vi, e.message.en))?;
    let snapshot = match p.one("as_of")? {
        Some(t) => Some(
            app.store
                .seq_at(
                    &ds,
                    query::parse_instant(t)
                        .ok_or_else(|| ApiError::bad_request("«as_of» phải là thời điểm ISO 8601", "«as_of» must be an ISO 8601 time"))?,
                )
                .await?,
        ),
        None => None,
    };
    let row = app.store.read_record(&permit, &ds, &canonical, snapshot).await?;
    record_read(
        &app,
        &caller,
        &ds,
        &permit,
        "record",
        Some(&format!("key={key}&{}", uri.query().unwrap_or(""))),
        Some(row.is_some() as i64),
    )
    .await?;
    let row = row.ok_or_else(|| not_found_record(&key))?;
    let fields: Vec<&Field> = permit.visible().iter().map(|i| &schema.fields[*i]).collect();
    Ok(Json(row_json(&fields, &row)))
}

fn not_found_record(key: &str) -> ApiError {
    ApiError::not_found(format!("không có bản ghi «{key}»"), format!("no record «{key}»"))
}

fn rejected(report: ImportReport) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "rows_rejected",
        format!("không nhập gì: {} lỗi trong dữ liệu (liệt kê {} lỗi đầu)", report.total_errors, report.errors.len()),
        format!("nothing was imported: {} problems in the data (the first {} listed)", report.total_errors, report.errors.len()),
    )
    .with_fields(json!({ "report": report }))
}

fn failure(e: ImportFailure) -> ApiError {
    match e {
        ImportFailure::File(e) => file_error(e),
        ImportFailure::Store(e) => e.into(),
    }
}

/// `POST …/import?mode=append|upsert|replace` with the file as the body.
async fn import(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["mode", "encoding", "delimiter", "format", "name", "lang"])?;
    let mode = match p.one("mode")? {
        None => ImportMode::Append,
        Some(m) => m.parse::<ImportMode>().map_err(|m| {
            ApiError::bad_request(
                format!("chế độ «{m}» không hợp lệ (append, upsert, replace)"),
                format!("invalid mode «{m}» (append, upsert, replace)"),
            )
        })?,
    };
    let options = read_options(&p)?;
    let ds = find(&app, &id).await?;
    let permit = write_permit(&app, &caller, &ds).await?;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let req = ImportRequest {
        mode,
        actor: caller.actor.clone(),
        source_name: p.one("name")?.map(str::to_string),
        content_type: headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string),
        options,
    };
    let source_name = req.source_name.clone();
    match ingest::run(&app.store, &permit, &ds.id, req, Box::new(reader), Arc::new(Progress::default())).await.map_err(failure)? {
        ImportOutcome::Done(summary) => {
            let detail = json!({ "mode": mode.code(), "file": source_name, "inserted": summary.inserted, "updated": summary.updated, "deleted": summary.deleted, "seq": [summary.first_seq, summary.last_seq] });
            record_write(&app, &caller, "import", Some(&ds), ds.id.clone(), detail).await?;
            Ok(Json(serde_json::to_value(summary).map_err(|e| ApiError::internal(&e))?))
        }
        ImportOutcome::Rejected(report) => Err(rejected(report)),
    }
}

/// Parses a JSON body of records (an array, or one object) against the
/// schema; every bad record is reported with its position.
fn parse_records(schema: &Schema, body: &Bytes, base: Option<&[chiase_core::schema::Value]>) -> Result<Vec<ParsedRow>, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("nội dung JSON không hợp lệ: {e}"), format!("invalid JSON body: {e}")))?;
    let items = match v {
        Value::Array(a) => a,
        Value::Object(_) => vec![v],
        _ => {
            return Err(ApiError::bad_request(
                "nội dung phải là một đối tượng hoặc mảng đối tượng JSON",
                "the body must be a JSON object or an array of objects",
            ));
        }
    };
    if items.len() > 100_000 {
        return Err(ApiError::bad_request(
            "tối đa 100.000 bản ghi mỗi lần; hãy dùng /import",
            "at most 100,000 records per request; use /import",
        ));
    }
    let mut rows = Vec::with_capacity(items.len());
    let mut errors: Vec<ReportError> = Vec::new();
    let mut total = 0u64;
    for (i, item) in items.into_iter().enumerate() {
        let n = i as u64 + 1;
        let Value::Object(obj) = item else {
            total += 1;
            errors.push(ReportError {
                row: n,
                column: None,
                value: None,
                code: "type".into(),
                message: "mỗi bản ghi phải là một đối tượng JSON".into(),
                message_en: "each record must be a JSON object".into(),
            });
            continue;
        };
        match schema.parse_json_row(&obj, base) {
            Ok(values) => rows.push(ParsedRow { line: n, values }),
            Err(problems) => {
                for (f, e) in problems {
                    total += 1;
                    if errors.len() < ingest::MAX_REPORTED {
                        let column = (f != usize::MAX).then(|| schema.fields[f].spec.name.clone());
                        let value = column.as_ref().and_then(|c| obj.get(c)).map(|v| v.to_string());
                        errors.push(ReportError {
                            row: n,
                            column,
                            value,
                            code: e.code.into(),
                            message: e.message.vi,
                            message_en: e.message.en,
                        });
                    }
                }
            }
        }
    }
    if total > 0 {
        return Err(rejected(ImportReport { rows_read: rows.len() as u64 + total, total_errors: total, errors }));
    }
    Ok(rows)
}

/// `POST …/records?mode=insert|upsert` with a JSON array of records.
async fn insert(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    uri: Uri,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p = Params::parse(uri.query(), &["mode", "lang"])?;
    let mode = match p.one("mode")? {
        None | Some("insert") => ImportMode::Append,
        Some("upsert") => ImportMode::Upsert,
        Some(m) => {
            return Err(ApiError::bad_request(
                format!("chế độ «{m}» không hợp lệ (insert, upsert)"),
                format!("invalid mode «{m}» (insert, upsert)"),
            ));
        }
    };
    let ds = find(&app, &id).await?;
    let permit = write_permit(&app, &caller, &ds).await?;
    let schema = app.store.schema_of(&ds)?;
    let rows = parse_records(&schema, &body, None)?;
    let summary = write_rows(&app, &permit, &ds, mode, &caller, rows).await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

async fn write_rows(
    app: &AppState,
    permit: &chiase_core::policy::WritePermit,
    ds: &Dataset,
    mode: ImportMode,
    caller: &Caller,
    rows: Vec<ParsedRow>,
) -> Result<Value, ApiError> {
    let mut writer = app.store.begin_write(permit, &ds.id, mode, &caller.actor, Some("api")).await?;
    let problems = writer.write(&rows).await?;
    if !problems.is_empty() {
        let errors: Vec<ReportError> = problems
            .into_iter()
            .map(|p| ReportError {
                row: p.line,
                column: p.field,
                value: p.value,
                code: p.code.into(),
                message: p.message.vi,
                message_en: p.message.en,
            })
            .collect();
        let code = if errors.iter().all(|e| e.code == "key_exists") { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
        let mut e = rejected(ImportReport { rows_read: rows.len() as u64, total_errors: errors.len() as u64, errors });
        e.status = code;
        return Err(e);
    }
    let summary = writer.commit().await?;
    let detail = json!({ "mode": mode.code(), "inserted": summary.inserted, "updated": summary.updated, "seq": [summary.first_seq, summary.last_seq] });
    record_write(app, caller, "write", Some(ds), ds.id.clone(), detail).await?;
    serde_json::to_value(summary).map_err(|e| ApiError::internal(&e))
}

/// `PATCH …/records/{key}`: changes some fields of one record.
async fn patch_one(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, key)): ApiPath<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let ds = find(&app, &id).await?;
    let permit = write_permit(&app, &caller, &ds).await?;
    let schema = app.store.schema_of(&ds)?;
    let canonical = schema.key_from_url(&key).map_err(|e| ApiError::bad_request(e.message.vi, e.message.en))?;
    let current = app.store.current_row(&permit, &ds, &canonical).await?.ok_or_else(|| not_found_record(&key))?;
    let rows = parse_records(&schema, &body, Some(&current.values))?;
    let [row] = rows.as_slice() else {
        return Err(ApiError::bad_request("PATCH nhận một đối tượng JSON", "PATCH takes one JSON object"));
    };
    if schema.key_of(&row.values).is_some_and(|k| k != canonical) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "key_change",
            "không thể đổi khóa chính của bản ghi",
            "the primary key of a record cannot change",
        ));
    }
    if schema.key.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_primary_key",
            "tập dữ liệu không có khóa chính: hãy sửa bằng cách nhập lại (upsert cần khóa)",
            "the dataset has no primary key: records can only be replaced by an import",
        ));
    }
    write_rows(&app, &permit, &ds, ImportMode::Upsert, &caller, rows).await.map(Json)
}

/// `DELETE …/records/{key}`.
async fn delete_one(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, key)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let ds = find(&app, &id).await?;
    let permit = write_permit(&app, &caller, &ds).await?;
    let schema = app.store.schema_of(&ds)?;
    let canonical = schema.key_from_url(&key).map_err(|e| ApiError::bad_request(e.message.vi, e.message.en))?;
    let mut writer = app.store.begin_write(&permit, &ds.id, ImportMode::Append, &caller.actor, Some("api")).await?;
    let n = writer.delete(&[canonical]).await?;
    if n == 0 {
        return Err(not_found_record(&key));
    }
    let summary = writer.commit().await?;
    record_write(&app, &caller, "delete", Some(&ds), format!("{}/{key}", ds.id), json!({ "seq": summary.last_seq })).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/changes?since=SEQ&limit=N`: the resumable change feed.
async fn changes(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["since", "limit", "lang"])?;
    let since = p.int("since", 0, 0, i64::MAX)?;
    let limit = p.int("limit", 1000, 1, 10_000)?;
    let ds = find(&app, &id).await?;
    let permit = read_permit(&app, &caller, &ds).await?;
    let page = app.store.changes(&permit, &ds, since, limit).await?;
    record_read(&app, &caller, &ds, &permit, "changes", uri.query(), Some(page.changes.len() as i64)).await?;
    Ok(Json(serde_json::to_value(page).map_err(|e| ApiError::internal(&e))?))
}
