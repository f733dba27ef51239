//! Operations: consistent backups, and copying a whole installation from
//! SQLite to PostgreSQL with row counts and checksums compared at the end.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, SecondsFormat, Timelike, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, Row, TypeInfo, ValueRef};

use crate::datasets::ddl::{ColumnName, TableName};
use crate::datasets::{Dataset, ddl};
use crate::db::{Backend, Pools, RawRows, Sql};
use crate::{Store, StoreError};

/// The tables of chiase, parents before children (the order of copying).
const TABLES: &[(&str, &str)] = &[
    ("agencies", "id"),
    ("agency_names", "agency_id, name_key, valid_from"),
    ("agency_events", "id"),
    ("catalog_versions", "id"),
    ("databases", "id"),
    ("database_sharing", "database_id, mode"),
    ("database_owners", "id"),
    ("catalog_entries", "version_id, database_id"),
    ("catalog_generation", "id"),
    ("datasets", "id"),
    ("change_batches", "id"),
    ("dataset_schemas", "dataset_id, version"),
    ("users", "id"),
    ("api_tokens", "id"),
    ("sessions", "id_hash"),
    ("login_attempts", "id"),
    ("setup_tokens", "token_hash"),
    ("oidc_logins", "state_hash"),
    ("sharing_requests", "id"),
    ("notifications", "id"),
    ("audit_events", "seq"),
    ("audit_head", "id"),
    ("audit_checkpoints", "seq, hash"),
    ("open_read_counts", "dataset_id, day"),
    ("job_leases", "name"),
    ("runtime_settings", "key"),
    ("harvest_sources", "id"),
    ("harvest_runs", "id"),
    ("harvested_entries", "source_id, remote_id"),
    ("sync_jobs", "id"),
    ("sync_runs", "id"),
    ("services", "id"),
    ("service_usage", "service_id, consumer, period"),
    ("files", "id"),
];

/// Tables whose rows exist before any data (seeded by migrations): replaced.
const SEEDED: &[&str] = &["catalog_generation", "audit_head"];

/// What a copy did, table by table.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub tables: Vec<TableCheck>,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableCheck {
    pub table: String,
    pub source_rows: i64,
    pub target_rows: i64,
    pub source_checksum: String,
    pub target_checksum: String,
}

impl Store {
    /// A consistent copy of a SQLite installation into `dest` (a new file),
    /// taken while the server runs (`VACUUM INTO`).
    pub async fn backup_sqlite(&self, dest: &Path) -> Result<(), StoreError> {
        if dest.exists() {
            return Err(StoreError::conflict(format!("«{}» đã tồn tại", dest.display()), format!("«{}» exists already", dest.display())));
        }
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                let mut c = write.acquire().await?;
                sqlx::query("VACUUM INTO ?").bind(dest.display().to_string()).execute(&mut *c).await?;
                Ok(())
            }
            Pools::Postgres(_) => Err(StoreError::conflict(
                "sao lưu PostgreSQL bằng pg_dump (xem docs/deploy.md)",
                "back PostgreSQL up with pg_dump (see docs/deploy.md)",
            )),
        }
    }

    /// Whether the store holds nothing yet (a safe target for a copy).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let mut c = self.pools.reader().await?;
        let (n,): (i64,) = c
            .conn()
            .fetch_one(Sql::new(
                "SELECT (SELECT count(*) FROM agencies) + (SELECT count(*) FROM users) + (SELECT count(*) FROM audit_events)",
            ))
            .await?;
        Ok(n == 0)
    }

    /// Copies everything from this (SQLite) store into `target` (PostgreSQL,
    /// migrated and empty), then compares counts and checksums of every
    /// table. Dataset tables are created on the target from their schemas.
    pub async fn copy_to(&self, target: &Store, progress: &dyn Fn(&str, i64)) -> Result<MigrationReport, StoreError> {
        if self.backend() != Backend::Sqlite || target.backend() != Backend::Postgres {
            return Err(StoreError::conflict("chỉ sao chép từ SQLite sang PostgreSQL", "copies go from SQLite to PostgreSQL only"));
        }
        if !target.is_empty().await? {
            return Err(StoreError::conflict("cơ sở dữ liệu đích đã có dữ liệu", "the target database is not empty"));
        }
        let datasets = self.datasets(None).await?;
        // One read transaction: the copy and its check see one snapshot of
        // the source even if something writes to it meanwhile.
        let mut source = self.pools.begin_read().await?;
        let mut tx = target.pools.begin().await?;
        for (table, order) in TABLES {
            if SEEDED.contains(table) {
                tx.conn().execute(Sql::assembled(format!("DELETE FROM {table}"))).await?;
            }
            let n = copy_table(&mut source, &mut tx, &TableName::internal(table), order, None).await?;
            progress(table, n);
        }
        for ds in &datasets {
            let schema = self.schema_of(ds)?;
            for stmt in ddl::create_table(Backend::Postgres, ds.pk, &ds.table_name, &schema) {
                tx.conn().execute(Sql::assembled(stmt)).await?;
            }
            let n = copy_table(&mut source, &mut tx, &ds.table_name, "\"_v\"", Some((self, ds))).await?;
            progress(ds.table_name.as_str(), n);
        }
        // Identity columns continue after the copied ids.
        for (table, order) in TABLES {
            if *order == "id" && !SEEDED.contains(table) {
                tx.conn()
                    .execute(Sql::assembled(format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
                    )))
                    .await?;
            }
        }
        tx.commit().await?;
        let mut checks = Vec::new();
        let names: Vec<(TableName, String)> = TABLES
            .iter()
            .map(|(t, o)| (TableName::internal(t), o.to_string()))
            .chain(datasets.iter().map(|d| (d.table_name.clone(), "\"_v\"".to_string())))
            .collect();
        for (table, order) in names {
            let types = pg_types(&target.pools, &table).await?;
            let (sn, sc) = checksum(&mut source.conn(), &table, &order, &types).await?;
            let (tn, tc) = checksum(&mut target.pools.reader().await?.conn(), &table, &order, &types).await?;
            checks.push(TableCheck {
                table: table.to_string(),
                source_rows: sn,
                target_rows: tn,
                source_checksum: sc,
                target_checksum: tc,
            });
        }
        let ok = checks.iter().all(|c| c.source_rows == c.target_rows && c.source_checksum == c.target_checksum);
        Ok(MigrationReport { tables: checks, ok })
    }
}

