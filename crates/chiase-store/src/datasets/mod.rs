//! Hosted datasets: their description, their Table Schema, and the typed
//! table that holds their rows (one per dataset, created from the schema).
//!
//! Submodules: `ddl` (table and index definitions per engine), `rows`
//! (reading dynamic rows back as typed values), `import` (streaming,
//! all-or-nothing imports), `records` (the record API: reads through a
//! `ReadPermit`, writes through a `WritePermit`, the change feed).

pub mod ddl;
pub mod import;
pub mod plan;
pub mod quality;
pub mod records;
pub mod rows;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chiase_core::catalog::Cadence;
use chiase_core::ids::{AgencyId, DatasetId};
use chiase_core::policy::{CreateDatasetPermit, DatasetFacts, EditDatasetPermit, SchemaPermit};
use chiase_core::schema::{Schema, SchemaSpec};
use chiase_core::sharing::SharingMode;
use chiase_core::theme::Theme;
use chiase_core::{DomainError, Msg};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;

use crate::agencies::AgencyRef;
use crate::databases::DatabaseKey;
use crate::db::{Backend, Conn, Id, Sql};
use crate::{OnUnique, Store, StoreError, now};
use ddl::{TableName, q};

/// A dataset as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    #[serde(skip)]
    pub pk: DatasetId,
    pub id: String,
    pub database: DatasetDatabase,
    pub owner: AgencyRef,
    #[serde(skip)]
    pub owner_pk: AgencyId,
    pub title: String,
    pub title_en: Option<String>,
    pub description: String,
    pub licence: String,
    pub sharing_mode: SharingMode,
    pub cadence: Cadence,
    /// The theme its stewards set (`None`: not set; DCAT then uses the
    /// proposal from the owner's name, `chiase_core::theme::propose`).
    pub theme: Option<Theme>,
    pub schema: SchemaSpec,
    pub schema_version: i64,
    #[serde(skip)]
    pub table_name: TableName,
    /// How many rows, the last change number and when data last changed:
    /// told only to those who may read the rows ([`Dataset::activity`]).
    #[serde(skip)]
    pub(crate) row_count: i64,
    #[serde(skip)]
    pub(crate) last_seq: i64,
    pub synthetic: bool,
    pub template: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When what describes it (titles, description, licence, cadence,
    /// sharing mode, theme, schema) last changed. Unlike `updated_at`,
    /// which every write of rows moves too, it says nothing of the data,
    /// so it may be told to anyone (DCAT's `dct:modified`).
    #[serde(skip)]
    pub described_at: DateTime<Utc>,
    #[serde(skip)]
    pub(crate) data_updated_at: Option<DateTime<Utc>>,
    /// The harvest source its rows come from (`usecase::harvest`): then it
    /// is read-only here.
    pub harvested_from: Option<String>,
}

/// How much data a dataset holds and how it moves: what it says about
/// restricted data is itself restricted, so it is shown with a permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub row_count: i64,
    pub last_seq: i64,
    pub data_updated_at: Option<DateTime<Utc>>,
}

/// A permit that shows a dataset's activity: reading or writing its rows.
pub trait ShowsActivity {
    fn dataset(&self) -> DatasetId;
}

impl ShowsActivity for chiase_core::policy::ReadPermit {
    fn dataset(&self) -> DatasetId {
        self.dataset_id()
    }
}

impl ShowsActivity for chiase_core::policy::WritePermit {
    fn dataset(&self) -> DatasetId {
        self.dataset_id()
    }
}

/// The catalog entry a dataset belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetDatabase {
    pub id: String,
    pub no: Option<i64>,
    pub name: String,
}

impl Dataset {
    /// Its row count, last change number and last change time, for the
    /// holder of a permit to read or write it.
    pub fn activity(&self, permit: &impl ShowsActivity) -> Result<Activity, StoreError> {
        check_permit(permit.dataset(), self)?;
        Ok(Activity { row_count: self.row_count, last_seq: self.last_seq, data_updated_at: self.data_updated_at })
    }

