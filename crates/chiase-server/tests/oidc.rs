//! Sign-in through the central sign-on against a real OpenID provider on
//! loopback: the `oidc-provider` package on Node (tests/oidc/provider.mjs,
//! installed by `npm ci` in tests/oidc, which `.ci/run` does). The browser
//! is a cookie-keeping HTTP client that follows redirects by hand.
//!
//! Without node or tests/oidc/node_modules the tests say how to install
//! them and pass, unless `CHIASE_OIDC_TESTS=required` (set by `.ci/run`).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::{Method, Request, StatusCode, header};
use chiase_core::policy::Role;
use common::{Engine, TestApp, engines};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const SECRET: &str = "chiase-test-client-secret";

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Whether the provider can run here; panics when it must and cannot.
fn available() -> bool {
    let installed = oidc_dir().join("node_modules/oidc-provider/package.json").exists();
    let node = Command::new("node").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if installed && node {
        return true;
    }
    let how = format!("install Node 20+ and run `npm ci` in {}", oidc_dir().display());
    assert!(
        std::env::var("CHIASE_OIDC_TESTS").as_deref() != Ok("required"),
        "CHIASE_OIDC_TESTS=required but the OpenID test provider cannot run: {how}"
    );
    eprintln!("OpenID Connect tests skipped: {how}");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port()
}

/// The provider's node process, killed when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser: cookies per host and port, redirects followed by hand.
struct Browser {
    client: Client<HttpConnector, Full<axum::body::Bytes>>,
    jar: HashMap<String, HashMap<String, String>>,
}

struct Page {
    url: String,
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new() -> Browser {
        Browser { client: Client::builder(TokioExecutor::new()).build_http(), jar: HashMap::new() }
    }

    async fn request(&mut self, method: Method, url: &str, form: Option<&str>) -> Page {
        let uri: axum::http::Uri = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
        let authority = uri.authority().expect("an absolute URL").to_string();
        let mut req = Request::builder().method(method).uri(url);
        let cookies = self.jar.get(&authority).map(|c| c.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "));
        if let Some(c) = cookies.filter(|c| !c.is_empty()) {
            req = req.header(header::COOKIE, c);
        }
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let body = Full::from(form.unwrap_or("").as_bytes().to_vec());
        let res = self.client.request(req.body(body).unwrap()).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        for v in res.headers().get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap_or("");
            let Some((name, rest)) = v.split(';').next().and_then(|kv| kv.split_once('=')).map(|(k, val)| (k.trim(), val.trim())) else {
                continue;
            };
            let expired = v.to_ascii_lowercase().contains("max-age=0") || v.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
            let jar = self.jar.entry(authority.clone()).or_default();
            if expired || rest.is_empty() {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), rest.to_string());
            }
        }
        let status = res.status();
        let location = res.headers().get(header::LOCATION).map(|l| absolute(url, l.to_str().unwrap()));
        let body = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
        Page { url: url.to_string(), status, location, body }
    }

    /// GET, then every redirect, until a page that is not one, or until
    /// the next hop would be `stop_before`'s (then that page is returned).
    async fn follow(&mut self, first: Page, stop_before: Option<&str>) -> Page {
        let mut page = first;
        for _ in 0..15 {
            let Some(next) = page.location.clone().filter(|_| page.status.is_redirection()) else { return page };
            if stop_before.is_some_and(|s| next.starts_with(s)) {
                return page;
            }
            page = self.request(Method::GET, &next, None).await;
        }
        panic!("too many redirects, last {}", page.url);
    }

    async fn get(&mut self, url: &str) -> Page {
        let first = self.request(Method::GET, url, None).await;
        self.follow(first, None).await
    }

    fn cookie(&self, authority: &str, name: &str) -> Option<String> {
        self.jar.get(authority).and_then(|c| c.get(name)).cloned()
    }
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let origin: String = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    format!("{origin}{location}")
}

