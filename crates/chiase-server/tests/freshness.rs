//! The public freshness and quality dashboard (`/freshness`, issue 11 item
//! 5): a yearly dataset last updated more than a year ago shows as overdue
//! under its agency, which comes first; a dataset without description,
//! licence, field titles or units is scored down and told what is missing;
//! in English on `?lang=en`; a restricted dataset's rows never reach the
//! page, nor (for the public) when they last changed.

mod common;

use axum::http::StatusCode;
use chiase_core::catalog::Cadence;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use common::{TestApp, engines};
use serde_json::json;

const SECRET: &str = "Nguyễn Văn Bí Mật";

/// Creates a dataset in catalog database `no` (as the operator) and loads `csv` into it.
async fn dataset(
    app: &TestApp,
    (id, no, mode): (&str, i64, &str),
    cadence: Option<Cadence>,
    description: &str,
    licence: Option<&str>,
    schema: serde_json::Value,
    csv: &str,
) {
    app.create_dataset(CreateDataset {
        id: id.into(),
        database: DatabaseKey::No(no),
        title: format!("Tập {id}"),
        title_en: Some(format!("Set {id}")),
        description: description.into(),
        licence: licence.map(str::to_string),
        sharing_mode: mode.parse().unwrap(),
        cadence,
        schema: serde_json::from_value(schema).unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    let done = app.import(id, "x.csv", csv.as_bytes().to_vec(), ImportMode::Append).await;
    assert!(matches!(done, Ok(chiase_server::usecase::imports::ImportOutcome::Done(_))), "{id}");
}

async fn setup(app: &TestApp) {
    // Agriculture (database 29, open, yearly): well described, units in titles.
    dataset(
        app,
        ("quan-trac", 29, "open"),
        Some(Cadence::Yearly),
        "Kết quả quan trắc chất lượng môi trường không khí và nước mặt tại các điểm quan trắc trên địa bàn tỉnh.",
        Some("CC-BY-4.0"),
        json!({"fields": [
            {"name": "diem", "title": "Điểm quan trắc", "type": "string", "constraints": {"required": true}},
            {"name": "pm25", "title": "Bụi PM2.5 (µg/m³)", "type": "number"}
        ]}),
        "diem,pm25\nA,12.5\nB,30\n",
    )
    .await;
    // Schools (database 13): no description, no licence, an untitled field,
    // a measure without its unit, and empty cells.
    dataset(
        app,
        ("thieu-mo-ta", 13, "open"),
        Some(Cadence::OnChange),
        "",
        Some(""),
        json!({"fields": [
            {"name": "ma", "title": "Mã trường", "type": "string", "constraints": {"required": true}},
            {"name": "dien_tich", "title": "Diện tích khuôn viên", "type": "number"},
            {"name": "ghi_chu", "type": "string"}
        ]}),
        "ma,dien_tich,ghi_chu\nT1,1200.5,\nT2,,\nT3,800,x\nT4,,\n",
    )
    .await;
    // Civil servants (database 4): restricted, with a personal value.
    dataset(
        app,
        ("can-bo", 4, "specific"),
        Some(Cadence::Yearly),
        "Lý lịch cán bộ, công chức, viên chức do từng cơ quan, đơn vị cập nhật.",
        Some("Theo quy định"),
        json!({"fields": [
            {"name": "ma", "title": "Mã cán bộ", "type": "string", "constraints": {"required": true}},
            {"name": "ho_ten", "title": "Họ và tên", "type": "string", "personal": "basic"}
        ]}),
        &format!("ma,ho_ten\nCB1,{SECRET}\nCB2,\n"),
    )
    .await;
}

/// Moves a dataset's last data change (and metadata change) 400 days back, as time would.
async fn age(app: &TestApp, slug: &str) {
    let past = chrono::Utc::now() - chrono::Duration::days(400);
    if app.db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        sqlx::query("UPDATE datasets SET data_updated_at = $1, updated_at = $1, created_at = $1 WHERE slug = $2")
            .bind(past)
            .bind(slug)
            .execute(&pool)
            .await
            .unwrap();
    } else {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        sqlx::query("UPDATE datasets SET data_updated_at = ?1, updated_at = ?1, created_at = ?1 WHERE slug = ?2")
            .bind(past)
            .bind(slug)
            .execute(&pool)
            .await
            .unwrap();
    }
}

/// Blanks a dataset's licence (creating one always gives a default).
async fn drop_licence(app: &TestApp, slug: &str) {
    if app.db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        sqlx::query("UPDATE datasets SET licence = '' WHERE slug = $1").bind(slug).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        sqlx::query("UPDATE datasets SET licence = '' WHERE slug = ?").bind(slug).execute(&pool).await.unwrap();
    }
}

/// The part of the page from `from` to the next agency section.
fn section<'a>(page: &'a str, from: &str) -> &'a str {
    let start = page.find(from).unwrap_or_else(|| panic!("{from} not on the page"));
    let rest = &page[start..];
    let end = rest[1..].find("<section class=\"freshness-agency\"").map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

/// The table row of a dataset.
fn row<'a>(page: &'a str, slug: &str) -> &'a str {
    let link = format!("href=\"/datasets/{slug}");
    let at = page.find(&link).unwrap_or_else(|| panic!("{slug} not on the page"));
    let start = page[..at].rfind("<tr").unwrap();
    let end = at + page[at..].find("</tr>").unwrap();
    &page[start..end]
}

