//! Beyond one machine: the same answers from SQLite and PostgreSQL after a
//! migration, two server processes on one PostgreSQL database keeping one
//! audit chain, leases for background jobs, backups, metrics.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chiase_core::policy::Role;
use chiase_store::testing::{Engine, TestDb, operator_data};
use common::{TestApp, engines};
use serde_json::Value;

fn pg() -> bool {
    std::env::var("CHIASE_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
}

#[tokio::test]
async fn a_demo_installation_migrates_to_postgres_and_answers_the_same_queries() {
    if !pg() {
        eprintln!("skipped: CHIASE_TEST_DATABASE_URL is not set");
        return;
    }
    let lite = TestApp::spawn(Engine::Sqlite).await;
    chiase_server::usecase::demo::load(&lite.state, &lite.operator(), Some(60), 7).await.unwrap();
    let token = lite.person("an.nv", Some("so-thong-tin-va-truyen-thong"), Role::Member, "mat-khau-du-dai-123").await;
    lite.get_ok("/api/v1/datasets/di-tich/records").await;
    // A theme a steward set (migration 0010) goes over with the rest.
    let changes = chiase_store::datasets::DatasetChanges { theme: Some(Some(chiase_core::theme::Theme::Society)), ..Default::default() };
    chiase_server::usecase::datasets::update(&lite.state, &lite.operator(), "di-tich", changes).await.unwrap();
    let target = TestDb::new(Engine::Postgres).await;
    // Something keeps writing to the source during the copy: the copy and
    // its check must both see one snapshot.
    let writer_store = lite.store().clone();
    let ds = lite.store().dataset("di-tich").await.unwrap().unwrap().pk;
    let writer = tokio::spawn(async move {
        loop {
            let today = chrono::Utc::now().date_naive();
            writer_store.add_open_reads(&[(ds.get(), today, 1, 1)]).await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let report = lite.store().copy_to(&target.store, &|_, _| {}).await.unwrap();
    writer.abort();
    assert!(report.ok, "{:?}", report.tables.iter().filter(|t| t.source_checksum != t.target_checksum).collect::<Vec<_>>());
    assert!(report.tables.len() >= 20 + 37);
    let pgapp = TestApp::serve(target, false).await;
    let auth = [("authorization", format!("Bearer {token}"))];
    let copied = pgapp.store().dataset("di-tich").await.unwrap().unwrap();
    assert_eq!(copied.theme, Some(chiase_core::theme::Theme::Society));
    let source = lite.store().dataset("di-tich").await.unwrap().unwrap();
    assert_eq!(copied.described_at.timestamp(), source.described_at.timestamp());
    for path in [
        "/api/v1/datasets/di-tich",
        "/api/v1/databases?q=dat%20dai",
        "/api/v1/databases/25",
        "/api/v1/datasets/di-tich/records?sort=-nam_xep_hang,ma_di_tich&limit=7&facet=cap_xep_hang",
        "/api/v1/datasets/di-tich/records?q=den&bbox=105.0,21.5,105.5,22.5",
        "/api/v1/datasets/co-so-luu-tru/records?limit=5&fields=ten_co_so,huyen",
        "/api/v1/datasets/tram-bts/records?nha_mang=Viettel&limit=10",
        "/api/v1/datasets/tram-bts/changes?since=10&limit=5",
        "/api/v1/agencies/so-noi-vu",
    ] {
        let a = lite.request(axum::http::Method::GET, path, &[(auth[0].0, &auth[0].1)], vec![]).await;
        let b = pgapp.request(axum::http::Method::GET, path, &[(auth[0].0, &auth[0].1)], vec![]).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text());
        assert_eq!(b.status, StatusCode::OK, "{path}: {}", b.text());
        let strip = |mut v: Value| {
            strip_times(&mut v);
            v
        };
        assert_eq!(strip(a.json()), strip(b.json()), "{path}");
    }
    assert!(pgapp.store().verify_audit(&operator_data::verify()).await.unwrap().ok);
}

/// Timestamps keep nanoseconds on SQLite and microseconds on PostgreSQL.
fn strip_times(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k.ends_with("_at") || k == "at" {
                    *x = Value::Null;
                } else {
                    strip_times(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_times),
        _ => {}
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn chiase(url: &str, data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chiase"));
    c.arg("--database").arg(url).arg("--data").arg(data).env("CHIASE_ADMIN_SETUP_TOKEN", "not-used-in-this-test-0123456789");
    c
}

async fn wait_healthy(port: u16) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<axum::body::Bytes>>();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let req = axum::http::Request::get(format!("http://127.0.0.1:{port}/healthz")).body(Default::default()).unwrap();
        if let Ok(r) = client.request(req).await
            && r.status() == StatusCode::OK
        {
            return;
        }
        assert!(Instant::now() < deadline, "the server on {port} did not become healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn call(port: u16, method: &str, path: &str, token: &str, body: Vec<u8>) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<axum::body::Bytes>>();
    let req = axum::http::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::from(body))
        .unwrap();
    let r = client.request(req).await.unwrap();
    let status = r.status();
    (status, String::from_utf8_lossy(&r.into_body().collect().await.unwrap().to_bytes()).into_owned())
}

#[tokio::test]
async fn two_processes_on_one_postgres_database_serve_the_same_api_and_keep_one_audit_chain() {
    if !pg() {
        eprintln!("skipped: CHIASE_TEST_DATABASE_URL is not set");
        return;
    }
    let db = TestDb::new(Engine::Postgres).await;
    let url = db.url.clone();
    let data = tempfile::tempdir().unwrap();
    chiase_server::usecase::catalog::load_builtin(&db.store).await.unwrap();
    // Set-up through the command line, as an operator would.
    let ok = |c: &mut Command| assert!(c.stdout(Stdio::null()).status().unwrap().success());
    ok(chiase(&url, data.path()).args(["dataset", "create", "--template", "tram-bts"]));
    let mut add = chiase(&url, data.path())
        .args(["user", "add", "steward.tttt", "--agency", "so-thong-tin-va-truyen-thong", "--role", "steward"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(add.wait().unwrap().success());
    let out = chiase(&url, data.path()).args(["token", "create", "steward.tttt"]).output().unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("chs_"));
    let (pa, pb) = (free_port(), free_port());
    let _a = Server(
        chiase(&url, data.path())
            .args(["serve", "--listen", &format!("127.0.0.1:{pa}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _b = Server(
        chiase(&url, data.path())
            .args(["serve", "--listen", &format!("127.0.0.1:{pb}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(pa).await;
    wait_healthy(pb).await;
    // Write through both at once, and read restricted data through both.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let port = if i % 2 == 0 { pa } else { pb };
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let row = serde_json::json!([{
                "id": i + 1, "ma_tram": format!("TQ-YSO-VTL-{:07}", i + 1), "nha_mang": "Viettel", "huyen": "Yên Sơn", "xa": "Xã Tứ Quận",
                "lat": 21.87, "lon": 105.25, "trang_thai": "Đang hoạt động"
            }]);
            let (s, t) = call(port, "POST", "/api/v1/datasets/tram-bts/records", &token, row.to_string().into_bytes()).await;
            assert_eq!(s, StatusCode::CREATED, "{t}");
            let (s, t) = call(port, "GET", "/api/v1/datasets/tram-bts/records?limit=5", &token, vec![]).await;
            assert_eq!(s, StatusCode::OK, "{t}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Both processes see all rows, and the change numbers are dense.
    for port in [pa, pb] {
        let (_, body) = call(port, "GET", "/api/v1/datasets/tram-bts", &token, vec![]).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["row_count"], 40);
        assert_eq!(v["last_seq"], 40);
    }
    // One unbroken chain, as the command line verifies it.
    let verify = chiase(&url, data.path()).args(["audit", "verify"]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let v = db.store.verify_audit(&operator_data::verify()).await.unwrap();
    assert!(v.ok && v.events >= 80, "{v:?}");
}

#[tokio::test]
async fn a_lease_lets_one_process_at_a_time_run_a_job() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        let s = &db.store;
        assert!(s.take_lease("housekeeping", "a", 60).await.unwrap(), "{engine:?}");
        assert!(!s.take_lease("housekeeping", "b", 60).await.unwrap(), "{engine:?}: held by a");
        assert!(s.take_lease("housekeeping", "a", 60).await.unwrap(), "the holder renews");
        assert!(s.take_lease("other-job", "b", 60).await.unwrap());
        assert!(s.take_lease("short", "a", -1).await.unwrap());
        assert!(s.take_lease("short", "b", 60).await.unwrap(), "{engine:?}: an expired lease passes on");
        s.housekeeping().await.unwrap();
    }
}

#[tokio::test]
async fn a_sqlite_backup_is_a_consistent_copy_taken_while_serving() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    chiase_server::usecase::demo::load(&app.state, &app.operator(), Some(20), 3).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup.db");
    app.store().backup_sqlite(&dest).await.unwrap();
    assert!(app.store().backup_sqlite(&dest).await.is_err(), "never overwrites");
    let copy = chiase_store::Store::open(&chiase_store::StoreConfig::new(format!("sqlite://{}", dest.display()), 2)).await.unwrap();
    assert_eq!(copy.datasets(None).await.unwrap().len(), app.store().datasets(None).await.unwrap().len());
    assert_eq!(chiase_store::testing::row_count(&copy.dataset("di-tich").await.unwrap().unwrap()), 20);
    assert!(copy.verify_audit(&operator_data::verify()).await.unwrap().ok);
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_format() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.get_ok("/api/v1/databases").await;
    let m = app.get("/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    let text = m.text();
    assert!(text.contains("chiase_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/v1/databases\""));
    assert!(text.contains("chiase_db_pool_connections"));
}
