//! The audit chain's anchor outside its own database. The chain alone is
//! only self-consistent: whoever can write the database can cut its tail
//! and move the head back, rewrite an event and recompute every hash after
//! it, or empty the table, and the chain still verifies. A **checkpoint**
//! is the head `(seq, hash)` at a time `at`, signed with HMAC-SHA256 under
//! a key kept in a file outside the database; checkpoints are kept both in
//! the `audit_checkpoints` table and in an append-only JSON-lines file
//! beside the key, so that wiping the table does not remove them.
//! Verification then requires the chain to still contain each checkpoint's
//! event with the signed hash.
//!
//! What this protects: the events up to the latest checkpoint, against
//! anyone who can write the database but cannot read the key file. What it
//! does not: events after the latest checkpoint (only the chain, and a head
//! an operator kept elsewhere, `--expect-head`, protect those), nor anyone
//! who holds the key (they can sign whatever they like).

use std::io::Write;
use std::path::{Path, PathBuf};

use chiase_core::Msg;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::audit::{GENESIS, stamp};
use crate::db::Sql;
use crate::{Store, StoreError, now};

type HmacSha256 = Hmac<Sha256>;

/// The secret that signs checkpoints: 32 random bytes. It never appears in
/// `Debug` output; its text form (64 hex digits) is only for its file.
#[derive(Clone)]
pub struct AnchorKey([u8; 32]);

impl std::fmt::Debug for AnchorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnchorKey(***)")
    }
}

impl AnchorKey {
    /// A new random key (the operating system's generator, through `rand`).
    pub fn generate() -> AnchorKey {
        AnchorKey(rand::random::<[u8; 32]>())
    }

    /// Reads a key file's text: exactly 64 hex digits, then optional
    /// whitespace. Anything else is refused, so that a damaged key file is
    /// noticed rather than silently replaced.
    pub fn parse(text: &str) -> Result<AnchorKey, Msg> {
        let t = text.trim_end();
        let bad = || {
            Msg::new(
                "tệp khoá mốc nhật ký không hợp lệ: cần đúng 64 chữ số thập lục phân",
                "the audit anchor key file is malformed: it must hold exactly 64 hex digits",
            )
        };
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(AnchorKey(key))
    }

    /// The key as its file holds it: 64 hex digits and a newline.
    pub fn to_file_text(&self) -> String {
        let mut s = hex(&self.0);
        s.push('\n');
        s
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail for 32 bytes.
        <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("BUG: HMAC refused a 32-byte key")
    }

    /// Signs the head `(seq, hash)` as of `at`.
    pub fn sign(&self, seq: i64, hash: &str, at: &str) -> Checkpoint {
        let mut m = self.mac();
        m.update(Checkpoint::message(seq, hash, at).as_bytes());
        Checkpoint { seq, hash: hash.to_string(), at: at.to_string(), mac: hex(&m.finalize().into_bytes()) }
    }

    /// Whether `cp` was signed with this key (compared in constant time).
    pub fn verifies(&self, cp: &Checkpoint) -> bool {
        let Some(tag) = unhex(&cp.mac) else {
            return false;
        };
        let mut m = self.mac();
        m.update(Checkpoint::message(cp.seq, &cp.hash, &cp.at).as_bytes());
        m.verify_slice(&tag).is_ok()
    }
}

/// A signed head of the audit chain: event `seq` had hash `hash` at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: String,
    /// Hex HMAC-SHA256 of [`Checkpoint::message`] under the anchor key.
    pub mac: String,
}

impl Checkpoint {
    /// The canonical text a checkpoint's MAC covers. A prefix names what
    /// is signed, so that the key's MAC over anything else can never pass
    /// for a checkpoint.
    pub fn message(seq: i64, hash: &str, at: &str) -> String {
        format!("chiase-audit-checkpoint\n{seq}\n{hash}\n{at}")
    }
}

/// Where checkpoints are signed and kept outside the database: the key,
/// and the JSON-lines file they are appended to.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub key: AnchorKey,
    pub file: PathBuf,
}

/// One line of the checkpoint file as read back.
#[derive(Debug, Clone)]
pub enum FileLine {
    Checkpoint {
        line: usize,
        checkpoint: Checkpoint,
    },
    /// A line that is not a checkpoint: the file was edited.
    Garbled {
        line: usize,
    },
}

