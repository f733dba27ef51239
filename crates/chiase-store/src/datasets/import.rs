//! Writing rows: version rows numbered by the dataset's change sequence,
//! the full-text index and the row count kept with them, all or nothing.
//!
//! Two ways in:
//! - [`Writer`]: one transaction (record batches, a patch, a delete, a
//!   small import). Dropping it without `commit` rolls everything back.
//! - [`Store::apply_import`]: a file that was parsed and validated first
//!   (by the server, into a spool, without touching the database). Small
//!   ones, and every import on PostgreSQL (where a long transaction blocks
//!   nobody but writers of the same dataset), go through a `Writer`. On
//!   SQLite, whose one writer every other write waits for, a large import
//!   is applied in short transactions into a **new generation** of the
//!   dataset's table (its history copied first), invisible to readers,
//!   and made current in one short transaction that swaps the table name.
//!   Audited reads, sign-ins and other writes go on between those
//!   transactions. While it runs, the dataset's import lease makes other
//!   writes to that dataset wait (503 with `Retry-After`); a crash leaves
//!   an orphan generation that housekeeping drops.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chiase_core::ids::DatasetId;
use chiase_core::policy::WritePermit;
use chiase_core::schema::{FieldName, Schema, Value};
use chiase_core::{DomainError, Msg};
use serde::Serialize;

use super::ddl::{self, ColumnName, OP_DELETE, OP_INSERT, OP_RESET, OP_UPDATE, TableName, q};
use super::rows::{StoredRow, decode, select_list};
use super::{Dataset, check_permit, import_lease, require_dataset, wait_for_no_import};
use crate::db::{Backend, Conn, Id, Pools, Sql, Tx};
use crate::{Store, StoreError, now};

/// How an import meets the rows already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    /// Add the rows; a key that exists already is an error.
    Append,
    /// Insert new keys, update changed rows, leave identical rows alone.
    Upsert,
    /// The file becomes the whole dataset; earlier rows end.
    Replace,
}

impl std::str::FromStr for ImportMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "append" => Ok(ImportMode::Append),
            "upsert" => Ok(ImportMode::Upsert),
            "replace" => Ok(ImportMode::Replace),
            _ => Err(s.to_string()),
        }
    }
}

impl ImportMode {
    pub fn code(self) -> &'static str {
        match self {
            ImportMode::Append => "append",
            ImportMode::Upsert => "upsert",
            ImportMode::Replace => "replace",
        }
    }
}

/// A valid row to write, with the line it came from.
#[derive(Debug, Clone)]
pub struct ParsedRow {
    pub line: u64,
    pub values: Vec<Value>,
    /// Its full-text body (`Schema::search_text`) when worked out already,
    /// off the thread that writes (folding text is a good part of an
    /// import's work); `None`: worked out when written.
    pub search: Option<Option<String>>,
}

impl ParsedRow {
    pub fn new(line: u64, values: Vec<Value>) -> ParsedRow {
        ParsedRow { line, values, search: None }
    }

    /// A row with its full-text body worked out now.
    pub fn with_search(schema: &Schema, line: u64, values: Vec<Value>) -> ParsedRow {
        let search = Some(schema.search_text(&values));
        ParsedRow { line, values, search }
    }
}

/// A row refused because of the data already stored or earlier in the file.
#[derive(Debug, Clone, Serialize)]
pub struct RowProblem {
    pub line: u64,
    pub field: Option<String>,
    pub value: Option<String>,
    pub code: &'static str,
    pub message: Msg,
}

/// What a write did.
#[derive(Debug, Clone, Serialize)]
pub struct WriteSummary {
    pub dataset: String,
    pub mode: String,
    pub inserted: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
    pub first_seq: i64,
    pub last_seq: i64,
    pub row_count: i64,
}

/// The outcome of applying a staged import.
#[derive(Debug)]
pub enum Applied {
    Done(WriteSummary),
    /// Rows the stored data refused (duplicate keys, unique values); nothing
    /// was written.
    Rejected(Vec<RowProblem>),
    /// The feed ended without saying the file was whole (its staging found
    /// bad rows or failed): nothing was written.
    Abandoned,
}

/// Imports up to this many rows are applied in one transaction even on
/// SQLite (a few tens of milliseconds of the writer).
pub const IN_PLACE_MAX_ROWS: u64 = 5_000;
/// A large import rebuilds the table only when the history to copy is at
/// most this many times the rows imported; beyond, copying would cost more
/// than holding the writer, and the import runs in one transaction.
const MAX_COPY_FACTOR: i64 = 8;
/// What one short transaction of a large import aims to take while others
/// write (an audited read waits for the writer up to this long).
const STEP_BUDGET: Duration = Duration::from_millis(30);
/// What a step may take when nobody has wanted the writer for
/// [`DEMAND_MEMORY`]: fewer commits, and an import alone runs at full speed.
const IDLE_STEP_BUDGET: Duration = Duration::from_millis(150);
/// How long a wait for the writer keeps the steps short.
const DEMAND_MEMORY: Duration = Duration::from_secs(5);
/// The pause between two steps when someone waits for the writer: a
/// transaction that waited for this step goes first.
const STEP_PAUSE: Duration = Duration::from_millis(2);
/// How long an import lease lasts without renewal (a crashed import frees
/// its dataset after this).
const LEASE_SECONDS: i64 = 600;

/// The state of one write to one dataset, whichever transaction it is in.
struct WriteState {
    ds: Dataset,
    /// Where rows go: the dataset's table, or the generation being built.
    table: TableName,
    schema: Arc<Schema>,
    mode: ImportMode,
    batch: i64,
    next_v: i64,
    next_id: i64,
    next_seq: i64,
    first_seq: i64,
    inserted: i64,
    updated: i64,
    deleted: i64,
    unchanged: i64,
    /// Unique fields other than the key: (position, name).
    unique_fields: Vec<(usize, FieldName)>,
    /// Full-text rows (SQLite) not yet written: (version, folded text).
    pending_fts: Vec<(i64, String)>,
    /// PostgreSQL: the temporary table full-text rows are copied through
    /// exists (it lives until the transaction ends).
    staging: bool,
}

/// An open write to one dataset in one transaction.
pub struct Writer {
    tx: Tx,
    pools: Pools,
    state: WriteState,
}

