//! Streaming readers of tabular files: CSV and TSV (any delimiter, UTF-8
//! with or without a BOM, UTF-16 with a BOM, legacy encodings on request),
//! JSON arrays and NDJSON read record by record, and XLSX sheets. Each
//! yields records with the line (or record number) they came from; memory
//! stays constant except for XLSX, whose format needs the whole file.

use std::io::{BufRead, BufReader, Cursor, Read};

use calamine::{Data, Reader, open_workbook_auto_from_rs};
use chiase_core::Msg;
use chiase_core::fold::match_key;
use chiase_core::schema::{FieldError, Schema, Value};
use encoding_rs::Encoding;

/// The largest workbook accepted (XLSX is read whole; CSV streams).
pub const MAX_XLSX_BYTES: u64 = 200 * 1024 * 1024;

/// The formats an import accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Tsv,
    Xlsx,
    Json,
    Ndjson,
}

impl Format {
    pub fn code(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
        }
    }

    /// From a content type, a file name, or else the first bytes.
    pub fn detect(content_type: Option<&str>, file_name: Option<&str>, head: &[u8]) -> Format {
        let ct = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match ct.as_str() {
            "text/csv" => return Format::Csv,
            "text/tab-separated-values" => return Format::Tsv,
            "application/json" => return Format::Json,
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => return Format::Ndjson,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" | "application/vnd.ms-excel" => return Format::Xlsx,
            _ => {}
        }
        let name = file_name.unwrap_or("").to_ascii_lowercase();
        for (ext, f) in [
            (".csv", Format::Csv),
            (".tsv", Format::Tsv),
            (".tab", Format::Tsv),
            (".xlsx", Format::Xlsx),
            (".xls", Format::Xlsx),
            (".ods", Format::Xlsx),
            (".ndjson", Format::Ndjson),
            (".jsonl", Format::Ndjson),
            (".json", Format::Json),
        ] {
            if name.ends_with(ext) {
                return f;
            }
        }
        if head.starts_with(b"PK\x03\x04") || head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            return Format::Xlsx;
        }
        let text = String::from_utf8_lossy(&head[..head.len().min(4096)]);
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        if trimmed.starts_with('[') {
            Format::Json
        } else if trimmed.starts_with('{') {
            Format::Ndjson
        } else {
            Format::Csv
        }
    }
}

/// How to read a file.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub format: Option<Format>,
    /// Declared encoding (a byte-order mark still wins).
    pub encoding: Option<&'static Encoding>,
    /// Field delimiter for CSV; detected when absent.
    pub delimiter: Option<u8>,
}

/// One record as read: text cells under a header, or a JSON object.
#[derive(Debug, Clone)]
pub enum Cells {
    Text(Vec<String>),
    Json(serde_json::Map<String, serde_json::Value>),
}

/// A record and where it came from (a line of text, a JSON record number,
/// a sheet row).
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub line: u64,
    pub cells: Cells,
}

/// A file that cannot be read at all (not a bad row: those are reported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct ReadError {
    pub line: u64,
    pub msg: Msg,
}

fn rerr(line: u64, vi: impl Into<String>, en: impl Into<String>) -> ReadError {
    ReadError { line, msg: Msg::new(vi, en) }
}

/// A reader of records, whatever the format.
pub struct RecordReader {
    inner: Inner,
    headers: Option<Vec<String>>,
    pub format: Format,
}

enum Inner {
    Csv(csv::Reader<Box<dyn Read + Send>>, csv::StringRecord),
    Json(JsonArray<Box<dyn BufRead + Send>>),
    Ndjson(Box<dyn BufRead + Send>, u64),
    Rows(std::vec::IntoIter<(u64, Vec<String>)>),
}

