//! `chiase serve`.

use crate::app::serve;
use crate::config::Config;
use crate::state::AppState;

pub async fn run(cfg: Config, demo: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // Held while the server runs: `chiase restore` refuses meanwhile.
    let _lock = if cfg.database_url.is_none() {
        crate::config::private_dir(&cfg.data_dir)?;
        Some(crate::config::lock_shared(&cfg.data_dir)?)
    } else {
        None
    };
    let store = super::open_store(&cfg).await?;
    // Datasets made by an older version get the indexes every field now has.
    let built = store.ensure_dataset_indexes().await?;
    if built > 0 {
        tracing::info!(indexes = built, elapsed_ms = started.elapsed().as_millis() as u64, "dataset indexes brought up to date");
    }
    if cfg.builtin_catalog {
        crate::usecase::catalog::load_builtin(&store).await?;
    }
    if !store.has_admin().await? {
        // No default password: a one-time token creates the first administrator.
        let from_env = std::env::var("CHIASE_ADMIN_SETUP_TOKEN").ok().filter(|t| t.len() >= 16);
        let token = from_env.clone().unwrap_or_else(|| chiase_store::users::new_secret("setup_"));
        if store.add_setup_token(&token).await? && from_env.is_none() {
            setup_banner(&cfg, &token);
        }
    }
    let state = AppState::new(store, cfg)?;
    if demo {
        let outcome = crate::usecase::demo::load(&state, &crate::auth::Caller::operator(), None, 20240601).await.map_err(super::said)?;
        tracing::info!(datasets = outcome.filled.len(), left_alone = ?outcome.left_alone, "demo datasets ready");
    }
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, engine = ?state.store.backend(), "ready");
    serve(state).await
}

/// Tells the operator how to create the first administrator: a log event
/// (so that JSON logs carry it), and in text mode a banner on standard error.
fn setup_banner(cfg: &Config, token: &str) {
    let url = format!("http://{}/setup", cfg.listen);
    if cfg.log_format == crate::config::LogFormat::Json {
        tracing::warn!(
            setup_token = %token,
            setup_page = %url,
            "no administrator yet: use the one-time setup token at {url}, or `chiase user add NAME --role admin --password-stdin`"
        );
    } else {
        eprintln!(
            "\n  Chưa có quản trị viên. Mã thiết lập dùng một lần / No administrator yet. One-time setup token:\n\n    {token}\n\n  \
             Mở / open {url}, hoặc/or POST /api/v1/setup {{\"token\", \"username\", \"password\"}}, hoặc/or: chiase user add NAME --role admin --password-stdin\n"
        );
    }
}
