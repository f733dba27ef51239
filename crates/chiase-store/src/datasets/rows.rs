//! Reading dataset rows back: columns are known only at run time, so each
//! is decoded by its field's type, on either engine.

use chiase_core::schema::{Field, FieldType, Value};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::StoreError;
use crate::db::RawRows;

/// Typed access to one column of a row, whatever the engine (and
/// SQLite's C API directly, `crate::direct`).
pub(crate) trait Cell {
    fn int(&self, i: usize) -> Result<Option<i64>, sqlx::Error>;
    fn real(&self, i: usize) -> Result<Option<f64>, sqlx::Error>;
    fn text(&self, i: usize) -> Result<Option<String>, sqlx::Error>;
    fn boolean(&self, i: usize) -> Result<Option<bool>, sqlx::Error>;
    fn date(&self, i: usize) -> Result<Option<NaiveDate>, sqlx::Error>;
    fn timestamp(&self, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
    fn json(&self, i: usize) -> Result<Option<serde_json::Value>, sqlx::Error>;
}

impl Cell for SqliteRow {
    fn int(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(i)
    }
    fn real(&self, i: usize) -> Result<Option<f64>, sqlx::Error> {
        // A REAL column may hold an integer (SQLite stores whole numbers
        // compactly); read either.
        match self.try_get::<Option<f64>, _>(i) {
            Ok(v) => Ok(v),
            Err(_) => Ok(self.try_get::<Option<i64>, _>(i)?.map(|n| n as f64)),
        }
    }
    fn text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
        self.try_get(i)
    }
    fn boolean(&self, i: usize) -> Result<Option<bool>, sqlx::Error> {
        self.try_get(i)
    }
    fn date(&self, i: usize) -> Result<Option<NaiveDate>, sqlx::Error> {
        self.try_get(i)
    }
    fn timestamp(&self, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.try_get(i)
    }
    fn json(&self, i: usize) -> Result<Option<serde_json::Value>, sqlx::Error> {
        let text: Option<String> = self.try_get(i)?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| sqlx::Error::Decode(Box::new(e)))).transpose()
    }
}

impl Cell for PgRow {
    fn int(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
        match self.try_get::<Option<i64>, _>(i) {
            Ok(v) => Ok(v),
            Err(_) => Ok(self.try_get::<Option<i16>, _>(i)?.map(i64::from)),
        }
    }
    fn real(&self, i: usize) -> Result<Option<f64>, sqlx::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
        self.try_get(i)
    }
    fn boolean(&self, i: usize) -> Result<Option<bool>, sqlx::Error> {
        self.try_get(i)
    }
    fn date(&self, i: usize) -> Result<Option<NaiveDate>, sqlx::Error> {
        self.try_get(i)
    }
    fn timestamp(&self, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.try_get(i)
    }
    fn json(&self, i: usize) -> Result<Option<serde_json::Value>, sqlx::Error> {
        self.try_get(i)
    }
}

/// The version columns every dataset row carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub v: i64,
    pub id: i64,
    pub key: String,
    pub seq: i64,
    pub end: Option<i64>,
    pub op: i64,
    pub batch: i64,
}

/// A row read back: its version columns and the values of the fields asked.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    pub meta: Meta,
    pub values: Vec<Value>,
}

fn decode_field<C: Cell>(row: &C, col: &mut usize, f: &Field) -> Result<Value, sqlx::Error> {
    let i = *col;
    let v = match f.spec.field_type {
        FieldType::String => row.text(i)?.map(Value::Text),
        FieldType::Integer | FieldType::Year => row.int(i)?.map(Value::Int),
        FieldType::Number => row.real(i)?.map(Value::Num),
        FieldType::Boolean => row.boolean(i)?.map(Value::Bool),
        FieldType::Date => row.date(i)?.map(Value::Date),
        FieldType::Datetime => row.timestamp(i)?.map(Value::DateTime),
        FieldType::Geopoint => match (row.real(i + 1)?, row.real(i + 2)?) {
            (Some(lon), Some(lat)) => Some(Value::Point(lon, lat)),
            _ => None,
        },
        FieldType::Geojson => match (row.json(i)?, row.real(i + 1)?, row.real(i + 2)?, row.real(i + 3)?, row.real(i + 4)?) {
            (Some(g), Some(a), Some(b), Some(c), Some(d)) => Some(Value::Geo(g, [a, b, c, d])),
            _ => None,
        },
    };
    *col += super::ddl::column_count(f.spec.field_type);
    Ok(v.unwrap_or(Value::Null))
}

