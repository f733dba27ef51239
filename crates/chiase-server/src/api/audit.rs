//! `/api/v1/audit`: the audit log for those who must answer for it —
//! administrators see everything, stewards the events about their agency's
//! datasets and their agency — as JSON, CSV or NDJSON; `/api/v1/audit/verify`
//! recomputes the chain and checks it against the latest signed checkpoint
//! (and `?expect_head=SEQ:HASH`); `/api/v1/stats` gives the counted reads
//! of open data.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chiase_core::policy::{Role, Subject};
use chiase_store::audit::{AuditFilter, VerifyOptions};
use serde_json::json;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::{Params, parse_date};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/audit", get(list)).route("/api/v1/audit/verify", get(verify)).route("/api/v1/stats", get(stats))
}

fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "chỉ quản trị viên và cán bộ quản lý dữ liệu xem được nhật ký",
        "only administrators and stewards see the audit log",
    )
}

async fn list(State(app): State<AppState>, caller: Caller, uri: Uri) -> Result<Response, ApiError> {
    let p = Params::parse(uri.query(), &["dataset", "actor", "action", "from", "to", "after", "limit", "format", "lang"])?;
    caller.require_user()?;
    let owner_agency = match caller.subject {
        Subject::User { role: Role::Admin, .. } | Subject::Operator => None,
        Subject::User { role: Role::Steward, agency_id: Some(a), .. } => Some(a),
        _ => return Err(forbidden()),
    };
    let dataset = match p.one("dataset")? {
        Some(id) => Some(
            app.store
                .dataset(id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("không có tập dữ liệu «{id}»"), format!("no dataset «{id}»")))?
                .pk,
        ),
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
        owner_agency,
        dataset,
        actor: p.one("actor")?.map(str::to_string),
        action: p.one("action")?.map(str::to_string),
        from: day("from")?,
        to: day("to")?,
        after_seq: p.int("after", 0, 0, i64::MAX)?,
        limit: p.int("limit", 1000, 1, 100_000)?,
    };
    let events = app.store.audit_events(&filter).await?;
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
            let mut w = csv::Writer::from_writer(Vec::new());
            let _ = w.write_record([
                "seq",
                "at",
                "actor",
                "user_id",
                "agency_id",
                "action",
                "dataset_id",
                "target",
                "detail",
                "source",
                "prev_hash",
                "hash",
            ]);
            for e in &events {
                let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
                let _ = w.write_record([
                    e.seq.to_string(),
                    e.at.clone(),
                    e.actor.clone(),
                    opt(e.user_id),
                    opt(e.agency_id),
                    e.action.clone(),
                    opt(e.dataset_id),
                    e.target.clone().unwrap_or_default(),
                    e.detail.clone(),
                    e.source.clone().unwrap_or_default(),
                    e.prev_hash.clone(),
                    e.hash.clone(),
                ]);
            }
            let mut r = w.into_inner().unwrap_or_default().into_response();
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
    if !caller.is_admin() {
        return Err(forbidden());
    }
    let expect_head = match p.one("expect_head")? {
        Some(s) => Some(crate::audit_anchor::parse_expect_head(s).map_err(|m| ApiError::bad_request(m.vi, m.en))?),
        None => None,
    };
    let v = app.store.verify_audit_with(&VerifyOptions { anchor: Some(&app.anchor), expect_head }).await?;
    Ok(Json(serde_json::to_value(v).map_err(|e| ApiError::internal(&e))?))
}

async fn stats(State(app): State<AppState>, uri: Uri) -> Result<Json<serde_json::Value>, ApiError> {
    let p = Params::parse(uri.query(), &["from", "to", "lang"])?;
    let today = chrono::Utc::now().date_naive();
    let from = p.date("from")?.unwrap_or(today - chrono::Duration::days(30));
    let to = p.date("to")?.unwrap_or(today);
    // Counts gathered in this process but not yet flushed are included.
    app.open_reads.flush(&app.store).await;
    let reads = app.store.open_reads(from, to).await?;
    Ok(Json(json!({ "from": from, "to": to, "open_reads": reads })))
}
