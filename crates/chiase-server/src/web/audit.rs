//! `/audit`: the audit log a signed-in steward may read (its agency's
//! datasets; everything for an administrator), filtered by dataset, who,
//! what and when, paged, with the same view as CSV. The events come from
//! the same use case and policy as `GET /api/v1/audit`.

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use chiase_store::audit::AuditFilter;
use chrono::{DateTime, FixedOffset, Utc};

use super::catalog::{error_page, who};
use super::{Tr, query_string};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;
use crate::usecase::{audit, find_dataset};

/// Events on a page.
const PAGE: i64 = 100;

struct EventRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    source: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "audit.html")]
struct AuditPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    /// The filters as given, for the form.
    dataset: String,
    actor: String,
    action: String,
    from: String,
    to: String,
    events: Vec<EventRow>,
    next_href: Option<String>,
    csv_href: String,
}

/// An action in words.
fn action_words(tr: Tr, action: &str) -> String {
    let (vi, en) = match action {
        "read" => ("xem dữ liệu", "read"),
        "import" => ("nhập tệp", "import"),
        "records_written" | "write" => ("ghi bản ghi", "write"),
        "sign_in" => ("đăng nhập", "sign-in"),
        "sign_out" => ("đăng xuất", "sign-out"),
        "request_created" => ("gửi yêu cầu", "request sent"),
        "request_approved" => ("duyệt yêu cầu", "request approved"),
        "request_refused" => ("từ chối yêu cầu", "request refused"),
        "export" => ("tải về", "download"),
        _ => return action.to_string(),
    };
    format!("{} ({action})", tr.t(vi, en))
}

/// A stored time in Vietnam's time (UTC+7, no summer time), dd/mm/yyyy in Vietnamese.
fn local_time(tr: Tr, at: &str) -> String {
    let vn = FixedOffset::east_opt(7 * 3600).expect("BUG: a valid offset");
    match DateTime::parse_from_rfc3339(at) {
        Ok(t) => {
            let t = t.with_timezone(&vn);
            if tr.is_en() { t.format("%Y-%m-%d %H:%M:%S").to_string() } else { t.format("%d/%m/%Y %H:%M:%S").to_string() }
        }
        Err(_) => at.to_string(),
    }
}

pub async fn audit_log(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, uri: Uri) -> Result<Response, Response> {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Ok(Redirect::to(&tr.link("/login")).into_response()),
    };
    let p = Params::parse(uri.query(), &["dataset", "actor", "action", "from", "to", "after", "lang"]).map_err(|e| error_page(tr, e))?;
    let text = |k: &str| -> Result<String, Response> { Ok(p.one(k).map_err(|e| error_page(tr, e))?.unwrap_or("").to_string()) };
    let (dataset, actor, action, from, to) = (text("dataset")?, text("actor")?, text("action")?, text("from")?, text("to")?);
    let day = |v: &str, end: bool| -> Result<Option<DateTime<Utc>>, Response> {
        if v.is_empty() {
            return Ok(None);
        }
        let d = crate::params::parse_date(v).ok_or_else(|| {
            error_page(
                tr,
                ApiError::bad_request(format!("ngày «{v}» không hợp lệ (dd/mm/yyyy)"), format!("invalid date «{v}» (dd/mm/yyyy)")),
            )
        })?;
        // Whole days: "to" includes its day.
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc() - chrono::Duration::hours(7)))
    };
    let dataset_pk = match dataset.as_str() {
        "" => None,
        id => Some(find_dataset(&app, id).await.map_err(|e| error_page(tr, e))?.pk.get()),
    };
    let filter = AuditFilter {
        dataset: dataset_pk,
        actor: Some(actor.clone()).filter(|a| !a.is_empty()),
        action: Some(action.clone()).filter(|a| !a.is_empty()),
        from: day(&from, false)?,
        to: day(&to, true)?,
        after_seq: p.int("after", 0, 0, i64::MAX).map_err(|e| error_page(tr, e))?,
        limit: PAGE,
    };
    let events = audit::events(&app, &caller, &filter).await.map_err(|e| error_page(tr, e))?;
    let view: Vec<(&str, String)> = [("dataset", &dataset), ("actor", &actor), ("action", &action), ("from", &from), ("to", &to)]
        .into_iter()
        .map(|(k, v)| (k, v.clone()))
        .collect();
    let next_href = (events.len() as i64 == PAGE).then(|| {
        let mut q = view.clone();
        q.push(("after", events.last().map(|e| e.seq).unwrap_or(0).to_string()));
        if tr.is_en() {
            q.push(("lang", "en".into()));
        }
        format!("/audit{}", query_string(&q))
    });
    // The CSV of the same filters (dates as the API reads them).
    let mut csv = view.clone();
    csv.push(("format", "csv".into()));
    csv.push(("limit", "100000".into()));
    let rows = events
        .into_iter()
        .map(|e| EventRow {
            seq: e.seq,
            at: local_time(tr, &e.at),
            actor: e.actor,
            action: action_words(tr, &e.action),
            target: e.target.unwrap_or_default(),
            source: e.source.unwrap_or_default(),
        })
        .collect();
    let mut lang_q = view.clone();
    lang_q.push(("lang", tr.other().into()));
    let (who, session_csrf) = who(&app, Some(&caller)).await;
    let page = AuditPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/audit{}", query_string(&lang_q)),
        dataset,
        actor,
        action,
        from,
        to,
        events: rows,
        next_href,
        csv_href: format!("/api/v1/audit{}", query_string(&csv)),
    };
    Ok(page.into_response())
}