impl RecordReader {
    /// Opens a reader; `source` is read as a stream.
    pub fn open(
        source: Box<dyn Read + Send>,
        file_name: Option<&str>,
        content_type: Option<&str>,
        opts: &ReadOptions,
    ) -> Result<RecordReader, ReadError> {
        let mut buffered = BufReader::with_capacity(256 * 1024, source);
        let head =
            buffered.fill_buf().map_err(|e| rerr(0, format!("không đọc được tệp: {e}"), format!("cannot read the file: {e}")))?.to_vec();
        let format = opts.format.unwrap_or_else(|| Format::detect(content_type, file_name, &head));
        let declared = opts.encoding;
        match format {
            Format::Xlsx => {
                let mut bytes = Vec::new();
                buffered
                    .read_to_end(&mut bytes)
                    .map_err(|e| rerr(0, format!("không đọc được tệp: {e}"), format!("cannot read the file: {e}")))?;
                let rows = xlsx_rows(&bytes)?;
                let mut iter = rows.into_iter();
                let headers = iter.next().map(|(_, h)| h);
                Ok(RecordReader { inner: Inner::Rows(iter), headers, format })
            }
            Format::Csv | Format::Tsv => {
                let text = decoded(buffered, &head, declared);
                let delimiter = opts.delimiter.unwrap_or(if format == Format::Tsv { b'\t' } else { sniff_delimiter(&head) });
                let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(true).from_reader(text);
                let headers = reader.headers().map_err(|e| csv_error(&e))?.iter().map(|h| h.trim().to_string()).collect();
                Ok(RecordReader { inner: Inner::Csv(reader, csv::StringRecord::new()), headers: Some(headers), format })
            }
            Format::Json => {
                let text = BufReader::with_capacity(256 * 1024, decoded(buffered, &head, declared));
                Ok(RecordReader { inner: Inner::Json(JsonArray::new(Box::new(text))), headers: None, format })
            }
            Format::Ndjson => {
                let text = BufReader::with_capacity(256 * 1024, decoded(buffered, &head, declared));
                Ok(RecordReader { inner: Inner::Ndjson(Box::new(text), 0), headers: None, format })
            }
        }
    }

    /// The header row, for tabular formats.
    pub fn headers(&self) -> Option<&[String]> {
        self.headers.as_deref()
    }
}

/// UTF-8 passes through untouched (so that invalid bytes are reported by
/// the parser with their position, not replaced); a BOM or a declared
/// encoding turns on transcoding.
fn decoded(inner: BufReader<Box<dyn Read + Send>>, head: &[u8], declared: Option<&'static Encoding>) -> Box<dyn Read + Send> {
    let bom = Encoding::for_bom(head).map(|(e, _)| e);
    match bom.or(declared) {
        Some(enc) if enc != encoding_rs::UTF_8 => {
            Box::new(encoding_rs_io::DecodeReaderBytesBuilder::new().encoding(Some(enc)).bom_sniffing(true).build(inner))
        }
        _ => Box::new(encoding_rs_io::DecodeReaderBytesBuilder::new().bom_sniffing(true).utf8_passthru(true).strip_bom(true).build(inner)),
    }
}

/// The delimiter used most in the first line, outside quotes.
fn sniff_delimiter(head: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in head.iter().take_while(|b| **b != b'\n') {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = counts.iter().enumerate().max_by_key(|(i, c)| (**c, 3 - *i)).map(|(i, _)| i).unwrap_or(0);
    if counts[best] == 0 { b',' } else { [b',', b';', b'\t'][best] }
}

fn csv_error(e: &csv::Error) -> ReadError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => rerr(
            line,
            "tệp không phải UTF-8 hợp lệ; hãy lưu lại dạng UTF-8 hoặc khai báo bảng mã (ví dụ windows-1258)",
            "the file is not valid UTF-8; save it as UTF-8 or declare its encoding (e.g. windows-1258)",
        ),
        _ => rerr(line, format!("CSV không hợp lệ: {e}"), format!("malformed CSV: {e}")),
    }
}

impl Iterator for RecordReader {
    type Item = Result<SourceRecord, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Csv(reader, record) => loop {
                match reader.read_record(record) {
                    Ok(false) => return None,
                    Ok(true) => {
                        if record.iter().all(|c| c.trim().is_empty()) {
                            continue;
                        }
                        let line = record.position().map(|p| p.line()).unwrap_or(0);
                        return Some(Ok(SourceRecord { line, cells: Cells::Text(record.iter().map(str::to_string).collect()) }));
                    }
                    Err(e) => return Some(Err(csv_error(&e))),
                }
            },
            Inner::Json(array) => array.next(),
            Inner::Ndjson(reader, line) => loop {
                let mut buf = String::new();
                *line += 1;
                match reader.read_line(&mut buf) {
                    Ok(0) => return None,
                    Ok(_) if buf.trim().is_empty() => continue,
                    Ok(_) => {
                        return Some(match serde_json::from_str::<serde_json::Value>(&buf) {
                            Ok(serde_json::Value::Object(o)) => Ok(SourceRecord { line: *line, cells: Cells::Json(o) }),
                            Ok(_) => {
                                Err(rerr(*line, "mỗi dòng NDJSON phải là một đối tượng JSON", "each NDJSON line must be a JSON object"))
                            }
                            Err(e) => Err(rerr(*line, format!("JSON không hợp lệ: {e}"), format!("invalid JSON: {e}"))),
                        });
                    }
                    Err(e) => return Some(Err(rerr(*line, format!("không đọc được dòng: {e}"), format!("cannot read the line: {e}")))),
                }
            },
            Inner::Rows(rows) => rows.next().map(|(line, cells)| Ok(SourceRecord { line, cells: Cells::Text(cells) })),
        }
    }
}

