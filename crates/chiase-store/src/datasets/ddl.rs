//! The physical table of a dataset, per engine: columns from the schema,
//! chiase's own version columns, partial indexes over current rows, and
//! the full-text index. Identifiers come only from validated field names
//! (`chiase_core::schema::check_field_name`) and table names made here from
//! integer ids; they are quoted all the same.

use chiase_core::schema::{Constraints, Field, FieldType, Schema, Value};
use chiase_core::{DomainError, Msg};

use crate::StoreError;
use crate::db::Backend;

/// `ds_<id>`.
pub fn table_name(pk: i64) -> String {
    format!("ds_{pk}")
}

/// The SQLite full-text table of a dataset table.
pub fn fts_name(table: &str) -> String {
    format!("{table}_fts")
}

/// A quoted identifier. Only ever called with names checked by
/// `check_field_name` or made by this module.
pub fn q(ident: &str) -> String {
    debug_assert!(ident.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "BUG: unchecked identifier {ident}");
    format!("\"{ident}\"")
}

/// Kinds of physical columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Text,
    Int,
    Real,
    Bool,
    Date,
    Timestamp,
    Json,
}

fn sql_type(backend: Backend, t: ColType) -> &'static str {
    match (backend, t) {
        (Backend::Sqlite, ColType::Text | ColType::Date | ColType::Timestamp | ColType::Json) => "TEXT",
        (Backend::Sqlite, ColType::Int | ColType::Bool) => "INTEGER",
        (Backend::Sqlite, ColType::Real) => "REAL",
        (Backend::Postgres, ColType::Text) => "TEXT",
        (Backend::Postgres, ColType::Int) => "BIGINT",
        (Backend::Postgres, ColType::Real) => "DOUBLE PRECISION",
        (Backend::Postgres, ColType::Bool) => "BOOLEAN",
        (Backend::Postgres, ColType::Date) => "DATE",
        (Backend::Postgres, ColType::Timestamp) => "TIMESTAMPTZ",
        (Backend::Postgres, ColType::Json) => "JSONB",
    }
}

/// The physical columns of a field: one for most types; a geopoint adds its
/// longitude and latitude, a GeoJSON geometry its bounding box, so that
/// `bbox` filters run on plain numeric columns in both engines.
pub fn columns(name: &str, t: FieldType) -> Vec<(String, ColType)> {
    let main = match t {
        FieldType::String | FieldType::Geopoint => ColType::Text,
        FieldType::Integer | FieldType::Year => ColType::Int,
        FieldType::Number => ColType::Real,
        FieldType::Boolean => ColType::Bool,
        FieldType::Date => ColType::Date,
        FieldType::Datetime => ColType::Timestamp,
        FieldType::Geojson => ColType::Json,
    };
    let mut cols = vec![(name.to_string(), main)];
    match t {
        FieldType::Geopoint => {
            cols.push((format!("{name}__lon"), ColType::Real));
            cols.push((format!("{name}__lat"), ColType::Real));
        }
        FieldType::Geojson => {
            for suffix in ["minx", "miny", "maxx", "maxy"] {
                cols.push((format!("{name}__{suffix}"), ColType::Real));
            }
        }
        _ => {}
    }
    cols
}

/// Every physical data column of a schema, in order.
pub fn data_columns(schema: &Schema) -> Vec<(String, ColType)> {
    schema.fields.iter().flat_map(|f| columns(&f.spec.name, f.spec.field_type)).collect()
}

/// A typed NULL for a column (PostgreSQL checks the type of every parameter).
pub fn null_of(t: ColType) -> sea_query::Value {
    match t {
        ColType::Text => sea_query::Value::String(None),
        ColType::Int => sea_query::Value::BigInt(None),
        ColType::Real => sea_query::Value::Double(None),
        ColType::Bool => sea_query::Value::Bool(None),
        ColType::Date => sea_query::Value::ChronoDate(None),
        ColType::Timestamp => sea_query::Value::ChronoDateTimeUtc(None),
        ColType::Json => sea_query::Value::Json(None),
    }
}

