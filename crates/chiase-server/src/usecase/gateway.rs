//! The gateway (issue 13, item 2): `ANY /gateway/{service}/{path…}`
//! forwards a call the policy allows to the service's upstream and streams
//! both bodies through (a 1 GB answer holds no more memory than a small
//! one). The consumer's credentials (`Authorization`, cookies, CKAN keys,
//! the anti-forgery token) never reach the upstream; chiase adds headers
//! naming the consumer agency, the user, the basis of the permit and the
//! call's id, and the upstream's own credential (opened from its seal).
//!
//! Each call — allowed, refused, failed — is an audit event
//! (`service_call`: consumer, service, method, path, status, bytes,
//! duration, basis), recorded off the call's path: when the answer's body
//! has been streamed, by a spawned task.
//!
//! An upstream that does not answer within the service's timeout is a
//! 504; one that cannot be reached a 503. After three such failures in a
//! row the service's breaker opens in this process: for 30 s every call is
//! answered 503 at once (with `Retry-After`) instead of waiting, then one
//! call is let through to try again.
//!
//! A service may limit each consumer (its agency, else its account, else
//! its address) to so many calls a minute and a day: the calls are counted
//! in the database, so every process on it shares the count, and a call
//! over either is answered 429 with `Retry-After` (until the window ends).
//!
//! Not yet: HTTP/2 upstreams, a configurable CA for TLS upstreams (the
//! webpki roots are used).

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chiase_core::policy::decide_call;
use chiase_store::services::Service;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The largest request body forwarded.
const MAX_REQUEST: usize = 64 << 20;
/// How long a connection to the upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Failures in a row that open a breaker, and how long it stays open.
const BREAKER_FAILURES: u32 = 3;
const BREAKER_OPEN: Duration = Duration::from_secs(30);

/// Headers never forwarded upstream: the consumer's credentials, chiase's
/// own (an upstream must be able to trust them), and hop-by-hop ones.
const STRIPPED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-ckan-api-key",
    "x-csrf-token",
    "host",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection", "set-cookie"];

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

/// Breakers by (installation, service): several test servers share a process.
fn breakers() -> &'static Mutex<HashMap<(PathBuf, String), Breaker>> {
    static B: OnceLock<Mutex<HashMap<(PathBuf, String), Breaker>>> = OnceLock::new();
    B.get_or_init(Default::default)
}

fn breaker_open(app: &AppState, service: &str) -> Option<Duration> {
    let mut b = breakers().lock().ok()?;
    let entry = b.get_mut(&(app.config.data_dir.clone(), service.to_string()))?;
    match entry.open_until {
        Some(t) if t > Instant::now() => Some(t - Instant::now()),
        Some(_) => {
            // Half-open: this call tries; a failure opens it again at once.
            entry.open_until = None;
            entry.failures = BREAKER_FAILURES - 1;
            None
        }
        None => None,
    }
}

fn breaker_result(app: &AppState, service: &str, ok: bool) {
    if let Ok(mut b) = breakers().lock() {
        let entry = b.entry((app.config.data_dir.clone(), service.to_string())).or_default();
        if ok {
            *entry = Breaker::default();
        } else {
            entry.failures += 1;
            if entry.failures >= BREAKER_FAILURES {
                entry.open_until = Some(Instant::now() + BREAKER_OPEN);
            }
        }
    }
}

/// How long a service's registration is reused between calls: a change
/// (rare) reaches the gateway within a second; a call does not read it
/// from the database each time.
const SERVICE_CACHE: Duration = Duration::from_secs(1);

async fn cached_service(app: &AppState, id: &str) -> Result<Service, ApiError> {
    type Cache = Mutex<HashMap<(PathBuf, String), (Instant, Service)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (app.config.data_dir.clone(), id.to_string());
    let cache = CACHE.get_or_init(Default::default);
    if let Some((at, s)) = cache.lock().ok().and_then(|c| c.get(&key).cloned())
        && at.elapsed() < SERVICE_CACHE
    {
        return Ok(s);
    }
    let s = super::services::find(app, id).await?;
    if let Ok(mut c) = cache.lock() {
        if c.len() > 10_000 {
            c.clear();
        }
        c.insert(key, (Instant::now(), s.clone()));
    }
    Ok(s)
}

