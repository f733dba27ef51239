//! The HTTP side of the policy decision point: loads what the decision
//! needs, asks `chiase_core::policy::decide`, and turns a denial into a
//! 401 or 403 that says why. Every handler that returns or changes rows
//! gets its permit here.

use axum::http::StatusCode;
use chiase_core::policy::{Action, ReadPermit, Reason, Subject, WritePermit, decide};
use chiase_store::datasets::Dataset;

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
pub async fn read_permit(_app: &AppState, caller: &Caller, ds: &Dataset) -> Result<ReadPermit, ApiError> {
    decide(&caller.subject, Action::Read, &ds.facts(), chrono::Utc::now(), &[]).read().map_err(|r| denied(caller, r))
}

/// A permit to write `ds`, or the reason why not.
pub async fn write_permit(_app: &AppState, caller: &Caller, ds: &Dataset) -> Result<WritePermit, ApiError> {
    decide(&caller.subject, Action::Write, &ds.facts(), chrono::Utc::now(), &[]).write().map_err(|r| denied(caller, r))
}
