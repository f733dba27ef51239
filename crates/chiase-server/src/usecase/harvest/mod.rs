//! Harvesting (issue 12, item 5): other catalogs chiase pulls entries
//! from — a CKAN site (with its DataStore's open rows), a DCAT catalog
//! (entries only), a Data Package (with its rows), another chiase (its
//! open datasets with their schemas and rows) — now, or on a schedule.
//!
//! A run reads the whole source first (`remote`); a source that is down,
//! slow or answers garbage fails the run there and nothing changes. Then
//! each entry is applied: an entry whose content (metadata, schema, rows)
//! hashes as last time is left alone; one with rows becomes, or replaces
//! the rows of, a local dataset that names its source and is read-only
//! here (the policy decision point refuses every other writer); an entry
//! the source no longer lists is removed, and its dataset's rows end.
//! Each run's report (added, changed, removed, unchanged, failed, with
//! reasons) is kept. Runs are claimed in the store, so with several
//! processes on one database each due run happens once.

pub mod rdf;
pub mod remote;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chiase_core::policy::{Subject, decide_harvest};
use chiase_core::sharing::SharingMode;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use chiase_store::harvest::{EntryWrite, HarvestRun, HarvestSource, HarvestedEntry, NewHarvestSource};
use chiase_store::recorder::Actor;
use serde_json::{Value, json};

use self::remote::{Remote, RemoteData};
use super::record_change;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The kinds of source.
pub const KINDS: [&str; 4] = ["ckan", "dcat", "datapackage", "chiase"];

/// A new source, as an administrator gives it.
pub struct AddSource {
    pub id: String,
    pub url: String,
    pub kind: String,
    /// `30m`, `6h`, `1d`…; `None`: only when asked.
    pub every: Option<String>,
    /// Where entries go that have no catalog database of their id here.
    pub database: Option<String>,
    /// How long one request to the source may take, in seconds (1–600;
    /// `None`: 60).
    pub timeout_secs: Option<i64>,
}

/// `30m`, `12h`, `1d`, `2w` as seconds (at least 5 minutes).
pub fn parse_every(s: &str) -> Result<i64, ApiError> {
    let s = s.trim();
    let bad = || {
        ApiError::bad_request(
            format!("chu kỳ «{s}» không hợp lệ: viết như 30m, 6h, 1d hoặc 1w (ít nhất 5 phút)"),
            format!("«{s}» is not a period: write 30m, 6h, 1d or 1w (at least 5 minutes)"),
        )
    };
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "m" | "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 7 * 86_400,
        _ => return Err(bad()),
    };
    if !(300..=366 * 86_400).contains(&secs) {
        return Err(bad());
    }
    Ok(secs)
}

pub(crate) fn check_url(url: &str) -> Result<(), ApiError> {
    let rest = url.strip_prefix("https://").map(|r| (true, r)).or_else(|| url.strip_prefix("http://").map(|r| (false, r)));
    let Some((https, rest)) = rest else {
        return Err(ApiError::bad_request(format!("«{url}» không phải địa chỉ http(s)"), format!("«{url}» is not an http(s) URL")));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host).trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || url.len() > 2000 || url.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_request(format!("«{url}» không phải địa chỉ hợp lệ"), format!("«{url}» is not a valid URL")));
    }
    let loopback = name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !https && !loopback {
        return Err(ApiError::bad_request(
            "chỉ thu thập qua https (http chỉ dùng trong cùng máy)",
            "sources are harvested over https (plain http only on loopback)",
        ));
    }
    Ok(())
}

/// Adds a source (administrators); due at once when it has a period.
pub async fn add(app: &AppState, caller: &Caller, a: AddSource) -> Result<HarvestSource, ApiError> {
    let permit = decide_harvest(&caller.subject)?;
    let ok_id = !a.id.is_empty() && a.id.len() <= 60 && a.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok_id {
        return Err(ApiError::bad_request(
            "mã nguồn gồm chữ thường không dấu, số và «-», tối đa 60 ký tự",
            "a source id is lower-case ASCII letters, digits and «-», at most 60 characters",
        ));
    }
    if !KINDS.contains(&a.kind.as_str()) {
        return Err(ApiError::bad_request(
            format!("loại nguồn «{}» không có; dùng ckan, dcat, datapackage hoặc chiase", a.kind),
            format!("no source type «{}»; use ckan, dcat, datapackage or chiase", a.kind),
        ));
    }
    check_url(&a.url)?;
    let every_secs = a.every.as_deref().map(parse_every).transpose()?;
    let timeout_secs = a.timeout_secs.unwrap_or(60);
    if !(1..=600).contains(&timeout_secs) {
        return Err(ApiError::bad_request("thời gian chờ mỗi yêu cầu từ 1 đến 600 giây", "a request's timeout is 1 to 600 seconds"));
    }
    let new = NewHarvestSource {
        id: a.id.clone(),
        url: a.url.trim_end_matches('/').to_string(),
        kind: a.kind.clone(),
        every_secs,
        timeout_secs,
        database: a.database.as_deref().map(DatabaseKey::parse),
    };
    let source = app.store.add_harvest_source(&permit, &new, &caller.actor.name).await?;
    let detail = json!({ "url": source.url, "type": source.kind, "every_secs": source.every_secs, "database": source.database });
    record_change(app, caller, "harvest_source_added", None, source.id.clone(), detail).await?;
    Ok(source)
}

