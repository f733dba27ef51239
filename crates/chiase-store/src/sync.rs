//! Sync into datasets (`sync_jobs`, `sync_runs`): pull jobs that fill a
//! hosted dataset from an upstream JSON endpoint, and every sync run, a
//! job's or a push from an agency's system. How the upstream is asked and
//! read is chiase-server's; this module keeps the rows and claims due
//! runs so that, with several processes, each due run happens once.

use chiase_core::policy::WritePermit;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::datasets::Dataset;
use crate::db::Sql;
use crate::harvest::JsonText;
use crate::{Store, StoreError, now};

/// A pull job, as configured.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SyncJob {
    pub id: i64,
    #[serde(skip)]
    pub dataset_pk: i64,
    pub dataset: String,
    pub url: String,
    pub records_at: String,
    #[sqlx(try_from = "String")]
    pub paging: JsonText,
    #[sqlx(try_from = "String")]
    pub mapping: JsonText,
    pub mode: String,
    pub every_secs: Option<i64>,
    pub timeout_secs: i64,
    /// The header sent upstream, sealed by chiase-server; never shown.
    #[serde(skip)]
    pub credential: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub next_run_at: Option<DateTime<Utc>>,
}

/// A new pull job.
#[derive(Debug, Clone)]
pub struct NewSyncJob {
    pub url: String,
    pub records_at: String,
    pub paging: serde_json::Value,
    pub mapping: serde_json::Value,
    pub mode: String,
    pub every_secs: Option<i64>,
    pub timeout_secs: i64,
    /// Sealed already.
    pub credential: Option<String>,
}

/// One sync run: a pull job's, or a push.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SyncRun {
    pub id: i64,
    pub job: Option<i64>,
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: String,
    pub rows_read: i64,
    pub imported: i64,
    pub deleted: i64,
    #[sqlx(try_from = "String")]
    pub report: JsonText,
    pub error: Option<String>,
    pub run_by: String,
}

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct RunEnd {
    pub ok: bool,
    pub rows_read: i64,
    pub imported: i64,
    pub deleted: i64,
    pub report: serde_json::Value,
    pub error: Option<String>,
}

/// What the freshness dashboard shows of a dataset's syncing.
#[derive(Debug, Clone)]
pub struct SyncState {
    /// The upstream URL of its first pull job (None: pushes only).
    pub pulled_from: Option<String>,
    pub pushed: bool,
    /// The end of its last successful run.
    pub last_ok: Option<DateTime<Utc>>,
}

const JOB_COLUMNS: &str = "j.id, j.dataset_id AS dataset_pk, d.slug AS dataset, j.url, j.records_at, j.paging, j.mapping, j.mode, \
     j.every_secs, j.timeout_secs, j.credential, j.created_by, j.created_at, j.next_run_at";
const RUN_COLUMNS: &str = "id, job_id AS job, kind, started_at, finished_at, status, rows_read, imported, deleted, report, error, run_by";

