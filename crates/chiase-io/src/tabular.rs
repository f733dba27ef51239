//! Streaming readers of tabular files: CSV and TSV (any delimiter, UTF-8
//! with or without a BOM, UTF-16 with a BOM, legacy encodings on request),
//! JSON arrays and NDJSON read record by record, and workbook sheets
//! (XLSX streamed from a temporary file, XLS, ODS: see [`crate::sheets`]).
//! Each yields records with the line (or record number) they came from, as
//! an editor or Excel numbers it. CSV files and sheets are laid out by
//! [`crate::layout`]: the header is found below a title block, a two-row
//! header is joined, totals and signature rows are left out with a note.
//!
//! Every read is bounded ([`ReadLimits`]): a line, a record, a row's width
//! and a workbook's size each have a limit past which the reader stops with
//! a [`ReadError`] instead of buffering more; text from the file quoted in
//! an error or a header problem is clipped (see [`crate::limits`]).

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use calamine::{Data, Range, Reader, Sheets};
use chiase_core::Msg;
use chiase_core::fold::match_key;
use chiase_core::schema::{FieldError, Schema, Value};
use encoding_rs::Encoding;

use crate::layout::{HEADER_SCAN_ROWS, Header, Note, Row, Tail, field_keys, find_header, is_numbering_title};
use crate::limits::{MAX_CAUSE_CHARS, MAX_COLUMNS, MAX_LINE_BYTES, MAX_RECORD_BYTES, MAX_TITLE_CHARS, clip};
use crate::sheets::SheetEvent;

/// The largest workbook accepted (XLSX is read whole; CSV streams).
pub const MAX_XLSX_BYTES: u64 = 200 * 1024 * 1024;

