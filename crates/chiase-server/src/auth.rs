//! Who is calling: an extractor that turns a request into a policy
//! `Subject`. A request without credentials is the public (anonymous); a
//! request with credentials that do not check out is an error, never
//! silently anonymous.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use chiase_core::policy::Subject;

use crate::app::AppState;
use crate::error::ApiError;

/// The caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: Subject,
    /// How the caller is named in change batches and logs.
    pub actor: String,
}

impl Caller {
    pub fn anonymous() -> Caller {
        Caller { subject: Subject::Anonymous, actor: "anonymous".into() }
    }

    pub fn operator() -> Caller {
        Caller { subject: Subject::Operator, actor: "operator".into() }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _app: &AppState) -> Result<Caller, ApiError> {
        if parts.headers.contains_key("authorization") || parts.headers.contains_key("x-ckan-api-key") {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "thông tin xác thực không hợp lệ",
                "invalid credentials",
            ));
        }
        Ok(Caller::anonymous())
    }
}
