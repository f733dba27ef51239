//! Importing a file into a dataset: all rows or none, with a report of the
//! bad ones in Vietnamese and English.
//!
//! Two phases, so that a slow upload never holds the database's writer:
//! 1. **Stage**: the file is read, parsed and validated on a blocking
//!    thread into a spool (a temporary file of typed rows). Nothing touches
//!    the database; a file with bad rows stops here with its report.
//! 2. **Apply**: the spool is read back and written by the store
//!    (`Store::apply_import`): in one transaction when small (or on
//!    PostgreSQL), in short transactions into a new table generation when
//!    large on SQLite. Keys clashing with stored rows are reported like
//!    bad cells.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::http::StatusCode;
use chiase_core::Msg;
use chiase_core::policy::decide_write;
use chiase_core::schema::Schema;
use chiase_io::layout::Note;
use chiase_io::marked::MarkedCopy;
use chiase_io::spool::{SpoolReader, SpoolWriter};
use chiase_io::tabular::{ColumnMap, ReadError, ReadOptions, RecordReader, parse_record};
use chiase_store::datasets::import::{Applied, Feed, ImportMode, ParsedRow, RowProblem, Strategy, WriteSummary};
use serde::Serialize;
use serde_json::json;

use super::{find_dataset, record_change};
use crate::auth::Caller;
use crate::error::{ApiError, file_error};
use crate::state::AppState;

/// The report lists at most this many problems (and counts them all).
pub const MAX_REPORTED: usize = 1000;
/// Rows handed to the store at a time.
const BATCH: usize = 2000;

/// What to import and how.
pub struct ImportRequest {
    pub mode: ImportMode,
    pub source_name: Option<String>,
    pub content_type: Option<String>,
    pub options: ReadOptions,
    /// A replace import of a file without rows empties the dataset only
    /// when this is said explicitly.
    pub allow_empty: bool,
    pub handling: ErrorHandling,
}

/// What to do with bad rows besides reporting them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorHandling {
    /// Write a copy of the upload with the bad cells highlighted
    /// (`report=xlsx`): [`ImportReport::marked`]; with `hold`, a copy of
    /// the held rows only.
    pub mark: bool,
    /// `on_error=hold`: import the good rows and hold the bad ones back
    /// (reported, and marked when asked), instead of importing nothing.
    /// Problems the store finds (a key already stored, a key repeated)
    /// still refuse the whole file.
    pub hold: bool,
}

/// One problem in a file.
#[derive(Debug, Clone, Serialize)]
pub struct ReportError {
    /// The line (CSV, NDJSON), record number (JSON) or sheet row (XLSX),
    /// as an editor or Excel numbers it.
    pub row: u64,
    /// The column as the file names it: its header text (CSV, sheets) or
    /// key (JSON).
    pub column: Option<String>,
    /// The column's letter as Excel shows it (CSV, sheets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub letter: Option<String>,
    /// The schema field the column feeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub value: Option<String>,
    pub code: String,
    pub message: String,
    pub message_en: String,
}

impl ReportError {
    pub fn new(
        row: u64,
        column: Option<String>,
        value: Option<String>,
        code: &str,
        vi: impl Into<String>,
        en: impl Into<String>,
    ) -> ReportError {
        ReportError {
            row,
            field: column.clone(),
            column,
            letter: None,
            value: value.map(|v| bounded(&v)),
            code: code.to_string(),
            message: vi.into(),
            message_en: en.into(),
        }
    }

    /// Places the problem in the file's own terms: `cột D «Giá trị»`.
    pub(crate) fn in_column(mut self, letter: String, header: String) -> ReportError {
        let (vi, en) = if header.is_empty() {
            (format!("cột {letter}: "), format!("column {letter}: "))
        } else {
            (format!("cột {letter} «{header}»: "), format!("column {letter} «{header}»: "))
        };
        self.message = format!("{vi}{}", self.message);
        self.message_en = format!("{en}{}", self.message_en);
        self.letter = Some(letter);
        self.column = Some(bounded(&header));
        self
    }
}

