//! Reading a page of dataset rows straight from SQLite's C API.
//!
//! sqlx runs each SQLite connection on a worker thread and hands every row
//! across a channel, copying each value on the way: for a 100-row page that
//! is a hundred thread wake-ups and over a thousand allocations, most of
//! the cost of a request (docs/benchmarks.md, issue 9). Record pages, the
//! hottest read, instead run on connections of chiase's own
//! ([`Readers`]): opened on the same file, read-only, each with its
//! prepared statements kept (a page's SQL has the same text for every
//! value, so planning it once serves every later request), stepped and
//! decoded on the calling thread. Everything else (writes, transactions,
//! small metadata reads) stays on sqlx.
//!
//! Only bounded queries come here: the planner's pages examine at most its
//! bounds of rows, so running them on the async thread blocks it no longer
//! than the JSON rendering of the page would.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int};
use std::ptr::NonNull;
use std::sync::Mutex;

use chiase_core::schema::Field;
use chrono::{DateTime, NaiveDate, Utc};
use libsqlite3_sys as ffi;

use crate::StoreError;
use crate::datasets::rows::{Cell, StoredRow, decode_row};

/// A value this path can bind; anything else goes through sqlx.
fn bindable(v: &sea_query::Value) -> bool {
    use sea_query::Value as S;
    matches!(v, S::Bool(_) | S::Int(_) | S::BigInt(_) | S::Double(_) | S::String(_) | S::ChronoDate(_) | S::ChronoDateTimeUtc(_))
}

/// Read-only connections to a store's SQLite file, and their prepared
/// statements. A connection is taken for one query and given back; no
/// query awaits, so at most one per async worker thread is in use at once.
pub struct Readers {
    path: CString,
    cache_kib: u64,
    idle: Mutex<Vec<Reader>>,
}

/// Connections kept idle at most (more are closed when given back).
const MAX_IDLE: usize = 8;
/// Prepared statements kept per connection (all are dropped when full).
const MAX_STATEMENTS: usize = 128;

impl Readers {
    pub(crate) fn new(path: &std::path::Path, cache_mib: u32) -> Option<Readers> {
        let path = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
        Some(Readers { path, cache_kib: u64::from(cache_mib.max(1)) * 1024, idle: Mutex::new(Vec::new()) })
    }

    /// Runs `sql` with `values` and decodes each row as `fields` (after the
    /// meta columns when `with_meta`). None when a value cannot be bound
    /// here (the caller uses sqlx).
    pub(crate) fn fetch_rows(
        &self,
        sql: &str,
        values: &[sea_query::Value],
        fields: &[&Field],
        with_meta: bool,
    ) -> Result<Option<Vec<StoredRow>>, StoreError> {
        if !values.iter().all(bindable) {
            return Ok(None);
        }
        let mut reader = self.take()?;
        let rows = reader.run(sql, values, |row| decode_row(row, fields, with_meta))?;
        self.give_back(reader);
        Ok(Some(rows))
    }

    /// The integers of the first row of `sql` (counts), or None when a
    /// value cannot be bound here.
    pub(crate) fn fetch_ints(&self, sql: &str, values: &[sea_query::Value]) -> Result<Option<Vec<i64>>, StoreError> {
        if !values.iter().all(bindable) {
            return Ok(None);
        }
        let mut reader = self.take()?;
        let rows = reader.run(sql, values, |row| {
            // SAFETY: the statement is on a row.
            let n = unsafe { ffi::sqlite3_column_count(row.0) } as usize;
            (0..n).map(|i| row.int(i).map(|v| v.unwrap_or(0))).collect::<Result<Vec<i64>, _>>()
        })?;
        self.give_back(reader);
        Ok(Some(rows.into_iter().next().unwrap_or_default()))
    }

    fn take(&self) -> Result<Reader, StoreError> {
        match self.idle.lock().ok().and_then(|mut v| v.pop()) {
            Some(r) => Ok(r),
            None => Reader::open(&self.path, self.cache_kib),
        }
    }

    /// Keeps a connection for the next query. (One whose query failed is
    /// never given back: it is closed.)
    fn give_back(&self, reader: Reader) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(reader);
        }
    }
}

/// One connection of [`Readers`] and its prepared statements.
struct Reader {
    db: NonNull<ffi::sqlite3>,
    statements: HashMap<String, Stmt>,
}

// SAFETY: a `Reader` is used by one thread at a time (it is moved out of
// the idle list, used without awaiting, and moved back); SQLite allows a
// connection opened with NOMUTEX to move between threads that way.
unsafe impl Send for Reader {}

