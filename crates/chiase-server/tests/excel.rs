//! Issue 10, tried as an officer of the Department of Industry and Trade
//! would: this year's workbook, laid out the office way, sent with
//! `curl -F`; the bad one refused with a report in the file's own rows and
//! columns and a highlighted copy to fix; a check that writes nothing; an
//! XLSX export edited and imported back with `mode=upsert`.

mod common;

use std::process::Command;

use axum::http::{Method, StatusCode};
use calamine::{Data, Reader, open_workbook_auto_from_rs};
use chiase_core::policy::Role;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_store::databases::DatabaseKey;
use common::{TestApp, engines};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use serde_json::Value;

const DATASET: &str = "chi-tieu-cong-thuong";

async fn setup(app: &TestApp) -> String {
    let t = chiase_io::templates::by_id(DATASET).expect("template 17");
    app.create_dataset(CreateDataset {
        id: DATASET.into(),
        database: DatabaseKey::No(17),
        title: t.title.clone(),
        title_en: Some(t.title_en.clone()),
        description: t.description.clone(),
        licence: Some(t.licence.clone()),
        sharing_mode: t.sharing_mode.parse().unwrap(),
        cadence: None,
        schema: t.schema.clone(),
        template: Some(t.template.clone()),
        synthetic: false,
    })
    .await;
    app.person("congthuong.canbo", Some("so-cong-thuong"), Role::Steward, "mật-khẩu-đủ-dài-2025").await
}

/// The officer's workbook: a guide sheet, then the data sheet with a title
/// block, a two-row header with merged cells, STT, Vietnamese numbers and
/// dates, a totals row and the signature block. `bad` puts three mistakes
/// in it (H9, D10, E11).
fn workbook(bad: bool) -> Vec<u8> {
    let mut book = Workbook::new();
    book.add_worksheet().set_name("Hướng dẫn").unwrap().write_string(0, 0, "Ghi số theo kiểu Việt Nam").unwrap();
    let s = book.add_worksheet().set_name("Số liệu 2025").unwrap();
    let plain = Format::new();
    s.write_string(0, 0, "UBND TỈNH TUYÊN QUANG").unwrap();
    s.write_string(1, 0, "SỞ CÔNG THƯƠNG").unwrap();
    s.merge_range(3, 0, 3, 10, "BIỂU SỐ 01: CHỈ TIÊU NGÀNH CÔNG THƯƠNG NĂM 2025", &plain).unwrap();
    for (c, h) in ["STT", "Mã bản ghi", "Tên chỉ tiêu (đơn vị tính)", "Năm", "Kỳ báo cáo", "Tháng, quý", "Phạm vi"].iter().enumerate()
    {
        s.merge_range(5, c as u16, 6, c as u16, h, &plain).unwrap();
    }
    s.merge_range(5, 7, 5, 8, "Số liệu", &plain).unwrap();
    s.write_string(6, 7, "Giá trị").unwrap();
    s.write_string(6, 8, "So với cùng kỳ (%)").unwrap();
    s.merge_range(5, 9, 6, 9, "Nguồn số liệu", &plain).unwrap();
    s.merge_range(5, 10, 6, 10, "Ngày cập nhật", &plain).unwrap();
    let rows = [
        ("Chỉ số sản xuất công nghiệp IIP (%)", "2025", "Năm", "108,5", "105,2", "15/03/2025"),
        ("Giá trị sản xuất công nghiệp (tỷ đồng)", "2025", "Quý", if bad { "1.234.56x,89" } else { "1.234.567,89" }, "98,7", ""),
        ("Kim ngạch xuất khẩu (triệu USD)", if bad { "20x5" } else { "2025" }, "Tháng", "12.345", "", "2/4/2025"),
        ("Số chợ (chợ)", "2025", if bad { "Hằng năm" } else { "Năm" }, "27", "100", "31.12.2025"),
        ("  Sản lượng điện thương phẩm (triệu kWh)\u{a0}", "2025", "6 tháng", "1,234,567.5", "101,0", "30-06-2025"),
    ];
    for (i, (chi_tieu, nam, ky, gia_tri, so_voi, ngay)) in rows.iter().enumerate() {
        let r = 7 + i as u32;
        s.write_number(r, 0, (i + 1) as f64).unwrap();
        s.write_number(r, 1, (101 + i) as f64).unwrap();
        s.write_string(r, 2, *chi_tieu).unwrap();
        s.write_string(r, 3, *nam).unwrap();
        s.write_string(r, 4, *ky).unwrap();
        s.write_string(r, 6, "Toàn tỉnh").unwrap();
        s.write_string(r, 7, *gia_tri).unwrap();
        if !so_voi.is_empty() {
            s.write_string(r, 8, *so_voi).unwrap();
        }
        s.write_string(r, 9, "Sở Công Thương").unwrap();
        if ngay.is_empty() {
            let d = ExcelDateTime::from_ymd(2025, 4, 2).unwrap();
            s.write_datetime_with_format(r, 10, &d, &Format::new().set_num_format("dd/mm/yyyy")).unwrap();
        } else {
            s.write_string(r, 10, *ngay).unwrap();
        }
    }
    s.write_string(12, 2, "Tổng cộng").unwrap();
    s.write_number(12, 7, 1_248_071.89).unwrap();
    s.write_string(14, 2, "Người lập biểu").unwrap();
    book.save_to_buffer().unwrap()
}

