//! A steward edits what describes a dataset (issue 11, steward part): its
//! titles, description, licence, cadence and sharing mode — among the
//! modes the catalog gives its database — from the portal's form (with the
//! session's anti-forgery token) or `PATCH /api/v1/datasets/{id}`. Only the
//! owner's stewards may; every change is in the audit log with its values
//! before and after.

mod common;

use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use common::{TestApp, enc, engines};
use serde_json::{Value, json};

const PASSWORD: &str = "mật-khẩu-đủ-dài-2025";
/// Entry 26 of the decision (passive telecom infrastructure, Sở TT&TT):
/// open, default and specific sharing — not `legal`.
const ENTRY: i64 = 26;
const OWNER: &str = "so-thong-tin-va-truyen-thong";

struct People {
    /// API tokens.
    steward: String,
    other: String,
    /// Browser sessions: cookie and anti-forgery token.
    steward_session: (String, String),
    other_session: (String, String),
}

async fn setup(app: &TestApp) -> People {
    app.create_dataset(CreateDataset {
        id: "tram-bts".into(),
        database: DatabaseKey::No(ENTRY),
        title: "Trạm BTS".into(),
        title_en: None,
        description: "Vị trí các trạm.".into(),
        licence: None,
        sharing_mode: "default".parse().unwrap(),
        cadence: None,
        schema: serde_json::from_value(json!({
            "fields": [{"name": "ma", "type": "string"}, {"name": "ten", "type": "string"}],
            "primaryKey": "ma"
        }))
        .unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    let done = app.import("tram-bts", "x.csv", b"ma,ten\nB1,Tram A\n".to_vec(), ImportMode::Append).await;
    assert!(matches!(done, Ok(chiase_server::usecase::imports::ImportOutcome::Done(_))));
    let steward = app.person("tttt.steward", Some(OWNER), Role::Steward, PASSWORD).await;
    let other = app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, PASSWORD).await;
    People { steward, other, steward_session: session_of(app, "tttt.steward").await, other_session: session_of(app, "noivu.steward").await }
}

/// A signed-in browser: the session cookie and its anti-forgery token.
async fn session_of(app: &TestApp, username: &str) -> (String, String) {
    let user = app.store().user(username).await.unwrap().expect("the user");
    let (sid, csrf) = app.store().create_session(&user).await.unwrap();
    (format!("{}={sid}", chiase_server::auth::SESSION_COOKIE), csrf)
}

/// The form as a browser posts it.
fn form(csrf: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("csrf", csrf),
        ("title", "Trạm BTS"),
        ("title_en", ""),
        ("description", "Vị trí các trạm."),
        ("licence", "other"),
        ("licence_other", "restricted"),
        ("cadence", "on_change"),
        ("sharing_mode", "default"),
    ];
    for (k, v) in fields {
        match pairs.iter_mut().find(|(n, _)| n == k) {
            Some(p) => p.1 = v,
            None => pairs.push((k, v)),
        }
    }
    pairs.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&").into_bytes()
}

async fn post_form(app: &TestApp, session: &(String, String), csrf: &str, fields: &[(&str, &str)]) -> common::Resp {
    let headers = [("cookie", session.0.as_str()), ("content-type", "application/x-www-form-urlencoded")];
    app.request(Method::POST, "/datasets/tram-bts/edit", &headers, form(csrf, fields)).await
}

async fn patch(app: &TestApp, token: &str, body: Value) -> common::Resp {
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    app.request(Method::PATCH, "/api/v1/datasets/tram-bts", &headers, body.to_string().into_bytes()).await
}

