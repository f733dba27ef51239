//! `/api/v1/requests`: sharing requests, through `usecase::requests`. A
//! member of a consumer agency asks for a dataset; the owner agency's
//! stewards approve or refuse before the deadline; the requester may
//! withdraw; an approval is a grant that expires and can be revoked.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use chiase_core::ids::RequestId;
use chiase_core::policy::RequestBox;
use chiase_core::requests::{RequestStatus, Step};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{ChangeErrors, ReadErrors};
use super::schemas;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody, OptionalJson};
use crate::params::{Lang, Params};
use crate::state::AppState;
use crate::usecase::requests::{self, Filed, Filing, StepDetails};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(show)).routes(routes!(step))
}

/// A period of use, both days included.
#[derive(Deserialize, ToSchema)]
#[schema(as = RequestPeriod)]
#[serde(deny_unknown_fields)]
struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

/// A sharing request: which dataset, which fields (all by default), why,
/// under which law, for how long.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewRequest)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    dataset: String,
    fields: Option<Vec<String>>,
    purpose: Option<String>,
    legal_basis: Option<String>,
    period: Period,
}

fn to_json(v: impl serde::Serialize) -> Result<Json<Value>, ApiError> {
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError::internal(&e))?))
}

fn request_id(s: &str) -> Result<RequestId, ApiError> {
    s.parse::<i64>().map(RequestId).map_err(|_| {
        let shown: String = s.chars().take(40).collect();
        ApiError::bad_request(format!("mã yêu cầu «{shown}» không hợp lệ"), format!("invalid request id «{shown}»"))
    })
}

/// Files a sharing request for a dataset (an officer of another state
/// agency). When the caller can read the data already, nothing is filed
/// and the answer (200) says why.
#[utoipa::path(
    post,
    path = "/api/v1/requests",
    tag = "requests",
    operation_id = "requests_create",
    request_body = CreateBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Filed.", body = schemas::SharingRequest),
        (status = 200, description = "Not needed: the caller can read this data already.", body = schemas::RequestNotNeeded),
        ChangeErrors,
    ),
)]
async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let filing = Filing {
        dataset: b.dataset,
        fields: b.fields,
        purpose: b.purpose,
        legal_basis: b.legal_basis,
        from: b.period.from,
        to: b.period.to,
    };
    match requests::file(&app, &caller, filing).await? {
        Filed::Request(r) => Ok((StatusCode::CREATED, to_json(r)?)),
        Filed::NotNeeded(reason) => {
            let m = reason.msg();
            Ok((
                StatusCode::OK,
                Json(json!({
                    "needed": false,
                    "message": format!("không cần yêu cầu: bạn đã đọc được dữ liệu này ({})", m.vi),
                    "message_en": format!("no request needed: you can read this data already ({})", m.en),
                    "basis": reason,
                })),
            ))
        }
    }
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListQuery {
    /// `mine`: requests the caller's agency filed; `to_decide`: requests
    /// for its datasets; `all`: every request (administrators). Default: `mine`.
    #[param(rename = "box", inline)]
    which: Option<RequestBoxDoc>,
    /// Only requests in this state.
    #[param(inline)]
    status: Option<RequestStatus>,
    #[param(inline)]
    lang: Option<Lang>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(as = RequestBox, rename_all = "snake_case")]
enum RequestBoxDoc {
    Mine,
    ToDecide,
    All,
}

/// Sharing requests the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/requests",
    tag = "requests",
    operation_id = "requests_list",
    params(ListQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The requests.", body = schemas::RequestList),
        ReadErrors,
    ),
)]
async fn list(State(app): State<AppState>, caller: Caller, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse_as::<ListQuery>(uri.query())?;
    caller.require_user()?;
    let status = p
        .one("status")?
        .map(|s| {
            s.parse::<RequestStatus>()
                .map_err(|s| ApiError::bad_request(format!("trạng thái «{s}» không hợp lệ"), format!("invalid status «{s}»")))
        })
        .transpose()?;
    let which = match p.one("box")?.unwrap_or("mine") {
        "mine" => RequestBox::Mine,
        "to_decide" => RequestBox::ToDecide,
        "all" => RequestBox::All,
        b => {
            return Err(ApiError::bad_request(
                format!("hộp «{b}» không hợp lệ (mine, to_decide, all)"),
                format!("invalid box «{b}» (mine, to_decide, all)"),
            ));
        }
    };
    let list = requests::list(&app, &caller, which, status).await?;
    Ok(Json(json!({ "count": list.len(), "results": list })))
}

/// One request (its two parties and administrators; others get a 404).
#[utoipa::path(
    get,
    path = "/api/v1/requests/{id}",
    tag = "requests",
    operation_id = "requests_show",
    params(("id" = i64, Path, description = "The request's id.")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The request.", body = schemas::SharingRequest),
        ReadErrors,
    ),
)]
async fn show(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    caller.require_user()?;
    to_json(requests::show(&app, &caller, request_id(&id)?).await?)
}

/// What a step says: an approval may narrow `fields` and `period` and
/// cite a decision (`decision_no`, `decision_date`); a refusal needs
/// `reason` and `legal_basis`; a revocation a `reason`.
#[derive(Deserialize, Default, ToSchema)]
#[schema(as = RequestStepBody)]
#[serde(deny_unknown_fields)]
struct StepBody {
    fields: Option<Vec<String>>,
    period: Option<Period>,
    decision_no: Option<String>,
    decision_date: Option<NaiveDate>,
    reason: Option<String>,
    legal_basis: Option<String>,
}

/// The steps of a request.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(as = RequestStep, rename_all = "lowercase")]
enum StepDoc {
    Approve,
    Refuse,
    Withdraw,
    Revoke,
}

/// A step of a request: `approve` or `refuse` (stewards of the owner, before
/// the deadline), `withdraw` (the requester), `revoke` (an approved grant:
/// the owner's stewards). The body may be empty where the step needs nothing.
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/{step}",
    tag = "requests",
    operation_id = "requests_step",
    params(("id" = i64, Path, description = "The request's id."), ("step" = inline(StepDoc), Path, description = "The step.")),
    request_body(content = Option<StepBody>),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The request after the step.", body = schemas::SharingRequest),
        ChangeErrors,
    ),
)]
async fn step(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, step)): ApiPath<(String, String)>,
    OptionalJson(b): OptionalJson<StepBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require_user()?;
    let step: Step = step.parse().map_err(|s: String| {
        let shown: String = s.chars().take(40).collect();
        ApiError::not_found(format!("không có bước «{shown}»"), format!("no step «{shown}»"))
    })?;
    let b = b.unwrap_or_default();
    let details = StepDetails {
        fields: b.fields,
        period: b.period.map(|p| (p.from, p.to)),
        decision_no: b.decision_no,
        decision_date: b.decision_date,
        reason: b.reason,
        legal_basis: b.legal_basis,
    };
    to_json(requests::step(&app, &caller, request_id(&id)?, step, details).await?)
}
