//! The audit anchor as the server and the `chiase` binary use it: the
//! verify endpoint checks the chain against the latest checkpoint and an
//! expected head; a running server signs a moved head periodically and at
//! shutdown; `chiase audit verify` exits 1 on tampering, and `chiase audit
//! head` prints what `--expect-head` takes. On SQLite, and on PostgreSQL
//! when CHIASE_TEST_DATABASE_URL is set.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_server::audit_anchor;
use chiase_store::audit::NewEvent;
use chiase_store::audit_anchor::{Anchor, AnchorKey, CheckpointOutcome};
use chiase_store::recorder::Recorder;
use chiase_store::testing::TestDb;
use chiase_store::testing::operator_data::verify as V;
use common::{TestApp, engines};

fn event(i: usize) -> NewEvent {
    NewEvent { actor: "user:an".into(), action: "read".into(), target: Some(format!("can-bo#{i}")), ..Default::default() }
}

/// Runs statements on the database directly, as someone with write access
/// to it (but not to the key file) would.
async fn raw(url: &str, statements: &[String]) {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.clone())).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.clone())).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}

/// Cuts the log back to `seq` and moves the head there: a chain that is
/// self-consistent, only shorter.
async fn cut_tail(db: &TestDb, seq: i64) {
    let events = db
        .store
        .audit_events(
            &chiase_store::testing::operator_data::audit(),
            &chiase_store::audit::AuditFilter { limit: 10_000, ..Default::default() },
        )
        .await
        .unwrap();
    let hash = &events[seq as usize - 1].hash;
    raw(
        &db.url,
        &[
            format!("DELETE FROM audit_events WHERE seq > {seq}"),
            format!("UPDATE audit_head SET seq = {seq}, hash = '{hash}' WHERE id = 1"),
        ],
    )
    .await;
}

#[tokio::test]
async fn the_verify_endpoint_checks_the_chain_against_the_latest_checkpoint_and_an_expected_head() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let s = app.store();
        let token = app.person("quan.tri", None, Role::Admin, "mat-khau-du-dai-123").await;
        let get = |path: String| {
            let auth = format!("Bearer {token}");
            let app = &app;
            async move { app.request(Method::GET, &path, &[("authorization", &auth)], vec![]).await }
        };
        s.append_audit(&(0..8).map(event).collect::<Vec<_>>()).await.unwrap();

        // The server made its key on start; nothing is signed yet.
        assert!(app.state.config.data_dir.join("audit-anchor.key").exists());
        let v = get("/api/v1/audit/verify".into()).await.json();
        assert_eq!((v["ok"].clone(), v["anchor"].clone()), (true.into(), "no_checkpoint".into()), "{engine:?}: {v}");

        let Some(CheckpointOutcome::Written(cp)) =
            audit_anchor::checkpoint(s, app.state.anchor.as_ref().expect("serve made a key"), true).await
        else {
            panic!("{engine:?}: no checkpoint written");
        };
        let v = get("/api/v1/audit/verify".into()).await.json();
        assert_eq!(v["ok"], true, "{engine:?}: {v}");
        assert_eq!((v["anchor"].as_str(), v["checkpoint"]["seq"].as_i64()), (Some("checkpoint"), Some(cp.seq)));
        assert!(v["note"].as_str().unwrap().contains("protected only by the chain"), "{v}");

        let head = s.audit_head(&V()).await.unwrap().unwrap();
        assert_eq!(get(format!("/api/v1/audit/verify?expect_head={}:{}", head.0, head.1)).await.json()["ok"], true);
        assert_eq!(get("/api/v1/audit/verify?expect_head=nonsense".into()).await.status, StatusCode::BAD_REQUEST);

        cut_tail(&app.db, 5).await;
        assert!(s.verify_audit(&V()).await.unwrap().ok, "{engine:?}: without the anchor the cut is invisible");
        let v = get("/api/v1/audit/verify".into()).await.json();
        assert_eq!((v["ok"].clone(), v["first_bad"].clone()), (false.into(), 6.into()), "{engine:?}: {v}");
        assert!(v["problem_vi"].as_str().unwrap().contains("đã bị xoá"), "{v}");
    }
}