/// The bounds a reader enforces. The defaults are the constants of
/// [`crate::limits`]; tests and tools may tighten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Bytes a CSV/TSV/NDJSON line may hold (after decoding) before the
    /// reader fails: one 300 MB line is refused, not buffered.
    pub max_line_bytes: usize,
    /// Bytes a CSV record (over several lines) or one JSON array element
    /// may hold.
    pub max_record_bytes: usize,
    /// Cells in a row, keys in a JSON object.
    pub max_columns: usize,
    /// Bytes of a workbook (read whole).
    pub max_xlsx_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_line_bytes: MAX_LINE_BYTES,
            max_record_bytes: MAX_RECORD_BYTES,
            max_columns: MAX_COLUMNS,
            max_xlsx_bytes: MAX_XLSX_BYTES,
        }
    }
}

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
    /// The format's name in parameters and reports.
    pub fn code(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
        }
    }

    /// Whether the format is read as a stream (all but XLSX), so that the
    /// bytes read so far say how far into the file a reader is.
    pub fn streams(self) -> bool {
        self != Format::Xlsx
    }

    /// From the first bytes when they are a workbook's (a zip or an OLE
    /// file: definitive), else the file name's extension, else the content
    /// type, else the first bytes. The name comes before the type because
    /// browsers on Windows send a CSV as `application/vnd.ms-excel` when
    /// Excel is installed.
    pub fn detect(content_type: Option<&str>, file_name: Option<&str>, head: &[u8]) -> Format {
        if head.starts_with(b"PK\x03\x04") || head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            return Format::Xlsx;
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
        let ct = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match ct.as_str() {
            "text/csv" => return Format::Csv,
            "text/tab-separated-values" => return Format::Tsv,
            "application/json" => return Format::Json,
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => return Format::Ndjson,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.ms-excel"
            | "application/vnd.oasis.opendocument.spreadsheet" => return Format::Xlsx,
            _ => {}
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
    /// The sheet of a workbook, by name or number from 1; by default the
    /// first whose header names fields of `schema`.
    pub sheet: Option<String>,
    /// The schema the file is read for: finds the header below a title
    /// block and chooses the sheet.
    pub schema: Option<Arc<Schema>>,
    /// Where a workbook is spooled while it is read (the system's
    /// temporary directory by default).
    pub temp_dir: Option<PathBuf>,
    /// How people wrote the values, for this file (`1.234` is 1234 in
    /// `vi`); by default the schema's own setting.
    pub locale: Option<chiase_core::human::InputLocale>,
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

pub(crate) fn rerr(line: u64, vi: impl Into<String>, en: impl Into<String>) -> ReadError {
    ReadError { line, msg: Msg::new(vi, en) }
}

/// A foreign parser's message, clipped: csv, serde_json and calamine may
/// quote the input.
pub(crate) fn cause(e: &impl fmt::Display) -> String {
    clip(&e.to_string(), MAX_CAUSE_CHARS).into_owned()
}

pub(crate) fn io_error(e: &io::Error) -> ReadError {
    match bound_of(e) {
        Some(b) => b,
        None => rerr(0, format!("không đọc được tệp: {}", cause(e)), format!("cannot read the file: {}", cause(e))),
    }
}

/// A reader of records, whatever the format.
pub struct RecordReader {
    inner: Inner,
    headers: Option<Vec<String>>,
    pub format: Format,
    limits: ReadLimits,
    /// Bytes taken from the source so far (shared with the counting reader).
    bytes: Arc<AtomicU64>,
    /// Set after an error past which nothing can be read (a bound).
    stopped: bool,
    /// The header's line, for tabular formats.
    header_line: Option<u64>,
    /// The sheet read, for workbooks.
    sheet: Option<String>,
    /// What was left out or understood (title block, totals row…).
    notes: Vec<Note>,
}

enum Inner {
    /// CSV or a sheet: rows laid out under a header.
    Table(Box<Table>),
    Json(JsonArray<Box<dyn BufRead + Send>>),
    Ndjson(Box<dyn BufRead + Send>, u64),
}

/// Where the rows of a table come from.
enum Rows {
    /// The reader, its record, and where the line breaks are.
    Csv(csv::Reader<Box<dyn Read + Send>>, csv::StringRecord, Arc<Mutex<LineIndex>>),
    Sheet(Receiver<SheetEvent>),
}

impl Rows {
    /// The next non-blank row, `None` at the end.
    fn next_row(&mut self, max_columns: usize) -> Option<Result<Row, (ReadError, bool)>> {
        match self {
            Rows::Csv(reader, record, breaks) => loop {
                match reader.read_record(record) {
                    Ok(false) => return None,
                    Ok(true) => {
                        if record.iter().all(|c| c.trim().is_empty()) {
                            continue;
                        }
                        let byte = record.position().map(|p| p.byte()).unwrap_or(0);
                        let line = breaks.lock().map(|mut b| b.line_of(byte)).unwrap_or(0);
                        if record.len() > max_columns {
                            return Some(Err((too_many_columns(line, max_columns), false)));
                        }
                        return Some(Ok((line, record.iter().map(str::to_string).collect())));
                    }
                    // A failed read (a bound crossed, the source gone) cannot be resumed.
                    Err(e) => return Some(Err((csv_error(&e), matches!(e.kind(), csv::ErrorKind::Io(_))))),
                }
            },
            Rows::Sheet(rx) => match rx.recv() {
                Ok(SheetEvent::Row(r)) => Some(Ok(r)),
                Ok(SheetEvent::Failed(e)) => Some(Err((e, true))),
                Ok(SheetEvent::Sheet(_)) | Err(_) => None,
            },
        }
    }
}

/// A table's rows past its header: those read ahead while looking for the
/// header, then the rest, through the [`Tail`] that leaves out totals and
/// signature rows.
struct Table {
    rows: Rows,
    pending: VecDeque<Row>,
    tail: Tail,
    ended: bool,
    /// An error met while looking for the header, due after the rows
    /// before it (and whether reading can go on past it).
    deferred: Option<(ReadError, bool)>,
}

impl RecordReader {
    /// Opens a reader with the default [`ReadLimits`]; `source` is read as
    /// a stream.
    pub fn open(
        source: Box<dyn Read + Send>,
        file_name: Option<&str>,
        content_type: Option<&str>,
        opts: &ReadOptions,
    ) -> Result<RecordReader, ReadError> {
        RecordReader::open_with_limits(source, file_name, content_type, opts, ReadLimits::default())
    }

    /// Opens a reader that enforces `limits`.
    pub fn open_with_limits(
        source: Box<dyn Read + Send>,
        file_name: Option<&str>,
        content_type: Option<&str>,
        opts: &ReadOptions,
        limits: ReadLimits,
    ) -> Result<RecordReader, ReadError> {
        let bytes = Arc::new(AtomicU64::new(0));
        let counted: Box<dyn Read + Send> = Box::new(Counted { inner: source, bytes: bytes.clone() });
        let mut buffered = BufReader::with_capacity(256 * 1024, counted);
        let head = buffered.fill_buf().map_err(|e| io_error(&e))?.to_vec();
        let format = opts.format.unwrap_or_else(|| Format::detect(content_type, file_name, &head));
        let declared = opts.encoding;
        let reader = |inner, headers| RecordReader {
            inner,
            headers,
            format,
            limits,
            bytes: bytes.clone(),
            stopped: false,
            header_line: None,
            sheet: None,
            notes: Vec::new(),
        };
        match format {
            Format::Xlsx => {
                // Spooled to disk and streamed from there on a thread of its own.
                let file = crate::sheets::spool(buffered, opts.temp_dir.as_deref(), limits.max_xlsx_bytes)?;
                let rx = crate::sheets::stream(file, opts.sheet.clone(), opts.schema.clone(), limits.max_columns);
                let sheet = match rx.recv() {
                    Ok(SheetEvent::Sheet(name)) => name,
                    Ok(SheetEvent::Failed(e)) => return Err(e),
                    Ok(SheetEvent::Row(_)) | Err(_) => return Err(rerr(0, "không đọc được bảng tính", "cannot read the workbook")),
                };
                let mut r = reader(Inner::Ndjson(Box::new(io::empty()), 0), None);
                r.sheet = Some(sheet);
                r.lay_out(Rows::Sheet(rx), opts.schema.as_deref())?;
                Ok(r)
            }
            Format::Csv | Format::Tsv => {
                let delimiter = opts.delimiter.unwrap_or(if format == Format::Tsv { b'\t' } else { sniff_delimiter(&head) });
                let breaks = Arc::new(Mutex::new(LineIndex::default()));
                let text: Box<dyn Read + Send> = Box::new(
                    Bounded::new(decoded(buffered, &head, declared), Framing::Csv { delimiter }, limits).with_line_index(breaks.clone()),
                );
                let csv = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(false).from_reader(text);
                let mut r = reader(Inner::Ndjson(Box::new(io::empty()), 0), None);
                r.lay_out(Rows::Csv(csv, csv::StringRecord::new(), breaks), opts.schema.as_deref())?;
                Ok(r)
            }
            Format::Json => {
                let text = BufReader::with_capacity(256 * 1024, decoded(buffered, &head, declared));
                Ok(reader(Inner::Json(JsonArray::new(Box::new(text), limits)), None))
            }
            Format::Ndjson => {
                let text = BufReader::with_capacity(256 * 1024, Bounded::new(decoded(buffered, &head, declared), Framing::Lines, limits));
                Ok(reader(Inner::Ndjson(Box::new(text), 0), None))
            }
        }
    }

    /// Reads the first rows of a table, finds its header (see
    /// [`crate::layout`]) and keeps the rows after it.
    fn lay_out(&mut self, mut rows: Rows, schema: Option<&Schema>) -> Result<(), ReadError> {
        let mut first = Vec::new();
        let mut ended = false;
        // A bad row among the first is reported in its turn, after the rows
        // before it; only a file whose first row cannot be read fails here.
        let mut deferred = None;
        while first.len() <= HEADER_SCAN_ROWS {
            match rows.next_row(self.limits.max_columns) {
                Some(Ok(r)) => first.push(r),
                Some(Err((e, _))) if first.is_empty() => return Err(e),
                Some(Err(e)) => {
                    deferred = Some(e);
                    break;
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let header = find_header(&first, schema).unwrap_or(Header {
            data_start: 0,
            titles: Vec::new(),
            line: 1,
            below_title_block: false,
            notes: Vec::new(),
        });
        let tail = Tail::new(&header);
        let pending: VecDeque<Row> = first.into_iter().skip(header.data_start).collect();
        self.headers = Some(header.titles.iter().map(|h| h.trim().to_string()).collect());
        self.header_line = Some(header.line);
        self.notes = header.notes;
        self.inner = Inner::Table(Box::new(Table { rows, pending: VecDeque::new(), tail, ended: false, deferred }));
        // The rows read ahead go through the tail like the rest.
        if let Inner::Table(t) = &mut self.inner {
            for r in pending {
                let out = t.tail.push(r);
                t.pending.extend(out);
            }
            if ended {
                t.ended = true;
                t.tail.finish();
            }
        }
        Ok(())
    }

    /// The header row, for tabular formats (two-row headers joined; empty
    /// for a column left out, such as the numbering column).
    pub fn headers(&self) -> Option<&[String]> {
        self.headers.as_deref()
    }

    /// The line the header starts on, for tabular formats.
    pub fn header_line(&self) -> Option<u64> {
        self.header_line
    }

    /// The sheet read, for workbooks.
    pub fn sheet(&self) -> Option<&str> {
        self.sheet.as_deref()
    }

    /// What the reader left out or understood so far (all of it once the
    /// reader is exhausted): a title block, a totals row, a signature block.
    pub fn notes(&self) -> Vec<Note> {
        let mut notes = self.notes.clone();
        if let Inner::Table(t) = &self.inner {
            notes.extend(t.tail.notes.iter().cloned());
        }
        notes
    }

    /// Bytes taken from the source so far (read ahead included), so that a
    /// caller can stop after a sample of a given size. Meaningful for
    /// formats that [stream](Format::streams); a workbook is read whole.
    pub fn bytes_read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The limits this reader enforces.
    pub fn limits(&self) -> ReadLimits {
        self.limits
    }
}

/// Counts the bytes taken from the source.
struct Counted {
    inner: Box<dyn Read + Send>,
    bytes: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// How a [`Bounded`] reader finds the ends of lines and records.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// NDJSON: a record is a line; lines end at `\n`.
    Lines,
    /// CSV and TSV: lines end at `\n` or `\r`; a record ends at a line
    /// break outside quotes.
    Csv { delimiter: u8 },
}

/// Where a CSV parser is within a record (RFC 4180 quoting, as the csv
/// crate reads it: a quote opens a quoted cell only at the cell's start,
/// `""` inside one is a quote).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsvState {
    CellStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Passes decoded text through and fails once a line or a record grows
/// past its limit, before anything downstream has buffered it. The bytes
/// before the crossing are passed on; then every read fails the same way.
struct Bounded<R> {
    inner: R,
    framing: Framing,
    limits: ReadLimits,
    /// The current line, from 1 (counting `\n`, as the csv crate does).
    line: u64,
    line_bytes: usize,
    record_line: u64,
    record_bytes: usize,
    state: CsvState,
    failed: Option<ReadError>,
    /// Bytes passed on so far.
    pos: u64,
    /// Where the line breaks passed on are, for the CSV reader's lines.
    breaks: Option<Arc<Mutex<LineIndex>>>,
    /// The last byte passed on, and whether it ended a line.
    prev: u8,
    in_run: bool,
}

impl<R> Bounded<R> {
    fn new(inner: R, framing: Framing, limits: ReadLimits) -> Bounded<R> {
        Bounded {
            inner,
            framing,
            limits,
            line: 1,
            line_bytes: 0,
            record_line: 1,
            record_bytes: 0,
            state: CsvState::CellStart,
            failed: None,
            pos: 0,
            breaks: None,
            prev: 0,
            in_run: false,
        }
    }

    /// Records the line breaks passed on in `index`.
    fn with_line_index(mut self, index: Arc<Mutex<LineIndex>>) -> Bounded<R> {
        self.breaks = Some(index);
        self
    }

    fn step(&mut self, b: u8) -> Result<(), ReadError> {
        let csv = match self.framing {
            Framing::Csv { delimiter } => Some(delimiter),
            Framing::Lines => None,
        };
        if b == b'\n' || (b == b'\r' && csv.is_some()) {
            self.line_bytes = 0;
        } else {
            self.line_bytes += 1;
            if self.line_bytes > self.limits.max_line_bytes {
                let (n, max) = (self.line, self.limits.max_line_bytes);
                return Err(rerr(n, format!("dòng {n} dài quá {max} byte"), format!("line {n} is longer than {max} bytes")));
            }
        }
        if b == b'\n' {
            self.line += 1;
        }
        let Some(delimiter) = csv else { return Ok(()) };
        use CsvState::*;
        let ends = match (self.state, b) {
            (Quoted, b'"') => {
                self.state = QuoteInQuoted;
                false
            }
            (Quoted, _) => false,
            (CellStart, b'"') | (QuoteInQuoted, b'"') => {
                self.state = Quoted;
                false
            }
            (_, b'\n' | b'\r') => {
                self.state = CellStart;
                true
            }
            (_, d) if d == delimiter => {
                self.state = CellStart;
                false
            }
            _ => {
                self.state = Unquoted;
                false
            }
        };
        if ends {
            self.record_bytes = 0;
            self.record_line = self.line;
        } else {
            self.record_bytes += 1;
            if self.record_bytes > self.limits.max_record_bytes {
                let (n, max) = (self.record_line, self.limits.max_record_bytes);
                return Err(rerr(
                    n,
                    format!("bản ghi bắt đầu ở dòng {n} dài quá {max} byte (có ô trong ngoặc kép chưa đóng?)"),
                    format!("the record starting at line {n} is longer than {max} bytes (an unclosed quoted cell?)"),
                ));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(bound_error(e.clone()));
        }
        let n = self.inner.read(buf)?;
        let mut passed = n;
        let mut outcome = None;
        for (i, &b) in buf[..n].iter().enumerate() {
            if let Err(e) = self.step(b) {
                // Records before the crossing are still read; the next read fails.
                self.failed = Some(e.clone());
                passed = i;
                outcome = Some(if i > 0 { Ok(i) } else { Err(bound_error(e)) });
                break;
            }
        }
        if let Some(index) = &self.breaks
            && let Ok(mut index) = index.lock()
        {
            for (i, &b) in buf[..passed].iter().enumerate() {
                if b == b'\n' || b == b'\r' {
                    // CRLF is one line break; a lone CR or LF is one too.
                    let lines = u64::from(!(b == b'\n' && self.prev == b'\r'));
                    match index.runs.back_mut() {
                        Some(run) if self.in_run => run.1 += lines,
                        _ => index.runs.push_back((self.pos + i as u64, lines)),
                    }
                    self.in_run = true;
                } else {
                    self.in_run = false;
                }
                self.prev = b;
            }
        }
        self.pos += passed as u64;
        outcome.unwrap_or(Ok(n))
    }
}

/// Where the line breaks are in the text a CSV reader has been given, so
/// that a record's line is counted from where it starts: the csv crate's
/// own count is one short after a CRLF ending (files Excel saves on
/// Windows) and after a blank line.
#[derive(Debug, Default)]
struct LineIndex {
    /// Runs of line-break bytes not yet passed by a record, in order: the
    /// run's first byte and the lines it ends (`\r\n\r\n` ends two).
    runs: VecDeque<(u64, u64)>,
    /// Lines ended by the runs already passed.
    passed: u64,
}

impl LineIndex {
    /// The line (from 1) of a record the csv crate says starts at `byte`:
    /// its first byte, or a byte of the line breaks before it (after a CRLF
    /// or a blank line). Every run starting at or before `byte` is behind
    /// the record. Records come in order, so those runs are forgotten.
    fn line_of(&mut self, byte: u64) -> u64 {
        while let Some(&(start, lines)) = self.runs.front()
            && start <= byte
        {
            self.runs.pop_front();
            self.passed += lines;
        }
        self.passed + 1
    }
}

/// A bound crossed, carried through `io::Error` to where records are read.
#[derive(Debug)]
struct Bound(ReadError);

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.msg.en)
    }
}

impl std::error::Error for Bound {}

fn bound_error(e: ReadError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Bound(e))
}

fn bound_of(e: &io::Error) -> Option<ReadError> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Bound>()).map(|b| b.0.clone())
}