/// PostgreSQL column types of a table, by column name.
async fn pg_types(pools: &Pools, table: &TableName) -> Result<BTreeMap<String, String>, StoreError> {
    let mut c = pools.reader().await?;
    let rows: Vec<(String, String)> = c
        .conn()
        .fetch_all(
            Sql::new(
                "SELECT column_name::text, udt_name::text FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            )
            .bind(table.as_str()),
        )
        .await?;
    Ok(rows.into_iter().collect())
}

/// One SQLite value as text (or NULL), whatever its storage class.
fn sqlite_text(row: &SqliteRow, i: usize) -> Result<Option<String>, StoreError> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(None);
    }
    let kind = raw.type_info().name().to_string();
    Ok(Some(match kind.as_str() {
        "INTEGER" => row.try_get::<i64, _>(i)?.to_string(),
        "REAL" => row.try_get::<f64, _>(i)?.to_string(),
        _ => row.try_get::<String, _>(i)?,
    }))
}

/// Copies one table in pages, each value cast to the target column's type.
async fn copy_table(
    source: &mut crate::db::Tx,
    tx: &mut crate::db::Tx,
    table: &TableName,
    order: &str,
    dataset: Option<(&Store, &Dataset)>,
) -> Result<i64, StoreError> {
    let types = {
        let mut conn = tx.conn();
        let rows: Vec<(String, String)> = conn
            .fetch_all(
                Sql::new("SELECT column_name::text, udt_name::text FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position").bind(table.as_str()),
            )
            .await?;
        rows
    };
    let schema = match dataset {
        Some((store, ds)) => Some(store.schema_of(ds)?),
        None => None,
    };
    let mut copied = 0i64;
    let mut offset = 0i64;
    loop {
        let sql = format!("SELECT * FROM {} ORDER BY {order} LIMIT 2000 OFFSET ?", ddl::q(table));
        let raw = source.conn().fetch_raw(Sql::assembled(sql).bind(offset)).await?;
        let RawRows::Sqlite(rows) = &raw else { unreachable!("BUG: the source is SQLite") };
        if rows.is_empty() {
            break;
        }
        offset += rows.len() as i64;
        let cols: Vec<String> = rows[0].columns().iter().map(|c| c.name().to_string()).collect();
        let mut target_cols: Vec<String> = cols.clone();
        let search = schema.as_ref().is_some_and(|s| s.has_search());
        if search {
            target_cols.push("_search".into());
        }
        let one: Vec<String> = target_cols
            .iter()
            .map(|c| {
                if c == "_search" {
                    return "to_tsvector('simple', ?)".to_string();
                }
                let t = types.iter().find(|(n, _)| n == c).map(|(_, t)| t.as_str()).unwrap_or("text");
                format!("CAST(? AS {t})")
            })
            .collect();
        let tuple = format!("({})", one.join(", "));
        let quoted: Vec<String> = target_cols.iter().map(|c| ColumnName::catalog(c).map(|c| ddl::q(&c))).collect::<Result<_, _>>()?;
        let mut stmt = Sql::assembled(format!(
            "INSERT INTO {} ({}) VALUES {}",
            ddl::q(table),
            quoted.join(", "),
            vec![tuple.as_str(); rows.len()].join(", ")
        ));
        let decoded = match (&schema, search) {
            (Some(s), true) => {
                let fields: Vec<&chiase_core::schema::Field> = s.fields.iter().collect();
                let sel = super::datasets::rows::decode(&raw, &fields, true)?;
                Some(sel.into_iter().map(|r| s.search_text(&r.values).unwrap_or_default()).collect::<Vec<_>>())
            }
            _ => None,
        };
        for (k, row) in rows.iter().enumerate() {
            for i in 0..cols.len() {
                stmt = stmt.bind(sea_query::Value::String(sqlite_text(row, i)?));
            }
            if let Some(texts) = &decoded {
                stmt = stmt.bind(texts[k].clone());
            }
        }
        tx.conn().execute(stmt).await?;
        copied += rows.len() as i64;
    }
    Ok(copied)
}