/// The bound values of a field's columns, in [`columns`] order.
pub fn bind_field(f: &Field, v: &Value, out: &mut Vec<sea_query::Value>) {
    use sea_query::Value as S;
    let cols = columns(&f.spec.name, f.spec.field_type);
    match v {
        Value::Null => out.extend(cols.iter().map(|(_, t)| null_of(*t))),
        Value::Text(s) => out.push(S::String(Some(s.clone()))),
        Value::Int(n) => out.push(S::BigInt(Some(*n))),
        Value::Num(x) => out.push(S::Double(Some(*x))),
        Value::Bool(b) => out.push(S::Bool(Some(*b))),
        Value::Date(d) => out.push(S::ChronoDate(Some(*d))),
        Value::DateTime(t) => out.push(S::ChronoDateTimeUtc(Some(*t))),
        Value::Point(lon, lat) => {
            out.push(S::String(Some(v.key_text())));
            out.push(S::Double(Some(*lon)));
            out.push(S::Double(Some(*lat)));
        }
        Value::Geo(g, b) => {
            out.push(S::Json(Some(Box::new(g.clone()))));
            out.extend(b.iter().map(|x| S::Double(Some(*x))));
        }
    }
}

/// A value bound the way its field's main column stores it (filters, keys).
pub fn bind_scalar(v: &Value) -> sea_query::Value {
    use sea_query::Value as S;
    match v {
        Value::Null => S::String(None),
        Value::Text(s) => S::String(Some(s.clone())),
        Value::Int(n) => S::BigInt(Some(*n)),
        Value::Num(x) => S::Double(Some(*x)),
        Value::Bool(b) => S::Bool(Some(*b)),
        Value::Date(d) => S::ChronoDate(Some(*d)),
        Value::DateTime(t) => S::ChronoDateTimeUtc(Some(*t)),
        Value::Point(..) | Value::Geo(..) => S::String(Some(v.key_text())),
    }
}

/// chiase's columns on every dataset table, before the data columns.
pub const META_COLUMNS: [&str; 7] = ["_v", "_id", "_key", "_seq", "_end", "_op", "_batch"];

/// Change kinds stored in `_op`.
pub const OP_INSERT: i64 = 1;
pub const OP_UPDATE: i64 = 2;
pub const OP_DELETE: i64 = 3;
/// A replace import: every earlier row ended here.
pub const OP_RESET: i64 = 4;

/// The statements that create a dataset's table and indexes.
pub fn create_table(backend: Backend, table: &str, schema: &Schema) -> Vec<String> {
    let mut cols = match backend {
        Backend::Sqlite => vec![
            "\"_v\" INTEGER PRIMARY KEY".to_string(),
            "\"_id\" INTEGER NOT NULL".into(),
            "\"_key\" TEXT NOT NULL".into(),
            "\"_seq\" INTEGER NOT NULL".into(),
            "\"_end\" INTEGER".into(),
            "\"_op\" INTEGER NOT NULL".into(),
            "\"_batch\" INTEGER NOT NULL".into(),
        ],
        Backend::Postgres => vec![
            "\"_v\" BIGINT PRIMARY KEY".to_string(),
            "\"_id\" BIGINT NOT NULL".into(),
            "\"_key\" TEXT NOT NULL".into(),
            "\"_seq\" BIGINT NOT NULL".into(),
            "\"_end\" BIGINT".into(),
            "\"_op\" SMALLINT NOT NULL".into(),
            "\"_batch\" BIGINT NOT NULL".into(),
        ],
    };
    for (name, t) in data_columns(schema) {
        cols.push(format!("{} {}", q(&name), sql_type(backend, t)));
    }
    if backend == Backend::Postgres && schema.has_search() {
        cols.push("\"_search\" TSVECTOR".into());
    }
    let t = q(table);
    let mut stmts = vec![format!("CREATE TABLE {t} ({})", cols.join(", "))];
    stmts.push(format!("CREATE UNIQUE INDEX {} ON {t} (\"_key\") WHERE \"_end\" IS NULL", q(&format!("{table}_key"))));
    stmts.push(format!("CREATE INDEX {} ON {t} (\"_seq\")", q(&format!("{table}_seq"))));
    stmts.push(format!("CREATE INDEX {} ON {t} (\"_id\", \"_seq\")", q(&format!("{table}_rec"))));
    stmts.extend(field_indexes(table, schema));
    if schema.has_search() {
        match backend {
            Backend::Sqlite => stmts.push(format!(
                "CREATE VIRTUAL TABLE {} USING fts5 (body, content = '', tokenize = 'unicode61 remove_diacritics 2')",
                q(&fts_name(table))
            )),
            Backend::Postgres => stmts.push(format!("CREATE INDEX {} ON {t} USING GIN (\"_search\")", q(&format!("{table}_search")))),
        }
    }
    stmts
}

