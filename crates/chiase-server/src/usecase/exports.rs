//! Exports: a dataset as CSV, JSON, NDJSON, XLSX or GeoJSON with the same
//! filters as the record API, and a catalog database as a Frictionless
//! Data Package of every dataset the caller may read.
//!
//! Pages of 5,000 rows are read by keyset from one snapshot (the dataset's
//! change number when the export began), so a long export is consistent
//! even while the data changes, and memory stays flat. The read is
//! recorded before the first byte leaves. Writing XLSX and zipping are
//! blocking work: they run on blocking threads fed page by page.

use std::io::Write;
use std::sync::Arc;

use axum::body::Bytes;
use chiase_core::policy::ReadPermit;
use chiase_core::query::{self, Query};
use chiase_core::schema::{Field, Schema};
use chiase_io::writers::{Columns, CsvOptions, ExportFormat, StringCsv, XlsxWriter, row_writer};
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::Dataset;
use chiase_store::datasets::rows::StoredRow;
use chiase_store::recorder::{ReadContext, Receipt};
use serde_json::json;

use super::records::query_error;
use super::{find_dataset, read_permit};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

const PAGE: usize = 5000;
use chiase_io::writers::XLSX_MAX_ROWS;

/// An export, decided and recorded, ready to stream.
pub struct Export {
    pub ds: Dataset,
    pub schema: Arc<Schema>,
    permit: ReadPermit,
    receipt: Receipt,
    query: Query,
    snapshot: i64,
    pub format: ExportFormat,
    options: CsvOptions,
    /// The file name offered to the browser.
    pub name: String,
}

/// Decides and records an export of dataset `id` as `format`.
pub async fn start(
    app: &AppState,
    caller: &Caller,
    id: &str,
    format: ExportFormat,
    pairs: Vec<(String, String)>,
    query_string: Option<&str>,
) -> Result<Export, ApiError> {
    let ds = find_dataset(app, id).await?;
    let permit = read_permit(app, caller, &ds).await?;
    let schema = app.store.schema_of(&ds)?;
    // A flag that is neither yes nor no is a 400, as everywhere in the API:
    // read as "no", a typo (`escape_formulas=yes`) turned the protection off.
    let flags = Params::from_pairs(pairs.iter().filter(|(k, _)| matches!(k.as_str(), "bom" | "escape_formulas")).cloned().collect());
    let options = CsvOptions { bom: flags.bool("bom")?.unwrap_or(false), escape_formulas: flags.bool("escape_formulas")?.unwrap_or(true) };
    let pairs: Vec<(String, String)> =
        pairs.into_iter().filter(|(k, _)| !matches!(k.as_str(), "limit" | "after" | "bom" | "escape_formulas")).collect();
    let mut q = query::parse(&pairs, &schema, permit.visible()).map_err(query_error)?;
    q.after = None;
    q.facets.clear();
    q.limit = PAGE;
    if format == ExportFormat::Geojson && !chiase_io::writers::has_geometry(&schema, &q.fields) {
        return Err(ApiError::bad_request(
            "tập dữ liệu không có trường địa lý để xuất GeoJSON",
            "the dataset has no geographic field to export as GeoJSON",
        ));
    }
    let snapshot = match q.as_of {
        Some(at) => app.store.seq_at(&ds, at).await?,
        None => ds.activity(&permit)?.last_seq,
    };
    let surface = format!("export.{}", format.extension());
    let receipt =
        app.recorder.receipt(&permit, &ds, ReadContext { actor: &caller.actor, surface: &surface, query: query_string }, None).await?;
    let name = format!("{}.{}", ds.id, format.extension());
    Ok(Export { ds, schema, permit, receipt, query: q, snapshot, format, options, name })
}

/// Pages through an export's query from its snapshot.
struct Pager {
    app: AppState,
    ds: Dataset,
    permit: ReadPermit,
    receipt: Receipt,
    q: Query,
    snapshot: i64,
    done: bool,
}

impl Pager {
    async fn next_page(&mut self) -> Result<Option<Vec<StoredRow>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        // A large import may have swapped the dataset's table since the
        // export began: the new one holds the same history.
        if let Some(ds) = self.app.store.dataset(&self.ds.id).await? {
            self.ds = ds;
        }
        let read = self.app.store.read_records(&self.permit, &self.ds, &self.q, Some(self.snapshot)).await?;
        let page = read.open(&self.receipt)?;
        match page.next {
            Some(next) => {
                self.q.after = Some(query::Cursor::decode(&next).ok_or_else(|| ApiError::internal(&"a cursor made here does not decode"))?)
            }
            None => self.done = true,
        }
        Ok(Some(page.records))
    }
}

impl Export {
    fn pager(&self, app: &AppState) -> Pager {
        Pager {
            app: app.clone(),
            ds: self.ds.clone(),
            permit: self.permit.clone(),
            receipt: self.receipt.clone(),
            q: self.query.clone(),
            snapshot: self.snapshot,
            done: false,
        }
    }

