//! Databases in the catalog: search with facets, one database with its
//! verbatim and derived fields and its ownership history, and the
//! full-text index that search runs on.

use chiase_core::catalog::{Cadence, CatalogRow, EntryFields};
use chiase_core::fold::{index_text, query_terms};
use chiase_core::sharing::SharingMode;
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::types::Json;

use crate::agencies::AgencyRef;
use crate::catalog::VersionRef;
use crate::db::{Backend, Conn, Sql};
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

#[derive(sqlx::FromRow)]
struct SummaryRow {
    slug: String,
    no: Option<i64>,
    name: String,
    owner_slug: String,
    owner_name: String,
    cadence: String,
    fields: Json<EntryFields>,
}

impl SummaryRow {
    fn into_summary(self) -> Result<DatabaseSummary, StoreError> {
        let fields = self.fields.0;
        let mut summary = fields.description.flat();
        if summary.chars().count() > 240 {
            summary = summary.chars().take(239).collect::<String>() + "…";
        }
        Ok(DatabaseSummary {
            id: self.slug,
            no: self.no,
            name: self.name,
            owner: AgencyRef { id: self.owner_slug, name: self.owner_name },
            sharing_modes: fields.sharing.modes.clone(),
            cadence: self.cadence.parse().map_err(|c| StoreError::Corrupt(format!("cadence «{c}»")))?,
            summary,
        })
    }
}

/// The filter part of a search: which listed databases match.
struct Filter {
    /// `d.id IN (…)`-style conditions joined with AND, over `databases d`.
    conditions: Vec<String>,
    values: Vec<sea_query::Value>,
}

impl Filter {
    fn new(query: &DatabaseQuery, fts: Option<&str>, backend: Backend) -> Filter {
        let mut f = Filter { conditions: vec!["d.status = 'listed'".into()], values: vec![] };
        if let Some(expr) = fts {
            f.conditions.push(match backend {
                Backend::Sqlite => "d.id IN (SELECT rowid FROM database_search WHERE database_search MATCH ?)".into(),
                Backend::Postgres => "d.id IN (SELECT database_id FROM database_search WHERE doc @@ to_tsquery('simple', ?))".into(),
            });
            f.values.push(expr.into());
        }
        if !query.agencies.is_empty() {
            f.conditions.push(format!("d.owner_id IN (SELECT id FROM agencies WHERE slug IN ({}))", placeholders(query.agencies.len())));
            f.values.extend(query.agencies.iter().map(|a| a.as_str().into()));
        }
        if !query.sharing.is_empty() {
            f.conditions
                .push(format!("d.id IN (SELECT database_id FROM database_sharing WHERE mode IN ({}))", placeholders(query.sharing.len())));
            f.values.extend(query.sharing.iter().map(|m| m.code().into()));
        }
        if !query.cadences.is_empty() {
            f.conditions.push(format!("d.cadence IN ({})", placeholders(query.cadences.len())));
            f.values.extend(query.cadences.iter().map(|c| c.code().into()));
        }
        f
    }

    fn where_clause(&self) -> String {
        self.conditions.join(" AND ")
    }

    /// `sql` (which must contain the WHERE clause once) with this filter's values bound.
    fn bind_into(&self, sql: String) -> Sql {
        self.values.iter().cloned().fold(Sql::assembled(sql), Sql::bind)
    }
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The engine's full-text expression for folded terms: all of them, or any;
/// the last term also matches as a prefix (search as you type).
fn fts_expression(backend: Backend, terms: &[String], mode: MatchMode) -> String {
    let last = terms.len().saturating_sub(1);
    let parts: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(i, t)| match (backend, i == last) {
            (Backend::Sqlite, false) => format!("\"{t}\""),
            (Backend::Sqlite, true) => format!("\"{t}\"*"),
            (Backend::Postgres, false) => t.clone(),
            (Backend::Postgres, true) => format!("{t}:*"),
        })
        .collect();
    let sep = match (backend, mode) {
        (Backend::Sqlite, MatchMode::All) => " ",
        (Backend::Sqlite, MatchMode::Any) => " OR ",
        (Backend::Postgres, MatchMode::All) => " & ",
        (Backend::Postgres, MatchMode::Any) => " | ",
    };
    parts.join(sep)
}

