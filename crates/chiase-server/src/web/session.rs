//! Sign-in, sign-out and first-time setup pages: password forms protected
//! against cross-site forgery (a token in an HttpOnly cookie and the form
//! must match), a session cookie that is HttpOnly and SameSite, sign-out by
//! a form that carries the session's own CSRF token. The work is in
//! `usecase::accounts`, the same as the JSON API's.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::Tr;
use crate::auth::{Caller, SESSION_COOKIE, cookie, session_cookie, source_of};
use crate::state::AppState;
use crate::usecase::accounts;

const FORM_CSRF: &str = "chiase_form_csrf";

/// The client's address, for the audit log of a form posted without a
/// session.
pub struct ClientAddr(pub Option<String>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(source_of(parts, app.config.trust_proxy)))
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    tr: Tr,
    csrf: String,
    error: Option<String>,
    /// The central sign-on's button (`oidc_label`), when it is configured.
    oidc_label: Option<String>,
    who: Option<super::Who>,
    session_csrf: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "setup.html")]
struct SetupPage {
    tr: Tr,
    csrf: String,
    error: Option<String>,
    open: bool,
    username: String,
    who: Option<super::Who>,
    session_csrf: String,
}

/// A page with a form: a fresh anti-forgery token in a cookie scoped to
/// `path` and in the form.
fn with_form_cookie(mut resp: Response, csrf: &str, path: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("{FORM_CSRF}={csrf}; Path={path}; HttpOnly; SameSite=Strict; Max-Age=1800")) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn form_ok(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let expected = cookie(headers, FORM_CSRF);
    expected.is_some() && form.get("csrf") == expected.as_ref()
}

pub(super) fn login_page(app: &AppState, tr: Tr, error: Option<String>, status: StatusCode) -> Response {
    let csrf = chiase_store::users::new_secret("");
    let oidc_label = app.config.oidc_enabled().then(|| app.config.oidc_label.clone());
    let resp = (status, LoginPage { tr, csrf: csrf.clone(), error, oidc_label, who: None, session_csrf: String::new() }).into_response();
    with_form_cookie(resp, &csrf, "/login")
}

pub async fn show(State(app): State<AppState>, tr: Tr) -> Response {
    login_page(&app, tr, None, StatusCode::OK)
}

pub async fn submit(
    State(app): State<AppState>,
    ClientAddr(source): ClientAddr,
    tr: Tr,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !form_ok(&headers, &form) {
        return login_page(
            &app,
            tr,
            Some(tr.t("Phiên biểu mẫu đã hết hạn; hãy thử lại.", "The form expired; please try again.").into()),
            StatusCode::FORBIDDEN,
        );
    }
    let (user, pass) = (form.get("username").map(String::as_str).unwrap_or(""), form.get("password").map(String::as_str).unwrap_or(""));
    let caller = Caller::anonymous(source);
    match accounts::sign_in(&app, &caller, user, pass).await {
        Ok(u) => match app.store.create_session(&u).await {
            Ok((sid, _csrf)) => {
                let mut resp = Redirect::to(if tr.is_en() { "/?lang=en" } else { "/" }).into_response();
                resp.headers_mut().append(header::SET_COOKIE, session_cookie(&app, &sid, chiase_store::users::SESSION_HOURS * 3600));
                resp
            }
            Err(e) => crate::error::ApiError::from(e).into_response(),
        },
        Err(e) => {
            let msg = if tr.is_en() { e.msg.en } else { e.msg.vi };
            login_page(&app, tr, Some(msg), e.status)
        }
    }
}

pub async fn logout(
    State(app): State<AppState>,
    ClientAddr(source): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // A session opened through the central sign-on ends there too.
    let mut at_provider = None;
    if let Some(sid) = cookie(&headers, SESSION_COOKIE)
        && let Ok(Some((user, csrf))) = app.store.session(&sid).await
    {
        if form.get("csrf") != Some(&csrf) {
            return (StatusCode::FORBIDDEN, "CSRF").into_response();
        }
        let id_token = app.store.session_id_token(&sid).await.ok().flatten();
        let caller = Caller::of_user(user, source);
        if let Err(e) = accounts::sign_out(&app, &caller, Some(&sid)).await {
            return e.into_response();
        }
        if let Some(t) = id_token {
            at_provider = crate::oidc::logout_url(&app, &t).await;
        }
    }
    let mut resp = Redirect::to(at_provider.as_deref().unwrap_or("/")).into_response();
    resp.headers_mut().append(header::SET_COOKIE, session_cookie(&app, "", 0));
    resp
}

fn setup_page(tr: Tr, open: bool, error: Option<String>, username: String, status: StatusCode) -> Response {
    let csrf = chiase_store::users::new_secret("");
    let page = SetupPage { tr, csrf: csrf.clone(), error, open, username, who: None, session_csrf: String::new() };
    with_form_cookie((status, page).into_response(), &csrf, "/setup")
}

/// `GET /setup`: the form to create the first administrator with the
/// one-time token the server printed, while no administrator exists.
pub async fn setup_show(State(app): State<AppState>, tr: Tr) -> Response {
    match accounts::setup_open(&app).await {
        Ok(open) => setup_page(tr, open, None, String::new(), StatusCode::OK),
        Err(e) => e.into_response(),
    }
}

/// `POST /setup`.
pub async fn setup_submit(
    State(app): State<AppState>,
    ClientAddr(source): ClientAddr,
    tr: Tr,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let username = get("username").trim().to_string();
    if !form_ok(&headers, &form) {
        let msg = tr.t("Phiên biểu mẫu đã hết hạn; hãy thử lại.", "The form expired; please try again.").to_string();
        return setup_page(tr, true, Some(msg), username, StatusCode::FORBIDDEN);
    }
    if get("password") != get("password2") {
        let msg = tr.t("Hai lần nhập mật khẩu không khớp.", "The two passwords differ.").to_string();
        return setup_page(tr, true, Some(msg), username, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let display = Some(get("display_name").trim().to_string()).filter(|s| !s.is_empty());
    let caller = Caller::anonymous(source);
    match accounts::setup(&app, &caller, get("token").trim(), &username, display, get("password")).await {
        Ok(_) => {
            let mut resp = Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => {
            let open = e.status != StatusCode::CONFLICT;
            let msg = if tr.is_en() { e.msg.en } else { e.msg.vi };
            setup_page(tr, open, Some(msg), username, e.status)
        }
    }
}