    fn columns(&self) -> Result<Columns, ApiError> {
        Columns::new(self.schema.clone(), self.query.fields.clone()).map_err(|e| ApiError::internal(&e.msg))
    }

    /// The export as a stream of chunks (every format but XLSX). An error
    /// after the first byte ends the stream (the client sees a cut file).
    pub fn stream(self, app: &AppState) -> Result<impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + use<>, ApiError> {
        let mut writer = row_writer(self.format, self.columns()?, self.options).map_err(|e| ApiError::bad_request(e.msg.vi, e.msg.en))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let mut pager = self.pager(app);
        let id = self.ds.id.clone();
        tokio::spawn(async move {
            let mut head = Vec::new();
            writer.begin(&mut head);
            if tx.send(Ok(Bytes::from(head))).await.is_err() {
                return;
            }
            loop {
                let rows = match pager.next_page().await {
                    Ok(Some(rows)) => rows,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(dataset = %id, "export stopped: {}", e.msg.en);
                        let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                        return;
                    }
                };
                let mut buf = Vec::with_capacity(rows.len() * 128);
                for r in &rows {
                    writer.row(&mut buf, r.meta.id, &r.values);
                }
                if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                    return;
                }
            }
            let mut tail = Vec::new();
            writer.finish(&mut tail);
            let _ = tx.send(Ok(Bytes::from(tail))).await;
        });
        // Fused: a consumer may poll again after the end (the gzip layer
        // does), and an unfused `unfold` panics then, cutting the response.
        Ok(futures_util::StreamExt::fuse(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })))
    }

    /// The export as an XLSX file, written on a blocking thread fed page by
    /// page; returns the file (in a temporary directory that lives with it).
    pub async fn xlsx(self, app: &AppState) -> Result<(tempfile::TempDir, std::path::PathBuf), ApiError> {
        let mut count_q = self.query.clone();
        count_q.exact_total = true;
        count_q.limit = 1;
        let total = app.store.read_records(&self.permit, &self.ds, &count_q, Some(self.snapshot)).await?.open(&self.receipt)?.total;
        if total > XLSX_MAX_ROWS as i64 {
            return Err(ApiError::bad_request(
                format!("{total} dòng vượt giới hạn của Excel ({XLSX_MAX_ROWS}); hãy xuất CSV hoặc lọc bớt"),
                format!("{total} rows exceed Excel's limit ({XLSX_MAX_ROWS}); export CSV or filter"),
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| ApiError::internal(&e))?;
        let path = dir.path().join(&self.name);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<StoredRow>>(2);
        let columns = self.columns()?;
        let (file, work) = (path.clone(), dir.path().to_path_buf());
        // The data sheet is named after the dataset.
        let title = self.ds.title.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<(), chiase_io::writers::WriteError> {
            let mut x = XlsxWriter::new(columns, &title, Some(&work))?;
            x.begin()?;
            while let Some(rows) = rx.blocking_recv() {
                for r in &rows {
                    x.row(&r.values)?;
                }
            }
            x.finish(&file)
        });
        let mut pager = self.pager(app);
        while let Some(rows) = pager.next_page().await? {
            if tx.send(rows).await.is_err() {
                break;
            }
        }
        drop(tx);
        writer.await.map_err(|e| ApiError::internal(&e))?.map_err(|e| ApiError::internal(&e.msg))?;
        Ok((dir, path))
    }
}

/// A field of the package's Table Schema: ours as written, which is
/// Frictionless (chiase's extensions — `personal`, `searchable`, `geo` —
/// under their own names, ignored by readers that do not know them).
/// `decimalChar` stays: the CSV writes numbers with it (`8,25`), and a
/// reader told nothing reads `8,25` as text (frictionless: type-error).
/// `groupChar` goes: numbers are written without grouping.
pub fn frictionless_field(f: &Field) -> serde_json::Value {
    let mut v = serde_json::to_value(&f.spec).unwrap_or(json!({}));
    if let Some(o) = v.as_object_mut() {
        o.remove("groupChar");
    }
    v
}

/// Entries of the Data Package archive, handed to the zipping thread.
enum ZipPart {
    File(String),
    Bytes(Vec<u8>),
}