pub(crate) fn too_many_columns(line: u64, max: usize) -> ReadError {
    rerr(line, format!("dòng {line} có hơn {max} cột"), format!("line {line} has more than {max} columns"))
}

fn too_many_keys(n: u64, max: usize) -> ReadError {
    rerr(n, format!("bản ghi {n} có hơn {max} trường"), format!("record {n} has more than {max} keys"))
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
        csv::ErrorKind::Io(io) => io_error(io),
        csv::ErrorKind::Utf8 { .. } => rerr(
            line,
            "tệp không phải UTF-8 hợp lệ; hãy lưu lại dạng UTF-8 hoặc khai báo bảng mã (ví dụ windows-1258)",
            "the file is not valid UTF-8; save it as UTF-8 or declare its encoding (e.g. windows-1258)",
        ),
        _ => rerr(line, format!("CSV không hợp lệ: {}", cause(e)), format!("malformed CSV: {}", cause(e))),
    }
}

impl Iterator for RecordReader {
    type Item = Result<SourceRecord, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped {
            return None;
        }
        let max_columns = self.limits.max_columns;
        match &mut self.inner {
            Inner::Table(t) => loop {
                if let Some((line, cells)) = t.pending.pop_front() {
                    return Some(Ok(SourceRecord { line, cells: Cells::Text(cells) }));
                }
                if let Some((e, fatal)) = t.deferred.take() {
                    self.stopped = fatal;
                    return Some(Err(e));
                }
                if t.ended {
                    return None;
                }
                match t.rows.next_row(max_columns) {
                    Some(Ok(r)) => {
                        let out = t.tail.push(r);
                        t.pending.extend(out);
                    }
                    Some(Err((e, fatal))) => {
                        self.stopped = fatal;
                        return Some(Err(e));
                    }
                    None => {
                        t.ended = true;
                        t.tail.finish();
                    }
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
                            Ok(serde_json::Value::Object(o)) if o.len() > max_columns => Err(too_many_keys(*line, max_columns)),
                            Ok(serde_json::Value::Object(o)) => Ok(SourceRecord { line: *line, cells: Cells::Json(o) }),
                            Ok(_) => {
                                Err(rerr(*line, "mỗi dòng NDJSON phải là một đối tượng JSON", "each NDJSON line must be a JSON object"))
                            }
                            Err(e) => Err(rerr(*line, format!("JSON không hợp lệ: {}", cause(&e)), format!("invalid JSON: {}", cause(&e)))),
                        });
                    }
                    Err(e) => {
                        // A line that is not UTF-8 is skipped; anything else ends the file.
                        let bound = bound_of(&e);
                        self.stopped = bound.is_some() || e.kind() != io::ErrorKind::InvalidData;
                        return Some(Err(bound.unwrap_or_else(|| {
                            rerr(*line, format!("không đọc được dòng: {}", cause(&e)), format!("cannot read the line: {}", cause(&e)))
                        })));
                    }
                }
            },
        }
    }
}

