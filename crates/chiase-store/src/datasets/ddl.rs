//! The physical table of a dataset, per engine: columns from the schema,
//! chiase's own version columns, partial indexes over current rows, and
//! the full-text index. Identifiers come only from validated field names
//! (`chiase_core::schema::check_field_name`) and table names made here from
//! integer ids; they are quoted all the same.

use chiase_core::ids::DatasetId;
use chiase_core::schema::{Constraints, Field, FieldName, FieldType, Schema, Value};
use chiase_core::{DomainError, Msg};

use crate::StoreError;
use crate::db::Backend;

mod sealed {
    pub trait Sealed {}
}

/// A name that may be quoted into SQL. Only the types of this module
/// implement it, and each is made from a checked [`FieldName`], a dataset's
/// id, a constant of this crate, or a name the database's own catalog
/// returned: text from a request never becomes an identifier.
pub trait SqlName: sealed::Sealed {
    fn sql_name(&self) -> &str;
}

impl sealed::Sealed for FieldName {}
impl SqlName for FieldName {
    fn sql_name(&self) -> &str {
        self.as_str()
    }
}

/// A physical column: a field's own, one derived from it (`name__lon`),
/// one of chiase's version columns, or one listed by the database itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnName(String);

impl sealed::Sealed for ColumnName {}
impl SqlName for ColumnName {
    fn sql_name(&self) -> &str {
        &self.0
    }
}