/// Reads the checkpoint file. A missing file holds no checkpoints. A last
/// line without its newline is a write cut short by a crash and is
/// skipped; any other unreadable line is returned as [`FileLine::Garbled`].
pub async fn read_checkpoint_file(path: &Path) -> Result<Vec<FileLine>, StoreError> {
    let text = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(StoreError::Io(e)),
    };
    let complete = text.ends_with(b"\n");
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    let mut out = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        if raw.iter().all(u8::is_ascii_whitespace) || (last && !complete) {
            continue;
        }
        match serde_json::from_slice::<Checkpoint>(raw) {
            Ok(checkpoint) => out.push(FileLine::Checkpoint { line: i + 1, checkpoint }),
            Err(_) => out.push(FileLine::Garbled { line: i + 1 }),
        }
    }
    Ok(out)
}

/// Appends a checkpoint to the file (created 0600 if absent) and syncs it
/// to disk. A line left incomplete by a crash is ended first, so that the
/// next line is not glued to it.
pub async fn append_checkpoint_file(path: &Path, cp: &Checkpoint) -> Result<(), StoreError> {
    let path = path.to_path_buf();
    let mut line = serde_json::to_vec(cp).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    line.push(b'\n');
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create(true).read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&path)?;
        let len = f.metadata()?.len();
        if len > 0 {
            use std::io::{Read, Seek, SeekFrom};
            let mut last = [0u8; 1];
            f.seek(SeekFrom::Start(len - 1))?;
            f.read_exact(&mut last)?;
            if last[0] != b'\n' {
                line.insert(0, b'\n');
            }
        }
        f.write_all(&line)?;
        f.sync_all()
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("BUG: the checkpoint writer panicked: {e}")))??;
    Ok(())
}

/// What [`Store::checkpoint_audit`] did.
#[derive(Debug, Clone)]
pub enum CheckpointOutcome {
    /// A checkpoint of the head was written to the table and the file.
    Written(Checkpoint),
    /// The latest checkpoint already is the head (only when asked to write
    /// only if the head moved).
    Unchanged(Checkpoint),
    /// The log has no event yet: nothing to anchor.
    Empty,
    /// The chain does not verify from the latest checkpoint to the head:
    /// signing this head would bless a tampered log, so nothing was
    /// written. `chiase audit verify` says more.
    Refused(Msg),
}

impl Store {
    /// The head of the audit chain, `(seq, hash)`; `None` when its row is
    /// missing, which only tampering does.
    pub async fn audit_head(&self, _permit: &chiase_core::policy::AuditVerifyPermit) -> Result<Option<(i64, String)>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn().fetch_optional(Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1")).await
    }

    /// The checkpoints in the database, oldest first (not checked here).
    pub async fn audit_checkpoints(&self, _permit: &chiase_core::policy::AuditVerifyPermit) -> Result<Vec<Checkpoint>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn().fetch_all(Sql::new("SELECT seq, hash, at, mac FROM audit_checkpoints ORDER BY seq, at")).await
    }

    /// Signs the current head and keeps the checkpoint in the file and the
    /// table. The chain is checked first from the latest valid checkpoint
    /// to the head (so the cost is the events since then), and nothing is
    /// signed if it fails. With `only_if_moved`, nothing is written when
    /// the latest checkpoint already is the head.
    pub async fn checkpoint_audit(
        &self,
        _permit: &chiase_core::policy::AuditVerifyPermit,
        anchor: &Anchor,
        only_if_moved: bool,
    ) -> Result<CheckpointOutcome, StoreError> {
        let file = read_checkpoint_file(&anchor.file).await?;
        let mut tx = self.pools.begin_read().await?;
        let mut conn = tx.conn();
        let Some((head_seq, head_hash)) =
            conn.fetch_optional::<(i64, String)>(Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1")).await?
        else {
            return Ok(CheckpointOutcome::Refused(head_missing()));
        };
        let table: Vec<Checkpoint> = conn.fetch_all(Sql::new("SELECT seq, hash, at, mac FROM audit_checkpoints")).await?;
        let latest = table
            .into_iter()
            .chain(file.into_iter().filter_map(|l| match l {
                FileLine::Checkpoint { checkpoint, .. } => Some(checkpoint),
                FileLine::Garbled { .. } => None,
            }))
            .filter(|cp| anchor.key.verifies(cp))
            .max_by(|a, b| a.seq.cmp(&b.seq).then_with(|| a.at.cmp(&b.at)));
        if head_seq == 0 && latest.is_none() {
            return Ok(CheckpointOutcome::Empty);
        }
        if let Some(cp) = &latest
            && only_if_moved
            && cp.seq == head_seq
            && cp.hash == head_hash
        {
            return Ok(CheckpointOutcome::Unchanged(cp.clone()));
        }
        let (from_seq, from_hash) = latest.as_ref().map(|cp| (cp.seq, cp.hash.clone())).unwrap_or((0, GENESIS.to_string()));
        if from_seq > 0 {
            let stored: Option<(String,)> =
                conn.fetch_optional(Sql::new("SELECT hash FROM audit_events WHERE seq = ?").bind(from_seq)).await?;
            if stored.as_ref().map(|(h,)| h.as_str()) != Some(from_hash.as_str()) {
                return Ok(CheckpointOutcome::Refused(Msg::new(
                    format!("sự kiện {from_seq} không còn khớp với điểm kiểm tra đã ký gần nhất: không ký đầu chuỗi mới"),
                    format!("event {from_seq} no longer matches the latest signed checkpoint: not signing a new head"),
                )));
            }
        }
        let walk = crate::audit::walk(&mut conn, from_seq, &from_hash).await?;
        if let Some(fault) = walk.fault {
            return Ok(CheckpointOutcome::Refused(fault.msg));
        }
        if walk.end_seq != head_seq || walk.end_hash != head_hash {
            return Ok(CheckpointOutcome::Refused(Msg::new(
                format!("chuỗi kết thúc ở sự kiện {} nhưng đầu chuỗi ghi {head_seq}: không ký", walk.end_seq),
                format!("the chain ends at event {} but its head says {head_seq}: not signing", walk.end_seq),
            )));
        }
        drop(tx);
        let cp = anchor.key.sign(head_seq, &head_hash, &stamp(now()));
        // The file first: it is the copy that survives the database.
        append_checkpoint_file(&anchor.file, &cp).await?;
        let mut tx = self.pools.begin().await?;
        // Another process may have signed the same head: one row is enough.
        let insert = Sql::new("INSERT INTO audit_checkpoints (seq, hash, at, mac) VALUES (?, ?, ?, ?) ON CONFLICT (seq, hash) DO NOTHING");
        tx.conn().execute(insert.bind(cp.seq).bind(cp.hash.clone()).bind(cp.at.clone()).bind(cp.mac.clone())).await?;
        tx.commit().await?;
        Ok(CheckpointOutcome::Written(cp))
    }
}

