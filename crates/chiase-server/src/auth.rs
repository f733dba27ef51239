//! Who is calling: an extractor that turns a request into a policy
//! `Subject`. API tokens come as `Authorization: Bearer TOKEN`, as a raw
//! `Authorization: TOKEN` (what CKAN clients send) or as `X-CKAN-API-Key`;
//! web sessions as an HttpOnly, SameSite cookie, with a CSRF token required
//! on every state-changing request. No credentials: the public. Credentials
//! that do not check out: an error, never silently anonymous.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use chiase_core::ids::AgencyId;
use chiase_core::policy::Subject;
use chiase_store::recorder::Actor;
use chiase_store::users::User;

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "chiase_session";

/// The caller of a request (or the operator at the command line).
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: Subject,
    /// How the caller is named in change batches and the audit log, with
    /// the source address (the peer, or the first X-Forwarded-For hop when
    /// the operator says a proxy sets it).
    pub actor: Actor,
    pub user: Option<User>,
    /// The CSRF token of the caller's web session, if signed in by cookie.
    pub csrf: Option<String>,
}

impl Caller {
    pub fn anonymous(source: Option<String>) -> Caller {
        Caller {
            subject: Subject::Anonymous,
            actor: Actor { name: "anonymous".into(), source, ..Default::default() },
            user: None,
            csrf: None,
        }
    }

    /// The operator at the server's command line (the OS account is kept
    /// as the source of every event).
    pub fn operator() -> Caller {
        let os_user = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "unknown".into());
        Caller {
            subject: Subject::Operator,
            actor: Actor { name: "operator".into(), source: Some(format!("cli:{os_user}")), ..Default::default() },
            user: None,
            csrf: None,
        }
    }

    pub fn of_user(user: User, source: Option<String>) -> Caller {
        Caller {
            subject: user.subject(),
            actor: Actor { name: format!("user:{}", user.username), user_id: Some(user.pk), agency_id: user.agency_pk, source },
            user: Some(user),
            csrf: None,
        }
    }

    /// The caller's agency (internal key), if any.
    pub fn agency(&self) -> Option<AgencyId> {
        self.user.as_ref().and_then(|u| u.agency_pk)
    }

    /// The source address, as recorded.
    pub fn source(&self) -> Option<&str> {
        self.actor.source.as_deref()
    }

    /// The signed-in user, or a 401.
    pub fn require_user(&self) -> Result<&User, ApiError> {
        self.user.as_ref().ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "sign_in_required", "cần đăng nhập", "sign in first"))
    }
}

/// The cookie that carries a session.
pub fn session_cookie(app: &AppState, sid: &str, max_age: i64) -> HeaderValue {
    let secure = if app.config.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
        .unwrap_or(HeaderValue::from_static(""))
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

/// The client's address: the peer, or the first X-Forwarded-For hop when
/// the operator says a proxy sets it.
pub fn source_of(parts: &Parts, trust_proxy: bool) -> Option<String> {
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
        let caller = identify(parts, app).await?;
        if let Some(slot) = parts.extensions.get::<crate::metrics::AccessUser>() {
            slot.set(&caller.actor.name);
        }
        Ok(caller)
    }
}

/// Who the request comes from: a token, a session cookie, or nobody.
async fn identify(parts: &mut Parts, app: &AppState) -> Result<Caller, ApiError> {
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
    Ok(Caller::anonymous(source))
}