impl ColumnName {
    /// The main column of a field.
    pub fn field(name: &FieldName) -> ColumnName {
        ColumnName(name.as_str().to_string())
    }
    /// A column derived from a field (`suffix` is a constant of this crate;
    /// field names cannot contain `__`, so these never clash).
    pub fn derived(name: &FieldName, suffix: &'static str) -> ColumnName {
        ColumnName(format!("{}__{suffix}", name.as_str()))
    }
    /// One of chiase's own columns.
    pub fn meta(name: &'static str) -> ColumnName {
        ColumnName(name.to_string())
    }
    /// A column the database's catalog lists (copying, checksums): checked
    /// against the characters chiase's own names use.
    pub fn catalog(name: &str) -> Result<ColumnName, StoreError> {
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            Ok(ColumnName(name.to_string()))
        } else {
            Err(StoreError::Corrupt(format!("unexpected column name in the database catalog: {name:?}")))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A table: a dataset's (`ds_<id>`, or `ds_<id>_g<n>` for a generation
/// built by a large import), its full-text table, or one of chiase's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName(String);

impl sealed::Sealed for TableName {}
impl SqlName for TableName {
    fn sql_name(&self) -> &str {
        &self.0
    }
}

impl TableName {
    /// The first table of a dataset.
    pub fn dataset(id: DatasetId) -> TableName {
        TableName(format!("ds_{id}"))
    }
    /// Generation `g` of a dataset's table.
    pub fn generation(id: DatasetId, g: i64) -> TableName {
        TableName(format!("ds_{id}_g{g}"))
    }
    /// The SQLite full-text table of a dataset, shared by its generations
    /// (rows are found by their version number, `_v`).
    pub fn fts(id: DatasetId) -> TableName {
        TableName(format!("ds_{id}_fts"))
    }
    /// One of chiase's own tables, named in this crate's code.
    pub fn internal(name: &'static str) -> TableName {
        TableName(name.to_string())
    }
    /// A dataset table's name as stored in `datasets.table_name`.
    pub fn stored(name: &str) -> Result<TableName, StoreError> {
        let ok = name.strip_prefix("ds_").is_some_and(|rest| {
            let mut parts = rest.splitn(2, "_g");
            let id_ok = parts.next().is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            let gen_ok = parts.next().is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            id_ok && gen_ok
        });
        if ok { Ok(TableName(name.to_string())) } else { Err(StoreError::Corrupt(format!("unexpected dataset table name {name:?}"))) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An index on a dataset table, named from the table and its role or a
/// hash of its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexName(String);

impl sealed::Sealed for IndexName {}
impl SqlName for IndexName {
    fn sql_name(&self) -> &str {
        &self.0
    }
}

impl IndexName {
    /// `table`'s index with a fixed role (`key`, `seq`, `rec`, `search`).
    pub fn role(table: &TableName, role: &'static str) -> IndexName {
        IndexName(format!("{table}_{role}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// An index over a list of columns: a short, stable name (PostgreSQL
    /// cuts identifiers at 63 bytes).
    fn for_columns(table: &TableName, prefix: &'static str, cols: &[ColumnName]) -> IndexName {
        let mut h: u32 = 0x811c9dc5;
        let joined: Vec<&str> = cols.iter().map(ColumnName::as_str).collect();
        for b in joined.join(",").bytes() {
            h = (h ^ b as u32).wrapping_mul(0x01000193);
        }
        IndexName(format!("{table}_{prefix}{h:08x}"))
    }
}

/// A quoted identifier.
pub fn q(name: &impl SqlName) -> String {
    format!("\"{}\"", name.sql_name())
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
pub fn columns(field: &Field) -> Vec<(ColumnName, ColType)> {
    let name = &field.name;
    let t = field.spec.field_type;
    let main = main_type(t);
    let mut cols = vec![(ColumnName::field(name), main)];
    match t {
        FieldType::Geopoint => {
            cols.push((ColumnName::derived(name, "lon"), ColType::Real));
            cols.push((ColumnName::derived(name, "lat"), ColType::Real));
        }
        FieldType::Geojson => {
            for suffix in ["minx", "miny", "maxx", "maxy"] {
                cols.push((ColumnName::derived(name, suffix), ColType::Real));
            }
        }
        _ => {}
    }
    cols
}

/// How many physical columns `columns` gives a field of this type (without
/// making their names: decoding asks this for every cell).
pub fn column_count(t: FieldType) -> usize {
    match t {
        FieldType::Geopoint => 3,
        FieldType::Geojson => 5,
        _ => 1,
    }
}

/// The type of a field type's main column.
fn main_type(t: FieldType) -> ColType {
    match t {
        FieldType::String | FieldType::Geopoint => ColType::Text,
        FieldType::Integer | FieldType::Year => ColType::Int,
        FieldType::Number => ColType::Real,
        FieldType::Boolean => ColType::Bool,
        FieldType::Date => ColType::Date,
        FieldType::Datetime => ColType::Timestamp,
        FieldType::Geojson => ColType::Json,
    }
}

/// Every physical data column of a schema, in order.
pub fn data_columns(schema: &Schema) -> Vec<(ColumnName, ColType)> {
    schema.fields.iter().flat_map(columns).collect()
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
    let cols = columns(f);
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
/// The table for a bulk load, and apart the keyset indexes that can be
/// built once the rows are in: one sort per index instead of a B-tree
/// insert per row and index (what the load needs stays: the key, unique
/// values, versions, current rows, full text).
pub fn create_table_for_load(backend: Backend, dataset: DatasetId, table: &TableName, schema: &Schema) -> (Vec<String>, Vec<String>) {
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
    stmts.push(format!("CREATE UNIQUE INDEX {} ON {t} (\"_key\") WHERE \"_end\" IS NULL", q(&IndexName::role(table, "key"))));
    stmts.push(format!("CREATE INDEX {} ON {t} (\"_seq\")", q(&IndexName::role(table, "seq"))));
    stmts.push(format!("CREATE INDEX {} ON {t} (\"_id\", \"_seq\")", q(&IndexName::role(table, "rec"))));
    stmts.push(current_rows_index(table));
    let (unique, mut keyset): (Vec<String>, Vec<String>) =
        field_indexes(table, schema).into_iter().partition(|s| s.starts_with("CREATE UNIQUE"));
    if backend == Backend::Sqlite {
        keyset.extend(cell_index_defs(table, schema).into_iter().map(|(_, stmt)| stmt));
    }
    stmts.extend(unique);
    if schema.has_search() {
        stmts.extend(create_search(backend, dataset, table));
    }
    (stmts, keyset)
}

/// The statements that make a dataset's table with all its indexes.
pub fn create_table(backend: Backend, dataset: DatasetId, table: &TableName, schema: &Schema) -> Vec<String> {
    let (mut stmts, keyset) = create_table_for_load(backend, dataset, table, schema);
    stmts.extend(keyset);
    stmts
}

/// The full-text index of a dataset: a shared FTS5 table on SQLite (made
/// once per dataset, kept across table generations; `contentless_delete`
/// so that entries can be removed when the search text changes), a GIN
/// index over the `_search` column on PostgreSQL.
pub fn create_search(backend: Backend, dataset: DatasetId, table: &TableName) -> Vec<String> {
    match backend {
        Backend::Sqlite => vec![format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS {} USING fts5 (body, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2')",
            q(&TableName::fts(dataset))
        )],
        Backend::Postgres => {
            vec![format!("CREATE INDEX IF NOT EXISTS {} ON {} USING GIN (\"_search\")", q(&IndexName::role(table, "search")), q(table))]
        }
    }
}

/// The index of current rows in record order: pages without a filter walk
/// it, so rows ended by updates and replace imports (history) are never
/// stepped over, however many there are.
pub fn current_rows_index(table: &TableName) -> String {
    format!("CREATE INDEX IF NOT EXISTS {} ON {} (\"_v\") WHERE \"_end\" IS NULL", q(&IndexName::role(table, "cur")), q(table))
}

/// Whether a field gets an index of its own: every field with a single,
/// ordered column. Geopoints have their (lat, lon) index; GeoJSON has no
/// order.
fn indexable(f: &Field) -> bool {
    !matches!(f.spec.field_type, FieldType::Geopoint | FieldType::Geojson)
}

/// The keyset index of one field, `(field, _v)` over current rows: it
/// serves an equality or range filter on the field in record order, and a
/// sort on the field, without sorting the matches.
pub fn field_index(table: &TableName, f: &Field) -> Option<IndexName> {
    indexable(f).then(|| IndexName::for_columns(table, "f", &[ColumnName::field(&f.name)]))
}

/// The index of the dataset's point (latitude, longitude), for `bbox`.
pub fn point_index(table: &TableName, schema: &Schema) -> Option<IndexName> {
    schema.point.map(|(lat, lon)| {
        IndexName::for_columns(table, "p", &[ColumnName::field(&schema.fields[lat].name), ColumnName::field(&schema.fields[lon].name)])
    })
}

/// The index of a geopoint field's derived (lat, lon) columns.
pub fn geopoint_index(table: &TableName, schema: &Schema, field: usize) -> IndexName {
    IndexName::for_columns(table, "g", &index_columns(schema, &schema.fields[field].spec.name))
}

/// Physical columns that stand for a field in an index.
fn index_columns(schema: &Schema, name: &str) -> Vec<ColumnName> {
    match schema.field(name) {
        Some(f) if f.spec.field_type == FieldType::Geopoint => {
            vec![ColumnName::derived(&f.name, "lat"), ColumnName::derived(&f.name, "lon")]
        }
        Some(f) if f.spec.field_type == FieldType::Geojson => vec![ColumnName::derived(&f.name, "minx")],
        Some(f) => vec![ColumnName::field(&f.name)],
        None => vec![],
    }
}

/// The `CREATE INDEX` statements for a schema's fields: unique fields, one
/// keyset index per field, declared (composite) indexes, the dataset's
/// point and geopoints. Every non-unique index ends in `_v`, the record
/// order, so that a page over an equality walks the index in order.
///
/// Every field is indexed, not only declared ones: the portal's grid lets
/// anyone filter and sort on any column, and an unindexed column turns
/// each page into a sort of every match (docs/benchmarks.md has the
/// import cost).
pub fn field_indexes(table: &TableName, schema: &Schema) -> Vec<String> {
    field_index_defs(table, schema).into_iter().map(|(_, stmt)| stmt).collect()
}

/// Each index `field_indexes` makes: its name and its statement.
pub fn field_index_defs(table: &TableName, schema: &Schema) -> Vec<(IndexName, String)> {
    let t = q(table);
    let mut out = Vec::new();
    for f in &schema.fields {
        if f.spec.constraints.unique
            && !matches!(f.spec.field_type, FieldType::Geopoint | FieldType::Geojson)
            && !schema.key_is(&f.spec.name)
        {
            let cols = vec![ColumnName::field(&f.name)];
            let name = IndexName::for_columns(table, "u", &cols);
            let stmt = format!("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {t} ({}) WHERE \"_end\" IS NULL", q(&name), q(&f.name));
            out.push((name, stmt));
        }
        if f.spec.field_type == FieldType::Geopoint {
            out.push(index_stmt(table, "g", &index_columns(schema, &f.spec.name)));
        }
        if indexable(f) {
            out.push(index_stmt(table, "f", &[ColumnName::field(&f.name)]));
        }
    }
    for idx in &schema.spec.indexes {
        // A declared one-field index is the field's keyset index already.
        if let [name] = idx.as_slice()
            && schema.field(name).is_some_and(indexable)
        {
            continue;
        }
        let cols: Vec<ColumnName> = idx.iter().flat_map(|n| index_columns(schema, n)).collect();
        out.push(index_stmt(table, "i", &cols));
    }
    if let Some((lat, lon)) = schema.point {
        let cols = vec![ColumnName::field(&schema.fields[lat].name), ColumnName::field(&schema.fields[lon].name)];
        out.push(index_stmt(table, "p", &cols));
    }
    out.dedup();
    out
}

/// The grid levels of the cell indexes: square cells of this many degrees,
/// each level four times the one before (about 280 m to 70 km at the
/// equator). Written as literals so that SQLite's parse and Rust's give
/// the same doubles, and so the same cell for the same point.
pub const CELL_LEVELS: [(&str, f64); 5] = [("0.0025", 0.0025), ("0.01", 0.01), ("0.04", 0.04), ("0.16", 0.16), ("0.64", 0.64)];

const CELL_PREFIXES: [&str; 5] = ["c0", "c1", "c2", "c3", "c4"];

/// Latitude cells are numbered this many apart: more than the longitude
/// cells of the finest level (360 / 0.0025 = 144,000), so every cell's
/// number is its own.
pub const CELL_ROW: i64 = 1_000_000;

/// The cell of a point at a grid level, as SQL over its columns: `bbox`
/// pages read the cells that cover the box from `(cell, _v)` indexes
/// ([`cell_index_defs`]), one index range per cell in record order, and
/// merge them. `CAST … AS INTEGER` truncates, as [`cell_of`] does.
pub fn cell_expr(lat: &ColumnName, lon: &ColumnName, level: usize) -> String {
    let s = CELL_LEVELS[level].0;
    format!("(CAST(({} + 90.0) / {s} AS INTEGER) * {CELL_ROW} + CAST(({} + 180.0) / {s} AS INTEGER))", q(lat), q(lon))
}

/// The row and column of a coordinate's cell at a level, computed as
/// [`cell_expr`] does in SQLite (the same doubles, the same operations).
pub fn cell_of(lat: f64, lon: f64, level: usize) -> (i64, i64) {
    let s = CELL_LEVELS[level].1;
    (((lat + 90.0) / s) as i64, ((lon + 180.0) / s) as i64)
}

/// The latitude and longitude columns of each point a `bbox` can target:
/// the dataset's point, and each geopoint's derived columns.
pub fn geo_targets(schema: &Schema) -> Vec<(ColumnName, ColumnName)> {
    let mut out = Vec::new();
    if let Some((lat, lon)) = schema.point {
        out.push((ColumnName::field(&schema.fields[lat].name), ColumnName::field(&schema.fields[lon].name)));
    }
    for f in &schema.fields {
        if f.spec.field_type == FieldType::Geopoint {
            out.push((ColumnName::derived(&f.name, "lat"), ColumnName::derived(&f.name, "lon")));
        }
    }
    out
}

/// The cell index of a point's columns at a level.
pub fn cell_index(table: &TableName, lat: &ColumnName, lon: &ColumnName, level: usize) -> IndexName {
    IndexName::for_columns(table, CELL_PREFIXES[level], &[lat.clone(), lon.clone()])
}

/// The cell indexes of a dataset's points (SQLite only: PostgreSQL's
/// planner chooses its own way to a box): `(cell, _v, lat, lon)` over
/// current rows at each level, the coordinates there so that the box is
/// checked in the index, without reading the rows it leaves out. About a
/// second each per million rows.
pub fn cell_index_defs(table: &TableName, schema: &Schema) -> Vec<(IndexName, String)> {
    let mut out = Vec::new();
    for (lat, lon) in geo_targets(schema) {
        for level in 0..CELL_LEVELS.len() {
            let name = cell_index(table, &lat, &lon, level);
            let stmt = format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} ({}, \"_v\", {}, {}) WHERE \"_end\" IS NULL",
                q(&name),
                q(table),
                cell_expr(&lat, &lon, level),
                q(&lat),
                q(&lon)
            );
            out.push((name, stmt));
        }
    }
    out
}

fn index_stmt(table: &TableName, prefix: &'static str, cols: &[ColumnName]) -> (IndexName, String) {
    let quoted: Vec<String> = cols.iter().map(q).collect();
    let name = IndexName::for_columns(table, prefix, cols);
    let stmt = format!("CREATE INDEX IF NOT EXISTS {} ON {} ({}, \"_v\") WHERE \"_end\" IS NULL", q(&name), q(table), quoted.join(", "));
    (name, stmt)
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

/// What a schema change does to a dataset's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChangePlan {
    /// DDL, in order.
    pub statements: Vec<String>,
    /// The full-text rows must be made again from the stored values: what
    /// the search text is made of changed (a field became personal, or
    /// searchable, or was widened to text). Done in the same transaction.
    pub rebuild_search: bool,
}

/// The statements that take a table from `old` to `new`, or a refusal that
/// says why the change could break stored rows.
pub fn schema_change(
    backend: Backend,
    dataset: DatasetId,
    table: &TableName,
    old: &Schema,
    new: &Schema,
) -> Result<SchemaChangePlan, StoreError> {
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
        if a.spec.geo != b.spec.geo {
            return Err(refuse(
                format!("chưa hỗ trợ đổi «geo» của trường «{name}»; hãy tạo tập dữ liệu mới"),
                format!("changing «geo» of field «{name}» is not supported; create a new dataset"),
            ));
        }
        if !relaxes(&a.spec.constraints, &b.spec.constraints) {
            return Err(refuse(
                format!("ràng buộc của trường «{name}» chỉ được nới lỏng, không được siết chặt"),
                format!("constraints of field «{name}» may only be relaxed, not tightened"),
            ));
        }
        if ta != tb {
            widened.push((a.name.clone(), ta, tb));
        }
    }
    for f in &new.fields[old.fields.len()..] {
        if f.spec.constraints.required {
            return Err(refuse(
                format!("trường mới «{}» không thể bắt buộc: các bản ghi đã có chưa có giá trị", f.spec.name),
                format!("new field «{}» cannot be required: existing records have no value", f.spec.name),
            ));
        }
        for (col, ct) in columns(f) {
            stmts.push(format!("ALTER TABLE {t} ADD COLUMN {} {}", q(&col), sql_type(backend, ct)));
        }
    }
    if !widened.is_empty() || new.spec.indexes != old.spec.indexes {
        // Indexes over changed columns are dropped and made again.
        for (name, _) in field_index_defs(table, old) {
            stmts.push(format!("DROP INDEX IF EXISTS {}", q(&name)));
        }
        // Declared one-field indexes were made apart from the field's
        // keyset index before issue 9; tables made then still have them.
        for idx in &old.spec.indexes {
            let cols: Vec<ColumnName> = idx.iter().flat_map(|n| index_columns(old, n)).collect();
            stmts.push(format!("DROP INDEX IF EXISTS {}", q(&IndexName::for_columns(table, "i", &cols))));
        }
    }
    for (name, from, to) in &widened {
        let c = q(name);
        let target = main_type(*to);
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
                let tmp = q(&ColumnName::derived(name, "new"));
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
    let rebuild_search = old.search_fields() != new.search_fields();
    if rebuild_search && new.has_search() {
        if backend == Backend::Postgres && !old.has_search() {
            stmts.push(format!("ALTER TABLE {t} ADD COLUMN IF NOT EXISTS \"_search\" TSVECTOR"));
        }
        stmts.extend(create_search(backend, dataset, table));
    }
    Ok(SchemaChangePlan { statements: stmts, rebuild_search })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_count_is_the_number_of_columns_of_every_field_type() {
        let types = ["string", "integer", "number", "boolean", "date", "datetime", "year", "geopoint", "geojson"];
        let fields: Vec<serde_json::Value> = types.iter().map(|t| serde_json::json!({"name": format!("f_{t}"), "type": t})).collect();
        let schema = Schema::from_json(&serde_json::json!({ "fields": fields })).expect("a schema of every type");
        assert_eq!(schema.fields.len(), types.len());
        for f in &schema.fields {
            assert_eq!(column_count(f.spec.field_type), columns(f).len(), "{:?}", f.spec.field_type);
        }
    }
}