/// Reads the elements of a top-level JSON array one at a time.
struct JsonArray<R: BufRead> {
    reader: R,
    started: bool,
    done: bool,
    count: u64,
    limits: ReadLimits,
}

impl<R: BufRead> JsonArray<R> {
    fn new(reader: R, limits: ReadLimits) -> Self {
        JsonArray { reader, started: false, done: false, count: 0, limits }
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
        let io = |e: std::io::Error| io_error(&e);
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
            if buf.len() > self.limits.max_record_bytes {
                // Stop before buffering more: the rest of the array cannot be found reliably.
                self.done = true;
                let max = self.limits.max_record_bytes;
                return Some(Err(rerr(
                    n,
                    format!("phần tử thứ {n} của mảng JSON dài quá {max} byte"),
                    format!("element {n} of the JSON array is longer than {max} bytes"),
                )));
            }
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
            Ok(o) if o.len() > self.limits.max_columns => Err(too_many_keys(n, self.limits.max_columns)),
            Ok(o) => Ok(SourceRecord { line: n, cells: Cells::Json(o) }),
            Err(e) => Err(rerr(n, format!("JSON không hợp lệ: {}", cause(&e)), format!("invalid JSON: {}", cause(&e)))),
        })
    }
}

/// Cells a sheet's rectangle (from its first to its last filled cell) may
/// span when it is mostly empty: calamine lays a sheet out as one dense
/// rectangle, so two filled cells at A1 and XFD1048576 would ask for 17
/// billion cells (hundreds of gigabytes) and abort the process. A sheet
/// whose rectangle is at most four times its filled cells is dense and
/// bounded by the file's size (see [`MAX_XLSX_BYTES`]); a sparser one may
/// span this many cells (about 320 MB laid out).
pub const MAX_SPARSE_SHEET_CELLS: u64 = 10_000_000;

