//! `/tokens`: a signed-in officer's API tokens, for the scripts and
//! clients (curl, ckanapi, Python) that read and write as them: each
//! token's name, its first characters, when it was made, last used and
//! ends; a new one (shown once, never again: only its digest is kept);
//! revoking one. An administrator manages another account's tokens with
//! `?user=NAME`. Through the same account use cases and policy as
//! `/api/v1/users/{name}/tokens`.

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use chiase_store::users::TokenInfo;

use super::catalog::{error_page, who};
use super::{Tr, field, read_form};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecase::accounts;

const MAX_FORM_BYTES: usize = 8 * 1024;

struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    created: String,
    last_used: String,
    expires: String,
    live: bool,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "tokens.html")]
struct TokensPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    /// Whose tokens (the reader's own unless an administrator names another).
    username: String,
    own: bool,
    tokens: Vec<TokenRow>,
    /// A token just made: shown this once.
    created: Option<String>,
    error: Option<String>,
}

fn rows(tr: Tr, list: Vec<TokenInfo>) -> Vec<TokenRow> {
    let now = chrono::Utc::now();
    let day = |t: chrono::DateTime<chrono::Utc>| tr.date(&t.date_naive());
    list.into_iter()
        .map(|t| TokenRow {
            live: t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now),
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created: day(t.created_at),
            last_used: t.last_used_at.map(day).unwrap_or_default(),
            expires: t.expires_at.map(day).unwrap_or_else(|| tr.t("không hạn", "never").to_string()),
        })
        .collect()
}

async fn page(
    app: &AppState,
    tr: Tr,
    caller: &Caller,
    username: &str,
    created: Option<String>,
    error: Option<String>,
) -> Result<TokensPage, ApiError> {
    let list = accounts::tokens(app, caller, username).await?;
    let own = caller.user.as_ref().is_some_and(|u| u.username == username);
    let (who, session_csrf) = who(app, Some(caller)).await;
    Ok(TokensPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/tokens?lang={}", tr.other()),
        username: username.to_string(),
        own,
        tokens: rows(tr, list),
        created,
        error,
    })
}

/// Whose tokens a request is about: `user` (form or query), else the reader's.
fn whose(caller: &Caller, named: Option<String>) -> String {
    named.filter(|n| !n.is_empty()).or_else(|| caller.user.as_ref().map(|u| u.username.clone())).unwrap_or_default()
}

/// `GET /tokens[?user=NAME]`.
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, uri: Uri) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    let named = crate::params::pairs(&uri).into_iter().find(|(k, _)| k == "user").map(|(_, v)| v);
    match page(&app, tr, &caller, &whose(&caller, named), None, None).await {
        Ok(p) => p.into_response(),
        Err(e) => error_page(tr, e),
    }
}

/// `POST /tokens` (`action` = create with `name` and `days`, or revoke with `id`).
pub async fn submit(State(app): State<AppState>, tr: Tr, request: Request) -> Response {
    let (caller, form) = match read_form(&app, tr, request, MAX_FORM_BYTES).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |k: &str| field(&form, k).unwrap_or_default().to_string();
    let username = whose(&caller, Some(get("user")));
    let outcome = match get("action").as_str() {
        "create" => {
            let days = match get("days").as_str() {
                "" | "0" => Ok(None),
                d => d.parse::<i64>().ok().filter(|d| (1..=3650).contains(d)).map(Some).ok_or_else(|| {
                    ApiError::bad_request("số ngày hiệu lực phải từ 1 đến 3650", "the days of validity must be from 1 to 3650")
                }),
            };
            match days {
                Ok(days) => accounts::create_token(&app, &caller, &username, &get("name"), days).await.map(|(_, secret)| Some(secret)),
                Err(e) => Err(e),
            }
        }
        "revoke" => match get("id").parse::<i64>() {
            Ok(id) => accounts::revoke_token(&app, &caller, chiase_core::ids::TokenId(id)).await.map(|()| None),
            Err(_) => Err(ApiError::bad_request("mã số không hợp lệ", "invalid token number")),
        },
        _ => Err(ApiError::bad_request("thao tác không có", "no such action")),
    };
    match outcome {
        Ok(created) => match page(&app, tr, &caller, &username, created, None).await {
            Ok(p) => p.into_response(),
            Err(e) => error_page(tr, e),
        },
        Err(e) => {
            let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status };
            let msg = if tr.is_en() { e.msg.en.clone() } else { e.msg.vi.clone() };
            match page(&app, tr, &caller, &username, None, Some(msg)).await {
                Ok(p) => (status, p).into_response(),
                Err(_) => error_page(tr, e),
            }
        }
    }
}
