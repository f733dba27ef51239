//! `/api/v1/agencies`: agencies with their lifecycle, names over time,
//! focal contact for data sharing, and the databases they own and owned.
//! Reading is public; changes go through `usecase::agencies`.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chiase_core::agency::{AgencyKind, AgencyStatus, FocalContact};
use chiase_store::agencies::{AgencyFilter, NewAgency};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::params::Params;
use crate::state::AppState;
use crate::usecase::agencies;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agencies", get(list).post(create))
        .route("/api/v1/agencies/{id}", get(show))
        .route("/api/v1/agencies/{id}/contact", put(set_contact))
        .route("/api/v1/agencies/{id}/{change}", post(change))
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

async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_user()?;
    let new = NewAgency { name: b.name, kind: b.kind, established_on: b.established_on, contact: contact_of(b.contact.as_ref())? };
    let r = agencies::create(&app, &caller, new).await?;
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
    JsonBody(b): JsonBody<ChangeBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require_user()?;
    let result = match change.as_str() {
        "rename" => {
            let name = b.new_name.ok_or_else(|| ApiError::bad_request("cần «new_name»", "«new_name» is required"))?;
            json!(agencies::rename(&app, &caller, &id, &name, b.on).await?)
        }
        "merge" => {
            let into = b.into.ok_or_else(|| ApiError::bad_request("cần «into»", "«into» is required"))?;
            json!(agencies::merge(&app, &caller, &id, &into, b.on).await?)
        }
        "dissolve" => json!(agencies::dissolve(&app, &caller, &id, b.transfer_to.as_deref(), b.on).await?),
        other => {
            let shown: String = other.chars().take(40).collect();
            return Err(ApiError::not_found(format!("không có thao tác «{shown}»"), format!("no change «{shown}»")));
        }
    };
    Ok(Json(result))
}

/// The focal contact: admins, or stewards of the agency itself.
async fn set_contact(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(b): JsonBody<ContactBody>,
) -> Result<StatusCode, ApiError> {
    caller.require_user()?;
    agencies::set_contact(&app, &caller, &id, &contact_of(Some(&b))?).await?;
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
    let detail = app.store.agency(&id).await?.ok_or_else(|| {
        let shown: String = id.chars().take(64).collect();
        ApiError::not_found(format!("không tìm thấy cơ quan «{shown}»"), format!("agency «{shown}» not found"))
    })?;
    Ok(Json(serde_json::to_value(detail).map_err(|e| ApiError::internal(&e))?))
}
