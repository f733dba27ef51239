//! `/api/v1/audit`: the audit log for those who must answer for it —
//! administrators see everything, stewards the events about their agency's
//! datasets and their agency — as JSON, CSV (formula-safe unless
//! `escape_formulas=false`) or NDJSON; `/api/v1/audit/verify` recomputes the
//! chain and checks it against the latest signed checkpoint (and
//! `?expect_head=SEQ:HASH`); `/api/v1/stats` gives the counted reads of
//! open data.

use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chiase_store::audit::AuditFilter;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::{Params, parse_date};
use crate::state::AppState;
use crate::usecase::{audit, exports, find_dataset};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/audit", get(list)).route("/api/v1/audit/verify", get(verify)).route("/api/v1/stats", get(stats))
}

async fn list(State(app): State<AppState>, caller: Caller, uri: Uri) -> Result<Response, ApiError> {
    let p =
        Params::parse(uri.query(), &["dataset", "actor", "action", "from", "to", "after", "limit", "format", "escape_formulas", "lang"])?;
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

async fn verify(State(app): State<AppState>, caller: Caller, uri: Uri) -> Result<Json<serde_json::Value>, ApiError> {
    let p = Params::parse(uri.query(), &["expect_head", "lang"])?;
    caller.require_user()?;
    let expect_head = match p.one("expect_head")? {
        Some(s) => Some(crate::audit_anchor::parse_expect_head(s).map_err(|m| ApiError::bad_request(m.vi, m.en))?),
        None => None,
    };
    let v = audit::verify(&app, &caller, expect_head).await?;
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError::internal(&e))?))
}

async fn stats(State(app): State<AppState>, uri: Uri) -> Result<Json<serde_json::Value>, ApiError> {
    let p = Params::parse(uri.query(), &["from", "to", "lang"])?;
    let today = chrono::Utc::now().date_naive();
    let from = p.date("from")?.unwrap_or(today - chrono::Duration::days(30));
    let to = p.date("to")?.unwrap_or(today);
    // Counts gathered in this process but not yet flushed are included.
    app.recorder.flush_open_reads().await;
    let reads = app.store.open_reads(from, to).await?;
    Ok(Json(json!({ "from": from, "to": to, "open_reads": reads })))
}