/// Removes a source (administrators): its runs and entries go; the
/// datasets it filled stay, as ordinary datasets of this chiase.
pub async fn remove(app: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let permit = decide_harvest(&caller.subject)?;
    if !app.store.remove_harvest_source(&permit, id).await? {
        return Err(not_found(id));
    }
    record_change(app, caller, "harvest_source_removed", None, id.to_string(), json!({})).await
}

fn not_found(id: &str) -> ApiError {
    let shown: String = id.chars().take(64).collect();
    ApiError::not_found(format!("không có nguồn thu thập «{shown}»"), format!("no harvest source «{shown}»"))
}

/// A source with its latest run.
pub struct Listed {
    pub source: HarvestSource,
    pub last_run: Option<HarvestRun>,
}

/// Every source (administrators).
pub async fn list(app: &AppState, caller: &Caller) -> Result<Vec<Listed>, ApiError> {
    decide_harvest(&caller.subject)?;
    let mut out = vec![];
    for source in app.store.harvest_sources().await? {
        let last_run = app.store.harvest_runs(&source, 1).await?.into_iter().next();
        out.push(Listed { source, last_run });
    }
    Ok(out)
}

/// One source, its recent runs and the entries it brought (administrators).
pub async fn show(app: &AppState, caller: &Caller, id: &str) -> Result<(HarvestSource, Vec<HarvestRun>, Vec<HarvestedEntry>), ApiError> {
    decide_harvest(&caller.subject)?;
    let source = app.store.harvest_source(id).await?.ok_or_else(|| not_found(id))?;
    let runs = app.store.harvest_runs(&source, 20).await?;
    let entries = app.store.harvested_entries(&source).await?;
    Ok((source, runs, entries))
}

/// A run left `running` this long was cut short (its process died).
const STALE: i64 = 2 * 3600;

/// Runs a source now (administrators) and returns the run's report; 409
/// when a run of it is under way.
pub async fn run_now(app: &AppState, caller: &Caller, id: &str) -> Result<HarvestRun, ApiError> {
    decide_harvest(&caller.subject)?;
    let source = app.store.harvest_source(id).await?.ok_or_else(|| not_found(id))?;
    let Some(run) = app.store.claim_harvest_run(&source, true, chrono::Duration::seconds(STALE)).await? else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "harvest_running",
            "nguồn này đang được thu thập; hãy chờ lượt đang chạy xong",
            "this source is being harvested; wait for the run under way to finish",
        ));
    };
    execute(app, &source, run).await;
    app.store.harvest_run(run).await?.ok_or_else(|| ApiError::internal(&"a harvest run just finished"))
}

/// Every 15 s each serving process looks for due sources; the store's
/// claim makes exactly one of them run each.
pub fn start_schedule(app: AppState) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(StdDuration::from_secs(15)).await;
            let due = match app.store.due_harvest_sources().await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!("harvest schedule: {e}");
                    continue;
                }
            };
            for source in due {
                match app.store.claim_harvest_run(&source, false, chrono::Duration::seconds(STALE)).await {
                    Ok(Some(run)) => execute(&app, &source, run).await,
                    Ok(None) => {}
                    Err(e) => tracing::warn!("harvest claim of {}: {e}", source.id),
                }
            }
        }
    });
}

/// The harvester acts as the system, named after the source in the audit log.
fn harvester(source: &HarvestSource) -> Caller {
    Caller {
        subject: Subject::Operator,
        actor: Actor { name: format!("harvest:{}", source.id), source: Some(source.url.clone()), ..Default::default() },
        user: None,
        csrf: None,
    }
}