/// A value normalised for comparison across engines, by the PostgreSQL type
/// of its column (timestamps to microseconds, booleans as words, JSON
/// canonical).
fn normalise(pg_type: &str, text: Option<String>) -> String {
    let Some(t) = text else { return "\u{0}".into() };
    match pg_type {
        // PostgreSQL keeps microseconds, rounding; SQLite kept the text.
        "timestamptz" => DateTime::parse_from_rfc3339(&t.replace(' ', "T"))
            .map(|d| d.with_timezone(&Utc))
            .or_else(|_| t.parse::<DateTime<Utc>>())
            .map(|d| {
                let micros = (d.timestamp_subsec_nanos() as i64 + 500) / 1000;
                let rounded = d.with_nanosecond(0).unwrap_or(d) + chrono::Duration::microseconds(micros);
                rounded.to_rfc3339_opts(SecondsFormat::Micros, true)
            })
            .unwrap_or(t),
        "bool" => match t.as_str() {
            "1" | "true" | "t" => "true".into(),
            _ => "false".into(),
        },
        "jsonb" => serde_json::from_str::<serde_json::Value>(&t).map(|v| crate::audit::canonical(&v)).unwrap_or(t),
        "float8" => t.parse::<f64>().map(|x| x.to_string()).unwrap_or(t),
        "date" => NaiveDate::parse_from_str(&t, "%Y-%m-%d").map(|d| d.to_string()).unwrap_or(t),
        _ => t,
    }
}

fn pg_text(row: &PgRow, i: usize, t: &str) -> Result<Option<String>, StoreError> {
    Ok(match t {
        "int8" => row.try_get::<Option<i64>, _>(i)?.map(|v| v.to_string()),
        "int4" => row.try_get::<Option<i32>, _>(i)?.map(|v| v.to_string()),
        "int2" => row.try_get::<Option<i16>, _>(i)?.map(|v| v.to_string()),
        "float8" => row.try_get::<Option<f64>, _>(i)?.map(|v| v.to_string()),
        "bool" => row.try_get::<Option<bool>, _>(i)?.map(|v| v.to_string()),
        "date" => row.try_get::<Option<NaiveDate>, _>(i)?.map(|v| v.to_string()),
        "timestamptz" => row.try_get::<Option<DateTime<Utc>>, _>(i)?.map(|v| v.to_rfc3339_opts(SecondsFormat::Micros, true)),
        "jsonb" => row.try_get::<Option<serde_json::Value>, _>(i)?.map(|v| v.to_string()),
        _ => row.try_get::<Option<String>, _>(i)?,
    })
}

/// Row count and SHA-256 over every row's normalised values (the columns
/// both engines have, in PostgreSQL's order).
async fn checksum(
    c: &mut crate::db::Conn<'_>,
    table: &TableName,
    order: &str,
    types: &BTreeMap<String, String>,
) -> Result<(i64, String), StoreError> {
    let cols: Vec<(&String, &String)> = types.iter().filter(|(c, _)| c.as_str() != "_search").collect();
    let list: Vec<String> = cols.iter().map(|(c, _)| ColumnName::catalog(c).map(|c| ddl::q(&c))).collect::<Result<_, _>>()?;
    let mut h = Sha256::new();
    let mut n = 0i64;
    let mut offset = 0i64;
    loop {
        let sql = format!("SELECT {} FROM {} ORDER BY {order} LIMIT 5000 OFFSET ?", list.join(", "), ddl::q(table));
        let rows = c.fetch_raw(Sql::assembled(sql).bind(offset)).await?;
        if rows.is_empty() {
            break;
        }
        offset += rows.len() as i64;
        match rows {
            RawRows::Sqlite(rs) => {
                for r in rs {
                    for (i, (_, t)) in cols.iter().enumerate() {
                        h.update(normalise(t, sqlite_text(&r, i)?).as_bytes());
                        h.update([0x1f]);
                    }
                    h.update([0x1e]);
                    n += 1;
                }
            }
            RawRows::Postgres(rs) => {
                for r in rs {
                    for (i, (_, t)) in cols.iter().enumerate() {
                        h.update(normalise(t, pg_text(&r, i, t)?).as_bytes());
                        h.update([0x1f]);
                    }
                    h.update([0x1e]);
                    n += 1;
                }
            }
        }
    }
    Ok((n, h.finalize().iter().map(|b| format!("{b:02x}")).collect()))
}
