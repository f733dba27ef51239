//! `chiase dataset …`, `chiase import`, `chiase schema infer`, `chiase demo`:
//! the operator's side of datasets, through the same use cases as the API.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use chiase_core::schema::SchemaSpec;
use chiase_io::tabular::{Format, ReadOptions};
use chiase_io::templates;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Exit, context, said};
use crate::cli::{DatasetCommand, ImportArgs, SchemaCommand};
use crate::config::Config;
use crate::outln;
use crate::usecase::datapackage;
use crate::usecase::datasets::{self, CreateDataset};
use crate::usecase::demo;
use crate::usecase::imports::{self, ImportOutcome, ImportRequest, Progress};

pub async fn run(cfg: Config, cmd: DatasetCommand) -> anyhow::Result<()> {
    if let DatasetCommand::Templates = cmd {
        for t in templates::all() {
            outln!("{:<36} CSDL {:>2}  {:<9} {}", t.template, t.database_no, t.sharing_mode, t.title)?;
        }
        return Ok(());
    }
    let (app, op) = context(cfg).await?;
    match cmd {
        DatasetCommand::Templates => Ok(()),
        DatasetCommand::List { database } => {
            let key = database.as_deref().map(DatabaseKey::parse);
            for l in datasets::list(&app, &op, key.as_ref()).await.map_err(said)? {
                let d = l.dataset;
                let rows = l.activity.map(|a| a.row_count.to_string()).unwrap_or_else(|| "?".into());
                outln!(
                    "{:<36} CSDL {:>2}  {:<9} {:>9} dòng/rows  {}{}",
                    d.id,
                    d.database.no.unwrap_or(0),
                    d.sharing_mode.code(),
                    rows,
                    d.title,
                    if d.synthetic { " (synthetic)" } else { "" }
                )?;
            }
            Ok(())
        }
        DatasetCommand::Show { id } => {
            let l = datasets::show(&app, &op, &id).await.map_err(said)?;
            outln!("{}", serde_json::to_string_pretty(&l.dataset)?)?;
            Ok(())
        }
        DatasetCommand::Create { template, id, database, schema, title, sharing } => {
            let mut c = match (&template, &schema) {
                (Some(t), None) => {
                    let t = templates::by_id(t)
                        .ok_or_else(|| anyhow::anyhow!("không có mẫu / no template «{t}» (chiase dataset templates)"))?;
                    demo::from_template(&t).map_err(said)?
                }
                (None, Some(path)) => {
                    let spec: SchemaSpec =
                        serde_json::from_slice(&std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
                            .with_context(|| format!("{} is not a Table Schema", path.display()))?;
                    CreateDataset {
                        id: id.clone().ok_or_else(|| anyhow::anyhow!("--id là bắt buộc / --id is required"))?,
                        database: DatabaseKey::parse(
                            database.as_deref().ok_or_else(|| anyhow::anyhow!("--entry là bắt buộc / --entry is required"))?,
                        ),
                        title: title.clone().ok_or_else(|| anyhow::anyhow!("--title là bắt buộc / --title is required"))?,
                        title_en: None,
                        description: String::new(),
                        licence: None,
                        sharing_mode: "specific".parse().map_err(|s| anyhow::anyhow!("BUG: {s}"))?,
                        cadence: None,
                        schema: spec,
                        template: None,
                        synthetic: false,
                    }
                }
                _ => anyhow::bail!("cần đúng một trong --template hoặc --schema / give exactly one of --template or --schema"),
            };
            if let Some(i) = id {
                c.id = i;
            }
            if let Some(d) = database {
                c.database = DatabaseKey::parse(&d);
            }
            if let Some(t) = title {
                c.title = t;
            }
            if let Some(s) = sharing {
                c.sharing_mode = s.parse().map_err(|s| anyhow::anyhow!("hình thức chia sẻ không hợp lệ / invalid sharing mode «{s}»"))?;
            }
            let d = datasets::create(&app, &op, c).await.map_err(said)?;
            outln!("{}  ({} trường/fields, bảng/table {})", d.id, d.schema.fields.len(), d.table_name)?;
            Ok(())
        }
        DatasetCommand::Alter { id, schema } => {
            let spec: SchemaSpec =
                serde_json::from_slice(&std::fs::read(&schema)?).with_context(|| format!("{} is not a Table Schema", schema.display()))?;
            let d = datasets::change_schema(&app, &op, &id, spec).await.map_err(said)?;
            outln!("{}: lược đồ phiên bản / schema version {}", d.id, d.schema_version)?;
            Ok(())
        }
        DatasetCommand::ImportPackage { entry, source } => {
            let source = if source.starts_with("http://") || source.starts_with("https://") {
                datapackage::Source::Url(source)
            } else {
                let path = Path::new(&source);
                datapackage::Source::Bytes(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
            };
            match datapackage::import(&app, &op, &entry, source).await {
                Ok(report) => {
                    for r in &report.resources {
                        outln!(
                            "{:<36} {:>9} dòng/rows  {}  ({})",
                            r.dataset,
                            r.rows_imported.unwrap_or(0),
                            r.title,
                            r.sharing_mode.code()
                        )?;
                    }
                    outln!("{} tập dữ liệu đã tạo / datasets created in {}", report.created, report.database)?;
                    Ok(())
                }
                Err(e) => {
                    // A refused package: every problem, resource by resource.
                    let report = e.fields.as_ref().and_then(|f| f.get("report")).cloned();
                    if let Some(resources) = report.as_ref().and_then(|r| r["resources"].as_array()) {
                        for r in resources {
                            for p in r["errors"].as_array().into_iter().flatten() {
                                eprintln!(
                                    "{}: dòng/row {}: {} / {}",
                                    r["name"].as_str().unwrap_or(""),
                                    p["row"],
                                    p["message"].as_str().unwrap_or(""),
                                    p["message_en"].as_str().unwrap_or("")
                                );
                            }
                        }
                    }
                    Err(said(e))
                }
            }
        }
    }
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
        Some("xlsx" | "xls" | "ods") => Some(Format::Xlsx),
        Some("json") => Some(Format::Json),
        Some("ndjson") => Some(Format::Ndjson),
        Some(f) => anyhow::bail!("định dạng không hỗ trợ / unsupported format «{f}»"),
    };
    Ok(ReadOptions { format, encoding, delimiter, ..Default::default() })
}

/// `chiase import DATASET FILE`: with a progress bar (rows, rows/s, ETA).
pub async fn import(cfg: Config, args: ImportArgs) -> anyhow::Result<()> {
    let (dataset, file) = (args.dataset.as_str(), args.file.as_path());
    let mode: ImportMode =
        args.mode.parse().map_err(|m| anyhow::anyhow!("chế độ không hợp lệ / invalid mode «{m}» (append, upsert, replace)"))?;
    let hold = match args.on_error.as_str() {
        "refuse" => false,
        "hold" => true,
        o => anyhow::bail!("--on-error không hợp lệ / invalid --on-error «{o}» (refuse, hold)"),
    };
    let mut options = options(args.encoding, args.delimiter, args.format)?;
    options.sheet = args.sheet;
    options.locale = args
        .locale
        .map(|l| {
            chiase_core::human::InputLocale::parse(&l).ok_or_else(|| anyhow::anyhow!("locale không hợp lệ / invalid locale «{l}» (vi, en)"))
        })
        .transpose()?;
    let (app, mut op) = context(cfg).await?;
    if let Some(username) = &args.as_user {
        // The operator's right to import stays; the audit also names the officer it was done for.
        let user = app
            .store
            .user(username)
            .await
            .map_err(crate::commands::explain)?
            .ok_or_else(|| anyhow::anyhow!("không có người dùng / no such user «{username}»"))?;
        op.actor.name = format!("operator for user:{}", user.username);
        op.actor.user_id = Some(user.pk);
        op.actor.agency_id = user.agency_pk;
    }
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
        source_name: file.file_name().map(|n| n.to_string_lossy().into_owned()),
        content_type: None,
        options,
        allow_empty: args.allow_empty,
        handling: imports::ErrorHandling { mark: args.report.is_some(), hold },
    };
    let outcome = if args.check {
        match imports::check(&app, &op, dataset, req, Box::new(f), u64::MAX, progress.clone()).await {
            Ok(report) if report.total_errors == 0 => {
                ticker.abort();
                bar.finish_and_clear();
                print_notes(&report);
                outln!(
                    "Tệp hợp lệ: {} dòng, không có lỗi; chưa ghi gì (--check) / The file is valid: {} rows, no problems; nothing written (--check)",
                    report.rows_read,
                    report.rows_read
                )?;
                return Ok(());
            }
            other => other.map(ImportOutcome::Rejected),
        }
    } else {
        imports::import(&app, &op, dataset, req, Box::new(f), u64::MAX, progress.clone()).await
    };
    ticker.abort();
    bar.finish_and_clear();
    match outcome.map_err(said)? {
        ImportOutcome::Done(s) => {
            let secs = started.elapsed().as_secs_f64();
            let msg = imports::summary_msg(dataset, &s);
            outln!("{}; {:.1} s ({:.0} dòng/s)", msg.vi, secs, progress.rows.load(Ordering::Relaxed) as f64 / secs.max(0.001))?;
            outln!("{}.", msg.en)?;
            for n in &s.notes {
                eprintln!("  ghi chú / note: {} / {}", n.message, n.message_en);
            }
            if let Some(held) = &s.held {
                eprintln!(
                    "Giữ lại {} dòng lỗi (không nhập) / {} rows with problems held back (not imported):",
                    held.bad_rows, held.bad_rows
                );
                print_errors(held);
                save_marked(held, args.report.as_deref())?;
            }
            Ok(())
        }
        ImportOutcome::Rejected(report) => {
            print_notes(&report);
            save_marked(&report, args.report.as_deref())?;
            eprintln!(
                "Không nhập gì: {} lỗi trong {} dòng đã đọc / Nothing imported: {} problems in {} rows read",
                report.total_errors, report.rows_read, report.total_errors, report.rows_read
            );
            print_errors(&report);
            Err(Exit(1).into())
        }
    }
}

