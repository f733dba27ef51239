//! `TestApp`: the real chiase server on a free port over a fresh database
//! (SQLite, or PostgreSQL when CHIASE_TEST_DATABASE_URL is set), with one
//! helper per kind of request.
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::http::{HeaderMap, Method, Request, StatusCode};
use chiase_server::app::{AppState, router};
use chiase_server::config::Config;
use chiase_store::Store;
use chiase_store::testing::TestDb;
pub use chiase_store::testing::{Engine, engines};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub db: TestDb,
    client: Client<HttpConnector, Full<axum::body::Bytes>>,
    server: tokio::task::JoinHandle<()>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl TestApp {
    /// Starts chiase with the built-in catalog loaded.
    pub async fn spawn(engine: Engine) -> TestApp {
        TestApp::serve(TestDb::new(engine).await, true).await
    }

    /// Starts chiase over an existing database.
    pub async fn serve(db: TestDb, builtin_catalog: bool) -> TestApp {
        chiase_server::install_crypto_provider();
        if builtin_catalog {
            chiase_server::commands::load_builtin_catalog(&db.store).await.expect("built-in catalog loads");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let addr = listener.local_addr().unwrap();
        let files_dir = tempfile::tempdir().expect("a temporary directory").keep();
        let config = Config { listen: addr, data_dir: files_dir, ..Config::default() };
        let state = AppState::new(db.store.clone(), config).expect("the application starts");
        let app = router(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.expect("server runs");
        });
        let client = Client::builder(TokioExecutor::new()).build_http();
        TestApp { addr, state, db, client, server }
    }

    pub fn store(&self) -> &Store {
        &self.db.store
    }

    pub async fn request(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
        let mut req = Request::builder().method(method).uri(format!("http://{}{}", self.addr, path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self.client.request(req.body(Full::from(body)).unwrap()).await.expect("request reaches the server");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes().to_vec();
        Resp { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, &[], vec![]).await
    }

    /// GET that must answer 200 with JSON.
    pub async fn get_ok(&self, path: &str) -> serde_json::Value {
        let r = self.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.text());
        r.json()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
