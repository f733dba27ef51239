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
    /// The province's outline for the maps (`map_outline`), read once at start.
    pub map_outline: Option<Arc<str>>,
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
        let map_outline = config.map_outline.as_deref().map(read_outline).transpose()?;
        Ok(AppState { recorder: Recorder::start(store.clone()), store, config: Arc::new(config), files, anchor, site_name, map_outline })
    }
}

/// The largest outline file taken (a province's boundary, simplified for a
/// map, is a few hundred kilobytes).
const MAX_OUTLINE_BYTES: u64 = 2 * 1024 * 1024;

/// Reads `map_outline`: GeoJSON whose geometry is a polygon or several, or
/// a feature or collection of them. A file that is not is a start-up error
/// that names it, rather than a map that silently draws nothing.
fn read_outline(path: &std::path::Path) -> anyhow::Result<Arc<str>> {
    let bad = |why: &str| anyhow::anyhow!("map_outline {}: {why}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| bad(&e.to_string()))?;
    if meta.len() > MAX_OUTLINE_BYTES {
        return Err(bad("lớn hơn 2 MB / larger than 2 MB"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(&e.to_string()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(&format!("không phải JSON / not JSON: {e}")))?;
    fn polygons(v: &serde_json::Value) -> bool {
        match v.get("type").and_then(|t| t.as_str()) {
            Some("Polygon" | "MultiPolygon") => v.get("coordinates").is_some_and(|c| c.is_array()),
            Some("Feature") => v.get("geometry").is_some_and(polygons),
            Some("FeatureCollection") => {
                v.get("features").and_then(|f| f.as_array()).is_some_and(|f| !f.is_empty() && f.iter().all(polygons))
            }
            _ => false,
        }
    }
    if !polygons(&json) {
        return Err(bad(
            "cần GeoJSON Polygon, MultiPolygon, Feature hoặc FeatureCollection của chúng / expected a GeoJSON Polygon, MultiPolygon, or a Feature or FeatureCollection of them",
        ));
    }
    Ok(Arc::from(text))
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
