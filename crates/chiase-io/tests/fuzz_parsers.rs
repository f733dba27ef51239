//! Property tests of the readers of untrusted files (issue 9, item 7): the
//! decision-table parser and the CSV/TSV, JSON/NDJSON and XLSX record
//! readers. Each property feeds arbitrary bytes or structured but hostile
//! input (odd quoting, byte-order marks, ragged rows, huge fields, deep
//! nesting, truncated and garbled workbooks) and asks that the reader never
//! panics, that whatever it refuses comes back as a typed error with a
//! message, and, where a writer exists, that what was written reads back
//! equal.
//!
//! Bounded: every property runs a fixed number of cases (1,024, or 256
//! where each case writes a workbook, unless `PROPTEST_CASES` says
//! otherwise); the whole file takes well under a
//! minute in a debug build.

use std::io::Cursor;

use chiase_io::decision_table::{decision_in_title, parse_catalog};
use chiase_io::tabular::{Cells, Format, ReadError, ReadLimits, ReadOptions, RecordReader, SourceRecord};
use chiase_io::writers::{CsvOptions, StringCsv};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// `cases` per property, unless `PROPTEST_CASES` is set; no regression
/// files are written (a failure is turned into a named test instead).
/// Cases per property (a quarter of it where each case writes a workbook):
/// under 3 s for this file in a debug build, on 2 cores.
const CASES: u32 = 1024;

fn config(cases: u32) -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c
}

/// Tight bounds, so that hostile inputs of a few kilobytes cross them.
const TIGHT: ReadLimits = ReadLimits { max_line_bytes: 300, max_record_bytes: 600, max_columns: 12, max_xlsx_bytes: 64 * 1024 };

/// Opens `bytes` as `format` (detected when `None`) and reads every record,
/// checking that each error has a message. At most 10,000 records.
fn read_all(
    bytes: &[u8],
    name: &str,
    format: Option<Format>,
    limits: ReadLimits,
) -> Result<Vec<Result<SourceRecord, ReadError>>, ReadError> {
    let opts = ReadOptions { format, ..Default::default() };
    let reader = RecordReader::open_with_limits(Box::new(Cursor::new(bytes.to_vec())), Some(name), None, &opts, limits)?;
    let out: Vec<_> = reader.take(10_000).collect();
    for e in out.iter().filter_map(|r| r.as_ref().err()) {
        assert_typed(e);
    }
    Ok(out)
}

fn assert_typed(e: &ReadError) {
    assert!(!e.msg.en.trim().is_empty() && !e.msg.vi.trim().is_empty(), "an error without a message: {e:?}");
}

fn texts(recs: &[Result<SourceRecord, ReadError>]) -> Vec<Vec<String>> {
    recs.iter()
        .map(|r| match &r.as_ref().expect("a record").cells {
            Cells::Text(t) => t.clone(),
            Cells::Json(_) => panic!("a JSON record from a text format"),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Strategies

/// Cells made of the characters that trouble CSV readers: delimiters,
/// quotes, line breaks, a byte-order mark, spaces, Vietnamese letters.
fn hostile_cell() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(",".to_string()),
        Just(";".to_string()),
        Just("\t".to_string()),
        Just("\"".to_string()),
        Just("\"\"".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\r".to_string()),
        Just("\u{feff}".to_string()),
        Just(" ".to_string()),
        Just("=1+1".to_string()),
        "[a-zA-Z0-9]{1,6}",
        "[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệĐƯươ]{1,4}",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

/// A CSV-ish text: rows of hostile cells joined by a delimiter, sometimes
/// quoted, sometimes not (so quotes land mid-cell), ragged, with an
/// optional BOM and any line ending.
fn hostile_csv() -> impl Strategy<Value = Vec<u8>> {
    let row = proptest::collection::vec((hostile_cell(), any::<bool>()), 0..8);
    (
        any::<bool>(),
        prop_oneof![Just(","), Just(";"), Just("\t")],
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        proptest::collection::vec(row, 0..12),
    )
        .prop_map(|(bom, delim, eol, rows)| {
            let mut s = String::new();
            if bom {
                s.push('\u{feff}');
            }
            for row in rows {
                let cells: Vec<String> =
                    row.into_iter().map(|(c, quote)| if quote { format!("\"{}\"", c.replace('"', "\"\"")) } else { c }).collect();
                s.push_str(&cells.join(delim));
                s.push_str(eol);
            }
            s.into_bytes()
        })
}

/// Cells that survive a CSV round trip as the reader sees them: any text
/// (quotes and line breaks included) that is not all whitespace.
fn roundtrip_cell() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9 ]{0,8}[a-zA-Z0-9]", "[a-z,\"\n\r\t;'=+-]{1,8}x", "x[ -~àđĐươ\u{feff}\n\"]{0,12}", "[0-9]{1,6}(\\.[0-9]{1,3})?",]
}

fn header_cell() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,10}"
}

