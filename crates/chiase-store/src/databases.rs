//! Databases in the catalog: search with facets, one database with its
//! verbatim and derived fields and its ownership history, and the
//! full-text index that search runs on.

use std::sync::Arc;

use chiase_core::catalog::{Cadence, CatalogRow, EntryFields};
use chiase_core::catalog_index::{CatalogIndex, IndexDoc, IndexQuery, Matched};
use chiase_core::sharing::SharingMode;
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::types::Json;

use crate::agencies::AgencyRef;
use crate::catalog::VersionRef;
use crate::db::{Conn, Sql};
use crate::{Store, StoreError};

/// A search of the catalog.
#[derive(Debug, Clone, Default)]
pub struct DatabaseQuery {
    /// Free text; folded, so diacritics and case do not matter.
    pub q: Option<String>,
    /// Owner agency ids (slugs): any of them.
    pub agencies: Vec<String>,
    /// Sharing modes: databases with any of them.
    pub sharing: Vec<SharingMode>,
    /// Cadences: any of them.
    pub cadences: Vec<Cadence>,
    pub limit: i64,
    pub offset: i64,
}

/// One result of a search.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseSummary {
    pub id: String,
    pub no: Option<i64>,
    pub name: String,
    pub owner: AgencyRef,
    pub sharing_modes: Vec<SharingMode>,
    pub cadence: Cadence,
    /// The description in one line, for result lists.
    pub summary: String,
}

/// A value of a facet and how many results carry it.
#[derive(Debug, Clone, Serialize)]
pub struct FacetValue {
    pub value: String,
    pub label: String,
    pub count: i64,
}

/// Counts by owner, sharing mode and cadence, under the same filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facets {
    pub agency: Vec<FacetValue>,
    pub sharing: Vec<FacetValue>,
    pub cadence: Vec<FacetValue>,
}

/// How the words of a query were matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    /// Every word occurs in the result.
    All,
    /// No result had every word, so results with any of them are shown.
    Any,
}

/// A page of search results.
#[derive(Debug, Clone, Serialize)]
pub struct DatabasePage {
    pub count: i64,
    pub results: Vec<DatabaseSummary>,
    pub facets: Facets,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<MatchMode>,
}

/// How a database is named in a URL: its number in the current catalog, or its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKey {
    No(i64),
    Id(String),
}

impl DatabaseKey {
    /// Digits are a number in the decision; anything else is an id.
    pub fn parse(s: &str) -> DatabaseKey {
        match s.parse::<i64>() {
            Ok(n) => DatabaseKey::No(n),
            Err(_) => DatabaseKey::Id(s.to_string()),
        }
    }
}

/// Who owned a database, from when to when.
#[derive(Debug, Clone, Serialize)]
pub struct OwnerSpan {
    pub agency: AgencyRef,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    /// Why ownership began: `decision`, `merger` or `transfer`.
    pub reason: String,
}

/// One database with everything the catalog knows of it.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseDetail {
    pub id: String,
    pub no: Option<i64>,
    pub name: String,
    /// `listed` in the current catalog, or `withdrawn` by a later decision.
    pub status: String,
    pub owner: AgencyRef,
    pub owner_history: Vec<OwnerSpan>,
    pub sharing_modes: Vec<SharingMode>,
    pub cadence: Cadence,
    /// The derived fields of its current entry.
    pub fields: EntryFields,
    /// The cells exactly as the decision published them.
    pub verbatim: CatalogRow,
    /// The version its current entry comes from.
    pub version: VersionRef,
    /// Versions that listed it, oldest first.
    pub listed_in: Vec<VersionRef>,
}

/// A built index and the catalog generation it reflects.
pub(crate) struct CachedIndex {
    generation: i64,
    index: CatalogIndex<DatabaseSummary>,
}

/// The per-process cache of the catalog index.
#[derive(Default)]
pub(crate) struct IndexCache {
    current: std::sync::RwLock<Option<Arc<CachedIndex>>>,
    rebuilding: tokio::sync::Mutex<()>,
}

