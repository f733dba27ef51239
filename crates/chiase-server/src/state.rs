//! What every handler, page and command reaches: the store, the
//! configuration, the recorder of audit events, and the file store.

use std::sync::{Arc, RwLock};
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
    /// The settings an administrator may change while the server runs
    /// (`site_name`, `map_tiles`, `mail_from`), as they are now: read them
    /// through [`AppState::site_name`], [`AppState::map_tiles`] and
    /// [`AppState::mail_from`].
    pub live: Arc<LiveSettings>,
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
        start_settings_refresh(&state);
        crate::usecase::notifications::start_scans(state.clone());
        crate::usecase::harvest::start_schedule(state.clone());
        crate::usecase::services::start_health_checks(state.clone());
        crate::usecase::sync::start_schedule(state.clone());
        Ok(state)
    }

    /// The state of a command-line command: the recorder (every command
    /// that changes something is audited) and the file store.
    pub fn for_command(store: Store, config: Config) -> anyhow::Result<AppState> {
        let files = crate::usecase::files::open(config.files_url.as_deref(), &config.data_dir)?;
        let anchor = crate::audit_anchor::open(&config)?.map(Arc::new);
        // One small string per state made (a process makes one; tests a few hundred).
        let live = Arc::new(LiveSettings::new(&config));
        config.check_public_url()?;
        let map_outline = config.map_outline.as_deref().map(read_outline).transpose()?;
        Ok(AppState { recorder: Recorder::start(store.clone()), store, config: Arc::new(config), files, anchor, live, map_outline })
    }

    /// The portal's name (`site_name`, or its value changed at run time).
    pub fn site_name(&self) -> &'static str {
        self.live.read().site_name
    }

    /// The map tile server's URL template (`map_tiles`, or its value
    /// changed at run time).
    pub fn map_tiles(&self) -> Option<String> {
        self.live.read().map_tiles.clone()
    }

    /// The sender of notification e-mails (`mail_from`, or its value
    /// changed at run time).
    pub fn mail_from(&self) -> String {
        self.live.read().mail_from.clone()
    }

    /// Reads the overrides from the store now (this process changed one).
    pub async fn refresh_settings(&self) -> Result<(), chiase_store::StoreError> {
        let rows = self.store.runtime_settings().await?;
        self.live.apply(&self.config, &rows);
        Ok(())
    }
}

/// The effective values of the settings changed at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub site_name: &'static str,
    pub map_tiles: Option<String>,
    pub mail_from: String,
}

/// The holder of [`Live`]: the configuration's values with the store's
/// `runtime_settings` over them. The process that changes one applies it at
/// once; every serving process reads the table again every
/// [`SETTINGS_REFRESH`] (one small query per process, none per page).
#[derive(Debug)]
pub struct LiveSettings {
    now: RwLock<Live>,
}

/// How often a serving process reads `runtime_settings` again: how long a
/// change made in another process takes to show.
pub const SETTINGS_REFRESH: Duration = Duration::from_secs(2);

impl LiveSettings {
    fn new(config: &Config) -> LiveSettings {
        LiveSettings {
            now: RwLock::new(Live {
                site_name: leak(&config.site_name),
                map_tiles: config.map_tiles.clone(),
                mail_from: config.mail_from.clone(),
            }),
        }
    }

    /// The values now.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        self.now.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the values the configuration and the overrides give.
    pub fn apply(&self, config: &Config, rows: &[chiase_store::settings::RuntimeSetting]) {
        let over = |key: &str| rows.iter().find(|r| r.key == key).map(|r| r.value.clone());
        let site = over("site_name").flatten().unwrap_or_else(|| config.site_name.clone());
        let map_tiles = over("map_tiles").unwrap_or_else(|| config.map_tiles.clone());
        let mail_from = over("mail_from").flatten().unwrap_or_else(|| config.mail_from.clone());
        let current = self.read().clone();
        if current.site_name == site && current.map_tiles == map_tiles && current.mail_from == mail_from {
            return;
        }
        // Pages borrow the name for as long as they render (`Tr` is Copy
        // and holds a `&'static str`): a new name is leaked, once per
        // change an administrator makes, never per page or per refresh.
        let site_name = if current.site_name == site { current.site_name } else { leak(&site) };
        *self.now.write().unwrap_or_else(|e| e.into_inner()) = Live { site_name, map_tiles, mail_from };
    }
}

/// A string kept for the life of the process (one per state made, and one
/// per change of the site's name).
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// Reads the settings changed at run time from the store at once, then
/// every [`SETTINGS_REFRESH`], for as long as the state lives.
fn start_settings_refresh(state: &AppState) {
    let weak = Arc::downgrade(&state.live);
    let (store, config) = (state.store.clone(), state.config.clone());
    tokio::spawn(async move {
        let mut failing = false;
        // Ends when the state does (its last clone dropped).
        while let Some(live) = weak.upgrade() {
            match store.runtime_settings().await {
                Ok(rows) => {
                    live.apply(&config, &rows);
                    failing = false;
                }
                Err(e) if !failing => {
                    tracing::warn!("reading the settings changed at run time failed: {e}");
                    failing = true;
                }
                Err(_) => {}
            }
            drop(live);
            tokio::time::sleep(SETTINGS_REFRESH).await;
        }
    });
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
