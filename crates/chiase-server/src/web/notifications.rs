//! `/notifications`: what the signed-in reader has been told about sharing
//! requests (filed, decided, deadlines, grants ending), newest first, the
//! unread ones said so in words; each links to its request. "Mark all as
//! read" is a form carrying the session's anti-forgery token.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::FixedOffset;

use super::Tr;
use super::catalog::{error_page, who};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecase::notifications::headline;

/// The most notifications a page lists.
const PAGE_LIMIT: i64 = 200;

struct Item {
    text: String,
    href: String,
    unread: bool,
    emailed: bool,
    /// When, in Vietnam time (dd/mm/yyyy HH:MM).
    at: String,
    at_iso: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    items: Vec<Item>,
    unread: usize,
}

/// `GET /notifications`.
pub async fn list(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>) -> Response {
    let (caller, user) = match caller {
        Ok(c) => match c.user.as_ref().map(|u| u.pk) {
            Some(pk) => (c, pk),
            None => return Redirect::to(&tr.link("/login")).into_response(),
        },
        Err(_) => return Redirect::to(&tr.link("/login")).into_response(),
    };
    let list = match app.store.notifications(user, PAGE_LIMIT).await {
        Ok(l) => l,
        Err(e) => return error_page(tr, e.into()),
    };
    let vn = FixedOffset::east_opt(7 * 3600).expect("BUG: a valid offset");
    let items: Vec<Item> = list
        .iter()
        .map(|n| {
            let (vi, en) = headline(n);
            let local = n.created_at.with_timezone(&vn);
            Item {
                text: if tr.is_en() { en } else { vi },
                href: tr.link(&format!("/requests/{}", n.request.get())),
                unread: n.read_at.is_none(),
                emailed: n.emailed_at.is_some(),
                at: if tr.is_en() { local.format("%Y-%m-%d %H:%M").to_string() } else { local.format("%d/%m/%Y %H:%M").to_string() },
                at_iso: local.to_rfc3339(),
            }
        })
        .collect();
    let unread = items.iter().filter(|i| i.unread).count();
    let (who, session_csrf) = who(&app, Some(&caller)).await;
    NotificationsPage { tr, who, session_csrf, lang_href: format!("/notifications?lang={}", tr.other()), items, unread }.into_response()
}

/// `POST /notifications/read`: marks every notification of the reader read.
pub async fn mark_read(State(app): State<AppState>, tr: Tr, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 4096).await else {
        return error_page(tr, ApiError::too_large(4096));
    };
    let csrf = form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned()).unwrap_or_default();
    let caller = match super::form_caller(&app, &mut parts, &csrf).await {
        Ok(c) => c,
        Err(e) => return error_page(tr, e),
    };
    let Some(user) = &caller.user else { return Redirect::to(&tr.link("/login")).into_response() };
    if let Err(e) = app.store.mark_notifications_read(user.pk, None).await {
        return error_page(tr, e.into());
    }
    Redirect::to(&tr.link("/notifications")).into_response()
}
