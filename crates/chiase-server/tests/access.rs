//! Who may read what, over HTTP: every surface that returns data refuses
//! rows, counts, facet values, search hits and invisible fields to those
//! without the right; sharing requests open exactly what was granted; the
//! audit log records restricted reads and every write, and tampering with it
//! is caught. On every engine.

mod common;

use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_server::usecase::imports::ImportOutcome;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use chiase_store::testing::operator_data;
use common::{Resp, TestApp, engines};
use serde_json::{Value, json};

const PASSWORD: &str = "mat-khau-du-dai-123";

/// The people of these tests, each with an API token.
struct People {
    owner_steward: String,
    owner_member: String,
    consumer: String,
    consumer_steward: String,
    public: String,
    admin: String,
}

async fn person(app: &TestApp, username: &str, agency: Option<&str>, role: Role) -> String {
    app.person(username, agency, role, PASSWORD).await
}

/// Sở Nội vụ owns entry 4 (civil servants, specific); Sở TT&TT is the consumer.
async fn setup(app: &TestApp) -> People {
    let people = People {
        owner_steward: person(app, "noivu.steward", Some("so-noi-vu"), Role::Steward).await,
        owner_member: person(app, "noivu.member", Some("so-noi-vu"), Role::Member).await,
        consumer: person(app, "tttt.member", Some("so-thong-tin-va-truyen-thong"), Role::Member).await,
        consumer_steward: person(app, "tttt.steward", Some("so-thong-tin-va-truyen-thong"), Role::Steward).await,
        public: person(app, "cong.dan", None, Role::Member).await,
        admin: person(app, "quan.tri", None, Role::Admin).await,
    };
    let schema = json!({
        "fields": [
            {"name": "ma", "type": "string"},
            {"name": "ho_ten", "type": "string", "personal": "basic", "searchable": true},
            {"name": "suc_khoe", "type": "string", "personal": "sensitive"},
            {"name": "don_vi", "type": "string", "searchable": true},
            {"name": "lat", "type": "number", "geo": "lat"},
            {"name": "lon", "type": "number", "geo": "lon"}
        ],
        "primaryKey": "ma"
    });
    for (id, entry, mode) in [("can-bo", 4, "specific"), ("truong-hoc", 13, "open")] {
        app.create_dataset(CreateDataset {
            id: id.into(),
            database: DatabaseKey::No(entry),
            title: id.into(),
            title_en: None,
            description: String::new(),
            licence: None,
            sharing_mode: mode.parse().unwrap(),
            cadence: Some(chiase_core::catalog::Cadence::OnChange),
            schema: serde_json::from_value(schema.clone()).unwrap(),
            template: None,
            synthetic: false,
        })
        .await;
        let csv = "ma,ho_ten,suc_khoe,don_vi,lat,lon\nCB01,Nguyễn Văn Hùng,Tiểu đường,Phòng Tổ chức,21.82,105.21\nCB02,Trần Thị Lan,,Văn phòng Sở,22.15,105.27\n";
        assert!(matches!(app.import(id, "x.csv", csv.as_bytes().to_vec(), ImportMode::Append).await, Ok(ImportOutcome::Done(_))));
    }
    people
}