#[tokio::test]
async fn a_running_server_signs_a_moved_head_periodically_and_the_last_one_at_shutdown() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        let dir = tempfile::tempdir().unwrap();
        let anchor = Arc::new(Anchor { key: AnchorKey::generate(), file: dir.path().join("cp.jsonl") });
        let audit = Recorder::start(db.store.clone());
        audit_anchor::start_checkpointing(db.store.clone(), anchor.clone(), Duration::from_millis(100));
        audit.record(event(1)).await.unwrap();
        let mut waited = 0;
        while db.store.audit_checkpoints(&V()).await.unwrap().is_empty() && waited < 50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += 1;
        }
        // Only one checkpoint while the head stands still.
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(db.store.audit_checkpoints(&V()).await.unwrap().iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1], "{engine:?}");

        // Events still queued at shutdown are written before the last checkpoint.
        let queued: Vec<_> = (2..=4)
            .map(|i| {
                let a = audit.clone();
                tokio::spawn(async move { a.record(event(i)).await })
            })
            .collect();
        tokio::task::yield_now().await;
        audit_anchor::at_shutdown(&audit, &db.store, &anchor).await;
        for q in queued {
            q.await.unwrap().unwrap();
        }
        let head = db.store.audit_head(&V()).await.unwrap().unwrap();
        let last = db.store.audit_checkpoints(&V()).await.unwrap().into_iter().map(|c| c.seq).max();
        assert_eq!(last, Some(head.0), "{engine:?}: the final head is signed");
        let lines = std::fs::read_to_string(&anchor.file).unwrap();
        assert!(lines.lines().last().unwrap().contains(&format!("\"seq\":{}", head.0)), "{lines}");
    }
}

/// `chiase …` on the installation of `db` (its SQLite directory, or its
/// PostgreSQL database with `data` for the key), returning the exit code,
/// standard output and standard error.
fn chiase(db: &TestDb, data: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chiase"));
    cmd.env_remove("CHIASE_CONFIG").env("CHIASE_LOG", "error");
    if db.url.starts_with("postgres") {
        cmd.args(["--data", &data.display().to_string(), "--database", &db.url]);
    } else {
        cmd.env_remove("CHIASE_DATABASE");
        cmd.args(["--data", &data.display().to_string()]);
    }
    let out = cmd.args(args).output().expect("chiase runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn chiase_audit_verify_exits_1_on_tampering_and_head_prints_what_expect_head_takes() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        // SQLite: the CLI opens DATA/chiase.db, the test database's own file.
        let sqlite_dir = db.url.strip_prefix("sqlite://").map(|p| std::path::Path::new(p).parent().unwrap().to_path_buf());
        let pg_dir = tempfile::tempdir().unwrap();
        let data = sqlite_dir.unwrap_or_else(|| pg_dir.path().to_path_buf());
        db.store.append_audit(&(0..6).map(event).collect::<Vec<_>>()).await.unwrap();

        // No key yet: the command line does not make one (serve does).
        let (code, _, err) = chiase(&db, &data, &["audit", "checkpoint"]);
        assert_eq!(code, 1, "{engine:?}: {err}");
        assert!(err.contains("no audit anchor key"), "{err}");
        let (code, out, _) = chiase(&db, &data, &["audit", "verify"]);
        assert_eq!(code, 0, "{engine:?}");
        assert!(out.contains("No anchor") && out.contains("intact"), "{out}");

        audit_anchor::load_or_create_key(&data.join("audit-anchor.key")).unwrap();
        let (code, out, err) = chiase(&db, &data, &["audit", "checkpoint"]);
        assert_eq!(code, 0, "{engine:?}: {err}");
        assert!(out.contains("signed the head: 6 "), "{out}");
        assert!(
            !out.contains(&std::fs::read_to_string(data.join("audit-anchor.key")).unwrap().trim().to_string()),
            "the key is never printed"
        );

        let (code, head, _) = chiase(&db, &data, &["audit", "head"]);
        assert_eq!(code, 0);
        let (seq, hash) = head.trim().split_once(' ').unwrap();
        assert_eq!((seq, hash.len()), ("6", 64), "{head}");
        let (_, json, _) = chiase(&db, &data, &["audit", "head", "--json"]);
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!((json["seq"].as_i64(), json["hash"].as_str()), (Some(6), Some(hash)));

        // Two more events after the checkpoint, then the operator notes the head.
        db.store.append_audit(&(6..8).map(event).collect::<Vec<_>>()).await.unwrap();
        let (_, head, _) = chiase(&db, &data, &["audit", "head"]);
        let expect = head.trim().replace(' ', ":");
        let (code, out, _) = chiase(&db, &data, &["audit", "verify", "--expect-head", &expect]);
        assert_eq!(code, 0, "{engine:?}: {out}");
        assert!(out.contains("checkpoint signed at event 6") && out.contains("the 2 events after it"), "{out}");

        // Cut the two unanchored events: only the expected head sees it.
        cut_tail(&db, 7).await;
        assert_eq!(chiase(&db, &data, &["audit", "verify"]).0, 0, "{engine:?}");
        let (code, _, err) = chiase(&db, &data, &["audit", "verify", "--expect-head", &expect]);
        assert_eq!(code, 1, "{engine:?}");
        assert!(err.contains("AUDIT LOG TAMPERED") && err.contains("event 8"), "{err}");
        // Cut into the anchored part: the checkpoint sees it.
        cut_tail(&db, 4).await;
        let (code, _, err) = chiase(&db, &data, &["audit", "verify"]);
        assert_eq!(code, 1, "{engine:?}");
        assert!(err.contains("NHẬT KÝ BỊ THAY ĐỔI") && err.contains("event 5"), "{err}");
        // A deleted head row is tampering too, said plainly.
        raw(&db.url, &["DELETE FROM audit_head".into()]).await;
        for args in [&["audit", "verify"][..], &["audit", "head"]] {
            let (code, _, err) = chiase(&db, &data, args);
            assert_eq!(code, 1, "{engine:?} {args:?}");
            assert!(err.contains("audit_head") && !err.contains("database error"), "{err}");
        }
    }
}

