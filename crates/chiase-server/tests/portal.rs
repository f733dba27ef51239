//! The portal's public pages, as a citizen and a crawler meet them (issue
//! 11, first part): a database page lists the datasets it holds; an open
//! dataset's page shows its fields, a grid of its rows that filters, sorts
//! and pages, and download links for the view; a restricted dataset's page
//! shows no row; `robots.txt` and `sitemap.xml`; the site's name and the
//! reader's language.

mod common;

use axum::http::{Method, StatusCode};
use chiase_server::usecase::datasets::CreateDataset;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use common::{TestApp, engines};
use serde_json::json;

async fn setup(app: &TestApp) {
    let schema = json!({
        "locale": "vi",
        "fields": [
            {"name": "ma", "title": "Mã trường", "type": "string"},
            {"name": "ten", "title": "Tên trường", "type": "string", "searchable": true},
            {"name": "cap_hoc", "title": "Cấp học", "type": "string", "constraints": {"enum": ["Mầm non", "Tiểu học"]}},
            {"name": "so_hoc_sinh", "title": "Số học sinh", "type": "integer"},
            {"name": "ngay", "title": "Ngày cập nhật", "type": "date"},
            {"name": "ho_ten_hieu_truong", "title": "Hiệu trưởng", "type": "string", "personal": "basic"},
            {"name": "lat", "title": "Vĩ độ", "type": "number", "geo": "lat"},
            {"name": "lon", "title": "Kinh độ", "type": "number", "geo": "lon"}
        ],
        "primaryKey": "ma"
    });
    for (id, entry, mode) in [("truong-hoc", 13, "open"), ("can-bo", 4, "specific")] {
        app.create_dataset(CreateDataset {
            id: id.into(),
            database: DatabaseKey::No(entry),
            title: format!("Tập {id}"),
            title_en: Some(format!("Set {id}")),
            description: "Mô tả".into(),
            licence: None,
            sharing_mode: mode.parse().unwrap(),
            cadence: None,
            schema: serde_json::from_value(schema.clone()).unwrap(),
            template: None,
            synthetic: false,
        })
        .await;
        let csv = "ma,ten,cap_hoc,so_hoc_sinh,ngay,ho_ten_hieu_truong,lat,lon\n\
                   T1,Trường Mầm non Xã A,Mầm non,1234,15/03/2025,Nguyễn Văn Bí Mật,21.82,105.21\n\
                   T2,Trường Tiểu học Xã B,Tiểu học,80,2025-04-01,Trần Thị C,22.10,105.30\n\
                   T3,Trường Tiểu học Xã D,Tiểu học,300,,,,\n";
        let done = app.import(id, "x.csv", csv.as_bytes().to_vec(), ImportMode::Append).await;
        assert!(matches!(done, Ok(chiase_server::usecase::imports::ImportOutcome::Done(_))), "{id}");
    }
}

#[tokio::test]
async fn a_citizen_finds_the_data_of_a_database_filters_it_and_downloads_the_view() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;

        // The home page shows the open dataset among the recently updated, not the restricted one.
        let home = app.get("/").await.text();
        assert!(home.contains("href=\"/datasets/truong-hoc\"") && !home.contains("/datasets/can-bo"), "{engine:?}");
        // A page that does not exist offers the search.
        let missing = app.get("/khong-co-trang-nay").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.text().contains("role=\"search\""), "{engine:?}");

        // The database page and its API list the datasets it holds.
        let db = app.get("/databases/13").await;
        assert_eq!(db.status, StatusCode::OK);
        assert!(db.text().contains("href=\"/datasets/truong-hoc\""), "{engine:?}: the database page links its dataset");
        let api = app.get_ok("/api/v1/databases/13").await;
        assert_eq!(api["datasets"][0]["id"], "truong-hoc");
        assert_eq!(api["datasets"][0]["readable"], true);

        // The dataset page: title with the site's name, fields, the grid in Vietnamese forms.
        let page = app.get("/datasets/truong-hoc").await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.text();
        assert!(html.contains("<title>Tập truong-hoc · Cổng dữ liệu tỉnh Tuyên Quang</title>"), "{html}");
        for text in ["Mã trường", "Trường Mầm non Xã A", "1.234", "15/03/2025", "Dữ liệu mở", "3 bản ghi khớp"] {
            assert!(html.contains(text), "{engine:?}: «{text}» on the page");
        }
        // The CSV link is the view, with a BOM for Excel.
        assert!(html.contains("/api/v1/datasets/truong-hoc/export.csv?bom=true"), "{engine:?}");

        // Filtered (a word of the name), sorted, the links keep the view.
        let page = app.get(&format!("/datasets/truong-hoc?ten%5Bcontains%5D={}&sort=-so_hoc_sinh", common::enc("Tiểu"))).await;
        let html = page.text();
        assert_eq!(page.status, StatusCode::OK, "{html}");
        assert!(html.contains("2 bản ghi khớp"), "{engine:?}");
        assert!(!html.contains("Trường Mầm non Xã A"), "{engine:?}: filtered out");
        let d = html.find("Xã D").unwrap();
        let b = html.find("Xã B").unwrap();
        assert!(d < b, "{engine:?}: 300 pupils before 80");
        let csv_link = html.split("href=\"").find(|s| s.starts_with("/api/v1/datasets/truong-hoc/export.csv")).unwrap();
        let csv_link = csv_link[..csv_link.find('"').unwrap()].replace("&#38;", "&");
        let csv = app.get(&csv_link).await;
        assert_eq!(csv.status, StatusCode::OK, "{csv_link}");
        let body = csv.text();
        assert!(body.starts_with('\u{feff}'), "{engine:?}: a BOM for Excel: {csv_link} {:?}", body.chars().take(20).collect::<String>());
        assert_eq!(body.lines().count(), 3, "{engine:?}: the header and the two filtered rows: {body}");

        // The map asks the record API for the view's points, and the API answers.
        let filtered = app.get(&format!("/datasets/truong-hoc?cap_hoc={}", common::enc("Tiểu học"))).await.text();
        let records = filtered.split("data-records=\"").nth(1).expect("a map on a dataset with points");
        let records = records[..records.find('"').unwrap()].replace("&#38;", "&");
        assert!(records.contains("fields=lat%2Clon%2Cten") && records.contains("cap_hoc="), "{records}");
        let points = app.get_ok(&format!("{records}&limit=500")).await;
        let got: Vec<(String, f64)> = points["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| Some((r["ten"].as_str()?.to_string(), r["lat"].as_f64()?)))
            .collect();
        assert_eq!(got, vec![("Trường Tiểu học Xã B".to_string(), 22.10)], "{engine:?}: the filtered points with coordinates");
        assert!(filtered.contains("/assets/leaflet.js") && filtered.contains("/assets/chiase-map.js"));
        assert_eq!(app.get("/assets/leaflet.js").await.status, StatusCode::OK);

        // Facets link to their value; an empty value is a facet of its own.
        let page = app.get("/datasets/truong-hoc").await.text();
        assert!(page.contains("cap_hoc=Ti%E1%BB%83u+h%E1%BB%8Dc"), "{engine:?}: a facet link");

        // English on request, or when the browser prefers it.
        let en = app.request(Method::GET, "/datasets/truong-hoc", &[("accept-language", "en-US,en;q=0.9,vi;q=0.5")], vec![]).await.text();
        assert!(en.contains("<h1>Set truong-hoc</h1>") && en.contains("Open data"), "{engine:?}");
        let vi = app.request(Method::GET, "/datasets/truong-hoc?lang=vi", &[("accept-language", "en")], vec![]).await.text();
        assert!(vi.contains("<h1>Tập truong-hoc</h1>"), "{engine:?}: ?lang wins over the header");
    }
}