async fn as_(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> Resp {
    let bytes = if body.is_null() { vec![] } else { body.to_string().into_bytes() };
    app.request(method, path, &[("authorization", &format!("Bearer {token}")), ("content-type", "application/json")], bytes).await
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> Resp {
    as_(app, token, Method::GET, path, Value::Null).await
}

/// Every surface that returns rows of a dataset.
fn surfaces(id: &str) -> Vec<String> {
    vec![
        format!("/api/v1/datasets/{id}/records"),
        format!("/api/v1/datasets/{id}/records?facet=don_vi"),
        format!("/api/v1/datasets/{id}/records?q=phong"),
        format!("/api/v1/datasets/{id}/records?as_of=2099-01-01"),
        format!("/api/v1/datasets/{id}/records/CB01"),
        format!("/api/v1/datasets/{id}/changes"),
        format!("/api/v1/datasets/{id}/export.csv"),
        format!("/api/v1/datasets/{id}/export.json"),
        format!("/api/v1/datasets/{id}/export.ndjson"),
        format!("/api/v1/datasets/{id}/export.geojson"),
        format!("/api/v1/datasets/{id}/export.xlsx"),
    ]
}

fn leaks(text: &str) -> bool {
    ["CB01", "Nguyễn Văn Hùng", "Tiểu đường", "Phòng Tổ chức", "Lan"].iter().any(|s| text.contains(s))
}

#[tokio::test]
async fn without_a_grant_no_surface_shows_rows_counts_facets_hits_or_fields() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        for path in surfaces("can-bo") {
            let anon = app.get(&path).await;
            assert_eq!(anon.status, StatusCode::UNAUTHORIZED, "{engine:?} anonymous {path}");
            assert!(!leaks(&anon.text()), "{path}");
            for (who, token) in [("public", &p.public), ("consumer", &p.consumer), ("admin", &p.admin)] {
                let r = get_as(&app, token, &path).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{engine:?} {who} {path}: {}", r.text());
                assert!(!leaks(&r.text()), "{who} {path}");
            }
            // The owner agency reads it all.
            let owner = get_as(&app, &p.owner_member, &path).await;
            assert_eq!(owner.status, StatusCode::OK, "{engine:?} owner {path}: {}", owner.text());
        }
        // The bulk download leaves out what the caller may not read.
        let zip = app.get("/api/v1/databases/4/datapackage.zip").await;
        assert_eq!(zip.status, StatusCode::OK);
        assert!(!String::from_utf8_lossy(&zip.body).contains("can-bo.csv"), "no restricted file in the package");
    }
}

#[tokio::test]
async fn personal_fields_of_open_data_are_absent_not_blanked() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let _p = setup(&app).await;
        let page = app.get_ok("/api/v1/datasets/truong-hoc/records").await;
        assert_eq!(page["total"], 2, "{engine:?}");
        assert_eq!(page["fields"], json!(["ma", "don_vi", "lat", "lon"]));
        for r in page["records"].as_array().unwrap() {
            assert!(r.get("ho_ten").is_none() && r.get("suc_khoe").is_none(), "{r}");
        }
        // Searching, filtering, sorting or faceting by them gives nothing away.
        assert_eq!(app.get_ok("/api/v1/datasets/truong-hoc/records?q=nguyen%20van%20hung").await["total"], 0);
        for q in ["ho_ten=Trần%20Thị%20Lan", "sort=ho_ten", "facet=suc_khoe", "fields=ho_ten", "suc_khoe[null]=true"] {
            let r = app.get(&format!("/api/v1/datasets/truong-hoc/records?{q}")).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{engine:?} {q}");
            assert!(!leaks(&r.text()) || !r.text().contains("Nguyễn"), "{q}");
        }
        for path in [
            "/api/v1/datasets/truong-hoc/export.csv",
            "/api/v1/datasets/truong-hoc/export.json",
            "/api/v1/datasets/truong-hoc/changes",
            "/api/v1/datasets/truong-hoc/records/CB01",
        ] {
            let r = app.get(path).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            let t = r.text();
            assert!(!t.contains("Nguyễn Văn Hùng") && !t.contains("Tiểu đường") && !t.contains("ho_ten"), "{engine:?} {path}: {t}");
        }
        let zip = app.get("/api/v1/databases/13/datapackage.zip").await;
        assert!(String::from_utf8_lossy(&zip.body).contains("truong-hoc.csv"));
        // Open reads are counted, not logged one by one.
        let stats = app.get_ok("/api/v1/stats").await;
        let row = stats["open_reads"].as_array().unwrap().iter().find(|r| r["dataset"] == "truong-hoc").cloned().unwrap();
        assert!(row["reads"].as_i64().unwrap() >= 5, "{engine:?}: {row}");
        let events = app
            .store()
            .audit_events(
                &operator_data::audit(),
                &chiase_store::audit::AuditFilter { action: Some("read".into()), limit: 1000, ..Default::default() },
            )
            .await
            .unwrap();
        assert!(events.is_empty(), "open reads are not audited one by one");
    }
}

