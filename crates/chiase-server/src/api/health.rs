//! `GET /healthz`: 200 once the server is ready and its database answers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

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
