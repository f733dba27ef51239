//! `/datasets/{id}/sync`: for the stewards of a dataset's owner agency,
//! its pull jobs (upstream, paging, mode, period, latest run) with "run
//! now" and remove, a form to add one, the recent runs — pulls and pushes
//! from the agency's system — with their reports, and how to push.
//! Through `usecase::sync` (the policy's write permit).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chiase_store::sync::SyncRun;
use serde_json::{Map, Value};

use super::catalog::{error_page, who};
use super::{Tr, field, period, read_form, when};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::usecase::sync::{self, Paging};

const MAX_FORM_BYTES: usize = 32 * 1024;

struct JobRow {
    id: i64,
    url: String,
    paging: String,
    mode: String,
    every: String,
    credential: bool,
    last: String,
    last_ok: Option<bool>,
}

struct RunRow {
    started: String,
    kind: String,
    ok: bool,
    status: String,
    counts: String,
    error: String,
    /// Rows the import refused: (row, field, message).
    problems: Vec<(String, String, String)>,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "dataset_sync.html")]
struct SyncPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    id: String,
    title: String,
    jobs: Vec<JobRow>,
    runs: Vec<RunRow>,
    push_url: String,
    done: Option<String>,
    error: Option<String>,
}

fn counts(tr: Tr, r: &SyncRun) -> String {
    format!(
        "{} {} · {} {} · {} {}",
        r.rows_read,
        tr.t("bản ghi đọc", "records read"),
        r.imported,
        tr.t("thêm hoặc cập nhật", "inserted or updated"),
        r.deleted,
        tr.t("xoá", "deleted")
    )
}

fn paging_text(tr: Tr, v: &Value) -> String {
    match serde_json::from_value::<Paging>(v.clone()) {
        Ok(Paging::None) | Err(_) => tr.t("một trang", "one page").to_string(),
        Ok(Paging::Page { param, first }) => format!("{} ?{param}={first}…", tr.t("số trang", "page number")),
        Ok(Paging::Offset { offset_param, limit_param, size }) => format!("offset ?{offset_param}=…&{limit_param}={size}"),
        Ok(Paging::Cursor { cursor_at, param }) => format!("cursor {cursor_at} → ?{param}="),
        Ok(Paging::Next { next_at }) => format!("{} {next_at}", tr.t("liên kết trang sau", "next link")),
    }
}

fn run_row(tr: Tr, r: &SyncRun) -> RunRow {
    let problems = r.report.0["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .take(50)
                .map(|e| {
                    let msg = if tr.is_en() { &e["message_en"] } else { &e["message"] };
                    (e["row"].to_string(), e["column"].as_str().unwrap_or("").to_string(), msg.as_str().unwrap_or("").to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    RunRow {
        started: when(tr, r.started_at),
        kind: if r.kind == "push" { tr.t("đẩy lên", "push") } else { tr.t("kéo về", "pull") }.to_string(),
        ok: r.status == "ok",
        status: match r.status.as_str() {
            "ok" => tr.t("xong", "done"),
            "running" => tr.t("đang chạy", "running"),
            _ => tr.t("thất bại — không thay đổi gì", "failed — nothing changed"),
        }
        .to_string(),
        counts: counts(tr, r),
        error: r.error.clone().unwrap_or_default(),
        problems,
    }
}

async fn page(
    app: &AppState,
    tr: Tr,
    caller: &Caller,
    id: &str,
    done: Option<String>,
    error: Option<String>,
) -> Result<SyncPage, ApiError> {
    let o = sync::list(app, caller, id).await?;
    let jobs = o
        .jobs
        .iter()
        .map(|(j, last)| JobRow {
            id: j.id,
            url: j.url.clone(),
            paging: paging_text(tr, &j.paging.0),
            mode: if j.mode == "upsert" {
                tr.t("cập nhật theo khóa", "upsert by key")
            } else {
                tr.t("thay toàn bộ", "replace all")
            }
            .to_string(),
            every: period(tr, j.every_secs),
            credential: j.credential.is_some(),
            last: last
                .as_ref()
                .map(|r| format!("{} — {}", when(tr, r.started_at), counts(tr, r)))
                .unwrap_or_else(|| tr.t("chưa chạy", "never run").to_string()),
            last_ok: last.as_ref().map(|r| r.status == "ok"),
        })
        .collect();
    let runs = o.runs.iter().map(|r| run_row(tr, r)).collect();
    let (who, session_csrf) = who(app, Some(caller)).await;
    Ok(SyncPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/datasets/{}/sync?lang={}", o.ds.id, tr.other()),
        push_url: format!("{}/api/v1/datasets/{}/push", app.config.public_base().trim_end_matches('/'), o.ds.id),
        id: o.ds.id.clone(),
        title: tr.title(&o.ds.title, o.ds.title_en.as_deref()),
        jobs,
        runs,
        done,
        error,
    })
}

/// `GET /datasets/{id}/sync`.
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, ApiPath(id): ApiPath<String>) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    match page(&app, tr, &caller, &id, None, None).await {
        Ok(p) => p.into_response(),
        Err(e) => error_page(tr, e),
    }
}

/// The paging the form describes.
fn paging_of(form: &[(String, String)]) -> Result<Paging, ApiError> {
    let get = |k: &str, d: &str| field(form, k).unwrap_or(d).to_string();
    let num = |k: &str, d: i64| -> Result<i64, ApiError> {
        field(form, k)
            .map(|v| v.parse::<i64>())
            .transpose()
            .map(|v| v.unwrap_or(d))
            .map_err(|_| ApiError::bad_request(format!("«{k}» phải là một số nguyên"), format!("«{k}» must be a whole number")))
    };
    Ok(match field(form, "paging").unwrap_or("none") {
        "none" => Paging::None,
        "page" => Paging::Page { param: get("page_param", "page"), first: num("first", 1)? },
        "offset" => Paging::Offset {
            offset_param: get("offset_param", "offset"),
            limit_param: get("limit_param", "limit"),
            size: num("size", 100)?,
        },
        "cursor" => Paging::Cursor { cursor_at: get("cursor_at", ""), param: get("cursor_param", "cursor") },
        "next" => Paging::Next { next_at: get("next_at", "") },
        other => {
            let shown: String = other.chars().take(30).collect();
            return Err(ApiError::bad_request(format!("cách phân trang «{shown}» không có"), format!("no paging «{shown}»")));
        }
    })
}

/// Mapping lines `from=field` (or `from → field`).
fn mapping_of(text: &str) -> Result<Map<String, Value>, ApiError> {
    let mut m = Map::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((from, to)) = line.split_once('=').or_else(|| line.split_once('→')) else {
            let shown: String = line.chars().take(60).collect();
            return Err(ApiError::bad_request(
                format!("dòng ánh xạ «{shown}»: viết khoá_nguồn=trường"),
                format!("mapping line «{shown}»: write upstream_key=field"),
            ));
        };
        m.insert(from.trim().to_string(), Value::String(to.trim().to_string()));
    }
    Ok(m)
}

