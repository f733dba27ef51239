//! `chiase serve`.

use crate::app::{AppState, serve};
use crate::config::Config;

pub async fn run(cfg: Config, demo: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let store = super::open_store(&cfg).await?;
    if cfg.builtin_catalog {
        super::load_builtin_catalog(&store).await?;
    }
    if !store.has_admin().await? {
        // No default password: a one-time token creates the first administrator.
        let token = std::env::var("CHIASE_ADMIN_SETUP_TOKEN")
            .ok()
            .filter(|t| t.len() >= 16)
            .unwrap_or_else(|| chiase_store::users::new_secret("setup_"));
        store.add_setup_token(&token).await?;
        if std::env::var("CHIASE_ADMIN_SETUP_TOKEN").is_err() {
            eprintln!(
                "\n  Chưa có quản trị viên. Mã thiết lập dùng một lần / No administrator yet. One-time setup token:\n\n    {token}\n\n  \
                 POST /api/v1/setup {{\"token\", \"username\", \"password\"}}, hoặc/or: chiase user add NAME --role admin --password-stdin\n"
            );
        }
    }
    if demo {
        let made = super::dataset::load_demo(&store, None, 20240601).await?;
        tracing::info!(datasets = made, "demo datasets ready");
    }
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, engine = ?store.backend(), "ready");
    serve(AppState::new(store, cfg)?).await
}