/// Reads the elements of a top-level JSON array one at a time.
struct JsonArray<R: BufRead> {
    reader: R,
    started: bool,
    done: bool,
    count: u64,
}

impl<R: BufRead> JsonArray<R> {
    fn new(reader: R) -> Self {
        JsonArray { reader, started: false, done: false, count: 0 }
    }

    fn byte(&mut self) -> std::io::Result<Option<u8>> {
        let buf = self.reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let b = buf[0];
        self.reader.consume(1);
        Ok(Some(b))
    }

    fn next_significant(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            match self.byte()? {
                Some(b) if b.is_ascii_whitespace() => continue,
                other => return Ok(other),
            }
        }
    }

    fn next(&mut self) -> Option<Result<SourceRecord, ReadError>> {
        if self.done {
            return None;
        }
        let io = |e: std::io::Error| rerr(0, format!("không đọc được tệp: {e}"), format!("cannot read the file: {e}"));
        let bad = |n: u64, vi: &str, en: &str| rerr(n, vi.to_string(), en.to_string());
        if !self.started {
            self.started = true;
            match self.next_significant() {
                Ok(Some(b'[')) => {}
                Ok(_) => {
                    self.done = true;
                    return Some(Err(bad(1, "tệp JSON phải là một mảng các đối tượng", "a JSON file must be an array of objects")));
                }
                Err(e) => return Some(Err(io(e))),
            }
        }
        let first = match self.next_significant() {
            Ok(Some(b']')) | Ok(None) => {
                self.done = true;
                return None;
            }
            Ok(Some(b',')) if self.count > 0 => match self.next_significant() {
                Ok(Some(b)) => b,
                Ok(None) => {
                    self.done = true;
                    return Some(Err(bad(self.count + 1, "mảng JSON kết thúc đột ngột", "the JSON array ends abruptly")));
                }
                Err(e) => return Some(Err(io(e))),
            },
            Ok(Some(b)) => b,
            Err(e) => return Some(Err(io(e))),
        };
        self.count += 1;
        let n = self.count;
        if first != b'{' {
            self.done = true;
            return Some(Err(bad(
                n,
                "mỗi phần tử của mảng JSON phải là một đối tượng",
                "each element of the JSON array must be an object",
            )));
        }
        // Collect one object, tracking strings and nesting.
        let mut buf = vec![b'{'];
        let (mut depth, mut in_str, mut escaped) = (1usize, false, false);
        while depth > 0 {
            let b = match self.byte() {
                Ok(Some(b)) => b,
                Ok(None) => {
                    self.done = true;
                    return Some(Err(bad(n, "đối tượng JSON chưa đóng", "unterminated JSON object")));
                }
                Err(e) => return Some(Err(io(e))),
            };
            buf.push(b);
            if in_str {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_str = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => depth -= 1,
                    _ => {}
                }
            }
        }
        Some(match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&buf) {
            Ok(o) => Ok(SourceRecord { line: n, cells: Cells::Json(o) }),
            Err(e) => Err(rerr(n, format!("JSON không hợp lệ: {e}"), format!("invalid JSON: {e}"))),
        })
    }
}

fn xlsx_rows(bytes: &[u8]) -> Result<Vec<(u64, Vec<String>)>, ReadError> {
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| rerr(0, format!("không đọc được tệp bảng tính: {e}"), format!("cannot read the spreadsheet: {e}")))?;
    let name = book.sheet_names().first().cloned().ok_or_else(|| rerr(0, "bảng tính không có trang nào", "the workbook has no sheet"))?;
    let range = book
        .worksheet_range(&name)
        .map_err(|e| rerr(0, format!("không đọc được trang «{name}»: {e}"), format!("cannot read sheet «{name}»: {e}")))?;
    let start = range.start().map(|(r, _)| r as u64).unwrap_or(0);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| (start + i as u64 + 1, row.iter().map(xlsx_cell).collect::<Vec<_>>()))
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
        .collect())
}