impl From<RowProblem> for ReportError {
    fn from(p: RowProblem) -> ReportError {
        ReportError::new(p.line, p.field, p.value, p.code, p.message.vi, p.message.en)
    }
}

/// Why nothing was imported (or, for a check, what an import would do).
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub rows_read: u64,
    /// Rows with at least one problem.
    pub bad_rows: u64,
    pub total_errors: u64,
    pub errors: Vec<ReportError>,
    /// The sheet read, for workbooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// What the reader left out or understood: a title block, a two-row
    /// header, a totals row, a signature block.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// The upload with its bad cells highlighted (an XLSX in the spool
    /// directory, removed when the last reference goes), when asked for
    /// and the file had bad cells.
    #[serde(skip)]
    pub marked: Option<Arc<tempfile::TempPath>>,
}

impl ImportReport {
    pub fn new(rows_read: u64, total_errors: u64, errors: Vec<ReportError>) -> ImportReport {
        ImportReport { rows_read, bad_rows: 0, total_errors, errors, sheet: None, notes: Vec::new(), marked: None }
    }
}

/// Nothing was imported: 422 with the report.
pub fn rejected(report: ImportReport) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "rows_rejected",
        format!("không nhập gì: {} lỗi trong dữ liệu (liệt kê {} lỗi đầu)", report.total_errors, report.errors.len()),
        format!("nothing was imported: {} problems in the data (the first {} listed)", report.total_errors, report.errors.len()),
    )
    .with_fields(json!({ "report": report }))
}

pub enum ImportOutcome {
    Done(Imported),
    Rejected(ImportReport),
}

/// What an import wrote, and what the reader left out or understood.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    #[serde(flatten)]
    pub summary: WriteSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// With `on_error=hold`: the rows held back and why (the marked copy of
    /// them in `held.marked` when asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<ImportReport>,
}

impl std::ops::Deref for Imported {
    type Target = WriteSummary;
    fn deref(&self) -> &WriteSummary {
        &self.summary
    }
}

/// Counters the CLI's progress bar reads.
#[derive(Default)]
pub struct Progress {
    pub bytes: AtomicU64,
    pub rows: AtomicU64,
}

/// A reader that counts bytes for the progress bar and refuses more than
/// `limit` bytes.
struct Counting<R> {
    inner: R,
    progress: Arc<Progress>,
    limit: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total > self.limit {
            return Err(std::io::Error::new(std::io::ErrorKind::FileTooLarge, format!("the file exceeds {} bytes", self.limit)));
        }
        Ok(n)
    }
}

