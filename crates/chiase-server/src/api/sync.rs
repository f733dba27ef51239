//! `/api/v1/datasets/{id}/sync` and `/api/v1/datasets/{id}/push`: pull
//! jobs that fill a hosted dataset from an upstream JSON endpoint, their
//! runs with reports, and pushes from an agency's own system. The owner
//! agency's stewards (the policy's write permit); through `usecase::sync`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::openapi::{ChangeErrors, ReadErrors, StepErrors};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::state::AppState;
use crate::usecase::sync::{self, Paging};

/// The largest push body.
const MAX_PUSH_BYTES: usize = 64 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(show, remove))
        .routes(routes!(push).layer(DefaultBodyLimit::max(MAX_PUSH_BYTES)))
}

/// A run reads a whole upstream: outside the global request timeout.
pub fn long_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run))
}

/// How to sync: the pulled rows become the whole dataset, or are upserted by key.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum SyncMode {
    Replace,
    Upsert,
}

/// A new pull job.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewSyncJob)]
#[serde(deny_unknown_fields)]
struct AddBody {
    /// The upstream JSON endpoint: https, or http on loopback only.
    url: String,
    /// A JSON pointer to the records in each answer (`/data/items`);
    /// absent or empty: the answer is the array of records.
    #[serde(default)]
    records_at: String,
    /// How pages are asked for; absent: one answer holds everything.
    paging: Option<Paging>,
    /// Upstream key (or a JSON pointer into the record, starting with «/»)
    /// → the dataset's field; keys not named keep their names.
    #[serde(default)]
    #[schema(value_type = Object)]
    mapping: Map<String, Value>,
    #[schema(inline)]
    mode: SyncMode,
    /// How often to run it: `30m`, `6h`, `1d`, `1w` (5 minutes to a year);
    /// absent: only when asked.
    every: Option<String>,
    /// How long one request may take, in seconds (1–600, default 60).
    timeout: Option<i64>,
    /// A header the upstream wants on every request (an API key): kept
    /// sealed, sent only to the job's host, never shown again.
    credential: Option<Credential>,
}

/// An upstream's credential: one header.
#[derive(Deserialize, ToSchema)]
#[schema(as = SyncCredential)]
#[serde(deny_unknown_fields)]
struct Credential {
    /// The header's name (`Authorization`, `X-Api-Key`…).
    header: String,
    /// Its value.
    value: String,
}

fn job_json(job: &chiase_store::sync::SyncJob, last_run: Option<&chiase_store::sync::SyncRun>) -> Value {
    let mut v = json!(job);
    v["has_credential"] = json!(job.credential.is_some());
    v["last_run"] = json!(last_run);
    v
}

/// The dataset's pull jobs, each with its last run, and its last 20 runs
/// (pulls and pushes) with their reports (the owner's stewards).
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{id}/sync",
    tag = "sync",
    operation_id = "sync_list",
    params(("id" = String, Path, description = "The dataset's id.")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Jobs and runs.", body = Object),
        ReadErrors,
    ),
)]
async fn list(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    let o = sync::list(&app, &caller, &id).await?;
    let jobs: Vec<Value> = o.jobs.iter().map(|(j, r)| job_json(j, r.as_ref())).collect();
    Ok(Json(json!({ "dataset": o.ds.id, "jobs": jobs, "runs": o.runs })))
}

/// Adds a pull job (the owner's stewards); with `every`, it is due at once.
#[utoipa::path(
    post,
    path = "/api/v1/datasets/{id}/sync",
    tag = "sync",
    operation_id = "sync_add",
    params(("id" = String, Path, description = "The dataset's id.")),
    request_body = AddBody,
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The job.", body = Object),
        ChangeErrors,
    ),
)]
async fn add(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(b): JsonBody<AddBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let a = sync::AddJob {
        url: b.url,
        records_at: b.records_at,
        paging: b.paging.unwrap_or(Paging::None),
        mapping: b.mapping,
        mode: match b.mode {
            SyncMode::Replace => "replace".into(),
            SyncMode::Upsert => "upsert".into(),
        },
        every: b.every,
        timeout_secs: b.timeout,
        credential: b.credential.map(|c| (c.header, c.value)),
    };
    let job = sync::add(&app, &caller, &id, a).await?;
    Ok((StatusCode::CREATED, Json(job_json(&job, None))))
}

/// A job and its last 20 runs with their reports (the owner's stewards).
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{id}/sync/{job}",
    tag = "sync",
    operation_id = "sync_show",
    params(("id" = String, Path, description = "The dataset's id."), ("job" = i64, Path, description = "The job's number.")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The job and its runs.", body = Object),
        ReadErrors,
    ),
)]
async fn show(State(app): State<AppState>, caller: Caller, ApiPath((id, job)): ApiPath<(String, i64)>) -> Result<Json<Value>, ApiError> {
    let (job, runs) = sync::show(&app, &caller, &id, job).await?;
    let mut v = job_json(&job, runs.first());
    v["runs"] = json!(runs);
    Ok(Json(v))
}

/// Removes a job and its runs (the owner's stewards); the rows it brought stay.
#[utoipa::path(
    delete,
    path = "/api/v1/datasets/{id}/sync/{job}",
    tag = "sync",
    operation_id = "sync_remove",
    params(("id" = String, Path, description = "The dataset's id."), ("job" = i64, Path, description = "The job's number.")),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Removed."),
        StepErrors,
    ),
)]
async fn remove(State(app): State<AppState>, caller: Caller, ApiPath((id, job)): ApiPath<(String, i64)>) -> Result<StatusCode, ApiError> {
    sync::remove(&app, &caller, &id, job).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a job now and answers with the run: rows read and imported, or why
/// it failed (then nothing changed). 409 while a run is under way.
#[utoipa::path(
    post,
    path = "/api/v1/datasets/{id}/sync/{job}/run",
    tag = "sync",
    operation_id = "sync_run",
    params(("id" = String, Path, description = "The dataset's id."), ("job" = i64, Path, description = "The job's number.")),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The run: status ok or failed, counts, report.", body = Object),
        StepErrors,
    ),
)]
async fn run(State(app): State<AppState>, caller: Caller, ApiPath((id, job)): ApiPath<(String, i64)>) -> Result<Json<Value>, ApiError> {
    let run = sync::run_now(&app, &caller, &id, job).await?;
    Ok(Json(json!(run)))
}

/// An agency's system pushes changes (the owner's stewards' tokens): a JSON
/// array of records, `{"records": [...], "deleted": [keys]}`, or NDJSON
/// (`application/x-ndjson`); records are upserted by primary key and keys
/// deleted, in one transaction: a bad record changes nothing. Each push is
/// kept as a sync run.
#[utoipa::path(
    post,
    path = "/api/v1/datasets/{id}/push",
    tag = "sync",
    operation_id = "sync_push",
    params(("id" = String, Path, description = "The dataset's id.")),
    request_body(content = Object, description = "An array of records, or {records, deleted}; or NDJSON records."),
    security(("bearer" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The push's run: counts and report.", body = Object),
        ChangeErrors,
    ),
)]
async fn push(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "nội dung quá lớn (tối đa 64 MB mỗi lần đẩy)",
            "the body is too large (at most 64 MB per push)",
        )
    })?;
    let ndjson = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("ndjson") || c.contains("jsonlines") || c.contains("json-seq"));
    let run = sync::push(&app, &caller, &id, &body, ndjson).await?;
    Ok(Json(json!(run)))
}
