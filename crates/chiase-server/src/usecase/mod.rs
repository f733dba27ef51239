//! Use cases: one function per thing a person does (read records, import a
//! file, decide a request, administer an account…). Each takes the caller,
//! asks the policy decision point, does the work through the store and
//! records the audit event. The JSON API, the web pages and the command
//! line call the same functions, so no page or command re-implements a
//! rule; a handler only translates HTTP.
//!
//! Errors are [`ApiError`]s: a status class and a message in both
//! languages, rendered as JSON, as a page, or as a line on the terminal.

pub mod accounts;
pub mod agencies;
pub mod audit;
pub mod catalog;
pub mod datapackage;
pub mod datasets;
pub mod dcat;
pub mod demo;
pub mod exports;
pub mod files;
pub mod freshness;
pub mod gateway;
pub mod harvest;
pub mod imports;
pub mod notifications;
pub mod records;
pub mod requests;
pub mod services;
pub mod settings;
pub mod sync;

use std::sync::Arc;

use chiase_core::policy::{ReadPermit, decide_read};
use chiase_store::datasets::Dataset;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A dataset by id, or 404.
pub async fn find_dataset(app: &AppState, id: &str) -> Result<Dataset, ApiError> {
    app.store.dataset(id).await?.ok_or_else(|| {
        let shown: String = id.chars().take(64).collect();
        ApiError::not_found(format!("không có tập dữ liệu «{shown}»"), format!("no dataset «{shown}»"))
    })
}

/// A dataset by id, or 404, to serve reads of its records (the store's
/// read cache: see `Store::dataset_for_read`).
pub async fn find_dataset_for_read(app: &AppState, id: &str) -> Result<Arc<Dataset>, ApiError> {
    app.store.dataset_for_read(id).await?.ok_or_else(|| {
        let shown: String = id.chars().take(64).collect();
        ApiError::not_found(format!("không có tập dữ liệu «{shown}»"), format!("no dataset «{shown}»"))
    })
}

/// The caller's permit to read `ds`, with the grants their agency holds.
pub async fn read_permit(app: &AppState, caller: &Caller, ds: &Dataset) -> Result<ReadPermit, ApiError> {
    let grants = match caller.subject.state_agency() {
        Some(a) if a != ds.owner_pk => app.store.grants_for(a, ds.pk).await?,
        _ => vec![],
    };
    Ok(decide_read(&caller.subject, &ds.facts(), chrono::Utc::now(), &grants)?)
}

/// Records a change the caller made (after it committed) and waits until
/// the event is durable.
pub async fn record_change(
    app: &AppState,
    caller: &Caller,
    action: &str,
    ds: Option<&Dataset>,
    target: impl Into<String>,
    detail: Value,
) -> Result<(), ApiError> {
    let mut e = caller.actor.event(action, target, detail);
    e.dataset_id = ds.map(|d| d.pk.get());
    app.recorder.record(e).await?;
    Ok(())
}

/// Today's date in Vietnam (UTC+7, no summer time): the day a form's
/// default date and a deadline are counted in.
pub fn today_in_vietnam() -> chrono::NaiveDate {
    let vn = chrono::FixedOffset::east_opt(7 * 3600).expect("BUG: a valid offset");
    chrono::Utc::now().with_timezone(&vn).date_naive()
}
