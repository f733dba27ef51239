//! `/api/v1/datasets/{id}/records`, `/import` and `/changes`: the rows of a
//! dataset, through the use cases in `usecase::records` and
//! `usecase::imports`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chiase_store::datasets::import::ImportMode;
use futures_util::TryStreamExt;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::openapi::{Binary, ChangeErrors, ImportErrors, ReadErrors};
use super::schemas;

use super::render::{JsonBytes, page_body, row_json};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::params::{Lang, Params, pairs, read_options};
use crate::state::AppState;
use crate::usecase::imports::{self, ErrorHandling, ImportOutcome, ImportRequest, Progress, rejected};
use crate::usecase::records::{self, Address};

/// Largest import body (the import itself streams to a spool; this only
/// bounds abuse).
pub const MAX_IMPORT_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// Largest body of a record batch.
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// The short routes (under the global timeout).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, insert).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)))
        .routes(routes!(show, patch_one, delete_one))
        .routes(routes!(show_by_id))
        .routes(routes!(changes))
}

/// The long routes: an import runs as long as its upload (no global timeout).
pub fn long_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import).layer(DefaultBodyLimit::disable()))
}

/// The parameters of a record query (`GET …/records` and the exports).
/// Filters are parameters named after the dataset's fields; see `filters`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RecordQuery {
    /// Full-text search over the searchable fields, with or without
    /// diacritics: every word must appear, whole; a word ending in `*`
    /// matches as a prefix (`q=tuyen qua*`).
    q: Option<String>,
    /// A bounding box `minLon,minLat,maxLon,maxLat` (WGS 84) over the
    /// dataset's geographic field.
    #[param(pattern = r"^\s*-?[0-9.]+\s*,\s*-?[0-9.]+\s*,\s*-?[0-9.]+\s*,\s*-?[0-9.]+\s*$")]
    bbox: Option<String>,
    /// Sort keys, comma-separated; `-` before a field sorts descending
    /// (`sort=-chieu_cao,ma_tram`).
    sort: Option<String>,
    /// The fields to return, comma-separated (default: every field the
    /// caller may see).
    fields: Option<String>,
    /// Facet counts for these fields (comma-separated or repeated).
    #[param(style = Form, explode)]
    facet: Option<Vec<String>>,
    /// The data as it was at this time (RFC 3339, or a date: its end).
    as_of: Option<String>,
    /// `exact` counts every match; `estimate` (the default) may estimate
    /// a large count.
    #[param(inline)]
    total: Option<TotalMode>,
    #[param(inline)]
    lang: Option<Lang>,
    /// Filters on the dataset's fields, each a parameter of its own:
    /// `field=value` (equals), or `field[op]=value` with `op` one of `eq`,
    /// `ne`, `lt`, `lte`, `gt`, `gte`, `in` (comma-separated values),
    /// `contains`, `prefix`, `null` (`true` or `false`). Only fields the
    /// caller may see; an unknown field or operator is a 400 naming it.
    #[param(style = Form, explode)]
    filters: Option<std::collections::HashMap<String, String>>,
}

/// Paging: `limit` and the keyset cursor `after`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageQuery {
    /// Records per page.
    #[param(minimum = 1, maximum = 10000, default = 100)]
    limit: Option<i64>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

/// How a page's `total` is counted.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum TotalMode {
    Exact,
    Estimate,
}