/// The change batch row that names who wrote, opened at the start.
async fn open_batch(conn: &mut Conn<'_>, ds: &Dataset, mode: ImportMode, actor: &str, source: Option<&str>) -> Result<i64, StoreError> {
    let Id(batch) = conn
        .fetch_one(
            Sql::new("INSERT INTO change_batches (dataset_id, kind, first_seq, last_seq, actor, source, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id")
                .bind(ds.pk.get())
                .bind(mode.code())
                .bind(ds.last_seq + 1)
                .bind(ds.last_seq)
                .bind(actor)
                .bind(source.map(str::to_string))
                .bind(now()),
        )
        .await?;
    Ok(batch)
}

impl WriteState {
    async fn new(
        store: &Store,
        conn: &mut Conn<'_>,
        ds: Dataset,
        table: TableName,
        mode: ImportMode,
        actor: &str,
        source: Option<&str>,
    ) -> Result<WriteState, StoreError> {
        let schema = store.schema_of(&ds)?;
        let (last_version, next_id): (i64, i64) =
            conn.fetch_one(Sql::new("SELECT last_version, next_record_id FROM datasets WHERE id = ?").bind(ds.pk.get())).await?;
        let batch = open_batch(conn, &ds, mode, actor, source).await?;
        let unique_fields = schema
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                f.spec.constraints.unique
                    && !schema.key_is(&f.spec.name)
                    && !matches!(f.spec.field_type, chiase_core::schema::FieldType::Geopoint | chiase_core::schema::FieldType::Geojson)
            })
            .map(|(i, f)| (i, f.name.clone()))
            .collect();
        Ok(WriteState {
            next_seq: ds.last_seq + 1,
            first_seq: ds.last_seq + 1,
            next_v: last_version + 1,
            next_id,
            table,
            schema,
            mode,
            batch,
            inserted: 0,
            updated: 0,
            deleted: 0,
            unchanged: 0,
            unique_fields,
            pending_fts: Vec::new(),
            staging: false,
            ds,
        })
    }

    /// Rows per INSERT statement: as many as the engines' parameter limits
    /// allow comfortably, at most 500.
    fn batch_rows(&self) -> usize {
        let cols = ddl::META_COLUMNS.len() + ddl::data_columns(&self.schema).len() + 1;
        (30_000 / cols).clamp(1, 500)
    }

    fn take_seq(&mut self) -> i64 {
        self.next_seq += 1;
        self.next_seq - 1
    }

    fn take_v(&mut self) -> i64 {
        self.next_v += 1;
        self.next_v - 1
    }

    /// The one `reset` change of a replace import; returns its number.
    async fn reset_marker(&mut self, conn: &mut Conn<'_>) -> Result<(i64, i64), StoreError> {
        let seq = self.take_seq();
        let v = self.take_v();
        let t = q(&self.table);
        conn.execute(
            Sql::assembled(format!(
                "INSERT INTO {t} (\"_v\", \"_id\", \"_key\", \"_seq\", \"_end\", \"_op\", \"_batch\") VALUES (?, 0, '', ?, ?, ?, ?)"
            ))
            .bind(v)
            .bind(seq)
            .bind(seq)
            .bind(OP_RESET)
            .bind(self.batch),
        )
        .await?;
        Ok((seq, v))
    }

    /// Ends every current row at once (a replace import, in one transaction).
    async fn reset(&mut self, conn: &mut Conn<'_>) -> Result<(), StoreError> {
        let (seq, v) = self.reset_marker(conn).await?;
        let t = q(&self.table);
        self.deleted += conn
            .execute(Sql::assembled(format!("UPDATE {t} SET \"_end\" = ? WHERE \"_end\" IS NULL AND \"_v\" < ?")).bind(seq).bind(v))
            .await? as i64;
        Ok(())
    }

    /// The canonical key of a row: its primary key, or a new record id.
    fn key_of(&self, values: &[Value]) -> Option<String> {
        self.schema.key_of(values)
    }

    /// Checks keys and unique values within one batch. Across batches (and
    /// against stored rows) the database's unique indexes do the checking,
    /// so memory does not grow with the file.
    fn check_batch(&self, rows: &[&ParsedRow]) -> Vec<RowProblem> {
        let mut problems = Vec::new();
        let mut keys: HashMap<String, u64> = HashMap::new();
        let mut uniques: Vec<HashMap<String, u64>> = vec![HashMap::new(); self.unique_fields.len()];
        for r in rows {
            if let Some(key) = self.key_of(&r.values)
                && let Some(first) = keys.insert(key.clone(), r.line)
            {
                problems.push(self.twice(r.line, Some(first), &key));
            }
            for ((pos, name), seen) in self.unique_fields.iter().zip(&mut uniques) {
                let v = &r.values[*pos];
                if !matches!(v, Value::Null)
                    && let Some(first) = seen.insert(v.key_text(), r.line)
                {
                    problems.push(unique_twice(r.line, Some(first), name.as_str(), &v.key_text()));
                }
            }
        }
        problems
    }

    /// A key seen twice in the file (`first`: where, when known).
    fn twice(&self, line: u64, first: Option<u64>, key: &str) -> RowProblem {
        let key = bounded(key);
        let (vi, en) = match first {
            Some(f) => (
                format!("khóa «{key}» lặp lại trong tệp (đã có ở dòng {f})"),
                format!("key «{key}» appears twice in the file (first on line {f})"),
            ),
            None => (
                format!("khóa «{key}» lặp lại trong tệp (ở một dòng trước)"),
                format!("key «{key}» appears twice in the file (on an earlier line)"),
            ),
        };
        RowProblem {
            line,
            field: Some(self.schema.spec.primary_key.join(",")),
            value: Some(key.to_string()),
            code: "duplicate_key",
            message: Msg::new(vi, en),
        }
    }

    fn exists(&self, line: u64, key: &str) -> RowProblem {
        let key = bounded(key);
        RowProblem {
            line,
            field: Some(self.schema.spec.primary_key.join(",")),
            value: Some(key.to_string()),
            code: "key_exists",
            message: Msg::new(
                format!("khóa «{key}» đã có trong tập dữ liệu (dùng chế độ upsert để cập nhật)"),
                format!("key «{key}» exists already in the dataset (use upsert mode to update)"),
            ),
        }
    }

    /// Writes valid rows. Returns problems found against stored data or
    /// earlier rows; when there are any, the caller must not commit.
    async fn write(&mut self, conn: &mut Conn<'_>, rows: &[ParsedRow]) -> Result<Vec<RowProblem>, StoreError> {
        let upsert = self.mode == ImportMode::Upsert && !self.schema.key.is_empty();
        let mut problems = Vec::new();
        let all: Vec<&ParsedRow> = rows.iter().collect();
        // PostgreSQL's COPY has no parameter limit: a batch is what the
        // stager sends, unless an upsert must look its keys up first.
        let size = if conn.backend() == Backend::Postgres && !upsert { COPY_ROWS } else { self.batch_rows() };
        for chunk in all.chunks(size) {
            problems.extend(self.check_batch(chunk));
            if !problems.is_empty() {
                return Ok(problems);
            }
            let existing: HashMap<String, StoredRow> = if upsert { self.current_by_key(conn, chunk).await? } else { HashMap::new() };
            let mut fresh: Vec<(&ParsedRow, i64, i64, String, i64)> = Vec::with_capacity(chunk.len());
            for r in chunk {
                let key = self.key_of(&r.values);
                match key.as_ref().and_then(|k| existing.get(k)) {
                    // Written by this import already: the key repeats in the file.
                    Some(old) if old.meta.seq >= self.first_seq => problems.push(self.twice(r.line, None, &old.meta.key)),
                    Some(old) if old.values == r.values => self.unchanged += 1,
                    Some(old) => {
                        let seq = self.take_seq();
                        let t = q(&self.table);
                        conn.execute(Sql::assembled(format!("UPDATE {t} SET \"_end\" = ? WHERE \"_v\" = ?")).bind(seq).bind(old.meta.v))
                            .await?;
                        fresh.push((r, old.meta.id, seq, old.meta.key.clone(), OP_UPDATE));
                        self.updated += 1;
                    }
                    None => {
                        let id = self.next_id;
                        self.next_id += 1;
                        let seq = self.take_seq();
                        let key = key.unwrap_or_else(|| id.to_string());
                        fresh.push((r, id, seq, key, OP_INSERT));
                        self.inserted += 1;
                    }
                }
            }
            if !problems.is_empty() {
                return Ok(problems);
            }
            if let Err(e) = self.insert_versions(conn, &fresh).await {
                if !e.is_unique_violation() {
                    return Err(e);
                }
                problems.extend(self.diagnose(conn, chunk).await?);
                if problems.is_empty() {
                    return Err(e);
                }
                return Ok(problems);
            }
        }
        self.flush_fts(conn).await?;
        Ok(problems)
    }

    /// After a unique index refused a batch: which rows clash with stored
    /// rows or with earlier rows of this import, and on which field.
    async fn diagnose(&mut self, conn: &mut Conn<'_>, rows: &[&ParsedRow]) -> Result<Vec<RowProblem>, StoreError> {
        let t = q(&self.table);
        let mut problems = Vec::new();
        let keys: Vec<(u64, String)> = rows.iter().filter_map(|r| self.key_of(&r.values).map(|k| (r.line, k))).collect();
        if !keys.is_empty() {
            let sql =
                format!("SELECT \"_key\", \"_seq\" FROM {t} WHERE \"_end\" IS NULL AND \"_key\" IN ({})", vec!["?"; keys.len()].join(", "));
            let found: Vec<(String, i64)> = conn.fetch_all(keys.iter().fold(Sql::assembled(sql), |s, (_, k)| s.bind(k.as_str()))).await?;
            for (line, k) in &keys {
                if let Some((_, seq)) = found.iter().find(|(f, _)| f == k) {
                    problems.push(if *seq >= self.first_seq { self.twice(*line, None, k) } else { self.exists(*line, k) });
                }
            }
        }
        for (pos, name) in self.unique_fields.clone() {
            let field = &self.schema.fields[pos];
            let values: Vec<(u64, Value)> =
                rows.iter().filter(|r| !matches!(r.values[pos], Value::Null)).map(|r| (r.line, r.values[pos].clone())).collect();
            if values.is_empty() {
                continue;
            }
            let sql =
                format!("SELECT {} FROM {t} WHERE \"_end\" IS NULL AND {} IN ({})", q(&name), q(&name), vec!["?"; values.len()].join(", "));
            let sql = values.iter().fold(Sql::assembled(sql), |s, (_, v)| s.bind(ddl::bind_scalar(v)));
            let raw = conn.fetch_raw(sql).await?;
            let taken: Vec<String> = decode(&raw, &[field], false)?.into_iter().map(|r| r.values[0].key_text()).collect();
            for (line, v) in &values {
                if taken.contains(&v.key_text()) {
                    problems.push(unique_twice(*line, None, name.as_str(), &v.key_text()));
                }
            }
        }
        Ok(problems)
    }

    /// Current rows with the keys of `rows`.
    async fn current_by_key(&self, conn: &mut Conn<'_>, rows: &[&ParsedRow]) -> Result<HashMap<String, StoredRow>, StoreError> {
        let keys: Vec<String> = rows.iter().filter_map(|r| self.key_of(&r.values)).collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let fields: Vec<&chiase_core::schema::Field> = self.schema.fields.iter().collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE \"_end\" IS NULL AND \"_key\" IN ({})",
            select_list(&fields, true),
            q(&self.table),
            vec!["?"; keys.len()].join(", ")
        );
        let sql = keys.into_iter().fold(Sql::assembled(sql), Sql::bind);
        let raw = conn.fetch_raw(sql).await?;
        Ok(decode(&raw, &fields, true)?.into_iter().map(|r| (r.meta.key.clone(), r)).collect())
    }

    /// Inserts new versions: (row, record id, change number, key, change
    /// kind). SQLite: multi-row `INSERT`s; PostgreSQL: [`Self::copy_versions`].
    async fn insert_versions(&mut self, conn: &mut Conn<'_>, fresh: &[(&ParsedRow, i64, i64, String, i64)]) -> Result<(), StoreError> {
        if fresh.is_empty() {
            return Ok(());
        }
        let backend = conn.backend();
        if backend == Backend::Postgres {
            return self.copy_versions(conn, fresh).await;
        }
        let data_cols = ddl::data_columns(&self.schema);
        let search = self.schema.has_search();
        let mut names: Vec<String> = ddl::META_COLUMNS.iter().map(|c| q(&ColumnName::meta(c))).collect();
        names.extend(data_cols.iter().map(|(c, _)| q(c)));
        let one = vec!["?"; ddl::META_COLUMNS.len() + data_cols.len()].join(", ");
        let tuple = format!("({one})");
        let sql = format!("INSERT INTO {} ({}) VALUES {}", q(&self.table), names.join(", "), vec![tuple.as_str(); fresh.len()].join(", "));
        let mut stmt = Sql::assembled(sql);
        let mut values = Vec::with_capacity(data_cols.len());
        for (r, id, seq, key, op) in fresh {
            let v = self.take_v();
            stmt = stmt.bind(v).bind(*id).bind(key.as_str()).bind(*seq).bind(sea_query::Value::BigInt(None)).bind(*op).bind(self.batch);
            values.clear();
            for (f, val) in self.schema.fields.iter().zip(&r.values) {
                ddl::bind_field(f, val, &mut values);
            }
            for val in values.drain(..) {
                stmt = stmt.bind(val);
            }
            let text = match &r.search {
                Some(known) => known.clone(),
                None => self.schema.search_text(&r.values),
            };
            if search && let Some(t) = text {
                self.pending_fts.push((v, t));
            }
        }
        // SQLite undoes only the failed statement when a unique index
        // refuses the batch; a savepoint there would cost a page copy per
        // change and flush the full-text index each time.
        conn.execute(stmt).await?;
        Ok(())
    }

    /// PostgreSQL: new versions sent with `COPY … FROM STDIN`, one stream
    /// per batch rather than a statement of thousands of parameters. With
    /// full text, into a temporary table first (COPY cannot compute the
    /// `tsvector`), then inserted from there in one statement. A savepoint
    /// keeps the transaction usable when a unique index refuses the batch
    /// (PostgreSQL aborts a transaction whose statement fails), so that
    /// the rows at fault can be named.
    async fn copy_versions(&mut self, conn: &mut Conn<'_>, fresh: &[(&ParsedRow, i64, i64, String, i64)]) -> Result<(), StoreError> {
        let search = self.schema.has_search();
        let mut names: Vec<String> = ddl::META_COLUMNS.iter().map(|c| q(&ColumnName::meta(c))).collect();
        names.extend(ddl::data_columns(&self.schema).iter().map(|(c, _)| q(c)));
        let mut data = String::with_capacity(fresh.len() * 256);
        let mut values = Vec::with_capacity(names.len() + 1);
        for (r, id, seq, key, op) in fresh {
            values.clear();
            values.extend([
                self.take_v().into(),
                (*id).into(),
                key.as_str().into(),
                (*seq).into(),
                sea_query::Value::BigInt(None),
                (*op).into(),
                self.batch.into(),
            ]);
            for (f, val) in self.schema.fields.iter().zip(&r.values) {
                ddl::bind_field(f, val, &mut values);
            }
            if search {
                let text = match &r.search {
                    Some(known) => known.clone(),
                    None => self.schema.search_text(&r.values),
                };
                values.push(text.unwrap_or_default().into());
            }
            copy_line(&mut data, &values);
        }
        let t = q(&self.table);
        let stage = format!("\"_stage_{}\"", self.ds.pk.0);
        conn.execute(Sql::new("SAVEPOINT batch")).await?;
        let copied: Result<(), StoreError> = async {
            let target = if search {
                if !self.staging {
                    conn.execute(Sql::assembled(format!(
                        "CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS SELECT {}, ''::text AS \"_search_text\" FROM {t} WITH NO DATA",
                        names.join(", ")
                    )))
                    .await?;
                    self.staging = true;
                }
                format!("{stage} ({}, \"_search_text\")", names.join(", "))
            } else {
                format!("{t} ({})", names.join(", "))
            };
            let Conn::Postgres(pg) = conn else { return Err(StoreError::Corrupt("BUG: COPY on SQLite".into())) };
            let mut copy = pg.copy_in_raw(&format!("COPY {target} FROM STDIN")).await?;
            copy.send(data.as_bytes()).await?;
            copy.finish().await?;
            if search {
                let cols = names.join(", ");
                conn.execute(Sql::assembled(format!(
                    "INSERT INTO {t} ({cols}, \"_search\") SELECT {cols}, to_tsvector('simple', \"_search_text\") FROM {stage}"
                )))
                .await?;
                // TRUNCATE, not DELETE: deleted rows stay in the table until
                // the transaction ends, and every later batch would read them
                // (a 1M-row import took 211 s with DELETE, 141 s with TRUNCATE).
                conn.execute(Sql::assembled(format!("TRUNCATE {stage}"))).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = copied {
            // The temporary table may have been made within the savepoint.
            self.staging = false;
            conn.execute(Sql::new("ROLLBACK TO SAVEPOINT batch")).await?;
            return Err(e);
        }
        conn.execute(Sql::new("RELEASE SAVEPOINT batch")).await?;
        Ok(())
    }

    /// Writes the full-text rows gathered by `insert_versions` (SQLite):
    /// once per write rather than per batch, because FTS5 writes its
    /// pending terms to disk at every statement and a flush per 500 rows
    /// fills the index with tiny segments to merge.
    async fn flush_fts(&mut self, conn: &mut Conn<'_>) -> Result<(), StoreError> {
        for chunk in std::mem::take(&mut self.pending_fts).chunks(5000) {
            let sql =
                format!("INSERT INTO {} (rowid, body) VALUES {}", q(&TableName::fts(self.ds.pk)), vec!["(?, ?)"; chunk.len()].join(", "));
            let stmt = chunk.iter().fold(Sql::assembled(sql), |s, (v, t)| s.bind(*v).bind(t.as_str()));
            conn.execute(stmt).await?;
        }
        Ok(())
    }

    /// Deletes current rows by key: each a numbered change.
    async fn delete(&mut self, conn: &mut Conn<'_>, keys: &[String]) -> Result<i64, StoreError> {
        let mut n = 0;
        let t = q(&self.table);
        for key in keys {
            let found: Option<(i64, i64)> = conn
                .fetch_optional(
                    Sql::assembled(format!("SELECT \"_v\", \"_id\" FROM {t} WHERE \"_end\" IS NULL AND \"_key\" = ?")).bind(key.as_str()),
                )
                .await?;
            let Some((old_v, id)) = found else { continue };
            let seq = self.take_seq();
            let v = self.take_v();
            conn.execute(Sql::assembled(format!("UPDATE {t} SET \"_end\" = ? WHERE \"_v\" = ?")).bind(seq).bind(old_v)).await?;
            conn.execute(
                Sql::assembled(format!(
                    "INSERT INTO {t} (\"_v\", \"_id\", \"_key\", \"_seq\", \"_end\", \"_op\", \"_batch\") VALUES (?, ?, ?, ?, ?, ?, ?)"
                ))
                .bind(v)
                .bind(id)
                .bind(key.as_str())
                .bind(seq)
                .bind(seq)
                .bind(OP_DELETE)
                .bind(self.batch),
            )
            .await?;
            n += 1;
        }
        self.deleted += n;
        Ok(n)
    }

    fn changed(&self) -> bool {
        self.inserted + self.updated + self.deleted > 0
    }

    fn summary(&self) -> WriteSummary {
        WriteSummary {
            dataset: self.ds.id.clone(),
            mode: self.mode.code().into(),
            inserted: self.inserted,
            updated: self.updated,
            deleted: self.deleted,
            unchanged: self.unchanged,
            first_seq: self.first_seq,
            last_seq: self.next_seq - 1,
            row_count: self.ds.row_count + self.inserted - self.deleted,
        }
    }

    /// Makes the write visible: counters, row count, the change batch and
    /// (for a new generation) the table name, in the caller's transaction.
    /// `min_last_version`: versions reserved beyond those used.
    async fn publish(&self, conn: &mut Conn<'_>, min_last_version: i64) -> Result<WriteSummary, StoreError> {
        let s = self.summary();
        let ts = now();
        conn.execute(
            Sql::new(
                "UPDATE datasets SET row_count = ?, last_seq = ?, last_version = ?, next_record_id = ?, table_name = ?, updated_at = ?, \
                 data_updated_at = CASE WHEN ? THEN ? ELSE data_updated_at END WHERE id = ?",
            )
            .bind(s.row_count)
            .bind(s.last_seq)
            .bind((self.next_v - 1).max(min_last_version))
            .bind(self.next_id)
            .bind(self.table.as_str())
            .bind(ts)
            .bind(self.changed())
            .bind(ts)
            .bind(self.ds.pk.get()),
        )
        .await?;
        conn.execute(
            // The batch is dated when it is published: "as of" reads include it only from then.
            Sql::new("UPDATE change_batches SET first_seq = ?, last_seq = ?, rows_inserted = ?, rows_updated = ?, rows_deleted = ?, at = ? WHERE id = ?")
                .bind(self.first_seq)
                .bind(s.last_seq)
                .bind(self.inserted)
                .bind(self.updated)
                .bind(self.deleted)
                .bind(ts)
                .bind(self.batch),
        )
        .await?;
        Ok(s)
    }
}

/// Refreshes the planner's statistics after a large write, so that it picks
/// indexes by their selectivity (SQLite has none until asked).
async fn analyze(pools: &Pools, table: &TableName) -> Result<(), StoreError> {
    let mut c = pools.begin().await?;
    c.conn().execute(Sql::assembled(format!("ANALYZE {}", q(table)))).await?;
    c.commit().await
}

impl Store {
    /// Opens a write to a dataset in one transaction; nothing is visible to
    /// others until [`Writer::commit`].
    pub async fn begin_write(
        &self,
        permit: &WritePermit,
        slug: &str,
        mode: ImportMode,
        actor: &str,
        source: Option<&str>,
    ) -> Result<Writer, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        // Lock the dataset's row: writes to one dataset queue here, so
        // change numbers are dense and ordered.
        conn.execute(Sql::new("UPDATE datasets SET updated_at = updated_at WHERE slug = ?").bind(slug)).await?;
        let ds = require_dataset(&mut conn, slug).await?;
        check_permit(permit.dataset_id(), &ds)?;
        wait_for_no_import(&mut conn, &ds).await?;
        let table = ds.table_name.clone();
        let mut state = WriteState::new(self, &mut conn, ds, table, mode, actor, source).await?;
        if mode == ImportMode::Replace && state.ds.row_count > 0 {
            state.reset(&mut conn).await?;
        }
        Ok(Writer { tx, pools: self.pools.clone(), state })
    }
}

