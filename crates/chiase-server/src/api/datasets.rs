//! `/api/v1/datasets`: hosted datasets — their description and Table
//! Schema (public, like the catalog), creation and schema changes (stewards
//! of the owner agency), and `/api/v1/schema/infer`, which proposes a schema
//! from a sample file.

use std::io::Cursor;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chiase_core::catalog::Cadence;
use chiase_core::policy::{Action, DatasetFacts, decide};
use chiase_core::schema::SchemaSpec;
use chiase_core::sharing::SharingMode;
use chiase_io::tabular::{ReadOptions, RecordReader};
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::{Dataset, NewDataset};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::gate::write_permit;
use crate::params::{ApiPath, Params};

/// Largest sample accepted for schema inference.
const INFER_MAX_BYTES: usize = 20 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/datasets", get(list).post(create))
        .route("/api/v1/datasets/{id}", get(show))
        .route("/api/v1/datasets/{id}/schema", patch(change_schema))
        .route("/api/v1/schema/infer", post(infer).layer(DefaultBodyLimit::max(INFER_MAX_BYTES)))
}

/// A dataset as the API shows it.
pub fn dataset_json(ds: &Dataset) -> Value {
    let mut v = serde_json::to_value(ds).unwrap_or(Value::Null);
    v["links"] = json!({
        "records": format!("/api/v1/datasets/{}/records", ds.id),
        "changes": format!("/api/v1/datasets/{}/changes", ds.id),
        "export_csv": format!("/api/v1/datasets/{}/export.csv", ds.id),
    });
    v
}

/// Finds a dataset or answers 404.
pub async fn find(app: &AppState, id: &str) -> Result<Dataset, ApiError> {
    app.store.dataset(id).await?.ok_or_else(|| ApiError::not_found(format!("không có tập dữ liệu «{id}»"), format!("no dataset «{id}»")))
}

async fn list(State(app): State<AppState>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["database", "lang"])?;
    let db = p.one("database")?.map(DatabaseKey::parse);
    let list = app.store.datasets(db.as_ref()).await?;
    Ok(Json(json!({ "count": list.len(), "results": list.iter().map(dataset_json).collect::<Vec<_>>() })))
}

async fn show(State(app): State<AppState>, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse(uri.query(), &["lang"])?;
    Ok(Json(dataset_json(&find(&app, &id).await?)))
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

fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("nội dung JSON không hợp lệ: {e}"), format!("invalid JSON body: {e}")))
}

async fn create(State(app): State<AppState>, caller: Caller, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let b: CreateBody = json_body(&body)?;
    let key = match &b.database {
        Value::Number(n) => DatabaseKey::No(n.as_i64().unwrap_or(0)),
        Value::String(s) => DatabaseKey::parse(s),
        _ => return Err(ApiError::bad_request("«database» là số hoặc mã CSDL", "«database» is a number or a database id")),
    };
    let db = app
        .store
        .database(&key)
        .await?
        .ok_or_else(|| ApiError::not_found("không có CSDL này trong danh mục", "no such database in the catalog"))?;
    // Creating a dataset is writing to the database's data: stewards of the owner.
    let owner_pk = app.store.agency_pk(&db.owner.id).await?.unwrap_or(-1);
    let facts = DatasetFacts { dataset_id: 0, owner_agency_id: owner_pk, mode: b.sharing_mode, fields: vec![] };
    decide(&caller.subject, Action::Write, &facts, chrono::Utc::now(), &[]).write().map_err(|r| {
        let m = r.msg();
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("không được phép: {}", m.vi), format!("not allowed: {}", m.en))
    })?;
    let new = NewDataset {
        slug: b.id,
        database: key,
        title: b.title,
        title_en: b.title_en,
        description: b.description,
        licence: b.licence,
        sharing_mode: b.sharing_mode,
        cadence: b.cadence.unwrap_or(db.cadence),
        schema: b.schema,
        template: None,
        synthetic: false,
    };
    let ds = app.store.create_dataset(&new, &caller.actor).await?;
    crate::gate::record_write(
        &app,
        &caller,
        "dataset_created",
        Some(&ds),
        ds.id.clone(),
        json!({ "sharing_mode": ds.sharing_mode, "fields": ds.schema.fields.len() }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(dataset_json(&ds))))
}

async fn change_schema(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let spec: SchemaSpec = json_body(&body)?;
    let ds = find(&app, &id).await?;
    let permit = write_permit(&app, &caller, &ds).await?;
    let ds = app.store.change_schema(&permit, &id, spec, &caller.actor).await?;
    crate::gate::record_write(&app, &caller, "schema_changed", Some(&ds), ds.id.clone(), json!({ "schema_version": ds.schema_version }))
        .await?;
    Ok(Json(dataset_json(&ds)))
}

async fn infer(uri: Uri, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["sample", "encoding", "delimiter", "format", "name"])?;
    let sample = p.int("sample", 5000, 1, 100_000)? as usize;
    let options = read_options(&p)?;
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let name = p.one("name")?.map(str::to_string);
    let reader =
        RecordReader::open(Box::new(Cursor::new(body.to_vec())), name.as_deref(), content_type.as_deref(), &options).map_err(file_error)?;
    let proposal = chiase_io::infer::infer(reader, sample).map_err(file_error)?;
    Ok(Json(serde_json::to_value(proposal).map_err(|e| ApiError::internal(&e))?))
}

/// A file that cannot be read: 422 with the line.
pub fn file_error(e: chiase_io::tabular::ReadError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unreadable_file",
        format!("dòng {}: {}", e.line, e.msg.vi),
        format!("line {}: {}", e.line, e.msg.en),
    )
}

/// `encoding`, `delimiter` and `format` parameters of imports and inference.
pub fn read_options(p: &Params) -> Result<ReadOptions, ApiError> {
    let encoding = match p.one("encoding")? {
        None => None,
        Some(label) => Some(chiase_io::encoding::by_label(label).ok_or_else(|| {
            ApiError::bad_request(format!("bảng mã «{label}» không được hỗ trợ"), format!("unsupported encoding «{label}»"))
        })?),
    };
    let delimiter = match p.one("delimiter")? {
        None => None,
        Some("tab") | Some("\t") => Some(b'\t'),
        Some(d) if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
        Some(d) => return Err(ApiError::bad_request(format!("dấu phân cách «{d}» không hợp lệ"), format!("invalid delimiter «{d}»"))),
    };
    let format = match p.one("format")? {
        None => None,
        Some("csv") => Some(chiase_io::tabular::Format::Csv),
        Some("tsv") => Some(chiase_io::tabular::Format::Tsv),
        Some("xlsx") => Some(chiase_io::tabular::Format::Xlsx),
        Some("json") => Some(chiase_io::tabular::Format::Json),
        Some("ndjson") => Some(chiase_io::tabular::Format::Ndjson),
        Some(f) => return Err(ApiError::bad_request(format!("định dạng «{f}» không được hỗ trợ"), format!("unsupported format «{f}»"))),
    };
    Ok(ReadOptions { format, encoding, delimiter })
}
