//! Recording what people do, so that no restricted row leaves chiase
//! without its audit event.
//!
//! Every store function that reads dataset rows returns them wrapped in
//! [`Unrecorded`]; the only way to unwrap them is [`Unrecorded::open`] with
//! a [`Receipt`], and the only way to get a receipt is to record the read
//! with the [`Recorder`]: a durable audit event for a restricted read (the
//! reply waits for it), a count for a read of open data. A handler that
//! forgot to record cannot compile.
//!
//! The recorder writes events in group commits: one transaction for all
//! the events that arrived while the previous commit ran, so that a reply
//! carrying restricted data can wait for its event to be durable without
//! each reply paying for its own commit. Reads of open data are counted in
//! memory and flushed every few seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chiase_core::ids::{AgencyId, DatasetId, UserId};
use chiase_core::policy::ReadPermit;
use chrono::NaiveDate;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::audit::NewEvent;
use crate::datasets::Dataset;
use crate::{Store, StoreError};

/// Events in one group commit, at most.
const GROUP: usize = 512;

/// Who did something, as the audit log names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// `user:NAME`, `operator`, `anonymous`, `demo`…
    pub name: String,
    pub user_id: Option<UserId>,
    pub agency_id: Option<AgencyId>,
    /// The source address (or `cli`).
    pub source: Option<String>,
}

impl Actor {
    /// An event by this actor, ready to send.
    pub fn event(&self, action: &str, target: impl Into<String>, detail: Value) -> NewEvent {
        NewEvent {
            actor: self.name.clone(),
            user_id: self.user_id.map(UserId::get),
            agency_id: self.agency_id.map(AgencyId::get),
            action: action.to_string(),
            dataset_id: None,
            target: Some(target.into()),
            detail,
            source: self.source.clone(),
        }
    }
}

/// Rows (or anything derived from rows: counts, facets, files) read through
/// a permit and not yet recorded.
#[must_use = "rows read must be recorded before they are used"]
pub struct Unrecorded<T> {
    value: T,
    dataset: DatasetId,
    rows: i64,
}

impl<T> Unrecorded<T> {
    pub(crate) fn new(value: T, dataset: DatasetId, rows: i64) -> Unrecorded<T> {
        Unrecorded { value, dataset, rows }
    }

    /// How many rows (or items) were read, for the audit event.
    pub fn rows(&self) -> i64 {
        self.rows
    }

    /// The value without recording (the `testing` feature's `reveal`).
    #[cfg(feature = "testing")]
    pub(crate) fn reveal_for_tests(self) -> T {
        self.value
    }

    /// The value, once its read is recorded.
    pub fn open(self, receipt: &Receipt) -> Result<T, StoreError> {
        if receipt.dataset != self.dataset {
            return Err(StoreError::Corrupt(format!(
                "BUG: a receipt for dataset {} used to open a read of dataset {}",
                receipt.dataset, self.dataset
            )));
        }
        Ok(self.value)
    }
}

/// Proof that a read of a dataset was recorded (or counted, for open data).
#[derive(Debug, Clone)]
pub struct Receipt {
    dataset: DatasetId,
}

/// What was read, for the audit event.
#[derive(Debug, Clone, Copy)]
pub struct ReadContext<'a> {
    pub actor: &'a Actor,
    /// What kind of read: records, record, export.csv, changes, files…
    pub surface: &'a str,
    /// The request's query string, as the caller sent it.
    pub query: Option<&'a str>,
}

type Ack = oneshot::Sender<Result<i64, String>>;

/// What the writer is sent: an event, or a request to say when everything
/// sent before it is durable (at shutdown, before the head is signed).
/// Nearly every item is an event: boxing it for the rare flush would only
/// add an allocation per event.
#[allow(clippy::large_enum_variant)]
enum Item {
    Event(NewEvent, Ack),
    Flush(oneshot::Sender<()>),
}

/// The audit writer and the open-read counter; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Item>,
    open_reads: Arc<OpenReadCounter>,
    store: Store,
}

