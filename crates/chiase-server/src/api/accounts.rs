//! Accounts: `/api/v1/setup` (the first administrator, with the one-time
//! setup token; 409 once any administrator exists), `/api/v1/me` and its
//! API tokens, `/api/v1/users` (administrators: create, list, disable,
//! enable, move between agencies), and `/api/v1/session` (sign-in for
//! browsers: an HttpOnly cookie and a CSRF token to send back as
//! `X-CSRF-Token`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chiase_core::ids::TokenId;
use chiase_core::policy::Role;
use chiase_store::users::NewUser;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{ChangeErrors, ReadErrors, SignedInErrors, StepErrors, TooManyRequests};
use super::schemas;

use crate::auth::{Caller, SESSION_COOKIE, cookie, session_cookie};
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody, OptionalJson};
use crate::state::AppState;
use crate::usecase::accounts;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(me))
        .routes(routes!(my_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(users, create_user))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(move_user))
        .routes(routes!(set_user_email))
        .routes(routes!(sign_in, sign_out))
}

fn to_json(v: impl serde::Serialize) -> Result<Json<Value>, ApiError> {
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError::internal(&e))?))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = Setup)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    token: String,
    username: String,
    display_name: Option<String>,
    password: String,
}

/// The first administrator, with the one-time setup token printed by the
/// first `chiase serve`; 409 once any administrator exists.
#[utoipa::path(
    post,
    path = "/api/v1/setup",
    tag = "accounts",
    operation_id = "setup",
    request_body = SetupBody,
    responses(
        (status = 201, description = "The administrator.", body = schemas::User),
        ChangeErrors,
    ),
)]
async fn setup(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<SetupBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = accounts::setup(&app, &caller, &b.token, &b.username, b.display_name, &b.password).await?;
    Ok((StatusCode::CREATED, to_json(user)?))
}

/// The signed-in account.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "accounts",
    operation_id = "me",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The account.", body = schemas::User),
        SignedInErrors,
    ),
)]
async fn me(caller: Caller) -> Result<Json<Value>, ApiError> {
    to_json(caller.require_user()?)
}

/// The signed-in account's API tokens (never their secrets).
#[utoipa::path(
    get,
    path = "/api/v1/me/tokens",
    tag = "accounts",
    operation_id = "tokens_list",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The tokens.", body = schemas::TokenList),
        SignedInErrors,
    ),
)]
async fn my_tokens(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let user = caller.require_user()?;
    let tokens = accounts::tokens(&app, &caller, &user.username).await?;
    Ok(Json(json!({ "count": tokens.len(), "results": tokens })))
}

#[derive(Deserialize, Default, ToSchema)]
#[schema(as = NewTokenBody)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    name: Option<String>,
    expires_days: Option<i64>,
}

/// Creates an API token for the signed-in account (the body may be empty:
/// name `api`, 365 days). The token is in the answer, once.
#[utoipa::path(
    post,
    path = "/api/v1/me/tokens",
    tag = "accounts",
    operation_id = "tokens_create",
    request_body = Option<TokenBody>,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The token, shown once.", body = schemas::NewToken),
        ChangeErrors,
    ),
)]
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

/// Revokes one of the account's tokens.
#[utoipa::path(
    delete,
    path = "/api/v1/me/tokens/{id}",
    tag = "accounts",
    operation_id = "tokens_revoke",
    params(("id" = i64, Path, description = "The token's id.")),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Revoked."),
        ReadErrors,
    ),
)]
async fn revoke_token(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<i64>) -> Result<StatusCode, ApiError> {
    caller.require_user()?;
    accounts::revoke_token(&app, &caller, TokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every account (administrators).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "accounts",
    operation_id = "users_list",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The accounts.", body = schemas::UserList),
        SignedInErrors,
    ),
)]
async fn users(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let users = accounts::users(&app, &caller).await?;
    Ok(Json(json!({ "count": users.len(), "results": users })))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = NewUser)]
#[serde(deny_unknown_fields)]
struct UserBody {
    username: String,
    display_name: Option<String>,
    agency: Option<String>,
    role: Role,
    password: Option<String>,
    /// Where the account's notifications are mailed.
    email: Option<String>,
}

