//! Writers of exports, beside the readers: every CSV, JSON, NDJSON, GeoJSON
//! and XLSX file chiase gives out is written here, so that what a cell
//! looks like (a field's own format, a neutralised formula) is decided in
//! one place.
//!
//! The streaming writers are called page by page: [`RowWriter::begin`]
//! (a header, an opening bracket), [`RowWriter::row`] for each record and
//! [`RowWriter::finish`] (the closing bracket) each append bytes to a buffer
//! the caller sends as one chunk, so memory holds one page, never the file.
//! A writer knows its [`Columns`] (the fields shown, and where a row's
//! geometry comes from) from the start, so a row cannot disagree with the
//! header.
//!
//! XLSX cannot stream over HTTP (a zip with a directory at its end):
//! [`XlsxWriter`] writes rows to a constant-memory worksheet (rows go to a
//! temporary file as they come) and saves the workbook to a path. It is
//! blocking code, to be run on a blocking thread.
//!
//! CSV cells a spreadsheet would run as a formula (OWASP's "CSV
//! injection": text starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return) get a leading `'` unless [`CsvOptions::escape_formulas`] is off.
//! Numbers are left alone: `-5` in a number field is a number to Excel too.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use chiase_core::Msg;
use chiase_core::fold::match_key;
use chiase_core::schema::{Field, FieldType, PersonalClass, Schema, Value};
use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError};
use serde::Serialize;
use serde_json::json;

/// An export that could not be written, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct WriteError {
    pub msg: Msg,
}

pub(crate) fn werr(vi: impl Into<String>, en: impl Into<String>) -> WriteError {
    WriteError { msg: Msg::new(vi, en) }
}

pub(crate) fn xlsx_error(e: &XlsxError) -> WriteError {
    werr(format!("không ghi được tệp bảng tính: {e}"), format!("cannot write the workbook: {e}"))
}

/// The formats records are exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
    Ndjson,
    Geojson,
    Xlsx,
}

impl ExportFormat {
    /// Every format, in the order they are offered.
    pub const ALL: [ExportFormat; 5] =
        [ExportFormat::Csv, ExportFormat::Json, ExportFormat::Ndjson, ExportFormat::Xlsx, ExportFormat::Geojson];

    /// The file extension, also the format's name in URLs (`export.csv`).
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Geojson => "geojson",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    /// The format of an extension (`csv`, `geojson`…), if it is one.
    pub fn from_extension(ext: &str) -> Option<ExportFormat> {
        ExportFormat::ALL.into_iter().find(|f| f.extension() == ext)
    }

    /// The `Content-Type` of a file in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Geojson => "application/geo+json",
            ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// Whether the format is written by a streaming [`RowWriter`] (all but
    /// XLSX, which [`XlsxWriter`] writes to a file).
    pub fn streams(self) -> bool {
        self != ExportFormat::Xlsx
    }
}

/// How CSV is written. The default neutralises formulas and writes no
/// byte-order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// Start with a UTF-8 byte-order mark, which Excel needs to read
    /// Vietnamese text as UTF-8.
    pub bom: bool,
    /// Put `'` before text a spreadsheet would run as a formula. Off gives
    /// raw values, for programs that read CSV as data.
    pub escape_formulas: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { bom: false, escape_formulas: true }
    }
}

// ---------------------------------------------------------------------------
// Formulas

/// Whether a spreadsheet opening a CSV would take `text` as a formula (or
/// the start of one): it begins with `=`, `+`, `-`, `@`, a tab or a
/// carriage return (OWASP, "CSV Injection").
pub fn is_formula_like(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// `text` with a `'` in front when a spreadsheet would run it as a
/// formula; a spreadsheet shows the text and hides the quote.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if is_formula_like(text) { Cow::Owned(format!("'{text}")) } else { Cow::Borrowed(text) }
}

/// Whether `text` is a plain decimal number (`-5`, `+1.5`, `-0.25`,
/// `1e-3`), which a spreadsheet reads as a number, not a formula.
pub fn is_plain_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let mut n = digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        i += 1;
        n += digits(&mut i);
    }
    if n == 0 {
        return false;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

// ---------------------------------------------------------------------------
// CSV cells

/// One CSV record being appended: cells separated by commas, quoted when
/// they hold a comma, a quote or a line break (quotes doubled), ended by
/// `\n`. A lone empty cell is written `""` so that the record is not an
/// empty line.
struct Record<'o> {
    out: &'o mut Vec<u8>,
    count: usize,
    last_empty: bool,
}

impl<'o> Record<'o> {
    fn new(out: &'o mut Vec<u8>) -> Record<'o> {
        Record { out, count: 0, last_empty: false }
    }

    fn cell(&mut self, cell: &str) {
        if self.count > 0 {
            self.out.push(b',');
        }
        self.count += 1;
        self.last_empty = cell.is_empty();
        if cell.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            self.out.push(b'"');
            for b in cell.bytes() {
                if b == b'"' {
                    self.out.push(b'"');
                }
                self.out.push(b);
            }
            self.out.push(b'"');
        } else {
            self.out.extend_from_slice(cell.as_bytes());
        }
    }

    fn end(self) {
        if self.count == 1 && self.last_empty {
            self.out.extend_from_slice(b"\"\"");
        }
        self.out.push(b'\n');
    }
}

/// A value as a CSV cell: the field's own format ([`Field::export_text`]);
/// text neutralised when asked, numbers never (a value of a `number`,
/// `integer` or `year` field is a number to a spreadsheet too).
pub fn csv_cell(field: &Field, value: &Value, escape_formulas: bool) -> String {
    let text = field.export_text(value);
    match value {
        Value::Int(_) | Value::Num(_) | Value::Null => text,
        _ if escape_formulas && is_formula_like(&text) => format!("'{text}"),
        _ => text,
    }
}

/// A free-form cell (audit log, reports): neutralised when asked, unless it
/// is a plain number.
fn text_cell(text: &str, escape_formulas: bool) -> Cow<'_, str> {
    if escape_formulas && !is_plain_number(text) { neutralise(text) } else { Cow::Borrowed(text) }
}

// ---------------------------------------------------------------------------
// Columns and geometry

/// The columns an export writes: a schema and the positions of the fields
/// shown (those the reader may see, in query order). Row values come in
/// the same order.
#[derive(Debug, Clone)]
pub struct Columns {
    schema: Arc<Schema>,
    visible: Vec<usize>,
}

impl Columns {
    /// The fields of `schema` at `visible`; a position outside the schema
    /// is an error, not a panic later.
    pub fn new(schema: Arc<Schema>, visible: Vec<usize>) -> Result<Columns, WriteError> {
        if let Some(p) = visible.iter().find(|p| **p >= schema.fields.len()) {
            return Err(werr(format!("lược đồ không có trường thứ {p}"), format!("the schema has no field {p}")));
        }
        Ok(Columns { schema, visible })
    }

    /// Every field of the schema, in order.
    pub fn all(schema: Arc<Schema>) -> Columns {
        let visible = (0..schema.fields.len()).collect();
        Columns { schema, visible }
    }

    /// The schema the positions refer to.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The positions of the fields shown.
    pub fn positions(&self) -> &[usize] {
        &self.visible
    }

    /// The fields shown, in order.
    pub fn fields(&self) -> impl Iterator<Item = &Field> + '_ {
        self.visible.iter().map(|i| &self.schema.fields[*i])
    }

    /// Whether a row can have a geometry (see [`has_geometry`]).
    pub fn has_geometry(&self) -> bool {
        has_geometry(&self.schema, &self.visible)
    }

    /// A row's geometry (see [`geometry`]).
    pub fn geometry(&self, values: &[Value]) -> Option<serde_json::Value> {
        geometry(&self.schema, &self.visible, values)
    }
}

