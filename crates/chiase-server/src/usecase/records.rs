//! Reading and writing a dataset's rows: a page of records, one record,
//! the change feed; batches of records, a patch, a delete. Reads go
//! through the policy's read permit and are recorded before the rows are
//! handed back; writes through its write permit and are recorded after
//! they commit.

use std::sync::Arc;

use chiase_core::policy::{ReadPermit, decide_write};
use chiase_core::query::{self, Query};
use chiase_core::schema::{Schema, Value as FieldValue};
use chiase_store::datasets::Dataset;
use chiase_store::datasets::import::{ImportMode, ParsedRow};
use chiase_store::datasets::records::{ChangePage, RecordAddress, RecordPage};
use chiase_store::datasets::rows::StoredRow;
use chiase_store::recorder::ReadContext;
use serde_json::{Value, json};

use super::imports::{ImportReport, MAX_REPORTED, ReportError, rejected};
use super::{find_dataset, find_dataset_for_read, read_permit, record_change};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A query error is a 400 naming the parameter.
pub fn query_error(e: query::QueryError) -> ApiError {
    ApiError::bad_request(e.message.vi, e.message.en).with_fields(json!({ e.param: ["invalid"] }))
}

/// A page of records as read, with what is needed to show it.
pub struct Page {
    pub ds: Arc<Dataset>,
    pub schema: Arc<Schema>,
    pub page: RecordPage,
}

/// A page of records: filters, search, sort, keyset, facets, as of a time.
pub async fn read_page(
    app: &AppState,
    caller: &Caller,
    id: &str,
    pairs: &[(String, String)],
    query_string: Option<&str>,
) -> Result<Page, ApiError> {
    let ds = find_dataset_for_read(app, id).await?;
    let permit = read_permit(app, caller, &ds).await?;
    let schema = app.store.schema_of(&ds)?;
    let q: Query = query::parse(pairs, &schema, permit.visible()).map_err(query_error)?;
    let read = app.store.read_records(&permit, &ds, &q, None).await?;
    let page =
        app.recorder.record_read(&permit, &ds, read, ReadContext { actor: &caller.actor, surface: "records", query: query_string }).await?;
    Ok(Page { ds, schema, page })
}

/// One record as read.
pub struct Record {
    pub ds: Arc<Dataset>,
    pub schema: Arc<Schema>,
    pub permit: ReadPermit,
    pub row: StoredRow,
}

