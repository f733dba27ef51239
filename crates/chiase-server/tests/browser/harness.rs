//! A real browser for the portal's end-to-end tests: Debian's Chromium,
//! headless, driven through its WebDriver (`/usr/bin/chromedriver`) with
//! fantoccini. Each `Browser` starts its own chromedriver on a free port
//! and a fresh profile, saves screenshots under `target/screenshots/`, and
//! runs the axe-core accessibility engine (vendored in
//! tests/fixtures/axe, injected by the test, never served) on a page.
//!
//! Without chromedriver the tests say so and pass, unless
//! `CHIASE_BROWSER_TESTS=required` (set by `.ci/run`, which installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const AXE: &str = include_str!("../fixtures/axe/axe.min.js");

/// Desktop and phone widths of the screenshots.
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

pub struct Browser {
    pub c: Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
    pub downloads: tempfile::TempDir,
    /// Serious or critical accessibility problems found so far, by page.
    pub a11y: Vec<String>,
}

/// Whether the browser tests can run here; panics when they must and cannot.
pub fn available() -> bool {
    let present = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
    if !present {
        assert!(
            std::env::var("CHIASE_BROWSER_TESTS").as_deref() != Ok("required"),
            "CHIASE_BROWSER_TESTS=required but {CHROMEDRIVER} or {CHROMIUM} is missing (apt-get install chromium chromium-driver)"
        );
        eprintln!("browser tests skipped: install chromium and chromium-driver (Debian) to run them");
    }
    present
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port()
}