/// A catalog database as a Data Package: a zip of one CSV per dataset the
/// caller may read, and `datapackage.json`, which names the datasets left
/// out and why. Returns the archive in a temporary directory.
pub async fn datapackage(
    app: &AppState,
    caller: &Caller,
    key: &str,
    options: CsvOptions,
) -> Result<(String, tempfile::TempDir, std::path::PathBuf), ApiError> {
    let db = super::catalog::find_database(app, key).await?;
    let datasets = app.store.datasets(Some(&DatabaseKey::Id(db.id.clone()))).await?;
    let dir = tempfile::tempdir().map_err(|e| ApiError::internal(&e))?;
    let zip_path = dir.path().join("datapackage.zip");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ZipPart>(4);
    let file = zip_path.clone();
    let zipper = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let f = std::fs::File::create(&file).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        while let Some(part) = rx.blocking_recv() {
            match part {
                ZipPart::File(name) => zip.start_file(name, opts).map_err(|e| e.to_string())?,
                ZipPart::Bytes(b) => zip.write_all(&b).map_err(|e| e.to_string())?,
            }
        }
        zip.finish().map_err(|e| e.to_string())?;
        Ok(())
    });
    let send = |part| {
        let tx = tx.clone();
        async move { tx.send(part).await.map_err(|_| ApiError::internal(&"the zipping thread stopped")) }
    };
    let mut resources = Vec::new();
    let mut omitted = Vec::new();
    for ds in &datasets {
        // Only what the caller may read goes in; the rest is named.
        let permit = match read_permit(app, caller, ds).await {
            Ok(p) => p,
            Err(e) => {
                omitted.push(json!({ "name": ds.id, "title": ds.title, "reason": e.msg.vi, "reason_en": e.msg.en }));
                continue;
            }
        };
        let receipt =
            app.recorder.receipt(&permit, ds, ReadContext { actor: &caller.actor, surface: "datapackage", query: None }, None).await?;
        let schema = app.store.schema_of(ds)?;
        let mut q = query::parse(&[], &schema, permit.visible()).map_err(query_error)?;
        q.limit = PAGE;
        let fields: Vec<&Field> = q.fields.iter().map(|i| &schema.fields[*i]).collect();
        let path = format!("data/{}.csv", ds.id);
        send(ZipPart::File(path.clone())).await?;
        let columns = Columns::new(schema.clone(), q.fields.clone()).map_err(|e| ApiError::internal(&e.msg))?;
        let mut writer = row_writer(ExportFormat::Csv, columns, options).map_err(|e| ApiError::internal(&e.msg))?;
        let mut head = Vec::new();
        writer.begin(&mut head);
        send(ZipPart::Bytes(head)).await?;
        let mut pager = Pager {
            app: app.clone(),
            ds: ds.clone(),
            permit: permit.clone(),
            receipt,
            q: q.clone(),
            snapshot: ds.activity(&permit)?.last_seq,
            done: false,
        };
        while let Some(rows) = pager.next_page().await? {
            let mut buf = Vec::new();
            for r in &rows {
                writer.row(&mut buf, r.meta.id, &r.values);
            }
            send(ZipPart::Bytes(buf)).await?;
        }
        let mut schema_json = json!({ "fields": fields.iter().map(|f| frictionless_field(f)).collect::<Vec<_>>() });
        if !schema.spec.primary_key.is_empty() && schema.key.iter().all(|k| q.fields.contains(k)) {
            schema_json["primaryKey"] = json!(schema.spec.primary_key);
        }
        resources.push(json!({
            "name": ds.id,
            "path": path,
            "title": ds.title,
            "description": ds.description,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "licenses": [{ "name": ds.licence }],
            "schema": schema_json,
            // Not Frictionless: how the dataset is shared here, which an
            // import into chiase keeps where the catalog allows it.
            "chiase:sharingMode": ds.sharing_mode,
        }));
    }
    let package = json!({
        "name": db.id,
        "title": db.name,
        "description": db.fields.description.plain(),
        "version": db.version.decision_no,
        "sources": [{ "title": format!("Quyết định {}", db.version.decision_no) }],
        "contributors": [{ "title": db.owner.name, "role": "publisher" }],
        "resources": resources,
        // Not Frictionless: the datasets of this database the caller may not
        // read, so that a missing resource is explained rather than silent.
        "chiase:omitted": omitted,
    });
    send(ZipPart::File("datapackage.json".into())).await?;
    send(ZipPart::Bytes(serde_json::to_vec_pretty(&package).map_err(|e| ApiError::internal(&e))?)).await?;
    drop(tx);
    zipper.await.map_err(|e| ApiError::internal(&e))?.map_err(|e| ApiError::internal(&e))?;
    Ok((format!("{}-datapackage.zip", db.id), dir, zip_path))
}

/// The audit log as CSV (every cell through the same writer as exports).
pub fn audit_csv(events: &[chiase_store::audit::Event], escape_formulas: bool) -> Vec<u8> {
    let header = ["seq", "at", "actor", "user_id", "agency_id", "action", "dataset_id", "target", "detail", "source", "prev_hash", "hash"];
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                e.at.clone(),
                e.actor.clone(),
                opt(e.user_id),
                opt(e.agency_id),
                e.action.clone(),
                opt(e.dataset_id),
                e.target.clone().unwrap_or_default(),
                e.detail.clone(),
                e.source.clone().unwrap_or_default(),
                e.prev_hash.clone(),
                e.hash.clone(),
            ]
        })
        .collect();
    let mut out = Vec::new();
    let mut w = StringCsv::new(CsvOptions { bom: false, escape_formulas });
    w.record(&mut out, header);
    for r in &rows {
        w.record(&mut out, r);
    }
    out
}
