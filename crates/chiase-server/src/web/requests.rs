//! Asking for data from the portal: `/datasets/{id}/request` (a signed-in
//! officer's request form: fields, purpose, legal basis, period) and
//! `/requests` (what my agency asked for and, for stewards, what it must
//! decide, overdue first). Filing goes through the same use case and
//! policy as `POST /api/v1/requests`; a form's anti-forgery token is the
//! session's, checked by the same extractor as the API's header.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chiase_core::policy::RequestBox;
use chiase_core::schema::PersonalClass;
use chiase_store::requests::SharingRequest;
use chrono::{Duration, Utc};

use super::Tr;
use super::catalog::{error_page, who};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::usecase::requests::{self, Filed, Filing};

/// The largest form accepted (a purpose of 2,000 characters and the fields).
const MAX_FORM_BYTES: usize = 64 * 1024;

struct FieldChoice {
    name: String,
    title: String,
    personal: &'static str,
    checked: bool,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "request_form.html")]
struct RequestForm {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    id: String,
    title: String,
    owner: String,
    fields: Vec<FieldChoice>,
    purpose: String,
    legal_basis: String,
    from: String,
    to: String,
    error: Option<String>,
    /// Not signed in, or signed in without an agency: why the form is not shown.
    blocked: Option<String>,
}

/// The form's values, as sent.
#[derive(Default)]
struct Sent {
    fields: Vec<String>,
    purpose: String,
    legal_basis: String,
    from: String,
    to: String,
    csrf: String,
}

fn parse_sent(body: &[u8]) -> Sent {
    let mut s = Sent::default();
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "fields" => s.fields.push(v.into_owned()),
            "purpose" => s.purpose = v.into_owned(),
            "legal_basis" => s.legal_basis = v.into_owned(),
            "from" => s.from = v.into_owned(),
            "to" => s.to = v.into_owned(),
            "csrf" => s.csrf = v.into_owned(),
            _ => {}
        }
    }
    s
}

async fn form_page(app: &AppState, tr: Tr, caller: &Caller, id: &str, sent: &Sent, error: Option<String>, status: StatusCode) -> Response {
    let ds = match crate::usecase::find_dataset(app, id).await {
        Ok(d) => d,
        Err(e) => return error_page(tr, e),
    };
    let blocked = match (&caller.user, caller.subject.state_agency()) {
        (None, _) => Some(tr.t(
            "Hãy đăng nhập bằng tài khoản của cơ quan để gửi yêu cầu khai thác dữ liệu.",
            "Sign in with your agency's account to request data.",
        )),
        (Some(_), None) => Some(tr.t(
            "Tài khoản của bạn không thuộc cơ quan nhà nước nào; chỉ cơ quan mới gửi được yêu cầu khai thác.",
            "Your account belongs to no state agency; only agencies can request data.",
        )),
        _ => None,
    }
    .map(str::to_string);
    let today = Utc::now().date_naive();
    let fields = ds
        .schema
        .fields
        .iter()
        .map(|f| FieldChoice {
            name: f.name.clone(),
            title: f.title.clone().unwrap_or_else(|| f.name.clone()),
            personal: if f.personal == PersonalClass::None { "" } else { f.personal.label(tr.lang) },
            checked: sent.fields.contains(&f.name) || (sent.fields.is_empty() && f.personal == PersonalClass::None),
        })
        .collect();
    let (who, session_csrf) = who(app, Some(caller)).await;
    let page = RequestForm {
        tr,
        who,
        session_csrf,
        lang_href: format!("/datasets/{}/request?lang={}", ds.id, tr.other()),
        id: ds.id.clone(),
        title: tr.title(&ds.title, ds.title_en.as_deref()),
        owner: ds.owner.name.clone(),
        fields,
        purpose: sent.purpose.clone(),
        legal_basis: sent.legal_basis.clone(),
        from: if sent.from.is_empty() { today.to_string() } else { sent.from.clone() },
        to: if sent.to.is_empty() { (today + Duration::days(365)).to_string() } else { sent.to.clone() },
        error,
        blocked,
    };
    (status, page).into_response()
}

/// `GET /datasets/{id}/request`.
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, ApiPath(id): ApiPath<String>) -> Response {
    let caller = caller.unwrap_or_else(|_| Caller::anonymous(None));
    form_page(&app, tr, &caller, &id, &Sent::default(), None, StatusCode::OK).await
}

