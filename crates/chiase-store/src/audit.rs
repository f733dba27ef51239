//! The tamper-evident audit log: an append-only chain of events, each
//! carrying the SHA-256 of the event before it and of its own canonical
//! form. Events are appended in batches (group commits) under a lock on the
//! chain's head row, so that several processes extend one unbroken chain.
//! `verify` recomputes the chain and names the first event altered,
//! removed or out of order; with an [`Anchor`] it also checks the chain
//! against signed checkpoints kept outside the database
//! (`audit_anchor.rs`), which catches what a self-consistent chain cannot:
//! a cut tail with the head moved back, a rewrite with every later hash
//! recomputed, an emptied table. Events after the latest checkpoint are
//! protected only by the chain and by a head the operator kept elsewhere
//! (`VerifyOptions::expect_head`).

use std::collections::BTreeMap;

use chiase_core::Msg;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit_anchor::{Anchor, Checkpoint, FileLine, head_missing, read_checkpoint_file};
use crate::db::{Backend, Conn, Sql};
use crate::{Store, StoreError, now};

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub actor: String,
    pub user_id: Option<i64>,
    pub agency_id: Option<i64>,
    /// What happened: `read`, `write`, `import`, `sign_in`, `sign_in_failed`,
    /// `request_approved`, …
    pub action: String,
    pub dataset_id: Option<i64>,
    /// What it happened to, in words a reader of the log understands.
    pub target: Option<String>,
    /// Everything else: query, fields returned, row count, grant used, outcome.
    pub detail: serde_json::Value,
    /// The source address.
    pub source: Option<String>,
}

/// An event as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub user_id: Option<i64>,
    pub agency_id: Option<i64>,
    pub action: String,
    pub dataset_id: Option<i64>,
    pub target: Option<String>,
    pub detail: String,
    pub source: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl Event {
    /// The hash of this event's canonical form after `prev_hash`.
    pub fn compute_hash(&self) -> String {
        let canonical = serde_json::json!([
            self.seq,
            self.at,
            self.actor,
            self.user_id,
            self.agency_id,
            self.action,
            self.dataset_id,
            self.target,
            self.detail,
            self.source,
            self.prev_hash
        ])
        .to_string();
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(b"\n");
        h.update(canonical.as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What `verify` found. `ok` is false at the first problem, which
/// `problem` (English) and `problem_vi` describe.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Events read before the first problem (all of them when none).
    pub events: i64,
    pub ok: bool,
    /// The first event at fault, as far as the checks can tell: for a
    /// rewritten chain caught by a checkpoint, the first event after the
    /// last checkpoint that still matches (the rewrite lies between it and
    /// the checkpoint that no longer does). `None` when the problem is not
    /// an event (a deleted head row, a forged checkpoint).
    pub first_bad: Option<i64>,
    pub problem: Option<String>,
    pub problem_vi: Option<String>,
    /// The head row as stored (0 and "" when the row is missing).
    pub head_seq: i64,
    pub head_hash: String,
    /// Whether the chain was checked against a signed checkpoint.
    pub anchor: AnchorState,
    /// The latest checkpoint whose signature verifies: the one used.
    pub checkpoint: Option<CheckpointUsed>,
    /// Checkpoints whose signature verifies, in the table and the file.
    pub checkpoints: usize,
    /// Events after the checkpoint used (every event when none): only the
    /// chain and `expect_head` protect them.
    pub unanchored_events: i64,
    /// The head the caller expected (`--expect-head`), when given.
    pub expected_head: Option<i64>,
    /// What the anchor did and did not cover, in both languages.
    pub note: String,
    pub note_vi: String,
}

/// How far a verification reaches beyond the chain itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnchorState {
    /// Checked against a signed checkpoint.
    Checkpoint,
    /// A key, but no checkpoint yet: the chain is only self-consistent.
    NoCheckpoint,
    /// No key to check checkpoints with: the chain is only self-consistent.
    NoKey,
}

/// The checkpoint a verification used, and where it was found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointUsed {
    pub seq: i64,
    pub hash: String,
    pub at: String,
    /// `table`, `file`, or both.
    pub sources: Vec<&'static str>,
}