/// How a record is named in a URL: `records/{key}` (its primary key, for
/// readers who see every key field) or `records/_id/{n}` (its record id).
pub enum Address<'a> {
    Key(&'a str),
    Id(&'a str),
}

/// One record, current or as of a time.
pub async fn read_one(
    app: &AppState,
    caller: &Caller,
    id: &str,
    address: Address<'_>,
    as_of: Option<&str>,
    query_string: Option<&str>,
) -> Result<Record, ApiError> {
    let ds = find_dataset_for_read(app, id).await?;
    let permit = read_permit(app, caller, &ds).await?;
    let schema = app.store.schema_of(&ds)?;
    let (address, shown) = match address {
        // Refused before the key is read: a reader who may not see the key
        // gets the same answer whatever was sent (not "not an integer").
        Address::Key(_) if !permit.sees_key() => return Err(chiase_store::datasets::records::key_hidden().into()),
        Address::Key(k) => (RecordAddress::Key(schema.key_from_url(k).map_err(|e| ApiError::bad_request(e.message.vi, e.message.en))?), k),
        Address::Id(n) => (
            RecordAddress::Id(n.parse().map_err(|_| {
                ApiError::bad_request(format!("mã bản ghi phải là số nguyên, gặp «{n}»"), format!("a record id is an integer, got «{n}»"))
            })?),
            n,
        ),
    };
    let snapshot = match as_of {
        Some(t) => Some(
            app.store
                .seq_at(
                    &ds,
                    query::parse_instant(t)
                        .ok_or_else(|| ApiError::bad_request("«as_of» phải là thời điểm ISO 8601", "«as_of» must be an ISO 8601 time"))?,
                )
                .await?,
        ),
        None => None,
    };
    let read = app.store.read_record(&permit, &ds, &address, snapshot).await?;
    let q = format!("record={shown}&{}", query_string.unwrap_or(""));
    let row =
        app.recorder.record_read(&permit, &ds, read, ReadContext { actor: &caller.actor, surface: "record", query: Some(&q) }).await?;
    let row = row.ok_or_else(|| not_found_record(shown))?;
    Ok(Record { ds, schema, permit, row })
}

/// The change feed after `since`.
pub async fn changes(
    app: &AppState,
    caller: &Caller,
    id: &str,
    since: i64,
    limit: i64,
    query_string: Option<&str>,
) -> Result<ChangePage, ApiError> {
    let ds = find_dataset(app, id).await?;
    let permit = read_permit(app, caller, &ds).await?;
    let read = app.store.changes(&permit, &ds, since, limit).await?;
    Ok(app.recorder.record_read(&permit, &ds, read, ReadContext { actor: &caller.actor, surface: "changes", query: query_string }).await?)
}

fn not_found_record(key: &str) -> ApiError {
    let shown: String = key.chars().take(100).collect();
    ApiError::not_found(format!("không có bản ghi «{shown}»"), format!("no record «{shown}»"))
}

/// At most 100,000 records a request (files go through `/import`).
fn check_batch_size(n: usize) -> Result<(), ApiError> {
    if n > 100_000 {
        return Err(ApiError::bad_request(
            "tối đa 100.000 bản ghi mỗi lần; hãy dùng /import",
            "at most 100,000 records per request; use /import",
        ));
    }
    Ok(())
}

fn not_an_object(n: u64) -> ReportError {
    ReportError::new(n, None, None, "type", "mỗi bản ghi phải là một đối tượng JSON", "each record must be a JSON object")
}

/// Reports record `n`'s field problems (up to `MAX_REPORTED` in all);
/// returns how many there were.
fn report_problems(
    schema: &Schema,
    n: u64,
    obj: &serde_json::Map<String, Value>,
    problems: Vec<(usize, chiase_core::schema::FieldError)>,
    errors: &mut Vec<ReportError>,
) -> u64 {
    let count = problems.len() as u64;
    for (f, e) in problems {
        if errors.len() < MAX_REPORTED {
            let column = (f != usize::MAX).then(|| schema.fields[f].spec.name.clone());
            let value = column.as_ref().and_then(|c| obj.get(c)).map(|v| v.to_string());
            errors.push(ReportError::new(n, column, value, e.code, e.message.vi, e.message.en));
        }
    }
    count
}

/// Parses JSON records (an array, or one object) against the schema; every
/// bad record is reported with its position.
fn parse_records(schema: &Schema, body: Value, base: Option<&[FieldValue]>) -> Result<Vec<ParsedRow>, ApiError> {
    let items = match body {
        Value::Array(a) => a,
        v @ Value::Object(_) => vec![v],
        _ => {
            return Err(ApiError::bad_request(
                "nội dung phải là một đối tượng hoặc mảng đối tượng JSON",
                "the body must be a JSON object or an array of objects",
            ));
        }
    };
    check_batch_size(items.len())?;
    let mut rows = Vec::with_capacity(items.len());
    let mut errors: Vec<ReportError> = Vec::new();
    let mut total = 0u64;
    for (i, item) in items.into_iter().enumerate() {
        let n = i as u64 + 1;
        let Value::Object(obj) = item else {
            total += 1;
            errors.push(not_an_object(n));
            continue;
        };
        match schema.parse_json_row(&obj, base) {
            Ok(values) => rows.push(ParsedRow::new(n, values)),
            Err(problems) => total += report_problems(schema, n, &obj, problems, &mut errors),
        }
    }
    if total > 0 {
        return Err(rejected(ImportReport::new(rows.len() as u64 + total, total, errors)));
    }
    Ok(rows)
}

/// Writes parsed rows in one transaction, records the change.
async fn write_rows(app: &AppState, caller: &Caller, ds: &Dataset, mode: ImportMode, rows: Vec<ParsedRow>) -> Result<Value, ApiError> {
    let permit = decide_write(&caller.subject, &ds.facts())?;
    let mut writer = app.store.begin_write(&permit, &ds.id, mode, &caller.actor.name, Some("api")).await?;
    let problems = writer.write(&rows).await?;
    if !problems.is_empty() {
        return Err(refused(rows.len(), problems));
    }
    let summary = writer.commit().await?;
    let detail = json!({ "mode": mode.code(), "inserted": summary.inserted, "updated": summary.updated, "seq": [summary.first_seq, summary.last_seq] });
    record_change(app, caller, "write", Some(ds), ds.id.clone(), detail).await?;
    serde_json::to_value(summary).map_err(|e| ApiError::internal(&e))
}

/// The store's refusal of some rows, as a report (409 when every problem
/// is a key that exists already).
fn refused(rows: usize, problems: Vec<chiase_store::datasets::import::RowProblem>) -> ApiError {
    let conflict = problems.iter().all(|p| p.code == "key_exists");
    let errors: Vec<ReportError> = problems.into_iter().map(ReportError::from).collect();
    let mut e = rejected(ImportReport::new(rows as u64, errors.len() as u64, errors));
    if conflict {
        e.status = axum::http::StatusCode::CONFLICT;
    }
    e
}

/// What an agency's system pushes (`usecase::sync::push`): whole records
/// upserted by primary key and keys (as in a record's URL) deleted, in one
/// transaction; a bad record or key changes nothing.
pub async fn upsert_and_delete(
    app: &AppState,
    caller: &Caller,
    ds: &Dataset,
    items: Vec<Value>,
    deleted: &[String],
) -> Result<chiase_store::datasets::import::WriteSummary, ApiError> {
    let permit = decide_write(&caller.subject, &ds.facts())?;
    let schema = app.store.schema_of(ds)?;
    if schema.key.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "no_primary_key",
            "tập dữ liệu không có khóa chính: không nhận dữ liệu đẩy (cập nhật theo khóa)",
            "the dataset has no primary key: pushes (upserts by key) need one",
        ));
    }
    let rows = if items.is_empty() { vec![] } else { parse_records(&schema, Value::Array(items), None)? };
    let mut keys = Vec::with_capacity(deleted.len());
    for k in deleted {
        keys.push(schema.key_from_url(k).map_err(|e| ApiError::bad_request(e.message.vi, e.message.en))?);
    }
    let mut writer = app.store.begin_write(&permit, &ds.id, ImportMode::Upsert, &caller.actor.name, Some("push")).await?;
    let problems = writer.write(&rows).await?;
    if !problems.is_empty() {
        return Err(refused(rows.len(), problems));
    }
    let removed = if keys.is_empty() { 0 } else { writer.delete(&keys).await? };
    let summary = writer.commit().await?;
    let detail = json!({ "inserted": summary.inserted, "updated": summary.updated, "deleted": removed, "seq": [summary.first_seq, summary.last_seq] });
    record_change(app, caller, "push", Some(ds), ds.id.clone(), detail).await?;
    Ok(summary)
}