    /// What the policy decision point needs.
    pub fn facts(&self) -> DatasetFacts {
        DatasetFacts {
            dataset_id: self.pk,
            owner_agency_id: self.owner_pk,
            mode: self.sharing_mode,
            fields: self.schema.fields.iter().map(|f| (f.name.clone(), f.personal)).collect(),
            key: self.schema.primary_key.iter().filter_map(|k| self.schema.fields.iter().position(|f| &f.name == k)).collect(),
            harvested: self.harvested_from.is_some(),
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
    theme: Option<String>,
    schema: Json<SchemaSpec>,
    schema_version: i64,
    table_name: String,
    row_count: i64,
    last_seq: i64,
    synthetic: bool,
    template: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    described_at: DateTime<Utc>,
    data_updated_at: Option<DateTime<Utc>>,
    harvested_from: Option<String>,
}

const DATASET_SELECT: &str = "SELECT s.id AS pk, s.slug, d.slug AS db_slug, d.no AS db_no, d.name AS db_name, \
     a.slug AS owner_slug, a.name AS owner_name, a.id AS owner_pk, s.title, s.title_en, s.description, s.licence, \
     s.sharing_mode, s.cadence, s.theme, s.schema, s.schema_version, s.table_name, s.row_count, s.last_seq, s.synthetic, s.template, \
     s.created_at, s.updated_at, s.described_at, s.data_updated_at, \
     (SELECT hs.slug FROM harvested_entries he JOIN harvest_sources hs ON hs.id = he.source_id WHERE he.dataset_id = s.id) AS harvested_from \
     FROM datasets s JOIN databases d ON d.id = s.database_id JOIN agencies a ON a.id = d.owner_id";

impl DatasetRow {
    fn into_dataset(self) -> Result<Dataset, StoreError> {
        Ok(Dataset {
            pk: DatasetId(self.pk),
            id: self.slug,
            database: DatasetDatabase { id: self.db_slug, no: self.db_no, name: self.db_name },
            owner: AgencyRef { id: self.owner_slug, name: self.owner_name },
            owner_pk: AgencyId(self.owner_pk),
            title: self.title,
            title_en: self.title_en,
            description: self.description,
            licence: self.licence,
            sharing_mode: self.sharing_mode.parse().map_err(|m| StoreError::Corrupt(format!("sharing mode «{m}»")))?,
            cadence: self.cadence.parse().map_err(|c| StoreError::Corrupt(format!("cadence «{c}»")))?,
            theme: self.theme.map(|t| t.parse().map_err(|t| StoreError::Corrupt(format!("theme «{t}»")))).transpose()?,
            schema: self.schema.0,
            schema_version: self.schema_version,
            table_name: TableName::stored(&self.table_name)?,
            row_count: self.row_count,
            last_seq: self.last_seq,
            synthetic: self.synthetic,
            template: self.template,
            created_at: self.created_at,
            updated_at: self.updated_at,
            described_at: self.described_at,
            data_updated_at: self.data_updated_at,
            harvested_from: self.harvested_from,
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

/// What a steward changes in a dataset's description; `None` leaves a
/// field as it is. The schema has its own path ([`Store::change_schema`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetChanges {
    pub title: Option<String>,
    /// `Some(None)` removes the English title.
    pub title_en: Option<Option<String>>,
    pub description: Option<String>,
    pub licence: Option<String>,
    pub cadence: Option<Cadence>,
    /// Must be one of the modes the catalog gives the dataset's database.
    pub sharing_mode: Option<SharingMode>,
    /// `Some(None)` removes the theme (the proposal shows again).
    pub theme: Option<Option<Theme>>,
}

impl DatasetChanges {
    /// The most characters of a title (either language).
    pub const MAX_TITLE: usize = 300;
    /// The most characters of a description.
    pub const MAX_DESCRIPTION: usize = 5000;
    /// The most characters of a licence (a name, an SPDX id or a short text).
    pub const MAX_LICENCE: usize = 200;

    /// The changes as they are stored: text trimmed, in NFC, line breaks
    /// as `\n` (a browser's text area sends `\r\n`), an empty English
    /// title removed; refused when a title or the licence is empty or a
    /// text is longer than its bound.
    pub fn normalised(&self) -> Result<DatasetChanges, DomainError> {
        let clean = |s: &str| chiase_core::fold::nfc(s.replace("\r\n", "\n").replace('\r', "\n").trim());
        let too_long = |field: &str, vi: &str, en: &str, max: usize, text: &str| -> Result<(), DomainError> {
            let n = text.chars().count();
            if n > max {
                return Err(DomainError::invalid(
                    field,
                    Msg::new(
                        format!("{vi} dài {n} ký tự, quá {max} ký tự cho phép"),
                        format!("the {en} is {n} characters long, over {max}"),
                    ),
                ));
            }
            Ok(())
        };
        let title = self.title.as_deref().map(clean);
        if let Some(t) = &title {
            if t.is_empty() {
                return Err(DomainError::invalid(
                    "title",
                    Msg::new("tên tập dữ liệu không được để trống", "the dataset title must not be empty"),
                ));
            }
            too_long("title", "tên tập dữ liệu", "title", Self::MAX_TITLE, t)?;
        }
        let title_en = self.title_en.as_ref().map(|t| t.as_deref().map(clean).filter(|t| !t.is_empty()));
        if let Some(Some(t)) = &title_en {
            too_long("title_en", "tên tiếng Anh", "English title", Self::MAX_TITLE, t)?;
        }
        let description = self.description.as_deref().map(clean);
        if let Some(d) = &description {
            too_long("description", "phần mô tả", "description", Self::MAX_DESCRIPTION, d)?;
        }
        let licence = self.licence.as_deref().map(clean);
        if let Some(l) = &licence {
            if l.is_empty() {
                return Err(DomainError::invalid("licence", Msg::new("giấy phép không được để trống", "the licence must not be empty")));
            }
            if l.contains('\n') {
                return Err(DomainError::invalid("licence", Msg::new("giấy phép ghi trên một dòng", "the licence is one line of text")));
            }
            too_long("licence", "giấy phép", "licence", Self::MAX_LICENCE, l)?;
        }
        Ok(DatasetChanges {
            title,
            title_en,
            description,
            licence,
            cadence: self.cadence,
            sharing_mode: self.sharing_mode,
            theme: self.theme,
        })
    }

    /// Only what differs from `ds` (a field given with its current value
    /// is no change).
    pub fn against(self, ds: &Dataset) -> DatasetChanges {
        DatasetChanges {
            title: self.title.filter(|t| *t != ds.title),
            title_en: self.title_en.filter(|t| *t != ds.title_en),
            description: self.description.filter(|d| *d != ds.description),
            licence: self.licence.filter(|l| *l != ds.licence),
            cadence: self.cadence.filter(|c| *c != ds.cadence),
            sharing_mode: self.sharing_mode.filter(|m| *m != ds.sharing_mode),
            theme: self.theme.filter(|t| *t != ds.theme),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == DatasetChanges::default()
    }
}

/// A dataset as it was before an update and as it is after.
#[derive(Debug, Clone)]
pub struct DatasetUpdated {
    pub before: Dataset,
    pub after: Dataset,
}

/// Identifiers the portal's own pages take under `/datasets/`.
const RESERVED_SLUGS: [&str; 1] = ["new"];

/// Checks a dataset identifier: lower-case words of ASCII letters and
/// digits joined by `-`, at most 64 characters, not only digits.
pub fn check_slug(slug: &str) -> Result<(), DomainError> {
    let ok = !slug.is_empty()
        && slug.len() <= 64
        && slug.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && !slug.bytes().all(|b| b.is_ascii_digit());
    if RESERVED_SLUGS.contains(&slug) {
        return Err(DomainError::invalid(
            "slug",
            Msg::new(
                format!("mã «{slug}» dành cho trang của cổng (/datasets/{slug}); hãy chọn mã khác"),
                format!("the id «{slug}» is the portal's page (/datasets/{slug}); choose another"),
            ),
        ));
    }
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
pub(crate) struct SchemaCache(RwLock<HashMap<(DatasetId, i64), Arc<Schema>>>);

/// The indexes each dataset table has, as the engine's catalog lists them:
/// the planner names only indexes that exist (a dataset made by an older
/// version gets its indexes at the next start). Read again after a minute,
/// and whenever the table's name or schema version changes (a new
/// generation, a schema change in any process).
#[derive(Default)]
pub(crate) struct IndexSetCache(RwLock<HashMap<TableAtVersion, (std::time::Instant, Arc<plan::IndexSet>)>>);

/// Datasets as read for serving records, by id: a page of records then
/// needs no lookup of its own (a three-table join, and on PostgreSQL a
/// round trip). An entry serves while this process has committed nothing
/// since it was read and for at most [`DatasetReadCache::FRESH`]: a change
/// another process makes (a decision import by the CLI, a sharing mode
/// changed through another server) is seen within that time. Writes never
/// use it: they read the dataset in their own transaction.
#[derive(Default)]
pub(crate) struct DatasetReadCache(RwLock<HashMap<String, CachedDataset>>);

/// When a cached dataset was read, this process's commits then, and the dataset.
type CachedDataset = (std::time::Instant, u64, Arc<Dataset>);

impl DatasetReadCache {
    const FRESH: std::time::Duration = std::time::Duration::from_millis(250);
    /// Entries kept at most (ids are checked before they are looked up,
    /// but unknown ones are not cached anyway).
    const MAX: usize = 4096;
}

/// A dataset table's name and the schema version it was read at.
type TableAtVersion = (String, i64);

impl Store {
    /// Creates the indexes a dataset table should have and lacks (a
    /// dataset made by an older version of chiase: every field now has
    /// one). Run at start, before serving; returns how many were built.
    pub async fn ensure_dataset_indexes(&self) -> Result<usize, StoreError> {
        let mut built = 0;
        for ds in self.datasets(None).await? {
            let schema = self.schema_of(&ds)?;
            let have = self.index_set(&ds).await?;
            let mut wanted = vec![(ddl::IndexName::role(&ds.table_name, "cur"), ddl::current_rows_index(&ds.table_name))];
            wanted.extend(ddl::field_index_defs(&ds.table_name, &schema));
            if self.backend() == Backend::Sqlite {
                wanted.extend(ddl::cell_index_defs(&ds.table_name, &schema));
            }
            for (name, stmt) in wanted {
                if have.contains(name.as_str()) {
                    continue;
                }
                let started = std::time::Instant::now();
                let mut tx = self.pools.begin().await?;
                tx.conn().execute(Sql::assembled(stmt)).await?;
                tx.commit().await?;
                tracing::info!(dataset = %ds.id, index = name.as_str(), ms = started.elapsed().as_millis() as u64, "index built");
                built += 1;
            }
            if let Ok(mut m) = self.index_sets.0.write() {
                m.remove(&(ds.table_name.as_str().to_string(), ds.schema_version));
            }
        }
        Ok(built)
    }

    pub(crate) async fn index_set(&self, ds: &Dataset) -> Result<Arc<plan::IndexSet>, StoreError> {
        const FRESH: std::time::Duration = std::time::Duration::from_secs(60);
        let table = &ds.table_name;
        let key = (table.as_str().to_string(), ds.schema_version);
        if let Some((at, set)) = self.index_sets.0.read().ok().and_then(|m| m.get(&key).cloned())
            && at.elapsed() < FRESH
        {
            return Ok(set);
        }
        let sql = match self.backend() {
            Backend::Sqlite => Sql::new("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"),
            Backend::Postgres => Sql::new("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?"),
        };
        let mut c = self.pools.reader().await?;
        let names: Vec<(String,)> = c.conn().fetch_all(sql.bind(table.as_str())).await?;
        let set = Arc::new(names.into_iter().map(|(n,)| n).collect::<plan::IndexSet>());
        if let Ok(mut m) = self.index_sets.0.write() {
            m.retain(|(t, _), _| t != table.as_str());
            m.insert(key, (std::time::Instant::now(), set.clone()));
        }
        Ok(set)
    }
}

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

    /// One dataset by id, to serve reads of its records: from the
    /// process's cache when it is fresh ([`DatasetReadCache`]).
    pub async fn dataset_for_read(&self, slug: &str) -> Result<Option<Arc<Dataset>>, StoreError> {
        let commits = crate::db::commits();
        if let Some((at, seen, ds)) = self.dataset_reads.0.read().ok().and_then(|m| m.get(slug).cloned())
            && seen == commits
            && at.elapsed() < DatasetReadCache::FRESH
        {
            return Ok(Some(ds));
        }
        let Some(ds) = self.dataset(slug).await? else { return Ok(None) };
        let ds = Arc::new(ds);
        if let Ok(mut m) = self.dataset_reads.0.write() {
            if m.len() >= DatasetReadCache::MAX {
                m.clear();
            }
            m.insert(slug.to_string(), (std::time::Instant::now(), commits, ds.clone()));
        }
        Ok(Some(ds))
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

    /// Creates a dataset and its table, in one transaction. The permit
    /// names the agency allowed; the database must belong to it.
    pub async fn create_dataset(&self, permit: &CreateDatasetPermit, new: &NewDataset, actor: &str) -> Result<Dataset, StoreError> {
        let mut tx = self.pools.begin().await?;
        let ds = create_in(&mut tx.conn(), permit, new, actor).await?;
        tx.commit().await?;
        Ok(ds)
    }
}

/// Creates a dataset and its table in the caller's transaction (one
/// dataset, or every dataset of a Data Package at once).
pub(crate) async fn create_in(
    conn: &mut Conn<'_>,
    permit: &CreateDatasetPermit,
    new: &NewDataset,
    actor: &str,
) -> Result<Dataset, StoreError> {
    check_slug(&new.slug)?;
    let schema = Schema::new(new.schema.clone()).map_err(schema_errors)?;
    if new.title.trim().is_empty() {
        return Err(
            DomainError::invalid("title", Msg::new("tên tập dữ liệu không được để trống", "the dataset title must not be empty")).into()
        );
    }
    let (db, owner) = resolve_database(conn, &new.database).await?;
    if owner != permit.owner() {
        return Err(StoreError::Corrupt(format!(
            "BUG: a permit to create datasets for agency {} used on a database of agency {owner}",
            permit.owner()
        )));
    }
    check_catalog_mode(conn, db, new.sharing_mode).await?;
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
                "INSERT INTO datasets (slug, database_id, title, title_en, description, licence, sharing_mode, cadence, schema, table_name, synthetic, template, created_at, updated_at, described_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
            .bind(ts)
            .bind(ts),
        )
        .await
        .on_unique(|| format!("đã có tập dữ liệu «{}»", new.slug), || format!("a dataset «{}» exists already", new.slug))?;
    let pk = DatasetId(pk);
    let table = TableName::dataset(pk);
    conn.execute(Sql::new("UPDATE datasets SET table_name = ? WHERE id = ?").bind(table.as_str()).bind(pk.get())).await?;
    for stmt in ddl::create_table(conn.backend(), pk, &table, &schema) {
        conn.execute(Sql::assembled(stmt)).await?;
    }
    conn.execute(
        Sql::new("INSERT INTO dataset_schemas (dataset_id, version, schema, actor, changed_at) VALUES (?, 1, ?, ?, ?)")
            .bind(pk.get())
            .bind(schema_json)
            .bind(actor)
            .bind(ts),
    )
    .await?;
    load_dataset(conn, &new.slug).await?.ok_or_else(|| StoreError::Corrupt("dataset vanished".into()))
}

impl Store {
    /// Changes a dataset's schema: new fields (not required) at the end,
    /// types widened without loss, titles, descriptions, personal-data
    /// classes, searchable fields and indexes. Anything that could
    /// invalidate stored rows is refused. When what the full-text index is
    /// made of changes (a field made personal, or searchable), every
    /// full-text row, of current and past versions, is made again in the
    /// same transaction: a field made personal is findable by nobody.
    pub async fn change_schema(&self, permit: &SchemaPermit, slug: &str, new_spec: SchemaSpec, actor: &str) -> Result<Dataset, StoreError> {
        let new_schema = Schema::new(new_spec).map_err(schema_errors)?;
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let ds = require_dataset(&mut conn, slug).await?;
        check_permit(permit.dataset_id(), &ds)?;
        wait_for_no_import(&mut conn, &ds).await?;
        let old = Schema::new(ds.schema.clone()).map_err(|e| StoreError::Corrupt(format!("{e:?}")))?;
        let plan = ddl::schema_change(conn.backend(), ds.pk, &ds.table_name, &old, &new_schema)?;
        for stmt in plan.statements {
            conn.execute(Sql::assembled(stmt)).await?;
        }
        if plan.rebuild_search {
            rebuild_search(&mut conn, &ds, &new_schema).await?;
        }
        let version = ds.schema_version + 1;
        let json = serde_json::to_value(&new_schema.spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let ts = now();
        conn.execute(
            Sql::new("UPDATE datasets SET schema = ?, schema_version = ?, updated_at = ?, described_at = ? WHERE id = ?")
                .bind(json.clone())
                .bind(version)
                .bind(ts)
                .bind(ts)
                .bind(ds.pk.get()),
        )
        .await?;
        conn.execute(
            Sql::new("INSERT INTO dataset_schemas (dataset_id, version, schema, actor, changed_at) VALUES (?, ?, ?, ?, ?)")
                .bind(ds.pk.get())
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

impl Store {
    /// Changes what describes a dataset (titles, description, licence,
    /// cadence, sharing mode, theme), in one transaction: only the fields that
    /// differ from what is stored are written, with `updated_at` (the
    /// description's time; when its data last changed, `data_updated_at`,
    /// stays). A new sharing mode must be one the catalog gives the
    /// dataset's database, as at creation. The commit ends every cached
    /// read of the dataset in this process ([`DatasetReadCache`]); another
    /// process sees the change within that cache's freshness.
    pub async fn update_dataset(
        &self,
        permit: &EditDatasetPermit,
        slug: &str,
        changes: &DatasetChanges,
        actor: &str,
    ) -> Result<DatasetUpdated, StoreError> {
        let changes = changes.normalised()?;
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let before = require_dataset(&mut conn, slug).await?;
        check_permit(permit.dataset_id(), &before)?;
        let changes = changes.against(&before);
        if changes.is_empty() {
            // Nothing to write: the transaction ends unused.
            return Ok(DatasetUpdated { after: before.clone(), before });
        }
        if let Some(mode) = changes.sharing_mode {
            let (db,): (i64,) = conn.fetch_one(Sql::new("SELECT database_id FROM datasets WHERE id = ?").bind(before.pk.get())).await?;
            check_catalog_mode(&mut conn, db, mode).await?;
        }
        let c = changes;
        let ts = now();
        conn.execute(
            Sql::new(
                "UPDATE datasets SET title = ?, title_en = ?, description = ?, licence = ?, cadence = ?, sharing_mode = ?, theme = ?, \
                 updated_at = ?, described_at = ? WHERE id = ?",
            )
            .bind(c.title.unwrap_or_else(|| before.title.clone()))
            .bind(c.title_en.unwrap_or_else(|| before.title_en.clone()))
            .bind(c.description.unwrap_or_else(|| before.description.clone()))
            .bind(c.licence.unwrap_or_else(|| before.licence.clone()))
            .bind(c.cadence.unwrap_or(before.cadence).code())
            .bind(c.sharing_mode.unwrap_or(before.sharing_mode).code())
            .bind(c.theme.unwrap_or(before.theme).map(|t| t.code()))
            .bind(ts)
            .bind(ts)
            .bind(before.pk.get()),
        )
        .await?;
        let updated = require_dataset(&mut conn, slug).await?;
        tx.commit().await?;
        tracing::info!(dataset = %updated.id, actor, "dataset description changed");
        Ok(DatasetUpdated { before, after: updated })
    }

    /// The sharing modes the catalog gives the database a dataset belongs
    /// to, most open first: those its sharing mode may be.
    pub async fn catalog_modes_of(&self, ds: &Dataset) -> Result<Vec<SharingMode>, StoreError> {
        let mut c = self.pools.reader().await?;
        let modes: Vec<(String,)> = c
            .conn()
            .fetch_all(
                Sql::new("SELECT m.mode FROM database_sharing m JOIN datasets s ON s.database_id = m.database_id WHERE s.id = ?")
                    .bind(ds.pk.get()),
            )
            .await?;
        let mut modes: Vec<SharingMode> = modes.into_iter().filter_map(|(m,)| m.parse().ok()).collect();
        modes.sort();
        Ok(modes)
    }
}

/// Refuses a sharing mode the catalog does not give the database `db`.
pub(crate) async fn check_catalog_mode(conn: &mut Conn<'_>, db: i64, mode: SharingMode) -> Result<(), StoreError> {
    let modes: Vec<(String,)> = conn.fetch_all(Sql::new("SELECT mode FROM database_sharing WHERE database_id = ?").bind(db)).await?;
    if !modes.iter().any(|(m,)| m == mode.code()) {
        let list: Vec<&str> = modes.iter().map(|(m,)| m.as_str()).collect();
        return Err(DomainError::invalid(
            "sharing_mode",
            Msg::new(
                format!("hình thức chia sẻ «{}» không có trong danh mục của CSDL này ({})", mode.code(), list.join(", ")),
                format!("sharing mode «{}» is not one the catalog gives this database ({})", mode.code(), list.join(", ")),
            ),
        )
        .into());
    }
    Ok(())
}

/// A write permit is for one dataset; using it for another is a bug.
pub(crate) fn check_permit(permit_dataset: DatasetId, ds: &Dataset) -> Result<(), StoreError> {
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

/// The database a key names and its owner agency.
pub(crate) async fn resolve_database(conn: &mut Conn<'_>, key: &DatabaseKey) -> Result<(i64, AgencyId), StoreError> {
    let found: Option<(i64, i64)> = match key {
        DatabaseKey::No(n) => {
            conn.fetch_optional(Sql::new("SELECT id, owner_id FROM databases WHERE no = ? AND status = 'listed'").bind(*n)).await?
        }
        DatabaseKey::Id(s) => conn.fetch_optional(Sql::new("SELECT id, owner_id FROM databases WHERE slug = ?").bind(s.as_str())).await?,
    };
    found.map(|(id, owner)| (id, AgencyId(owner))).ok_or_else(|| {
        let k = match key {
            DatabaseKey::No(n) => n.to_string(),
            DatabaseKey::Id(s) => s.clone(),
        };
        StoreError::not_found(format!("không có cơ sở dữ liệu «{k}» trong danh mục"), format!("no database «{k}» in the catalog"))
    })
}

impl Store {
    /// The agency that owns the database a key names (for deciding who may
    /// create datasets in it).
    pub async fn database_owner(&self, key: &DatabaseKey) -> Result<AgencyId, StoreError> {
        let mut c = self.pools.reader().await?;
        resolve_database(&mut c.conn(), key).await.map(|(_, owner)| owner)
    }
}

/// Refuses while a large import builds a new generation of the dataset's
/// table: a change made meanwhile would be lost at its swap.
pub(crate) async fn wait_for_no_import(conn: &mut Conn<'_>, ds: &Dataset) -> Result<(), StoreError> {
    let held: Option<(String,)> = conn
        .fetch_optional(Sql::new("SELECT holder FROM job_leases WHERE name = ? AND expires_at > ?").bind(import_lease(ds.pk)).bind(now()))
        .await?;
    match held {
        None => Ok(()),
        Some(_) => Err(StoreError::Busy {
            msg: Msg::new(
                format!("tập dữ liệu «{}» đang được nhập một tệp lớn; hãy thử lại sau ít phút", ds.id),
                format!("a large import into «{}» is under way; try again in a few minutes", ds.id),
            ),
            retry_after_secs: 30,
        }),
    }
}

/// The lease a large import holds on its dataset.
pub(crate) fn import_lease(id: DatasetId) -> String {
    format!("import:{id}")
}

/// Makes every full-text row of a dataset again from its stored values,
/// for current and past versions, inside the caller's transaction.
async fn rebuild_search(conn: &mut Conn<'_>, ds: &Dataset, schema: &Schema) -> Result<(), StoreError> {
    let table = q(&ds.table_name);
    let backend = conn.backend();
    if backend == Backend::Sqlite {
        let fts = q(&TableName::fts(ds.pk));
        let exists: Option<Id> = conn
            .fetch_optional(Sql::new("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").bind(TableName::fts(ds.pk).as_str()))
            .await?;
        if exists.is_some() {
            // 'delete-all' empties a contentless table (a plain DELETE may not).
            conn.execute(Sql::assembled(format!("INSERT INTO {fts} ({fts}) VALUES ('delete-all')"))).await?;
        }
    } else if schema.has_search() || has_search_column(conn, &ds.table_name).await? {
        conn.execute(Sql::assembled(format!("UPDATE {table} SET \"_search\" = NULL"))).await?;
    }
    if !schema.has_search() {
        return Ok(());
    }
    let fields: Vec<&chiase_core::schema::Field> = schema.search_fields().into_iter().map(|i| &schema.fields[i]).collect();
    let mut after = 0i64;
    loop {
        let sql = format!(
            "SELECT {} FROM {table} WHERE \"_v\" > ? AND \"_op\" IN ({}, {}) ORDER BY \"_v\" LIMIT 2000",
            rows::select_list(&fields, true),
            ddl::OP_INSERT,
            ddl::OP_UPDATE
        );
        let raw = conn.fetch_raw(Sql::assembled(sql).bind(after)).await?;
        let page = rows::decode(&raw, &fields, true)?;
        let Some(last) = page.last() else { break };
        after = last.meta.v;
        // search_text reads values by schema position: spread the page's
        // values out to the schema's width.
        let texts: Vec<(i64, String)> = page
            .iter()
            .filter_map(|r| {
                let mut full = vec![chiase_core::schema::Value::Null; schema.fields.len()];
                for (i, v) in schema.search_fields().into_iter().zip(&r.values) {
                    full[i] = v.clone();
                }
                schema.search_text(&full).map(|t| (r.meta.v, t))
            })
            .collect();
        if texts.is_empty() {
            continue;
        }
        match backend {
            Backend::Sqlite => {
                let sql =
                    format!("INSERT INTO {} (rowid, body) VALUES {}", q(&TableName::fts(ds.pk)), vec!["(?, ?)"; texts.len()].join(", "));
                conn.execute(texts.into_iter().fold(Sql::assembled(sql), |s, (v, t)| s.bind(v).bind(t))).await?;
            }
            Backend::Postgres => {
                let sql = format!(
                    "UPDATE {table} SET \"_search\" = to_tsvector('simple', v.body) FROM (VALUES {}) AS v (id, body) WHERE {table}.\"_v\" = v.id",
                    vec!["(CAST(? AS BIGINT), CAST(? AS TEXT))"; texts.len()].join(", ")
                );
                conn.execute(texts.into_iter().fold(Sql::assembled(sql), |s, (v, t)| s.bind(v).bind(t))).await?;
            }
        }
    }
    Ok(())
}

async fn has_search_column(conn: &mut Conn<'_>, table: &TableName) -> Result<bool, StoreError> {
    let found: Option<Id> = conn
        .fetch_optional(
            Sql::new("SELECT CAST(1 AS BIGINT) FROM information_schema.columns WHERE table_name = ? AND column_name = '_search'")
                .bind(table.as_str()),
        )
        .await?;
    Ok(found.is_some())
}

impl Store {
    /// How many writes to a dataset changed rows and came from somewhere
    /// other than `source` (e.g. `chiase demo`): the demo loader leaves a
    /// dataset alone when someone else's rows are in it.
    pub async fn writes_from_others(
        &self,
        permit: &chiase_core::policy::WritePermit,
        ds: &Dataset,
        source: &str,
    ) -> Result<i64, StoreError> {
        check_permit(permit.dataset_id(), ds)?;
        let mut c = self.pools.reader().await?;
        let (n,): (i64,) = c
            .conn()
            .fetch_one(
                Sql::new(
                    "SELECT count(*) FROM change_batches WHERE dataset_id = ? AND (source IS NULL OR source <> ?) \
                     AND rows_inserted + rows_updated + rows_deleted > 0",
                )
                .bind(ds.pk.get())
                .bind(source),
            )
            .await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::check_slug;

    #[test]
    fn a_dataset_id_is_lower_case_words_and_not_a_page_of_the_portal() {
        for ok in ["truong-hoc", "bang-gia-dat-2025", "a1"] {
            assert!(check_slug(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Truong", "truong--hoc", "-a", "2025", "trường", "new"] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
        assert!(check_slug("new").unwrap_err().to_string().contains("/datasets/new"));
    }
}
