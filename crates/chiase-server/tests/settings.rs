//! `/admin/settings` (issue 11, item 4): an administrator sees every
//! setting (secrets only as set or unset) and changes, at run time, those
//! safe to change (`site_name`, `map_tiles`, `mail_from`); every server
//! process on the database sees the change; a value the configuration
//! would refuse is refused; clearing brings the configured value back.

mod common;

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use chiase_store::testing::operator_data;
use common::{TestApp, enc, engines};
use serde_json::json;

const PASSWORD: &str = "mật-khẩu-đủ-dài-2025";
const SMTP_PASSWORD: &str = "mat-khau-smtp-rat-bi-mat-42";
const CONFIGURED_NAME: &str = "Cổng dữ liệu tỉnh Tuyên Quang";

async fn session_of(app: &TestApp, username: &str) -> (String, String) {
    let user = app.store().user(username).await.unwrap().expect("the user");
    let (sid, csrf) = app.store().create_session(&user).await.unwrap();
    (format!("{}={sid}", chiase_server::auth::SESSION_COOKIE), csrf)
}

async fn post_form(app: &TestApp, cookie: &str, body: String) -> common::Resp {
    app.request(
        Method::POST,
        "/admin/settings",
        &[("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")],
        body.into_bytes(),
    )
    .await
}

fn title_of(html: &str) -> String {
    let start = html.find("<title>").expect("a title") + "<title>".len();
    let end = html[start..].find("</title>").expect("the title ends") + start;
    html[start..end].to_string()
}

