//! `/admin/harvest`: the catalogs chiase harvests. Each source with its
//! type, period and latest run; a form to add one; "run now" and remove;
//! `/admin/harvest?source=ID` shows a source's runs with their reports
//! (what was added, changed, removed, left alone, failed and why) and the
//! entries it brought. Administrators, through `usecase::harvest`.

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use chiase_store::harvest::{HarvestRun, HarvestedEntry};

use super::catalog::{error_page, who};
use super::{Tr, field, period, read_form, when};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecase::harvest;

const MAX_FORM_BYTES: usize = 8 * 1024;

struct SourceRow {
    id: String,
    kind: String,
    url: String,
    every: String,
    database: String,
    last: String,
    last_ok: Option<bool>,
}

struct RunRow {
    started: String,
    status: String,
    ok: bool,
    counts: String,
    error: String,
    lines: Vec<(String, String, String)>,
}

struct EntryRow {
    title: String,
    remote_id: String,
    publisher: String,
    dataset: String,
    link: String,
    harvested: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "admin_harvest.html")]
struct HarvestPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    sources: Vec<SourceRow>,
    /// The source shown in detail, with its runs and entries.
    detail: Option<(String, Vec<RunRow>, Vec<EntryRow>)>,
    done: Option<String>,
    error: Option<String>,
}

fn counts(tr: Tr, r: &HarvestRun) -> String {
    format!(
        "{} {} · {} {} · {} {} · {} {} · {} {}",
        r.added,
        tr.t("thêm", "added"),
        r.changed,
        tr.t("đổi", "changed"),
        r.removed,
        tr.t("bỏ", "removed"),
        r.unchanged,
        tr.t("giữ nguyên", "unchanged"),
        r.failed,
        tr.t("lỗi", "failed")
    )
}

fn outcome(tr: Tr, o: &str) -> String {
    match o {
        "added" => tr.t("thêm", "added"),
        "changed" => tr.t("đổi", "changed"),
        "removed" => tr.t("bỏ", "removed"),
        "failed" => tr.t("lỗi", "failed"),
        "skipped" => tr.t("bỏ qua", "skipped"),
        other => other,
    }
    .to_string()
}

fn run_row(tr: Tr, r: &HarvestRun) -> RunRow {
    let lines = match &r.report.0 {
        serde_json::Value::Array(a) => a
            .iter()
            .take(500)
            .map(|l| {
                (
                    outcome(tr, l["outcome"].as_str().unwrap_or("")),
                    match (l["title"].as_str(), l["entry"].as_str().unwrap_or("")) {
                        (Some(t), e) if t != e => format!("{t} ({e})"),
                        (_, e) => e.to_string(),
                    },
                    l["reason"].as_str().or_else(|| l["dataset"].as_str()).unwrap_or("").to_string(),
                )
            })
            .collect(),
        _ => vec![],
    };
    RunRow {
        started: when(tr, r.started_at),
        ok: r.status == "ok",
        status: match r.status.as_str() {
            "ok" => tr.t("xong", "done"),
            "running" => tr.t("đang chạy", "running"),
            _ => tr.t("thất bại — không thay đổi gì", "failed — nothing changed"),
        }
        .to_string(),
        counts: counts(tr, r),
        error: r.error.clone().unwrap_or_default(),
        lines,
    }
}

fn entry_row(tr: Tr, e: HarvestedEntry) -> EntryRow {
    EntryRow {
        title: e.title,
        remote_id: e.remote_id,
        publisher: e.publisher.unwrap_or_default(),
        dataset: e.dataset.unwrap_or_default(),
        link: e.landing_url.filter(|u| u.starts_with("https://") || u.starts_with("http://")).unwrap_or_default(),
        harvested: when(tr, e.harvested_at),
    }
}

