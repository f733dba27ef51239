//! Reading a dataset's rows through a `ReadPermit`: filtered, searched,
//! sorted, keyset-paged, faceted, as of a past time, and the change feed.
//! Every query here selects only the fields the permit lets the subject
//! see; there is no other way to read rows out of chiase-store.

use chiase_core::policy::{FilesPermit, ReadPermit, WritePermit};
use chiase_core::query::{Cursor, Query};
use chiase_core::schema::{Field, Value};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ddl::{OP_DELETE, OP_INSERT, OP_RESET, OP_UPDATE, q};
use super::plan::{self, Pred};
use super::rows::{StoredRow, decode, fetch_rows, select_list};
use super::{Dataset, check_permit};
use crate::db::Sql;
use crate::recorder::Unrecorded;
use crate::{Store, StoreError};

/// Filtered counts stop here unless an exact total is asked for.
pub const COUNT_CAP: i64 = 1_000;

/// A page of records.
#[derive(Debug, Clone)]
pub struct RecordPage {
    pub total: i64,
    pub total_exact: bool,
    pub records: Vec<StoredRow>,
    /// The fields in `records[i].values`, as schema positions.
    pub fields: Vec<usize>,
    pub next: Option<String>,
    /// The page holds fewer rows than asked although more may match: the
    /// filter is sparse in the requested order and the read stopped at its
    /// bound. `next` continues after the last row examined.
    pub partial: bool,
    /// How the store read it (for logs and tests): `exact walk`, `walk`,
    /// `gather`, `partial walk`, `engine`, `as of`.
    pub path: &'static str,
    /// Per faceted field: values and counts, most frequent first.
    pub facets: Vec<(usize, Vec<(Value, i64)>)>,
    /// The change number the page reflects.
    pub seq: i64,
}

/// One entry of the change feed.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub seq: i64,
    pub op: &'static str,
    pub id: i64,
    /// The row's primary key, for readers who see every key field (for
    /// others, `null`: rows are followed by their record id).
    pub key: Option<String>,
    /// The new values (visible fields only) for inserts and updates.
    pub values: Option<serde_json::Map<String, serde_json::Value>>,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// A page of the change feed.
#[derive(Debug, Clone, Serialize)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// Pass as `since` to continue.
    pub next_since: i64,
    pub last_seq: i64,
}

/// A WHERE clause under construction: SQL fragments and their values.
struct Where {
    parts: Vec<String>,
    values: Vec<sea_query::Value>,
}

impl Where {
    fn new(snapshot: Option<i64>) -> Where {
        let alive = plan::alive(snapshot);
        Where { parts: vec![alive.sql], values: alive.values }
    }

    fn push(&mut self, part: String, values: impl IntoIterator<Item = sea_query::Value>) {
        self.parts.push(part);
        self.values.extend(values);
    }

    fn add(&mut self, p: Pred) {
        self.push(p.sql, p.values);
    }

    fn sql(&self) -> String {
        self.parts.join(" AND ")
    }

    fn bind_into(&self, sql: String) -> Sql {
        self.values.iter().cloned().fold(Sql::assembled(sql), Sql::bind)
    }
}

/// Checks that a permit covers the dataset and every field the query uses.
fn check_fields(permit: &ReadPermit, query: &Query) -> Result<(), StoreError> {
    let used = query
        .fields
        .iter()
        .chain(query.conditions.iter().map(|c| &c.field))
        .chain(query.sort.iter().map(|k| &k.field))
        .chain(query.facets.iter());
    for f in used {
        if !permit.visible().contains(f) {
            return Err(StoreError::Corrupt(format!("BUG: query uses field {f} the permit does not show")));
        }
    }
    Ok(())
}

impl Store {
    /// The change number that was current at `at` (0 before any change).
    pub async fn seq_at(&self, ds: &Dataset, at: DateTime<Utc>) -> Result<i64, StoreError> {
        let mut c = self.pools.reader().await?;
        let (seq,): (Option<i64>,) = c
            .conn()
            .fetch_one(Sql::new("SELECT max(last_seq) FROM change_batches WHERE dataset_id = ? AND at <= ?").bind(ds.pk.get()).bind(at))
            .await?;
        Ok(seq.unwrap_or(0))
    }

