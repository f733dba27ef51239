//! `chiase serve`.

use std::sync::Arc;

use crate::app::{AppState, serve};
use crate::config::Config;

pub async fn run(cfg: Config, demo: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let store = super::open_store(&cfg).await?;
    if cfg.builtin_catalog {
        super::load_builtin_catalog(&store).await?;
    }
    if demo {
        let made = super::dataset::load_demo(&store, None, 20240601).await?;
        tracing::info!(datasets = made, "demo datasets ready");
    }
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, engine = ?store.backend(), "ready");
    serve(AppState { store, config: Arc::new(cfg) }).await
}