/// The words in their order, as a phrase: results where they stand side by
/// side rank first ("thu vien" is "thư viện", not "thụ động ... viễn thông").
fn phrase_expression(backend: Backend, terms: &[String]) -> Option<String> {
    (terms.len() > 1).then(|| match backend {
        Backend::Sqlite => format!("\"{}\"", terms.join(" ")),
        Backend::Postgres => terms.join(" <-> "),
    })
}

/// The full-text part of a search.
#[derive(Clone, Copy)]
struct Fts<'a> {
    expr: &'a str,
    phrase: Option<&'a str>,
}

const SUMMARY_COLUMNS: &str = "d.slug, d.no, d.name, a.slug AS owner_slug, a.name AS owner_name, d.cadence, d.fields";

impl Store {
    /// Searches the current catalog: ranked full text with facets.
    pub async fn search_databases(&self, query: &DatabaseQuery) -> Result<DatabasePage, StoreError> {
        let backend = self.backend();
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let terms = query.q.as_deref().map(query_terms).unwrap_or_default();
        if terms.is_empty() {
            return search_once(&mut conn, query, None, None).await;
        }
        let all = fts_expression(backend, &terms, MatchMode::All);
        let phrase = phrase_expression(backend, &terms);
        let page = search_once(&mut conn, query, Some(Fts { expr: &all, phrase: phrase.as_deref() }), Some(MatchMode::All)).await?;
        if page.count > 0 || terms.len() == 1 {
            return Ok(page);
        }
        let any = fts_expression(backend, &terms, MatchMode::Any);
        search_once(&mut conn, query, Some(Fts { expr: &any, phrase: phrase.as_deref() }), Some(MatchMode::Any)).await
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

async fn search_once(
    conn: &mut Conn<'_>,
    query: &DatabaseQuery,
    fts: Option<Fts<'_>>,
    matched: Option<MatchMode>,
) -> Result<DatabasePage, StoreError> {
    let backend = conn.backend();
    let filter = Filter::new(query, fts.map(|f| f.expr), backend);
    let where_clause = filter.where_clause();
    let (count,): (i64,) = conn.fetch_one(filter.bind_into(format!("SELECT count(*) FROM databases d WHERE {where_clause}"))).await?;
    let from = "FROM databases d JOIN agencies a ON a.id = d.owner_id";
    let rows: Vec<SummaryRow> = match (fts, backend) {
        (None, _) => {
            let sql = format!("SELECT {SUMMARY_COLUMNS} {from} WHERE {where_clause} ORDER BY d.no, d.id LIMIT ? OFFSET ?");
            conn.fetch_all(filter.bind_into(sql).bind(query.limit).bind(query.offset)).await?
        }
        (Some(Fts { expr, phrase }), Backend::Sqlite) => {
            // The join does the matching, so the filter goes without it.
            // Phrase matches first, then bm25 with weights name 10, owner 4,
            // description 2, mechanism 1.
            let rest = Filter::new(query, None, backend);
            let phrase_first =
                if phrase.is_some() { "(d.id IN (SELECT rowid FROM database_search WHERE database_search MATCH ?)) DESC," } else { "" };
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} {from} JOIN database_search ON database_search.rowid = d.id \
                 WHERE database_search MATCH ? AND {} \
                 ORDER BY {phrase_first} bm25(database_search, 10.0, 4.0, 2.0, 1.0), d.no LIMIT ? OFFSET ?",
                rest.where_clause()
            );
            let mut sql = rest.values.iter().cloned().fold(Sql::assembled(sql).bind(expr), Sql::bind);
            if let Some(p) = phrase {
                sql = sql.bind(p);
            }
            conn.fetch_all(sql.bind(query.limit).bind(query.offset)).await?
        }
        (Some(Fts { expr, phrase }), Backend::Postgres) => {
            // Phrase matches first, then ts_rank with weights {D, C, B, A} =
            // mechanism, description, owner, name.
            let rest = Filter::new(query, None, backend);
            let phrase_first = if phrase.is_some() { "(s.doc @@ to_tsquery('simple', ?)) DESC," } else { "" };
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} {from} JOIN database_search s ON s.database_id = d.id \
                 WHERE s.doc @@ to_tsquery('simple', ?) AND {} \
                 ORDER BY {phrase_first} ts_rank('{{0.1, 0.2, 0.4, 1.0}}', s.doc, to_tsquery('simple', ?)) DESC, d.no LIMIT ? OFFSET ?",
                rest.where_clause()
            );
            let mut sql = rest.values.iter().cloned().fold(Sql::assembled(sql).bind(expr), Sql::bind);
            if let Some(p) = phrase {
                sql = sql.bind(p);
            }
            conn.fetch_all(sql.bind(expr).bind(query.limit).bind(query.offset)).await?
        }
    };
    let results = rows.into_iter().map(SummaryRow::into_summary).collect::<Result<Vec<_>, _>>()?;

    let agency: Vec<(String, String, i64)> = conn
        .fetch_all(filter.bind_into(format!(
            "SELECT a.slug, a.name, count(*) AS n FROM databases d JOIN agencies a ON a.id = d.owner_id \
             WHERE {where_clause} GROUP BY a.slug, a.name ORDER BY n DESC, a.name"
        )))
        .await?;
    let sharing: Vec<(String, i64)> = conn
        .fetch_all(filter.bind_into(format!(
            "SELECT s.mode, count(*) FROM database_sharing s WHERE s.database_id IN (SELECT d.id FROM databases d WHERE {where_clause}) GROUP BY s.mode"
        )))
        .await?;
    let cadence: Vec<(String, i64)> = conn
        .fetch_all(filter.bind_into(format!("SELECT d.cadence, count(*) FROM databases d WHERE {where_clause} GROUP BY d.cadence")))
        .await?;

    let facets = Facets {
        agency: agency.into_iter().map(|(value, label, count)| FacetValue { value, label, count }).collect(),
        sharing: SharingMode::ALL
            .iter()
            .filter_map(|m| {
                sharing.iter().find(|(v, _)| v == m.code()).map(|(v, n)| FacetValue {
                    value: v.clone(),
                    label: m.label_vi().into(),
                    count: *n,
                })
            })
            .collect(),
        cadence: Cadence::ALL
            .iter()
            .filter_map(|c| {
                cadence.iter().find(|(v, _)| v == c.code()).map(|(v, n)| FacetValue {
                    value: v.clone(),
                    label: c.label("vi").into(),
                    count: *n,
                })
            })
            .collect(),
    };
    Ok(DatabasePage { count, results, facets, matched })
}