/// Inserts (or upserts) JSON records.
pub async fn write_records(app: &AppState, caller: &Caller, id: &str, mode: ImportMode, body: Value) -> Result<Value, ApiError> {
    let ds = find_dataset(app, id).await?;
    // Ask before parsing: a refusal should not depend on the body.
    decide_write(&caller.subject, &ds.facts())?;
    let schema = app.store.schema_of(&ds)?;
    let rows = parse_records(&schema, body, None)?;
    write_rows(app, caller, &ds, mode, rows).await
}

/// Writes records that may name only some fields (CKAN's
/// `datastore_upsert` with `method` `upsert` or `update`): a record whose
/// key exists keeps the fields it does not name; with `must_exist`, a key
/// that does not exist is an error (nothing is written). One transaction.
pub async fn merge_records(app: &AppState, caller: &Caller, id: &str, items: Vec<Value>, must_exist: bool) -> Result<Value, ApiError> {
    let ds = find_dataset(app, id).await?;
    let permit = decide_write(&caller.subject, &ds.facts())?;
    let schema = app.store.schema_of(&ds)?;
    if schema.key.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "no_primary_key",
            "tập dữ liệu không có khóa chính: chỉ có thể thêm bản ghi (method=insert)",
            "the dataset has no primary key: records can only be inserted (method=insert)",
        ));
    }
    check_batch_size(items.len())?;
    let mut rows = Vec::with_capacity(items.len());
    let mut errors: Vec<ReportError> = Vec::new();
    let mut failed = 0u64;
    for (i, item) in items.into_iter().enumerate() {
        let n = i as u64 + 1;
        let Value::Object(obj) = item else {
            failed += 1;
            errors.push(not_an_object(n));
            continue;
        };
        // The key, read from the record's key fields alone.
        let mut keyed = vec![FieldValue::Null; schema.fields.len()];
        let mut missing = None;
        for &k in &schema.key {
            let f = &schema.fields[k];
            match obj.get(&f.spec.name).map(|v| f.parse_json(v)) {
                Some(Ok(v)) if v != FieldValue::Null => keyed[k] = v,
                Some(Err(e)) => missing = Some((f.spec.name.clone(), e.message.vi, e.message.en)),
                _ => missing = Some((f.spec.name.clone(), "thiếu giá trị khóa".into(), "the key's value is missing".into())),
            }
        }
        if let Some((field, vi, en)) = missing {
            failed += 1;
            if errors.len() < MAX_REPORTED {
                let value = obj.get(&field).map(|v| v.to_string());
                errors.push(ReportError::new(n, Some(field), value, "key", vi, en));
            }
            continue;
        }
        let key = schema.key_of(&keyed).unwrap_or_default();
        let current = app.store.current_row(&permit, &ds, &key).await?;
        if current.is_none() && must_exist {
            failed += 1;
            if errors.len() < MAX_REPORTED {
                let shown: String = key.chars().take(100).collect();
                errors.push(ReportError::new(
                    n,
                    None,
                    Some(shown.clone()),
                    "key_missing",
                    format!("không có bản ghi khóa «{shown}» để cập nhật"),
                    format!("no record with key «{shown}» to update"),
                ));
            }
            continue;
        }
        match schema.parse_json_row(&obj, current.as_ref().map(|c| c.values.as_slice())) {
            Ok(values) => rows.push(ParsedRow::new(n, values)),
            Err(problems) => failed += report_problems(&schema, n, &obj, problems, &mut errors),
        }
    }
    if failed > 0 {
        return Err(rejected(ImportReport::new(rows.len() as u64 + failed, failed, errors)));
    }
    write_rows(app, caller, &ds, ImportMode::Upsert, rows).await
}

