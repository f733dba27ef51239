//! Accounts: first-time setup, signing in and out, administering accounts
//! (create, disable, move between agencies, set a password) and API tokens.
//! Signing in is recorded in the audit log whatever its outcome.

use chiase_core::ids::TokenId;
use chiase_core::policy::{self, Role};
use chiase_store::users::{NewUser, SignIn, TokenInfo, User};
use serde_json::json;

use super::record_change;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Creates the first administrator with the one-time setup token.
pub async fn setup(
    app: &AppState,
    caller: &Caller,
    token: &str,
    username: &str,
    display_name: Option<String>,
    password: &str,
) -> Result<User, ApiError> {
    let new = NewUser {
        username: username.to_string(),
        display_name,
        agency: None,
        role: Role::Admin,
        password: Some(password.to_string()),
        email: None,
    };
    let user = app.store.setup_admin(token, &new).await?;
    let mut e = caller.actor.event("admin_created", user.username.clone(), json!({ "by": "setup token" }));
    e.user_id = Some(user.pk.get());
    app.recorder.record(e).await?;
    Ok(user)
}

/// Whether first-time setup is still open (no administrator yet).
pub async fn setup_open(app: &AppState) -> Result<bool, ApiError> {
    Ok(!app.store.has_admin().await?)
}

/// Checks a password (throttled) and records the attempt.
pub async fn sign_in(app: &AppState, caller: &Caller, username: &str, password: &str) -> Result<User, ApiError> {
    let username: String = username.trim().chars().take(64).collect();
    let source = caller.source().unwrap_or("").to_string();
    match app.store.sign_in(&username, password, &source).await? {
        SignIn::Ok(user) => {
            let signed_in = Caller::of_user(user.clone(), caller.actor.source.clone());
            app.recorder.record(signed_in.actor.event("sign_in", user.username.clone(), json!({}))).await?;
            Ok(user)
        }
        SignIn::Refused => {
            app.recorder.record(caller.actor.event("sign_in_failed", username, json!({}))).await?;
            Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "sign_in_failed",
                "sai tên đăng nhập hoặc mật khẩu",
                "wrong username or password",
            ))
        }
        SignIn::Throttled => {
            app.recorder.record(caller.actor.event("sign_in_throttled", username, json!({}))).await?;
            let mut e = ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                format!("đăng nhập sai quá nhiều lần; hãy thử lại sau {} phút", chiase_store::users::THROTTLE_WINDOW_MINUTES),
                format!("too many failed sign-ins; try again in {} minutes", chiase_store::users::THROTTLE_WINDOW_MINUTES),
            );
            e.retry_after = Some((chiase_store::users::THROTTLE_WINDOW_MINUTES * 60) as u32);
            Err(e)
        }
    }
}

/// Ends a web session and records it.
pub async fn sign_out(app: &AppState, caller: &Caller, session_id: Option<&str>) -> Result<(), ApiError> {
    if let Some(sid) = session_id {
        app.store.end_session(sid).await?;
    }
    if let Some(u) = &caller.user {
        record_change(app, caller, "sign_out", None, u.username.clone(), json!({})).await?;
    }
    Ok(())
}

/// Every account (administrators).
pub async fn users(app: &AppState, caller: &Caller) -> Result<Vec<User>, ApiError> {
    let permit = policy::decide_user_admin(&caller.subject)?;
    Ok(app.store.users(&permit).await?)
}

/// Creates an account (administrators).
pub async fn create_user(app: &AppState, caller: &Caller, mut new: NewUser) -> Result<User, ApiError> {
    let permit = policy::decide_user_admin(&caller.subject)?;
    new.email = super::notifications::check_email(new.email.as_deref())?;
    let user = app.store.create_user(&permit, &new).await?;
    record_change(app, caller, "user_created", None, user.username.clone(), json!({ "role": user.role, "agency": user.agency })).await?;
    Ok(user)
}