/// A sheet's cells as calamine's dense rectangle, refusing (before laying
/// it out) a sheet whose rectangle is far larger than its filled cells
/// ([`MAX_SPARSE_SHEET_CELLS`]). XLSX sheets are streamed cell by cell to
/// find their extent; the other formats are read as calamine reads them.
/// Errors are (Vietnamese, English) messages.
pub(crate) fn sheet_range(book: &mut Sheets<Cursor<&[u8]>>, name: &str) -> Result<Range<Data>, (String, String)> {
    let shown = clip(name, MAX_TITLE_CHARS);
    let failed = |e: &dyn fmt::Display| {
        (format!("không đọc được trang «{shown}»: {}", cause(&e)), format!("cannot read sheet «{shown}»: {}", cause(&e)))
    };
    let Sheets::Xlsx(xlsx) = book else { return book.worksheet_range(name).map_err(|e| failed(&e)) };
    let mut reader = match xlsx.worksheet_cells_reader(name) {
        Ok(r) => r,
        // Not a worksheet (a chart sheet): no cells, as calamine reads it.
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(Range::default()),
        Err(e) => return Err(failed(&e)),
    };
    let mut cells = Vec::new();
    let (mut top, mut left, mut bottom, mut right) = (u32::MAX, u32::MAX, 0u32, 0u32);
    while let Some(cell) = reader.next_cell().map_err(|e| failed(&e))? {
        let value = Data::from(cell.get_value().clone());
        if value == Data::Empty {
            continue;
        }
        let (r, c) = cell.get_position();
        (top, left, bottom, right) = (top.min(r), left.min(c), bottom.max(r), right.max(c));
        cells.push(calamine::Cell::new((r, c), value));
    }
    if cells.is_empty() {
        return Ok(Range::default());
    }
    let area = (u64::from(bottom - top) + 1) * (u64::from(right - left) + 1);
    if area > MAX_SPARSE_SHEET_CELLS.max(cells.len() as u64 * 4) {
        return Err((
            format!(
                "trang «{shown}» trải trên {area} ô mà chỉ có {} ô có dữ liệu (từ dòng {} đến dòng {}); hãy xoá các ô lẻ ở xa hoặc xuất CSV để nhập",
                cells.len(),
                u64::from(top) + 1,
                u64::from(bottom) + 1
            ),
            format!(
                "sheet «{shown}» spans {area} cells but only {} hold data (rows {} to {}); delete stray cells far away or export it as CSV to import it",
                cells.len(),
                u64::from(top) + 1,
                u64::from(bottom) + 1
            ),
        ));
    }
    Ok(Range::from_sparse(cells))
}

