//! Catalog versions: each import of a decision's table is a version. The
//! import matches entries to the databases they describe (by folded name),
//! resolves owners through renames and mergers, records ownership from the
//! decision's date, and withdraws databases the new version no longer lists.

use chiase_core::agency::{AgencyKind, FocalContact};
use chiase_core::catalog::{CatalogDiff, CatalogRow, Decision, EntryFields, diff};
use chiase_core::fold::slugify;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::types::Json;

use crate::agencies::{add_event, insert_agency, move_ownership, resolve_by_name};
use crate::databases::bump_generation;
use crate::db::{Conn, Id, Sql};
use crate::{Store, StoreError, now};

/// A catalog version, as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CatalogVersion {
    pub id: i64,
    pub decision_no: String,
    pub decision_date: NaiveDate,
    pub signer: Option<String>,
    pub title: Option<String>,
    pub source_name: String,
    pub source_sha256: String,
    pub source_title: Option<String>,
    pub entry_count: i64,
    pub imported_at: DateTime<Utc>,
}

/// A short reference to a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct VersionRef {
    pub id: i64,
    pub decision_no: String,
    pub decision_date: NaiveDate,
    pub signer: Option<String>,
}

/// Where an imported catalog came from.
#[derive(Debug, Clone)]
pub struct CatalogSource {
    /// The file name, or `builtin:…` for the compiled-in catalog.
    pub name: String,
    pub sha256: String,
    /// The title lines of the file, verbatim.
    pub title: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub version: VersionRef,
    pub entries: usize,
    pub databases_added: usize,
    pub databases_updated: usize,
    pub databases_withdrawn: usize,
    pub agencies_created: Vec<String>,
}

/// A database as the diff names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseRef {
    pub id: String,
    pub no: i64,
    pub name: String,
}

impl Store {
    /// True when no catalog was ever imported (a fresh installation).
    pub async fn catalog_is_empty(&self) -> Result<bool, StoreError> {
        let mut c = self.pools.reader().await?;
        let (n,): (i64,) = c.conn().fetch_one(Sql::new("SELECT count(*) FROM catalog_versions")).await?;
        Ok(n == 0)
    }

