//! The audit log for those who must answer for it: administrators see
//! every event, stewards the events about their agency's datasets and by
//! its people; administrators verify the chain.

use chiase_core::policy;
use chiase_store::audit::{AuditFilter, Event, Usage, Verification, VerifyOptions};
use chiase_store::audit_anchor::CheckpointOutcome;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Events within what the caller may see, filtered.
pub async fn events(app: &AppState, caller: &Caller, filter: &AuditFilter) -> Result<Vec<Event>, ApiError> {
    let permit = policy::decide_audit_read(&caller.subject)?;
    Ok(app.store.audit_events(&permit, filter).await?)
}

/// Reads per dataset and day (open and audited) of the datasets the
/// caller answers for, from `from` to the day before `until`.
pub async fn usage(app: &AppState, caller: &Caller, from: chrono::NaiveDate, until: chrono::NaiveDate) -> Result<Vec<Usage>, ApiError> {
    let permit = policy::decide_audit_read(&caller.subject)?;
    // Today's open reads are still being counted in memory.
    app.recorder.flush_open_reads().await;
    Ok(app.store.usage(&permit, from, until).await?)
}

/// Recomputes the chain and checks it against the latest signed
/// checkpoint and, when given, a head kept elsewhere (administrators).
pub async fn verify(app: &AppState, caller: &Caller, expect_head: Option<(i64, String)>) -> Result<Verification, ApiError> {
    let permit = policy::decide_audit_verify(&caller.subject)?;
    let opts = VerifyOptions { anchor: app.anchor.as_deref(), expect_head };
    Ok(app.store.verify_audit_with(&permit, &opts).await?)
}

/// The head of the chain, for an operator to keep elsewhere (administrators).
pub async fn head(app: &AppState, caller: &Caller) -> Result<Option<(i64, String)>, ApiError> {
    let permit = policy::decide_audit_verify(&caller.subject)?;
    Ok(app.store.audit_head(&permit).await?)
}

/// Signs the current head now (administrators; the key must exist).
pub async fn checkpoint(app: &AppState, caller: &Caller) -> Result<Option<CheckpointOutcome>, ApiError> {
    let permit = policy::decide_audit_verify(&caller.subject)?;
    match &app.anchor {
        Some(anchor) => Ok(Some(app.store.checkpoint_audit(&permit, anchor, false).await?)),
        None => Ok(None),
    }
}
