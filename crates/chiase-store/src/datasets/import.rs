//! Writing rows: one transaction per import or batch of records, version
//! rows numbered by the dataset's change sequence, the full-text index and
//! the row count kept in the same transaction. Dropping a writer without
//! `commit` rolls everything back: an import lands whole or not at all.

use std::collections::HashMap;
use std::sync::Arc;

use chiase_core::Msg;
use chiase_core::policy::WritePermit;
use chiase_core::schema::{Schema, Value};
use serde::Serialize;

use super::ddl::{self, OP_DELETE, OP_INSERT, OP_RESET, OP_UPDATE, q};
use super::rows::{StoredRow, decode, select_list};
use super::{Dataset, check_permit, require_dataset};
use crate::db::{Backend, Id, Sql, Tx};
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

/// An open write to one dataset.
pub struct Writer {
    tx: Tx,
    pools: crate::db::Pools,
    ds: Dataset,
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
    /// Current rows existed before this write (keys must be checked).
    had_rows: bool,
    /// Unique fields other than the key: (position, name).
    unique_fields: Vec<(usize, String)>,
}

impl Store {
    /// Opens a write to a dataset; nothing is visible to others until
    /// [`Writer::commit`].
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
        let schema = self.schema_of(&ds)?;
        let (last_version, next_id): (i64, i64) =
            conn.fetch_one(Sql::new("SELECT last_version, next_record_id FROM datasets WHERE id = ?").bind(ds.pk)).await?;
        let ts = now();
        let Id(batch) = conn
            .fetch_one(
                Sql::new("INSERT INTO change_batches (dataset_id, kind, first_seq, last_seq, actor, source, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id")
                    .bind(ds.pk)
                    .bind(mode.code())
                    .bind(ds.last_seq + 1)
                    .bind(ds.last_seq)
                    .bind(actor)
                    .bind(source.map(str::to_string))
                    .bind(ts),
            )
            .await?;
        let unique_fields = schema
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                f.spec.constraints.unique
                    && !schema.key_is(&f.spec.name)
                    && !matches!(f.spec.field_type, chiase_core::schema::FieldType::Geopoint | chiase_core::schema::FieldType::Geojson)
            })
            .map(|(i, f)| (i, f.spec.name.clone()))
            .collect();
        let mut w = Writer {
            pools: self.pools.clone(),
            had_rows: ds.row_count > 0,
            next_seq: ds.last_seq + 1,
            first_seq: ds.last_seq + 1,
            next_v: last_version + 1,
            next_id,
            tx,
            schema,
            mode,
            batch,
            inserted: 0,
            updated: 0,
            deleted: 0,
            unchanged: 0,
            unique_fields,
            ds,
        };
        if mode == ImportMode::Replace && w.had_rows {
            w.reset().await?;
        }
        Ok(w)
    }
}

impl Writer {
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    pub fn dataset(&self) -> &Dataset {
        &self.ds
    }

    /// Rows per INSERT statement: as many as the engines' parameter limits
    /// allow comfortably, at most 500.
    pub fn batch_rows(&self) -> usize {
        let cols = ddl::META_COLUMNS.len() + ddl::data_columns(&self.schema).len() + 1;
        (30_000 / cols).clamp(1, 500)
    }

    /// Ends every current row with one `reset` change (a replace import).
    async fn reset(&mut self) -> Result<(), StoreError> {
        let seq = self.take_seq();
        let v = self.take_v();
        let t = q(&self.ds.table_name);
        let mut conn = self.tx.conn();
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
        self.deleted += conn
            .execute(Sql::assembled(format!("UPDATE {t} SET \"_end\" = ? WHERE \"_end\" IS NULL AND \"_v\" < ?")).bind(seq).bind(v))
            .await? as i64;
        self.had_rows = false;
        Ok(())
    }

    fn take_seq(&mut self) -> i64 {
        self.next_seq += 1;
        self.next_seq - 1
    }

