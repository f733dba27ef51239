//! The audit chain's anchor, on SQLite and (when CHIASE_TEST_DATABASE_URL
//! is set) on PostgreSQL: tampering that leaves a self-consistent chain —
//! a cut tail with the head moved back, a rewrite with the hashes
//! recomputed, an emptied table — verifies as intact without an anchor and
//! is caught with one; a deleted head row and a forged checkpoint are
//! reported as tampering.

use chiase_store::Store;
use chiase_store::audit::{AnchorState, AuditFilter, Event, GENESIS, NewEvent, VerifyOptions};
use chiase_store::audit_anchor::{Anchor, AnchorKey, CheckpointOutcome};
use chiase_store::testing::operator_data::verify as V;
use chiase_store::testing::{TestDb, engines};

/// Appends `n` events, one per group commit.
async fn append(store: &Store, n: usize) {
    for i in 0..n {
        let e = NewEvent {
            actor: "user:an".into(),
            action: "read".into(),
            target: Some(format!("can-bo#{i}")),
            detail: serde_json::json!({ "rows": i }),
            ..Default::default()
        };
        store.append_audit(&[e]).await.expect("append");
    }
}

fn anchor(dir: &tempfile::TempDir) -> Anchor {
    Anchor { key: AnchorKey::generate(), file: dir.path().join("audit-checkpoints.jsonl") }
}

async fn events(store: &Store) -> Vec<Event> {
    store
        .audit_events(&chiase_store::testing::operator_data::audit(), &AuditFilter { limit: 10_000, ..Default::default() })
        .await
        .expect("events")
}

/// Runs statements on the database directly, as someone with write access
/// to it (but not to the key file) would.
async fn raw(db: &TestDb, statements: &[String]) {
    if db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.clone())).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.clone())).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}

async fn checkpoint(store: &Store, a: &Anchor) -> i64 {
    match store.checkpoint_audit(&V(), a, false).await.expect("checkpoint") {
        CheckpointOutcome::Written(cp) => cp.seq,
        other => panic!("no checkpoint written: {other:?}"),
    }
}

fn with(a: &Anchor) -> VerifyOptions<'_> {
    VerifyOptions { anchor: Some(a), expect_head: None }
}

#[tokio::test]
async fn a_cut_tail_with_the_head_moved_back_verifies_alone_but_not_against_the_checkpoint() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        let dir = tempfile::tempdir().unwrap();
        let a = anchor(&dir);
        append(&db.store, 10).await;
        assert_eq!(checkpoint(&db.store, &a).await, 10);
        let ok = db.store.verify_audit_with(&V(), &with(&a)).await.unwrap();
        assert!(ok.ok, "{engine:?}: {:?}", ok.problem);
        assert_eq!(ok.anchor, AnchorState::Checkpoint);
        assert_eq!(ok.checkpoint.as_ref().map(|c| (c.seq, c.sources.clone())), Some((10, vec!["table", "file"])));

        let h6 = events(&db.store).await[5].hash.clone();
        raw(&db, &["DELETE FROM audit_events WHERE seq > 6".into(), format!("UPDATE audit_head SET seq = 6, hash = '{h6}' WHERE id = 1")])
            .await;
        assert!(db.store.verify_audit(&V()).await.unwrap().ok, "{engine:?}: the chain alone is self-consistent");
        let v = db.store.verify_audit_with(&V(), &with(&a)).await.unwrap();
        assert!(!v.ok, "{engine:?}");
        assert_eq!(v.first_bad, Some(7), "{engine:?}: {:?}", v.problem);
        assert!(v.problem.as_deref().unwrap_or("").contains("removed from the end"), "{:?}", v.problem);
        assert!(v.problem_vi.as_deref().unwrap_or("").contains("đã bị xoá"), "{:?}", v.problem_vi);
        // Nor will the server sign the shortened head, however long it grows.
        append(&db.store, 6).await;
        assert!(matches!(db.store.checkpoint_audit(&V(), &a, true).await.unwrap(), CheckpointOutcome::Refused(_)), "{engine:?}");
        assert!(!db.store.verify_audit_with(&V(), &with(&a)).await.unwrap().ok, "{engine:?}");
    }
}