/// A value echoed back, bounded.
fn bounded(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX { s.to_string() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

/// How far staging got, as the apply side watches it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Staging {
    /// Valid rows in the spool, flushed and readable.
    rows: u64,
    /// `Some(true)` when the whole file was read and every row is valid;
    /// `Some(false)` when it stopped (bad rows, an unreadable file).
    done: Option<bool>,
}

/// Rows handed to the spool reader at a time.
const FLUSH_EVERY: u64 = BATCH as u64;

/// Reads, parses and validates the whole file into the spool (blocking),
/// telling `watch` how far it got. Returns the report of bad rows (empty
/// when the file is valid). Stops early when `stop` is raised (the store
/// refused the rows already).
fn stage(
    schema: &Schema,
    source: Box<dyn Read + Send>,
    req: &ImportRequest,
    spool: &mut SpoolWriter,
    progress: &Progress,
    watch: &tokio::sync::watch::Sender<Staging>,
    stop: &AtomicBool,
) -> Result<ImportReport, ApiError> {
    let mut options = req.options.clone();
    options.schema = Some(Arc::new(schema.clone()));
    let mut reader = RecordReader::open(source, req.source_name.as_deref(), req.content_type.as_deref(), &options).map_err(read_failure)?;
    let header_line = reader.header_line().unwrap_or(1);
    let map = match reader.headers() {
        Some(h) => match ColumnMap::new(h, schema) {
            Ok(m) => Some(m),
            Err(problems) => {
                let errors: Vec<ReportError> = problems
                    .into_iter()
                    .take(MAX_REPORTED)
                    .map(|p| {
                        let mut e = ReportError::new(header_line, Some(bounded(&p.column)), None, "header", p.msg.vi, p.msg.en);
                        e.field = None;
                        e.letter = p.letter;
                        e
                    })
                    .collect();
                let mut report = ImportReport::new(0, errors.len() as u64, errors);
                report.sheet = reader.sheet().map(str::to_string);
                report.notes = reader.notes();
                return Ok(report);
            }
        },
        None => None,
    };
    let spool_error = |e: std::io::Error| ApiError::internal(&format!("import spool: {e}"));
    let marked_error = |e: chiase_io::writers::WriteError| ApiError::internal(&format!("marked copy: {}", e.msg.en));
    let mut marked = match (&map, req.handling.mark) {
        (Some(map), true) => {
            let name = reader.sheet().or(req.source_name.as_deref()).unwrap_or("Dữ liệu").to_string();
            let mut copy = MarkedCopy::new(&name, req.options.temp_dir.as_deref()).map_err(marked_error)?;
            copy.header(header_line, &map.headers).map_err(marked_error)?;
            Some(copy)
        }
        _ => None,
    };
    let mut errors: Vec<ReportError> = Vec::new();
    let mut total_errors = 0u64;
    let mut bad_rows = 0u64;
    let mut rows_read = 0u64;
    for rec in reader.by_ref() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let rec = rec.map_err(read_failure)?;
        rows_read += 1;
        progress.rows.store(rows_read, Ordering::Relaxed);
        let parsed = parse_record(schema, map.as_ref(), &rec);
        if let (Some(copy), chiase_io::tabular::Cells::Text(cells), Some(map)) = (marked.as_mut(), &rec.cells, map.as_ref()) {
            let problems: Vec<(usize, String, String, String)> = match &parsed {
                Ok(_) => Vec::new(),
                Err(problems) => problems
                    .iter()
                    .map(|(f, e)| {
                        let column = map.field_column.get(*f).copied().flatten().unwrap_or(0);
                        (column, map.headers.get(column).cloned().unwrap_or_default(), e.message.vi.clone(), e.message.en.clone())
                    })
                    .collect(),
            };
            // Held rows alone are copied when good rows are imported.
            if !(req.handling.hold && problems.is_empty()) {
                copy.row(rec.line, cells, &problems).map_err(marked_error)?;
            }
        }
        match parsed {
            // Once a row failed, the rest are only checked, not kept
            // (unless bad rows are held back and good ones imported).
            Ok(values) if total_errors == 0 || req.handling.hold => {
                spool.push(rec.line, &values).map_err(spool_error)?;
                if spool.rows().is_multiple_of(FLUSH_EVERY) {
                    spool.flush().map_err(spool_error)?;
                    watch.send_modify(|s| s.rows = spool.rows());
                }
            }
            Ok(_) => {}
            Err(problems) => {
                bad_rows += 1;
                total_errors += problems.len() as u64;
                for (field, e) in problems {
                    if errors.len() >= MAX_REPORTED {
                        break;
                    }
                    let (column, value) = if field == usize::MAX {
                        (None, None)
                    } else {
                        let name = schema.fields[field].spec.name.clone();
                        let value = cell_value(&rec.cells, map.as_ref(), field, &name);
                        (Some(name), value)
                    };
                    let error = ReportError::new(rec.line, column, value, e.code, e.message.vi, e.message.en);
                    errors.push(match map.as_ref().and_then(|m| m.column_of(field)) {
                        Some((letter, header)) => error.in_column(letter, header),
                        None => error,
                    });
                }
            }
        }
    }
    spool.flush().map_err(spool_error)?;
    watch.send_modify(|s| s.rows = spool.rows());
    let mut report = ImportReport::new(rows_read, total_errors, errors);
    report.bad_rows = bad_rows;
    report.sheet = reader.sheet().map(str::to_string);
    report.notes = reader.notes();
    if let Some(copy) = marked
        && total_errors > 0
    {
        let dir = req.options.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
        let path = tempfile::Builder::new()
            .prefix("chiase-marked-")
            .suffix(".xlsx")
            .tempfile_in(&dir)
            .map_err(|e| ApiError::internal(&format!("marked copy in {}: {e}", dir.display())))?
            .into_temp_path();
        copy.finish(&path, &report.notes).map_err(marked_error)?;
        report.marked = Some(Arc::new(path));
    }
    Ok(report)
}