    /// A page of records. `snapshot` reads the data as of a change number
    /// (exports pass one so that every page reads the same state).
    pub async fn read_records(
        &self,
        permit: &ReadPermit,
        ds: &Dataset,
        query: &Query,
        snapshot: Option<i64>,
    ) -> Result<Unrecorded<RecordPage>, StoreError> {
        check_permit(permit.dataset_id(), ds)?;
        check_fields(permit, query)?;
        let schema = self.schema_of(ds)?;
        let backend = self.backend();
        let snapshot = match (snapshot, query.as_of) {
            (Some(s), _) => Some(s),
            (None, Some(at)) => Some(self.seq_at(ds, at).await?),
            (None, None) => None,
        };
        if !query.terms.is_empty() && !schema.has_search() {
            return Err(chiase_core::DomainError::invalid(
                "q",
                chiase_core::Msg::new(
                    "tập dữ liệu không có trường nào được tìm kiếm toàn văn",
                    "the dataset has no full-text searchable field",
                ),
            )
            .into());
        }
        let mut w = Where::new(snapshot);
        for c in &query.conditions {
            w.add(plan::condition_sql(backend, &schema.fields[c.field], c));
        }
        if !query.terms.is_empty() {
            w.add(plan::fts_sql(backend, ds.pk, &query.terms));
        }
        if let Some(b) = &query.bbox {
            w.add(plan::bbox_sql(&schema, b));
        }
        let table = q(&ds.table_name);
        let fields: Vec<&Field> = query.fields.iter().map(|i| &schema.fields[*i]).collect();
        // The sort fields are read too, to make the next cursor.
        let mut all_fields = fields.clone();
        all_fields.extend(query.sort.iter().map(|k| &schema.fields[k.field]));
        let indexes = if snapshot.is_none() { Some(self.index_set(ds).await?) } else { None };
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();

        let mut path = "as of";
        let (mut rows, partial_after, total, total_exact) = match &indexes {
            // Current rows: the planner chooses the access path.
            Some(indexes) => {
                let req = plan::PageRequest {
                    backend,
                    schema: &schema,
                    table: &ds.table_name,
                    dataset: ds.pk,
                    query,
                    indexes,
                    select: &all_fields,
                    limit: query.limit,
                    bounds: self.plan_bounds(),
                };
                let page = req.read(&mut conn).await?;
                let (total, exact) = if !query.is_filtered() {
                    (ds.row_count, true)
                } else if query.exact_total {
                    let (n,): (i64,) = conn.fetch_one(w.bind_into(format!("SELECT count(*) FROM {table} WHERE {}", w.sql()))).await?;
                    (n, true)
                } else {
                    req.count(&mut conn, &page, COUNT_CAP).await?
                };
                tracing::debug!(dataset = %ds.id, path = page.path.name(), "records page");
                path = page.path.name();
                (page.rows, page.partial_after, total, exact)
            }
            // As of a past change: every version is a candidate; the engine plans.
            None => {
                let (total, exact) = if query.exact_total {
                    let (n,): (i64,) = conn.fetch_one(w.bind_into(format!("SELECT count(*) FROM {table} WHERE {}", w.sql()))).await?;
                    (n, true)
                } else {
                    let sql = format!("SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {} LIMIT ?) capped", w.sql());
                    let (n,): (i64,) = conn.fetch_one(w.bind_into(sql).bind(COUNT_CAP + 1)).await?;
                    if n > COUNT_CAP { (COUNT_CAP, false) } else { (n, true) }
                };
                let mut page_where = Where { parts: w.parts.clone(), values: w.values.clone() };
                if let Some(cursor) = &query.after {
                    page_where.add(plan::after_sql(&schema, &query.sort, cursor)?);
                }
                let sql = format!(
                    "SELECT {} FROM {table} WHERE {} ORDER BY {} LIMIT ?",
                    select_list(&all_fields, true),
                    page_where.sql(),
                    plan::order_sql(&schema, &query.sort)
                );
                let raw = conn.fetch_raw(page_where.bind_into(sql).bind(query.limit as i64 + 1)).await?;
                (decode(&raw, &all_fields, true)?, None, total, exact)
            }
        };
        let more = rows.len() > query.limit;
        rows.truncate(query.limit);
        let next = if more {
            rows.last().map(|last| {
                let sort_values = last.values[fields.len()..].iter().map(Value::to_json).collect();
                Cursor { keys: query.sort_signature(&schema), sort_values, last_v: last.meta.v }.encode()
            })
        } else {
            partial_after.as_ref().map(Cursor::encode)
        };
        let partial = !more && partial_after.is_some();
        for r in &mut rows {
            r.values.truncate(fields.len());
        }

        let mut facets = Vec::new();
        for f in &query.facets {
            let field = &schema.fields[*f];
            let col = q(&field.name);
            let sql =
                format!("SELECT {col}, count(*) FROM {table} WHERE {} GROUP BY {col} ORDER BY count(*) DESC, {col} LIMIT 50", w.sql());
            let raw = conn.fetch_raw(w.bind_into(sql)).await?;
            let counts = facet_rows(&raw, field)?;
            facets.push((*f, counts));
        }
        let seq = snapshot.unwrap_or(ds.last_seq);
        let n = rows.len() as i64;
        Ok(Unrecorded::new(
            RecordPage { total, total_exact, records: rows, fields: query.fields.clone(), next, partial, facets, seq, path },
            ds.pk,
            n,
        ))
    }