#[tokio::test]
async fn an_overdue_yearly_dataset_shows_under_its_agency_first() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        age(&app, "quan-trac").await;
        let owner = app.get_ok("/api/v1/databases/29").await["owner"]["id"].as_str().unwrap().to_string();

        let r = app.get("/freshness").await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}");
        let page = r.text();
        assert!(page.contains("<caption>") && page.contains("scope=\"col\"") && page.contains("<html lang=\"vi\""), "{engine:?}");

        // Its agency's section holds it, marked overdue in words, with dates dd/mm/yyyy.
        let agency = section(&page, &format!("<section class=\"freshness-agency\" aria-labelledby=\"ag-{owner}\""));
        assert!(agency.contains("href=\"/datasets/quan-trac\""), "{engine:?}: listed under its owner");
        assert!(agency.contains("1 quá hạn cập nhật"), "{engine:?}: the agency counts it");
        let overdue = row(&page, "quan-trac");
        assert!(overdue.contains("<strong>Quá hạn</strong>"), "{engine:?}: {overdue}");
        assert!(overdue.contains("Hằng năm"), "{engine:?}");
        let vn = chiase_server::usecase::freshness::vn_date(chrono::Utc::now() - chrono::Duration::days(400));
        assert!(overdue.contains(&vn.format("%d/%m/%Y").to_string()), "{engine:?}: last update dd/mm/yyyy: {overdue}");
        // Open data not reviewed for over six months loses its review points.
        assert!(overdue.contains("Quá hạn rà soát dữ liệu mở"), "{engine:?}");
        assert!(overdue.contains("85/100"), "{engine:?}: everything but the review: {overdue}");
        // Overdue first: its agency is the first section.
        let first = page.find("<section class=\"freshness-agency\"").unwrap();
        assert!(page[first..].starts_with(&format!("<section class=\"freshness-agency\" aria-labelledby=\"ag-{owner}\"")), "{engine:?}");

        // A dataset updated today is not overdue.
        let fresh = row(&page, "thieu-mo-ta");
        assert!(!fresh.contains("Quá hạn") && fresh.contains("Không có hạn định"), "{engine:?}: {fresh}");
        // A database with no dataset says so.
        assert!(page.contains("Chưa có tập dữ liệu nào trên nền tảng"), "{engine:?}");
    }
}

#[tokio::test]
async fn the_score_says_what_is_missing_in_vietnamese_and_in_english() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        drop_licence(&app, "thieu-mo-ta").await;
        let page = app.get("/freshness").await.text();
        let poor = row(&page, "thieu-mo-ta");
        assert!(poor.contains("Thiếu mô tả"), "{engine:?}: {poor}");
        assert!(poor.contains("Thiếu giấy phép"), "{engine:?}");
        assert!(poor.contains("Trường chưa có tên hiển thị: ghi_chu"), "{engine:?}");
        assert!(poor.contains("Chưa ghi đơn vị tính: Diện tích khuôn viên"), "{engine:?}");
        // dien_tich and ghi_chu are expected to be filled: 5 of their 8 cells are empty.
        assert!(poor.contains("63% ô trống"), "{engine:?}: {poor}");
        // 20 + 15 lost; titles 2 of 3 (10); units 0 of 1; filled 3 of 8 of 25 (9); review 15.
        assert!(poor.contains("34/100"), "{engine:?}: {poor}");
        let good = row(&page, "quan-trac");
        assert!(good.contains("100/100") && good.contains("Không</span>"), "{engine:?}: nothing missing: {good}");

        let en = app.get("/freshness?lang=en").await.text();
        assert!(en.contains("<html lang=\"en\"") && en.contains("Data freshness and quality"), "{engine:?}");
        let poor = row(&en, "thieu-mo-ta");
        assert!(poor.contains("No description") && poor.contains("No licence"), "{engine:?}: {poor}");
        assert!(poor.contains("No unit stated: Diện tích khuôn viên") && poor.contains("Fields without a title: ghi_chu"), "{engine:?}");
        assert!(poor.contains("Set thieu-mo-ta") && poor.contains("On change"), "{engine:?}: English titles and cadence");
        assert!(!en.contains("Thiếu mô tả") && !en.contains("Quá hạn"), "{engine:?}: no Vietnamese words left");
    }
}

#[tokio::test]
async fn a_restricted_dataset_shows_its_metadata_never_its_rows() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        age(&app, "can-bo").await;
        let page = app.get("/freshness").await.text();
        assert!(!page.contains(SECRET) && !page.contains("Bí Mật"), "{engine:?}: no row value on the page");
        let restricted = row(&page, "can-bo");
        // The public sees its cadence and metadata score, not when it changed nor its empty cells.
        assert!(restricted.contains("Không công khai") && restricted.contains("không tính ô trống"), "{engine:?}: {restricted}");
        assert!(!restricted.contains("Quá hạn") && !restricted.contains("ô trống ở"), "{engine:?}: {restricted}");
        let aged = chiase_server::usecase::freshness::vn_date(chrono::Utc::now() - chrono::Duration::days(400));
        assert!(!restricted.contains(&aged.format("%d/%m/%Y").to_string()), "{engine:?}: no date of change");
        assert!(restricted.contains("100/100"), "{engine:?}: its metadata is complete: {restricted}");

        // The owner's steward may read it: they see it overdue, and its empty cells (as a share, never a value).
        let token = app.person("noivu.steward", Some("so-noi-vu"), chiase_core::policy::Role::Steward, "mật-khẩu-đủ-dài-2025").await;
        let auth = format!("Bearer {token}");
        let r = app.request(axum::http::Method::GET, "/freshness", &[("authorization", &auth)], vec![]).await;
        assert_eq!(r.status, StatusCode::OK);
        let theirs = r.text();
        assert!(!theirs.contains(SECRET), "{engine:?}");
        let restricted = row(&theirs, "can-bo");
        assert!(restricted.contains("<strong>Quá hạn</strong>"), "{engine:?}: {restricted}");
        // ho_ten is empty in one of two rows.
        assert!(restricted.contains("50% ô trống"), "{engine:?}: {restricted}");
    }
}
