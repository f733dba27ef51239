//! Leases for background jobs, so that a periodic job runs in one process
//! at a time however many share the database, and housekeeping, the job
//! that uses them.

use chrono::Duration;

use crate::db::{Conn, Sql};
use crate::{Store, StoreError, now};

impl Store {
    /// Takes (or renews) the lease on `job` for `holder` for `seconds`.
    /// Returns true when `holder` now holds it.
    pub async fn take_lease(&self, job: &str, holder: &str, seconds: i64) -> Result<bool, StoreError> {
        let ts = now();
        let mut tx = self.pools.begin().await?;
        let n = tx
            .conn()
            .execute(
                Sql::new(
                    "INSERT INTO job_leases (name, holder, expires_at) VALUES (?, ?, ?) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                     WHERE job_leases.expires_at < ? OR job_leases.holder = excluded.holder",
                )
                .bind(job)
                .bind(holder)
                .bind(ts + Duration::seconds(seconds))
                .bind(ts),
            )
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Removes expired sessions and OpenID sign-ins under way, and sign-in
    /// attempts older than a day.
    pub async fn housekeeping(&self) -> Result<u64, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let a = conn.execute(Sql::new("DELETE FROM sessions WHERE expires_at < ?").bind(now())).await?;
        let b = conn.execute(Sql::new("DELETE FROM login_attempts WHERE at < ?").bind(now() - Duration::days(1))).await?;
        let c = conn.execute(Sql::new("DELETE FROM oidc_logins WHERE expires_at < ?").bind(now())).await?;
        tx.commit().await?;
        Ok(a + b + c)
    }
}

/// A scheduled job's table and its runs' table, both named by chiase
/// (never by a request), for [`claim_scheduled`].
pub(crate) struct Schedule {
    /// The jobs' table (`id`, `next_run_at`).
    pub jobs: &'static str,
    /// The runs' table (`status`, `started_at`, `finished_at`, `error`).
    pub runs: &'static str,
    /// The column of the runs' table naming the job.
    pub job_column: &'static str,
}

/// The shared part of claiming a scheduled job's run, in the caller's
/// transaction: a run left `running` for `stale` (its process died) is
/// closed as failed; with a run under way, no claim; else the schedule
/// moves on by a conditional update that only one process's transaction
/// can make (`force`: whether or not the job is due). True when this
/// caller claimed it (and then inserts its run row).
pub(crate) async fn claim_scheduled(
    conn: &mut Conn<'_>,
    s: &Schedule,
    job: i64,
    every_secs: Option<i64>,
    force: bool,
    stale: Duration,
) -> Result<bool, StoreError> {
    let ts = now();
    conn.execute(
        Sql::assembled(format!(
            "UPDATE {} SET status = 'failed', finished_at = ?, error = 'the process running it stopped' \
             WHERE {} = ? AND status = 'running' AND started_at < ?",
            s.runs, s.job_column
        ))
        .bind(ts)
        .bind(job)
        .bind(ts - stale),
    )
    .await?;
    let running: Option<(i64,)> = conn
        .fetch_optional(Sql::assembled(format!("SELECT id FROM {} WHERE {} = ? AND status = 'running'", s.runs, s.job_column)).bind(job))
        .await?;
    if running.is_some() {
        return Ok(false);
    }
    let next = every_secs.map(|secs| ts + Duration::seconds(secs.max(60)));
    let claimed = if force {
        conn.execute(Sql::assembled(format!("UPDATE {} SET next_run_at = ? WHERE id = ?", s.jobs)).bind(next).bind(job)).await?
    } else {
        conn.execute(
            Sql::assembled(format!("UPDATE {} SET next_run_at = ? WHERE id = ? AND next_run_at IS NOT NULL AND next_run_at <= ?", s.jobs))
                .bind(next)
                .bind(job)
                .bind(ts),
        )
        .await?
    };
    Ok(claimed == 1)
}
