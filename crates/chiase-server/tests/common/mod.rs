//! `TestApp`: the real chiase server on a free port over a fresh database
//! (SQLite, or PostgreSQL when CHIASE_TEST_DATABASE_URL is set), with one
//! helper per kind of request.
#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;

use axum::http::{HeaderMap, Method, Request, StatusCode};
use chiase_server::app::router;
use chiase_server::auth::Caller;
use chiase_server::config::Config;
use chiase_server::state::AppState;
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

    /// Starts chiase with the built-in catalog loaded and the configuration
    /// changed by `configure` (its listen address and data directory are
    /// set afterwards).
    pub async fn spawn_with(engine: Engine, configure: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::serve_with(TestDb::new(engine).await, true, configure).await
    }

    /// Starts chiase over an existing database.
    pub async fn serve(db: TestDb, builtin_catalog: bool) -> TestApp {
        TestApp::serve_with(db, builtin_catalog, |_| {}).await
    }

    /// Starts chiase over an existing database with a changed configuration.
    pub async fn serve_with(db: TestDb, builtin_catalog: bool, configure: impl FnOnce(&mut Config)) -> TestApp {
        chiase_server::install_crypto_provider();
        if builtin_catalog {
            chiase_server::usecase::catalog::load_builtin(&db.store).await.expect("built-in catalog loads");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let addr = listener.local_addr().unwrap();
        let files_dir = tempfile::tempdir().expect("a temporary directory").keep();
        let mut config = Config::default();
        configure(&mut config);
        config.listen = addr;
        config.data_dir = files_dir;
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

    /// The operator at the command line (every use case accepts it).
    pub fn operator(&self) -> Caller {
        Caller::operator()
    }

    /// Creates an account (as the operator) and returns an API token for it.
    pub async fn person(&self, username: &str, agency: Option<&str>, role: chiase_core::policy::Role, password: &str) -> String {
        let op = Caller::operator();
        let new = chiase_store::users::NewUser {
            username: username.into(),
            display_name: None,
            agency: agency.map(str::to_string),
            role,
            password: Some(password.into()),
            email: None,
        };
        chiase_server::usecase::accounts::create_user(&self.state, &op, new)
            .await
            .unwrap_or_else(|e| panic!("create {username}: {}", e.msg));
        chiase_server::usecase::accounts::create_token(&self.state, &op, username, "test", Some(30)).await.expect("a token").1
    }

    /// Creates a dataset as the operator.
    pub async fn create_dataset(&self, new: chiase_server::usecase::datasets::CreateDataset) -> chiase_store::datasets::Dataset {
        let id = new.id.clone();
        chiase_server::usecase::datasets::create(&self.state, &Caller::operator(), new)
            .await
            .unwrap_or_else(|e| panic!("create {id}: {}", e.msg))
    }

    /// Imports bytes into a dataset as the operator.
    pub async fn import(
        &self,
        id: &str,
        name: &str,
        bytes: Vec<u8>,
        mode: chiase_store::datasets::import::ImportMode,
    ) -> Result<chiase_server::usecase::imports::ImportOutcome, chiase_server::error::ApiError> {
        let req = chiase_server::usecase::imports::ImportRequest {
            mode,
            source_name: Some(name.into()),
            content_type: None,
            options: Default::default(),
            allow_empty: false,
            handling: Default::default(),
        };
        let progress = std::sync::Arc::new(chiase_server::usecase::imports::Progress::default());
        chiase_server::usecase::imports::import(
            &self.state,
            &Caller::operator(),
            id,
            req,
            Box::new(std::io::Cursor::new(bytes)),
            u64::MAX,
            progress,
        )
        .await
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

/// The Python of the virtual environment `.ci/pytools` makes (ckanapi,
/// rdflib, pySHACL, frictionless, openapi-spec-validator), named by
/// CHIASE_PYTHON; `None` (the test skips, saying so) when it is not set,
/// unless CHIASE_PY_TESTS=required, as in CI.
pub fn python_tools() -> Option<std::path::PathBuf> {
    match std::env::var_os("CHIASE_PYTHON") {
        Some(p) if std::path::Path::new(&p).exists() => Some(p.into()),
        _ => {
            assert!(
                std::env::var("CHIASE_PY_TESTS").as_deref() != Ok("required"),
                "CHIASE_PY_TESTS=required but CHIASE_PYTHON does not name a Python (run: export CHIASE_PYTHON=$(bash .ci/pytools))"
            );
            eprintln!("Python client tests skipped: export CHIASE_PYTHON=$(bash .ci/pytools) to run them");
            None
        }
    }
}

/// Runs `tests/python/{script}` with the tools' Python, `args` after it,
/// on a blocking thread (the server under test runs on this runtime), for
/// at most 300 s, and returns its standard output; panics with its output
/// when it fails.
pub async fn run_python(python: &std::path::Path, script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(script);
    let mut cmd = std::process::Command::new("timeout");
    cmd.arg("300").arg(python).arg(&path).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the Python runner thread")
        .unwrap_or_else(|e| panic!("{script} does not start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{script} failed ({}):\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout
}
