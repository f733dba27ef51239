//! The OpenAPI document (`/api/v1/openapi.json`), the API's entry point
//! (`/api/v1`), the reference page (`/api/docs/`) and the security headers
//! on every kind of response. The document is checked against the routes
//! the server really registers, so a route added without documentation (or
//! documentation without a route) fails here.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use common::{Engine, TestApp};
use serde_json::Value;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Routes that are not part of the JSON API: web pages and their assets,
/// the reference page, the `/api` 404s, metrics. Anything else the router
/// registers must be in the document.
const NOT_API: &[&str] = &[
    "/",
    "/databases/{key}",
    "/databases/{key}/datapackage",
    "/datasets/{id}",
    "/agencies/{id}",
    "/datasets/{id}/request",
    "/requests",
    "/audit",
    "/my-access",
    "/requests/{id}",
    "/requests/{id}/{action}",
    "/robots.txt",
    "/huong-dan-khai-thac",
    "/notifications",
    "/notifications/read",
    "/freshness",
    "/datasets/{id}/upload",
    "/datasets/{id}/schema",
    "/datasets/{id}/edit",
    "/datasets/{id}/sync",
    "/admin/agencies",
    "/admin/users",
    "/admin/catalog",
    "/admin/catalog/preview",
    "/admin/settings",
    "/admin/harvest",
    "/gateway/{service}",
    "/services",
    "/services/{id}",
    "/gateway/{service}/{*path}",
    "/my-agency",
    "/tokens",
    "/datasets/new",
    "/datasets/new/propose",
    "/assets/chiase-upload.js",
    "/assets/outline.geojson",
    "/login/oidc",
    "/api/action/{name}",
    "/api/3/action/{name}",
    "/login/oidc/callback",
    "/sitemap.xml",
    "/assets/chiase.css",
    "/assets/leaflet.js",
    "/assets/leaflet.css",
    "/assets/chiase-map.js",
    "/login",
    "/logout",
    "/setup",
    // DCAT (web/dcat.rs, docs/dcat.md): RDF documents, not the JSON API.
    "/catalog",
    "/catalog.ttl",
    "/catalog.jsonld",
    "/catalog.rdf",
    "/dataset/{file}",
    "/themes",
    "/themes.ttl",
    "/themes.jsonld",
    "/themes.rdf",
    "/themes/{code}",
    "/metrics",
    "/api",
    "/api/{*rest}",
    "/api/docs",
    "/api/docs/",
    "/api/docs/{*rest}",
];

/// The routes registered in `app::router()`, with their methods, read from
/// the router itself (axum's `Debug` shows each route's path and which
/// methods it serves). Fallback routes are left out.
fn registered_routes(app: &TestApp) -> BTreeMap<String, BTreeSet<String>> {
    let debug = format!("{:?}", chiase_server::app::router(app.state.clone()));
    // Only the path router; the fallback router numbers its routes anew.
    let main = debug.split("fallback_router:").next().expect("a Router's Debug output");
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    let mut methods: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for chunk in main.split("RouteId(").skip(1) {
        let (id, rest) = chunk.split_once("): ").expect("RouteId(N): …");
        if let Some(path) = rest.strip_prefix('"') {
            paths.insert(id.to_string(), path.split('"').next().unwrap().to_string());
        } else if let Some(router) = rest.strip_prefix("MethodRouter(MethodRouter { ") {
            let fields = router.split(", fallback").next().unwrap();
            let served = fields
                .split(", ")
                .filter_map(|f| f.split_once(": "))
                .filter(|(_, v)| *v != "None")
                .map(|(m, _)| m.to_string())
                .collect::<BTreeSet<_>>();
            methods.insert(id.to_string(), served);
        } else {
            // A service mounted as a whole (no method router).
            methods.insert(id.to_string(), BTreeSet::from(["any".to_string()]));
        }
    }
    assert!(paths.len() > 20, "could not read the routes from the router's Debug output (axum changed it?): {main:.500}");
    paths.into_iter().map(|(id, path)| (path, methods.remove(&id).unwrap_or_default())).collect()
}

