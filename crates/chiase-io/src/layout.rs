//! Where the table is in a sheet laid out the way Vietnamese offices lay
//! them out: a title block above the header ("UBND TỈNH TUYÊN QUANG / SỞ
//! CÔNG THƯƠNG / BIỂU SỐ 01…"), a header over two rows with merged cells,
//! a numbering column ("STT"), a row of column numbers under the header,
//! a totals row ("Tổng cộng") and a signature block at the bottom.
//!
//! The header row is the one (among the first [`HEADER_SCAN_ROWS`]) whose
//! cells name the most fields of the schema, by name or title, folded;
//! without a schema (inference) it is the first row about as wide as the
//! widest. Whatever is left out is said in a [`Note`], never dropped
//! silently.

use chiase_core::Msg;
use chiase_core::fold::match_key;
use chiase_core::schema::{Field, Schema};

/// Rows read before the header must have been found.
pub const HEADER_SCAN_ROWS: usize = 30;

/// A row as read: its line (as Excel or an editor numbers it) and cells.
pub type Row = (u64, Vec<String>);

/// Something the reader left out or understood, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    pub line: u64,
    pub message: String,
    pub message_en: String,
}

impl Note {
    pub fn new(line: u64, msg: Msg) -> Note {
        Note { line, message: msg.vi, message_en: msg.en }
    }
}

/// Where the header is and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Index into the scanned rows of the first row after the header.
    pub data_start: usize,
    /// The header's text per column (the two rows joined where the header
    /// has two).
    pub titles: Vec<String>,
    /// The header's first line.
    pub line: u64,
    /// Whether rows above the header were left out (a title block): the
    /// file is laid out for people, so a signature block below the data is
    /// looked for too.
    pub below_title_block: bool,
    pub notes: Vec<Note>,
}

/// The folded keys a header cell may have for a field: its name, its
/// title, and its title without a parenthesis ("Tên chỉ tiêu" for "Tên chỉ
/// tiêu (đơn vị tính)").
pub fn field_keys(field: &Field) -> Vec<String> {
    let mut keys = vec![match_key(&field.spec.name)];
    if let Some(t) = &field.spec.title {
        keys.push(match_key(t));
        if let Some(open) = t.find('(') {
            let short = match_key(&t[..open]);
            if !short.is_empty() {
                keys.push(short);
            }
        }
    }
    keys
}

/// Whether a header names the numbering column every office sheet has.
pub fn is_numbering_title(title: &str) -> bool {
    matches!(match_key(title).as_str(), "stt" | "tt" | "so tt" | "so thu tu" | "thu tu")
}

/// Whether a row is a totals row: one of its first cells says "Tổng cộng",
/// "Cộng", "Tổng" or "Tổng số".
pub fn is_totals(cells: &[String]) -> bool {
    cells.iter().filter(|c| !c.trim().is_empty()).take(3).any(|c| {
        let k = match_key(c);
        k == "cong" || k == "tong" || k == "tong so" || k.starts_with("tong cong") || k == "cong toan tinh"
    })
}

fn filled(row: &[String]) -> usize {
    row.iter().filter(|c| !c.trim().is_empty()).count()
}

/// A header over two rows joined per column: a cell of the upper row
/// merged across several columns holds its text in the first one only, so
/// a column with text below and none above takes the nearest text to its
/// left above. Each column gets its candidates, best first: the lower
/// text, both joined, the upper text.
fn joined(top: &[String], sub: &[String]) -> Vec<Vec<String>> {
    let width = top.len().max(sub.len());
    let cell = |r: &[String], c: usize| r.get(c).map(|s| s.trim().to_string()).unwrap_or_default();
    let mut out = Vec::with_capacity(width);
    for c in 0..width {
        let below = cell(sub, c);
        let mut above = cell(top, c);
        if above.is_empty() && !below.is_empty() {
            above = (0..c).rev().map(|l| cell(top, l)).find(|t| !t.is_empty()).unwrap_or_default();
        }
        let mut candidates = Vec::new();
        match (above.is_empty(), below.is_empty()) {
            (false, false) => candidates.extend([below.clone(), format!("{above} {below}"), above]),
            (true, false) => candidates.push(below),
            (false, true) => candidates.push(above),
            (true, true) => candidates.push(String::new()),
        }
        out.push(candidates);
    }
    out
}

