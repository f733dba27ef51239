//! `/api/v1/datasets/{id}/files`: files attached to a dataset, through
//! `usecase::files`. `POST …/files?name=…&record=…` (the body is the
//! file), `GET …/files`, `GET …/files/{file}`. Uploads and downloads are
//! outside the global timeout.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::TryStreamExt;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::params::Params;
use crate::state::AppState;
use crate::usecase::files::{self, Upload};

/// Uploads and downloads last as long as the transfer (no global timeout).
pub fn long_router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/datasets/{id}/files", get(list).post(upload).layer(DefaultBodyLimit::disable()))
        .route("/api/v1/datasets/{id}/files/{file}", get(download))
}

async fn upload(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    let p = Params::parse(uri.query(), &["name", "record", "lang"])?;
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

async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let files = files::list(&app, &caller, &id).await?;
    Ok(axum::Json(json!({ "count": files.len(), "results": files })))
}

async fn download(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, file)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let (_, info, got) = files::download(&app, &caller, &id, &file).await?;
    let stream = got.into_stream().map_err(std::io::Error::other);
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&info.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", info.sha256)).unwrap_or(HeaderValue::from_static("\"\"")));
    let ascii: String =
        chiase_core::fold::fold(&info.name).chars().map(|c| if c.is_ascii_graphic() && c != '"' { c } else { '_' }).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
