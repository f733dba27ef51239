//! Imports that never stall the platform: a file is staged (parsed and
//! validated into a spool) without the database's writer, then applied —
//! large ones on SQLite in short transactions into a new generation of the
//! table, made current at once. Readers never see half an import; a failed
//! one leaves nothing behind; audited reads, sign-ins and other writes go on
//! while a slow upload streams in. On every engine.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_server::usecase::imports::{self, ImportOutcome, ImportRequest, Progress};
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::{IN_PLACE_MAX_ROWS, ImportMode};
use common::{TestApp, engines};
use serde_json::{Value, json};

const PASSWORD: &str = "mat-khau-du-dai-123";

async fn create(app: &TestApp, id: &str, entry: i64, mode: &str) {
    let schema = json!({
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "ten", "type": "string", "searchable": true},
            {"name": "nhom", "type": "string"},
            {"name": "so", "type": "number"}
        ],
        "primaryKey": "id",
        "indexes": [["nhom"]]
    });
    create_with(app, id, entry, mode, schema).await;
}

async fn create_with(app: &TestApp, id: &str, entry: i64, mode: &str, schema: Value) {
    app.create_dataset(CreateDataset {
        id: id.into(),
        database: DatabaseKey::No(entry),
        title: id.into(),
        title_en: None,
        description: String::new(),
        licence: None,
        sharing_mode: mode.parse().unwrap(),
        cadence: None,
        schema: serde_json::from_value(schema).unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
}

/// Rows `from..from+n`; `word` goes into every name.
fn csv(from: usize, n: usize, word: &str, so: f64) -> Vec<u8> {
    let mut s = String::from("id,ten,nhom,so\n");
    for i in from..from + n {
        s.push_str(&format!("{i},Điểm {word} số {i},N{},{so}\n", i % 7));
    }
    s.into_bytes()
}

async fn import(app: &TestApp, id: &str, mode: ImportMode, bytes: Vec<u8>) -> ImportOutcome {
    app.import(id, "x.csv", bytes, mode).await.unwrap_or_else(|e| panic!("import into {id}: {}", e.msg))
}

async fn done(app: &TestApp, id: &str, mode: ImportMode, bytes: Vec<u8>) -> chiase_store::datasets::import::WriteSummary {
    match import(app, id, mode, bytes).await {
        ImportOutcome::Done(s) => s.summary,
        ImportOutcome::Rejected(r) => panic!("rejected: {:?}", &r.errors[..r.errors.len().min(3)]),
    }
}

fn total(v: &Value) -> i64 {
    v["total"].as_i64().unwrap_or(-1)
}

/// The table a dataset's rows are in now.
async fn table(app: &TestApp, id: &str) -> String {
    app.store().dataset(id).await.unwrap().unwrap().table_name.to_string()
}

#[tokio::test]
async fn large_imports_land_whole_through_new_table_generations_and_failed_ones_leave_nothing() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        create(&app, "lon", 13, "open").await;
        let big = IN_PLACE_MAX_ROWS as usize * 2 + 10;

        // Into an empty dataset.
        let s = done(&app, "lon", ImportMode::Append, csv(1, big, "alpha", 1.0)).await;
        assert_eq!((s.inserted, s.row_count, s.first_seq, s.last_seq), (big as i64, big as i64, 1, big as i64), "{engine:?}");
        let sqlite = engine == common::Engine::Sqlite;
        assert_eq!(table(&app, "lon").await.contains("_g"), sqlite, "{engine:?}: SQLite builds a generation, PostgreSQL writes in place");
        // The generation's keyset indexes were built after its rows: none is missing.
        assert_eq!(app.store().ensure_dataset_indexes().await.unwrap(), 0, "{engine:?}: every index of the new table exists");
        let page = app.get_ok("/api/v1/datasets/lon/records?q=alpha&limit=5").await;
        assert_eq!(page["records"].as_array().unwrap().len(), 5, "{engine:?}: full text finds rows of a new generation");
        assert_eq!(
            total(&app.get_ok("/api/v1/datasets/lon/records?nhom=N3").await),
            (1..=big).filter(|i| i % 7 == 3).count().min(1000) as i64
        );
        let before_upsert = chrono::Utc::now();
        tokio::time::sleep(Duration::from_millis(20)).await;

        // An upsert as large as half the dataset: the history is copied.
        let half = big / 2;
        // Rows big-half/2+1 ..= big change; the rest are new.
        let s = done(&app, "lon", ImportMode::Upsert, csv(big - half / 2 + 1, half, "beta", 2.0)).await;
        assert_eq!((s.updated, s.inserted), ((half / 2) as i64, (half - half / 2) as i64), "{engine:?}");
        let n_now = (big + half - half / 2) as i64;
        assert_eq!(s.row_count, n_now);
        let one = app.get_ok(&format!("/api/v1/datasets/lon/records/{}", big)).await;
        assert_eq!(one["so"], 2.0, "{engine:?}: the changed row");
        let past = app.get_ok(&format!("/api/v1/datasets/lon/records/{big}?as_of={}", common::enc(&before_upsert.to_rfc3339()))).await;
        assert_eq!(past["so"], 1.0, "{engine:?}: its version before the upsert, copied with the history");
        let feed = app.get_ok(&format!("/api/v1/datasets/lon/changes?since={}&limit=3", big)).await;
        assert_eq!(feed["changes"][0]["op"], "update", "{engine:?}");

        // A replace: the file becomes the dataset.
        let s = done(&app, "lon", ImportMode::Replace, csv(100_000, big, "gamma", 3.0)).await;
        assert_eq!((s.inserted, s.deleted, s.row_count), (big as i64, n_now, big as i64), "{engine:?}");
        assert_eq!(total(&app.get_ok("/api/v1/datasets/lon/records?q=alpha").await), 0, "{engine:?}: replaced rows are not found");
        assert_eq!(total(&app.get_ok("/api/v1/datasets/lon/records?q=gamma&total=exact").await), big as i64);

        // A large import that fails at apply (a key repeats far apart in the
        // file): nothing changes, its full-text rows match nothing.
        let before = app.store().dataset("lon").await.unwrap().unwrap();
        let mut bad = csv(500_000, big, "delta", 4.0);
        bad.extend_from_slice(format!("{},Điểm delta lặp,N1,4\n", 500_003).as_bytes());
        match import(&app, "lon", ImportMode::Append, bad).await {
            ImportOutcome::Rejected(r) => {
                assert_eq!(r.errors[0].code, "duplicate_key", "{engine:?}: {:?}", r.errors[0]);
                assert_eq!(r.errors[0].row, big as u64 + 2);
            }
            ImportOutcome::Done(s) => panic!("{engine:?}: a repeated key was imported: {s:?}"),
        }
        let after = app.store().dataset("lon").await.unwrap().unwrap();
        assert_eq!(after.table_name, before.table_name, "{engine:?}");
        assert_eq!(chiase_store::testing::row_count(&after), big as i64);
        assert_eq!(total(&app.get_ok("/api/v1/datasets/lon/records?q=delta").await), 0, "{engine:?}: no stale full text");
        // The next import works, and does not meet the failed one's leftovers.
        let s = done(&app, "lon", ImportMode::Append, csv(700_000, 3, "epsilon", 5.0)).await;
        assert_eq!(s.row_count, big as i64 + 3);
        assert_eq!(total(&app.get_ok("/api/v1/datasets/lon/records?q=epsilon").await), 3);
        assert_eq!(total(&app.get_ok("/api/v1/datasets/lon/records?q=delta").await), 0);
        // Housekeeping drops retired generations once their grace is over.
        if sqlite {
            let dropped = app.store().drop_retired_tables(chrono::Duration::zero()).await.unwrap();
            assert!(dropped >= 3, "the first table and two generations were retired, got {dropped}");
            assert_eq!(total(&app.get_ok("/api/v1/datasets/lon/records?q=epsilon").await), 3);
        }
    }
}

