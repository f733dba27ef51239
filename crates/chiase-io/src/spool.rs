//! A spool of parsed rows: an import is parsed and validated into a
//! temporary file first, without touching the database, and applied from
//! it afterwards. Reading the upload (which may take minutes from a slow
//! client) never holds the database's writer, and a file with a bad row
//! never starts a write.
//!
//! Rows are stored in a compact binary form (a tag byte per value), so
//! that writing and reading back costs little next to parsing the file.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use chiase_core::schema::Value;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// Writes rows to a new spool.
pub struct SpoolWriter {
    out: BufWriter<File>,
    file: tempfile::NamedTempFile,
    rows: u64,
    buf: Vec<u8>,
}

/// A finished spool; the file is removed when this is dropped.
pub struct Spool {
    file: tempfile::NamedTempFile,
    rows: u64,
}

/// Reads a spool back, in order.
pub struct SpoolReader {
    input: BufReader<File>,
    left: u64,
}

/// A row read back: the line it came from, and its values.
pub type SpooledRow = (u64, Vec<Value>);

impl SpoolWriter {
    /// A new spool in `dir` (created if missing, private to the service).
    pub fn new(dir: &Path) -> io::Result<SpoolWriter> {
        std::fs::create_dir_all(dir)?;
        let file = tempfile::Builder::new().prefix("import-").suffix(".spool").tempfile_in(dir)?;
        let out = BufWriter::with_capacity(256 * 1024, file.reopen()?);
        Ok(SpoolWriter { out, file, rows: 0, buf: Vec::with_capacity(1024) })
    }

    /// Appends one row.
    pub fn push(&mut self, line: u64, values: &[Value]) -> io::Result<()> {
        self.buf.clear();
        self.buf.extend_from_slice(&line.to_le_bytes());
        self.buf.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for v in values {
            encode(v, &mut self.buf);
        }
        self.out.write_all(&(self.buf.len() as u32).to_le_bytes())?;
        self.out.write_all(&self.buf)?;
        self.rows += 1;
        Ok(())
    }

    /// How many rows so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Hands the rows pushed so far to the operating system, so that a
    /// [`SpoolWriter::tail`] reader can read them.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// A reader of the rows as they are written: it must only be asked for
    /// rows that were [flushed](SpoolWriter::flush) (the writer says how
    /// many). An import is applied while its file is still being staged.
    pub fn tail(&self) -> io::Result<SpoolReader> {
        Ok(SpoolReader { input: BufReader::with_capacity(256 * 1024, self.file.reopen()?), left: u64::MAX })
    }

    /// Flushes and closes the spool for reading.
    pub fn finish(mut self) -> io::Result<Spool> {
        self.out.flush()?;
        drop(self.out);
        Ok(Spool { file: self.file, rows: self.rows })
    }
}

impl Spool {
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// A reader from the first row.
    pub fn reader(&self) -> io::Result<SpoolReader> {
        Ok(SpoolReader { input: BufReader::with_capacity(256 * 1024, self.file.reopen()?), left: self.rows })
    }
}