impl Browser {
    /// Starts Chromium for the server at `base` (`http://127.0.0.1:port`).
    pub async fn start(base: &str) -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("a profile directory");
        let downloads = tempfile::tempdir().expect("a download directory");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--no-first-run",
                    "--disable-sync", "--disable-quic", "--lang=vi-VN",
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path().to_string_lossy(),
                    "download.prompt_for_download": false,
                    "intl.accept_languages": "vi-VN,vi",
                },
            },
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        Browser { c, base: base.to_string(), driver, _profile: profile, downloads, a11y: Vec::new() }
    }

    pub async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    pub async fn find(&self, css: &str) -> Element {
        self.c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no «{css}»: {e}"))
    }

    /// The page's path and query.
    pub async fn path(&self) -> String {
        let u = self.c.current_url().await.expect("a URL");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    /// The text of the page's body.
    pub async fn text(&self) -> String {
        self.find("body").await.text().await.expect("the page's text")
    }

    /// Clicks something that stays on the page (a summary, a tick box).
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click «{css}»: {e}"));
    }

    /// Clicks something that opens another page (a link, a form's
    /// button) and waits until that page has loaded.
    pub async fn open(&self, css: &str) {
        let e = self.find(css).await;
        self.navigating(e).await;
    }

    /// Follows the link whose text contains `words` and waits for its page.
    pub async fn follow(&self, words: &str) {
        let e = self.link(words).await;
        self.navigating(e).await;
    }

    /// The link whose text contains `words`.
    pub async fn link(&self, words: &str) -> Element {
        let xpath = format!("//a[contains(normalize-space(.), {})]", xpath_literal(words));
        let link = self.c.wait().at_most(Duration::from_secs(10)).for_element(Locator::XPath(&xpath)).await;
        link.unwrap_or_else(|e| panic!("no link «{words}»: {e}"))
    }

    /// Clicks `e` and waits until the page it leads to has replaced this one.
    async fn navigating(&self, e: Element) {
        self.c.execute("window.__chiaseLeaving = true;", vec![]).await.expect("mark the page");
        e.click().await.expect("click");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let new = self
                .c
                .execute("return window.__chiaseLeaving === undefined && document.readyState === 'complete';", vec![])
                .await
                .unwrap_or(Value::Bool(false));
            if new == Value::Bool(true) {
                return;
            }
            assert!(Instant::now() < deadline, "the page did not change after the click");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.find(css).await;
        e.clear().await.ok();
        e.send_keys(value).await.unwrap_or_else(|e| panic!("type into «{css}»: {e}"));
    }

    /// Sets a date box's value (`yyyy-mm-dd`), as its date picker would:
    /// typed keys depend on the browser's locale.
    pub async fn set_date(&self, css: &str, iso: &str) {
        let e = self.find(css).await;
        let el = serde_json::to_value(&e).expect("an element reference");
        self.c.execute("arguments[0].value = arguments[1];", vec![el, json!(iso)]).await.expect("set the date");
    }

    /// Signs in through the sign-in page.
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.goto("/login").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.open("form.login button[type=submit]").await;
        self.find("header .who").await;
    }

    /// Signs out with the header's button.
    pub async fn sign_out(&self) {
        self.open("header form[action='/logout'] button").await;
        self.find("header a[href^='/login']").await;
    }

    /// Saves the page at desktop and phone widths as
    /// `target/screenshots/{name}-desktop.png` and `…-phone.png`, and
    /// checks it with axe-core at both widths.
    pub async fn shoot(&mut self, name: &str) {
        let dir = screenshots_dir();
        for (label, (w, h)) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.c.set_window_size(w, h).await.expect("resize");
            let png = self.c.screenshot().await.expect("a screenshot");
            std::fs::write(dir.join(format!("{name}-{label}.png")), png).expect("save the screenshot");
            self.check_accessibility(&format!("{name} ({label})")).await;
        }
        self.c.set_window_size(DESKTOP.0, DESKTOP.1).await.expect("resize");
    }

    /// Saves one element of the page (a map, a chart) as `target/screenshots/{name}.png`.
    pub async fn shoot_element(&self, css: &str, name: &str) {
        let e = self.find(css).await;
        let el = serde_json::to_value(&e).expect("an element reference");
        self.c.execute("arguments[0].scrollIntoView({block: 'center'});", vec![el]).await.expect("scroll");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = e.screenshot().await.expect("a screenshot of the element");
        std::fs::write(screenshots_dir().join(format!("{name}.png")), png).expect("save the screenshot");
    }

    /// Runs axe-core on the page (WCAG 2.1 A and AA rules) and keeps its
    /// serious and critical findings.
    pub async fn check_accessibility(&mut self, page: &str) {
        let loaded = self.c.execute("return typeof window.axe === 'object';", vec![]).await.expect("script runs");
        if loaded != Value::Bool(true) {
            self.c.execute(AXE, vec![]).await.expect("axe-core loads");
        }
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
              .then(r => done(r.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => v.impact + " " + v.id + ": " + v.help + " at " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "))))
              .catch(e => done(["axe failed: " + e]));
        "#;
        let found = self.c.execute_async(script, vec![]).await.expect("axe runs");
        for v in found.as_array().into_iter().flatten() {
            self.a11y.push(format!("{page}: {}", v.as_str().unwrap_or_default()));
        }
    }

    /// Waits for a file to arrive in the download directory and returns its bytes.
    pub async fn downloaded(&self, extension: &str) -> (String, Vec<u8>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let done = std::fs::read_dir(self.downloads.path())
                .expect("the download directory")
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == extension));
            if let Some(p) = done {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                return (name, std::fs::read(&p).expect("the downloaded file"));
            }
            assert!(Instant::now() < deadline, "no .{extension} file was downloaded");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn quit(mut self) {
        let _ = self.c.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// `target/screenshots/` of the workspace (whatever the build's target
/// directory), where a person looks for them.
pub fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).expect("target/screenshots");
    dir
}

/// A string as an XPath literal (quotes of either kind).
fn xpath_literal(s: &str) -> String {
    if !s.contains('"') {
        format!("\"{s}\"")
    } else if !s.contains('\'') {
        format!("'{s}'")
    } else {
        format!("concat(\"{}\")", s.replace('"', "\", '\"', \""))
    }
}
