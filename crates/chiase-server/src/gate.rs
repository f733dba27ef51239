//! The HTTP side of the policy decision point: loads what a decision needs
//! (the dataset's facts, the grants the caller's agency holds), asks
//! `chiase_core::policy::decide`, turns a denial into a 401 or 403 that
//! says why, and records what was read: restricted reads as audit events,
//! durable before the reply leaves; open reads as counts.

use axum::http::StatusCode;
use chiase_core::policy::{Action, ReadPermit, Reason, Subject, WritePermit, decide};
use chiase_store::audit::NewEvent;
use chiase_store::datasets::Dataset;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

fn denied(caller: &Caller, reason: Reason) -> ApiError {
    let msg = reason.msg();
    let (status, code) = if caller.subject == Subject::Anonymous && reason == Reason::SignInRequired {
        (StatusCode::UNAUTHORIZED, "sign_in_required")
    } else {
        (StatusCode::FORBIDDEN, "forbidden")
    };
    ApiError::new(status, code, format!("không được phép: {}", msg.vi), format!("not allowed: {}", msg.en))
}

/// A permit to read `ds`, or the reason why not.
pub async fn read_permit(app: &AppState, caller: &Caller, ds: &Dataset) -> Result<ReadPermit, ApiError> {
    let grants = match caller.agency() {
        Some(a) if a != ds.owner_pk => app.store.grants_for(a, ds.pk).await?,
        _ => vec![],
    };
    decide(&caller.subject, Action::Read, &ds.facts(), chrono::Utc::now(), &grants).read().map_err(|r| denied(caller, r))
}

/// A permit to write `ds`, or the reason why not.
pub async fn write_permit(_app: &AppState, caller: &Caller, ds: &Dataset) -> Result<WritePermit, ApiError> {
    decide(&caller.subject, Action::Write, &ds.facts(), chrono::Utc::now(), &[]).write().map_err(|r| denied(caller, r))
}

/// An event about the caller, ready to fill in.
pub fn event(caller: &Caller, action: &str, target: impl Into<String>, detail: Value) -> NewEvent {
    NewEvent {
        actor: caller.actor.clone(),
        user_id: caller.user.as_ref().map(|u| u.pk),
        agency_id: caller.agency(),
        action: action.to_string(),
        dataset_id: None,
        target: Some(target.into()),
        detail,
        source: caller.source.clone(),
    }
}

/// Records a read: an audit event (waited for) when the permit is
/// restricted, a count otherwise. `surface` names what was read (records,
/// record, export, changes); `query` is the request's query string.
pub async fn record_read(
    app: &AppState,
    caller: &Caller,
    ds: &Dataset,
    permit: &ReadPermit,
    surface: &str,
    query: Option<&str>,
    rows: Option<i64>,
) -> Result<(), ApiError> {
    if !permit.is_restricted() {
        app.open_reads.count(ds.pk, rows.unwrap_or(0));
        return Ok(());
    }
    let fields: Vec<&str> = permit.visible().iter().map(|i| ds.schema.fields[*i].name.as_str()).collect();
    let mut e = event(
        caller,
        "read",
        ds.id.clone(),
        json!({ "surface": surface, "query": query, "fields": fields, "rows": rows, "grant": permit.grant_used(), "basis": permit.reason() }),
    );
    e.dataset_id = Some(ds.pk);
    app.audit.record(e).await.map_err(|e| ApiError::internal(&e))?;
    Ok(())
}

/// Records a change (after it committed) and waits for the event.
pub async fn record_write(
    app: &AppState,
    caller: &Caller,
    action: &str,
    ds: Option<&Dataset>,
    target: impl Into<String>,
    detail: Value,
) -> Result<(), ApiError> {
    let mut e = event(caller, action, target, detail);
    e.dataset_id = ds.map(|d| d.pk);
    app.audit.record(e).await.map_err(|e| ApiError::internal(&e))?;
    Ok(())
}