#[tokio::test]
async fn an_edited_event_with_every_later_hash_recomputed_is_caught_and_located_between_checkpoints() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        let dir = tempfile::tempdir().unwrap();
        let a = anchor(&dir);
        append(&db.store, 5).await;
        checkpoint(&db.store, &a).await;
        append(&db.store, 5).await;
        checkpoint(&db.store, &a).await;

        // Event 7 says it returned no rows; 7…10 are re-hashed consistently.
        let mut all = events(&db.store).await;
        let mut statements = Vec::new();
        let mut prev = all[5].hash.clone();
        for e in all.iter_mut().skip(6) {
            if e.seq == 7 {
                e.detail = "{\"rows\":0}".into();
            }
            e.prev_hash = prev.clone();
            e.hash = e.compute_hash();
            prev = e.hash.clone();
            statements.push(format!(
                "UPDATE audit_events SET detail = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
                e.detail, e.prev_hash, e.hash, e.seq
            ));
        }
        statements.push(format!("UPDATE audit_head SET hash = '{prev}' WHERE id = 1"));
        raw(&db, &statements).await;

        assert!(db.store.verify_audit(&V()).await.unwrap().ok, "{engine:?}: the chain alone is self-consistent");
        let v = db.store.verify_audit_with(&V(), &with(&a)).await.unwrap();
        assert!(!v.ok, "{engine:?}");
        // The checkpoint at 5 still matches, the one at 10 does not.
        assert_eq!(v.first_bad, Some(6), "{engine:?}: {:?}", v.problem);
        assert!(v.problem.as_deref().unwrap_or("").contains("rewritten"), "{:?}", v.problem);
        assert!(matches!(db.store.checkpoint_audit(&V(), &a, true).await.unwrap(), CheckpointOutcome::Refused(_)), "{engine:?}");
    }
}

#[tokio::test]
async fn an_emptied_log_with_the_head_reset_is_caught_by_the_file_even_with_the_checkpoint_table_wiped() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        let dir = tempfile::tempdir().unwrap();
        let a = anchor(&dir);
        append(&db.store, 4).await;
        checkpoint(&db.store, &a).await;
        raw(
            &db,
            &[
                "DELETE FROM audit_events".into(),
                format!("UPDATE audit_head SET seq = 0, hash = '{GENESIS}' WHERE id = 1"),
                "DELETE FROM audit_checkpoints".into(),
            ],
        )
        .await;
        assert!(db.store.verify_audit(&V()).await.unwrap().ok, "{engine:?}: an empty chain is self-consistent");
        let v = db.store.verify_audit_with(&V(), &with(&a)).await.unwrap();
        assert!(!v.ok, "{engine:?}");
        assert_eq!(v.first_bad, Some(1), "{engine:?}: {:?}", v.problem);
        assert_eq!(v.checkpoint.as_ref().map(|c| c.sources.clone()), Some(vec!["file"]));
    }
}

#[tokio::test]
async fn a_deleted_head_row_is_reported_as_tampering_not_as_a_database_error() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        let dir = tempfile::tempdir().unwrap();
        let a = anchor(&dir);
        append(&db.store, 3).await;
        checkpoint(&db.store, &a).await;
        raw(&db, &["DELETE FROM audit_head".into()]).await;
        for v in [db.store.verify_audit(&V()).await.unwrap(), db.store.verify_audit_with(&V(), &with(&a)).await.unwrap()] {
            assert!(!v.ok, "{engine:?}");
            assert_eq!(v.first_bad, None);
            assert!(v.problem.as_deref().unwrap_or("").contains("head row (audit_head) is missing"), "{:?}", v.problem);
            assert!(v.problem_vi.as_deref().unwrap_or("").contains("đã bị xoá"), "{:?}", v.problem_vi);
            assert_eq!((v.head_seq, v.head_hash.as_str()), (0, ""));
        }
        assert_eq!(db.store.audit_head(&V()).await.unwrap(), None);
        assert!(matches!(db.store.checkpoint_audit(&V(), &a, false).await.unwrap(), CheckpointOutcome::Refused(_)));
        let err = db.store.append_audit(&[NewEvent { actor: "x".into(), action: "read".into(), ..Default::default() }]).await.unwrap_err();
        assert!(err.to_string().contains("audit_head"), "{engine:?}: {err}");
    }
}

#[tokio::test]
async fn a_forged_checkpoint_row_or_file_line_is_reported_as_tampering() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        let dir = tempfile::tempdir().unwrap();
        let a = anchor(&dir);
        append(&db.store, 3).await;
        checkpoint(&db.store, &a).await;
        append(&db.store, 2).await;
        let h5 = events(&db.store).await[4].hash.clone();

        // A row with a made-up MAC, and one signed with another key.
        let other = AnchorKey::generate().sign(5, &h5, "2026-01-01T00:00:00.000000Z");
        for mac in ["00".repeat(32), other.mac] {
            raw(
                &db,
                &[format!("INSERT INTO audit_checkpoints (seq, hash, at, mac) VALUES (5, '{h5}', '2026-01-01T00:00:00.000000Z', '{mac}')")],
            )
            .await;
            let v = db.store.verify_audit_with(&V(), &with(&a)).await.unwrap();
            assert!(!v.ok, "{engine:?}");
            assert_eq!(v.first_bad, None);
            assert!(v.problem.as_deref().unwrap_or("").contains("signature that does not verify"), "{:?}", v.problem);
            // The forged checkpoint is not the one used.
            assert_eq!(v.checkpoint.map(|c| c.seq), Some(3));
            raw(&db, &["DELETE FROM audit_checkpoints WHERE seq = 5".into()]).await;
        }
        assert!(db.store.verify_audit_with(&V(), &with(&a)).await.unwrap().ok, "{engine:?}");

        // A line of the file edited by hand.
        let text = std::fs::read_to_string(&a.file).unwrap().replace("\"seq\":3", "\"seq\":4");
        std::fs::write(&a.file, text).unwrap();
        let v = db.store.verify_audit_with(&V(), &with(&a)).await.unwrap();
        assert!(!v.ok, "{engine:?}");
        assert!(v.problem.as_deref().unwrap_or("").contains("line 1 of the checkpoint file"), "{:?}", v.problem);
    }
}