/// For each column, the candidate that names a field (or the first).
fn choose(candidates: &[Vec<String>], keys: &[Vec<String>]) -> (Vec<String>, usize) {
    let mut score = 0;
    let titles = candidates
        .iter()
        .map(|cands| match cands.iter().find(|t| names_field(t, keys)) {
            Some(t) => {
                score += 1;
                t.clone()
            }
            None => cands.iter().rev().find(|t| !t.is_empty()).or(cands.first()).cloned().unwrap_or_default(),
        })
        .collect();
    (titles, score)
}

fn names_field(title: &str, keys: &[Vec<String>]) -> bool {
    let k = match_key(title);
    !k.is_empty() && keys.iter().any(|ks| ks.contains(&k))
}

/// How many cells of `row` name a field of the schema: how well a sheet
/// whose first rows these are matches it (0: not at all).
pub fn header_score(rows: &[Row], schema: &Schema) -> usize {
    let keys: Vec<Vec<String>> = schema.fields.iter().map(field_keys).collect();
    best_header(rows, &keys).map(|(_, _, score)| score).unwrap_or(0)
}

/// The best header among the scanned rows: (row index, rows it spans, score).
fn best_header(rows: &[Row], keys: &[Vec<String>]) -> Option<(usize, usize, usize)> {
    let mut best: Option<(usize, usize, usize)> = None;
    for i in 0..rows.len().min(HEADER_SCAN_ROWS) {
        let one: Vec<Vec<String>> = rows[i].1.iter().map(|c| vec![c.trim().to_string()]).collect();
        let mut found = (i, 1, choose(&one, keys).1);
        if let Some(next) = rows.get(i + 1)
            && next.0 == rows[i].0 + 1
        {
            let score = choose(&joined(&rows[i].1, &next.1), keys).1;
            if score > found.2 {
                found = (i, 2, score);
            }
        }
        if found.2 > 0 && best.is_none_or(|b| found.2 > b.2) {
            best = Some(found);
        }
    }
    best
}

/// Finds the header among the first rows of a sheet or CSV file.
/// `rows` holds the non-empty rows read so far (at most
/// [`HEADER_SCAN_ROWS`] and the row after). `None` when there are no rows.
pub fn find_header(rows: &[Row], schema: Option<&Schema>) -> Option<Header> {
    if rows.is_empty() {
        return None;
    }
    let keys: Vec<Vec<String>> = schema.map(|s| s.fields.iter().map(field_keys).collect()).unwrap_or_default();
    let (index, span) = match best_header(rows, &keys) {
        Some((i, span, _)) => (i, span),
        None => (widest_first(rows), 1),
    };
    let candidates = if span == 2 {
        joined(&rows[index].1, &rows[index + 1].1)
    } else {
        rows[index].1.iter().map(|c| vec![c.trim().to_string()]).collect()
    };
    let (titles, _) = choose(&candidates, &keys);
    let mut notes = Vec::new();
    let line = rows[index].0;
    if index > 0 {
        notes.push(Note::new(
            line,
            Msg::new(
                format!("dòng tiêu đề cột là dòng {line}; bỏ qua {index} dòng phía trên (tên cơ quan, tên biểu)"),
                format!("the column header is on line {line}; the {index} rows above it (agency, form title) were left out"),
            ),
        ));
    }
    if span == 2 {
        notes.push(Note::new(
            line,
            Msg::new(
                format!("tiêu đề cột gồm hai dòng ({line} và {}), đã ghép lại", line + 1),
                format!("the column header spans two lines ({line} and {}), read together", line + 1),
            ),
        ));
    }
    let mut data_start = index + span;
    if let Some((n, row)) = rows.get(data_start)
        && is_numbering_row(row, index > 0 || span == 2)
    {
        notes.push(Note::new(
            *n,
            Msg::new(format!("bỏ qua dòng {n}: dòng đánh số cột"), format!("line {n} left out: it numbers the columns")),
        ));
        data_start += 1;
    }
    Some(Header { data_start, titles, line, below_title_block: index > 0, notes })
}

