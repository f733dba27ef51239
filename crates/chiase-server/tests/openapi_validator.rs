//! The OpenAPI document (issue 12 item 3) as the standard validator reads
//! it: openapi-spec-validator (from .ci/pytools' environment) on the
//! document a running server serves, and `/api/v1` linking to it.

mod common;

use common::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_spec_validator_accepts_the_document() {
    let Some(python) = common::python_tools() else { return };
    let app = TestApp::spawn(common::Engine::Sqlite).await;
    let index = app.get_ok("/api/v1").await;
    assert!(index.to_string().contains("/api/v1/openapi.json"), "{index}");
    let doc = app.get_ok("/api/v1/openapi.json").await;
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = common::run_python(&python, "openapi_check.py", &[path.to_str().unwrap()], &[]).await;
    assert!(out.contains("openapi-spec-validator: valid"), "{out}");
}
