//! `/api/v1/agencies`: agencies with their lifecycle, names over time,
//! focal contact for data sharing, and the databases they own and owned.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chiase_core::agency::{AgencyKind, AgencyStatus, FocalContact};
use chiase_store::agencies::{AgencyFilter, NewAgency};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use super::accounts::json_body;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::gate::record_write;
use crate::params::{ApiPath, Params};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agencies", get(list).post(create))
        .route("/api/v1/agencies/{id}", get(show))
        .route("/api/v1/agencies/{id}/contact", put(set_contact))
        .route("/api/v1/agencies/{id}/{change}", post(change))
}

fn admin_only(caller: &Caller) -> Result<(), ApiError> {
    caller.require_user()?;
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "chỉ quản trị viên quản lý được cơ quan",
            "only administrators manage agencies",
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactBody {
    name: Option<String>,
    position: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    kind: Option<AgencyKind>,
    established_on: Option<NaiveDate>,
    contact: Option<ContactBody>,
}

fn contact_of(c: Option<&ContactBody>) -> Result<FocalContact, ApiError> {
    match c {
        None => Ok(FocalContact::default()),
        Some(c) => Ok(FocalContact::parse(c.name.as_deref(), c.position.as_deref(), c.phone.as_deref(), c.email.as_deref())?),
    }
}

async fn create(State(app): State<AppState>, caller: Caller, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    admin_only(&caller)?;
    let b: CreateBody = json_body(&body)?;
    let r = app
        .store
        .create_agency(&NewAgency {
            name: b.name,
            kind: b.kind,
            established_on: b.established_on,
            contact: contact_of(b.contact.as_ref())?,
        })
        .await?;
    record_write(&app, &caller, "agency_created", None, r.id.clone(), json!({ "name": r.name })).await?;
    Ok((StatusCode::CREATED, Json(json!(r))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    on: NaiveDate,
    new_name: Option<String>,
    into: Option<String>,
    transfer_to: Option<String>,
}

/// `POST /api/v1/agencies/{id}/rename|merge|dissolve`, dated.
async fn change(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, change)): ApiPath<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    admin_only(&caller)?;
    let b: ChangeBody = json_body(&body)?;
    let result = match change.as_str() {
        "rename" => {
            let name = b.new_name.ok_or_else(|| ApiError::bad_request("cần «new_name»", "«new_name» is required"))?;
            json!(app.store.rename_agency(&id, &name, b.on).await?)
        }
        "merge" => {
            let into = b.into.ok_or_else(|| ApiError::bad_request("cần «into»", "«into» is required"))?;
            json!(app.store.merge_agency(&id, &into, b.on).await?)
        }
        "dissolve" => json!(app.store.dissolve_agency(&id, b.transfer_to.as_deref(), b.on).await?),
        other => return Err(ApiError::not_found(format!("không có thao tác «{other}»"), format!("no change «{other}»"))),
    };
    record_write(&app, &caller, &format!("agency_{change}"), None, id, json!({ "on": b.on, "result": result })).await?;
    Ok(Json(result))
}

/// The focal contact: admins, or stewards of the agency itself.
async fn set_contact(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    caller.require_user()?;
    let agency = app
        .store
        .agency_pk(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("không tìm thấy cơ quan «{id}»"), format!("agency «{id}» not found")))?;
    let own_steward = matches!(caller.subject, chiase_core::policy::Subject::User { role: chiase_core::policy::Role::Steward, agency_id: Some(a), .. } if a == agency);
    if !caller.is_admin() && !own_steward {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "chỉ quản trị viên hoặc cán bộ quản lý dữ liệu của cơ quan",
            "only administrators or the agency's stewards",
        ));
    }
    let b: ContactBody = json_body(&body)?;
    let contact = contact_of(Some(&b))?;
    app.store.set_agency_contact(&id, &contact).await?;
    record_write(&app, &caller, "agency_contact", None, id, json!({ "contact": contact })).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list(State(app): State<AppState>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["status", "q", "lang"])?;
    p.lang()?;
    let status = p
        .one("status")?
        .map(|s| {
            s.parse::<AgencyStatus>().map_err(|_| {
                ApiError::bad_request(
                    format!("trạng thái «{s}» không hợp lệ (active, merged, dissolved)"),
                    format!("invalid status «{s}» (active, merged, dissolved)"),
                )
            })
        })
        .transpose()?;
    let filter = AgencyFilter { status, q: p.one("q")?.map(str::to_string) };
    let agencies = app.store.agencies(&filter).await?;
    Ok(Json(json!({ "count": agencies.len(), "results": agencies })))
}

async fn show(State(app): State<AppState>, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse(uri.query(), &["lang"])?.lang()?;
    let detail = app
        .store
        .agency(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("không tìm thấy cơ quan «{id}»"), format!("agency «{id}» not found")))?;
    Ok(Json(serde_json::to_value(detail).map_err(|e| ApiError::internal(&e))?))
}