/// A spreadsheet cell as text: whole numbers without a decimal point,
/// dates as ISO 8601 (Excel stores them as numbers with a date format).
pub fn xlsx_cell(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.date().format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
            None => d.to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Which column of a file feeds which field.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// For each schema field, the column index in the file, if any.
    pub field_column: Vec<Option<usize>>,
}

/// A problem with the header row: unknown columns, missing required ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderProblem {
    pub column: String,
    pub msg: Msg,
}

impl ColumnMap {
    /// Matches headers to fields by name, then by title (ignoring case,
    /// spacing and diacritics). Unknown columns and missing required fields
    /// are problems: data is never dropped silently.
    pub fn new(headers: &[String], schema: &Schema) -> Result<ColumnMap, Vec<HeaderProblem>> {
        let mut field_column = vec![None; schema.fields.len()];
        let mut problems = Vec::new();
        for (c, h) in headers.iter().enumerate() {
            let h = h.trim().trim_start_matches('\u{feff}');
            let by_name = schema.position(h);
            let by_title = || {
                let key = match_key(h);
                schema
                    .fields
                    .iter()
                    .position(|f| match_key(&f.spec.name) == key || f.spec.title.as_deref().map(match_key).as_deref() == Some(key.as_str()))
            };
            match by_name.or_else(by_title) {
                Some(i) if field_column[i].is_some() => problems.push(HeaderProblem {
                    column: h.to_string(),
                    msg: Msg::new(
                        format!("cột «{h}» trùng với một cột khác cho trường «{}»", schema.fields[i].spec.name),
                        format!("column «{h}» repeats another column for field «{}»", schema.fields[i].spec.name),
                    ),
                }),
                Some(i) => field_column[i] = Some(c),
                None if h.is_empty() => {}
                None => problems.push(HeaderProblem {
                    column: h.to_string(),
                    msg: Msg::new(format!("cột «{h}» không có trong lược đồ"), format!("column «{h}» is not in the schema")),
                }),
            }
        }
        for (i, f) in schema.fields.iter().enumerate() {
            if field_column[i].is_none() && f.spec.constraints.required {
                problems.push(HeaderProblem {
                    column: f.spec.name.clone(),
                    msg: Msg::new(format!("thiếu cột bắt buộc «{}»", f.spec.name), format!("required column «{}» is missing", f.spec.name)),
                });
            }
        }
        if problems.is_empty() { Ok(ColumnMap { field_column }) } else { Err(problems) }
    }
}