/// Deletes the records with these keys (canonical, as `Schema::key_of`
/// gives them) in one transaction; returns how many were deleted.
pub async fn delete_keys(app: &AppState, caller: &Caller, ds: &Dataset, keys: &[String]) -> Result<u64, ApiError> {
    let permit = decide_write(&caller.subject, &ds.facts())?;
    let mut writer = app.store.begin_write(&permit, &ds.id, ImportMode::Append, &caller.actor.name, Some("api")).await?;
    let deleted = writer.delete(keys).await?;
    let summary = writer.commit().await?;
    record_change(app, caller, "delete", Some(ds), ds.id.clone(), json!({ "deleted": deleted, "seq": summary.last_seq })).await?;
    Ok(deleted as u64)
}

/// Changes some fields of one record.
pub async fn patch_record(app: &AppState, caller: &Caller, id: &str, key: &str, body: Value) -> Result<Value, ApiError> {
    let ds = find_dataset(app, id).await?;
    let permit = decide_write(&caller.subject, &ds.facts())?;
    let schema = app.store.schema_of(&ds)?;
    if schema.key.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "no_primary_key",
            "tập dữ liệu không có khóa chính: hãy sửa bằng cách nhập lại (upsert cần khóa)",
            "the dataset has no primary key: records can only be replaced by an import",
        ));
    }
    let canonical = schema.key_from_url(key).map_err(|e| ApiError::bad_request(e.message.vi, e.message.en))?;
    let current = app.store.current_row(&permit, &ds, &canonical).await?.ok_or_else(|| not_found_record(key))?;
    if !body.is_object() {
        return Err(ApiError::bad_request("PATCH nhận một đối tượng JSON", "PATCH takes one JSON object"));
    }
    let rows = parse_records(&schema, body, Some(&current.values))?;
    if rows.first().and_then(|r| schema.key_of(&r.values)).is_some_and(|k| k != canonical) {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "key_change",
            "không thể đổi khóa chính của bản ghi",
            "the primary key of a record cannot change",
        ));
    }
    write_rows(app, caller, &ds, ImportMode::Upsert, rows).await
}

/// Deletes one record by key.
pub async fn delete_record(app: &AppState, caller: &Caller, id: &str, key: &str) -> Result<(), ApiError> {
    let ds = find_dataset(app, id).await?;
    let permit = decide_write(&caller.subject, &ds.facts())?;
    let schema = app.store.schema_of(&ds)?;
    let canonical = schema.key_from_url(key).map_err(|e| ApiError::bad_request(e.message.vi, e.message.en))?;
    let mut writer = app.store.begin_write(&permit, &ds.id, ImportMode::Append, &caller.actor.name, Some("api")).await?;
    if writer.delete(&[canonical]).await? == 0 {
        return Err(not_found_record(key));
    }
    let summary = writer.commit().await?;
    record_change(app, caller, "delete", Some(&ds), format!("{}/{key}", ds.id), json!({ "seq": summary.last_seq })).await
}
