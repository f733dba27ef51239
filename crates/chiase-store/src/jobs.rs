//! Leases for background jobs, so that a periodic job runs in one process
//! at a time however many share the database, and housekeeping, the job
//! that uses them.

use chrono::Duration;

use crate::db::Sql;
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