#[tokio::test]
async fn a_restricted_datasets_page_shows_no_row_and_says_how_to_ask() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        let page = app.get("/datasets/can-bo").await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.text();
        assert!(html.contains("gửi yêu cầu khai thác"), "{engine:?}");
        for secret in ["Nguyễn Văn Bí Mật", "Trường Mầm non Xã A", "export.csv", "bản ghi khớp", "data-records", "leaflet.js"]
        {
            assert!(!html.contains(secret), "{engine:?}: «{secret}» must not be on a restricted page");
        }
        // It links the page on how to ask, which names this installation's deadline.
        assert!(html.contains("href=\"/huong-dan-khai-thac\""), "{engine:?}");
        let how = app.get("/huong-dan-khai-thac").await.text();
        assert!(how.contains("trả lời trong 10 ngày") && how.contains("Dữ liệu mở"), "{engine:?}");
        // Nor do filters, sorts or cursors get anything out of it.
        let probe = app.get("/datasets/can-bo?ho_ten_hieu_truong=Nguy%E1%BB%85n&sort=ma").await.text();
        assert!(!probe.contains("Bí Mật") && !probe.contains("bản ghi khớp"), "{engine:?}");
        // The field list says which fields hold personal data.
        assert!(html.contains("Hiệu trưởng") && html.contains("cơ bản"), "{engine:?}");
        // An unknown dataset is a 404 page, not a 500.
        assert_eq!(app.get("/datasets/khong-co").await.status, StatusCode::NOT_FOUND);
        // A filter on an unknown field is a 400 page.
        assert_eq!(app.get("/datasets/truong-hoc?khong_co=1").await.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn crawlers_get_robots_and_a_sitemap_of_what_anyone_may_read() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        let robots = app.get("/robots.txt").await.text();
        assert!(robots.contains("Disallow: /api/") && robots.contains("/sitemap.xml"), "{robots}");
        let sitemap = app.get("/sitemap.xml").await;
        assert_eq!(sitemap.status, StatusCode::OK);
        let xml = sitemap.text();
        assert!(xml.contains("/datasets/truong-hoc</loc>"), "{engine:?}: the open dataset is listed");
        assert!(!xml.contains("/datasets/can-bo"), "{engine:?}: the restricted one is not");
        assert_eq!(xml.matches("/databases/").count(), 31, "{engine:?}: every database of the decision");
    }
}

#[tokio::test]
async fn a_configured_tile_server_is_named_to_the_map_and_allowed_by_the_page() {
    let app =
        TestApp::spawn_with(common::Engine::Sqlite, |cfg| cfg.map_tiles = Some("https://tiles.example.vn/{z}/{x}/{y}.png".into())).await;
    setup(&app).await;
    let page = app.get("/datasets/truong-hoc").await;
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap().to_string();
    assert!(csp.contains("img-src 'self' data: https://tiles.example.vn;"), "{csp}");
    assert!(page.text().contains("data-tiles=\"https://tiles.example.vn/{z}/{x}/{y}.png\""));
    // Other pages keep the policy without it.
    let home = app.get("/").await;
    assert!(!home.headers.get("content-security-policy").unwrap().to_str().unwrap().contains("tiles.example.vn"));
}

#[tokio::test]
async fn an_agency_page_tells_its_names_its_merger_and_its_databases() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let on = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        chiase_server::usecase::agencies::merge(
            &app.state,
            &app.operator(),
            "so-khoa-hoc-va-cong-nghe",
            "so-thong-tin-va-truyen-thong",
            on,
        )
        .await
        .unwrap_or_else(|e| panic!("merge: {}", e.msg));
        let gone = app.get("/agencies/so-khoa-hoc-va-cong-nghe").await;
        assert_eq!(gone.status, StatusCode::OK);
        let gone = gone.text();
        assert!(gone.contains("đã sáp nhập (01/03/2025)"), "{engine:?}: {gone}");
        assert!(gone.contains("href=\"/agencies/so-thong-tin-va-truyen-thong\""), "{engine:?}: a link to where it went");
        let now = app.get("/agencies/so-thong-tin-va-truyen-thong").await.text();
        assert!(now.contains("href=\"/agencies/so-khoa-hoc-va-cong-nghe\""), "{engine:?}: the predecessor is named");
        let owned = now.split("Cơ sở dữ liệu đang quản lý").nth(1).unwrap().split("</ul>").next().unwrap();
        assert!(owned.contains("CSDL Khoa học Công nghệ"), "{engine:?}: the database it took over is listed: {owned}");
        // The database page names the new owner and links the agencies.
        let db = app.get("/databases/28").await.text();
        assert!(db.contains("href=\"/agencies/so-thong-tin-va-truyen-thong\""), "{engine:?}");
        assert_eq!(app.get("/agencies/khong-co").await.status, StatusCode::NOT_FOUND);
    }
}

/// A signed-in browser: the session cookie and its anti-forgery token.
async fn session_of(app: &TestApp, username: &str) -> (String, String) {
    let user = app.store().user(username).await.unwrap().expect("the user");
    let (sid, csrf) = app.store().create_session(&user).await.unwrap();
    (format!("{}={sid}", chiase_server::auth::SESSION_COOKIE), csrf)
}