#[tokio::test]
async fn serve_makes_its_key_0600_and_signs_the_head_when_it_stops() {
    use std::io::BufRead;
    for engine in engines() {
        let db = TestDb::new(engine).await;
        let pg_dir = tempfile::tempdir().unwrap();
        // SQLite: the server opens DATA/chiase.db, the test database's own file.
        let data = match db.url.strip_prefix("sqlite://") {
            Some(p) => std::path::Path::new(p).parent().unwrap().to_path_buf(),
            None => pg_dir.path().to_path_buf(),
        };
        db.store.append_audit(&(0..3).map(event).collect::<Vec<_>>()).await.unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chiase"));
        cmd.env_remove("CHIASE_CONFIG").env_remove("CHIASE_DATABASE").env("CHIASE_LOG", "info");
        cmd.args(["--data", &data.display().to_string()]);
        if db.url.starts_with("postgres") {
            cmd.args(["--database", &db.url]);
        }
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("chiase serve starts");
        // Wait until it listens (its signal handlers are in place by then).
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let listening = lines.by_ref().take(200).map_while(Result::ok).any(|l| l.contains("listening"));
        assert!(listening, "{engine:?}: the server did not start");
        std::thread::spawn(move || lines.for_each(drop));
        let key = data.join("audit-anchor.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "{engine:?}");
        }
        assert!(db.store.audit_checkpoints(&V()).await.unwrap().is_empty(), "{engine:?}: nothing signed before shutdown");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
        assert!(exit.success(), "{engine:?}: {exit:?}");
        let seqs: Vec<i64> = db.store.audit_checkpoints(&V()).await.unwrap().iter().map(|c| c.seq).collect();
        assert_eq!(seqs, vec![3], "{engine:?}");
        assert!(std::fs::read_to_string(data.join("audit-checkpoints.jsonl")).unwrap().contains("\"seq\":3"));
        let anchor = audit_anchor::open(&chiase_server::config::Config { data_dir: data.clone(), ..Default::default() }).unwrap().unwrap();
        assert!(
            db.store
                .verify_audit_with(&V(), &chiase_store::audit::VerifyOptions { anchor: Some(&anchor), expect_head: None })
                .await
                .unwrap()
                .ok
        );
    }
}