/// `POST /datasets/{id}/request`: files the request, then shows my requests.
pub async fn submit(State(app): State<AppState>, tr: Tr, ApiPath(id): ApiPath<String>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return error_page(tr, ApiError::too_large(MAX_FORM_BYTES));
    };
    let sent = parse_sent(&bytes);
    let caller = match super::form_caller(&app, &mut parts, &sent.csrf).await {
        Ok(c) => c,
        Err(e) => return error_page(tr, e),
    };
    let date = |s: &str| crate::params::parse_date(s.trim());
    let (Some(from), Some(to)) = (date(&sent.from), date(&sent.to)) else {
        let msg = tr.t("Ngày không hợp lệ: ghi dd/mm/yyyy.", "Invalid date: write dd/mm/yyyy.").to_string();
        return form_page(&app, tr, &caller, &id, &sent, Some(msg), StatusCode::BAD_REQUEST).await;
    };
    let filing = Filing {
        dataset: id.clone(),
        fields: Some(sent.fields.clone()).filter(|f| !f.is_empty()),
        purpose: Some(sent.purpose.clone()),
        legal_basis: Some(sent.legal_basis.clone()).filter(|b| !b.trim().is_empty()),
        from,
        to,
    };
    match requests::file(&app, &caller, filing).await {
        Ok(Filed::Request(_)) => Redirect::to(if tr.is_en() { "/requests?filed=1&lang=en" } else { "/requests?filed=1" }).into_response(),
        Ok(Filed::NotNeeded(_)) => {
            let msg = tr.t(
                "Cơ quan của bạn đã được xem các trường này; không cần gửi yêu cầu.",
                "Your agency can read these fields already; no request is needed.",
            );
            form_page(&app, tr, &caller, &id, &sent, Some(msg.to_string()), StatusCode::OK).await
        }
        Err(e) => {
            let status = e.status;
            let msg = if tr.is_en() { e.msg.en } else { e.msg.vi };
            form_page(&app, tr, &caller, &id, &sent, Some(msg), status).await
        }
    }
}

struct RequestRow {
    id: i64,
    dataset_href: String,
    dataset: String,
    party: String,
    status: String,
    created: String,
    deadline: String,
    overdue: bool,
    period: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "requests.html")]
struct RequestsPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    filed: bool,
    mine: Vec<RequestRow>,
    to_decide: Option<Vec<RequestRow>>,
}

fn status_words(tr: Tr, r: &SharingRequest) -> String {
    let s = match r.status.code() {
        "pending" => tr.t("đang chờ quyết định", "waiting for a decision"),
        "approved" if r.expired => tr.t("đã duyệt, hết hạn", "approved, expired"),
        "approved" => tr.t("đã duyệt", "approved"),
        "refused" => tr.t("bị từ chối", "refused"),
        "withdrawn" => tr.t("đã rút", "withdrawn"),
        "revoked" => tr.t("đã thu hồi", "revoked"),
        other => other,
    };
    s.to_string()
}

fn rows(tr: Tr, list: Vec<SharingRequest>, theirs: bool) -> Vec<RequestRow> {
    let d = |t: chrono::DateTime<Utc>| tr.date(&t.date_naive());
    let mut rows: Vec<(bool, chrono::DateTime<Utc>, RequestRow)> = list
        .into_iter()
        .map(|r| {
            let row = RequestRow {
                id: r.id.get(),
                dataset_href: tr.link(&format!("/datasets/{}", r.dataset)),
                dataset: r.dataset_title.clone(),
                party: if theirs { r.agency.name.clone() } else { r.owner.name.clone() },
                status: status_words(tr, &r),
                created: d(r.created_at),
                deadline: d(r.deadline_at),
                overdue: r.overdue,
                // The period's end is exclusive (midnight after its last day): show the last day.
                period: format!("{} – {}", d(r.period_from), d(r.period_to - Duration::seconds(1))),
            };
            (r.overdue, r.deadline_at, row)
        })
        .collect();
    // Overdue first, then the nearest deadline.
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    rows.into_iter().map(|(_, _, r)| r).collect()
}

/// `GET /requests`: my agency's requests, and those it must decide.
pub async fn list(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, uri: axum::http::Uri) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    let mine = match requests::list(&app, &caller, RequestBox::Mine, None).await {
        Ok(l) => rows(tr, l, false),
        Err(_) => Vec::new(),
    };
    let to_decide = requests::list(&app, &caller, RequestBox::ToDecide, None).await.ok().map(|l| rows(tr, l, true));
    let (who, session_csrf) = who(&app, Some(&caller)).await;
    let filed = uri.query().is_some_and(|q| q.contains("filed=1"));
    let page = RequestsPage { tr, who, session_csrf, lang_href: format!("/requests?lang={}", tr.other()), filed, mine, to_decide };
    page.into_response()
}

