//! The decision-table catalog format: the seven-column table a province
//! publishes with its decision on the catalog of shared databases, as text
//! exported from Word (tab-separated, title lines, the header row repeated on
//! every printed page), as CSV, or as an Excel sheet.
//!
//! Parsing keeps every cell verbatim and derives the structured fields with
//! `chiase_core::catalog::derive_entry`. A malformed file is an error naming
//! its line (or sheet row) and column; nothing partial is ever returned.

use std::io::Cursor;

use calamine::{Reader, open_workbook_auto_from_rs};
use chiase_core::Msg;
use chiase_core::catalog::{CatalogRow, EntryFields, derive_entry};
use chiase_core::fold::{fold, match_key};
use sha2::{Digest, Sha256};

use crate::encoding::decode_all;
use crate::limits::{MAX_CAUSE_CHARS, MAX_TITLE_CHARS, MAX_VALUE_CHARS, clip};

/// The catalog of Decision 641/QĐ-UBND (Tuyên Quang, 06/6/2022), compiled
/// into the binary and loaded on the first start of an empty installation.
pub const BUILTIN_641: &str = include_str!("../catalogs/641-QD-UBND-2022-tuyen-quang.txt");

/// The decision number of [`BUILTIN_641`].
pub const BUILTIN_641_DECISION: &str = "641/QĐ-UBND";
/// The decision date of [`BUILTIN_641`].
pub const BUILTIN_641_DATE: (i32, u32, u32) = (2022, 6, 6);

/// The file formats a catalog may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogFormat {
    /// Tab-separated text exported from the decision's Word table.
    Text,
    Csv,
    Xlsx,
}

impl CatalogFormat {
    /// Chooses the format from a file name, then from the first bytes.
    pub fn detect(file_name: &str, head: &[u8]) -> CatalogFormat {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".xlsx")
            || lower.ends_with(".xls")
            || lower.ends_with(".ods")
            || head.starts_with(b"PK\x03\x04")
            || head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
        {
            CatalogFormat::Xlsx
        } else if lower.ends_with(".csv") {
            CatalogFormat::Csv
        } else {
            CatalogFormat::Text
        }
    }
}

/// The seven columns of a decision table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    No,
    Name,
    Owner,
    Description,
    Mechanism,
    Category,
    Notes,
}

impl Column {
    const ALL: [Column; 7] =
        [Column::No, Column::Name, Column::Owner, Column::Description, Column::Mechanism, Column::Category, Column::Notes];

    /// The header as the decision prints it.
    pub fn header(self) -> &'static str {
        match self {
            Column::No => "TT",
            Column::Name => "Tên CSDL",
            Column::Owner => "Cơ quan chủ quản CSDL",
            Column::Description => "Thông tin mô tả",
            Column::Mechanism => "Cơ chế thu thập, cập nhật nguồn dữ liệu",
            Column::Category => "Hạng mục dữ liệu",
            Column::Notes => "Ghi chú",
        }
    }

    /// Header spellings accepted for the column (compared folded, without spaces).
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::No => &["tt", "stt", "so thu tu", "so tt"],
            Column::Name => &["ten csdl", "ten co so du lieu", "ten"],
            Column::Owner => {
                &["co quan chu quan csdl", "co quan chu quan", "co quan chu quan co so du lieu", "don vi chu quan", "co quan quan ly"]
            }
            Column::Description => &["thong tin mo ta", "mo ta", "thong tin mo ta csdl"],
            Column::Mechanism => {
                &["co che thu thap, cap nhat nguon du lieu", "co che thu thap cap nhat", "co che thu thap, cap nhat", "co che cap nhat"]
            }
            Column::Category => &["hang muc du lieu", "hinh thuc chia se", "hang muc chia se"],
            Column::Notes => &["ghi chu"],
        }
    }

    fn required(self) -> bool {
        matches!(self, Column::No | Column::Name | Column::Owner | Column::Category)
    }

    fn from_header(cell: &str) -> Option<Column> {
        let key: String = match_key(cell).chars().filter(|c| !c.is_whitespace()).collect();
        if key.is_empty() {
            return None;
        }
        Column::ALL.into_iter().find(|c| c.aliases().iter().any(|a| a.chars().filter(|c| c.is_alphanumeric()).collect::<String>() == key))
    }
}

