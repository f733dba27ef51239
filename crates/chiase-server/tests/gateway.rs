//! The service registry and the gateway (issue 13, items 1 and 2), with
//! small upstream servers on loopback: an allowed consumer's call passes
//! with chiase's headers and the upstream's credential, never the
//! consumer's token, and is logged; a refused one is refused and logged;
//! an upstream that hangs gives a timely 504 and one that is down a 503,
//! then the breaker answers at once; a 1 GB answer streams through with
//! flat memory; the upstream's credential is sealed at rest.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, StatusCode};
use chiase_core::policy::Role;
use common::{TestApp, engines};
use serde_json::{Value, json};

const UPSTREAM_SECRET: &str = "khoa-rieng-cua-he-thong-goc";

/// An upstream: `/echo` answers what it was sent; `/slow` never answers in
/// time; `/big?mb=N` streams N MiB.
async fn upstream() -> SocketAddr {
    use axum::routing::{any, get};
    async fn echo(method: axum::http::Method, uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes) -> axum::Json<Value> {
        let h: serde_json::Map<String, Value> =
            headers.iter().map(|(k, v)| (k.as_str().to_string(), json!(v.to_str().unwrap_or("")))).collect();
        axum::Json(json!({ "method": method.as_str(), "uri": uri.to_string(), "headers": h, "body_len": body.len() }))
    }
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(30)).await;
        "late"
    }
    async fn big(axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, u64>>) -> axum::body::Body {
        let mb = q.get("mb").copied().unwrap_or(1);
        let chunk = axum::body::Bytes::from(vec![b'x'; 1 << 20]);
        let stream = futures_util::stream::iter((0..mb).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
        axum::body::Body::from_stream(stream)
    }
    let app = axum::Router::new().route("/echo", any(echo)).route("/slow", get(slow)).route("/big", get(big));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn call(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value, HeaderMap) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let r = app.request(method, path, &headers, body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default()).await;
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v, r.headers)
}

/// The agency owning catalog database `no`.
async fn owner_of(app: &TestApp, no: i64) -> String {
    app.store().database(&chiase_store::databases::DatabaseKey::No(no)).await.unwrap().unwrap().owner.id
}

/// A database whose catalog entry allows `mode`.
async fn database_with(app: &TestApp, mode: &str) -> i64 {
    for no in 1..=31 {
        let d = app.store().database(&chiase_store::databases::DatabaseKey::No(no)).await.unwrap().unwrap();
        if d.sharing_modes.iter().any(|m| m.code() == mode) {
            return no;
        }
    }
    panic!("no database shares «{mode}»");
}

