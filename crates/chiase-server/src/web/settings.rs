//! `/admin/settings` (administrators): every setting with its value in
//! effect (a secret only as set or unset), where it came from and whether
//! a change needs a restart; the settings safe to change while the server
//! runs (`site_name`, `map_tiles`, `mail_from`) changed or cleared from a
//! form, through [`crate::usecase::settings`].

use axum::extract::{Request, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};

use super::admin::{back, failure};
use super::catalog::{error_page, who};
use super::{Tr, Who};
use super::{field, read_form};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecase::settings::{self, Source};

/// A setting's form: one key and a value.
const MAX_FORM_BYTES: usize = 8 * 1024;

/// One line of the table.
struct Row {
    key: &'static str,
    /// What the setting is, in the reader's language.
    about: &'static str,
    /// The value shown: a secret's only as "set" or "unset".
    shown: String,
    /// The value in a form's field (settings changed at run time only).
    value: String,
    unset: bool,
    secret: bool,
    source: String,
    runtime: bool,
    /// Changed at run time (the form offers to clear it).
    overridden: bool,
    /// The configuration's value, for a setting changed at run time.
    configured: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "admin_settings.html")]
struct SettingsPage {
    tr: Tr,
    who: Option<Who>,
    session_csrf: String,
    lang_href: String,
    rows: Vec<Row>,
    done: Option<String>,
    error: Option<String>,
}

async fn page(app: &AppState, tr: Tr, caller: &Caller, done: Option<String>, error: Option<String>) -> Result<SettingsPage, ApiError> {
    let list = settings::list(app, caller).await?;
    let (who, session_csrf) = who(app, Some(caller)).await;
    let rows = list
        .into_iter()
        .map(|v| {
            let secret = v.info.secret;
            let shown = match (&v.value, secret) {
                (None, true) => tr.t("chưa đặt", "unset").to_string(),
                (Some(_), true) => tr.t("đã đặt", "set").to_string(),
                (None, false) => String::new(),
                // Not a secret, but a URL may still carry a password.
                (Some(s), false) => crate::config::redact_url(s),
            };
            let source = match &v.source {
                Source::Default => tr.t("mặc định", "default").to_string(),
                Source::Configured => tr.t("tệp cấu hình, biến môi trường hoặc cờ", "configuration file, variable or flag").to_string(),
                Source::Runtime(r) => {
                    let at = r.changed_at.with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).expect("BUG: a valid offset"));
                    let when = if tr.is_en() { at.format("%Y-%m-%d %H:%M") } else { at.format("%d/%m/%Y %H:%M") };
                    format!("{} {} ({when})", tr.t("đổi tại trang này bởi", "changed on this page by"), r.changed_by)
                }
            };
            Row {
                key: v.info.key,
                about: if tr.is_en() { v.info.en } else { v.info.vi },
                value: if secret || !v.info.runtime() { String::new() } else { v.value.clone().unwrap_or_default() },
                unset: v.value.is_none(),
                shown,
                secret,
                source,
                runtime: v.info.runtime(),
                overridden: matches!(v.source, Source::Runtime(_)),
                configured: if v.info.runtime() { v.configured.unwrap_or_default() } else { String::new() },
            }
        })
        .collect();
    Ok(SettingsPage { tr, who, session_csrf, lang_href: format!("/admin/settings?lang={}", tr.other()), rows, done, error })
}

/// `GET /admin/settings` (administrators).
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, uri: Uri) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    let done = crate::params::pairs(&uri).into_iter().find(|(k, _)| k == "done").map(|(_, v)| done_words(tr, &v));
    match page(&app, tr, &caller, done, None).await {
        Ok(p) => p.into_response(),
        Err(e) => error_page(tr, e),
    }
}

fn done_words(tr: Tr, action: &str) -> String {
    match action {
        "clear" => tr.t(
            "Đã trở về giá trị của cấu hình; mọi tiến trình máy chủ áp dụng trong vài giây.",
            "Back to the configured value; every server process applies it within seconds.",
        ),
        _ => tr.t("Đã lưu; mọi tiến trình máy chủ áp dụng trong vài giây.", "Saved; every server process applies it within seconds."),
    }
    .to_string()
}

/// `POST /admin/settings`: `action` = set (`key`, `value`) or clear (`key`).
pub async fn submit(State(app): State<AppState>, tr: Tr, request: Request) -> Response {
    let (caller, form) = match read_form(&app, tr, request, MAX_FORM_BYTES).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let action = field(&form, "action").unwrap_or_default().to_string();
    let key = field(&form, "key").unwrap_or_default().to_string();
    let result = match action.as_str() {
        "set" => settings::change(&app, &caller, &key, Some(field(&form, "value").unwrap_or_default())).await,
        "clear" => settings::change(&app, &caller, &key, None).await,
        other => {
            let shown: String = other.chars().take(32).collect();
            Err(ApiError::bad_request(format!("thao tác «{shown}» không có"), format!("no such action «{shown}»")))
        }
    };
    match result {
        Ok(()) => back(tr, "/admin/settings", &action),
        Err(e) => {
            let (status, message) = failure(tr, &e);
            match page(&app, tr, &caller, None, Some(message)).await {
                Ok(p) => (status, p).into_response(),
                Err(_) => error_page(tr, e),
            }
        }
    }
}
