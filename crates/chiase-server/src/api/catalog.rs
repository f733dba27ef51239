//! `/api/v1/catalog/versions`: the catalog as a legal act, one version per
//! decision, and the differences between two versions field by field.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{PublicErrors, PublicItemErrors};
use super::schemas;

use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::params::{LangQuery, Params};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(show)).routes(routes!(diff))
}

/// Catalog versions, one per decision, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/catalog/versions",
    tag = "catalog",
    operation_id = "catalog_versions",
    params(LangQuery),
    responses(
        (status = 200, description = "The versions.", body = schemas::CatalogVersionList),
        PublicErrors,
    ),
)]
async fn list(State(app): State<AppState>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse_as::<LangQuery>(uri.query())?;
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

/// One catalog version.
#[utoipa::path(
    get,
    path = "/api/v1/catalog/versions/{id}",
    tag = "catalog",
    operation_id = "catalog_version",
    params(("id" = i64, Path, description = "The version's id (a positive integer).", minimum = 1), LangQuery),
    responses(
        (status = 200, description = "The version.", body = schemas::CatalogVersion),
        PublicItemErrors,
    ),
)]
async fn show(State(app): State<AppState>, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse_as::<LangQuery>(uri.query())?;
    let id = version_id(&id)?;
    let v = app
        .store
        .catalog_version(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("không có phiên bản danh mục {id}"), format!("catalog version {id} not found")))?;
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError::internal(&e))?))
}

/// What changed from one version to another, database by database and
/// field by field.
#[utoipa::path(
    get,
    path = "/api/v1/catalog/versions/{from}/diff/{to}",
    tag = "catalog",
    operation_id = "catalog_diff",
    params(
        ("from" = i64, Path, description = "The older version's id.", minimum = 1),
        ("to" = i64, Path, description = "The newer version's id.", minimum = 1),
        LangQuery,
    ),
    responses(
        (status = 200, description = "The differences.", body = schemas::CatalogDiff),
        PublicItemErrors,
    ),
)]
async fn diff(State(app): State<AppState>, ApiPath((from, to)): ApiPath<(String, String)>, uri: Uri) -> Result<Json<Value>, ApiError> {
    Params::parse_as::<LangQuery>(uri.query())?;
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