impl Reader {
    fn open(path: &CStr, cache_kib: u64) -> Result<Reader, StoreError> {
        let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX;
        // SAFETY: `path` is NUL-terminated; `db` receives the handle, which
        // is closed on drop (also when opening failed).
        let rc = unsafe { ffi::sqlite3_open_v2(path.as_ptr(), &mut db, flags, std::ptr::null()) };
        let Some(db) = NonNull::new(db) else {
            return Err(StoreError::Db(sqlx::Error::Protocol(format!("sqlite error {rc}: cannot open a reader"))));
        };
        let reader = Reader { db, statements: HashMap::new() };
        if rc != ffi::SQLITE_OK {
            return Err(unsafe { error(db.as_ptr(), rc) });
        }
        // Never writes (a bug here cannot change data); waits for a
        // checkpoint as sqlx's readers do; the same page cache.
        let setup = CString::new(format!("PRAGMA query_only = 1; PRAGMA temp_store = memory; PRAGMA cache_size = -{cache_kib};"))
            .expect("BUG: no NUL in the pragmas");
        // SAFETY: a live handle and a NUL-terminated script.
        unsafe {
            ffi::sqlite3_busy_timeout(db.as_ptr(), 10_000);
            let rc = ffi::sqlite3_exec(db.as_ptr(), setup.as_ptr(), None, std::ptr::null_mut(), std::ptr::null_mut());
            if rc != ffi::SQLITE_OK {
                return Err(error(db.as_ptr(), rc));
            }
        }
        Ok(reader)
    }

    fn run<T>(
        &mut self,
        sql: &str,
        values: &[sea_query::Value],
        on_row: impl FnMut(&Current) -> Result<T, sqlx::Error>,
    ) -> Result<Vec<T>, StoreError> {
        let db = self.db.as_ptr();
        if !self.statements.contains_key(sql) {
            if self.statements.len() >= MAX_STATEMENTS {
                self.statements.clear();
            }
            let mut raw: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
            // SAFETY: `sql` outlives the call; its length is given, so no NUL is needed.
            let rc = unsafe {
                ffi::sqlite3_prepare_v3(
                    db,
                    sql.as_ptr() as *const c_char,
                    sql.len() as c_int,
                    ffi::SQLITE_PREPARE_PERSISTENT,
                    &mut raw,
                    std::ptr::null_mut(),
                )
            };
            if rc != ffi::SQLITE_OK {
                return Err(unsafe { error(db, rc) });
            }
            self.statements.insert(sql.to_string(), Stmt(raw));
        }
        let stmt = &self.statements[sql];
        // SAFETY: a statement of this connection, on this thread; it is
        // reset after the last row (ending its read of the database, which
        // would otherwise hold back checkpoints).
        let rows = unsafe {
            ffi::sqlite3_clear_bindings(stmt.0);
            step_all(db, stmt.0, values, on_row)
        };
        unsafe { ffi::sqlite3_reset(stmt.0) };
        rows
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.statements.clear();
        // SAFETY: every statement was finalized just above.
        unsafe { ffi::sqlite3_close(self.db.as_ptr()) };
    }
}

/// A prepared statement, finalized on drop.
struct Stmt(*mut ffi::sqlite3_stmt);

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: a statement prepared by `Reader::run`, finalized once.
        unsafe { ffi::sqlite3_finalize(self.0) };
    }
}

unsafe fn error(db: *mut ffi::sqlite3, code: c_int) -> StoreError {
    // SAFETY: `db` is a live connection; the message is copied at once.
    let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }.to_string_lossy().into_owned();
    if code == ffi::SQLITE_BUSY || code == ffi::SQLITE_LOCKED {
        return StoreError::Busy {
            msg: chiase_core::Msg::new("cơ sở dữ liệu đang bận, hãy thử lại", "the database is busy, try again"),
            retry_after_secs: 1,
        };
    }
    StoreError::Db(sqlx::Error::Protocol(format!("sqlite error {code}: {msg}")))
}

