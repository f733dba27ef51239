//! `/api/v1/datasets/{id}/records`, `/import` and `/changes`: the rows of a
//! dataset, through the use cases in `usecase::records` and
//! `usecase::imports`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use chiase_store::datasets::import::ImportMode;
use futures_util::TryStreamExt;
use serde_json::Value;

use super::render::{page_json, row_json};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::params::{Params, pairs, read_options};
use crate::state::AppState;
use crate::usecase::imports::{self, ImportOutcome, ImportRequest, Progress, rejected};
use crate::usecase::records::{self, Address};

/// Largest import body (the import itself streams to a spool; this only
/// bounds abuse).
pub const MAX_IMPORT_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// Largest body of a record batch.
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// The short routes (under the global timeout).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/datasets/{id}/records", get(list).post(insert).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)))
        .route("/api/v1/datasets/{id}/records/{key}", get(show).patch(patch_one).delete(delete_one))
        .route("/api/v1/datasets/{id}/records/_id/{n}", get(show_by_id))
        .route("/api/v1/datasets/{id}/changes", get(changes))
}

/// The long routes: an import runs as long as its upload (no global timeout).
pub fn long_router() -> Router<AppState> {
    Router::new().route("/api/v1/datasets/{id}/import", post(import).layer(DefaultBodyLimit::disable()))
}

async fn list(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = records::read_page(&app, &caller, &id, &pairs(&uri), uri.query()).await?;
    Ok(Json(page_json(&p.schema, &p.page)))
}

async fn show(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, key)): ApiPath<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["as_of", "lang"])?;
    let r = records::read_one(&app, &caller, &id, Address::Key(&key), p.one("as_of")?, uri.query()).await?;
    Ok(Json(row_json(&r.permit.visible().iter().map(|i| &r.schema.fields[*i]).collect::<Vec<_>>(), &r.row)))
}

async fn show_by_id(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, n)): ApiPath<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["as_of", "lang"])?;
    let r = records::read_one(&app, &caller, &id, Address::Id(&n), p.one("as_of")?, uri.query()).await?;
    Ok(Json(row_json(&r.permit.visible().iter().map(|i| &r.schema.fields[*i]).collect::<Vec<_>>(), &r.row)))
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
    let p = Params::parse(uri.query(), &["mode", "encoding", "delimiter", "format", "name", "allow_empty", "lang"])?;
    let mode = match p.one("mode")? {
        None => ImportMode::Append,
        Some(m) => m.parse::<ImportMode>().map_err(|m| {
            ApiError::bad_request(
                format!("chế độ «{m}» không hợp lệ (append, upsert, replace)"),
                format!("invalid mode «{m}» (append, upsert, replace)"),
            )
        })?,
    };
    let req = ImportRequest {
        mode,
        source_name: p.one("name")?.map(str::to_string),
        content_type: headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string),
        options: read_options(&p)?,
        allow_empty: p.bool("allow_empty")?.unwrap_or(false),
    };
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    match imports::import(&app, &caller, &id, req, Box::new(reader), MAX_IMPORT_BYTES, Arc::new(Progress::default())).await? {
        ImportOutcome::Done(summary) => Ok(Json(serde_json::to_value(summary).map_err(|e| ApiError::internal(&e))?)),
        ImportOutcome::Rejected(report) => Err(rejected(report)),
    }
}

/// `POST …/records?mode=insert|upsert` with a JSON array of records.
async fn insert(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    uri: Uri,
    JsonBody(body): JsonBody<Value>,
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
    let summary = records::write_records(&app, &caller, &id, mode, body).await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

/// `PATCH …/records/{key}`: changes some fields of one record.
async fn patch_one(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, key)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    records::patch_record(&app, &caller, &id, &key, body).await.map(Json)
}

/// `DELETE …/records/{key}`.
async fn delete_one(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, key)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    records::delete_record(&app, &caller, &id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/changes?since=SEQ&limit=N`: the resumable change feed.
async fn changes(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["since", "limit", "lang"])?;
    let since = p.int("since", 0, 0, i64::MAX)?;
    let limit = p.int("limit", 1000, 1, 10_000)?;
    let page = records::changes(&app, &caller, &id, since, limit, uri.query()).await?;
    Ok(Json(serde_json::to_value(page).map_err(|e| ApiError::internal(&e))?))
}