    /// One record by its canonical key, or by its record id (current, or
    /// as of a change number). Only a reader who sees every key field may
    /// look rows up by key: otherwise a 404 against a 200 would tell them
    /// whether, say, a citizen's ID number is in the dataset.
    pub async fn read_record(
        &self,
        permit: &ReadPermit,
        ds: &Dataset,
        address: &RecordAddress,
        snapshot: Option<i64>,
    ) -> Result<Unrecorded<Option<StoredRow>>, StoreError> {
        check_permit(permit.dataset_id(), ds)?;
        let schema = self.schema_of(ds)?;
        let fields: Vec<&Field> = permit.visible().iter().map(|i| &schema.fields[*i]).collect();
        let mut w = Where::new(snapshot);
        match address {
            RecordAddress::Key(key) if permit.sees_key() => w.push("\"_key\" = ?".into(), [key.as_str().into()]),
            RecordAddress::Key(_) => return Err(key_hidden()),
            RecordAddress::Id(id) => w.push("\"_id\" = ?".into(), [(*id).into()]),
        }
        let sql =
            format!("SELECT {} FROM {} WHERE {} ORDER BY \"_v\" DESC LIMIT 1", select_list(&fields, true), q(&ds.table_name), w.sql());
        let mut c = self.pools.reader().await?;
        let row = fetch_rows(&mut c.conn(), w.bind_into(sql), &fields, true).await?.into_iter().next();
        let n = row.is_some() as i64;
        Ok(Unrecorded::new(row, ds.pk, n))
    }

    /// The change feed: every insert, update and delete after `since`, in
    /// order, with the new values of the fields the subject may see.
    pub async fn changes(&self, permit: &ReadPermit, ds: &Dataset, since: i64, limit: i64) -> Result<Unrecorded<ChangePage>, StoreError> {
        check_permit(permit.dataset_id(), ds)?;
        let schema = self.schema_of(ds)?;
        let fields: Vec<&Field> = permit.visible().iter().map(|i| &schema.fields[*i]).collect();
        // Only published changes: a large import writes its versions before
        // it makes them visible at once.
        let sql = format!(
            "SELECT {} FROM {} WHERE \"_seq\" > ? AND \"_seq\" <= ? ORDER BY \"_seq\" LIMIT ?",
            select_list(&fields, true),
            q(&ds.table_name)
        );
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let raw = conn.fetch_raw(Sql::assembled(sql).bind(since).bind(ds.last_seq).bind(limit)).await?;
        let rows = decode(&raw, &fields, true)?;
        let mut batches: Vec<(i64, String, DateTime<Utc>)> = Vec::new();
        let mut ids: Vec<i64> = rows.iter().map(|r| r.meta.batch).collect();
        ids.sort_unstable();
        ids.dedup();
        if !ids.is_empty() {
            let sql = format!("SELECT id, actor, at FROM change_batches WHERE id IN ({})", vec!["?"; ids.len()].join(", "));
            batches = conn.fetch_all(ids.iter().fold(Sql::assembled(sql), |s, id| s.bind(*id))).await?;
        }
        let sees_key = permit.sees_key();
        let changes = rows
            .iter()
            .map(|r| {
                let (actor, at) = batches.iter().find(|b| b.0 == r.meta.batch).map(|b| (b.1.clone(), b.2)).unwrap_or_default();
                let op = match r.meta.op {
                    OP_INSERT => "insert",
                    OP_UPDATE => "update",
                    OP_DELETE => "delete",
                    OP_RESET => "reset",
                    _ => "unknown",
                };
                let values = matches!(r.meta.op, OP_INSERT | OP_UPDATE).then(|| record_json(&fields, r));
                let key = (sees_key && r.meta.op != OP_RESET).then(|| r.meta.key.clone());
                Change { seq: r.meta.seq, op, id: r.meta.id, key, values, actor, at }
            })
            .collect::<Vec<_>>();
        let next_since = changes.last().map(|c| c.seq).unwrap_or(since);
        let n = changes.len() as i64;
        Ok(Unrecorded::new(ChangePage { changes, next_since, last_seq: ds.last_seq }, ds.pk, n))
    }
}