/// Whether rows showing the fields at `visible` can have a geometry: both
/// fields of the dataset's point, or a geopoint or GeoJSON field.
pub fn has_geometry(schema: &Schema, visible: &[usize]) -> bool {
    schema.point.is_some_and(|(a, b)| visible.contains(&a) && visible.contains(&b))
        || visible
            .iter()
            .any(|f| schema.fields.get(*f).is_some_and(|f| matches!(f.spec.field_type, FieldType::Geopoint | FieldType::Geojson)))
}

/// A row's GeoJSON geometry: the dataset's point (its lat and lon fields),
/// else the first geopoint or GeoJSON field with a value. `values` are the
/// row's values for the fields at `visible`.
pub fn geometry(schema: &Schema, visible: &[usize], values: &[Value]) -> Option<serde_json::Value> {
    let at = |i: usize| visible.iter().position(|f| *f == i).and_then(|p| values.get(p));
    let num = |v: Option<&Value>| match v {
        Some(Value::Num(x)) => Some(*x),
        Some(Value::Int(n)) => Some(*n as f64),
        _ => None,
    };
    if let Some((lat, lon)) = schema.point
        && let (Some(y), Some(x)) = (num(at(lat)), num(at(lon)))
    {
        return Some(json!({ "type": "Point", "coordinates": [x, y] }));
    }
    for (f, v) in visible.iter().zip(values) {
        match (v, schema.fields.get(*f).map(|f| f.spec.field_type)) {
            (Value::Point(x, y), Some(FieldType::Geopoint)) => return Some(json!({ "type": "Point", "coordinates": [x, y] })),
            (Value::Geo(g, _), Some(FieldType::Geojson)) => return Some(g.clone()),
            _ => {}
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Streaming writers

/// A writer of one export format, called page by page; each call appends
/// to `out`, which the caller sends as a chunk and clears.
pub trait RowWriter: Send {
    /// What comes before the first row: a header, an opening bracket.
    fn begin(&mut self, out: &mut Vec<u8>);
    /// One record: its id (`_id`, the feature's `id`) and its values, in
    /// the order of the writer's [`Columns`].
    fn row(&mut self, out: &mut Vec<u8>, id: i64, values: &[Value]);
    /// What comes after the last row.
    fn finish(&mut self, out: &mut Vec<u8>);
}

/// The streaming writer of `format` over `columns`. `csv` applies to CSV
/// only. GeoJSON needs a geometry ([`Columns::has_geometry`]); XLSX is
/// written by [`XlsxWriter`].
pub fn row_writer(format: ExportFormat, columns: Columns, csv: CsvOptions) -> Result<Box<dyn RowWriter>, WriteError> {
    Ok(match format {
        ExportFormat::Csv => Box::new(CsvRows { columns, opts: csv }),
        ExportFormat::Json => Box::new(JsonRows { columns, lines: false, first: true }),
        ExportFormat::Ndjson => Box::new(JsonRows { columns, lines: true, first: true }),
        ExportFormat::Geojson if !columns.has_geometry() => {
            return Err(werr(
                "tập dữ liệu không có trường địa lý để xuất GeoJSON",
                "the dataset has no geographic field to export as GeoJSON",
            ));
        }
        ExportFormat::Geojson => Box::new(GeojsonRows { columns, first: true }),
        ExportFormat::Xlsx => {
            return Err(werr("tệp XLSX được ghi bằng XlsxWriter", "XLSX files are written by XlsxWriter"));
        }
    })
}

/// CSV: a header of field names, then one record per row.
struct CsvRows {
    columns: Columns,
    opts: CsvOptions,
}

impl RowWriter for CsvRows {
    fn begin(&mut self, out: &mut Vec<u8>) {
        if self.opts.bom {
            out.extend_from_slice("\u{feff}".as_bytes());
        }
        let mut rec = Record::new(out);
        for f in self.columns.fields() {
            rec.cell(&text_cell(&f.spec.name, self.opts.escape_formulas));
        }
        rec.end();
    }

    fn row(&mut self, out: &mut Vec<u8>, _id: i64, values: &[Value]) {
        let mut rec = Record::new(out);
        for (i, f) in self.columns.fields().enumerate() {
            // A missing value is an empty cell: the record keeps the header's width.
            rec.cell(&csv_cell(f, values.get(i).unwrap_or(&Value::Null), self.opts.escape_formulas));
        }
        rec.end();
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

/// Appends `"name":value` pairs of a row's fields.
fn push_fields(out: &mut Vec<u8>, columns: &Columns, values: &[Value], mut first: bool) {
    for (f, v) in columns.fields().zip(values) {
        if !first {
            out.push(b',');
        }
        first = false;
        push_json(out, &f.spec.name);
        out.push(b':');
        push_json(out, &v.to_json());
    }
}

/// Serialising a string or a `serde_json::Value` into a vector cannot fail.
fn push_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// A JSON array of objects, or NDJSON (one object a line). Each object is
/// `{"_id": …, "<field>": value, …}`, as the record API returns rows.
struct JsonRows {
    columns: Columns,
    lines: bool,
    first: bool,
}

impl RowWriter for JsonRows {
    fn begin(&mut self, out: &mut Vec<u8>) {
        if !self.lines {
            out.push(b'[');
        }
    }

    fn row(&mut self, out: &mut Vec<u8>, id: i64, values: &[Value]) {
        if !self.lines && !self.first {
            out.push(b',');
        }
        self.first = false;
        out.extend_from_slice(b"{\"_id\":");
        push_json(out, &id);
        push_fields(out, &self.columns, values, false);
        out.push(b'}');
        if self.lines {
            out.push(b'\n');
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.lines {
            out.push(b']');
        }
    }
}

/// A GeoJSON FeatureCollection: a Feature per row, with the row's id, its
/// geometry (null when it has none) and its fields as properties.
struct GeojsonRows {
    columns: Columns,
    first: bool,
}

impl RowWriter for GeojsonRows {
    fn begin(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"type":"FeatureCollection","features":["#);
    }

    fn row(&mut self, out: &mut Vec<u8>, id: i64, values: &[Value]) {
        if !self.first {
            out.push(b',');
        }
        self.first = false;
        out.extend_from_slice(br#"{"type":"Feature","id":"#);
        push_json(out, &id);
        out.extend_from_slice(br#","geometry":"#);
        push_json(out, &self.columns.geometry(values).unwrap_or(serde_json::Value::Null));
        out.extend_from_slice(br#","properties":{"#);
        push_fields(out, &self.columns, values, true);
        out.extend_from_slice(b"}}");
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"]}");
    }
}

// ---------------------------------------------------------------------------
// CSV of free-form records

/// CSV of string records that are not dataset rows (the audit log, its CLI
/// export): the same quoting and formula neutralisation as record exports,
/// applied to every cell that is not a plain number.
#[derive(Debug, Clone)]
pub struct StringCsv {
    opts: CsvOptions,
    started: bool,
}

impl StringCsv {
    /// A writer; nothing is written until the first record.
    pub fn new(opts: CsvOptions) -> StringCsv {
        StringCsv { opts, started: false }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started && self.opts.bom {
            out.extend_from_slice("\u{feff}".as_bytes());
        }
        self.started = true;
    }

    /// Appends one record (the header is a record like any other).
    pub fn record<I, S>(&mut self, out: &mut Vec<u8>, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.start(out);
        let mut rec = Record::new(out);
        for c in cells {
            rec.cell(&text_cell(c.as_ref(), self.opts.escape_formulas));
        }
        rec.end();
    }

    /// Appends a serialisable struct as a record, and before the first one
    /// a header of its field names: a flat object's values become cells
    /// (null empty, strings as they are, anything nested as JSON). The
    /// header is written once per writer, so a writer kept across pages
    /// writes one header.
    pub fn serialized<T: Serialize>(&mut self, out: &mut Vec<u8>, value: &T) -> Result<(), WriteError> {
        let value = serde_json::to_value(value)
            .map_err(|e| werr(format!("không ghi được bản ghi: {e}"), format!("cannot write the record: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(werr("chỉ ghi được đối tượng thành dòng CSV", "only objects can be written as CSV records"));
        };
        if !self.started {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            self.record(out, keys);
        }
        self.record(
            out,
            map.values().map(|v| match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// XLSX

/// Rows an XLSX sheet holds below its header: Excel's limit less one.
pub const XLSX_MAX_ROWS: u32 = 1_048_575;

/// Characters Excel keeps in a cell (UTF-16 units).
const XLSX_MAX_CELL: usize = 32_767;

/// Whole numbers Excel holds exactly (15 significant digits); larger ones
/// are written as text so no digit is lost.
const XLSX_MAX_EXACT: i64 = 999_999_999_999_999;

/// UTF-16 units Excel allows in a sheet name.
const XLSX_MAX_SHEET_NAME: usize = 31;

/// The name of the data sheet when the dataset's title leaves nothing usable.
pub const XLSX_DATA_SHEET_FALLBACK: &str = "Dữ liệu";

/// The name of the second sheet, which describes the exported fields.
pub const XLSX_FIELDS_SHEET: &str = "Trường dữ liệu";

/// The header fill of both sheets (a light blue).
const XLSX_HEADER_FILL: u32 = 0xDDEBF7;

/// A dataset's title as a sheet name Excel accepts: the characters
/// `[]:*?/\` replaced, runs of spaces made one, no `'` at either end, at
/// most 31 UTF-16 units (cut between characters, never inside one), and
/// not a name Excel reserves ("History") or that the fields sheet uses;
/// [`XLSX_DATA_SHEET_FALLBACK`] when nothing is left.
pub fn xlsx_sheet_name(title: &str) -> String {
    let mapped: String = title
        .chars()
        .filter_map(|c| match c {
            '/' | '\\' | ':' => Some('-'),
            '[' => Some('('),
            ']' => Some(')'),
            '*' | '?' => None,
            c if c.is_control() => Some(' '),
            c => Some(c),
        })
        .collect();
    let collapsed = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    let edge = |c: char| c == '\'' || c.is_whitespace();
    let mut name = String::new();
    let mut units = 0;
    for c in collapsed.trim_matches(edge).chars() {
        if units + c.len_utf16() > XLSX_MAX_SHEET_NAME {
            break;
        }
        units += c.len_utf16();
        name.push(c);
    }
    // The cut may leave a space or a `'` at the end.
    let name = name.trim_matches(edge);
    // Excel compares sheet names without case.
    let taken = |n: &str| n.to_lowercase() == "history" || n.to_lowercase() == XLSX_FIELDS_SHEET.to_lowercase();
    if name.is_empty() || taken(name) { XLSX_DATA_SHEET_FALLBACK.to_string() } else { name.to_string() }
}

/// The header of each column: the field's title, unless the importer
/// would not map that title back to this field ([`ColumnMap::new`]
/// matches a header by name first, then by folded title, taking the first
/// field that matches); then its name, which always maps back. So a title
/// shared with an earlier field, or equal to another field's name, gives
/// way to the name.
///
/// [`ColumnMap::new`]: crate::tabular::ColumnMap::new
fn xlsx_headers(columns: &Columns) -> Vec<String> {
    let schema = columns.schema();
    let maps_to = |h: &str| {
        schema.position(h).or_else(|| {
            let key = match_key(h);
            schema
                .fields
                .iter()
                .position(|f| match_key(&f.spec.name) == key || f.spec.title.as_deref().is_some_and(|t| match_key(t) == key))
        })
    };
    columns
        .positions()
        .iter()
        .map(|&p| {
            let f = &schema.fields[p];
            match f.spec.title.as_deref().map(str::trim) {
                Some(t) if !t.is_empty() && maps_to(t) == Some(p) => t.to_string(),
                _ => f.spec.name.clone(),
            }
        })
        .collect()
}

/// How the cells of a column are written, decided once from its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XlsxKind {
    /// Text in the field's own format ([`Field::export_text`]).
    Text,
    /// Whole numbers shown with thousands separators (`#,##0`).
    Count,
    /// Whole numbers shown as they are (`0`): keys and years, where
    /// `2,024` or `10,345` would read wrong.
    Code,
    /// Numbers in Excel's `General` format. A format such as
    /// `#,##0.##########` shows whole numbers with a dangling separator
    /// (`12.`), and Excel has no format that hides the separator only when
    /// there is no fraction; `General` shows `12` and `0.25` as they are
    /// (and the cell keeps every digit whatever is shown).
    Number,
    /// Excel dates (`dd/mm/yyyy`).
    Date,
    /// Excel date-times (`dd/mm/yyyy hh:mm:ss`), in UTC as stored.
    DateTime,
}

impl XlsxKind {
    /// The kind of the field at `pos`. The importer reads a date cell as
    /// ISO 8601 (`xlsx_cell`), which every date field accepts; date-times
    /// with a text format of their own stay text in that format (such a
    /// field reads only its format). Numbers of a field whose group
    /// character is `.` stay text unless people type the schema's values
    /// (its `locale`): a number cell reads back as `1234.5`, whose `.` a
    /// strict field drops as grouping.
    fn of(schema: &Schema, pos: usize) -> XlsxKind {
        let spec = &schema.fields[pos].spec;
        let iso = matches!(spec.format.as_deref(), None | Some("default" | "any"));
        match spec.field_type {
            FieldType::Integer if schema.key.contains(&pos) => XlsxKind::Code,
            FieldType::Integer => XlsxKind::Count,
            FieldType::Year => XlsxKind::Code,
            FieldType::Number if spec.group_char.as_deref() == Some(".") && schema.input_locale().is_none() => XlsxKind::Text,
            FieldType::Number => XlsxKind::Number,
            FieldType::Date => XlsxKind::Date,
            FieldType::Datetime if iso => XlsxKind::DateTime,
            _ => XlsxKind::Text,
        }
    }

    /// The column's width in characters: what its cells need, widened for
    /// the header up to a point (a longer header wraps).
    fn width(self, field: &Field, header: &str) -> f64 {
        let title = header.chars().count() as f64 + 2.0;
        let base: f64 = match (self, field.spec.field_type) {
            (XlsxKind::Date, _) => 12.0,
            (XlsxKind::DateTime, _) => 20.0,
            (XlsxKind::Count | XlsxKind::Code, _) => 10.0,
            (XlsxKind::Number, _) => 12.0,
            (XlsxKind::Text, FieldType::Boolean | FieldType::Integer | FieldType::Year) => 10.0,
            (XlsxKind::Text, FieldType::Number | FieldType::Date) => 12.0,
            (XlsxKind::Text, FieldType::Datetime) => 22.0,
            (XlsxKind::Text, FieldType::Geopoint) => 24.0,
            // Text and GeoJSON: as wide as the title, within bounds.
            (XlsxKind::Text, _) => return title.clamp(10.0, 60.0),
        };
        base.max(title.min(20.0))
    }
}

/// The formats of the data sheet, made once (a format per cell would be
/// looked up per cell).
struct XlsxFormats {
    header: Format,
    count: Format,
    code: Format,
    date: Format,
    datetime: Format,
}

impl XlsxFormats {
    fn new() -> XlsxFormats {
        XlsxFormats {
            header: header_format(),
            count: Format::new().set_num_format("#,##0"),
            code: Format::new().set_num_format("0"),
            date: Format::new().set_num_format("dd/mm/yyyy"),
            datetime: Format::new().set_num_format("dd/mm/yyyy hh:mm:ss"),
        }
    }
}

/// Bold, wrapped, on a fill, aligned to the top so wrapped and unwrapped
/// headers line up.
pub(crate) fn header_format() -> Format {
    Format::new().set_bold().set_text_wrap().set_align(FormatAlign::Top).set_background_color(XLSX_HEADER_FILL)
}

/// A header row's height for headers wrapped in columns of `widths`
/// characters: Excel does not grow a row for wrapped text in a file it
/// opens, so a long title would show its first line only. At most four
/// lines; `None` when one line is enough.
fn header_height(headers: &[String], widths: &[f64]) -> Option<f64> {
    let lines = headers
        .iter()
        .zip(widths)
        .map(|(h, w)| (h.chars().count() as f64 / (w - 1.0).max(1.0)).ceil() as u32)
        .max()
        .unwrap_or(1)
        .clamp(1, 4);
    (lines > 1).then(|| 15.0 * f64::from(lines))
}

/// An Excel date(-time) of a date and a time, when Excel can show it
/// (years 1900 to 9999).
fn excel_datetime(d: NaiveDate, t: Option<NaiveTime>) -> Option<ExcelDateTime> {
    let year = u16::try_from(d.year()).ok().filter(|y| (1900..=9999).contains(y))?;
    let date = ExcelDateTime::from_ymd(year, d.month() as u8, d.day() as u8).ok()?;
    match t {
        None => Some(date),
        Some(t) => date.and_hms(t.hour() as u16, t.minute() as u8, f64::from(t.second())).ok(),
    }
}

/// The cell of a value of a [`XlsxKind::DateTime`] column, or `None` when
/// it must be text (its field's own ISO text) to import back unchanged:
/// the importer reads a date-time cell to the second and one at midnight
/// as a bare date, which a date-time field refuses.
fn excel_instant(t: &chrono::DateTime<chrono::Utc>) -> Option<ExcelDateTime> {
    let naive = t.naive_utc();
    if naive.time() == NaiveTime::MIN || t.timestamp_subsec_nanos() != 0 {
        return None;
    }
    excel_datetime(naive.date(), Some(naive.time()))
}

/// The words of a field type on the fields sheet: its code and what it is
/// in Vietnamese.
fn type_words(t: FieldType) -> String {
    match t {
        // The cells show the stored instant in UTC; say so.
        FieldType::Datetime => format!("{} (thời điểm, giờ UTC)", t.code()),
        _ => format!("{} ({})", t.code(), t.label("vi")),
    }
}

fn personal_words(p: PersonalClass) -> &'static str {
    p.label("vi")
}

/// The values a field allows, as the fields sheet lists them: its enum, or
/// for a boolean the two texts its cells hold (which is what an edited
/// file must keep to import back).
fn allowed_values(f: &Field) -> String {
    if let Some(values) = &f.spec.constraints.enum_values {
        return values
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    if f.spec.field_type == FieldType::Boolean {
        return format!("{}; {}", f.export_text(&Value::Bool(true)), f.export_text(&Value::Bool(false)));
    }
    String::new()
}

/// The second sheet: one row per exported field (name, title, type,
/// personal data, allowed values, description). The schema has no unit,
/// so there is no unit column. Small, so an ordinary in-memory sheet.
fn fields_sheet(columns: &Columns) -> Result<Worksheet, XlsxError> {
    const HEADERS: [&str; 6] = ["Tên trường", "Tiêu đề", "Kiểu", "Dữ liệu cá nhân", "Giá trị cho phép", "Mô tả"];
    let rows: Vec<[String; 6]> = columns
        .fields()
        .map(|f| {
            [
                f.spec.name.clone(),
                f.spec.title.clone().unwrap_or_default(),
                type_words(f.spec.field_type),
                personal_words(f.spec.personal).to_string(),
                allowed_values(f),
                f.spec.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut sheet = Worksheet::new();
    sheet.set_name(XLSX_FIELDS_SHEET)?;
    let header = header_format();
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    for (c, h) in HEADERS.iter().enumerate() {
        // As wide as the longest cell, within bounds; longer text wraps.
        let longest = rows.iter().map(|r| r[c].chars().count()).chain([h.chars().count()]).max().unwrap_or(0);
        sheet.set_column_width(c as u16, (longest as f64 + 2.0).clamp(10.0, 60.0))?;
        sheet.write_string_with_format(0, c as u16, *h, &header)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (r, row) in rows.iter().enumerate() {
        for (c, text) in row.iter().enumerate() {
            if !text.is_empty() {
                sheet.write_string_with_format(r as u32 + 1, c as u16, excel_text(text).0, &wrap)?;
            }
        }
    }
    Ok(sheet)
}

/// Writes records to a constant-memory worksheet and saves the workbook,
/// laid out for people who open it in Excel and for the importer that
/// reads it back:
///
/// - the first sheet holds the data and is named after the dataset
///   ([`xlsx_sheet_name`]); its header is the fields' titles (a field's
///   name where the importer would map its title to another field),
///   frozen, with an autofilter over every row;
/// - cells are typed: numbers, dates and date-times are Excel's where the
///   importer reads them back as the same value, everything else
///   (booleans included) is text in the field's own format, so that the
///   file imports back unchanged. A text cell is never a formula, so
///   nothing needs neutralising;
/// - a second sheet, [`XLSX_FIELDS_SHEET`], describes the fields.
///
/// Blocking: run it on a blocking thread.
pub struct XlsxWriter {
    book: Workbook,
    sheet: Worksheet,
    columns: Columns,
    headers: Vec<String>,
    kinds: Vec<XlsxKind>,
    formats: XlsxFormats,
    /// The next row to write (0 is the header).
    next: u32,
    clipped: u64,
}

impl XlsxWriter {
    /// A writer over `columns` whose data sheet is named after `title`;
    /// rows go to a temporary file in `tempdir` (the system's when `None`)
    /// until [`XlsxWriter::finish`]. The sheet's layout (name, column
    /// widths, frozen header) is set here: a constant-memory sheet writes
    /// each row out as soon as the next one starts, so nothing about the
    /// rows can be changed later.
    pub fn new(columns: Columns, title: &str, tempdir: Option<&Path>) -> Result<XlsxWriter, WriteError> {
        let x = |e: XlsxError| xlsx_error(&e);
        let mut book = Workbook::new();
        if let Some(dir) = tempdir {
            book.set_tempdir(dir).map_err(x)?;
        }
        let mut sheet = book.new_worksheet_with_constant_memory().map_err(x)?;
        sheet.set_name(xlsx_sheet_name(title)).map_err(x)?;
        let headers = xlsx_headers(&columns);
        let kinds: Vec<XlsxKind> = columns.positions().iter().map(|p| XlsxKind::of(columns.schema(), *p)).collect();
        let widths: Vec<f64> = columns.fields().zip(&kinds).zip(&headers).map(|((f, k), h)| k.width(f, h)).collect();
        for (c, w) in widths.iter().enumerate() {
            sheet.set_column_width(c as u16, *w).map_err(x)?;
        }
        if let Some(h) = header_height(&headers, &widths) {
            sheet.set_row_height(0, h).map_err(x)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(x)?;
        Ok(XlsxWriter { book, sheet, columns, headers, kinds, formats: XlsxFormats::new(), next: 0, clipped: 0 })
    }

    /// Writes the header row.
    pub fn begin(&mut self) -> Result<(), WriteError> {
        for (c, h) in self.headers.iter().enumerate() {
            self.sheet.write_string_with_format(0, c as u16, excel_text(h).0, &self.formats.header).map_err(|e| xlsx_error(&e))?;
        }
        self.next = 1;
        Ok(())
    }

    /// Writes one record, values in the order of the writer's columns.
    pub fn row(&mut self, values: &[Value]) -> Result<(), WriteError> {
        if self.next == 0 {
            self.begin()?;
        }
        if self.next > XLSX_MAX_ROWS {
            return Err(werr(
                format!("vượt giới hạn {XLSX_MAX_ROWS} dòng của Excel; hãy xuất CSV hoặc lọc bớt"),
                format!("more than Excel's limit of {XLSX_MAX_ROWS} rows; export CSV or filter"),
            ));
        }
        let row = self.next;
        for (c, ((f, kind), v)) in self.columns.fields().zip(&self.kinds).zip(values).enumerate() {
            let clipped = Self::cell(&mut self.sheet, &self.formats, row, c as u16, f, *kind, v)?;
            self.clipped += u64::from(clipped);
        }
        self.next += 1;
        Ok(())
    }

    /// One cell; true when its text was cut to Excel's cell limit. A value
    /// the column's kind cannot hold exactly (a number past 15 digits, a
    /// date before 1900) is written as its text.
    fn cell(
        sheet: &mut Worksheet,
        fmt: &XlsxFormats,
        row: u32,
        col: u16,
        f: &Field,
        kind: XlsxKind,
        v: &Value,
    ) -> Result<bool, WriteError> {
        let mut clipped = false;
        let number_format = match kind {
            XlsxKind::Count => Some(&fmt.count),
            XlsxKind::Code => Some(&fmt.code),
            _ => None,
        };
        let numeric = matches!(kind, XlsxKind::Count | XlsxKind::Code | XlsxKind::Number);
        let date = match (kind, v) {
            (XlsxKind::Date, Value::Date(d)) => excel_datetime(*d, None).map(|d| (d, &fmt.date)),
            (XlsxKind::DateTime, Value::DateTime(t)) => excel_instant(t).map(|t| (t, &fmt.datetime)),
            _ => None,
        };
        match (v, date) {
            (Value::Null, _) => Ok(&mut *sheet),
            (_, Some((d, format))) => sheet.write_datetime_with_format(row, col, d, format),
            (Value::Int(n), _) if numeric && n.unsigned_abs() <= XLSX_MAX_EXACT as u64 => match number_format {
                Some(format) => sheet.write_number_with_format(row, col, *n as f64, format),
                None => sheet.write_number(row, col, *n as f64),
            },
            (Value::Num(x), _) if numeric && x.is_finite() => sheet.write_number(row, col, *x),
            (other, _) => {
                let text = f.export_text(other);
                let (text, cut) = excel_text(&text);
                clipped = cut;
                sheet.write_string(row, col, text)
            }
        }
        .map_err(|e| xlsx_error(&e))?;
        Ok(clipped)
    }

    /// Rows written below the header.
    pub fn rows_written(&self) -> u32 {
        self.next.saturating_sub(1)
    }

    /// Cells whose text was longer than Excel allows and was cut (with
    /// `…`), so that the caller can say so.
    pub fn clipped_cells(&self) -> u64 {
        self.clipped
    }

    /// Saves the workbook to `path` (overwriting it): the data sheet first
    /// (the importer reads the first sheet), then the fields sheet.
    pub fn finish(mut self, path: &Path) -> Result<(), WriteError> {
        let x = |e: XlsxError| xlsx_error(&e);
        if self.next == 0 {
            self.begin()?;
        }
        // Only now is the last row known. An autofilter is a range kept
        // with the sheet and written after its rows, so a constant-memory
        // sheet takes it after they have gone to disk.
        if let Some(last_col) = self.headers.len().checked_sub(1) {
            self.sheet.autofilter(0, 0, self.next - 1, last_col as u16).map_err(x)?;
        }
        let fields = fields_sheet(&self.columns).map_err(x)?;
        self.book.push_worksheet(self.sheet);
        self.book.push_worksheet(fields);
        self.book.save(path).map_err(x)
    }
}

/// Text cut to what an Excel cell holds, with `…` when cut.
pub(crate) fn excel_text(text: &str) -> (Cow<'_, str>, bool) {
    if text.len() <= XLSX_MAX_CELL || text.encode_utf16().count() <= XLSX_MAX_CELL {
        return (Cow::Borrowed(text), false);
    }
    let mut units = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if units + c.len_utf16() > XLSX_MAX_CELL - 1 {
            break;
        }
        units += c.len_utf16();
        end = i + c.len_utf8();
    }
    (Cow::Owned(format!("{}…", &text[..end])), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn schema() -> Arc<Schema> {
        Arc::new(
            Schema::from_json(&json!({"fields": [
                {"name": "ten", "type": "string"},
                {"name": "so", "type": "number"},
                {"name": "nam", "type": "integer"},
                {"name": "ngay", "type": "date", "format": "%d/%m/%Y"},
                {"name": "mo", "type": "boolean"},
                {"name": "lat", "type": "number", "geo": "lat"},
                {"name": "lon", "type": "number", "geo": "lon"}
            ]}))
            .unwrap(),
        )
    }

    fn row(ten: &str, so: f64) -> Vec<Value> {
        vec![
            Value::Text(ten.into()),
            Value::Num(so),
            Value::Int(-7),
            Value::Date(NaiveDate::from_ymd_opt(2022, 6, 6).unwrap()),
            Value::Bool(true),
            Value::Num(21.8),
            Value::Num(105.2),
        ]
    }

    /// Runs a writer over pages of rows, each page into its own chunk, and
    /// joins the chunks as a client would receive them.
    fn export(format: ExportFormat, columns: Columns, csv: CsvOptions, pages: &[Vec<Vec<Value>>]) -> String {
        let mut w = row_writer(format, columns, csv).unwrap();
        let mut chunks = Vec::new();
        let mut head = Vec::new();
        w.begin(&mut head);
        chunks.push(head);
        let mut id = 0;
        for page in pages {
            let mut buf = Vec::new();
            for r in page {
                id += 1;
                w.row(&mut buf, id, r);
            }
            chunks.push(buf);
        }
        let mut tail = Vec::new();
        w.finish(&mut tail);
        chunks.push(tail);
        String::from_utf8(chunks.concat()).unwrap()
    }

    fn csv_cells(text: &str) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn formula_like_text_is_neutralised_and_numbers_are_not() {
        let texts = ["=HYPERLINK(\"http://x.invalid\",\"bấm\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "Đồng Bừng, Tuyên Quang", "-5"];
        let rows: Vec<Vec<Value>> = texts.iter().map(|t| row(t, -0.25)).collect();
        let out = export(ExportFormat::Csv, Columns::all(schema()), CsvOptions::default(), std::slice::from_ref(&rows));
        let cells = csv_cells(&out);
        assert_eq!(cells[0], ["ten", "so", "nam", "ngay", "mo", "lat", "lon"]);
        let first: Vec<&str> = cells[1..].iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            first,
            [
                "'=HYPERLINK(\"http://x.invalid\",\"bấm\")",
                "'+1+1",
                "'-2+3",
                "'@SUM(A1)",
                "'\tx",
                "'\rx",
                "Đồng Bừng, Tuyên Quang",
                // Text that looks like a number is still text in a string field.
                "'-5"
            ]
        );
        // Numbers of number and integer fields are written as they are.
        assert_eq!(cells[1][1..], ["-0.25", "-7", "06/06/2022", "true", "21.8", "105.2"]);
        // Raw mode: every value as stored.
        let raw = export(ExportFormat::Csv, Columns::all(schema()), CsvOptions { escape_formulas: false, bom: false }, &[rows]);
        let raw_first: Vec<String> = csv_cells(&raw)[1..].iter().map(|r| r[0].clone()).collect();
        assert_eq!(raw_first, texts);
    }

    #[test]
    fn a_decimal_comma_number_stays_a_number_and_a_negative_geopoint_text_is_neutralised() {
        let schema = Arc::new(
            Schema::from_json(&json!({"fields": [
                {"name": "so", "type": "number", "decimalChar": ","},
                {"name": "diem", "type": "geopoint"}
            ]}))
            .unwrap(),
        );
        let out = export(
            ExportFormat::Csv,
            Columns::all(schema),
            CsvOptions::default(),
            &[vec![vec![Value::Num(-0.25), Value::Point(-105.5, 21.0)]]],
        );
        assert_eq!(out, "so,diem\n\"-0,25\",\"'-105.5, 21\"\n");
    }

    #[test]
    fn csv_quotes_what_it_must_and_starts_with_a_bom_when_asked() {
        let schema = Arc::new(Schema::from_json(&json!({"fields": [{"name": "a", "type": "string"}]})).unwrap());
        let pages = [vec![vec![Value::Text("say \"hi\"\nthere".into())], vec![Value::Null]], vec![vec![Value::Text("x".into())]]];
        let out = export(ExportFormat::Csv, Columns::all(schema), CsvOptions { bom: true, escape_formulas: true }, &pages);
        assert_eq!(out, "\u{feff}a\n\"say \"\"hi\"\"\nthere\"\n\"\"\nx\n");
    }

    #[test]
    fn csv_exports_import_back_unchanged() {
        let columns = Columns::all(schema());
        let rows = vec![row("Đồng Bừng", 1.5), row("", 0.0), row("a,\"b\"\nc", -3.0)];
        let out = export(ExportFormat::Csv, columns.clone(), CsvOptions::default(), std::slice::from_ref(&rows));
        let reader = crate::tabular::RecordReader::open(
            Box::new(std::io::Cursor::new(out.into_bytes())),
            Some("x.csv"),
            None,
            &crate::tabular::ReadOptions::default(),
        )
        .unwrap();
        let map = crate::tabular::ColumnMap::new(reader.headers().unwrap(), columns.schema()).unwrap();
        let back: Vec<Vec<Value>> =
            reader.map(|r| crate::tabular::parse_record(columns.schema(), Some(&map), &r.unwrap()).unwrap()).collect();
        let mut expected = rows;
        expected[1][0] = Value::Null;
        assert_eq!(back, expected);
    }

    #[test]
    fn json_and_ndjson_rows_are_the_record_api_objects() {
        // Three of the fields, values in the columns' order.
        let columns = Columns::new(schema(), vec![0, 2, 4]).unwrap();
        let pages = [
            vec![vec![Value::Text("Hà \"Giang\"".into()), Value::Int(-7), Value::Bool(true)]],
            vec![vec![Value::Text("B".into()), Value::Int(2), Value::Null], vec![Value::Null, Value::Null, Value::Bool(false)]],
        ];
        let out = export(ExportFormat::Json, columns.clone(), CsvOptions::default(), &pages);
        // Compact, `_id` first, then the fields in order: what the record API returns.
        assert!(out.starts_with("[{\"_id\":1,\"ten\":\"Hà \\\"Giang\\\"\",\"nam\":-7,\"mo\":true},{\"_id\":2,"), "{out}");
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            parsed,
            json!([
                {"_id": 1, "ten": "Hà \"Giang\"", "nam": -7, "mo": true},
                {"_id": 2, "ten": "B", "nam": 2, "mo": null},
                {"_id": 3, "ten": null, "nam": null, "mo": false}
            ])
        );
        let nd = export(ExportFormat::Ndjson, columns, CsvOptions::default(), &pages);
        let lines: Vec<serde_json::Value> = nd.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines, parsed.as_array().unwrap().clone());
        assert!(nd.ends_with('\n'));
        // An empty export is still a document.
        assert_eq!(export(ExportFormat::Json, Columns::all(schema()), CsvOptions::default(), &[]), "[]");
        assert_eq!(
            export(ExportFormat::Geojson, Columns::all(schema()), CsvOptions::default(), &[]),
            "{\"type\":\"FeatureCollection\",\"features\":[]}"
        );
    }

    #[test]
    fn geojson_features_carry_the_point_and_the_properties() {
        let out = export(
            ExportFormat::Geojson,
            Columns::all(schema()),
            CsvOptions::default(),
            &[
                vec![row("Trạm A", 1.0)],
                vec![vec![
                    Value::Text("không tọa độ".into()),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ]],
            ],
        );
        let fc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(fc["type"], "FeatureCollection");
        let f = &fc["features"][0];
        assert_eq!(f["type"], "Feature");
        assert_eq!(f["id"], 1);
        assert_eq!(f["geometry"], json!({"type": "Point", "coordinates": [105.2, 21.8]}));
        assert_eq!(f["properties"]["ten"], "Trạm A");
        assert_eq!(f["properties"]["ngay"], "2022-06-06");
        assert!(f["properties"].get("_id").is_none());
        assert_eq!(fc["features"][1]["geometry"], serde_json::Value::Null);
        // Without both point fields there is nothing to map.
        let no_geo = Columns::new(schema(), vec![0, 5]).unwrap();
        assert!(!no_geo.has_geometry());
        let e = row_writer(ExportFormat::Geojson, no_geo, CsvOptions::default()).err().unwrap();
        assert_eq!(e.msg.en, "the dataset has no geographic field to export as GeoJSON");
    }

    #[test]
    fn geometry_comes_from_a_geopoint_or_a_geojson_field_too() {
        let schema = Arc::new(
            Schema::from_json(&json!({"fields": [
                {"name": "ten", "type": "string"},
                {"name": "diem", "type": "geopoint"},
                {"name": "vung", "type": "geojson"}
            ]}))
            .unwrap(),
        );
        let poly = json!({"type": "Polygon", "coordinates": [[[105.0, 21.0], [106.0, 21.0], [106.0, 22.0], [105.0, 21.0]]]});
        let values = [Value::Text("A".into()), Value::Null, Value::Geo(poly.clone(), [105.0, 21.0, 106.0, 22.0])];
        assert!(has_geometry(&schema, &[0, 2]));
        assert!(!has_geometry(&schema, &[0]));
        assert_eq!(geometry(&schema, &[0, 1, 2], &values), Some(poly));
        let values = [Value::Point(105.5, 21.5), Value::Null];
        assert_eq!(geometry(&schema, &[1, 2], &values), Some(json!({"type": "Point", "coordinates": [105.5, 21.5]})));
        assert_eq!(geometry(&schema, &[0], &[Value::Text("A".into())]), None);
        // Positions outside the schema are refused up front.
        assert!(Columns::new(schema, vec![0, 3]).is_err());
    }

    #[test]
    fn plain_numbers_are_told_from_formulas() {
        for n in ["0", "-5", "+5", "-0.25", "12.", ".5", "-.5", "1e3", "-1.5E-3", "42"] {
            assert!(is_plain_number(n), "{n}");
        }
        for t in ["", "-", "+", ".", "-2+3", "1e", "1e+", "--1", "1-1", "- 1", "-inf", "NaN", "0x10", "1,5", "=1"] {
            assert!(!is_plain_number(t), "{t}");
        }
        assert_eq!(neutralise("=1+1"), "'=1+1");
        assert_eq!(neutralise("Ủy ban"), "Ủy ban");
        assert!(!is_formula_like(""));
    }

    #[derive(Serialize)]
    struct Event {
        seq: i64,
        actor: String,
        target: Option<String>,
        detail: String,
    }

    #[test]
    fn string_records_share_the_quoting_and_the_neutralisation() {
        let mut w = StringCsv::new(CsvOptions::default());
        let mut out = Vec::new();
        w.record(&mut out, ["seq", "actor", "detail"]);
        w.record(&mut out, ["-1", "=cmd|' /C calc'!A0", "-2+3"]);
        w.record(&mut out, ["12.5", "Nguyễn Văn A", "@x"]);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(csv_cells(&text), [["seq", "actor", "detail"], ["-1", "'=cmd|' /C calc'!A0", "'-2+3"], ["12.5", "Nguyễn Văn A", "'@x"]]);
        // Structs: a header once per writer, however many pages.
        let mut w = StringCsv::new(CsvOptions { bom: true, escape_formulas: false });
        let mut out = Vec::new();
        for page in 0..2 {
            let e = Event { seq: page, actor: "=raw".into(), target: None, detail: "{\"a\":1}".into() };
            w.serialized(&mut out, &e).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "\u{feff}seq,actor,target,detail\n0,=raw,,\"{\"\"a\"\":1}\"\n1,=raw,,\"{\"\"a\"\":1}\"\n");
        assert!(StringCsv::new(CsvOptions::default()).serialized(&mut Vec::new(), &5).is_err());
    }

    #[test]
    fn xlsx_cells_are_typed_and_text_is_never_a_formula() {
        use calamine::{Data, Reader, open_workbook_auto};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.xlsx");
        let mut w = XlsxWriter::new(Columns::all(schema()), "Trạm đo", Some(dir.path())).unwrap();
        w.begin().unwrap();
        w.row(&row("=1+1", -0.25)).unwrap();
        let mut big = row(&"Đ".repeat(40_000), 1.0);
        big[2] = Value::Int(1_234_567_890_123_456_789);
        w.row(&big).unwrap();
        assert_eq!(w.rows_written(), 2);
        assert_eq!(w.clipped_cells(), 1);
        w.finish(&path).unwrap();
        let mut book = open_workbook_auto(&path).unwrap();
        let range = book.worksheet_range("Trạm đo").unwrap();
        let rows: Vec<&[Data]> = range.rows().collect();
        // No titles: the names are the headers.
        assert_eq!(rows[0][0], Data::String("ten".into()));
        assert_eq!(rows[0][6], Data::String("lon".into()));
        assert_eq!(rows[1][0], Data::String("=1+1".into()));
        assert_eq!(rows[1][1], Data::Float(-0.25));
        assert_eq!(rows[1][2], Data::Float(-7.0));
        // A date field with a text format of its own is a real date too:
        // the cell reads back as ISO, which every date field accepts.
        assert!(matches!(rows[1][3], Data::DateTime(_)), "{:?}", rows[1][3]);
        // Booleans are the field's own text, which imports back.
        assert_eq!(rows[1][4], Data::String("true".into()));
        let Data::String(cut) = &rows[2][0] else { panic!("{:?}", rows[2][0]) };
        assert_eq!(cut.encode_utf16().count(), XLSX_MAX_CELL);
        assert!(cut.ends_with('…'));
        assert_eq!(rows[2][2], Data::String("1234567890123456789".into()));
    }

    #[test]
    fn an_empty_xlsx_export_still_has_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.xlsx");
        XlsxWriter::new(Columns::new(schema(), vec![1, 0]).unwrap(), "", None).unwrap().finish(&path).unwrap();
        let (h, recs) = {
            let r = crate::tabular::RecordReader::open(
                Box::new(std::fs::File::open(&path).unwrap()),
                Some("x.xlsx"),
                None,
                &crate::tabular::ReadOptions::default(),
            )
            .unwrap();
            (r.headers().map(<[String]>::to_vec), r.count())
        };
        assert_eq!(h.unwrap(), ["so", "ten"]);
        assert_eq!(recs, 0);
    }

    #[test]
    fn sheet_names_are_titles_excel_accepts() {
        assert_eq!(xlsx_sheet_name("Dân số 2020/2021: xã [mới]*?"), "Dân số 2020-2021- xã (mới)");
        // Cut at 31 characters, between two (multi-byte) characters.
        let long = "Danh sách trường học trên địa bàn tỉnh Tuyên Quang";
        assert_eq!(xlsx_sheet_name(long), "Danh sách trường học trên địa b");
        assert_eq!(xlsx_sheet_name(long).chars().count(), 31);
        // Characters past the Basic Multilingual Plane count twice.
        assert_eq!(xlsx_sheet_name(&"𝐀".repeat(20)).encode_utf16().count(), 30);
        // No `'` or space at either end, even after the cut; spaces and
        // line breaks inside made one.
        assert_eq!(xlsx_sheet_name("'Trích  dẫn'\n"), "Trích dẫn");
        assert_eq!(xlsx_sheet_name("Báo cáo 'năm' của các đơn vị ' tháng"), "Báo cáo 'năm' của các đơn vị");
        assert_eq!(xlsx_sheet_name("O'Neil"), "O'Neil");
        for fallback in ["", "  ", "''", "*?", "history", "TRƯỜNG DỮ LIỆU"] {
            assert_eq!(xlsx_sheet_name(fallback), XLSX_DATA_SHEET_FALLBACK, "{fallback:?}");
        }
    }

    #[test]
    fn a_title_the_importer_would_map_elsewhere_gives_way_to_the_name() {
        let schema = Arc::new(
            Schema::from_json(&json!({"fields": [
                {"name": "ten", "title": "Tên", "type": "string"},
                {"name": "ten_khac", "title": "TÊN", "type": "string"},
                {"name": "ma", "title": "ten", "type": "string"},
                {"name": "ghi_chu", "title": "  ", "type": "string"},
                {"name": "xa", "title": " Xã / phường ", "type": "string"}
            ]}))
            .unwrap(),
        );
        let headers = xlsx_headers(&Columns::all(schema.clone()));
        // "TÊN" folds to the first field's title; "ten" is the first
        // field's name; a blank title is no header.
        assert_eq!(headers, ["Tên", "ten_khac", "ma", "ghi_chu", "Xã / phường"]);
        let map = crate::tabular::ColumnMap::new(&headers, &schema).unwrap();
        assert_eq!(map.field_column, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
        // The rule is the importer's, not only among the fields shown: a
        // hidden field with the same title still takes it.
        assert_eq!(xlsx_headers(&Columns::new(schema, vec![1, 4]).unwrap()), ["ten_khac", "Xã / phường"]);
    }

    fn station_schema() -> Arc<Schema> {
        Arc::new(
            Schema::from_json(&json!({"fields": [
                {"name": "ma", "title": "Mã trạm", "type": "integer"},
                {"name": "ngay", "title": "Ngày đo", "type": "date", "description": "Ngày lấy mẫu"},
                {"name": "luc", "title": "Thời điểm gửi", "type": "datetime"},
                {"name": "muc_nuoc", "title": "Mực nước (m)", "type": "number"},
                {"name": "so_dan", "title": "Số dân được cấp nước", "type": "integer"},
                {"name": "nam", "title": "Năm", "type": "year"},
                {"name": "hoat_dong", "title": "Đang hoạt động", "type": "boolean", "trueValues": ["Có"], "falseValues": ["Không"]},
                {"name": "ghi_chu", "title": "Ghi chú", "type": "string", "personal": "basic"},
                {"name": "loai", "title": "Ghi chú", "type": "string", "personal": "sensitive", "constraints": {"enum": ["A", "B"]}},
                {"name": "vi_tri", "title": "Vị trí", "type": "geopoint"}
            ], "primaryKey": ["ma"]}))
            .unwrap(),
        )
    }

    #[test]
    fn xlsx_exports_are_typed_for_excel_and_import_back_unchanged() {
        use calamine::{Data, Reader, open_workbook_auto_from_rs};
        use chrono::{TimeZone, Utc};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.xlsx");
        let columns = Columns::all(station_schema());
        let title = "Mực nước trạm Sông Lô: 2024/2025 (đợt 1)";
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let rows = vec![
            vec![
                Value::Int(1_234_567),
                Value::Date(day(2024, 3, 15)),
                Value::DateTime(Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()),
                Value::Num(0.1 + 0.2),
                Value::Int(1_234_567),
                Value::Int(2024),
                Value::Bool(true),
                Value::Text("=SUM(A1:A9)".into()),
                Value::Text("A".into()),
                Value::Point(105.27, 22.15),
            ],
            vec![
                Value::Int(2),
                // Before 1900, which Excel cannot hold as a date: ISO text.
                Value::Date(day(1899, 5, 1)),
                // Midnight, which the importer would read back as a bare
                // date, and a fraction of a second, which it would drop:
                // both text.
                Value::DateTime(Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap()),
                Value::Num(-1234.0),
                Value::Int(-7),
                Value::Int(1999),
                Value::Bool(false),
                Value::Text("Nguyễn Văn A, thôn Nà Lá".into()),
                Value::Null,
                Value::Point(-105.5, 21.0),
            ],
            vec![
                Value::Int(3),
                Value::Null,
                Value::DateTime(Utc.timestamp_millis_opt(1_704_164_645_250).unwrap()),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        ];
        let mut w = XlsxWriter::new(columns.clone(), title, Some(dir.path())).unwrap();
        w.begin().unwrap();
        for r in &rows {
            w.row(r).unwrap();
        }
        w.finish(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();

        let mut book = open_workbook_auto_from_rs(std::io::Cursor::new(bytes.clone())).unwrap();
        let sheet = "Mực nước trạm Sông Lô- 2024-202";
        assert_eq!(book.sheet_names(), [sheet, XLSX_FIELDS_SHEET]);
        let data = book.worksheet_range(sheet).unwrap();
        let data: Vec<&[Data]> = data.rows().collect();
        let header: Vec<String> = data[0].iter().map(ToString::to_string).collect();
        // Titles; the second "Ghi chú" is its field's name.
        assert_eq!(
            header,
            [
                "Mã trạm",
                "Ngày đo",
                "Thời điểm gửi",
                "Mực nước (m)",
                "Số dân được cấp nước",
                "Năm",
                "Đang hoạt động",
                "Ghi chú",
                "loai",
                "Vị trí"
            ]
        );
        assert!(matches!(data[1][1], Data::DateTime(_)), "{:?}", data[1][1]);
        assert!(matches!(data[1][2], Data::DateTime(_)), "{:?}", data[1][2]);
        assert_eq!(data[1][0], Data::Float(1_234_567.0));
        assert_eq!(data[1][3], Data::Float(0.1 + 0.2));
        assert_eq!(data[1][6], Data::String("Có".into()));
        assert_eq!(data[1][7], Data::String("=SUM(A1:A9)".into()));
        assert_eq!(data[1][9], Data::String("105.27, 22.15".into()));
        assert_eq!(data[2][1], Data::String("1899-05-01".into()));
        assert_eq!(data[2][2], Data::String("2024-01-02T00:00:00Z".into()));
        assert_eq!(data[3][2], Data::String("2024-01-02T03:04:05.250Z".into()));
        // The formats Excel shows them in.
        let styles = book.worksheet_style(sheet).unwrap();
        let number_format =
            |r, c| styles.get((r, c)).and_then(|s| s.number_format.as_ref()).map(|f| f.format_code.clone()).unwrap_or_default();
        let formats: Vec<String> = (0..6).map(|c| number_format(1, c)).collect();
        assert_eq!(formats[..3], ["0", "dd/mm/yyyy", "dd/mm/yyyy hh:mm:ss"]);
        assert!(formats[3].is_empty() || formats[3] == "General", "{:?}", formats[3]);
        assert_eq!(formats[4..], ["#,##0", "0"]);
        let head = styles.get((0, 0)).unwrap();
        assert!(head.font.as_ref().is_some_and(|f| f.is_bold()));
        assert!(head.alignment.as_ref().is_some_and(|a| a.wrap_text));
        assert!(head.fill.is_some());
        // The autofilter spans the header and every row written.
        let filter = book.defined_names().iter().find(|(n, _)| n == "_xlnm._FilterDatabase").map(|(_, r)| r.clone());
        assert_eq!(filter.as_deref(), Some("'Mực nước trạm Sông Lô- 2024-202'!$A$1:$J$4"));

        let fields = book.worksheet_range(XLSX_FIELDS_SHEET).unwrap();
        let fields: Vec<Vec<String>> = fields.rows().map(|r| r.iter().map(ToString::to_string).collect()).collect();
        assert_eq!(fields.len(), 11);
        assert_eq!(fields[0], ["Tên trường", "Tiêu đề", "Kiểu", "Dữ liệu cá nhân", "Giá trị cho phép", "Mô tả"]);
        assert_eq!(fields[1], ["ma", "Mã trạm", "integer (số nguyên)", "không", "", ""]);
        assert_eq!(fields[2], ["ngay", "Ngày đo", "date (ngày)", "không", "", "Ngày lấy mẫu"]);
        assert_eq!(fields[3][2], "datetime (thời điểm, giờ UTC)");
        assert_eq!(fields[6][2], "year (năm)");
        assert_eq!(fields[7][2..5], ["boolean (đúng/sai)", "không", "Có; Không"]);
        assert_eq!(fields[8][..4], ["ghi_chu", "Ghi chú", "string (chuỗi)", "cơ bản"]);
        assert_eq!(fields[9][..5], ["loai", "Ghi chú", "string (chuỗi)", "nhạy cảm", "A; B"]);
        assert_eq!(fields[10][..3], ["vi_tri", "Vị trí", "geopoint (tọa độ)"]);

        // Back through the importer: the same values.
        assert_eq!(import_back(bytes, columns.schema()), rows);
    }

    /// A workbook read back through the importer, row by row.
    fn import_back(bytes: Vec<u8>, schema: &Schema) -> Vec<Vec<Value>> {
        let opts = crate::tabular::ReadOptions::default();
        let reader = crate::tabular::RecordReader::open(Box::new(std::io::Cursor::new(bytes)), Some("x.xlsx"), None, &opts).unwrap();
        let map = crate::tabular::ColumnMap::new(reader.headers().unwrap(), schema).unwrap();
        reader.map(|r| crate::tabular::parse_record(schema, Some(&map), &r.unwrap()).unwrap()).collect()
    }

    #[test]
    fn numbers_a_field_groups_with_a_dot_stay_its_text() {
        use calamine::{Data, Reader, open_workbook_auto_from_rs};
        let schema = Arc::new(
            Schema::from_json(&json!({"fields": [
                {"name": "so", "type": "number", "decimalChar": ",", "groupChar": "."},
                {"name": "ty_le", "type": "number", "decimalChar": ","},
                {"name": "ngay", "type": "date", "format": "%d/%m/%Y"}
            ]}))
            .unwrap(),
        );
        let columns = Columns::all(schema);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.xlsx");
        let rows = vec![vec![Value::Num(1234.5), Value::Num(-0.25), Value::Date(NaiveDate::from_ymd_opt(2022, 6, 6).unwrap())]];
        let mut w = XlsxWriter::new(columns.clone(), "x", None).unwrap();
        w.row(&rows[0]).unwrap();
        w.finish(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut book = open_workbook_auto_from_rs(std::io::Cursor::new(bytes.clone())).unwrap();
        let range = book.worksheet_range("x").unwrap();
        // A number cell reads back as `1234.5`, whose `.` the first field
        // drops as grouping: its text instead. The second field takes the
        // `.` as it comes.
        assert_eq!(range.get((1, 0)), Some(&Data::String("1234,5".into())));
        assert_eq!(range.get((1, 1)), Some(&Data::Float(-0.25)));
        assert!(matches!(range.get((1, 2)), Some(Data::DateTime(_))));
        assert_eq!(import_back(bytes, columns.schema()), rows);
    }

    #[test]
    fn writers_can_move_to_other_threads() {
        fn send<T: Send>(_: &T) {}
        let w = row_writer(ExportFormat::Csv, Columns::all(schema()), CsvOptions::default()).unwrap();
        send(&w);
        let x = XlsxWriter::new(Columns::all(schema()), "x", None).unwrap();
        send(&x);
        assert_eq!(ExportFormat::from_extension("geojson"), Some(ExportFormat::Geojson));
        assert_eq!(ExportFormat::from_extension("exe"), None);
        assert!(!ExportFormat::Xlsx.streams());
    }
}
