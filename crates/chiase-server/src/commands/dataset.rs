//! `chiase dataset …`, `chiase import`, `chiase schema infer`, `chiase demo`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use chiase_core::schema::SchemaSpec;
use chiase_core::sharing::SharingMode;
use chiase_io::tabular::{Format, ReadOptions, RecordReader};
use chiase_io::templates;
use chiase_store::Store;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::NewDataset;
use chiase_store::datasets::import::{ImportMode, ParsedRow};
use indicatif::{ProgressBar, ProgressStyle};

use super::{explain, open_store};
use crate::cli::{DatasetCommand, SchemaCommand};
use crate::config::Config;
use crate::ingest::{self, ImportOutcome, ImportRequest, Progress};

pub async fn run(cfg: Config, cmd: DatasetCommand) -> anyhow::Result<()> {
    match cmd {
        DatasetCommand::Templates => {
            for t in templates::all() {
                println!("{:<36} CSDL {:>2}  {:<9} {}", t.template, t.database_no, t.sharing_mode, t.title);
            }
            Ok(())
        }
        DatasetCommand::List { database } => {
            let store = open_store(&cfg).await?;
            let key = database.as_deref().map(DatabaseKey::parse);
            for d in store.datasets(key.as_ref()).await.map_err(explain)? {
                println!(
                    "{:<36} CSDL {:>2}  {:<9} {:>9} dòng/rows  {}{}",
                    d.id,
                    d.database.no.unwrap_or(0),
                    d.sharing_mode.code(),
                    d.row_count,
                    d.title,
                    if d.synthetic { " (synthetic)" } else { "" }
                );
            }
            Ok(())
        }
        DatasetCommand::Show { id } => {
            let store = open_store(&cfg).await?;
            let d =
                store.dataset(&id).await.map_err(explain)?.ok_or_else(|| anyhow::anyhow!("không có tập dữ liệu / no dataset «{id}»"))?;
            println!("{}", serde_json::to_string_pretty(&d)?);
            Ok(())
        }
        DatasetCommand::Create { template, id, database, schema, title, sharing } => {
            let store = open_store(&cfg).await?;
            let new = match (&template, &schema) {
                (Some(t), None) => {
                    let t = templates::by_id(t)
                        .ok_or_else(|| anyhow::anyhow!("không có mẫu / no template «{t}» (chiase dataset templates)"))?;
                    let mut new = from_template(&t)?;
                    if let Some(i) = id {
                        new.slug = i;
                    }
                    if let Some(d) = database {
                        new.database = DatabaseKey::parse(&d);
                    }
                    if let Some(t) = title {
                        new.title = t;
                    }
                    if let Some(s) = sharing {
                        new.sharing_mode =
                            s.parse().map_err(|s| anyhow::anyhow!("hình thức chia sẻ không hợp lệ / invalid sharing mode «{s}»"))?;
                    }
                    new
                }
                (None, Some(path)) => {
                    let spec: SchemaSpec =
                        serde_json::from_slice(&std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
                            .with_context(|| format!("{} is not a Table Schema", path.display()))?;
                    NewDataset {
                        slug: id.ok_or_else(|| anyhow::anyhow!("--id là bắt buộc / --id is required"))?,
                        database: DatabaseKey::parse(
                            &database.ok_or_else(|| anyhow::anyhow!("--entry là bắt buộc / --entry is required"))?,
                        ),
                        title: title.ok_or_else(|| anyhow::anyhow!("--title là bắt buộc / --title is required"))?,
                        title_en: None,
                        description: String::new(),
                        licence: None,
                        sharing_mode: sharing
                            .as_deref()
                            .unwrap_or("specific")
                            .parse()
                            .map_err(|s| anyhow::anyhow!("invalid sharing mode «{s}»"))?,
                        cadence: chiase_core::catalog::Cadence::Unspecified,
                        schema: spec,
                        template: None,
                        synthetic: false,
                    }
                }
                _ => anyhow::bail!("cần đúng một trong --template hoặc --schema / give exactly one of --template or --schema"),
            };
            let d = store.create_dataset(&new, "operator").await.map_err(explain)?;
            super::audit_cli(&store, "dataset_created", &d.id, serde_json::json!({ "template": d.template })).await?;
            println!("{}  ({} trường/fields, bảng/table {})", d.id, d.schema.fields.len(), d.table_name);
            Ok(())
        }
        DatasetCommand::Alter { id, schema } => {
            let store = open_store(&cfg).await?;
            let spec: SchemaSpec =
                serde_json::from_slice(&std::fs::read(&schema)?).with_context(|| format!("{} is not a Table Schema", schema.display()))?;
            let ds = store.dataset(&id).await.map_err(explain)?.ok_or_else(|| anyhow::anyhow!("no dataset «{id}»"))?;
            let permit = super::operator_write(&ds)?;
            let d = store.change_schema(&permit, &id, spec, "operator").await.map_err(explain)?;
            super::audit_cli(&store, "schema_changed", &id, serde_json::json!({ "schema_version": d.schema_version })).await?;
            println!("{}: lược đồ phiên bản / schema version {}", d.id, d.schema_version);
            Ok(())
        }
    }
}

fn from_template(t: &templates::Template) -> anyhow::Result<NewDataset> {
    Ok(NewDataset {
        slug: t.slug.clone(),
        database: DatabaseKey::No(t.database_no),
        title: t.title.clone(),
        title_en: Some(t.title_en.clone()),
        description: t.description.clone(),
        licence: Some(t.licence.clone()),
        sharing_mode: t.sharing_mode.parse::<SharingMode>().map_err(|s| anyhow::anyhow!("BUG: template sharing mode «{s}»"))?,
        cadence: t.cadence.parse().map_err(|s| anyhow::anyhow!("BUG: template cadence «{s}»"))?,
        schema: t.schema.clone(),
        template: Some(t.template.clone()),
        synthetic: false,
    })
}

fn options(encoding: Option<String>, delimiter: Option<String>, format: Option<String>) -> anyhow::Result<ReadOptions> {
    let encoding = encoding
        .map(|l| chiase_io::encoding::by_label(&l).ok_or_else(|| anyhow::anyhow!("bảng mã không hỗ trợ / unsupported encoding «{l}»")))
        .transpose()?;
    let delimiter = match delimiter.as_deref() {
        None => None,
        Some("tab") => Some(b'\t'),
        Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
        Some(d) => anyhow::bail!("dấu phân cách không hợp lệ / invalid delimiter «{d}»"),
    };
    let format = match format.as_deref() {
        None => None,
        Some("csv") => Some(Format::Csv),
        Some("tsv") => Some(Format::Tsv),
        Some("xlsx") => Some(Format::Xlsx),
        Some("json") => Some(Format::Json),
        Some("ndjson") => Some(Format::Ndjson),
        Some(f) => anyhow::bail!("định dạng không hỗ trợ / unsupported format «{f}»"),
    };
    Ok(ReadOptions { format, encoding, delimiter })
}

/// `chiase import DATASET FILE`: with a progress bar (rows, rows/s, ETA).
pub async fn import(
    cfg: Config,
    dataset: &str,
    file: &Path,
    mode: &str,
    encoding: Option<String>,
    delimiter: Option<String>,
    format: Option<String>,
) -> anyhow::Result<()> {
    let mode: ImportMode =
        mode.parse().map_err(|m| anyhow::anyhow!("chế độ không hợp lệ / invalid mode «{m}» (append, upsert, replace)"))?;
    let options = options(encoding, delimiter, format)?;
    let store = open_store(&cfg).await?;
    let ds =
        store.dataset(dataset).await.map_err(explain)?.ok_or_else(|| anyhow::anyhow!("không có tập dữ liệu / no dataset «{dataset}»"))?;
    let permit = super::operator_write(&ds)?;
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = Arc::new(Progress::default());
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) { ProgressBar::new(size) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {msg} (ETA {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let ticker = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            loop {
                let rows = progress.rows.load(Ordering::Relaxed);
                bar.set_position(progress.bytes.load(Ordering::Relaxed));
                let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!("{rows} dòng/rows, {rate:.0} dòng/s"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let started = std::time::Instant::now();
    let req = ImportRequest {
        mode,
        actor: "operator".into(),
        source_name: file.file_name().map(|n| n.to_string_lossy().into_owned()),
        content_type: None,
        options,
    };
    let outcome = ingest::run(&store, &permit, dataset, req, Box::new(f), progress.clone()).await;
    ticker.abort();
    bar.finish_and_clear();
    match outcome {
        Ok(ImportOutcome::Done(s)) => {
            super::audit_cli(&store, "import", dataset, serde_json::json!({ "file": file.display().to_string(), "mode": mode.code(), "inserted": s.inserted, "updated": s.updated, "deleted": s.deleted, "seq": [s.first_seq, s.last_seq] })).await?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "Đã nhập {dataset}: {} thêm, {} sửa, {} xóa, {} không đổi; {} dòng hiện có; {:.1} s ({:.0} dòng/s)",
                s.inserted,
                s.updated,
                s.deleted,
                s.unchanged,
                s.row_count,
                secs,
                progress.rows.load(Ordering::Relaxed) as f64 / secs.max(0.001)
            );
            println!(
                "Imported {dataset}: {} inserted, {} updated, {} deleted, {} unchanged; {} rows now.",
                s.inserted, s.updated, s.deleted, s.unchanged, s.row_count
            );
            Ok(())
        }
        Ok(ImportOutcome::Rejected(report)) => {
            eprintln!(
                "Không nhập gì: {} lỗi trong {} dòng đã đọc / Nothing imported: {} problems in {} rows read",
                report.total_errors, report.rows_read, report.total_errors, report.rows_read
            );
            for e in &report.errors {
                eprintln!(
                    "  dòng/row {}{}{}: {} / {}",
                    e.row,
                    e.column.as_ref().map(|c| format!(", cột/column «{c}»")).unwrap_or_default(),
                    e.value.as_ref().map(|v| format!(", giá trị/value «{v}»")).unwrap_or_default(),
                    e.message,
                    e.message_en
                );
            }
            std::process::exit(1);
        }
        Err(ingest::ImportFailure::File(e)) => anyhow::bail!("{}: dòng/line {}: {}", file.display(), e.line, e.msg),
        Err(ingest::ImportFailure::Store(e)) => Err(explain(e)),
    }
}

/// `chiase schema infer FILE`.
pub fn schema(cmd: SchemaCommand) -> anyhow::Result<()> {
    match cmd {
        SchemaCommand::Infer { file, sample, encoding } => {
            let f = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let opts = options(encoding, None, None)?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            let reader = RecordReader::open(Box::new(f), name.as_deref(), None, &opts)
                .map_err(|e| anyhow::anyhow!("dòng/line {}: {}", e.line, e.msg))?;
            let p = chiase_io::infer::infer(reader, sample).map_err(|e| anyhow::anyhow!("dòng/line {}: {}", e.line, e.msg))?;
            println!("{}", serde_json::to_string_pretty(&p)?);
            Ok(())
        }
    }
}

/// `chiase demo`.
pub async fn demo_command(cfg: Config, rows: Option<usize>, seed: u64) -> anyhow::Result<()> {
    let store = open_store(&cfg).await?;
    super::load_builtin_catalog(&store).await?;
    let n = load_demo(&store, rows, seed).await?;
    println!("{n} tập dữ liệu mẫu (dữ liệu tổng hợp) / demo datasets (synthetic data)");
    Ok(())
}

/// Creates each template's dataset (if absent) marked synthetic and fills
/// it with generated rows (replacing earlier demo rows). Returns how many.
pub async fn load_demo(store: &Store, rows: Option<usize>, seed: u64) -> anyhow::Result<usize> {
    let mut made = 0;
    for t in templates::all() {
        let existing = store.dataset(&t.slug).await.map_err(explain)?;
        let ds = match existing {
            Some(d) if !d.synthetic => continue, // never overwrite real data
            Some(d) => d,
            None => {
                let mut new = from_template(&t)?;
                new.synthetic = true;
                new.description = format!("{} (Dữ liệu tổng hợp để trình diễn / synthetic demo data)", new.description);
                match store.create_dataset(&new, "demo").await {
                    Ok(d) => d,
                    Err(chiase_store::StoreError::Domain(e)) => {
                        tracing::warn!(template = %t.template, "demo dataset skipped: {}", e.msg());
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let schema = store.schema_of(&ds)?;
        let n = rows.unwrap_or(t.demo.rows);
        let mut parsed = Vec::with_capacity(n);
        for (i, obj) in chiase_io::demo::rows(&t, n, seed).into_iter().enumerate() {
            let values =
                schema.parse_json_row(&obj, None).map_err(|e| anyhow::anyhow!("BUG: demo row {i} of {} is invalid: {e:?}", t.template))?;
            parsed.push(ParsedRow { line: i as u64 + 1, values });
        }
        let permit = super::operator_write(&ds)?;
        let mut w = store.begin_write(&permit, &ds.id, ImportMode::Replace, "demo", Some("chiase demo")).await.map_err(explain)?;
        let problems = w.write(&parsed).await.map_err(explain)?;
        if !problems.is_empty() {
            anyhow::bail!("BUG: demo rows of {} refused: {:?}", t.template, problems.first());
        }
        let summary = w.commit().await.map_err(explain)?;
        super::audit_cli(store, "demo_data", &ds.id, serde_json::json!({ "rows": summary.inserted, "seed": seed })).await?;
        made += 1;
    }
    Ok(made)
}