    /// Every version, oldest first.
    pub async fn catalog_versions(&self) -> Result<Vec<CatalogVersion>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn().fetch_all(Sql::new("SELECT * FROM catalog_versions ORDER BY decision_date, id")).await
    }

    /// One version by id.
    pub async fn catalog_version(&self, id: i64) -> Result<Option<CatalogVersion>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn().fetch_optional(Sql::new("SELECT * FROM catalog_versions WHERE id = ?").bind(id)).await
    }

    /// The current version (the latest decision) and its entries, each with
    /// the database it describes; `None` before any import.
    pub async fn current_catalog(&self) -> Result<Option<(CatalogVersion, Vec<(DatabaseRef, EntryFields)>)>, StoreError> {
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let Some(v) = conn
            .fetch_optional::<CatalogVersion>(Sql::new("SELECT * FROM catalog_versions ORDER BY decision_date DESC, id DESC LIMIT 1"))
            .await?
        else {
            return Ok(None);
        };
        let entries = version_entries(&mut conn, v.id).await?;
        Ok(Some((v, entries)))
    }

    /// Imports a decision's catalog as a new version, in one transaction.
    ///
    /// Refused when the decision number was imported already, or when the
    /// decision is older than the current version (the catalog only moves
    /// forward; history is in the versions).
    pub async fn import_catalog(
        &self,
        _permit: &chiase_core::policy::CatalogPermit,
        decision: &Decision,
        source: &CatalogSource,
        entries: &[(CatalogRow, EntryFields)],
    ) -> Result<ImportSummary, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let latest: Option<(i64, String, NaiveDate)> = conn
            .fetch_optional(Sql::new(
                "SELECT id, decision_no, decision_date FROM catalog_versions ORDER BY decision_date DESC, id DESC LIMIT 1",
            ))
            .await?;
        if let Some(existing) = conn
            .fetch_optional::<Id>(Sql::new("SELECT id FROM catalog_versions WHERE decision_no = ?").bind(decision.number.as_str()))
            .await?
        {
            return Err(StoreError::conflict(
                format!("quyết định {} đã được nhập (phiên bản {})", decision.number, existing.0),
                format!("decision {} was imported already (version {})", decision.number, existing.0),
            ));
        }
        if let Some((_, no, date)) = &latest
            && decision.date < *date
        {
            return Err(StoreError::conflict(
                format!(
                    "quyết định ngày {} cũ hơn danh mục hiện hành ({} ngày {})",
                    decision.date.format("%d/%m/%Y"),
                    no,
                    date.format("%d/%m/%Y")
                ),
                format!("the decision of {} is older than the current catalog ({no} of {date})", decision.date),
            ));
        }
        let ts = now();
        let Id(version_id) = conn
            .fetch_one(
                Sql::new(
                    "INSERT INTO catalog_versions (decision_no, decision_date, signer, title, source_name, source_sha256, source_title, entry_count, imported_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(decision.number.as_str())
                .bind(decision.date)
                .bind(decision.signer.clone())
                .bind(decision.title.clone())
                .bind(source.name.as_str())
                .bind(source.sha256.as_str())
                .bind(source.title.clone())
                .bind(entries.len() as i64)
                .bind(ts),
            )
            .await?;

        let mut summary = ImportSummary {
            version: VersionRef {
                id: version_id,
                decision_no: decision.number.clone(),
                decision_date: decision.date,
                signer: decision.signer.clone(),
            },
            entries: entries.len(),
            databases_added: 0,
            databases_updated: 0,
            databases_withdrawn: 0,
            agencies_created: vec![],
        };
        let mut listed: Vec<i64> = Vec::with_capacity(entries.len());
        for (row, fields) in entries {
            let owner = match resolve_by_name(&mut conn, &fields.owner_name, decision.date).await? {
                Some(pk) => pk,
                None => {
                    let kind = AgencyKind::from_name(&fields.owner_name);
                    let pk = insert_agency(&mut conn, &fields.owner_name, kind, None, &FocalContact::default()).await?;
                    add_event(
                        &mut conn,
                        pk,
                        "created",
                        decision.date,
                        serde_json::json!({ "name": fields.owner_name, "by_decision": decision.number }),
                    )
                    .await?;
                    summary.agencies_created.push(fields.owner_name.clone());
                    pk
                }
            };
            let existing: Option<Id> =
                conn.fetch_optional(Sql::new("SELECT id FROM databases WHERE name_key = ?").bind(fields.name_key())).await?;
            let fields_json = serde_json::to_value(fields).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let raw_json = serde_json::to_value(row).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let db = match existing {
                Some(Id(db)) => {
                    conn.execute(
                        Sql::new(
                            "UPDATE databases SET no = ?, name = ?, cadence = ?, status = 'listed', version_id = ?, fields = ?, raw = ?, updated_at = ? WHERE id = ?",
                        )
                        .bind(fields.no)
                        .bind(fields.name.as_str())
                        .bind(fields.cadence.code())
                        .bind(version_id)
                        .bind(fields_json.clone())
                        .bind(raw_json.clone())
                        .bind(ts)
                        .bind(db),
                    )
                    .await?;
                    summary.databases_updated += 1;
                    db
                }
                None => {
                    let slug = unique_database_slug(&mut conn, &fields.name).await?;
                    let Id(db) = conn
                        .fetch_one(
                            Sql::new(
                                "INSERT INTO databases (slug, no, name, name_key, owner_id, cadence, status, version_id, fields, raw, created_at, updated_at) \
                                 VALUES (?, ?, ?, ?, ?, ?, 'listed', ?, ?, ?, ?, ?) RETURNING id",
                            )
                            .bind(slug)
                            .bind(fields.no)
                            .bind(fields.name.as_str())
                            .bind(fields.name_key())
                            .bind(owner)
                            .bind(fields.cadence.code())
                            .bind(version_id)
                            .bind(fields_json.clone())
                            .bind(raw_json.clone())
                            .bind(ts)
                            .bind(ts),
                        )
                        .await?;
                    summary.databases_added += 1;
                    db
                }
            };
            move_ownership(&mut conn, db, owner, decision.date, "decision").await?;
            conn.execute(Sql::new("DELETE FROM database_sharing WHERE database_id = ?").bind(db)).await?;
            for mode in &fields.sharing.modes {
                conn.execute(Sql::new("INSERT INTO database_sharing (database_id, mode) VALUES (?, ?)").bind(db).bind(mode.code())).await?;
            }
            conn.execute(
                Sql::new("INSERT INTO catalog_entries (version_id, database_id, no, line, raw, fields) VALUES (?, ?, ?, ?, ?, ?)")
                    .bind(version_id)
                    .bind(db)
                    .bind(fields.no)
                    .bind(row.line as i64)
                    .bind(raw_json)
                    .bind(fields_json),
            )
            .await?;
            listed.push(db);
        }
        // Databases the previous version listed and this one does not.
        let previously: Vec<Id> = conn.fetch_all(Sql::new("SELECT id FROM databases WHERE status = 'listed'")).await?;
        for Id(db) in previously.into_iter().filter(|Id(id)| !listed.contains(id)) {
            conn.execute(Sql::new("UPDATE databases SET status = 'withdrawn', no = NULL, updated_at = ? WHERE id = ?").bind(ts).bind(db))
                .await?;
            summary.databases_withdrawn += 1;
        }
        bump_generation(&mut conn).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// The differences between two versions, field by field.
    pub async fn catalog_diff(&self, from: i64, to: i64) -> Result<CatalogDiff<DatabaseRef>, StoreError> {
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        for id in [from, to] {
            if conn.fetch_optional::<Id>(Sql::new("SELECT id FROM catalog_versions WHERE id = ?").bind(id)).await?.is_none() {
                return Err(StoreError::not_found(format!("không có phiên bản danh mục {id}"), format!("catalog version {id} not found")));
            }
        }
        let old = version_entries(&mut conn, from).await?;
        let new = version_entries(&mut conn, to).await?;
        let old_pairs: Vec<(String, &EntryFields)> = old.iter().map(|(r, f)| (r.id.clone(), f)).collect();
        let new_pairs: Vec<(String, &EntryFields)> = new.iter().map(|(r, f)| (r.id.clone(), f)).collect();
        let d = diff(&old_pairs, &new_pairs);
        let find = |id: &String| -> DatabaseRef {
            new.iter().chain(old.iter()).find(|(r, _)| &r.id == id).map(|(r, _)| r.clone()).expect("BUG: diff keys come from the entries")
        };
        Ok(CatalogDiff {
            added: d.added.iter().map(find).collect(),
            removed: d.removed.iter().map(find).collect(),
            changed: d.changed.into_iter().map(|c| chiase_core::catalog::ChangedEntry { key: find(&c.key), changes: c.changes }).collect(),
            unchanged: d.unchanged,
        })
    }
}

async fn version_entries(conn: &mut Conn<'_>, version: i64) -> Result<Vec<(DatabaseRef, EntryFields)>, StoreError> {
    let rows: Vec<(String, i64, Json<EntryFields>)> = conn
        .fetch_all(
            Sql::new("SELECT d.slug, e.no, e.fields FROM catalog_entries e JOIN databases d ON d.id = e.database_id WHERE e.version_id = ? ORDER BY e.no")
                .bind(version),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(slug, no, fields)| {
            let name = fields.0.name.clone();
            (DatabaseRef { id: slug, no, name }, fields.0)
        })
        .collect())
}

async fn unique_database_slug(conn: &mut Conn<'_>, name: &str) -> Result<String, StoreError> {
    let mut base = slugify(name, 48);
    if base.is_empty() || base.chars().all(|c| c.is_ascii_digit()) {
        base = format!("csdl-{base}");
    }
    let mut slug = base.clone();
    let mut n = 1;
    while conn.fetch_optional::<Id>(Sql::new("SELECT id FROM databases WHERE slug = ?").bind(slug.clone())).await?.is_some() {
        n += 1;
        slug = format!("{base}-{n}");
    }
    Ok(slug)
}
