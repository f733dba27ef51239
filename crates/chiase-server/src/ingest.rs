//! The import pipeline: a file (a request body or a path) is parsed and
//! validated on a blocking thread while the rows that passed are written on
//! the async side, in one transaction. Memory stays bounded (batches in a
//! small channel); if any row fails, the transaction is dropped and the
//! reply is a report of the bad rows, in Vietnamese and English.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chiase_core::Msg;
use chiase_core::policy::WritePermit;
use chiase_io::tabular::{ColumnMap, ReadError, ReadOptions, RecordReader, parse_record};
use chiase_store::datasets::import::{ImportMode, ParsedRow, RowProblem, WriteSummary};
use chiase_store::{Store, StoreError};
use serde::Serialize;

/// The report lists at most this many problems (and counts them all).
pub const MAX_REPORTED: usize = 1000;
const BATCH: usize = 2000;

/// What to import and how.
pub struct ImportRequest {
    pub mode: ImportMode,
    pub actor: String,
    pub source_name: Option<String>,
    pub content_type: Option<String>,
    pub options: ReadOptions,
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

/// Why nothing was imported.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub rows_read: u64,
    pub total_errors: u64,
    pub errors: Vec<ReportError>,
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

/// A reader that counts bytes for the progress bar.
struct Counting<R> {
    inner: R,
    progress: Arc<Progress>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A failure that is not about rows: the file is unreadable, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportFailure {
    #[error("{0}")]
    File(ReadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Message {
    Rows(Vec<ParsedRow>),
    Finished { rows_read: u64, errors: Vec<ReportError>, total_errors: u64 },
    Fatal(ReadError),
}

fn from_problem(p: RowProblem) -> ReportError {
    ReportError { row: p.line, column: p.field, value: p.value, code: p.code.to_string(), message: p.message.vi, message_en: p.message.en }
}

/// Runs an import to the end: everything lands or nothing does.
pub async fn run(
    store: &Store,
    permit: &WritePermit,
    slug: &str,
    req: ImportRequest,
    source: Box<dyn Read + Send>,
    progress: Arc<Progress>,
) -> Result<ImportOutcome, ImportFailure> {
    let mut writer = store.begin_write(permit, slug, req.mode, &req.actor, req.source_name.as_deref()).await?;
    let schema = writer.schema().clone();
    let stop_writing = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(4);
    let stop = stop_writing.clone();
    let parse_progress = progress.clone();
    let parser = tokio::task::spawn_blocking(move || {
        let source: Box<dyn Read + Send> = Box::new(Counting { inner: source, progress: parse_progress.clone() });
        let reader = match RecordReader::open(source, req.source_name.as_deref(), req.content_type.as_deref(), &req.options) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Message::Fatal(e));
                return;
            }
        };
        let mut errors: Vec<ReportError> = Vec::new();
        let mut total_errors = 0u64;
        let map = match reader.headers() {
            Some(h) => match ColumnMap::new(h, &schema) {
                Ok(m) => Some(m),
                Err(problems) => {
                    total_errors = problems.len() as u64;
                    errors = problems
                        .into_iter()
                        .map(|p| ReportError {
                            row: 1,
                            column: Some(p.column),
                            value: None,
                            code: "header".into(),
                            message: p.msg.vi,
                            message_en: p.msg.en,
                        })
                        .collect();
                    let _ = tx.blocking_send(Message::Finished { rows_read: 0, errors, total_errors });
                    return;
                }
            },
            None => None,
        };
        let mut batch = Vec::with_capacity(BATCH);
        let mut rows_read = 0u64;
        for rec in reader {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Message::Fatal(e));
                    return;
                }
            };
            rows_read += 1;
            parse_progress.rows.store(rows_read, Ordering::Relaxed);
            match parse_record(&schema, map.as_ref(), &rec) {
                Ok(values) => {
                    if total_errors == 0 && !stop.load(Ordering::Relaxed) {
                        batch.push(ParsedRow { line: rec.line, values });
                        if batch.len() == BATCH
                            && tx.blocking_send(Message::Rows(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))).is_err()
                        {
                            return;
                        }
                    }
                }
                Err(problems) => {
                    total_errors += problems.len() as u64;
                    batch.clear();
                    for (field, e) in problems {
                        if errors.len() < MAX_REPORTED {
                            let (column, value) = if field == usize::MAX {
                                (None, None)
                            } else {
                                let name = schema.fields[field].spec.name.clone();
                                let value = cell_value(&rec.cells, map.as_ref(), field, &name);
                                (Some(name), value)
                            };
                            errors.push(ReportError {
                                row: rec.line,
                                column,
                                value,
                                code: e.code.to_string(),
                                message: e.message.vi,
                                message_en: e.message.en,
                            });
                        }
                    }
                }
            }
        }
        if !batch.is_empty() && total_errors == 0 {
            let _ = tx.blocking_send(Message::Rows(batch));
        }
        let _ = tx.blocking_send(Message::Finished { rows_read, errors, total_errors });
    });

    let mut store_problems: Vec<ReportError> = Vec::new();
    let mut store_problem_count = 0u64;
    let outcome = loop {
        match rx.recv().await {
            Some(Message::Rows(rows)) => {
                if store_problem_count > 0 {
                    continue;
                }
                let problems = writer.write(&rows).await?;
                if !problems.is_empty() {
                    stop_writing.store(true, Ordering::Relaxed);
                    store_problem_count += problems.len() as u64;
                    store_problems.extend(problems.into_iter().take(MAX_REPORTED).map(from_problem));
                }
            }
            Some(Message::Finished { rows_read, mut errors, total_errors }) => {
                let total = total_errors + store_problem_count;
                if total > 0 {
                    errors.extend(store_problems);
                    errors.sort_by_key(|e| e.row);
                    errors.truncate(MAX_REPORTED);
                    metrics::counter!("chiase_imports_total", "outcome" => "rejected").increment(1);
                    break ImportOutcome::Rejected(ImportReport { rows_read, total_errors: total, errors });
                }
                let summary = writer.commit().await?;
                metrics::counter!("chiase_imports_total", "outcome" => "done").increment(1);
                metrics::counter!("chiase_import_rows_total").increment(rows_read);
                break ImportOutcome::Done(summary);
            }
            Some(Message::Fatal(e)) => return Err(ImportFailure::File(e)),
            None => {
                return Err(ImportFailure::File(ReadError {
                    line: 0,
                    msg: Msg::new("quá trình đọc tệp dừng bất thường", "reading the file stopped unexpectedly"),
                }));
            }
        }
    };
    let _ = parser.await;
    Ok(outcome)
}

fn cell_value(cells: &chiase_io::tabular::Cells, map: Option<&ColumnMap>, field: usize, name: &str) -> Option<String> {
    let text = match cells {
        chiase_io::tabular::Cells::Text(t) => map.and_then(|m| m.field_column[field]).and_then(|c| t.get(c).cloned()),
        chiase_io::tabular::Cells::Json(o) => o.get(name).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    }?;
    Some(text.chars().take(200).collect())
}