/// What to check besides the chain itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions<'a> {
    /// The key and checkpoint file: check the chain against the latest
    /// checkpoint whose signature verifies.
    pub anchor: Option<&'a Anchor>,
    /// A head `(seq, hash)` an operator kept elsewhere (`chiase audit
    /// head`): event `seq` must still have `hash`, and the head must be at
    /// or after it. This covers events newer than the latest checkpoint.
    pub expect_head: Option<(i64, String)>,
}

/// A problem in the log: the first event at fault when one can be named.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub first_bad: Option<i64>,
    pub msg: Msg,
}

/// A walk along the chain from a known `(seq, hash)`.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub count: i64,
    pub end_seq: i64,
    pub end_hash: String,
    pub fault: Option<Fault>,
}

/// Recomputes the chain after event `from_seq` (whose hash is `from_hash`;
/// 0 and [`GENESIS`] for the whole chain) to its last stored event,
/// stopping at the first event missing, out of place or altered.
pub(crate) async fn walk(conn: &mut Conn<'_>, from_seq: i64, from_hash: &str) -> Result<Walk, StoreError> {
    let mut expected_seq = from_seq + 1;
    let mut prev = from_hash.to_string();
    let mut count = 0;
    let fault = |seq: i64, vi: String, en: String| Some(Fault { first_bad: Some(seq), msg: Msg::new(vi, en) });
    loop {
        let page: Vec<Event> =
            conn.fetch_all(Sql::new("SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT 5000").bind(expected_seq)).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            count += 1;
            let problem = if e.seq != expected_seq {
                fault(
                    expected_seq,
                    format!("thiếu sự kiện {expected_seq} (sự kiện kế tiếp còn lưu là {})", e.seq),
                    format!("event {expected_seq} is missing (the next one stored is {})", e.seq),
                )
            } else if e.prev_hash != prev {
                fault(
                    e.seq,
                    format!(
                        "sự kiện {} không nối tiếp sự kiện {} (mã băm trước khác): sự kiện đã bị xoá hoặc đổi thứ tự",
                        e.seq,
                        e.seq - 1
                    ),
                    format!(
                        "event {} does not follow event {} (its previous-hash differs): events were removed or reordered",
                        e.seq,
                        e.seq - 1
                    ),
                )
            } else if e.compute_hash() != e.hash {
                fault(
                    e.seq,
                    format!("sự kiện {} đã bị sửa (nội dung không còn khớp mã băm của nó)", e.seq),
                    format!("event {} was altered (its content no longer matches its hash)", e.seq),
                )
            } else {
                None
            };
            if problem.is_some() {
                return Ok(Walk { count, end_seq: expected_seq - 1, end_hash: prev, fault: problem });
            }
            prev = e.hash.clone();
            expected_seq += 1;
        }
    }
    Ok(Walk { count, end_seq: expected_seq - 1, end_hash: prev, fault: None })
}

/// The stored hash of event `seq` ([`GENESIS`] for 0), if it exists.
async fn hash_at(conn: &mut Conn<'_>, seq: i64) -> Result<Option<String>, StoreError> {
    if seq == 0 {
        return Ok(Some(GENESIS.to_string()));
    }
    let row: Option<(String,)> = conn.fetch_optional(Sql::new("SELECT hash FROM audit_events WHERE seq = ?").bind(seq)).await?;
    Ok(row.map(|(h,)| h))
}

/// Filters of the audit listing (within what the permit shows).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub dataset: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after_seq: i64,
    pub limit: i64,
}

/// Reads of open data counted per dataset and day.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OpenReads {
    pub dataset: String,
    pub day: NaiveDate,
    pub reads: i64,
    pub rows: i64,
}

/// How much a dataset was read on one day: reads of open data (counted)
/// and audited reads of restricted data (one event each).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Usage {
    pub dataset: String,
    /// The day, `yyyy-mm-dd` (UTC, as both counts are kept).
    pub day: String,
    pub open_reads: i64,
    pub audited_reads: i64,
}

