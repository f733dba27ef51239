//! Notifications (issue 11, item 6), on every engine: filing a request
//! tells the owner's stewards (their page and the count in every page's
//! header), a decision tells the officer who filed it, the periodic scan
//! tells of deadlines near or passed and of grants ending, once each
//! however often it runs; with `smtp_url` set, the steward receives an
//! e-mail (read here by a small SMTP sink on loopback) naming the dataset
//! in Vietnamese, and a failed attempt is retried. Nobody sees another
//! person's notifications.

mod common;

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_server::usecase::notifications::{ScanOutcome, scan, send_pending};
use chiase_store::databases::DatabaseKey;
use chiase_store::notifications::NotificationKind;
use common::{Resp, TestApp, engines};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const PASSWORD: &str = "mat-khau-du-dai-123";
const TITLE: &str = "Hồ sơ cán bộ, công chức";
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// The people of these tests, each with an API token.
struct People {
    /// A steward of Sở Nội vụ, which owns the dataset.
    steward: String,
    /// An officer of Sở TT&TT, who asks for it.
    officer: String,
    /// A steward of another agency.
    other_steward: String,
    admin: String,
}

async fn setup(app: &TestApp) -> People {
    let people = People {
        steward: app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, PASSWORD).await,
        officer: app.person("tttt.canbo", Some("so-thong-tin-va-truyen-thong"), Role::Member, PASSWORD).await,
        other_steward: app.person("tuphap.steward", Some("so-tu-phap"), Role::Steward, PASSWORD).await,
        admin: app.person("quan.tri", None, Role::Admin, PASSWORD).await,
    };
    let schema = json!({
        "fields": [
            {"name": "ma", "type": "string"},
            {"name": "don_vi", "type": "string"},
            {"name": "ho_ten", "type": "string", "personal": "basic"}
        ],
        "primaryKey": "ma"
    });
    app.create_dataset(CreateDataset {
        id: "can-bo".into(),
        database: DatabaseKey::No(4),
        title: TITLE.into(),
        title_en: Some("Civil servants".into()),
        description: String::new(),
        licence: None,
        sharing_mode: "specific".parse().unwrap(),
        cadence: None,
        schema: serde_json::from_value(schema).unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    people
}

async fn as_(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> Resp {
    let bytes = if body.is_null() { vec![] } else { body.to_string().into_bytes() };
    app.request(method, path, &[("authorization", &format!("Bearer {token}")), ("content-type", "application/json")], bytes).await
}

/// Files a request for `can-bo` as `token`; returns its id.
async fn file(app: &TestApp, token: &str) -> i64 {
    let today = chrono::Utc::now().date_naive();
    let body = json!({
        "dataset": "can-bo", "fields": ["ma", "don_vi"], "purpose": "Đối chiếu danh sách cán bộ",
        "period": { "from": today.to_string(), "to": (today + chrono::Duration::days(90)).to_string() }
    });
    let r = as_(app, token, Method::POST, "/api/v1/requests", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

/// A signed-in browser: the session cookie and its anti-forgery token.
async fn session_of(app: &TestApp, username: &str) -> (String, String) {
    let user = app.store().user(username).await.unwrap().expect("the user");
    let (sid, csrf) = app.store().create_session(&user).await.unwrap();
    (format!("{}={sid}", chiase_server::auth::SESSION_COOKIE), csrf)
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> String {
    let r = app.request(Method::GET, path, &[("cookie", cookie)], vec![]).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    r.text()
}

/// A person's notifications, as the store keeps them.
async fn kinds(app: &TestApp, username: &str) -> Vec<(NotificationKind, i64)> {
    let user = app.store().user(username).await.unwrap().unwrap();
    app.store().notifications(user.pk, 100).await.unwrap().into_iter().map(|n| (n.kind, n.request.get())).collect()
}

/// Moves a request's time (`deadline_at` or `granted_to`) as time would.
async fn set_time(app: &TestApp, column: &str, id: i64, at: chrono::DateTime<chrono::Utc>) {
    assert!(["deadline_at", "granted_to"].contains(&column));
    if app.db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        let sql = format!("UPDATE sharing_requests SET {column} = $1 WHERE id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at).bind(id).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        let sql = format!("UPDATE sharing_requests SET {column} = ? WHERE id = ?");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at).bind(id).execute(&pool).await.unwrap();
    }
}

#[tokio::test]
async fn filing_tells_the_owners_steward_and_a_decision_tells_the_officer() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        let id = file(&app, &p.officer).await;

        // The owner's steward: the page lists it, unread in words, linked to the request; the header counts it.
        let (steward, steward_csrf) = session_of(&app, "noivu.steward").await;
        let html = page(&app, &steward, "/notifications").await;
        let list = html.split("<ol class=\"notifications\"").nth(1).expect("a list").split("</ol>").next().unwrap();
        assert!(list.contains(&format!("href=\"/requests/{id}\"")), "{engine:?}: {list}");
        assert!(list.contains("Chưa đọc") && list.contains(TITLE), "{engine:?}: unread, in words, naming the dataset: {list}");
        assert!(list.contains("Sở Thông tin và Truyền thông"), "{engine:?}: the requesting agency: {list}");
        let home = page(&app, &steward, "/").await;
        assert!(home.contains("1 thông báo chưa đọc\">1</span>"), "{engine:?}: the count in the header");
        assert_eq!(kinds(&app, "noivu.steward").await, vec![(NotificationKind::RequestFiled, id)]);
        // English on request.
        let en = page(&app, &steward, "/notifications?lang=en").await;
        assert!(en.contains("Unread:") && en.contains("New data request no."), "{engine:?}");

        // Nobody else is told, nor sees the steward's notification.
        for who in ["tttt.canbo", "tuphap.steward", "quan.tri"] {
            let (cookie, _) = session_of(&app, who).await;
            let html = page(&app, &cookie, "/notifications").await;
            assert!(!html.contains(TITLE) && html.contains("Chưa có thông báo nào"), "{engine:?}: {who} sees nothing");
            assert!(!page(&app, &cookie, "/").await.contains("thông báo chưa đọc"), "{engine:?}: {who} has no count");
        }
        // Signed out, the page sends to the sign-in page.
        let anon = app.get("/notifications").await;
        assert_eq!(anon.status, StatusCode::SEE_OTHER);

        // "Mark all as read": a forged form changes nothing; the session's token does.
        let forged = app.request(Method::POST, "/notifications/read", &[("cookie", &steward), FORM], b"csrf=sai".to_vec()).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{engine:?}");
        assert!(page(&app, &steward, "/").await.contains("thông báo chưa đọc"), "{engine:?}: still unread");
        let body = format!("csrf={steward_csrf}").into_bytes();
        let done = app.request(Method::POST, "/notifications/read", &[("cookie", &steward), FORM], body).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{engine:?}: {}", done.text());
        let html = page(&app, &steward, "/notifications").await;
        assert!(html.contains(TITLE) && !html.contains("Chưa đọc") && html.contains("Bạn đã đọc hết thông báo"), "{engine:?}");
        assert!(!page(&app, &steward, "/").await.contains("thông báo chưa đọc"), "{engine:?}: no count once read");

        // The steward approves: the officer who filed it is told, the steward is not.
        let approved = as_(&app, &p.steward, Method::POST, &format!("/api/v1/requests/{id}/approve"), json!({})).await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
        let (officer, _) = session_of(&app, "tttt.canbo").await;
        let html = page(&app, &officer, "/notifications").await;
        assert!(html.contains(&format!("Yêu cầu khai thác «{TITLE}» (số {id}) đã được Sở Nội vụ phê duyệt")), "{engine:?}: {html}");
        assert!(html.contains(&format!("href=\"/requests/{id}\"")), "{engine:?}");
        assert!(page(&app, &officer, "/").await.contains("1 thông báo chưa đọc\">1</span>"), "{engine:?}");
        assert_eq!(kinds(&app, "tttt.canbo").await, vec![(NotificationKind::RequestDecided, id)]);
        assert_eq!(kinds(&app, "noivu.steward").await, vec![(NotificationKind::RequestFiled, id)], "{engine:?}");
        assert!(!page(&app, &steward, "/notifications").await.contains("phê duyệt"), "{engine:?}: the officer's, not the steward's");
        assert!(kinds(&app, "tuphap.steward").await.is_empty());
        let _ = (&p.other_steward, &p.admin);
    }
}

#[tokio::test]
async fn the_scan_tells_of_deadlines_and_grants_ending_once_however_often_it_runs() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let p = setup(&app).await;
        let late = file(&app, &p.officer).await;
        let soon = file(&app, &p.officer).await;
        let now = chrono::Utc::now();
        // Nothing is due yet (the deadlines are 10 days away).
        assert_eq!(scan(&app.state).await.unwrap().added, 0, "{engine:?}");

        set_time(&app, "deadline_at", late, now - chrono::Duration::hours(3)).await;
        set_time(&app, "deadline_at", soon, now + chrono::Duration::days(1)).await;
        let first = scan(&app.state).await.unwrap();
        assert_eq!(first, ScanOutcome { added: 2, mailed: 0, mail_failed: 0 }, "{engine:?}");
        assert_eq!(scan(&app.state).await.unwrap().added, 0, "{engine:?}: the second scan adds nothing");
        let mut steward = kinds(&app, "noivu.steward").await;
        steward.sort_by_key(|(k, id)| (*id, k.code()));
        assert_eq!(
            steward,
            vec![
                (NotificationKind::DeadlinePassed, late),
                (NotificationKind::RequestFiled, late),
                (NotificationKind::DeadlineNear, soon),
                (NotificationKind::RequestFiled, soon),
            ],
            "{engine:?}: exactly one deadline_passed for the late request"
        );
        let (cookie, _) = session_of(&app, "noivu.steward").await;
        let html = page(&app, &cookie, "/notifications").await;
        assert!(html.contains(&format!("(số {late}) của Sở Thông tin và Truyền thông đã quá hạn trả lời")), "{engine:?}: {html}");
        assert!(html.contains("sắp đến hạn trả lời"), "{engine:?}");
        assert!(page(&app, &cookie, "/").await.contains("4 thông báo chưa đọc\">4</span>"), "{engine:?}");
        // The officer is not told of deadlines.
        assert!(kinds(&app, "tttt.canbo").await.is_empty(), "{engine:?}");

        // The second is approved; its grant ends in 3 days: the officer is told, once.
        let approved = as_(&app, &p.steward, Method::POST, &format!("/api/v1/requests/{soon}/approve"), json!({})).await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
        let ends = (now + chrono::Duration::days(4)).date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
        set_time(&app, "granted_to", soon, ends).await;
        assert_eq!(scan(&app.state).await.unwrap().added, 1, "{engine:?}");
        assert_eq!(scan(&app.state).await.unwrap().added, 0, "{engine:?}");
        let mut officer = kinds(&app, "tttt.canbo").await;
        officer.sort_by_key(|(k, _)| k.code());
        assert_eq!(officer, vec![(NotificationKind::GrantExpiring, soon), (NotificationKind::RequestDecided, soon)], "{engine:?}");
        let (cookie, _) = session_of(&app, "tttt.canbo").await;
        let last_day = (ends - chrono::Duration::seconds(1)).format("%d/%m/%Y").to_string();
        let html = page(&app, &cookie, "/notifications").await;
        assert!(html.contains(&format!("sắp hết hạn: đến hết ngày {last_day}")), "{engine:?}: {html}");
        // The steward of another agency was told nothing.
        assert!(kinds(&app, "tuphap.steward").await.is_empty(), "{engine:?}");
    }
}

/// A message the sink received.
#[derive(Debug, Clone)]
struct Mail {
    rcpt: Vec<String>,
    data: String,
}

/// A tiny SMTP server on loopback: answers 220/250/354/221, keeps what
/// DATA carries; the first `fail` messages are refused with 451.
struct Sink {
    url: String,
    mails: Arc<Mutex<Vec<Mail>>>,
    fail: Arc<Mutex<usize>>,
}

async fn sink(fail: usize) -> Sink {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let mails = Arc::new(Mutex::new(Vec::new()));
    let fail = Arc::new(Mutex::new(fail));
    let (m, f) = (mails.clone(), fail.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (m, f) = (m.clone(), f.clone());
            tokio::spawn(async move {
                let _ = smtp_session(stream, m, f).await;
            });
        }
    });
    Sink { url, mails, fail }
}