/// Reads the source, applies what it lists, closes the run. Never fails:
/// whatever goes wrong is the run's error.
async fn execute(app: &AppState, source: &HarvestSource, run: i64) {
    let timeout = StdDuration::from_secs(source.timeout_secs.clamp(1, 600) as u64);
    let fetched = tokio::time::timeout(remote::RUN_TIMEOUT, async {
        match source.kind.as_str() {
            "ckan" => remote::ckan(&source.url, false, timeout).await,
            "chiase" => remote::ckan(&source.url, true, timeout).await,
            "dcat" => remote::dcat(&source.url, timeout).await,
            "datapackage" => remote::datapackage(&source.url, timeout).await,
            other => Err(remote::SourceError(format!("unknown source type {other}"))),
        }
    })
    .await
    .unwrap_or_else(|_| Err(remote::SourceError(format!("the source took longer than {} minutes", remote::RUN_TIMEOUT.as_secs() / 60))));
    let outcome = match fetched {
        Err(e) => {
            tracing::warn!(source = %source.id, "harvest failed: {}", e.0);
            app.store.finish_harvest_run(run, false, [0; 5], &json!([]), Some(&e.0)).await
        }
        Ok(remote) => match apply(app, source, remote).await {
            Ok((counts, report)) => {
                let caller = harvester(source);
                let detail = json!({ "run": run, "added": counts[0], "changed": counts[1], "removed": counts[2], "unchanged": counts[3], "failed": counts[4] });
                if let Err(e) = record_change(app, &caller, "harvest_run", None, source.id.clone(), detail).await {
                    tracing::warn!("harvest audit: {}", e.msg.en);
                }
                app.store.finish_harvest_run(run, true, counts, &Value::Array(report), None).await
            }
            Err(e) => app.store.finish_harvest_run(run, false, [0; 5], &json!([]), Some(&e.msg.en)).await,
        },
    };
    if let Err(e) = outcome {
        tracing::warn!(source = %source.id, "closing harvest run {run}: {e}");
    }
}

/// Applies a source's entries; returns [added, changed, removed,
/// unchanged, failed] and the report's lines.
async fn apply(app: &AppState, source: &HarvestSource, remote: Remote) -> Result<([i64; 5], Vec<Value>), ApiError> {
    let caller = harvester(source);
    let previous: HashMap<String, HarvestedEntry> =
        app.store.harvested_entries(source).await?.into_iter().map(|e| (e.remote_id.clone(), e)).collect();
    let mut counts = [0i64; 5];
    let mut report: Vec<Value> = remote.notes;
    let mut writes = vec![];
    let listed: std::collections::HashSet<String> = remote.entries.iter().map(|e| e.remote_id.clone()).collect();
    for e in remote.entries {
        let before = previous.get(&e.remote_id);
        if before.is_some_and(|b| b.content_hash == e.hash) {
            counts[3] += 1;
            continue;
        }
        let mut hash = e.hash.clone();
        let dataset = match &e.data {
            None => None,
            Some(data) => match put_dataset(app, &caller, source, data, before.and_then(|b| b.dataset.as_deref())).await {
                Ok(slug) => Some(slug),
                Err((slug, reason)) => {
                    counts[4] += 1;
                    report.push(json!({ "entry": e.remote_id, "outcome": "failed", "reason": reason }));
                    match slug {
                        // The dataset was made but its rows were refused:
                        // kept, linked, and tried again next run.
                        Some(slug) => {
                            hash = String::from("failed");
                            Some(slug)
                        }
                        None => continue,
                    }
                }
            },
        };
        if hash != "failed" {
            let outcome = if before.is_some() { "changed" } else { "added" };
            counts[if before.is_some() { 1 } else { 0 }] += 1;
            report.push(json!({ "entry": e.remote_id, "outcome": outcome, "dataset": dataset, "title": e.title }));
        }
        writes.push(EntryWrite {
            remote_id: e.remote_id,
            title: e.title,
            description: e.description,
            publisher: e.publisher,
            landing_url: e.landing_url,
            modified: e.modified,
            metadata: e.metadata,
            content_hash: hash,
            dataset,
        });
    }
    let mut removed = vec![];
    for (id, before) in &previous {
        if listed.contains(id) {
            continue;
        }
        if let Some(slug) = &before.dataset
            && let Err(reason) = import_rows(app, &caller, slug, None).await
        {
            counts[4] += 1;
            report.push(json!({ "entry": id, "outcome": "failed", "reason": format!("removed at the source, but its rows could not be ended: {reason}") }));
            continue;
        }
        counts[2] += 1;
        report.push(json!({ "entry": id, "outcome": "removed", "dataset": before.dataset }));
        removed.push(id.clone());
    }
    app.store.apply_harvest(source, &writes, &removed).await?;
    Ok((counts, report))
}