/// A catalog read from a file, every row derived.
#[derive(Debug, Clone)]
pub struct ParsedCatalog {
    /// Lines above the first header: the catalog's title, verbatim.
    pub title_lines: Vec<String>,
    /// The decision the title names ("Kèm theo Quyết định số … ngày …").
    pub decision_hint: Option<(String, chrono::NaiveDate)>,
    pub entries: Vec<(CatalogRow, EntryFields)>,
    /// Things a steward should know that do not stop the import.
    pub warnings: Vec<Msg>,
    /// SHA-256 of the file's bytes, kept with the version as its fingerprint.
    pub sha256: String,
}

/// A problem that stops the import: where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {msg}", column.map(|c| format!(", column «{c}»")).unwrap_or_default())]
pub struct CatalogError {
    /// Line of the file, or row of the sheet (1-based).
    pub line: usize,
    pub column: Option<&'static str>,
    pub msg: Msg,
}

fn err(line: usize, column: Option<&'static str>, vi: impl Into<String>, en: impl Into<String>) -> CatalogError {
    CatalogError { line, column, msg: Msg::new(vi, en) }
}

/// Reads a catalog file of any supported format.
pub fn parse_catalog(file_name: &str, bytes: &[u8]) -> Result<ParsedCatalog, CatalogError> {
    let records = match CatalogFormat::detect(file_name, bytes) {
        CatalogFormat::Text => text_records(bytes)?,
        CatalogFormat::Csv => csv_records(bytes)?,
        CatalogFormat::Xlsx => xlsx_records(bytes)?,
    };
    let mut parsed = table_from_records(records)?;
    parsed.sha256 = hex(&Sha256::digest(bytes));
    Ok(parsed)
}

/// Lower-case hexadecimal of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

type Record = (usize, Vec<String>);

fn decode(bytes: &[u8]) -> Result<String, CatalogError> {
    decode_all(bytes, None).map_err(|e| {
        err(
            e.line,
            None,
            format!("tệp không phải văn bản {} hợp lệ; hãy lưu lại dưới dạng UTF-8", e.encoding),
            format!("the file is not valid {} text; save it as UTF-8", e.encoding),
        )
    })
}

fn text_records(bytes: &[u8]) -> Result<Vec<Record>, CatalogError> {
    let text = decode(bytes)?;
    Ok(text
        .split('\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_end_matches('\r').split('\t').map(str::to_string).collect()))
        .collect())
}

fn csv_records(bytes: &[u8]) -> Result<Vec<Record>, CatalogError> {
    let text = decode(bytes)?;
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let delimiter = [b',', b';', b'\t'].into_iter().max_by_key(|d| first_line.matches(*d as char).count()).unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            let e = clip(&e.to_string(), MAX_CAUSE_CHARS).into_owned();
            err(line, None, format!("CSV không hợp lệ: {e}"), format!("malformed CSV: {e}"))
        })?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        out.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok(out)
}

fn xlsx_records(bytes: &[u8]) -> Result<Vec<Record>, CatalogError> {
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
        let e = clip(&e.to_string(), MAX_CAUSE_CHARS).into_owned();
        err(0, None, format!("không đọc được tệp bảng tính: {e}"), format!("cannot read the spreadsheet: {e}"))
    })?;
    let names = book.sheet_names().to_vec();
    let mut first_error = None;
    for name in names {
        let range = match crate::tabular::sheet_range(&mut book, &name) {
            Ok(r) => r,
            Err((vi, en)) => {
                first_error.get_or_insert_with(|| err(0, None, vi, en));
                continue;
            }
        };
        let start_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
        let records: Vec<Record> =
            range.rows().enumerate().map(|(i, row)| (start_row + i + 1, row.iter().map(crate::tabular::xlsx_cell).collect())).collect();
        // The catalog is on the first sheet that has its header row.
        if records.iter().any(|(_, cells)| header_map(cells).is_some()) {
            return Ok(records);
        }
    }
    Err(first_error.unwrap_or_else(|| {
        err(1, None, "không tìm thấy dòng tiêu đề của bảng danh mục trong tệp", "no catalog header row found in the workbook")
    }))
}