async fn smtp_session(stream: tokio::net::TcpStream, mails: Arc<Mutex<Vec<Mail>>>, fail: Arc<Mutex<usize>>) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 sink ESMTP\r\n").await?;
    let mut rcpt = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("MAIL FROM") {
            rcpt.clear();
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_string());
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("DATA") {
            w.write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            let refuse = {
                let mut f = fail.lock().unwrap();
                let refuse = *f > 0;
                *f = f.saturating_sub(1);
                refuse
            };
            if refuse {
                w.write_all(b"451 try again later\r\n").await?;
            } else {
                mails.lock().unwrap().push(Mail { rcpt: rcpt.clone(), data });
                w.write_all(b"250 queued\r\n").await?;
            }
        } else if upper.starts_with("QUIT") {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            // EHLO, HELO, RSET, NOOP.
            w.write_all(b"250 sink\r\n").await?;
        }
    }
}

/// Standard base64 (RFC 4648), ignoring line breaks.
fn base64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for v in s.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A header of a message, unfolded, its RFC 2047 words (`=?utf-8?b?…?=`) decoded.
fn header(data: &str, name: &str) -> String {
    let head = data.split("\r\n\r\n").next().unwrap().replace("\r\n ", " ").replace("\r\n\t", " ");
    let raw = head.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_else(|| panic!("no {name}: {head}"));
    let (mut out, mut pending): (String, Vec<u8>) = (String::new(), Vec::new());
    for word in raw.split(' ') {
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?") && lower.ends_with("?=") {
            pending.extend(base64(&word[10..word.len() - 2]));
        } else {
            if !pending.is_empty() {
                out.push_str(&String::from_utf8(std::mem::take(&mut pending)).unwrap());
                out.push(' ');
            }
            out.push_str(word);
            out.push(' ');
        }
    }
    out.push_str(&String::from_utf8(pending).unwrap());
    out.trim().to_string()
}

