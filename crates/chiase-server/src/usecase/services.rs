//! Services (issue 13, item 1): the live systems a catalog database offers
//! through the gateway. Registering one is its owner's stewards' (the
//! policy's `decide_service_admin`); the list, each service's description
//! and its OpenAPI document are public like the catalog; calling one is
//! `usecase::gateway`'s.
//!
//! The credential a service presents to its upstream (a header and its
//! value) is sealed (`crate::secrets`) before it reaches the store, bound
//! to the service's id, and opened only to add it to a call.

use std::collections::HashMap;
use std::path::Path;

use chiase_core::policy::decide_service_admin;
use chiase_core::sharing::SharingMode;
use chiase_store::databases::DatabaseKey;
use chiase_store::services::{NewService, Service};
use serde_json::{Value, json};

use super::record_change;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// What a steward gives to register a service.
pub struct RegisterService {
    pub id: String,
    pub database: DatabaseKey,
    pub title: String,
    pub description: String,
    pub upstream_url: String,
    pub sharing_mode: SharingMode,
    /// How long the upstream may take to answer (100 ms – 5 min).
    pub timeout_ms: Option<i64>,
    /// Calls one consumer may make in a minute, and in a day (none: no limit).
    pub rate_per_minute: Option<i64>,
    pub quota_per_day: Option<i64>,
    /// What the health check asks for (a path on the upstream; `/`).
    pub health_path: Option<String>,
    /// The upstream's OpenAPI document.
    pub openapi: Option<Value>,
    /// The header the upstream wants and its value (e.g. `Authorization`,
    /// `Bearer …`), sealed before it is stored.
    pub upstream_auth: Option<(String, String)>,
}

fn bad(vi: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::bad_request(vi, en)
}

/// `http(s)://host[:port][/path]`, no query or fragment. Plain http is
/// allowed to any host: the gateway carries the province's internal calls,
/// often to systems on its own network without TLS (a credential chiase
/// adds then crosses that network as the call does).
fn check_upstream(url: &str) -> Result<(), ApiError> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split('/').next().unwrap_or_default()).unwrap_or_default();
    if rest.is_none() || host.is_empty() || url.contains(['?', '#']) || url.chars().any(char::is_whitespace) || url.len() > 2000 {
        return Err(bad(
            format!("địa chỉ hệ thống gốc «{url}» phải là http(s)://máy[:cổng][/đường dẫn], không có ? hay #"),
            format!("the upstream «{url}» must be http(s)://host[:port][/path], without ? or #"),
        ));
    }
    Ok(())
}

fn check_header_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty() && name.len() <= 100 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok || axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(bad(format!("tên tiêu đề «{name}» không hợp lệ"), format!("«{name}» is not a header name")));
    }
    Ok(())
}