/// Maps cell positions to columns when `cells` is a header row.
fn header_map(cells: &[String]) -> Option<Vec<Option<Column>>> {
    let map: Vec<Option<Column>> = cells.iter().map(|c| Column::from_header(c)).collect();
    let found = |col| map.contains(&Some(col));
    (found(Column::No) && found(Column::Name) && map.iter().flatten().count() >= 3).then_some(map)
}

fn is_blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

/// The state machine shared by every format: title lines, header, rows,
/// repeated headers, continuation rows, footer.
fn table_from_records(records: Vec<Record>) -> Result<ParsedCatalog, CatalogError> {
    let mut title_lines = Vec::new();
    let mut columns: Option<Vec<Option<Column>>> = None;
    let mut rows: Vec<CatalogRow> = Vec::new();
    let mut loose: Option<(usize, String)> = None;
    let mut warnings = Vec::new();

    for (line, cells) in records {
        if is_blank(&cells) {
            continue;
        }
        let Some(map) = &columns else {
            if let Some(map) = header_map(&cells) {
                for (i, col) in map.iter().enumerate() {
                    if col.is_none() && !cells[i].trim().is_empty() {
                        let shown = clip(cells[i].trim(), MAX_TITLE_CHARS);
                        warnings.push(Msg::new(
                            format!("dòng {line}: bỏ qua cột không nhận ra «{shown}»"),
                            format!("line {line}: ignored unrecognised column «{shown}»"),
                        ));
                    }
                }
                if let Some(missing) = Column::ALL.into_iter().find(|c| c.required() && !map.contains(&Some(*c))) {
                    return Err(err(
                        line,
                        Some(missing.header()),
                        format!("dòng tiêu đề thiếu cột «{}»", missing.header()),
                        format!("the header row has no «{}» column", missing.header()),
                    ));
                }
                columns = Some(map);
            } else if cells.iter().filter(|c| !c.trim().is_empty()).count() == 1 {
                title_lines.push(cells.iter().map(|c| c.trim()).collect::<Vec<_>>().join(" ").trim().to_string());
            } else {
                return Err(err(
                    line,
                    None,
                    "gặp dữ liệu trước dòng tiêu đề (TT, Tên CSDL, Cơ quan chủ quản CSDL, …)",
                    "data found before the header row (TT, Tên CSDL, Cơ quan chủ quản CSDL, …)",
                ));
            }
            continue;
        };
        if header_map(&cells).is_some() {
            continue; // the header repeated at the top of a printed page
        }
        if let Some((at, _)) = loose.take() {
            return Err(err(
                at,
                None,
                format!("dòng không có đủ {} cột phân cách bằng dấu tab, có thể một ô bị xuống dòng", map.len()),
                format!("line is not a row of {} tab-separated cells; a cell may contain a line break", map.len()),
            ));
        }
        let filled = cells.iter().filter(|c| !c.trim().is_empty()).count();
        if cells.len() == 1 && filled == 1 {
            // A line of text without cells: a footer if nothing follows.
            loose = Some((line, cells[0].clone()));
            continue;
        }
        if cells.len() > map.len() && cells[map.len()..].iter().any(|c| !c.trim().is_empty()) {
            return Err(err(
                line,
                None,
                format!("dòng có {} ô, bảng chỉ có {} cột", cells.len(), map.len()),
                format!("the row has {} cells but the table has {} columns", cells.len(), map.len()),
            ));
        }
        let mut row = CatalogRow { line, ..Default::default() };
        for (i, col) in map.iter().enumerate() {
            let Some(col) = col else { continue };
            let value = cells.get(i).cloned().unwrap_or_default();
            *cell_mut(&mut row, *col) = value;
        }
        if row.no.trim().is_empty() {
            // A row without a number continues the previous one (a cell
            // that spans several lines in the exported table).
            let Some(prev) = rows.last_mut() else {
                return Err(err(line, Some("TT"), "dòng đầu tiên của bảng thiếu số thứ tự", "the table's first row has no number"));
            };
            for col in Column::ALL.into_iter().filter(|c| *c != Column::No) {
                let add = cell_mut(&mut row, col).clone();
                if !add.trim().is_empty() {
                    let target = cell_mut(prev, col);
                    if !target.is_empty() {
                        target.push('\n');
                    }
                    target.push_str(&add);
                }
            }
            continue;
        }
        rows.push(row);
    }
    if columns.is_none() {
        return Err(err(
            1,
            None,
            "không tìm thấy dòng tiêu đề (TT, Tên CSDL, Cơ quan chủ quản CSDL, …)",
            "no header row found (TT, Tên CSDL, Cơ quan chủ quản CSDL, …)",
        ));
    }
    if rows.is_empty() {
        return Err(err(1, None, "bảng danh mục không có dòng dữ liệu nào", "the catalog table has no rows"));
    }
    let mut entries: Vec<(CatalogRow, EntryFields)> = Vec::with_capacity(rows.len());
    for row in rows {
        let fields = derive_entry(&row).map_err(|e| CatalogError {
            line: row.line,
            column: Some(e.column),
            msg: Msg::new(e.message_vi, e.message_en),
        })?;
        if let Some((earlier, _)) = entries.iter().find(|(_, f)| f.no == fields.no) {
            return Err(err(
                row.line,
                Some("TT"),
                format!("số thứ tự {} trùng với dòng {}", fields.no, earlier.line),
                format!("number {} repeats line {}", fields.no, earlier.line),
            ));
        }
        if let Some((earlier, _)) = entries.iter().find(|(_, f)| f.name_key() == fields.name_key()) {
            return Err(err(
                row.line,
                Some("Tên CSDL"),
                format!("tên «{}» trùng với dòng {}", clip(&fields.name, MAX_VALUE_CHARS), earlier.line),
                format!("the name «{}» repeats line {}", clip(&fields.name, MAX_VALUE_CHARS), earlier.line),
            ));
        }
        if fields.sharing.modes.is_empty() {
            warnings.push(Msg::new(
                format!("dòng {}: không xác định được hình thức chia sẻ từ «{}»", row.line, clip(&fields.category, MAX_VALUE_CHARS)),
                format!("line {}: no sharing mode could be read from «{}»", row.line, clip(&fields.category, MAX_VALUE_CHARS)),
            ));
        }
        entries.push((row, fields));
    }
    let decision_hint = title_lines.iter().find_map(|l| decision_in_title(l));
    Ok(ParsedCatalog { title_lines, decision_hint, entries, warnings, sha256: String::new() })
}

