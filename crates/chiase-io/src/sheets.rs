//! Workbooks (XLSX, and old XLS and ODS) read row by row on a thread of
//! their own, handed over through a small channel: a 100 MB XLSX is
//! spooled to a temporary file and its sheet streamed cell by cell (only
//! the shared strings are held), and parsing the rows overlaps reading
//! them. XLS and ODS are read as calamine reads them (whole; XLS files
//! stop at 65,536 rows by their format).
//!
//! The sheet is the one asked for (by name or number) or else the first
//! whose header names fields of the schema ([`crate::layout`]).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use calamine::{Data, Ods, Reader, Xls, Xlsx};
use chiase_core::fold::match_key;
use chiase_core::schema::Schema;

use crate::layout::{HEADER_SCAN_ROWS, Row, header_score};
use crate::limits::{MAX_TITLE_CHARS, clip};
use crate::tabular::{ReadError, cause, rerr, too_many_columns, xlsx_blank, xlsx_cell};

/// What the reading thread hands over.
pub enum SheetEvent {
    /// The sheet chosen, before its rows.
    Sheet(String),
    Row(Row),
    Failed(ReadError),
}

/// Rows in flight between the reading thread and the parser.
const CHANNEL_ROWS: usize = 256;

type Source = BufReader<File>;

enum Book {
    Xlsx(Xlsx<Source>),
    Xls(Xls<Source>),
    Ods(Ods<Source>),
}

impl Book {
    fn sheet_names(&self) -> Vec<String> {
        match self {
            Book::Xlsx(b) => b.sheet_names(),
            Book::Xls(b) => b.sheet_names(),
            Book::Ods(b) => b.sheet_names(),
        }
    }
}

/// Copies `source` into an anonymous temporary file (in `dir` when given),
/// refusing more than `max_bytes`.
pub fn spool(mut source: impl Read, dir: Option<&Path>, max_bytes: u64) -> Result<File, ReadError> {
    let failed = |e: std::io::Error| rerr(0, format!("không lưu tạm được tệp: {e}"), format!("cannot keep the file aside: {e}"));
    let mut file = match dir {
        Some(d) => tempfile::tempfile_in(d),
        None => tempfile::tempfile(),
    }
    .map_err(failed)?;
    let copied =
        std::io::copy(&mut (&mut source).take(max_bytes.saturating_add(1)), &mut file).map_err(|e| crate::tabular::io_error(&e))?;
    if copied > max_bytes {
        let mb = max_bytes / (1024 * 1024);
        return Err(rerr(
            0,
            format!("tệp bảng tính lớn quá {mb} MB; hãy xuất CSV để nhập"),
            format!("the workbook is larger than {mb} MB; export it as CSV to import it"),
        ));
    }
    file.seek(SeekFrom::Start(0)).map_err(failed)?;
    Ok(file)
}

fn open(file: File) -> Result<Book, ReadError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        rerr(0, format!("không đọc được tệp bảng tính: {}", cause(&e)), format!("cannot read the spreadsheet: {}", cause(&e)))
    };
    let mut head = [0u8; 4];
    let mut f = file;
    let n = f.read(&mut head).map_err(|e| unreadable(&e))?;
    f.seek(SeekFrom::Start(0)).map_err(|e| unreadable(&e))?;
    if n == 4 && head == [0xD0, 0xCF, 0x11, 0xE0] {
        return Xls::new(BufReader::new(f)).map(Book::Xls).map_err(|e| unreadable(&e));
    }
    let again = f.try_clone().map_err(|e| unreadable(&e))?;
    match Xlsx::new(BufReader::new(f)) {
        Ok(b) => Ok(Book::Xlsx(b)),
        Err(xlsx_error) => {
            let mut again = again;
            again.seek(SeekFrom::Start(0)).map_err(|e| unreadable(&e))?;
            // An ODS package has no workbook.xml; only then is it tried.
            Ods::new(BufReader::new(again)).map(Book::Ods).map_err(|_| unreadable(&xlsx_error))
        }
    }
}