async fn request(app: &TestApp, token: &str, body: Value) -> Resp {
    as_(app, token, Method::POST, "/api/v1/requests", body).await
}

fn period() -> Value {
    let today = chrono::Utc::now().date_naive();
    json!({ "from": today.to_string(), "to": (today + chrono::Duration::days(90)).to_string() })
}

#[tokio::test]
async fn a_grant_opens_exactly_the_fields_approved_and_revocation_closes_them() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        // A sensitive field needs a legal basis to be asked for.
        let r = request(
            &app,
            &p.consumer,
            json!({"dataset": "can-bo", "fields": ["ma", "suc_khoe"], "purpose": "Kiểm tra", "period": period()}),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?}: {}", r.text());
        let r = request(&app, &p.consumer, json!({"dataset": "can-bo", "fields": ["ma", "ho_ten", "don_vi"], "purpose": "Xác minh cán bộ tham gia dự án chuyển đổi số", "period": period()})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let req = r.json();
        let id = req["id"].as_i64().unwrap();
        assert_eq!(req["status"], "pending");
        assert_eq!(req["overdue"], false);
        // Pending: still nothing.
        assert_eq!(get_as(&app, &p.consumer, "/api/v1/datasets/can-bo/records").await.status, StatusCode::FORBIDDEN);
        // Only the owner's stewards decide.
        for token in [&p.consumer, &p.owner_member, &p.admin] {
            assert_eq!(
                as_(&app, token, Method::POST, &format!("/api/v1/requests/{id}/approve"), json!({})).await.status,
                StatusCode::FORBIDDEN
            );
        }
        let to_decide = get_as(&app, &p.owner_steward, "/api/v1/requests?box=to_decide").await.json();
        assert_eq!(to_decide["count"], 1);
        // Approve, narrowing to two fields, with a decision document.
        let ok = as_(
            &app,
            &p.owner_steward,
            Method::POST,
            &format!("/api/v1/requests/{id}/approve"),
            json!({"fields": ["ma", "ho_ten"], "decision_no": "15/QĐ-SNV", "decision_date": "2026-11-20"}),
        )
        .await;
        assert_eq!(ok.status, StatusCode::OK, "{engine:?}: {}", ok.text());
        assert_eq!(ok.json()["granted_fields"], json!(["ma", "ho_ten"]));
        let page = get_as(&app, &p.consumer, "/api/v1/datasets/can-bo/records").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let page = page.json();
        assert_eq!(page["fields"], json!(["ma", "ho_ten"]), "{engine:?}");
        assert_eq!(page["records"][0]["ho_ten"], "Nguyễn Văn Hùng");
        assert!(page["records"][0].get("suc_khoe").is_none() && page["records"][0].get("don_vi").is_none());
        // Another agency's member gains nothing from it.
        assert_eq!(get_as(&app, &p.public, "/api/v1/datasets/can-bo/records").await.status, StatusCode::FORBIDDEN);
        // The grant's read is in the audit log, naming the grant and the fields.
        let events = app
            .store()
            .audit_events(
                &operator_data::audit(),
                &chiase_store::audit::AuditFilter { action: Some("read".into()), limit: 1000, ..Default::default() },
            )
            .await
            .unwrap();
        let e = events.iter().rev().find(|e| e.actor == "user:tttt.member").expect("audited read");
        let detail: Value = serde_json::from_str(&e.detail).unwrap();
        assert_eq!(detail["grant"], id);
        assert_eq!(detail["fields"], json!(["ma", "ho_ten"]));
        assert_eq!(detail["rows"], 2);
        assert_eq!(detail["surface"], "records");
        // Revocation (with a reason) closes it again.
        assert_eq!(
            as_(&app, &p.owner_steward, Method::POST, &format!("/api/v1/requests/{id}/revoke"), json!({})).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let rv =
            as_(&app, &p.owner_steward, Method::POST, &format!("/api/v1/requests/{id}/revoke"), json!({"reason": "Dự án đã kết thúc"}))
                .await;
        assert_eq!(rv.status, StatusCode::OK);
        assert_eq!(get_as(&app, &p.consumer, "/api/v1/datasets/can-bo/records").await.status, StatusCode::FORBIDDEN, "{engine:?}");
        // A grant for a sensitive field with a legal basis opens it.
        let r = request(&app, &p.consumer, json!({"dataset": "can-bo", "fields": ["ma", "suc_khoe"], "purpose": "Giám định", "legal_basis": "Luật Cán bộ, công chức 2008, Điều 6", "period": period()})).await;
        let id2 = r.json()["id"].as_i64().unwrap();
        as_(&app, &p.owner_steward, Method::POST, &format!("/api/v1/requests/{id2}/approve"), json!({})).await;
        let page = get_as(&app, &p.consumer, "/api/v1/datasets/can-bo/records").await.json();
        assert_eq!(page["fields"], json!(["ma", "suc_khoe"]));
        // An expired grant opens nothing.
        sqlx_expire(&app, id2).await;
        assert_eq!(get_as(&app, &p.consumer, "/api/v1/datasets/can-bo/records").await.status, StatusCode::FORBIDDEN);
        let shown = get_as(&app, &p.consumer, &format!("/api/v1/requests/{id2}")).await.json();
        assert_eq!(shown["expired"], true, "{engine:?}");
    }
}

