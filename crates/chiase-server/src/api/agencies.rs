//! `/api/v1/agencies`: agencies with their lifecycle, names over time,
//! focal contact for data sharing, and the databases they own and owned.

use axum::extract::State;
use axum::http::Uri;
use axum::routing::get;
use axum::{Json, Router};
use chiase_core::agency::AgencyStatus;
use chiase_store::agencies::AgencyFilter;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::ApiError;
use crate::params::{ApiPath, Params};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/agencies", get(list)).route("/api/v1/agencies/{id}", get(show))
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
