//! `/api/v1/requests`: sharing requests. A member of a consumer agency asks
//! for a dataset; the owner agency's stewards approve or refuse before the
//! deadline; the requester may withdraw; an approval is a grant that
//! expires and can be revoked. Every step is in the audit log.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use chiase_core::policy::{Action, Role, Subject, decide};
use chiase_core::requests::{RequestStatus, Step, check_period, required_text};
use chiase_core::schema::PersonalClass;
use chiase_core::{DomainError, Msg};
use chiase_store::requests::{DecisionDetails, NewRequest, RequestFilter, SharingRequest};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use super::accounts::json_body;
use super::datasets::find;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::gate::record_write;
use crate::params::{ApiPath, Params};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/requests", get(list).post(create))
        .route("/api/v1/requests/{id}", get(show))
        .route("/api/v1/requests/{id}/{step}", post(step))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    dataset: String,
    fields: Option<Vec<String>>,
    purpose: Option<String>,
    legal_basis: Option<String>,
    period: Period,
}

fn forbidden(vi: &str, en: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", vi, en)
}

fn to_json(r: &SharingRequest) -> Result<Value, ApiError> {
    serde_json::to_value(r).map_err(|e| ApiError::internal(&e))
}

async fn create(State(app): State<AppState>, caller: Caller, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = caller.require_user()?.clone();
    let Some(agency) = user.agency_pk else {
        return Err(forbidden(
            "chỉ cán bộ của cơ quan nhà nước gửi được yêu cầu chia sẻ",
            "only officers of state agencies file sharing requests",
        ));
    };
    let b: CreateBody = json_body(&body)?;
    let ds = find(&app, &b.dataset).await?;
    if agency == ds.owner_pk {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "own_data",
            "cơ quan chủ quản không cần yêu cầu dữ liệu của mình",
            "the owner agency needs no request for its own data",
        ));
    }
    let purpose = required_text("purpose", b.purpose.as_deref(), 2000, "mục đích sử dụng")?;
    let legal_basis = b.legal_basis.as_deref().map(chiase_core::text::clean_line).filter(|s| !s.is_empty());
    // Fields asked must exist; sensitive ones need a legal basis.
    if let Some(fields) = &b.fields {
        if fields.is_empty() {
            return Err(DomainError::invalid("fields", Msg::new("cần nêu ít nhất một trường", "name at least one field")).into());
        }
        for f in fields {
            match ds.schema.fields.iter().find(|x| &x.name == f) {
                None => {
                    return Err(
                        DomainError::invalid("fields", Msg::new(format!("không có trường «{f}»"), format!("no field «{f}»"))).into()
                    );
                }
                Some(x) if x.personal == PersonalClass::Sensitive && legal_basis.is_none() => {
                    return Err(DomainError::invalid(
                        "legal_basis",
                        Msg::new(
                            format!("trường «{f}» là dữ liệu cá nhân nhạy cảm: cần nêu căn cứ pháp lý"),
                            format!("field «{f}» is sensitive personal data: a legal basis is required"),
                        ),
                    )
                    .into());
                }
                _ => {}
            }
        }
    }
    let today = chrono::Utc::now().date_naive();
    let (from, to) = check_period(b.period.from, b.period.to, today, app.config.max_grant_days)?;
    // Asking for what one can read already is answered at once.
    if let Ok(p) = decide(&caller.subject, Action::Read, &ds.facts(), chrono::Utc::now(), &[]).read() {
        let wanted: Vec<usize> = match &b.fields {
            Some(f) => f.iter().filter_map(|n| ds.schema.fields.iter().position(|x| &x.name == n)).collect(),
            None => (0..ds.schema.fields.len()).filter(|i| ds.schema.fields[*i].personal == PersonalClass::None).collect(),
        };
        if wanted.iter().all(|i| p.visible().contains(i)) {
            let m = p.reason().msg();
            return Ok((
                StatusCode::OK,
                Json(json!({
                    "needed": false,
                    "message": format!("không cần yêu cầu: bạn đã đọc được dữ liệu này ({})", m.vi),
                    "message_en": format!("no request needed: you can read this data already ({})", m.en),
                    "basis": p.reason(),
                })),
            ));
        }
    }
    let new = NewRequest { dataset_pk: ds.pk, fields: b.fields, purpose, legal_basis, from, to };
    let r = app.store.create_request(&user, &new, app.config.request_deadline_days).await?;
    record_write(
        &app,
        &caller,
        "request_created",
        Some(&ds),
        format!("request:{}", r.id),
        json!({ "fields": r.fields, "period": [r.period_from, r.period_to] }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(to_json(&r)?)))
}

async fn list(State(app): State<AppState>, caller: Caller, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["box", "status", "lang"])?;
    let user = caller.require_user()?;
    let status = p
        .one("status")?
        .map(|s| {
            s.parse::<RequestStatus>()
                .map_err(|s| ApiError::bad_request(format!("trạng thái «{s}» không hợp lệ"), format!("invalid status «{s}»")))
        })
        .transpose()?;
    let filter = match (p.one("box")?.unwrap_or("mine"), user.agency_pk) {
        ("mine", Some(a)) => RequestFilter { consumer_agency: Some(a), owner_agency: None, status },
        ("to_decide", Some(a)) => RequestFilter { consumer_agency: None, owner_agency: Some(a), status },
        ("all", _) if caller.is_admin() => RequestFilter { consumer_agency: None, owner_agency: None, status },
        (b @ ("mine" | "to_decide" | "all"), _) => {
            return Err(forbidden(&format!("không xem được hộp «{b}»"), &format!("the «{b}» box is not yours to see")));
        }
        (b, _) => {
            return Err(ApiError::bad_request(
                format!("hộp «{b}» không hợp lệ (mine, to_decide, all)"),
                format!("invalid box «{b}» (mine, to_decide, all)"),
            ));
        }
    };
    let list = app.store.requests(&filter).await?;
    Ok(Json(json!({ "count": list.len(), "results": list })))
}

