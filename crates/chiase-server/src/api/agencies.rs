//! `/api/v1/agencies`: agencies with their lifecycle, names over time,
//! focal contact for data sharing, and the databases they own and owned.
//! Reading is public; changes go through `usecase::agencies`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use chiase_core::agency::{AgencyKind, AgencyStatus, FocalContact};
use chiase_store::agencies::{AgencyFilter, NewAgency};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{ChangeErrors, PublicErrors, PublicItemErrors};
use super::schemas;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::params::{Lang, LangQuery, Params};
use crate::state::AppState;
use crate::usecase::agencies;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(show)).routes(routes!(set_contact)).routes(routes!(change))
}

/// An agency's focal contact for data sharing.
#[derive(Deserialize, ToSchema)]
#[schema(as = FocalContactBody)]
#[serde(deny_unknown_fields)]
struct ContactBody {
    name: Option<String>,
    position: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

/// A new agency.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewAgency)]
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

/// Creates an agency (administrators).
#[utoipa::path(
    post,
    path = "/api/v1/agencies",
    tag = "agencies",
    operation_id = "agencies_create",
    request_body = CreateBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Created: its id and name.", body = schemas::AgencyRef),
        ChangeErrors,
    ),
)]
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

/// A dated change: `new_name` to rename, `into` (an agency id) to merge,
/// `transfer_to` (optional) to dissolve.
#[derive(Deserialize, ToSchema)]
#[schema(as = AgencyChangeBody)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    on: NaiveDate,
    new_name: Option<String>,
    into: Option<String>,
    transfer_to: Option<String>,
}

/// The changes an agency goes through.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
enum AgencyChange {
    Rename,
    Merge,
    Dissolve,
}

/// `POST /api/v1/agencies/{id}/rename|merge|dissolve`, dated
/// (administrators). A merger moves the databases it owned, and its
/// accounts as `merged_users` says.
#[utoipa::path(
    post,
    path = "/api/v1/agencies/{id}/{change}",
    tag = "agencies",
    operation_id = "agencies_change",
    params(
        ("id" = String, Path, description = "The agency's id."),
        ("change" = inline(AgencyChange), Path, description = "What happens to it."),
    ),
    request_body = ChangeBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The agency after a rename; what moved after a merger or dissolution.", body = Object),
        ChangeErrors,
    ),
)]
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

/// Sets the focal contact for data sharing: administrators, or stewards of
/// the agency itself.
#[utoipa::path(
    put,
    path = "/api/v1/agencies/{id}/contact",
    tag = "agencies",
    operation_id = "agencies_set_contact",
    params(("id" = String, Path, description = "The agency's id.")),
    request_body = ContactBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Set."),
        ChangeErrors,
    ),
)]
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

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListQuery {
    /// Only agencies in this state.
    #[param(inline)]
    status: Option<AgencyStatus>,
    /// Words of the name (with or without diacritics).
    q: Option<String>,
    #[param(inline)]
    lang: Option<Lang>,
}

/// Agencies, with their current name, state and focal contact.
#[utoipa::path(
    get,
    path = "/api/v1/agencies",
    tag = "agencies",
    operation_id = "agencies_list",
    params(ListQuery),
    responses(
        (status = 200, description = "The agencies.", body = schemas::AgencyList),
        PublicErrors,
    ),
)]
async fn list(State(app): State<AppState>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse_as::<ListQuery>(uri.query())?;
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

/// One agency: names over time, lifecycle events, predecessors, databases
/// owned now and before.
#[utoipa::path(
    get,
    path = "/api/v1/agencies/{id}",
    tag = "agencies",
    operation_id = "agencies_show",
    params(("id" = String, Path, description = "The agency's id."), LangQuery),
    responses(
        (status = 200, description = "The agency.", body = schemas::AgencyDetail),
        PublicItemErrors,
    ),
)]
async fn show(State(app): State<AppState>, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse_as::<LangQuery>(uri.query())?.lang()?;
    let detail = app.store.agency(&id).await?.ok_or_else(|| {
        let shown: String = id.chars().take(64).collect();
        ApiError::not_found(format!("không tìm thấy cơ quan «{shown}»"), format!("agency «{shown}» not found"))
    })?;
    Ok(Json(serde_json::to_value(detail).map_err(|e| ApiError::internal(&e))?))
}
