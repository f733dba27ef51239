//! Engine plumbing: connection pools for SQLite and PostgreSQL, SQL text with
//! bound values, and one set of execution helpers over either engine.
//!
//! Store modules write SQL once with `?` placeholders (rewritten to `$1…` for
//! PostgreSQL); values are always bound, never spliced. Where the engines need different SQL (full-
//! text search, DDL), a module matches on [`Backend`].

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sea_query::Value;
use sea_query_sqlx::SqlxValues;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, FromRow};

use crate::StoreError;

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A row type that can be read from either engine.
pub trait DbRow: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> DbRow for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// SQL text and the values bound to its placeholders.
#[derive(Debug, Clone)]
pub struct Sql {
    text: Cow<'static, str>,
    values: Vec<Value>,
}

impl Sql {
    /// Static SQL with `?` placeholders, valid on both engines.
    pub fn new(text: &'static str) -> Sql {
        Sql { text: Cow::Borrowed(text), values: Vec::new() }
    }

    /// SQL assembled at run time. Only for text made of static fragments and
    /// identifiers that passed schema validation; values still go through
    /// [`Sql::bind`].
    pub fn assembled(text: String) -> Sql {
        Sql { text: Cow::Owned(text), values: Vec::new() }
    }

    /// The values bound so far, in placeholder order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Binds the next placeholder.
    pub fn bind(mut self, value: impl Into<Value>) -> Sql {
        self.values.push(value.into());
        self
    }

    /// The text for `backend`: `?` becomes `$n` on PostgreSQL.
    pub fn text_for(&self, backend: Backend) -> Cow<'_, str> {
        if backend == Backend::Sqlite {
            return Cow::Borrowed(&self.text);
        }
        Cow::Owned(number_placeholders(&self.text))
    }
}

/// Rewrites `?` placeholders as `$1`, `$2`, … outside quoted text.
fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

/// The pools of a store. SQLite gets one writer connection (SQLite allows
/// one writer at a time; queueing in the pool is cheaper than busy retries)
/// and several readers; PostgreSQL one pool for both.
#[derive(Clone)]
pub enum Pools {
    Sqlite { read: SqlitePool, write: SqlitePool, demand: Arc<WriterDemand>, readers: Option<Arc<crate::direct::Readers>> },
    Postgres(PgPool),
}

/// Opens the pools for a database URL: `sqlite://PATH` or a file path for
/// SQLite, `postgres://…` for PostgreSQL.
pub async fn connect(config: &crate::StoreConfig) -> Result<Pools, StoreError> {
    let (url, max_connections, wait) = (config.url.as_str(), config.max_connections, config.acquire_timeout);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let opts = PgConnectOptions::from_str(url)?.application_name("chiase");
        // A connection is checked (one round trip) only when it has been
        // idle for a second or more, as after a restart of the server;
        // under load, a request's only round trip is its query.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(wait)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= Duration::from_secs(1) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(opts)
            .await?;
        return Ok(Pools::Postgres(pool));
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let opts = SqliteConnectOptions::new()
        .filename(Path::new(path))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // Negative: KiB rather than pages.
        .pragma("cache_size", format!("-{}", u64::from(config.cache_mib.max(1)) * 1024))
        .pragma("temp_store", "memory")
        // ANALYZE samples this many rows per index: quick after big imports.
        .pragma("analysis_limit", "1000");
    // The writer syncs every commit (a reply carrying restricted data waits
    // for its audit event to be on disk); readers need no syncing.
    // Checkpoints every 16 MB of log rather than SQLite's 4 MB: a large
    // import writes each hot page to the log many times between two, and
    // copies it to the database once per checkpoint.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(wait)
        .test_before_acquire(false)
        // The writer's sorts (an index built after a bulk load: a million
        // keys) spill to temporary files rather than grow the process.
        .connect_with(opts.clone().synchronous(SqliteSynchronous::Full).pragma("wal_autocheckpoint", "4000").pragma("temp_store", "file"))
        .await?;
    // No ping before each use: a SQLite connection is a file handle in this
    // process, it cannot drop the way a network connection does, and the
    // ping is a round trip to the connection's worker thread per request.
    let read = SqlitePoolOptions::new()
        .max_connections(max_connections.max(2))
        .acquire_timeout(wait)
        .test_before_acquire(false)
        .connect_with(opts.read_only(false))
        .await?;
    let readers = crate::direct::Readers::new(Path::new(path), config.cache_mib).map(Arc::new);
    Ok(Pools::Sqlite { read, write, demand: Default::default(), readers })
}

