//! Sync into datasets (issue 13, item 4): a pull job fills a dataset from
//! a small upstream on loopback with each paging style (page number,
//! offset, cursor, `next` link, none); a page that fails (500, garbage, a
//! timeout) changes nothing and the run says why; upsert mode and field
//! mapping; pushes by a steward's token (upsert and delete), refused to
//! others and to the public; with two processes a due run is claimed
//! once; the freshness dashboard shows the sync.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_core::sharing::SharingMode;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use common::{TestApp, engines};
use serde_json::{Value, json};

const N: usize = 25;
const DS: &str = "truong-hoc";
const UPSTREAM_KEY: &str = "khoa-bi-mat-cua-vnedu";

/// What the upstream does to the second page.
const OK: u8 = 0;
const FAIL_500: u8 = 1;
const GARBAGE: u8 = 2;
const SLOW: u8 = 3;

fn record(i: usize) -> Value {
    json!({"ma": format!("T{i:02}"), "ten": format!("Trường số {i}"), "so": i * 10})
}

/// An upstream of `N` schools, paged 10 at a time in each style.
async fn upstream(failure: Arc<AtomicU8>) -> SocketAddr {
    async fn answer(
        State(failure): State<Arc<AtomicU8>>,
        Path(style): Path<String>,
        Query(q): Query<HashMap<String, String>>,
        headers: axum::http::HeaderMap,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        if style == "secret" && headers.get("x-api-key").is_none_or(|v| v != UPSTREAM_KEY) {
            return (StatusCode::UNAUTHORIZED, "no key").into_response();
        }
        let all: Vec<Value> = (0..N).map(record).collect();
        let num = |k: &str| q.get(k).and_then(|v| v.parse::<usize>().ok());
        let (start, len) = match style.as_str() {
            "page" => ((num("trang").unwrap_or(1) - 1) * 10, 10),
            "offset" => (num("from").unwrap_or(0), num("size").unwrap_or(10)),
            "cursor" => (q.get("after").and_then(|c| c.strip_prefix('c')).and_then(|c| c.parse().ok()).unwrap_or(0), 10),
            "next" => (num("p").unwrap_or(0) * 10, 10),
            "empty" => (N, 0),
            // Ignores its paging parameter: always the first page.
            "stuck" => (0, 10),
            // Caps a page at 7 records whatever the size asked.
            "capped" => (num("offset").unwrap_or(0), num("limit").unwrap_or(10).min(7)),
            _ => (0, N),
        };
        if start > 0 {
            match failure.load(Ordering::SeqCst) {
                FAIL_500 => return (StatusCode::INTERNAL_SERVER_ERROR, "upstream broke").into_response(),
                GARBAGE => return ([(axum::http::header::CONTENT_TYPE, "text/html")], "<html>bảo trì</html>").into_response(),
                SLOW => {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                }
                _ => {}
            }
        }
        let items: Vec<Value> = all.iter().skip(start).take(len).cloned().collect();
        let end = start + items.len();
        let body = match style.as_str() {
            "cursor" => json!({"items": items, "meta": {"next": if end < N { Value::from(format!("c{end}")) } else { Value::Null }}}),
            "next" => {
                json!({"results": items, "links": {"next": if end < N { Value::from(format!("/next?p={}", end / 10)) } else { Value::Null }}})
            }
            "mapped" => Value::Array(
                items.iter().map(|r| json!({"code": r["ma"], "info": {"name": r["ten"]}, "count": r["so"], "extra": 1})).collect(),
            ),
            "wrapped" => json!({"data": {"items": items}}),
            _ => Value::Array(items),
        };
        axum::Json(body).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/{style}", axum::routing::get(answer)).with_state(failure);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The dataset (database 29), with two rows already; its owner agency.
async fn dataset(app: &TestApp) -> String {
    app.create_dataset(CreateDataset {
        id: DS.into(),
        database: DatabaseKey::No(29),
        title: "Trường học".into(),
        title_en: Some("Schools".into()),
        description: "Danh sách trường học do phần mềm quản lý trường đồng bộ lên.".into(),
        licence: Some("CC-BY-4.0".into()),
        sharing_mode: SharingMode::Open,
        cadence: None,
        schema: serde_json::from_value(json!({"fields": [
            {"name": "ma", "type": "string", "constraints": {"required": true}},
            {"name": "ten", "type": "string"},
            {"name": "so", "type": "integer"}
        ], "primaryKey": ["ma"]}))
        .unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    let done = app.import(DS, "x.csv", b"ma,ten,so\nCU1,Cu 1,1\nCU2,Cu 2,2\n".to_vec(), ImportMode::Append).await;
    assert!(matches!(done, Ok(chiase_server::usecase::imports::ImportOutcome::Done(_))));
    app.store().database(&DatabaseKey::No(29)).await.unwrap().unwrap().owner.id
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

async fn add_job(app: &TestApp, token: &str, body: Value) -> i64 {
    let (s, v) = call(app, Method::POST, &format!("/api/v1/datasets/{DS}/sync"), token, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

async fn run(app: &TestApp, token: &str, job: i64) -> Value {
    let (s, v) = call(app, Method::POST, &format!("/api/v1/datasets/{DS}/sync/{job}/run"), token, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// The dataset's rows as the public sees them, keys in order.
async fn rows(app: &TestApp) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/datasets/{DS}/export.json")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mut rows: Vec<Value> = serde_json::from_slice(&r.body).unwrap();
    for r in &mut rows {
        r.as_object_mut().unwrap().remove("_id");
    }
    rows.sort_by_key(|v| v["ma"].as_str().unwrap_or_default().to_string());
    rows
}

fn keys(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| r["ma"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn each_paging_style_fills_the_dataset() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let agency = dataset(&app).await;
        let token = app.person("can-bo", Some(&agency), Role::Steward, "mat-khau-can-bo-dai").await;
        let up = upstream(Arc::new(AtomicU8::new(OK))).await;
        let expected: Vec<String> = (0..N).map(|i| format!("T{i:02}")).collect();
        for (path, records_at, paging) in [
            ("all", "", json!({"type": "none"})),
            ("wrapped", "/data/items", json!({"type": "none"})),
            ("page", "", json!({"type": "page", "param": "trang", "first": 1})),
            ("offset", "", json!({"type": "offset", "offset_param": "from", "limit_param": "size", "size": 10})),
            ("capped", "", json!({"type": "offset", "size": 10})),
            ("cursor", "/items", json!({"type": "cursor", "cursor_at": "/meta/next", "param": "after"})),
            ("next", "/results", json!({"type": "next", "next_at": "/links/next"})),
        ] {
            let job = add_job(
                &app,
                &token,
                json!({"url": format!("http://{up}/{path}?khoa=x"), "records_at": records_at, "paging": paging, "mode": "replace"}),
            )
            .await;
            let r = run(&app, &token, job).await;
            assert_eq!(r["status"], "ok", "{engine:?} {path}: {r}");
            assert_eq!(r["rows_read"], N, "{engine:?} {path}: {r}");
            let got = rows(&app).await;
            assert_eq!(keys(&got), expected, "{engine:?} {path}");
            assert_eq!(got[7], record(7), "{engine:?} {path}");
        }
        // The jobs and their runs are listed for the stewards.
        let (s, v) = call(&app, Method::GET, &format!("/api/v1/datasets/{DS}/sync"), &token, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["jobs"].as_array().unwrap().len(), 7, "{v}");
        assert!(v["jobs"].as_array().unwrap().iter().all(|j| j["last_run"]["status"] == "ok"), "{v}");
    }
}

#[tokio::test]
async fn a_failed_page_changes_nothing_and_the_run_says_why() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let agency = dataset(&app).await;
        let token = app.person("can-bo", Some(&agency), Role::Steward, "mat-khau-can-bo-dai").await;
        let failure = Arc::new(AtomicU8::new(OK));
        let up = upstream(failure.clone()).await;
        let before = rows(&app).await;
        for (mode, paging) in
            [("replace", json!({"type": "page", "param": "trang"})), ("upsert", json!({"type": "next", "next_at": "/links/next"}))]
        {
            let path = if mode == "replace" { "page" } else { "next" };
            let records_at = if mode == "replace" { "" } else { "/results" };
            let job = add_job(
                &app,
                &token,
                json!({"url": format!("http://{up}/{path}"), "records_at": records_at, "paging": paging, "mode": mode, "timeout": 1}),
            )
            .await;
            for (how, said) in [(FAIL_500, "500"), (GARBAGE, "not JSON"), (SLOW, "")] {
                failure.store(how, Ordering::SeqCst);
                let r = run(&app, &token, job).await;
                assert_eq!(r["status"], "failed", "{engine:?} {mode} {how}: {r}");
                let error = r["error"].as_str().unwrap();
                assert!(error.contains(said) && error.contains(&format!("{up}")), "{engine:?} {mode} {how}: {error}");
                assert_eq!(rows(&app).await, before, "{engine:?} {mode} {how}: the dataset changed");
            }
        }
        // A page whose records are not where the job says.
        failure.store(OK, Ordering::SeqCst);
        let job = add_job(&app, &token, json!({"url": format!("http://{up}/all"), "records_at": "/data", "mode": "replace"})).await;
        let r = run(&app, &token, job).await;
        assert_eq!(r["status"], "failed");
        assert!(r["error"].as_str().unwrap().contains("/data"), "{r}");
        // An upstream that ignores the page parameter.
        let job = add_job(&app, &token, json!({"url": format!("http://{up}/stuck"), "mode": "replace", "paging": {"type": "page"}})).await;
        let r = run(&app, &token, job).await;
        assert_eq!(r["status"], "failed", "{r}");
        assert!(r["error"].as_str().unwrap().contains("same page twice"), "{r}");
        assert_eq!(rows(&app).await, before);
        // No records at all: a replace would empty the dataset, so it fails.
        let job = add_job(&app, &token, json!({"url": format!("http://{up}/empty"), "mode": "replace"})).await;
        let r = run(&app, &token, job).await;
        assert_eq!(r["status"], "failed", "{r}");
        assert!(r["error"].as_str().unwrap().contains("no records"), "{r}");
        assert_eq!(rows(&app).await, before);
        // Rows the schema refuses: the import's row errors are the report.
        let job = add_job(
            &app,
            &token,
            json!({"url": format!("http://{up}/mapped"), "mode": "replace", "mapping": {"code": "so", "count": "ma"}}),
        )
        .await;
        let r = run(&app, &token, job).await;
        assert_eq!(r["status"], "failed", "{r}");
        assert_eq!(r["report"]["errors"][0]["column"], "so", "{r}");
        assert_eq!(rows(&app).await, before);
    }
}

#[tokio::test]
async fn upsert_mode_and_field_mapping() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let agency = dataset(&app).await;
        let token = app.person("can-bo", Some(&agency), Role::Steward, "mat-khau-can-bo-dai").await;
        let up = upstream(Arc::new(AtomicU8::new(OK))).await;
        // code → ma, /info/name (a pointer) → ten, count → so; `extra` is not a field.
        let job = add_job(
            &app,
            &token,
            json!({"url": format!("http://{up}/mapped"), "mode": "upsert", "every": "1h",
                   "mapping": {"code": "ma", "/info/name": "ten", "count": "so"}}),
        )
        .await;
        let r = run(&app, &token, job).await;
        assert_eq!(r["status"], "ok", "{engine:?}: {r}");
        let got = rows(&app).await;
        // Upsert: the two rows that were there stay.
        assert_eq!(got.len(), N + 2, "{engine:?}");
        assert_eq!(got[0]["ma"], "CU1");
        assert_eq!(got[2 + 3], record(3), "{engine:?}");
        assert_eq!(r["imported"], N, "{r}");
        assert_eq!(r["report"]["ignored_keys"], json!(["extra"]), "{r}");
        // Again: nothing new.
        let r = run(&app, &token, job).await;
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(rows(&app).await.len(), N + 2);

        // Bad configurations: 4xx, nothing added.
        for bad in [
            json!({"url": "http://data.example.vn/x", "mode": "replace"}),
            json!({"url": "ftp://127.0.0.1/x", "mode": "replace"}),
            json!({"url": format!("http://{up}/all"), "mode": "merge"}),
            json!({"url": format!("http://{up}/all"), "mode": "replace", "every": "1s"}),
            json!({"url": format!("http://{up}/all"), "mode": "replace", "timeout": 0}),
            json!({"url": format!("http://{up}/all"), "mode": "replace", "records_at": "data"}),
            json!({"url": format!("http://{up}/all"), "mode": "replace", "mapping": {"code": "khong_co"}}),
            json!({"url": format!("http://{up}/all"), "mode": "replace", "paging": {"type": "cursor", "cursor_at": "", "param": "c"}}),
            json!({"url": format!("http://{up}/all"), "mode": "replace", "paging": {"type": "page", "param": "a b"}}),
            json!({"url": format!("http://{up}/all"), "mode": "replace", "paging": {"type": "offset", "size": 0}}),
            json!({"url": format!("http://{up}/all"), "mode": "replace", "paging": {"type": "scroll"}}),
        ] {
            let (s, v) = call(&app, Method::POST, &format!("/api/v1/datasets/{DS}/sync"), &token, Some(bad.clone())).await;
            assert!(s.is_client_error(), "{bad}: {s} {v}");
            assert!(v["error"]["message_en"].is_string(), "{bad}: {v}");
        }
        let (_, v) = call(&app, Method::GET, &format!("/api/v1/datasets/{DS}/sync"), &token, None).await;
        assert_eq!(v["jobs"].as_array().unwrap().len(), 1);
        // Removed: the rows it brought stay.
        let (s, _) = call(&app, Method::DELETE, &format!("/api/v1/datasets/{DS}/sync/{job}"), &token, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = call(&app, Method::GET, &format!("/api/v1/datasets/{DS}/sync/{job}"), &token, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(rows(&app).await.len(), N + 2);
    }
}

#[tokio::test]
async fn a_stewards_system_pushes_changes_and_others_are_refused() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let agency = dataset(&app).await;
        let token = app.person("vnedu", Some(&agency), Role::Steward, "mat-khau-vnedu-dai").await;
        let path = format!("/api/v1/datasets/{DS}/push");
        // Upsert and delete in one push.
        let body = json!({"records": [record(1), {"ma": "CU1", "ten": "Cu 1 mới", "so": 5}], "deleted": ["CU2"]});
        let (s, v) = call(&app, Method::POST, &path, &token, Some(body)).await;
        assert_eq!(s, StatusCode::OK, "{engine:?}: {v}");
        assert_eq!(v["kind"], "push");
        assert_eq!(v["status"], "ok");
        let got = rows(&app).await;
        assert_eq!(keys(&got), ["CU1", "T01"], "{engine:?}");
        assert_eq!(got[0]["ten"], "Cu 1 mới");
        // NDJSON.
        let auth = format!("Bearer {token}");
        let nd = format!("{}\n{}\n", record(2), record(3));
        let r =
            app.request(Method::POST, &path, &[("authorization", &auth), ("content-type", "application/x-ndjson")], nd.into_bytes()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(rows(&app).await.len(), 4);
        // A bad record (or an unknown key form) changes nothing, and the failed push is kept.
        for bad in [
            json!([record(9), {"ma": "X", "so": "nhiều"}]),
            json!({"records": [record(9)], "deleted": [{"ma": 1}]}),
            json!({"records": [record(9)], "xoa": []}),
            json!("chuỗi"),
        ] {
            let (s, v) = call(&app, Method::POST, &path, &token, Some(bad.clone())).await;
            assert!(s.is_client_error(), "{bad}: {s} {v}");
            assert!(v["error"]["message"].is_string(), "{v}");
        }
        let r =
            app.request(Method::POST, &path, &[("authorization", &auth), ("content-type", "application/json")], b"{oops".to_vec()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(rows(&app).await.len(), 4);
        // Another agency's steward, an administrator who is no steward, and the public: refused.
        let mut other = None;
        for no in 1..=31 {
            if let Some(d) = app.store().database(&DatabaseKey::No(no)).await.unwrap()
                && d.owner.id != agency
            {
                other = Some(d.owner.id);
                break;
            }
        }
        let other = other.expect("a second agency");
        let stranger = app.person("can-bo-khac", Some(&other), Role::Steward, "mat-khau-can-bo-khac").await;
        let (s, _) = call(&app, Method::POST, &path, &stranger, Some(json!([record(9)]))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = call(&app, Method::GET, &format!("/api/v1/datasets/{DS}/sync"), &stranger, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let r = app.request(Method::POST, &path, &[("content-type", "application/json")], b"[]".to_vec()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.get(&format!("/api/v1/datasets/{DS}/sync")).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(rows(&app).await.len(), 4);
        // Each push is a sync run: two that worked, then those that failed.
        let (_, v) = call(&app, Method::GET, &format!("/api/v1/datasets/{DS}/sync"), &token, None).await;
        let runs = v["runs"].as_array().unwrap();
        assert!(runs.iter().all(|r| r["kind"] == "push"), "{v}");
        assert_eq!(runs.iter().filter(|r| r["status"] == "ok").count(), 2, "{v}");
        assert!(runs.iter().any(|r| r["status"] == "failed" && r["error"].is_string()), "{v}");
        // The push is audited like other writes.
        let (s, events) = call(&app, Method::GET, "/api/v1/audit?action=push", &token, None).await;
        assert_eq!(s, StatusCode::OK, "{events}");
        assert!(events["results"].as_array().unwrap().iter().any(|e| e["action"] == "push" && e["target"] == DS), "{events}");
    }
}

#[tokio::test]
async fn with_two_processes_a_due_run_is_claimed_once() {
    for engine in engines() {
        let a = TestApp::spawn(engine).await;
        let agency = dataset(&a).await;
        let token = a.person("can-bo", Some(&agency), Role::Steward, "mat-khau-can-bo-dai").await;
        let up = upstream(Arc::new(AtomicU8::new(OK))).await;
        let job = add_job(&a, &token, json!({"url": format!("http://{up}/all"), "mode": "replace", "every": "1d"})).await;
        let b = TestApp::serve(a.db.share().await, false).await;
        let ds = a.store().dataset(DS).await.unwrap().unwrap();
        let job = a.store().sync_job(&ds, job).await.unwrap().unwrap();
        let stale = chrono::Duration::hours(2);
        let (x, y) = tokio::join!(a.store().claim_sync_run(&job, false, stale, "a"), b.store().claim_sync_run(&job, false, stale, "b"));
        let claimed = [x.unwrap(), y.unwrap()];
        assert_eq!(claimed.iter().filter(|c| c.is_some()).count(), 1, "{engine:?}: {claimed:?}");
        assert!(b.store().due_sync_jobs().await.unwrap().is_empty());
        assert!(b.store().claim_sync_run(&job, true, stale, "b").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn the_schedule_runs_a_due_job_once_across_processes() {
    for engine in engines() {
        let a = TestApp::spawn(engine).await;
        let agency = dataset(&a).await;
        let token = a.person("can-bo", Some(&agency), Role::Steward, "mat-khau-can-bo-dai").await;
        let up = upstream(Arc::new(AtomicU8::new(OK))).await;
        add_job(&a, &token, json!({"url": format!("http://{up}/all"), "mode": "replace", "every": "1d"})).await;
        let b = TestApp::serve(a.db.share().await, false).await;
        tokio::join!(chiase_server::usecase::sync::run_due(&a.state), chiase_server::usecase::sync::run_due(&b.state));
        let (_, v) = call(&a, Method::GET, &format!("/api/v1/datasets/{DS}/sync"), &token, None).await;
        assert_eq!(v["runs"].as_array().unwrap().len(), 1, "{engine:?}: {v}");
        assert_eq!(v["runs"][0]["status"], "ok", "{v}");
        assert_eq!(rows(&a).await.len(), N);
    }
}

/// The table row of a dataset on the freshness dashboard.
fn freshness_row(page: &str, slug: &str) -> String {
    let link = format!("href=\"/datasets/{slug}");
    let at = page.find(&link).unwrap_or_else(|| panic!("{slug} not on the page"));
    let start = page[..at].rfind("<tr").unwrap();
    let end = at + page[at..].find("</tr>").unwrap();
    page[start..end].to_string()
}

#[tokio::test]
async fn the_freshness_dashboard_shows_the_sync() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let agency = dataset(&app).await;
        let token = app.person("can-bo", Some(&agency), Role::Steward, "mat-khau-can-bo-dai").await;
        let up = upstream(Arc::new(AtomicU8::new(OK))).await;
        let page = app.get("/freshness").await.text();
        assert!(!freshness_row(&page, DS).contains("Đồng bộ"), "{engine:?}: not synchronised yet");
        let job = add_job(&app, &token, json!({"url": format!("http://{up}/all"), "mode": "replace"})).await;
        let r = run(&app, &token, job).await;
        assert_eq!(r["status"], "ok");
        let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap()).format("%d/%m/%Y").to_string();
        let row = freshness_row(&app.get("/freshness").await.text(), DS);
        assert!(row.contains(&format!("Đồng bộ từ {up}")), "{engine:?}: {row}");
        assert!(row.contains(&format!("lần đồng bộ thành công gần nhất {today}")), "{engine:?}: {row}");
        let row = freshness_row(&app.get("/freshness?lang=en").await.text(), DS);
        assert!(row.contains("Synchronised from") && row.contains("last successful sync"), "{engine:?}: {row}");

        // A restricted dataset that is pushed to: the public is told it is
        // synchronised, not when; its stewards see when.
        let mut restricted = None;
        for no in 1..=31 {
            if let Some(d) = app.store().database(&DatabaseKey::No(no)).await.unwrap()
                && let Some(m) = d.sharing_modes.iter().find(|m| **m != SharingMode::Open)
            {
                restricted = Some((no, *m, d.owner.id));
                break;
            }
        }
        let (no, mode, owner) = restricted.expect("a restricted database");
        app.create_dataset(CreateDataset {
            id: "hoc-sinh".into(),
            database: DatabaseKey::No(no),
            title: "Học sinh".into(),
            title_en: None,
            description: "Hồ sơ học sinh do phần mềm quản lý trường đẩy lên.".into(),
            licence: Some("restricted".into()),
            sharing_mode: mode,
            cadence: None,
            schema: serde_json::from_value(json!({"fields": [{"name": "ma", "type": "string"}], "primaryKey": ["ma"]})).unwrap(),
            template: None,
            synthetic: false,
        })
        .await;
        let owner_token = app.person("smas", Some(&owner), Role::Steward, "mat-khau-smas-dai").await;
        let (s, v) = call(&app, Method::POST, "/api/v1/datasets/hoc-sinh/push", &owner_token, Some(json!([{"ma": "HS1"}]))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let public = freshness_row(&app.get("/freshness").await.text(), "hoc-sinh");
        assert!(public.contains("Hệ thống của cơ quan đẩy dữ liệu lên"), "{engine:?}: {public}");
        assert!(!public.contains("lần đồng bộ thành công gần nhất"), "{engine:?}: the public sees when: {public}");
        let auth = format!("Bearer {owner_token}");
        let theirs = app.request(Method::GET, "/freshness", &[("authorization", &auth)], vec![]).await.text();
        let theirs = freshness_row(&theirs, "hoc-sinh");
        assert!(theirs.contains("lần đồng bộ thành công gần nhất"), "{engine:?}: {theirs}");
    }
}

#[tokio::test]
async fn the_stewards_manage_jobs_on_the_portal() {
    let app = TestApp::spawn(common::Engine::Sqlite).await;
    let agency = dataset(&app).await;
    let token = app.person("can-bo", Some(&agency), Role::Steward, "mat-khau-can-bo-dai").await;
    let auth = format!("Bearer {token}");
    let up = upstream(Arc::new(AtomicU8::new(OK))).await;
    let form = |pairs: &[(&str, &str)]| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish().into_bytes()
    };
    let headers = [("authorization", auth.as_str()), ("content-type", "application/x-www-form-urlencoded")];
    let path = format!("/datasets/{DS}/sync");
    // The dataset's page links the sync page for its stewards.
    let ds_page = app.request(Method::GET, &format!("/datasets/{DS}"), &[("authorization", &auth)], vec![]).await.text();
    assert!(ds_page.contains(&path), "the dataset page links the sync page");
    let url = format!("http://{up}/cursor");
    let r = app
        .request(
            Method::POST,
            &path,
            &headers,
            form(&[
                ("action", "add"),
                ("url", &url),
                ("records_at", "/items"),
                ("paging", "cursor"),
                ("cursor_at", "/meta/next"),
                ("cursor_param", "after"),
                ("mode", "replace"),
                ("every", "1d"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.text().contains("Đã thêm việc đồng bộ số 1"), "{}", r.text());
    let r = app.request(Method::POST, &path, &headers, form(&[("action", "run"), ("job", "1")])).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Đã đồng bộ"), "{}", r.text());
    assert_eq!(rows(&app).await.len(), N);
    let page = app.request(Method::GET, &format!("{path}?lang=en"), &[("authorization", &auth)], vec![]).await.text();
    assert!(page.contains("Sync jobs") && page.contains(&url) && page.contains("1 day(s)") && page.contains("25 records read"), "{page}");
    // A bad form comes back with why, in Vietnamese; nothing added.
    let r = app.request(Method::POST, &path, &headers, form(&[("action", "add"), ("url", "http://example.vn/x")])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("chỉ đọc nguồn qua https"), "{}", r.text());
    let r = app.request(Method::POST, &path, &headers, form(&[("action", "add"), ("url", &url), ("mapping", "khong co dau bang")])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Others: refused; the public is sent to sign in.
    let other = app.person("quan-tri", None, Role::Admin, "mat-khau-quan-tri-dai").await;
    let r = app.request(Method::GET, &path, &[("authorization", &format!("Bearer {other}"))], vec![]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get(&path).await;
    assert!(r.status.is_redirection());
}

#[tokio::test]
async fn an_upstream_credential_is_sent_and_kept_sealed() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let agency = dataset(&app).await;
        let token = app.person("can-bo", Some(&agency), Role::Steward, "mat-khau-can-bo-dai").await;
        let up = upstream(Arc::new(AtomicU8::new(OK))).await;
        let url = format!("http://{up}/secret");
        // Without it, the upstream refuses: the run fails, nothing changes.
        let job = add_job(&app, &token, json!({"url": url, "mode": "replace"})).await;
        let r = run(&app, &token, job).await;
        assert_eq!(r["status"], "failed");
        assert!(r["error"].as_str().unwrap().contains("401"), "{r}");
        let job =
            add_job(&app, &token, json!({"url": url, "mode": "replace", "credential": {"header": "X-Api-Key", "value": UPSTREAM_KEY}}))
                .await;
        let r = run(&app, &token, job).await;
        assert_eq!(r["status"], "ok", "{engine:?}: {r}");
        assert_eq!(rows(&app).await.len(), N);
        // Never shown, and not in the database in clear.
        let (_, shown) = call(&app, Method::GET, &format!("/api/v1/datasets/{DS}/sync/{job}"), &token, None).await;
        assert_eq!(shown["has_credential"], true);
        let (_, listed) = call(&app, Method::GET, &format!("/api/v1/datasets/{DS}/sync"), &token, None).await;
        let page = app
            .request(Method::GET, &format!("/datasets/{DS}/sync"), &[("authorization", &format!("Bearer {token}"))], vec![])
            .await
            .text();
        for text in [shown.to_string(), listed.to_string(), page] {
            assert!(!text.contains(UPSTREAM_KEY));
        }
        let ds = app.store().dataset(DS).await.unwrap().unwrap();
        let stored = app.store().sync_job(&ds, job).await.unwrap().unwrap().credential.unwrap();
        assert!(!stored.contains(UPSTREAM_KEY) && !stored.contains("X-Api-Key"), "{stored}");
        // Headers chiase sets, or values that would split the request: refused.
        for bad in [
            json!({"header": "Host", "value": "x"}),
            json!({"header": "X Key", "value": "x"}),
            json!({"header": "X-Key", "value": "a\r\nB: c"}),
            json!({"header": "X-Key", "value": ""}),
        ] {
            let (s, v) = call(
                &app,
                Method::POST,
                &format!("/api/v1/datasets/{DS}/sync"),
                &token,
                Some(json!({"url": url, "mode": "replace", "credential": bad})),
            )
            .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        }
    }
}

#[tokio::test]
async fn jobs_and_runs_go_over_when_sqlite_is_copied_to_postgres() {
    if !engines().contains(&common::Engine::Postgres) {
        eprintln!("skipped: CHIASE_TEST_DATABASE_URL is not set");
        return;
    }
    let lite = TestApp::spawn(common::Engine::Sqlite).await;
    let agency = dataset(&lite).await;
    let token = lite.person("can-bo", Some(&agency), Role::Steward, "mat-khau-can-bo-dai").await;
    let up = upstream(Arc::new(AtomicU8::new(OK))).await;
    let job = add_job(
        &lite,
        &token,
        json!({"url": format!("http://{up}/secret"), "mode": "replace", "every": "1d", "credential": {"header": "X-Api-Key", "value": UPSTREAM_KEY}}),
    )
    .await;
    assert_eq!(run(&lite, &token, job).await["status"], "ok");
    let (s, _) = call(&lite, Method::POST, &format!("/api/v1/datasets/{DS}/push"), &token, Some(json!([record(3)]))).await;
    assert_eq!(s, StatusCode::OK);
    let target = chiase_store::testing::TestDb::new(common::Engine::Postgres).await;
    let report = lite.store().copy_to(&target.store, &|_, _| {}).await.unwrap();
    assert!(report.ok, "{:?}", report.tables.iter().filter(|t| t.source_checksum != t.target_checksum).collect::<Vec<_>>());
    let pg = TestApp::serve(target, false).await;
    let ds = pg.store().dataset(DS).await.unwrap().unwrap();
    assert_eq!(pg.store().sync_runs(&ds, None, 10).await.unwrap().len(), 2);
    let copied = pg.store().sync_job(&ds, job).await.unwrap().unwrap();
    assert!(copied.credential.is_some() && copied.next_run_at.is_some());
    // New rows after the copy get fresh ids.
    let (s, v) = call(&pg, Method::POST, &format!("/api/v1/datasets/{DS}/push"), &token, Some(json!([record(4)]))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], 3, "{v}");
}