impl Writer {
    pub fn schema(&self) -> &Arc<Schema> {
        &self.state.schema
    }

    pub fn dataset(&self) -> &Dataset {
        &self.state.ds
    }

    /// Writes valid rows. Returns problems found against stored data or
    /// earlier rows; when there are any, the caller must not commit.
    pub async fn write(&mut self, rows: &[ParsedRow]) -> Result<Vec<RowProblem>, StoreError> {
        self.state.write(&mut self.tx.conn(), rows).await
    }

    /// Deletes current rows by key (the record API): each a numbered change.
    pub async fn delete(&mut self, keys: &[String]) -> Result<i64, StoreError> {
        self.state.delete(&mut self.tx.conn(), keys).await
    }

    /// Makes the write visible.
    pub async fn commit(mut self) -> Result<WriteSummary, StoreError> {
        let summary = self.state.publish(&mut self.tx.conn(), 0).await?;
        self.tx.commit().await?;
        if self.state.inserted + self.state.updated + self.state.deleted >= 10_000 {
            analyze(&self.pools, &self.state.table).await?;
        }
        Ok(summary)
    }
}

/// What the feed of an import carries.
#[derive(Debug)]
pub enum Feed {
    Rows(Vec<ParsedRow>),
    /// Every row was sent and the whole file was valid: the import may land.
    /// A feed that closes without it is abandoned (nothing is written).
    End,
}

