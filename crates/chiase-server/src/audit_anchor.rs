//! The server's side of the audit anchor (chiase-store `audit_anchor.rs`
//! says what it is and what it protects): the key file, created on the
//! first `serve` and never printed; a task that signs the head of the
//! audit chain every `audit_checkpoint_secs` when it moved; and the last
//! checkpoint at graceful shutdown, once requests in flight and the audit
//! writer have finished.
//!
//! Every process on one database must use the same key (copy the file to
//! each host before starting a second one): a checkpoint signed with
//! another key cannot be told from a forged one and is reported as such.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chiase_core::policy::{Subject, decide_audit_verify};
use chiase_store::Store;
use chiase_store::audit_anchor::{Anchor, AnchorKey, CheckpointOutcome};
use chiase_store::recorder::Recorder;

use crate::config::Config;

/// Where the key is: the configured file, else `DATA/audit-anchor.key`.
pub fn key_path(cfg: &Config) -> PathBuf {
    cfg.audit_key_file.clone().unwrap_or_else(|| cfg.data_dir.join("audit-anchor.key"))
}

/// Where checkpoints are appended: the configured file, else
/// `audit-checkpoints.jsonl` beside the key (outside the database either way).
pub fn checkpoint_path(cfg: &Config) -> PathBuf {
    cfg.audit_checkpoint_file.clone().unwrap_or_else(|| {
        let key = key_path(cfg);
        key.parent().map(|d| d.join("audit-checkpoints.jsonl")).unwrap_or_else(|| PathBuf::from("audit-checkpoints.jsonl"))
    })
}

/// Reads the key file; `None` when there is none. A file that exists but
/// does not hold a key is an error: replacing it would orphan every
/// checkpoint signed so far.
pub fn load_key(path: &Path) -> anyhow::Result<Option<AnchorKey>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(anyhow::anyhow!(
                "không đọc được tệp khoá mốc nhật ký {} / cannot read the audit anchor key file {}: {e}",
                path.display(),
                path.display()
            ));
        }
    };
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the audit anchor key file can be read by others than its owner: chmod 600 it");
        }
    }
    AnchorKey::parse(&text).map(Some).map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))
}

/// Reads the key file, or creates it (32 random bytes as hex, mode 0600)
/// when there is none. The new key is written to a temporary file and
/// linked into place, so that two processes starting at once end up with
/// one key, and a half-written key is never read.
pub fn load_or_create_key(path: &Path) -> anyhow::Result<AnchorKey> {
    if let Some(key) = load_key(path)? {
        return Ok(key);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let key = AnchorKey::generate();
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(key.to_file_text().as_bytes())?;
        f.sync_all()?;
        match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            other => other,
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    written.with_context(|| format!("cannot create the audit anchor key file {}", path.display()))?;
    // Whoever linked first won: read back the key that is in place.
    let key = load_key(path)?.ok_or_else(|| anyhow::anyhow!("the audit anchor key file {} vanished", path.display()))?;
    tracing::info!(path = %path.display(), "audit anchor key ready");
    Ok(key)
}

/// The anchor of an installation whose key already exists (commands other
/// than `serve` never create a key: one made on another host would sign
/// checkpoints the server reports as forged).
pub fn open(cfg: &Config) -> anyhow::Result<Option<Anchor>> {
    Ok(load_key(&key_path(cfg))?.map(|key| Anchor { key, file: checkpoint_path(cfg) }))
}

/// For `serve`: loads or creates the key, and starts signing the head
/// every `audit_checkpoint_secs` (when it moved).
pub fn start(store: &Store, cfg: &Config) -> anyhow::Result<Arc<Anchor>> {
    let anchor = Arc::new(Anchor { key: load_or_create_key(&key_path(cfg))?, file: checkpoint_path(cfg) });
    if cfg.audit_checkpoint_secs > 0 {
        start_checkpointing(store.clone(), anchor.clone(), Duration::from_secs(cfg.audit_checkpoint_secs));
    }
    Ok(anchor)
}

/// Signs the head every `every`, when it moved since the latest checkpoint.
pub fn start_checkpointing(store: Store, anchor: Arc<Anchor>, every: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            checkpoint(&store, &anchor, true).await;
        }
    });
}

