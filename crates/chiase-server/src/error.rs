//! The HTTP edge's error: a status, a stable code and a message in
//! Vietnamese and English, rendered as
//! `{"error": {"code", "message", "message_en", "fields"}}`.
//! A 500 shows only a request id; its cause is logged once, here.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chiase_core::{DomainError, Msg};
use chiase_store::StoreError;
use serde_json::json;

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub msg: Msg,
    /// Per-field messages, for validation errors.
    pub fields: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, vi: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError { status, code, msg: Msg::new(vi, en), fields: None }
    }

    pub fn bad_request(vi: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", vi, en)
    }

    pub fn not_found(vi: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", vi, en)
    }

    pub fn with_fields(mut self, fields: serde_json::Value) -> ApiError {
        self.fields = Some(fields);
        self
    }

    /// An internal failure: logged with its cause, answered without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        let id = format!("{:016x}", rand_id());
        tracing::error!(error_id = %id, "internal error: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("lỗi hệ thống (mã {id}); hãy báo cho quản trị viên"),
            format!("internal error (id {id}); please tell the administrator"),
        )
    }
}

/// A weak random id for correlating a 500 with its log line.
fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "message": self.msg.vi, "message_en": self.msg.en });
        if let Some(f) = self.fields {
            body["fields"] = f;
        }
        (self.status, Json(json!({ "error": body }))).into_response()
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        match e {
            DomainError::Invalid { field, msg } => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid",
                fields: Some(json!({ field: [msg.en.clone()] })),
                msg,
            },
            DomainError::NotFound(msg) => ApiError { status: StatusCode::NOT_FOUND, code: "not_found", msg, fields: None },
            DomainError::Conflict(msg) => ApiError { status: StatusCode::CONFLICT, code: "conflict", msg, fields: None },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Domain(d) => d.into(),
            other => ApiError::internal(&other),
        }
    }
}

/// The JSON 404 for any path under `/api` that names no resource.
pub async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_endpoint",
        format!("không có điểm cuối API {}", uri.path()),
        format!("no API endpoint at {}", uri.path()),
    )
}
