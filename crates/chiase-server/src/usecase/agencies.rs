//! Administering agencies: create, rename, merge, dissolve (administrators),
//! and the focal contact for data sharing (administrators or the agency's
//! own stewards).

use chiase_core::agency::FocalContact;
use chiase_core::policy;
use chiase_store::agencies::{AgencyRef, NewAgency, TransferSummary};
use chrono::NaiveDate;
use serde_json::json;

use super::record_change;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn create(app: &AppState, caller: &Caller, new: NewAgency) -> Result<AgencyRef, ApiError> {
    let permit = policy::decide_agency_admin(&caller.subject)?;
    let r = app.store.create_agency(&permit, &new).await?;
    record_change(app, caller, "agency_created", None, r.id.clone(), json!({ "name": r.name })).await?;
    Ok(r)
}

pub async fn rename(app: &AppState, caller: &Caller, id: &str, name: &str, on: NaiveDate) -> Result<AgencyRef, ApiError> {
    let permit = policy::decide_agency_admin(&caller.subject)?;
    let r = app.store.rename_agency(&permit, id, name, on).await?;
    record_change(app, caller, "agency_rename", None, id.to_string(), json!({ "on": on, "name": r.name })).await?;
    Ok(r)
}

/// Merges an agency into another; its accounts move or are suspended as
/// the `merged_users` setting says.
pub async fn merge(app: &AppState, caller: &Caller, id: &str, into: &str, on: NaiveDate) -> Result<TransferSummary, ApiError> {
    let permit = policy::decide_agency_admin(&caller.subject)?;
    let s = app.store.merge_agency(&permit, id, into, on, app.config.merged_users).await?;
    record_change(
        app,
        caller,
        "agency_merge",
        None,
        id.to_string(),
        json!({ "on": on, "into": into, "databases_moved": s.databases_moved, "users_moved": s.users_moved, "users_suspended": s.users_suspended }),
    )
    .await?;
    Ok(s)
}

pub async fn dissolve(
    app: &AppState,
    caller: &Caller,
    id: &str,
    transfer_to: Option<&str>,
    on: NaiveDate,
) -> Result<TransferSummary, ApiError> {
    let permit = policy::decide_agency_admin(&caller.subject)?;
    let s = app.store.dissolve_agency(&permit, id, transfer_to, on).await?;
    record_change(
        app,
        caller,
        "agency_dissolve",
        None,
        id.to_string(),
        json!({ "on": on, "transfer_to": transfer_to, "databases_moved": s.databases_moved, "users_suspended": s.users_suspended }),
    )
    .await?;
    Ok(s)
}

pub async fn set_contact(app: &AppState, caller: &Caller, id: &str, contact: &FocalContact) -> Result<(), ApiError> {
    let agency = app.store.agency_pk(id).await?.ok_or_else(|| {
        let shown: String = id.chars().take(64).collect();
        ApiError::not_found(format!("không tìm thấy cơ quan «{shown}»"), format!("agency «{shown}» not found"))
    })?;
    let permit = policy::decide_contact(&caller.subject, agency)?;
    app.store.set_agency_contact(&permit, id, contact).await?;
    record_change(app, caller, "agency_contact", None, id.to_string(), json!({ "contact": contact })).await
}