async fn document(app: &TestApp) -> Value {
    let r = app.get("/api/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
    r.json()
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut ops = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths is an object") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                ops.push((path.clone(), m.to_string(), op));
            }
        }
    }
    ops
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push(x.as_str().expect("$ref is a string"));
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_operation_in_it_is_complete() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let declared_tags: BTreeSet<&str> = doc["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    let schemes = doc["components"]["securitySchemes"].as_object().expect("security schemes");
    for name in ["bearer", "session", "csrf"] {
        assert!(schemes.contains_key(name), "security scheme {name}");
    }
    let mut operation_ids = BTreeSet::new();
    let ops = operations(&doc);
    assert!(ops.len() > 40, "only {} operations", ops.len());
    for (path, method, op) in &ops {
        let at = format!("{} {path}", method.to_uppercase());
        assert!(path.starts_with('/'), "{at}: a path starts with /");
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{at}: no operationId"));
        assert!(operation_ids.insert(id.to_string()), "{at}: operationId {id} is used twice");
        assert!(op["summary"].is_string() || op["description"].is_string(), "{at}: says nothing about itself");
        for tag in op["tags"].as_array().unwrap_or_else(|| panic!("{at}: no tag")) {
            assert!(declared_tags.contains(tag.as_str().unwrap()), "{at}: tag {tag} is not declared");
        }
        // Parameters: well-formed, none twice, and exactly the path's own
        // `{name}`s in the path.
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let mut seen = BTreeSet::new();
        let mut path_params = BTreeSet::new();
        for p in &params {
            let (name, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
            assert!(["query", "header", "path", "cookie"].contains(&place), "{at}: parameter {name} in {place}");
            assert!(p.get("schema").is_some() || p.get("content").is_some(), "{at}: parameter {name} has no schema");
            assert!(seen.insert((name, place)), "{at}: parameter {name} in {place} twice");
            if place == "path" {
                assert_eq!(p["required"], true, "{at}: path parameter {name} must be required");
                path_params.insert(name.to_string());
            }
        }
        let in_path: BTreeSet<String> = path.split('{').skip(1).map(|s| s.split('}').next().unwrap().to_string()).collect();
        assert_eq!(in_path, path_params, "{at}: the path's parameters and the documented ones differ");
        // Responses: a success, descriptions, and the error shape for errors.
        let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{at}: no responses"));
        assert!(responses.keys().any(|s| s.starts_with('2')), "{at}: no success response");
        for (status, r) in responses {
            assert!(status == "default" || (status.len() == 3 && status.parse::<u16>().is_ok()), "{at}: status {status}");
            let r = match r.get("$ref") {
                Some(reference) => resolve(&doc, reference.as_str().unwrap()).unwrap_or_else(|| panic!("{at}: {reference} unresolved")),
                None => r,
            };
            assert!(r["description"].is_string(), "{at} {status}: no description");
            // `/healthz` answers load balancers in its own shape.
            if (status.starts_with('4') || status.starts_with('5')) && path != "/healthz" {
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
                    "{at} {status}: errors are {{\"error\": {{code, message, message_en}}}}"
                );
            }
        }
        if ["post", "put", "patch"].contains(&method.as_str()) && !path.ends_with("/session") && !path.contains("/users/") {
            assert!(
                // A harvest run is asked for by its path alone.
                op.get("requestBody").is_some() || path.contains("{step}") || path.ends_with("/tokens") || path.ends_with("/run"),
                "{at}: a change without a documented body"
            );
        }
        if let Some(security) = op.get("security") {
            for requirement in security.as_array().unwrap() {
                for name in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "{at}: unknown security scheme {name}");
                }
            }
        }
    }
    // The error shape, as every error answers.
    let error = &doc["components"]["schemas"]["ErrorDetail"];
    for field in ["code", "message", "message_en"] {
        assert!(error["required"].as_array().unwrap().iter().any(|f| f == field), "ErrorDetail requires {field}");
    }
    // Every reference resolves.
    let mut all = vec![];
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for reference in all {
        assert!(resolve(&doc, reference).is_some(), "{reference} does not resolve");
    }
    // The statuses the brief names are all documented somewhere.
    let statuses: BTreeSet<String> = ops.iter().flat_map(|(_, _, op)| op["responses"].as_object().unwrap().keys().cloned()).collect();
    for s in ["400", "401", "403", "404", "409", "413", "415", "422", "503"] {
        assert!(statuses.contains(s), "no operation documents {s}");
    }
}