impl SpoolReader {
    /// The next row, or `None` at the end.
    pub fn next_row(&mut self) -> io::Result<Option<SpooledRow>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut len = [0u8; 4];
        self.input.read_exact(&mut len)?;
        let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
        self.input.read_exact(&mut body)?;
        let mut r = Cursor { buf: &body, at: 0 };
        let line = u64::from_le_bytes(r.take::<8>()?);
        let n = u32::from_le_bytes(r.take::<4>()?) as usize;
        let mut values = Vec::with_capacity(n);
        for _ in 0..n {
            values.push(decode(&mut r)?);
        }
        self.left -= 1;
        Ok(Some((line, values)))
    }

    /// Up to `max` rows, or `None` at the end.
    pub fn next_batch(&mut self, max: usize) -> io::Result<Option<Vec<SpooledRow>>> {
        let mut out = Vec::with_capacity(max.min(self.left as usize));
        while out.len() < max {
            match self.next_row()? {
                Some(r) => out.push(r),
                None => break,
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

const NULL: u8 = 0;
const TEXT: u8 = 1;
const INT: u8 = 2;
const NUM: u8 = 3;
const BOOL: u8 = 4;
const DATE: u8 = 5;
const DATETIME: u8 = 6;
const POINT: u8 = 7;
const GEO: u8 = 8;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(NULL),
        Value::Text(s) => {
            out.push(TEXT);
            put_bytes(out, s.as_bytes());
        }
        Value::Int(n) => {
            out.push(INT);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Value::Num(x) => {
            out.push(NUM);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Bool(b) => out.extend_from_slice(&[BOOL, *b as u8]),
        Value::Date(d) => {
            out.push(DATE);
            out.extend_from_slice(&d.num_days_from_ce().to_le_bytes());
        }
        Value::DateTime(t) => {
            out.push(DATETIME);
            out.extend_from_slice(&t.timestamp().to_le_bytes());
            out.extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
        }
        Value::Point(lon, lat) => {
            out.push(POINT);
            out.extend_from_slice(&lon.to_le_bytes());
            out.extend_from_slice(&lat.to_le_bytes());
        }
        Value::Geo(g, b) => {
            out.push(GEO);
            put_bytes(out, g.to_string().as_bytes());
            for x in b {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "the import spool is corrupt")
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let end = self.at.checked_add(N).filter(|e| *e <= self.buf.len()).ok_or_else(corrupt)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&self.buf[self.at..end]);
        self.at = end;
        Ok(a)
    }

    fn bytes(&mut self) -> io::Result<&[u8]> {
        let n = u32::from_le_bytes(self.take::<4>()?) as usize;
        let end = self.at.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or_else(corrupt)?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn f64(&mut self) -> io::Result<f64> {
        Ok(f64::from_le_bytes(self.take::<8>()?))
    }
}

fn decode(r: &mut Cursor<'_>) -> io::Result<Value> {
    let [tag] = r.take::<1>()?;
    Ok(match tag {
        NULL => Value::Null,
        TEXT => Value::Text(String::from_utf8(r.bytes()?.to_vec()).map_err(|_| corrupt())?),
        INT => Value::Int(i64::from_le_bytes(r.take::<8>()?)),
        NUM => Value::Num(r.f64()?),
        BOOL => Value::Bool(r.take::<1>()?[0] != 0),
        DATE => Value::Date(NaiveDate::from_num_days_from_ce_opt(i32::from_le_bytes(r.take::<4>()?)).ok_or_else(corrupt)?),
        DATETIME => {
            let secs = i64::from_le_bytes(r.take::<8>()?);
            let nanos = u32::from_le_bytes(r.take::<4>()?);
            Value::DateTime(DateTime::<Utc>::from_timestamp(secs, nanos).ok_or_else(corrupt)?)
        }
        POINT => Value::Point(r.f64()?, r.f64()?),
        GEO => {
            let g: serde_json::Value = serde_json::from_slice(r.bytes()?).map_err(|_| corrupt())?;
            Value::Geo(g, [r.f64()?, r.f64()?, r.f64()?, r.f64()?])
        }
        _ => return Err(corrupt()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_value_comes_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [
            vec![Value::Null, Value::Text("Trạm BTS Hàm Yên — số 1".into()), Value::Int(-42), Value::Num(21.8234)],
            vec![
                Value::Bool(true),
                Value::Date(NaiveDate::from_ymd_opt(2025, 3, 15).unwrap()),
                Value::DateTime("2025-03-15T08:30:00.123456Z".parse().unwrap()),
                Value::Point(105.21, 21.82),
            ],
            vec![Value::Geo(serde_json::json!({"type": "Point", "coordinates": [105.2, 21.8]}), [105.2, 21.8, 105.2, 21.8])],
        ];
        let mut w = SpoolWriter::new(dir.path()).unwrap();
        for (i, r) in rows.iter().enumerate() {
            w.push(i as u64 + 2, r).unwrap();
        }
        let spool = w.finish().unwrap();
        assert_eq!(spool.rows(), 3);
        let mut r = spool.reader().unwrap();
        let back = r.next_batch(10).unwrap().unwrap();
        assert_eq!(back.len(), 3);
        for (i, (line, values)) in back.into_iter().enumerate() {
            assert_eq!(line, i as u64 + 2);
            assert_eq!(values, rows[i]);
        }
        assert!(r.next_batch(10).unwrap().is_none());
    }

    #[test]
    fn a_tail_reader_reads_flushed_rows_while_the_spool_grows() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SpoolWriter::new(dir.path()).unwrap();
        let mut tail = w.tail().unwrap();
        w.push(2, &[Value::Int(1)]).unwrap();
        w.flush().unwrap();
        assert_eq!(tail.next_row().unwrap(), Some((2, vec![Value::Int(1)])));
        w.push(3, &[Value::Text("hai".into())]).unwrap();
        w.push(4, &[Value::Null]).unwrap();
        w.flush().unwrap();
        assert_eq!(tail.next_batch(2).unwrap().unwrap().len(), 2);
        let spool = w.finish().unwrap();
        assert_eq!(spool.rows(), 3);
    }

    #[test]
    fn the_spool_file_goes_when_the_spool_does() {
        let dir = tempfile::tempdir().unwrap();
        let spool = SpoolWriter::new(dir.path()).unwrap().finish().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(spool);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
