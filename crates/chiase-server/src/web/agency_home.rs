//! `/my-agency`: a signed-in officer's agency at a glance: the databases it
//! owns and their datasets (rows, last update, links to upload and to the
//! audit log for its stewards), and, for stewards, how much each dataset
//! was read over the last twelve weeks, as a bar chart drawn on the server
//! (SVG, no script) with the same figures in a table.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chiase_core::policy::{decide_audit_read, decide_write};
use chrono::{Datelike, Duration, NaiveDate};

use super::Tr;
use super::catalog::{error_page, who};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecase::{audit, datasets, today_in_vietnam};

/// Weeks the chart covers.
const WEEKS: i64 = 12;
/// The chart's drawing box, in SVG units.
const CHART_W: f64 = 720.0;
const CHART_H: f64 = 180.0;

struct DatasetRow {
    id: String,
    title: String,
    database: String,
    database_id: String,
    sharing: &'static str,
    sharing_code: &'static str,
    rows: Option<i64>,
    updated: Option<String>,
    can_upload: bool,
    /// Reads in the chart's weeks.
    reads: i64,
}

/// One week's bar.
struct Bar {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    /// Monday of the week, as the reader writes dates.
    week: String,
    open: i64,
    audited: i64,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "my_agency.html")]
struct AgencyHome {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    agency_id: String,
    agency: String,
    datasets: Vec<DatasetRow>,
    /// The chart, for those who may read the audit log (stewards).
    bars: Option<Vec<Bar>>,
    most: i64,
    chart_w: f64,
    chart_h: f64,
}

/// `GET /my-agency`.
pub async fn my_agency(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    let Some(agency_pk) = caller.subject.state_agency() else {
        return error_page(tr, ApiError::denied(chiase_core::policy::Reason::NotStateAgency));
    };
    match page(&app, tr, &caller, agency_pk).await {
        Ok(p) => p.into_response(),
        Err(e) => error_page(tr, e),
    }
}

async fn page(app: &AppState, tr: Tr, caller: &Caller, agency_pk: chiase_core::ids::AgencyId) -> Result<AgencyHome, ApiError> {
    let listed = datasets::list(app, caller, None).await?;
    let ours: Vec<_> = listed.into_iter().filter(|l| l.dataset.owner_pk == agency_pk).collect();
    let (agency_id, agency) = match ours.first() {
        Some(l) => (l.dataset.owner.id.clone(), l.dataset.owner.name.clone()),
        None => app.store.agency_ref(agency_pk).await?.map(|a| (a.id, a.name)).unwrap_or_default(),
    };
    let today = today_in_vietnam();
    // Twelve whole weeks, Monday to Sunday, the last one this week.
    let first_monday = today - Duration::days(today.weekday().num_days_from_monday() as i64) - Duration::weeks(WEEKS - 1);
    let usage = if decide_audit_read(&caller.subject).is_ok() {
        Some(audit::usage(app, caller, first_monday, today + Duration::days(1)).await?)
    } else {
        None
    };
    let reads_of = |id: &str| usage.iter().flatten().filter(|u| u.dataset == id).map(|u| u.open_reads + u.audited_reads).sum();
    let mut rows: Vec<DatasetRow> = ours
        .iter()
        .map(|l| {
            let d = &l.dataset;
            DatasetRow {
                id: d.id.clone(),
                title: tr.title(&d.title, d.title_en.as_deref()),
                database: d.database.name.clone(),
                database_id: d.database.id.clone(),
                sharing: d.sharing_mode.label(tr.lang),
                sharing_code: d.sharing_mode.code(),
                rows: l.activity.as_ref().map(|a| a.row_count),
                updated: l.activity.as_ref().and_then(|a| a.data_updated_at).map(|t| tr.date(&t.date_naive())),
                can_upload: decide_write(&caller.subject, &d.facts()).is_ok(),
                reads: reads_of(&d.id),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.database.cmp(&b.database).then(a.title.cmp(&b.title)));
    let bars = usage.map(|u| weekly_bars(tr, first_monday, &u));
    let most = bars.iter().flatten().map(|b| b.open + b.audited).max().unwrap_or(0);
    let (who, session_csrf) = who(app, Some(caller)).await;
    Ok(AgencyHome {
        tr,
        who,
        session_csrf,
        lang_href: format!("/my-agency?lang={}", tr.other()),
        agency_id,
        agency,
        datasets: rows,
        bars,
        most,
        chart_w: CHART_W,
        chart_h: CHART_H,
    })
}

/// The weeks' totals as bars scaled to the tallest.
fn weekly_bars(tr: Tr, first_monday: NaiveDate, usage: &[chiase_store::audit::Usage]) -> Vec<Bar> {
    let mut weeks = vec![(0i64, 0i64); WEEKS as usize];
    for u in usage {
        let Ok(day) = NaiveDate::parse_from_str(&u.day, "%Y-%m-%d") else { continue };
        let i = (day - first_monday).num_days().div_euclid(7);
        if let Some(w) = usize::try_from(i).ok().and_then(|i| weeks.get_mut(i)) {
            w.0 += u.open_reads;
            w.1 += u.audited_reads;
        }
    }
    let most = weeks.iter().map(|(o, a)| o + a).max().unwrap_or(0).max(1) as f64;
    let slot = CHART_W / WEEKS as f64;
    weeks
        .iter()
        .enumerate()
        .map(|(i, &(open, audited))| {
            let h = ((open + audited) as f64 / most * (CHART_H - 20.0)).max(if open + audited > 0 { 1.0 } else { 0.0 });
            Bar {
                x: i as f64 * slot + slot * 0.15,
                y: CHART_H - h,
                w: slot * 0.7,
                h,
                week: tr.date(&(first_monday + Duration::weeks(i as i64))),
                open,
                audited,
            }
        })
        .collect()
}
