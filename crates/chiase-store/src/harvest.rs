//! Harvest sources, their runs and the entries they brought
//! (`harvest_sources`, `harvest_runs`, `harvested_entries`). What a
//! source is asked and how its answers are read is chiase-server's; this
//! module keeps the rows, claims due runs so that one process runs each,
//! and applies a run's entries in one transaction.

use chiase_core::policy::HarvestPermit;
use chiase_core::{DomainError, Msg};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::databases::DatabaseKey;
use crate::db::Sql;
use crate::{Store, StoreError, now};

/// A source, as configured.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HarvestSource {
    #[serde(skip)]
    pub pk: i64,
    #[sqlx(rename = "slug")]
    pub id: String,
    pub url: String,
    pub kind: String,
    pub every_secs: Option<i64>,
    /// How long one request to the source may take.
    pub timeout_secs: i64,
    /// The local catalog database entries go to when none has their id.
    pub database: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub next_run_at: Option<DateTime<Utc>>,
}

/// A new source.
#[derive(Debug, Clone)]
pub struct NewHarvestSource {
    pub id: String,
    pub url: String,
    pub kind: String,
    pub every_secs: Option<i64>,
    pub timeout_secs: i64,
    pub database: Option<DatabaseKey>,
}

/// One run of a source.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HarvestRun {
    pub id: i64,
    #[serde(skip)]
    pub source_pk: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: String,
    pub added: i64,
    pub changed: i64,
    pub removed: i64,
    pub unchanged: i64,
    pub failed: i64,
    /// One object per entry added, changed, removed or failed.
    #[sqlx(try_from = "String")]
    pub report: JsonText,
    pub error: Option<String>,
}

/// An entry as last harvested.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HarvestedEntry {
    pub remote_id: String,
    pub title: String,
    pub description: String,
    pub publisher: Option<String>,
    pub landing_url: Option<String>,
    pub modified: Option<String>,
    #[sqlx(try_from = "String")]
    pub metadata: JsonText,
    pub content_hash: String,
    /// The local dataset holding its rows, if any.
    pub dataset: Option<String>,
    pub harvested_at: DateTime<Utc>,
}

/// What a run found for one entry, to be written.
#[derive(Debug, Clone)]
pub struct EntryWrite {
    pub remote_id: String,
    pub title: String,
    pub description: String,
    pub publisher: Option<String>,
    pub landing_url: Option<String>,
    pub modified: Option<String>,
    pub metadata: serde_json::Value,
    pub content_hash: String,
    pub dataset: Option<String>,
}

/// JSON kept as text (the same on both engines).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct JsonText(pub serde_json::Value);

impl TryFrom<String> for JsonText {
    type Error = serde_json::Error;
    fn try_from(s: String) -> Result<JsonText, serde_json::Error> {
        serde_json::from_str(&s).map(JsonText)
    }
}

const SOURCE_COLUMNS: &str =
    "s.id AS pk, s.slug, s.url, s.kind, s.every_secs, s.timeout_secs, d.slug AS database, s.created_by, s.created_at, s.next_run_at";
const RUN_COLUMNS: &str =
    "id, source_id AS source_pk, started_at, finished_at, status, added, changed, removed, unchanged, failed, report, error";