/// chiase, configured for a provider that is started once chiase's address
/// is known (the provider registers chiase's callback).
async fn setup(engine: Engine) -> (TestApp, Provider, String) {
    // The issuer's port must be in chiase's configuration before it starts,
    // and chiase's port in the provider's: chiase takes a free port first.
    let port = free_port();
    let accounts_for = |agency: &str| {
        serde_json::json!({
            "an": { "agency": agency, "chiase_role": "steward", "preferred_username": "an.nv",
                    "name": "Nguyễn Văn An", "email": "an.nv@tuyenquang.gov.vn", "email_verified": true },
            "binh": { "agency": agency, "chiase_role": "superuser", "preferred_username": "an.nv", "name": "Trần Bình" },
            "lost": { "agency": "co-quan-khong-co", "chiase_role": "member", "preferred_username": "lost" },
        })
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let app = TestApp::spawn_with(engine, |c| {
        c.oidc_issuer = Some(issuer.clone());
        c.oidc_client_id = Some("chiase".into());
        c.oidc_client_secret = Some(SECRET.into());
    })
    .await;
    let base = format!("http://{}", app.addr);
    // An agency of the built-in catalog.
    let agency = "so-thong-tin-va-truyen-thong".to_string();
    app.get_ok(&format!("/api/v1/agencies/{agency}")).await;
    // The redirect URL defaults from the listen address, which TestApp set.
    assert_eq!(app.state.config.oidc_redirect(), format!("{base}/login/oidc/callback"));
    let provider = start_provider_on(port, &base, accounts_for(&agency)).await;
    (app, provider, agency)
}

async fn start_provider_on(port: u16, chiase: &str, accounts: serde_json::Value) -> Provider {
    // `start_provider` picks its own port; here the port is fixed.
    let child = Command::new("node")
        .arg("provider.mjs")
        .current_dir(oidc_dir())
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_REDIRECT_URI", format!("{chiase}/login/oidc/callback"))
        .env("OIDC_POST_LOGOUT_URI", format!("{chiase}/"))
        .env("OIDC_CLIENT_SECRET", SECRET)
        .env("OIDC_ACCOUNTS", accounts.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let provider = Provider { child, issuer: format!("http://127.0.0.1:{port}") };
    let discovery = format!("{}/.well-known/openid-configuration", provider.issuer);
    let client: Client<HttpConnector, Full<axum::body::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let started = Instant::now();
    loop {
        let req = Request::builder().uri(&discovery).body(Full::from(Vec::new())).unwrap();
        if let Ok(res) = client.request(req).await
            && res.status() == StatusCode::OK
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the OpenID provider did not start on port {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    provider
}

/// From the sign-in button to the provider's login form, signed in there
/// as `account`, and back to chiase; stops before chiase's callback when
/// `stop_at_callback`.
async fn sign_in(b: &mut Browser, base: &str, account: &str, stop_at_callback: bool) -> Page {
    let callback = format!("{base}/login/oidc/callback");
    let first = b.request(Method::GET, &format!("{base}/login/oidc"), None).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let stop = stop_at_callback.then_some(callback.as_str());
    let page = b.follow(first, stop).await;
    if !page.url.contains("/interaction/") || page.status.is_redirection() {
        return page;
    }
    assert_eq!(page.status, StatusCode::OK, "the provider's login form: {}", page.body);
    let uid = page.url.rsplit('/').next().unwrap().to_string();
    let issuer: String = page.url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    let posted = b.request(Method::POST, &format!("{issuer}/interaction/{uid}/login"), Some(&format!("login={account}"))).await;
    assert!(posted.status.is_redirection(), "login posted: {} {}", posted.status, posted.body);
    b.follow(posted, stop).await
}

async fn user_count(app: &TestApp) -> usize {
    app.store().users(&chiase_core::policy::decide_user_admin(&chiase_core::policy::Subject::Operator).unwrap()).await.unwrap().len()
}

#[tokio::test]
async fn sign_in_through_the_central_sign_on() {
    if !available() {
        return;
    }
    for engine in engines() {
        let (app, provider, agency) = setup(engine).await;
        let base = format!("http://{}", app.addr);
        let authority = app.addr.to_string();

        // The sign-in page offers the button.
        let mut b = Browser::new();
        let login = b.get(&format!("{base}/login")).await;
        assert!(
            login.body.contains("Đăng nhập bằng tài khoản một cửa của tỉnh") && login.body.contains("href=\"/login/oidc\""),
            "{engine:?}"
        );

        // The redirect carries state, nonce and an S256 challenge, to the issuer only.
        let start = b.request(Method::GET, &format!("{base}/login/oidc"), None).await;
        let to = start.location.clone().unwrap();
        assert!(to.starts_with(&format!("{}/auth?", provider.issuer)), "{to}");
        for p in ["state=", "nonce=", "code_challenge=", "code_challenge_method=S256", "client_id=chiase", "response_type=code"] {
            assert!(to.contains(p), "{p} missing from {to}");
        }
        assert!(!to.contains(SECRET));

        // First sign-in: the account is created with the agency and role of the claims.
        let before = user_count(&app).await;
        let mut b = Browser::new();
        let home = sign_in(&mut b, &base, "an", false).await;
        assert_eq!(home.status, StatusCode::OK, "{engine:?}: {}", home.body);
        assert_eq!(home.url, format!("{base}/"));
        assert!(b.cookie(&authority, "chiase_session").is_some(), "{engine:?}: no session");
        assert!(b.cookie(&authority, "chiase_oidc_state").is_none());
        let an = app.store().user("an.nv").await.unwrap().expect("the account was created");
        assert_eq!((an.role, an.agency.as_ref().map(|a| a.id.as_str())), (Role::Steward, Some(agency.as_str())), "{engine:?}");
        assert_eq!(an.display_name, "Nguyễn Văn An");
        assert_eq!(an.email.as_deref(), Some("an.nv@tuyenquang.gov.vn"));
        assert_eq!(user_count(&app).await, before + 1);
        // The header shows the signed-in name, as after a password sign-in.
        assert!(home.body.contains("Nguyễn Văn An"), "{engine:?}");

        // Second sign-in (another browser): the same account.
        let mut b2 = Browser::new();
        let home = sign_in(&mut b2, &base, "an", false).await;
        assert_eq!(home.status, StatusCode::OK, "{engine:?}: {}", home.body);
        let again = app.store().user("an.nv").await.unwrap().unwrap();
        assert_eq!(again.pk, an.pk);
        assert_eq!(user_count(&app).await, before + 1);

        // Another subject with the same preferred username gets a name of its
        // own, and an unknown role value makes a member.
        let mut b3 = Browser::new();
        let home = sign_in(&mut b3, &base, "binh", false).await;
        assert_eq!(home.status, StatusCode::OK, "{engine:?}: {}", home.body);
        let binh = app.store().user("an.nv-2").await.unwrap().expect("a unique username");
        assert_eq!(binh.role, Role::Member);

        // A tampered state is refused and creates nothing; so is a replayed one.
        let count = user_count(&app).await;
        let mut t = Browser::new();
        let at_callback = sign_in(&mut t, &base, "lost", true).await;
        let callback_url = at_callback.location.clone().expect("the provider sends the browser back");
        assert!(callback_url.starts_with(&format!("{base}/login/oidc/callback?")), "{callback_url}");
        let tampered = callback_url.replacen("state=", "state=x", 1);
        let refused = t.request(Method::GET, &tampered, None).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{engine:?}: {}", refused.body);
        assert!(refused.body.contains("không hợp lệ hoặc đã hết hạn"), "{}", refused.body);
        assert_eq!(user_count(&app).await, count);
        assert!(app.store().user("lost").await.unwrap().is_none());

        // An unknown agency is refused with a clear message; no account.
        let mut u = Browser::new();
        let refused = sign_in(&mut u, &base, "lost", false).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{engine:?}: {}", refused.body);
        assert!(refused.body.contains("co-quan-khong-co") && refused.body.contains("Chưa đăng nhập"), "{}", refused.body);
        assert!(u.cookie(&authority, "chiase_session").is_none());
        assert_eq!(user_count(&app).await, count);

        // A state already used is refused (single use).
        let mut r = Browser::new();
        let at_callback = sign_in(&mut r, &base, "an", true).await;
        let callback_url = at_callback.location.clone().unwrap();
        let ok = r.request(Method::GET, &callback_url, None).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{engine:?}: {}", ok.body);
        let replay = r.request(Method::GET, &callback_url, None).await;
        assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{engine:?}: replayed state");

        // A disabled account is refused.
        chiase_server::usecase::accounts::set_enabled(&app.state, &app.operator(), "an.nv-2", false).await.unwrap();
        let mut d = Browser::new();
        let refused = sign_in(&mut d, &base, "binh", false).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{engine:?}: {}", refused.body);

        // Sign-out ends the chiase session, then the provider's.
        let sid = b.cookie(&authority, "chiase_session").unwrap();
        let (_, csrf) = app.store().session(&sid).await.unwrap().expect("a live session");
        let out = b.request(Method::POST, &format!("{base}/logout"), Some(&format!("csrf={csrf}"))).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        let to = out.location.clone().unwrap();
        assert!(to.starts_with(&format!("{}/session/end?", provider.issuer)), "{engine:?}: {to}");
        assert!(to.contains("id_token_hint=") && to.contains("post_logout_redirect_uri="), "{to}");
        assert!(app.store().session(&sid).await.unwrap().is_none(), "the chiase session ended");
        // The provider accepts the hint and the way back (its confirmation page).
        let end = b.request(Method::GET, &to, None).await;
        assert_eq!(end.status, StatusCode::OK, "{engine:?}: {}", end.body);

        // The audit log has the sign-ins, with their method, and the refusals.
        let events = app
            .store()
            .audit_events(
                &chiase_store::testing::operator_data::audit(),
                &chiase_store::audit::AuditFilter { limit: 1000, ..Default::default() },
            )
            .await
            .unwrap();
        let oidc = |action: &str| events.iter().filter(|e| e.action == action && e.detail.contains("oidc")).count();
        assert!(oidc("sign_in") >= 3 && oidc("user_created") == 2 && oidc("sign_in_failed") >= 2, "{engine:?}: {events:?}");
        assert!(events.iter().all(|e| !e.detail.contains(SECRET)));
        drop(provider);
    }
}

#[tokio::test]
async fn a_provider_that_is_down_leaves_password_sign_in_working() {
    chiase_server::install_crypto_provider();
    let port = free_port(); // nothing listens there
    let app = TestApp::spawn_with(Engine::Sqlite, |c| {
        c.oidc_issuer = Some(format!("http://127.0.0.1:{port}"));
        c.oidc_client_id = Some("chiase".into());
        c.oidc_label = "Một cửa".into();
    })
    .await;
    let base = format!("http://{}", app.addr);
    let mut b = Browser::new();
    let login = b.get(&format!("{base}/login")).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Một cửa") && login.body.contains("name=\"password\""));
    let down = b.request(Method::GET, &format!("{base}/login/oidc"), None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{}", down.body);
    assert!(down.body.contains("Không kết nối được") && down.body.contains("name=\"password\""), "{}", down.body);
    let down = b.request(Method::GET, &format!("{base}/login/oidc?lang=en"), None).await;
    assert!(down.body.contains("cannot be reached"), "{}", down.body);
    // Not configured: no button, and the routes say so.
    let plain = TestApp::spawn(Engine::Sqlite).await;
    let mut b = Browser::new();
    let login = b.get(&format!("http://{}/login", plain.addr)).await;
    assert!(!login.body.contains("/login/oidc"));
    let off = b.request(Method::GET, &format!("http://{}/login/oidc", plain.addr), None).await;
    assert_eq!(off.status, StatusCode::NOT_FOUND);
}
