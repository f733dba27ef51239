//! `GET /login/oidc` and `GET /login/oidc/callback`: sign-in through the
//! province's central sign-on (`crate::oidc`). The callback opens the same
//! session as a password sign-in; whatever goes wrong is shown on the
//! sign-in page, in the sign-in's language, never as a bare error.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::Tr;
use super::session::{ClientAddr, login_page};
use crate::auth::{cookie, session_cookie};
use crate::error::ApiError;
use crate::state::AppState;

/// The cookie that binds a sign-in under way to the browser that started it.
const STATE_COOKIE: &str = "chiase_oidc_state";

fn state_cookie(app: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.config.secure_cookies { "; Secure" } else { "" };
    // Lax: the provider's redirect back is a top-level GET from its site.
    HeaderValue::from_str(&format!("{STATE_COOKIE}={value}; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
        .unwrap_or(HeaderValue::from_static(""))
}

fn failure(app: &AppState, tr: Tr, e: ApiError) -> Response {
    let msg = if tr.is_en() { e.msg.en } else { e.msg.vi };
    let mut resp = login_page(app, tr, Some(msg), e.status);
    resp.headers_mut().append(header::SET_COOKIE, state_cookie(app, "", 0));
    resp
}

fn not_configured(app: &AppState, tr: Tr) -> Response {
    failure(
        app,
        tr,
        ApiError::not_found(
            "Cổng dữ liệu chưa được cấu hình đăng nhập một cửa; hãy đăng nhập bằng mật khẩu.",
            "The central sign-on is not configured here; sign in with a password.",
        ),
    )
}

/// `GET /login/oidc`: off to the provider.
pub async fn start(State(app): State<AppState>, tr: Tr) -> Response {
    if !app.config.oidc_enabled() {
        return not_configured(&app, tr);
    }
    match crate::oidc::begin(&app, tr.lang).await {
        Ok((url, state)) => {
            let mut resp = Redirect::to(&url).into_response();
            resp.headers_mut().append(header::SET_COOKIE, state_cookie(&app, &state, chiase_store::oidc::PENDING_MINUTES * 60));
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => failure(&app, tr, e),
    }
}

#[derive(serde::Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /login/oidc/callback`: back from the provider.
pub async fn callback(
    State(app): State<AppState>,
    ClientAddr(source): ClientAddr,
    tr: Tr,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    if !app.config.oidc_enabled() {
        return not_configured(&app, tr);
    }
    let state = q.state.unwrap_or_default();
    // Taken whatever follows: a state is used once.
    let pending = if state.is_empty() || state.len() > 256 {
        None
    } else {
        match app.store.take_oidc_login(&state).await {
            Ok(p) => p,
            Err(e) => return failure(&app, tr, e.into()),
        }
    };
    // The browser that comes back must be the one that left (compared as
    // digests: no timing to learn from).
    let bound = cookie(&headers, STATE_COOKIE).is_some_and(|c| chiase_store::users::digest(&c) == chiase_store::users::digest(&state));
    let Some(pending) = pending.filter(|_| bound) else {
        return failure(&app, tr, crate::oidc::bad_state());
    };
    let tr = Tr { lang: if pending.lang == "en" { "en" } else { "vi" }, site: tr.site };
    if let Some(err) = q.error {
        let err: String = err.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        let e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "oidc_error",
            format!("Hệ thống đăng nhập một cửa không cho đăng nhập ({err}). Chưa đăng nhập."),
            format!("The central sign-on did not sign you in ({err}). Not signed in."),
        );
        return failure(&app, tr, e);
    }
    let Some(code) = q.code.filter(|c| !c.is_empty() && c.len() <= 2048) else {
        return failure(&app, tr, crate::oidc::bad_state());
    };
    let verified = match crate::oidc::finish(&app, &code, &pending).await {
        Ok(v) => v,
        Err(e) => return failure(&app, tr, e),
    };
    let user = match crate::oidc::sign_in(&app, source, &verified.identity).await {
        Ok(u) => u,
        Err(e) => return failure(&app, tr, e),
    };
    let sid = match app.store.create_session(&user).await {
        Ok((sid, _csrf)) => sid,
        Err(e) => return failure(&app, tr, e.into()),
    };
    if let Err(e) = app.store.set_session_id_token(&sid, &verified.id_token).await {
        return failure(&app, tr, e.into());
    }
    let mut resp = Redirect::to(if tr.is_en() { "/?lang=en" } else { "/" }).into_response();
    resp.headers_mut().append(header::SET_COOKIE, session_cookie(&app, &sid, chiase_store::users::SESSION_HOURS * 3600));
    resp.headers_mut().append(header::SET_COOKIE, state_cookie(&app, "", 0));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
