//! Sync into datasets (issue 13, item 4).
//!
//! A **pull job** belongs to one hosted dataset and reads an upstream JSON
//! endpoint page by page (page number, offset, cursor or `next` link),
//! spooling the records (renamed by the job's mapping) to a temporary
//! NDJSON file; only when every page has been read is the file imported,
//! once, through `imports::import` (replace or upsert), so a page that
//! fails — an error status, garbage, a timeout — changes nothing and the
//! run says why. A **push** is an agency's system sending records (upsert
//! by key) and deleted keys in one transaction. Both are kept as sync runs
//! with their reports, for the dataset's stewards and the freshness
//! dashboard. Who may do either is who may fill the dataset: the policy's
//! write permit (harvested datasets are read-only, so refused).
//!
//! Runs are claimed in the store, so with several processes each due run
//! happens once. A job's upstream credential (one header) is sealed with
//! AES-256-GCM under the installation's key before it reaches the store,
//! bound to the dataset and the URL, and opened only to send it to that
//! URL's host.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use axum::http::StatusCode;
use chiase_core::policy::{Subject, decide_write};
use chiase_store::datasets::Dataset;
use chiase_store::datasets::import::ImportMode;
use chiase_store::recorder::Actor;
use chiase_store::sync::{NewSyncJob, RunEnd, SyncJob, SyncRun};
use chrono::Utc;
use openidconnect::http::{Request, header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::harvest::{check_url, parse_every};
use super::{find_dataset, record_change};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::oidc::http::send_bounded;
use crate::state::AppState;

/// The largest page read, the most pages and rows in one run, and a whole
/// run's deadline.
const MAX_ANSWER: usize = 64 << 20;
const MAX_PAGES: usize = 10_000;
const MAX_ROWS: u64 = 5_000_000;
const RUN_TIMEOUT: StdDuration = StdDuration::from_secs(30 * 60);
/// A run left `running` this long was cut short (its process died).
const STALE: i64 = 2 * 3600;

/// How the upstream's pages are asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Paging {
    /// One answer holds every record.
    None,
    /// `?<param>=<n>` from `first` up, until a page has no records.
    Page {
        #[serde(default = "page_param")]
        param: String,
        #[serde(default = "one")]
        first: i64,
    },
    /// `?<offset_param>=<n>&<limit_param>=<size>`, the offset moving by the
    /// records each page held, until a page has none.
    Offset {
        #[serde(default = "offset_param")]
        offset_param: String,
        #[serde(default = "limit_param")]
        limit_param: String,
        #[serde(default = "hundred")]
        size: i64,
    },
    /// The answer's value at `cursor_at` (a JSON pointer) sent back as
    /// `?<param>=`, until it is absent, null or empty.
    Cursor { cursor_at: String, param: String },
    /// The answer's value at `next_at` (a JSON pointer) is the next page's
    /// URL (on the same host), until it is absent or null.
    Next { next_at: String },
}

fn page_param() -> String {
    "page".into()
}
fn offset_param() -> String {
    "offset".into()
}
fn limit_param() -> String {
    "limit".into()
}
fn one() -> i64 {
    1
}
fn hundred() -> i64 {
    100
}

/// A new pull job, as a steward gives it.
#[derive(Debug, Clone)]
pub struct AddJob {
    pub url: String,
    /// A JSON pointer to the records in each answer; empty: the answer is
    /// the array.
    pub records_at: String,
    pub paging: Paging,
    /// Upstream key (or a JSON pointer into the record) → dataset field.
    pub mapping: Map<String, Value>,
    /// `replace` or `upsert`.
    pub mode: String,
    pub every: Option<String>,
    pub timeout_secs: Option<i64>,
    /// A header the upstream wants (its name, its value), kept sealed.
    pub credential: Option<(String, String)>,
}

fn bad(vi: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::bad_request(vi, en)
}

fn check_pointer(p: &str, what: &str) -> Result<(), ApiError> {
    if !(p.is_empty() || p.starts_with('/')) || p.len() > 500 {
        return Err(bad(
            format!("{what} «{p}» phải là một JSON pointer (bắt đầu bằng «/»), hoặc để trống"),
            format!("{what} «{p}» must be a JSON pointer (starting with «/»), or empty"),
        ));
    }
    Ok(())
}