impl Store {
    /// A dataset's pull jobs, oldest first.
    pub async fn sync_jobs(&self, ds: &Dataset) -> Result<Vec<SyncJob>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_all(
                Sql::assembled(format!(
                    "SELECT {JOB_COLUMNS} FROM sync_jobs j JOIN datasets d ON d.id = j.dataset_id WHERE j.dataset_id = ? ORDER BY j.id"
                ))
                .bind(ds.pk.get()),
            )
            .await
    }

    /// One job of a dataset.
    pub async fn sync_job(&self, ds: &Dataset, job: i64) -> Result<Option<SyncJob>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_optional(
                Sql::assembled(format!(
                    "SELECT {JOB_COLUMNS} FROM sync_jobs j JOIN datasets d ON d.id = j.dataset_id WHERE j.dataset_id = ? AND j.id = ?"
                ))
                .bind(ds.pk.get())
                .bind(job),
            )
            .await
    }

    /// Adds a pull job to the dataset the permit names, due at once when
    /// it has a period.
    pub async fn add_sync_job(&self, permit: &WritePermit, ds: &Dataset, new: &NewSyncJob, by: &str) -> Result<SyncJob, StoreError> {
        debug_assert_eq!(permit.dataset_id(), ds.pk);
        let mut tx = self.pools.begin().await?;
        let (id,): (i64,) = tx
            .conn()
            .fetch_one(
                Sql::new(
                    "INSERT INTO sync_jobs (dataset_id, url, records_at, paging, mapping, mode, every_secs, timeout_secs, credential, \
                     created_by, created_at, next_run_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(ds.pk.get())
                .bind(new.url.clone())
                .bind(new.records_at.clone())
                .bind(new.paging.to_string())
                .bind(new.mapping.to_string())
                .bind(new.mode.clone())
                .bind(new.every_secs)
                .bind(new.timeout_secs)
                .bind(new.credential.clone())
                .bind(by)
                .bind(now())
                .bind(new.every_secs.map(|_| now())),
            )
            .await?;
        tx.commit().await?;
        self.sync_job(ds, id).await?.ok_or_else(|| StoreError::Corrupt("a sync job just added".into()))
    }

    /// Removes a job and its runs; false when the dataset has no such job.
    pub async fn remove_sync_job(&self, permit: &WritePermit, ds: &Dataset, job: i64) -> Result<bool, StoreError> {
        debug_assert_eq!(permit.dataset_id(), ds.pk);
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let found: Option<(i64,)> =
            conn.fetch_optional(Sql::new("SELECT id FROM sync_jobs WHERE id = ? AND dataset_id = ?").bind(job).bind(ds.pk.get())).await?;
        if found.is_none() {
            return Ok(false);
        }
        conn.execute(Sql::new("DELETE FROM sync_runs WHERE job_id = ?").bind(job)).await?;
        conn.execute(Sql::new("DELETE FROM sync_jobs WHERE id = ?").bind(job)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Jobs whose next run is due, with their datasets' ids.
    pub async fn due_sync_jobs(&self) -> Result<Vec<SyncJob>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_all(
                Sql::assembled(format!(
                    "SELECT {JOB_COLUMNS} FROM sync_jobs j JOIN datasets d ON d.id = j.dataset_id \
                     WHERE j.next_run_at IS NOT NULL AND j.next_run_at <= ? ORDER BY j.next_run_at"
                ))
                .bind(now()),
            )
            .await
    }

    /// Claims a run of `job`: `Some(run)` for exactly one caller among all
    /// processes when it is due (`force`: whenever no run of it is under
    /// way). A run left `running` for `stale` is closed as failed first.
    /// As `Store::claim_harvest_run`: the schedule moves on in the
    /// transaction that inserts the run row, by a conditional update.
    pub async fn claim_sync_run(&self, job: &SyncJob, force: bool, stale: Duration, by: &str) -> Result<Option<i64>, StoreError> {
        let ts = now();
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let schedule = crate::jobs::Schedule { jobs: "sync_jobs", runs: "sync_runs", job_column: "job_id" };
        if !crate::jobs::claim_scheduled(&mut conn, &schedule, job.id, job.every_secs, force, stale).await? {
            tx.commit().await?;
            return Ok(None);
        }
        let (run,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "INSERT INTO sync_runs (dataset_id, job_id, kind, started_at, status, run_by) VALUES (?, ?, 'pull', ?, 'running', ?) \
                     RETURNING id",
                )
                .bind(job.dataset_pk)
                .bind(job.id)
                .bind(ts)
                .bind(by),
            )
            .await?;
        tx.commit().await?;
        Ok(Some(run))
    }

    /// Records a push that has ended (pushes are not claimed: each request
    /// is its own run).
    pub async fn record_push(&self, ds: &Dataset, started: DateTime<Utc>, end: &RunEnd, by: &str) -> Result<i64, StoreError> {
        let mut tx = self.pools.begin().await?;
        let (run,): (i64,) = tx
            .conn()
            .fetch_one(
                Sql::new(
                    "INSERT INTO sync_runs (dataset_id, job_id, kind, started_at, finished_at, status, rows_read, imported, deleted, report, \
                     error, run_by) VALUES (?, NULL, 'push', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(ds.pk.get())
                .bind(started)
                .bind(now())
                .bind(if end.ok { "ok" } else { "failed" })
                .bind(end.rows_read)
                .bind(end.imported)
                .bind(end.deleted)
                .bind(end.report.to_string())
                .bind(end.error.clone())
                .bind(by),
            )
            .await?;
        tx.commit().await?;
        Ok(run)
    }

    /// Closes a claimed run.
    pub async fn finish_sync_run(&self, run: i64, end: &RunEnd) -> Result<(), StoreError> {
        let mut tx = self.pools.begin().await?;
        tx.conn()
            .execute(
                Sql::new(
                    "UPDATE sync_runs SET status = ?, finished_at = ?, rows_read = ?, imported = ?, deleted = ?, report = ?, error = ? \
                     WHERE id = ?",
                )
                .bind(if end.ok { "ok" } else { "failed" })
                .bind(now())
                .bind(end.rows_read)
                .bind(end.imported)
                .bind(end.deleted)
                .bind(end.report.to_string())
                .bind(end.error.clone())
                .bind(run),
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn sync_run(&self, run: i64) -> Result<Option<SyncRun>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn().fetch_optional(Sql::assembled(format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = ?")).bind(run)).await
    }

    /// A dataset's runs (`job`: only that job's), newest first.
    pub async fn sync_runs(&self, ds: &Dataset, job: Option<i64>, limit: i64) -> Result<Vec<SyncRun>, StoreError> {
        let mut c = self.pools.reader().await?;
        let sql = match job {
            Some(j) => {
                Sql::assembled(format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE dataset_id = ? AND job_id = ? ORDER BY id DESC LIMIT ?"))
                    .bind(ds.pk.get())
                    .bind(j)
                    .bind(limit)
            }
            None => Sql::assembled(format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE dataset_id = ? ORDER BY id DESC LIMIT ?"))
                .bind(ds.pk.get())
                .bind(limit),
        };
        c.conn().fetch_all(sql).await
    }

    /// Every dataset that syncs (by its id): where from and its last
    /// successful run; for the freshness dashboard.
    pub async fn sync_states(&self) -> Result<std::collections::HashMap<String, SyncState>, StoreError> {
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let jobs: Vec<(String, String)> =
            conn.fetch_all(Sql::new("SELECT d.slug, j.url FROM sync_jobs j JOIN datasets d ON d.id = j.dataset_id ORDER BY j.id")).await?;
        let runs: Vec<(String, String, Option<DateTime<Utc>>)> = conn
            .fetch_all(Sql::new(
                "SELECT d.slug, r.kind, MAX(r.finished_at) FROM sync_runs r JOIN datasets d ON d.id = r.dataset_id \
                 WHERE r.status = 'ok' GROUP BY d.slug, r.kind",
            ))
            .await?;
        let pushes: Vec<(String,)> = conn
            .fetch_all(Sql::new("SELECT DISTINCT d.slug FROM sync_runs r JOIN datasets d ON d.id = r.dataset_id WHERE r.kind = 'push'"))
            .await?;
        let mut out: std::collections::HashMap<String, SyncState> = std::collections::HashMap::new();
        let blank = || SyncState { pulled_from: None, pushed: false, last_ok: None };
        for (slug, url) in jobs {
            let s = out.entry(slug).or_insert_with(blank);
            s.pulled_from.get_or_insert(url);
        }
        for (slug,) in pushes {
            out.entry(slug).or_insert_with(blank).pushed = true;
        }
        for (slug, _, at) in runs {
            let s = out.entry(slug).or_insert_with(blank);
            s.last_ok = s.last_ok.max(at);
        }
        Ok(out)
    }
}