/// `curl -F file=@… -F mode=…` against the running server, as an officer's
/// script would: (status, body).
async fn curl_form(app: &TestApp, token: &str, query: &str, fields: &[(&str, &str)], file: &std::path::Path) -> (u16, Vec<u8>) {
    let url = format!("http://{}/api/v1/datasets/{DATASET}/import{query}", app.addr);
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "-H", &format!("Authorization: Bearer {token}")]);
    for (k, v) in fields {
        cmd.args(["-F", &format!("{k}={v}")]);
    }
    cmd.args(["-F", &format!("file=@{}", file.display()), &url]);
    // The server runs on this test's runtime: curl must not block it.
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().expect("curl runs");
    assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
    let mut body = out.stdout;
    let cut = body.iter().rposition(|b| *b == b'\n').unwrap();
    let status = String::from_utf8_lossy(&body[cut + 1..]).trim().parse().unwrap();
    body.truncate(cut);
    (status, body)
}

async fn count(app: &TestApp) -> i64 {
    app.get_ok(&format!("/api/v1/datasets/{DATASET}/records?total=exact&limit=1")).await["total"].as_i64().unwrap()
}

#[tokio::test]
async fn an_officers_workbook_imports_with_curl_f_and_a_bad_one_is_marked_where_excel_shows_it() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let token = setup(&app).await;
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("Báo cáo chỉ tiêu 2025.xlsx");
        let bad = dir.path().join("bao-cao-loi.xlsx");
        std::fs::write(&good, workbook(false)).unwrap();
        std::fs::write(&bad, workbook(true)).unwrap();

        // The bad file: 422, nothing written, each problem where Excel shows it.
        let (status, body) = curl_form(&app, &token, "", &[("mode", "append")], &bad).await;
        assert_eq!(status, 422, "{engine:?}: {}", String::from_utf8_lossy(&body));
        let report = &serde_json::from_slice::<Value>(&body).unwrap()["error"]["fields"]["report"];
        let at: Vec<(u64, &str, &str, &str)> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (e["row"].as_u64().unwrap(), e["letter"].as_str().unwrap(), e["column"].as_str().unwrap(), e["field"].as_str().unwrap())
            })
            .collect();
        assert_eq!(at, vec![(9, "H", "Giá trị", "gia_tri"), (10, "D", "Năm", "nam"), (11, "E", "Kỳ báo cáo", "ky_bao_cao")], "{engine:?}");
        let first = &report["errors"][0];
        assert!(first["message"].as_str().unwrap().starts_with("cột H «Giá trị»: «1.234.56x,89» không phải số"), "{first}");
        assert_eq!(report["sheet"], "Số liệu 2025");
        assert!(report["notes"].as_array().unwrap().iter().any(|n| n["line"] == 13), "the totals row is noted: {report}");
        assert_eq!(count(&app).await, 0, "{engine:?}: nothing landed");

        // The same file asked back marked: the rows where they were, the bad cells noted.
        let (status, body) = curl_form(&app, &token, "?report=xlsx", &[], &bad).await;
        assert_eq!(status, 422, "{engine:?}");
        let mut book = open_workbook_auto_from_rs(std::io::Cursor::new(body.clone())).expect("the marked copy opens");
        assert_eq!(book.sheet_names(), vec!["Số liệu 2025".to_string(), "Báo cáo lỗi".to_string()]);
        let data = book.worksheet_range("Số liệu 2025").unwrap();
        assert_eq!(data.get_value((8, 7)), Some(&Data::String("1.234.56x,89".into())), "H9 stays H9");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(body)).unwrap();
        let mut comments = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/comments1.xml").unwrap(), &mut comments).unwrap();
        let refs: Vec<&str> = comments.split("ref=\"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
        assert_eq!(refs, vec!["H9", "D10", "E11"], "{engine:?}: exactly the bad cells carry a note");

        // A check of the good file writes nothing; the import writes the five rows.
        let (status, body) = curl_form(&app, &token, "?dry_run=true", &[], &good).await;
        let checked: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, checked["dry_run"].as_bool(), checked["rows_read"].as_u64()), (200, Some(true), Some(5)), "{checked}");
        assert_eq!(count(&app).await, 0, "{engine:?}: a check writes nothing");
        let (status, body) = curl_form(&app, &token, "", &[("mode", "upsert")], &good).await;
        let done: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, done["inserted"].as_u64()), (200, Some(5)), "{engine:?}: {done}");
        assert_eq!(done["sheet"], "Số liệu 2025");
        let one = app.get_ok(&format!("/api/v1/datasets/{DATASET}/records/102")).await;
        assert_eq!(one["gia_tri"], 1_234_567.89);
        assert_eq!(one["ngay_cap_nhat"], "2025-04-02");
        let five = app.get_ok(&format!("/api/v1/datasets/{DATASET}/records/105")).await;
        assert_eq!(five["chi_tieu"], "Sản lượng điện thương phẩm (triệu kWh)", "trimmed");

        // Exported to Excel, edited, imported back with upsert, with no other change to the file.
        let export = app.get(&format!("/api/v1/datasets/{DATASET}/export.xlsx")).await;
        assert_eq!(export.status, StatusCode::OK);
        let mut book = open_workbook_auto_from_rs(std::io::Cursor::new(export.body.clone())).unwrap();
        let name = book.sheet_names()[0].clone();
        let sheet = book.worksheet_range(&name).unwrap();
        let headers: Vec<String> = sheet.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
        assert!(headers.contains(&"Giá trị".to_string()), "{headers:?}");
        let (unchanged, _) = {
            let back = app
                .request(
                    Method::POST,
                    &format!("/api/v1/datasets/{DATASET}/import?mode=upsert&name=export.xlsx"),
                    &[("authorization", &format!("Bearer {token}"))],
                    export.body.clone(),
                )
                .await;
            assert_eq!(back.status, StatusCode::OK, "{engine:?}: {}", back.text());
            (back.json()["unchanged"].as_u64(), ())
        };
        assert_eq!(unchanged, Some(5), "{engine:?}: the export imports back as it is");
        // The officer changes one value in Excel (a real number cell now).
        let col = headers.iter().position(|h| h == "Giá trị").unwrap();
        let mut edited = Workbook::new();
        let ws = edited.add_worksheet();
        for (r, row) in sheet.rows().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    _ if r == 2 && c as usize == col => ws.write_number(r, c, 99.5).map(|_| ()).unwrap(),
                    Data::Float(f) => ws.write_number(r, c, *f).map(|_| ()).unwrap(),
                    Data::DateTime(d) => ws.write_number(r, c, d.as_f64()).map(|_| ()).unwrap(),
                    Data::Empty => {}
                    other => ws.write_string(r, c, other.to_string()).map(|_| ()).unwrap(),
                }
            }
        }
        let back = app
            .request(
                Method::POST,
                &format!("/api/v1/datasets/{DATASET}/import?mode=upsert&name=sua.xlsx"),
                &[("authorization", &format!("Bearer {token}"))],
                edited.save_to_buffer().unwrap(),
            )
            .await;
        assert_eq!(back.status, StatusCode::OK, "{engine:?}: {}", back.text());
        assert_eq!((back.json()["updated"].as_u64(), back.json()["unchanged"].as_u64()), (Some(1), Some(4)), "{engine:?}");
    }
}