fn check_param(p: &str) -> Result<(), ApiError> {
    if p.is_empty() || p.len() > 100 || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b)) {
        return Err(bad(
            format!("tên tham số «{p}» không hợp lệ (chữ, số, _ - . [ ])"),
            format!("parameter name «{p}» is not valid (letters, digits, _ - . [ ])"),
        ));
    }
    Ok(())
}

fn check_paging(p: &Paging) -> Result<(), ApiError> {
    match p {
        Paging::None => Ok(()),
        Paging::Page { param, first } => {
            check_param(param)?;
            if !(0..=1).contains(first) {
                return Err(bad("trang đầu tiên là 0 hoặc 1", "the first page is 0 or 1"));
            }
            Ok(())
        }
        Paging::Offset { offset_param, limit_param, size } => {
            check_param(offset_param)?;
            check_param(limit_param)?;
            if !(1..=10_000).contains(size) {
                return Err(bad("cỡ trang từ 1 đến 10.000", "the page size is 1 to 10,000"));
            }
            Ok(())
        }
        Paging::Cursor { cursor_at, param } => {
            check_param(param)?;
            check_pointer(cursor_at, "cursor_at")?;
            if cursor_at.is_empty() {
                return Err(bad(
                    "cần cursor_at: chỗ của con trỏ trang sau trong câu trả lời",
                    "cursor_at is needed: where the answer gives the next cursor",
                ));
            }
            Ok(())
        }
        Paging::Next { next_at } => {
            check_pointer(next_at, "next_at")?;
            if next_at.is_empty() {
                return Err(bad(
                    "cần next_at: chỗ của địa chỉ trang sau trong câu trả lời",
                    "next_at is needed: where the answer gives the next page's URL",
                ));
            }
            Ok(())
        }
    }
}

fn job_not_found(job: i64) -> ApiError {
    ApiError::not_found(format!("tập dữ liệu không có việc đồng bộ số {job}"), format!("the dataset has no sync job {job}"))
}

/// Adds a pull job to a dataset (its owner's stewards); due at once when
/// it has a period.
pub async fn add(app: &AppState, caller: &Caller, id: &str, a: AddJob) -> Result<SyncJob, ApiError> {
    let ds = find_dataset(app, id).await?;
    let permit = decide_write(&caller.subject, &ds.facts())?;
    // Harvest's rule, in words about sync.
    check_url(&a.url).map_err(|e| {
        if e.msg.en.contains("loopback") {
            bad("chỉ đọc nguồn qua https (http chỉ dùng trong cùng máy)", "upstreams are read over https (plain http only on loopback)")
        } else {
            e
        }
    })?;
    if a.url.contains('#') {
        return Err(bad("địa chỉ nguồn không được có «#»", "the upstream URL may not hold «#»"));
    }
    check_pointer(&a.records_at, "records_at")?;
    check_paging(&a.paging)?;
    let schema = app.store.schema_of(&ds)?;
    let mode = match a.mode.as_str() {
        "replace" => "replace",
        "upsert" if schema.key.is_empty() => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "no_primary_key",
                "tập dữ liệu không có khóa chính: chỉ đồng bộ được theo cách thay toàn bộ (replace)",
                "the dataset has no primary key: it can only be synchronised by replacing it (replace)",
            ));
        }
        "upsert" => "upsert",
        other => {
            return Err(bad(
                format!("cách đồng bộ «{other}» không có; dùng replace hoặc upsert"),
                format!("no sync mode «{other}»; use replace or upsert"),
            ));
        }
    };
    if a.mapping.len() > 1000 {
        return Err(bad("tối đa 1.000 trường được ánh xạ", "at most 1,000 mapped fields"));
    }
    for (from, to) in &a.mapping {
        let Some(to) = to.as_str() else {
            return Err(bad(
                format!("ánh xạ «{from}»: tên trường phải là chuỗi"),
                format!("mapping «{from}»: the field name must be a string"),
            ));
        };
        if from.is_empty() || schema.fields.iter().all(|f| f.spec.name != to) {
            let shown: String = to.chars().take(64).collect();
            return Err(bad(
                format!("ánh xạ «{from}» → «{shown}»: tập dữ liệu không có trường này"),
                format!("mapping «{from}» → «{shown}»: the dataset has no such field"),
            ));
        }
    }
    let every_secs = a.every.as_deref().map(parse_every).transpose()?;
    let timeout_secs = a.timeout_secs.unwrap_or(60);
    if !(1..=600).contains(&timeout_secs) {
        return Err(bad("thời gian chờ mỗi yêu cầu từ 1 đến 600 giây", "a request's timeout is 1 to 600 seconds"));
    }
    let credential = match &a.credential {
        None => None,
        Some((header, value)) => {
            check_credential(header, value)?;
            Some(seal(&app.config.data_dir, &aad(&ds.id, &a.url), &format!("{header}\n{value}"))?)
        }
    };
    let new = NewSyncJob {
        credential,
        url: a.url.clone(),
        records_at: a.records_at.clone(),
        paging: serde_json::to_value(&a.paging).map_err(|e| ApiError::internal(&e))?,
        mapping: Value::Object(a.mapping.clone()),
        mode: mode.into(),
        every_secs,
        timeout_secs,
    };
    let job = app.store.add_sync_job(&permit, &ds, &new, &caller.actor.name).await?;
    let detail =
        json!({ "job": job.id, "url": job.url, "mode": job.mode, "every_secs": job.every_secs, "credential": job.credential.is_some() });
    record_change(app, caller, "sync_job_added", Some(&ds), ds.id.clone(), detail).await?;
    Ok(job)
}

