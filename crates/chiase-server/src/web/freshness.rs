//! `/freshness`: the public freshness and quality dashboard. For every
//! database and dataset, grouped by owner agency (those with overdue data
//! first): the cadence expected, the last update, when the next one is due
//! and whether it is overdue (in words), and a quality score naming what is
//! missing. Computed by `usecase::freshness`, which shows the reader only
//! what the policy lets them see.

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};

use super::Tr;
use super::catalog::{error_page, who};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;
use crate::usecase::freshness::{self as usecase, DESCRIPTION_MIN, Due, Missing, OPEN_REVIEW_MONTHS, Quality};

/// Names listed in one "missing" item before "…".
const NAMES_SHOWN: usize = 4;

struct AgencyView {
    id: String,
    href: String,
    name: String,
    datasets: usize,
    overdue: usize,
    average: Option<u32>,
    databases: Vec<DatabaseView>,
}

struct DatabaseView {
    href: String,
    label: String,
    cadence: &'static str,
    last: String,
    /// Says how many datasets it holds, or that it holds none yet.
    note: String,
    datasets: Vec<DatasetView>,
}

struct DatasetView {
    href: String,
    title: String,
    mode_code: &'static str,
    mode: &'static str,
    cadence: String,
    last: String,
    due: String,
    overdue: bool,
    status: &'static str,
    score: u32,
    score_note: &'static str,
    missing: Vec<String>,
    /// "Synchronised from <host> / pushed by the agency's system, last …" (empty: not synchronised).
    sync: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "freshness.html")]
struct FreshnessPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    today: String,
    datasets: usize,
    overdue: usize,
    withheld: usize,
    review_months: u32,
    description_min: usize,
    agencies: Vec<AgencyView>,
}

pub async fn dashboard(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, uri: Uri) -> Result<Response, Response> {
    Params::parse(uri.query(), &["lang"]).map_err(|e| error_page(tr, e))?;
    let (who, session_csrf) = who(&app, caller.as_ref().ok()).await;
    // An expired or bad session reads as the public, as the catalog pages do.
    let viewer = caller.unwrap_or_else(|_| Caller::anonymous(None));
    let d = usecase::dashboard(&app, &viewer).await.map_err(|e| error_page(tr, e))?;
    let lang = tr.lang;
    let agencies = d
        .agencies
        .into_iter()
        .map(|g| AgencyView {
            href: tr.link(&format!("/agencies/{}", g.id)),
            id: g.id,
            name: g.name,
            datasets: g.datasets,
            overdue: g.overdue,
            average: g.average_score,
            databases: g
                .databases
                .into_iter()
                .map(|db| DatabaseView {
                    href: tr.link(&format!("/databases/{}", db.id)),
                    label: match db.no {
                        Some(no) => format!("{no}. {}", db.name),
                        None => db.name.clone(),
                    },
                    cadence: db.cadence.label(lang),
                    last: db.last_update.map(|t| tr.date(&t)).unwrap_or_default(),
                    note: match (db.datasets.len(), db.overdue) {
                        (0, _) => tr.t("Chưa có tập dữ liệu nào trên nền tảng", "No dataset on the platform yet").to_string(),
                        (n, 0) => format!("{n} {}", tr.t("tập dữ liệu", "dataset(s)")),
                        (n, o) => format!("{n} {}, {o} {}", tr.t("tập dữ liệu", "dataset(s)"), tr.t("quá hạn", "overdue")),
                    },
                    datasets: db.datasets.into_iter().map(|s| dataset_view(tr, s)).collect(),
                })
                .collect(),
        })
        .collect();
    let page = FreshnessPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/freshness?lang={}", tr.other()),
        today: tr.date(&d.today),
        datasets: d.datasets,
        overdue: d.overdue,
        withheld: d.withheld,
        review_months: OPEN_REVIEW_MONTHS,
        description_min: DESCRIPTION_MIN,
        agencies,
    };
    Ok(page.into_response())
}

