//! What every handler, page and command reaches: the store, the
//! configuration, the recorder of audit events, and the file store.

use std::sync::Arc;
use std::time::Duration;

use chiase_store::Store;
use chiase_store::recorder::Recorder;

use crate::config::Config;

/// Shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub recorder: Recorder,
    pub files: crate::usecase::files::FileStore,
    /// The key and checkpoint file that anchor the audit chain (`None`: no
    /// key yet, only `serve` creates one).
    pub anchor: Option<Arc<chiase_store::audit_anchor::Anchor>>,
    /// The portal's name (`site_name`), kept for the life of the process so
    /// that every page's words can borrow it.
    pub site_name: &'static str,
}

impl AppState {
    /// The state of a running server: starts the recorder, metrics, the
    /// periodic housekeeping and the notification scans.
    pub fn new(store: Store, config: Config) -> anyhow::Result<AppState> {
        crate::usecase::notifications::check_mail_config(&config)?;
        crate::metrics::install();
        let anchor = crate::audit_anchor::start(&store, &config)?;
        let mut state = AppState::for_command(store, config)?;
        state.anchor = Some(anchor);
        start_housekeeping(state.store.clone());
        crate::usecase::notifications::start_scans(state.clone());
        Ok(state)
    }

    /// The state of a command-line command: the recorder (every command
    /// that changes something is audited) and the file store.
    pub fn for_command(store: Store, config: Config) -> anyhow::Result<AppState> {
        let files = crate::usecase::files::open(config.files_url.as_deref(), &config.data_dir)?;
        let anchor = crate::audit_anchor::open(&config)?.map(Arc::new);
        // One small string per state made (a process makes one; tests a few hundred).
        let site_name: &'static str = Box::leak(config.site_name.clone().into_boxed_str());
        Ok(AppState { recorder: Recorder::start(store.clone()), store, config: Arc::new(config), files, anchor, site_name })
    }
}

/// Every minute, the process holding the housekeeping lease removes expired
/// sessions and old sign-in attempts, and drops dataset tables retired by
/// large imports: with several processes on one database, the job runs in
/// one of them at a time.
fn start_housekeeping(store: Store) {
    let holder =
        format!("{}:{}:{:x}", std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()), std::process::id(), rand::random::<u32>());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            match store.take_lease("housekeeping", &holder, 120).await {
                Ok(true) => {
                    match store.housekeeping().await {
                        Ok(n) if n > 0 => tracing::info!(removed = n, "housekeeping"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!("housekeeping failed: {e}"),
                    }
                    match store.drop_retired_tables(chrono::Duration::minutes(10)).await {
                        Ok(n) if n > 0 => tracing::info!(dropped = n, "retired dataset tables dropped"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!("dropping retired tables failed: {e}"),
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("lease failed: {e}"),
            }
        }
    });
}
