//! How a page of records is read: the store chooses the access path itself
//! rather than leaving it to the engine's guess, so that no filter and sort
//! the API accepts falls off a cliff.
//!
//! Every field has a keyset index `(field, _v)` over current rows
//! (`ddl::field_index`), and current rows in record order have theirs
//! (`_cur`). A page is then one of:
//!
//! - **an ordered walk**: an index whose order is the page's order (the
//!   sort field's index; for record order, the index of a field compared
//!   by equality, the full-text index, or `_cur`), stopping after `limit`
//!   rows. Conditions the index does not serve are checked on each row.
//!   With no such condition this is exactly `limit` rows of work.
//! - **a gather**: when the remaining conditions keep few rows, they are
//!   found through their own index (or the full-text index) and sorted.
//!
//! Which one is decided by bounded probes, not statistics: first the walk
//! is tried over at most `first_walk` rows (dense matches fill the page
//! there); if it does not fill the page, each candidate index counts its
//! matches up to `gather_max`, and the smallest under it is gathered.
//! When every candidate matches more than that but their conjunction is
//! sparse in the page's order, the walk goes on for at most `walk_max`
//! rows and the page is **partial**: fewer rows than asked, and a cursor
//! that continues after the last row examined. So no request examines more
//! than about `walk_max + gather_max` rows whatever the data ([`Bounds`]).
//!
//! A sort on a nullable field is read in two segments (values, then
//! NULLs), each an index range, so that "NULLs last" in either direction
//! never needs a sort. Ties are broken by `_v` in the direction of the
//! sort, which is how the index orders them.
//!
//! A `bbox` in record order walks the **cells** of a grid that cover the
//! box (`ddl::cell_index_defs`: five levels, each cell four times the
//! area of the one below): at the finest level where at most
//! [`MAX_CELLS`] cells cover it, each cell is an index range in record
//! order, and SQLite merges them (`UNION ALL … ORDER BY _v`, no sort).
//! The box is checked on each index entry (the index holds the
//! coordinates), so dense and sparse boxes alike fill a page from a few
//! thousand index entries at most and a hundred rows.
//!
//! On SQLite the chosen index is named (`INDEXED BY`). PostgreSQL's planner
//! has real statistics and no hints: there each segment is one query and
//! the engine chooses. Reads "as of" a past change use neither (the
//! partial indexes cover current rows only).

use std::collections::HashSet;

use chiase_core::ids::DatasetId;
use chiase_core::query::{Bbox, Condition, Cursor, GeoTarget, Op, Query, SortKey, Term};
use chiase_core::schema::{Field, Schema, Value};

use super::ddl::{
    CELL_LEVELS, CELL_ROW, ColumnName, IndexName, OP_INSERT, OP_UPDATE, TableName, bind_scalar, cell_expr, cell_index, cell_of,
    field_index, geopoint_index, point_index, q,
};
use super::rows::{StoredRow, decode, fetch_ints, fetch_rows, select_list};
use crate::StoreError;
use crate::db::{Backend, Conn, Sql};

/// The planner's bounds (rows examined). Tests shrink them to reach every
/// path with small datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Rows an ordered walk examines before the store looks for a better path.
    pub first_walk: i64,
    /// A condition whose index finds at most this many rows is gathered
    /// and sorted rather than walked.
    pub gather_max: i64,
    /// Rows a walk examines at most for one page; past this, the page is partial.
    pub walk_max: i64,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds { first_walk: 2_000, gather_max: 20_000, walk_max: 50_000 }
    }
}

/// At most this many cells of one level are merged for a `bbox`: each
/// cell is one more statement for SQLite to plan and merge (about what
/// reading a thousand index entries costs: 16 cells took five times what
/// one did), while a coarser level means more entries outside the box
/// (one 0.16° cell held 12,670 around a box of 82 rows, 2.4 times the
/// time of six 0.04° cells). A box that needs more at the coarsest level
/// (wider than about 1.3°) is walked in record order.
pub const MAX_CELLS: i64 = 6;

/// The cells of one grid level that cover a box, and their index.
#[derive(Clone)]
pub struct Cells {
    index: IndexName,
    /// The cell of a row, as the index defines it.
    expr: String,
    cells: Vec<i64>,
    /// The box itself, checked in each cell's index range.
    within: Pred,
}

impl Cells {
    /// The cells of the finest level at which at most [`MAX_CELLS`] cover
    /// the box, if that level's index exists.
    fn covering(
        table: &TableName,
        lat: &ColumnName,
        lon: &ColumnName,
        b: &Bbox,
        within: Pred,
        exists: impl Fn(&IndexName) -> bool,
    ) -> Option<Cells> {
        for level in 0..CELL_LEVELS.len() {
            let (r0, c0) = cell_of(b.min_lat, b.min_lon, level);
            let (r1, c1) = cell_of(b.max_lat, b.max_lon, level);
            if (r1 - r0 + 1).saturating_mul(c1 - c0 + 1) > MAX_CELLS {
                continue;
            }
            let index = cell_index(table, lat, lon, level);
            if !exists(&index) {
                return None;
            }
            let cells = (r0..=r1).flat_map(|r| (c0..=c1).map(move |c| r * CELL_ROW + c)).collect();
            return Some(Cells { index, expr: cell_expr(lat, lon, level), cells, within });
        }
        None
    }