/// Receives the rows of an import as they are staged.
pub type Batches = tokio::sync::mpsc::Receiver<Feed>;

/// How an import is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// In one transaction of the dataset's table.
    InPlace,
    /// Into a new generation of the table in short transactions, made
    /// current at the end (SQLite).
    Generation,
}

fn refuse_empty() -> StoreError {
    DomainError::invalid(
        "allow_empty",
        Msg::new(
            "tệp không có dòng dữ liệu nào: chế độ replace sẽ xóa hết dữ liệu; nếu đúng ý, hãy thêm allow_empty=true",
            "the file has no rows: replace would empty the dataset; add allow_empty=true if that is what you mean",
        ),
    )
    .into()
}

impl Store {
    /// From how many rows an import into `ds` is better built as a new
    /// table generation: on SQLite, past what one transaction may hold the
    /// writer for, and when copying the dataset's history costs no more
    /// than a few times the import itself. `None`: never (PostgreSQL, where
    /// a long transaction blocks only writers of the same dataset).
    pub fn generation_threshold(&self, ds: &Dataset) -> Option<u64> {
        if self.backend() != Backend::Sqlite {
            return None;
        }
        let history = ds.last_seq.max(ds.row_count).max(0) as u64;
        Some(IN_PLACE_MAX_ROWS.max(history / MAX_COPY_FACTOR as u64))
    }