/// Signs the head and logs what happened; failures are logged, not
/// returned (the server keeps serving; `chiase audit verify` tells more).
pub async fn checkpoint(store: &Store, anchor: &Anchor, only_if_moved: bool) -> Option<CheckpointOutcome> {
    // The server signs as the operator of its own installation.
    let permit = decide_audit_verify(&Subject::Operator).ok()?;
    match store.checkpoint_audit(&permit, anchor, only_if_moved).await {
        Ok(outcome) => {
            match &outcome {
                CheckpointOutcome::Written(cp) => tracing::info!(seq = cp.seq, "audit head checkpointed"),
                CheckpointOutcome::Refused(why) => {
                    tracing::error!("audit head NOT checkpointed: {}; run chiase audit verify", why.en)
                }
                CheckpointOutcome::Unchanged(_) | CheckpointOutcome::Empty => {}
            }
            Some(outcome)
        }
        Err(e) => {
            tracing::warn!("audit checkpoint failed: {e}");
            None
        }
    }
}

/// At graceful shutdown, after the requests in flight: lets the audit
/// writer finish, then signs the final head.
pub async fn at_shutdown(recorder: &Recorder, store: &Store, anchor: &Anchor) {
    recorder.flush().await;
    checkpoint(store, anchor, true).await;
}

/// Reads `SEQ:HASH` (as `chiase audit head` prints it, or with a space).
pub fn parse_expect_head(s: &str) -> Result<(i64, String), chiase_core::Msg> {
    let bad = || {
        chiase_core::Msg::new(
            format!("đầu chuỗi mong đợi không hợp lệ «{s}»: cần SỐ:MÃ_BĂM (64 chữ số thập lục phân)"),
            format!("invalid expected head «{s}»: SEQ:HASH (64 hex digits) expected"),
        )
    };
    let (seq, hash) = s.trim().split_once([':', ' ']).ok_or_else(bad)?;
    let seq: i64 = seq.trim().parse().map_err(|_| bad())?;
    let hash = hash.trim().to_ascii_lowercase();
    if seq < 0 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((seq, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_created_once_with_mode_0600_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("audit-anchor.key");
        assert!(load_key(&path).unwrap().is_none());
        let a = load_or_create_key(&path).unwrap();
        let b = load_or_create_key(&path).unwrap();
        let cp = a.sign(1, &"ab".repeat(32), "t");
        assert!(b.verifies(&cp), "the second start reads the same key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn a_malformed_key_file_is_an_error_and_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-anchor.key");
        std::fs::write(&path, "not a key\n").unwrap();
        let err = load_or_create_key(&path).unwrap_err().to_string();
        assert!(err.contains("malformed") && err.contains("không hợp lệ"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key\n");
    }

    #[test]
    fn the_checkpoint_file_sits_beside_the_key_unless_configured() {
        let cfg = Config { data_dir: "/srv/chiase".into(), ..Config::default() };
        assert_eq!(key_path(&cfg), PathBuf::from("/srv/chiase/audit-anchor.key"));
        assert_eq!(checkpoint_path(&cfg), PathBuf::from("/srv/chiase/audit-checkpoints.jsonl"));
        let cfg = Config { audit_key_file: Some("/etc/chiase/k".into()), ..cfg };
        assert_eq!(checkpoint_path(&cfg), PathBuf::from("/etc/chiase/audit-checkpoints.jsonl"));
        let cfg = Config { audit_checkpoint_file: Some("/var/log/cp.jsonl".into()), ..cfg };
        assert_eq!(checkpoint_path(&cfg), PathBuf::from("/var/log/cp.jsonl"));
    }

    #[test]
    fn an_expected_head_is_seq_colon_hash() {
        let h = "AB".repeat(32);
        assert_eq!(parse_expect_head(&format!("12:{h}")).unwrap(), (12, h.to_ascii_lowercase()));
        assert_eq!(parse_expect_head(&format!("12 {h}")).unwrap().0, 12);
        for bad in ["", "12", "x:ab", &format!("-1:{h}"), "3:abc", &format!("3:{}", "zz".repeat(32))] {
            assert!(parse_expect_head(bad).is_err(), "{bad}");
        }
    }
}