/// Moves a grant's end into the past, as time would.
async fn sqlx_expire(app: &TestApp, id: i64) {
    let past = chrono::Utc::now() - chrono::Duration::days(1);
    match app.db.url.starts_with("postgres") {
        true => {
            let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
            sqlx::query("UPDATE sharing_requests SET granted_to = $1 WHERE id = $2").bind(past).bind(id).execute(&pool).await.unwrap();
        }
        false => {
            let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
            sqlx::query("UPDATE sharing_requests SET granted_to = ? WHERE id = ?").bind(past).bind(id).execute(&pool).await.unwrap();
        }
    }
}

#[tokio::test]
async fn refusals_are_written_with_reasons_and_legal_basis_and_requests_have_deadlines() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        let r = request(&app, &p.consumer, json!({"dataset": "can-bo", "purpose": "Thống kê", "period": period()})).await.json();
        let id = r["id"].as_i64().unwrap();
        let deadline = chrono::DateTime::parse_from_rfc3339(r["deadline_at"].as_str().unwrap()).unwrap();
        let created = chrono::DateTime::parse_from_rfc3339(r["created_at"].as_str().unwrap()).unwrap();
        assert_eq!((deadline - created).num_days(), 10, "the default deadline is 10 days");
        for body in [
            json!({}),
            json!({"reason": "Không đủ căn cứ"}),
            json!({"legal_basis": "Nghị định 13/2023"}),
            json!({"reason": " ", "legal_basis": "x"}),
        ] {
            let res = as_(&app, &p.owner_steward, Method::POST, &format!("/api/v1/requests/{id}/refuse"), body.clone()).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?} {body}");
        }
        let res = as_(&app, &p.owner_steward, Method::POST, &format!("/api/v1/requests/{id}/refuse"), json!({"reason": "Dữ liệu hồ sơ cán bộ chỉ cung cấp cho cơ quan có thẩm quyền", "legal_basis": "Nghị định 13/2023/NĐ-CP, Điều 17"})).await;
        assert_eq!(res.status, StatusCode::OK);
        let refused = res.json();
        assert_eq!(refused["status"], "refused");
        assert_eq!(refused["refusal_legal_basis"], "Nghị định 13/2023/NĐ-CP, Điều 17");
        // A refused request cannot be approved afterwards.
        assert_eq!(
            as_(&app, &p.owner_steward, Method::POST, &format!("/api/v1/requests/{id}/approve"), json!({})).await.status,
            StatusCode::CONFLICT
        );
        // The requester withdraws another one; the owner cannot see requests of others' datasets it does not own.
        let r2 = request(&app, &p.consumer, json!({"dataset": "can-bo", "purpose": "Thống kê", "period": period()})).await.json();
        let id2 = r2["id"].as_i64().unwrap();
        assert_eq!(
            as_(&app, &p.public, Method::POST, &format!("/api/v1/requests/{id2}/withdraw"), json!({})).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            as_(&app, &p.consumer, Method::POST, &format!("/api/v1/requests/{id2}/withdraw"), json!({})).await.json()["status"],
            "withdrawn"
        );
        // Asking for open data is answered at once.
        let r3 = request(&app, &p.consumer, json!({"dataset": "truong-hoc", "purpose": "Thống kê", "period": period()})).await;
        assert_eq!(r3.status, StatusCode::OK, "{engine:?}");
        assert_eq!(r3.json()["needed"], false);
        // Members of the public cannot file requests; nor can the owner for its own data.
        assert_eq!(
            request(&app, &p.public, json!({"dataset": "can-bo", "purpose": "x", "period": period()})).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            request(&app, &p.owner_member, json!({"dataset": "can-bo", "purpose": "x", "period": period()})).await.status,
            StatusCode::CONFLICT
        );
        // Every decision is in the log.
        let actions: Vec<String> = app
            .store()
            .audit_events(&operator_data::audit(), &chiase_store::audit::AuditFilter { limit: 1000, ..Default::default() })
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        for a in ["request_created", "request_refused", "request_withdrawn"] {
            assert!(actions.iter().any(|x| x == a), "{engine:?}: {a} in {actions:?}");
        }
        let _ = p.consumer_steward;
    }
}