/// The first row about as wide as the widest of the scanned rows (a title
/// block's rows hold one or two cells).
fn widest_first(rows: &[Row]) -> usize {
    let scanned = &rows[..rows.len().min(HEADER_SCAN_ROWS)];
    let widest = scanned.iter().map(|(_, r)| filled(r)).max().unwrap_or(0);
    scanned.iter().position(|(_, r)| filled(r) * 2 >= widest && filled(r) >= widest.min(2)).unwrap_or(0)
}

/// A row numbering the columns under the header: `(1) (2) (3)…`, or, in
/// a sheet laid out for people (`office`: a title block or a two-row
/// header), `1 2 3 4…` (or `A B 1 2…`) counting up column by column; a
/// plain table's first row of `1,2,3` is data.
fn is_numbering_row(row: &[String], office: bool) -> bool {
    let cells: Vec<&str> = row.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect();
    if cells.len() < 3 {
        return false;
    }
    let bracketed = cells.iter().all(|c| {
        c.strip_prefix('(')
            .and_then(|c| c.strip_suffix(')'))
            .is_some_and(|n| !n.is_empty() && n.len() <= 3 && n.chars().all(|ch| ch.is_ascii_alphanumeric()))
    });
    if bracketed {
        return true;
    }
    let numbers: Vec<u32> = cells.iter().filter_map(|c| c.parse::<u32>().ok()).collect();
    let letters = cells.iter().filter(|c| c.len() == 1 && c.chars().all(|ch| ch.is_ascii_uppercase())).count();
    office
        && numbers.len() + letters == cells.len()
        && numbers.len() >= 3
        && numbers.windows(2).all(|w| w[1] == w[0] + 1)
        && numbers[0] <= 1
}

/// Rows after the data that are not data: a totals row and the signature
/// block below it. Rows pass through [`Tail::push`]; sparse rows (two
/// cells at most, fewer than half the header's) are held back until a
/// full row shows they were data, or the end shows they were the footer.
pub struct Tail {
    columns: usize,
    /// Look for a signature block (the sheet had a title block or a
    /// totals row).
    footer: bool,
    held: Vec<Row>,
    pub notes: Vec<Note>,
}

/// Sparse rows held back at most; past it they are data.
const MAX_HELD: usize = 50;

impl Tail {
    pub fn new(header: &Header) -> Tail {
        let columns = header.titles.iter().filter(|t| !t.is_empty()).count();
        Tail { columns, footer: header.below_title_block, held: Vec::new(), notes: Vec::new() }
    }

    /// Takes the next row; returns the rows now known to be data.
    pub fn push(&mut self, row: Row) -> Vec<Row> {
        if is_totals(&row.1) {
            self.notes.push(Note::new(
                row.0,
                Msg::new(
                    format!("bỏ qua dòng {}: dòng tổng cộng, không phải dữ liệu", row.0),
                    format!("line {} left out: a totals row, not data", row.0),
                ),
            ));
            self.footer = true;
            return Vec::new();
        }
        let n = filled(&row.1);
        if self.footer && n <= 2 && n * 2 < self.columns && self.held.len() < MAX_HELD {
            self.held.push(row);
            return Vec::new();
        }
        let mut out = std::mem::take(&mut self.held);
        out.push(row);
        out
    }