/// The parties of a request (and admins) may see it.
fn may_see(caller: &Caller, r: &SharingRequest) -> bool {
    caller.is_admin() || caller.agency().is_some_and(|a| a == r.agency_pk || a == r.owner_pk)
}

async fn load(app: &AppState, caller: &Caller, id: &str) -> Result<SharingRequest, ApiError> {
    let id: i64 =
        id.parse().map_err(|_| ApiError::bad_request(format!("mã yêu cầu «{id}» không hợp lệ"), format!("invalid request id «{id}»")))?;
    let not_found = || ApiError::not_found(format!("không có yêu cầu {id}"), format!("no request {id}"));
    let r = app.store.request(id).await?.ok_or_else(not_found)?;
    if !may_see(caller, &r) {
        return Err(not_found());
    }
    Ok(r)
}

async fn show(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    caller.require_user()?;
    Ok(Json(to_json(&load(&app, &caller, &id).await?)?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StepBody {
    fields: Option<Vec<String>>,
    period: Option<Period>,
    decision_no: Option<String>,
    decision_date: Option<NaiveDate>,
    reason: Option<String>,
    legal_basis: Option<String>,
}

async fn step(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, step)): ApiPath<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let user = caller.require_user()?.clone();
    let r = load(&app, &caller, &id).await?;
    let b: StepBody = if body.is_empty() { StepBody::default() } else { json_body(&body)? };
    let steward_of = |agency: i64| matches!(caller.subject, Subject::User { role: Role::Steward, agency_id: Some(a), .. } if a == agency);
    let (step, details) = match step.as_str() {
        "approve" | "refuse" | "revoke" if !steward_of(r.owner_pk) => {
            return Err(forbidden(
                "chỉ cán bộ quản lý dữ liệu của cơ quan chủ quản được quyết định",
                "only stewards of the owner agency decide",
            ));
        }
        "approve" => {
            // An approval may narrow what was asked, never widen it.
            if let (Some(asked), Some(given)) = (&r.fields, &b.fields)
                && given.iter().any(|f| !asked.contains(f))
            {
                return Err(DomainError::invalid(
                    "fields",
                    Msg::new("chỉ được thu hẹp các trường đã yêu cầu", "an approval may only narrow the fields asked"),
                )
                .into());
            }
            if let (None, Some(given)) = (&r.fields, &b.fields) {
                let ds = find(&app, &r.dataset).await?;
                if let Some(f) = given.iter().find(|f| !ds.schema.fields.iter().any(|x| &x.name == *f && x.personal == PersonalClass::None))
                {
                    return Err(DomainError::invalid(
                        "fields",
                        Msg::new(format!("trường «{f}» không nằm trong yêu cầu"), format!("field «{f}» was not asked for")),
                    )
                    .into());
                }
            }
            let (from, to) = match &b.period {
                Some(p) => {
                    let (f, t) = check_period(p.from, p.to, chrono::Utc::now().date_naive(), app.config.max_grant_days)?;
                    if f < r.period_from || t > r.period_to {
                        return Err(DomainError::invalid(
                            "period",
                            Msg::new("chỉ được rút ngắn thời hạn đã yêu cầu", "an approval may only shorten the period asked"),
                        )
                        .into());
                    }
                    (Some(f), Some(t))
                }
                None => (None, None),
            };
            (
                Step::Approve,
                DecisionDetails {
                    fields: b.fields,
                    from,
                    to,
                    decision_no: b.decision_no,
                    decision_date: b.decision_date,
                    ..Default::default()
                },
            )
        }
        "refuse" => {
            // Decree 194/2025: a refusal is written, with reasons and its legal basis.
            let reason = required_text("reason", b.reason.as_deref(), 2000, "lý do từ chối")?;
            let legal_basis = required_text("legal_basis", b.legal_basis.as_deref(), 1000, "căn cứ pháp lý")?;
            (Step::Refuse, DecisionDetails { reason: Some(reason), legal_basis: Some(legal_basis), ..Default::default() })
        }
        "revoke" => {
            let reason = required_text("reason", b.reason.as_deref(), 2000, "lý do thu hồi")?;
            (Step::Revoke, DecisionDetails { reason: Some(reason), ..Default::default() })
        }
        "withdraw" => {
            let own = r.requester_pk == user.pk || steward_of(r.agency_pk);
            if !own {
                return Err(forbidden("chỉ người gửi yêu cầu được rút lại", "only the requester may withdraw"));
            }
            (Step::Withdraw, DecisionDetails::default())
        }
        other => return Err(ApiError::not_found(format!("không có bước «{other}»"), format!("no step «{other}»"))),
    };
    let action = match step {
        Step::Approve => "request_approved",
        Step::Refuse => "request_refused",
        Step::Withdraw => "request_withdrawn",
        Step::Revoke => "grant_revoked",
    };
    let updated = app.store.decide_request(r.id, &user, step, &details).await?;
    let ds = app.store.dataset(&r.dataset).await?;
    record_write(
        &app,
        &caller,
        action,
        ds.as_ref(),
        format!("request:{}", r.id),
        json!({ "fields": updated.granted_fields, "period": [updated.granted_from, updated.granted_to], "decision_no": updated.decision_no, "reason": updated.refusal_reason.clone().or(updated.revoke_reason.clone()), "legal_basis": updated.refusal_legal_basis }),
    )
    .await?;
    Ok(Json(to_json(&updated)?))
}