#[tokio::test]
async fn tokens_sessions_csrf_and_throttling_behave() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        // Bearer, raw (CKAN) and X-CKAN-API-Key all identify the user.
        for (h, v) in [
            ("authorization", format!("Bearer {}", p.owner_member)),
            ("authorization", p.owner_member.clone()),
            ("x-ckan-api-key", p.owner_member.clone()),
        ] {
            let r = app.request(Method::GET, "/api/v1/me", &[(h, &v)], vec![]).await;
            assert_eq!(r.status, StatusCode::OK, "{engine:?} {h}");
            assert_eq!(r.json()["username"], "noivu.member");
        }
        // Tokens are stored hashed and revocable.
        let (info, token) =
            chiase_server::usecase::accounts::create_token(&app.state, &app.operator(), "noivu.member", "tam", Some(1)).await.unwrap();
        assert_eq!(get_as(&app, &token, "/api/v1/me").await.status, StatusCode::OK);
        assert_eq!(
            as_(&app, &token, Method::DELETE, &format!("/api/v1/me/tokens/{}", info.id), Value::Null).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(get_as(&app, &token, "/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
        let listed = get_as(&app, &p.owner_member, "/api/v1/me/tokens").await.text();
        assert!(!listed.contains(&token) && !listed.contains(&p.owner_member), "tokens are never shown again");
        // Sessions: a cookie, and a CSRF token on every change.
        let r = app
            .request(
                Method::POST,
                "/api/v1/session",
                &[("content-type", "application/json")],
                json!({"username": "noivu.steward", "password": PASSWORD}).to_string().into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}: {}", r.text());
        let set_cookie = r.headers["set-cookie"].to_str().unwrap().to_string();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let csrf = r.json()["csrf_token"].as_str().unwrap().to_string();
        assert_eq!(
            app.request(Method::GET, "/api/v1/datasets/can-bo/records", &[("cookie", &cookie)], vec![]).await.status,
            StatusCode::OK
        );
        let body = json!([{"ma": "CB09", "ho_ten": "Lê Văn Nam"}]).to_string().into_bytes();
        let no_csrf = app
            .request(
                Method::POST,
                "/api/v1/datasets/can-bo/records",
                &[("cookie", &cookie), ("content-type", "application/json")],
                body.clone(),
            )
            .await;
        assert_eq!(no_csrf.status, StatusCode::FORBIDDEN, "{engine:?}");
        let with = app
            .request(
                Method::POST,
                "/api/v1/datasets/can-bo/records",
                &[("cookie", &cookie), ("x-csrf-token", &csrf), ("content-type", "application/json")],
                body,
            )
            .await;
        assert_eq!(with.status, StatusCode::CREATED, "{}", with.text());
        // Writes are for the owner's stewards only.
        let member_write = as_(&app, &p.owner_member, Method::POST, "/api/v1/datasets/can-bo/records", json!([{"ma": "CB10"}])).await;
        assert_eq!(member_write.status, StatusCode::FORBIDDEN);
        // Throttling after repeated failures, even with the right password then.
        for _ in 0..5 {
            let r = app
                .request(
                    Method::POST,
                    "/api/v1/session",
                    &[("content-type", "application/json")],
                    json!({"username": "cong.dan", "password": "sai-mat-khau-roi-day"}).to_string().into_bytes(),
                )
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        }
        let r = app
            .request(
                Method::POST,
                "/api/v1/session",
                &[("content-type", "application/json")],
                json!({"username": "cong.dan", "password": PASSWORD}).to_string().into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{engine:?}");
        let failed = app
            .store()
            .audit_events(
                &operator_data::audit(),
                &chiase_store::audit::AuditFilter { action: Some("sign_in_failed".into()), limit: 100, ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(failed.len(), 5);
    }
}

#[tokio::test]
async fn the_first_administrator_comes_from_a_one_time_setup_token() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        assert!(app.store().add_setup_token("setup_mot-lan-duy-nhat-0123456789").await.unwrap());
        let json = [("content-type", "application/json")];
        let body = |t: &str, user: &str, pw: &str| json!({"token": t, "username": user, "password": pw}).to_string().into_bytes();
        let token = "setup_mot-lan-duy-nhat-0123456789";
        assert_eq!(
            app.request(Method::POST, "/api/v1/setup", &json, body("sai", "admin", PASSWORD)).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        // A bad username or password is refused before the token is spent.
        for (user, pw) in [("admin", "123"), ("Quản Trị", PASSWORD), ("admin", "            ")] {
            let r = app.request(Method::POST, "/api/v1/setup", &json, body(token, user, pw)).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?} {user:?} {pw:?}: {}", r.text());
        }
        assert!(!app.store().has_admin().await.unwrap());
        // A form post (not JSON) is refused: a cross-site form cannot use setup.
        let form =
            app.request(Method::POST, "/api/v1/setup", &[("content-type", "application/x-www-form-urlencoded")], b"token=x".to_vec()).await;
        assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let r = app.request(Method::POST, "/api/v1/setup", &json, body(token, "admin", PASSWORD)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?}: {}", r.text());
        assert_eq!(r.json()["role"], "admin");
        // Once an administrator exists, setup is closed to every token.
        let again = app.request(Method::POST, "/api/v1/setup", &json, body(token, "admin2", PASSWORD)).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{engine:?}: {}", again.text());
        assert!(!app.store().add_setup_token("setup_hai-0123456789abcdef").await.unwrap(), "no new setup token once an admin exists");
        let page = app.get("/setup").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("Đã có quản trị viên"), "{engine:?}");
    }
}

#[tokio::test]
async fn an_administrator_made_at_the_command_line_closes_setup() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        assert!(app.store().add_setup_token("setup_cli-0123456789abcdefgh").await.unwrap());
        let page = app.get("/setup").await;
        assert!(page.text().contains("name=\"token\""), "the setup form is shown while setup is open");
        app.person("quan.tri", None, Role::Admin, PASSWORD).await;
        let body = json!({"token": "setup_cli-0123456789abcdefgh", "username": "khac", "password": PASSWORD}).to_string().into_bytes();
        let r = app.request(Method::POST, "/api/v1/setup", &[("content-type", "application/json")], body).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{engine:?}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "conflict");
    }
}