    /// Applies an import whose rows arrive in `feed` as they are staged:
    /// all of them land, or none (a feed that ends without [`Feed::End`]
    /// is abandoned).
    #[allow(clippy::too_many_arguments)]
    pub async fn apply_import(
        &self,
        permit: &WritePermit,
        slug: &str,
        mode: ImportMode,
        actor: &str,
        source: Option<&str>,
        allow_empty: bool,
        strategy: Strategy,
        feed: Batches,
    ) -> Result<Applied, StoreError> {
        match (strategy, self.backend()) {
            (Strategy::Generation, Backend::Sqlite) => self.apply_as_generation(permit, slug, mode, actor, source, allow_empty, feed).await,
            _ => self.apply_in_place(permit, slug, mode, actor, source, allow_empty, feed).await,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_in_place(
        &self,
        permit: &WritePermit,
        slug: &str,
        mode: ImportMode,
        actor: &str,
        source: Option<&str>,
        allow_empty: bool,
        mut feed: Batches,
    ) -> Result<Applied, StoreError> {
        let mut writer = self.begin_write(permit, slug, mode, actor, source).await?;
        let mut rows = 0;
        loop {
            match feed.recv().await {
                Some(Feed::Rows(batch)) => {
                    rows += batch.len();
                    let problems = writer.write(&batch).await?;
                    if !problems.is_empty() {
                        return Ok(Applied::Rejected(problems));
                    }
                }
                Some(Feed::End) => break,
                None => return Ok(Applied::Abandoned),
            }
        }
        if mode == ImportMode::Replace && rows == 0 && !allow_empty {
            return Err(refuse_empty());
        }
        Ok(Applied::Done(writer.commit().await?))
    }

    /// A large import on SQLite: a new generation of the table, built in
    /// short transactions while the file is still being staged, made
    /// current in one.
    #[allow(clippy::too_many_arguments)]
    async fn apply_as_generation(
        &self,
        permit: &WritePermit,
        slug: &str,
        mode: ImportMode,
        actor: &str,
        source: Option<&str>,
        allow_empty: bool,
        feed: Batches,
    ) -> Result<Applied, StoreError> {
        let holder = format!("{}:{}", std::process::id(), now().timestamp_micros());
        // Take the lease and make the empty table.
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let ds = require_dataset(&mut conn, slug).await?;
        check_permit(permit.dataset_id(), &ds)?;
        wait_for_no_import(&mut conn, &ds).await?;
        conn.execute(
            Sql::new(
                "INSERT INTO job_leases (name, holder, expires_at) VALUES (?, ?, ?) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
            )
            .bind(import_lease(ds.pk))
            .bind(holder.as_str())
            .bind(now() + chrono::Duration::seconds(LEASE_SECONDS)),
        )
        .await?;
        let generation = next_generation(&ds.table_name);
        let new_table = TableName::generation(ds.pk, generation);
        let schema = self.schema_of(&ds)?;
        conn.execute(Sql::assembled(format!("DROP TABLE IF EXISTS {}", q(&new_table)))).await?;
        let (stmts, deferred_indexes) = ddl::create_table_for_load(Backend::Sqlite, ds.pk, &new_table, &schema);
        for stmt in stmts {
            conn.execute(Sql::assembled(stmt)).await?;
        }
        let old_table = ds.table_name.clone();
        let state = WriteState::new(self, &mut conn, ds, new_table.clone(), mode, actor, source).await?;
        tx.commit().await?;
        let mut build = Generation { store: self, lease: holder, state, old_table, deferred_indexes, step_rows: 2_000 };
        match build.run(feed).await {
            Ok(Built::Rejected(problems)) => {
                build.abandon().await?;
                Ok(Applied::Rejected(problems))
            }
            Ok(Built::Abandoned) => {
                build.abandon().await?;
                Ok(Applied::Abandoned)
            }
            Ok(Built::Complete) if mode == ImportMode::Replace && build.state.inserted == 0 && !allow_empty => {
                build.abandon().await?;
                Err(refuse_empty())
            }
            Ok(Built::Complete) => Ok(Applied::Done(build.publish().await?)),
            Err(e) => {
                if let Err(cleanup) = build.abandon().await {
                    tracing::warn!("could not clean up an abandoned import: {cleanup}");
                }
                Err(e)
            }
        }
    }
}

/// How building a generation ended.
enum Built {
    Complete,
    Rejected(Vec<RowProblem>),
    Abandoned,
}

/// The generation after the one a table is (`ds_5` is the first).
fn next_generation(table: &TableName) -> i64 {
    table.as_str().rsplit_once("_g").and_then(|(_, g)| g.parse::<i64>().ok()).unwrap_or(1) + 1
}

/// A new generation of a dataset's table under construction.
struct Generation<'a> {
    store: &'a Store,
    lease: String,
    state: WriteState,
    old_table: TableName,
    /// Keyset indexes built after the last row, before the swap.
    deferred_indexes: Vec<String>,
    /// Rows per transaction, adjusted to take about [`STEP_BUDGET`] (or
    /// [`IDLE_STEP_BUDGET`] while nobody else writes).
    step_rows: usize,
}

impl Generation<'_> {
    /// A short transaction that still holds the dataset's lease, not synced
    /// at commit (the generation is invisible until `publish`).
    async fn step(&self) -> Result<Tx, StoreError> {
        self.step_tx(false).await
    }

