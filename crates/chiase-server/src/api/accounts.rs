//! Accounts: `/api/v1/setup` (the first administrator, with the one-time
//! setup token), `/api/v1/me` and its API tokens, `/api/v1/users` (admins),
//! and `/api/v1/session` (sign-in for browsers: an HttpOnly cookie and a CSRF
//! token to send back as `X-CSRF-Token`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chiase_core::policy::Role;
use chiase_store::users::{NewUser, SignIn};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::{Caller, SESSION_COOKIE, cookie};
use crate::error::ApiError;
use crate::gate::{event, record_write};
use crate::params::ApiPath;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/setup", post(setup))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/tokens", get(my_tokens).post(create_token))
        .route("/api/v1/me/tokens/{id}", delete(revoke_token))
        .route("/api/v1/users", get(users).post(create_user))
        .route("/api/v1/session", post(sign_in).delete(sign_out))
}

pub fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("nội dung JSON không hợp lệ: {e}"), format!("invalid JSON body: {e}")))
}

fn forbidden(vi: &str, en: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", vi, en)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    token: String,
    username: String,
    display_name: Option<String>,
    password: String,
}

async fn setup(State(app): State<AppState>, caller: Caller, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let b: SetupBody = json_body(&body)?;
    let new = NewUser { username: b.username, display_name: b.display_name, agency: None, role: Role::Admin, password: Some(b.password) };
    let user = app.store.setup_admin(&b.token, &new).await?;
    record_write(&app, &caller, "admin_created", None, user.username.clone(), json!({ "by": "setup token" })).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(user).map_err(|e| ApiError::internal(&e))?)))
}

async fn me(caller: Caller) -> Result<Json<Value>, ApiError> {
    let user = caller.require_user()?;
    Ok(Json(serde_json::to_value(user).map_err(|e| ApiError::internal(&e))?))
}

async fn my_tokens(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let user = caller.require_user()?;
    let tokens = app.store.tokens(&user.username).await?;
    Ok(Json(json!({ "count": tokens.len(), "results": tokens })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    name: Option<String>,
    expires_days: Option<i64>,
}

async fn create_token(State(app): State<AppState>, caller: Caller, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = caller.require_user()?;
    let b: TokenBody = if body.is_empty() { TokenBody { name: None, expires_days: None } } else { json_body(&body)? };
    let (info, token) = app.store.create_token(&user.username, b.name.as_deref().unwrap_or("api"), b.expires_days.or(Some(365))).await?;
    record_write(&app, &caller, "token_created", None, user.username.clone(), json!({ "token": info.id, "prefix": info.prefix })).await?;
    // The token is shown once; only its hash is kept.
    Ok((StatusCode::CREATED, Json(json!({ "token": token, "info": info }))))
}

async fn revoke_token(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<i64>) -> Result<StatusCode, ApiError> {
    let user = caller.require_user()?;
    let owner = if caller.is_admin() { None } else { Some(user.username.as_str()) };
    app.store.revoke_token(id, owner).await?;
    record_write(&app, &caller, "token_revoked", None, format!("token:{id}"), json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn users(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_user()?;
    if !caller.is_admin() {
        return Err(forbidden("chỉ quản trị viên xem được danh sách tài khoản", "only administrators list accounts"));
    }
    let users = app.store.users().await?;
    Ok(Json(json!({ "count": users.len(), "results": users })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    username: String,
    display_name: Option<String>,
    agency: Option<String>,
    role: Role,
    password: Option<String>,
}

async fn create_user(State(app): State<AppState>, caller: Caller, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_user()?;
    if !caller.is_admin() {
        return Err(forbidden("chỉ quản trị viên tạo được tài khoản", "only administrators create accounts"));
    }
    let b: UserBody = json_body(&body)?;
    let user = app
        .store
        .create_user(&NewUser { username: b.username, display_name: b.display_name, agency: b.agency, role: b.role, password: b.password })
        .await?;
    record_write(&app, &caller, "user_created", None, user.username.clone(), json!({ "role": user.role, "agency": user.agency })).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(user).map_err(|e| ApiError::internal(&e))?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    pub username: String,
    pub password: String,
}

/// The cookie that carries a session.
pub fn session_cookie(app: &AppState, sid: &str, max_age: i64) -> HeaderValue {
    let secure = if app.config.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
        .unwrap_or(HeaderValue::from_static(""))
}

/// Checks a password and records the attempt in the audit log.
pub async fn check_sign_in(app: &AppState, caller: &Caller, username: &str, password: &str) -> Result<chiase_store::users::User, ApiError> {
    let source = caller.source.clone().unwrap_or_default();
    match app.store.sign_in(username, password, &source).await? {
        SignIn::Ok(user) => {
            let mut e = event(caller, "sign_in", user.username.clone(), json!({}));
            e.actor = format!("user:{}", user.username);
            e.user_id = Some(user.pk);
            e.agency_id = user.agency_pk;
            app.audit.record(e).await.map_err(|e| ApiError::internal(&e))?;
            Ok(user)
        }
        SignIn::Refused => {
            app.audit.record(event(caller, "sign_in_failed", username.to_string(), json!({}))).await.map_err(|e| ApiError::internal(&e))?;
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "sign_in_failed", "sai tên đăng nhập hoặc mật khẩu", "wrong username or password"))
        }
        SignIn::Throttled => {
            app.audit
                .record(event(caller, "sign_in_throttled", username.to_string(), json!({})))
                .await
                .map_err(|e| ApiError::internal(&e))?;
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                format!("đăng nhập sai quá nhiều lần; hãy thử lại sau {} phút", chiase_store::users::THROTTLE_WINDOW_MINUTES),
                format!("too many failed sign-ins; try again in {} minutes", chiase_store::users::THROTTLE_WINDOW_MINUTES),
            ))
        }
    }
}

async fn sign_in(State(app): State<AppState>, caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    let b: SignInBody = json_body(&body)?;
    let user = check_sign_in(&app, &caller, &b.username, &b.password).await?;
    let (sid, csrf) = app.store.create_session(&user).await?;
    let mut resp = Json(json!({ "user": user, "csrf_token": csrf })).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &sid, chiase_store::users::SESSION_HOURS * 3600));
    Ok(resp)
}

async fn sign_out(State(app): State<AppState>, caller: Caller, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(sid) = cookie(&headers, SESSION_COOKIE) {
        app.store.end_session(&sid).await?;
    }
    if let Some(u) = &caller.user {
        record_write(&app, &caller, "sign_out", None, u.username.clone(), json!({})).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    Ok(resp)
}