/// Midnight (UTC) of a day, as the log writes times.
fn day_start(d: NaiveDate) -> String {
    stamp(d.and_hms_opt(0, 0, 0).expect("BUG: midnight exists").and_utc())
}

/// A timestamp as the log writes it (microseconds, UTC): the same text on
/// both engines, since it is hashed.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Canonical JSON of a detail: keys sorted, so the text (and its hash) does
/// not depend on how the caller built the map.
pub fn canonical(v: &serde_json::Value) -> String {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                serde_json::Value::Object(keys.into_iter().map(|k| (k.clone(), sort(&m[k]))).collect())
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(v).to_string()
}

impl Store {
    /// Appends events in one transaction and returns their sequence numbers.
    /// When this returns, the events are durable.
    pub async fn append_audit(&self, events: &[NewEvent]) -> Result<Vec<i64>, StoreError> {
        if events.is_empty() {
            return Ok(vec![]);
        }
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let head_sql = match conn.backend() {
            Backend::Sqlite => Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1"),
            Backend::Postgres => Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"),
        };
        let (mut seq, mut prev): (i64, String) = conn
            .fetch_optional(head_sql)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("{}; chiase audit verify", head_missing().en)))?;
        let at = stamp(now());
        let mut seqs = Vec::with_capacity(events.len());
        for chunk in events.chunks(200) {
            let mut sql = String::from(
                "INSERT INTO audit_events (seq, at, actor, user_id, agency_id, action, dataset_id, target, detail, source, prev_hash, hash) VALUES ",
            );
            sql.push_str(&vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", "));
            let mut stmt = Sql::assembled(sql);
            for e in chunk {
                seq += 1;
                let mut ev = Event {
                    seq,
                    at: at.clone(),
                    actor: e.actor.clone(),
                    user_id: e.user_id,
                    agency_id: e.agency_id,
                    action: e.action.clone(),
                    dataset_id: e.dataset_id,
                    target: e.target.clone(),
                    detail: canonical(&e.detail),
                    source: e.source.clone(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                ev.hash = ev.compute_hash();
                prev = ev.hash.clone();
                seqs.push(seq);
                stmt = stmt
                    .bind(ev.seq)
                    .bind(ev.at)
                    .bind(ev.actor)
                    .bind(ev.user_id)
                    .bind(ev.agency_id)
                    .bind(ev.action)
                    .bind(ev.dataset_id)
                    .bind(ev.target)
                    .bind(ev.detail)
                    .bind(ev.source)
                    .bind(ev.prev_hash)
                    .bind(ev.hash);
            }
            conn.execute(stmt).await?;
        }
        conn.execute(Sql::new("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1").bind(seq).bind(prev)).await?;
        tx.commit().await?;
        Ok(seqs)
    }

    /// Recomputes the whole chain, without an anchor: this only shows the
    /// chain is self-consistent (see [`Store::verify_audit_with`]).
    pub async fn verify_audit(&self, permit: &chiase_core::policy::AuditVerifyPermit) -> Result<Verification, StoreError> {
        self.verify_audit_with(permit, &VerifyOptions::default()).await
    }

    /// Recomputes the whole chain from one snapshot and checks it against
    /// its head row, the latest signed checkpoint (with `opts.anchor`) and
    /// the expected head (with `opts.expect_head`). The first problem found
    /// is reported: an event missing, out of place or altered; the head row
    /// deleted or not at the chain's end; the chain short of, or different
    /// from, a checkpoint or the expected head; a checkpoint whose
    /// signature does not verify. Events after the latest checkpoint are
    /// protected only by the chain and by `expect_head`: the result says
    /// how many there are.
    pub async fn verify_audit_with(
        &self,
        _permit: &chiase_core::policy::AuditVerifyPermit,
        opts: &VerifyOptions<'_>,
    ) -> Result<Verification, StoreError> {
        let file = match opts.anchor {
            Some(a) => read_checkpoint_file(&a.file).await?,
            None => vec![],
        };
        let mut tx = self.pools.begin_read().await?;
        let mut conn = tx.conn();
        let head: Option<(i64, String)> = conn.fetch_optional(Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1")).await?;
        let table: Vec<Checkpoint> = conn.fetch_all(Sql::new("SELECT seq, hash, at, mac FROM audit_checkpoints ORDER BY seq, at")).await?;
        let table_rows = table.len();
        let walk = walk(&mut conn, 0, GENESIS).await?;
        let mut faults: Vec<Fault> = walk.fault.iter().cloned().collect();

        // The head row must exist and name the chain's last event.
        match &head {
            None => faults.push(Fault { first_bad: None, msg: head_missing() }),
            Some((hs, hh)) if walk.fault.is_none() => {
                let (end, e) = (walk.end_seq, &walk.end_hash);
                if end < *hs {
                    faults.push(Fault {
                        first_bad: Some(end + 1),
                        msg: Msg::new(
                            format!("chuỗi kết thúc ở sự kiện {end} nhưng đầu chuỗi ghi {hs}: sự kiện cuối đã bị xoá"),
                            format!("the chain ends at event {end} but its head says {hs}: events were removed from the end"),
                        ),
                    });
                } else if end > *hs {
                    faults.push(Fault {
                        first_bad: Some(hs + 1),
                        msg: Msg::new(
                            format!("chuỗi còn tiếp đến sự kiện {end} sau đầu chuỗi {hs}: đầu chuỗi đã bị lùi lại"),
                            format!("the chain goes on to event {end} past its head {hs}: the head was moved back"),
                        ),
                    });
                } else if e != hh {
                    faults.push(Fault {
                        first_bad: Some(end),
                        msg: Msg::new(
                            format!("mã băm ở đầu chuỗi khác mã băm của sự kiện {end}: đầu chuỗi đã bị sửa"),
                            format!("the head's hash differs from event {end}'s: the head was altered"),
                        ),
                    });
                }
            }
            Some(_) => {}
        }

        // Checkpoints: those whose signature verifies, and those that do not.
        let mut valid: BTreeMap<(i64, String, String, String), Vec<&'static str>> = BTreeMap::new();
        let mut forged: Vec<Fault> = Vec::new();
        if let Some(anchor) = opts.anchor {
            let mut consider = |cp: Checkpoint, source: &'static str, line: Option<usize>| {
                if anchor.key.verifies(&cp) {
                    let sources = valid.entry((cp.seq, cp.at, cp.hash, cp.mac)).or_default();
                    if !sources.contains(&source) {
                        sources.push(source);
                    }
                } else {
                    let (vi_where, en_where) = match line {
                        Some(n) => (format!("dòng {n} của tệp điểm kiểm tra"), format!("line {n} of the checkpoint file")),
                        None => ("bảng audit_checkpoints".to_string(), "the audit_checkpoints table".to_string()),
                    };
                    forged.push(Fault {
                        first_bad: None,
                        msg: Msg::new(
                            format!(
                                "điểm kiểm tra tại sự kiện {} ({vi_where}) có chữ ký không hợp lệ: bị giả mạo, bị sửa, hoặc ký bằng khoá khác",
                                cp.seq
                            ),
                            format!(
                                "the checkpoint at event {} ({en_where}) has a signature that does not verify: forged, altered, or signed with another key",
                                cp.seq
                            ),
                        ),
                    });
                }
            };
            for cp in table {
                consider(cp, "table", None);
            }
            let mut garbled = Vec::new();
            for l in file {
                match l {
                    FileLine::Checkpoint { line, checkpoint } => consider(checkpoint, "file", Some(line)),
                    FileLine::Garbled { line } => garbled.push(Fault {
                        first_bad: None,
                        msg: Msg::new(
                            format!("dòng {line} của tệp điểm kiểm tra không phải một điểm kiểm tra: tệp đã bị sửa"),
                            format!("line {line} of the checkpoint file is not a checkpoint: the file was edited"),
                        ),
                    }),
                }
            }
            forged.extend(garbled);
        }
        // Ordered by seq, then time: the last is the latest.
        let valid: Vec<(Checkpoint, Vec<&'static str>)> =
            valid.into_iter().map(|((seq, at, hash, mac), sources)| (Checkpoint { seq, hash, at, mac }, sources)).collect();

        // The chain must still hold the latest checkpoint's event, unchanged,
        // and the expected head.
        let signed_below = |seq: i64| valid.iter().rev().map(|(cp, _)| cp.seq).find(|s| *s < seq);
        if walk.fault.is_none() {
            if let Some((cp, _)) = valid.last() {
                if cp.seq > walk.end_seq {
                    faults.push(Fault {
                        first_bad: Some(walk.end_seq + 1),
                        msg: Msg::new(
                            format!(
                                "chuỗi kết thúc ở sự kiện {} nhưng điểm kiểm tra đã ký lúc {} ghi đã có sự kiện {}: sự kiện cuối đã bị xoá",
                                walk.end_seq, cp.at, cp.seq
                            ),
                            format!(
                                "the chain ends at event {} but the checkpoint signed at {} says event {} existed: events were removed from the end",
                                walk.end_seq, cp.at, cp.seq
                            ),
                        ),
                    });
                } else if hash_at(&mut conn, cp.seq).await?.as_deref() != Some(cp.hash.as_str()) {
                    // Checkpoints at or before the rewrite still match, those
                    // after it do not: find the last one that matches.
                    let (mut lo, mut hi) = (0usize, valid.len() - 1);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        let c = &valid[mid].0;
                        if hash_at(&mut conn, c.seq).await?.as_deref() == Some(c.hash.as_str()) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    let good = if lo == 0 { 0 } else { valid[lo - 1].0.seq };
                    let bad = &valid[lo].0;
                    faults.push(Fault {
                        first_bad: Some(good + 1),
                        msg: Msg::new(
                            format!(
                                "sự kiện {} không còn mã băm đã ký lúc {}: nhật ký đã bị viết lại (một sự kiện từ {} đến {} bị sửa và chuỗi được tính lại)",
                                bad.seq,
                                bad.at,
                                good + 1,
                                bad.seq
                            ),
                            format!(
                                "event {} no longer has the hash signed at {}: the log was rewritten (an event from {} to {} was altered and the chain recomputed)",
                                bad.seq,
                                bad.at,
                                good + 1,
                                bad.seq
                            ),
                        ),
                    });
                }
            }
            if let Some((es, eh)) = &opts.expect_head {
                if *es > walk.end_seq {
                    faults.push(Fault {
                        first_bad: Some(walk.end_seq + 1),
                        msg: Msg::new(
                            format!("chuỗi kết thúc ở sự kiện {} trước đầu chuỗi mong đợi {es}: sự kiện cuối đã bị xoá", walk.end_seq),
                            format!(
                                "the chain ends at event {}, before the expected head {es}: events were removed from the end",
                                walk.end_seq
                            ),
                        ),
                    });
                } else if hash_at(&mut conn, *es).await?.as_deref() != Some(eh.as_str()) {
                    let good = signed_below(*es).unwrap_or(0);
                    faults.push(Fault {
                        first_bad: Some(good + 1),
                        msg: Msg::new(
                            format!("sự kiện {es} không có mã băm mong đợi: nhật ký đã bị viết lại tại hoặc trước sự kiện này"),
                            format!("event {es} does not have the expected hash: the log was rewritten at or before it"),
                        ),
                    });
                }
            }
        }
        faults.extend(forged);
        drop(tx);

        let latest = valid.last();
        let unanchored = walk.end_seq - latest.map(|(cp, _)| cp.seq).unwrap_or(0);
        let anchor = match (opts.anchor, latest) {
            (None, _) => AnchorState::NoKey,
            (Some(_), None) => AnchorState::NoCheckpoint,
            (Some(_), Some(_)) => AnchorState::Checkpoint,
        };
        let mut note = match (anchor, latest) {
            (AnchorState::Checkpoint, Some((cp, _))) => Msg::new(
                format!(
                    "Mốc: điểm kiểm tra đã ký tại sự kiện {} ({}); {unanchored} sự kiện sau đó chỉ được bảo vệ bởi chuỗi và --expect-head",
                    cp.seq, cp.at
                ),
                format!(
                    "Anchor: the checkpoint signed at event {} ({}); the {unanchored} events after it are protected only by the chain and --expect-head",
                    cp.seq, cp.at
                ),
            ),
            (AnchorState::NoCheckpoint, _) => Msg::new(
                "Không có mốc: chưa có điểm kiểm tra đã ký; chuỗi chỉ được kiểm tra là tự nhất quán",
                "No anchor: no signed checkpoint yet; the chain is only self-consistent",
            ),
            _ => Msg::new(
                format!(
                    "Không có mốc: không có khoá để kiểm tra điểm kiểm tra ({table_rows} trong cơ sở dữ liệu chưa được kiểm tra); chuỗi chỉ được kiểm tra là tự nhất quán"
                ),
                format!(
                    "No anchor: no key to check checkpoints with ({table_rows} in the database not checked); the chain is only self-consistent"
                ),
            ),
        };
        if let Some((es, _)) = &opts.expect_head {
            note.vi.push_str(&format!("; đầu chuỗi mong đợi: sự kiện {es}"));
            note.en.push_str(&format!("; expected head: event {es}"));
        }
        let first = faults.into_iter().next();
        let (head_seq, head_hash) = head.unwrap_or((0, String::new()));
        Ok(Verification {
            events: walk.count,
            ok: first.is_none(),
            first_bad: first.as_ref().and_then(|f| f.first_bad),
            problem: first.as_ref().map(|f| f.msg.en.clone()),
            problem_vi: first.map(|f| f.msg.vi),
            head_seq,
            head_hash,
            anchor,
            checkpoint: latest.map(|(cp, sources)| CheckpointUsed {
                seq: cp.seq,
                hash: cp.hash.clone(),
                at: cp.at.clone(),
                sources: sources.clone(),
            }),
            checkpoints: valid.len(),
            unanchored_events: unanchored.max(0),
            expected_head: opts.expect_head.as_ref().map(|(s, _)| *s),
            note: note.en,
            note_vi: note.vi,
        })
    }

    /// Events, oldest first, within what the permit shows (an agency's
    /// stewards see events about its datasets and by its people).
    pub async fn audit_events(&self, permit: &chiase_core::policy::AuditPermit, f: &AuditFilter) -> Result<Vec<Event>, StoreError> {
        let mut sql = String::from("SELECT e.* FROM audit_events e WHERE e.seq > ?");
        let mut values: Vec<sea_query::Value> = vec![f.after_seq.into()];
        if let chiase_core::policy::AuditScope::Agency(a) = permit.scope() {
            let a = a.get();
            sql.push_str(
                " AND (e.dataset_id IN (SELECT s.id FROM datasets s JOIN databases d ON d.id = s.database_id WHERE d.owner_id = ?) OR e.agency_id = ?)",
            );
            values.push(a.into());
            values.push(a.into());
        }
        if let Some(d) = f.dataset {
            sql.push_str(" AND e.dataset_id = ?");
            values.push(d.into());
        }
        if let Some(a) = &f.actor {
            sql.push_str(" AND e.actor = ?");
            values.push(a.as_str().into());
        }
        if let Some(a) = &f.action {
            sql.push_str(" AND e.action = ?");
            values.push(a.as_str().into());
        }
        if let Some(t) = f.from {
            sql.push_str(" AND e.at >= ?");
            values.push(stamp(t).into());
        }
        if let Some(t) = f.to {
            sql.push_str(" AND e.at < ?");
            values.push(stamp(t).into());
        }
        sql.push_str(" ORDER BY e.seq LIMIT ?");
        values.push(f.limit.into());
        let mut c = self.pools.reader().await?;
        c.conn().fetch_all(values.into_iter().fold(Sql::assembled(sql), Sql::bind)).await
    }

    /// The `service_call` events of one service since `from` (at most
    /// `limit`, newest last), for its owner's stewards: who calls their
    /// service is theirs to know (the permit says they may administer it).
    pub async fn service_call_events(
        &self,
        _permit: &chiase_core::policy::ServiceAdminPermit,
        service: &str,
        from: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_all(
                Sql::new(
                    "SELECT e.* FROM audit_events e WHERE e.action = 'service_call' AND e.target = ? AND e.at >= ? \
                     ORDER BY e.seq DESC LIMIT ?",
                )
                .bind(service)
                .bind(stamp(from))
                .bind(limit),
            )
            .await
    }

    /// Adds counted reads of open data.
    pub async fn add_open_reads(&self, counts: &[(i64, NaiveDate, i64, i64)]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        for (ds, day, reads, rows) in counts {
            conn.execute(
                Sql::new(
                    "INSERT INTO open_read_counts (dataset_id, day, reads, rows) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (dataset_id, day) DO UPDATE SET reads = open_read_counts.reads + excluded.reads, rows = open_read_counts.rows + excluded.rows",
                )
                .bind(*ds)
                .bind(*day)
                .bind(*reads)
                .bind(*rows),
            )
            .await?;
        }
        tx.commit().await
    }

    /// Reads per dataset and day from `from` to the day before `until`,
    /// open and audited together, for the datasets the permit covers (an
    /// agency's stewards: the datasets of the databases it owns).
    pub async fn usage(
        &self,
        permit: &chiase_core::policy::AuditPermit,
        from: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<Usage>, StoreError> {
        let (start, end) = (day_start(from), day_start(until));
        let mut sql = String::from(
            "SELECT s.slug AS dataset, u.day AS day, CAST(SUM(u.open_reads) AS BIGINT) AS open_reads, \
             CAST(SUM(u.audited_reads) AS BIGINT) AS audited_reads FROM ( \
               SELECT dataset_id, CAST(day AS TEXT) AS day, reads AS open_reads, 0 AS audited_reads FROM open_read_counts WHERE day >= ? AND day < ? \
               UNION ALL \
               SELECT dataset_id, SUBSTR(at, 1, 10) AS day, 0 AS open_reads, 1 AS audited_reads FROM audit_events \
                 WHERE action = 'read' AND dataset_id IS NOT NULL AND at >= ? AND at < ? \
             ) u JOIN datasets s ON s.id = u.dataset_id JOIN databases d ON d.id = s.database_id",
        );
        let mut values: Vec<sea_query::Value> = vec![from.into(), until.into(), start.into(), end.into()];
        if let chiase_core::policy::AuditScope::Agency(a) = permit.scope() {
            sql.push_str(" WHERE d.owner_id = ?");
            values.push(a.get().into());
        }
        sql.push_str(" GROUP BY s.slug, u.day ORDER BY u.day, s.slug");
        let mut c = self.pools.reader().await?;
        c.conn().fetch_all(values.into_iter().fold(Sql::assembled(sql), Sql::bind)).await
    }

    /// Counted reads of open data, per dataset and day.
    pub async fn open_reads(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<OpenReads>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_all(
                Sql::new(
                    "SELECT s.slug AS dataset, o.day, o.reads, o.rows FROM open_read_counts o JOIN datasets s ON s.id = o.dataset_id \
                     WHERE o.day >= ? AND o.day <= ? ORDER BY o.day, s.slug",
                )
                .bind(from)
                .bind(to),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let a = serde_json::json!({"b": 1, "a": {"d": [1, {"z": 0, "y": 1}], "c": 2}});
        assert_eq!(canonical(&a), r#"{"a":{"c":2,"d":[1,{"y":1,"z":0}]},"b":1}"#);
    }

    #[test]
    fn a_hash_covers_every_field() {
        let e = Event {
            seq: 1,
            at: "2026-01-01T00:00:00.000000Z".into(),
            actor: "a".into(),
            user_id: Some(1),
            agency_id: None,
            action: "read".into(),
            dataset_id: Some(2),
            target: None,
            detail: "{}".into(),
            source: None,
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        let h = e.compute_hash();
        let mut f = e.clone();
        f.detail = "{\"rows\":1}".into();
        assert_ne!(f.compute_hash(), h);
        let mut g = e.clone();
        g.seq = 2;
        assert_ne!(g.compute_hash(), h);
    }
}