impl Pools {
    pub fn backend(&self) -> Backend {
        match self {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs the embedded migrations of the engine.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Pools::Sqlite { write, .. } => sqlx::migrate!("./migrations/sqlite").run(write).await?,
            Pools::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// A connection for reading.
    pub async fn reader(&self) -> Result<PoolConn, StoreError> {
        Ok(match self {
            Pools::Sqlite { read, readers, .. } => PoolConn::Sqlite(read.acquire().await?, readers.clone()),
            Pools::Postgres(pool) => PoolConn::Postgres(pool.acquire().await?),
        })
    }

    /// A write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that a transaction that reads before it
    /// writes never fails half-way because another process wrote first,
    /// and its commit is synced to disk before it returns.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        self.begin_synced(true).await
    }

    /// A write transaction whose commit need not reach the disk before it
    /// returns (SQLite `synchronous = OFF` for this transaction): for the
    /// steps of a large import building a table generation that nobody
    /// reads yet. The commit that makes it current is synced, and syncing
    /// the log also syncs every step before it. On PostgreSQL, as `begin`.
    pub async fn begin_unsynced(&self) -> Result<Tx, StoreError> {
        self.begin_synced(false).await
    }

    async fn begin_synced(&self, synced: bool) -> Result<Tx, StoreError> {
        Ok(match self {
            Pools::Sqlite { write, demand, .. } => {
                // An import's own steps are not demand: they are what yields.
                let mut conn = if synced {
                    let _waiting = demand.enter();
                    write.acquire().await?
                } else {
                    write.acquire().await?
                };
                // Every write transaction says how it syncs, so a connection
                // left unsynced by an import step never carries it over.
                let pragma = if synced { "PRAGMA synchronous = FULL" } else { "PRAGMA synchronous = OFF" };
                sqlx::query(pragma).execute(&mut *conn).await?;
                Tx::Sqlite(sqlx::Transaction::begin(conn, Some(sqlx::SqlSafeStr::into_sql_str("BEGIN IMMEDIATE"))).await?)
            }
            Pools::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Whether another write is waiting for SQLite's writer now, and whether
    /// one waited within `recent`: a long import yields to them. Always
    /// false on PostgreSQL, whose writers do not share one connection.
    pub fn writer_demand(&self, recent: Duration) -> (bool, bool) {
        match self {
            Pools::Sqlite { demand, .. } => demand.observe(recent),
            Pools::Postgres(_) => (false, false),
        }
    }

    /// A read-only transaction: one consistent snapshot for several reads.
    pub async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Pools::Sqlite { read, .. } => Tx::Sqlite(read.begin().await?),
            Pools::Postgres(pool) => Tx::Postgres(pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Pools::Sqlite { read, write, .. } => {
                // Leave a short log behind.
                let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(read).await;
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

/// Who waits for SQLite's single writer connection: counted so that a
/// large import's steps can stay short while others wait, and grow (fewer
/// commits, no pauses) while nobody does.
#[derive(Default)]
pub struct WriterDemand {
    waiting: AtomicUsize,
    /// When someone last started waiting (milliseconds since `epoch`).
    last_wait_ms: AtomicU64,
    epoch: OnceLock<Instant>,
}

impl WriterDemand {
    fn now_ms(&self) -> u64 {
        self.epoch.get_or_init(Instant::now).elapsed().as_millis() as u64
    }

    fn enter(&self) -> WaitGuard<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.last_wait_ms.store(self.now_ms().max(1), Ordering::Relaxed);
        WaitGuard(self)
    }

    fn observe(&self, recent: Duration) -> (bool, bool) {
        let now = self.waiting.load(Ordering::SeqCst) > 0;
        let last = self.last_wait_ms.load(Ordering::Relaxed);
        (now, now || (last > 0 && self.now_ms().saturating_sub(last) <= recent.as_millis() as u64))
    }
}

/// Counts one waiter until the connection is acquired (or the wait is
/// abandoned: dropping a cancelled future also ends the wait).
struct WaitGuard<'a>(&'a WriterDemand);

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A pooled connection of either engine.
pub enum PoolConn {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>, Option<Arc<crate::direct::Readers>>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl PoolConn {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            PoolConn::Sqlite(c, readers) => Conn::Sqlite(c, readers.as_deref()),
            PoolConn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A transaction of either engine. Dropping it without [`Tx::commit`] rolls
/// it back, so an error anywhere leaves nothing half-written.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            // Reads in a transaction see its snapshot: no direct readers.
            Tx::Sqlite(t) => Conn::Sqlite(t, None),
            Tx::Postgres(t) => Conn::Postgres(t),
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        let done = match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        };
        // Counted even when the commit failed: it may have reached the disk.
        COMMITS.fetch_add(1, Ordering::SeqCst);
        Ok(done?)
    }
}

/// Transactions this process has committed (any store): caches of what the
/// database holds are good only while it has not moved since they were read.
static COMMITS: AtomicU64 = AtomicU64::new(0);

/// How many transactions this process has committed so far.
pub(crate) fn commits() -> u64 {
    COMMITS.load(Ordering::SeqCst)
}

/// A borrowed connection of either engine: where SQL runs.
pub enum Conn<'c> {
    /// A connection, and outside a transaction chiase's own readers.
    Sqlite(&'c mut SqliteConnection, Option<&'c crate::direct::Readers>),
    Postgres(&'c mut PgConnection),
}

impl Conn<'_> {
    /// chiase's own SQLite connections, for reads outside a transaction
    /// that bypass the driver (`crate::direct`).
    pub(crate) fn readers(&self) -> Option<&crate::direct::Readers> {
        match self {
            Conn::Sqlite(_, readers) => *readers,
            Conn::Postgres(_) => None,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(..) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&mut self, sql: Sql) -> Result<u64, StoreError> {
        let text = sql.text_for(self.backend()).into_owned();
        let values = SqlxValues(sea_query::Values(sql.values));
        Ok(match self {
            Conn::Sqlite(c, _) => sqlx::query_with(AssertSqlSafe(text), values).execute(&mut **c).await?.rows_affected(),
            Conn::Postgres(c) => sqlx::query_with(AssertSqlSafe(text), values).execute(&mut **c).await?.rows_affected(),
        })
    }

    /// Runs a query and reads every row.
    pub async fn fetch_all<T: DbRow>(&mut self, sql: Sql) -> Result<Vec<T>, StoreError> {
        let text = sql.text_for(self.backend()).into_owned();
        let values = SqlxValues(sea_query::Values(sql.values));
        Ok(match self {
            Conn::Sqlite(c, _) => sqlx::query_as_with::<_, T, _>(AssertSqlSafe(text), values).fetch_all(&mut **c).await?,
            Conn::Postgres(c) => sqlx::query_as_with::<_, T, _>(AssertSqlSafe(text), values).fetch_all(&mut **c).await?,
        })
    }

    /// Runs a query and reads its first row, if any.
    pub async fn fetch_optional<T: DbRow>(&mut self, sql: Sql) -> Result<Option<T>, StoreError> {
        let text = sql.text_for(self.backend()).into_owned();
        let values = SqlxValues(sea_query::Values(sql.values));
        Ok(match self {
            Conn::Sqlite(c, _) => sqlx::query_as_with::<_, T, _>(AssertSqlSafe(text), values).fetch_optional(&mut **c).await?,
            Conn::Postgres(c) => sqlx::query_as_with::<_, T, _>(AssertSqlSafe(text), values).fetch_optional(&mut **c).await?,
        })
    }

    /// Runs a query and returns the engine's rows, for tables whose columns
    /// are known only at run time (datasets); see `datasets::rows`.
    pub async fn fetch_raw(&mut self, sql: Sql) -> Result<RawRows, StoreError> {
        let text = sql.text_for(self.backend()).into_owned();
        let values = SqlxValues(sea_query::Values(sql.values));
        Ok(match self {
            Conn::Sqlite(c, _) => RawRows::Sqlite(sqlx::query_with(AssertSqlSafe(text), values).fetch_all(&mut **c).await?),
            Conn::Postgres(c) => RawRows::Postgres(sqlx::query_with(AssertSqlSafe(text), values).fetch_all(&mut **c).await?),
        })
    }

    /// Runs a query that must return exactly one row.
    pub async fn fetch_one<T: DbRow>(&mut self, sql: Sql) -> Result<T, StoreError> {
        self.fetch_optional(sql).await?.ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }
}

/// Rows of either engine, read column by column.
pub enum RawRows {
    Sqlite(Vec<SqliteRow>),
    Postgres(Vec<PgRow>),
}

impl RawRows {
    pub fn len(&self) -> usize {
        match self {
            RawRows::Sqlite(r) => r.len(),
            RawRows::Postgres(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A single `i64` column, for counts and ids.
#[derive(Debug, sqlx::FromRow)]
pub struct Id(pub i64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(number_placeholders("SELECT ? , '?' , \"a?\" , ?"), "SELECT $1 , '?' , \"a?\" , $2");
    }
}