/// The rows of a dataset the caller may read, with only the fields they
/// may see: filters, full-text search, bounding box, sort, keyset paging,
/// facets, and as-of reads. Restricted data needs an account (and a grant
/// for specific or legal data); each such read is in the audit log.
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{id}/records",
    tag = "records",
    operation_id = "records_list",
    params(("id" = String, Path, description = "The dataset's id."), RecordQuery, PageQuery),
    security((), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of records.", body = schemas::RecordPage),
        ReadErrors,
    ),
)]
async fn list(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<JsonBytes, ApiError> {
    let p = records::read_page(&app, &caller, &id, &pairs(&uri), uri.query()).await?;
    Ok(page_body(&p.schema, &p.page))
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct OneQuery {
    /// The record as it was at this time (RFC 3339, or a date: its end).
    as_of: Option<String>,
    #[param(inline)]
    lang: Option<Lang>,
}

/// One record by its primary key (several key fields: their values
/// comma-separated). A caller who may not see every key field gets a 403
/// pointing to `records/_id/{n}`.
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{id}/records/{key}",
    tag = "records",
    operation_id = "records_show",
    params(
        ("id" = String, Path, description = "The dataset's id."),
        ("key" = String, Path, description = "The record's primary key."),
        OneQuery,
    ),
    security((), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The record.", body = schemas::Record),
        ReadErrors,
    ),
)]
async fn show(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, key)): ApiPath<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse_as::<OneQuery>(uri.query())?;
    let r = records::read_one(&app, &caller, &id, Address::Key(&key), p.one("as_of")?, uri.query()).await?;
    Ok(Json(row_json(&r.permit.visible().iter().map(|i| &r.schema.fields[*i]).collect::<Vec<_>>(), &r.row)))
}

/// One record by its number (`_id`): for a dataset without a primary key,
/// or a caller who may not see it.
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{id}/records/_id/{n}",
    tag = "records",
    operation_id = "records_show_by_id",
    params(
        ("id" = String, Path, description = "The dataset's id."),
        ("n" = i64, Path, description = "The record's `_id`."),
        OneQuery,
    ),
    security((), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The record.", body = schemas::Record),
        ReadErrors,
    ),
)]
async fn show_by_id(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, n)): ApiPath<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse_as::<OneQuery>(uri.query())?;
    let r = records::read_one(&app, &caller, &id, Address::Id(&n), p.one("as_of")?, uri.query()).await?;
    Ok(Json(row_json(&r.permit.visible().iter().map(|i| &r.schema.fields[*i]).collect::<Vec<_>>(), &r.row)))
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ImportQuery {
    /// `append` adds rows, `upsert` adds or replaces by primary key,
    /// `replace` makes the file the whole dataset. Default: `append`.
    #[param(inline)]
    mode: Option<ImportModeDoc>,
    /// With `mode=replace`, an empty file empties the dataset only with
    /// `allow_empty=true`.
    allow_empty: Option<bool>,
    /// `true`: read and check the whole file and answer with the same
    /// report an import would give, writing nothing (keys already stored
    /// are not compared).
    dry_run: Option<bool>,
    /// `xlsx`: when the file has bad cells, answer the 422 with the
    /// uploaded rows as a workbook, each bad cell highlighted with a note
    /// saying what is wrong, and a sheet listing every problem (CSV and
    /// sheets); `json` (the default): the report as JSON.
    #[param(inline)]
    report: Option<ReportFormat>,
    /// `refuse` (the default): a file with a bad row imports nothing.
    /// `hold`: the good rows are imported and the bad ones held back,
    /// listed in `held` (with `report=xlsx`, the answer is the held rows as
    /// a workbook, each bad cell noted, and the counts in `X-Chiase-*`
    /// headers); recorded in the history and the audit. Not with
    /// `mode=replace`. A key clash still refuses the whole file.
    #[param(inline)]
    on_error: Option<OnErrorDoc>,
    #[param(inline)]
    lang: Option<Lang>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(as = OnError, rename_all = "lowercase")]
enum OnErrorDoc {
    Refuse,
    Hold,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
enum ReportFormat {
    Json,
    Xlsx,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(as = ImportMode, rename_all = "lowercase")]
enum ImportModeDoc {
    Append,
    Upsert,
    Replace,
}

/// Text parts of a multipart upload are options; longer ones are refused.
const MAX_FORM_FIELD_BYTES: usize = 1024;

/// The file of an upload and the options sent with it.
pub(crate) struct Upload {
    /// Query parameters, then the form's text parts (sent before the file).
    pub pairs: Vec<(String, String)>,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub body: Box<dyn std::io::Read + Send>,
}

fn bad_form(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("biểu mẫu tải lên không hợp lệ: {e}"), format!("malformed multipart upload: {e}"))
}

