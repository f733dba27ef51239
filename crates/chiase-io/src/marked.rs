//! The uploaded rows back as a workbook, the bad cells highlighted with a
//! note each, so that an officer fixes the file in Excel and uploads it
//! again (`report=xlsx`, `chiase import --check --report FILE`).
//!
//! Rows keep the line numbers they had (row 9 of the upload is row 9
//! here); the header sits on its own line, the two lines of a two-row
//! header joined; title blocks, totals and signature rows are not copied.
//! A second sheet lists every problem and what the reader left out. The
//! data sheet is written in constant memory, row by row, as staging reads
//! the file.

use std::path::Path;

use rust_xlsxwriter::{Color, Format, Note, Workbook, Worksheet, XlsxError};

use crate::layout;
use crate::writers::{WriteError, excel_text, header_format, werr, xlsx_error};

/// Excel's last row, 1-based: lines past it are counted, not copied.
const LAST_ROW: u64 = 1_048_576;

/// Notes attached at most (each is kept in memory until the file is
/// saved); further bad cells are highlighted without one.
pub const MAX_NOTES: usize = 10_000;

/// A problem in a cell, for the summary sheet.
#[derive(Debug, Clone)]
pub struct Mark {
    pub line: u64,
    /// The column's index in the file (0 is A).
    pub column: usize,
    pub header: String,
    pub value: String,
    pub message: String,
    pub message_en: String,
}

/// The marked copy being written.
pub struct MarkedCopy {
    book: Workbook,
    sheet: Worksheet,
    bad: Format,
    notes: usize,
    marks: Vec<Mark>,
    total_marks: u64,
    /// Lines past Excel's last row.
    beyond: u64,
    last_line: u64,
    header_line: Option<u64>,
}

fn x(e: XlsxError) -> WriteError {
    xlsx_error(&e)
}

impl MarkedCopy {
    /// A copy whose data sheet is named `sheet` (the uploaded sheet's name,
    /// or the file's); rows go to a temporary file in `tempdir`.
    pub fn new(sheet: &str, tempdir: Option<&Path>) -> Result<MarkedCopy, WriteError> {
        let mut book = Workbook::new();
        if let Some(dir) = tempdir {
            book.set_tempdir(dir).map_err(x)?;
        }
        let mut ws = book.new_worksheet_with_constant_memory().map_err(x)?;
        ws.set_name(crate::writers::xlsx_sheet_name(sheet)).map_err(x)?;
        let bad = Format::new().set_background_color(Color::RGB(0xFFC7CE)).set_font_color(Color::RGB(0x9C0006));
        Ok(MarkedCopy { book, sheet: ws, bad, notes: 0, marks: Vec::new(), total_marks: 0, beyond: 0, last_line: 0, header_line: None })
    }

    /// Writes the header on its line, and freezes the rows above it.
    pub fn header(&mut self, line: u64, titles: &[String]) -> Result<(), WriteError> {
        let row = (line.clamp(1, LAST_ROW) - 1) as u32;
        let fmt = header_format();
        for (c, t) in titles.iter().enumerate() {
            self.sheet.set_column_width(c as u16, (t.chars().count() as f64 + 2.0).clamp(10.0, 40.0)).map_err(x)?;
            self.sheet.write_string_with_format(row, c as u16, excel_text(t).0, &fmt).map_err(x)?;
        }
        self.sheet.set_freeze_panes(row + 1, 0).map_err(x)?;
        self.last_line = line;
        self.header_line = Some(line);
        Ok(())
    }

    /// Writes one row of the upload on its line; `problems` are the bad
    /// cells (column index, header, message in Vietnamese, in English).
    pub fn row(&mut self, line: u64, cells: &[String], problems: &[(usize, String, String, String)]) -> Result<(), WriteError> {
        for (column, header, vi, en) in problems {
            self.total_marks += 1;
            if self.marks.len() < MAX_NOTES {
                let value = cells.get(*column).cloned().unwrap_or_default();
                let message_en = en.clone();
                self.marks.push(Mark { line, column: *column, header: header.clone(), value, message: vi.clone(), message_en });
            }
        }
        if line > LAST_ROW || line <= self.last_line {
            // Past Excel's rows, or out of order (a reader's bug): counted only.
            self.beyond += 1;
            return Ok(());
        }
        self.last_line = line;
        let row = (line - 1) as u32;
        let width = cells.len().max(problems.iter().map(|p| p.0 + 1).max().unwrap_or(0));
        for c in 0..width {
            let text = cells.get(c).map(String::as_str).unwrap_or("");
            let here: Vec<&(usize, String, String, String)> = problems.iter().filter(|p| p.0 == c).collect();
            if here.is_empty() {
                if !text.is_empty() {
                    self.sheet.write_string(row, c as u16, excel_text(text).0).map_err(x)?;
                }
                continue;
            }
            self.sheet.write_string_with_format(row, c as u16, excel_text(text).0, &self.bad).map_err(x)?;
            if self.notes < MAX_NOTES {
                self.notes += 1;
                let said: Vec<String> = here.iter().map(|(_, _, vi, en)| format!("{vi}\n({en})")).collect();
                let note = Note::new(said.join("\n")).set_author("chiase").set_width(360).set_height(120);
                self.sheet.insert_note(row, c as u16, &note).map_err(x)?;
            }
        }
        Ok(())
    }

