//! Services (issue 13): live systems a catalog database offers through the
//! gateway — their upstream, sharing mode, timeout, OpenAPI description
//! and the upstream's own credential (sealed by chiase-server before it
//! gets here; this module never sees it in clear).

use chiase_core::ids::AgencyId;
use chiase_core::policy::{ServiceAdminPermit, ServiceFacts};
use chiase_core::sharing::SharingMode;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::agencies::AgencyRef;
use crate::databases::DatabaseKey;
use crate::datasets::{DatasetDatabase, check_catalog_mode, resolve_database};
use crate::db::Sql;
use crate::{Store, StoreError, now};

/// A registered service.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    #[serde(skip)]
    pub pk: i64,
    pub id: String,
    pub database: DatasetDatabase,
    pub owner: AgencyRef,
    #[serde(skip)]
    pub owner_pk: AgencyId,
    pub title: String,
    pub description: String,
    /// Where calls go; shown to those who may register services only.
    #[serde(skip)]
    pub upstream_url: String,
    pub sharing_mode: SharingMode,
    pub timeout_ms: i64,
    /// Calls one consumer may make in a minute, and in a day.
    pub rate_per_minute: Option<i64>,
    pub quota_per_day: Option<i64>,
    /// What the periodic health check asks the upstream for.
    pub health_path: String,
    /// The last health check: answered (below 500) in time or not, what
    /// it saw, when. `None` until checked.
    pub health_ok: Option<bool>,
    pub health_detail: Option<String>,
    pub health_checked_at: Option<DateTime<Utc>>,
    /// Whether an OpenAPI description was given.
    pub has_openapi: bool,
    /// The upstream's credential, sealed; never serialised.
    #[serde(skip)]
    pub upstream_auth: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Service {
    /// What the policy decision point needs.
    pub fn facts(&self) -> ServiceFacts {
        ServiceFacts { service_id: self.pk, owner_agency_id: self.owner_pk, mode: self.sharing_mode }
    }
}