/// Index name for a list of columns: short and stable (PostgreSQL cuts
/// identifiers at 63 bytes).
fn index_name(table: &str, prefix: &str, cols: &[String]) -> String {
    let mut h: u32 = 0x811c9dc5;
    for b in cols.join(",").bytes() {
        h = (h ^ b as u32).wrapping_mul(0x01000193);
    }
    format!("{table}_{prefix}{h:08x}")
}

/// Physical columns that stand for a field in an index.
fn index_columns(schema: &Schema, name: &str) -> Vec<String> {
    match schema.field(name).map(|f| f.spec.field_type) {
        Some(FieldType::Geopoint) => vec![format!("{name}__lat"), format!("{name}__lon")],
        Some(FieldType::Geojson) => vec![format!("{name}__minx")],
        _ => vec![name.to_string()],
    }
}

/// The `CREATE INDEX` statements for a schema's fields: unique fields,
/// declared indexes (ending in `_v`, the default order, so keyset pages over
/// a filter walk the index), the dataset's point and geopoints.
pub fn field_indexes(table: &str, schema: &Schema) -> Vec<String> {
    let t = q(table);
    let mut out = Vec::new();
    for f in &schema.fields {
        if f.spec.constraints.unique
            && !matches!(f.spec.field_type, FieldType::Geopoint | FieldType::Geojson)
            && !schema.key_is(&f.spec.name)
        {
            let cols = vec![f.spec.name.clone()];
            out.push(format!(
                "CREATE UNIQUE INDEX {} ON {t} ({}) WHERE \"_end\" IS NULL",
                q(&index_name(table, "u", &cols)),
                q(&f.spec.name)
            ));
        }
        if f.spec.field_type == FieldType::Geopoint {
            let cols = index_columns(schema, &f.spec.name);
            out.push(index_stmt(table, "g", &cols));
        }
    }
    for idx in &schema.spec.indexes {
        let cols: Vec<String> = idx.iter().flat_map(|n| index_columns(schema, n)).collect();
        out.push(index_stmt(table, "i", &cols));
    }
    if let Some((lat, lon)) = schema.point {
        let cols = vec![schema.fields[lat].spec.name.clone(), schema.fields[lon].spec.name.clone()];
        out.push(index_stmt(table, "p", &cols));
    }
    out.dedup();
    out
}

fn index_stmt(table: &str, prefix: &str, cols: &[String]) -> String {
    let quoted: Vec<String> = cols.iter().map(|c| q(c)).collect();
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} ({}, \"_v\") WHERE \"_end\" IS NULL",
        q(&index_name(table, prefix, cols)),
        q(table),
        quoted.join(", ")
    )
}

/// Names of the indexes `field_indexes` makes, for dropping them.
fn field_index_names(table: &str, schema: &Schema) -> Vec<String> {
    field_indexes(table, schema)
        .iter()
        .filter_map(|s| s.split(" ON ").next())
        .filter_map(|s| s.rsplit(' ').next())
        .map(|s| s.trim_matches('"').to_string())
        .collect()
}

fn refuse(vi: String, en: String) -> StoreError {
    DomainError::invalid("schema", Msg::new(vi, en)).into()
}

/// Whether `new` constraints only relax `old` ones.
fn relaxes(old: &Constraints, new: &Constraints) -> bool {
    let num = |v: &Option<serde_json::Value>| v.as_ref().and_then(|x| x.as_f64());
    (!new.required || old.required)
        && (!new.unique || old.unique)
        && match (&old.enum_values, &new.enum_values) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(o), Some(n)) => o.iter().all(|v| n.contains(v)),
        }
        && match (num(&old.minimum), num(&new.minimum)) {
            (_, None) => new.minimum.is_none() || new.minimum == old.minimum,
            (Some(o), Some(n)) => n <= o,
            (None, Some(_)) => false,
        }
        && match (num(&old.maximum), num(&new.maximum)) {
            (_, None) => new.maximum.is_none() || new.maximum == old.maximum,
            (Some(o), Some(n)) => n >= o,
            (None, Some(_)) => false,
        }
        && (new.pattern.is_none() || new.pattern == old.pattern)
        && match (old.max_length, new.max_length) {
            (_, None) => true,
            (Some(o), Some(n)) => n >= o,
            (None, Some(_)) => false,
        }
        && match (old.min_length, new.min_length) {
            (_, None) => true,
            (Some(o), Some(n)) => n <= o,
            (None, Some(_)) => false,
        }
}