/// The text of a base64 body.
fn body(data: &str) -> String {
    assert!(data.to_ascii_lowercase().contains("content-transfer-encoding: base64"), "{data}");
    String::from_utf8(base64(data.split_once("\r\n\r\n").unwrap().1)).unwrap()
}

async fn wait_for_mails(sink: &Sink, n: usize) -> Vec<Mail> {
    for _ in 0..100 {
        let got = sink.mails.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the sink received {} of {n} e-mails", sink.mails.lock().unwrap().len());
}

#[tokio::test]
async fn with_an_smtp_server_the_steward_receives_an_email_naming_the_dataset_in_vietnamese() {
    for engine in engines() {
        let sink = sink(0).await;
        let url = sink.url.clone();
        let app = TestApp::spawn_with(engine, |cfg| {
            cfg.smtp_url = Some(url);
            cfg.mail_from = "Cổng dữ liệu <noreply@tuyenquang.gov.vn>".into();
            cfg.public_url = Some("https://dulieu.tuyenquang.gov.vn/".into());
        })
        .await;
        let p = setup(&app).await;
        // An administrator sets the steward's address; a bad one is refused.
        let bad = as_(&app, &p.admin, Method::POST, "/api/v1/users/noivu.steward/email", json!({"email": "khong-phai-dia-chi"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{engine:?}: {}", bad.text());
        let set =
            as_(&app, &p.admin, Method::POST, "/api/v1/users/noivu.steward/email", json!({"email": "can.bo@snv.tuyenquang.gov.vn"})).await;
        assert_eq!(set.status, StatusCode::OK, "{engine:?}: {}", set.text());
        assert_eq!(set.json()["email"], "can.bo@snv.tuyenquang.gov.vn");
        // Only an administrator may.
        let own = as_(&app, &p.steward, Method::POST, "/api/v1/users/noivu.steward/email", json!({"email": "x@example.vn"})).await;
        assert_eq!(own.status, StatusCode::FORBIDDEN, "{engine:?}");

        let id = file(&app, &p.officer).await;
        let mails = wait_for_mails(&sink, 1).await;
        assert_eq!(mails.len(), 1, "{engine:?}: one steward has an address");
        let mail = &mails[0];
        assert_eq!(mail.rcpt, vec!["can.bo@snv.tuyenquang.gov.vn".to_string()]);
        let subject = header(&mail.data, "Subject");
        assert_eq!(subject, format!("[Cổng dữ liệu tỉnh Tuyên Quang] Yêu cầu khai thác mới: «{TITLE}» / New data request"), "{engine:?}");
        let from = header(&mail.data, "From");
        assert!(from.contains("Cổng dữ liệu") && from.contains("<noreply@tuyenquang.gov.vn>"), "{from}");
        let text = body(&mail.data);
        assert!(text.starts_with("Kính gửi noivu.steward,"), "{engine:?}: {text}");
        assert!(text.contains(&format!("Sở Thông tin và Truyền thông đề nghị khai thác «{TITLE}»")), "{engine:?}: {text}");
        assert!(
            text.contains(&format!("https://dulieu.tuyenquang.gov.vn/requests/{id}")),
            "{engine:?}: the link, at the public address: {text}"
        );
        let (vi, en) = text.split_once("Dear noivu.steward,").expect("English below the Vietnamese");
        assert!(vi.contains("phê duyệt hoặc từ chối") && en.contains(&format!("asks for «{TITLE}»")), "{engine:?}: {text}");
        // Marked as mailed; the page says so.
        let steward = app.store().user("noivu.steward").await.unwrap().unwrap();
        for _ in 0..50 {
            if app.store().notifications(steward.pk, 10).await.unwrap()[0].emailed_at.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(app.store().notifications(steward.pk, 10).await.unwrap()[0].emailed_at.is_some(), "{engine:?}");
        let (cookie, _) = session_of(&app, "noivu.steward").await;
        assert!(page(&app, &cookie, "/notifications").await.contains("đã gửi thư"), "{engine:?}");
        // Nothing more to send: the scan mails nothing twice.
        assert_eq!(scan(&app.state).await.unwrap(), ScanOutcome::default(), "{engine:?}");
        // The officer has no address: the decision stays in the portal.
        as_(&app, &p.steward, Method::POST, &format!("/api/v1/requests/{id}/approve"), json!({})).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(sink.mails.lock().unwrap().len(), 1, "{engine:?}");
        assert_eq!(kinds(&app, "tttt.canbo").await, vec![(NotificationKind::RequestDecided, id)]);
        let _ = &p.other_steward;
    }
}

#[tokio::test]
async fn a_refused_email_is_retried_later() {
    for engine in engines() {
        let sink = sink(1).await;
        let url = sink.url.clone();
        let app = TestApp::spawn_with(engine, |cfg| cfg.smtp_url = Some(url)).await;
        let p = setup(&app).await;
        chiase_server::usecase::accounts::set_email(&app.state, &app.operator(), "noivu.steward", Some("can.bo@snv.tuyenquang.gov.vn"))
            .await
            .unwrap_or_else(|e| panic!("{}", e.msg.en));
        file(&app, &p.officer).await;
        // The first attempt is refused (451); the notification waits for its back-off.
        let steward = app.store().user("noivu.steward").await.unwrap().unwrap();
        for _ in 0..50 {
            if *sink.fail.lock().unwrap() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(sink.mails.lock().unwrap().is_empty() && *sink.fail.lock().unwrap() == 0, "{engine:?}: tried once, refused");
        assert!(app.store().notifications(steward.pk, 10).await.unwrap()[0].emailed_at.is_none());
        assert_eq!(send_pending(&app.state).await.unwrap(), (0, 0), "{engine:?}: not before its back-off");
        // Once the back-off has passed, the next attempt sends it.
        back_off_passed(&app).await;
        assert_eq!(send_pending(&app.state).await.unwrap(), (1, 0), "{engine:?}");
        assert_eq!(wait_for_mails(&sink, 1).await[0].rcpt, vec!["can.bo@snv.tuyenquang.gov.vn".to_string()]);
        assert!(app.store().notifications(steward.pk, 10).await.unwrap()[0].emailed_at.is_some(), "{engine:?}");
        assert_eq!(send_pending(&app.state).await.unwrap(), (0, 0), "{engine:?}: sent once");
    }
}

/// Moves every notification's e-mail back-off into the past.
async fn back_off_passed(app: &TestApp) {
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    if app.db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        sqlx::query("UPDATE notifications SET email_after = $1").bind(past).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        sqlx::query("UPDATE notifications SET email_after = ?").bind(past).execute(&pool).await.unwrap();
    }
}
