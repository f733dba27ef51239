//! Regression tests for what schemathesis found when it fuzzed the API from
//! its OpenAPI document (`.ci/schemathesis`). Each test says what used to
//! happen. Storage is exercised on every engine (`engines()`).

mod common;

use axum::http::{Method, StatusCode};
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use common::{TestApp, engines};
use serde_json::json;

async fn open_dataset(app: &TestApp) {
    app.create_dataset(chiase_server::usecase::datasets::CreateDataset {
        id: "tram".into(),
        database: DatabaseKey::No(24),
        title: "Trạm".into(),
        title_en: None,
        description: String::new(),
        licence: None,
        sharing_mode: "open".parse().unwrap(),
        cadence: None,
        schema: serde_json::from_value(json!({
            "fields": [
                {"name": "ma", "type": "string", "constraints": {"required": true}},
                {"name": "ten", "type": "string"},
                {"name": "vi_tri", "type": "geopoint"}
            ],
            "primaryKey": "ma"
        }))
        .unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    let mut csv = String::from("ma,ten,vi_tri\n");
    for i in 0..3000 {
        csv.push_str(&format!("T{i:05},Trạm số {i},\"105.2,21.8\"\n"));
    }
    match app.import("tram", "tram.csv", csv.into_bytes(), ImportMode::Append).await {
        Ok(chiase_server::usecase::imports::ImportOutcome::Done(s)) => assert_eq!(s.inserted, 3000),
        Ok(chiase_server::usecase::imports::ImportOutcome::Rejected(r)) => panic!("rejected: {:?}", r.errors.first()),
        Err(e) => panic!("{}", e.msg),
    }
}

/// A streamed export asked for gzip (as schemathesis and browsers ask) was
/// cut short: the gzip layer polls the body once more after its end, the
/// export's stream (`unfold` over a channel) panicked when polled after it
/// had ended, and the client got a broken chunked response ("Response
/// ended prematurely") with a panic in the log. Every streamed body is now
/// fused.
#[tokio::test]
async fn a_gzip_export_is_sent_whole_in_every_format() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        open_dataset(&app).await;
        for ext in ["csv", "json", "ndjson", "geojson", "xlsx"] {
            let path = format!("/api/v1/datasets/tram/export.{ext}");
            // A broken chunked body fails the request here (the helper
            // collects the whole body).
            let r = app.request(Method::GET, &path, &[("accept-encoding", "gzip")], vec![]).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
            if ext != "xlsx" {
                assert_eq!(r.headers.get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"), "{path}");
            }
            // And the same export without compression is whole too.
            let plain = app.get(&path).await;
            assert_eq!(plain.status, StatusCode::OK);
            if ext == "csv" {
                assert_eq!(plain.text().lines().count(), 3001, "{path}: header and every row");
            }
        }
        let r = app.request(Method::GET, "/api/v1/databases/24/datapackage.zip", &[("accept-encoding", "gzip")], vec![]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
}