fn read_failure(e: ReadError) -> ApiError {
    file_error(e)
}

pub(crate) fn cell_value(cells: &chiase_io::tabular::Cells, map: Option<&ColumnMap>, field: usize, name: &str) -> Option<String> {
    let text = match cells {
        chiase_io::tabular::Cells::Text(t) => map.and_then(|m| m.field_column[field]).and_then(|c| t.get(c).cloned()),
        chiase_io::tabular::Cells::Json(o) => o.get(name).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    }?;
    Some(bounded(&text))
}

/// Where spools go: `import_spool_dir`, else a private directory under
/// the data directory.
pub fn spool_dir(app: &AppState) -> PathBuf {
    app.config.spool_dir()
}

/// Imports a file into a dataset: everything lands or nothing does.
/// `limit` bounds the bytes read (a larger file is a 413).
///
/// The file is staged into a spool on a blocking thread. A small import
/// (and every import on PostgreSQL) is applied once staging is over, in one
/// transaction; a large one on SQLite starts building a new table
/// generation as soon as it is known to be large, fed from the spool as it
/// grows, and is made current only once the whole file proved valid.
pub async fn import(
    app: &AppState,
    caller: &Caller,
    id: &str,
    req: ImportRequest,
    source: Box<dyn Read + Send>,
    limit: u64,
    progress: Arc<Progress>,
) -> Result<ImportOutcome, ApiError> {
    if req.handling.hold && req.mode == ImportMode::Replace {
        return Err(ApiError::bad_request(
            "không dùng được on_error=hold với mode=replace: dòng lỗi bị giữ lại sẽ bị xoá khỏi tập dữ liệu",
            "on_error=hold cannot go with mode=replace: the held rows would be deleted from the dataset",
        ));
    }
    let ds = find_dataset(app, id).await?;
    let permit = decide_write(&caller.subject, &ds.facts())?;
    let schema = reading_schema(app.store.schema_of(&ds)?, &req.options);
    let dir = spool_dir(app);
    let mut req = req;
    req.options.temp_dir.get_or_insert_with(|| dir.clone());
    let started = std::time::Instant::now();
    let mut spool =
        SpoolWriter::new(&dir).map_err(|e| ApiError::internal(&format!("cannot create an import spool in {}: {e}", dir.display())))?;
    let tail = spool.tail().map_err(|e| ApiError::internal(&format!("import spool: {e}")))?;
    let (watch_tx, mut watch_rx) = tokio::sync::watch::channel(Staging::default());
    let stop = Arc::new(AtomicBool::new(false));
    let req = Arc::new(req);

    // Stage on a blocking thread.
    let staging = {
        let (progress, stop, req) = (progress.clone(), stop.clone(), req.clone());
        tokio::task::spawn_blocking(move || {
            let source: Box<dyn Read + Send> = Box::new(Counting { inner: source, progress: progress.clone(), limit });
            let outcome = stage(&schema, source, &req, &mut spool, &progress, &watch_tx, &stop);
            // Bad rows held back do not stop the good ones.
            let valid = matches!(&outcome, Ok(report) if report.total_errors == 0 || req.handling.hold);
            watch_tx.send_modify(|s| s.done = Some(valid));
            (outcome, spool)
        })
    };

    // Wait until the import is known to be large, or staging is over.
    let threshold = app.store.generation_threshold(&ds);
    let strategy = loop {
        let now = *watch_rx.borrow_and_update();
        if threshold.is_some_and(|t| now.rows > t) {
            break Some(Strategy::Generation);
        }
        match now.done {
            Some(true) => break Some(Strategy::InPlace),
            Some(false) => break None,
            None => {}
        }
        if watch_rx.changed().await.is_err() {
            break None;
        }
    };

    // The history says when bad rows may have been held back.
    let source = match (&req.source_name, req.handling.hold) {
        (Some(name), true) => Some(format!("{name} (on_error=hold)")),
        (None, true) => Some("on_error=hold".to_string()),
        (name, false) => name.clone(),
    };
    // Apply (unless staging already failed), fed from the spool.
    let applied = match strategy {
        None => None,
        Some(strategy) => {
            let (feed_tx, feed_rx) = tokio::sync::mpsc::channel::<Feed>(4);
            let feed_schema = app.store.schema_of(&ds)?;
            let feeder = tokio::task::spawn_blocking(move || feed(&feed_schema, tail, watch_rx, feed_tx));
            let applied = app
                .store
                .apply_import(&permit, &ds.id, req.mode, &caller.actor.name, source.as_deref(), req.allow_empty, strategy, feed_rx)
                .await;
            // The store has stopped reading: staging need not go on if it refused.
            if !matches!(applied, Ok(Applied::Done(_)) | Ok(Applied::Abandoned)) {
                stop.store(true, Ordering::Relaxed);
            }
            let _ = feeder.await;
            Some(applied)
        }
    };
    let (staged, spool) = staging.await.map_err(|e| ApiError::internal(&format!("the import stopped: {e}")))?;
    drop(spool);
    tracing::info!(dataset = %ds.id, elapsed_s = started.elapsed().as_secs_f64(), strategy = ?strategy, "import finished");
    // A read that failed because the upload passed its limit is a 413.
    let staged = staged.map_err(|e| if progress.bytes.load(Ordering::Relaxed) > limit { ApiError::too_large(limit as usize) } else { e });
    match (staged, applied) {
        (_, Some(Err(e))) => Err(e.into()),
        (_, Some(Ok(Applied::Rejected(problems)))) => {
            metrics::counter!("chiase_imports_total", "outcome" => "rejected").increment(1);
            let total_errors = problems.len() as u64;
            let mut errors: Vec<ReportError> = problems.into_iter().take(MAX_REPORTED).map(ReportError::from).collect();
            errors.sort_by_key(|e| e.row);
            Ok(ImportOutcome::Rejected(ImportReport::new(progress.rows.load(Ordering::Relaxed), total_errors, errors)))
        }
        (Err(e), _) => Err(e),
        (Ok(report), _) if report.total_errors > 0 && !req.handling.hold => {
            metrics::counter!("chiase_imports_total", "outcome" => "rejected").increment(1);
            Ok(ImportOutcome::Rejected(report))
        }
        (Ok(mut report), Some(Ok(Applied::Done(summary)))) => {
            metrics::counter!("chiase_imports_total", "outcome" => "done").increment(1);
            metrics::counter!("chiase_import_rows_total").increment(report.rows_read - report.bad_rows);
            let mut detail = json!({ "mode": req.mode.code(), "file": req.source_name, "inserted": summary.inserted, "updated": summary.updated, "deleted": summary.deleted, "seq": [summary.first_seq, summary.last_seq] });
            let held = (report.bad_rows > 0).then(|| {
                // The audit says which lines were held back (the first thousand).
                let mut lines: Vec<u64> = report.errors.iter().map(|e| e.row).collect();
                lines.dedup();
                detail["on_error"] = json!("hold");
                detail["held_rows"] = json!(report.bad_rows);
                detail["held_lines"] = json!(lines);
                let mut held = ImportReport::new(report.rows_read, report.total_errors, std::mem::take(&mut report.errors));
                held.bad_rows = report.bad_rows;
                held.marked = report.marked.take();
                held
            });
            record_change(app, caller, "import", Some(&ds), ds.id.clone(), detail).await?;
            Ok(ImportOutcome::Done(Imported { summary, sheet: report.sheet, notes: report.notes, held }))
        }
        (Ok(_), _) => Err(ApiError::internal(&"an import ended without being applied or refused")),
    }
}

