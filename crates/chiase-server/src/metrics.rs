//! Prometheus metrics at `/metrics` (or on their own listener with
//! `--metrics-listen`): requests by route and status, their latency,
//! imports, the audit writer's queue and group sizes, and the database
//! pools. Recorded through the `metrics` facade; rendered by the Prometheus
//! exporter (without its own HTTP listener). The same middleware writes one
//! access-log line per request.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once per process.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full("chiase_http_request_seconds".into()),
                &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full("chiase_gateway_call_seconds".into()),
                    &[0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
                )
            })
            .expect("BUG: static buckets are valid");
        match builder.install_recorder() {
            Ok(h) => h,
            // Another recorder (a test harness) is installed: render an empty one.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// Where the `Caller` extractor leaves the caller's name for the access log.
#[derive(Clone, Default)]
pub struct AccessUser(Arc<Mutex<Option<String>>>);

impl AccessUser {
    pub fn set(&self, name: &str) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(name.to_string());
        }
    }
}

/// Middleware: counts and times every request by its route pattern, and
/// writes one access-log line (method, route, status, duration, request
/// id, user) at INFO.
pub async fn track(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let user = AccessUser::default();
    req.extensions_mut().insert(user.clone());
    let resp = next.run(req).await;
    let elapsed = started.elapsed();
    let user = user.0.lock().ok().and_then(|u| u.clone()).unwrap_or_else(|| "-".into());
    tracing::info!(
        target: "chiase::access",
        method = %method,
        route = %route,
        status = resp.status().as_u16(),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = %request_id,
        user = %user,
        "request"
    );
    let status = resp.status().as_u16().to_string();
    metrics::counter!("chiase_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("chiase_http_request_seconds", "method" => method, "route" => route).record(elapsed.as_secs_f64());
    resp
}

/// `GET /metrics`.
pub async fn render(State(app): State<AppState>) -> Response {
    let (size, idle) = app.store.pool_stats();
    metrics::gauge!("chiase_db_pool_connections").set(size as f64);
    metrics::gauge!("chiase_db_pool_idle").set(idle as f64);
    let mut resp = install().render().into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}
