//! Hosted datasets: their description, their Table Schema, and the typed
//! table that holds their rows (one per dataset, created from the schema).
//!
//! Submodules: `ddl` (table and index definitions per engine), `rows`
//! (reading dynamic rows back as typed values), `import` (streaming,
//! all-or-nothing imports), `records` (the record API: reads through a
//! `ReadPermit`, writes through a `WritePermit`, the change feed).

pub mod ddl;
pub mod import;
pub mod records;
pub mod rows;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chiase_core::catalog::Cadence;
use chiase_core::policy::DatasetFacts;
use chiase_core::schema::{Schema, SchemaSpec};
use chiase_core::sharing::SharingMode;
use chiase_core::{DomainError, Msg};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;

use crate::agencies::AgencyRef;
use crate::databases::DatabaseKey;
use crate::db::{Conn, Id, Sql};
use crate::{Store, StoreError, now};

/// A dataset as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    #[serde(skip)]
    pub pk: i64,
    pub id: String,
    pub database: DatasetDatabase,
    pub owner: AgencyRef,
    #[serde(skip)]
    pub owner_pk: i64,
    pub title: String,
    pub title_en: Option<String>,
    pub description: String,
    pub licence: String,
    pub sharing_mode: SharingMode,
    pub cadence: Cadence,
    pub schema: SchemaSpec,
    pub schema_version: i64,
    #[serde(skip)]
    pub table_name: String,
    pub row_count: i64,
    pub last_seq: i64,
    pub synthetic: bool,
    pub template: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub data_updated_at: Option<DateTime<Utc>>,
}

/// The catalog entry a dataset belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetDatabase {
    pub id: String,
    pub no: Option<i64>,
    pub name: String,
}

impl Dataset {
    /// What the policy decision point needs.
    pub fn facts(&self) -> DatasetFacts {
        DatasetFacts {
            dataset_id: self.pk,
            owner_agency_id: self.owner_pk,
            mode: self.sharing_mode,
            fields: self.schema.fields.iter().map(|f| (f.name.clone(), f.personal)).collect(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct DatasetRow {
    pk: i64,
    slug: String,
    db_slug: String,
    db_no: Option<i64>,
    db_name: String,
    owner_slug: String,
    owner_name: String,
    owner_pk: i64,
    title: String,
    title_en: Option<String>,
    description: String,
    licence: String,
    sharing_mode: String,
    cadence: String,
    schema: Json<SchemaSpec>,
    schema_version: i64,
    table_name: String,
    row_count: i64,
    last_seq: i64,
    synthetic: bool,
    template: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    data_updated_at: Option<DateTime<Utc>>,
}

const DATASET_SELECT: &str = "SELECT s.id AS pk, s.slug, d.slug AS db_slug, d.no AS db_no, d.name AS db_name, \
     a.slug AS owner_slug, a.name AS owner_name, a.id AS owner_pk, s.title, s.title_en, s.description, s.licence, \
     s.sharing_mode, s.cadence, s.schema, s.schema_version, s.table_name, s.row_count, s.last_seq, s.synthetic, s.template, \
     s.created_at, s.updated_at, s.data_updated_at \
     FROM datasets s JOIN databases d ON d.id = s.database_id JOIN agencies a ON a.id = d.owner_id";

impl DatasetRow {
    fn into_dataset(self) -> Result<Dataset, StoreError> {
        Ok(Dataset {
            pk: self.pk,
            id: self.slug,
            database: DatasetDatabase { id: self.db_slug, no: self.db_no, name: self.db_name },
            owner: AgencyRef { id: self.owner_slug, name: self.owner_name },
            owner_pk: self.owner_pk,
            title: self.title,
            title_en: self.title_en,
            description: self.description,
            licence: self.licence,
            sharing_mode: self.sharing_mode.parse().map_err(|m| StoreError::Corrupt(format!("sharing mode «{m}»")))?,
            cadence: self.cadence.parse().map_err(|c| StoreError::Corrupt(format!("cadence «{c}»")))?,
            schema: self.schema.0,
            schema_version: self.schema_version,
            table_name: self.table_name,
            row_count: self.row_count,
            last_seq: self.last_seq,
            synthetic: self.synthetic,
            template: self.template,
            created_at: self.created_at,
            updated_at: self.updated_at,
            data_updated_at: self.data_updated_at,
        })
    }
}

/// A new dataset, as a steward or a template describes it.
#[derive(Debug, Clone)]
pub struct NewDataset {
    pub slug: String,
    pub database: DatabaseKey,
    pub title: String,
    pub title_en: Option<String>,
    pub description: String,
    pub licence: Option<String>,
    pub sharing_mode: SharingMode,
    pub cadence: Cadence,
    pub schema: SchemaSpec,
    pub template: Option<String>,
    pub synthetic: bool,
}

/// Checks a dataset identifier: lower-case words of ASCII letters and
/// digits joined by `-`, at most 64 characters, not only digits.
pub fn check_slug(slug: &str) -> Result<(), DomainError> {
    let ok = !slug.is_empty()
        && slug.len() <= 64
        && slug.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && !slug.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "slug",
            Msg::new(
                format!("mã tập dữ liệu «{slug}» không hợp lệ: chữ thường không dấu và chữ số, nối bằng «-»"),
                format!("invalid dataset id «{slug}»: lower-case ASCII words and digits joined by «-»"),
            ),
        ))
    }
}

/// Validated schemas, cached by dataset and schema version.
#[derive(Default)]
pub(crate) struct SchemaCache(RwLock<HashMap<(i64, i64), Arc<Schema>>>);

impl Store {
    /// Every dataset, or those of one database.
    pub async fn datasets(&self, database: Option<&DatabaseKey>) -> Result<Vec<Dataset>, StoreError> {
        let mut c = self.pools.reader().await?;
        let sql = match database {
            None => Sql::assembled(format!("{DATASET_SELECT} ORDER BY d.no, s.slug")),
            Some(DatabaseKey::No(n)) => {
                Sql::assembled(format!("{DATASET_SELECT} WHERE d.no = ? AND d.status = 'listed' ORDER BY s.slug")).bind(*n)
            }
            Some(DatabaseKey::Id(s)) => Sql::assembled(format!("{DATASET_SELECT} WHERE d.slug = ? ORDER BY s.slug")).bind(s.as_str()),
        };
        let rows: Vec<DatasetRow> = c.conn().fetch_all(sql).await?;
        rows.into_iter().map(DatasetRow::into_dataset).collect()
    }