/// A field of a request's page: its title, whether it was asked and granted.
struct AskedField {
    name: String,
    title: String,
    personal: &'static str,
    granted: bool,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "request.html")]
struct RequestPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    id: i64,
    dataset_href: String,
    dataset: String,
    owner: String,
    agency: String,
    requester: String,
    status: String,
    created: String,
    deadline: String,
    overdue: bool,
    period: String,
    purpose: String,
    legal_basis: String,
    /// The fields asked (all non-personal fields when none were named).
    fields: Vec<AskedField>,
    decision: Option<String>,
    refusal: Option<(String, String)>,
    /// The caller may approve or refuse it now.
    can_decide: bool,
    /// The requester (or a steward of its agency) may withdraw it: pending, or approved and still running.
    can_withdraw: bool,
    /// The owner's stewards may revoke a running grant.
    can_revoke: bool,
    from: String,
    to: String,
    error: Option<String>,
}

async fn request_page(app: &AppState, tr: Tr, caller: &Caller, id: i64, error: Option<String>, status: StatusCode) -> Response {
    let r = match requests::show(app, caller, chiase_core::ids::RequestId(id)).await {
        Ok(r) => r,
        Err(e) => return error_page(tr, e),
    };
    let ds = match crate::usecase::find_dataset(app, &r.dataset).await {
        Ok(d) => d,
        Err(e) => return error_page(tr, e),
    };
    let d = |t: chrono::DateTime<Utc>| tr.date(&t.date_naive());
    let asked: Vec<String> = match &r.fields {
        Some(f) => f.clone(),
        None => ds.schema.fields.iter().filter(|f| f.personal == PersonalClass::None).map(|f| f.name.clone()).collect(),
    };
    let fields = ds
        .schema
        .fields
        .iter()
        .filter(|f| asked.contains(&f.name))
        .map(|f| AskedField {
            name: f.name.clone(),
            title: f.title.clone().unwrap_or_else(|| f.name.clone()),
            personal: if f.personal == PersonalClass::None { "" } else { f.personal.label(tr.lang) },
            granted: r.granted_fields.as_ref().is_some_and(|g| g.contains(&f.name)),
        })
        .collect();
    let pending = r.status.code() == "pending";
    let may = |step| chiase_core::policy::decide_step(&caller.subject, &r.facts(), step).is_ok();
    let can_decide = pending && may(chiase_core::requests::Step::Approve);
    let running = r.status.code() == "approved" && !r.expired;
    let can_withdraw = (pending || running) && may(chiase_core::requests::Step::Withdraw);
    let can_revoke = running && may(chiase_core::requests::Step::Revoke);
    let decision = match (&r.decision_no, r.decision_date, r.granted_from, r.granted_to) {
        (no, date, Some(from), Some(to)) => Some(format!(
            "{}{}{} {} – {}",
            no.as_deref().map(|n| format!("{} {n}", tr.t("Quyết định số", "Decision"))).unwrap_or_default(),
            date.map(|dd| format!(" {} {}", tr.t("ngày", "of"), tr.date(&dd))).unwrap_or_default(),
            if no.is_some() || date.is_some() { ";" } else { "" },
            d(from),
            d(to - Duration::seconds(1)),
        )),
        _ => None,
    };
    let (who, session_csrf) = who(app, Some(caller)).await;
    let page = RequestPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/requests/{id}?lang={}", tr.other()),
        id,
        dataset_href: tr.link(&format!("/datasets/{}", r.dataset)),
        dataset: r.dataset_title.clone(),
        owner: r.owner.name.clone(),
        agency: r.agency.name.clone(),
        requester: r.requester.clone(),
        status: status_words(tr, &r),
        created: d(r.created_at),
        deadline: d(r.deadline_at),
        overdue: r.overdue,
        period: format!("{} – {}", d(r.period_from), d(r.period_to - Duration::seconds(1))),
        purpose: r.purpose.clone(),
        legal_basis: r.legal_basis.clone().unwrap_or_default(),
        fields,
        decision,
        refusal: r.refusal_reason.clone().map(|why| (why, r.refusal_legal_basis.clone().unwrap_or_default())),
        can_decide,
        can_withdraw,
        can_revoke,
        from: r.period_from.date_naive().to_string(),
        to: (r.period_to - Duration::seconds(1)).date_naive().to_string(),
        error,
    };
    (status, page).into_response()
}

/// `GET /requests/{id}`: a request for its parties; its owner's stewards
/// decide it here.
pub async fn detail(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, ApiPath(id): ApiPath<i64>) -> Response {
    match caller {
        Ok(c) if c.user.is_some() => request_page(&app, tr, &c, id, None, StatusCode::OK).await,
        _ => Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    }
}