/// Removes a job and its runs (its owner's stewards); the rows it brought stay.
pub async fn remove(app: &AppState, caller: &Caller, id: &str, job: i64) -> Result<(), ApiError> {
    let ds = find_dataset(app, id).await?;
    let permit = decide_write(&caller.subject, &ds.facts())?;
    if !app.store.remove_sync_job(&permit, &ds, job).await? {
        return Err(job_not_found(job));
    }
    record_change(app, caller, "sync_job_removed", Some(&ds), ds.id.clone(), json!({ "job": job })).await
}

/// A dataset's jobs and its recent runs (pulls and pushes).
pub struct Overview {
    pub ds: Dataset,
    pub jobs: Vec<(SyncJob, Option<SyncRun>)>,
    pub runs: Vec<SyncRun>,
}

/// The dataset's sync jobs with their last runs, and its last 20 runs
/// (its owner's stewards: a job's URL and reports are theirs).
pub async fn list(app: &AppState, caller: &Caller, id: &str) -> Result<Overview, ApiError> {
    let ds = find_dataset(app, id).await?;
    decide_write(&caller.subject, &ds.facts())?;
    let mut jobs = vec![];
    for job in app.store.sync_jobs(&ds).await? {
        let last = app.store.sync_runs(&ds, Some(job.id), 1).await?.into_iter().next();
        jobs.push((job, last));
    }
    let runs = app.store.sync_runs(&ds, None, 20).await?;
    Ok(Overview { ds, jobs, runs })
}

/// One job and its last 20 runs.
pub async fn show(app: &AppState, caller: &Caller, id: &str, job: i64) -> Result<(SyncJob, Vec<SyncRun>), ApiError> {
    let ds = find_dataset(app, id).await?;
    decide_write(&caller.subject, &ds.facts())?;
    let job = app.store.sync_job(&ds, job).await?.ok_or_else(|| job_not_found(job))?;
    let runs = app.store.sync_runs(&ds, Some(job.id), 20).await?;
    Ok((job, runs))
}

/// Runs a job now and returns the run; 409 when a run of it is under way.
pub async fn run_now(app: &AppState, caller: &Caller, id: &str, job: i64) -> Result<SyncRun, ApiError> {
    let ds = find_dataset(app, id).await?;
    decide_write(&caller.subject, &ds.facts())?;
    let job = app.store.sync_job(&ds, job).await?.ok_or_else(|| job_not_found(job))?;
    let Some(run) = app.store.claim_sync_run(&job, true, chrono::Duration::seconds(STALE), &caller.actor.name).await? else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "sync_running",
            "việc đồng bộ này đang chạy; hãy chờ lượt đang chạy xong",
            "this sync job is running; wait for the run under way to finish",
        ));
    };
    execute(app, &job, run).await;
    app.store.sync_run(run).await?.ok_or_else(|| ApiError::internal(&"a sync run just finished"))
}

/// Every 15 s each serving process looks for due jobs; the store's claim
/// makes exactly one of them run each.
pub fn start_schedule(app: AppState) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(StdDuration::from_secs(15)).await;
            run_due(&app).await;
        }
    });
}

