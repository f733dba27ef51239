//! `/api/v1/harvest/sources`: the catalogs chiase harvests (CKAN, DCAT,
//! Data Package, another chiase), each run's report and what each source
//! brought. Administrators only; through `usecase::harvest`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{ChangeErrors, ReadErrors, SignedInErrors, StepErrors};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::state::AppState;
use crate::usecase::harvest;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, add)).routes(routes!(show, remove))
}

/// A run reads a whole source: outside the global request timeout.
pub fn long_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run))
}

/// The kinds of source.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum SourceType {
    Ckan,
    Dcat,
    Datapackage,
    Chiase,
}

/// A new harvest source.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewHarvestSource)]
#[serde(deny_unknown_fields)]
struct AddBody {
    /// Its id here: lower-case letters, digits and «-».
    id: String,
    /// The source's address: a CKAN site's or another chiase's root, a DCAT
    /// catalog (Turtle, RDF/XML or JSON-LD), or a `datapackage.json`.
    url: String,
    #[serde(rename = "type")]
    #[schema(inline)]
    kind: SourceType,
    /// How often to run it: `30m`, `6h`, `1d`, `1w`; absent: only when asked.
    every: Option<String>,
    /// The catalog database (id or number) for entries that have none of
    /// the same id here.
    database: Option<String>,
    /// How long one request to the source may take, in seconds (1–600,
    /// default 60); a source slower than this fails the run.
    timeout: Option<i64>,
}

fn source_json(s: &chiase_store::harvest::HarvestSource, last_run: Option<&chiase_store::harvest::HarvestRun>) -> Value {
    let mut v = json!(s);
    v["type"] = json!(s.kind);
    if let Value::Object(m) = &mut v {
        m.remove("kind");
    }
    v["last_run"] = json!(last_run);
    v
}

/// The harvest sources, each with its latest run (administrators).
#[utoipa::path(
    get,
    path = "/api/v1/harvest/sources",
    tag = "harvest",
    operation_id = "harvest_sources_list",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The sources.", body = Object),
        SignedInErrors,
    ),
)]
async fn list(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let sources = harvest::list(&app, &caller).await?;
    let results: Vec<Value> = sources.iter().map(|l| source_json(&l.source, l.last_run.as_ref())).collect();
    Ok(Json(json!({ "count": results.len(), "results": results })))
}

/// Adds a harvest source (administrators); with `every`, it is due at once.
#[utoipa::path(
    post,
    path = "/api/v1/harvest/sources",
    tag = "harvest",
    operation_id = "harvest_sources_add",
    request_body = AddBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The source.", body = Object),
        ChangeErrors,
    ),
)]
async fn add(State(app): State<AppState>, caller: Caller, JsonBody(b): JsonBody<AddBody>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let kind = match b.kind {
        SourceType::Ckan => "ckan",
        SourceType::Dcat => "dcat",
        SourceType::Datapackage => "datapackage",
        SourceType::Chiase => "chiase",
    };
    let a = harvest::AddSource { id: b.id, url: b.url, kind: kind.into(), every: b.every, database: b.database, timeout_secs: b.timeout };
    let s = harvest::add(&app, &caller, a).await?;
    Ok((StatusCode::CREATED, Json(source_json(&s, None))))
}

/// A source, its last 20 runs with their reports, and the entries it
/// brought (administrators).
#[utoipa::path(
    get,
    path = "/api/v1/harvest/sources/{id}",
    tag = "harvest",
    operation_id = "harvest_sources_show",
    params(("id" = String, Path, description = "The source's id.")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The source, its runs and entries.", body = Object),
        ReadErrors,
    ),
)]
async fn show(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    let (source, runs, entries) = harvest::show(&app, &caller, &id).await?;
    let mut v = source_json(&source, runs.first());
    v["runs"] = json!(runs);
    v["entries"] = json!(entries);
    Ok(Json(v))
}

/// Removes a source (administrators): its runs and entries go; the
/// datasets it filled stay, no longer read-only.
#[utoipa::path(
    delete,
    path = "/api/v1/harvest/sources/{id}",
    tag = "harvest",
    operation_id = "harvest_sources_remove",
    params(("id" = String, Path, description = "The source's id.")),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Removed."),
        StepErrors,
    ),
)]
async fn remove(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> Result<StatusCode, ApiError> {
    harvest::remove(&app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a source now and answers with the run: its counts and report, or
/// why it failed (then nothing changed). 409 while a run is under way.
#[utoipa::path(
    post,
    path = "/api/v1/harvest/sources/{id}/run",
    tag = "harvest",
    operation_id = "harvest_sources_run",
    params(("id" = String, Path, description = "The source's id.")),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The run: status ok or failed, counts, report.", body = Object),
        StepErrors,
    ),
)]
async fn run(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    let run = harvest::run_now(&app, &caller, &id).await?;
    Ok(Json(json!(run)))
}