/// `POST /requests/{id}/approve`, `…/refuse` and `…/revoke` (the owner's
/// stewards), `…/withdraw` (the requester).
pub async fn decide(State(app): State<AppState>, tr: Tr, ApiPath((id, action)): ApiPath<(i64, String)>, request: Request) -> Response {
    let step = match action.as_str() {
        "approve" => chiase_core::requests::Step::Approve,
        "refuse" => chiase_core::requests::Step::Refuse,
        "withdraw" => chiase_core::requests::Step::Withdraw,
        "revoke" => chiase_core::requests::Step::Revoke,
        _ => return super::not_found(tr, axum::http::Uri::from_static("/requests")).await,
    };
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return error_page(tr, ApiError::too_large(MAX_FORM_BYTES));
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let one = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.trim().to_string()).filter(|v| !v.is_empty());
    let caller = match super::form_caller(&app, &mut parts, &one("csrf").unwrap_or_default()).await {
        Ok(c) => c,
        Err(e) => return error_page(tr, e),
    };
    let date = |k: &str| one(k).and_then(|s| crate::params::parse_date(&s));
    let details = requests::StepDetails {
        fields: Some(form.iter().filter(|(k, _)| k == "fields").map(|(_, v)| v.clone()).collect()),
        period: date("from").zip(date("to")),
        decision_no: one("decision_no"),
        decision_date: date("decision_date"),
        reason: one("reason"),
        legal_basis: one("legal_basis"),
    };
    match requests::step(&app, &caller, chiase_core::ids::RequestId(id), step, details).await {
        Ok(_) => Redirect::to(&tr.link(&format!("/requests/{id}"))).into_response(),
        Err(e) => {
            let status = e.status;
            let msg = if tr.is_en() { e.msg.en } else { e.msg.vi };
            request_page(&app, tr, &caller, id, Some(msg), status).await
        }
    }
}

/// A dataset as `/my-access` lists it: whether the reader may read its rows
/// and why.
struct AccessRow {
    href: String,
    title: String,
    owner: String,
    mode_code: &'static str,
    mode: &'static str,
    /// Why the rows can be read (or why not).
    why: String,
    readable: bool,
    /// Fields visible of all.
    fields: String,
    /// The grant's last day, when a grant is why.
    until: Option<String>,
    request_href: Option<String>,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "my_access.html")]
struct MyAccess {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    rows: Vec<AccessRow>,
}

/// `GET /my-access`: every dataset, whether the signed-in reader's agency
/// may read its rows, why (the sharing mode, ownership or a grant and its
/// end), and how many of its fields.
pub async fn my_access(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(&tr.link("/login")).into_response(),
    };
    let listed = match crate::usecase::datasets::list(&app, &caller, None).await {
        Ok(l) => l,
        Err(e) => return error_page(tr, e),
    };
    let grants = match caller.subject.state_agency() {
        Some(a) => app.store.grants_of(a).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let mut rows = Vec::new();
    for l in &listed {
        let ds = &l.dataset;
        let permit = crate::usecase::read_permit(&app, &caller, ds).await;
        let (readable, why, fields, until) = match &permit {
            Ok(p) => {
                let until = (p.reason() == chiase_core::policy::Reason::Grant)
                    .then(|| grants.iter().filter(|g| g.dataset_id == ds.pk).map(|g| g.valid_to).max())
                    .flatten()
                    .map(|t| tr.date(&(t - Duration::seconds(1)).date_naive()));
                let m = p.reason().msg();
                (true, if tr.is_en() { m.en } else { m.vi }, format!("{} / {}", p.visible().len(), ds.schema.fields.len()), until)
            }
            Err(e) => {
                (false, if tr.is_en() { e.msg.en.clone() } else { e.msg.vi.clone() }, format!("0 / {}", ds.schema.fields.len()), None)
            }
        };
        rows.push(AccessRow {
            href: tr.link(&format!("/datasets/{}", ds.id)),
            title: tr.title(&ds.title, ds.title_en.as_deref()),
            owner: ds.owner.name.clone(),
            mode_code: ds.sharing_mode.code(),
            mode: ds.sharing_mode.label(tr.lang),
            why,
            readable,
            fields,
            until,
            request_href: (ds.sharing_mode.code() != "open").then(|| tr.link(&format!("/datasets/{}/request", ds.id))),
        });
    }
    // What cannot be read last.
    rows.sort_by_key(|r| !r.readable);
    let (who, session_csrf) = who(&app, Some(&caller)).await;
    MyAccess { tr, who, session_csrf, lang_href: format!("/my-access?lang={}", tr.other()), rows }.into_response()
}
