//! `/api/v1/audit`: the audit log for those who must answer for it —
//! administrators see everything, stewards the events about their agency's
//! datasets and their agency — as JSON, CSV (formula-safe unless
//! `escape_formulas=false`) or NDJSON; `/api/v1/audit/verify` recomputes the
//! chain and checks it against the latest signed checkpoint (and
//! `?expect_head=SEQ:HASH`); `/api/v1/stats` gives the counted reads of
//! open data.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use chiase_store::audit::AuditFilter;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{PublicErrors, ReadErrors};
use super::schemas;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::{Lang, Params, parse_date};
use crate::state::AppState;
use crate::usecase::{audit, exports, find_dataset};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(verify)).routes(routes!(stats))
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListQuery {
    /// Only events about this dataset (its id).
    dataset: Option<String>,
    /// Only events by this actor (`user:NAME`, `operator`, `anonymous`).
    actor: Option<String>,
    /// Only events of this action (`read`, `import`, `sign_in`…).
    action: Option<String>,
    /// Events at or after this time (RFC 3339 or a date).
    from: Option<String>,
    /// Events before this time (RFC 3339 or a date).
    to: Option<String>,
    /// Events after this sequence number (`next_after` of the last page).
    #[param(minimum = 0, default = 0)]
    after: Option<i64>,
    #[param(minimum = 1, maximum = 100000, default = 1000)]
    limit: Option<i64>,
    /// `json` (the default), `csv` or `ndjson`.
    #[param(inline)]
    format: Option<AuditFormat>,
    /// With `format=csv`: put `'` before formula-like text (`false`: raw).
    #[param(default = true)]
    escape_formulas: Option<bool>,
    #[param(inline)]
    lang: Option<Lang>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
enum AuditFormat {
    Json,
    Csv,
    Ndjson,
}

/// The audit log: administrators see every event, stewards those about
/// their agency and its datasets. As JSON, CSV or NDJSON.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    operation_id = "audit_list",
    params(ListQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Events, oldest first (`format` chooses the type).",
            content((schemas::AuditList = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
        ReadErrors,
    ),
)]
async fn list(State(app): State<AppState>, caller: Caller, uri: Uri) -> Result<Response, ApiError> {
    let p = Params::parse_as::<ListQuery>(uri.query())?;
    caller.require_user()?;
    let dataset = match p.one("dataset")? {
        Some(id) => Some(find_dataset(&app, id).await?.pk.get()),
        None => None,
    };
    let day = |k: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        Ok(match p.one(k)? {
            Some(v) => Some(
                chiase_core::query::parse_instant(v)
                    .or_else(|| parse_date(v).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc()))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("«{k}» không phải ngày giờ hợp lệ"), format!("«{k}» is not a valid time"))
                    })?,
            ),
            None => None,
        })
    };
    let filter = AuditFilter {
        dataset,
        actor: p.one("actor")?.map(str::to_string),
        action: p.one("action")?.map(str::to_string),
        from: day("from")?,
        to: day("to")?,
        after_seq: p.int("after", 0, 0, i64::MAX)?,
        limit: p.int("limit", 1000, 1, 100_000)?,
    };
    let events = audit::events(&app, &caller, &filter).await?;
    match p.one("format")?.unwrap_or("json") {
        "json" => Ok(Json(json!({ "count": events.len(), "next_after": events.last().map(|e| e.seq), "results": events })).into_response()),
        "ndjson" => {
            let mut out = Vec::new();
            for e in &events {
                serde_json::to_writer(&mut out, e).map_err(|e| ApiError::internal(&e))?;
                out.push(b'\n');
            }
            let mut r = out.into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
            Ok(r)
        }
        "csv" => {
            let escape = p.bool("escape_formulas")?.unwrap_or(true);
            let mut r = exports::audit_csv(&events, escape).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            Ok(r)
        }
        f => Err(ApiError::bad_request(
            format!("định dạng «{f}» không hỗ trợ (json, csv, ndjson)"),
            format!("unsupported format «{f}» (json, csv, ndjson)"),
        )),
    }
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct VerifyQuery {
    /// `SEQ:HASH`, a head kept elsewhere: also check that event SEQ still
    /// has HASH.
    expect_head: Option<String>,
    #[param(inline)]
    lang: Option<Lang>,
}

/// Recomputes the audit chain and checks it against the latest signed
/// checkpoint (administrators).
#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    operation_id = "audit_verify",
    params(VerifyQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "What was checked and whether it holds.", body = schemas::Verification),
        ReadErrors,
    ),
)]
async fn verify(State(app): State<AppState>, caller: Caller, uri: Uri) -> Result<Json<serde_json::Value>, ApiError> {
    let p = Params::parse_as::<VerifyQuery>(uri.query())?;
    caller.require_user()?;
    let expect_head = match p.one("expect_head")? {
        Some(s) => Some(crate::audit_anchor::parse_expect_head(s).map_err(|m| ApiError::bad_request(m.vi, m.en))?),
        None => None,
    };
    let v = audit::verify(&app, &caller, expect_head).await?;
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError::internal(&e))?))
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct StatsQuery {
    /// The first day (default: 30 days ago).
    from: Option<chrono::NaiveDate>,
    /// The last day (default: today).
    to: Option<chrono::NaiveDate>,
    #[param(inline)]
    lang: Option<Lang>,
}

/// Reads of open data, counted per dataset and day (public).
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "audit",
    operation_id = "stats",
    params(StatsQuery),
    responses(
        (status = 200, description = "The counts.", body = schemas::Stats),
        PublicErrors,
    ),
)]
async fn stats(State(app): State<AppState>, uri: Uri) -> Result<Json<serde_json::Value>, ApiError> {
    let p = Params::parse_as::<StatsQuery>(uri.query())?;
    let today = chrono::Utc::now().date_naive();
    let from = p.date("from")?.unwrap_or(today - chrono::Duration::days(30));
    let to = p.date("to")?.unwrap_or(today);
    // Counts gathered in this process but not yet flushed are included.
    app.recorder.flush_open_reads().await;
    let reads = app.store.open_reads(from, to).await?;
    Ok(Json(json!({ "from": from, "to": to, "open_reads": reads })))
}