/// The statements that take a table from `old` to `new`, or a refusal that
/// says why the change could break stored rows.
pub fn schema_change(backend: Backend, table: &str, old: &Schema, new: &Schema) -> Result<Vec<String>, StoreError> {
    if new.fields.len() < old.fields.len() || old.fields.iter().zip(&new.fields).any(|(a, b)| a.spec.name != b.spec.name) {
        return Err(refuse(
            "không thể xóa hoặc đổi thứ tự trường: trường mới phải thêm vào cuối, để lịch sử dữ liệu còn nguyên".into(),
            "fields cannot be removed or reordered: add new fields at the end, so that history stays whole".into(),
        ));
    }
    if new.spec.primary_key != old.spec.primary_key {
        return Err(refuse("không thể đổi khóa chính".into(), "the primary key cannot change".into()));
    }
    let mut stmts = Vec::new();
    let t = q(table);
    let mut widened = Vec::new();
    for (a, b) in old.fields.iter().zip(&new.fields) {
        let name = &a.spec.name;
        let (ta, tb) = (a.spec.field_type, b.spec.field_type);
        if ta != tb && !ta.widens_to(tb) {
            return Err(refuse(
                format!("không thể đổi kiểu trường «{name}» từ {ta} sang {tb} mà không mất dữ liệu"),
                format!("field «{name}» cannot change from {ta} to {tb} without loss"),
            ));
        }
        if a.spec.searchable != b.spec.searchable || a.spec.geo != b.spec.geo {
            return Err(refuse(
                format!("chưa hỗ trợ đổi «searchable» hoặc «geo» của trường «{name}»; hãy tạo tập dữ liệu mới"),
                format!("changing «searchable» or «geo» of field «{name}» is not supported; create a new dataset"),
            ));
        }
        if !relaxes(&a.spec.constraints, &b.spec.constraints) {
            return Err(refuse(
                format!("ràng buộc của trường «{name}» chỉ được nới lỏng, không được siết chặt"),
                format!("constraints of field «{name}» may only be relaxed, not tightened"),
            ));
        }
        if ta != tb {
            widened.push((name.clone(), ta, tb));
        }
    }
    for f in &new.fields[old.fields.len()..] {
        if f.spec.constraints.required {
            return Err(refuse(
                format!("trường mới «{}» không thể bắt buộc: các bản ghi đã có chưa có giá trị", f.spec.name),
                format!("new field «{}» cannot be required: existing records have no value", f.spec.name),
            ));
        }
        for (col, ct) in columns(&f.spec.name, f.spec.field_type) {
            stmts.push(format!("ALTER TABLE {t} ADD COLUMN {} {}", q(&col), sql_type(backend, ct)));
        }
    }
    if !widened.is_empty() || new.spec.indexes != old.spec.indexes {
        // Indexes over changed columns are dropped and made again.
        for name in field_index_names(table, old) {
            stmts.push(format!("DROP INDEX IF EXISTS {}", q(&name)));
        }
    }
    for (name, from, to) in &widened {
        let c = q(name);
        let target = columns(name, *to)[0].1;
        match backend {
            Backend::Postgres => {
                let using = if *from == FieldType::Boolean {
                    format!("CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END")
                } else {
                    format!("{c}::{}", sql_type(backend, target))
                };
                stmts.push(format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {} USING {using}", sql_type(backend, target)));
            }
            Backend::Sqlite => {
                let tmp = q(&format!("{name}__new"));
                let cast = if *from == FieldType::Boolean {
                    format!("CASE {c} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END")
                } else {
                    format!("CAST({c} AS {})", sql_type(backend, target))
                };
                stmts.push(format!("ALTER TABLE {t} ADD COLUMN {tmp} {}", sql_type(backend, target)));
                stmts.push(format!("UPDATE {t} SET {tmp} = {cast}"));
                stmts.push(format!("ALTER TABLE {t} DROP COLUMN {c}"));
                stmts.push(format!("ALTER TABLE {t} RENAME COLUMN {tmp} TO {c}"));
            }
        }
    }
    stmts.extend(field_indexes(table, new));
    Ok(stmts)
}