#[tokio::test]
async fn an_administrator_changes_the_site_name_and_every_process_sees_it() {
    for engine in engines() {
        let app = TestApp::spawn_with(engine, |cfg| {
            cfg.smtp_url = Some(format!("smtps://chiase:{SMTP_PASSWORD}@mail.example.vn"));
        })
        .await;
        // A second server process over the same database.
        let other = TestApp::serve(app.db.share().await, false).await;
        app.person("quan.tri", None, Role::Admin, PASSWORD).await;
        app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, PASSWORD).await;
        let (cookie, csrf) = session_of(&app, "quan.tri").await;

        // Every setting, with the three changed here offered; the secret is only "set".
        let page = app.request(Method::GET, "/admin/settings", &[("cookie", &cookie)], vec![]).await;
        assert_eq!(page.status, StatusCode::OK, "{engine:?}");
        let html = page.text();
        for key in chiase_server::config::SETTINGS.iter().map(|s| s.key) {
            assert!(html.contains(&format!("<code>{key}</code>")), "{engine:?}: {key}");
        }
        assert!(!html.contains(SMTP_PASSWORD), "{engine:?}: the SMTP password is shown");
        assert!(html.contains("đã đặt"), "{engine:?}");
        assert!(html.contains("cần khởi động lại"), "{engine:?}");
        for key in ["site_name", "map_tiles", "mail_from"] {
            assert!(html.contains(&format!("id=\"set-{key}\"")), "{engine:?}: {key}");
        }
        assert!(!html.contains("id=\"set-listen\""), "{engine:?}");
        assert!(html.contains("href=\"/admin/settings"), "{engine:?}");
        assert!(app.get("/").await.text().contains(CONFIGURED_NAME), "{engine:?}");

        // A steward may not see or change settings; a forged form changes nothing.
        let (s_cookie, s_csrf) = session_of(&app, "noivu.steward").await;
        let r = app.request(Method::GET, "/admin/settings", &[("cookie", &s_cookie)], vec![]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{engine:?}");
        let r = post_form(&app, &s_cookie, format!("csrf={s_csrf}&action=set&key=site_name&value=Steward")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{engine:?}");
        let r = post_form(&app, &cookie, "csrf=sai&action=set&key=site_name&value=Forged".into()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{engine:?}");
        assert!(app.store().runtime_settings().await.unwrap().is_empty(), "{engine:?}");

        // The administrator renames the portal: this process at once.
        let name = "Cổng dữ liệu mở Tuyên Quang";
        let r = post_form(&app, &cookie, format!("csrf={csrf}&action=set&key=site_name&value={}", enc(name))).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{engine:?}: {}", r.text());
        assert!(title_of(&app.get("/").await.text()).contains(name), "{engine:?}");
        let html = app.request(Method::GET, "/admin/settings?done=set", &[("cookie", &cookie)], vec![]).await.text();
        assert!(html.contains("đổi tại trang này bởi user:quan.tri"), "{engine:?}");

        // The other process within a few seconds.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if title_of(&other.get("/").await.text()).contains(name) {
                break;
            }
            assert!(Instant::now() < deadline, "{engine:?}: the other process still shows the old name");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // An invalid tile server is refused in Vietnamese, and nothing changes.
        let r = post_form(&app, &cookie, format!("csrf={csrf}&action=set&key=map_tiles&value={}", enc("ftp://x"))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{engine:?}");
        assert!(r.text().contains("máy chủ ảnh nền bản đồ phải là một mẫu URL"), "{engine:?}: {}", r.text());
        assert_eq!(app.state.map_tiles(), None, "{engine:?}");
        // A bad sender too; a setting that needs a restart cannot be changed here.
        let r = post_form(&app, &cookie, format!("csrf={csrf}&action=set&key=mail_from&value={}", enc("không phải địa chỉ"))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{engine:?}");
        let r = post_form(&app, &cookie, format!("csrf={csrf}&action=set&key=listen&value={}", enc("0.0.0.0:80"))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{engine:?}");
        let keys: Vec<String> = app.store().runtime_settings().await.unwrap().into_iter().map(|r| r.key).collect();
        assert_eq!(keys, ["site_name"], "{engine:?}");

        // A good tile server and sender are taken.
        let tiles = "https://tiles.tuyenquang.gov.vn/{z}/{x}/{y}.png";
        let r = post_form(&app, &cookie, format!("csrf={csrf}&action=set&key=map_tiles&value={}", enc(tiles))).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{engine:?}: {}", r.text());
        assert_eq!(app.state.map_tiles().as_deref(), Some(tiles), "{engine:?}");
        let from = "Cổng dữ liệu <noreply@tuyenquang.gov.vn>";
        let r = post_form(&app, &cookie, format!("csrf={csrf}&action=set&key=mail_from&value={}", enc(from))).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{engine:?}: {}", r.text());
        assert_eq!(app.state.mail_from(), from, "{engine:?}");

        // Clearing brings the configured name back, here and there.
        let r = post_form(&app, &cookie, format!("csrf={csrf}&action=clear&key=site_name")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{engine:?}: {}", r.text());
        assert!(title_of(&app.get("/").await.text()).contains(CONFIGURED_NAME), "{engine:?}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !title_of(&other.get("/").await.text()).contains(CONFIGURED_NAME) {
            assert!(Instant::now() < deadline, "{engine:?}: the other process still shows the changed name");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // Each change is in the audit log with its old and new value.
        app.state.recorder.flush().await;
        let events = app
            .store()
            .audit_events(
                &operator_data::audit(),
                &chiase_store::audit::AuditFilter { action: Some("setting_changed".into()), limit: 100, ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(events.len(), 4, "{engine:?}: {events:?}");
        let detail: Vec<serde_json::Value> = events.iter().map(|e| serde_json::from_str(&e.detail).unwrap()).collect();
        assert!(
            detail.iter().any(|d| d["key"] == "site_name" && d["old"] == CONFIGURED_NAME && d["new"] == name),
            "{engine:?}: {detail:?}"
        );
        assert!(
            detail.iter().any(|d| d["key"] == "site_name" && d["old"] == name && d["new"] == CONFIGURED_NAME),
            "{engine:?}: {detail:?}"
        );
        assert!(detail.iter().any(|d| d["key"] == "map_tiles" && d["old"].is_null() && d["new"] == tiles), "{engine:?}: {detail:?}");
        // The page never shows the secret, after the changes either.
        let html = app.request(Method::GET, "/admin/settings?lang=en", &[("cookie", &cookie)], vec![]).await.text();
        assert!(!html.contains(SMTP_PASSWORD) && html.contains(">set<"), "{engine:?}");
    }
}

#[tokio::test]
async fn the_dataset_maps_follow_a_changed_tile_server() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        app.create_dataset(CreateDataset {
            id: "truong-hoc".into(),
            database: DatabaseKey::No(13),
            title: "Trường học".into(),
            title_en: None,
            description: "Mô tả".into(),
            licence: None,
            sharing_mode: "open".parse().unwrap(),
            cadence: None,
            schema: serde_json::from_value(json!({
                "fields": [
                    {"name": "ma", "type": "string"},
                    {"name": "lat", "type": "number", "geo": "lat"},
                    {"name": "lon", "type": "number", "geo": "lon"}
                ],
                "primaryKey": "ma"
            }))
            .unwrap(),
            template: None,
            synthetic: false,
        })
        .await;
        let done = app.import("truong-hoc", "x.csv", b"ma,lat,lon\nT1,21.82,105.21\n".to_vec(), ImportMode::Append).await;
        assert!(matches!(done, Ok(chiase_server::usecase::imports::ImportOutcome::Done(_))), "{engine:?}");
        let csp = |r: &common::Resp| r.headers.get("content-security-policy").unwrap().to_str().unwrap().to_string();
        let page = app.get("/datasets/truong-hoc").await;
        assert!(!csp(&page).contains("tiles.tuyenquang.gov.vn") && page.text().contains("data-tiles=\"\""), "{engine:?}");

        app.person("quan.tri", None, Role::Admin, PASSWORD).await;
        let (cookie, csrf) = session_of(&app, "quan.tri").await;
        let tiles = "https://tiles.tuyenquang.gov.vn/{z}/{x}/{y}.png";
        let r = post_form(&app, &cookie, format!("csrf={csrf}&action=set&key=map_tiles&value={}", enc(tiles))).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{engine:?}: {}", r.text());
        // The map draws on the new server, and the page's policy lets its images in.
        let page = app.get("/datasets/truong-hoc").await;
        assert!(csp(&page).contains("img-src 'self' data: https://tiles.tuyenquang.gov.vn;"), "{engine:?}: {}", csp(&page));
        assert!(page.text().contains(&format!("data-tiles=\"{tiles}\"")), "{engine:?}");
        // Set to empty: no tile server (points on a plain background), then cleared.
        let r = post_form(&app, &cookie, format!("csrf={csrf}&action=set&key=map_tiles&value=")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{engine:?}: {}", r.text());
        assert_eq!(app.state.map_tiles(), None, "{engine:?}");
        let rows = app.store().runtime_settings().await.unwrap();
        assert_eq!(rows.len(), 1, "{engine:?}");
        assert_eq!(rows[0].value, None, "{engine:?}");
        let r = post_form(&app, &cookie, format!("csrf={csrf}&action=clear&key=map_tiles")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{engine:?}: {}", r.text());
        assert!(app.store().runtime_settings().await.unwrap().is_empty(), "{engine:?}");
    }
}