/// Parses a record against the schema.
pub fn parse_record(schema: &Schema, map: Option<&ColumnMap>, rec: &SourceRecord) -> Result<Vec<Value>, Vec<(usize, FieldError)>> {
    match (&rec.cells, map) {
        (Cells::Text(cells), Some(map)) => {
            let refs: Vec<Option<&str>> =
                map.field_column.iter().map(|c| c.map(|c| cells.get(c).map(String::as_str).unwrap_or(""))).collect();
            schema.parse_text_row(&refs)
        }
        (Cells::Json(obj), _) => schema.parse_json_row(obj, None),
        (Cells::Text(_), None) => Err(vec![(usize::MAX, FieldError::new("header", "thiếu dòng tiêu đề", "the header row is missing"))]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(bytes: &[u8], name: &str, opts: ReadOptions) -> (Option<Vec<String>>, Vec<Result<SourceRecord, ReadError>>) {
        let r = RecordReader::open(Box::new(std::io::Cursor::new(bytes.to_vec())), Some(name), None, &opts).unwrap();
        let headers = r.headers().map(|h| h.to_vec());
        (headers, r.collect())
    }

    fn texts(recs: &[Result<SourceRecord, ReadError>]) -> Vec<Vec<String>> {
        recs.iter()
            .map(|r| match &r.as_ref().unwrap().cells {
                Cells::Text(t) => t.clone(),
                Cells::Json(_) => panic!("json"),
            })
            .collect()
    }

    #[test]
    fn delimiters_are_detected_and_a_bom_is_dropped() {
        for (data, name) in [
            ("\u{feff}ma,ten\nA,Đồng Bừng\n", "a.csv"),
            ("ma;ten\nA;Đồng Bừng\n", "a.csv"),
            ("ma\tten\nA\tĐồng Bừng\n", "a.csv"),
            ("ma\tten\nA\tĐồng Bừng\n", "a.tsv"),
        ] {
            let (h, recs) = read(data.as_bytes(), name, ReadOptions::default());
            assert_eq!(h.unwrap(), vec!["ma", "ten"], "{data:?}");
            assert_eq!(texts(&recs), vec![vec!["A", "Đồng Bừng"]]);
        }
    }

    #[test]
    fn utf16_with_bom_and_declared_windows_1258_are_decoded() {
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "ma,ten\r\nA,Đất\r\n".encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let (h, recs) = read(&utf16, "x.csv", ReadOptions::default());
        assert_eq!(h.unwrap(), vec!["ma", "ten"]);
        assert_eq!(texts(&recs), vec![vec!["A", "Đất"]]);
        let cp1258 = b"ma,ten\nA,\xD0\xE2t\n";
        let (_, recs) = read(cp1258, "x.csv", ReadOptions { encoding: crate::encoding::by_label("windows-1258"), ..Default::default() });
        assert_eq!(texts(&recs), vec![vec!["A", "Đât"]]);
        // The same bytes undeclared are not UTF-8: an error with the line.
        let (_, recs) = read(cp1258, "x.csv", ReadOptions::default());
        let e = recs.into_iter().find_map(|r| r.err()).unwrap();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn json_arrays_and_ndjson_stream_objects_with_their_numbers() {
        let (_, recs) = read(br#" [ {"a": 1, "b": "x]y{"}, {"a": 2, "c": {"d": [1, 2]}} ] "#, "x.json", ReadOptions::default());
        let objs: Vec<_> = recs.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].line, 2);
        let (_, recs) = read(b"{\"a\": 1}\n\n{\"a\": 2}\nnot json\n", "x.ndjson", ReadOptions::default());
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2].as_ref().unwrap_err().line, 4);
        let (_, recs) = read(b"[1, 2]", "x.json", ReadOptions::default());
        assert!(recs[0].is_err());
    }

    #[test]
    fn formats_are_sniffed_from_type_name_and_content() {
        assert_eq!(Format::detect(Some("text/csv; charset=utf-8"), None, b""), Format::Csv);
        assert_eq!(Format::detect(None, Some("DATA.XLSX"), b""), Format::Xlsx);
        assert_eq!(Format::detect(None, None, b"  [{\"a\":1}]"), Format::Json);
        assert_eq!(Format::detect(None, None, b"{\"a\":1}\n"), Format::Ndjson);
        assert_eq!(Format::detect(None, None, b"PK\x03\x04...."), Format::Xlsx);
        assert_eq!(Format::detect(None, None, b"a,b\n1,2"), Format::Csv);
    }

    #[test]
    fn columns_map_by_name_or_folded_title_and_unknown_ones_are_refused() {
        let schema = Schema::from_json(&json!({"fields": [
            {"name": "ma_tram", "title": "Mã trạm", "type": "string", "constraints": {"required": true}},
            {"name": "chieu_cao", "title": "Chiều cao (m)", "type": "number"}
        ]}))
        .unwrap();
        let map = ColumnMap::new(&["MÃ TRẠM".into(), "chieu_cao".into()], &schema).unwrap();
        assert_eq!(map.field_column, vec![Some(0), Some(1)]);
        let problems = ColumnMap::new(&["chieu_cao".into(), "ghi chú".into()], &schema).unwrap_err();
        let cols: Vec<&str> = problems.iter().map(|p| p.column.as_str()).collect();
        assert_eq!(cols, vec!["ghi chú", "ma_tram"]);
    }

    #[test]
    fn xlsx_sheets_are_read_with_dates_and_numbers() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "ma").unwrap();
        sheet.write_string(0, 1, "so").unwrap();
        sheet.write_string(0, 2, "ngay").unwrap();
        sheet.write_string(1, 0, "A").unwrap();
        sheet.write_number(1, 1, 42.0).unwrap();
        let fmt = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
        sheet.write_datetime_with_format(1, 2, rust_xlsxwriter::ExcelDateTime::from_ymd(2022, 6, 6).unwrap(), &fmt).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let (h, recs) = read(&bytes, "x.xlsx", ReadOptions::default());
        assert_eq!(h.unwrap(), vec!["ma", "so", "ngay"]);
        assert_eq!(texts(&recs), vec![vec!["A", "42", "2022-06-06"]]);
        assert_eq!(recs[0].as_ref().unwrap().line, 2);
    }
}