/// Registers a service (stewards of the database's owner).
pub async fn register(app: &AppState, caller: &Caller, r: RegisterService) -> Result<Service, ApiError> {
    let owner = app.store.database_owner(&r.database).await?;
    let permit = decide_service_admin(&caller.subject, owner)?;
    let ok_id = !r.id.is_empty() && r.id.len() <= 60 && r.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok_id || r.id.starts_with('-') {
        return Err(bad(
            "mã dịch vụ gồm chữ thường không dấu, số và «-», tối đa 60 ký tự",
            "a service id is lower-case ASCII letters, digits and «-», at most 60 characters",
        ));
    }
    let title = chiase_core::fold::nfc(r.title.trim());
    if title.is_empty() || title.chars().count() > 300 {
        return Err(bad("cần tên dịch vụ (tối đa 300 ký tự)", "a service needs a title (at most 300 characters)"));
    }
    let upstream_url = r.upstream_url.trim().trim_end_matches('/').to_string();
    check_upstream(&upstream_url)?;
    let timeout_ms = r.timeout_ms.unwrap_or(30_000);
    if !(100..=300_000).contains(&timeout_ms) {
        return Err(bad("thời gian chờ từ 100 ms đến 5 phút", "the timeout is 100 ms to 5 minutes"));
    }
    for (limit, what_vi, what_en) in
        [(r.rate_per_minute, "giới hạn mỗi phút", "the per-minute limit"), (r.quota_per_day, "hạn mức mỗi ngày", "the daily quota")]
    {
        if limit.is_some_and(|n| !(1..=10_000_000).contains(&n)) {
            return Err(bad(format!("{what_vi} từ 1 đến 10.000.000 lần gọi"), format!("{what_en} is 1 to 10,000,000 calls")));
        }
    }
    let health_path = r.health_path.unwrap_or_else(|| "/".into());
    if !health_path.starts_with('/')
        || health_path.len() > 500
        || health_path.contains("..")
        || health_path.chars().any(char::is_whitespace)
    {
        return Err(bad("đường dẫn kiểm tra phải bắt đầu bằng «/»", "the health path must start with «/»"));
    }
    let openapi = match r.openapi {
        None => None,
        Some(v) if v.get("openapi").and_then(Value::as_str).is_some() || v.get("swagger").is_some() => Some(v.to_string()),
        Some(_) => {
            return Err(bad(
                "mô tả OpenAPI phải là tài liệu OpenAPI (có khoá «openapi»)",
                "the OpenAPI description must be an OpenAPI document (with «openapi»)",
            ));
        }
    };
    let upstream_auth = match r.upstream_auth {
        None => None,
        Some((header, value)) => {
            check_header_name(&header)?;
            if axum::http::HeaderValue::from_str(&value).is_err() || value.is_empty() {
                return Err(bad("giá trị tiêu đề xác thực không hợp lệ", "the credential's value is not a valid header value"));
            }
            Some(crate::secrets::seal(&app.config.data_dir, &r.id, &format!("{header}\n{value}")).map_err(|e| ApiError::internal(&e))?)
        }
    };
    let new = NewService {
        id: r.id.clone(),
        database: r.database,
        title,
        description: chiase_core::fold::nfc(r.description.trim()),
        upstream_url,
        sharing_mode: r.sharing_mode,
        timeout_ms,
        rate_per_minute: r.rate_per_minute,
        quota_per_day: r.quota_per_day,
        health_path,
        openapi,
        upstream_auth,
    };
    let service = app.store.create_service(&permit, &new, &caller.actor.name).await?;
    let detail = json!({ "database": service.database.id, "sharing_mode": service.sharing_mode, "upstream": new.upstream_url,
                         "timeout_ms": timeout_ms, "rate_per_minute": r.rate_per_minute, "quota_per_day": r.quota_per_day,
                         "openapi": service.has_openapi, "credential": service.upstream_auth.is_some() });
    record_change(app, caller, "service_registered", None, service.id.clone(), detail).await?;
    Ok(service)
}

/// A service by id, or 404.
pub async fn find(app: &AppState, id: &str) -> Result<Service, ApiError> {
    app.store.service(id).await?.ok_or_else(|| {
        let shown: String = id.chars().take(64).collect();
        ApiError::not_found(format!("không có dịch vụ «{shown}»"), format!("no service «{shown}»"))
    })
}

/// The service's OpenAPI document, its `servers` pointing at the gateway
/// (consumers call through chiase, never the upstream directly).
pub async fn openapi(app: &AppState, id: &str, gateway_base: &str) -> Result<Value, ApiError> {
    let service = find(app, id).await?;
    let text = app.store.service_openapi(&service.id).await?.ok_or_else(|| {
        ApiError::not_found(format!("dịch vụ «{id}» chưa có mô tả OpenAPI"), format!("service «{id}» has no OpenAPI description"))
    })?;
    let mut doc: Value = serde_json::from_str(&text).map_err(|e| ApiError::internal(&e))?;
    doc["servers"] = json!([{ "url": format!("{gateway_base}/gateway/{}", service.id), "description": "chiase gateway" }]);
    Ok(doc)
}