impl Store {
    /// Every source, by id.
    pub async fn harvest_sources(&self) -> Result<Vec<HarvestSource>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_all(Sql::assembled(format!(
                "SELECT {SOURCE_COLUMNS} FROM harvest_sources s LEFT JOIN databases d ON d.id = s.database_id ORDER BY s.slug"
            )))
            .await
    }

    pub async fn harvest_source(&self, id: &str) -> Result<Option<HarvestSource>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_optional(
                Sql::assembled(format!(
                    "SELECT {SOURCE_COLUMNS} FROM harvest_sources s LEFT JOIN databases d ON d.id = s.database_id WHERE s.slug = ?"
                ))
                .bind(id),
            )
            .await
    }

    /// Adds a source, due at once. A taken id is a conflict; an unknown
    /// database is not found.
    pub async fn add_harvest_source(&self, _permit: &HarvestPermit, new: &NewHarvestSource, by: &str) -> Result<HarvestSource, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let database_pk: Option<i64> = match &new.database {
            None => None,
            Some(key) => {
                let sql = match key {
                    DatabaseKey::No(n) => Sql::new("SELECT id FROM databases WHERE no = ? AND status = 'listed'").bind(*n),
                    DatabaseKey::Id(s) => Sql::new("SELECT id FROM databases WHERE slug = ?").bind(s.clone()),
                };
                let row: Option<(i64,)> = conn.fetch_optional(sql).await?;
                let shown = match key {
                    DatabaseKey::No(n) => n.to_string(),
                    DatabaseKey::Id(s) => s.clone(),
                };
                let missing =
                    || DomainError::not_found(Msg::new(format!("không có cơ sở dữ liệu «{shown}»"), format!("no database «{shown}»")));
                Some(row.ok_or_else(missing)?.0)
            }
        };
        let taken: Option<(i64,)> =
            conn.fetch_optional(Sql::new("SELECT id FROM harvest_sources WHERE slug = ?").bind(new.id.clone())).await?;
        if taken.is_some() {
            let msg = Msg::new(format!("nguồn thu thập «{}» đã có", new.id), format!("harvest source «{}» exists", new.id));
            return Err(DomainError::conflict(msg).into());
        }
        conn.execute(
            Sql::new(
                "INSERT INTO harvest_sources (slug, url, kind, every_secs, timeout_secs, database_id, created_by, created_at, next_run_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(new.id.clone())
            .bind(new.url.clone())
            .bind(new.kind.clone())
            .bind(new.every_secs)
            .bind(new.timeout_secs)
            .bind(database_pk)
            .bind(by)
            .bind(now())
            .bind(new.every_secs.map(|_| now())),
        )
        .await?;
        tx.commit().await?;
        self.harvest_source(&new.id).await?.ok_or_else(|| StoreError::Corrupt("a harvest source just added".into()))
    }

    /// Removes a source, its runs and its entries' records; the datasets
    /// it filled stay, no longer harvested (so no longer read-only).
    pub async fn remove_harvest_source(&self, _permit: &HarvestPermit, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let row: Option<(i64,)> = conn.fetch_optional(Sql::new("SELECT id FROM harvest_sources WHERE slug = ?").bind(id)).await?;
        let Some((pk,)) = row else { return Ok(false) };
        conn.execute(Sql::new("DELETE FROM harvested_entries WHERE source_id = ?").bind(pk)).await?;
        conn.execute(Sql::new("DELETE FROM harvest_runs WHERE source_id = ?").bind(pk)).await?;
        conn.execute(Sql::new("DELETE FROM harvest_sources WHERE id = ?").bind(pk)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Claims a run of `source`: true for exactly one caller among all
    /// processes when it is due (`force`: whenever no run is under way),
    /// which then owns a `running` run row (returned) until it finishes.
    /// A run that was left `running` for `stale` (its process died) is
    /// closed as failed first.
    pub async fn claim_harvest_run(&self, source: &HarvestSource, force: bool, stale: Duration) -> Result<Option<i64>, StoreError> {
        let ts = now();
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let schedule = crate::jobs::Schedule { jobs: "harvest_sources", runs: "harvest_runs", job_column: "source_id" };
        if !crate::jobs::claim_scheduled(&mut conn, &schedule, source.pk, source.every_secs, force, stale).await? {
            tx.commit().await?;
            return Ok(None);
        }
        let (run,): (i64,) = conn
            .fetch_one(
                Sql::new("INSERT INTO harvest_runs (source_id, started_at, status) VALUES (?, ?, 'running') RETURNING id")
                    .bind(source.pk)
                    .bind(ts),
            )
            .await?;
        tx.commit().await?;
        Ok(Some(run))
    }

    /// Sources whose next run is due.
    pub async fn due_harvest_sources(&self) -> Result<Vec<HarvestSource>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_all(
                Sql::assembled(format!(
                    "SELECT {SOURCE_COLUMNS} FROM harvest_sources s LEFT JOIN databases d ON d.id = s.database_id \
                     WHERE s.next_run_at IS NOT NULL AND s.next_run_at <= ? ORDER BY s.next_run_at"
                ))
                .bind(now()),
            )
            .await
    }

    /// Closes a run.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_harvest_run(
        &self,
        run: i64,
        ok: bool,
        counts: [i64; 5],
        report: &serde_json::Value,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let [added, changed, removed, unchanged, failed] = counts;
        let mut tx = self.pools.begin().await?;
        tx.conn()
            .execute(
                Sql::new(
                    "UPDATE harvest_runs SET status = ?, finished_at = ?, added = ?, changed = ?, removed = ?, unchanged = ?, failed = ?, \
                     report = ?, error = ? WHERE id = ?",
                )
                .bind(if ok { "ok" } else { "failed" })
                .bind(now())
                .bind(added)
                .bind(changed)
                .bind(removed)
                .bind(unchanged)
                .bind(failed)
                .bind(report.to_string())
                .bind(error.map(str::to_string))
                .bind(run),
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A source's runs, newest first.
    pub async fn harvest_runs(&self, source: &HarvestSource, limit: i64) -> Result<Vec<HarvestRun>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_all(
                Sql::assembled(format!("SELECT {RUN_COLUMNS} FROM harvest_runs WHERE source_id = ? ORDER BY id DESC LIMIT ?"))
                    .bind(source.pk)
                    .bind(limit),
            )
            .await
    }

    pub async fn harvest_run(&self, run: i64) -> Result<Option<HarvestRun>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn().fetch_optional(Sql::assembled(format!("SELECT {RUN_COLUMNS} FROM harvest_runs WHERE id = ?")).bind(run)).await
    }

    /// The entries a source brought, by remote id.
    pub async fn harvested_entries(&self, source: &HarvestSource) -> Result<Vec<HarvestedEntry>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_all(
                Sql::new(
                    "SELECT e.remote_id, e.title, e.description, e.publisher, e.landing_url, e.modified, e.metadata, e.content_hash, \
                     d.slug AS dataset, e.harvested_at FROM harvested_entries e LEFT JOIN datasets d ON d.id = e.dataset_id \
                     WHERE e.source_id = ? ORDER BY e.remote_id",
                )
                .bind(source.pk),
            )
            .await
    }

    /// The source a local dataset was harvested from, if any.
    pub async fn harvested_from(&self, dataset_slug: &str) -> Result<Option<(String, String)>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_optional(
                Sql::new(
                    "SELECT s.slug, e.remote_id FROM harvested_entries e JOIN harvest_sources s ON s.id = e.source_id \
                     JOIN datasets d ON d.id = e.dataset_id WHERE d.slug = ?",
                )
                .bind(dataset_slug),
            )
            .await
    }

    /// Writes a run's entries: `upsert` are added or replaced, `remove`
    /// (remote ids) deleted; one transaction.
    pub async fn apply_harvest(&self, source: &HarvestSource, upsert: &[EntryWrite], remove: &[String]) -> Result<(), StoreError> {
        let ts = now();
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        for id in remove {
            conn.execute(Sql::new("DELETE FROM harvested_entries WHERE source_id = ? AND remote_id = ?").bind(source.pk).bind(id.clone()))
                .await?;
        }
        for e in upsert {
            let dataset_pk: Option<i64> = match &e.dataset {
                Some(slug) => {
                    conn.fetch_optional::<(i64,)>(Sql::new("SELECT id FROM datasets WHERE slug = ?").bind(slug.clone())).await?.map(|r| r.0)
                }
                None => None,
            };
            conn.execute(
                Sql::new(
                    "INSERT INTO harvested_entries (source_id, remote_id, title, description, publisher, landing_url, modified, metadata, \
                     content_hash, dataset_id, harvested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (source_id, remote_id) DO UPDATE SET title = excluded.title, description = excluded.description, \
                     publisher = excluded.publisher, landing_url = excluded.landing_url, modified = excluded.modified, \
                     metadata = excluded.metadata, content_hash = excluded.content_hash, dataset_id = excluded.dataset_id, \
                     harvested_at = excluded.harvested_at",
                )
                .bind(source.pk)
                .bind(e.remote_id.clone())
                .bind(e.title.clone())
                .bind(e.description.clone())
                .bind(e.publisher.clone())
                .bind(e.landing_url.clone())
                .bind(e.modified.clone())
                .bind(e.metadata.to_string())
                .bind(e.content_hash.clone())
                .bind(dataset_pk)
                .bind(ts),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