#[tokio::test]
async fn old_xls_and_ods_files_import_too() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let token = setup(&app).await;
        for (name, mode) in [("cong-thuong-2025.xls", "append"), ("cong-thuong-2025.ods", "upsert")] {
            let bytes = std::fs::read(format!("{}/../chiase-io/tests/fixtures/sheets/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let r = app
                .request(
                    Method::POST,
                    &format!("/api/v1/datasets/{DATASET}/import?mode={mode}&name={name}"),
                    &[("authorization", &format!("Bearer {token}"))],
                    bytes,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{engine:?} {name}: {}", r.text());
        }
        assert_eq!(count(&app).await, 5, "{engine:?}: the .ods holds the same five rows as the .xls");
    }
}

#[tokio::test]
async fn on_error_hold_imports_the_good_rows_and_hands_back_the_bad_ones() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let token = setup(&app).await;
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bao-cao-loi.xlsx");
        std::fs::write(&bad, workbook(true)).unwrap();

        // Not with replace: the held rows would be deleted.
        let (status, _) = curl_form(&app, &token, "?on_error=hold&mode=replace", &[], &bad).await;
        assert_eq!(status, 400, "{engine:?}");

        // The good rows (8 and 12) land; 9, 10 and 11 are held back, listed.
        let (status, body) = curl_form(&app, &token, "", &[("on_error", "hold")], &bad).await;
        let done: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, done["inserted"].as_u64()), (200, Some(2)), "{engine:?}: {done}");
        assert_eq!(done["held"]["bad_rows"], 3, "{done}");
        let held_rows: Vec<u64> = done["held"]["errors"].as_array().unwrap().iter().map(|e| e["row"].as_u64().unwrap()).collect();
        assert_eq!(held_rows, vec![9, 10, 11]);
        assert_eq!(count(&app).await, 2, "{engine:?}");

        // The audit says rows were held, and which.
        let audit =
            app.request(Method::GET, "/api/v1/audit?action=import", &[("authorization", &format!("Bearer {token}"))], vec![]).await.json();
        // (The audit keeps each event's detail as the JSON text that was chained.)
        let details: Vec<Value> =
            audit["results"].as_array().unwrap().iter().map(|e| serde_json::from_str(e["detail"].as_str().unwrap()).unwrap()).collect();
        let held = details.iter().find(|d| d["on_error"] == "hold").unwrap_or_else(|| panic!("{engine:?}: no hold in the audit: {audit}"));
        assert_eq!((held["held_rows"].as_u64(), held["held_lines"].clone()), (Some(3), serde_json::json!([9, 10, 11])));

        // Asked as a workbook: the held rows alone, each bad cell noted, the counts in headers.
        let (status, body) = curl_form(&app, &token, "?mode=upsert&on_error=hold&report=xlsx", &[], &bad).await;
        assert_eq!(status, 200, "{engine:?}");
        let mut book = open_workbook_auto_from_rs(std::io::Cursor::new(body)).expect("the held rows open as a workbook");
        let data = book.worksheet_range("Số liệu 2025").unwrap();
        let lines: Vec<u32> = data
            .rows()
            .enumerate()
            .filter(|(_, r)| r.iter().any(|c| *c != Data::Empty))
            .map(|(i, _)| data.start().unwrap().0 + i as u32 + 1)
            .collect();
        assert_eq!(lines, vec![6, 9, 10, 11], "{engine:?}: the header and the held rows, on their own lines");
        assert_eq!(count(&app).await, 2, "{engine:?}: the upsert changed nothing more");
    }
}