    /// Bad cells marked so far.
    pub fn marks(&self) -> u64 {
        self.total_marks
    }

    /// Adds the summary sheet (every problem, then what the reader left
    /// out) and saves the workbook at `path`.
    pub fn finish(mut self, path: &Path, notes: &[layout::Note]) -> Result<(), WriteError> {
        let mut summary = Worksheet::new();
        summary.set_name("Báo cáo lỗi").map_err(x)?;
        let head = header_format();
        let titles = ["Dòng", "Cột", "Tiêu đề cột", "Giá trị", "Lỗi", "Problem"];
        let widths = [8.0, 6.0, 24.0, 24.0, 60.0, 60.0];
        for (c, (t, w)) in titles.iter().zip(widths).enumerate() {
            summary.write_string_with_format(0, c as u16, *t, &head).map_err(x)?;
            summary.set_column_width(c as u16, w).map_err(x)?;
        }
        summary.set_freeze_panes(1, 0).map_err(x)?;
        let mut r = 1u32;
        for m in &self.marks {
            summary.write_number(r, 0, m.line as f64).map_err(x)?;
            summary.write_string(r, 1, crate::tabular::column_letter(m.column)).map_err(x)?;
            summary.write_string(r, 2, excel_text(&m.header).0).map_err(x)?;
            summary.write_string(r, 3, excel_text(&m.value).0).map_err(x)?;
            summary.write_string(r, 4, excel_text(&m.message).0).map_err(x)?;
            summary.write_string(r, 5, excel_text(&m.message_en).0).map_err(x)?;
            r += 1;
        }
        if self.total_marks > self.marks.len() as u64 {
            let more = self.total_marks - self.marks.len() as u64;
            summary.write_string(r, 4, format!("… và {more} lỗi nữa (đã tô màu trong trang dữ liệu)")).map_err(x)?;
            summary.write_string(r, 5, format!("… and {more} more (highlighted on the data sheet)")).map_err(x)?;
            r += 1;
        }
        if self.beyond > 0 {
            summary.write_string(r, 4, format!("{} dòng sau dòng {LAST_ROW} của Excel không được chép lại", self.beyond)).map_err(x)?;
            summary.write_string(r, 5, format!("{} lines past Excel's row {LAST_ROW} were not copied", self.beyond)).map_err(x)?;
            r += 1;
        }
        for n in notes {
            r += 1;
            summary.write_number(r, 0, n.line as f64).map_err(x)?;
            summary.write_string(r, 4, excel_text(&n.message).0).map_err(x)?;
            summary.write_string(r, 5, excel_text(&n.message_en).0).map_err(x)?;
        }
        if self.header_line.is_none() {
            return Err(werr("bảng không có dòng tiêu đề cột", "the table has no header row"));
        }
        self.book.push_worksheet(self.sheet);
        self.book.push_worksheet(summary);
        self.book.save(path).map_err(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, open_workbook_auto};

    #[test]
    fn bad_cells_are_highlighted_where_they_were_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("marked.xlsx");
        let mut m = MarkedCopy::new("Số liệu 2025", Some(dir.path())).unwrap();
        m.header(6, &["STT".into(), "Mã bản ghi".into(), "Giá trị".into()]).unwrap();
        m.row(8, &["1".into(), "101".into(), "108,5".into()], &[]).unwrap();
        let bad = (2usize, "Giá trị".to_string(), "«1.2x» không phải số".to_string(), "«1.2x» is not a number".to_string());
        m.row(9, &["2".into(), "102".into(), "1.2x".into()], std::slice::from_ref(&bad)).unwrap();
        assert_eq!(m.marks(), 1);
        let note =
            layout::Note { line: 13, message: "bỏ qua dòng 13: dòng tổng cộng".into(), message_en: "line 13 left out".into() };
        m.finish(&path, &[note]).unwrap();
        let mut book = open_workbook_auto(&path).unwrap();
        assert_eq!(book.sheet_names(), vec!["Số liệu 2025".to_string(), "Báo cáo lỗi".to_string()]);
        let data = book.worksheet_range("Số liệu 2025").unwrap();
        assert_eq!(data.get_value((5, 2)), Some(&Data::String("Giá trị".into())), "the header on its line");
        assert_eq!(data.get_value((8, 2)), Some(&Data::String("1.2x".into())), "row 9 stays row 9");
        let summary = book.worksheet_range("Báo cáo lỗi").unwrap();
        assert_eq!(summary.get_value((1, 0)), Some(&Data::Float(9.0)));
        assert_eq!(summary.get_value((1, 1)), Some(&Data::String("C".into())));
        assert_eq!(summary.get_value((1, 4)), Some(&Data::String("«1.2x» không phải số".into())));
        // The note and the fill are in the sheet's XML.
        let file = std::fs::File::open(&path).unwrap();
        let mut zip = zip::ZipArchive::new(file).unwrap();
        let mut comments = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/comments1.xml").unwrap(), &mut comments).unwrap();
        assert!(comments.contains("không phải số"), "{comments}");
    }
}