/// Disables or enables an account (administrators); disabling ends its
/// sessions and tokens.
pub async fn set_enabled(app: &AppState, caller: &Caller, username: &str, enabled: bool) -> Result<User, ApiError> {
    let permit = policy::decide_user_admin(&caller.subject)?;
    let user = app.store.set_user_enabled(&permit, username, enabled).await?;
    let action = if enabled { "user_enabled" } else { "user_disabled" };
    record_change(app, caller, action, None, user.username.clone(), json!({})).await?;
    Ok(user)
}

/// Moves an account to another agency (or none), optionally with a new
/// role (administrators); its sessions and tokens end.
pub async fn move_user(
    app: &AppState,
    caller: &Caller,
    username: &str,
    agency: Option<&str>,
    role: Option<Role>,
) -> Result<User, ApiError> {
    let permit = policy::decide_user_admin(&caller.subject)?;
    let user = app.store.move_user(&permit, username, agency, role).await?;
    record_change(app, caller, "user_moved", None, user.username.clone(), json!({ "agency": user.agency, "role": user.role })).await?;
    Ok(user)
}

/// Sets (or, with none, removes) the address an account's notifications
/// are mailed to (administrators). The audit event says whether one is set,
/// not the address.
pub async fn set_email(app: &AppState, caller: &Caller, username: &str, email: Option<&str>) -> Result<User, ApiError> {
    let permit = policy::decide_user_admin(&caller.subject)?;
    let email = super::notifications::check_email(email)?;
    let user = app.store.set_user_email(&permit, username, email.as_deref()).await?;
    record_change(app, caller, "user_email_set", None, user.username.clone(), json!({ "email": user.email.is_some() })).await?;
    Ok(user)
}

/// Sets an account's password (administrators, the operator).
pub async fn set_password(app: &AppState, caller: &Caller, username: &str, password: &str) -> Result<(), ApiError> {
    let permit = policy::decide_user_admin(&caller.subject)?;
    app.store.set_password(&permit, username, password).await?;
    record_change(app, caller, "password_set", None, username.to_string(), json!({})).await
}

/// The account a username names, or 404.
async fn account(app: &AppState, username: &str) -> Result<User, ApiError> {
    app.store.user(username).await?.ok_or_else(|| {
        let shown: String = username.chars().take(64).collect();
        ApiError::not_found(format!("không có tài khoản «{shown}»"), format!("no account «{shown}»"))
    })
}

/// An account's tokens (the account itself, or administrators).
pub async fn tokens(app: &AppState, caller: &Caller, username: &str) -> Result<Vec<TokenInfo>, ApiError> {
    let user = account(app, username).await?;
    let permit = policy::decide_tokens(&caller.subject, user.pk)?;
    Ok(app.store.tokens(&permit).await?)
}

/// Creates a token for an account; returns it in clear, once.
pub async fn create_token(
    app: &AppState,
    caller: &Caller,
    username: &str,
    name: &str,
    expires_days: Option<i64>,
) -> Result<(TokenInfo, String), ApiError> {
    let user = account(app, username).await?;
    let permit = policy::decide_tokens(&caller.subject, user.pk)?;
    let (info, token) = app.store.create_token(&permit, name, expires_days).await?;
    record_change(app, caller, "token_created", None, user.username.clone(), json!({ "token": info.id, "prefix": info.prefix })).await?;
    Ok((info, token))
}

/// Revokes a token (its account, or administrators).
pub async fn revoke_token(app: &AppState, caller: &Caller, id: TokenId) -> Result<(), ApiError> {
    let not_found = || ApiError::not_found(format!("không có mã truy cập {id} còn hiệu lực"), format!("no live token {id}"));
    let owner = app.store.token_owner(id).await?.ok_or_else(not_found)?;
    // Somebody else's token is "not found" to those who may not manage it.
    let permit = policy::decide_tokens(&caller.subject, owner).map_err(|_| not_found())?;
    app.store.revoke_token(&permit, id).await?;
    record_change(app, caller, "token_revoked", None, format!("token:{id}"), json!({})).await
}