fn dataset_view(tr: Tr, s: usecase::DatasetFreshness) -> DatasetView {
    let lang = tr.lang;
    let cadence = if s.cadence_from_database {
        format!("{} ({})", s.cadence.label(lang), tr.t("theo CSDL", "from the database"))
    } else {
        s.cadence.label(lang).to_string()
    };
    let (last, due, status) = match &s.due {
        Due::Withheld => (String::new(), String::new(), tr.t("Không công khai", "Not public")),
        Due::Known { last, created, due, overdue } => {
            let last_text = match last {
                Some(t) => tr.date(t),
                None => format!("{} ({} {})", tr.t("chưa có", "never"), tr.t("tạo ngày", "created"), tr.date(created)),
            };
            let status = match (overdue, due, last) {
                (true, _, _) => tr.t("Quá hạn", "Overdue"),
                (false, None, _) => tr.t("Không có hạn định", "No deadline"),
                (false, Some(_), None) => tr.t("Chờ dữ liệu đầu tiên", "Awaiting first data"),
                (false, Some(_), Some(_)) => tr.t("Đúng hạn", "Up to date"),
            };
            (last_text, due.map(|d| tr.date(&d)).unwrap_or_default(), status)
        }
    };
    let Quality { score, missing, empty_not_assessed } = &s.quality;
    DatasetView {
        href: tr.link(&format!("/datasets/{}", s.id)),
        title: tr.title(&s.title, s.title_en.as_deref()),
        mode_code: s.mode.code(),
        mode: s.mode.label(lang),
        cadence,
        last,
        due,
        overdue: s.due.is_overdue(),
        status,
        score: *score,
        score_note: if *empty_not_assessed { tr.t("không tính ô trống", "empty cells not counted") } else { "" },
        missing: missing.iter().map(|m| missing_text(tr, m)).collect(),
        sync: s.sync.as_ref().map(|y| sync_text(tr, y)).unwrap_or_default(),
    }
}

fn sync_text(tr: Tr, y: &usecase::SyncShown) -> String {
    let mut parts = vec![];
    if let Some(h) = &y.host {
        parts.push(format!("{} {h}", tr.t("Đồng bộ từ", "Synchronised from")));
    }
    if y.pushed {
        parts.push(tr.t("Hệ thống của cơ quan đẩy dữ liệu lên", "Pushed by the agency's system").to_string());
    }
    if parts.is_empty() {
        parts.push(tr.t("Đồng bộ tự động", "Synchronised").to_string());
    }
    let mut out = parts.join("; ");
    if let Some(t) = y.last_ok {
        let vn = t.with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).expect("BUG: a valid offset"));
        let when = format!("{} {}", tr.date(&vn.date_naive()), vn.format("%H:%M"));
        out.push_str(&format!(" — {} {when}", tr.t("lần đồng bộ thành công gần nhất", "last successful sync")));
    }
    out
}

fn names(v: &[String]) -> String {
    let mut s = v.iter().take(NAMES_SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > NAMES_SHOWN {
        s.push_str(&format!(" (+{})", v.len() - NAMES_SHOWN));
    }
    s
}

fn missing_text(tr: Tr, m: &Missing) -> String {
    match m {
        Missing::Description => tr.t("Thiếu mô tả", "No description").to_string(),
        Missing::DescriptionShort => {
            format!("{} {DESCRIPTION_MIN} {}", tr.t("Mô tả quá ngắn (dưới", "Description too short (under"), tr.t("ký tự)", "characters)"))
        }
        Missing::Licence => tr.t("Thiếu giấy phép, điều khoản sử dụng", "No licence or terms of use").to_string(),
        Missing::FieldTitles(v) => format!("{}: {}", tr.t("Trường chưa có tên hiển thị", "Fields without a title"), names(v)),
        Missing::Units(v) => format!("{}: {}", tr.t("Chưa ghi đơn vị tính", "No unit stated"), names(v)),
        Missing::NoRows => tr.t("Chưa có dữ liệu", "No data yet").to_string(),
        Missing::EmptyCells(p) => format!("{p}% {}", tr.t("ô trống ở các trường cần điền", "of the cells expected to be filled are empty")),
        Missing::Review { last, due } => format!(
            "{} {} ({} {})",
            tr.t("Quá hạn rà soát dữ liệu mở từ", "Open-data review overdue since"),
            tr.date(due),
            tr.t("lần gần nhất", "last"),
            tr.date(last)
        ),
    }
}