#[tokio::test]
async fn the_audit_log_shows_stewards_their_agency_and_catches_tampering() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        for _ in 0..6 {
            get_as(&app, &p.owner_member, "/api/v1/datasets/can-bo/records").await;
        }
        as_(&app, &p.owner_steward, Method::POST, "/api/v1/datasets/can-bo/records", json!([{"ma": "CB03"}])).await;
        // Stewards see their agency's events; members none; admins all.
        let mine = get_as(&app, &p.owner_steward, "/api/v1/audit").await;
        assert_eq!(mine.status, StatusCode::OK);
        let mine = mine.json();
        assert!(mine["results"].as_array().unwrap().iter().any(|e| e["action"] == "read"));
        assert!(
            mine["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["dataset_id"].is_null() || e["target"] == "can-bo" || e["target"].as_str().unwrap_or("").starts_with("can-bo")),
            "{engine:?}"
        );
        assert_eq!(get_as(&app, &p.owner_member, "/api/v1/audit").await.status, StatusCode::FORBIDDEN);
        let other = get_as(&app, &p.consumer_steward, "/api/v1/audit?action=read").await.json();
        assert_eq!(other["count"], 0, "another agency's steward sees none of it");
        let csv = get_as(&app, &p.admin, "/api/v1/audit?format=csv").await;
        assert!(csv.text().starts_with("seq,at,actor"));
        assert_eq!(get_as(&app, &p.admin, "/api/v1/audit/verify").await.json()["ok"], true, "{engine:?}");

        let s = app.store();
        let n = s.verify_audit(&operator_data::verify()).await.unwrap().events;
        assert!(n >= 6);
        // Edit, delete, swap, truncate: each is caught, naming the first bad event.
        let sql = |q: &str| q.to_string();
        for (name, statements, first_bad) in [
            ("edit", vec![sql("UPDATE audit_events SET detail = '{\"rows\":0}' WHERE seq = 3")], 3),
            ("delete", vec![sql("DELETE FROM audit_events WHERE seq = 4")], 4),
            (
                "swap",
                vec![
                    sql("UPDATE audit_events SET seq = -1 WHERE seq = 2"),
                    sql("UPDATE audit_events SET seq = 2 WHERE seq = 5"),
                    sql("UPDATE audit_events SET seq = 5 WHERE seq = -1"),
                ],
                2,
            ),
            ("truncate", vec![format!("DELETE FROM audit_events WHERE seq = {n}")], n),
        ] {
            let backup = raw(&app, &[]).await;
            raw(&app, &statements.iter().map(String::as_str).collect::<Vec<_>>()).await;
            let v = s.verify_audit(&operator_data::verify()).await.unwrap();
            assert!(!v.ok, "{engine:?} {name} undetected");
            assert_eq!(v.first_bad, Some(first_bad), "{engine:?} {name}: {:?}", v.problem);
            restore(&app, backup).await;
            assert!(s.verify_audit(&operator_data::verify()).await.unwrap().ok, "{engine:?} restored after {name}");
        }
    }
}