/// The body as sent: raw (the file itself), or `multipart/form-data`
/// (what `curl -F file=@x.xlsx` and every HTML form send) with a part
/// carrying a file name (or named `file`) and, before it, text parts
/// carrying options (`mode`, `sheet`, `dry_run`…).
pub(crate) async fn upload(uri: &Uri, headers: &HeaderMap, body: Body) -> Result<Upload, ApiError> {
    read_upload(uri, headers, body, true).await
}

/// A multipart form whose file part may be absent (a page that offers a
/// file or another choice): then the body reads as empty and `file_name`
/// is `None`.
pub(crate) async fn form_with_optional_file(uri: &Uri, headers: &HeaderMap, body: Body) -> Result<Upload, ApiError> {
    read_upload(uri, headers, body, false).await
}

async fn read_upload(uri: &Uri, headers: &HeaderMap, body: Body, file_required: bool) -> Result<Upload, ApiError> {
    let mut pairs = pairs(uri);
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let boundary = content_type
        .as_deref()
        .filter(|ct| ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
        .map(|ct| multer::parse_boundary(ct).map_err(|e| bad_form(&e)))
        .transpose()?;
    let Some(boundary) = boundary else {
        let stream = body.into_data_stream().map_err(std::io::Error::other);
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
        return Ok(Upload { pairs, file_name: None, content_type, body: Box::new(reader) });
    };
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    loop {
        let Some(mut field) = form.next_field().await.map_err(|e| bad_form(&e))? else {
            if !file_required {
                return Ok(Upload { pairs, file_name: None, content_type: None, body: Box::new(std::io::empty()) });
            }
            return Err(ApiError::bad_request(
                "biểu mẫu không có tệp: gửi tệp trong phần «file» (curl -F file=@tep.xlsx)",
                "the form has no file: send it in a part named «file» (curl -F file=@file.xlsx)",
            ));
        };
        if field.file_name().is_some() || field.name() == Some("file") {
            let file_name = field.file_name().map(str::to_string);
            // A generic type says nothing; the file's name or content will.
            let content_type =
                field.content_type().map(|m| m.essence_str().to_string()).filter(|m| m != "application/octet-stream" && m != "text/plain");
            let stream = field.map_err(std::io::Error::other);
            let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
            return Ok(Upload { pairs, file_name, content_type, body: Box::new(reader) });
        }
        let name = field.name().unwrap_or_default().to_string();
        let mut text = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| bad_form(&e))? {
            text.extend_from_slice(&chunk);
            if text.len() > MAX_FORM_FIELD_BYTES {
                return Err(ApiError::bad_request(
                    format!("phần «{name}» của biểu mẫu dài quá {MAX_FORM_FIELD_BYTES} byte"),
                    format!("form part «{name}» is longer than {MAX_FORM_FIELD_BYTES} bytes"),
                ));
            }
        }
        let text = String::from_utf8(text).map_err(|e| bad_form(&e))?;
        pairs.push((name, text));
    }
}