/// Runs the jobs that are due and this process claims.
pub async fn run_due(app: &AppState) {
    let due = match app.store.due_sync_jobs().await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("sync schedule: {e}");
            return;
        }
    };
    for job in due {
        let by = syncer(&job).actor.name;
        match app.store.claim_sync_run(&job, false, chrono::Duration::seconds(STALE), &by).await {
            Ok(Some(run)) => execute(app, &job, run).await,
            Ok(None) => {}
            Err(e) => tracing::warn!("sync claim of job {}: {e}", job.id),
        }
    }
}

/// A job writes as the system, named after the job in the audit log (it
/// was its owner's stewards who set it up, with the write permit).
fn syncer(job: &SyncJob) -> Caller {
    Caller {
        subject: Subject::Operator,
        actor: Actor { name: format!("sync:{}#{}", job.dataset, job.id), source: Some(job.url.clone()), ..Default::default() },
        user: None,
        csrf: None,
    }
}

/// Reads every page, then imports once; closes the run. Never fails:
/// whatever goes wrong is the run's error, and then nothing changed.
async fn execute(app: &AppState, job: &SyncJob, run: i64) {
    let fields: std::collections::HashSet<String> = match app.store.dataset(&job.dataset).await.map(|d| d.map(|d| app.store.schema_of(&d)))
    {
        Ok(Some(Ok(schema))) => schema.fields.iter().map(|f| f.spec.name.clone()).collect(),
        _ => Default::default(),
    };
    let credential = match &job.credential {
        None => Ok(None),
        Some(sealed) => open(&app.config.data_dir, &aad(&job.dataset, &job.url), sealed).map(Some),
    };
    let end = match credential {
        Err(e) => RunEnd { error: Some(e), ..Default::default() },
        Ok(credential) => fetch_and_import(app, job, &fields, credential.as_ref()).await,
    };
    if let Some(e) = &end.error {
        tracing::warn!(dataset = %job.dataset, job = job.id, "sync failed: {e}");
    }
    if let Err(e) = app.store.finish_sync_run(run, &end).await {
        tracing::warn!("closing sync run {run}: {e}");
    }
}

async fn fetch_and_import(
    app: &AppState,
    job: &SyncJob,
    fields: &std::collections::HashSet<String>,
    credential: Option<&(String, String)>,
) -> RunEnd {
    match tokio::time::timeout(RUN_TIMEOUT, fetch(job, fields, credential)).await {
        Err(_) => RunEnd { error: Some(format!("the run took longer than {} minutes", RUN_TIMEOUT.as_secs() / 60)), ..Default::default() },
        Ok(Err(e)) => RunEnd { error: Some(e), ..Default::default() },
        Ok(Ok(f)) if f.count == 0 && job.mode == "replace" => RunEnd {
            error: Some("the upstream answered no records: replacing would empty the dataset, so nothing was changed".into()),
            ..Default::default()
        },
        Ok(Ok(f)) => {
            let mut end = import(app, job, f.file, f.count).await;
            if !f.ignored.is_empty()
                && let Value::Object(m) = &mut end.report
            {
                m.insert("ignored_keys".into(), json!(f.ignored));
            }
            end
        }
    }
}