// --- use -----------------------------------------------------------------

/// The calls a stats answer goes through at most (the newest).
const STATS_MAX_CALLS: i64 = 200_000;

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied()
}

fn latency(mut ms: Vec<u64>) -> Value {
    ms.sort_unstable();
    json!({ "p50": percentile(&ms, 0.50), "p95": percentile(&ms, 0.95), "p99": percentile(&ms, 0.99) })
}

/// How a service was used over the last `days` (its owner's stewards): the
/// calls, by status class, bytes, latency percentiles (ms, from the audit
/// events of the calls), and the same per consumer agency.
pub async fn stats(app: &AppState, caller: &Caller, id: &str, days: i64) -> Result<Value, ApiError> {
    let service = find(app, id).await?;
    let permit = decide_service_admin(&caller.subject, service.owner_pk)?;
    let since = chrono::Utc::now() - chrono::Duration::days(days);
    let events = app.store.service_call_events(&permit, &service.id, since, STATS_MAX_CALLS).await?;
    let agencies: HashMap<i64, (String, String)> =
        app.store.agencies(&chiase_store::agencies::AgencyFilter::default()).await?.into_iter().map(|a| (a.pk, (a.id, a.name))).collect();
    #[derive(Default)]
    struct Tally {
        calls: u64,
        classes: [u64; 4],
        bytes: u64,
        ms: Vec<u64>,
    }
    impl Tally {
        fn add(&mut self, status: u64, bytes: u64, ms: u64) {
            self.calls += 1;
            let class = match status {
                0..=299 => 0,
                300..=399 => 1,
                400..=499 => 2,
                _ => 3,
            };
            self.classes[class] += 1;
            self.bytes += bytes;
            self.ms.push(ms);
        }
        fn json(self) -> Value {
            json!({ "calls": self.calls, "status": { "2xx": self.classes[0], "3xx": self.classes[1], "4xx": self.classes[2], "5xx": self.classes[3] },
                    "bytes": self.bytes, "latency_ms": latency(self.ms) })
        }
    }
    let mut all = Tally::default();
    let mut by_consumer: HashMap<Option<i64>, Tally> = HashMap::new();
    // Calls and failures (5xx) per day, Vietnam time.
    let mut per_day: std::collections::BTreeMap<String, (u64, u64)> = std::collections::BTreeMap::new();
    let today = super::today_in_vietnam();
    for i in 0..days {
        per_day.insert((today - chrono::Duration::days(i)).to_string(), (0, 0));
    }
    for e in &events {
        let Ok(d) = serde_json::from_str::<Value>(&e.detail) else { continue };
        let (status, bytes, ms) =
            (d["status"].as_u64().unwrap_or(0), d["bytes"].as_u64().unwrap_or(0), d["duration_ms"].as_u64().unwrap_or(0));
        all.add(status, bytes, ms);
        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&e.at) {
            let day = (at.with_timezone(&chrono::Utc) + chrono::Duration::hours(7)).date_naive().to_string();
            if let Some(d) = per_day.get_mut(&day) {
                d.0 += 1;
                d.1 += u64::from(status >= 500);
            }
        }
        by_consumer.entry(e.agency_id).or_default().add(status, bytes, ms);
    }
    let mut consumers: Vec<(Option<i64>, Tally)> = by_consumer.into_iter().collect();
    consumers.sort_by_key(|c| std::cmp::Reverse(c.1.calls));
    let consumers: Vec<Value> = consumers
        .into_iter()
        .map(|(pk, t)| {
            let (agency, name) = pk.and_then(|p| agencies.get(&p).cloned()).map(|(a, n)| (Some(a), Some(n))).unwrap_or((None, None));
            let mut v = t.json();
            v["agency"] = json!(agency);
            v["agency_name"] = json!(name);
            v
        })
        .collect();
    let mut out = all.json();
    out["service"] = json!(service.id);
    out["since"] = json!(since);
    out["days"] = json!(days);
    out["truncated"] = json!(events.len() as i64 >= STATS_MAX_CALLS);
    out["consumers"] = json!(consumers);
    out["per_day"] = json!(
        per_day.into_iter().map(|(day, (calls, failed))| json!({ "day": day, "calls": calls, "failed": failed })).collect::<Vec<_>>()
    );
    Ok(out)
}