    fn take_v(&mut self) -> i64 {
        self.next_v += 1;
        self.next_v - 1
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
                    problems.push(unique_twice(r.line, Some(first), name, &v.key_text()));
                }
            }
        }
        problems
    }

    /// A key seen twice in the file (`first`: where, when known).
    fn twice(&self, line: u64, first: Option<u64>, key: &str) -> RowProblem {
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
    pub async fn write(&mut self, rows: &[ParsedRow]) -> Result<Vec<RowProblem>, StoreError> {
        let upsert = self.mode == ImportMode::Upsert && !self.schema.key.is_empty();
        let mut problems = Vec::new();
        let all: Vec<&ParsedRow> = rows.iter().collect();
        for chunk in all.chunks(self.batch_rows()) {
            problems.extend(self.check_batch(chunk));
            if !problems.is_empty() {
                return Ok(problems);
            }
            let existing: HashMap<String, StoredRow> = if upsert { self.current_by_key(chunk).await? } else { HashMap::new() };
            let mut fresh: Vec<(&ParsedRow, i64, i64, String, i64)> = Vec::with_capacity(chunk.len());
            for r in chunk {
                let key = self.key_of(&r.values);
                match key.as_ref().and_then(|k| existing.get(k)) {
                    // Written by this import already: the key repeats in the file.
                    Some(old) if old.meta.seq >= self.first_seq => problems.push(self.twice(r.line, None, &old.meta.key)),
                    Some(old) if old.values == r.values => self.unchanged += 1,
                    Some(old) => {
                        let seq = self.take_seq();
                        let t = q(&self.ds.table_name);
                        self.tx
                            .conn()
                            .execute(Sql::assembled(format!("UPDATE {t} SET \"_end\" = ? WHERE \"_v\" = ?")).bind(seq).bind(old.meta.v))
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
            if let Err(e) = self.insert_versions(&fresh).await {
                if !is_unique_violation(&e) {
                    return Err(e);
                }
                problems.extend(self.diagnose(chunk).await?);
                if problems.is_empty() {
                    return Err(e);
                }
                return Ok(problems);
            }
        }
        Ok(problems)
    }

    /// After a unique index refused a batch: which rows clash with stored
    /// rows or with earlier rows of this import, and on which field.
    async fn diagnose(&mut self, rows: &[&ParsedRow]) -> Result<Vec<RowProblem>, StoreError> {
        let t = q(&self.ds.table_name);
        let mut problems = Vec::new();
        let keys: Vec<(u64, String)> = rows.iter().filter_map(|r| self.key_of(&r.values).map(|k| (r.line, k))).collect();
        if !keys.is_empty() {
            let sql =
                format!("SELECT \"_key\", \"_seq\" FROM {t} WHERE \"_end\" IS NULL AND \"_key\" IN ({})", vec!["?"; keys.len()].join(", "));
            let found: Vec<(String, i64)> =
                self.tx.conn().fetch_all(keys.iter().fold(Sql::assembled(sql), |s, (_, k)| s.bind(k.as_str()))).await?;
            for (line, k) in &keys {
                if let Some((_, seq)) = found.iter().find(|(f, _)| f == k) {
                    problems.push(if *seq >= self.first_seq { self.twice(*line, None, k) } else { self.exists(*line, k) });
                }
            }
        }
        for (pos, name) in self.unique_fields.clone() {
            let field = &self.schema.fields[pos];
            let values: Vec<(u64, chiase_core::schema::Value)> =
                rows.iter().filter(|r| !matches!(r.values[pos], Value::Null)).map(|r| (r.line, r.values[pos].clone())).collect();
            if values.is_empty() {
                continue;
            }
            let sql =
                format!("SELECT {} FROM {t} WHERE \"_end\" IS NULL AND {} IN ({})", q(&name), q(&name), vec!["?"; values.len()].join(", "));
            let sql = values.iter().fold(Sql::assembled(sql), |s, (_, v)| s.bind(ddl::bind_scalar(v)));
            let raw = self.tx.conn().fetch_raw(sql).await?;
            let taken: Vec<String> = decode(&raw, &[field], false)?.into_iter().map(|r| r.values[0].key_text()).collect();
            for (line, v) in &values {
                if taken.contains(&v.key_text()) {
                    problems.push(unique_twice(*line, None, &name, &v.key_text()));
                }
            }
        }
        Ok(problems)
    }

    /// Current rows with the keys of `rows`.
    async fn current_by_key(&mut self, rows: &[&ParsedRow]) -> Result<HashMap<String, StoredRow>, StoreError> {
        let keys: Vec<String> = rows.iter().filter_map(|r| self.key_of(&r.values)).collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let fields: Vec<&chiase_core::schema::Field> = self.schema.fields.iter().collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE \"_end\" IS NULL AND \"_key\" IN ({})",
            select_list(&fields, true),
            q(&self.ds.table_name),
            vec!["?"; keys.len()].join(", ")
        );
        let sql = keys.into_iter().fold(Sql::assembled(sql), Sql::bind);
        let raw = self.tx.conn().fetch_raw(sql).await?;
        Ok(decode(&raw, &fields, true)?.into_iter().map(|r| (r.meta.key.clone(), r)).collect())
    }

    /// Inserts new versions: (row, record id, change number, key, change kind).
    async fn insert_versions(&mut self, fresh: &[(&ParsedRow, i64, i64, String, i64)]) -> Result<(), StoreError> {
        if fresh.is_empty() {
            return Ok(());
        }
        let backend = self.tx.conn().backend();
        let data_cols = ddl::data_columns(&self.schema);
        let search = self.schema.has_search();
        let mut names: Vec<String> = ddl::META_COLUMNS.iter().map(|c| q(c)).collect();
        names.extend(data_cols.iter().map(|(c, _)| q(c)));
        let pg_search = search && backend == Backend::Postgres;
        if pg_search {
            names.push("\"_search\"".into());
        }
        let mut one = vec!["?"; ddl::META_COLUMNS.len() + data_cols.len()].join(", ");
        if pg_search {
            one.push_str(", to_tsvector('simple', ?)");
        }
        let tuple = format!("({one})");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            q(&self.ds.table_name),
            names.join(", "),
            vec![tuple.as_str(); fresh.len()].join(", ")
        );
        let mut stmt = Sql::assembled(sql);
        let mut fts: Vec<(i64, String)> = Vec::new();
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
            let text = self.schema.search_text(&r.values);
            if pg_search {
                stmt = stmt.bind(text.unwrap_or_default());
            } else if search && let Some(t) = text {
                fts.push((v, t));
            }
        }
        let mut conn = self.tx.conn();
        // A savepoint, so that a refused batch (a unique index) leaves the
        // transaction usable for diagnosing it (PostgreSQL aborts it otherwise).
        conn.execute(Sql::new("SAVEPOINT batch")).await?;
        if let Err(e) = conn.execute(stmt).await {
            conn.execute(Sql::new("ROLLBACK TO SAVEPOINT batch")).await?;
            return Err(e);
        }
        conn.execute(Sql::new("RELEASE SAVEPOINT batch")).await?;
        if !fts.is_empty() {
            let sql = format!(
                "INSERT INTO {} (rowid, body) VALUES {}",
                q(&ddl::fts_name(&self.ds.table_name)),
                vec!["(?, ?)"; fts.len()].join(", ")
            );
            let stmt = fts.into_iter().fold(Sql::assembled(sql), |s, (v, t)| s.bind(v).bind(t));
            conn.execute(stmt).await?;
        }
        Ok(())
    }

    /// Deletes current rows by key (the record API): each a numbered change.
    pub async fn delete(&mut self, keys: &[String]) -> Result<i64, StoreError> {
        let mut n = 0;
        for key in keys {
            let t = q(&self.ds.table_name);
            let found: Option<(i64, i64)> = self
                .tx
                .conn()
                .fetch_optional(
                    Sql::assembled(format!("SELECT \"_v\", \"_id\" FROM {t} WHERE \"_end\" IS NULL AND \"_key\" = ?")).bind(key.as_str()),
                )
                .await?;
            let Some((old_v, id)) = found else { continue };
            let seq = self.take_seq();
            let v = self.take_v();
            let mut conn = self.tx.conn();
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

    /// Makes the write visible: counters, row count and the change batch
    /// are updated in the same transaction.
    pub async fn commit(mut self) -> Result<WriteSummary, StoreError> {
        let last_seq = self.next_seq - 1;
        let row_count = self.ds.row_count + self.inserted - self.deleted;
        let ts = now();
        let mut conn = self.tx.conn();
        let changed = self.inserted + self.updated + self.deleted > 0;
        conn.execute(
            Sql::new(
                "UPDATE datasets SET row_count = ?, last_seq = ?, last_version = ?, next_record_id = ?, updated_at = ?, \
                 data_updated_at = CASE WHEN ? THEN ? ELSE data_updated_at END WHERE id = ?",
            )
            .bind(row_count)
            .bind(last_seq)
            .bind(self.next_v - 1)
            .bind(self.next_id)
            .bind(ts)
            .bind(changed)
            .bind(ts)
            .bind(self.ds.pk),
        )
        .await?;
        conn.execute(
            // The batch is dated at commit: "as of" reads include it only from then.
            Sql::new("UPDATE change_batches SET first_seq = ?, last_seq = ?, rows_inserted = ?, rows_updated = ?, rows_deleted = ?, at = ? WHERE id = ?")
                .bind(self.first_seq)
                .bind(last_seq)
                .bind(self.inserted)
                .bind(self.updated)
                .bind(self.deleted)
                .bind(ts)
                .bind(self.batch),
        )
        .await?;
        self.tx.commit().await?;
        // After a large write, refresh the planner's statistics so that it
        // picks indexes by their selectivity (SQLite has none until asked).
        if self.inserted + self.updated + self.deleted >= 10_000 {
            let mut c = self.pools.begin().await?;
            c.conn().execute(Sql::assembled(format!("ANALYZE {}", q(&self.ds.table_name)))).await?;
            c.commit().await?;
        }
        Ok(WriteSummary {
            dataset: self.ds.id.clone(),
            mode: self.mode.code().into(),
            inserted: self.inserted,
            updated: self.updated,
            deleted: self.deleted,
            unchanged: self.unchanged,
            first_seq: self.first_seq,
            last_seq,
            row_count,
        })
    }
}

fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Db(sqlx::Error::Database(db)) if db.is_unique_violation())
}

fn unique_twice(line: u64, first: Option<u64>, name: &str, value: &str) -> RowProblem {
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
    RowProblem { line, field: Some(name.to_string()), value: Some(value.to_string()), code: "unique", message: Msg::new(vi, en) }
}
