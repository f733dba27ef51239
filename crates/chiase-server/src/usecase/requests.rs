//! Sharing requests: an officer of a consumer agency asks for a dataset;
//! the owner agency's stewards approve (possibly narrowing) or refuse
//! before the deadline; the requester may withdraw; an approval is a grant
//! that expires and can be revoked. Every step is in the audit log.

use chiase_core::ids::RequestId;
use chiase_core::policy::{self, Reason, RequestBox};
use chiase_core::requests::{RequestStatus, Step, check_approval, check_period, check_request_fields, required_text};
use chiase_core::schema::PersonalClass;
use chiase_store::requests::{DecisionDetails, NewRequest, SharingRequest};
use chrono::NaiveDate;
use serde_json::json;

use super::{find_dataset, record_change};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// What a requester gives.
pub struct Filing {
    pub dataset: String,
    pub fields: Option<Vec<String>>,
    pub purpose: Option<String>,
    pub legal_basis: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The answer to a filing: a new request, or "you can read this already".
pub enum Filed {
    Request(Box<SharingRequest>),
    NotNeeded(Reason),
}

/// Files a request.
pub async fn file(app: &AppState, caller: &Caller, f: Filing) -> Result<Filed, ApiError> {
    let ds = find_dataset(app, &f.dataset).await?;
    let permit = policy::decide_filing(&caller.subject, &ds.facts())?;
    let purpose = required_text("purpose", f.purpose.as_deref(), 2000, "mục đích sử dụng")?;
    let legal_basis = f.legal_basis.as_deref().map(chiase_core::text::clean_line).filter(|s| !s.is_empty());
    if legal_basis.as_ref().is_some_and(|b| b.chars().count() > 1000) {
        return Err(chiase_core::DomainError::invalid(
            "legal_basis",
            chiase_core::Msg::new("căn cứ pháp lý quá dài (tối đa 1000 ký tự)", "«legal_basis» is too long (1000 characters at most)"),
        )
        .into());
    }
    let facts = ds.facts();
    check_request_fields(f.fields.as_deref(), &facts.fields, legal_basis.as_deref())?;
    let today = chrono::Utc::now().date_naive();
    let (from, to) = check_period(f.from, f.to, today, app.config.max_grant_days)?;
    // Asking for what one can read already is answered at once.
    if let Ok(p) = super::read_permit(app, caller, &ds).await {
        let wanted: Vec<usize> = match &f.fields {
            Some(names) => names.iter().filter_map(|n| facts.fields.iter().position(|(x, _)| x == n)).collect(),
            None => (0..facts.fields.len()).filter(|i| facts.fields[*i].1 == PersonalClass::None).collect(),
        };
        if wanted.iter().all(|i| p.visible().contains(i)) {
            return Ok(Filed::NotNeeded(p.reason()));
        }
    }
    let new = NewRequest { fields: f.fields, purpose, legal_basis, from, to };
    let r = app.store.create_request(&permit, &new, app.config.request_deadline_days).await?;
    record_change(
        app,
        caller,
        "request_created",
        Some(&ds),
        format!("request:{}", r.id),
        json!({ "fields": r.fields, "period": [r.period_from, r.period_to] }),
    )
    .await?;
    // The owner's stewards are told; a failure there is logged, not the request's.
    super::notifications::request_filed(app, &r).await;
    Ok(Filed::Request(Box::new(r)))
}

/// The requests in one of the caller's boxes.
pub async fn list(
    app: &AppState,
    caller: &Caller,
    which: RequestBox,
    status: Option<RequestStatus>,
) -> Result<Vec<SharingRequest>, ApiError> {
    let permit = policy::decide_listing(&caller.subject, which)?;
    Ok(app.store.requests(&permit, status).await?)
}

/// One request, for its parties and administrators; "not found" to others
/// (its existence is not theirs to know).
pub async fn show(app: &AppState, caller: &Caller, id: RequestId) -> Result<SharingRequest, ApiError> {
    let not_found = || ApiError::not_found(format!("không có yêu cầu {id}"), format!("no request {id}"));
    let r = app.store.request(id).await?.ok_or_else(not_found)?;
    match policy::decide_view(&caller.subject, &r.facts()) {
        Ok(_) => Ok(r),
        Err(Reason::SignInRequired) => Err(ApiError::denied(Reason::SignInRequired)),
        Err(_) => Err(not_found()),
    }
}

/// What a decision gives.
#[derive(Default)]
pub struct StepDetails {
    pub fields: Option<Vec<String>>,
    pub period: Option<(NaiveDate, NaiveDate)>,
    pub decision_no: Option<String>,
    pub decision_date: Option<NaiveDate>,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
}

/// Takes a step on a request.
pub async fn step(app: &AppState, caller: &Caller, id: RequestId, step: Step, d: StepDetails) -> Result<SharingRequest, ApiError> {
    let r = show(app, caller, id).await?;
    let permit = policy::decide_step(&caller.subject, &r.facts(), step)?;
    let details = match step {
        Step::Approve => {
            let ds = find_dataset(app, &r.dataset).await?;
            let approval = check_approval(
                r.fields.as_deref(),
                (r.period_from, r.period_to),
                &ds.facts().fields,
                d.fields,
                d.period,
                chrono::Utc::now().date_naive(),
                app.config.max_grant_days,
            )?;
            let decision_no = d.decision_no.as_deref().map(chiase_core::text::clean_line).filter(|s| !s.is_empty());
            if decision_no.as_ref().is_some_and(|n| n.chars().count() > 100) {
                return Err(chiase_core::DomainError::invalid(
                    "decision_no",
                    chiase_core::Msg::new("số quyết định quá dài", "«decision_no» is too long"),
                )
                .into());
            }
            DecisionDetails {
                fields: approval.fields,
                from: approval.period.map(|p| p.0),
                to: approval.period.map(|p| p.1),
                decision_no,
                decision_date: d.decision_date,
                ..Default::default()
            }
        }
        // Decree 194/2025: a refusal is written, with reasons and its legal basis.
        Step::Refuse => DecisionDetails {
            reason: Some(required_text("reason", d.reason.as_deref(), 2000, "lý do từ chối")?),
            legal_basis: Some(required_text("legal_basis", d.legal_basis.as_deref(), 1000, "căn cứ pháp lý")?),
            ..Default::default()
        },
        Step::Revoke => {
            DecisionDetails { reason: Some(required_text("reason", d.reason.as_deref(), 2000, "lý do thu hồi")?), ..Default::default() }
        }
        Step::Withdraw => DecisionDetails::default(),
    };
    let updated = app.store.decide_request(&permit, &details).await?;
    let ds = app.store.dataset(&r.dataset).await?;
    record_change(
        app,
        caller,
        step.audit_action(),
        ds.as_ref(),
        format!("request:{}", r.id),
        json!({ "fields": updated.granted_fields, "period": [updated.granted_from, updated.granted_to], "decision_no": updated.decision_no, "reason": updated.refusal_reason.clone().or(updated.revoke_reason.clone()), "legal_basis": updated.refusal_legal_basis, "basis": permit.reason() }),
    )
    .await?;
    // The officer who filed it is told of a decision; a failure there is logged, not the step's.
    if matches!(step, Step::Approve | Step::Refuse) {
        super::notifications::request_decided(app, &updated).await;
    }
    Ok(updated)
}