    async fn step_tx(&self, synced: bool) -> Result<Tx, StoreError> {
        let mut tx = if synced { self.store.pools.begin().await? } else { self.store.pools.begin_unsynced().await? };
        let n = tx
            .conn()
            .execute(
                Sql::new("UPDATE job_leases SET expires_at = ? WHERE name = ? AND holder = ?")
                    .bind(now() + chrono::Duration::seconds(LEASE_SECONDS))
                    .bind(import_lease(self.state.ds.pk))
                    .bind(self.lease.as_str()),
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Corrupt("the import lost its lease on the dataset (it ran past its expiry)".into()));
        }
        Ok(tx)
    }

    fn adapt(&mut self, rows: usize, took: Duration) {
        if rows == 0 {
            return;
        }
        let per_row = took.as_secs_f64() / rows as f64;
        let (_, recently) = self.store.pools.writer_demand(DEMAND_MEMORY);
        let budget = if recently { STEP_BUDGET } else { IDLE_STEP_BUDGET };
        let ideal = (budget.as_secs_f64() / per_row.max(1e-7)) as usize;
        self.step_rows = ideal.clamp(200, 50_000);
    }

    /// Copies the history, applies a replace's reset, then the rows as
    /// they arrive.
    async fn run(&mut self, mut feed: Batches) -> Result<Built, StoreError> {
        self.copy_history().await?;
        if self.state.mode == ImportMode::Replace {
            self.reset_in_steps().await?;
        }
        let mut pending: Vec<ParsedRow> = Vec::new();
        let mut ended = false;
        loop {
            // Gather a step's worth of rows (or what there is once the feed ends).
            while pending.len() < self.step_rows && !ended {
                match feed.recv().await {
                    Some(Feed::Rows(rows)) => pending.extend(rows),
                    Some(Feed::End) => ended = true,
                    None => return Ok(Built::Abandoned),
                }
            }
            if pending.is_empty() {
                return Ok(Built::Complete);
            }
            let take = pending.len().min(self.step_rows);
            let rows: Vec<ParsedRow> = pending.drain(..take).collect();
            let started = Instant::now();
            let mut tx = self.step().await?;
            let problems = self.state.write(&mut tx.conn(), &rows).await?;
            if !problems.is_empty() {
                return Ok(Built::Rejected(problems));
            }
            self.commit(tx).await?;
            self.adapt(rows.len(), started.elapsed());
            self.pause().await;
        }
    }

    /// Lets others take the writer between two steps: a transaction that
    /// waited for this step goes first. No pause when nobody waits.
    async fn pause(&self) {
        if self.store.pools.writer_demand(DEMAND_MEMORY).0 {
            tokio::time::sleep(STEP_PAUSE).await;
        }
    }

    /// Commits a step. The version numbers it used are reserved in the same
    /// transaction: its full-text rows are keyed by them, and a failed
    /// import's rows must never match a later version.
    async fn commit(&self, mut tx: Tx) -> Result<(), StoreError> {
        tx.conn()
            .execute(
                Sql::new("UPDATE datasets SET last_version = ? WHERE id = ? AND last_version < ?")
                    .bind(self.state.next_v - 1)
                    .bind(self.state.ds.pk.get())
                    .bind(self.state.next_v - 1),
            )
            .await?;
        tx.commit().await
    }

    /// Copies every version of the current table into the new one.
    async fn copy_history(&mut self) -> Result<(), StoreError> {
        let mut cols: Vec<String> = ddl::META_COLUMNS.iter().map(|c| q(&ColumnName::meta(c))).collect();
        cols.extend(ddl::data_columns(&self.state.schema).iter().map(|(c, _)| q(c)));
        let list = cols.join(", ");
        let (old, new) = (q(&self.old_table), q(&self.state.table));
        let mut after = 0i64;
        loop {
            let started = Instant::now();
            let mut tx = self.step().await?;
            let n = tx
                .conn()
                .execute(
                    Sql::assembled(format!("INSERT INTO {new} ({list}) SELECT {list} FROM {old} WHERE \"_v\" > ? ORDER BY \"_v\" LIMIT ?"))
                        .bind(after)
                        .bind(self.step_rows as i64),
                )
                .await?;
            if n == 0 {
                break;
            }
            let (last,): (Option<i64>,) = tx.conn().fetch_one(Sql::assembled(format!("SELECT max(\"_v\") FROM {new}"))).await?;
            tx.commit().await?;
            after = last.unwrap_or(after);
            self.adapt(n as usize, started.elapsed());
            self.pause().await;
        }
        Ok(())
    }

    /// A replace import's reset, in steps: the marker, then current rows
    /// ended a step at a time.
    async fn reset_in_steps(&mut self) -> Result<(), StoreError> {
        let mut tx = self.step().await?;
        let (seq, v) = self.state.reset_marker(&mut tx.conn()).await?;
        self.commit(tx).await?;
        let t = q(&self.state.table);
        loop {
            let started = Instant::now();
            let mut tx = self.step().await?;
            let n = tx
                .conn()
                .execute(
                    Sql::assembled(format!(
                        "UPDATE {t} SET \"_end\" = ? WHERE \"_v\" IN (SELECT \"_v\" FROM {t} WHERE \"_end\" IS NULL AND \"_v\" < ? LIMIT ?)"
                    ))
                    .bind(seq)
                    .bind(v)
                    .bind(self.step_rows as i64),
                )
                .await?;
            tx.commit().await?;
            if n == 0 {
                break;
            }
            self.state.deleted += n as i64;
            self.adapt(n as usize, started.elapsed());
            self.pause().await;
        }
        Ok(())
    }

    /// Makes the new generation current and retires the old one.
    async fn publish(self) -> Result<WriteSummary, StoreError> {
        self.build_deferred_indexes().await?;
        analyze(&self.store.pools, &self.state.table).await?;
        // Synced: this commit makes the generation current, and syncing the
        // log makes every unsynced step before it durable too.
        let mut tx = self.step_tx(true).await?;
        let mut conn = tx.conn();
        let summary = self.state.publish(&mut conn, 0).await?;
        conn.execute(
            Sql::new("INSERT INTO retired_tables (name, dataset_id, retired_at) VALUES (?, ?, ?)")
                .bind(self.old_table.as_str())
                .bind(self.state.ds.pk.get())
                .bind(now()),
        )
        .await?;
        conn.execute(Sql::new("DELETE FROM job_leases WHERE name = ?").bind(import_lease(self.state.ds.pk))).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// The keyset indexes, one transaction each (each holds the writer
    /// for one sort of the current rows: about a second per million), with
    /// a pause between two when someone waits.
    async fn build_deferred_indexes(&self) -> Result<(), StoreError> {
        for stmt in &self.deferred_indexes {
            let started = Instant::now();
            let mut tx = self.step().await?;
            tx.conn().execute(Sql::assembled(stmt.clone())).await?;
            tx.commit().await?;
            tracing::debug!(table = self.state.table.as_str(), ms = started.elapsed().as_millis() as u64, "index built after the load");
            self.pause().await;
        }
        Ok(())
    }

    /// Gives up: the new table, the change batch and the lease go.
    async fn abandon(&self) -> Result<(), StoreError> {
        let mut tx = self.store.pools.begin().await?;
        let mut conn = tx.conn();
        conn.execute(Sql::assembled(format!("DROP TABLE IF EXISTS {}", q(&self.state.table)))).await?;
        conn.execute(Sql::new("DELETE FROM change_batches WHERE id = ?").bind(self.state.batch)).await?;
        conn.execute(
            Sql::new("DELETE FROM job_leases WHERE name = ? AND holder = ?").bind(import_lease(self.state.ds.pk)).bind(self.lease.as_str()),
        )
        .await?;
        tx.commit().await
    }
}