/// What the audit event of a call says.
struct CallRecord {
    app: AppState,
    caller_actor: chiase_store::recorder::Actor,
    service: String,
    method: String,
    path: String,
    basis: Option<String>,
    started: Instant,
}

impl CallRecord {
    /// Records the call off the caller's path, and counts it in the
    /// Prometheus metrics (`chiase_gateway_calls_total` by service and
    /// status class, `chiase_gateway_call_seconds`, `chiase_gateway_bytes_total`).
    fn record(self, status: u16, bytes: u64, error: Option<String>) {
        let class = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        metrics::counter!("chiase_gateway_calls_total", "service" => self.service.clone(), "status" => class).increment(1);
        metrics::histogram!("chiase_gateway_call_seconds", "service" => self.service.clone()).record(self.started.elapsed().as_secs_f64());
        metrics::counter!("chiase_gateway_bytes_total", "service" => self.service.clone()).increment(bytes);
        let detail = json!({
            "method": self.method, "path": self.path, "status": status, "bytes": bytes,
            "duration_ms": self.started.elapsed().as_millis() as u64, "basis": self.basis, "grant": null,
            "consumer_agency": self.caller_actor.agency_id.map(|a| a.get()), "error": error,
        });
        let event = self.caller_actor.event("service_call", self.service, detail);
        let app = self.app;
        tokio::spawn(async move {
            if let Err(e) = app.recorder.record(event).await {
                tracing::error!("the audit event of a service call was not recorded: {e}");
            }
        });
    }
}

fn error_response(e: ApiError) -> Response {
    e.into_response()
}

/// The path after `/gateway/{service}`, as sent (still percent-encoded),
/// refused when a segment would climb out of the upstream's base path.
fn upstream_path(uri: &Uri, service: &str) -> Result<String, ApiError> {
    let prefix = format!("/gateway/{service}");
    let rest = uri.path().strip_prefix(&prefix).unwrap_or("");
    if !rest.is_empty() && !rest.starts_with('/') {
        return Err(ApiError::not_found("không có đường dẫn này", "no such path"));
    }
    let climbs = rest.split('/').any(|seg| {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == ".." || s == "." || s.contains("%2f") || s.contains("%5c") || s.contains('\\')
    });
    if climbs {
        return Err(ApiError::bad_request(
            "đường dẫn không được chứa «..», «.» hay dấu gạch mã hoá",
            "the path may not contain «..», «.» or encoded slashes",
        ));
    }
    Ok(match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    })
}

/// Forwards one call. Never fails: every outcome is an answer.
pub async fn call(
    app: &AppState,
    caller: &Caller,
    service_id: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let service = match cached_service(app, service_id).await {
        Ok(s) => s,
        Err(e) => return error_response(e),
    };
    let path = match upstream_path(uri, &service.id) {
        Ok(p) => p,
        Err(e) => return error_response(e),
    };
    let mut record = CallRecord {
        app: app.clone(),
        caller_actor: caller.actor.clone(),
        service: service.id.clone(),
        method: method.to_string(),
        path: path.chars().take(500).collect(),
        basis: None,
        started,
    };
    let permit = match decide_call(&caller.subject, &service.facts()) {
        Ok(p) => p,
        Err(reason) => {
            let e = ApiError::denied(reason);
            record.record(e.status.as_u16(), 0, Some(reason.msg().en));
            return error_response(e);
        }
    };
    let basis = serde_json::to_value(permit.reason()).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    record.basis = Some(basis.clone());
    if let Err(e) = within_limits(app, caller, &service).await {
        record.record(e.status.as_u16(), 0, Some(e.msg.en.clone()));
        return error_response(e);
    }
    if let Some(wait) = breaker_open(app, &service.id) {
        let secs = wait.as_secs().max(1) as u32;
        let e = ApiError::unavailable(
            chiase_core::Msg::new(
                format!("hệ thống «{}» đang không trả lời; cổng tạm ngừng chuyển tiếp, thử lại sau {secs} giây", service.title),
                format!("«{}» is not answering; the gateway stops forwarding to it for now: try again in {secs} s", service.title),
            ),
            secs,
        );
        record.record(503, 0, Some("breaker open".into()));
        return error_response(e);
    }
    match forward(app, caller, &service, method, &path, headers, body, &basis).await {
        Ok(res) => {
            breaker_result(app, &service.id, true);
            let status = res.status().as_u16();
            let (mut parts, incoming) = res.into_parts();
            for h in HOP_BY_HOP {
                parts.headers.remove(*h);
            }
            let counted = Counted { inner: incoming, bytes: 0, done: Some((record, status)) };
            Response::from_parts(parts, Body::new(counted))
        }
        Err((e, upstream_failed)) => {
            if upstream_failed {
                breaker_result(app, &service.id, false);
            }
            record.record(e.status.as_u16(), 0, Some(e.msg.en.clone()));
            error_response(e)
        }
    }
}