/// The schema a file is read with: the dataset's, with the locale the
/// import names, if it names one.
fn reading_schema(schema: Arc<Schema>, options: &ReadOptions) -> Arc<Schema> {
    match options.locale {
        Some(l) if schema.input_locale() != Some(l) => {
            let mut s = (*schema).clone();
            s.set_input_locale(Some(l));
            Arc::new(s)
        }
        _ => schema,
    }
}

/// Checks a file as an import would read it (`dry_run`, `chiase import
/// --check`) and writes nothing: the same report (no errors when the file
/// is valid). Keys already stored are not compared (only an import's
/// transaction sees them).
pub async fn check(
    app: &AppState,
    caller: &Caller,
    id: &str,
    mut req: ImportRequest,
    source: Box<dyn Read + Send>,
    limit: u64,
    progress: Arc<Progress>,
) -> Result<ImportReport, ApiError> {
    let ds = find_dataset(app, id).await?;
    decide_write(&caller.subject, &ds.facts())?;
    let schema = reading_schema(app.store.schema_of(&ds)?, &req.options);
    let dir = spool_dir(app);
    req.options.temp_dir.get_or_insert_with(|| dir.clone());
    let mut spool =
        SpoolWriter::new(&dir).map_err(|e| ApiError::internal(&format!("cannot create an import spool in {}: {e}", dir.display())))?;
    let outcome = {
        let progress = progress.clone();
        tokio::task::spawn_blocking(move || {
            let (watch, _) = tokio::sync::watch::channel(Staging::default());
            let source: Box<dyn Read + Send> = Box::new(Counting { inner: source, progress: progress.clone(), limit });
            stage(&schema, source, &req, &mut spool, &progress, &watch, &AtomicBool::new(false))
        })
        .await
        .map_err(|e| ApiError::internal(&format!("the check stopped: {e}")))?
    };
    outcome.map_err(|e| if progress.bytes.load(Ordering::Relaxed) > limit { ApiError::too_large(limit as usize) } else { e })
}

