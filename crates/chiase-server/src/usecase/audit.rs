//! The audit log for those who must answer for it: administrators see
//! every event, stewards the events about their agency's datasets and by
//! its people; administrators verify the chain.

use chiase_core::policy;
use chiase_store::audit::{AuditFilter, Event, Verification};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Events within what the caller may see, filtered.
pub async fn events(app: &AppState, caller: &Caller, filter: &AuditFilter) -> Result<Vec<Event>, ApiError> {
    let permit = policy::decide_audit_read(&caller.subject)?;
    Ok(app.store.audit_events(&permit, filter).await?)
}

/// Recomputes the chain (administrators).
pub async fn verify(app: &AppState, caller: &Caller) -> Result<Verification, ApiError> {
    let permit = policy::decide_audit_verify(&caller.subject)?;
    Ok(app.store.verify_audit(&permit).await?)
}