    /// Each cell's current rows in the box through the index (the box is
    /// checked on the index entry, before the row is read), one `SELECT`
    /// per cell with the `after` condition, joined by `UNION ALL`; `cols`
    /// is `*`, or `"_v"` to count (then no row is read).
    fn arms(&self, table: &TableName, cols: &str, after: Option<&Pred>) -> Pred {
        let mut values = Vec::new();
        let mut arms = Vec::with_capacity(self.cells.len());
        let more = after.map(|p| format!(" AND {}", p.sql)).unwrap_or_default();
        for cell in &self.cells {
            arms.push(format!(
                "SELECT {cols} FROM {} INDEXED BY {} WHERE {} = ? AND \"_end\" IS NULL AND {}{more}",
                q(table),
                q(&self.index),
                self.expr,
                self.within.sql
            ));
            values.push((*cell).into());
            values.extend(self.within.values.iter().cloned());
            values.extend(after.iter().flat_map(|p| p.values.iter().cloned()));
        }
        Pred::new(arms.join(" UNION ALL "), values)
    }
}

/// A piece of SQL with its bound values.
#[derive(Debug, Clone, Default)]
pub struct Pred {
    pub sql: String,
    pub values: Vec<sea_query::Value>,
}

impl Pred {
    pub fn new(sql: impl Into<String>, values: Vec<sea_query::Value>) -> Pred {
        Pred { sql: sql.into(), values }
    }

    /// The conjunction of `preds` (`1 = 1` when there are none).
    pub fn all<'a>(preds: impl IntoIterator<Item = &'a Pred>) -> Pred {
        let mut out = Pred::default();
        let mut parts = Vec::new();
        for p in preds {
            parts.push(p.sql.clone());
            out.values.extend(p.values.iter().cloned());
        }
        out.sql = if parts.is_empty() { "1 = 1".into() } else { parts.join(" AND ") };
        out
    }
}

/// Rows of either version predicate: current rows, or those alive at a
/// change number.
pub fn alive(snapshot: Option<i64>) -> Pred {
    match snapshot {
        None => Pred::new("\"_end\" IS NULL", vec![]),
        Some(s) => Pred::new(
            format!("\"_seq\" <= ? AND (\"_end\" IS NULL OR \"_end\" > ?) AND \"_op\" IN ({OP_INSERT}, {OP_UPDATE})"),
            vec![s.into(), s.into()],
        ),
    }
}

/// The SQL of one condition on a field.
pub fn condition_sql(backend: Backend, f: &Field, c: &Condition) -> Pred {
    let col = q(&f.name);
    let one = || bind_scalar(&c.values[0]);
    match c.op {
        Op::Eq => Pred::new(format!("{col} = ?"), vec![one()]),
        Op::Ne => match backend {
            Backend::Sqlite => Pred::new(format!("{col} IS NOT ?"), vec![one()]),
            Backend::Postgres => Pred::new(format!("{col} IS DISTINCT FROM ?"), vec![one()]),
        },
        Op::Lt => Pred::new(format!("{col} < ?"), vec![one()]),
        Op::Lte => Pred::new(format!("{col} <= ?"), vec![one()]),
        Op::Gt => Pred::new(format!("{col} > ?"), vec![one()]),
        Op::Gte => Pred::new(format!("{col} >= ?"), vec![one()]),
        Op::In => Pred::new(format!("{col} IN ({})", vec!["?"; c.values.len()].join(", ")), c.values.iter().map(bind_scalar).collect()),
        Op::Contains => match backend {
            Backend::Sqlite => Pred::new(format!("instr({col}, ?) > 0"), vec![one()]),
            Backend::Postgres => Pred::new(format!("strpos({col}, ?) > 0"), vec![one()]),
        },
        Op::Prefix => {
            let text = match &c.values[0] {
                Value::Text(s) => s.clone(),
                other => other.to_json().to_string(),
            };
            let len = text.chars().count() as i64;
            match backend {
                // SQLite compares text byte by byte (BINARY), so every text
                // that starts with `p` sorts between `p` and `p` followed by
                // the highest code point: a range its index serves. The
                // exact test stays, for the text that is `p` + U+10FFFF.
                Backend::Sqlite => Pred::new(
                    format!("{col} >= ? AND {col} <= ? AND substr({col}, 1, ?) = ?"),
                    vec![text.clone().into(), format!("{text}\u{10FFFF}").into(), len.into(), text.into()],
                ),
                Backend::Postgres => Pred::new(format!("left({col}, CAST(? AS INTEGER)) = ?"), vec![len.into(), text.into()]),
            }
        }
        Op::Null => {
            let main = q(&ColumnName::field(&f.name));
            match c.values[0] {
                Value::Bool(false) => Pred::new(format!("{main} IS NOT NULL"), vec![]),
                _ => Pred::new(format!("{main} IS NULL"), vec![]),
            }
        }
    }
}

/// The SQL of a bounding box.
pub fn bbox_sql(schema: &Schema, b: &Bbox) -> Pred {
    let (lon, lat) = match b.target {
        GeoTarget::Point { lat, lon } => (q(&schema.fields[lon].name), q(&schema.fields[lat].name)),
        GeoTarget::Geopoint(i) => {
            (q(&ColumnName::derived(&schema.fields[i].name, "lon")), q(&ColumnName::derived(&schema.fields[i].name, "lat")))
        }
        GeoTarget::Geojson(i) => {
            let n = &schema.fields[i].name;
            let c = |s: &'static str| q(&ColumnName::derived(n, s));
            return Pred::new(
                format!("{} >= ? AND {} <= ? AND {} >= ? AND {} <= ?", c("maxx"), c("minx"), c("maxy"), c("miny")),
                vec![b.min_lon.into(), b.max_lon.into(), b.min_lat.into(), b.max_lat.into()],
            );
        }
    };
    // Latitude first: the point indexes lead with it.
    Pred::new(
        format!("{lat} BETWEEN ? AND ? AND {lon} BETWEEN ? AND ?"),
        vec![b.min_lat.into(), b.max_lat.into(), b.min_lon.into(), b.max_lon.into()],
    )
}

