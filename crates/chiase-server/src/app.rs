//! The HTTP application: the router (a table of contents of every resource
//! module, in reading order), middleware (security headers on every
//! response among them), and serving with graceful shutdown. Shared state is `state.rs`; extractors are `extract.rs` and
//! `auth.rs`; the work is in `usecase/`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::{ApiError, api_not_found};
use crate::state::AppState;
use crate::{api, web};

/// The JSON API: every route is registered by its documented handler
/// (`routes!`), so these routers are also the OpenAPI document
/// (`api::openapi::document`). Ordinary requests are answered 503 after
/// `request_timeout` (`request_timeout_secs`); imports, uploads and
/// exports last as long as their transfer.
pub fn api_routes(request_timeout: Duration) -> OpenApiRouter<AppState> {
    let short = OpenApiRouter::with_openapi(api::openapi::ApiDoc::openapi())
        .merge(api::openapi::router())
        .merge(api::health::router())
        .merge(api::databases::router())
        .merge(api::agencies::router())
        .merge(api::catalog::router())
        .merge(api::datasets::router())
        .merge(api::records::router())
        .merge(api::accounts::router())
        .merge(api::requests::router())
        .merge(api::audit::router())
        .merge(api::harvest::router())
        .merge(api::sync::router())
        .merge(api::services::router())
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, request_timeout))
        .layer(axum::middleware::map_response(timeout_as_json));
    let long = OpenApiRouter::new()
        .merge(api::records::long_router())
        .merge(api::exports::long_router())
        .merge(api::files::long_router())
        .merge(api::datapackage::long_router())
        .merge(api::harvest::long_router())
        .merge(api::sync::long_router());
    short.merge(long)
}

/// Every route of chiase.
pub fn router(state: AppState) -> Router {
    let request_timeout = state.config.request_timeout();
    let state_secure = state.config.secure_cookies;
    let request_id = HeaderName::from_static("x-request-id");
    let (api, _) = api_routes(request_timeout).split_for_parts();
    let pages = web::router().layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, request_timeout));
    // CKAN's Action API: outside the OpenAPI document (it is CKAN's shape).
    let ckan = api::ckan::router().layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, request_timeout));
    let mut app =
        Router::new().merge(api).merge(pages).merge(ckan).merge(api::services::gateway_router()).merge(api::openapi::docs_router());
    if state.config.metrics_listen.is_none() {
        app = app.route("/metrics", axum::routing::get(crate::metrics::render));
    }
    app.route("/api", axum::routing::any(api_not_found))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .fallback(web::not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .with_state(state)
        .layer(compression())
        .layer(CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse;
            ApiError::internal(&"a handler panicked").into_response()
        }))
        .layer(axum::middleware::map_response(security_headers(state_secure)))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// The timeout layer answers an empty 503; the API's errors are JSON, so
/// that one is too (with `Retry-After`, as every 503 of chiase).
async fn timeout_as_json(res: Response) -> Response {
    if res.status() == StatusCode::SERVICE_UNAVAILABLE && !res.headers().contains_key(header::CONTENT_TYPE) {
        use axum::response::IntoResponse;
        return ApiError::unavailable(
            chiase_core::Msg::new(
                "yêu cầu chạy quá thời gian cho phép (request_timeout_secs); hãy thử lại",
                "the request took longer than allowed (request_timeout_secs); try again",
            ),
            5,
        )
        .into_response();
    }
    res
}

/// The Content-Security-Policy of every response that sets none of its
/// own: everything from this origin only, no inline script or style (the
/// pages have none; Swagger UI's page loads its scripts from files), no
/// framing, no plugins; `data:` images for Swagger UI's icons.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the security headers to every response (pages, API, assets,
/// errors, panics), keeping any a handler set itself (a file download's
/// stricter policy). `Strict-Transport-Security` only when chiase is
/// served over HTTPS (`secure_cookies`).
fn security_headers(https: bool) -> impl Fn(Response) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    let headers = Arc::new(headers);
    move |mut res: Response| {
        for (name, value) in headers.iter() {
            if !res.headers().contains_key(name) {
                res.headers_mut().insert(name, value.clone());
            }
        }
        std::future::ready(res)
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "phương thức không được hỗ trợ", "method not allowed")
}

/// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(state.config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", state.config.listen))?;
    let addr = listener.local_addr()?;
    if let Some(metrics_addr) = state.config.metrics_listen {
        let metrics_listener = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {metrics_addr} for metrics: {e}"))?;
        let metrics_app = Router::new().route("/metrics", axum::routing::get(crate::metrics::render)).with_state(state.clone());
        tracing::info!(addr = %metrics_addr, "metrics on http://{metrics_addr}/metrics");
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics_listener, metrics_app).await {
                tracing::error!("the metrics listener stopped: {e}");
            }
        });
    }
    // The handlers are in place before the server says it listens: a
    // SIGTERM sent as soon as it does still shuts down gracefully.
    let shutdown = shutdown_signal()?;
    tracing::info!(%addr, "chiase is listening on http://{addr}/");
    let store = state.store.clone();
    let (recorder, anchor) = (state.recorder.clone(), state.anchor.clone());
    axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    // After the requests in flight: the last events, then the signed head.
    if let Some(anchor) = anchor {
        crate::audit_anchor::at_shutdown(&recorder, &store, &anchor).await;
    }
    recorder.flush_open_reads().await;
    store.close().await;
    tracing::info!("chiase stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM; the handlers are installed when this is
/// called, not when the future is first polled.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing requests in flight");
    })
}

/// gzip where it pays: the fastest level (a 36 KB page of 100 records
/// gives 8.1 KB at level 1 and 6.3 KB at level 6, which costs four to
/// seven times the CPU), bodies of 1 KiB or more, and never what is
/// compressed already (XLSX and zip files, images) or streamed as events.
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = SizeAbove::new(1024)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(NotForContentType::const_new("application/zip"))
        .and(NotForContentType::const_new("application/vnd.openxmlformats"));
    CompressionLayer::new().quality(CompressionLevel::Fastest).compress_when(predicate)
}