/// Rewrites the full-text row of a database from its current name, owner
/// and derived fields.
pub(crate) async fn reindex_database(conn: &mut Conn<'_>, id: i64) -> Result<(), StoreError> {
    let (name, owner, fields): (String, String, Json<EntryFields>) = conn
        .fetch_one(
            Sql::new("SELECT d.name, a.name, d.fields FROM databases d JOIN agencies a ON a.id = d.owner_id WHERE d.id = ?").bind(id),
        )
        .await?;
    let (name, owner) = (index_text(&name), index_text(&owner));
    let description = index_text(&fields.0.description.flat());
    let mechanism = index_text(&fields.0.mechanism.flat());
    remove_from_index(conn, id).await?;
    match conn.backend() {
        Backend::Sqlite => {
            conn.execute(
                Sql::new("INSERT INTO database_search (rowid, name, owner, description, mechanism) VALUES (?, ?, ?, ?, ?)")
                    .bind(id)
                    .bind(name)
                    .bind(owner)
                    .bind(description)
                    .bind(mechanism),
            )
            .await?
        }
        Backend::Postgres => {
            conn.execute(
                Sql::new(
                    "INSERT INTO database_search (database_id, doc) VALUES (?, \
                     setweight(to_tsvector('simple', ?), 'A') || setweight(to_tsvector('simple', ?), 'B') || \
                     setweight(to_tsvector('simple', ?), 'C') || setweight(to_tsvector('simple', ?), 'D'))",
                )
                .bind(id)
                .bind(name)
                .bind(owner)
                .bind(description)
                .bind(mechanism),
            )
            .await?
        }
    };
    Ok(())
}

pub(crate) async fn remove_from_index(conn: &mut Conn<'_>, id: i64) -> Result<(), StoreError> {
    let sql = match conn.backend() {
        Backend::Sqlite => Sql::new("DELETE FROM database_search WHERE rowid = ?"),
        Backend::Postgres => Sql::new("DELETE FROM database_search WHERE database_id = ?"),
    };
    conn.execute(sql.bind(id)).await?;
    Ok(())
}