async fn service_calls(app: &TestApp) -> Vec<Value> {
    // Events are recorded off the call's path: give them a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let permit = chiase_core::policy::decide_audit_read(&chiase_core::policy::Subject::Operator).unwrap();
    let f = chiase_store::audit::AuditFilter { action: Some("service_call".into()), limit: 1000, ..Default::default() };
    app.store()
        .audit_events(&permit, &f)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let mut d: Value = serde_json::from_str(&e.detail).unwrap();
            d["actor"] = json!(e.actor);
            d["target"] = json!(e.target);
            d
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_call_passes_with_chiases_headers_and_a_refused_one_is_refused_both_logged() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let up = upstream().await;
        let no = database_with(&app, "default").await;
        let owner = owner_of(&app, no).await;
        let steward = app.person("quan-ly", Some(&owner), Role::Steward, "mat-khau-quan-ly-dai").await;
        let consumer_agency = owner_of(&app, if no == 1 { 2 } else { 1 }).await;
        assert_ne!(consumer_agency, owner);
        let consumer = app.person("can-bo-khac", Some(&consumer_agency), Role::Member, "mat-khau-can-bo-dai").await;
        let citizen = app.person("cong-dan", None, Role::Member, "mat-khau-cong-dan-dai").await;

        // Registration: its owner's stewards only.
        let body = json!({"id": "he-thong-a", "database": no.to_string(), "title": "Hệ thống A", "description": "Tra cứu hồ sơ",
            "upstream_url": format!("http://{up}"), "sharing_mode": "default",
            "upstream_auth": {"header": "X-Api-Key", "value": UPSTREAM_SECRET},
            "openapi": {"openapi": "3.0.3", "info": {"title": "A", "version": "1"}, "paths": {"/echo": {"get": {"responses": {"200": {"description": "ok"}}}}}}});
        let (s, v, _) = call(&app, Method::POST, "/api/v1/services", Some(&consumer), Some(body.clone())).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        let (s, v, _) = call(&app, Method::POST, "/api/v1/services", Some(&steward), Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert!(!v.to_string().contains(UPSTREAM_SECRET) && !v.to_string().contains(&up.to_string()), "{v}");
        // Public: the list, the service, its OpenAPI document served through the gateway.
        let list = app.get_ok("/api/v1/services").await;
        assert_eq!(list["results"][0]["id"], "he-thong-a");
        let doc = app.get_ok("/api/v1/services/he-thong-a/openapi.json").await;
        assert!(doc["servers"][0]["url"].as_str().unwrap().ends_with("/gateway/he-thong-a"), "{doc}");
        // The portal: the list and the service's documentation page.
        assert!(app.get("/services").await.text().contains("Hệ thống A"));
        let page = app.get("/services/he-thong-a").await.text();
        assert!(
            page.contains("/gateway/he-thong-a/echo")
                && page.contains("Authorization: Bearer $TOKEN")
                && page.contains("X-Chiase-Consumer-Agency"),
            "{page}"
        );
        assert!(!page.contains(UPSTREAM_SECRET) && !page.contains(&up.to_string()));
        // DCAT: a dcat:DataService with its endpoint and description.
        let ttl = app.get("/catalog.ttl").await.text();
        assert!(ttl.contains("/gateway/he-thong-a>") && ttl.contains("/api/v1/services/he-thong-a/openapi.json>"), "{ttl}");
        // Sealed at rest.
        let stored = format!("{:?}", app.store().service("he-thong-a").await.unwrap().unwrap().upstream_auth);
        assert!(!stored.contains(UPSTREAM_SECRET) && stored.len() > 40, "{stored}");

        // An allowed call: the consumer's token stays here; chiase's headers and the upstream's key go.
        let (s, v, headers) = call(&app, Method::GET, "/gateway/he-thong-a/echo?lop=6A&nam=2025", Some(&consumer), None).await;
        assert_eq!(s, StatusCode::OK, "{engine:?}: {v}");
        let h = &v["headers"];
        assert_eq!(v["uri"], "/echo?lop=6A&nam=2025");
        assert_eq!(h["x-chiase-consumer-agency"], consumer_agency.as_str());
        assert_eq!(h["x-chiase-user"], "can-bo-khac");
        assert_eq!(h["x-chiase-basis"], "default_sharing");
        assert_eq!(h["x-api-key"], UPSTREAM_SECRET);
        assert!(h.get("authorization").is_none(), "the consumer's token reached the upstream: {h}");
        assert!(!v.to_string().contains(&consumer), "the consumer's token reached the upstream");
        assert!(headers.get("set-cookie").is_none());
        // A body goes through; a spoofed chiase header does not.
        let r = app
            .request(
                Method::POST,
                "/gateway/he-thong-a/echo",
                &[("authorization", &format!("Bearer {consumer}")), ("x-chiase-user", "gia-mao"), ("content-type", "application/json")],
                r#"{"ho_ten": "Nguyễn Văn A"}"#.as_bytes().to_vec(),
            )
            .await;
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!((v["method"].clone(), v["headers"]["x-chiase-user"].clone()), (json!("POST"), json!("can-bo-khac")));
        assert_eq!(v["body_len"], r#"{"ho_ten": "Nguyễn Văn A"}"#.len());

        // Refused: the public and a citizen (default sharing is for state agencies).
        let (s, _, _) = call(&app, Method::GET, "/gateway/he-thong-a/echo", None, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, _) = call(&app, Method::GET, "/gateway/he-thong-a/echo", Some(&citizen), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Climbing out of the upstream's base path.
        let (s, _, _) = call(&app, Method::GET, "/gateway/he-thong-a/%2e%2e/admin", Some(&consumer), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        // Counted in /metrics.
        let metrics = app.get("/metrics").await.text();
        assert!(metrics.contains("chiase_gateway_calls_total{service=\"he-thong-a\",status=\"2xx\"}"), "{metrics}");
        assert!(metrics.contains("chiase_gateway_call_seconds_bucket{service=\"he-thong-a\""));
        // Its owner's stewards see how it is used, per consumer agency.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (s, stats, _) = call(&app, Method::GET, "/api/v1/services/he-thong-a/stats?days=1", Some(&steward), None).await;
        assert_eq!(s, StatusCode::OK, "{stats}");
        assert!(stats["calls"].as_u64().unwrap() >= 4, "{stats}");
        assert!(stats["status"]["2xx"].as_u64().unwrap() >= 2 && stats["latency_ms"]["p50"].is_u64(), "{stats}");
        let mine =
            stats["consumers"].as_array().unwrap().iter().find(|c| c["agency"] == consumer_agency.as_str()).expect("the consumer agency");
        assert!(mine["calls"].as_u64().unwrap() >= 2);
        let (s, _, _) = call(&app, Method::GET, "/api/v1/services/he-thong-a/stats", Some(&consumer), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(stats["per_day"].as_array().unwrap().last().unwrap()["calls"], stats["calls"], "{stats}");
        // The page shows the chart to them, not to others.
        let auth = format!("Bearer {steward}");
        let page = app.request(Method::GET, "/services/he-thong-a", &[("authorization", &auth)], vec![]).await.text();
        assert!(page.contains("Mức sử dụng 14 ngày qua") && page.contains("<svg"), "{page}");
        assert!(!app.get("/services/he-thong-a").await.text().contains("Mức sử dụng"));
        // Every call is in the audit log.
        let calls = service_calls(&app).await;
        let statuses: Vec<i64> = calls.iter().map(|c| c["status"].as_i64().unwrap()).collect();
        assert!(statuses.contains(&200) && statuses.contains(&401) && statuses.contains(&403), "{engine:?}: {calls:?}");
        let ok = calls.iter().find(|c| c["status"] == 200 && c["method"] == "GET").unwrap();
        assert_eq!(ok["target"], "he-thong-a");
        assert_eq!(ok["actor"], "user:can-bo-khac");
        assert_eq!(ok["path"], "/echo?lop=6A&nam=2025");
        assert!(ok["bytes"].as_u64().unwrap() > 100 && ok["duration_ms"].is_u64());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_hangs_or_is_down_fails_in_time_then_at_once() {
    let app = TestApp::spawn(common::Engine::Sqlite).await;
    let up = upstream().await;
    let no = database_with(&app, "open").await;
    let owner = owner_of(&app, no).await;
    let steward = app.person("quan-ly", Some(&owner), Role::Steward, "mat-khau-quan-ly-dai").await;
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    for (id, url, timeout) in [("cham", format!("http://{up}"), 500), ("chet", format!("http://{dead}"), 500)] {
        let body = json!({"id": id, "database": no.to_string(), "title": format!("Dịch vụ {id}"), "upstream_url": url,
                          "sharing_mode": "open", "timeout_ms": timeout});
        let (s, v, _) = call(&app, Method::POST, "/api/v1/services", Some(&steward), Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    // Hangs: a 504 at the service's timeout, three times; then the breaker answers at once.
    for _ in 0..3 {
        let t = Instant::now();
        let (s, v, _) = call(&app, Method::GET, "/gateway/cham/slow", None, None).await;
        assert_eq!(s, StatusCode::GATEWAY_TIMEOUT, "{v}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }
    let t = Instant::now();
    let (s, v, headers) = call(&app, Method::GET, "/gateway/cham/echo", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(t.elapsed() < Duration::from_millis(200), "{:?}", t.elapsed());
    assert!(headers.contains_key("retry-after"));
    assert!(v["error"]["message"].as_str().unwrap().contains("đang không trả lời"), "{v}");
    // Down: a 503 at once, every time.
    for _ in 0..4 {
        let t = Instant::now();
        let (s, _, _) = call(&app, Method::GET, "/gateway/chet/echo", None, None).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
    let calls = service_calls(&app).await;
    assert!(calls.iter().filter(|c| c["status"] == 504).count() >= 3);
    assert!(calls.iter().any(|c| c["error"] == "breaker open"));
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gb_answer_streams_through_with_flat_memory() {
    use http_body_util::BodyExt;
    let app = TestApp::spawn(common::Engine::Sqlite).await;
    let up = upstream().await;
    let no = database_with(&app, "open").await;
    let owner = owner_of(&app, no).await;
    let steward = app.person("quan-ly", Some(&owner), Role::Steward, "mat-khau-quan-ly-dai").await;
    let body = json!({"id": "lon", "database": no.to_string(), "title": "Tệp lớn", "upstream_url": format!("http://{up}"), "sharing_mode": "open"});
    let (s, v, _) = call(&app, Method::POST, "/api/v1/services", Some(&steward), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let before = rss_kib();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let res = client.get(format!("http://{}/gateway/lon/big?mb=1024", app.addr).parse().unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let (mut total, mut peak) = (0u64, before);
    while let Some(frame) = body.frame().await {
        if let Some(d) = frame.unwrap().data_ref() {
            total += d.len() as u64;
        }
        if total % (64 << 20) < 65_536 {
            peak = peak.max(rss_kib());
        }
    }
    assert_eq!(total, 1 << 30);
    let grew_mib = peak.saturating_sub(before) / 1024;
    assert!(grew_mib < 128, "memory grew by {grew_mib} MiB while 1 GiB streamed");
    let calls = service_calls(&app).await;
    assert_eq!(calls.last().unwrap()["bytes"], 1u64 << 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_database_share_a_consumers_limits() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let up = upstream().await;
        let no = database_with(&app, "default").await;
        let owner = owner_of(&app, no).await;
        let steward = app.person("quan-ly", Some(&owner), Role::Steward, "mat-khau-quan-ly-dai").await;
        let other = owner_of(&app, if no == 1 { 2 } else { 1 }).await;
        let a1 = app.person("can-bo-1", Some(&other), Role::Member, "mat-khau-can-bo-dai").await;
        let a2 = app.person("can-bo-2", Some(&other), Role::Member, "mat-khau-can-bo-dai").await;
        let mut third = String::new();
        for n in 1..=31 {
            let o = owner_of(&app, n).await;
            if o != owner && o != other {
                third = o;
                break;
            }
        }
        let b = app.person("can-bo-khac", Some(&third), Role::Member, "mat-khau-can-bo-dai").await;
        for (id, limits) in [("theo-ngay", json!({"quota_per_day": 3})), ("theo-phut", json!({"rate_per_minute": 2}))] {
            let mut body = json!({"id": id, "database": no.to_string(), "title": format!("Dịch vụ {id}"),
                                  "upstream_url": format!("http://{up}"), "sharing_mode": "default"});
            body.as_object_mut().unwrap().extend(limits.as_object().unwrap().clone());
            let (s, v, _) = call(&app, Method::POST, "/api/v1/services", Some(&steward), Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }
        let second = TestApp::serve(app.db.share().await, false).await;
        // The quota is the consumer agency's, whichever account and process calls.
        let mut statuses = vec![];
        for (i, token) in [&a1, &a2, &a1, &a2].iter().enumerate() {
            let server = if i % 2 == 0 { &app } else { &second };
            let (s, _, headers) = call(server, Method::GET, "/gateway/theo-ngay/echo", Some(token), None).await;
            statuses.push(s.as_u16());
            if s == StatusCode::TOO_MANY_REQUESTS {
                assert!(headers["retry-after"].to_str().unwrap().parse::<u32>().unwrap() >= 1);
            }
        }
        assert_eq!(statuses, vec![200, 200, 200, 429], "{engine:?}");
        // Another agency has its own.
        let (s, _, _) = call(&second, Method::GET, "/gateway/theo-ngay/echo", Some(&b), None).await;
        assert_eq!(s, StatusCode::OK);
        // Per minute (started early in a minute, so the window does not turn).
        while chrono::Timelike::second(&chrono::Utc::now()) > 50 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut statuses = vec![];
        for server in [&app, &second, &app] {
            statuses.push(call(server, Method::GET, "/gateway/theo-phut/echo", Some(&a1), None).await.0.as_u16());
        }
        assert_eq!(statuses, vec![200, 200, 429], "{engine:?}");
        let calls = service_calls(&app).await;
        assert!(calls.iter().any(|c| c["status"] == 429));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_round_of_health_checks_runs_once_among_processes_and_is_shown() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        // An upstream that counts the health checks it is asked.
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = listener.local_addr().unwrap();
        let router = axum::Router::new().route(
            "/suc-khoe",
            axum::routing::get(move || {
                let c = counted.clone();
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    "ok"
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let no = database_with(&app, "open").await;
        let owner = owner_of(&app, no).await;
        let steward = app.person("quan-ly", Some(&owner), Role::Steward, "mat-khau-quan-ly-dai").await;
        for (id, url) in [("song", format!("http://{up}")), ("chet", format!("http://{dead}"))] {
            let body = json!({"id": id, "database": no.to_string(), "title": format!("Dịch vụ {id}"), "upstream_url": url,
                              "sharing_mode": "open", "health_path": "/suc-khoe"});
            let (s, v, _) = call(&app, Method::POST, "/api/v1/services", Some(&steward), Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }
        let second = TestApp::serve(app.db.share().await, false).await;
        let (a, b) = tokio::join!(
            chiase_server::usecase::services::check_health(&app.state, "process-1"),
            chiase_server::usecase::services::check_health(&second.state, "process-2")
        );
        assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|ran| **ran).count(), 1, "{engine:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 1, "{engine:?}: one check of the live upstream");
        let song = app.get_ok("/api/v1/services/song").await;
        assert_eq!((song["health_ok"].clone(), song["health_detail"].clone()), (json!(true), json!("HTTP 200")));
        let chet = app.get_ok("/api/v1/services/chet").await;
        assert_eq!(chet["health_ok"], false, "{chet}");
        assert!(app.get("/services/chet").await.text().contains("không trả lời"));
    }
}