impl Store {
    /// Drops dataset tables that no longer serve: generations retired more
    /// than `grace` ago (readers that loaded the old name have finished),
    /// and generations left by an import that crashed. Returns how many.
    pub async fn drop_retired_tables(&self, grace: chrono::Duration) -> Result<u64, StoreError> {
        let retired: Vec<(String,)> = {
            self.pools
                .reader()
                .await?
                .conn()
                .fetch_all(Sql::new("SELECT name FROM retired_tables WHERE retired_at < ?").bind(now() - grace))
                .await?
        };
        let mut dropped = 0;
        for (name,) in retired {
            let table = TableName::stored(&name)?;
            let mut tx = self.pools.begin().await?;
            tx.conn().execute(Sql::assembled(format!("DROP TABLE IF EXISTS {}", q(&table)))).await?;
            tx.conn().execute(Sql::new("DELETE FROM retired_tables WHERE name = ?").bind(name.as_str())).await?;
            tx.commit().await?;
            dropped += 1;
        }
        if self.backend() == Backend::Sqlite {
            let orphans: Vec<(String,)> = {
                self.pools
                    .reader()
                    .await?
                    .conn()
                    .fetch_all(Sql::new(
                        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name GLOB 'ds_*_g*' \
                         AND m.name NOT IN (SELECT table_name FROM datasets) AND m.name NOT IN (SELECT name FROM retired_tables)",
                    ))
                    .await?
            };
            for (name,) in orphans {
                let Ok(table) = TableName::stored(&name) else { continue };
                let Some(id) = name.strip_prefix("ds_").and_then(|r| r.split('_').next()).and_then(|i| i.parse::<i64>().ok()) else {
                    continue;
                };
                let mut tx = self.pools.begin().await?;
                // Not while an import may still be building it.
                let live: Option<(String,)> = tx
                    .conn()
                    .fetch_optional(
                        Sql::new("SELECT holder FROM job_leases WHERE name = ? AND expires_at > ?")
                            .bind(import_lease(DatasetId(id)))
                            .bind(now()),
                    )
                    .await?;
                if live.is_none() {
                    tx.conn().execute(Sql::assembled(format!("DROP TABLE IF EXISTS {}", q(&table)))).await?;
                    dropped += 1;
                }
                tx.commit().await?;
            }
        }
        Ok(dropped)
    }
}