type Rows =
    Vec<(i64, String, String, Option<i64>, Option<i64>, String, Option<i64>, Option<String>, String, Option<String>, String, String)>;

/// Runs statements on the database directly (as someone with disk access
/// would), returning a copy of the audit table first.
async fn raw(app: &TestApp, statements: &[&str]) -> Rows {
    let select = "SELECT seq, at, actor, user_id, agency_id, action, dataset_id, target, detail, source, prev_hash, hash FROM audit_events ORDER BY seq";
    if app.db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        let rows: Rows = sqlx::query_as(select).fetch_all(&pool).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.to_string())).execute(&pool).await.unwrap();
        }
        rows
    } else {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        let rows: Rows = sqlx::query_as(select).fetch_all(&pool).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.to_string())).execute(&pool).await.unwrap();
        }
        rows
    }
}

async fn restore(app: &TestApp, rows: Rows) {
    let ins = "INSERT INTO audit_events (seq, at, actor, user_id, agency_id, action, dataset_id, target, detail, source, prev_hash, hash) VALUES ";
    macro_rules! put {
        ($pool:expr, $ph:expr) => {{
            sqlx::query("DELETE FROM audit_events").execute(&$pool).await.unwrap();
            for r in rows {
                sqlx::query(sqlx::AssertSqlSafe(format!("{ins}{}", $ph)))
                    .bind(r.0)
                    .bind(r.1)
                    .bind(r.2)
                    .bind(r.3)
                    .bind(r.4)
                    .bind(r.5)
                    .bind(r.6)
                    .bind(r.7)
                    .bind(r.8)
                    .bind(r.9)
                    .bind(r.10)
                    .bind(r.11)
                    .execute(&$pool)
                    .await
                    .unwrap();
            }
        }};
    }
    if app.db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        put!(pool, "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
    } else {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        put!(pool, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    }
}

#[tokio::test]
async fn files_are_kept_by_checksum_and_served_only_through_the_policy() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        let scan = "Hồ sơ cán bộ CB01 — bản quét".as_bytes().to_vec();
        let up = app
            .request(
                Method::POST,
                "/api/v1/datasets/can-bo/files?name=ho-so-CB01.pdf&record=CB01",
                &[("authorization", &format!("Bearer {}", p.owner_steward)), ("content-type", "application/pdf")],
                scan.clone(),
            )
            .await;
        assert_eq!(up.status, StatusCode::CREATED, "{engine:?}: {}", up.text());
        let info = up.json();
        let expected: String =
            sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&scan)).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(info["sha256"], expected);
        assert_eq!(info["record_key"], "CB01");
        let id = info["id"].as_i64().unwrap();
        let path = format!("/api/v1/datasets/can-bo/files/{id}");
        // Members may not upload; only the owner's readers download.
        assert_eq!(
            app.request(
                Method::POST,
                "/api/v1/datasets/can-bo/files?name=x",
                &[("authorization", &format!("Bearer {}", p.owner_member))],
                b"x".to_vec()
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(app.get(&path).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(get_as(&app, &p.consumer, &path).await.status, StatusCode::FORBIDDEN);
        let got = get_as(&app, &p.owner_member, &path).await;
        assert_eq!(got.status, StatusCode::OK, "{engine:?}");
        assert_eq!(got.body, scan);
        assert_eq!(got.headers["etag"].to_str().unwrap(), format!("\"{expected}\""));
        // A grant that leaves out a personal field does not open the files.
        let r =
            request(&app, &p.consumer, json!({"dataset": "can-bo", "fields": ["ma", "don_vi"], "purpose": "Tra cứu", "period": period()}))
                .await
                .json();
        as_(&app, &p.owner_steward, Method::POST, &format!("/api/v1/requests/{}/approve", r["id"]), json!({})).await;
        assert_eq!(get_as(&app, &p.consumer, "/api/v1/datasets/can-bo/records").await.status, StatusCode::OK);
        assert_eq!(get_as(&app, &p.consumer, &path).await.status, StatusCode::FORBIDDEN, "{engine:?}");
        let events = app
            .store()
            .audit_events(
                &operator_data::audit(),
                &chiase_store::audit::AuditFilter { action: Some("file_added".into()), limit: 10, ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
    }
}