pub(crate) fn decode_row<C: Cell>(row: &C, fields: &[&Field], with_meta: bool) -> Result<StoredRow, sqlx::Error> {
    let meta = if with_meta {
        Meta {
            v: row.int(0)?.unwrap_or_default(),
            id: row.int(1)?.unwrap_or_default(),
            key: row.text(2)?.unwrap_or_default(),
            seq: row.int(3)?.unwrap_or_default(),
            end: row.int(4)?,
            op: row.int(5)?.unwrap_or_default(),
            batch: row.int(6)?.unwrap_or_default(),
        }
    } else {
        Meta { v: 0, id: 0, key: String::new(), seq: 0, end: None, op: 0, batch: 0 }
    };
    let mut col = if with_meta { super::ddl::META_COLUMNS.len() } else { 0 };
    let mut values = Vec::with_capacity(fields.len());
    for f in fields {
        values.push(decode_field(row, &mut col, f)?);
    }
    Ok(StoredRow { meta, values })
}

/// Decodes rows selected as `META_COLUMNS` (when `with_meta`) followed by
/// the physical columns of `fields`, in that order.
pub fn decode(rows: &RawRows, fields: &[&Field], with_meta: bool) -> Result<Vec<StoredRow>, StoreError> {
    let out = match rows {
        RawRows::Sqlite(rs) => rs.iter().map(|r| decode_row(r, fields, with_meta)).collect::<Result<Vec<_>, _>>(),
        RawRows::Postgres(rs) => rs.iter().map(|r| decode_row(r, fields, with_meta)).collect::<Result<Vec<_>, _>>(),
    };
    out.map_err(StoreError::Db)
}

/// The select list for `fields`, after the meta columns when asked.
pub fn select_list(fields: &[&Field], with_meta: bool) -> String {
    let mut cols: Vec<String> =
        if with_meta { super::ddl::META_COLUMNS.iter().map(|c| super::ddl::q(&super::ddl::ColumnName::meta(c))).collect() } else { vec![] };
    for f in fields {
        for (c, _) in super::ddl::columns(f) {
            cols.push(super::ddl::q(&c));
        }
    }
    cols.join(", ")
}

/// The first `n` integers of the first row of a bounded count (the
/// planner's probes and counts; 0 for NULL or missing): on SQLite outside a transaction through `crate::direct`,
/// elsewhere through the driver.
pub async fn fetch_ints(conn: &mut crate::db::Conn<'_>, sql: crate::db::Sql, n: usize) -> Result<Vec<i64>, StoreError> {
    if let Some(readers) = conn.readers() {
        let text = sql.text_for(crate::db::Backend::Sqlite);
        if let Some(mut ints) = readers.fetch_ints(&text, sql.values())? {
            ints.resize(n, 0);
            return Ok(ints);
        }
    }
    let raw = conn.fetch_raw(sql).await?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let v = match &raw {
            RawRows::Sqlite(rs) => rs.first().map(|r| r.int(i)).transpose()?.flatten(),
            RawRows::Postgres(rs) => rs.first().map(|r| r.int(i)).transpose()?.flatten(),
        };
        out.push(v.unwrap_or(0));
    }
    Ok(out)
}

/// Runs a query of dataset rows and decodes them: on SQLite outside a
/// transaction straight from the C API (`crate::direct`), elsewhere
/// through the driver.
pub async fn fetch_rows(
    conn: &mut crate::db::Conn<'_>,
    sql: crate::db::Sql,
    fields: &[&Field],
    with_meta: bool,
) -> Result<Vec<StoredRow>, StoreError> {
    if let Some(readers) = conn.readers() {
        let text = sql.text_for(crate::db::Backend::Sqlite);
        if let Some(rows) = readers.fetch_rows(&text, sql.values(), fields, with_meta)? {
            return Ok(rows);
        }
    }
    let raw = conn.fetch_raw(sql).await?;
    decode(&raw, fields, with_meta)
}