// --- health checks -----------------------------------------------------

/// How often each upstream is checked, and how long a check may take.
const HEALTH_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Checks every service's upstream (`GET {upstream}{health_path}`: up when
/// it answers below 500 within 5 s), if this process holds the
/// `service-health` lease; returns whether it did. With several processes
/// on one database, one of them checks each round.
pub async fn check_health(app: &AppState, holder: &str) -> Result<bool, ApiError> {
    if !app.store.take_lease("service-health", holder, HEALTH_EVERY.as_secs() as i64 - 5).await? {
        return Ok(false);
    }
    for s in app.store.services().await? {
        let url = format!("{}{}", s.upstream_url, s.health_path);
        let req = openidconnect::http::Request::builder()
            .uri(url.as_str())
            .header("user-agent", concat!("chiase-health/", env!("CARGO_PKG_VERSION")))
            .body(Vec::new());
        let (ok, detail) = match req {
            Err(e) => (false, e.to_string()),
            Ok(req) => match crate::oidc::http::send_bounded(req, HEALTH_TIMEOUT, 64 * 1024).await {
                Ok(res) if res.status().as_u16() < 500 => (true, format!("HTTP {}", res.status().as_u16())),
                Ok(res) => (false, format!("HTTP {}", res.status().as_u16())),
                Err(e) => (false, e.to_string()),
            },
        };
        metrics::gauge!("chiase_service_up", "service" => s.id.clone()).set(if ok { 1.0 } else { 0.0 });
        app.store.set_service_health(&s, ok, &detail).await?;
    }
    Ok(true)
}

/// Every 30 s, the health checks (under the lease).
pub fn start_health_checks(app: AppState) {
    let holder =
        format!("{}:{}:{:x}", std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()), std::process::id(), rand::random::<u32>());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEALTH_EVERY).await;
            if let Err(e) = check_health(&app, &holder).await {
                tracing::warn!("service health checks: {}", e.msg.en);
            }
        }
    });
}

/// Opens a service's sealed credential: (header, value).
pub(crate) fn open_credential(data_dir: &Path, id: &str, sealed: &str) -> Result<(String, String), ApiError> {
    let clear = crate::secrets::open(data_dir, id, sealed).map_err(|e| ApiError::internal(&e))?;
    let (h, v) = clear.split_once('\n').ok_or_else(|| ApiError::internal(&"a credential without its header"))?;
    Ok((h.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_open_only_for_their_service_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let sealed = crate::secrets::seal(dir.path(), "cong-dich-vu", "Authorization\nBearer bi-mat").unwrap();
        assert!(!sealed.contains("bi-mat"));
        assert_eq!(open_credential(dir.path(), "cong-dich-vu", &sealed).unwrap(), ("Authorization".into(), "Bearer bi-mat".into()));
        assert!(open_credential(dir.path(), "dich-vu-khac", &sealed).is_err());
    }

    #[test]
    fn upstreams_and_header_names_are_checked() {
        assert!(check_upstream("http://127.0.0.1:8080/api").is_ok());
        assert!(check_upstream("https://vnedu.example.vn").is_ok());
        for bad in ["ftp://x", "http://", "http://x/?a=1", "http://x y", "x.vn"] {
            assert!(check_upstream(bad).is_err(), "{bad}");
        }
        assert!(check_header_name("X-Api-Key").is_ok());
        assert!(check_header_name("X Api").is_err());
    }
}
