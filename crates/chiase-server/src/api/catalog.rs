//! `/api/v1/catalog/versions`: the catalog as a legal act, one version per
//! decision, and the differences between two versions field by field.

use axum::extract::State;
use axum::http::Uri;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::params::Params;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/catalog/versions", get(list))
        .route("/api/v1/catalog/versions/{id}", get(show))
        .route("/api/v1/catalog/versions/{from}/diff/{to}", get(diff))
}

async fn list(State(app): State<AppState>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse(uri.query(), &["lang"])?;
    let versions = app.store.catalog_versions().await?;
    Ok(Json(json!({ "count": versions.len(), "results": versions })))
}

fn version_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request(
            format!("mã phiên bản phải là số nguyên dương, gặp «{s}»"),
            format!("a version id is a positive integer, got «{s}»"),
        )
    })
}

async fn show(State(app): State<AppState>, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse(uri.query(), &["lang"])?;
    let id = version_id(&id)?;
    let v = app
        .store
        .catalog_version(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("không có phiên bản danh mục {id}"), format!("catalog version {id} not found")))?;
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError::internal(&e))?))
}

async fn diff(State(app): State<AppState>, ApiPath((from, to)): ApiPath<(String, String)>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse(uri.query(), &["lang"])?;
    let (from, to) = (version_id(&from)?, version_id(&to)?);
    let d = app.store.catalog_diff(from, to).await?;
    let versions = app.store.catalog_versions().await?;
    let find = |id: i64| versions.iter().find(|v| v.id == id);
    Ok(Json(json!({
        "from": find(from),
        "to": find(to),
        "added": d.added,
        "removed": d.removed,
        "changed": d.changed.iter().map(|c| json!({ "database": c.key, "changes": c.changes })).collect::<Vec<_>>(),
        "unchanged": d.unchanged,
    })))
}