/// The problems of a report, one per line (the message names the column
/// as the file does).
fn print_errors(report: &imports::ImportReport) {
    for e in &report.errors {
        eprintln!(
            "  dòng/row {}{}: {} / {}",
            e.row,
            e.value.as_ref().map(|v| format!(", giá trị/value «{v}»")).unwrap_or_default(),
            e.message,
            e.message_en
        );
    }
}

/// Copies the marked workbook of a report to `dest`, when both exist.
fn save_marked(report: &imports::ImportReport, dest: Option<&Path>) -> anyhow::Result<()> {
    if let (Some(marked), Some(dest)) = (&report.marked, dest) {
        std::fs::copy(&***marked, dest).with_context(|| format!("cannot write {}", dest.display()))?;
        eprintln!("  các ô lỗi được tô màu trong / the bad cells are highlighted in: {}", dest.display());
    }
    Ok(())
}

/// What the reader left out or understood (a title block, a totals row).
fn print_notes(report: &imports::ImportReport) {
    if let Some(sheet) = &report.sheet {
        eprintln!("  trang / sheet «{sheet}»");
    }
    for n in &report.notes {
        eprintln!("  ghi chú / note: {} / {}", n.message, n.message_en);
    }
}

/// `chiase schema infer FILE`.
pub async fn schema(cmd: SchemaCommand) -> anyhow::Result<()> {
    match cmd {
        SchemaCommand::Infer { file, sample, encoding } => {
            let f = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let opts = options(encoding, None, None)?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            let p = datasets::infer(Box::new(f), name, None, opts, sample).await.map_err(said)?;
            outln!("{}", serde_json::to_string_pretty(&p)?)?;
            Ok(())
        }
    }
}

/// `chiase demo`.
pub async fn demo_command(cfg: Config, rows: Option<usize>, seed: u64) -> anyhow::Result<()> {
    let (app, op) = context(cfg).await?;
    crate::usecase::catalog::load_builtin(&app.store).await?;
    let outcome = demo::load(&app, &op, rows, seed).await.map_err(said)?;
    outln!("{} tập dữ liệu mẫu (dữ liệu tổng hợp) / demo datasets (synthetic data)", outcome.filled.len())?;
    for (id, why) in &outcome.left_alone {
        outln!("  để nguyên / left alone: {id} — {why}")?;
    }
    Ok(())
}
