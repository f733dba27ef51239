//! The audit writer: events are queued from every request and written in
//! group commits (one transaction for all the events that arrived while the
//! previous commit ran), so that a reply carrying restricted data can wait
//! for its event to be durable without each reply paying for its own
//! commit. Reads of open data are only counted, in memory, and flushed every
//! few seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chiase_store::Store;
use chiase_store::audit::NewEvent;
use chrono::NaiveDate;
use tokio::sync::{mpsc, oneshot};

/// Events in one group commit, at most.
const GROUP: usize = 512;

type Ack = oneshot::Sender<Result<i64, String>>;

/// What the writer is sent: an event, or a request to say when everything
/// sent before it is durable. Nearly every item is an event, and the
/// channel held events unboxed before: boxing them for the rare flush
/// would only add an allocation per event.
#[allow(clippy::large_enum_variant)]
enum Item {
    Event(NewEvent, Ack),
    Flush(oneshot::Sender<()>),
}

/// A handle to the audit writer; cheap to clone.
#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Item>,
}

/// The event could not be made durable: the reply must not go out.
#[derive(Debug, thiserror::Error)]
#[error("the audit log could not record the event: {0}")]
pub struct AuditFailed(pub String);

impl AuditSink {
    /// Starts the writer task.
    pub fn start(store: Store) -> AuditSink {
        let (tx, mut rx) = mpsc::channel::<Item>(8192);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = Vec::new();
                let mut flushed = None;
                let mut next = Some(first);
                while let Some(item) = next.take() {
                    match item {
                        Item::Event(e, ack) => batch.push((e, ack)),
                        Item::Flush(done) => {
                            flushed = Some(done);
                            break;
                        }
                    }
                    if batch.len() < GROUP {
                        next = rx.try_recv().ok();
                    }
                }
                if batch.is_empty() {
                    if let Some(done) = flushed {
                        let _ = done.send(());
                    }
                    continue;
                }
                let events: Vec<NewEvent> = batch.iter().map(|(e, _)| e.clone()).collect();
                metrics::histogram!("chiase_audit_group_size").record(events.len() as f64);
                metrics::gauge!("chiase_audit_queue").set(rx.len() as f64);
                match store.append_audit(&events).await {
                    Ok(seqs) => {
                        metrics::counter!("chiase_audit_events_total").increment(seqs.len() as u64);
                        for ((_, ack), seq) in batch.into_iter().zip(seqs) {
                            let _ = ack.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        tracing::error!("audit write failed: {e}");
                        for (_, ack) in batch {
                            let _ = ack.send(Err(e.to_string()));
                        }
                    }
                }
                if let Some(done) = flushed {
                    let _ = done.send(());
                }
            }
        });
        AuditSink { tx }
    }

    /// Records an event and waits until it is durable.
    pub async fn record(&self, event: NewEvent) -> Result<i64, AuditFailed> {
        let (ack, done) = oneshot::channel();
        self.tx.send(Item::Event(event, ack)).await.map_err(|_| AuditFailed("the audit writer stopped".into()))?;
        done.await.map_err(|_| AuditFailed("the audit writer stopped".into()))?.map_err(AuditFailed)
    }

    /// Waits until every event sent before this call has been written (or
    /// has failed): at shutdown, before the head is checkpointed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Item::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// Reads of open data per dataset and day, flushed periodically.
#[derive(Default)]
pub struct OpenReadCounter {
    counts: Mutex<HashMap<(i64, NaiveDate), (i64, i64)>>,
}

impl OpenReadCounter {
    pub fn count(&self, dataset: i64, rows: i64) {
        let day = chrono::Utc::now().date_naive();
        if let Ok(mut m) = self.counts.lock() {
            let e = m.entry((dataset, day)).or_insert((0, 0));
            e.0 += 1;
            e.1 += rows;
        }
    }

    /// Writes the counts gathered so far.
    pub async fn flush(&self, store: &Store) {
        let taken: Vec<(i64, NaiveDate, i64, i64)> = match self.counts.lock() {
            Ok(mut m) => m.drain().map(|((d, day), (r, n))| (d, day, r, n)).collect(),
            Err(_) => return,
        };
        if let Err(e) = store.add_open_reads(&taken).await {
            tracing::warn!("open-read counts not written: {e}");
        }
    }

    /// Flushes every `every` until the process ends.
    pub fn start_flushing(self: &Arc<Self>, store: Store, every: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                me.flush(&store).await;
            }
        });
    }
}