/// `POST …/import?mode=append|upsert|replace` with the file as the body or
/// as the `file` part of a multipart form (CSV, TSV, XLSX, XLS, ODS, JSON
/// or NDJSON; stewards of the owner). All rows or none: a file with a bad
/// row changes nothing, and the 422 lists the problems by row and column
/// as the file shows them (`dòng 9, cột H «Giá trị»`). Options may come as
/// query parameters or as text parts before the file.
#[utoipa::path(
    post,
    path = "/api/v1/datasets/{id}/import",
    tag = "records",
    operation_id = "records_import",
    params(("id" = String, Path, description = "The dataset's id."), ImportQuery, super::datasets::ReadQuery),
    request_body(content = Binary, description = "The file, or a multipart/form-data body with the file in a part named `file`.", content_type = "application/octet-stream"),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Imported (or, with `dry_run=true`, checked: nothing written); with `on_error=hold&report=xlsx` and rows held back, those rows as a workbook.",
            content((schemas::ImportResult = "application/json"), (Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        ImportErrors,
    ),
)]
async fn import(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The query alone is checked first, so that a mistake is refused before the upload is read.
    Params::parse_as2::<ImportQuery, super::datasets::ReadQuery>(uri.query())?;
    let upload = upload(&uri, &headers, body).await?;
    let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(upload.pairs.iter()).finish();
    let p = Params::parse_as2::<ImportQuery, super::datasets::ReadQuery>(Some(&query))?;
    let mode = match p.one("mode")? {
        None => ImportMode::Append,
        Some(m) => m.parse::<ImportMode>().map_err(|m| {
            ApiError::bad_request(
                format!("chế độ «{m}» không hợp lệ (append, upsert, replace)"),
                format!("invalid mode «{m}» (append, upsert, replace)"),
            )
        })?,
    };
    let mark = match p.one("report")? {
        None | Some("json") => false,
        Some("xlsx") => true,
        Some(f) => {
            return Err(ApiError::bad_request(
                format!("report «{f}» không hợp lệ (json, xlsx)"),
                format!("invalid report «{f}» (json, xlsx)"),
            ));
        }
    };
    let hold = match p.one("on_error")? {
        None | Some("refuse") => false,
        Some("hold") => true,
        Some(o) => {
            return Err(ApiError::bad_request(
                format!("on_error «{o}» không hợp lệ (refuse, hold)"),
                format!("invalid on_error «{o}» (refuse, hold)"),
            ));
        }
    };
    let req = ImportRequest {
        mode,
        source_name: p.one("name")?.map(str::to_string).or(upload.file_name),
        content_type: upload.content_type,
        options: read_options(&p)?,
        allow_empty: p.bool("allow_empty")?.unwrap_or(false),
        handling: ErrorHandling { mark, hold },
    };
    let progress = Arc::new(Progress::default());
    let to_json = |v: Result<Value, serde_json::Error>| v.map(|v| Json(v).into_response()).map_err(|e| ApiError::internal(&e));
    if p.bool("dry_run")?.unwrap_or(false) {
        let report = imports::check(&app, &caller, &id, req, upload.body, MAX_IMPORT_BYTES, progress).await?;
        if report.total_errors > 0 {
            return refused(report).await;
        }
        let mut v = serde_json::to_value(report).map_err(|e| ApiError::internal(&e))?;
        v["dry_run"] = Value::Bool(true);
        return to_json(Ok(v));
    }
    match imports::import(&app, &caller, &id, req, upload.body, MAX_IMPORT_BYTES, progress).await? {
        ImportOutcome::Done(mut imported) => match imported.held.as_mut().and_then(|h| h.marked.take()) {
            Some(marked) => {
                let counts = [
                    ("x-chiase-inserted", imported.inserted),
                    ("x-chiase-updated", imported.updated),
                    ("x-chiase-unchanged", imported.unchanged),
                    ("x-chiase-held-rows", imported.held.as_ref().map_or(0, |h| h.bad_rows as i64)),
                ];
                let mut response = marked_workbook(StatusCode::OK, marked, "dong-bi-giu-lai.xlsx").await?;
                for (name, n) in counts {
                    response.headers_mut().insert(HeaderName::from_static(name), n.into());
                }
                Ok(response)
            }
            None => to_json(serde_json::to_value(imported)),
        },
        ImportOutcome::Rejected(report) => refused(report).await,
    }
}

/// A refused import: the marked workbook when one was made, else the 422
/// with the report as JSON.
async fn refused(report: imports::ImportReport) -> Result<Response, ApiError> {
    let Some(marked) = report.marked.clone() else { return Err(rejected(report)) };
    let mut response = marked_workbook(StatusCode::UNPROCESSABLE_ENTITY, marked, "bao-cao-loi.xlsx").await?;
    response.headers_mut().insert(HeaderName::from_static("x-chiase-errors"), report.total_errors.into());
    Ok(response)
}

