//! `POST /api/v1/databases/{key}/datapackage`: a Frictionless Data Package
//! imported as new datasets of a catalog database (the export is
//! `GET …/datapackage.zip`, in `exports`). A long route: a package may be
//! large and its URLs slow.

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::openapi::{Binary, ChangeErrors};
use super::schemas;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::usecase::datapackage::{self, Source};

pub fn long_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import).layer(DefaultBodyLimit::disable()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UrlBody {
    url: String,
}

/// Imports a Data Package as new datasets of this database (stewards of
/// its owner): each resource a dataset, its id from the resource's name,
/// its Table Schema and rows; all of them or none. The body is the zip, or
/// JSON `{"url": …}` naming a `datapackage.json` or a zip (loopback, or the
/// hosts the `package_url_hosts` setting allows).
#[utoipa::path(
    post,
    path = "/api/v1/databases/{key}/datapackage",
    tag = "datasets",
    operation_id = "datapackage_import",
    params(("key" = String, Path, description = "The database's number in the current decision, or its id.")),
    request_body(
        content((Binary = "application/zip"), (schemas::PackageUrl = "application/json")),
        description = "The package as a zip, or where to fetch it.",
    ),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Every resource became a dataset with its rows.", body = schemas::PackageReport),
        ChangeErrors,
    ),
)]
async fn import(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<datapackage::PackageReport>), ApiError> {
    let limit = (app.config.package_max_mib << 20) as usize;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::too_large(limit))?;
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let source = if content_type.starts_with("application/json") {
        let b: UrlBody = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!("cần JSON {{\"url\": \"…\"}}: {e}"), format!("expected JSON {{\"url\": \"…\"}}: {e}"))
        })?;
        Source::Url(b.url)
    } else if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "thân yêu cầu trống: gửi tệp zip của gói, hoặc JSON {\"url\": \"…\"}",
            "the body is empty: send the package's zip, or JSON {\"url\": \"…\"}",
        ));
    } else {
        Source::Bytes(bytes.to_vec())
    };
    let report = datapackage::import(&app, &caller, &key, source).await?;
    Ok((StatusCode::CREATED, Json(report)))
}