/// The full-text match expression: every word, prefixes as asked. Words
/// are folded letters and digits only, so quoting them is enough.
fn match_expr(backend: Backend, terms: &[Term]) -> String {
    match backend {
        Backend::Sqlite => terms
            .iter()
            .map(|t| if t.prefix { format!("\"{}\"*", t.word) } else { format!("\"{}\"", t.word) })
            .collect::<Vec<_>>()
            .join(" "),
        Backend::Postgres => {
            terms.iter().map(|t| if t.prefix { format!("{}:*", t.word) } else { t.word.clone() }).collect::<Vec<_>>().join(" & ")
        }
    }
}

/// Full text as a condition on rows.
pub fn fts_sql(backend: Backend, dataset: DatasetId, terms: &[Term]) -> Pred {
    let expr = match_expr(backend, terms);
    match backend {
        Backend::Sqlite => {
            let fts = q(&TableName::fts(dataset));
            Pred::new(format!("\"_v\" IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?)"), vec![expr.into()])
        }
        Backend::Postgres => Pred::new("\"_search\" @@ to_tsquery('simple', ?)", vec![expr.into()]),
    }
}

/// The direction of `_v` that breaks ties: that of the last sort key (the
/// order an index `(…, _v)` walked either way gives).
pub fn tie_desc(sort: &[SortKey]) -> bool {
    sort.last().is_some_and(|k| k.desc)
}

/// `ORDER BY` for any sort, NULLs last, ties by `_v` (the general form,
/// used where the engine sorts).
pub fn order_sql(schema: &Schema, sort: &[SortKey]) -> String {
    let mut keys: Vec<String> =
        sort.iter().map(|k| format!("{} {} NULLS LAST", q(&schema.fields[k.field].name), if k.desc { "DESC" } else { "ASC" })).collect();
    keys.push(format!("\"_v\" {}", if tie_desc(sort) { "DESC" } else { "ASC" }));
    keys.join(", ")
}

/// Rows after the cursor in the order of [`order_sql`] (the general form).
pub fn after_sql(schema: &Schema, sort: &[SortKey], cursor: &Cursor) -> Result<Pred, StoreError> {
    let mut ors = Vec::new();
    let mut values = Vec::new();
    let mut equal_prefix: Vec<Pred> = Vec::new();
    for (k, raw) in sort.iter().zip(&cursor.sort_values) {
        let f = &schema.fields[k.field];
        let col = q(&f.name);
        let v = f.parse_json(raw).map_err(|_| bad_cursor())?;
        let (after, equal) = if matches!(v, Value::Null) {
            (Pred::new("1 = 0", vec![]), Pred::new(format!("{col} IS NULL"), vec![]))
        } else {
            let cmp = if k.desc { "<" } else { ">" };
            (
                Pred::new(format!("({col} {cmp} ? OR {col} IS NULL)"), vec![bind_scalar(&v)]),
                Pred::new(format!("{col} = ?"), vec![bind_scalar(&v)]),
            )
        };
        let clause = Pred::all(equal_prefix.iter().chain([&after]));
        ors.push(format!("({})", clause.sql));
        values.extend(clause.values);
        equal_prefix.push(equal);
    }
    let last = Pred::new(format!("\"_v\" {} ?", if tie_desc(sort) { "<" } else { ">" }), vec![cursor.last_v.into()]);
    let clause = Pred::all(equal_prefix.iter().chain([&last]));
    ors.push(format!("({})", clause.sql));
    values.extend(clause.values);
    Ok(Pred::new(format!("({})", ors.join(" OR ")), values))
}

pub fn bad_cursor() -> StoreError {
    StoreError::Domain(chiase_core::DomainError::invalid(
        "after",
        chiase_core::Msg::new("con trỏ trang «after» không hợp lệ", "invalid «after» cursor"),
    ))
}

/// The indexes a dataset table has (names), as read from the engine's
/// catalog: the planner names only indexes that exist.
pub type IndexSet = HashSet<String>;

/// A filter of the query and the indexes that can find its rows.
struct Filter {
    pred: Pred,
    /// Indexes that find the rows this filter keeps (existing ones only),
    /// each with the part of the filter its range serves.
    indexes: Vec<(IndexName, Pred)>,
    /// An index that holds every column the filter tests: its matches are
    /// counted without reading rows.
    covering: Option<IndexName>,
    /// The field this filter compares by equality (`=` or `IS NULL`):
    /// through its index, rows come in record order.
    equality_on: Option<usize>,
    /// For a `bbox`: the grid cells that cover it.
    cells: Option<Cells>,
}

/// Where the rows of a walk come from.
#[derive(Clone)]
pub enum Source {
    /// The dataset's table, through an index (SQLite names it).
    Table(Option<IndexName>),
    /// The full-text index's matches in record order, joined to the table.
    Search(Pred),
    /// The grid cells that cover a `bbox`, merged in record order.
    Cells(Cells),
}

/// One index range read in order: the whole of a page's order, or one of
/// its two segments (values, NULLs).
#[derive(Clone)]
pub struct Segment {
    source: Source,
    /// What selects the segment's rows in the index (`f = ?`, `f IS NOT NULL`…).
    range: Vec<Pred>,
    /// Conditions checked on each row.
    residual: Vec<Pred>,
    /// `ORDER BY`.
    order: String,
    /// Continuation after the cursor, within this segment.
    after: Option<Pred>,
    /// The sort field (None: record order), to make cursors.
    sort: Option<SortKey>,
}

/// What the planner needs to know about a read.
pub struct PageRequest<'a> {
    pub backend: Backend,
    pub schema: &'a Schema,
    pub table: &'a TableName,
    pub dataset: DatasetId,
    pub query: &'a Query,
    pub indexes: &'a IndexSet,
    /// Fields to return, then the sort fields (for cursors).
    pub select: &'a [&'a Field],
    pub limit: usize,
    pub bounds: Bounds,
}