/// A marked workbook as the answer, streamed from its temporary file.
pub(crate) async fn marked_workbook(status: StatusCode, marked: Arc<tempfile::TempPath>, file_name: &str) -> Result<Response, ApiError> {
    let file = tokio::fs::File::open(&**marked).await.map_err(|e| ApiError::internal(&e))?;
    // The temporary file lives until the body has been sent.
    let stream = tokio_util::io::ReaderStream::new(file).map_ok(move |chunk| {
        let _keep = &marked;
        chunk
    });
    let headers = [
        (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
    ];
    Ok((status, headers, Body::from_stream(stream)).into_response())
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct WriteQuery {
    /// `insert` (the default) refuses a key that exists; `upsert` replaces it.
    #[param(inline)]
    mode: Option<WriteMode>,
    #[param(inline)]
    lang: Option<Lang>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
enum WriteMode {
    Insert,
    Upsert,
}

/// `POST …/records?mode=insert|upsert` with a JSON array of records
/// (stewards of the owner): all or none.
#[utoipa::path(
    post,
    path = "/api/v1/datasets/{id}/records",
    tag = "records",
    operation_id = "records_insert",
    params(("id" = String, Path, description = "The dataset's id."), WriteQuery),
    request_body(content = Vec<Object>, description = "Records: objects of field values (one object is taken as a list of one)."),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Written.", body = schemas::WriteSummary),
        ChangeErrors,
    ),
)]
async fn insert(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    uri: Uri,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p = Params::parse_as::<WriteQuery>(uri.query())?;
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

/// `PATCH …/records/{key}`: changes some fields of one record (stewards
/// of the owner).
#[utoipa::path(
    patch,
    path = "/api/v1/datasets/{id}/records/{key}",
    tag = "records",
    operation_id = "records_patch",
    params(
        ("id" = String, Path, description = "The dataset's id."),
        ("key" = String, Path, description = "The record's primary key."),
    ),
    request_body(content = Object, description = "The fields to change and their new values."),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The record after the change.", body = schemas::Record),
        ChangeErrors,
    ),
)]
async fn patch_one(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, key)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    records::patch_record(&app, &caller, &id, &key, body).await.map(Json)
}

/// `DELETE …/records/{key}` (stewards of the owner).
#[utoipa::path(
    delete,
    path = "/api/v1/datasets/{id}/records/{key}",
    tag = "records",
    operation_id = "records_delete",
    params(
        ("id" = String, Path, description = "The dataset's id."),
        ("key" = String, Path, description = "The record's primary key."),
    ),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Deleted."),
        ReadErrors,
    ),
)]
async fn delete_one(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, key)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    records::delete_record(&app, &caller, &id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ChangesQuery {
    /// Changes after this change number (`next_since` of the last page).
    #[param(minimum = 0, default = 0)]
    since: Option<i64>,
    #[param(minimum = 1, maximum = 10000, default = 1000)]
    limit: Option<i64>,
    #[param(inline)]
    lang: Option<Lang>,
}

/// `GET …/changes?since=SEQ&limit=N`: the resumable change feed, with the
/// fields the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{id}/changes",
    tag = "records",
    operation_id = "records_changes",
    params(("id" = String, Path, description = "The dataset's id."), ChangesQuery),
    security((), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Changes, oldest first.", body = schemas::ChangePage),
        ReadErrors,
    ),
)]
async fn changes(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse_as::<ChangesQuery>(uri.query())?;
    let since = p.int("since", 0, 0, i64::MAX)?;
    let limit = p.int("limit", 1000, 1, 10_000)?;
    let page = records::changes(&app, &caller, &id, since, limit, uri.query()).await?;
    Ok(Json(serde_json::to_value(page).map_err(|e| ApiError::internal(&e))?))
}