/// The message for a deleted head row: tampering, said as such.
pub fn head_missing() -> Msg {
    Msg::new(
        "dòng đầu chuỗi nhật ký (audit_head) đã bị xoá: nhật ký bị can thiệp",
        "the audit chain's head row (audit_head) is missing: it was deleted, the log was tampered with",
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(hex(&m.finalize().into_bytes()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_checkpoint_verifies_only_under_its_key_and_unchanged() {
        let k = AnchorKey::generate();
        let cp = k.sign(7, &"ab".repeat(32), "2026-01-01T00:00:00.000000Z");
        assert!(k.verifies(&cp));
        assert!(!AnchorKey::generate().verifies(&cp));
        for change in [
            Checkpoint { seq: 8, ..cp.clone() },
            Checkpoint { hash: "cd".repeat(32), ..cp.clone() },
            Checkpoint { at: "2026-01-01T00:00:00.000001Z".into(), ..cp.clone() },
            Checkpoint { mac: "00".repeat(32), ..cp.clone() },
            Checkpoint { mac: "not hex".into(), ..cp.clone() },
        ] {
            assert!(!k.verifies(&change), "{change:?}");
        }
    }

    #[test]
    fn key_files_hold_64_hex_digits_and_nothing_else() {
        let k = AnchorKey::generate();
        let text = k.to_file_text();
        let back = AnchorKey::parse(&text).unwrap();
        assert_eq!(back.0, k.0);
        assert!(AnchorKey::parse("").is_err());
        assert!(AnchorKey::parse(&text[..63]).is_err());
        assert!(AnchorKey::parse(&format!("{}0", text.trim_end())).is_err());
        assert!(AnchorKey::parse(&"zz".repeat(32)).is_err());
        assert_eq!(format!("{k:?}"), "AnchorKey(***)");
    }

    #[tokio::test]
    async fn the_checkpoint_file_skips_a_torn_last_line_and_reports_garbled_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.jsonl");
        assert!(read_checkpoint_file(&path).await.unwrap().is_empty());
        let k = AnchorKey::generate();
        append_checkpoint_file(&path, &k.sign(1, GENESIS, "t1")).await.unwrap();
        // A crash cut the next write short…
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"seq\":2,\"ha").unwrap();
        assert_eq!(read_checkpoint_file(&path).await.unwrap().len(), 1);
        // …and the next append starts on a line of its own.
        append_checkpoint_file(&path, &k.sign(3, GENESIS, "t3")).await.unwrap();
        let lines = read_checkpoint_file(&path).await.unwrap();
        assert!(matches!(lines[0], FileLine::Checkpoint { line: 1, .. }));
        assert!(matches!(lines[1], FileLine::Garbled { line: 2 }));
        assert!(matches!(&lines[2], FileLine::Checkpoint { line: 3, checkpoint } if checkpoint.seq == 3));
    }
}
