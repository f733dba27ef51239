//! The HTTP application: the router (a table of contents of every resource
//! module, in reading order), middleware, and serving with graceful
//! shutdown. Shared state is `state.rs`; extractors are `extract.rs` and
//! `auth.rs`; the work is in `usecase/`.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, api_not_found};
use crate::state::AppState;
use crate::{api, web};

/// Every route of chiase.
pub fn router(state: AppState) -> Router {
    // How long an ordinary request may take before it is answered 503
    // (`request_timeout_secs`); imports, uploads and exports are not bound by it.
    let request_timeout = state.config.request_timeout();
    let request_id = HeaderName::from_static("x-request-id");
    let short = Router::new()
        .merge(api::health::router())
        .merge(api::databases::router())
        .merge(api::agencies::router())
        .merge(api::catalog::router())
        .merge(api::datasets::router())
        .merge(api::records::router())
        .merge(api::accounts::router())
        .merge(api::requests::router())
        .merge(api::audit::router())
        .merge(web::router())
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, request_timeout));
    // Requests that last as long as their transfer: no global timeout.
    let long = Router::new().merge(api::records::long_router()).merge(api::exports::long_router()).merge(api::files::long_router());
    let mut app = Router::new().merge(short).merge(long);
    if state.config.metrics_listen.is_none() {
        app = app.route("/metrics", axum::routing::get(crate::metrics::render));
    }
    app.route("/api", axum::routing::any(api_not_found))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .fallback(web::not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(HeaderName::from_static("referrer-policy"), HeaderValue::from_static("same-origin")))
        .layer(CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse;
            ApiError::internal(&"a handler panicked").into_response()
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
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
