//! The administrator's pages. `/admin/agencies`: the province's agencies
//! as decisions change them: create one, rename it, merge it into another
//! (its databases and accounts follow), dissolve it, set its focal
//! contact, each from a dated form. `/admin/users`: accounts: create,
//! disable and enable, move to another agency or role, e-mail address,
//! password. Every action goes through the same use cases and policy as
//! the API and is recorded in the audit log.

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use chiase_core::agency::{AgencyStatus, FocalContact};
use chiase_core::policy::{Role, decide_agency_admin};
use chiase_store::agencies::{Agency, AgencyFilter, NewAgency};
use chiase_store::users::NewUser;
use chrono::NaiveDate;

use super::catalog::{error_page, who};
use super::{Tr, field, read_form};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecase::{accounts, agencies};

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
    let (caller, form) = match read_form(&app, tr, request, MAX_FORM_BYTES).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let action = field(&form, "action").unwrap_or_default().to_string();
    match act(&app, &caller, &action, &form).await {
        Ok(()) => back(tr, "/admin/agencies", &action),
        Err(e) => {
            let (status, message) = failure(tr, &e);
            match page(&app, tr, &caller, None, Some(message)).await {
                Ok(p) => (status, p).into_response(),
                Err(_) => error_page(tr, e),
            }
        }
    }
}

/// Back to the list, which says what was done.
pub(super) fn back(tr: Tr, path: &str, action: &str) -> Response {
    let lang = if tr.is_en() { "&lang=en" } else { "" };
    Redirect::to(&format!("{path}?done={action}{lang}")).into_response()
}

/// The status and the reader's message of a refused action.
pub(super) fn failure(tr: Tr, e: &ApiError) -> (StatusCode, String) {
    let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status };
    (status, if tr.is_en() { e.msg.en.clone() } else { e.msg.vi.clone() })
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

/// A role in words.
fn role_words(tr: Tr, role: Role) -> &'static str {
    match role {
        Role::Admin => tr.t("quản trị hệ thống", "administrator"),
        Role::Steward => tr.t("cán bộ quản lý dữ liệu", "data steward"),
        Role::Member => tr.t("cán bộ", "officer"),
    }
}

struct UserRow {
    username: String,
    name: String,
    agency: String,
    role: &'static str,
    enabled: bool,
    email: String,
    last_login: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "admin_users.html")]
struct UsersPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    users: Vec<UserRow>,
    agencies: Vec<Agency>,
    roles: Vec<(&'static str, &'static str)>,
    done: Option<String>,
    error: Option<String>,
}

async fn users_page(app: &AppState, tr: Tr, caller: &Caller, done: Option<String>, error: Option<String>) -> Result<UsersPage, ApiError> {
    let users = accounts::users(app, caller).await?;
    let agencies: Vec<Agency> =
        app.store.agencies(&AgencyFilter::default()).await?.into_iter().filter(|a| a.status == AgencyStatus::Active.code()).collect();
    let (who, session_csrf) = who(app, Some(caller)).await;
    let users = users
        .into_iter()
        .map(|u| UserRow {
            name: u.display_name.clone(),
            agency: u.agency.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
            role: role_words(tr, u.role),
            enabled: u.status == "active",
            email: u.email.clone().unwrap_or_default(),
            last_login: u.last_login_at.map(|t| tr.date(&t.date_naive())).unwrap_or_default(),
            username: u.username,
        })
        .collect();
    Ok(UsersPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/admin/users?lang={}", tr.other()),
        users,
        agencies,
        roles: [Role::Member, Role::Steward, Role::Admin].into_iter().map(|r| (r.code(), role_words(tr, r))).collect(),
        done,
        error,
    })
}

/// `GET /admin/users` (administrators).
pub async fn users_show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, uri: Uri) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    let done = crate::params::pairs(&uri).into_iter().find(|(k, _)| k == "done").map(|(_, v)| user_done_words(tr, &v));
    match users_page(&app, tr, &caller, done, None).await {
        Ok(p) => p.into_response(),
        Err(e) => error_page(tr, e),
    }
}

fn user_done_words(tr: Tr, action: &str) -> String {
    match action {
        "create" => tr.t("Đã tạo tài khoản.", "The account was created."),
        "disable" => tr.t(
            "Đã khoá tài khoản; các phiên và khoá API của nó đã chấm dứt.",
            "The account was disabled; its sessions and API tokens ended.",
        ),
        "enable" => tr.t("Đã mở lại tài khoản.", "The account was enabled."),
        "move" => tr.t(
            "Đã chuyển tài khoản; các phiên và khoá API của nó đã chấm dứt.",
            "The account was moved; its sessions and API tokens ended.",
        ),
        "email" => tr.t("Đã lưu thư điện tử.", "The e-mail address was saved."),
        "password" => tr.t("Đã đặt mật khẩu mới.", "The new password was set."),
        _ => tr.t("Đã lưu.", "Saved."),
    }
    .to_string()
}

/// `POST /admin/users`: one action (`action` = create, disable, enable,
/// move, email, password) on one account, then back to the list.
pub async fn users_submit(State(app): State<AppState>, tr: Tr, request: Request) -> Response {
    let (caller, form) = match read_form(&app, tr, request, MAX_FORM_BYTES).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let action = field(&form, "action").unwrap_or_default().to_string();
    match act_on_user(&app, &caller, &action, &form).await {
        Ok(()) => back(tr, "/admin/users", &action),
        Err(e) => {
            let (status, message) = failure(tr, &e);
            match users_page(&app, tr, &caller, None, Some(message)).await {
                Ok(p) => (status, p).into_response(),
                Err(_) => error_page(tr, e),
            }
        }
    }
}

async fn act_on_user(app: &AppState, caller: &Caller, action: &str, form: &[(String, String)]) -> Result<(), ApiError> {
    let value = |k: &str| field(form, k);
    let username = value("username").ok_or_else(|| ApiError::bad_request("thiếu tên đăng nhập", "the username is missing"))?.to_string();
    let role = |k: &str| -> Result<Option<Role>, ApiError> {
        value(k)
            .map(|r| r.parse::<Role>().map_err(|r| ApiError::bad_request(format!("vai trò «{r}» không có"), format!("no role «{r}»"))))
            .transpose()
    };
    match action {
        "create" => {
            let new = NewUser {
                username,
                display_name: value("display_name").map(str::to_string),
                agency: value("agency").map(str::to_string),
                role: role("role")?.unwrap_or(Role::Member),
                password: Some(value("password").unwrap_or_default().to_string()),
                email: value("email").map(str::to_string),
            };
            accounts::create_user(app, caller, new).await.map(drop)
        }
        "disable" | "enable" => accounts::set_enabled(app, caller, &username, action == "enable").await.map(drop),
        "move" => accounts::move_user(app, caller, &username, value("agency"), role("role")?).await.map(drop),
        "email" => accounts::set_email(app, caller, &username, value("email")).await.map(drop),
        "password" => accounts::set_password(app, caller, &username, value("password").unwrap_or_default()).await,
        other => {
            let shown: String = other.chars().take(32).collect();
            Err(ApiError::bad_request(format!("thao tác «{shown}» không có"), format!("no such action «{shown}»")))
        }
    }
}
