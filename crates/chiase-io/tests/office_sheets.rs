//! Sheets as Vietnamese offices write them, read for the industry-and-trade
//! template (database 17): a guide sheet first, then the data sheet with a
//! title block, a header over two rows with merged cells, a numbering
//! column, Vietnamese numbers and dates typed as text, a totals row and a
//! signature block. The same layout as XLSX (built here), XLS and ODS
//! (fixtures made by tests/fixtures/sheets/make_fixtures.py).

use std::io::Cursor;
use std::sync::Arc;

use chiase_core::schema::{Schema, Value};
use chiase_io::tabular::{ColumnMap, ReadOptions, RecordReader, parse_record};
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook};

fn schema() -> Arc<Schema> {
    let t = chiase_io::templates::by_id("chi-tieu-cong-thuong").expect("template 17");
    Arc::new(Schema::new(t.schema).expect("a valid schema"))
}

/// A data row's text cells: chỉ tiêu, kỳ, tháng, phạm vi, giá trị, so với
/// cùng kỳ, nguồn, ngày.
type Line = (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str);

/// The data sheet's layout (rows and columns as Excel numbers them), with
/// the bad file's three wrong cells when `bad`.
fn office_xlsx(bad: bool) -> Vec<u8> {
    let mut book = Workbook::new();
    let guide = book.add_worksheet().set_name("Hướng dẫn").unwrap();
    guide.write_string(0, 0, "Hướng dẫn điền biểu").unwrap();
    guide.write_string(1, 0, "Ghi số theo kiểu Việt Nam: 1.234.567,89").unwrap();
    let s = book.add_worksheet().set_name("Số liệu 2025").unwrap();
    let plain = Format::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    s.write_string(0, 0, "UBND TỈNH TUYÊN QUANG").unwrap();
    s.write_string(0, 5, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM").unwrap();
    s.write_string(1, 0, "SỞ CÔNG THƯƠNG").unwrap();
    s.merge_range(3, 0, 3, 10, "BIỂU SỐ 01: CHỈ TIÊU NGÀNH CÔNG THƯƠNG NĂM 2025", &plain).unwrap();
    let header = ["STT", "Mã bản ghi", "Tên chỉ tiêu (đơn vị tính)", "Năm", "Kỳ báo cáo", "Tháng, quý", "Phạm vi"];
    for (c, h) in header.iter().enumerate() {
        s.merge_range(5, c as u16, 6, c as u16, h, &plain).unwrap();
    }
    s.merge_range(5, 7, 5, 8, "Số liệu", &plain).unwrap();
    s.write_string(6, 7, "Giá trị").unwrap();
    s.write_string(6, 8, "So với cùng kỳ (%)").unwrap();
    s.merge_range(5, 9, 6, 9, "Nguồn số liệu", &plain).unwrap();
    s.merge_range(5, 10, 6, 10, "Ngày cập nhật", &plain).unwrap();
    let rows: [Line; 5] = [
        ("Chỉ số sản xuất công nghiệp IIP (%)", "Năm", "", "Toàn tỉnh", "108,5", "105,2", "Cục Thống kê tỉnh Tuyên Quang", "15/03/2025"),
        ("Giá trị sản xuất công nghiệp (tỷ đồng)", "Quý", "1", "Toàn tỉnh", "1.234.567,89", "98,7", "Sở Công Thương", ""),
        ("Kim ngạch xuất khẩu (triệu USD)", "Tháng", "3", "Yên Sơn", "12.345", "", "Cục Hải quan", "2/4/2025"),
        ("Số chợ (chợ)", "Năm", "", "Hàm Yên", "", "100", "Sở Công Thương", "31.12.2025"),
        (
            "  Sản lượng điện thương phẩm (triệu kWh)\u{a0}",
            "6 tháng",
            "",
            "Toàn tỉnh",
            "1,234,567.5",
            "101,0",
            "Công ty Điện lực Tuyên Quang",
            "30-06-2025",
        ),
    ];
    for (i, (chi_tieu, ky, thang, pham_vi, gia_tri, so_voi, nguon, ngay)) in rows.iter().enumerate() {
        let r = 7 + i as u32;
        s.write_number(r, 0, (i + 1) as f64).unwrap();
        s.write_number(r, 1, (101 + i) as f64).unwrap();
        s.write_string(r, 2, *chi_tieu).unwrap();
        if bad && i == 2 {
            s.write_string(r, 3, "20x5").unwrap();
        } else {
            s.write_number(r, 3, 2025.0).unwrap();
        }
        s.write_string(r, 4, if bad && i == 3 { "Hằng năm" } else { ky }).unwrap();
        if !thang.is_empty() {
            s.write_number(r, 5, thang.parse::<f64>().unwrap()).unwrap();
        }
        s.write_string(r, 6, *pham_vi).unwrap();
        match (i, bad) {
            (1, true) => s.write_string(r, 7, "1.234.56x,89").map(|_| ()).unwrap(),
            (3, _) => s.write_number(r, 7, 27.0).map(|_| ()).unwrap(),
            _ => s.write_string(r, 7, *gia_tri).map(|_| ()).unwrap(),
        }
        if !so_voi.is_empty() {
            s.write_string(r, 8, *so_voi).unwrap();
        }
        s.write_string(r, 9, *nguon).unwrap();
        if i == 1 {
            let d = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 4, 2).unwrap();
            s.write_datetime_with_format(r, 10, &d, &date).unwrap();
        } else {
            s.write_string(r, 10, *ngay).unwrap();
        }
    }
    s.write_string(12, 2, "Tổng cộng").unwrap();
    s.write_number(12, 7, 1_248_071.89).unwrap();
    s.write_string(14, 2, "Người lập biểu").unwrap();
    s.write_string(14, 9, "Tuyên Quang, ngày 20 tháng 3 năm 2025").unwrap();
    book.save_to_buffer().unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/sheets/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

/// A row parsed: its values, or its problems by field.
type Parsed = Result<Vec<Value>, Vec<(usize, chiase_core::schema::FieldError)>>;

/// What a file gives: its reader (exhausted) and every row parsed, by line.
struct Read {
    reader: RecordReader,
    rows: Vec<(u64, Parsed)>,
    map: ColumnMap,
}

fn read(bytes: Vec<u8>, name: &str, sheet: Option<&str>) -> Read {
    let schema = schema();
    let opts = ReadOptions { schema: Some(schema.clone()), sheet: sheet.map(str::to_string), ..Default::default() };
    let mut reader = RecordReader::open(Box::new(Cursor::new(bytes)), Some(name), None, &opts).expect("opens");
    let map = ColumnMap::new(reader.headers().expect("a header"), &schema).expect("every column maps");
    let mut rows = Vec::new();
    for rec in reader.by_ref() {
        let rec = rec.expect("a readable row");
        rows.push((rec.line, parse_record(&schema, Some(&map), &rec)));
    }
    Read { reader, rows, map }
}

fn field(name: &str) -> usize {
    schema().position(name).unwrap()
}

fn check_good(name: &str, bytes: Vec<u8>) {
    let r = read(bytes, name, None);
    assert_eq!(r.reader.sheet(), Some("Số liệu 2025"), "{name}: the guide sheet is passed over");
    assert_eq!(r.reader.header_line(), Some(6), "{name}");
    let lines: Vec<u64> = r.rows.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![8, 9, 10, 11, 12], "{name}: rows numbered as Excel shows them");
    let values: Vec<Vec<Value>> =
        r.rows.into_iter().map(|(l, v)| v.unwrap_or_else(|e| panic!("{name}: line {l}: {:?}", e[0].1.message.en))).collect();
    let col = |f: &str| values.iter().map(|v| v[field(f)].clone()).collect::<Vec<_>>();
    assert_eq!(col("id"), (101..=105).map(Value::Int).collect::<Vec<_>>(), "{name}");
    assert_eq!(
        col("gia_tri"),
        [108.5, 1_234_567.89, 12_345.0, 27.0, 1_234_567.5].map(Value::Num).to_vec(),
        "{name}: Vietnamese and English grouping, a number cell"
    );
    assert_eq!(
        col("so_voi_cung_ky"),
        vec![Value::Num(105.2), Value::Num(98.7), Value::Null, Value::Num(100.0), Value::Num(101.0)],
        "{name}"
    );
    let d = |y, m, d| Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap());
    assert_eq!(col("ngay_cap_nhat"), vec![d(2025, 3, 15), d(2025, 4, 2), d(2025, 4, 2), d(2025, 12, 31), d(2025, 6, 30)], "{name}");
    assert_eq!(values[4][field("chi_tieu")], Value::Text("Sản lượng điện thương phẩm (triệu kWh)".into()), "{name}: trimmed");
    assert_eq!(values[1][field("thang")], Value::Int(1), "{name}");
    let noted: Vec<u64> = r.reader.notes().iter().map(|n| n.line).collect();
    assert!(noted.contains(&13) && noted.contains(&15), "{name}: totals and signature noted: {:?}", r.reader.notes());
    assert!(r.reader.notes().iter().any(|n| n.message.contains("tổng cộng")), "{name}");
    assert_eq!(r.map.column_of(field("gia_tri")), Some(("H".to_string(), "Giá trị".to_string())), "{name}");
}

