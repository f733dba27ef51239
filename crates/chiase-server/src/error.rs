//! The error of a use case: a status, a stable code and a message in
//! Vietnamese and English. The API renders it as
//! `{"error": {"code", "message", "message_en", "fields"}}`, the pages as an
//! error page, the command line as text. A 500 shows only a request id; its
//! cause is logged once, here. Every mapping from a domain, store or policy
//! failure to a status is in this file.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chiase_core::policy::Reason;
use chiase_core::{DomainError, Msg};
use chiase_store::StoreError;
use serde_json::json;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub msg: Msg,
    /// Per-field messages, for validation errors.
    pub fields: Option<serde_json::Value>,
    /// Seconds to wait before trying again (503, 429).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, vi: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError { status, code, msg: Msg::new(vi, en), fields: None, retry_after: None }
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

    /// A busy server: 503 with `Retry-After`.
    pub fn unavailable(msg: Msg, retry_after: u32) -> ApiError {
        ApiError { status: StatusCode::SERVICE_UNAVAILABLE, code: "busy", msg, fields: None, retry_after: Some(retry_after) }
    }

    /// An internal failure: logged with its cause, answered without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        let id = format!("{:016x}", rand::random::<u64>());
        tracing::error!(error_id = %id, "internal error: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("lỗi hệ thống (mã {id}); hãy báo cho quản trị viên"),
            format!("internal error (id {id}); please tell the administrator"),
        )
    }

    /// The policy said no: 401 when signing in could change that, 409 for
    /// an agency asking for its own data, 403 otherwise, with the reason in
    /// both languages.
    pub fn denied(reason: Reason) -> ApiError {
        let msg = reason.msg();
        let (status, code) = match reason {
            r if r.is_sign_in() => (StatusCode::UNAUTHORIZED, "sign_in_required"),
            // Asking for one's own data is no refusal: there is nothing to ask.
            Reason::OwnData => (StatusCode::CONFLICT, "own_data"),
            _ => (StatusCode::FORBIDDEN, "forbidden"),
        };
        ApiError::new(status, code, format!("không được phép: {}", msg.vi), format!("not allowed: {}", msg.en))
    }

    /// A body over its limit: 413, in the JSON shape of every error.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("nội dung gửi lên vượt giới hạn {} byte", limit),
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    }
}

impl From<Reason> for ApiError {
    fn from(r: Reason) -> ApiError {
        ApiError::denied(r)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "message": self.msg.vi, "message_en": self.msg.en });
        if let Some(f) = self.fields {
            body["fields"] = f;
        }
        let mut resp = (self.status, Json(json!({ "error": body }))).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        let plain = |status, code, msg| ApiError { status, code, msg, fields: None, retry_after: None };
        match e {
            DomainError::Invalid { field, msg } => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid",
                fields: Some(json!({ field: [msg.en.clone()] })),
                msg,
                retry_after: None,
            },
            DomainError::NotFound(msg) => plain(StatusCode::NOT_FOUND, "not_found", msg),
            DomainError::Conflict(msg) => plain(StatusCode::CONFLICT, "conflict", msg),
            DomainError::Forbidden(msg) => plain(StatusCode::FORBIDDEN, "forbidden", msg),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Domain(d) => d.into(),
            StoreError::Busy { msg, retry_after_secs } => ApiError::unavailable(msg, retry_after_secs),
            e if e.is_pool_exhausted() => ApiError::unavailable(
                Msg::new("máy chủ đang bận; hãy thử lại sau giây lát", "the server is busy; try again in a moment"),
                2,
            ),
            // A race that a specific check did not name: still a conflict.
            e if e.is_unique_violation() => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "đã có một mục như vậy (vi phạm ràng buộc duy nhất)",
                "such an item exists already (a uniqueness constraint refused it)",
            ),
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

/// A file that cannot be read: 422 with the line.
pub fn file_error(e: chiase_io::tabular::ReadError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unreadable_file",
        format!("dòng {}: {}", e.line, e.msg.vi),
        format!("line {}: {}", e.line, e.msg.en),
    )
}
