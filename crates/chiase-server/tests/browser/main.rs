//! The portal in a real browser (issue 11): Debian's Chromium, headless,
//! through WebDriver. Every step goes through the pages as a person would
//! (typing, clicking, choosing), never through the API; the set-up before
//! a story (datasets, accounts) uses the use cases. Screenshots of the main
//! pages at desktop and phone widths go to `target/screenshots/`, and
//! axe-core checks each of those pages for serious or critical problems.
//!
//! The stories run on SQLite, and on PostgreSQL too when
//! CHIASE_TEST_DATABASE_URL is set; screenshots and accessibility checks
//! are taken on the first engine only (the pages are the same).

#[path = "../common/mod.rs"]
mod common;
mod harness;

use chiase_core::policy::Role;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use common::{Engine, TestApp, engines};
use harness::Browser;
use serde_json::json;

const PASSWORD: &str = "mật-khẩu-đủ-dài-2025";

fn base(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

/// A dataset of a catalog database, filled from CSV.
struct Hosted {
    id: &'static str,
    database: i64,
    title: &'static str,
    title_en: Option<&'static str>,
    description: &'static str,
    mode: &'static str,
}

async fn hosted(app: &TestApp, d: Hosted, schema: serde_json::Value, csv: &str) {
    app.create_dataset(CreateDataset {
        id: d.id.into(),
        database: DatabaseKey::No(d.database),
        title: d.title.into(),
        title_en: d.title_en.map(str::to_string),
        description: d.description.into(),
        licence: None,
        sharing_mode: d.mode.parse().unwrap(),
        cadence: None,
        schema: serde_json::from_value(schema).unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    let done = app.import(d.id, &format!("{}.csv", d.id), csv.as_bytes().to_vec(), ImportMode::Append).await;
    assert!(matches!(done, Ok(chiase_server::usecase::imports::ImportOutcome::Done(_))), "{}", d.id);
}

/// Land prices in the land database (entry 12), shared "as the sector law
/// prescribes", as the decision says: the public sees its description, not
/// its rows.
async fn land_prices(app: &TestApp) {
    let schema = json!({
        "locale": "vi",
        "fields": [
            {"name": "ma", "title": "Mã đoạn đường", "type": "string"},
            {"name": "ten_duong", "title": "Tên đường", "type": "string", "searchable": true},
            {"name": "xa", "title": "Xã, phường", "type": "string"},
            {"name": "gia", "title": "Giá đất (đồng/m²)", "type": "integer"},
            {"name": "lat", "title": "Vĩ độ", "type": "number", "geo": "lat"},
            {"name": "lon", "title": "Kinh độ", "type": "number", "geo": "lon"}
        ],
        "primaryKey": "ma"
    });
    let csv = "ma,ten_duong,xa,gia,lat,lon\n\
               D1,Đường 17/8,Phường Minh Xuân,42000000,21.8230,105.2140\n\
               D2,Đường Tân Trào,Phường Minh Xuân,38000000,21.8205,105.2111\n\
               D3,Đường Bình Thuận,Phường Tân Quang,25000000,21.8160,105.2190\n\
               D4,Quốc lộ 2,Xã An Tường,9000000,21.8420,105.1990\n";
    hosted(
        app,
        Hosted {
            id: "bang-gia-dat",
            database: 12,
            title: "Bảng giá đất ở đô thị",
            title_en: Some("Urban residential land prices"),
            description: "Giá đất ở theo đoạn đường, áp dụng 2020–2024.",
            mode: "legal",
        },
        schema,
        csv,
    )
    .await;
}

/// Schools with their places, open data in the education database (entry 13).
async fn schools(app: &TestApp) {
    let schema = json!({
        "locale": "vi",
        "fields": [
            {"name": "ma", "title": "Mã trường", "type": "string"},
            {"name": "ten", "title": "Tên trường", "type": "string", "searchable": true},
            {"name": "xa", "title": "Xã, phường", "type": "string"},
            {"name": "so_hoc_sinh", "title": "Số học sinh", "type": "integer"},
            {"name": "lat", "title": "Vĩ độ", "type": "number", "geo": "lat"},
            {"name": "lon", "title": "Kinh độ", "type": "number", "geo": "lon"}
        ],
        "primaryKey": "ma"
    });
    let csv = "ma,ten,xa,so_hoc_sinh,lat,lon\n\
               T1,Trường Tiểu học Minh Xuân,Phường Minh Xuân,820,21.8230,105.2140\n\
               T2,Trường Mầm non Hoa Sen,Phường Minh Xuân,310,21.8205,105.2111\n\
               T3,Trường THCS Tân Quang,Phường Tân Quang,640,21.8160,105.2190\n\
               T4,Trường Tiểu học An Tường,Xã An Tường,450,21.8420,105.1990\n";
    hosted(
        app,
        Hosted {
            id: "truong-hoc",
            database: 13,
            title: "Danh sách trường học",
            title_en: Some("Schools"),
            description: "Các trường mầm non, tiểu học, trung học trong tỉnh, với vị trí.",
            mode: "open",
        },
        schema,
        csv,
    )
    .await;
}

/// A dataset of staff (entry 4, Sở Nội vụ) shared on approved request only.
async fn staff(app: &TestApp) {
    let schema = json!({
        "locale": "vi",
        "fields": [
            {"name": "ma", "title": "Mã cán bộ", "type": "string"},
            {"name": "ho_ten", "title": "Họ và tên", "type": "string", "personal": "basic"},
            {"name": "don_vi", "title": "Đơn vị", "type": "string"},
            {"name": "ngach", "title": "Ngạch", "type": "string"},
            {"name": "ngay_sinh", "title": "Ngày sinh", "type": "date", "personal": "basic"}
        ],
        "primaryKey": "ma"
    });
    let csv = "ma,ho_ten,don_vi,ngach,ngay_sinh\n\
               CB1,Nguyễn Văn An,Sở Nội vụ,Chuyên viên,02/09/1985\n\
               CB2,Trần Thị Bình,Sở Tư pháp,Chuyên viên chính,15/01/1979\n";
    hosted(
        app,
        Hosted {
            id: "can-bo",
            database: 4,
            title: "Danh sách cán bộ, công chức",
            title_en: None,
            description: "Cán bộ, công chức cấp tỉnh.",
            mode: "specific",
        },
        schema,
        csv,
    )
    .await;
}

/// Whether this engine's run takes the screenshots and accessibility checks.
fn first(engine: Engine) -> bool {
    engines().first() == Some(&engine)
}

fn assert_accessible(b: &Browser) {
    assert!(b.a11y.is_empty(), "axe-core found serious or critical problems:\n{}", b.a11y.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_finds_the_land_database_then_open_school_data_filters_it_sees_the_map_and_downloads_the_view() {
    if !harness::available() {
        return;
    }
    for engine in engines() {
        // No tile server: the points sit on a plain background inside the configured outline.
        let outline = tempfile::tempdir().unwrap();
        let path = outline.path().join("ranh-gioi.geojson");
        // A square around the provincial capital: test data, not a boundary.
        std::fs::write(&path, r#"{"type":"Polygon","coordinates":[[[105.1,21.7],[105.3,21.7],[105.3,21.9],[105.1,21.9],[105.1,21.7]]]}"#)
            .unwrap();
        let app = TestApp::spawn_with(engine, move |c| c.map_outline = Some(path)).await;
        land_prices(&app).await;
        schools(&app).await;
        let mut b = Browser::start(&base(&app)).await;
        let shots = first(engine);

        // Home: a search without diacritics finds the land database.
        b.goto("/").await;
        if shots {
            b.shoot("home").await;
        }
        b.fill("#q", "dat dai").await;
        b.open("form.search button[type=submit]").await;
        b.find("ol.databases").await;
        assert!(b.text().await.contains("CSDL đất đai"), "{engine:?}: the search finds «CSDL đất đai»");
        if shots {
            b.shoot("search").await;
        }
        b.follow("CSDL đất đai").await;
        assert_eq!(b.path().await, "/databases/csdl-dat-dai", "{engine:?}");
        if shots {
            b.shoot("database").await;
        }

        // The land data is shared as the law prescribes: its page says so and shows no row.
        b.follow("Bảng giá đất ở đô thị").await;
        assert_eq!(b.path().await, "/datasets/bang-gia-dat", "{engine:?}");
        assert!(b.c.find_all(fantoccini::Locator::Css("table.grid")).await.unwrap().is_empty(), "{engine:?}: no rows for the public");
        assert!(b.text().await.contains("gửi yêu cầu khai thác"), "{engine:?}: the page says how to ask");

        // Open data: the schools, found from the home page without diacritics.
        b.open("header a.brand").await;
        b.fill("#q", "truong hoc").await;
        b.open("form.search button[type=submit]").await;
        b.follow("CSDL IOCEduTuyenQuang").await;
        b.follow("Danh sách trường học").await;
        assert_eq!(b.path().await, "/datasets/truong-hoc", "{engine:?}");
        assert_eq!(b.c.find_all(fantoccini::Locator::Css("table.grid tbody tr")).await.unwrap().len(), 4, "{engine:?}");
        let status = b.find("#map-status").await;
        b.c.wait()
            .for_element(fantoccini::Locator::XPath("//p[@id='map-status'][contains(., 'Hiển thị 4 điểm')]"))
            .await
            .unwrap_or_else(|_| panic!("{engine:?}: the map reports its 4 points"));
        assert!(status.text().await.unwrap().contains("4 điểm"));
        // Leaflet drew on its canvas (points are canvas markers).
        b.find("#map canvas.leaflet-zoom-animated").await;
        b.find("#map[data-outline-drawn='1']").await;
        if shots {
            b.shoot_element("#map", "dataset-map").await;
        }
        if shots {
            b.shoot("dataset").await;
        }

        // Filter the grid by a word of the ward's name.
        b.click("form.grid-filters summary").await;
        b.fill("input[name='xa[contains]']", "Minh Xuân").await;
        b.open("form.grid-filters button[type=submit]").await;
        b.c.wait()
            .for_element(fantoccini::Locator::XPath("//h2[@id='data-heading']/small[contains(., '2 bản ghi')]"))
            .await
            .unwrap_or_else(|_| panic!("{engine:?}: the filter leaves 2 records"));
        let rows = b.c.find_all(fantoccini::Locator::Css("table.grid tbody tr")).await.unwrap();
        assert_eq!(rows.len(), 2, "{engine:?}");
        for r in rows {
            assert!(r.text().await.unwrap().contains("Minh Xuân"), "{engine:?}");
        }

        // Download the filtered view as CSV for Excel.
        b.link("CSV (Excel)").await.click().await.unwrap();
        let (name, bytes) = b.downloaded("csv").await;
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "{engine:?}: {name} starts with a BOM for Excel");
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert_eq!(text.lines().count(), 3, "{engine:?}: header and the 2 filtered rows: {text}");
        assert!(text.contains("Trường Tiểu học Minh Xuân") && !text.contains("An Tường"), "{engine:?}: {text}");

        if shots {
            b.goto("/agencies/so-giao-duc-va-dao-tao").await;
            b.shoot("agency").await;
            b.goto("/freshness").await;
            b.shoot("freshness").await;
            b.goto("/huong-dan-khai-thac").await;
            b.shoot("how-to-ask").await;
            b.goto("/khong-co-trang-nay").await;
            b.find("form[role=search]").await;
            b.shoot("not-found").await;
            b.goto("/login").await;
            b.shoot("login").await;
        }
        assert_accessible(&b);
        b.quit().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_asks_the_steward_approves_fewer_fields_and_the_read_is_audited() {
    if !harness::available() {
        return;
    }
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        staff(&app).await;
        app.person("tttt.canbo", Some("so-thong-tin-va-truyen-thong"), Role::Member, PASSWORD).await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, PASSWORD).await;
        let mut b = Browser::start(&base(&app)).await;
        let shots = first(engine);

        // The officer of another agency asks for the staff list.
        b.sign_in("tttt.canbo", PASSWORD).await;
        b.goto("/datasets/can-bo").await;
        assert!(b.c.find_all(fantoccini::Locator::Css("table.grid")).await.unwrap().is_empty(), "{engine:?}: no rows before a grant");
        b.follow("Yêu cầu khai thác dữ liệu này").await;
        b.find("form.request").await;
        // Ask for every field, the personal ones too, with a legal basis.
        for name in ["ho_ten", "ngay_sinh"] {
            let tick = b.find(&format!("input[name=fields][value={name}]")).await;
            if !tick.is_selected().await.unwrap() {
                tick.click().await.unwrap();
            }
        }
        b.fill("#purpose", "Đối chiếu danh sách cán bộ tham gia chuyển đổi số").await;
        b.fill("#legal_basis", "Nghị định 47/2020/NĐ-CP").await;
        if shots {
            b.shoot("request-form").await;
        }
        b.open("form.request button[type=submit]").await;
        b.find("table").await;
        assert!(b.path().await.starts_with("/requests"), "{engine:?}: my requests after sending");
        assert!(b.text().await.contains("Danh sách cán bộ, công chức"), "{engine:?}");
        b.sign_out().await;

        // The steward sees the request counted in the header, and approves two fields.
        b.sign_in("noivu.steward", PASSWORD).await;
        let badge = b.find("header .badge").await.text().await.unwrap();
        assert_eq!(badge.trim(), "1", "{engine:?}: one request waits");
        b.open("header nav a[href^='/requests']").await;
        if shots {
            b.shoot("requests").await;
        }
        b.open("table tbody tr a[href^='/requests/']").await;
        b.find("form[action*='/approve']").await;
        if shots {
            b.shoot("request-decide").await;
        }
        for name in ["ho_ten", "ngay_sinh", "ngach"] {
            let tick = b.find(&format!("form[action*='/approve'] input[name=fields][value={name}]")).await;
            if tick.is_selected().await.unwrap() {
                tick.click().await.unwrap();
            }
        }
        b.fill("form[action*='/approve'] input[name=decision_no]", "15/QĐ-SNV").await;
        b.open("form[action*='/approve'] button[type=submit]").await;
        b.find("body").await;
        let decided = b.text().await;
        assert!(decided.contains("Đã duyệt") || decided.contains("đã duyệt"), "{engine:?}: {decided}");
        b.sign_out().await;

        // The officer is told of the decision, then sees the two approved fields only.
        b.sign_in("tttt.canbo", PASSWORD).await;
        b.open("header nav a[href^='/notifications']").await;
        let told = b.find("main").await.text().await.unwrap();
        assert!(told.contains("Danh sách cán bộ, công chức"), "{engine:?}: the notice names the dataset: {told}");
        if shots {
            b.shoot("notifications").await;
        }
        b.goto("/datasets/can-bo").await;
        let heads = b.c.find_all(fantoccini::Locator::Css("table.grid thead th")).await.unwrap();
        let mut titles = Vec::new();
        for h in heads {
            titles.push(h.text().await.unwrap().replace(['▲', '▼'], "").trim().to_string());
        }
        assert_eq!(titles, ["Mã cán bộ", "Đơn vị"], "{engine:?}: the approved fields only");
        assert!(!b.text().await.contains("Nguyễn Văn An"), "{engine:?}: no name");
        b.goto("/my-access").await;
        if shots {
            b.shoot("my-access").await;
        }
        b.sign_out().await;

        // The steward's audit page shows the officer's read.
        b.sign_in("noivu.steward", PASSWORD).await;
        b.open("header nav a[href^='/audit']").await;
        let log = b.find("table").await.text().await.unwrap();
        assert!(log.contains("tttt.canbo") && log.contains("xem dữ liệu"), "{engine:?}: {log}");
        if shots {
            b.shoot("audit").await;
            b.goto("/my-agency").await;
            b.find("figure.chart svg").await;
            b.shoot("my-agency").await;
        }
        assert_accessible(&b);
        b.quit().await;
    }
}

/// A workbook of land prices as an office writes it: a title row, the header, the rows.
fn price_workbook(path: &std::path::Path, third_price: &str) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write(0, 0, "BẢNG GIÁ ĐẤT Ở ĐÔ THỊ NĂM 2025").unwrap();
    for (c, h) in ["Mã đoạn đường", "Tên đường", "Xã, phường", "Giá đất (đồng/m²)", "Vĩ độ", "Kinh độ"].iter().enumerate()
    {
        ws.write(2, c as u16, *h).unwrap();
    }
    let rows = [
        ["D5", "Đường Lê Lợi", "Phường Phan Thiết", "30.000.000", "21.8190", "105.2150"],
        ["D6", "Đường Chiến Thắng Sông Lô", "Phường Tân Quang", "27.500.000", "21.8170", "105.2170"],
        ["D7", "Đường Trường Chinh", "Phường Ỷ La", third_price, "21.8000", "105.2300"],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write(3 + r as u32, c as u16, *v).unwrap();
        }
    }
    wb.save(path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steward_uploads_an_excel_file_with_a_bad_row_sees_the_report_and_uploads_the_fixed_one() {
    if !harness::available() {
        return;
    }
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        land_prices(&app).await;
        app.person("tnmt.steward", Some("so-tai-nguyen-va-moi-truong"), Role::Steward, PASSWORD).await;
        let files = tempfile::tempdir().unwrap();
        let (bad, good) = (files.path().join("gia-dat-2025.xlsx"), files.path().join("gia-dat-2025-da-sua.xlsx"));
        price_workbook(&bad, "22.000.00O");
        price_workbook(&good, "22.000.000");
        let mut b = Browser::start(&base(&app)).await;

        b.sign_in("tnmt.steward", PASSWORD).await;
        if first(engine) {
            b.goto("/datasets/new").await;
            b.find("#propose-form").await;
            b.shoot("dataset-new").await;
            b.goto("/datasets/bang-gia-dat/schema").await;
            b.find("#schema-form").await;
            b.shoot("dataset-schema").await;
            b.goto("/datasets/bang-gia-dat/edit").await;
            b.shoot("dataset-edit").await;
            b.goto("/tokens").await;
            b.shoot("tokens").await;
        }
        b.goto("/datasets/bang-gia-dat").await;
        b.follow("Tải dữ liệu lên").await;
        b.find("#upload-form").await;
        b.find("#file").await.send_keys(&bad.to_string_lossy()).await.unwrap();
        b.click("#upload-form button[type=submit]").await; // the page's script posts it and shows the answer
        let report = b.find("table.report").await.text().await.unwrap();
        assert!(report.contains("22.000.00O"), "{engine:?}: the bad value is shown: {report}");
        assert!(report.contains("Giá đất"), "{engine:?}: the column is named: {report}");
        assert!(report.lines().any(|l| l.starts_with("6 ")), "{engine:?}: row 6 of the sheet: {report}");
        assert!(b.text().await.contains("Không dòng nào được ghi"), "{engine:?}");
        if first(engine) {
            b.shoot("upload-report").await;
        }
        assert_eq!(
            chiase_store::testing::row_count(&app.store().dataset("bang-gia-dat").await.unwrap().unwrap()),
            4,
            "{engine:?}: nothing written"
        );

        // The fixed file goes in.
        b.find("#file").await.send_keys(&good.to_string_lossy()).await.unwrap();
        b.click("#upload-form button[type=submit]").await; // the page's script posts it and shows the answer
        let done = b.find(".notice.ok").await.text().await.unwrap();
        assert!(done.contains("Đã nhập xong") && done.contains("7"), "{engine:?}: {done}");
        b.follow("Xem dữ liệu").await;
        assert!(b.text().await.contains("Đường Trường Chinh"), "{engine:?}");
        assert_accessible(&b);
        b.quit().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_merges_two_agencies_and_the_catalog_names_the_new_owner() {
    if !harness::available() {
        return;
    }
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        app.person("quantri", None, Role::Admin, PASSWORD).await;
        let mut b = Browser::start(&base(&app)).await;
        b.sign_in("quantri", PASSWORD).await;
        b.open("header nav a[href^='/admin/agencies']").await;
        b.find("#merge-agency").await.select_by_value("so-khoa-hoc-va-cong-nghe").await.unwrap();
        b.find("#merge-into").await.select_by_value("so-thong-tin-va-truyen-thong").await.unwrap();
        b.set_date("#merge-on", "2025-03-01").await;
        b.open("form[aria-labelledby=f-merge] button[type=submit]").await;
        let notice = b.find(".notice.ok").await.text().await.unwrap();
        assert!(notice.contains("Đã sáp nhập"), "{engine:?}: {notice}");
        if first(engine) {
            b.shoot("admin-agencies").await;
            b.goto("/admin/users").await;
            b.find("#u-create").await;
            b.shoot("admin-users").await;
            b.goto("/admin/catalog").await;
            b.find("#catalog-form").await;
            b.shoot("admin-catalog").await;
            b.goto("/admin/settings").await;
            b.find("main table").await;
            b.shoot("admin-settings").await;
            // Harvesting: this chiase's own DCAT catalog as a source, run from the page.
            b.goto("/admin/harvest").await;
            b.fill("#h-id", "dcat-chinh-minh").await;
            b.fill("#h-url", &format!("{}/catalog.ttl", base(&app))).await;
            b.find("#h-type").await.select_by_value("dcat").await.unwrap();
            b.open("form[aria-labelledby=h-new] button[type=submit]").await;
            assert!(b.find(".notice.ok").await.text().await.unwrap().contains("Đã thêm nguồn"));
            b.open("form.inline button[value=run]").await;
            let done = b.find(".notice.ok").await.text().await.unwrap();
            assert!(done.contains("Đã thu thập") && done.contains("31 thêm"), "{done}");
            assert!(b.text().await.contains("Các mục đã thu thập (31)"));
            b.shoot("admin-harvest").await;
            assert_accessible(&b);
        }
        // The science database (entry 28) now names the merged-into agency.
        b.goto("/databases/28").await;
        let owner = b.find("a[href='/agencies/so-thong-tin-va-truyen-thong']").await.text().await.unwrap();
        assert!(owner.contains("Thông tin và Truyền thông"), "{engine:?}: {owner}");
        b.goto("/agencies/so-khoa-hoc-va-cong-nghe").await;
        assert!(b.text().await.contains("đã sáp nhập (01/03/2025)"), "{engine:?}");
        assert_accessible(&b);
        b.quit().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_shows_as_overdue_first() {
    if !harness::available() {
        return;
    }
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        staff(&app).await;
        app.person("tttt.canbo", Some("so-thong-tin-va-truyen-thong"), Role::Member, PASSWORD).await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, PASSWORD).await;
        let b = Browser::start(&base(&app)).await;
        // Two requests through the form; the first one's deadline is then moved into the past, as time would.
        b.sign_in("tttt.canbo", PASSWORD).await;
        for purpose in ["Yêu cầu cũ", "Yêu cầu mới"] {
            b.goto("/datasets/can-bo/request").await;
            b.fill("#purpose", purpose).await;
            b.open("form.request button[type=submit]").await;
            b.find("table").await;
        }
        b.sign_out().await;
        past_deadline(&app, 1).await;

        b.sign_in("noivu.steward", PASSWORD).await;
        b.goto("/requests").await;
        let rows = b.c.find_all(fantoccini::Locator::Css("table tbody tr")).await.unwrap();
        assert!(rows.len() >= 2, "{engine:?}");
        let top = rows[0].text().await.unwrap();
        assert!(top.contains("quá hạn"), "{engine:?}: the overdue request comes first and says so: {top}");
        assert_eq!(rows[0].attr("class").await.unwrap().as_deref(), Some("overdue"));
        assert!(!rows[1].text().await.unwrap().contains("quá hạn"), "{engine:?}");
        b.quit().await;
    }
}

/// Moves a request's deadline into the past.
async fn past_deadline(app: &TestApp, id: i64) {
    let past = chrono::Utc::now() - chrono::Duration::days(2);
    if app.db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        sqlx::query("UPDATE sharing_requests SET deadline_at = $1 WHERE id = $2").bind(past).bind(id).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        sqlx::query("UPDATE sharing_requests SET deadline_at = ? WHERE id = ?").bind(past).bind(id).execute(&pool).await.unwrap();
    }
}