    /// One dataset by id (slug).
    pub async fn dataset(&self, slug: &str) -> Result<Option<Dataset>, StoreError> {
        let mut c = self.pools.reader().await?;
        load_dataset(&mut c.conn(), slug).await
    }

    /// The validated schema of a dataset (cached per schema version).
    pub fn schema_of(&self, ds: &Dataset) -> Result<Arc<Schema>, StoreError> {
        let key = (ds.pk, ds.schema_version);
        if let Some(s) = self.schema_cache.0.read().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(s);
        }
        let schema = Arc::new(
            Schema::new(ds.schema.clone()).map_err(|e| StoreError::Corrupt(format!("stored schema of {} is invalid: {e:?}", ds.id)))?,
        );
        if let Ok(mut m) = self.schema_cache.0.write() {
            m.insert(key, schema.clone());
        }
        Ok(schema)
    }

    /// Creates a dataset and its table, in one transaction.
    pub async fn create_dataset(&self, new: &NewDataset, actor: &str) -> Result<Dataset, StoreError> {
        check_slug(&new.slug)?;
        let schema = Schema::new(new.schema.clone()).map_err(schema_errors)?;
        if new.title.trim().is_empty() {
            return Err(DomainError::invalid(
                "title",
                Msg::new("tên tập dữ liệu không được để trống", "the dataset title must not be empty"),
            )
            .into());
        }
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let db = resolve_database(&mut conn, &new.database).await?;
        let modes: Vec<(String,)> = conn.fetch_all(Sql::new("SELECT mode FROM database_sharing WHERE database_id = ?").bind(db)).await?;
        if !modes.iter().any(|(m,)| m == new.sharing_mode.code()) {
            let list: Vec<&str> = modes.iter().map(|(m,)| m.as_str()).collect();
            return Err(DomainError::invalid(
                "sharing_mode",
                Msg::new(
                    format!("hình thức chia sẻ «{}» không có trong danh mục của CSDL này ({})", new.sharing_mode.code(), list.join(", ")),
                    format!("sharing mode «{}» is not one the catalog gives this database ({})", new.sharing_mode.code(), list.join(", ")),
                ),
            )
            .into());
        }
        if conn.fetch_optional::<Id>(Sql::new("SELECT id FROM datasets WHERE slug = ?").bind(new.slug.as_str())).await?.is_some() {
            return Err(StoreError::conflict(
                format!("đã có tập dữ liệu «{}»", new.slug),
                format!("a dataset «{}» exists already", new.slug),
            ));
        }
        let licence = new
            .licence
            .clone()
            .filter(|l| !l.trim().is_empty())
            .unwrap_or_else(|| if new.sharing_mode == SharingMode::Open { "CC-BY-4.0".into() } else { "restricted".into() });
        let ts = now();
        let schema_json = serde_json::to_value(&schema.spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let Id(pk) = conn
            .fetch_one(
                Sql::new(
                    "INSERT INTO datasets (slug, database_id, title, title_en, description, licence, sharing_mode, cadence, schema, table_name, synthetic, template, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(new.slug.as_str())
                .bind(db)
                .bind(new.title.trim())
                .bind(new.title_en.clone())
                .bind(new.description.as_str())
                .bind(licence)
                .bind(new.sharing_mode.code())
                .bind(new.cadence.code())
                .bind(schema_json.clone())
                .bind(format!("pending_{}", new.slug))
                .bind(new.synthetic)
                .bind(new.template.clone())
                .bind(ts)
                .bind(ts),
            )
            .await?;
        let table = ddl::table_name(pk);
        conn.execute(Sql::new("UPDATE datasets SET table_name = ? WHERE id = ?").bind(table.as_str()).bind(pk)).await?;
        for stmt in ddl::create_table(conn.backend(), &table, &schema) {
            conn.execute(Sql::assembled(stmt)).await?;
        }
        conn.execute(
            Sql::new("INSERT INTO dataset_schemas (dataset_id, version, schema, actor, changed_at) VALUES (?, 1, ?, ?, ?)")
                .bind(pk)
                .bind(schema_json)
                .bind(actor)
                .bind(ts),
        )
        .await?;
        let ds = load_dataset(&mut conn, &new.slug).await?.ok_or_else(|| StoreError::Corrupt("dataset vanished".into()))?;
        tx.commit().await?;
        Ok(ds)
    }

    /// Changes a dataset's schema: new fields (not required) at the end,
    /// types widened without loss, titles, descriptions, personal-data
    /// classes and indexes. Anything that could invalidate stored rows is
    /// refused.
    pub async fn change_schema(
        &self,
        permit: &chiase_core::policy::WritePermit,
        slug: &str,
        new_spec: SchemaSpec,
        actor: &str,
    ) -> Result<Dataset, StoreError> {
        let new_schema = Schema::new(new_spec).map_err(schema_errors)?;
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let ds = require_dataset(&mut conn, slug).await?;
        check_permit(permit.dataset_id(), &ds)?;
        let old = Schema::new(ds.schema.clone()).map_err(|e| StoreError::Corrupt(format!("{e:?}")))?;
        let plan = ddl::schema_change(conn.backend(), &ds.table_name, &old, &new_schema)?;
        for stmt in plan {
            conn.execute(Sql::assembled(stmt)).await?;
        }
        let version = ds.schema_version + 1;
        let json = serde_json::to_value(&new_schema.spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let ts = now();
        conn.execute(
            Sql::new("UPDATE datasets SET schema = ?, schema_version = ?, updated_at = ? WHERE id = ?")
                .bind(json.clone())
                .bind(version)
                .bind(ts)
                .bind(ds.pk),
        )
        .await?;
        conn.execute(
            Sql::new("INSERT INTO dataset_schemas (dataset_id, version, schema, actor, changed_at) VALUES (?, ?, ?, ?, ?)")
                .bind(ds.pk)
                .bind(version)
                .bind(json)
                .bind(actor)
                .bind(ts),
        )
        .await?;
        let updated = require_dataset(&mut conn, slug).await?;
        tx.commit().await?;
        Ok(updated)
    }
}

/// A write permit is for one dataset; using it for another is a bug.
pub(crate) fn check_permit(permit_dataset: i64, ds: &Dataset) -> Result<(), StoreError> {
    if permit_dataset != ds.pk {
        return Err(StoreError::Corrupt(format!("BUG: a permit for dataset {permit_dataset} used on {}", ds.pk)));
    }
    Ok(())
}

pub(crate) fn schema_errors(errors: Vec<chiase_core::schema::SchemaError>) -> StoreError {
    let vi: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.message.vi)).collect();
    let en: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.message.en)).collect();
    DomainError::invalid("schema", Msg::new(vi.join("; "), en.join("; "))).into()
}