/// Creates an account (administrators). Without `password`, the account
/// signs in only with tokens made for it.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "accounts",
    operation_id = "users_create",
    request_body = UserBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The account.", body = schemas::User),
        ChangeErrors,
    ),
)]
async fn create_user(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<UserBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new = NewUser {
        username: b.username,
        display_name: b.display_name,
        agency: b.agency,
        role: b.role,
        password: b.password,
        email: b.email,
    };
    Ok((StatusCode::CREATED, to_json(accounts::create_user(&app, &caller, new).await?)?))
}

/// Disables an account (administrators): its sessions and tokens end.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/disable",
    tag = "accounts",
    operation_id = "users_disable",
    params(("username" = String, Path, description = "The account's name.")),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The account.", body = schemas::User),
        StepErrors,
    ),
)]
async fn disable_user(State(app): State<AppState>, caller: Caller, ApiPath(username): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    to_json(accounts::set_enabled(&app, &caller, &username, false).await?)
}

/// Enables a disabled account (administrators).
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/enable",
    tag = "accounts",
    operation_id = "users_enable",
    params(("username" = String, Path, description = "The account's name.")),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The account.", body = schemas::User),
        StepErrors,
    ),
)]
async fn enable_user(State(app): State<AppState>, caller: Caller, ApiPath(username): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    to_json(accounts::set_enabled(&app, &caller, &username, true).await?)
}

#[derive(Deserialize, ToSchema)]
#[schema(as = UserMove)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    /// The agency's id; `null` to leave every agency.
    agency: Option<String>,
    role: Option<Role>,
}

/// Moves an account to another agency (administrators): its sessions and
/// tokens end, then the new agency's rights apply.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/move",
    tag = "accounts",
    operation_id = "users_move",
    params(("username" = String, Path, description = "The account's name.")),
    request_body = MoveBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The account.", body = schemas::User),
        ChangeErrors,
    ),
)]
async fn move_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
    JsonBody(b): JsonBody<MoveBody>,
) -> Result<Json<Value>, ApiError> {
    to_json(accounts::move_user(&app, &caller, &username, b.agency.as_deref(), b.role).await?)
}

#[derive(Deserialize, ToSchema)]
#[schema(as = UserEmail)]
#[serde(deny_unknown_fields)]
struct EmailBody {
    /// The address notifications are mailed to; `null` or empty: none (the portal only).
    email: Option<String>,
}

/// Sets the address an account's notifications are mailed to
/// (administrators); `null` removes it.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/email",
    tag = "accounts",
    operation_id = "users_set_email",
    params(("username" = String, Path, description = "The account's name.")),
    request_body = EmailBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The account.", body = schemas::User),
        ChangeErrors,
    ),
)]
async fn set_user_email(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
    JsonBody(b): JsonBody<EmailBody>,
) -> Result<Json<Value>, ApiError> {
    to_json(accounts::set_email(&app, &caller, &username, b.email.as_deref()).await?)
}

#[derive(Deserialize, ToSchema)]
#[schema(as = SignIn)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    pub username: String,
    pub password: String,
}

/// Signs in with a password (for browsers): sets the HttpOnly session
/// cookie and answers the CSRF token to send back as `X-CSRF-Token`.
/// Throttled per account and per client address.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "accounts",
    operation_id = "session_sign_in",
    request_body = SignInBody,
    responses(
        (status = 200, description = "Signed in; the cookie is in `Set-Cookie`.", body = schemas::Session),
        ChangeErrors,
        (status = 429, response = TooManyRequests),
    ),
)]
async fn sign_in(State(app): State<AppState>, caller: Caller, JsonBody(b): JsonBody<SignInBody>) -> Result<Response, ApiError> {
    let user = accounts::sign_in(&app, &caller, &b.username, &b.password).await?;
    let (sid, csrf) = app.store.create_session(&user).await?;
    let mut resp = Json(json!({ "user": user, "csrf_token": csrf })).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &sid, chiase_store::users::SESSION_HOURS * 3600));
    Ok(resp)
}

/// Signs out: ends the session and clears its cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "accounts",
    operation_id = "session_sign_out",
    security((), ("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Signed out."),
        SignedInErrors,
    ),
)]
async fn sign_out(State(app): State<AppState>, caller: Caller, headers: HeaderMap) -> Result<Response, ApiError> {
    accounts::sign_out(&app, &caller, cookie(&headers, SESSION_COOKIE).as_deref()).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    Ok(resp)
}