#[tokio::test]
async fn every_route_the_server_registers_is_in_the_document_with_the_same_methods_and_nothing_else_is() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let doc = document(&app).await;
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, method, _) in operations(&doc) {
        documented.entry(path).or_default().insert(method);
    }
    let registered = registered_routes(&app);
    for known in NOT_API {
        assert!(registered.contains_key(*known) || *known == "/metrics", "{known} is no longer registered: update NOT_API");
    }
    let api: BTreeMap<String, BTreeSet<String>> = registered.into_iter().filter(|(path, _)| !NOT_API.contains(&path.as_str())).collect();
    for (path, methods) in &api {
        let Some(doc_methods) = documented.get(path) else {
            panic!(
                "{path} ({methods:?}) is served but not in the OpenAPI document: register it with utoipa_axum's routes! and #[utoipa::path]"
            );
        };
        // axum serves HEAD with GET.
        let served: BTreeSet<String> = methods.iter().filter(|m| *m != "head").cloned().collect();
        assert_eq!(&served, doc_methods, "{path}: the methods served and the methods documented differ");
    }
    for path in documented.keys() {
        assert!(api.contains_key(path), "{path} is documented but no route serves it");
    }
}

#[tokio::test]
async fn the_api_entry_point_links_to_the_document_the_reference_and_each_resource() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let index = app.get_ok("/api/v1").await;
    assert_eq!(index["links"]["openapi"], "/api/v1/openapi.json");
    assert_eq!(index["links"]["docs"], "/api/docs/");
    let resources = index["resources"].as_object().unwrap();
    for (name, path) in [("databases", "/api/v1/databases"), ("agencies", "/api/v1/agencies"), ("datasets", "/api/v1/datasets")] {
        assert_eq!(resources[name], path, "{name}");
    }
    for (name, path) in resources {
        let path = path.as_str().unwrap();
        let r = app.get(path).await;
        assert_ne!(r.status, StatusCode::NOT_FOUND, "{name}: {path} is not served");
        assert!(r.status.is_success() || r.status == StatusCode::UNAUTHORIZED, "{name}: GET {path} answered {}", r.status);
    }
    // A trailing slash is the same entry point's 404, as JSON.
    let r = app.get("/api/v1/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["code"], "no_such_endpoint");
}

#[tokio::test]
async fn the_reference_page_is_served_from_the_binary_with_no_inline_script() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let r = app.get("/api/docs").await;
    assert!(r.status.is_redirection(), "{}", r.status);
    let page = app.get("/api/docs/").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    // Every script comes from a file, so the page works under the CSP.
    for tag in html.split("<script").skip(1) {
        let open = tag.split('>').next().unwrap();
        assert!(open.contains("src="), "an inline script: <script{open}>");
        assert!(tag.split("</script>").next().unwrap().split_once('>').unwrap().1.trim().is_empty(), "inline script body");
    }
    assert!(!html.contains("style=\""), "inline style attribute");
    let init = app.get("/api/docs/swagger-initializer.js").await;
    assert_eq!(init.status, StatusCode::OK);
    assert!(init.text().contains("/api/v1/openapi.json"), "{}", init.text());
    assert!(init.text().contains("\"validatorUrl\": \"none\""), "no call to a public validator: {}", init.text());
    let bundle = app.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.body.len() > 100_000);
}