#[tokio::test]
async fn checkpoints_are_written_only_when_the_head_moved() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        let dir = tempfile::tempdir().unwrap();
        let a = anchor(&dir);
        assert!(matches!(db.store.checkpoint_audit(&V(), &a, true).await.unwrap(), CheckpointOutcome::Empty));
        append(&db.store, 2).await;
        assert!(matches!(db.store.checkpoint_audit(&V(), &a, true).await.unwrap(), CheckpointOutcome::Written(ref c) if c.seq == 2));
        assert!(matches!(db.store.checkpoint_audit(&V(), &a, true).await.unwrap(), CheckpointOutcome::Unchanged(ref c) if c.seq == 2));
        append(&db.store, 1).await;
        assert!(matches!(db.store.checkpoint_audit(&V(), &a, true).await.unwrap(), CheckpointOutcome::Written(ref c) if c.seq == 3));
        // Writing the same head twice (two processes, or the command line) is harmless.
        assert!(matches!(db.store.checkpoint_audit(&V(), &a, false).await.unwrap(), CheckpointOutcome::Written(ref c) if c.seq == 3));
        assert_eq!(db.store.audit_checkpoints(&V()).await.unwrap().len(), 2, "{engine:?}");
        assert_eq!(std::fs::read_to_string(&a.file).unwrap().lines().count(), 3);
        let v = db.store.verify_audit_with(&V(), &with(&a)).await.unwrap();
        assert!(v.ok, "{engine:?}: {:?}", v.problem);
        assert_eq!((v.checkpoints, v.unanchored_events), (3, 0), "three signed, one kept only in the file");
    }
}

#[tokio::test]
async fn an_expected_head_covers_the_events_after_the_last_checkpoint() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        let dir = tempfile::tempdir().unwrap();
        let a = anchor(&dir);
        append(&db.store, 5).await;
        checkpoint(&db.store, &a).await;
        append(&db.store, 3).await;
        let (seq, hash) = db.store.audit_head(&V()).await.unwrap().unwrap();
        assert_eq!(seq, 8);
        let expect = |s: i64, h: &str| VerifyOptions { anchor: Some(&a), expect_head: Some((s, h.to_string())) };
        let v = db.store.verify_audit_with(&V(), &expect(seq, &hash)).await.unwrap();
        assert!(v.ok, "{engine:?}: {:?}", v.problem);
        assert_eq!((v.unanchored_events, v.expected_head), (3, Some(8)));
        assert!(v.note.contains("protected only by the chain and --expect-head"), "{}", v.note);

        // Cut the unanchored tail back to 7: the checkpoint at 5 cannot see it…
        let h7 = events(&db.store).await[6].hash.clone();
        raw(&db, &["DELETE FROM audit_events WHERE seq = 8".into(), format!("UPDATE audit_head SET seq = 7, hash = '{h7}' WHERE id = 1")])
            .await;
        assert!(db.store.verify_audit_with(&V(), &with(&a)).await.unwrap().ok, "{engine:?}");
        // …the head kept elsewhere does.
        let v = db.store.verify_audit_with(&V(), &expect(seq, &hash)).await.unwrap();
        assert!(!v.ok, "{engine:?}");
        assert_eq!(v.first_bad, Some(8));
        let v = db.store.verify_audit_with(&V(), &expect(7, &"ab".repeat(32))).await.unwrap();
        assert!(!v.ok, "{engine:?}");
        assert_eq!(v.first_bad, Some(6), "the first event after the last checkpoint: {:?}", v.problem);
    }
}

#[tokio::test]
async fn without_a_key_verification_says_the_chain_is_only_self_consistent() {
    for engine in engines() {
        let db = TestDb::new(engine).await;
        append(&db.store, 2).await;
        let v = db.store.verify_audit(&V()).await.unwrap();
        assert!(v.ok);
        assert_eq!((v.anchor, v.checkpoint.is_none(), v.unanchored_events), (AnchorState::NoKey, true, 2));
        assert!(v.note.contains("only self-consistent") && v.note_vi.contains("tự nhất quán"), "{engine:?}: {}", v.note);
        let dir = tempfile::tempdir().unwrap();
        let a = anchor(&dir);
        let v = db.store.verify_audit_with(&V(), &with(&a)).await.unwrap();
        assert_eq!(v.anchor, AnchorState::NoCheckpoint);
        assert!(v.note.starts_with("No anchor"), "{}", v.note);
    }
}