/// The dataset as the API shows it to the owner's steward.
async fn dataset(app: &TestApp, token: &str) -> Value {
    let r = app.request(Method::GET, "/api/v1/datasets/tram-bts", &[("authorization", &format!("Bearer {token}"))], vec![]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

/// What the description holds, as the store has it.
async fn described(app: &TestApp) -> (String, String, String, String) {
    let ds = app.store().dataset("tram-bts").await.unwrap().unwrap();
    (ds.title, ds.description, ds.licence, ds.sharing_mode.code().to_string())
}

#[tokio::test]
async fn the_owners_steward_edits_the_description_and_licence_from_the_page() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        let (cookie, csrf) = p.steward_session.clone();
        let before = dataset(&app, &p.steward).await;

        // The dataset page links the form for the owner's steward only.
        let page = app.request(Method::GET, "/datasets/tram-bts", &[("cookie", &cookie)], vec![]).await.text();
        assert!(page.contains("href=\"/datasets/tram-bts/edit\"") && page.contains("Sửa thông tin"), "{engine:?}");
        let page = app.request(Method::GET, "/datasets/tram-bts", &[("cookie", &p.other_session.0)], vec![]).await.text();
        assert!(!page.contains("/edit\""), "{engine:?}");
        assert!(!app.get("/datasets/tram-bts").await.text().contains("/edit\""), "{engine:?}");

        // The form: the current values, the catalog's modes only, the warning on open data.
        let edit = app.request(Method::GET, "/datasets/tram-bts/edit", &[("cookie", &cookie)], vec![]).await;
        assert_eq!(edit.status, StatusCode::OK, "{engine:?}");
        let html = edit.text();
        for text in [
            "value=\"Trạm BTS\"",
            ">Vị trí các trạm.</textarea>",
            "value=\"restricted\"",
            "<option value=\"CC-BY-4.0\">",
            "<option value=\"Giấy phép dữ liệu mở của tỉnh\">",
            "<option value=\"yearly\">Hằng năm</option>",
            "<option value=\"on_change\" selected>Khi có thay đổi</option>",
            "value=\"open\"",
            "value=\"default\" checked",
            "value=\"specific\"",
            "Chia sẻ mặc định",
            "công bố mọi dòng của tập dữ liệu cho công chúng",
            &format!("name=\"csrf\" value=\"{csrf}\""),
        ] {
            assert!(html.contains(text), "{engine:?}: «{text}» on the form");
        }
        assert!(!html.contains("value=\"legal\""), "{engine:?}: the catalog does not give entry {ENTRY} the legal mode");

        // Saved: back to the dataset's page, which shows the new values, as does the API.
        let saved = post_form(
            &app,
            &p.steward_session,
            &csrf,
            &[("description", "Vị trí và tần số của các trạm BTS.\r\nCập nhật khi có trạm mới."), ("licence", "CC-BY-4.0")],
        )
        .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{engine:?}: {}", saved.text());
        assert_eq!(saved.headers["location"], "/datasets/tram-bts");
        let page = app.get("/datasets/tram-bts").await.text();
        assert!(page.contains("Vị trí và tần số của các trạm BTS.\nCập nhật khi có trạm mới."), "{engine:?}");
        assert!(page.contains("<dd>CC-BY-4.0</dd>"), "{engine:?}");
        let after = dataset(&app, &p.steward).await;
        assert_eq!(after["description"], "Vị trí và tần số của các trạm BTS.\nCập nhật khi có trạm mới.");
        assert_eq!(after["licence"], "CC-BY-4.0");
        assert_eq!(after["title"], "Trạm BTS", "{engine:?}: untouched");
        assert_eq!(after["sharing_mode"], "default");
        // The description's time moved, the data's did not.
        assert_ne!(after["updated_at"], before["updated_at"], "{engine:?}");
        assert_eq!(after["data_updated_at"], before["data_updated_at"], "{engine:?}");
        assert!(!before["data_updated_at"].is_null());

        // The audit log: one event, each changed field before and after.
        let events = audit(&app, &p.steward).await;
        assert_eq!(events.len(), 1, "{engine:?}: {events:?}");
        let e = &events[0];
        assert_eq!(e["actor"], "user:tttt.steward");
        assert_eq!(e["target"], "tram-bts");
        let changes = &e["detail"]["changes"];
        assert_eq!(changes["licence"], json!({"from": "restricted", "to": "CC-BY-4.0"}), "{engine:?}: {e}");
        assert_eq!(changes["description"]["from"], "Vị trí các trạm.");
        assert_eq!(changes.as_object().unwrap().len(), 2, "{engine:?}: only what changed: {changes}");

        // The same form again changes nothing and records nothing.
        let again = post_form(
            &app,
            &p.steward_session,
            &csrf,
            &[("description", "Vị trí và tần số của các trạm BTS.\nCập nhật khi có trạm mới."), ("licence", "CC-BY-4.0")],
        )
        .await;
        assert_eq!(again.status, StatusCode::SEE_OTHER);
        assert_eq!(audit(&app, &p.steward).await.len(), 1, "{engine:?}");
    }
}

