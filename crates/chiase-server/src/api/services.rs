//! `/api/v1/services`: the live systems catalog databases offer through
//! the gateway — the list and each service's description (public, like the
//! catalog), registration (the owner's stewards), and the service's
//! OpenAPI document with the gateway as its server. Calls themselves go to
//! `/gateway/{service}/…` (`gateway_router`, outside this document: the
//! upstream's own paths are in the service's document).

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chiase_core::sharing::SharingMode;
use chiase_store::databases::DatabaseKey;
use chiase_store::services::Service;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{ChangeErrors, PublicErrors, PublicItemErrors, ReadErrors};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::state::AppState;
use crate::usecase::{gateway, services};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, register)).routes(routes!(show)).routes(routes!(openapi_document)).routes(routes!(stats))
}

/// `ANY /gateway/{service}` and `/gateway/{service}/{*path}`: streamed both
/// ways, no global timeout (the service's own applies), no body limit but
/// the gateway's.
pub fn gateway_router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/gateway/{service}", axum::routing::any(call))
        .route("/gateway/{service}/{*path}", axum::routing::any(call))
        .layer(axum::extract::DefaultBodyLimit::disable())
}

fn base(app: &AppState, headers: &HeaderMap) -> String {
    super::ckan::base_url(app, headers)
}

fn service_json(s: &Service, base: &str) -> Value {
    let mut v = json!(s);
    v["links"] = json!({
        "gateway": format!("{base}/gateway/{}", s.id),
        "openapi": s.has_openapi.then(|| format!("{base}/api/v1/services/{}/openapi.json", s.id)),
        "page": format!("{base}/services/{}", s.id),
    });
    v
}

/// Every registered service (public).
#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "services",
    operation_id = "services_list",
    responses(
        (status = 200, description = "The services.", body = Object),
        PublicErrors,
    ),
)]
async fn list(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let base = base(&app, &headers);
    let all = app.store.services().await?;
    let results: Vec<Value> = all.iter().map(|s| service_json(s, &base)).collect();
    Ok(Json(json!({ "count": results.len(), "results": results })))
}

/// A service to register.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewService)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    /// Its id: lower-case letters, digits and «-».
    id: String,
    /// The catalog database offering it (id or number).
    database: String,
    title: String,
    #[serde(default)]
    description: String,
    /// The upstream's base URL (http or https, no query).
    upstream_url: String,
    sharing_mode: SharingMode,
    /// How long the upstream may take to answer, in ms (100–300000; default 30000).
    timeout_ms: Option<i64>,
    /// Calls one consumer (agency, else account, else address) may make in a minute.
    rate_per_minute: Option<i64>,
    /// And in a day (Vietnam time).
    quota_per_day: Option<i64>,
    /// What the health check every 30 s asks the upstream for (default `/`).
    health_path: Option<String>,
    /// The upstream's OpenAPI document.
    #[schema(value_type = Option<Object>)]
    openapi: Option<Value>,
    /// The header and value the upstream expects from chiase (kept sealed).
    upstream_auth: Option<UpstreamAuth>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpstreamAuth {
    header: String,
    value: String,
}

/// Registers a service in a catalog database (its owner's stewards).
#[utoipa::path(
    post,
    path = "/api/v1/services",
    tag = "services",
    operation_id = "services_register",
    request_body = RegisterBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The service.", body = Object),
        ChangeErrors,
    ),
)]
async fn register(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(b): JsonBody<RegisterBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_user()?;
    let r = services::RegisterService {
        id: b.id,
        database: DatabaseKey::parse(&b.database),
        title: b.title,
        description: b.description,
        upstream_url: b.upstream_url,
        sharing_mode: b.sharing_mode,
        timeout_ms: b.timeout_ms,
        rate_per_minute: b.rate_per_minute,
        quota_per_day: b.quota_per_day,
        health_path: b.health_path,
        openapi: b.openapi,
        upstream_auth: b.upstream_auth.map(|a| (a.header, a.value)),
    };
    let s = services::register(&app, &caller, r).await?;
    Ok((StatusCode::CREATED, Json(service_json(&s, &base(&app, &headers)))))
}

/// One service (public).
#[utoipa::path(
    get,
    path = "/api/v1/services/{id}",
    tag = "services",
    operation_id = "services_show",
    params(("id" = String, Path, description = "The service's id.")),
    responses(
        (status = 200, description = "The service.", body = Object),
        PublicItemErrors,
    ),
)]
async fn show(State(app): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    let s = services::find(&app, &id).await?;
    Ok(Json(service_json(&s, &base(&app, &headers))))
}

/// The service's OpenAPI document, its server the gateway (public).
#[utoipa::path(
    get,
    path = "/api/v1/services/{id}/openapi.json",
    tag = "services",
    operation_id = "services_openapi",
    params(("id" = String, Path, description = "The service's id.")),
    responses(
        (status = 200, description = "The OpenAPI document.", body = Object),
        PublicItemErrors,
    ),
)]
async fn openapi_document(State(app): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(services::openapi(&app, &id, &base(&app, &headers)).await?))
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct StatsQuery {
    /// Over the last how many days (1–90; default 7).
    days: Option<i64>,
}

/// How a service was used (its owner's stewards): calls by status class,
/// bytes and latency percentiles, in all and per consumer agency, from the
/// audit events of its calls.
#[utoipa::path(
    get,
    path = "/api/v1/services/{id}/stats",
    tag = "services",
    operation_id = "services_stats",
    params(("id" = String, Path, description = "The service's id."), StatsQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The service's use.", body = Object),
        ReadErrors,
    ),
)]
async fn stats(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    uri: axum::http::Uri,
) -> Result<Json<Value>, ApiError> {
    let p = crate::params::Params::parse_as::<StatsQuery>(uri.query())?;
    let days = p.int("days", 7, 1, 90)?;
    Ok(Json(services::stats(&app, &caller, &id, days).await?))
}

/// A call through the gateway.
async fn call(State(app): State<AppState>, caller: Result<Caller, ApiError>, request: Request) -> Response {
    use axum::response::IntoResponse;
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let (parts, body): (_, Body) = request.into_parts();
    let service = parts.uri.path().trim_start_matches("/gateway/").split('/').next().unwrap_or_default().to_string();
    gateway::call(&app, &caller, &service, parts.method, &parts.uri, &parts.headers, body).await
}