/// A small JSON value of any kind (strings with escapes and unicode).
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::String),
        "[\"\\\\{}\\[\\],:\n đĐ]{0,10}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::vec(("[a-z\"{}\\[\\]]{0,5}", inner), 0..4)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = serde_json::Map<String, serde_json::Value>> {
    proptest::collection::vec(("[a-zA-Z_đ\"\\\\{}\\[\\] ]{1,6}", json_value()), 0..6).prop_map(|kv| kv.into_iter().collect())
}

// ---------------------------------------------------------------------------
// A real workbook, built here

/// An XLSX file with `rows` on its first sheet (every cell a string).
fn workbook(rows: &[Vec<String>]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, cell).expect("a cell within the sheet");
        }
    }
    book.save_to_buffer().expect("a workbook in memory")
}

// ---------------------------------------------------------------------------
// The decision table

const HEADER: &str =
    "TT\tTên CSDL\tCơ quan chủ quản CSDL\tThông tin mô tả\tCơ chế thu thập, cập nhật nguồn dữ liệu\tHạng mục dữ liệu\tGhi chú";

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn the_decision_table_parser_never_panics_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        name in prop_oneof![Just("c.txt"), Just("c.csv"), Just("c.xlsx"), Just("c.ods")],
    ) {
        if let Err(e) = parse_catalog(name, &bytes) {
            prop_assert!(!e.msg.en.is_empty() && !e.msg.vi.is_empty());
        }
    }

    #[test]
    fn the_decision_table_parser_never_panics_on_hostile_tables(
        title in proptest::option::of(hostile_cell()),
        rows in proptest::collection::vec(proptest::collection::vec(hostile_cell(), 0..9), 0..10),
        csv in any::<bool>(),
        repeat_header in any::<bool>(),
    ) {
        let (sep, name) = if csv { (",", "c.csv") } else { ("\t", "c.txt") };
        let mut text = String::new();
        if let Some(t) = title {
            text.push_str(&t);
            text.push('\n');
        }
        let header = if csv { HEADER.replace('\t', ",").replace("thập, cập", "thập cập") } else { HEADER.to_string() };
        text.push_str(&header);
        text.push('\n');
        for (i, row) in rows.iter().enumerate() {
            if repeat_header && i == rows.len() / 2 {
                text.push_str(&header);
                text.push('\n');
            }
            text.push_str(&row.join(sep));
            text.push('\n');
        }
        match parse_catalog(name, text.as_bytes()) {
            Ok(p) => {
                prop_assert!(!p.entries.is_empty());
                prop_assert_eq!(p.sha256.len(), 64);
            }
            Err(e) => prop_assert!(!e.msg.en.is_empty() && !e.msg.vi.is_empty()),
        }
    }

    /// Rows written as the decision prints them (tab-separated, or CSV)
    /// come back as entries with their numbers, names and owners.
    #[test]
    fn a_written_decision_table_reads_back_its_entries(
        rows in proptest::collection::vec(("[A-Za-zđĐươ ]{0,12}", "[A-Za-zđĐươ ]{1,12}"), 1..12),
        csv in any::<bool>(),
    ) {
        let rows: Vec<(String, String, String)> = rows
            .into_iter()
            .enumerate()
            .map(|(i, (name, owner))| (format!("{}", i + 1), format!("CSDL {} {}", i + 1, name.trim()), format!("Sở {}", owner.trim())))
            .collect();
        let mut text = String::from("DANH MỤC CƠ SỞ DỮ LIỆU\n");
        if csv {
            let mut out = Vec::new();
            let mut w = StringCsv::new(CsvOptions { bom: false, escape_formulas: false });
            w.record(&mut out, ["TT", "Tên CSDL", "Cơ quan chủ quản CSDL", "Hạng mục dữ liệu"]);
            for (no, name, owner) in &rows {
                w.record(&mut out, [no.as_str(), name.as_str(), owner.as_str(), "Dữ liệu mở"]);
            }
            text = String::from_utf8(out).expect("UTF-8");
        } else {
            text.push_str(HEADER);
            text.push('\n');
            for (no, name, owner) in &rows {
                text.push_str(&format!("{no}\t{name}\t{owner}\t\t\tDữ liệu mở\t\n"));
            }
        }
        let p = parse_catalog(if csv { "c.csv" } else { "c.txt" }, text.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(p.entries.len(), rows.len());
        for ((_, fields), (no, name, owner)) in p.entries.iter().zip(&rows) {
            prop_assert_eq!(fields.no.to_string(), no.clone());
            prop_assert_eq!(fields.name.split_whitespace().collect::<Vec<_>>(), name.split_whitespace().collect::<Vec<_>>());
            prop_assert_eq!(fields.owner_name.split_whitespace().collect::<Vec<_>>(), owner.split_whitespace().collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_decision_in_a_title_is_found_or_not_without_panicking(line in any::<String>()) {
        let _ = decision_in_title(&line);
    }

    #[test]
    fn a_decision_number_and_date_written_in_a_title_are_read_back(
        prefix in "[A-Za-zàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĐƯƠ ()]{0,20}",
        number in "[0-9]{1,4}/QĐ-UBND",
        date in (1990i32..2100, 1u32..=12, 1u32..=28),
    ) {
        let (y, m, d) = date;
        let line = format!("{prefix} Kèm theo Quyết định số {number} ngày {d}/{m}/{y} của UBND");
        let got = decision_in_title(&line);
        prop_assert_eq!(got, Some((number, chrono::NaiveDate::from_ymd_opt(y, m, d).expect("a date"))));
    }
}

// ---------------------------------------------------------------------------
// CSV and TSV

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn every_reader_survives_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        format in prop_oneof![
            Just(None), Just(Some(Format::Csv)), Just(Some(Format::Tsv)), Just(Some(Format::Json)),
            Just(Some(Format::Ndjson)), Just(Some(Format::Xlsx)),
        ],
        tight in any::<bool>(),
    ) {
        let limits = if tight { TIGHT } else { ReadLimits::default() };
        if let Err(e) = read_all(&bytes, "upload.bin", format, limits) {
            assert_typed(&e);
        }
    }

    /// Bytes that begin like a zip (XLSX, ODS) or an OLE file (XLS) and
    /// go on as garbage, under every name the readers route on.
    #[test]
    fn garbage_behind_a_workbook_signature_is_an_error(
        magic in prop_oneof![Just(&b"PK\x03\x04"[..]), Just(&b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"[..])],
        rest in proptest::collection::vec(any::<u8>(), 0..4096),
        name in prop_oneof![Just("x.xlsx"), Just("x.xls"), Just("x.ods"), Just("x.bin")],
    ) {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&rest);
        if let Err(e) = read_all(&bytes, name, None, ReadLimits::default()) {
            assert_typed(&e);
        }
        if let Err(e) = parse_catalog(name, &bytes) {
            prop_assert!(!e.msg.en.is_empty());
        }
    }

    #[test]
    fn the_csv_reader_survives_odd_quoting_boms_and_ragged_rows(bytes in hostile_csv(), tight in any::<bool>()) {
        let limits = if tight { TIGHT } else { ReadLimits::default() };
        match read_all(&bytes, "upload.csv", None, limits) {
            Ok(recs) => {
                for r in recs.iter().flatten() {
                    if let Cells::Text(cells) = &r.cells {
                        prop_assert!(cells.len() <= limits.max_columns);
                        prop_assert!(r.line >= 1);
                    }
                }
            }
            Err(e) => assert_typed(&e),
        }
    }

    /// What the CSV writer wrote, the reader reads back cell for cell
    /// (headers trimmed, as the reader does; no blank rows).
    #[test]
    fn csv_written_then_read_is_equal(
        header in proptest::collection::vec(header_cell(), 1..6),
        rows in proptest::collection::vec(proptest::collection::vec(roundtrip_cell(), 6), 0..20),
        bom in any::<bool>(),
    ) {
        let width = header.len();
        let rows: Vec<Vec<String>> = rows.into_iter().map(|r| r[..width].to_vec()).collect();
        let mut out = Vec::new();
        let mut w = StringCsv::new(CsvOptions { bom, escape_formulas: false });
        w.record(&mut out, &header);
        for r in &rows {
            w.record(&mut out, r);
        }
        let recs = read_all(&out, "x.csv", None, ReadLimits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let reader = RecordReader::open(Box::new(Cursor::new(out.clone())), Some("x.csv"), None, &ReadOptions::default()).expect("opens");
        prop_assert_eq!(reader.headers().map(<[String]>::to_vec), Some(header.clone()));
        prop_assert_eq!(texts(&recs), rows);
    }

    /// Each record is numbered with the line it starts on, as an editor
    /// numbers it, whatever the line endings (LF, CRLF, mixed), blank lines,
    /// quoted line breaks and the reader's buffer boundaries (long cells).
    #[test]
    fn csv_records_are_numbered_by_the_line_they_start_on(
        rows in proptest::collection::vec((
            prop_oneof![
                "[a-z]{1,6}".prop_map(|s| s),
                "[a-z]{1,3}".prop_map(|s| format!("\"{s}\n{s}\"")),
                "[a-z]{1,3}".prop_map(|s| format!("\"{s}\r\n{s}\r\n\"")),
                (1000usize..9000).prop_map(|n| "x".repeat(n)),
            ],
            "[a-z]{1,4}",
            prop_oneof![Just("\n"), Just("\r\n")],
            0usize..3,
        ), 1..40),
    ) {
        let mut text = String::from("h1,h2\r\n");
        let mut line = 2u64;
        let mut expected = Vec::new();
        for (a, b, end, blanks) in &rows {
            for _ in 0..*blanks {
                text.push_str(end);
                line += 1;
            }
            expected.push(line);
            let record = format!("{a},{b}{end}");
            line += record.matches('\n').count() as u64;
            text.push_str(&record);
        }
        let recs = read_all(text.as_bytes(), "x.csv", None, ReadLimits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let lines: Vec<u64> = recs.iter().map(|r| r.as_ref().expect("a record").line).collect();
        prop_assert_eq!(lines, expected);
    }

    /// A field of `len` bytes on one line passes a line bound of `max`
    /// exactly when it fits.
    #[test]
    fn a_huge_field_is_refused_exactly_when_its_line_is_over_the_bound(len in 1usize..5000, max in 16usize..4000) {
        let mut data = b"a\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', len));
        data.push(b'\n');
        let limits = ReadLimits { max_line_bytes: max, max_record_bytes: usize::MAX, ..ReadLimits::default() };
        let recs = read_all(&data, "x.csv", None, limits).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if len <= max {
            prop_assert_eq!(texts(&recs), vec![vec!["x".repeat(len)]]);
        } else {
            prop_assert!(recs.iter().any(Result::is_err), "a {len}-byte line passed a {max}-byte bound");
        }
    }
}

// ---------------------------------------------------------------------------
// JSON and NDJSON

proptest! {
    #![proptest_config(config(CASES))]

    /// An array of objects written by serde_json reads back object for
    /// object, with their numbers; so does NDJSON.
    #[test]
    fn json_and_ndjson_written_then_read_are_equal(objs in proptest::collection::vec(json_object(), 0..8), pretty in any::<bool>()) {
        let array = if pretty { serde_json::to_vec_pretty(&objs) } else { serde_json::to_vec(&objs) }.expect("serialises");
        let mut lines = Vec::new();
        for o in &objs {
            serde_json::to_writer(&mut lines, o).expect("serialises");
            lines.push(b'\n');
        }
        for (bytes, name) in [(array, "x.json"), (lines, "x.ndjson")] {
            let recs = read_all(&bytes, name, None, ReadLimits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got: Vec<_> = recs
                .into_iter()
                .map(|r| match r {
                    Ok(SourceRecord { cells: Cells::Json(o), .. }) => Ok(o),
                    other => Err(format!("{other:?}")),
                })
                .collect::<Result<_, _>>()
                .map_err(TestCaseError::fail)?;
            prop_assert_eq!(&got, &objs, "{}", name);
        }
    }

    /// Nesting thousands deep, closed or not, in an array element or an
    /// NDJSON line: an error, never a stack overflow or a panic.
    #[test]
    fn deeply_nested_json_is_an_error_not_a_crash(
        depth in 1usize..20_000,
        open in prop_oneof![Just("["), Just("{\"a\":")],
        closed in any::<bool>(),
        ndjson in any::<bool>(),
    ) {
        let close = if open == "[" { "]" } else { "}" };
        let mut inner = open.repeat(depth);
        inner.push('1');
        if closed {
            inner.push_str(&close.repeat(depth));
        }
        let text = if ndjson { format!("{{\"x\":{inner}}}\n") } else { format!("[{{\"x\":{inner}}}]") };
        let name = if ndjson { "x.ndjson" } else { "x.json" };
        let limits = ReadLimits { max_record_bytes: 1 << 20, max_line_bytes: 1 << 20, ..ReadLimits::default() };
        let recs = read_all(text.as_bytes(), name, None, limits).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if !closed {
            prop_assert!(recs.iter().any(Result::is_err));
        }
    }

    #[test]
    fn json_with_hostile_structure_never_panics(
        parts in proptest::collection::vec(prop_oneof![
            Just("["), Just("]"), Just("{"), Just("}"), Just(","), Just(":"), Just("\""), Just("\\"), Just("\\\""),
            Just("\"a\""), Just("1"), Just("-"), Just("1e999"), Just("null"), Just(" "), Just("\n"), Just("\u{feff}"),
            Just("\\ud800"), Just("đ"),
        ], 0..60),
        ndjson in any::<bool>(),
        tight in any::<bool>(),
    ) {
        let text = parts.concat();
        let limits = if tight { TIGHT } else { ReadLimits::default() };
        if let Err(e) = read_all(text.as_bytes(), if ndjson { "x.ndjson" } else { "x.json" }, None, limits) {
            assert_typed(&e);
        }
    }
}

// ---------------------------------------------------------------------------
// XLSX

proptest! {
    // Each case writes and reads a workbook: fewer cases, same coverage.
    #![proptest_config(config(CASES / 4))]

    /// Text cells written into a workbook read back as written (blank rows
    /// skipped, trailing blank cells dropped, as the reader documents).
    /// Rows are as wide as one another, as a table's are: a first row
    /// narrower than the rows below is a title, not the header
    /// (crate::layout).
    #[test]
    fn xlsx_written_then_read_is_equal(
        rows in (1..5usize).prop_flat_map(|w| proptest::collection::vec(proptest::collection::vec("[a-zA-Z0-9 đĐươ,;\"'\n]{0,8}[a-z]", w..=w), 1..8)),
    ) {
        let bytes = workbook(&rows);
        let recs = read_all(&bytes, "x.xlsx", None, ReadLimits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let reader = RecordReader::open(Box::new(Cursor::new(bytes)), Some("x.xlsx"), None, &ReadOptions::default()).expect("opens");
        // Headers are read trimmed (they are matched to fields).
        prop_assert_eq!(reader.headers().map(<[String]>::to_vec), Some(rows[0].iter().map(|h| h.trim().to_string()).collect::<Vec<_>>()));
        prop_assert_eq!(texts(&recs), rows[1..].to_vec());
    }

    /// A real workbook cut short or with bytes overwritten: an error or
    /// some rows, never a panic. The decision-table parser reads the same
    /// bytes.
    #[test]
    fn a_truncated_or_garbled_workbook_is_an_error_not_a_crash(
        cut in 0.0f64..1.0,
        flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..6),
    ) {
        let mut bytes = workbook(&[
            vec!["TT".into(), "Tên CSDL".into(), "Cơ quan chủ quản CSDL".into(), "Hạng mục dữ liệu".into()],
            vec!["1".into(), "CSDL A".into(), "Sở X".into(), "Dữ liệu mở".into()],
        ]);
        for (at, b) in flips {
            let i = ((bytes.len() - 1) as f64 * at) as usize;
            bytes[i] = b;
        }
        if cut < 0.5 {
            bytes.truncate((bytes.len() as f64 * cut * 2.0) as usize);
        }
        if let Err(e) = read_all(&bytes, "x.xlsx", None, ReadLimits::default()) {
            assert_typed(&e);
        }
        if let Err(e) = parse_catalog("c.xlsx", &bytes) {
            prop_assert!(!e.msg.en.is_empty());
        }
    }

    /// A zip whose entries carry a workbook's names but garbage (or
    /// hostile XML) inside.
    #[test]
    fn a_zip_of_garbage_named_like_a_workbook_is_an_error(
        sheet in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..400).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            (0u32..2_000_000, 0u32..20_000).prop_map(|(r, c)| sheet_xml(&[(0, 0, "a"), (r, c, "b")])),
        ],
        workbook_xml in prop_oneof![Just(WORKBOOK_XML.to_string()), "[<>a-z/=\" ]{0,80}"],
    ) {
        let bytes = zip_of(&[
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", RELS),
            ("xl/workbook.xml", &workbook_xml),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
            ("xl/worksheets/sheet1.xml", &sheet),
        ]);
        let limits = ReadLimits { max_xlsx_bytes: 1 << 20, ..ReadLimits::default() };
        if let Err(e) = read_all(&bytes, "x.xlsx", None, limits) {
            assert_typed(&e);
        }
        if let Err(e) = parse_catalog("c.xlsx", &bytes) {
            prop_assert!(!e.msg.en.is_empty());
        }
    }
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

/// A1-style reference of a zero-based cell.
fn cell_ref(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut c = col + 1;
    while c > 0 {
        letters.push(b'A' + ((c - 1) % 26) as u8);
        c = (c - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8(letters).expect("ASCII"), row + 1)
}

/// A worksheet with inline-string cells at the given places.
fn sheet_xml(cells: &[(u32, u32, &str)]) -> String {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, c, v) in cells {
        xml.push_str(&format!(r#"<row r="{}"><c r="{}" t="inlineStr"><is><t>{v}</t></is></c></row>"#, r + 1, cell_ref(*r, *c)));
    }
    xml.push_str("</sheetData></worksheet>");
    xml
}

/// A zip archive (stored, not compressed) of the given entries, written
/// by hand so that the test needs no zip library.
fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let (name, data) = (name.as_bytes(), data.as_bytes());
        let crc = crc32(data);
        let offset = out.len() as u32;
        let local = |v: &mut Vec<u8>, sig: u32| {
            v.extend_from_slice(&sig.to_le_bytes());
        };
        local(&mut out, 0x0403_4b50);
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method (stored), time, date
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(data);
        local(&mut central, 0x0201_4b50);
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // made by, needed, flags, method, time, date
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]); // extra, comment, disk, internal attrs, external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let (cd_offset, cd_len) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The hand-written zip is a workbook calamine reads (so that the garbage
/// properties above test garbage, not a broken archive).
#[test]
fn the_hand_written_workbook_is_read() {
    let bytes = zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", RELS),
        ("xl/workbook.xml", WORKBOOK_XML),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        ("xl/worksheets/sheet1.xml", &sheet_xml(&[(0, 0, "ma"), (1, 0, "A1"), (2, 1, "B")])),
    ]);
    let recs = read_all(&bytes, "x.xlsx", None, ReadLimits::default()).expect("opens");
    assert_eq!(texts(&recs), vec![vec!["A1".to_string()], vec![String::new(), "B".to_string()]]);
}