pub(crate) fn xlsx_blank(cell: &Data) -> bool {
    match cell {
        Data::Empty => true,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A spreadsheet cell as text: whole numbers without a decimal point,
/// dates as ISO 8601 (Excel stores them as numbers with a date format).
pub fn xlsx_cell(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => {
            // A number cell is never in thousands: `1.234` (one point two
            // three four) is written `1.2340` so that a Vietnamese reading
            // (see chiase_core::human) cannot take it for 1234.
            let t = f.to_string();
            match t.split_once('.') {
                Some((int, frac)) if frac.len() == 3 && int.trim_start_matches('-').len() <= 3 => format!("{t}0"),
                _ => t,
            }
        }
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
    /// The header's text per column, as the file has it.
    pub headers: Vec<String>,
}

/// A problem with the header row: unknown columns, missing required ones.
/// `column` and the message quote the header clipped to
/// [`MAX_TITLE_CHARS`](crate::limits::MAX_TITLE_CHARS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderProblem {
    pub column: String,
    /// The column's letter (`D`), when the file has the column.
    pub letter: Option<String>,
    pub msg: Msg,
}

/// A column's letter as Excel shows it: 0 → `A`, 25 → `Z`, 26 → `AA`.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

impl ColumnMap {
    /// Matches headers to fields by name, then by title (ignoring case,
    /// spacing and diacritics, with or without a parenthesis). Unknown
    /// columns and missing required fields are problems: data is never
    /// dropped silently. An empty header (a column the reader left out,
    /// such as the numbering column) feeds nothing.
    pub fn new(headers: &[String], schema: &Schema) -> Result<ColumnMap, Vec<HeaderProblem>> {
        let mut field_column = vec![None; schema.fields.len()];
        let mut problems = Vec::new();
        let keys: Vec<Vec<String>> = schema.fields.iter().map(field_keys).collect();
        for (c, h) in headers.iter().enumerate() {
            let h = h.trim().trim_start_matches('\u{feff}');
            let by_name = schema.position(h);
            let by_title = || {
                let key = match_key(h);
                keys.iter().position(|ks| ks.contains(&key))
            };
            let shown = clip(h, MAX_TITLE_CHARS);
            let letter = column_letter(c);
            match by_name.or_else(by_title) {
                Some(i) if field_column[i].is_some() => problems.push(HeaderProblem {
                    column: shown.to_string(),
                    letter: Some(letter.clone()),
                    msg: Msg::new(
                        format!("cột {letter} «{shown}» trùng với một cột khác cho trường «{}»", field_label(schema, i)),
                        format!("column {letter} «{shown}» repeats another column for field «{}»", field_label(schema, i)),
                    ),
                }),
                Some(i) => field_column[i] = Some(c),
                None if h.is_empty() || is_numbering_title(h) => {}
                None => problems.push(HeaderProblem {
                    column: shown.to_string(),
                    letter: Some(letter.clone()),
                    msg: Msg::new(
                        format!("cột {letter} «{shown}» không có trong lược đồ của tập dữ liệu"),
                        format!("column {letter} «{shown}» is not in the dataset's schema"),
                    ),
                }),
            }
        }
        for (i, f) in schema.fields.iter().enumerate() {
            if field_column[i].is_none() && f.spec.constraints.required {
                let label = field_label(schema, i);
                problems.push(HeaderProblem {
                    column: label.clone(),
                    letter: None,
                    msg: Msg::new(format!("thiếu cột bắt buộc «{label}»"), format!("required column «{label}» is missing")),
                });
            }
        }
        if problems.is_empty() { Ok(ColumnMap { field_column, headers: headers.to_vec() }) } else { Err(problems) }
    }

    /// Where a field's values are in the file: the column's letter and its
    /// header as typed.
    pub fn column_of(&self, field: usize) -> Option<(String, String)> {
        let c = (*self.field_column.get(field)?)?;
        Some((column_letter(c), self.headers.get(c).cloned().unwrap_or_default()))
    }
}

/// A field as people know it: its title, else its name.
fn field_label(schema: &Schema, i: usize) -> String {
    let f = &schema.fields[i].spec;
    f.title.clone().unwrap_or_else(|| f.name.clone())
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
pub(crate) mod tests {
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
        // A browser on Windows sends a CSV as an Excel type: the name wins.
        assert_eq!(Format::detect(Some("application/vnd.ms-excel"), Some("bao-cao.csv"), b"a,b\n"), Format::Csv);
        // A workbook is a workbook whatever it is called.
        assert_eq!(Format::detect(Some("text/csv"), Some("x.csv"), b"PK\x03\x04...."), Format::Xlsx);
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
        // A missing column is named by the field's title, as the officer knows it.
        assert_eq!(cols, vec!["ghi chú", "Mã trạm"]);
        assert_eq!(problems[0].letter.as_deref(), Some("B"));
    }

    /// A source of `size` bytes made on the fly: `prefix`, then `fill`
    /// repeated (with `every`-th byte a line break when `every` > 0). Counts
    /// what it served, so a test can see how far a reader went.
    pub(crate) struct Synthetic {
        prefix: Vec<u8>,
        fill: u8,
        every: u64,
        size: u64,
        pos: u64,
        served: Arc<AtomicU64>,
    }

    impl Synthetic {
        pub(crate) fn new(prefix: &[u8], fill: u8, every: u64, size: u64) -> (Synthetic, Arc<AtomicU64>) {
            let served = Arc::new(AtomicU64::new(0));
            (Synthetic { prefix: prefix.to_vec(), fill, every, size, pos: 0, served: served.clone() }, served)
        }
    }

    impl Read for Synthetic {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut n = 0;
            while n < buf.len() && self.pos < self.size {
                let p = self.pos as usize;
                buf[n] = if p < self.prefix.len() {
                    self.prefix[p]
                } else if self.every > 0 && (self.pos + 1).is_multiple_of(self.every) {
                    b'\n'
                } else {
                    self.fill
                };
                n += 1;
                self.pos += 1;
            }
            self.served.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
    }

    pub(crate) const MB: u64 = 1024 * 1024;

    fn open_synthetic(src: Synthetic, name: &str, limits: ReadLimits) -> Result<RecordReader, ReadError> {
        RecordReader::open_with_limits(Box::new(src), Some(name), None, &ReadOptions::default(), limits)
    }

    #[test]
    fn a_300_mb_header_line_is_refused_after_a_few_megabytes() {
        let (src, served) = Synthetic::new(b"", b'a', 0, 300 * MB);
        let err = open_synthetic(src, "big.csv", ReadLimits::default()).err().expect("refused");
        assert_eq!(err.line, 1);
        assert_eq!(err.msg.en, format!("line 1 is longer than {MAX_LINE_BYTES} bytes"));
        assert_eq!(err.msg.vi, format!("dòng 1 dài quá {MAX_LINE_BYTES} byte"));
        assert!(served.load(Ordering::Relaxed) < 10 * MB, "read {} bytes", served.load(Ordering::Relaxed));
    }

    #[test]
    fn a_300_mb_record_line_is_refused_and_reading_stops() {
        // A fine header, then one endless line.
        let (src, served) = Synthetic::new(b"ma,ten\nA,", b'x', 0, 300 * MB);
        let mut r = open_synthetic(src, "big.csv", ReadLimits::default()).unwrap();
        let err = r.next().unwrap().unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.msg.en.starts_with("line 2 is longer than"), "{}", err.msg.en);
        assert!(served.load(Ordering::Relaxed) < 10 * MB);
        assert!(r.next().is_none(), "nothing more after a bound");
        // The same for NDJSON.
        let (src, served) = Synthetic::new(b"{\"a\": 1}\n{\"a\": \"", b'x', 0, 300 * MB);
        let mut r = open_synthetic(src, "big.ndjson", ReadLimits::default()).unwrap();
        assert!(r.next().unwrap().is_ok());
        let err = r.next().unwrap().unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.msg.en.starts_with("line 2 is longer than"), "{}", err.msg.en);
        assert!(served.load(Ordering::Relaxed) < 10 * MB);
        assert!(r.next().is_none());
    }

    #[test]
    fn a_300_mb_json_element_is_refused_at_the_record_bound() {
        let (src, served) = Synthetic::new(b"[{\"a\": 1}, {\"a\": \"", b'x', 0, 300 * MB);
        let mut r = open_synthetic(src, "big.json", ReadLimits::default()).unwrap();
        assert!(r.next().unwrap().is_ok());
        let err = r.next().unwrap().unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.msg.en, format!("element 2 of the JSON array is longer than {MAX_RECORD_BYTES} bytes"));
        assert!(served.load(Ordering::Relaxed) < MAX_RECORD_BYTES as u64 + 2 * MB);
        assert!(r.next().is_none());
    }

    #[test]
    fn a_json_array_on_one_line_is_not_held_to_the_line_bound() {
        let mut text = String::from("[");
        for i in 0..200 {
            text.push_str(&format!("{}{{\"a\": {i}, \"b\": \"Đồng Bừng\"}}", if i > 0 { "," } else { "" }));
        }
        text.push(']');
        let limits = ReadLimits { max_line_bytes: 64, max_record_bytes: 64, ..Default::default() };
        let r =
            RecordReader::open_with_limits(Box::new(Cursor::new(text.into_bytes())), Some("x.json"), None, &ReadOptions::default(), limits)
                .unwrap();
        assert_eq!(r.filter(Result::is_ok).count(), 200);
    }

    #[test]
    fn quoted_line_breaks_reset_the_line_bound_but_not_the_record_bound() {
        let limits = ReadLimits { max_line_bytes: 16, max_record_bytes: 200, ..Default::default() };
        let open = |text: &str| {
            RecordReader::open_with_limits(
                Box::new(Cursor::new(text.as_bytes().to_vec())),
                Some("x.csv"),
                None,
                &ReadOptions::default(),
                limits,
            )
        };
        // Lines of a quoted cell, each short: fine; `""` is a quote inside.
        let ok = "ma,ghi_chu\nA,\"dòng một\ndòng \"\"hai\"\"\nba\"\nB,x\n";
        let recs: Vec<_> = open(ok).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].line, 5);
        // Old Mac line ends (`\r` only) are line breaks too.
        let recs: Vec<_> = open("ma,ten\rA,Đồng Bừng\rB,Hà Giang\r").unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 2);
        // An unclosed quote swallows the file: refused at the record bound,
        // naming the line where the record began.
        let mut bad = String::from("ma,ghi_chu\nA,x\nB,\"chưa đóng\n");
        for _ in 0..40 {
            bad.push_str("dòng tiếp\n");
        }
        let mut r = open(&bad).unwrap();
        assert!(r.next().unwrap().is_ok());
        let err = r.next().unwrap().unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.msg.en.starts_with("the record starting at line 3 is longer than 200 bytes"), "{}", err.msg.en);
        assert!(err.msg.vi.starts_with("bản ghi bắt đầu ở dòng 3 dài quá 200 byte"), "{}", err.msg.vi);
        assert!(r.next().is_none());
        // A quote inside an unquoted cell is just a character.
        let recs: Vec<_> = open("ma,ten\nA,5\" pipe\nB,x\n").unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 2);
    }

    #[test]
    fn rows_and_objects_wider_than_the_column_bound_are_refused() {
        let limits = ReadLimits { max_columns: 3, ..Default::default() };
        let open = |text: &str, name: &str| {
            RecordReader::open_with_limits(
                Box::new(Cursor::new(text.as_bytes().to_vec())),
                Some(name),
                None,
                &ReadOptions::default(),
                limits,
            )
        };
        let err = open("a,b,c,d\n1,2,3,4\n", "x.csv").err().unwrap();
        assert_eq!((err.line, err.msg.en.as_str()), (1, "line 1 has more than 3 columns"));
        let mut r = open("a,b,c\n1,2,3\n1,2,3,4\n", "x.csv").unwrap();
        assert!(r.next().unwrap().is_ok());
        assert_eq!(r.next().unwrap().unwrap_err().msg.en, "line 3 has more than 3 columns");
        let mut r = open("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}\n", "x.ndjson").unwrap();
        assert_eq!(r.next().unwrap().unwrap_err().msg.vi, "bản ghi 1 có hơn 3 trường");
        let mut r = open("[{\"a\":1,\"b\":2,\"c\":3,\"d\":4}]", "x.json").unwrap();
        assert_eq!(r.next().unwrap().unwrap_err().msg.en, "record 1 has more than 3 keys");
    }

    #[test]
    fn a_workbook_over_the_cap_is_refused_without_reading_it_all() {
        let (src, served) = Synthetic::new(b"PK\x03\x04", 0, 0, 300 * MB);
        let limits = ReadLimits { max_xlsx_bytes: 2 * MB, ..Default::default() };
        let err = open_synthetic(src, "big.xlsx", limits).err().unwrap();
        assert_eq!(err.msg.en, "the workbook is larger than 2 MB; export it as CSV to import it");
        assert!(served.load(Ordering::Relaxed) < 3 * MB);
    }

    #[test]
    fn header_problems_quote_a_clipped_header() {
        let schema = Schema::from_json(&json!({"fields": [{"name": "ma", "type": "string"}]})).unwrap();
        let long = "Đ".repeat(10_000);
        let problems = ColumnMap::new(&["ma".into(), long], &schema).unwrap_err();
        assert_eq!(problems[0].column.chars().count(), MAX_TITLE_CHARS);
        assert!(problems[0].column.ends_with('…'));
        assert!(problems[0].msg.vi.chars().count() < MAX_TITLE_CHARS + 60);
        assert!(problems[0].msg.en.chars().count() < MAX_TITLE_CHARS + 60);
    }

    #[test]
    fn json_syntax_errors_are_quoted_clipped() {
        let line = format!("{{\"a\": {}}}\n", "9".repeat(5000));
        let (_, recs) = read(line.as_bytes(), "x.ndjson", ReadOptions::default());
        let e = recs[0].as_ref().err().map(|e| e.msg.en.chars().count());
        assert!(e.is_none_or(|n| n <= MAX_CAUSE_CHARS + 20), "{e:?}");
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

    /// Found by `tests/fuzz_parsers.rs` (a zip of hostile sheet XML): a
    /// workbook of a few kilobytes with one cell at A1 and one at the far
    /// corner of the sheet (XFD1048576) made calamine lay out 17 billion
    /// cells, and the process aborted on the failed allocation (a whole
    /// server, for one upload). Such a sheet is now refused from its
    /// extent, before anything is laid out.
    #[test]
    fn a_workbook_with_two_cells_far_apart_is_refused_not_laid_out() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "ma").unwrap();
        sheet.write_string(1_048_575, 16_383, "x").unwrap();
        let bytes = book.save_to_buffer().unwrap();
        assert!(bytes.len() < 20_000);
        let err = RecordReader::open(Box::new(std::io::Cursor::new(bytes)), Some("x.xlsx"), None, &ReadOptions::default()).err().unwrap();
        assert!(err.msg.en.contains("line 1048576 has more than 1000 columns"), "{}", err.msg.en);
        // A sparse sheet within the bound is still read.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "ma").unwrap();
        sheet.write_string(999, 0, "x").unwrap();
        let (h, recs) = read(&book.save_to_buffer().unwrap(), "x.xlsx", ReadOptions::default());
        assert_eq!(h.unwrap(), vec!["ma"]);
        assert_eq!((texts(&recs), recs[0].as_ref().unwrap().line), (vec![vec!["x".to_string()]], 1000));
    }
}