unsafe fn step_all<T>(
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    values: &[sea_query::Value],
    mut on_row: impl FnMut(&Current) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, StoreError> {
    use sea_query::Value as S;
    for (i, v) in values.iter().enumerate() {
        let at = i as c_int + 1;
        // SAFETY: binding to a live statement; text is copied (TRANSIENT).
        let rc = unsafe {
            match v {
                S::Bool(Some(b)) => ffi::sqlite3_bind_int64(stmt, at, *b as i64),
                S::Int(Some(n)) => ffi::sqlite3_bind_int64(stmt, at, *n as i64),
                S::BigInt(Some(n)) => ffi::sqlite3_bind_int64(stmt, at, *n),
                S::Double(Some(x)) => ffi::sqlite3_bind_double(stmt, at, *x),
                S::String(Some(s)) => bind_text(stmt, at, s),
                // The same text sqlx writes, so that comparisons with stored
                // values hold.
                S::ChronoDate(Some(d)) => bind_text(stmt, at, &d.format("%F").to_string()),
                S::ChronoDateTimeUtc(Some(t)) => bind_text(stmt, at, &t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)),
                _ => ffi::sqlite3_bind_null(stmt, at),
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(unsafe { error(db, rc) });
        }
    }
    let mut rows = Vec::new();
    loop {
        // SAFETY: stepping a live statement.
        match unsafe { ffi::sqlite3_step(stmt) } {
            ffi::SQLITE_ROW => {
                let row = Current(stmt);
                rows.push(on_row(&row).map_err(StoreError::Db)?);
            }
            ffi::SQLITE_DONE => break,
            rc => return Err(unsafe { error(db, rc) }),
        }
    }
    Ok(rows)
}

unsafe fn bind_text(stmt: *mut ffi::sqlite3_stmt, at: c_int, s: &str) -> c_int {
    // SAFETY: SQLITE_TRANSIENT makes SQLite copy the text before returning.
    unsafe { ffi::sqlite3_bind_text(stmt, at, s.as_ptr() as *const c_char, s.len() as c_int, ffi::SQLITE_TRANSIENT()) }
}

/// The row a statement is on.
struct Current(*mut ffi::sqlite3_stmt);

impl Current {
    fn kind(&self, i: usize) -> c_int {
        // SAFETY: the statement is on a row; `i` is within the select list
        // (out of range gives SQLITE_NULL, never undefined behaviour).
        unsafe { ffi::sqlite3_column_type(self.0, i as c_int) }
    }

    fn text_ref(&self, i: usize) -> Option<&str> {
        if self.kind(i) == ffi::SQLITE_NULL {
            return None;
        }
        // SAFETY: the pointer stays valid until the next step or column
        // conversion of this column; the bytes are read at once.
        unsafe {
            let p = ffi::sqlite3_column_text(self.0, i as c_int);
            let n = ffi::sqlite3_column_bytes(self.0, i as c_int);
            if p.is_null() {
                return Some("");
            }
            std::str::from_utf8(std::slice::from_raw_parts(p, n as usize)).ok()
        }
    }
}

fn decode_error(what: &str, i: usize) -> sqlx::Error {
    sqlx::Error::Decode(format!("column {i}: not a valid {what}").into())
}

impl Cell for Current {
    fn int(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
        Ok(match self.kind(i) {
            ffi::SQLITE_NULL => None,
            // SAFETY: the statement is on a row.
            _ => Some(unsafe { ffi::sqlite3_column_int64(self.0, i as c_int) }),
        })
    }
    fn real(&self, i: usize) -> Result<Option<f64>, sqlx::Error> {
        Ok(match self.kind(i) {
            ffi::SQLITE_NULL => None,
            // SAFETY: the statement is on a row (an integer converts).
            _ => Some(unsafe { ffi::sqlite3_column_double(self.0, i as c_int) }),
        })
    }
    fn text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
        match self.kind(i) {
            ffi::SQLITE_NULL => Ok(None),
            _ => self.text_ref(i).map(|s| Some(s.to_string())).ok_or_else(|| decode_error("UTF-8 text", i)),
        }
    }
    fn boolean(&self, i: usize) -> Result<Option<bool>, sqlx::Error> {
        Ok(self.int(i)?.map(|n| n != 0))
    }
    fn date(&self, i: usize) -> Result<Option<NaiveDate>, sqlx::Error> {
        match self.text_ref(i) {
            None => Ok(None),
            Some(s) => NaiveDate::parse_from_str(s, "%F").map(Some).map_err(|_| decode_error("date", i)),
        }
    }
    fn timestamp(&self, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        match self.text_ref(i) {
            None => Ok(None),
            Some(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%F %T%.f").map(|t| t.and_utc()))
                .map(Some)
                .map_err(|_| decode_error("timestamp", i)),
        }
    }
    fn json(&self, i: usize) -> Result<Option<serde_json::Value>, sqlx::Error> {
        match self.text_ref(i) {
            None => Ok(None),
            Some(s) => serde_json::from_str(s).map(Some).map_err(|e| sqlx::Error::Decode(Box::new(e))),
        }
    }
}