/// A new service, as a steward describes it.
#[derive(Debug, Clone)]
pub struct NewService {
    pub id: String,
    pub database: DatabaseKey,
    pub title: String,
    pub description: String,
    pub upstream_url: String,
    pub sharing_mode: SharingMode,
    pub timeout_ms: i64,
    pub rate_per_minute: Option<i64>,
    pub quota_per_day: Option<i64>,
    pub health_path: String,
    pub openapi: Option<String>,
    /// Sealed already.
    pub upstream_auth: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ServiceRow {
    pk: i64,
    slug: String,
    db_slug: String,
    db_no: Option<i64>,
    db_name: String,
    owner_slug: String,
    owner_name: String,
    owner_pk: i64,
    title: String,
    description: String,
    upstream_url: String,
    sharing_mode: String,
    timeout_ms: i64,
    rate_per_minute: Option<i64>,
    quota_per_day: Option<i64>,
    health_path: String,
    health_ok: Option<bool>,
    health_detail: Option<String>,
    health_checked_at: Option<DateTime<Utc>>,
    has_openapi: bool,
    upstream_auth: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SERVICE_SELECT: &str = "SELECT s.id AS pk, s.slug, d.slug AS db_slug, d.no AS db_no, d.name AS db_name, \
     a.slug AS owner_slug, a.name AS owner_name, a.id AS owner_pk, s.title, s.description, s.upstream_url, s.sharing_mode, \
     s.timeout_ms, s.rate_per_minute, s.quota_per_day, s.health_path, s.health_ok, s.health_detail, \
     s.health_checked_at, (s.openapi IS NOT NULL) AS has_openapi, s.upstream_auth, s.created_at, s.updated_at \
     FROM services s JOIN databases d ON d.id = s.database_id JOIN agencies a ON a.id = d.owner_id";

impl ServiceRow {
    fn into_service(self) -> Result<Service, StoreError> {
        Ok(Service {
            pk: self.pk,
            id: self.slug,
            database: DatasetDatabase { id: self.db_slug, no: self.db_no, name: self.db_name },
            owner: AgencyRef { id: self.owner_slug, name: self.owner_name },
            owner_pk: AgencyId(self.owner_pk),
            title: self.title,
            description: self.description,
            upstream_url: self.upstream_url,
            sharing_mode: self.sharing_mode.parse().map_err(|m| StoreError::Corrupt(format!("sharing mode «{m}»")))?,
            timeout_ms: self.timeout_ms,
            rate_per_minute: self.rate_per_minute,
            quota_per_day: self.quota_per_day,
            health_path: self.health_path,
            health_ok: self.health_ok,
            health_detail: self.health_detail,
            health_checked_at: self.health_checked_at,
            has_openapi: self.has_openapi,
            upstream_auth: self.upstream_auth,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl Store {
    /// Every service, by database number then id.
    pub async fn services(&self) -> Result<Vec<Service>, StoreError> {
        let mut c = self.pools.reader().await?;
        let rows: Vec<ServiceRow> = c.conn().fetch_all(Sql::assembled(format!("{SERVICE_SELECT} ORDER BY d.no, s.slug"))).await?;
        rows.into_iter().map(ServiceRow::into_service).collect()
    }

    /// One service by id.
    pub async fn service(&self, slug: &str) -> Result<Option<Service>, StoreError> {
        let mut c = self.pools.reader().await?;
        let row: Option<ServiceRow> =
            c.conn().fetch_optional(Sql::assembled(format!("{SERVICE_SELECT} WHERE s.slug = ?")).bind(slug)).await?;
        row.map(ServiceRow::into_service).transpose()
    }

    /// The OpenAPI description given for a service.
    pub async fn service_openapi(&self, slug: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.pools.reader().await?;
        let row: Option<(Option<String>,)> =
            c.conn().fetch_optional(Sql::new("SELECT openapi FROM services WHERE slug = ?").bind(slug)).await?;
        Ok(row.and_then(|r| r.0))
    }

    /// Registers a service in a database of the permit's agency, with a
    /// sharing mode the catalog gives that database.
    pub async fn create_service(&self, permit: &ServiceAdminPermit, new: &NewService, by: &str) -> Result<Service, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let (db, owner) = resolve_database(&mut conn, &new.database).await?;
        if owner != permit.owner() {
            return Err(StoreError::Corrupt(format!("BUG: a permit for agency {} used on a database of agency {owner}", permit.owner())));
        }
        check_catalog_mode(&mut conn, db, new.sharing_mode).await?;
        let taken: Option<(i64,)> = conn.fetch_optional(Sql::new("SELECT id FROM services WHERE slug = ?").bind(new.id.as_str())).await?;
        if taken.is_some() {
            let msg = chiase_core::Msg::new(format!("dịch vụ «{}» đã có", new.id), format!("service «{}» exists", new.id));
            return Err(chiase_core::DomainError::conflict(msg).into());
        }
        let ts = now();
        conn.execute(
            Sql::new(
                "INSERT INTO services (slug, database_id, title, description, upstream_url, sharing_mode, timeout_ms, rate_per_minute, \
                 quota_per_day, health_path, openapi, upstream_auth, created_by, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(new.id.as_str())
            .bind(db)
            .bind(new.title.trim())
            .bind(new.description.as_str())
            .bind(new.upstream_url.as_str())
            .bind(new.sharing_mode.code())
            .bind(new.timeout_ms)
            .bind(new.rate_per_minute)
            .bind(new.quota_per_day)
            .bind(new.health_path.as_str())
            .bind(new.openapi.clone())
            .bind(new.upstream_auth.clone())
            .bind(by)
            .bind(ts)
            .bind(ts),
        )
        .await?;
        tx.commit().await?;
        self.service(&new.id).await?.ok_or_else(|| StoreError::Corrupt("a service just made".into()))
    }

    /// Keeps the result of a health check.
    pub async fn set_service_health(&self, service: &Service, ok: bool, detail: &str) -> Result<(), StoreError> {
        let mut tx = self.pools.begin().await?;
        tx.conn()
            .execute(
                Sql::new("UPDATE services SET health_ok = ?, health_detail = ?, health_checked_at = ? WHERE id = ?")
                    .bind(ok)
                    .bind(detail)
                    .bind(now())
                    .bind(service.pk),
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts a call of `consumer` in each of `windows` (one transaction,
    /// shared by every process on the database) and returns the counts,
    /// this call included.
    pub async fn count_service_call(&self, service: &Service, consumer: &str, windows: &[String]) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let mut out = Vec::with_capacity(windows.len());
        for w in windows {
            let (n,): (i64,) = conn
                .fetch_one(
                    Sql::new(
                        "INSERT INTO service_usage (service_id, consumer, period, calls) VALUES (?, ?, ?, 1) \
                         ON CONFLICT (service_id, consumer, period) DO UPDATE SET calls = service_usage.calls + 1 RETURNING calls",
                    )
                    .bind(service.pk)
                    .bind(consumer)
                    .bind(w.as_str()),
                )
                .await?;
            out.push(n);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Whether the mode is one the catalog gives `db` (for a form's choices).
    pub async fn catalog_modes_of_database(&self, key: &DatabaseKey) -> Result<Vec<SharingMode>, StoreError> {
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let (db, _) = resolve_database(&mut conn, key).await?;
        let modes: Vec<(String,)> = conn.fetch_all(Sql::new("SELECT mode FROM database_sharing WHERE database_id = ?").bind(db)).await?;
        Ok(modes.iter().filter_map(|(m,)| m.parse().ok()).collect())
    }
}