/// Rows per `COPY` on PostgreSQL (the stager sends 2,000 at a time).
const COPY_ROWS: usize = 2000;

/// One row of `COPY`'s text format: values separated by tabs, `\N` for
/// NULL, backslash, tab, newline and carriage return escaped.
fn copy_line(out: &mut String, values: &[sea_query::Value]) {
    use sea_query::Value as S;
    use std::fmt::Write;
    fn text(out: &mut String, s: &str) {
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
    }
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        // Writing to a String cannot fail.
        let _ = match v {
            S::Bool(Some(b)) => write!(out, "{}", if *b { 't' } else { 'f' }),
            S::Int(Some(n)) => write!(out, "{n}"),
            S::BigInt(Some(n)) => write!(out, "{n}"),
            S::Double(Some(x)) if x.is_nan() => write!(out, "NaN"),
            S::Double(Some(x)) if x.is_infinite() => write!(out, "{}Infinity", if *x < 0.0 { "-" } else { "" }),
            // Rust writes the shortest text that reads back as the same double.
            S::Double(Some(x)) => write!(out, "{x}"),
            S::String(Some(s)) => {
                text(out, s);
                Ok(())
            }
            S::ChronoDate(Some(d)) => write!(out, "{}", d.format("%F")),
            S::ChronoDateTimeUtc(Some(t)) => write!(out, "{}", t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            S::Json(Some(j)) => {
                text(out, &j.to_string());
                Ok(())
            }
            _ => write!(out, "\\N"),
        };
    }
    out.push('\n');
}

/// A value echoed in a report, bounded (a file's cell can be megabytes).
fn bounded(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX { s.to_string() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

fn unique_twice(line: u64, first: Option<u64>, name: &str, value: &str) -> RowProblem {
    let value = bounded(value);
    let (vi, en) = match first {
        Some(f) => (
            format!("giá trị «{value}» của trường duy nhất «{name}» lặp lại trong tệp (đã có ở dòng {f})"),
            format!("value «{value}» of unique field «{name}» appears twice in the file (first on line {f})"),
        ),
        None => (
            format!("giá trị «{value}» của trường duy nhất «{name}» đã có trong tập dữ liệu hoặc ở dòng trước"),
            format!("value «{value}» of unique field «{name}» exists already in the dataset or on an earlier line"),
        ),
    };
    RowProblem { line, field: Some(name.to_string()), value: Some(value), code: "unique", message: Msg::new(vi, en) }
}

/// A dataset to create with its first rows (a resource of a Data Package).
pub struct NewWithRows {
    pub dataset: super::NewDataset,
    pub rows: Vec<ParsedRow>,
}

/// What creating datasets with their rows did, or which of them the store
/// refused rows of (a key repeated, a unique value twice): then nothing
/// was created.
pub enum Created {
    Done(Vec<(Dataset, WriteSummary)>),
    Refused { index: usize, problems: Vec<RowProblem> },
}

impl Store {
    /// Creates every dataset with its rows in one transaction: all of them
    /// or none (DDL is transactional on both engines). For a Data Package
    /// import, whose files are bounded: the rows are in memory.
    pub async fn create_datasets_with_rows(
        &self,
        permit: &chiase_core::policy::CreateDatasetPermit,
        items: &[NewWithRows],
        actor: &str,
        source: Option<&str>,
    ) -> Result<Created, StoreError> {
        let mut made: Vec<DatasetId> = Vec::new();
        let outcome = self.create_all(permit, items, actor, source, &mut made).await;
        if !matches!(outcome, Ok(Created::Done(_))) {
            // Rolled back: SQLite gives the same ids to the next datasets,
            // so schemas cached under these ids must go.
            if let Ok(mut m) = self.schema_cache.0.write() {
                m.retain(|(pk, _), _| !made.contains(pk));
            }
        }
        outcome
    }

    async fn create_all(
        &self,
        permit: &chiase_core::policy::CreateDatasetPermit,
        items: &[NewWithRows],
        actor: &str,
        source: Option<&str>,
        made: &mut Vec<DatasetId>,
    ) -> Result<Created, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut done = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let ds = super::create_in(&mut tx.conn(), permit, &item.dataset, actor).await?;
            made.push(ds.pk);
            let table = ds.table_name.clone();
            let mut state = WriteState::new(self, &mut tx.conn(), ds.clone(), table, ImportMode::Append, actor, source).await?;
            for chunk in item.rows.chunks(2000) {
                let problems = state.write(&mut tx.conn(), chunk).await?;
                if !problems.is_empty() {
                    // The transaction is dropped: rolled back.
                    return Ok(Created::Refused { index, problems });
                }
            }
            let summary = state.publish(&mut tx.conn(), 0).await?;
            done.push((ds, summary));
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(done.len());
        for (ds, summary) in done {
            let fresh = self.dataset(&ds.id).await?.unwrap_or(ds);
            out.push((fresh, summary));
        }
        Ok(Created::Done(out))
    }
}
