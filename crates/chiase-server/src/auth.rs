//! Who is calling: an extractor that turns a request into a policy
//! `Subject`. API tokens come as `Authorization: Bearer TOKEN`, as a raw
//! `Authorization: TOKEN` (what CKAN clients send) or as `X-CKAN-API-Key`;
//! web sessions as an HttpOnly, SameSite cookie, with a CSRF token required
//! on every state-changing request. No credentials: the public. Credentials
//! that do not check out: an error, never silently anonymous.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use chiase_core::policy::Subject;
use chiase_store::users::User;

use crate::app::AppState;
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "chiase_session";

/// The caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: Subject,
    /// How the caller is named in change batches and the audit log.
    pub actor: String,
    pub user: Option<User>,
    /// The source address (the peer, or the first X-Forwarded-For hop when
    /// the operator says a proxy sets it).
    pub source: Option<String>,
    /// The CSRF token of the caller's web session, if signed in by cookie.
    pub csrf: Option<String>,
}

impl Caller {
    pub fn anonymous() -> Caller {
        Caller { subject: Subject::Anonymous, actor: "anonymous".into(), user: None, source: None, csrf: None }
    }

    pub fn operator() -> Caller {
        Caller { subject: Subject::Operator, actor: "operator".into(), user: None, source: Some("cli".into()), csrf: None }
    }

    pub fn of_user(user: User, source: Option<String>) -> Caller {
        Caller {
            subject: Subject::User { user_id: user.pk, agency_id: user.agency_pk, role: user.role },
            actor: format!("user:{}", user.username),
            user: Some(user),
            source,
            csrf: None,
        }
    }

    /// The caller's agency (internal key), if any.
    pub fn agency(&self) -> Option<i64> {
        self.user.as_ref().and_then(|u| u.agency_pk)
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.subject, Subject::User { role: chiase_core::policy::Role::Admin, .. } | Subject::Operator)
    }

    /// The signed-in user, or a 401.
    pub fn require_user(&self) -> Result<&User, ApiError> {
        self.user.as_ref().ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "sign_in_required", "cần đăng nhập", "sign in first"))
    }
}

/// The value of one cookie.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-ckan-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    let v = headers.get("authorization")?.to_str().ok()?.trim();
    Some(match v.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") => rest.trim().to_string(),
        _ => v.to_string(),
    })
}

fn source_of(parts: &Parts, trust_proxy: bool) -> Option<String> {
    if trust_proxy && let Some(first) = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next())
    {
        return Some(first.trim().to_string());
    }
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

fn invalid() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "thông tin xác thực không hợp lệ hoặc đã hết hạn",
        "invalid or expired credentials",
    )
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Caller, ApiError> {
        let source = source_of(parts, app.config.trust_proxy);
        if let Some(token) = token_of(&parts.headers) {
            if token.is_empty() {
                return Err(invalid());
            }
            let user = app.store.user_by_token(&token).await?.ok_or_else(invalid)?;
            return Ok(Caller::of_user(user, source));
        }
        if let Some(sid) = cookie(&parts.headers, SESSION_COOKIE) {
            let (user, csrf) = app.store.session(&sid).await?.ok_or_else(invalid)?;
            let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            let sent = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
            if unsafe_method && sent != Some(csrf.as_str()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "thiếu hoặc sai mã chống giả mạo (X-CSRF-Token)",
                    "missing or wrong anti-forgery token (X-CSRF-Token)",
                ));
            }
            let mut caller = Caller::of_user(user, source);
            caller.csrf = Some(csrf);
            return Ok(caller);
        }
        Ok(Caller { source, ..Caller::anonymous() })
    }
}