#[derive(sqlx::FromRow)]
struct IndexRow {
    slug: String,
    no: Option<i64>,
    name: String,
    owner_slug: String,
    owner_name: String,
    cadence: String,
    fields: Json<EntryFields>,
}

fn summary_of(row: &IndexRow) -> Result<DatabaseSummary, StoreError> {
    let fields = &row.fields.0;
    let mut summary = fields.description.flat();
    if summary.chars().count() > 240 {
        summary = summary.chars().take(239).collect::<String>() + "…";
    }
    Ok(DatabaseSummary {
        id: row.slug.clone(),
        no: row.no,
        name: row.name.clone(),
        owner: AgencyRef { id: row.owner_slug.clone(), name: row.owner_name.clone() },
        sharing_modes: fields.sharing.modes.clone(),
        cadence: row.cadence.parse().map_err(|c| StoreError::Corrupt(format!("cadence «{c}»")))?,
        summary,
    })
}

/// Marks the catalog changed: every process rebuilds its index before its
/// next search. Called inside the transaction that changes the catalog.
pub(crate) async fn bump_generation(conn: &mut Conn<'_>) -> Result<(), StoreError> {
    conn.execute(Sql::new("UPDATE catalog_generation SET generation = generation + 1 WHERE id = 1")).await?;
    Ok(())
}

impl Store {
    /// Searches the current catalog: ranked, folded full text with facets,
    /// from the in-memory index (rebuilt when the catalog has changed).
    pub async fn search_databases(&self, query: &DatabaseQuery) -> Result<DatabasePage, StoreError> {
        let cached = self.catalog_index().await?;
        let hits = cached.index.search(&IndexQuery {
            q: query.q.clone(),
            owners: query.agencies.clone(),
            modes: query.sharing.clone(),
            cadences: query.cadences.clone(),
            offset: usize::try_from(query.offset).unwrap_or(0),
            limit: usize::try_from(query.limit).unwrap_or(0),
        });
        let facet =
            |value: &str, label: &str, count: usize| FacetValue { value: value.to_string(), label: label.to_string(), count: count as i64 };
        Ok(DatabasePage {
            count: hits.count as i64,
            results: hits.page.into_iter().cloned().collect(),
            facets: Facets {
                agency: hits.owners.iter().map(|f| facet(&f.value, &f.label, f.count)).collect(),
                sharing: hits.modes.iter().map(|(m, c)| facet(m.code(), m.label_vi(), *c)).collect(),
                cadence: hits.cadences.iter().map(|(k, c)| facet(k.code(), k.label("vi"), *c)).collect(),
            },
            matched: hits.matched.map(|m| match m {
                Matched::All => MatchMode::All,
                Matched::Any => MatchMode::Any,
            }),
        })
    }

    /// The index for the current catalog generation, rebuilt if stale.
    async fn catalog_index(&self) -> Result<Arc<CachedIndex>, StoreError> {
        let generation = {
            let mut c = self.pools.reader().await?;
            let (g,): (i64,) = c.conn().fetch_one(Sql::new("SELECT generation FROM catalog_generation WHERE id = 1")).await?;
            g
        };
        let fresh = |cache: &IndexCache| cache.current.read().ok().and_then(|c| c.clone()).filter(|c| c.generation >= generation);
        if let Some(c) = fresh(&self.index_cache) {
            return Ok(c);
        }
        let _one_rebuild_at_a_time = self.index_cache.rebuilding.lock().await;
        if let Some(c) = fresh(&self.index_cache) {
            return Ok(c);
        }
        // Read the rows and the generation in one snapshot.
        let mut tx = self.pools.begin_read().await?;
        let mut conn = tx.conn();
        let (generation,): (i64,) = conn.fetch_one(Sql::new("SELECT generation FROM catalog_generation WHERE id = 1")).await?;
        let rows: Vec<IndexRow> = conn
            .fetch_all(Sql::new(
                "SELECT d.slug, d.no, d.name, a.slug AS owner_slug, a.name AS owner_name, d.cadence, d.fields \
                 FROM databases d JOIN agencies a ON a.id = d.owner_id WHERE d.status = 'listed' ORDER BY d.no, d.id",
            ))
            .await?;
        tx.commit().await?;
        let mut docs = Vec::with_capacity(rows.len());
        for row in &rows {
            let f = &row.fields.0;
            docs.push(IndexDoc {
                no: row.no,
                owner: row.owner_slug.clone(),
                owner_label: row.owner_name.clone(),
                modes: f.sharing.modes.clone(),
                cadence: f.cadence,
                texts: [row.name.clone(), row.owner_name.clone(), f.description.flat(), f.mechanism.flat()],
                payload: summary_of(row)?,
            });
        }
        let built = Arc::new(CachedIndex { generation, index: CatalogIndex::build(docs) });
        if let Ok(mut slot) = self.index_cache.current.write() {
            *slot = Some(built.clone());
        }
        tracing::debug!(generation, entries = rows.len(), "catalog index rebuilt");
        Ok(built)
    }