fn check_bad(name: &str, bytes: Vec<u8>) {
    let r = read(bytes, name, None);
    let mut found: Vec<(u64, String, String, &'static str)> = Vec::new();
    for (line, parsed) in &r.rows {
        if let Err(problems) = parsed {
            for (f, e) in problems {
                let (letter, header) = r.map.column_of(*f).unwrap();
                found.push((*line, letter, header, e.code));
            }
        }
    }
    assert_eq!(
        found,
        vec![
            (9, "H".into(), "Giá trị".into(), "type"),
            (10, "D".into(), "Năm".into(), "type"),
            (11, "E".into(), "Kỳ báo cáo".into(), "enum"),
        ],
        "{name}: the bad cells where Excel shows them"
    );
}

#[test]
fn an_office_workbook_is_read_as_the_officer_laid_it_out() {
    check_good("built.xlsx", office_xlsx(false));
    check_good("cong-thuong-2025.xls", fixture("cong-thuong-2025.xls"));
    check_good("cong-thuong-2025.ods", fixture("cong-thuong-2025.ods"));
}

#[test]
fn the_bad_cells_are_found_where_excel_shows_them() {
    check_bad("built-loi.xlsx", office_xlsx(true));
    check_bad("cong-thuong-2025-loi.xls", fixture("cong-thuong-2025-loi.xls"));
    check_bad("cong-thuong-2025-loi.ods", fixture("cong-thuong-2025-loi.ods"));
}

#[test]
fn a_sheet_is_chosen_by_name_or_number_and_a_wrong_one_is_named() {
    let r = read(office_xlsx(false), "x.xlsx", Some("2"));
    assert_eq!(r.reader.sheet(), Some("Số liệu 2025"));
    let r = read(office_xlsx(false), "x.xlsx", Some("so lieu 2025"));
    assert_eq!(r.reader.sheet(), Some("Số liệu 2025"));
    let opts = ReadOptions { schema: Some(schema()), sheet: Some("Bảng 3".into()), ..Default::default() };
    let err = RecordReader::open(Box::new(Cursor::new(office_xlsx(false))), Some("x.xlsx"), None, &opts).err().expect("refused");
    assert!(err.msg.vi.contains("«Hướng dẫn», «Số liệu 2025»"), "{}", err.msg.vi);
}

#[test]
fn csv_saved_by_excel_on_windows_is_numbered_by_its_lines() {
    let text = "Mã bản ghi,Tên chỉ tiêu (đơn vị tính),Năm,Kỳ báo cáo,Giá trị,Nguồn số liệu\r\n\
                1,IIP,2025,Năm,\"108,5\",Sở Công Thương\r\n\
                2,\"Giá trị\r\nsản xuất\",2025,Năm,x,Sở Công Thương\r\n\
                \r\n\
                3,Chợ,2025,Năm,27,Sở Công Thương\r\n\
                4,Điện,2025,Năm,28,Sở Công Thương";
    let schema = schema();
    let opts = ReadOptions { schema: Some(schema.clone()), ..Default::default() };
    let reader = RecordReader::open(Box::new(Cursor::new(text.as_bytes().to_vec())), Some("x.csv"), None, &opts).unwrap();
    let lines: Vec<u64> = reader.map(|r| r.unwrap().line).collect();
    let lf = text.replace("\r\n", "\n");
    let reader = RecordReader::open(Box::new(Cursor::new(lf.as_bytes().to_vec())), Some("x.csv"), None, &opts).unwrap();
    let lf_lines: Vec<u64> = reader.map(|r| r.unwrap().line).collect();
    assert_eq!((lines, lf_lines), (vec![2, 3, 6, 7], vec![2, 3, 6, 7]), "the line each record starts on, as an editor numbers it");
}