#[tokio::test]
async fn others_forged_forms_and_modes_outside_the_catalog_change_nothing() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        let (_, csrf) = p.steward_session.clone();
        let original = described(&app).await;

        // Another agency's steward: 403 on the form and on posting it.
        let edit = app.request(Method::GET, "/datasets/tram-bts/edit", &[("cookie", &p.other_session.0)], vec![]).await;
        assert_eq!(edit.status, StatusCode::FORBIDDEN, "{engine:?}");
        let html = edit.text();
        assert!(
            !html.contains("<form method=\"post\" action=\"/datasets/tram-bts/edit")
                && html.contains("Chỉ cán bộ quản lý dữ liệu của cơ quan chủ quản")
        );
        let other = post_form(&app, &p.other_session, &p.other_session.1, &[("description", "Đã bị sửa")]).await;
        assert_eq!(other.status, StatusCode::FORBIDDEN, "{engine:?}");
        assert!(other.text().contains("không được phép"), "{engine:?}");
        assert_eq!(described(&app).await, original, "{engine:?}");
        // A forged form (the session's cookie, not its token).
        let forged = post_form(&app, &p.steward_session, "gia-mao", &[("description", "Đã bị sửa")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{engine:?}");
        assert_eq!(described(&app).await, original, "{engine:?}");
        // Anonymous: a form page without the form.
        let anon = app.get("/datasets/tram-bts/edit").await.text();
        assert!(anon.contains("Hãy đăng nhập") && !anon.contains("name=\"description\""), "{engine:?}");

        // A mode the catalog does not give the database: refused with the
        // reason, what was typed kept, nothing changed.
        let legal = post_form(&app, &p.steward_session, &csrf, &[("sharing_mode", "legal"), ("description", "Mô tả mới đang gõ dở")]).await;
        assert_eq!(legal.status, StatusCode::BAD_REQUEST, "{engine:?}");
        let html = legal.text();
        assert!(html.contains("hình thức chia sẻ «legal» không có trong danh mục của CSDL này"), "{engine:?}: {html}");
        assert!(html.contains(">Mô tả mới đang gõ dở</textarea>"), "{engine:?}: the typed text is kept");
        assert_eq!(described(&app).await, original, "{engine:?}");
        // An empty title, a licence too long: the same.
        let empty = post_form(&app, &p.steward_session, &csrf, &[("title", "   "), ("description", "Khác")]).await;
        assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{engine:?}");
        assert!(empty.text().contains("tên tập dữ liệu không được để trống"), "{engine:?}");
        let long = "x".repeat(201);
        let too_long = post_form(&app, &p.steward_session, &csrf, &[("licence_other", &long)]).await;
        assert_eq!(too_long.status, StatusCode::BAD_REQUEST, "{engine:?}");
        assert!(too_long.text().contains("quá 200 ký tự"), "{engine:?}");
        assert_eq!(described(&app).await, original, "{engine:?}");
        assert!(audit(&app, &p.steward).await.is_empty(), "{engine:?}: nothing recorded");
    }
}

