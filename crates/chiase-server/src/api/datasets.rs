//! `/api/v1/datasets`: hosted datasets — their description and Table
//! Schema (public, like the catalog; row counts only for those who may read
//! the rows), creation, changes of its description and of its schema
//! (stewards of the owner agency),
//! and `/api/v1/schema/infer`, which proposes a schema from a sample file.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chiase_core::catalog::Cadence;
use chiase_core::schema::SchemaSpec;
use chiase_core::sharing::SharingMode;
use chiase_core::theme::Theme;
use chiase_store::databases::DatabaseKey;
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{BadRequest, Binary, ChangeErrors, PayloadTooLarge, ReadErrors, Unprocessable};
use super::schemas;

use super::render::dataset_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::params::{Lang, LangQuery, Params, read_options};
use crate::state::AppState;
use crate::usecase::datasets::{self, CreateDataset};
use chiase_store::datasets::DatasetChanges;

/// The most of a body schema inference reads. The sampler stops by itself
/// after [`chiase_io::infer::MAX_SAMPLE_BYTES`] and says so in its
/// warnings; past that bound it finishes at most the record it is in
/// (records are bounded by the reader) plus the reader's read-ahead. This
/// bound only stops a reader that would take more. Cutting the body at the
/// sample bound itself hid the cut from the sampler, which then sampled the
/// cut last line as a row (a date cut to `2024-01-` made a date column text).
const INFER_MAX_BYTES: u64 = chiase_io::infer::MAX_SAMPLE_BYTES + chiase_io::limits::MAX_RECORD_BYTES as u64 + 4 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(show, update)).routes(routes!(change_schema)).routes(routes!(infer))
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListQuery {
    /// Only the datasets of this database (its number or id).
    database: Option<String>,
    #[param(inline)]
    lang: Option<Lang>,
}

/// Hosted datasets with their Table Schema. Row counts only for those who
/// may read the rows.
#[utoipa::path(
    get,
    path = "/api/v1/datasets",
    tag = "datasets",
    operation_id = "datasets_list",
    params(ListQuery),
    security((), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The datasets.", body = schemas::DatasetList),
        ReadErrors,
    ),
)]
async fn list(State(app): State<AppState>, caller: Caller, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse_as::<ListQuery>(uri.query())?;
    let db = p.one("database")?.map(DatabaseKey::parse);
    let list = datasets::list(&app, &caller, db.as_ref()).await?;
    Ok(Json(json!({ "count": list.len(), "results": list.iter().map(dataset_json).collect::<Vec<_>>() })))
}

/// One dataset.
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{id}",
    tag = "datasets",
    operation_id = "datasets_show",
    params(("id" = String, Path, description = "The dataset's id."), LangQuery),
    security((), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The dataset.", body = schemas::Dataset),
        ReadErrors,
    ),
)]
async fn show(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse_as::<LangQuery>(uri.query())?;
    Ok(Json(dataset_json(&datasets::show(&app, &caller, &id).await?)))
}

/// The body of `POST /api/v1/datasets`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = NewDataset)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// The new dataset's id (lower-case letters, digits and `-`).
    pub id: String,
    /// The catalog entry: its number in the current decision, or its id.
    #[schema(schema_with = super::openapi::integer_or_string)]
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

/// Creates a dataset in a database of the catalog (stewards of its owner).
#[utoipa::path(
    post,
    path = "/api/v1/datasets",
    tag = "datasets",
    operation_id = "datasets_create",
    request_body = CreateBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Created.", body = schemas::Dataset),
        ChangeErrors,
    ),
)]
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

/// The body of `PATCH /api/v1/datasets/{id}`: the fields to change, each
/// left out to keep it.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = DatasetChanges)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// The title in Vietnamese: not empty, at most 300 characters.
    #[schema(min_length = 1, max_length = 300)]
    pub title: Option<String>,
    /// The title in English; `null` or `""` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, max_length = 300)]
    pub title_en: Option<Option<String>>,
    /// What the dataset holds, at most 5000 characters.
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Its licence: an identifier (`CC-BY-4.0`, `CC0-1.0`, `ODC-BY-1.0`) or
    /// a name, one line of at most 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub licence: Option<String>,
    pub cadence: Option<Cadence>,
    /// One of the modes the catalog gives the dataset's database.
    pub sharing_mode: Option<SharingMode>,
    /// Its theme among the national portal's groups (published as
    /// `dcat:theme`); `null` removes it, and the proposal from the owner
    /// agency (`theme_proposed`) stands in.
    #[serde(default, deserialize_with = "present_theme")]
    #[schema(value_type = Option<Theme>, nullable)]
    pub theme: Option<Option<Theme>>,
}

/// The fields [`UpdateBody`] takes.
const UPDATABLE: [&str; 7] = ["title", "title_en", "description", "licence", "cadence", "sharing_mode", "theme"];

/// A theme given, even as `null` (which then is `Some(None)`).
fn present_theme<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Theme>>, D::Error> {
    Option::<Theme>::deserialize(d).map(Some)
}

