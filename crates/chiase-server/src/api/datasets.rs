//! `/api/v1/datasets`: hosted datasets — their description and Table
//! Schema (public, like the catalog; row counts only for those who may read
//! the rows), creation and schema changes (stewards of the owner agency),
//! and `/api/v1/schema/infer`, which proposes a schema from a sample file.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chiase_core::catalog::Cadence;
use chiase_core::schema::SchemaSpec;
use chiase_core::sharing::SharingMode;
use chiase_store::databases::DatabaseKey;
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::render::dataset_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::params::{Params, read_options};
use crate::state::AppState;
use crate::usecase::datasets::{self, CreateDataset};

/// The most of a body schema inference reads. The sampler stops by itself
/// after [`chiase_io::infer::MAX_SAMPLE_BYTES`] and says so in its
/// warnings; past that bound it finishes at most the record it is in
/// (records are bounded by the reader) plus the reader's read-ahead. This
/// bound only stops a reader that would take more. Cutting the body at the
/// sample bound itself hid the cut from the sampler, which then sampled the
/// cut last line as a row (a date cut to `2024-01-` made a date column text).
const INFER_MAX_BYTES: u64 = chiase_io::infer::MAX_SAMPLE_BYTES + chiase_io::limits::MAX_RECORD_BYTES as u64 + 4 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/datasets", get(list).post(create))
        .route("/api/v1/datasets/{id}", get(show))
        .route("/api/v1/datasets/{id}/schema", patch(change_schema))
        .route("/api/v1/schema/infer", post(infer))
}

async fn list(State(app): State<AppState>, caller: Caller, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["database", "lang"])?;
    let db = p.one("database")?.map(DatabaseKey::parse);
    let list = datasets::list(&app, &caller, db.as_ref()).await?;
    Ok(Json(json!({ "count": list.len(), "results": list.iter().map(dataset_json).collect::<Vec<_>>() })))
}

async fn show(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse(uri.query(), &["lang"])?;
    Ok(Json(dataset_json(&datasets::show(&app, &caller, &id).await?)))
}

/// The body of `POST /api/v1/datasets`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    pub id: String,
    /// The catalog entry: its number in the current decision, or its id.
    pub database: Value,
    pub title: String,
    pub title_en: Option<String>,
    #[serde(default)]
    pub description: String,
    pub licence: Option<String>,
    pub sharing_mode: SharingMode,
    pub cadence: Option<Cadence>,
    pub schema: SchemaSpec,
}

async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let database = match &b.database {
        Value::Number(n) => DatabaseKey::No(n.as_i64().unwrap_or(0)),
        Value::String(s) => DatabaseKey::parse(s),
        _ => return Err(ApiError::bad_request("«database» là số hoặc mã CSDL", "«database» is a number or a database id")),
    };
    let ds = datasets::create(
        &app,
        &caller,
        CreateDataset {
            id: b.id,
            database,
            title: b.title,
            title_en: b.title_en,
            description: b.description,
            licence: b.licence,
            sharing_mode: b.sharing_mode,
            cadence: b.cadence,
            schema: b.schema,
            template: None,
            synthetic: false,
        },
    )
    .await?;
    let listed = datasets::show(&app, &caller, &ds.id).await?;
    Ok((StatusCode::CREATED, Json(dataset_json(&listed))))
}

async fn change_schema(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(spec): JsonBody<SchemaSpec>,
) -> Result<Json<Value>, ApiError> {
    let ds = datasets::change_schema(&app, &caller, &id, spec).await?;
    Ok(Json(dataset_json(&datasets::show(&app, &caller, &ds.id).await?)))
}

async fn infer(uri: Uri, headers: HeaderMap, body: Body) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["sample", "encoding", "delimiter", "format", "name"])?;
    let sample = p.int("sample", 5000, 1, 100_000)? as usize;
    let options = read_options(&p)?;
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let name = p.one("name")?.map(str::to_string);
    // Only the sample is read: the body is cut at the limit, not buffered whole.
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let bounded = std::io::Read::take(reader, INFER_MAX_BYTES);
    let proposal = datasets::infer(Box::new(bounded), name, content_type, options, sample).await?;
    Ok(Json(serde_json::to_value(proposal).map_err(|e| ApiError::internal(&e))?))
}
