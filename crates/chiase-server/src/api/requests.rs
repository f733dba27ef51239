//! `/api/v1/requests`: sharing requests, through `usecase::requests`. A
//! member of a consumer agency asks for a dataset; the owner agency's
//! stewards approve or refuse before the deadline; the requester may
//! withdraw; an approval is a grant that expires and can be revoked.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use chiase_core::ids::RequestId;
use chiase_core::policy::RequestBox;
use chiase_core::requests::{RequestStatus, Step};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody, OptionalJson};
use crate::params::Params;
use crate::state::AppState;
use crate::usecase::requests::{self, Filed, Filing, StepDetails};

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

fn to_json(v: impl serde::Serialize) -> Result<Json<Value>, ApiError> {
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError::internal(&e))?))
}

fn request_id(s: &str) -> Result<RequestId, ApiError> {
    s.parse::<i64>().map(RequestId).map_err(|_| {
        let shown: String = s.chars().take(40).collect();
        ApiError::bad_request(format!("mã yêu cầu «{shown}» không hợp lệ"), format!("invalid request id «{shown}»"))
    })
}

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

async fn list(State(app): State<AppState>, caller: Caller, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["box", "status", "lang"])?;
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

async fn show(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    caller.require_user()?;
    to_json(requests::show(&app, &caller, request_id(&id)?).await?)
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