/// Counts the call against the service's per-minute limit and daily
/// quota for this consumer; 429 with `Retry-After` over either.
async fn within_limits(app: &AppState, caller: &Caller, service: &Service) -> Result<(), ApiError> {
    if service.rate_per_minute.is_none() && service.quota_per_day.is_none() {
        return Ok(());
    }
    let consumer = match (&caller.user, caller.source()) {
        (Some(u), _) => match &u.agency {
            Some(a) => format!("agency:{}", a.id),
            None => format!("user:{}", u.username),
        },
        (None, Some(ip)) => format!("ip:{ip}"),
        (None, None) => "anonymous".into(),
    };
    // Days are counted in Vietnam time (UTC+7).
    let now = chrono::Utc::now();
    let local = now + chrono::Duration::hours(7);
    let windows = vec![format!("m:{}", now.format("%Y-%m-%dT%H:%M")), format!("d:{}", local.format("%Y-%m-%d"))];
    let counts = app.store.count_service_call(service, &consumer, &windows).await?;
    let over = |limit: Option<i64>, n: i64| limit.is_some_and(|l| n > l);
    if over(service.rate_per_minute, counts[0]) {
        let wait = 60 - chrono::Timelike::second(&now);
        return Err(too_many(service, wait.max(1), "mỗi phút", "a minute", service.rate_per_minute.unwrap_or(0)));
    }
    if over(service.quota_per_day, counts[1]) {
        let secs_into_day = chrono::Timelike::num_seconds_from_midnight(&local);
        return Err(too_many(service, (86_400 - secs_into_day).max(1), "mỗi ngày", "a day", service.quota_per_day.unwrap_or(0)));
    }
    Ok(())
}

fn too_many(service: &Service, wait: u32, per_vi: &str, per_en: &str, limit: i64) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("đã dùng hết {limit} lần gọi {per_vi} tới «{}»; thử lại sau {wait} giây", service.title),
        format!("the {limit} calls {per_en} to «{}» are used up; try again in {wait} s", service.title),
    );
    e.retry_after = Some(wait);
    e
}