/// Reads the rows of one sheet in order, giving each non-blank row (its
/// Excel row number, its cells from column A) to `row` until it returns
/// false.
fn rows_of(book: &mut Book, name: &str, max_columns: usize, mut row: impl FnMut(Row) -> bool) -> Result<(), ReadError> {
    let shown = clip(name, MAX_TITLE_CHARS).into_owned();
    let failed = |e: &dyn std::fmt::Display| {
        rerr(0, format!("không đọc được trang «{shown}»: {}", cause(&e)), format!("cannot read sheet «{shown}»: {}", cause(&e)))
    };
    let range = match book {
        Book::Xlsx(x) => {
            let mut reader = match x.worksheet_cells_reader(name) {
                Ok(r) => r,
                // A chart sheet: no cells.
                Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(()),
                Err(e) => return Err(failed(&e)),
            };
            // Cells come row by row, left to right.
            let mut current: Option<(u32, Vec<String>)> = None;
            while let Some(cell) = reader.next_cell().map_err(|e| failed(&e))? {
                let value = Data::from(cell.get_value().clone());
                if xlsx_blank(&value) {
                    continue;
                }
                let (r, c) = cell.get_position();
                if current.as_ref().is_some_and(|(cr, _)| *cr != r)
                    && let Some((cr, cells)) = current.take()
                    && !row((u64::from(cr) + 1, cells))
                {
                    return Ok(());
                }
                let c = c as usize;
                if c >= max_columns {
                    return Err(too_many_columns(u64::from(r) + 1, max_columns));
                }
                let cells = &mut current.get_or_insert_with(|| (r, Vec::new())).1;
                if cells.len() <= c {
                    cells.resize(c + 1, String::new());
                }
                cells[c] = xlsx_cell(&value);
            }
            if let Some((r, cells)) = current {
                row((u64::from(r) + 1, cells));
            }
            return Ok(());
        }
        Book::Xls(b) => b.worksheet_range(name).map_err(|e| failed(&e))?,
        Book::Ods(b) => b.worksheet_range(name).map_err(|e| failed(&e))?,
    };
    let Some((top, left)) = range.start() else { return Ok(()) };
    for (i, cells) in range.rows().enumerate() {
        let line = u64::from(top) + i as u64 + 1;
        let width = cells.iter().rposition(|c| !xlsx_blank(c)).map_or(0, |p| p + 1);
        if width == 0 {
            continue;
        }
        if left as usize + width > max_columns {
            return Err(too_many_columns(line, max_columns));
        }
        let mut out = vec![String::new(); left as usize];
        out.extend(cells[..width].iter().map(xlsx_cell));
        if !row((line, out)) {
            break;
        }
    }
    Ok(())
}

/// The first rows of a sheet, enough to find its header.
fn first_rows(book: &mut Book, name: &str, max_columns: usize) -> Result<Vec<Row>, ReadError> {
    let mut rows = Vec::new();
    rows_of(book, name, max_columns, |r| {
        rows.push(r);
        rows.len() <= HEADER_SCAN_ROWS
    })?;
    Ok(rows)
}

/// The sheet asked for: a name (exact, or ignoring case and diacritics) or
/// a number from 1.
fn named_sheet(names: &[String], wanted: &str) -> Result<String, ReadError> {
    if let Some(n) = names.iter().find(|n| *n == wanted) {
        return Ok(n.clone());
    }
    let key = match_key(wanted);
    if let Some(n) = names.iter().find(|n| match_key(n) == key) {
        return Ok(n.clone());
    }
    if let Ok(i) = wanted.trim().parse::<usize>()
        && (1..=names.len()).contains(&i)
    {
        return Ok(names[i - 1].clone());
    }
    let listed = names.iter().map(|n| format!("«{}»", clip(n, MAX_TITLE_CHARS))).collect::<Vec<_>>().join(", ");
    let shown = clip(wanted, MAX_TITLE_CHARS);
    Err(rerr(
        0,
        format!("bảng tính không có trang «{shown}»; các trang: {listed} (hoặc số thứ tự từ 1 đến {})", names.len()),
        format!("the workbook has no sheet «{shown}»; its sheets: {listed} (or a number from 1 to {})", names.len()),
    ))
}

/// Chooses the sheet: the one asked for, else the first whose header
/// names fields of `schema`, else the first with any rows.
fn choose_sheet(book: &mut Book, wanted: Option<&str>, schema: Option<&Schema>, max_columns: usize) -> Result<String, ReadError> {
    let names = book.sheet_names();
    if names.is_empty() {
        return Err(rerr(0, "bảng tính không có trang nào", "the workbook has no sheet"));
    }
    if let Some(w) = wanted {
        return named_sheet(&names, w);
    }
    let mut first_with_rows = None;
    for name in &names {
        let rows = first_rows(book, name, max_columns)?;
        if rows.is_empty() {
            continue;
        }
        first_with_rows.get_or_insert_with(|| name.clone());
        match schema {
            Some(s) if header_score(&rows, s) > 0 => return Ok(name.clone()),
            Some(_) => {}
            None => break,
        }
    }
    Ok(first_with_rows.unwrap_or_else(|| names[0].clone()))
}

/// Starts reading a spooled workbook on a thread: the first event names
/// the sheet chosen (or says why none could be read), rows follow. The
/// thread stops when the receiver is dropped.
pub fn stream(file: File, wanted: Option<String>, schema: Option<Arc<Schema>>, max_columns: usize) -> Receiver<SheetEvent> {
    let (tx, rx) = sync_channel(CHANNEL_ROWS);
    let run = move |tx: &SyncSender<SheetEvent>| -> Result<(), ReadError> {
        let mut book = open(file)?;
        let name = choose_sheet(&mut book, wanted.as_deref(), schema.as_deref(), max_columns)?;
        if tx.send(SheetEvent::Sheet(name.clone())).is_err() {
            return Ok(());
        }
        rows_of(&mut book, &name, max_columns, |r| tx.send(SheetEvent::Row(r)).is_ok())
    };
    let spawned = std::thread::Builder::new().name("chiase-sheet".into()).spawn(move || {
        if let Err(e) = run(&tx) {
            let _ = tx.send(SheetEvent::Failed(e));
        }
    });
    if let Err(e) = spawned {
        let (tx, rx) = sync_channel(1);
        let _ = tx.send(SheetEvent::Failed(rerr(0, format!("không đọc được tệp: {e}"), format!("cannot read the file: {e}"))));
        return rx;
    }
    rx
}