#[tokio::test]
async fn the_api_patches_a_dataset_with_a_token_and_refuses_unknown_fields() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        // The public may not read the rows yet (and the server caches the dataset for reads).
        assert_eq!(app.get("/api/v1/datasets/tram-bts/records").await.status, StatusCode::UNAUTHORIZED, "{engine:?}");

        let r = patch(
            &app,
            &p.steward,
            json!({"licence": "ODC-BY-1.0", "sharing_mode": "open", "title_en": "BTS stations", "cadence": "yearly"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}: {}", r.text());
        let ds = r.json();
        assert_eq!(ds["licence"], "ODC-BY-1.0");
        assert_eq!(ds["sharing_mode"], "open");
        assert_eq!(ds["title_en"], "BTS stations");
        assert_eq!(ds["cadence"], "yearly");
        assert_eq!(ds["title"], "Trạm BTS");
        assert_eq!(ds["row_count"], 1, "{engine:?}: returned as GET shows it");
        // Opened: the public reads the rows at once (the cached dataset is dropped).
        let open = app.get("/api/v1/datasets/tram-bts/records").await;
        assert_eq!(open.status, StatusCode::OK, "{engine:?}: {}", open.text());
        // `null` removes the English title.
        let r = patch(&app, &p.steward, json!({"title_en": null})).await;
        assert_eq!(r.json()["title_en"], Value::Null, "{engine:?}");

        // Unknown fields, bad values, other agencies: 400 / 403, nothing changed.
        let before = described(&app).await;
        let unknown = patch(&app, &p.steward, json!({"licence": "CC0-1.0", "owner": "so-noi-vu"})).await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{engine:?}");
        let err = &unknown.json()["error"];
        assert!(err["message"].as_str().unwrap().contains("không sửa được trường «owner»"), "{err}");
        assert!(err["message_en"].as_str().unwrap().contains("unknown field «owner»"), "{err}");
        let schema = patch(&app, &p.steward, json!({"schema": {}})).await;
        assert!(schema.json()["error"]["message_en"].as_str().unwrap().contains("/schema"), "{engine:?}: the schema's own path is named");
        for (body, says) in [
            (json!({"title": ""}), "must not be empty"),
            (json!({"licence": "x".repeat(201)}), "over 200"),
            (json!({"description": "d".repeat(5001)}), "over 5000"),
            (json!({"sharing_mode": "legal"}), "not one the catalog gives"),
            (json!({"sharing_mode": "secret"}), "invalid JSON body"),
            (json!(["licence"]), "JSON object"),
        ] {
            let r = patch(&app, &p.steward, body.clone()).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{engine:?}: {body}: {}", r.text());
            assert!(r.json()["error"]["message_en"].as_str().unwrap().contains(says), "{engine:?}: {body}: {}", r.text());
        }
        assert_eq!(patch(&app, &p.other, json!({"licence": "CC0-1.0"})).await.status, StatusCode::FORBIDDEN, "{engine:?}");
        let anon = app
            .request(
                Method::PATCH,
                "/api/v1/datasets/tram-bts",
                &[("content-type", "application/json")],
                b"{\"licence\":\"CC0-1.0\"}".to_vec(),
            )
            .await;
        assert_eq!(anon.status, StatusCode::UNAUTHORIZED, "{engine:?}");
        assert_eq!(described(&app).await, before, "{engine:?}");

        // The audit log has both changes, with before and after.
        let events = audit(&app, &p.steward).await;
        assert_eq!(events.len(), 2, "{engine:?}: {events:?}");
        let opened = events.iter().find(|e| e["detail"]["changes"]["sharing_mode"].is_object()).expect("the opening");
        assert_eq!(opened["detail"]["changes"]["sharing_mode"], json!({"from": "default", "to": "open"}));
        assert_eq!(opened["detail"]["changes"]["title_en"], json!({"from": null, "to": "BTS stations"}));
    }
}

/// The `dataset_updated` events the owner's steward sees.
async fn audit(app: &TestApp, token: &str) -> Vec<Value> {
    let r =
        app.request(Method::GET, "/api/v1/audit?action=dataset_updated", &[("authorization", &format!("Bearer {token}"))], vec![]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Each event's detail, stored as JSON text, read back as JSON.
    let mut events = r.json()["results"].as_array().unwrap().clone();
    for e in &mut events {
        if let Some(text) = e["detail"].as_str() {
            e["detail"] = serde_json::from_str(text).unwrap();
        }
    }
    events
}