async fn import(app: &AppState, job: &SyncJob, file: tempfile::NamedTempFile, read: u64) -> RunEnd {
    use super::imports::{ImportOutcome, ImportRequest, Progress, import};
    let caller = syncer(job);
    let mode = if job.mode == "upsert" { ImportMode::Upsert } else { ImportMode::Replace };
    let reader: Box<dyn std::io::Read + Send> = match std::fs::File::open(file.path()) {
        Ok(f) => Box::new(f),
        Err(e) => return RunEnd { rows_read: read as i64, error: Some(format!("the spooled rows: {e}")), ..Default::default() },
    };
    let req = ImportRequest {
        mode,
        source_name: Some("sync.ndjson".into()),
        content_type: None,
        options: Default::default(),
        // A replace of no rows never gets here (`execute` refuses it: an
        // upstream answering nothing is more often at fault than right);
        // an upsert of none is a run that found nothing new.
        allow_empty: true,
        handling: Default::default(),
    };
    let failed = |error: String, report: Value| RunEnd { rows_read: read as i64, report, error: Some(error), ..Default::default() };
    match import(app, &caller, &job.dataset, req, reader, u64::MAX, Arc::new(Progress::default())).await {
        Ok(ImportOutcome::Done(done)) => {
            let s = &done.summary;
            let detail = json!({ "job": job.id, "read": read, "inserted": s.inserted, "updated": s.updated, "deleted": s.deleted });
            if let Ok(Some(ds)) = app.store.dataset(&job.dataset).await
                && let Err(e) = record_change(app, &caller, "sync_run", Some(&ds), ds.id.clone(), detail).await
            {
                tracing::warn!("sync audit: {}", e.msg.en);
            }
            RunEnd {
                ok: true,
                rows_read: read as i64,
                imported: s.inserted + s.updated,
                deleted: s.deleted,
                report: serde_json::to_value(&done).unwrap_or_default(),
                error: None,
            }
        }
        Ok(ImportOutcome::Rejected(r)) => {
            let first: Vec<String> = r.errors.iter().take(3).map(|e| format!("row {}: {}", e.row, e.message_en)).collect();
            failed(format!("{} rows refused: {}", r.bad_rows, first.join("; ")), serde_json::to_value(&r).unwrap_or_default())
        }
        Err(e) => failed(e.msg.en.clone(), json!({ "code": e.code, "message": e.msg.vi, "message_en": e.msg.en })),
    }
}

/// `url` with `params` set (replacing any of the same name).
fn with_params(url: &str, params: &[(&str, String)]) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if !params.iter().any(|(p, _)| *p == k) {
            q.append_pair(&k, &v);
        }
    }
    for (k, v) in params {
        q.append_pair(k, v);
    }
    format!("{base}?{}", q.finish())
}

/// GETs one page as JSON.
async fn get_page(url: &str, timeout: StdDuration, credential: Option<&(String, String)>) -> Result<Value, String> {
    let mut req = Request::builder()
        .uri(url)
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, concat!("chiase-sync/", env!("CARGO_PKG_VERSION")));
    // Every page is on the job's host (`next` links may not leave it).
    if let Some((name, value)) = credential {
        req = req.header(name.as_str(), value.as_str());
    }
    let req = req.body(Vec::new()).map_err(|e| format!("{url}: {e}"))?;
    let res = send_bounded(req, timeout, MAX_ANSWER).await.map_err(|e| format!("{url}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("{url}: HTTP {}", res.status()));
    }
    serde_json::from_slice(res.body()).map_err(|e| format!("{url}: not JSON ({e})"))
}

/// A record as the dataset names its fields: mapped keys renamed (a key
/// starting with «/» is a JSON pointer into the record), others kept when
/// the dataset has a field of their name; the rest are left out (an
/// upstream usually says more than a dataset keeps) and named in `ignored`.
fn map_record(
    rec: Map<String, Value>,
    mapping: &Map<String, Value>,
    fields: &std::collections::HashSet<String>,
    ignored: &mut std::collections::BTreeSet<String>,
) -> Map<String, Value> {
    let whole = Value::Object(rec);
    let mut out = Map::new();
    let mut taken = std::collections::HashSet::new();
    for (from, to) in mapping {
        let Some(to) = to.as_str() else { continue };
        let v = if from.starts_with('/') { whole.pointer(from) } else { whole.get(from) };
        if let Some(v) = v {
            out.insert(to.to_string(), v.clone());
        }
        taken.insert(from.trim_start_matches('/').split('/').next().unwrap_or_default().to_string());
    }
    if let Value::Object(rec) = whole {
        for (k, v) in rec {
            if out.contains_key(&k) || taken.contains(&k) {
                continue;
            }
            if fields.contains(&k) {
                out.insert(k, v);
            } else if ignored.len() < 50 {
                ignored.insert(k);
            }
        }
    }
    out
}

/// What the pages held: the records as NDJSON, how many, and the upstream
/// keys left out.
struct Fetched {
    file: tempfile::NamedTempFile,
    count: u64,
    ignored: std::collections::BTreeSet<String>,
}