pub(crate) async fn load_dataset(conn: &mut Conn<'_>, slug: &str) -> Result<Option<Dataset>, StoreError> {
    let row: Option<DatasetRow> = conn.fetch_optional(Sql::assembled(format!("{DATASET_SELECT} WHERE s.slug = ?")).bind(slug)).await?;
    row.map(DatasetRow::into_dataset).transpose()
}

pub(crate) async fn require_dataset(conn: &mut Conn<'_>, slug: &str) -> Result<Dataset, StoreError> {
    load_dataset(conn, slug)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("không có tập dữ liệu «{slug}»"), format!("no dataset «{slug}»")))
}

async fn resolve_database(conn: &mut Conn<'_>, key: &DatabaseKey) -> Result<i64, StoreError> {
    let found: Option<Id> = match key {
        DatabaseKey::No(n) => conn.fetch_optional(Sql::new("SELECT id FROM databases WHERE no = ? AND status = 'listed'").bind(*n)).await?,
        DatabaseKey::Id(s) => conn.fetch_optional(Sql::new("SELECT id FROM databases WHERE slug = ?").bind(s.as_str())).await?,
    };
    found.map(|Id(id)| id).ok_or_else(|| {
        let k = match key {
            DatabaseKey::No(n) => n.to_string(),
            DatabaseKey::Id(s) => s.clone(),
        };
        StoreError::not_found(format!("không có cơ sở dữ liệu «{k}» trong danh mục"), format!("no database «{k}» in the catalog"))
    })
}
