//! The HTTP application: shared state, the router (a table of contents of
//! every resource module, in reading order), middleware, and serving with
//! graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use chiase_store::Store;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::audit::{AuditSink, OpenReadCounter};
use crate::config::Config;
use crate::error::{ApiError, api_not_found};
use crate::{api, web};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub audit: AuditSink,
    pub open_reads: Arc<OpenReadCounter>,
    pub files: crate::files::Files,
    /// The key and checkpoint file that anchor the audit chain.
    pub anchor: Arc<chiase_store::audit_anchor::Anchor>,
}

impl AppState {
    /// The state of a running server: starts the audit writer, the
    /// checkpoints of its head, and the flushing of open-read counts.
    pub fn new(store: Store, config: Config) -> anyhow::Result<AppState> {
        crate::metrics::install();
        let files = crate::files::open(config.files_url.as_deref(), &config.data_dir)?;
        let anchor = crate::audit_anchor::start(&store, &config)?;
        let open_reads = Arc::new(OpenReadCounter::default());
        open_reads.start_flushing(store.clone(), Duration::from_secs(5));
        start_housekeeping(store.clone());
        Ok(AppState { audit: AuditSink::start(store.clone()), store, config: Arc::new(config), open_reads, files, anchor })
    }
}

/// Every minute, the process holding the housekeeping lease removes expired
/// sessions and old sign-in attempts: with several processes on one
/// database, the job runs in one of them at a time.
fn start_housekeeping(store: Store) {
    let holder = format!("{}:{}:{:x}", std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()), std::process::id(), rand_u32());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            match store.take_lease("housekeeping", &holder, 120).await {
                Ok(true) => match store.housekeeping().await {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "housekeeping"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("housekeeping failed: {e}"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!("lease failed: {e}"),
            }
        }
    });
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}

/// Every route of chiase.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api::health::router())
        .merge(api::databases::router())
        .merge(api::agencies::router())
        .merge(api::catalog::router())
        .merge(api::datasets::router())
        .merge(api::records::router())
        .merge(api::exports::router())
        .merge(api::accounts::router())
        .merge(api::requests::router())
        .merge(api::audit::router())
        .merge(crate::files::router())
        .merge(web::router())
        .route("/api", axum::routing::any(api_not_found))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .route("/metrics", axum::routing::get(crate::metrics::render))
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
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(60)))
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
    tracing::info!(%addr, "chiase is listening on http://{addr}/");
    let store = state.store.clone();
    let open_reads = state.open_reads.clone();
    let (audit, anchor) = (state.audit.clone(), state.anchor.clone());
    axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    crate::audit_anchor::at_shutdown(&audit, &store, &anchor).await;
    open_reads.flush(&store).await;
    store.close().await;
    tracing::info!("chiase stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