#[tokio::test]
async fn an_officer_requests_a_restricted_dataset_from_its_page_and_its_steward_sees_it_to_decide() {
    use chiase_core::policy::Role;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        app.person("tttt.canbo", Some("so-thong-tin-va-truyen-thong"), Role::Member, "mật-khẩu-đủ-dài-2025").await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        let (cookie, csrf) = session_of(&app, "tttt.canbo").await;

        // The restricted dataset's page offers the request; the form lists its fields.
        let page = app.request(Method::GET, "/datasets/can-bo", &[("cookie", &cookie)], vec![]).await.text();
        assert!(page.contains("href=\"/datasets/can-bo/request\""), "{engine:?}");
        let form = app.request(Method::GET, "/datasets/can-bo/request", &[("cookie", &cookie)], vec![]).await.text();
        assert!(form.contains("name=\"purpose\"") && form.contains("value=\"ho_ten_hieu_truong\""), "{engine:?}");
        // Without sign-in the form is not shown.
        assert!(!app.get("/datasets/can-bo/request").await.text().contains("name=\"purpose\""));

        let today = chrono::Utc::now().date_naive();
        let (start, end) = (today.format("%Y-%m-%d").to_string(), (today + chrono::Duration::days(100)).format("%Y-%m-%d").to_string());
        let shown = |d: chrono::NaiveDate| d.format("%d/%m/%Y").to_string();
        let body = |token: &str| {
            format!(
                "csrf={token}&fields=ma&fields=ten&purpose={}&legal_basis=&from={start}&to={end}",
                common::enc("Đối chiếu danh sách trường học")
            )
            .into_bytes()
        };
        let form_type = ("content-type", "application/x-www-form-urlencoded");
        // A post without the session's token changes nothing.
        let forged = app.request(Method::POST, "/datasets/can-bo/request", &[("cookie", &cookie), form_type], body("sai")).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{engine:?}");
        let sent = app.request(Method::POST, "/datasets/can-bo/request", &[("cookie", &cookie), form_type], body(&csrf)).await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{engine:?}: {}", sent.text());
        assert_eq!(sent.headers.get("location").unwrap(), "/requests?filed=1");
        let mine = app.request(Method::GET, "/requests?filed=1", &[("cookie", &cookie)], vec![]).await.text();
        assert!(mine.contains("Đã gửi yêu cầu") && mine.contains("đang chờ quyết định") && mine.contains("Tập can-bo"), "{engine:?}");
        let period = format!("{} – {}", shown(today), shown(today + chrono::Duration::days(100)));
        assert!(mine.contains(&period), "{engine:?}: the period in dd/mm/yyyy: {}", mine.split("Tập can-bo").nth(1).unwrap_or(""));

        // The owner's steward sees it waiting, counted.
        let (steward, _) = session_of(&app, "noivu.steward").await;
        let inbox = app.request(Method::GET, "/requests", &[("cookie", &steward)], vec![]).await.text();
        let waiting = inbox.split("id=\"to-decide\"").nth(1).unwrap().split("</section>").next().unwrap();
        assert!(waiting.contains("(1)") && waiting.contains("Sở Thông tin và Truyền thông"), "{engine:?}: {waiting}");
        // Every page's header counts it for the steward, not for the officer who asked.
        let home = app.request(Method::GET, "/", &[("cookie", &steward)], vec![]).await.text();
        assert!(home.contains("1 yêu cầu chờ quyết định\">1</span>"), "{engine:?}: the count in the header");
        let theirs = app.request(Method::GET, "/", &[("cookie", &cookie)], vec![]).await.text();
        assert!(!theirs.contains("class=\"badge\""), "{engine:?}");
        // The steward opens it and approves it with fewer fields; a forged decision changes nothing.
        let link = waiting.split("href=\"/requests/").nth(1).unwrap();
        let id: i64 = link[..link.find('"').unwrap()].parse().unwrap();
        let (steward_cookie, steward_csrf) = session_of(&app, "noivu.steward").await;
        let detail = app.request(Method::GET, &format!("/requests/{id}"), &[("cookie", &steward_cookie)], vec![]).await.text();
        assert!(detail.contains("Duyệt yêu cầu") && detail.contains("Đối chiếu danh sách trường học"), "{engine:?}");
        let granted_to = today + chrono::Duration::days(30);
        let approve = |token: &str| {
            format!(
                "csrf={token}&fields=ma&from={start}&to={}&decision_no=12%2FQ%C4%90-SNV&decision_date={start}",
                granted_to.format("%Y-%m-%d")
            )
            .into_bytes()
        };
        let forged =
            app.request(Method::POST, &format!("/requests/{id}/approve"), &[("cookie", &steward_cookie), form_type], approve("sai")).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        // The requester cannot decide its own request.
        let own = app.request(Method::POST, &format!("/requests/{id}/approve"), &[("cookie", &cookie), form_type], approve(&csrf)).await;
        assert_eq!(own.status, StatusCode::FORBIDDEN, "{engine:?}");
        let done = app
            .request(Method::POST, &format!("/requests/{id}/approve"), &[("cookie", &steward_cookie), form_type], approve(&steward_csrf))
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{engine:?}: {}", done.text());
        let decided = app.request(Method::GET, &format!("/requests/{id}"), &[("cookie", &cookie)], vec![]).await.text();
        let granted = format!("{} – {}", shown(today), shown(granted_to));
        assert!(decided.contains("đã duyệt") && decided.contains("12/QĐ-SNV") && decided.contains(&granted), "{engine:?}: {decided}");
        // The officer now reads the rows, the granted field only.
        let grid = app.request(Method::GET, "/datasets/can-bo", &[("cookie", &cookie)], vec![]).await.text();
        assert!(
            grid.contains("<td>T1</td>") && grid.contains("3 bản ghi khớp"),
            "{engine:?}: the granted field's values: {}",
            grid.split("<h1>").nth(1).unwrap_or("").chars().take(1500).collect::<String>()
        );
        assert!(!grid.contains("Trường Mầm non Xã A") && !grid.contains("Bí Mật"), "{engine:?}: nothing beyond the grant");
        // "What I can read" says why, until when, and how many fields.
        let access = app.request(Method::GET, "/my-access", &[("cookie", &cookie)], vec![]).await.text();
        let row = access.split("Tập can-bo").nth(1).unwrap().split("</tr>").next().unwrap();
        assert!(
            row.contains("theo yêu cầu chia sẻ đã được phê duyệt") && row.contains(&format!("đến hết ngày {}", shown(granted_to))),
            "{engine:?}: {row}"
        );
        assert!(row.contains("1 / 8"), "{engine:?}: one field of eight: {row}");
        // The steward's audit page shows that read, and its CSV is the same view.
        let log = app.request(Method::GET, "/audit?dataset=can-bo&action=read", &[("cookie", &steward_cookie)], vec![]).await;
        assert_eq!(log.status, StatusCode::OK);
        let log = log.text();
        assert!(log.contains("user:tttt.canbo") && log.contains("xem dữ liệu (read)"), "{engine:?}: the officer's read is logged");
        let csv_link = log.split("href=\"/api/v1/audit").nth(1).unwrap();
        let csv_link = format!("/api/v1/audit{}", csv_link[..csv_link.find('"').unwrap()].replace("&#38;", "&"));
        let csv = app.request(Method::GET, &csv_link, &[("cookie", &steward_cookie)], vec![]).await;
        assert_eq!(csv.status, StatusCode::OK, "{csv_link}");
        assert!(csv.text().contains("user:tttt.canbo"), "{engine:?}");
        // An officer without a steward's role may not read the log.
        assert_eq!(app.request(Method::GET, "/audit", &[("cookie", &cookie)], vec![]).await.status, StatusCode::FORBIDDEN);

        // A purpose left empty is refused with the reason, on the form.
        let empty = format!("csrf={csrf}&fields=ma&purpose=&from=2026-12-01&to=2027-01-01").into_bytes();
        let refused = app.request(Method::POST, "/datasets/can-bo/request", &[("cookie", &cookie), form_type], empty).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?}");
        assert!(refused.text().contains("mục đích sử dụng"), "{engine:?}");
    }
}

async fn post_form(app: &TestApp, cookie: &str, path: &str, body: String) -> common::Resp {
    app.request(Method::POST, path, &[("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")], body.into_bytes()).await
}

async fn post_admin(app: &TestApp, cookie: &str, body: Vec<u8>) -> common::Resp {
    app.request(Method::POST, "/admin/agencies", &[("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")], body).await
}

async fn rows_of(app: &TestApp, id: &str) -> i64 {
    chiase_store::testing::row_count(&app.store().dataset(id).await.unwrap().unwrap())
}

/// Posts the upload form of dataset truong-hoc.
async fn upload(app: &TestApp, cookie: &str, csrf: &str, mode: &str, file: &str) -> common::Resp {
    let (content_type, body) = upload_form(csrf, mode, "truong.csv", file.as_bytes());
    app.request(Method::POST, "/datasets/truong-hoc/upload", &[("cookie", cookie), ("content-type", &content_type)], body).await
}