    /// One database by number or id; `as_of` adds nothing here but is
    /// answered by `owner_history`, which the caller reads at a date.
    pub async fn database(&self, key: &DatabaseKey) -> Result<Option<DatabaseDetail>, StoreError> {
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        #[derive(sqlx::FromRow)]
        struct Row {
            pk: i64,
            slug: String,
            no: Option<i64>,
            name: String,
            status: String,
            owner_slug: String,
            owner_name: String,
            cadence: String,
            fields: Json<EntryFields>,
            raw: Json<CatalogRow>,
            version_id: i64,
        }
        let base = "SELECT d.id AS pk, d.slug, d.no, d.name, d.status, a.slug AS owner_slug, a.name AS owner_name, d.cadence, d.fields, d.raw, d.version_id \
                    FROM databases d JOIN agencies a ON a.id = d.owner_id";
        let sql = match key {
            DatabaseKey::No(n) => Sql::assembled(format!("{base} WHERE d.no = ? AND d.status = 'listed'")).bind(*n),
            DatabaseKey::Id(slug) => Sql::assembled(format!("{base} WHERE d.slug = ?")).bind(slug.as_str()),
        };
        let Some(row) = conn.fetch_optional::<Row>(sql).await? else { return Ok(None) };
        #[derive(sqlx::FromRow)]
        struct Span {
            slug: String,
            name: String,
            valid_from: NaiveDate,
            valid_to: Option<NaiveDate>,
            reason: String,
        }
        let spans: Vec<Span> = conn
            .fetch_all(
                Sql::new(
                    "SELECT a.slug, a.name, o.valid_from, o.valid_to, o.reason FROM database_owners o JOIN agencies a ON a.id = o.agency_id \
                     WHERE o.database_id = ? ORDER BY o.valid_from, o.id",
                )
                .bind(row.pk),
            )
            .await?;
        let listed_in: Vec<VersionRef> = conn
            .fetch_all(
                Sql::new(
                    "SELECT v.id, v.decision_no, v.decision_date, v.signer FROM catalog_entries e JOIN catalog_versions v ON v.id = e.version_id \
                     WHERE e.database_id = ? ORDER BY v.decision_date, v.id",
                )
                .bind(row.pk),
            )
            .await?;
        let version = listed_in
            .iter()
            .find(|v| v.id == row.version_id)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("database {} has no entry in its version", row.slug)))?;
        let fields = row.fields.0;
        Ok(Some(DatabaseDetail {
            id: row.slug,
            no: row.no,
            name: row.name,
            status: row.status,
            owner: AgencyRef { id: row.owner_slug, name: row.owner_name },
            owner_history: spans
                .into_iter()
                .map(|s| OwnerSpan {
                    agency: AgencyRef { id: s.slug, name: s.name },
                    valid_from: s.valid_from,
                    valid_to: s.valid_to,
                    reason: s.reason,
                })
                .collect(),
            sharing_modes: fields.sharing.modes.clone(),
            cadence: row.cadence.parse().map_err(|c| StoreError::Corrupt(format!("cadence «{c}»")))?,
            fields,
            verbatim: row.raw.0,
            version,
            listed_in,
        }))
    }
}
