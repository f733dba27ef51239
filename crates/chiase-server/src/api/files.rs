//! `/api/v1/datasets/{id}/files`: files attached to a dataset, through
//! `usecase::files`. `POST …/files?name=…&record=…` (the body is the
//! file), `GET …/files`, `GET …/files/{file}`. Uploads and downloads are
//! outside the global timeout.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::openapi::{Binary, ReadErrors, UploadErrors};
use super::schemas;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::params::{Lang, Params};
use crate::state::AppState;
use crate::usecase::files::{self, Upload};

/// Uploads and downloads last as long as the transfer (no global timeout).
pub fn long_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, upload).layer(DefaultBodyLimit::disable())).routes(routes!(download))
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct UploadQuery {
    /// The file's name.
    name: String,
    /// The record it belongs to (its primary key), if any.
    record: Option<String>,
    #[param(inline)]
    lang: Option<Lang>,
}

/// Attaches a file to a dataset (stewards of the owner); the body is the
/// file, its Content-Type kept.
#[utoipa::path(
    post,
    path = "/api/v1/datasets/{id}/files",
    tag = "files",
    operation_id = "files_upload",
    params(("id" = String, Path, description = "The dataset's id."), UploadQuery),
    request_body(content = Binary, description = "The file.", content_type = "application/octet-stream"),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Stored.", body = schemas::FileInfo),
        UploadErrors,
    ),
)]
async fn upload(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    let p = Params::parse_as::<UploadQuery>(uri.query())?;
    let name = p
        .one("name")?
        .ok_or_else(|| ApiError::bad_request("cần tham số «name» (tên tệp)", "the «name» parameter (file name) is required"))?;
    let up = Upload {
        name: name.to_string(),
        record: p.one("record")?.map(str::to_string),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .chars()
            .take(200)
            .collect(),
    };
    let info = files::upload(&app, &caller, &id, up, body.into_data_stream()).await?;
    Ok((StatusCode::CREATED, axum::Json(json!(info))))
}

/// The files attached to a dataset (a reader who sees every field).
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{id}/files",
    tag = "files",
    operation_id = "files_list",
    params(("id" = String, Path, description = "The dataset's id.")),
    security((), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The files.", body = schemas::FileList),
        ReadErrors,
    ),
)]
async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let files = files::list(&app, &caller, &id).await?;
    Ok(axum::Json(json!({ "count": files.len(), "results": files })))
}

/// One attached file's content.
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{id}/files/{file}",
    tag = "files",
    operation_id = "files_download",
    params(("id" = String, Path, description = "The dataset's id."), ("file" = String, Path, description = "The file's id.")),
    security((), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The file, with the Content-Type it was uploaded with.", content_type = "application/octet-stream", body = Binary),
        ReadErrors,
    ),
)]
async fn download(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, file)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let (_, info, got) = files::download(&app, &caller, &id, &file).await?;
    // Fused, as every streamed body: polling past the end must not panic.
    let stream = futures_util::StreamExt::fuse(got.into_stream().map_err(std::io::Error::other));
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&info.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // An uploaded file is never a page of this site: no script, no styles,
    // no framing, even if a browser were to render it.
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; sandbox"));
    h.insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", info.sha256)).unwrap_or(HeaderValue::from_static("\"\"")));
    let ascii: String =
        chiase_core::fold::fold(&info.name).chars().map(|c| if c.is_ascii_graphic() && c != '"' { c } else { '_' }).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
