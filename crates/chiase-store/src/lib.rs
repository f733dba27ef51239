//! chiase-store: the only code of chiase that knows SQL.
//!
//! [`Store`] is the storage API the server and CLI use. It runs on SQLite
//! (the zero-set-up default) and on PostgreSQL with the same behaviour; the
//! engine is chosen by the database URL and never visible outside this
//! crate. Every write is one transaction: it lands whole or not at all.

pub mod agencies;
pub mod audit;
pub mod audit_anchor;
pub mod catalog;
pub mod databases;
pub mod datasets;
pub mod db;
mod direct;
pub mod files;
pub mod harvest;
pub mod jobs;
pub mod metadata;
pub mod notifications;
pub mod oidc;
pub mod ops;
pub mod recorder;
pub mod requests;
pub mod services;
pub mod settings;
pub mod sync;
#[cfg(feature = "testing")]
pub mod testing;
pub mod users;

use chiase_core::{DomainError, Msg};

pub use db::Backend;
use db::Pools;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule of the domain refused the change; nothing was written.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The database failed (connection, I/O, a bug in SQL).
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored JSON that does not read back: a bug or a hand-edited database.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The audit log could not record an event: the reply must not go out.
    #[error("the audit log could not record the event: {0}")]
    Audit(String),
    /// The thing is busy (a large import holds the dataset): try again later.
    #[error("busy: {msg}")]
    Busy { msg: Msg, retry_after_secs: u32 },
    /// A file the store keeps beside the database (the audit checkpoint
    /// file) could not be read or written.
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// A unique index refused a write: the thing exists already.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(db)) if db.is_unique_violation())
    }

    /// Every connection was busy for the whole wait.
    pub fn is_pool_exhausted(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::PoolTimedOut))
    }
}

/// Turns a unique violation into a conflict that says what exists: the one
/// place constraint violations become 409s with a message, instead of
/// checking before inserting (which races).
pub(crate) trait OnUnique<T> {
    fn on_unique(self, vi: impl FnOnce() -> String, en: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> OnUnique<T> for Result<T, StoreError> {
    fn on_unique(self, vi: impl FnOnce() -> String, en: impl FnOnce() -> String) -> Result<T, StoreError> {
        match self {
            Err(e) if e.is_unique_violation() => Err(StoreError::conflict(vi(), en())),
            other => other,
        }
    }
}

impl StoreError {
    fn conflict(vi: impl Into<String>, en: impl Into<String>) -> StoreError {
        StoreError::Domain(DomainError::conflict(Msg::new(vi, en)))
    }
    fn not_found(vi: impl Into<String>, en: impl Into<String>) -> StoreError {
        StoreError::Domain(DomainError::not_found(Msg::new(vi, en)))
    }
}

/// Where and how to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH`, a plain file path, or `postgres://…`.
    pub url: String,
    /// Upper bound on pooled connections (readers on SQLite).
    pub max_connections: u32,
    /// How long a request waits for a free connection before it is
    /// refused as busy (503 with Retry-After) rather than queued forever.
    pub acquire_timeout: std::time::Duration,
    /// SQLite's page cache per connection, in MiB: resident memory grows
    /// to about (readers + 1) × this under load.
    pub cache_mib: u32,
}

impl StoreConfig {
    /// The default wait for a connection: long enough to ride out a burst,
    /// short enough that a client hears "busy" before its own timeout.
    pub const DEFAULT_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
    pub const DEFAULT_CACHE_MIB: u32 = 8;

    pub fn new(url: impl Into<String>, max_connections: u32) -> StoreConfig {
        StoreConfig { url: url.into(), max_connections, acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT, cache_mib: Self::DEFAULT_CACHE_MIB }
    }
}

/// The storage API: one handle, cheap to clone, over either engine.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    index_cache: std::sync::Arc<databases::IndexCache>,
    schema_cache: std::sync::Arc<datasets::SchemaCache>,
    index_sets: std::sync::Arc<datasets::IndexSetCache>,
    dataset_reads: std::sync::Arc<datasets::DatasetReadCache>,
    plan_bounds: std::sync::Arc<std::sync::RwLock<datasets::plan::Bounds>>,
}

impl Store {
    /// Connects and brings the schema up to date (migrations are embedded
    /// in the binary and run at every start; an applied one never changes).
    pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        let pools = db::connect(config).await?;
        pools.migrate().await?;
        Ok(Store {
            pools,
            index_cache: Default::default(),
            schema_cache: Default::default(),
            index_sets: Default::default(),
            dataset_reads: Default::default(),
            plan_bounds: Default::default(),
        })
    }

    /// Shrinks the query planner's bounds, so that tests with a few
    /// thousand rows take every path a large dataset takes.
    #[cfg(feature = "testing")]
    pub fn set_plan_bounds(&self, bounds: datasets::plan::Bounds) {
        if let Ok(mut b) = self.plan_bounds.write() {
            *b = bounds;
        }
    }

    pub(crate) fn plan_bounds(&self) -> datasets::plan::Bounds {
        self.plan_bounds.read().map(|b| *b).unwrap_or_default()
    }

    pub fn backend(&self) -> Backend {
        self.pools.backend()
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn().fetch_one::<db::Id>(db::Sql::new("SELECT CAST(1 AS BIGINT)")).await?;
        Ok(())
    }

    /// Connections open and idle, over every pool (for metrics).
    pub fn pool_stats(&self) -> (u32, usize) {
        match &self.pools {
            Pools::Sqlite { read, write, .. } => (read.size() + write.size(), read.num_idle() + write.num_idle()),
            Pools::Postgres(p) => (p.size(), p.num_idle()),
        }
    }

    /// Closes every pooled connection (at shutdown).
    pub async fn close(&self) {
        self.pools.close().await;
    }
}

/// The current time, as stored: to the microsecond, the precision
/// PostgreSQL keeps, so that both engines hold exactly the same instants.
fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::Timelike;
    let t = chrono::Utc::now();
    t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}