fn assert_security_headers(r: &common::Resp, what: &str, hsts: bool) {
    let h = |name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_string());
    let csp = h("content-security-policy").unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    for directive in ["default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
        assert!(csp.contains(directive), "{what}: CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
    assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"), "{what}");
    assert!(
        matches!(
            h("referrer-policy").as_deref(),
            Some("same-origin" | "no-referrer" | "strict-origin" | "strict-origin-when-cross-origin")
        ),
        "{what}: {:?}",
        h("referrer-policy")
    );
    assert_eq!(h("x-frame-options").as_deref(), Some("DENY"), "{what}");
    assert_eq!(h("strict-transport-security").is_some(), hsts, "{what}: HSTS {:?}", h("strict-transport-security"));
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers_and_hsts_only_over_https() {
    for https in [false, true] {
        let app = TestApp::spawn_with(Engine::Sqlite, |c| c.secure_cookies = https).await;
        let page = app.get("/").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_security_headers(&page, "the catalog page", https);
        let api = app.get("/api/v1/databases").await;
        assert_eq!(api.status, StatusCode::OK);
        assert_security_headers(&api, "an API answer", https);
        let bad = app.get("/api/v1/databases?limit=0").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_security_headers(&bad, "an API error", https);
        let missing = app.get("/api/v1/no-such-thing").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_security_headers(&missing, "the API's 404", https);
        let page_404 = app.get("/no-such-page").await;
        assert_eq!(page_404.status, StatusCode::NOT_FOUND);
        assert_security_headers(&page_404, "the pages' 404", https);
        let wrong_method = app.request(axum::http::Method::DELETE, "/api/v1/databases", &[], vec![]).await;
        assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_security_headers(&wrong_method, "a 405", https);
        let css = app.get("/assets/chiase.css").await;
        assert_eq!(css.status, StatusCode::OK);
        assert_security_headers(&css, "the stylesheet", https);
        let docs = app.get("/api/docs/swagger-ui.css").await;
        assert_eq!(docs.status, StatusCode::OK);
        assert_security_headers(&docs, "a reference page asset", https);
        let doc = app.get("/api/v1/openapi.json").await;
        assert_security_headers(&doc, "the OpenAPI document", https);
    }
}

#[tokio::test]
async fn the_pages_have_no_inline_script_or_style_that_the_policy_would_block() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    for path in ["/", "/databases/1", "/login", "/setup", "/no-such-page"] {
        let html = app.get(path).await.text();
        assert!(!html.contains("<script"), "{path} has a script");
        assert!(!html.contains("<style"), "{path} has a style element");
        assert!(!html.contains("style=\""), "{path} has a style attribute");
        assert!(!html.contains(" onclick=") && !html.contains(" onsubmit=") && !html.contains(" onload="), "{path}: inline handler");
    }
}

/// A request that runs past `request_timeout_secs` was answered by the
/// timeout layer with an empty 503: the one error that was not
/// `{"error": {…}}` as the document says every error is. It is now the
/// same JSON as a busy server's, with `Retry-After`. (SQLite: holding the
/// writer makes a sign-in wait longer than the timeout.)
#[tokio::test]
async fn a_request_past_the_timeout_is_a_json_503_with_retry_after() {
    use chiase_store::datasets::import::ImportMode;
    let app = TestApp::spawn_with(Engine::Sqlite, |c| c.request_timeout_secs = 1).await;
    app.person("cong.dan", None, chiase_core::policy::Role::Member, "mat-khau-du-dai-123").await;
    let ds = app
        .create_dataset(chiase_server::usecase::datasets::CreateDataset {
            id: "giu".into(),
            database: chiase_store::databases::DatabaseKey::No(26),
            title: "Giữ".into(),
            title_en: None,
            description: String::new(),
            licence: None,
            sharing_mode: "open".parse().unwrap(),
            cadence: None,
            schema: serde_json::from_value(serde_json::json!({"fields": [{"name": "ma", "type": "string"}]})).unwrap(),
            template: None,
            synthetic: false,
        })
        .await;
    let permit = chiase_store::testing::operator_data::write(&ds);
    let writer = app.store().begin_write(&permit, &ds.id, ImportMode::Append, "test", None).await.unwrap();
    let body = serde_json::json!({"username": "cong.dan", "password": "mat-khau-du-dai-123"}).to_string().into_bytes();
    let r = app.request(axum::http::Method::POST, "/api/v1/session", &[("content-type", "application/json")], body).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert!(r.headers["retry-after"].to_str().unwrap().parse::<u32>().unwrap() > 0);
    let e = r.json();
    assert_eq!(e["error"]["code"], "busy");
    assert!(e["error"]["message"].is_string() && e["error"]["message_en"].as_str().unwrap().contains("request_timeout_secs"), "{e}");
    assert_security_headers(&r, "a timed-out request", false);
    drop(writer);
}