/// Makes or updates the local dataset of `data` and replaces its rows.
/// On failure: the dataset's id if it exists (made by now), and why.
async fn put_dataset(
    app: &AppState,
    caller: &Caller,
    source: &HarvestSource,
    data: &RemoteData,
    linked: Option<&str>,
) -> Result<String, (Option<String>, String)> {
    let id = data.local_id.clone();
    let existing = app.store.dataset(&id).await.map_err(|e| (None, e.to_string()))?;
    match existing {
        Some(ds) => {
            let ours = linked == Some(id.as_str())
                || app.store.harvested_from(&id).await.map_err(|e| (None, e.to_string()))?.is_some_and(|(s, _)| s == source.id);
            if !ours {
                return Err((None, format!("a dataset «{id}» exists here and was not harvested from this source")));
            }
            if ds.schema != data.schema {
                super::datasets::change_schema(app, caller, &id, data.schema.clone()).await.map_err(|e| {
                    (Some(id.clone()), format!("its schema changed at the source in a way chiase cannot follow: {}", e.msg.en))
                })?;
            }
            // What describes it follows the source too.
            let changes = chiase_store::datasets::DatasetChanges {
                title: (ds.title != data.title && !data.title.trim().is_empty()).then(|| data.title.clone()),
                title_en: (ds.title_en != data.title_en).then(|| data.title_en.clone()),
                description: (ds.description != data.description).then(|| data.description.clone()),
                licence: data.licence.clone().filter(|l| *l != ds.licence),
                cadence: data.cadence.filter(|c| *c != ds.cadence),
                ..Default::default()
            };
            if changes != chiase_store::datasets::DatasetChanges::default() {
                super::datasets::update(app, caller, &id, changes)
                    .await
                    .map_err(|e| (Some(id.clone()), format!("its description could not follow the source: {}", e.msg.en)))?;
            }
        }
        None => {
            let here = match &data.database {
                Some(db) => app
                    .store
                    .database(&DatabaseKey::Id(db.clone()))
                    .await
                    .map_err(|e| (None, e.to_string()))?
                    .filter(|d| d.status == "listed"),
                None => None,
            };
            let database = match (here, &source.database) {
                (Some(d), _) => DatabaseKey::Id(d.id),
                (None, Some(db)) => DatabaseKey::Id(db.clone()),
                (None, None) => {
                    return Err((
                        None,
                        format!(
                            "no catalog database «{}» here; give the source a database to put its datasets in",
                            data.database.as_deref().unwrap_or("")
                        ),
                    ));
                }
            };
            let new = super::datasets::CreateDataset {
                id: id.clone(),
                database,
                title: data.title.clone(),
                title_en: data.title_en.clone(),
                description: data.description.clone(),
                licence: data.licence.clone(),
                sharing_mode: SharingMode::Open,
                cadence: data.cadence,
                schema: data.schema.clone(),
                template: None,
                synthetic: false,
            };
            super::datasets::create(app, caller, new).await.map_err(|e| (None, e.msg.en))?;
        }
    }
    import_rows(app, caller, &id, Some(data)).await.map_err(|reason| (Some(id.clone()), reason))?;
    Ok(id)
}

/// Replaces a dataset's rows with `data`'s (all or nothing), or, with
/// `None`, ends them all.
async fn import_rows(app: &AppState, caller: &Caller, id: &str, data: Option<&RemoteData>) -> Result<(), String> {
    let (name, reader): (String, Box<dyn std::io::Read + Send>) = match data {
        Some(d) => (d.rows_name.clone(), Box::new(std::fs::File::open(d.rows.path()).map_err(|e| e.to_string())?)),
        None => ("empty.ndjson".into(), Box::new(std::io::empty())),
    };
    let req = super::imports::ImportRequest {
        mode: ImportMode::Replace,
        source_name: Some(name),
        content_type: None,
        options: Default::default(),
        allow_empty: true,
        handling: Default::default(),
    };
    let progress = Arc::new(super::imports::Progress::default());
    match super::imports::import(app, caller, id, req, reader, u64::MAX, progress).await {
        Ok(super::imports::ImportOutcome::Done(_)) => Ok(()),
        Ok(super::imports::ImportOutcome::Rejected(r)) => {
            let first: Vec<String> = r.errors.iter().take(3).map(|e| format!("row {}: {}", e.row, e.message_en)).collect();
            Err(format!("{} rows refused: {}", r.bad_rows, first.join("; ")))
        }
        Err(e) => Err(e.msg.en),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_urls() {
        assert_eq!(parse_every("1d").unwrap(), 86_400);
        assert_eq!(parse_every("30m").unwrap(), 1800);
        for bad in ["", "d", "1", "2m", "1y", "-1d", "99999w"] {
            assert!(parse_every(bad).is_err(), "{bad}");
        }
        assert!(check_url("https://data.gov.vn/api").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("http://[::1]:8080/x").is_ok());
        assert!(check_url("http://data.example.vn").is_err());
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("https://").is_err());
    }
}