/// Reads every page of the upstream into a temporary NDJSON file, or says
/// why the run fails.
async fn fetch(
    job: &SyncJob,
    fields: &std::collections::HashSet<String>,
    credential: Option<&(String, String)>,
) -> Result<Fetched, String> {
    let paging: Paging = serde_json::from_value(job.paging.0.clone()).map_err(|e| format!("the job's paging: {e}"))?;
    let mapping = job.mapping.0.as_object().cloned().unwrap_or_default();
    let timeout = StdDuration::from_secs(job.timeout_secs.clamp(1, 600) as u64);
    let started = Instant::now();
    let mut file = tempfile::NamedTempFile::new().map_err(|e| format!("a temporary file: {e}"))?;
    let mut count = 0u64;
    let mut ignored = std::collections::BTreeSet::new();
    let mut pages = 0usize;
    let mut seen_cursors = std::collections::HashSet::new();
    let mut previous_first: Option<String> = None;
    // The first page's URL; later ones follow the paging.
    let mut url = match &paging {
        Paging::None | Paging::Cursor { .. } | Paging::Next { .. } => job.url.clone(),
        Paging::Page { param, first } => with_params(&job.url, &[(param, first.to_string())]),
        Paging::Offset { offset_param, limit_param, size } => {
            with_params(&job.url, &[(offset_param, "0".into()), (limit_param, size.to_string())])
        }
    };
    loop {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(format!("more than {MAX_PAGES} pages in one run"));
        }
        if started.elapsed() > RUN_TIMEOUT {
            return Err(format!("the run took longer than {} minutes", RUN_TIMEOUT.as_secs() / 60));
        }
        let answer = get_page(&url, timeout, credential).await?;
        let records = if job.records_at.is_empty() { Some(&answer) } else { answer.pointer(&job.records_at) };
        let Some(Value::Array(records)) = records else {
            let at = if job.records_at.is_empty() { "the answer" } else { job.records_at.as_str() };
            return Err(format!("{url}: {at} is not a list of records"));
        };
        for rec in records {
            let Value::Object(m) = rec else { return Err(format!("{url}: a record is not a JSON object")) };
            let line = serde_json::to_vec(&map_record(m.clone(), &mapping, fields, &mut ignored)).map_err(|e| e.to_string())?;
            file.write_all(&line).and_then(|()| file.write_all(b"\n")).map_err(|e| format!("spooling rows: {e}"))?;
            count += 1;
        }
        if count > MAX_ROWS {
            return Err(format!("more than {MAX_ROWS} rows in one run"));
        }
        let n = records.len() as i64;
        // An upstream that ignores the paging parameter answers the first
        // page again and again: fail rather than read it 10,000 times.
        if matches!(paging, Paging::Page { .. } | Paging::Offset { .. })
            && let Some(first) = records.first()
        {
            let first = first.to_string();
            if previous_first.as_deref() == Some(first.as_str()) {
                return Err(format!("{url}: the upstream answered the same page twice (does it read the paging parameter?)"));
            }
            previous_first = Some(first);
        }
        url = match &paging {
            Paging::None => break,
            Paging::Page { param, first } => {
                if n == 0 {
                    break;
                }
                with_params(&job.url, &[(param, (first + pages as i64).to_string())])
            }
            Paging::Offset { offset_param, limit_param, size } => {
                // Not `n < size`: an upstream may cap the page below the
                // size asked for, and stopping there would replace the
                // dataset with its first page.
                if n == 0 {
                    break;
                }
                with_params(&job.url, &[(offset_param, (count as i64).to_string()), (limit_param, size.to_string())])
            }
            Paging::Cursor { cursor_at, param } => {
                let cursor = match answer.pointer(cursor_at) {
                    None | Some(Value::Null) => break,
                    Some(Value::String(s)) if s.is_empty() => break,
                    Some(Value::String(s)) => s.clone(),
                    Some(v @ Value::Number(_)) => v.to_string(),
                    Some(_) => return Err(format!("{url}: the cursor at {cursor_at} is not a string or number")),
                };
                if n == 0 && pages > 1 {
                    break;
                }
                if !seen_cursors.insert(cursor.clone()) {
                    return Err(format!("{url}: the upstream gave the same cursor twice (the paging does not move)"));
                }
                with_params(&job.url, &[(param, cursor)])
            }
            Paging::Next { next_at } => match answer.pointer(next_at) {
                None | Some(Value::Null) => break,
                Some(Value::String(s)) if s.is_empty() => break,
                Some(Value::String(s)) => {
                    let next = super::harvest::remote::join(&url, s).map_err(|e| e.0)?;
                    if !seen_cursors.insert(next.clone()) {
                        return Err(format!("{url}: the upstream links to a page already read"));
                    }
                    next
                }
                Some(_) => return Err(format!("{url}: the next link at {next_at} is not a string")),
            },
        };
    }
    file.flush().map_err(|e| format!("spooling rows: {e}"))?;
    Ok(Fetched { file, count, ignored })
}