impl Recorder {
    /// Starts the writer task and the periodic flush of open-read counts.
    pub fn start(store: Store) -> Recorder {
        let (tx, mut rx) = mpsc::channel::<Item>(8192);
        let writer_store = store.clone();
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
                match writer_store.append_audit(&events).await {
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
        let open_reads = Arc::new(OpenReadCounter::default());
        let (counter, flush_store) = (open_reads.clone(), store.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                counter.flush(&flush_store).await;
            }
        });
        Recorder { tx, open_reads, store }
    }

    /// Records an event and waits until it is durable.
    pub async fn record(&self, event: NewEvent) -> Result<i64, StoreError> {
        let (ack, done) = oneshot::channel();
        let stopped = || StoreError::Audit("the audit writer stopped".into());
        self.tx.send(Item::Event(event, ack)).await.map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?.map_err(StoreError::Audit)
    }

    /// Records a read of `ds` through `permit` and returns the rows: an
    /// audit event, durable before this returns, when the permit is
    /// restricted; a count otherwise.
    pub async fn record_read<T>(
        &self,
        permit: &ReadPermit,
        ds: &Dataset,
        read: Unrecorded<T>,
        cx: ReadContext<'_>,
    ) -> Result<T, StoreError> {
        let receipt = self.receipt(permit, ds, cx, Some(read.rows())).await?;
        read.open(&receipt)
    }

    /// Records a read before its rows are known (a streaming export: the
    /// event is durable before the first byte leaves) and returns the
    /// receipt that opens each page.
    pub async fn receipt(&self, permit: &ReadPermit, ds: &Dataset, cx: ReadContext<'_>, rows: Option<i64>) -> Result<Receipt, StoreError> {
        if permit.dataset_id() != ds.pk {
            return Err(StoreError::Corrupt(format!("BUG: a permit for dataset {} recorded as a read of {}", permit.dataset_id(), ds.pk)));
        }
        if !permit.is_restricted() {
            self.open_reads.count(ds.pk, rows.unwrap_or(0));
            return Ok(Receipt { dataset: ds.pk });
        }
        let fields: Vec<&str> = permit.visible().iter().filter_map(|i| ds.schema.fields.get(*i)).map(|f| f.name.as_str()).collect();
        let mut e = cx.actor.event(
            "read",
            ds.id.clone(),
            json!({
                "surface": cx.surface,
                "query": cx.query,
                "fields": fields,
                "rows": rows,
                "grant": permit.grant_used(),
                "basis": permit.reason(),
            }),
        );
        e.dataset_id = Some(ds.pk.get());
        self.record(e).await?;
        Ok(Receipt { dataset: ds.pk })
    }

    /// Waits until every event sent before this call has been written (or
    /// has failed): at shutdown, before the head is checkpointed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Item::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Writes the open-read counts gathered so far (statistics, shutdown).
    pub async fn flush_open_reads(&self) {
        self.open_reads.flush(&self.store).await;
    }
}

/// Reads of open data per dataset and day, flushed periodically.
#[derive(Default)]
struct OpenReadCounter {
    counts: Mutex<HashMap<(DatasetId, NaiveDate), (i64, i64)>>,
}

impl OpenReadCounter {
    fn count(&self, dataset: DatasetId, rows: i64) {
        let day = chrono::Utc::now().date_naive();
        if let Ok(mut m) = self.counts.lock() {
            let e = m.entry((dataset, day)).or_insert((0, 0));
            e.0 += 1;
            e.1 += rows;
        }
    }

    async fn flush(&self, store: &Store) {
        let taken: Vec<(i64, NaiveDate, i64, i64)> = match self.counts.lock() {
            Ok(mut m) => m.drain().map(|((d, day), (r, n))| (d.get(), day, r, n)).collect(),
            Err(_) => return,
        };
        if let Err(e) = store.add_open_reads(&taken).await {
            tracing::warn!("open-read counts not written: {e}");
        }
    }
}
