//! `GET /healthz`: 200 once the server is ready and its database answers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Whether the server is ready: 200 once its database answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    operation_id = "health",
    responses(
        (status = 200, description = "Ready.", body = super::schemas::Health),
        (status = 503, description = "The database does not answer.", body = super::schemas::Health),
    ),
)]
async fn health(State(app): State<AppState>) -> Response {
    let engine = match app.store.backend() {
        chiase_store::Backend::Sqlite => "sqlite",
        chiase_store::Backend::Postgres => "postgres",
    };
    match app.store.ping().await {
        Ok(()) => Json(json!({ "status": "ok", "engine": engine, "version": env!("CARGO_PKG_VERSION") })).into_response(),
        Err(e) => {
            tracing::warn!("health check failed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "engine": engine }))).into_response()
        }
    }
}