/// A row as a JSON object of its fields (in schema order).
pub fn record_json(fields: &[&Field], r: &StoredRow) -> serde_json::Map<String, serde_json::Value> {
    fields.iter().zip(&r.values).map(|(f, v)| (f.spec.name.clone(), v.to_json())).collect()
}

fn facet_rows(raw: &crate::db::RawRows, field: &Field) -> Result<Vec<(Value, i64)>, StoreError> {
    use sqlx::Row;
    let values = decode(raw, &[field], false)?;
    let counts: Vec<i64> = match raw {
        crate::db::RawRows::Sqlite(rs) => rs.iter().map(|r| r.try_get::<i64, _>(1)).collect::<Result<_, _>>()?,
        crate::db::RawRows::Postgres(rs) => rs.iter().map(|r| r.try_get::<i64, _>(1)).collect::<Result<_, _>>()?,
    };
    Ok(values.into_iter().map(|r| r.values.into_iter().next().unwrap_or(Value::Null)).zip(counts).collect())
}

impl Store {
    /// The current row with every field, for a writer merging a partial
    /// change (a PATCH). Needs a write permit: a steward of the owner.
    pub async fn current_row(&self, permit: &WritePermit, ds: &Dataset, key: &str) -> Result<Option<StoredRow>, StoreError> {
        check_permit(permit.dataset_id(), ds)?;
        let schema = self.schema_of(ds)?;
        let fields: Vec<&Field> = schema.fields.iter().collect();
        let sql = format!("SELECT {} FROM {} WHERE \"_end\" IS NULL AND \"_key\" = ?", select_list(&fields, true), q(&ds.table_name));
        let mut c = self.pools.reader().await?;
        let raw = c.conn().fetch_raw(Sql::assembled(sql).bind(key)).await?;
        Ok(decode(&raw, &fields, true)?.into_iter().next())
    }
}

/// How a record is named in a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordAddress {
    /// Its primary key, canonical (readers who see every key field).
    Key(String),
    /// Its record id (`_id`), which every reader sees.
    Id(i64),
}

/// The refusal of a lookup by key to a reader who does not see every key
/// field (the same whatever the key, so that it tells nothing about it).
pub fn key_hidden() -> StoreError {
    StoreError::Domain(chiase_core::DomainError::Forbidden(chiase_core::Msg::new(
        "bạn không được xem khóa chính của tập dữ liệu này: hãy tìm bản ghi theo mã bản ghi (records/_id/{mã})",
        "you may not see this dataset's primary key: look records up by their record id (records/_id/{id})",
    )))
}

impl Store {
    /// The files attached to a dataset (those who see every field).
    pub async fn files(&self, permit: &FilesPermit, ds: &Dataset) -> Result<Unrecorded<Vec<crate::files::FileInfo>>, StoreError> {
        check_permit(permit.dataset_id(), ds)?;
        let files = self.file_rows(ds, None).await?;
        let n = files.len() as i64;
        Ok(Unrecorded::new(files, ds.pk, n))
    }

    /// One attached file's record.
    pub async fn file(
        &self,
        permit: &FilesPermit,
        ds: &Dataset,
        id: i64,
    ) -> Result<Unrecorded<Option<crate::files::FileInfo>>, StoreError> {
        check_permit(permit.dataset_id(), ds)?;
        let file = self.file_rows(ds, Some(id)).await?.into_iter().next();
        let n = file.is_some() as i64;
        Ok(Unrecorded::new(file, ds.pk, n))
    }
}