/// A file that arrives slowly: `rows` rows, one chunk every `every`.
struct SlowFile {
    chunks: Vec<Vec<u8>>,
    at: usize,
    every: Duration,
    finished: Arc<AtomicBool>,
}

impl Read for SlowFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(chunk) = self.chunks.get_mut(self.at) else {
            self.finished.store(true, Ordering::SeqCst);
            return Ok(0);
        };
        if chunk.is_empty() {
            self.at += 1;
            std::thread::sleep(self.every);
            return self.read(buf);
        }
        let n = buf.len().min(chunk.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        Ok(n)
    }
}

#[tokio::test]
async fn audited_reads_sign_ins_and_other_writes_go_on_while_a_slow_upload_streams_in() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        create(&app, "cham", 13, "open").await;
        create(&app, "ho-so", 4, "specific").await;
        done(&app, "ho-so", ImportMode::Append, csv(1, 50, "kappa", 1.0)).await;
        let reader = app.person("noivu.cb", Some("so-noi-vu"), Role::Member, PASSWORD).await;
        let steward = app.person("noivu.ql", Some("so-noi-vu"), Role::Steward, PASSWORD).await;

        // 12,000 rows in 40 chunks, a chunk every 100 ms: about 4 seconds.
        let body = csv(1, 12_000, "lambda", 1.0);
        let chunks: Vec<Vec<u8>> = body.chunks(body.len() / 40 + 1).map(<[u8]>::to_vec).collect();
        let finished = Arc::new(AtomicBool::new(false));
        let file = SlowFile { chunks, at: 0, every: Duration::from_millis(100), finished: finished.clone() };
        let req = ImportRequest {
            mode: ImportMode::Append,
            source_name: Some("cham.csv".into()),
            content_type: None,
            options: Default::default(),
            allow_empty: false,
            handling: Default::default(),
        };
        let state = app.state.clone();
        let started = Instant::now();
        let upload = tokio::spawn(async move {
            imports::import(
                &state,
                &chiase_server::auth::Caller::operator(),
                "cham",
                req,
                Box::new(file),
                u64::MAX,
                Arc::new(Progress::default()),
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;

        let auth = |t: &str| format!("Bearer {t}");
        let mut worst = Duration::ZERO;
        let mut n = 0;
        while !finished.load(Ordering::SeqCst) && n < 60 {
            let t = Instant::now();
            // An audited read (a restricted dataset read by the owner's member).
            let r = app.request(Method::GET, "/api/v1/datasets/ho-so/records?limit=5", &[("authorization", &auth(&reader))], vec![]).await;
            assert_eq!(r.status, StatusCode::OK, "{engine:?}: {}", r.text());
            // A write to another dataset.
            let body = json!([{"id": 1000 + n, "ten": "Hồ sơ mới", "nhom": "N1", "so": 1}]).to_string().into_bytes();
            let w = app
                .request(
                    Method::POST,
                    "/api/v1/datasets/ho-so/records",
                    &[("authorization", &auth(&steward)), ("content-type", "application/json")],
                    body,
                )
                .await;
            assert_eq!(w.status, StatusCode::CREATED, "{engine:?}: {}", w.text());
            // A sign-in.
            if n % 5 == 0 {
                let s = app
                    .request(
                        Method::POST,
                        "/api/v1/session",
                        &[("content-type", "application/json")],
                        json!({"username": "noivu.cb", "password": PASSWORD}).to_string().into_bytes(),
                    )
                    .await;
                assert_eq!(s.status, StatusCode::OK, "{engine:?}: {}", s.text());
            }
            worst = worst.max(t.elapsed());
            n += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(n >= 10, "{engine:?}: the upload should last long enough to try ({n} rounds)");
        let outcome = upload.await.unwrap().unwrap();
        assert!(matches!(outcome, ImportOutcome::Done(ref s) if s.inserted == 12_000), "{engine:?}");
        // Nothing waited for the upload: every round finished while it streamed.
        assert!(worst < started.elapsed() / 4, "{engine:?}: a round took {worst:?} of an upload of {:?}", started.elapsed());
        let events = app
            .store()
            .audit_events(
                &chiase_store::testing::operator_data::audit(),
                &chiase_store::audit::AuditFilter { action: Some("read".into()), limit: 1000, ..Default::default() },
            )
            .await
            .unwrap();
        assert!(events.len() >= n as usize, "{engine:?}: every audited read was recorded");
    }
}

#[tokio::test]
async fn readers_see_all_of_a_large_import_or_none_of_it() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        create(&app, "mot-luc", 13, "open").await;
        done(&app, "mot-luc", ImportMode::Append, csv(1, 100, "mu", 1.0)).await;
        let n = 30_000;
        let state = app.state.clone();
        let import = tokio::spawn(async move {
            let req = ImportRequest {
                mode: ImportMode::Append,
                source_name: Some("x.csv".into()),
                content_type: None,
                options: Default::default(),
                allow_empty: false,
                handling: Default::default(),
            };
            imports::import(
                &state,
                &chiase_server::auth::Caller::operator(),
                "mot-luc",
                req,
                Box::new(std::io::Cursor::new(csv(101, n, "nu", 2.0))),
                u64::MAX,
                Arc::new(Progress::default()),
            )
            .await
        });
        let mut seen = std::collections::BTreeSet::new();
        while !import.is_finished() {
            let page = app.get_ok("/api/v1/datasets/mot-luc/records?nhom=N1&total=exact&limit=1").await;
            seen.insert(total(&page));
            let feed = app.get_ok("/api/v1/datasets/mot-luc/changes?since=100&limit=1").await;
            assert!(
                feed["changes"].as_array().unwrap().is_empty() || feed["last_seq"].as_i64() == Some(100 + n as i64),
                "{engine:?}: {feed}"
            );
        }
        assert!(matches!(import.await.unwrap().unwrap(), ImportOutcome::Done(_)));
        let before = (1..=100).filter(|i| i % 7 == 1).count() as i64;
        let after = (1..=100 + n).filter(|i| i % 7 == 1).count() as i64;
        assert!(seen.iter().all(|t| *t == before || *t == after), "{engine:?}: a reader saw part of an import: {seen:?}");
        assert_eq!(total(&app.get_ok("/api/v1/datasets/mot-luc/records?nhom=N1&total=exact").await), after);
    }
}

