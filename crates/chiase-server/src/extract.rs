//! Extractors shared by every handler: JSON bodies (only as
//! `application/json`, so that a cross-site HTML form cannot post to a JSON
//! endpoint; an oversized body is a JSON 413 like every other error) and
//! path parameters whose failures are JSON errors.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Whether a request says its body is JSON (`application/json`, or a
/// `+json` type).
fn is_json(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|t| t == "application/json" || (t.starts_with("application/") && t.ends_with("+json")))
}

fn unsupported() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "nội dung phải là JSON (Content-Type: application/json)",
        "the body must be JSON (Content-Type: application/json)",
    )
}

/// The body as bytes, within the route's limit (`DefaultBodyLimit`).
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "too_large",
                "nội dung gửi lên vượt giới hạn của điểm cuối này",
                "the request body exceeds this endpoint's limit",
            )
        } else {
            ApiError::bad_request(
                format!("không đọc được nội dung: {}", rejection.body_text()),
                format!("cannot read the body: {}", rejection.body_text()),
            )
        }
    })
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let shown: String = e.to_string().chars().take(300).collect();
        ApiError::bad_request(format!("nội dung JSON không hợp lệ: {shown}"), format!("invalid JSON body: {shown}"))
    })
}

/// A JSON body, required.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(unsupported());
        }
        let bytes = body_bytes(req, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// A JSON body that may be left out (an empty body is `None`); when given,
/// it must be `application/json`.
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(&req);
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        if !json {
            return Err(unsupported());
        }
        parse(&bytes).map(|v| OptionalJson(Some(v)))
    }
}

/// A path extractor whose failures are JSON API errors.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(ApiError::bad_request(format!("đường dẫn không hợp lệ: {e}"), format!("invalid path: {e}"))),
        }
    }
}