/// Hands the staged rows to the store as they become readable: ends the
/// feed with `End` once staging proved the whole file valid, or closes it
/// without (the store abandons the import) when staging failed.
fn feed(schema: &Schema, mut tail: SpoolReader, mut watch: tokio::sync::watch::Receiver<Staging>, tx: tokio::sync::mpsc::Sender<Feed>) {
    let handle = tokio::runtime::Handle::current();
    let mut read = 0u64;
    loop {
        let now = *watch.borrow_and_update();
        while read < now.rows {
            let n = (now.rows - read).min(BATCH as u64) as usize;
            let batch = match tail.next_batch(n) {
                Ok(Some(b)) => b,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!("import spool: {e}");
                    return;
                }
            };
            read += batch.len() as u64;
            // The full-text body is folded here, on this thread, not by the writer.
            let rows = batch.into_iter().map(|(line, values)| ParsedRow::with_search(schema, line, values)).collect();
            if tx.blocking_send(Feed::Rows(rows)).is_err() {
                return; // the store stopped reading
            }
        }
        match now.done {
            Some(true) if read == now.rows => {
                let _ = tx.blocking_send(Feed::End);
                return;
            }
            Some(false) => return,
            _ => {}
        }
        if handle.block_on(watch.changed()).is_err() && watch.borrow().done.is_none() {
            return;
        }
    }
}

/// The bilingual message of an outcome, for the command line.
pub fn summary_msg(id: &str, s: &WriteSummary) -> Msg {
    Msg::new(
        format!(
            "Đã nhập {id}: {} thêm, {} sửa, {} xóa, {} không đổi; {} dòng hiện có",
            s.inserted, s.updated, s.deleted, s.unchanged, s.row_count
        ),
        format!(
            "Imported {id}: {} inserted, {} updated, {} deleted, {} unchanged; {} rows now",
            s.inserted, s.updated, s.deleted, s.unchanged, s.row_count
        ),
    )
}
