//! Sign-in and sign-out pages: a password form protected against
//! cross-site forgery (a token in an HttpOnly cookie and the form must
//! match), a session cookie that is HttpOnly and SameSite, and sign-out by a
//! form that carries the session's own CSRF token.

use std::collections::HashMap;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::Tr;
use crate::api::accounts::{check_sign_in, session_cookie};
use crate::app::AppState;
use crate::auth::{Caller, SESSION_COOKIE, cookie};

const LOGIN_CSRF: &str = "chiase_login_csrf";

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    tr: Tr,
    csrf: String,
    error: Option<String>,
    who: Option<String>,
    session_csrf: String,
}

fn login_page(tr: Tr, error: Option<String>, status: StatusCode) -> Response {
    let csrf = chiase_store::users::new_secret("");
    let mut resp = (status, LoginPage { tr, csrf: csrf.clone(), error, who: None, session_csrf: String::new() }).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{LOGIN_CSRF}={csrf}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=1800")) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub async fn show(uri: Uri) -> Response {
    login_page(Tr::from_query(uri.query()), None, StatusCode::OK)
}

pub async fn submit(State(app): State<AppState>, uri: Uri, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let tr = Tr::from_query(uri.query());
    let expected = cookie(&headers, LOGIN_CSRF);
    if expected.is_none() || form.get("csrf") != expected.as_ref() {
        return login_page(
            tr,
            Some(tr.t("Phiên biểu mẫu đã hết hạn; hãy thử lại.", "The form expired; please try again.").into()),
            StatusCode::FORBIDDEN,
        );
    }
    let (user, pass) = (form.get("username").map(String::as_str).unwrap_or(""), form.get("password").map(String::as_str).unwrap_or(""));
    let caller = Caller { source: None, ..Caller::anonymous() };
    match check_sign_in(&app, &caller, user.trim(), pass).await {
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
            login_page(tr, Some(msg), e.status)
        }
    }
}

pub async fn logout(State(app): State<AppState>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    if let Some(sid) = cookie(&headers, SESSION_COOKIE)
        && let Ok(Some((user, csrf))) = app.store.session(&sid).await
    {
        if form.get("csrf") != Some(&csrf) {
            return (StatusCode::FORBIDDEN, "CSRF").into_response();
        }
        let _ = app.store.end_session(&sid).await;
        let caller = Caller::of_user(user, None);
        let _ = crate::gate::record_write(&app, &caller, "sign_out", None, caller.actor.clone(), serde_json::json!({})).await;
    }
    let mut resp = Redirect::to("/").into_response();
    resp.headers_mut().append(header::SET_COOKIE, session_cookie(&app, "", 0));
    resp
}