fn cell_mut(row: &mut CatalogRow, col: Column) -> &mut String {
    match col {
        Column::No => &mut row.no,
        Column::Name => &mut row.name,
        Column::Owner => &mut row.owner,
        Column::Description => &mut row.description,
        Column::Mechanism => &mut row.mechanism,
        Column::Category => &mut row.category,
        Column::Notes => &mut row.notes,
    }
}

/// Finds "Quyết định số 641/QĐ-UBND ngày 06/6/2022" in a title line.
pub fn decision_in_title(line: &str) -> Option<(String, chrono::NaiveDate)> {
    let folded = fold(line);
    let start = folded.find("quyet dinh so ")? + "quyet dinh so ".len();
    // Folding keeps one folded char per original char for Vietnamese letters
    // in NFC, so positions are found in the folded text and read from the
    // original by char index.
    let chars: Vec<char> = chiase_core::fold::nfc(line).chars().collect();
    let folded_chars: Vec<char> = folded.chars().collect();
    if folded_chars.len() != chars.len() {
        return None;
    }
    let start = folded[..start].chars().count();
    let number: String = chars[start..].iter().take_while(|c| !c.is_whitespace()).collect();
    let rest: String = folded_chars[start + number.chars().count()..].iter().collect();
    let date_text = rest.trim_start().strip_prefix("ngay ")?;
    let date_token: String = date_text.chars().take_while(|c| c.is_ascii_digit() || *c == '/').collect();
    let mut parts = date_token.split('/');
    let (d, m, y) = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    let date = chrono::NaiveDate::from_ymd_opt(y, m, d)?;
    Some((number, date))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "TT\tTên CSDL\tCơ quan chủ quản CSDL\tThông tin mô tả\tCơ chế thu thập, cập nhật nguồn dữ liệu\tHạng mục dữ liệu\tGhi chú";

    #[test]
    fn the_title_names_the_decision() {
        let (no, date) =
            decision_in_title("(Kèm theo Quyết định số 641/QĐ-UBND ngày 06/6/2022 của Ủy ban nhân dân tỉnh Tuyên Quang)").unwrap();
        assert_eq!(no, "641/QĐ-UBND");
        assert_eq!(date, chrono::NaiveDate::from_ymd_opt(2022, 6, 6).unwrap());
    }

    #[test]
    fn repeated_headers_and_blank_lines_are_skipped() {
        let text = format!(
            "DANH MỤC\n\n{HEADER}\n1\tCSDL A\tSở Nội vụ\tMô tả\tCập nhật hằng năm\tDữ liệu mở\t\n\n{HEADER}\n2\tCSDL B\tSở Tư pháp\t\t\tChia sẻ mặc định\t\n"
        );
        let p = parse_catalog("x.txt", text.as_bytes()).unwrap();
        assert_eq!(p.title_lines, vec!["DANH MỤC"]);
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[1].1.owner_name, "Sở Tư pháp");
    }

    #[test]
    fn a_row_with_too_many_cells_names_its_line() {
        let text = format!("{HEADER}\n1\tA\tB\tC\tD\tDữ liệu mở\t\textra\n");
        let e = parse_catalog("x.txt", text.as_bytes()).unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn a_bad_number_names_line_and_column() {
        let text = format!("{HEADER}\n1\tA\tSở X\t\t\tDữ liệu mở\t\nhai\tB\tSở Y\t\t\tDữ liệu mở\t\n");
        let e = parse_catalog("x.txt", text.as_bytes()).unwrap_err();
        assert_eq!((e.line, e.column), (3, Some("TT")));
    }

    #[test]
    fn a_broken_line_inside_the_table_is_an_error() {
        let text = format!("{HEADER}\n1\tA\tSở X\tMô tả bị\nxuống dòng\t\tDữ liệu mở\t\n");
        assert!(parse_catalog("x.txt", text.as_bytes()).is_err());
    }

    #[test]
    fn csv_headers_match_ignoring_case_spacing_and_diacritics_in_any_order() {
        let csv = "hang muc du lieu;TEN CSDL;stt;co quan  chu quan csdl\nDữ liệu mở;CSDL Du lịch;1;Sở Văn hoá\n";
        let p = parse_catalog("catalog.csv", csv.as_bytes()).unwrap();
        assert_eq!(p.entries[0].1.name, "CSDL Du lịch");
        assert_eq!(p.entries[0].1.sharing.modes, vec![chiase_core::sharing::SharingMode::Open]);
    }

    #[test]
    fn a_missing_required_column_is_named() {
        let csv = "TT,Tên CSDL,Hạng mục dữ liệu\n1,A,Dữ liệu mở\n";
        let e = parse_catalog("c.csv", csv.as_bytes()).unwrap_err();
        assert_eq!(e.column, Some("Cơ quan chủ quản CSDL"));
    }

    #[test]
    fn duplicate_numbers_are_refused() {
        let text = format!("{HEADER}\n1\tA\tSở X\t\t\tDữ liệu mở\t\n1\tB\tSở Y\t\t\tDữ liệu mở\t\n");
        let e = parse_catalog("x.txt", text.as_bytes()).unwrap_err();
        assert_eq!((e.line, e.column), (3, Some("TT")));
    }

    /// Found by `tests/fuzz_parsers.rs`: a catalog workbook with a stray
    /// cell at the far corner of the sheet aborted the process (calamine
    /// laid out 17 billion cells); it is now an error naming the sheet.
    #[test]
    fn a_catalog_sheet_with_a_stray_far_cell_is_an_error_not_an_abort() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in ["TT", "Tên CSDL", "Cơ quan chủ quản CSDL", "Hạng mục dữ liệu"].iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        sheet.write_string(1_048_575, 16_383, "x").unwrap();
        let e = parse_catalog("c.xlsx", &book.save_to_buffer().unwrap()).unwrap_err();
        assert!(e.msg.en.starts_with("sheet «Sheet1» spans"), "{}", e.msg.en);
    }
}
