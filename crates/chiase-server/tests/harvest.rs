//! Harvesting (issue 12, item 5): a second chiase harvests the first over
//! loopback and ends with the same open datasets and rows, not the rows of
//! a restricted one; a run again changes nothing, a change at the source
//! is followed; harvested datasets are read-only; a source that is down
//! or answers garbage fails the run and changes nothing; with two
//! processes on one database a due run is claimed once; CKAN and DCAT
//! sources too.

mod common;

use std::net::SocketAddr;

use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_core::sharing::SharingMode;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use common::{TestApp, engines};
use serde_json::{Value, json};

const SECRET: &str = "Hồ sơ mật của Trần Thị Kín";

async fn make(app: &TestApp, id: &str, no: i64, mode: SharingMode, schema: Value, csv: String) {
    app.create_dataset(CreateDataset {
        id: id.into(),
        database: DatabaseKey::No(no),
        title: format!("Tập {id}"),
        title_en: Some(format!("Set {id}")),
        description: format!("Mô tả tập dữ liệu {id}, có dấu tiếng Việt."),
        licence: Some(if mode == SharingMode::Open { "CC-BY-4.0" } else { "restricted" }.into()),
        sharing_mode: mode,
        cadence: None,
        schema: serde_json::from_value(schema).unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    let done = app.import(id, "x.csv", csv.into_bytes(), ImportMode::Append).await;
    assert!(matches!(done, Ok(chiase_server::usecase::imports::ImportOutcome::Done(_))), "{id}");
}

async fn restricted_database(app: &TestApp) -> (i64, SharingMode) {
    for no in 1..=31 {
        if let Some(d) = app.store().database(&DatabaseKey::No(no)).await.unwrap()
            && let Some(m) = d.sharing_modes.iter().find(|m| **m != SharingMode::Open)
        {
            return (no, *m);
        }
    }
    panic!("a restricted database");
}

/// The source: two open datasets (one of 1,500 rows, with a personal
/// field the public does not see) and a restricted one.
async fn source_data(app: &TestApp) {
    let mut csv = String::from("ma,ten,so_luong,ngay,nguoi_lien_he\n");
    for i in 0..1500 {
        csv.push_str(&format!("M{i:04},Điểm đo {i},{},2024-0{}-1{},Người {i}\n", i * 3, 1 + i % 9, i % 10));
    }
    make(
        app,
        "diem-do",
        29,
        SharingMode::Open,
        json!({"fields": [
            {"name": "ma", "type": "string", "constraints": {"required": true}},
            {"name": "ten", "title": "Tên", "type": "string"},
            {"name": "so_luong", "type": "integer"},
            {"name": "ngay", "type": "date"},
            {"name": "nguoi_lien_he", "type": "string", "personal": "basic"}
        ], "primaryKey": ["ma"]}),
        csv,
    )
    .await;
    make(
        app,
        "le-hoi",
        29,
        SharingMode::Open,
        json!({"fields": [{"name": "ten", "type": "string"}, {"name": "thang", "type": "integer"}]}),
        "ten,thang\nLễ hội Lồng Tông,1\nLễ hội Thành Tuyên,9\n".into(),
    )
    .await;
    let (no, mode) = restricted_database(app).await;
    make(
        app,
        "ho-so-mat",
        no,
        mode,
        json!({"fields": [{"name": "so", "type": "integer"}, {"name": "noi_dung", "type": "string"}], "primaryKey": ["so"]}),
        format!("so,noi_dung\n1,{SECRET}\n"),
    )
    .await;
}

async fn admin(app: &TestApp) -> String {
    app.person("quan-tri", None, Role::Admin, "mat-khau-quan-tri-dai").await
}

async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let r = app.request(method, path, &headers, body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default()).await;
    let v = if r.body.is_empty() { Value::Null } else { r.json() };
    (r.status, v)
}

async fn add_source(app: &TestApp, token: &str, body: Value) {
    let (s, v) = call(app, Method::POST, "/api/v1/harvest/sources", token, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

async fn run(app: &TestApp, token: &str, id: &str) -> Value {
    let (s, v) = call(app, Method::POST, &format!("/api/v1/harvest/sources/{id}/run"), token, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// Every row of a dataset as the public sees it, without `_id`, by key order.
async fn rows(app: &TestApp, id: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/datasets/{id}/export.json")).await;
    assert_eq!(r.status, StatusCode::OK, "{id}: {}", r.text());
    let mut rows: Vec<Value> = serde_json::from_slice(&r.body).unwrap();
    rows.sort_by_key(|v| v.to_string());
    rows
}

#[tokio::test]
async fn a_second_chiase_harvests_the_open_datasets_and_rows_of_the_first() {
    for engine in engines() {
        let a = TestApp::spawn(engine).await;
        source_data(&a).await;
        let b = TestApp::spawn(engine).await;
        let token = admin(&b).await;
        add_source(&b, &token, json!({"id": "tinh-a", "url": format!("http://{}", a.addr), "type": "chiase", "every": "1d"})).await;

        let r = run(&b, &token, "tinh-a").await;
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!((r["added"].as_i64().unwrap() >= 2, r["failed"].clone()), (true, json!(0)), "{r}");
        let report = r["report"].to_string();
        assert!(report.contains("ho-so-mat") && report.contains("not open data"), "{report}");

        // The same open datasets, schemas (the fields the public sees) and rows.
        for id in ["diem-do", "le-hoi"] {
            assert_eq!(rows(&a, id).await, rows(&b, id).await, "{engine:?} {id}");
            let here = b.get_ok(&format!("/api/v1/datasets/{id}")).await;
            let there = a.get_ok(&format!("/api/v1/datasets/{id}")).await;
            assert_eq!(here["title"], there["title"]);
            assert_eq!(here["harvested_from"], "tinh-a");
            assert_eq!(here["database"]["id"], there["database"]["id"]);
        }
        let schema = b.get_ok("/api/v1/datasets/diem-do").await["schema"].clone();
        assert_eq!(schema["primaryKey"], json!(["ma"]));
        assert!(!schema.to_string().contains("nguoi_lien_he"), "a personal field the public cannot see is not harvested");
        // Not the restricted one, nor its rows.
        assert_eq!(b.get("/api/v1/datasets/ho-so-mat").await.status, StatusCode::NOT_FOUND);
        assert!(!String::from_utf8_lossy(&b.get("/api/v1/datasets").await.body).contains(SECRET));
        // The same open catalog through CKAN's API.
        assert_eq!(a.get_ok("/api/3/action/package_list").await["result"], b.get_ok("/api/3/action/package_list").await["result"]);

        // Again: nothing changed at the source, nothing changes here.
        let r = run(&b, &token, "tinh-a").await;
        assert_eq!((r["added"].clone(), r["changed"].clone(), r["removed"].clone()), (json!(0), json!(0), json!(0)), "{r}");
        assert!(r["unchanged"].as_i64().unwrap() >= 3);

        // A change at the source is followed.
        let more = a.import("le-hoi", "y.csv", "ten,thang\nLễ hội Nàng Hai,8\n".as_bytes().to_vec(), ImportMode::Append).await;
        assert!(more.is_ok());
        let r = run(&b, &token, "tinh-a").await;
        assert_eq!(r["changed"], 1, "{r}");
        assert_eq!(rows(&b, "le-hoi").await.len(), 3);
        // So is a new description.
        let changes = chiase_store::datasets::DatasetChanges {
            description: Some("Các lễ hội truyền thống của tỉnh.".into()),
            ..Default::default()
        };
        chiase_server::usecase::datasets::update(&a.state, &a.operator(), "le-hoi", changes).await.unwrap();
        let r = run(&b, &token, "tinh-a").await;
        assert_eq!(r["changed"], 1, "{r}");
        assert_eq!(b.get_ok("/api/v1/datasets/le-hoi").await["description"], "Các lễ hội truyền thống của tỉnh.");

        // Read-only here: the owner's steward cannot write it.
        let owner = b.store().dataset("le-hoi").await.unwrap().unwrap().owner.id;
        let steward = b.person("can-bo", Some(&owner), Role::Steward, "mat-khau-can-bo-dai").await;
        let (s, v) = call(&b, Method::POST, "/api/v1/datasets/le-hoi/records", &steward, Some(json!([{"ten": "x", "thang": 1}]))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        assert!(v.to_string().contains("harvested"), "{v}");

        // The source goes down: the run fails, nothing changes.
        let before = rows(&b, "diem-do").await;
        drop(a);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let r = run(&b, &token, "tinh-a").await;
        assert_eq!(r["status"], "failed", "{r}");
        assert!(r["error"].as_str().unwrap().contains("connect"), "{r}");
        assert_eq!(rows(&b, "diem-do").await, before);
        assert_eq!(rows(&b, "le-hoi").await.len(), 3);

        // The portal: the dataset names its source; the admin page shows the runs.
        let page = b.get("/datasets/le-hoi").await.text();
        assert!(page.contains("«tinh-a»") && page.contains("chỉ đọc tại đây"), "{page}");
        let auth = format!("Bearer {token}");
        let admin_page = b.request(Method::GET, "/admin/harvest?source=tinh-a", &[("authorization", &auth)], vec![]).await;
        assert_eq!(admin_page.status, StatusCode::OK);
        let html = admin_page.text();
        assert!(html.contains("thất bại — không thay đổi gì") && html.contains("diem-do") && html.contains("not open data"), "{html}");

        // The report is kept and shown.
        let (_, shown) = call(&b, Method::GET, "/api/v1/harvest/sources/tinh-a", &token, None).await;
        assert_eq!(shown["runs"].as_array().unwrap().len(), 5);
        assert_eq!(shown["last_run"]["status"], "failed");
        assert!(shown["entries"].as_array().unwrap().iter().any(|e| e["dataset"] == "diem-do"));
    }
}

/// A source that answers garbage, or a page that is not what it says.
async fn garbage_server(body: &'static str, content_type: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || async move { ([(axum::http::header::CONTENT_TYPE, content_type)], body) });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn a_source_that_answers_garbage_fails_the_run_and_changes_nothing() {
    let b = TestApp::spawn(common::Engine::Sqlite).await;
    let token = admin(&b).await;
    let datasets_before = b.get_ok("/api/v1/datasets").await;
    for (kind, body, ct) in [
        ("chiase", "<html>not json</html>", "text/html"),
        ("ckan", r#"{"success": true, "result": {"results": "nope"}}"#, "application/json"),
        ("dcat", "@prefix broken", "text/turtle"),
        ("datapackage", r#"{"resources": [{"name": "x"}]}"#, "application/json"),
    ] {
        let addr = garbage_server(body, ct).await;
        let id = format!("rac-{kind}");
        add_source(&b, &token, json!({"id": id, "url": format!("http://{addr}/x"), "type": kind, "database": "29"})).await;
        let r = run(&b, &token, &id).await;
        assert_eq!(r["status"], "failed", "{kind}: {r}");
        assert!(!r["error"].as_str().unwrap().is_empty());
    }
    // A source that accepts the connection and never answers: the run
    // fails at the source's timeout, not after a hang.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    add_source(&b, &token, json!({"id": "cham", "url": format!("http://{slow}"), "type": "chiase", "timeout": 1})).await;
    let started = std::time::Instant::now();
    let r = run(&b, &token, "cham").await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(r["error"].as_str().unwrap().contains("no answer within 1 s"), "{r}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(b.get_ok("/api/v1/datasets").await, datasets_before);

    // Bad sources are refused when added, with a reason.
    for bad in [
        json!({"id": "x", "url": "http://data.example.vn", "type": "ckan"}),
        json!({"id": "x", "url": "ftp://127.0.0.1", "type": "ckan"}),
        json!({"id": "X Y", "url": "http://127.0.0.1", "type": "ckan"}),
        json!({"id": "x", "url": "http://127.0.0.1", "type": "csw"}),
        json!({"id": "x", "url": "http://127.0.0.1", "type": "ckan", "every": "1s"}),
        json!({"id": "x", "url": "http://127.0.0.1", "type": "ckan", "timeout": 0}),
        json!({"id": "x", "url": "http://127.0.0.1", "type": "ckan", "timeout": 601}),
        json!({"id": "x", "url": "http://127.0.0.1", "type": "ckan", "database": "khong-co"}),
    ] {
        let (s, v) = call(&b, Method::POST, "/api/v1/harvest/sources", &token, Some(bad.clone())).await;
        assert!(s.is_client_error(), "{bad}: {s} {v}");
    }
    // Only administrators.
    let agency = b.store().database(&DatabaseKey::No(29)).await.unwrap().unwrap().owner.id;
    let officer = b.person("can-bo", Some(&agency), Role::Steward, "mat-khau-can-bo-dai").await;
    let (s, _) = call(&b, Method::GET, "/api/v1/harvest/sources", &officer, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ckan_and_dcat_sources_are_harvested() {
    let a = TestApp::spawn(common::Engine::Sqlite).await;
    source_data(&a).await;
    let b = TestApp::spawn(common::Engine::Sqlite).await;
    let token = admin(&b).await;
    // chiase read as any CKAN site: datasets from the DataStore's fields.
    add_source(&b, &token, json!({"id": "ckan-a", "url": format!("http://{}", a.addr), "type": "ckan", "database": "29"})).await;
    let r = run(&b, &token, "ckan-a").await;
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(rows(&a, "le-hoi").await, rows(&b, "le-hoi").await);
    assert_eq!(b.get_ok("/api/v1/datasets/diem-do/records?limit=1").await["total"], 1500);
    // The restricted resource's rows are refused to the public at the source: not harvested.
    assert_eq!(b.get("/api/v1/datasets/ho-so-mat").await.status, StatusCode::NOT_FOUND);
    assert!(r["report"].to_string().contains("ho-so-mat"));

    // DCAT: the catalog's entries (metadata only).
    add_source(&b, &token, json!({"id": "dcat-a", "url": format!("http://{}/catalog.ttl", a.addr), "type": "dcat"})).await;
    let r = run(&b, &token, "dcat-a").await;
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["added"], 31, "{r}");
    let (_, shown) = call(&b, Method::GET, "/api/v1/harvest/sources/dcat-a", &token, None).await;
    assert!(shown["entries"].as_array().unwrap().iter().all(|e| !e["title"].as_str().unwrap().is_empty()));
}

#[tokio::test]
async fn with_two_processes_a_due_run_is_claimed_once() {
    for engine in engines() {
        let a = TestApp::spawn(engine).await;
        let b1 = TestApp::spawn(engine).await;
        let token = admin(&b1).await;
        add_source(&b1, &token, json!({"id": "tinh-a", "url": format!("http://{}", a.addr), "type": "chiase", "every": "1d"})).await;
        let b2 = TestApp::serve(b1.db.share().await, false).await;
        let source = b1.store().harvest_source("tinh-a").await.unwrap().unwrap();
        let stale = chrono::Duration::hours(2);
        let (x, y) = tokio::join!(b1.store().claim_harvest_run(&source, false, stale), b2.store().claim_harvest_run(&source, false, stale));
        let claimed = [x.unwrap(), y.unwrap()];
        assert_eq!(claimed.iter().filter(|c| c.is_some()).count(), 1, "{engine:?}: {claimed:?}");
        // Claimed, it is no longer due, and another run waits for it.
        assert!(b2.store().due_harvest_sources().await.unwrap().is_empty());
        assert!(b2.store().claim_harvest_run(&source, true, stale).await.unwrap().is_none());
    }
}