/// Sends the call upstream and waits for the answer's head. An error says
/// whether the upstream failed (for the breaker) or the call was bad.
#[allow(clippy::too_many_arguments)]
async fn forward(
    app: &AppState,
    caller: &Caller,
    service: &Service,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    body: Body,
    basis: &str,
) -> Result<hyper::Response<Incoming>, (ApiError, bool)> {
    let target: Uri = format!("{}{path}", service.upstream_url)
        .parse()
        .map_err(|_| (ApiError::bad_request("đường dẫn không hợp lệ", "the path is not a valid URL path"), false))?;
    let https = target.scheme_str() == Some("https");
    let authority = target.authority().cloned().ok_or_else(|| (ApiError::internal(&"a service without a host"), false))?;
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });

    // Plain-http upstreams go through a pool of kept-alive connections
    // (the legacy client wants the absolute URI); TLS ones get a
    // connection per call.
    let mut out = if https {
        Request::builder().method(method.clone()).uri(target.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
    } else {
        Request::builder().method(method.clone()).uri(target.clone())
    };
    let h = out.headers_mut().ok_or_else(|| (ApiError::internal(&"a request builder"), false))?;
    for (name, value) in headers {
        let n = name.as_str();
        if STRIPPED.contains(&n) || n.starts_with("x-chiase-") {
            continue;
        }
        h.append(name.clone(), value.clone());
    }
    h.insert(header::HOST, HeaderValue::from_str(authority.as_str()).map_err(|e| (ApiError::internal(&e), false))?);
    let consumer = caller.user.as_ref().and_then(|u| u.agency.as_ref()).map(|a| a.id.clone()).unwrap_or_else(|| "-".into());
    let user = caller.user.as_ref().map(|u| u.username.clone()).unwrap_or_else(|| "-".into());
    let call_id = format!("{:032x}", rand::random::<u128>());
    for (name, value) in [
        ("x-chiase-consumer-agency", consumer.as_str()),
        ("x-chiase-user", user.as_str()),
        ("x-chiase-basis", basis),
        ("x-chiase-grant", "-"),
        ("x-chiase-call-id", call_id.as_str()),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    if let Some(sealed) = &service.upstream_auth {
        let (name, value) = super::services::open_credential(&app.config.data_dir, &service.id, sealed).map_err(|e| (e, false))?;
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| (ApiError::internal(&e), false))?;
        h.insert(name, HeaderValue::from_str(&value).map_err(|e| (ApiError::internal(&e), false))?);
    }
    let limited = http_body_util::Limited::new(body, MAX_REQUEST);
    let request = out.body(limited).map_err(|e| (ApiError::internal(&e), false))?;

    let unreachable = |what: String| {
        (
            ApiError::unavailable(
                chiase_core::Msg::new(
                    format!("không kết nối được hệ thống «{}» ({what})", service.title),
                    format!("cannot reach «{}» ({what})", service.title),
                ),
                5,
            ),
            true,
        )
    };
    let timeout = Duration::from_millis(service.timeout_ms.max(1) as u64);
    let too_late = || {
        (
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                format!("hệ thống «{}» không trả lời trong {} ms", service.title, service.timeout_ms),
                format!("«{}» did not answer within {} ms", service.title, service.timeout_ms),
            ),
            true,
        )
    };
    if !https {
        // The pool retries a request whose kept-alive connection closed
        // before it was sent; nothing is ever sent twice.
        return match tokio::time::timeout(timeout, pool().request(request)).await {
            Ok(Ok(res)) => Ok(res),
            Ok(Err(e)) => Err(unreachable(if e.is_connect() { "no connection".to_string() } else { e.to_string() })),
            Err(_) => Err(too_late()),
        };
    }
    // Connecting is retried once for methods that may be repeated; nothing
    // has been sent yet, so no method is ever sent twice.
    let idempotent = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE);
    let mut attempt = 0;
    let tcp = loop {
        attempt += 1;
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((host.as_str(), port))).await {
            Ok(Ok(s)) => break s,
            Ok(Err(_)) | Err(_) if idempotent && attempt < 2 => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => return Err(unreachable(format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()))),
        }
    };
    let _ = tcp.set_nodelay(true);
    let exchange = async {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| unreachable(e.to_string()))?;
        let tls = crate::oidc::http::connector().connect(name, tcp).await.map_err(|e| unreachable(format!("TLS: {e}")))?;
        send(TokioIo::new(tls), request).await.map_err(|e| unreachable(e.to_string()))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(too_late()),
    }
}

type Pool = hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, http_body_util::Limited<Body>>;

/// Kept-alive connections to plain-http upstreams, shared by every call.
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build(connector)
    })
}

async fn send<T>(io: T, request: Request<http_body_util::Limited<Body>>) -> Result<hyper::Response<Incoming>, hyper::Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(request).await
}

/// The answer's body as it streams to the consumer, counted; when it ends
/// (or the consumer goes away) the call is recorded.
struct Counted {
    inner: Incoming,
    bytes: u64,
    done: Option<(CallRecord, u16)>,
}

impl hyper::body::Body for Counted {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.bytes += d.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some((record, status)) = self.done.take() {
                    record.record(status, self.bytes, None);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                let msg = e.to_string();
                if let Some((record, status)) = self.done.take() {
                    record.record(status, self.bytes, Some(format!("the upstream's body broke off: {msg}")));
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some((record, status)) = self.done.take() {
            record.record(status, self.bytes, Some("the consumer stopped reading".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_climb_out_of_the_upstream() {
        let p = |s: &str| upstream_path(&s.parse().unwrap(), "svc");
        assert_eq!(p("/gateway/svc/hoc-sinh/12?lop=6A").unwrap(), "/hoc-sinh/12?lop=6A");
        assert_eq!(p("/gateway/svc").unwrap(), "");
        for bad in ["/gateway/svc/../admin", "/gateway/svc/%2e%2e/admin", "/gateway/svc/a%2Fb", "/gateway/svc/./x"] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