/// A field given, even as `null` (which then is `Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Changes what describes a dataset (stewards of its owner): titles,
/// description, licence, cadence, sharing mode, theme — the mode among those the
/// catalog gives its database. Fields left out stay; the schema changes
/// through `/api/v1/datasets/{id}/schema`.
#[utoipa::path(
    patch,
    path = "/api/v1/datasets/{id}",
    tag = "datasets",
    operation_id = "datasets_update",
    params(("id" = String, Path, description = "The dataset's id.")),
    request_body = UpdateBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The dataset as it is now.", body = schemas::Dataset),
        ChangeErrors,
    ),
)]
async fn update(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let Value::Object(fields) = &body else {
        return Err(ApiError::bad_request(
            "nội dung là một đối tượng JSON gồm các trường cần sửa",
            "the body is a JSON object of the fields to change",
        ));
    };
    // Named here rather than by serde, so that the message says what may be sent.
    if let Some(unknown) = fields.keys().find(|k| !UPDATABLE.contains(&k.as_str())) {
        let shown: String = unknown.chars().take(64).collect();
        let (vi_hint, en_hint) = if unknown == "schema" {
            (
                format!("; lược đồ sửa qua PATCH /api/v1/datasets/{id}/schema"),
                format!("; the schema changes through PATCH /api/v1/datasets/{id}/schema"),
            )
        } else {
            (String::new(), String::new())
        };
        return Err(ApiError::bad_request(
            format!("không sửa được trường «{shown}»; các trường sửa được: {}{vi_hint}", UPDATABLE.join(", ")),
            format!("unknown field «{shown}»; the fields that can change: {}{en_hint}", UPDATABLE.join(", ")),
        ));
    }
    let b: UpdateBody = serde_json::from_value(body).map_err(|e| {
        let shown: String = e.to_string().chars().take(300).collect();
        ApiError::bad_request(format!("nội dung JSON không hợp lệ: {shown}"), format!("invalid JSON body: {shown}"))
    })?;
    let changes = DatasetChanges {
        title: b.title,
        title_en: b.title_en,
        description: b.description,
        licence: b.licence,
        cadence: b.cadence,
        sharing_mode: b.sharing_mode,
        theme: b.theme,
    };
    let ds = datasets::update(&app, &caller, &id, changes).await?;
    Ok(Json(dataset_json(&datasets::show(&app, &caller, &ds.id).await?)))
}

/// Changes a dataset's schema (stewards of its owner): new fields, wider
/// types, titles, personal-data classes, indexes; a change that would lose
/// data is refused.
#[utoipa::path(
    patch,
    path = "/api/v1/datasets/{id}/schema",
    tag = "datasets",
    operation_id = "datasets_change_schema",
    params(("id" = String, Path, description = "The dataset's id.")),
    request_body = SchemaSpec,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The dataset with its new schema.", body = schemas::Dataset),
        ChangeErrors,
    ),
)]
async fn change_schema(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(spec): JsonBody<SchemaSpec>,
) -> Result<Json<Value>, ApiError> {
    let ds = datasets::change_schema(&app, &caller, &id, spec).await?;
    Ok(Json(dataset_json(&datasets::show(&app, &caller, &ds.id).await?)))
}

/// How a tabular file is read (imports and schema inference).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ReadQuery {
    /// The file's encoding when it does not say (`windows-1258`, `utf-16le`…);
    /// by default a BOM decides, else UTF-8.
    pub encoding: Option<String>,
    /// The CSV delimiter (one character, or `tab`); sniffed by default.
    pub delimiter: Option<String>,
    /// The file's format; by default from `name`, the Content-Type or the content.
    #[param(inline)]
    pub format: Option<FileFormat>,
    /// The file's name (its extension helps tell the format).
    pub name: Option<String>,
    /// The sheet of a workbook to read, by name or number from 1; by
    /// default the first sheet whose header row names the dataset's fields.
    pub sheet: Option<String>,
    /// How people wrote the numbers in this file: `vi` reads `1.234` as
    /// 1234 and `1,5` as 1.5, `en` the reverse; it also turns on reading
    /// dates as dd/mm/yyyy and Có/Không. By default the dataset's setting.
    #[param(inline)]
    pub locale: Option<LocaleDoc>,
}

/// How people write numbers: `vi` (1.234.567,89) or `en` (1,234,567.89).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum LocaleDoc {
    Vi,
    En,
}

/// A tabular file format.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Tsv,
    /// Any workbook: XLSX, XLS or ODS (told apart by their content).
    Xlsx,
    Xls,
    Ods,
    Json,
    Ndjson,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct InferQuery {
    /// How many rows to sample.
    #[param(minimum = 1, maximum = 100000, default = 5000)]
    sample: Option<i64>,
}

/// Proposes a Table Schema from a sample of a file (CSV, TSV, XLSX, JSON or
/// NDJSON as the body), to check and correct before creating a dataset.
#[utoipa::path(
    post,
    path = "/api/v1/schema/infer",
    tag = "datasets",
    operation_id = "schema_infer",
    params(InferQuery, ReadQuery),
    request_body(content = Binary, description = "The file.", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "The proposed schema, with notes per field.", body = schemas::SchemaProposal),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
    ),
)]
async fn infer(uri: Uri, headers: HeaderMap, body: Body) -> Result<Json<Value>, ApiError> {
    let p = Params::parse_as2::<InferQuery, ReadQuery>(uri.query())?;
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