/// `POST /datasets/{id}/sync`: `action` add, run or remove (`job`).
pub async fn submit(State(app): State<AppState>, tr: Tr, ApiPath(id): ApiPath<String>, request: Request) -> Response {
    let (caller, form) = match read_form(&app, tr, request, MAX_FORM_BYTES).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |k: &str| field(&form, k).unwrap_or_default().to_string();
    let opt = |k: &str| Some(get(k)).filter(|v| !v.is_empty());
    let job = get("job").parse::<i64>().unwrap_or(0);
    let outcome: Result<String, ApiError> = match get("action").as_str() {
        "add" => match (paging_of(&form), mapping_of(&get("mapping"))) {
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(paging), Ok(mapping)) => {
                let a = sync::AddJob {
                    url: get("url"),
                    records_at: get("records_at"),
                    paging,
                    mapping,
                    mode: opt("mode").unwrap_or_else(|| "replace".into()),
                    every: opt("every"),
                    // Not a number: refused by the use case's range check.
                    timeout_secs: opt("timeout").map(|t| t.parse::<i64>().unwrap_or(0)),
                    credential: opt("credential_header").map(|h| (h, field(&form, "credential_value").unwrap_or_default().to_string())),
                };
                sync::add(&app, &caller, &id, a)
                    .await
                    .map(|j| format!("{} {}", tr.t("Đã thêm việc đồng bộ số", "Sync job added: no."), j.id))
            }
        },
        "run" => sync::run_now(&app, &caller, &id, job).await.map(|r| {
            if r.status == "ok" {
                format!("{} {job}: {}", tr.t("Đã đồng bộ, việc số", "Synchronised, job"), counts(tr, &r))
            } else {
                format!(
                    "{} {job}: {} — {}",
                    tr.t("Việc số", "Job"),
                    tr.t("lượt đồng bộ thất bại, không thay đổi gì", "the run failed, nothing changed"),
                    r.error.unwrap_or_default()
                )
            }
        }),
        "remove" => sync::remove(&app, &caller, &id, job)
            .await
            .map(|()| format!("{} {job}", tr.t("Đã gỡ việc đồng bộ số", "Sync job removed: no."))),
        _ => Err(ApiError::bad_request("thao tác không có", "no such action")),
    };
    match outcome {
        Ok(done) => match page(&app, tr, &caller, &id, Some(done), None).await {
            Ok(p) => p.into_response(),
            Err(e) => error_page(tr, e),
        },
        Err(e) => {
            let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status };
            let msg = if tr.is_en() { e.msg.en.clone() } else { e.msg.vi.clone() };
            match page(&app, tr, &caller, &id, None, Some(msg)).await {
                Ok(p) => (status, p).into_response(),
                Err(_) => error_page(tr, e),
            }
        }
    }
}