/// Every type, and text with the characters a bulk format must escape
/// (backslash, tab, newline, carriage return), reads back exactly as it
/// was imported, and its words are found: PostgreSQL's imports stream
/// rows with `COPY`, SQLite's insert them.
#[tokio::test]
async fn imported_values_of_every_type_read_back_exactly() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let schema = json!({
            "fields": [
                {"name": "id", "type": "integer"},
                {"name": "ten", "type": "string", "searchable": true},
                {"name": "so", "type": "number"},
                {"name": "co", "type": "boolean"},
                {"name": "ngay", "type": "date"},
                {"name": "luc", "type": "datetime"},
                {"name": "nam", "type": "year"},
                {"name": "vi_tri", "type": "geopoint"},
                {"name": "vung", "type": "geojson"}
            ],
            "primaryKey": "id"
        });
        create_with(&app, "kieu", 13, "open", schema).await;
        let rows = json!([
            {"id": 1, "ten": "Trường \\ Tân Trào\tcơ sở 2\nphòng «A»\r\nhết", "so": 0.1, "co": true, "ngay": "2024-02-29",
             "luc": "2025-03-15T08:30:00Z", "nam": 2024, "vi_tri": "105.2,21.8",
             "vung": {"type": "Point", "coordinates": [105.2, 21.8]}},
            {"id": 2, "ten": "\\N không phải rỗng", "so": -1234567.890625, "co": false, "ngay": "1975-04-30",
             "luc": "1999-12-31T23:59:59Z", "nam": 1945, "vi_tri": "105.9,22.1", "vung": null},
            {"id": 3, "ten": null, "so": 1e-7, "co": null, "ngay": null, "luc": null, "nam": null, "vi_tri": null, "vung": null}
        ]);
        let sent = rows.as_array().unwrap().clone();
        match app.import("kieu", "x.json", serde_json::to_vec(&rows).unwrap(), ImportMode::Append).await {
            Ok(ImportOutcome::Done(s)) => assert_eq!(s.inserted, 3, "{engine:?}"),
            Ok(ImportOutcome::Rejected(r)) => panic!("{engine:?}: rejected: {:?}", &r.errors[..r.errors.len().min(3)]),
            Err(e) => panic!("{engine:?}: {}", e.msg),
        }
        for row in &sent {
            let got = app.get_ok(&format!("/api/v1/datasets/kieu/records/{}", row["id"])).await;
            for (k, v) in row.as_object().unwrap() {
                let back = &got[k];
                match (k.as_str(), v) {
                    ("so", v) => assert_eq!(back.as_f64(), v.as_f64(), "{engine:?} {k}"),
                    // The same instant, however the server writes it.
                    ("luc", Value::String(t)) => assert_eq!(
                        chrono::DateTime::parse_from_rfc3339(back.as_str().unwrap()).unwrap(),
                        chrono::DateTime::parse_from_rfc3339(t).unwrap(),
                        "{engine:?} {k}"
                    ),
                    ("vi_tri", Value::String(_)) => {
                        assert!(back.is_string() || back.is_object() || back.is_array(), "{engine:?} {k}: {back}")
                    }
                    _ => assert_eq!(back, v, "{engine:?} {k}: {got}"),
                }
            }
        }
        for (q, want) in [("tan%20trao", 1), ("phong", 1), ("khong", 1)] {
            let page = app.get_ok(&format!("/api/v1/datasets/kieu/records?q={q}")).await;
            assert_eq!(total(&page), want, "{engine:?}: q={q}");
        }
        let page = app.get_ok("/api/v1/datasets/kieu/records?bbox=105.1,21.7,105.3,21.9").await;
        assert_eq!(total(&page), 1, "{engine:?}: the geopoint's columns were written");
    }
}
