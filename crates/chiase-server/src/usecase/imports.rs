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
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use chiase_core::Msg;
use chiase_core::policy::decide_write;
use chiase_core::schema::Schema;
use chiase_io::spool::{Spool, SpoolWriter};
use chiase_io::tabular::{ColumnMap, ReadError, ReadOptions, RecordReader, parse_record};
use chiase_store::datasets::import::{Applied, ImportMode, ParsedRow, RowProblem, WriteSummary};
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
}

/// One problem in a file.
#[derive(Debug, Clone, Serialize)]
pub struct ReportError {
    /// The line (CSV, NDJSON), record number (JSON) or sheet row (XLSX).
    pub row: u64,
    pub column: Option<String>,
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
        ReportError { row, column, value: value.map(|v| bounded(&v)), code: code.to_string(), message: vi.into(), message_en: en.into() }
    }
}

impl From<RowProblem> for ReportError {
    fn from(p: RowProblem) -> ReportError {
        ReportError::new(p.line, p.field, p.value, p.code, p.message.vi, p.message.en)
    }
}

/// Why nothing was imported.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub rows_read: u64,
    pub total_errors: u64,
    pub errors: Vec<ReportError>,
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
    Done(WriteSummary),
    Rejected(ImportReport),
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

/// What staging produced: the spool of valid rows, or the report.
enum Staged {
    Valid(Spool),
    Invalid(ImportReport),
}

/// Reads, parses and validates the whole file into a spool (blocking).
fn stage(
    schema: &Schema,
    source: Box<dyn Read + Send>,
    req: &ImportRequest,
    dir: &std::path::Path,
    progress: &Progress,
) -> Result<Staged, ApiError> {
    let reader = RecordReader::open(source, req.source_name.as_deref(), req.content_type.as_deref(), &req.options).map_err(read_failure)?;
    let map = match reader.headers() {
        Some(h) => match ColumnMap::new(h, schema) {
            Ok(m) => Some(m),
            Err(problems) => {
                let errors: Vec<ReportError> = problems
                    .into_iter()
                    .take(MAX_REPORTED)
                    .map(|p| ReportError::new(1, Some(bounded(&p.column)), None, "header", p.msg.vi, p.msg.en))
                    .collect();
                return Ok(Staged::Invalid(ImportReport { rows_read: 0, total_errors: errors.len() as u64, errors }));
            }
        },
        None => None,
    };
    let mut spool =
        SpoolWriter::new(dir).map_err(|e| ApiError::internal(&format!("cannot create an import spool in {}: {e}", dir.display())))?;
    let mut errors: Vec<ReportError> = Vec::new();
    let mut total_errors = 0u64;
    let mut rows_read = 0u64;
    for rec in reader {
        let rec = rec.map_err(read_failure)?;
        rows_read += 1;
        progress.rows.store(rows_read, Ordering::Relaxed);
        match parse_record(schema, map.as_ref(), &rec) {
            // Once a row failed, the rest are only checked, not kept.
            Ok(values) if total_errors == 0 => {
                spool.push(rec.line, &values).map_err(|e| ApiError::internal(&format!("import spool: {e}")))?
            }
            Ok(_) => {}
            Err(problems) => {
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
                    errors.push(ReportError::new(rec.line, column, value, e.code, e.message.vi, e.message.en));
                }
            }
        }
    }
    if total_errors > 0 {
        return Ok(Staged::Invalid(ImportReport { rows_read, total_errors, errors }));
    }
    Ok(Staged::Valid(spool.finish().map_err(|e| ApiError::internal(&format!("import spool: {e}")))?))
}

fn read_failure(e: ReadError) -> ApiError {
    file_error(e)
}

fn cell_value(cells: &chiase_io::tabular::Cells, map: Option<&ColumnMap>, field: usize, name: &str) -> Option<String> {
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
pub async fn import(
    app: &AppState,
    caller: &Caller,
    id: &str,
    req: ImportRequest,
    source: Box<dyn Read + Send>,
    limit: u64,
    progress: Arc<Progress>,
) -> Result<ImportOutcome, ApiError> {
    let ds = find_dataset(app, id).await?;
    let permit = decide_write(&caller.subject, &ds.facts())?;
    let schema = app.store.schema_of(&ds)?;
    let dir = spool_dir(app);
    let (req, staged) = {
        let progress = progress.clone();
        tokio::task::spawn_blocking(move || {
            let source: Box<dyn Read + Send> = Box::new(Counting { inner: source, progress: progress.clone(), limit });
            let staged = stage(&schema, source, &req, &dir, &progress);
            (req, staged)
        })
        .await
        .map_err(|e| ApiError::internal(&format!("the import stopped: {e}")))?
    };
    // A read that failed because the upload passed its limit is a 413.
    let staged =
        staged.map_err(|e| if progress.bytes.load(Ordering::Relaxed) > limit { ApiError::too_large(limit as usize) } else { e })?;
    let spool = match staged {
        Staged::Invalid(report) => {
            metrics::counter!("chiase_imports_total", "outcome" => "rejected").increment(1);
            return Ok(ImportOutcome::Rejected(report));
        }
        Staged::Valid(spool) => spool,
    };
    let rows = spool.rows();
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<ParsedRow>>(4);
    let feeder = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut reader = spool.reader()?;
        while let Some(batch) = reader.next_batch(BATCH)? {
            let batch = batch.into_iter().map(|(line, values)| ParsedRow { line, values }).collect();
            if tx.blocking_send(batch).is_err() {
                break; // the store stopped reading: it refused the rows
            }
        }
        Ok(())
    });
    let applied =
        app.store.apply_import(&permit, &ds.id, req.mode, &caller.actor.name, req.source_name.as_deref(), rows, req.allow_empty, rx).await;
    let fed = feeder.await.map_err(|e| ApiError::internal(&format!("the import spool reader stopped: {e}")))?;
    match applied? {
        Applied::Done(summary) => {
            fed.map_err(|e| ApiError::internal(&format!("import spool: {e}")))?;
            metrics::counter!("chiase_imports_total", "outcome" => "done").increment(1);
            metrics::counter!("chiase_import_rows_total").increment(rows);
            let detail = json!({ "mode": req.mode.code(), "file": req.source_name, "inserted": summary.inserted, "updated": summary.updated, "deleted": summary.deleted, "seq": [summary.first_seq, summary.last_seq] });
            record_change(app, caller, "import", Some(&ds), ds.id.clone(), detail).await?;
            Ok(ImportOutcome::Done(summary))
        }
        Applied::Rejected(problems) => {
            metrics::counter!("chiase_imports_total", "outcome" => "rejected").increment(1);
            let total_errors = problems.len() as u64;
            let mut errors: Vec<ReportError> = problems.into_iter().take(MAX_REPORTED).map(ReportError::from).collect();
            errors.sort_by_key(|e| e.row);
            Ok(ImportOutcome::Rejected(ImportReport { rows_read: rows, total_errors, errors }))
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
