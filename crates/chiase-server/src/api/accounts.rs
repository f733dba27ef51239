//! Accounts: `/api/v1/setup` (the first administrator, with the one-time
//! setup token; 409 once any administrator exists), `/api/v1/me` and its
//! API tokens, `/api/v1/users` (administrators: create, list, disable,
//! enable, move between agencies), and `/api/v1/session` (sign-in for
//! browsers: an HttpOnly cookie and a CSRF token to send back as
//! `X-CSRF-Token`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chiase_core::ids::TokenId;
use chiase_core::policy::Role;
use chiase_store::users::NewUser;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Caller, SESSION_COOKIE, cookie, session_cookie};
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody, OptionalJson};
use crate::state::AppState;
use crate::usecase::accounts;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/setup", post(setup))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/tokens", get(my_tokens).post(create_token))
        .route("/api/v1/me/tokens/{id}", delete(revoke_token))
        .route("/api/v1/users", get(users).post(create_user))
        .route("/api/v1/users/{username}/disable", post(disable_user))
        .route("/api/v1/users/{username}/enable", post(enable_user))
        .route("/api/v1/users/{username}/move", post(move_user))
        .route("/api/v1/session", post(sign_in).delete(sign_out))
}

fn to_json(v: impl serde::Serialize) -> Result<Json<Value>, ApiError> {
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError::internal(&e))?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    token: String,
    username: String,
    display_name: Option<String>,
    password: String,
}

async fn setup(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<SetupBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = accounts::setup(&app, &caller, &b.token, &b.username, b.display_name, &b.password).await?;
    Ok((StatusCode::CREATED, to_json(user)?))
}

async fn me(caller: Caller) -> Result<Json<Value>, ApiError> {
    to_json(caller.require_user()?)
}

async fn my_tokens(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let user = caller.require_user()?;
    let tokens = accounts::tokens(&app, &caller, &user.username).await?;
    Ok(Json(json!({ "count": tokens.len(), "results": tokens })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    name: Option<String>,
    expires_days: Option<i64>,
}

async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    OptionalJson(b): OptionalJson<TokenBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = caller.require_user()?.clone();
    let b = b.unwrap_or_default();
    let (info, token) =
        accounts::create_token(&app, &caller, &user.username, b.name.as_deref().unwrap_or("api"), b.expires_days.or(Some(365))).await?;
    // The token is shown once; only its hash is kept.
    Ok((StatusCode::CREATED, Json(json!({ "token": token, "info": info }))))
}

async fn revoke_token(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<i64>) -> Result<StatusCode, ApiError> {
    caller.require_user()?;
    accounts::revoke_token(&app, &caller, TokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn users(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let users = accounts::users(&app, &caller).await?;
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

async fn create_user(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<UserBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new = NewUser { username: b.username, display_name: b.display_name, agency: b.agency, role: b.role, password: b.password };
    Ok((StatusCode::CREATED, to_json(accounts::create_user(&app, &caller, new).await?)?))
}

async fn disable_user(State(app): State<AppState>, caller: Caller, ApiPath(username): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    to_json(accounts::set_enabled(&app, &caller, &username, false).await?)
}

async fn enable_user(State(app): State<AppState>, caller: Caller, ApiPath(username): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    to_json(accounts::set_enabled(&app, &caller, &username, true).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    /// The agency's id; `null` to leave every agency.
    agency: Option<String>,
    role: Option<Role>,
}

async fn move_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
    JsonBody(b): JsonBody<MoveBody>,
) -> Result<Json<Value>, ApiError> {
    to_json(accounts::move_user(&app, &caller, &username, b.agency.as_deref(), b.role).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    pub username: String,
    pub password: String,
}

async fn sign_in(State(app): State<AppState>, caller: Caller, JsonBody(b): JsonBody<SignInBody>) -> Result<Response, ApiError> {
    let user = accounts::sign_in(&app, &caller, &b.username, &b.password).await?;
    let (sid, csrf) = app.store.create_session(&user).await?;
    let mut resp = Json(json!({ "user": user, "csrf_token": csrf })).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &sid, chiase_store::users::SESSION_HOURS * 3600));
    Ok(resp)
}

async fn sign_out(State(app): State<AppState>, caller: Caller, headers: HeaderMap) -> Result<Response, ApiError> {
    accounts::sign_out(&app, &caller, cookie(&headers, SESSION_COOKIE).as_deref()).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    Ok(resp)
}