    /// At the end: the held rows were a signature block.
    pub fn finish(&mut self) {
        if let (Some(first), Some(last)) = (self.held.first(), self.held.last()) {
            let (a, b) = (first.0, last.0);
            let (vi, en) =
                if a == b { (format!("dòng {a}"), format!("line {a}")) } else { (format!("dòng {a}–{b}"), format!("lines {a}–{b}")) };
            self.notes.push(Note::new(
                a,
                Msg::new(
                    format!("bỏ qua {vi} cuối trang: phần ký tên, không phải dữ liệu"),
                    format!("{en} at the bottom left out: the signature block, not data"),
                ),
            ));
            self.held.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(lines: &[(u64, &[&str])]) -> Vec<Row> {
        lines.iter().map(|(n, cells)| (*n, cells.iter().map(|c| c.to_string()).collect())).collect()
    }

    fn schema() -> Schema {
        Schema::from_json(&serde_json::json!({"fields": [
            {"name": "id", "title": "Mã bản ghi", "type": "integer"},
            {"name": "chi_tieu", "title": "Tên chỉ tiêu (đơn vị tính)", "type": "string"},
            {"name": "gia_tri", "title": "Giá trị", "type": "number"},
            {"name": "so_voi_cung_ky", "title": "So với cùng kỳ (%)", "type": "number"},
            {"name": "nguon", "title": "Nguồn số liệu", "type": "string"}
        ]}))
        .unwrap()
    }

    #[test]
    fn a_title_block_and_a_two_row_header_are_found() {
        let r = rows(&[
            (1, &["UBND TỈNH TUYÊN QUANG", "", "", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"]),
            (2, &["SỞ CÔNG THƯƠNG"]),
            (4, &["BIỂU SỐ 01: CHỈ TIÊU NĂM 2025"]),
            (6, &["STT", "Mã bản ghi", "Tên chỉ tiêu", "Số liệu", "", "Nguồn số liệu"]),
            (7, &["", "", "", "Giá trị", "So với cùng kỳ (%)", ""]),
            (8, &["(1)", "(2)", "(3)", "(4)", "(5)", "(6)"]),
            (9, &["1", "101", "IIP", "108,5", "105,2", "Cục Thống kê"]),
        ]);
        let h = find_header(&r, Some(&schema())).unwrap();
        assert_eq!(h.line, 6);
        assert_eq!(h.titles, vec!["STT", "Mã bản ghi", "Tên chỉ tiêu", "Giá trị", "So với cùng kỳ (%)", "Nguồn số liệu"]);
        assert_eq!(h.data_start, 6, "the numbering row is skipped too");
        assert!(h.below_title_block);
        assert_eq!(h.notes.len(), 3, "{:?}", h.notes);
    }

    #[test]
    fn a_plain_first_row_header_stays_the_header() {
        let r = rows(&[(1, &["id", "gia_tri"]), (2, &["1", "2"]), (3, &["3", "4"])]);
        let h = find_header(&r, Some(&schema())).unwrap();
        assert_eq!((h.line, h.data_start, h.below_title_block), (1, 1, false));
        assert!(h.notes.is_empty());
        // Without a schema, the first row as wide as the widest.
        let r = rows(&[(1, &["Báo cáo"]), (2, &["a", "b", "c"]), (3, &["1", "2", "3"])]);
        assert_eq!(find_header(&r, None).unwrap().line, 2);
    }

    #[test]
    fn totals_and_the_signature_block_are_left_out_and_noted() {
        let header = Header {
            data_start: 0,
            titles: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            line: 1,
            below_title_block: false,
            notes: vec![],
        };
        let mut tail = Tail::new(&header);
        let row = |n: u64, c: &[&str]| (n, c.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(tail.push(row(2, &["1", "x", "2", "3"])).len(), 1);
        assert!(tail.push(row(3, &["", "Tổng cộng", "", "5"])).is_empty());
        assert!(tail.push(row(5, &["", "Người lập biểu"])).is_empty());
        tail.finish();
        assert_eq!(tail.notes.iter().map(|n| n.line).collect::<Vec<_>>(), vec![3, 5]);
        // A sparse row followed by a full one was data after all.
        let mut tail = Tail::new(&Header { below_title_block: true, ..header });
        assert!(tail.push(row(2, &["1"])).is_empty());
        assert_eq!(tail.push(row(3, &["1", "2", "3", "4"])).len(), 2);
    }
}