/// A multipart body as a browser's upload form sends it: text parts, then the file.
fn upload_form(csrf: &str, mode: &str, name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----chiase-test-boundary";
    let mut body = Vec::new();
    for (k, v) in [("csrf", csrf), ("mode", mode)] {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_upload_page_imports_for_the_owners_steward_only_and_shows_a_refused_file_row_by_row() {
    use chiase_core::policy::Role;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        app.person("gd.steward", Some("so-giao-duc-va-dao-tao"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        let (cookie, csrf) = session_of(&app, "gd.steward").await;
        let (other, other_csrf) = session_of(&app, "noivu.steward").await;
        let before = rows_of(&app, "truong-hoc").await;

        // The dataset page offers the upload to its owner's steward only.
        let page = app.request(Method::GET, "/datasets/truong-hoc", &[("cookie", &cookie)], vec![]).await.text();
        assert!(page.contains("href=\"/datasets/truong-hoc/upload\""), "{engine:?}");
        let page = app.request(Method::GET, "/datasets/truong-hoc", &[("cookie", &other)], vec![]).await.text();
        assert!(!page.contains("/upload\""), "{engine:?}");
        assert!(!app.get("/datasets/truong-hoc").await.text().contains("/upload\""), "{engine:?}");
        let form = app.request(Method::GET, "/datasets/truong-hoc/upload", &[("cookie", &other)], vec![]).await.text();
        assert!(!form.contains("type=\"file\"") && form.contains("Chỉ cán bộ quản lý dữ liệu của cơ quan chủ quản"), "{engine:?}");

        let good = "ma,ten,cap_hoc,so_hoc_sinh,ngay\nT9,Trường Tiểu học Xã E,Tiểu học,\"1.250\",01/09/2025\n";
        let bad = "ma,ten,cap_hoc,so_hoc_sinh,ngay\nT9,Trường Tiểu học Xã E,Tiểu học,nhiều,01/09/2025\n";
        // A forged form, another agency's steward and an unknown mode change nothing.
        assert_eq!(upload(&app, &cookie, "sai", "append", good).await.status, StatusCode::FORBIDDEN, "{engine:?}");
        assert_eq!(upload(&app, &other, &other_csrf, "append", good).await.status, StatusCode::FORBIDDEN, "{engine:?}");
        assert_eq!(upload(&app, &cookie, &csrf, "xoa-het", good).await.status, StatusCode::BAD_REQUEST, "{engine:?}");
        // A bad row: the report as a table, nothing written.
        let refused = upload(&app, &cookie, &csrf, "append", bad).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?}");
        let report = refused.text();
        assert!(report.contains("<table class=\"report\">") && report.contains("<code>nhiều</code>"), "{engine:?}: {report}");
        assert_eq!(rows_of(&app, "truong-hoc").await, before, "{engine:?}");
        // The right file goes in, Vietnamese number and date as written.
        let done = upload(&app, &cookie, &csrf, "append", good).await;
        assert_eq!(done.status, StatusCode::OK, "{engine:?}: {}", done.text());
        assert!(done.text().contains("Đã nhập xong"), "{engine:?}");
        assert_eq!(rows_of(&app, "truong-hoc").await, before + 1, "{engine:?}");
        let t9 = app.get_ok("/api/v1/datasets/truong-hoc/records/T9").await;
        assert_eq!(t9["so_hoc_sinh"], 1250, "{engine:?}");
    }
}

#[tokio::test]
async fn agency_administration_is_for_administrators_with_the_sessions_token() {
    use chiase_core::policy::Role;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        app.person("quantri", None, Role::Admin, "mật-khẩu-đủ-dài-2025").await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        let (admin, csrf) = session_of(&app, "quantri").await;
        let (steward, steward_csrf) = session_of(&app, "noivu.steward").await;
        let rename = |token: &str| {
            format!("csrf={token}&action=rename&agency=so-noi-vu&name={}&on=2025-07-01", common::enc("Sở Nội vụ tỉnh Tuyên Quang"))
                .into_bytes()
        };

        assert_eq!(app.get("/admin/agencies").await.status, StatusCode::SEE_OTHER, "{engine:?}: the public is sent to sign in");
        assert_eq!(app.request(Method::GET, "/admin/agencies", &[("cookie", &steward)], vec![]).await.status, StatusCode::FORBIDDEN);
        let page = app.request(Method::GET, "/admin/agencies", &[("cookie", &admin)], vec![]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("id=\"merge-into\""), "{engine:?}");
        assert_eq!(post_admin(&app, &steward, rename(&steward_csrf)).await.status, StatusCode::FORBIDDEN, "{engine:?}");
        assert_eq!(post_admin(&app, &admin, rename("sai")).await.status, StatusCode::FORBIDDEN, "{engine:?}");
        let bad_date = format!("csrf={csrf}&action=rename&agency=so-noi-vu&name=X&on=31/02/2025").into_bytes();
        let refused = post_admin(&app, &admin, bad_date).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{engine:?}");
        assert!(refused.text().contains("ngày «31/02/2025» không hợp lệ"), "{engine:?}");
        assert!(app.get("/agencies/so-noi-vu").await.text().contains("<h1>Sở Nội vụ</h1>"), "{engine:?}: nothing changed");

        let done = post_admin(&app, &admin, rename(&csrf)).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{engine:?}: {}", done.text());
        let agency = app.get("/agencies/so-noi-vu").await.text();
        assert!(agency.contains("<h1>Sở Nội vụ tỉnh Tuyên Quang</h1>") && agency.contains("01/07/2025"), "{engine:?}");
        let events = app.get_ok("/api/v1/agencies/so-noi-vu").await;
        assert_eq!(events["name"], "Sở Nội vụ tỉnh Tuyên Quang");
    }
}

#[tokio::test]
async fn my_agency_lists_its_datasets_and_shows_stewards_how_much_they_were_read() {
    use chiase_core::policy::Role;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        app.person("gd.steward", Some("so-giao-duc-va-dao-tao"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        app.person("gd.canbo", Some("so-giao-duc-va-dao-tao"), Role::Member, "mật-khẩu-đủ-dài-2025").await;
        let steward_token = app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        let (steward, _) = session_of(&app, "gd.steward").await;
        let (member, _) = session_of(&app, "gd.canbo").await;
        // Three reads of the open schools, one audited read of the staff list by its owner's steward.
        for _ in 0..3 {
            app.get_ok("/api/v1/datasets/truong-hoc/records").await;
        }
        let auth = format!("Bearer {steward_token}");
        let read = app.request(Method::GET, "/api/v1/datasets/can-bo/records", &[("authorization", &auth)], vec![]).await;
        assert_eq!(read.status, StatusCode::OK, "{engine:?}");

        assert_eq!(app.get("/my-agency").await.status, StatusCode::SEE_OTHER, "{engine:?}: the public is sent to sign in");
        let page = app.request(Method::GET, "/my-agency", &[("cookie", &steward)], vec![]).await;
        assert_eq!(page.status, StatusCode::OK, "{engine:?}");
        let page = page.text();
        assert!(page.contains("Sở Giáo dục và Đào tạo") && page.contains("href=\"/datasets/truong-hoc\""), "{engine:?}");
        assert!(!page.contains("href=\"/datasets/can-bo\""), "{engine:?}: another agency's dataset is not ours");
        assert!(page.contains("href=\"/datasets/truong-hoc/upload\""), "{engine:?}: the steward may upload");
        // The chart counts this week's three open reads.
        assert!(page.contains("<svg") && page.contains("<td class=\"num\">3</td>"), "{engine:?}: {page}");
        // An officer sees the list, no chart and no upload link.
        let plain = app.request(Method::GET, "/my-agency", &[("cookie", &member)], vec![]).await.text();
        assert!(plain.contains("href=\"/datasets/truong-hoc\"") && !plain.contains("<svg") && !plain.contains("/upload\""), "{engine:?}");

        // The staff list's steward sees its own audited read.
        let (noivu, _) = session_of(&app, "noivu.steward").await;
        let mut seen = false;
        for _ in 0..50 {
            let p = app.request(Method::GET, "/my-agency", &[("cookie", &noivu)], vec![]).await.text();
            if p.contains("<td>0</td><td class=\"num\">0</td><td class=\"num\">1</td>")
                || p.contains("<td class=\"num\">0</td><td class=\"num\">1</td>")
            {
                seen = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(seen, "{engine:?}: the audited read is counted in its week");
    }
}

/// A multipart body of text parts and, optionally, a file.
fn multipart(parts: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----chiase-test-boundary";
    let mut body = Vec::new();
    for (k, v) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The value of a hidden input named `name` in a page (HTML-unescaped).
fn hidden(page: &str, name: &str) -> String {
    let at = page.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in the page"));
    let rest = &page[at + name.len() + 15..];
    let raw = &rest[..rest.find('"').unwrap()];
    raw.replace("&#34;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&#38;", "&").replace("&amp;", "&")
}

#[tokio::test]
async fn a_steward_creates_a_dataset_from_a_sample_file_after_reviewing_the_proposal() {
    use chiase_core::policy::Role;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        app.person("gd.steward", Some("so-giao-duc-va-dao-tao"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        let (cookie, csrf) = session_of(&app, "gd.steward").await;
        let (other, other_csrf) = session_of(&app, "noivu.steward").await;

        // Step one offers the agency's own database and its templates.
        let start = app.request(Method::GET, "/datasets/new", &[("cookie", &cookie)], vec![]).await.text();
        assert!(start.contains("13. CSDL IOCEduTuyenQuang"), "{engine:?}: {start}");
        assert!(!start.contains("CSDL Quản lý hồ sơ cán bộ"), "{engine:?}: not another agency's database");
        let db = {
            let at = start.find("<select id=\"database\" name=\"database\" required><option value=\"").unwrap();
            let rest = &start[at + 62..];
            rest[..rest.find('"').unwrap()].to_string()
        };

        // A sample file: the proposal names its columns, nothing is created yet.
        let sample = "Mã trường,Tên trường,Số học sinh,Ngày thành lập,Ghi chú\nT1,Trường Tiểu học Xã A,\"1.234\",01/09/1999,\nT2,Trường Mầm non Xã B,85,15/08/2005,mới\n";
        let (ct, body) =
            multipart(&[("csrf", &csrf), ("database", &db), ("template", "")], Some(("truong-hoc-2025.csv", sample.as_bytes())));
        let review = app.request(Method::POST, "/datasets/new/propose", &[("cookie", &cookie), ("content-type", &ct)], body).await;
        assert_eq!(review.status, StatusCode::OK, "{engine:?}: {}", review.text());
        let review = review.text();
        assert!(review.contains("id=\"review-form\"") && review.contains("Trường Tiểu học Xã A"), "{engine:?}");
        let schema = hidden(&review, "schema");
        let proposed: serde_json::Value = serde_json::from_str(&schema).unwrap();
        let names: Vec<String> = proposed["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(names.len(), 5, "{engine:?}: {names:?}");
        assert!(app.store().datasets(None).await.unwrap().is_empty(), "{engine:?}: nothing created by a proposal");

        // Keep four columns (not the notes), title one, mark the name required.
        let mut form = vec![
            ("csrf".to_string(), csrf.clone()),
            ("database".into(), db.clone()),
            ("template".into(), String::new()),
            ("schema".into(), schema.clone()),
            ("title".into(), "Danh sách trường học 2025".into()),
            ("id".into(), "truong-hoc-2025".into()),
            ("description".into(), "Trường học trong tỉnh năm học 2025–2026.".into()),
            ("licence".into(), "CC-BY-4.0".into()),
            ("sharing".into(), "open".into()),
        ];
        for (i, _) in names.iter().enumerate().take(4) {
            form.push((format!("f{i}_keep"), "1".into()));
            form.push((format!("f{i}_type"), proposed["fields"][i]["type"].as_str().unwrap().into()));
        }
        form.push(("f1_title".into(), "Tên trường học".into()));
        form.push(("f1_required".into(), "1".into()));
        let encoded =
            |pairs: &[(String, String)]| form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter()).finish().into_bytes();
        let form_type = ("content-type", "application/x-www-form-urlencoded");

        // Another agency's steward, a forged form: refused, nothing created.
        let mut theirs = form.clone();
        theirs[0].1 = other_csrf.clone();
        assert_eq!(
            app.request(Method::POST, "/datasets/new", &[("cookie", &other), form_type], encoded(&theirs)).await.status,
            StatusCode::FORBIDDEN
        );
        let mut forged = form.clone();
        forged[0].1 = "sai".into();
        assert_eq!(
            app.request(Method::POST, "/datasets/new", &[("cookie", &cookie), form_type], encoded(&forged)).await.status,
            StatusCode::FORBIDDEN
        );
        // A mode the catalog does not give this database: the review again, with the reason.
        let mut closed = form.clone();
        closed[8].1 = "legal".into();
        let refused = app.request(Method::POST, "/datasets/new", &[("cookie", &cookie), form_type], encoded(&closed)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{engine:?}");
        assert!(
            refused.text().contains("id=\"review-form\"") && refused.text().contains("Tên trường học"),
            "{engine:?}: the edits are kept"
        );
        assert!(app.store().datasets(None).await.unwrap().is_empty(), "{engine:?}");

        let made = app.request(Method::POST, "/datasets/new", &[("cookie", &cookie), form_type], encoded(&form)).await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{engine:?}: {}", made.text());
        assert_eq!(made.headers["location"], "/datasets/truong-hoc-2025/upload");
        let ds = app.store().dataset("truong-hoc-2025").await.unwrap().expect("created");
        assert_eq!(ds.schema.fields.len(), 4, "{engine:?}: the notes column was left out");
        assert_eq!(ds.schema.fields[1].title.as_deref(), Some("Tên trường học"));
        assert!(ds.schema.fields[1].constraints.required);
        assert_eq!(ds.owner.id, "so-giao-duc-va-dao-tao");

        // From a template of the same database: its title and schema are proposed as they are.
        let t = chiase_io::templates::all().into_iter().find(|t| t.database_no == 13).expect("a template of database 13");
        let (ct, body) = multipart(&[("csrf", &csrf), ("database", &db), ("template", &t.template)], None);
        let review = app.request(Method::POST, "/datasets/new/propose", &[("cookie", &cookie), ("content-type", &ct)], body).await.text();
        assert!(review.contains(&format!("value=\"{}\"", t.title)), "{engine:?}: the template's title is proposed: {} {review}", t.title);
        let schema = hidden(&review, "schema");
        let n = serde_json::from_str::<serde_json::Value>(&schema).unwrap()["fields"].as_array().unwrap().len();
        let mut form = vec![
            ("csrf".to_string(), csrf.clone()),
            ("database".into(), db.clone()),
            ("template".into(), t.template.clone()),
            ("schema".into(), schema),
            ("title".into(), t.title.clone()),
            ("id".into(), t.slug.clone()),
            ("sharing".into(), t.sharing_mode.clone()),
        ];
        form.extend((0..n).map(|i| (format!("f{i}_keep"), "1".to_string())));
        let made = app.request(Method::POST, "/datasets/new", &[("cookie", &cookie), form_type], encoded(&form)).await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{engine:?}: {}", made.text());
        let ds = app.store().dataset(&t.slug).await.unwrap().expect("created from the template");
        assert_eq!((ds.template.as_deref(), ds.schema.fields.len()), (Some(t.template.as_str()), n), "{engine:?}");
    }
}

#[tokio::test]
async fn an_officer_withdraws_a_request_and_a_steward_revokes_a_grant_from_the_request_page() {
    use chiase_core::policy::Role;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        app.person("tttt.canbo", Some("so-thong-tin-va-truyen-thong"), Role::Member, "mật-khẩu-đủ-dài-2025").await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        let (officer, officer_csrf) = session_of(&app, "tttt.canbo").await;
        let (steward, steward_csrf) = session_of(&app, "noivu.steward").await;
        let form_type = ("content-type", "application/x-www-form-urlencoded");
        let today = chrono::Utc::now().date_naive();
        let file = |purpose: &str| {
            format!("csrf={officer_csrf}&fields=ma&purpose={}&from={today}&to={}", common::enc(purpose), today + chrono::Duration::days(90))
                .into_bytes()
        };
        for purpose in ["Thử rút", "Thử thu hồi"] {
            let sent = app.request(Method::POST, "/datasets/can-bo/request", &[("cookie", &officer), form_type], file(purpose)).await;
            assert_eq!(sent.status, StatusCode::SEE_OTHER, "{engine:?}");
        }

        // The officer withdraws the first; the steward cannot withdraw it for them.
        let page = app.request(Method::GET, "/requests/1", &[("cookie", &officer)], vec![]).await.text();
        assert!(page.contains("/requests/1/withdraw") && !page.contains("/requests/1/revoke"), "{engine:?}");
        let theirs = post_form(&app, &steward, "/requests/1/withdraw", format!("csrf={steward_csrf}")).await;
        assert_eq!(theirs.status, StatusCode::FORBIDDEN, "{engine:?}");
        let forged = post_form(&app, &officer, "/requests/1/withdraw", "csrf=sai".into()).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{engine:?}");
        let done = post_form(&app, &officer, "/requests/1/withdraw", format!("csrf={officer_csrf}")).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{engine:?}: {}", done.text());
        let page = app.request(Method::GET, "/requests/1", &[("cookie", &officer)], vec![]).await.text();
        assert!(page.contains("đã rút") && !page.contains("/requests/1/withdraw"), "{engine:?}");

        // The second is approved, then revoked with a reason; the officer's agency reads nothing more.
        let approve = format!("csrf={steward_csrf}&fields=ma&from={today}&to={}", today + chrono::Duration::days(30));
        assert_eq!(post_form(&app, &steward, "/requests/2/approve", approve).await.status, StatusCode::SEE_OTHER, "{engine:?}");
        let rows = app.request(Method::GET, "/datasets/can-bo", &[("cookie", &officer)], vec![]).await.text();
        assert!(rows.contains("<table class=\"grid\">"), "{engine:?}: the grant opens the rows");
        let page = app.request(Method::GET, "/requests/2", &[("cookie", &steward)], vec![]).await.text();
        assert!(page.contains("/requests/2/revoke"), "{engine:?}");
        let no_reason = post_form(&app, &steward, "/requests/2/revoke", format!("csrf={steward_csrf}")).await;
        assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?}: a reason is required: {}", no_reason.text());
        let revoked = post_form(
            &app,
            &steward,
            "/requests/2/revoke",
            format!("csrf={steward_csrf}&reason={}", common::enc("Hết nhu cầu theo công văn 12/SNV")),
        )
        .await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{engine:?}: {}", revoked.text());
        let rows = app.request(Method::GET, "/datasets/can-bo", &[("cookie", &officer)], vec![]).await.text();
        assert!(!rows.contains("<table class=\"grid\">"), "{engine:?}: no rows after the revocation");
    }
}

#[tokio::test]
async fn an_administrator_creates_moves_and_disables_accounts_from_the_users_page() {
    use chiase_core::policy::Role;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        app.person("quantri", None, Role::Admin, "mật-khẩu-đủ-dài-2025").await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        let (admin, csrf) = session_of(&app, "quantri").await;
        let (steward, steward_csrf) = session_of(&app, "noivu.steward").await;
        assert_eq!(app.request(Method::GET, "/admin/users", &[("cookie", &steward)], vec![]).await.status, StatusCode::FORBIDDEN);
        let page = app.request(Method::GET, "/admin/users", &[("cookie", &admin)], vec![]).await.text();
        assert!(page.contains("<code>noivu.steward</code>") && page.contains("cán bộ quản lý dữ liệu"), "{engine:?}");

        let create = |token: &str, password: &str| {
            format!(
                "csrf={token}&action=create&username=tp.canbo&display_name={}&agency=so-tu-phap&role=member&email=canbo%40stp.tuyenquang.gov.vn&password={}",
                common::enc("Lê Văn Pháp"),
                common::enc(password)
            )
        };
        assert_eq!(
            post_form(&app, &steward, "/admin/users", create(&steward_csrf, "mật-khẩu-đủ-dài-2025")).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(post_form(&app, &admin, "/admin/users", create("sai", "mật-khẩu-đủ-dài-2025")).await.status, StatusCode::FORBIDDEN);
        let short = post_form(&app, &admin, "/admin/users", create(&csrf, "ngắn")).await;
        assert_eq!(short.status, StatusCode::BAD_REQUEST, "{engine:?}");
        assert!(short.text().contains("mật khẩu phải dài từ 12 ký tự"), "{engine:?}");
        assert!(app.store().user("tp.canbo").await.unwrap().is_none(), "{engine:?}: nothing created");

        let made = post_form(&app, &admin, "/admin/users", create(&csrf, "mật-khẩu-đủ-dài-2025")).await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{engine:?}: {}", made.text());
        let u = app.store().user("tp.canbo").await.unwrap().expect("created");
        assert_eq!(
            (u.display_name.as_str(), u.agency.as_ref().map(|a| a.id.as_str()), u.role),
            ("Lê Văn Pháp", Some("so-tu-phap"), Role::Member)
        );
        assert_eq!(u.email.as_deref(), Some("canbo@stp.tuyenquang.gov.vn"));

        let moved =
            post_form(&app, &admin, "/admin/users", format!("csrf={csrf}&action=move&username=tp.canbo&agency=so-noi-vu&role=steward"))
                .await;
        assert_eq!(moved.status, StatusCode::SEE_OTHER, "{engine:?}");
        let u = app.store().user("tp.canbo").await.unwrap().unwrap();
        assert_eq!((u.agency.as_ref().map(|a| a.id.as_str()), u.role), (Some("so-noi-vu"), Role::Steward), "{engine:?}");

        let (their_cookie, _) = session_of(&app, "tp.canbo").await;
        assert_eq!(app.request(Method::GET, "/my-agency", &[("cookie", &their_cookie)], vec![]).await.status, StatusCode::OK);
        let off = post_form(&app, &admin, "/admin/users", format!("csrf={csrf}&action=disable&username=tp.canbo")).await;
        assert_eq!(off.status, StatusCode::SEE_OTHER, "{engine:?}");
        assert_eq!(app.store().user("tp.canbo").await.unwrap().unwrap().status, "disabled", "{engine:?}");
        let after = app.request(Method::GET, "/my-agency", &[("cookie", &their_cookie)], vec![]).await;
        assert_ne!(after.status, StatusCode::OK, "{engine:?}: the disabled account's session ended");
    }
}

#[tokio::test]
async fn an_administrator_previews_a_new_decisions_catalog_and_publishes_it() {
    use chiase_core::policy::Role;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        app.person("quantri", None, Role::Admin, "mật-khẩu-đủ-dài-2025").await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        let (admin, csrf) = session_of(&app, "quantri").await;
        let (steward, steward_csrf) = session_of(&app, "noivu.steward").await;
        // The new decision: entry 12 is now updated on every change, not yearly.
        let builtin = chiase_io::decision_table::BUILTIN_641;
        let new = builtin
            .replace("Kèm theo Quyết định số 641/QĐ-UBND ngày 06/6/2022", "Kèm theo Quyết định số 99/QĐ-UBND ngày 02/3/2026")
            .replace(
                "- Sở Tài nguyên và Môi trường thu thập và tổng hợp - Cập nhật hàng năm theo quy định",
                "- Sở Tài nguyên và Môi trường cập nhật khi có biến động",
            );
        assert_ne!(new, builtin);
        assert_eq!(app.request(Method::GET, "/admin/catalog", &[("cookie", &steward)], vec![]).await.status, StatusCode::FORBIDDEN);
        assert_eq!(preview_catalog(&app, &steward, &steward_csrf, &new).await.status, StatusCode::FORBIDDEN, "{engine:?}");
        let shown = preview_catalog(&app, &admin, &csrf, &new).await;
        assert_eq!(shown.status, StatusCode::OK, "{engine:?}: {}", shown.text());
        let page = shown.text();
        assert!(page.contains("<strong>0</strong> cơ sở dữ liệu mới") && page.contains("<code>cadence</code>"), "{engine:?}: {page}");
        assert!(page.contains("name=\"decision\" value=\"99/QĐ-UBND\""), "{engine:?}: the decision from the file's title");
        assert_eq!(app.store().catalog_versions().await.unwrap().len(), 1, "{engine:?}: a preview writes nothing");

        let mut form: Vec<(String, String)> =
            ["file_name", "file_b64", "sha256", "decision", "signer"].iter().map(|k| (k.to_string(), hidden_or_input(&page, k))).collect();
        form.push(("date".into(), "2026-03-02".into()));
        form.push(("csrf".into(), csrf.clone()));
        let encoded = |pairs: &[(String, String)]| form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter()).finish();
        // A file changed after the preview is refused.
        let mut tampered = form.clone();
        tampered[2].1 = "0".repeat(64);
        let refused = post_form(&app, &admin, "/admin/catalog", encoded(&tampered)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{engine:?}");
        assert_eq!(app.store().catalog_versions().await.unwrap().len(), 1, "{engine:?}");

        let published = post_form(&app, &admin, "/admin/catalog", encoded(&form)).await;
        assert_eq!(published.status, StatusCode::SEE_OTHER, "{engine:?}: {}", published.text());
        let versions = app.store().catalog_versions().await.unwrap();
        assert_eq!(versions.len(), 2, "{engine:?}");
        assert_eq!(versions[1].decision_no, "99/QĐ-UBND");
        let db = app.get_ok("/api/v1/databases/12").await;
        assert_eq!(db["cadence"], "on_change", "{engine:?}");
        // Publishing the same decision twice is refused, nothing written.
        let again = post_form(&app, &admin, "/admin/catalog", encoded(&form)).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{engine:?}");
        assert!(again.text().contains("đã được nhập"), "{engine:?}");
    }
}

async fn preview_catalog(app: &TestApp, cookie: &str, csrf: &str, table: &str) -> common::Resp {
    let (ct, body) =
        multipart(&[("csrf", csrf), ("decision", ""), ("date", ""), ("signer", "")], Some(("danh-muc-99.txt", table.as_bytes())));
    app.request(Method::POST, "/admin/catalog/preview", &[("cookie", cookie), ("content-type", &ct)], body).await
}

/// The value of an input named `name`, hidden or not.
fn hidden_or_input(page: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = page.find(&key).unwrap_or_else(|| panic!("no {name} in the page"));
    let rest = &page[at + key.len()..];
    rest[..rest.find('"').unwrap()].replace("&#43;", "+").replace("&#47;", "/").replace("&#61;", "=").replace("&#38;", "&")
}

#[tokio::test]
async fn an_officer_makes_an_api_token_sees_it_once_uses_it_and_revokes_it() {
    use chiase_core::policy::Role;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        app.person("tttt.canbo", Some("so-thong-tin-va-truyen-thong"), Role::Member, "mật-khẩu-đủ-dài-2025").await;
        app.person("noivu.canbo", Some("so-noi-vu"), Role::Member, "mật-khẩu-đủ-dài-2025").await;
        app.person("quantri", None, Role::Admin, "mật-khẩu-đủ-dài-2025").await;
        let (me, csrf) = session_of(&app, "tttt.canbo").await;
        let (other, other_csrf) = session_of(&app, "noivu.canbo").await;
        let (admin, _) = session_of(&app, "quantri").await;

        assert_eq!(post_form(&app, &me, "/tokens", "csrf=sai&action=create&name=x&days=30".into()).await.status, StatusCode::FORBIDDEN);
        let bad_days = post_form(&app, &me, "/tokens", format!("csrf={csrf}&action=create&name=x&days=99999")).await;
        assert_eq!(bad_days.status, StatusCode::BAD_REQUEST, "{engine:?}");
        let made =
            post_form(&app, &me, "/tokens", format!("csrf={csrf}&action=create&name={}&days=30", common::enc("Báo cáo hằng tuần"))).await;
        assert_eq!(made.status, StatusCode::OK, "{engine:?}");
        let page = made.text();
        let secret = {
            let at = page.find("<code id=\"new-token\">").expect("the new token is shown") + 21;
            page[at..at + page[at..].find('<').unwrap()].to_string()
        };
        assert!(page.contains("Báo cáo hằng tuần"), "{engine:?}");
        // Shown once: the list afterwards has its first characters only.
        let again = app.request(Method::GET, "/tokens", &[("cookie", &me)], vec![]).await.text();
        assert!(!again.contains(&secret) && again.contains("còn hiệu lực"), "{engine:?}");
        let auth = format!("Bearer {secret}");
        let headers = [("authorization", auth.as_str())];
        let call = || app.request(Method::GET, "/api/v1/datasets", &headers, vec![]);
        assert_eq!(call().await.status, StatusCode::OK, "{engine:?}: the token works");

        // The row of this token (the account has the one `person` made too).
        let token_id = {
            let row = &again[again.find("<td>Báo cáo hằng tuần</td>").expect("its row")..];
            let at = row.find("name=\"id\" value=\"").unwrap() + 17;
            row[at..at + row[at..].find('"').unwrap()].to_string()
        };
        // Another officer cannot revoke it, nor see it; an administrator sees it.
        let theirs = post_form(&app, &other, "/tokens", format!("csrf={other_csrf}&action=revoke&id={token_id}")).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{engine:?}");
        assert_eq!(app.request(Method::GET, "/tokens?user=tttt.canbo", &[("cookie", &other)], vec![]).await.status, StatusCode::FORBIDDEN);
        let seen = app.request(Method::GET, "/tokens?user=tttt.canbo", &[("cookie", &admin)], vec![]).await;
        assert!(seen.text().contains("Báo cáo hằng tuần"), "{engine:?}");
        assert_eq!(call().await.status, StatusCode::OK, "{engine:?}");

        let revoked = post_form(&app, &me, "/tokens", format!("csrf={csrf}&action=revoke&id={token_id}")).await;
        assert_eq!(revoked.status, StatusCode::OK, "{engine:?}");
        assert!(revoked.text().contains("đã hết hiệu lực"), "{engine:?}");
        assert_eq!(call().await.status, StatusCode::UNAUTHORIZED, "{engine:?}: a revoked token is refused");
    }
}

#[tokio::test]
async fn a_steward_retitles_widens_and_adds_fields_within_what_keeps_the_rows_whole() {
    use chiase_core::policy::Role;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        app.person("gd.steward", Some("so-giao-duc-va-dao-tao"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        let (cookie, csrf) = session_of(&app, "gd.steward").await;
        let (other, other_csrf) = session_of(&app, "noivu.steward").await;
        let page = app.request(Method::GET, "/datasets/truong-hoc/schema", &[("cookie", &cookie)], vec![]).await;
        assert_eq!(page.status, StatusCode::OK, "{engine:?}");
        let page = page.text();
        // An integer field may become a number or text, not a date.
        let so = &page[page.find("name=\"f3_type\"").unwrap()..];
        let so = &so[..so.find("</select>").unwrap()];
        assert!(so.contains("value=\"number\"") && so.contains("value=\"string\"") && !so.contains("value=\"date\""), "{engine:?}: {so}");
        assert_eq!(
            app.request(Method::GET, "/datasets/truong-hoc/schema", &[("cookie", &other)], vec![]).await.status,
            StatusCode::FORBIDDEN
        );

        // The fields of setup(): ma, ten, cap_hoc, so_hoc_sinh, ngay, ho_ten_hieu_truong, lat, lon.
        let kinds = ["string", "string", "string", "integer", "date", "string", "number", "number"];
        let form = |token: &str, version: i64, so_type: &str| {
            let mut pairs = vec![("csrf".to_string(), token.to_string()), ("version".into(), version.to_string())];
            for (i, k) in kinds.iter().enumerate() {
                pairs.push((format!("f{i}_type"), if i == 3 { so_type.to_string() } else { k.to_string() }));
            }
            pairs.push(("f1_title".into(), "Tên trường học".into()));
            pairs.push(("f5_personal".into(), "basic".into()));
            pairs.push(("n0_name".into(), "dien_thoai".into()));
            pairs.push(("n0_title".into(), "Điện thoại".into()));
            pairs.push(("n0_type".into(), "string".into()));
            form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter()).finish()
        };
        let version = app.store().dataset("truong-hoc").await.unwrap().unwrap().schema_version;
        assert_eq!(
            post_form(&app, &other, "/datasets/truong-hoc/schema", form(&other_csrf, version, "number")).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            post_form(&app, &cookie, "/datasets/truong-hoc/schema", form(&csrf, version - 1, "number")).await.status,
            StatusCode::CONFLICT
        );
        let narrowed = post_form(&app, &cookie, "/datasets/truong-hoc/schema", form(&csrf, version, "date")).await;
        assert_eq!(narrowed.status, StatusCode::BAD_REQUEST, "{engine:?}");
        assert!(narrowed.text().contains("không thể đổi kiểu trường «so_hoc_sinh»"), "{engine:?}");
        assert_eq!(app.store().dataset("truong-hoc").await.unwrap().unwrap().schema_version, version, "{engine:?}: nothing changed");

        let saved = post_form(&app, &cookie, "/datasets/truong-hoc/schema", form(&csrf, version, "number")).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{engine:?}: {}", saved.text());
        let ds = app.store().dataset("truong-hoc").await.unwrap().unwrap();
        assert_eq!(ds.schema_version, version + 1);
        assert_eq!(ds.schema.fields[1].title.as_deref(), Some("Tên trường học"));
        assert_eq!(ds.schema.fields[3].field_type, chiase_core::schema::FieldType::Number);
        assert_eq!(ds.schema.fields.last().unwrap().name, "dien_thoai");
        // The rows are whole: the count still reads as a number.
        let t1 = app.get_ok("/api/v1/datasets/truong-hoc/records/T1").await;
        assert_eq!(t1["so_hoc_sinh"], 1234.0, "{engine:?}: {t1}");
        assert!(t1["dien_thoai"].is_null(), "{engine:?}");
    }
}

#[tokio::test]
async fn a_configured_province_outline_is_served_for_the_maps_and_a_bad_one_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    // A square around the provincial capital: test data, not a boundary.
    let square = json!({"type": "Feature", "properties": {"name": "thử"}, "geometry": {"type": "Polygon",
        "coordinates": [[[105.1, 21.7], [105.3, 21.7], [105.3, 21.9], [105.1, 21.9], [105.1, 21.7]]]}});
    let good = dir.path().join("ranh-gioi.geojson");
    std::fs::write(&good, square.to_string()).unwrap();
    for engine in engines() {
        let plain = TestApp::spawn(engine).await;
        setup(&plain).await;
        assert_eq!(plain.get("/assets/outline.geojson").await.status, StatusCode::NOT_FOUND);
        assert!(!plain.get("/datasets/truong-hoc").await.text().contains("data-outline"), "{engine:?}");

        let path = good.clone();
        let app = TestApp::spawn_with(engine, move |c| c.map_outline = Some(path)).await;
        setup(&app).await;
        let page = app.get("/datasets/truong-hoc").await.text();
        assert!(page.contains("data-outline=\"/assets/outline.geojson\""), "{engine:?}");
        let served = app.get("/assets/outline.geojson").await;
        assert_eq!(served.status, StatusCode::OK);
        assert_eq!(served.headers["content-type"], "application/geo+json");
        assert_eq!(served.json(), square);
    }
    // A file that is not a polygon's GeoJSON is refused at start, by name.
    let bad = dir.path().join("diem.geojson");
    std::fs::write(&bad, r#"{"type": "Point", "coordinates": [105.2, 21.8]}"#).unwrap();
    let db = chiase_store::testing::TestDb::new(engines()[0]).await;
    let config = chiase_server::config::Config { map_outline: Some(bad.clone()), data_dir: dir.path().to_path_buf(), ..Default::default() };
    let err = chiase_server::state::AppState::for_command(db.store.clone(), config).err().expect("refused");
    assert!(err.to_string().contains("diem.geojson") && err.to_string().contains("Polygon"), "{err}");
}