async fn page(
    app: &AppState,
    tr: Tr,
    caller: &Caller,
    detail: Option<&str>,
    done: Option<String>,
    error: Option<String>,
) -> Result<HarvestPage, ApiError> {
    let listed = harvest::list(app, caller).await?;
    let sources = listed
        .iter()
        .map(|l| SourceRow {
            id: l.source.id.clone(),
            kind: l.source.kind.clone(),
            url: l.source.url.clone(),
            every: period(tr, l.source.every_secs),
            database: l.source.database.clone().unwrap_or_default(),
            last: l
                .last_run
                .as_ref()
                .map(|r| format!("{} — {}", when(tr, r.started_at), counts(tr, r)))
                .unwrap_or_else(|| tr.t("chưa chạy", "never run").to_string()),
            last_ok: l.last_run.as_ref().map(|r| r.status == "ok"),
        })
        .collect();
    let detail = match detail {
        Some(id) => {
            let (source, runs, entries) = harvest::show(app, caller, id).await?;
            Some((source.id, runs.iter().map(|r| run_row(tr, r)).collect(), entries.into_iter().map(|e| entry_row(tr, e)).collect()))
        }
        None => None,
    };
    let (who, session_csrf) = who(app, Some(caller)).await;
    Ok(HarvestPage { tr, who, session_csrf, lang_href: format!("/admin/harvest?lang={}", tr.other()), sources, detail, done, error })
}

/// `GET /admin/harvest[?source=ID]`.
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, uri: Uri) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    let source = crate::params::pairs(&uri).into_iter().find(|(k, _)| k == "source").map(|(_, v)| v);
    match page(&app, tr, &caller, source.as_deref(), None, None).await {
        Ok(p) => p.into_response(),
        Err(e) => error_page(tr, e),
    }
}

/// `POST /admin/harvest`: `action` add (id, url, type, every, database),
/// run or remove (`id`).
pub async fn submit(State(app): State<AppState>, tr: Tr, request: Request) -> Response {
    let (caller, form) = match read_form(&app, tr, request, MAX_FORM_BYTES).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |k: &str| field(&form, k).unwrap_or_default().to_string();
    let opt = |k: &str| Some(get(k)).filter(|v| !v.is_empty());
    let id = get("id");
    let outcome: Result<(String, Option<String>), ApiError> = match get("action").as_str() {
        "add" => {
            // A timeout that is not a number is refused by the use case's range check.
            let timeout = opt("timeout").map(|t| t.parse::<i64>().unwrap_or(0));
            let a = harvest::AddSource {
                id: id.clone(),
                url: get("url"),
                kind: get("type"),
                every: opt("every"),
                database: opt("database"),
                timeout_secs: timeout,
            };
            harvest::add(&app, &caller, a).await.map(|s| (format!("{} «{}»", tr.t("Đã thêm nguồn", "Source added:"), s.id), None))
        }
        "run" => harvest::run_now(&app, &caller, &id).await.map(|r| {
            let msg = if r.status == "ok" {
                format!("{} «{id}»: {}", tr.t("Đã thu thập", "Harvested"), counts(tr, &r))
            } else {
                format!(
                    "«{id}»: {} — {}",
                    tr.t("lượt thu thập thất bại, không thay đổi gì", "the run failed, nothing changed"),
                    r.error.unwrap_or_default()
                )
            };
            (msg, Some(id.clone()))
        }),
        "remove" => {
            harvest::remove(&app, &caller, &id).await.map(|()| (format!("{} «{id}»", tr.t("Đã gỡ nguồn", "Source removed:")), None))
        }
        _ => Err(ApiError::bad_request("thao tác không có", "no such action")),
    };
    match outcome {
        Ok((done, detail)) => match page(&app, tr, &caller, detail.as_deref(), Some(done), None).await {
            Ok(p) => p.into_response(),
            Err(e) => error_page(tr, e),
        },
        Err(e) => {
            let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status };
            let msg = if tr.is_en() { e.msg.en.clone() } else { e.msg.vi.clone() };
            match page(&app, tr, &caller, None, None, Some(msg)).await {
                Ok(p) => (status, p).into_response(),
                Err(_) => error_page(tr, e),
            }
        }
    }
}