// --- the upstream credential ---------------------------------------------
//
// Sealed by `crate::secrets` (the installation's one key), bound to the
// dataset and the URL, so a credential moved to another job or URL in the
// database does not open.

fn aad(dataset: &str, url: &str) -> String {
    format!("sync:{dataset}\n{url}")
}

/// Header names an upstream credential may not take: chiase sets them.
const RESERVED: [&str; 7] = ["host", "content-length", "transfer-encoding", "connection", "accept", "user-agent", "te"];

fn check_credential(header: &str, value: &str) -> Result<(), ApiError> {
    let name_ok = !header.is_empty()
        && header.len() <= 100
        && header.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && !RESERVED.contains(&header.to_ascii_lowercase().as_str());
    if !name_ok {
        return Err(bad(
            format!("tên header «{}» không dùng được cho khoá truy cập nguồn", header.chars().take(60).collect::<String>()),
            format!("«{}» cannot be the upstream credential's header", header.chars().take(60).collect::<String>()),
        ));
    }
    if value.is_empty() || value.len() > 4096 || value.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(bad(
            "giá trị khoá truy cập nguồn phải có, tối đa 4096 ký tự, không xuống dòng",
            "the upstream credential's value must be given, at most 4096 characters, on one line",
        ));
    }
    Ok(())
}

fn seal(data_dir: &std::path::Path, aad: &str, clear: &str) -> Result<String, ApiError> {
    crate::secrets::seal(data_dir, aad, clear).map_err(|e| ApiError::internal(&e))
}

/// Opens a job's credential: (header, value); an error is the run's.
fn open(data_dir: &std::path::Path, aad: &str, sealed: &str) -> Result<(String, String), String> {
    let clear = crate::secrets::open(data_dir, aad, sealed).map_err(|e| e.to_string())?;
    let (h, v) = clear.split_once('\n').ok_or_else(|| "the job's credential is damaged".to_string())?;
    Ok((h.to_string(), v.to_string()))
}

/// What an agency's system pushes: records and deleted keys.
pub struct PushBody {
    pub records: Vec<Value>,
    pub deleted: Vec<String>,
}