/// A page as read: rows (one more than the limit when there are more), and
/// when the page is partial, the cursor after the last row examined.
pub struct PageRows {
    pub rows: Vec<StoredRow>,
    pub partial_after: Option<Cursor>,
    /// How the page was read (its count reuses it).
    pub path: Path,
}

impl PageRequest<'_> {
    fn exists(&self, index: &IndexName) -> bool {
        self.indexes.contains(index.as_str())
    }

    fn field_index(&self, field: usize) -> Option<IndexName> {
        field_index(self.table, &self.schema.fields[field]).filter(|i| self.exists(i))
    }

    fn filters(&self) -> Vec<Filter> {
        let mut out = Vec::new();
        for c in &self.query.conditions {
            let f = &self.schema.fields[c.field];
            let pred = condition_sql(self.backend, f, c);
            let ranged = match c.op {
                Op::Eq | Op::In | Op::Lt | Op::Lte | Op::Gt | Op::Gte | Op::Null => true,
                Op::Prefix => self.backend == Backend::Sqlite,
                Op::Ne | Op::Contains => false,
            };
            let indexes: Vec<(IndexName, Pred)> =
                if ranged { self.field_index(c.field).map(|i| (i, pred.clone())).into_iter().collect() } else { vec![] };
            let covering = self.field_index(c.field);
            let equality = matches!(c.op, Op::Eq) || (c.op == Op::Null && !matches!(c.values[0], Value::Bool(false)));
            out.push(Filter { pred, indexes, covering, equality_on: equality.then_some(c.field), cells: None });
        }
        if let Some(b) = &self.query.bbox {
            let pred = bbox_sql(self.schema, b);
            let indexes: Vec<(IndexName, Pred)> = match b.target {
                // The point's index holds both coordinates; the longitude's
                // own index finds a narrow band of longitudes.
                GeoTarget::Point { lat, lon } => {
                    let lon_range = Pred::new(
                        format!("{} BETWEEN ? AND ?", q(&self.schema.fields[lon].name)),
                        vec![b.min_lon.into(), b.max_lon.into()],
                    );
                    // A probe counts index entries of the latitude band
                    // (the longitude is checked inside the index).
                    let lat_range = Pred::new(
                        format!("{} BETWEEN ? AND ?", q(&self.schema.fields[lat].name)),
                        vec![b.min_lat.into(), b.max_lat.into()],
                    );
                    point_index(self.table, self.schema)
                        .filter(|i| self.exists(i))
                        .map(|i| (i, lat_range))
                        .into_iter()
                        .chain(self.field_index(lon).map(|i| (i, lon_range)))
                        .collect()
                }
                GeoTarget::Geopoint(i) => Some(geopoint_index(self.table, self.schema, i))
                    .filter(|i| self.exists(i))
                    .map(|index| {
                        let lat = ColumnName::derived(&self.schema.fields[i].name, "lat");
                        (index, Pred::new(format!("{} BETWEEN ? AND ?", q(&lat)), vec![b.min_lat.into(), b.max_lat.into()]))
                    })
                    .into_iter()
                    .collect(),
                GeoTarget::Geojson(_) => vec![],
            };
            let covering = match b.target {
                GeoTarget::Point { .. } => point_index(self.table, self.schema).filter(|i| self.exists(i)),
                GeoTarget::Geopoint(i) => Some(geopoint_index(self.table, self.schema, i)).filter(|i| self.exists(i)),
                GeoTarget::Geojson(_) => None,
            };
            let cells = match (self.backend, b.target) {
                (Backend::Sqlite, GeoTarget::Point { lat, lon }) => {
                    Some((ColumnName::field(&self.schema.fields[lat].name), ColumnName::field(&self.schema.fields[lon].name)))
                }
                (Backend::Sqlite, GeoTarget::Geopoint(i)) => {
                    let n = &self.schema.fields[i].name;
                    Some((ColumnName::derived(n, "lat"), ColumnName::derived(n, "lon")))
                }
                _ => None,
            }
            .and_then(|(lat, lon)| Cells::covering(self.table, &lat, &lon, b, pred.clone(), |i| self.exists(i)));
            out.push(Filter { pred, indexes, covering, equality_on: None, cells });
        }
        out
    }

    fn search(&self) -> Option<Pred> {
        (!self.query.terms.is_empty()).then(|| fts_sql(self.backend, self.dataset, &self.query.terms))
    }

    /// The segments of the ordered walk, and the filters it serves itself
    /// (by its range), or None when the order is not one index's (several
    /// sort keys, or a field without an index).
    fn walk(&self, filters: &[Filter]) -> Result<Option<Vec<Segment>>, StoreError> {
        let sort = &self.query.sort;
        let after = self.query.after.as_ref();
        match sort.as_slice() {
            [] => {
                let tie = |col: &str| after.map(|c| Pred::new(format!("{col} > ?"), vec![c.last_v.into()]));
                let residual_of = |skip: Option<usize>| -> Vec<Pred> {
                    filters.iter().enumerate().filter(|(i, _)| Some(*i) != skip).map(|(_, f)| f.pred.clone()).collect()
                };
                // A box: the cells that cover it, merged in record order
                // (each cell's range checks the box itself).
                if let Some(i) = filters.iter().position(|f| f.cells.is_some()) {
                    let cells = filters[i].cells.clone().ok_or_else(|| StoreError::Corrupt("BUG: cells vanished".into()))?;
                    let mut residual = residual_of(Some(i));
                    residual.extend(self.search());
                    let seg = Segment {
                        source: Source::Cells(cells),
                        range: vec![],
                        residual,
                        order: "\"_v\"".into(),
                        after: tie("\"_v\""),
                        sort: None,
                    };
                    return Ok(Some(vec![seg]));
                }
                // An equality on an indexed field: its index is in record order.
                let eq = filters.iter().position(|f| f.equality_on.is_some() && !f.indexes.is_empty());
                if let Some(i) = eq {
                    let mut residual = residual_of(Some(i));
                    residual.extend(self.search());
                    let seg = Segment {
                        source: Source::Table(Some(filters[i].indexes[0].0.clone())),
                        range: vec![filters[i].pred.clone()],
                        residual,
                        order: "\"_v\"".into(),
                        after: tie("\"_v\""),
                        sort: None,
                    };
                    return Ok(Some(vec![seg]));
                }
                if self.backend == Backend::Sqlite && !self.query.terms.is_empty() {
                    // Full-text matches come in record order: walk them.
                    let seg = Segment {
                        source: Source::Search(self.search_join()),
                        range: vec![],
                        residual: residual_of(None),
                        order: "\"_fv\"".into(),
                        after: tie("\"_fv\""),
                        sort: None,
                    };
                    return Ok(Some(vec![seg]));
                }
                let cur = IndexName::role(self.table, "cur");
                let mut residual = residual_of(None);
                residual.extend(self.search());
                let seg = Segment {
                    source: Source::Table(self.exists(&cur).then_some(cur)),
                    range: vec![],
                    residual,
                    order: "\"_v\"".into(),
                    after: tie("\"_v\""),
                    sort: None,
                };
                Ok(Some(vec![seg]))
            }
            [key] => {
                let f = &self.schema.fields[key.field];
                let Some(index) = self.field_index(key.field) else { return Ok(None) };
                let col = q(&f.name);
                let dir = if key.desc { "DESC" } else { "ASC" };
                let cmp = if key.desc { "<" } else { ">" };
                let mut residual: Vec<Pred> = filters.iter().map(|f| f.pred.clone()).collect();
                residual.extend(self.search());
                // Where the cursor is: in the values, or already in the NULLs.
                let (value_after, in_nulls) = match after {
                    None => (None, false),
                    Some(c) => {
                        let raw = c.sort_values.first().ok_or_else(bad_cursor)?;
                        match f.parse_json(raw).map_err(|_| bad_cursor())? {
                            Value::Null => (None, true),
                            v => (Some(Pred::new(format!("({col}, \"_v\") {cmp} (?, ?)"), vec![bind_scalar(&v), c.last_v.into()])), false),
                        }
                    }
                };
                let mut segments = Vec::new();
                if !in_nulls {
                    segments.push(Segment {
                        source: Source::Table(Some(index.clone())),
                        range: vec![Pred::new(format!("{col} IS NOT NULL"), vec![])],
                        residual: residual.clone(),
                        order: format!("{col} {dir}, \"_v\" {dir}"),
                        after: value_after,
                        sort: Some(*key),
                    });
                }
                if !f.spec.constraints.required {
                    let after_v = if in_nulls { after.map(|c| Pred::new(format!("\"_v\" {cmp} ?"), vec![c.last_v.into()])) } else { None };
                    segments.push(Segment {
                        source: Source::Table(Some(index)),
                        range: vec![Pred::new(format!("{col} IS NULL"), vec![])],
                        residual,
                        order: format!("\"_v\" {dir}"),
                        after: after_v,
                        sort: Some(*key),
                    });
                }
                Ok(Some(segments))
            }
            _ => Ok(None),
        }
    }

    fn table_clause(&self, source: &Source) -> Pred {
        match source {
            Source::Table(index) => {
                let hint = match (index, self.backend) {
                    (Some(i), Backend::Sqlite) => format!(" INDEXED BY {}", q(i)),
                    _ => String::new(),
                };
                Pred::new(format!("{}{hint}", q(self.table)), vec![])
            }
            Source::Search(join) => join.clone(),
            Source::Cells(cells) => {
                let arms = cells.arms(self.table, "*", None);
                Pred::new(format!("({}) AS \"_g\"", arms.sql), arms.values)
            }
        }
    }

    /// A segment's range in its order, as a `SELECT` of every column,
    /// for the cells of a box (each cell's range is ordered by the index;
    /// SQLite merges them).
    fn cells_in_order(&self, cells: &Cells, seg: &Segment) -> Pred {
        let arms = cells.arms(self.table, "*", seg.after.as_ref());
        Pred::new(format!("{} ORDER BY \"_v\"", arms.sql), arms.values)
    }

    /// The rows of one segment, at most `want`, examining at most `cap`
    /// rows of its range (None: no bound).
    async fn read_segment(&self, conn: &mut Conn<'_>, seg: &Segment, want: i64, cap: Option<i64>) -> Result<Vec<StoredRow>, StoreError> {
        let cols = select_list(self.select, true);
        let residual = Pred::all(&seg.residual);
        if let Source::Cells(cells) = &seg.source {
            let inner = self.cells_in_order(cells, seg);
            let bound = cap.filter(|_| !seg.residual.is_empty()).map(|_| " LIMIT ?").unwrap_or_default();
            let sql = format!("SELECT {cols} FROM ({}{bound}) AS \"_w\" WHERE {} LIMIT ?", inner.sql, residual.sql);
            let mut values = inner.values;
            if !bound.is_empty() {
                values.extend(cap.map(Into::into));
            }
            values.extend(residual.values);
            values.push(want.into());
            return fetch_rows(conn, values.into_iter().fold(Sql::assembled(sql), Sql::bind), self.select, true).await;
        }
        let from = self.table_clause(&seg.source);
        let live = alive(None);
        let ranged = Pred::all([&live].into_iter().chain(&seg.range).chain(&seg.after));
        let sql = match cap {
            Some(cap) if !seg.residual.is_empty() => {
                // The range, bounded, then the other conditions. The outer
                // query keeps the inner order (no ORDER BY of its own, so
                // that it stops at `want` rows).
                let sql = format!(
                    "SELECT {cols} FROM (SELECT * FROM {} WHERE {} ORDER BY {} LIMIT ?) AS \"_w\" WHERE {} LIMIT ?",
                    from.sql, ranged.sql, seg.order, residual.sql
                );
                let mut values = from.values;
                values.extend(ranged.values);
                values.push(cap.into());
                values.extend(residual.values);
                values.push(want.into());
                values.into_iter().fold(Sql::assembled(sql), Sql::bind)
            }
            _ => {
                let all = Pred::all([&ranged, &residual]);
                let sql = format!("SELECT {cols} FROM {} WHERE {} ORDER BY {} LIMIT ?", from.sql, all.sql, seg.order);
                from.values.into_iter().chain(all.values).fold(Sql::assembled(sql), Sql::bind).bind(want)
            }
        };
        fetch_rows(conn, sql, self.select, true).await
    }

    /// The cursor after the `cap`-th row of a segment's range (None when
    /// the range has fewer rows: the walk saw all of it).
    async fn cursor_after_examined(&self, conn: &mut Conn<'_>, seg: &Segment, cap: i64) -> Result<Option<Cursor>, StoreError> {
        let (sort_col, v_col) = match (&seg.sort, &seg.source) {
            (Some(k), _) => (q(&self.schema.fields[k.field].name), "\"_v\""),
            (None, Source::Search(_)) => ("NULL".into(), "\"_fv\""),
            (None, Source::Table(_) | Source::Cells(_)) => ("NULL".into(), "\"_v\""),
        };
        let sql = if let Source::Cells(cells) = &seg.source {
            let inner = self.cells_in_order(cells, seg);
            let sql = format!("SELECT {sort_col}, {v_col} FROM ({}) AS \"_w\" LIMIT 1 OFFSET ?", inner.sql);
            inner.values.into_iter().fold(Sql::assembled(sql), Sql::bind).bind(cap - 1)
        } else {
            let from = self.table_clause(&seg.source);
            let live = alive(None);
            let ranged = Pred::all([&live].into_iter().chain(&seg.range).chain(&seg.after));
            let sql = format!("SELECT {sort_col}, {v_col} FROM {} WHERE {} ORDER BY {} LIMIT 1 OFFSET ?", from.sql, ranged.sql, seg.order);
            from.values.into_iter().chain(ranged.values).fold(Sql::assembled(sql), Sql::bind).bind(cap - 1)
        };
        let raw = conn.fetch_raw(sql).await?;
        let fields: Vec<&Field> = seg.sort.iter().map(|k| &self.schema.fields[k.field]).collect();
        let last_v = match &raw {
            crate::db::RawRows::Sqlite(rs) => rs.first().map(|r| sqlx::Row::try_get::<i64, _>(r, 1)).transpose()?,
            crate::db::RawRows::Postgres(rs) => rs.first().map(|r| sqlx::Row::try_get::<i64, _>(r, 1)).transpose()?,
        };
        let Some(last_v) = last_v else { return Ok(None) };
        let sort_values = if fields.is_empty() {
            vec![]
        } else {
            let decoded = decode(&raw, &fields, false)?;
            decoded.into_iter().next().map(|r| r.values.iter().map(Value::to_json).collect()).unwrap_or_default()
        };
        Ok(Some(Cursor { keys: self.query.sort_signature(self.schema), sort_values, last_v }))
    }

    /// How many current rows a filter's index finds, counting at most `max`.
    async fn probe(&self, conn: &mut Conn<'_>, index: &IndexName, range: &Pred, max: i64) -> Result<i64, StoreError> {
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM {} INDEXED BY {} WHERE \"_end\" IS NULL AND {} LIMIT ?) AS \"_p\"",
            q(self.table),
            q(index),
            range.sql
        );
        let n = fetch_ints(conn, range.values.iter().cloned().fold(Sql::assembled(sql), Sql::bind).bind(max), 1).await?[0];
        Ok(n)
    }

    /// How many current rows are in a box, counted in its cells' index
    /// ranges (without reading rows), at most `max`.
    async fn probe_cells(&self, conn: &mut Conn<'_>, cells: &Cells, max: i64) -> Result<i64, StoreError> {
        let arms = cells.arms(self.table, "\"_v\"", None);
        let sql = format!("SELECT count(*) FROM (SELECT 1 FROM ({}) AS \"_g\" LIMIT ?) AS \"_p\"", arms.sql);
        let n = fetch_ints(conn, arms.values.into_iter().fold(Sql::assembled(sql), Sql::bind).bind(max), 1).await?[0];
        Ok(n)
    }

    /// How many rows match the full-text query (every version), at most `max`.
    async fn probe_search(&self, conn: &mut Conn<'_>, max: i64) -> Result<i64, StoreError> {
        let fts = q(&TableName::fts(self.dataset));
        let sql = format!("SELECT count(*) FROM (SELECT 1 FROM {fts} WHERE {fts} MATCH ? LIMIT ?) AS \"_p\"");
        let n = fetch_ints(conn, Sql::assembled(sql).bind(match_expr(self.backend, &self.query.terms)).bind(max), 1).await?[0];
        Ok(n)
    }

    /// The FROM clause and conditions of the general form: every filter,
    /// full text (unless the source is the full-text index), through
    /// `source` when given.
    fn general_parts(&self, filters: &[Filter], source: Option<&Source>) -> (Pred, Vec<Pred>) {
        let mut preds: Vec<Pred> = vec![alive(None)];
        preds.extend(filters.iter().map(|f| f.pred.clone()));
        if !matches!(source, Some(Source::Search(_))) {
            preds.extend(self.search());
        }
        let from = self.table_clause(source.unwrap_or(&Source::Table(None)));
        (from, preds)
    }

    /// A page through the general form: the engine sorts what the source
    /// finds (several sort keys, or a gather).
    async fn read_general(&self, conn: &mut Conn<'_>, filters: &[Filter], source: Option<&Source>) -> Result<Vec<StoredRow>, StoreError> {
        let cols = select_list(self.select, true);
        let (from, mut preds) = self.general_parts(filters, source);
        if let Some(c) = &self.query.after {
            preds.push(after_sql(self.schema, &self.query.sort, c)?);
        }
        let all = Pred::all(&preds);
        let sql =
            format!("SELECT {cols} FROM {} WHERE {} ORDER BY {} LIMIT ?", from.sql, all.sql, order_sql(self.schema, &self.query.sort));
        let sql = from.values.into_iter().chain(all.values).fold(Sql::assembled(sql), Sql::bind).bind(self.limit as i64 + 1);
        fetch_rows(conn, sql, self.select, true).await
    }

    /// Reads the page: `limit + 1` rows when there are more.
    pub async fn read(&self, conn: &mut Conn<'_>) -> Result<PageRows, StoreError> {
        let filters = self.filters();
        let want = self.limit as i64 + 1;
        let Some(segments) = self.walk(&filters)? else {
            let rows = self.read_general(conn, &filters, None).await?;
            return Ok(PageRows { rows, partial_after: None, path: Path::General });
        };
        let exact = segments.iter().all(|s| s.residual.is_empty());
        if exact || self.backend == Backend::Postgres {
            // The walk is exactly the page (nothing to check per row), or
            // PostgreSQL chooses for itself.
            let (rows, _) = self.walk_segments(conn, &segments, want, None).await?;
            let path = match segments.first() {
                Some(Segment { source: Source::Cells(_), .. }) => Path::Cells,
                _ if exact => Path::Exact(segments.into_iter().next()),
                _ => Path::General,
            };
            return Ok(PageRows { rows, partial_after: None, path });
        }
        // Dense matches fill the page within a short walk.
        let (mut rows, end) = self.walk_segments(conn, &segments, want, Some(self.bounds.first_walk)).await?;
        let walked = if matches!(segments[0].source, Source::Cells(_)) { Path::Cells } else { Path::Walk };
        let WalkEnd::Cut(cut) = end else {
            return Ok(PageRows { rows, partial_after: None, path: walked });
        };
        // How far the walk would have to go, at the density it met.
        let found = rows.len() as i64;
        let estimate = if found > 0 { self.bounds.first_walk * want / found } else { i64::MAX };
        if estimate > self.bounds.gather_max
            && let Some(source) = self.best_gather(conn, &filters).await?
        {
            let rows = self.read_general(conn, &filters, Some(&source)).await?;
            return Ok(PageRows { rows, partial_after: None, path: Path::Gather(source) });
        }
        // Walk on from where the short walk stopped, bounded; if the bound
        // is reached, say where.
        let mut rest_query = self.query.clone();
        rest_query.after = Some(cut);
        let rest = PageRequest { query: &rest_query, ..*self };
        let segments = rest.walk(&filters)?.ok_or_else(|| StoreError::Corrupt("BUG: a walk's continuation is no walk".into()))?;
        let (more, end) = rest.walk_segments(conn, &segments, want - found, Some(self.bounds.walk_max)).await?;
        rows.extend(more);
        let partial_after = match end {
            WalkEnd::Cut(cursor) => Some(cursor),
            WalkEnd::Full | WalkEnd::Exhausted => None,
        };
        let path = if partial_after.is_some() { Path::Partial } else { walked };
        Ok(PageRows { rows, partial_after, path })
    }

    /// The way in that finds the fewest rows, if one finds at most
    /// `gather_max` (each probe examines at most that many index entries).
    async fn best_gather(&self, conn: &mut Conn<'_>, filters: &[Filter]) -> Result<Option<Source>, StoreError> {
        let mut best: Option<(i64, Source)> = None;
        for f in filters {
            for (index, range) in &f.indexes {
                let n = self.probe(conn, index, range, self.bounds.gather_max + 1).await?;
                if n <= self.bounds.gather_max && best.as_ref().is_none_or(|b| n < b.0) {
                    best = Some((n, Source::Table(Some(index.clone()))));
                }
            }
            if let Some(cells) = &f.cells {
                let n = self.probe_cells(conn, cells, self.bounds.gather_max + 1).await?;
                if n <= self.bounds.gather_max && best.as_ref().is_none_or(|b| n < b.0) {
                    best = Some((n, Source::Cells(cells.clone())));
                }
            }
        }
        if !self.query.terms.is_empty() && self.backend == Backend::Sqlite {
            let n = self.probe_search(conn, self.bounds.gather_max + 1).await?;
            if n <= self.bounds.gather_max && best.as_ref().is_none_or(|b| n < b.0) {
                best = Some((n, Source::Search(self.search_join())));
            }
        }
        Ok(best.map(|(_, source)| source))
    }

    /// Reads segments in turn until `want` rows. With a cap, each segment's
    /// range is examined up to it, and the walk ends where a segment was cut.
    async fn walk_segments(
        &self,
        conn: &mut Conn<'_>,
        segments: &[Segment],
        want: i64,
        cap: Option<i64>,
    ) -> Result<(Vec<StoredRow>, WalkEnd), StoreError> {
        let mut rows = Vec::new();
        for seg in segments {
            rows.extend(self.read_segment(conn, seg, want - rows.len() as i64, cap).await?);
            if rows.len() as i64 == want {
                return Ok((rows, WalkEnd::Full));
            }
            if let Some(cap) = cap
                && !seg.residual.is_empty()
                && let Some(cursor) = self.cursor_after_examined(conn, seg, cap).await?
            {
                return Ok((rows, WalkEnd::Cut(cursor)));
            }
        }
        Ok((rows, WalkEnd::Exhausted))
    }

    fn search_join(&self) -> Pred {
        let fts = q(&TableName::fts(self.dataset));
        Pred::new(
            format!("(SELECT rowid AS \"_fv\" FROM {fts} WHERE {fts} MATCH ?) AS \"_m\" CROSS JOIN {} ON \"_v\" = \"_fv\"", q(self.table)),
            vec![match_expr(self.backend, &self.query.terms).into()],
        )
    }

    /// The number of matching rows: exact where it is cheap (the page was
    /// gathered, or one index finds exactly the matches and there are at
    /// most `cap`), otherwise `cap` meaning "at least" (`exact` false).
    pub async fn count(&self, conn: &mut Conn<'_>, page: &PageRows, cap: i64) -> Result<(i64, bool), StoreError> {
        let filters = self.filters();
        let live = alive(None);
        let capped = |n: i64| if n > cap { (cap, false) } else { (n, true) };
        if self.backend == Backend::Sqlite {
            match &page.path {
                Path::Gather(source) => {
                    let (from, preds) = self.general_parts(&filters, Some(source));
                    let all = Pred::all(&preds);
                    let sql = format!("SELECT count(*) FROM {} WHERE {}", from.sql, all.sql);
                    let n = fetch_ints(conn, from.values.into_iter().chain(all.values).fold(Sql::assembled(sql), Sql::bind), 1).await?[0];
                    return Ok((n, true));
                }
                Path::Partial => return Ok((page.rows.len() as i64, false)),
                Path::Exact(Some(seg)) => {
                    let from = self.table_clause(&seg.source);
                    let ranged = Pred::all([&live].into_iter().chain(&seg.range));
                    let sql = format!("SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} LIMIT ?) AS \"_c\"", from.sql, ranged.sql);
                    let sql = from.values.into_iter().chain(ranged.values).fold(Sql::assembled(sql), Sql::bind).bind(cap + 1);
                    let n = fetch_ints(conn, sql, 1).await?[0];
                    return Ok(capped(n));
                }
                _ => {}
            }
            // A box alone: count its matches in the cells that cover it.
            if let ([f], true) = (filters.as_slice(), self.query.terms.is_empty())
                && let Some(cells) = &f.cells
            {
                let n = self.probe_cells(conn, cells, cap + 1).await?;
                return Ok(capped(n));
            }
            // One filter with an index: count its range.
            if let ([f], true) = (filters.as_slice(), self.query.terms.is_empty())
                && let Some(index) = &f.covering
            {
                let n = self.probe(conn, index, &f.pred, cap + 1).await?;
                return Ok(capped(n));
            }
            // Otherwise the matches among the first rows in record order,
            // bounded (the page was dense, so `cap` of them often come
            // first); past the bound, "at least" what was found.
            let visits = self.bounds.first_walk * 4;
            let mut preds: Vec<Pred> = filters.iter().map(|f| f.pred.clone()).collect();
            preds.extend(self.search());
            let all = Pred::all(&preds);
            let cur = IndexName::role(self.table, "cur");
            let hint = if self.exists(&cur) { format!(" INDEXED BY {}", q(&cur)) } else { String::new() };
            let sql = format!(
                "SELECT count(*), (SELECT count(*) FROM (SELECT 1 FROM {t}{hint} WHERE \"_end\" IS NULL LIMIT ?) AS \"_s\") \
                 FROM (SELECT 1 FROM (SELECT * FROM {t}{hint} WHERE \"_end\" IS NULL ORDER BY \"_v\" LIMIT ?) AS \"_w\" WHERE {} LIMIT ?) AS \"_c\"",
                all.sql,
                t = q(self.table),
            );
            let sql = Sql::assembled(sql).bind(visits + 1).bind(visits);
            let sql = all.values.into_iter().fold(sql, Sql::bind).bind(cap + 1);
            let counted = fetch_ints(conn, sql, 2).await?;
            let (n, seen) = (counted[0], counted[1]);
            return Ok(if seen <= visits {
                capped(n)
            } else if n > cap {
                (cap, false)
            } else {
                (n.max(page.rows.len() as i64), false)
            });
        }
        // PostgreSQL: its planner counts, up to the cap.
        let (from, preds) = self.general_parts(&filters, None);
        let all = Pred::all(&preds);
        let sql = format!("SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} LIMIT ?) AS \"_c\"", from.sql, all.sql);
        let (n,): (i64,) =
            conn.fetch_one(from.values.into_iter().chain(all.values).fold(Sql::assembled(sql), Sql::bind).bind(cap + 1)).await?;
        Ok(capped(n))
    }
}

/// How a page was read (what its count can reuse).
pub enum Path {
    /// One index range is exactly the matches, in order.
    Exact(Option<Segment>),
    /// A walk that checked conditions on each row and filled the page or
    /// reached the end.
    Walk,
    /// The matches, found through one index, sorted.
    Gather(Source),
    /// A walk through the grid cells that cover a box.
    Cells,
    /// A walk stopped at its bound: the page is partial.
    Partial,
    /// The engine's own plan.
    General,
}

impl Path {
    pub fn name(&self) -> &'static str {
        match self {
            Path::Exact(_) => "exact walk",
            Path::Walk => "walk",
            Path::Gather(Source::Cells(_)) => "gather cells",
            Path::Gather(_) => "gather",
            Path::Cells => "cells walk",
            Path::Partial => "partial walk",
            Path::General => "engine",
        }
    }
}

/// How a bounded walk ended.
enum WalkEnd {
    /// The page is full.
    Full,
    /// Every segment was read to its end.
    Exhausted,
    /// A segment was cut at the bound: the cursor after the last row examined.
    Cut(Cursor),
}