/// `chiase` on a fresh data directory.
fn cli(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chiase"));
    c.arg("--data").arg(data);
    c
}

fn run_ok(mut c: Command) -> String {
    let out = c.output().expect("chiase runs");
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_cli_checks_marks_and_imports_for_an_officer_named_in_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fixtures = format!("{}/../chiase-io/tests/fixtures/sheets", env!("CARGO_MANIFEST_DIR"));
    let catalog = format!("{}/../chiase-io/catalogs/641-QD-UBND-2022-tuyen-quang.txt", env!("CARGO_MANIFEST_DIR"));
    let mut c = cli(&data);
    c.args(["catalog", "import", &catalog, "--decision", "641/QĐ-UBND", "--date", "2022-06-06"]);
    run_ok(c);
    let mut c = cli(&data);
    c.args(["dataset", "create", "--template", DATASET]);
    run_ok(c);
    let mut c = cli(&data);
    c.args(["user", "add", "congthuong.canbo", "--agency", "so-cong-thuong", "--role", "steward", "--password-stdin"]);
    c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), "mật-khẩu-đủ-dài-2025\n".as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "user add: {}", String::from_utf8_lossy(&out.stderr));

    // The check of the bad file fails, names the cells and writes the marked copy.
    let marked = dir.path().join("loi.xlsx");
    let mut c = cli(&data);
    c.args(["import", DATASET, &format!("{fixtures}/cong-thuong-2025-loi.xls"), "--check", "--report"]).arg(&marked);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("cột H «Giá trị»") && said.contains("dòng/row 10"), "{said}");
    let mut book = calamine::open_workbook_auto(&marked).expect("the marked copy opens");
    assert_eq!(book.sheet_names()[1], "Báo cáo lỗi");
    assert!(book.worksheet_range("Báo cáo lỗi").unwrap().rows().count() >= 4);

    // The good file, for the officer: the audit names them beside the operator.
    let mut c = cli(&data);
    c.args(["import", DATASET, &format!("{fixtures}/cong-thuong-2025.xls"), "--as", "congthuong.canbo"]);
    assert!(run_ok(c).contains("5 thêm"));
    let mut c = cli(&data);
    c.args(["audit", "export"]);
    let events = run_ok(c);
    let import =
        events.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|e| e["action"] == "import").expect("the import is audited");
    assert_eq!(import["actor"], "operator for user:congthuong.canbo", "{import}");
    assert!(import["user_id"].as_i64().is_some() && import["agency_id"].as_i64().is_some(), "{import}");
}