/// Reads a push's body: a JSON array of records, an object `{records,
/// deleted}`, or NDJSON (one record a line).
pub fn parse_push(body: &[u8], ndjson: bool) -> Result<PushBody, ApiError> {
    let not_json = |e: serde_json::Error| {
        ApiError::bad_request(format!("nội dung không phải JSON hợp lệ: {e}"), format!("the body is not valid JSON: {e}"))
    };
    if ndjson {
        let mut records = vec![];
        for line in body.split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            records.push(serde_json::from_slice(line).map_err(not_json)?);
        }
        return Ok(PushBody { records, deleted: vec![] });
    }
    match serde_json::from_slice::<Value>(body).map_err(not_json)? {
        Value::Array(records) => Ok(PushBody { records, deleted: vec![] }),
        Value::Object(mut m) => {
            let unknown: Vec<&String> = m.keys().filter(|k| *k != "records" && *k != "deleted").collect();
            if !unknown.is_empty() {
                return Err(bad("đối tượng đẩy lên chỉ có «records» và «deleted»", "a push object holds only «records» and «deleted»"));
            }
            let records = match m.remove("records") {
                None => vec![],
                Some(Value::Array(a)) => a,
                Some(_) => return Err(bad("«records» phải là một mảng", "«records» must be an array")),
            };
            let deleted = match m.remove("deleted") {
                None => vec![],
                Some(Value::Array(a)) => a
                    .into_iter()
                    .map(|k| match k {
                        Value::String(s) => Ok(s),
                        Value::Number(n) => Ok(n.to_string()),
                        _ => Err(bad("mỗi khóa trong «deleted» là một chuỗi hoặc số", "each key in «deleted» is a string or a number")),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(bad("«deleted» phải là một mảng khóa", "«deleted» must be an array of keys")),
            };
            Ok(PushBody { records, deleted })
        }
        _ => Err(bad("nội dung là một mảng bản ghi, hoặc {records, deleted}", "the body is an array of records, or {records, deleted}")),
    }
}

/// A push from an agency's system (its owner's stewards' tokens): upserts
/// and deletes in one transaction, kept as a sync run either way.
pub async fn push(app: &AppState, caller: &Caller, id: &str, body: &[u8], ndjson: bool) -> Result<SyncRun, ApiError> {
    let ds = find_dataset(app, id).await?;
    // Ask before reading: a refusal should not depend on the body.
    decide_write(&caller.subject, &ds.facts())?;
    let started = Utc::now();
    let parsed = parse_push(body, ndjson);
    let read = parsed.as_ref().map(|p| p.records.len() as i64).unwrap_or(0);
    let outcome = match parsed {
        Ok(p) => super::records::upsert_and_delete(app, caller, &ds, p.records, &p.deleted).await,
        Err(e) => Err(e),
    };
    let end = match &outcome {
        Ok(s) => RunEnd {
            ok: true,
            rows_read: read,
            imported: s.inserted + s.updated,
            deleted: s.deleted,
            report: serde_json::to_value(s).unwrap_or_default(),
            error: None,
        },
        Err(e) => RunEnd {
            rows_read: read,
            report: json!({ "code": e.code, "message": e.msg.vi, "message_en": e.msg.en, "details": e.fields }),
            error: Some(e.msg.en.clone()),
            ..Default::default()
        },
    };
    let run = app.store.record_push(&ds, started, &end, &caller.actor.name).await?;
    outcome?;
    app.store.sync_run(run).await?.ok_or_else(|| ApiError::internal(&"a push just recorded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_replace_their_namesakes_and_keep_the_rest() {
        assert_eq!(with_params("http://h/x?page=1&khoa=a b", &[("page", "3".into())]), "http://h/x?khoa=a+b&page=3");
        assert_eq!(with_params("http://h/x", &[("o", "0".into()), ("l", "10".into())]), "http://h/x?o=0&l=10");
    }

    #[test]
    fn records_are_mapped_and_unknown_keys_left_out() {
        let fields: std::collections::HashSet<String> = ["ma", "ten", "so"].iter().map(|s| s.to_string()).collect();
        let mapping = json!({"code": "ma", "/info/name": "ten"}).as_object().unwrap().clone();
        let rec = json!({"code": "T1", "info": {"name": "A"}, "so": 3, "extra": true}).as_object().unwrap().clone();
        let mut ignored = Default::default();
        let out = map_record(rec, &mapping, &fields, &mut ignored);
        assert_eq!(Value::Object(out), json!({"ma": "T1", "ten": "A", "so": 3}));
        assert_eq!(ignored.into_iter().collect::<Vec<_>>(), ["extra"]);
    }

    #[test]
    fn push_bodies() {
        let p = parse_push(br#"{"records": [{"a": 1}], "deleted": ["x", 7]}"#, false).unwrap();
        assert_eq!((p.records.len(), p.deleted), (1, vec!["x".to_string(), "7".to_string()]));
        assert_eq!(parse_push(b"{\"a\":1}\n\n{\"a\":2}\n", true).unwrap().records.len(), 2);
        for bad in [&b"{\"records\": 1}"[..], b"{\"xoa\": []}", b"\"x\"", b"{\"deleted\": [null]}", b"[1,"] {
            assert!(parse_push(bad, false).is_err());
        }
    }

    #[test]
    fn credentials_open_only_for_their_job() {
        let dir = tempfile::tempdir().unwrap();
        let sealed = seal(dir.path(), &aad("d", "https://a/x"), "X-Api-Key\nbi-mat").unwrap();
        assert_eq!(open(dir.path(), &aad("d", "https://a/x"), &sealed).unwrap(), ("X-Api-Key".into(), "bi-mat".into()));
        assert!(open(dir.path(), &aad("d", "https://b/x"), &sealed).is_err());
        assert!(open(dir.path(), &aad("e", "https://a/x"), &sealed).is_err());
        assert!(check_credential("Host", "x").is_err());
        assert!(check_credential("Authorization", "Bearer a\r\nX: y").is_err());
        assert!(check_credential("Authorization", "Bearer abc").is_ok());
    }
}
