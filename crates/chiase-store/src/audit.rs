//! The tamper-evident audit log: an append-only chain of events, each
//! carrying the SHA-256 of the event before it and of its own canonical
//! form. Events are appended in batches (group commits) under a lock on the
//! chain's head row, so that several processes extend one unbroken chain.
//! `verify` recomputes the chain and names the first event altered,
//! removed or out of order.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{Backend, Sql};
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

/// What `verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub events: i64,
    pub ok: bool,
    /// The first event at fault, and why.
    pub first_bad: Option<i64>,
    pub problem: Option<String>,
    pub head_seq: i64,
    pub head_hash: String,
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
        let (mut seq, mut prev): (i64, String) = conn.fetch_one(head_sql).await?;
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

    /// Recomputes the whole chain.
    pub async fn verify_audit(&self, _permit: &chiase_core::policy::AuditVerifyPermit) -> Result<Verification, StoreError> {
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let (head_seq, head_hash): (i64, String) = conn.fetch_one(Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1")).await?;
        let mut expected_seq = 1;
        let mut prev = GENESIS.to_string();
        let mut count = 0;
        let fail = |seq: i64, problem: String, count| Verification {
            events: count,
            ok: false,
            first_bad: Some(seq),
            problem: Some(problem),
            head_seq,
            head_hash: head_hash.clone(),
        };
        loop {
            let page: Vec<Event> =
                conn.fetch_all(Sql::new("SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT 5000").bind(expected_seq)).await?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                count += 1;
                if e.seq != expected_seq {
                    return Ok(fail(expected_seq, format!("event {expected_seq} is missing (the next one stored is {})", e.seq), count));
                }
                if e.prev_hash != prev {
                    return Ok(fail(
                        e.seq,
                        format!(
                            "event {} does not follow event {} (its previous-hash differs): events were removed or reordered",
                            e.seq,
                            e.seq - 1
                        ),
                        count,
                    ));
                }
                if e.compute_hash() != e.hash {
                    return Ok(fail(e.seq, format!("event {} was altered (its content no longer matches its hash)", e.seq), count));
                }
                prev = e.hash.clone();
                expected_seq += 1;
            }
        }
        if expected_seq - 1 != head_seq || prev != head_hash {
            return Ok(fail(
                expected_seq.min(head_seq + 1),
                format!("the chain ends at event {} but its head says {head_seq}: events were removed from the end", expected_seq - 1),
                count,
            ));
        }
        Ok(Verification { events: count, ok: true, first_bad: None, problem: None, head_seq, head_hash })
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
