//! `/admin/agencies`: an administrator keeps the province's agencies as
//! decisions change them: creates one, renames it, merges it into another
//! (its databases and accounts follow), dissolves it, sets its focal
//! contact, each from a dated form. Every action goes through the same use
//! cases and policy as `/api/v1/agencies` and is recorded in the audit log.

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use chiase_core::agency::{AgencyStatus, FocalContact};
use chiase_core::policy::decide_agency_admin;
use chiase_store::agencies::{Agency, AgencyFilter, NewAgency};
use chrono::NaiveDate;

use super::catalog::{error_page, who};
use super::{Tr, form_caller};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecase::agencies;

const MAX_FORM_BYTES: usize = 16 * 1024;

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "admin_agencies.html")]
struct AgenciesPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    active: Vec<Agency>,
    ended: Vec<Agency>,
    today: String,
    /// What the last action did, or why it failed.
    done: Option<String>,
    error: Option<String>,
}

async fn page(app: &AppState, tr: Tr, caller: &Caller, done: Option<String>, error: Option<String>) -> Result<AgenciesPage, ApiError> {
    decide_agency_admin(&caller.subject)?;
    let all = app.store.agencies(&AgencyFilter::default()).await?;
    let (active, ended): (Vec<Agency>, Vec<Agency>) = all.into_iter().partition(|a| a.status == AgencyStatus::Active.code());
    let (who, session_csrf) = who(app, Some(caller)).await;
    Ok(AgenciesPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/admin/agencies?lang={}", tr.other()),
        active,
        ended,
        today: crate::usecase::today_in_vietnam().to_string(),
        done,
        error,
    })
}

/// `GET /admin/agencies` (administrators).
pub async fn agencies_page(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, uri: Uri) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    let done = crate::params::pairs(&uri).into_iter().find(|(k, _)| k == "done").map(|(_, v)| v);
    let done = done.map(|d| done_words(tr, &d));
    match page(&app, tr, &caller, done, None).await {
        Ok(p) => p.into_response(),
        Err(e) => error_page(tr, e),
    }
}

fn done_words(tr: Tr, action: &str) -> String {
    match action {
        "create" => tr.t("Đã tạo cơ quan.", "The agency was created."),
        "rename" => tr.t("Đã đổi tên cơ quan.", "The agency was renamed."),
        "merge" => tr.t(
            "Đã sáp nhập: cơ sở dữ liệu và tài khoản đã chuyển sang cơ quan mới.",
            "Merged: its databases and accounts moved to the new agency.",
        ),
        "dissolve" => tr.t("Đã giải thể cơ quan.", "The agency was dissolved."),
        "contact" => tr.t("Đã lưu đầu mối chia sẻ dữ liệu.", "The focal contact was saved."),
        _ => tr.t("Đã lưu.", "Saved."),
    }
    .to_string()
}

/// `POST /admin/agencies`: one action (`action` = create, rename, merge,
/// dissolve, contact), then back to the list.
pub async fn agencies_submit(State(app): State<AppState>, tr: Tr, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return error_page(tr, ApiError::too_large(MAX_FORM_BYTES));
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.trim().to_string())).collect();
    let caller = match form_caller(&app, &mut parts, field(&form, "csrf").unwrap_or_default()).await {
        Ok(c) => c,
        Err(e) => return error_page(tr, e),
    };
    let action = field(&form, "action").unwrap_or_default().to_string();
    match act(&app, &caller, &action, &form).await {
        Ok(()) => {
            let lang = if tr.is_en() { "&lang=en" } else { "" };
            Redirect::to(&format!("/admin/agencies?done={action}{lang}")).into_response()
        }
        Err(e) => {
            let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status };
            let message = if tr.is_en() { e.msg.en.clone() } else { e.msg.vi.clone() };
            match page(&app, tr, &caller, None, Some(message)).await {
                Ok(p) => (status, p).into_response(),
                Err(_) => error_page(tr, e),
            }
        }
    }
}

/// A form field's value, trimmed; `None` when empty.
fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

async fn act(app: &AppState, caller: &Caller, action: &str, form: &[(String, String)]) -> Result<(), ApiError> {
    let value = |k: &str| field(form, k);
    let need = |k: &str, vi: &str, en: &str| {
        value(k).map(str::to_string).ok_or_else(|| ApiError::bad_request(format!("thiếu {vi}"), format!("{en} is missing")))
    };
    let on = || -> Result<NaiveDate, ApiError> {
        match value("on") {
            None => Ok(crate::usecase::today_in_vietnam()),
            Some(s) => crate::params::parse_date(s).ok_or_else(|| {
                ApiError::bad_request(format!("ngày «{s}» không hợp lệ: ghi dd/mm/yyyy"), format!("invalid date «{s}»: write dd/mm/yyyy"))
            }),
        }
    };
    match action {
        "create" => {
            let name = need("name", "tên cơ quan", "the agency's name")?;
            let new = NewAgency { name, kind: None, established_on: Some(on()?), contact: FocalContact::default() };
            agencies::create(app, caller, new).await.map(drop)
        }
        "rename" => {
            let (id, name) = (need("agency", "cơ quan", "the agency")?, need("name", "tên mới", "the new name")?);
            agencies::rename(app, caller, &id, &name, on()?).await.map(drop)
        }
        "merge" => {
            let (id, into) =
                (need("agency", "cơ quan bị sáp nhập", "the agency merged")?, need("into", "cơ quan nhận", "the agency it joins")?);
            agencies::merge(app, caller, &id, &into, on()?).await.map(drop)
        }
        "dissolve" => {
            let id = need("agency", "cơ quan", "the agency")?;
            agencies::dissolve(app, caller, &id, value("transfer_to"), on()?).await.map(drop)
        }
        "contact" => {
            let id = need("agency", "cơ quan", "the agency")?;
            let contact =
                FocalContact::parse(value("contact_name"), value("contact_position"), value("contact_phone"), value("contact_email"))?;
            agencies::set_contact(app, caller, &id, &contact).await
        }
        other => {
            let shown: String = other.chars().take(32).collect();
            Err(ApiError::bad_request(format!("thao tác «{shown}» không có"), format!("no such action «{shown}»")))
        }
    }
}
