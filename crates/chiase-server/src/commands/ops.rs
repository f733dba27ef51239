//! `chiase backup`, `chiase restore`, `chiase migrate`.

use std::path::Path;

use anyhow::Context;
use chiase_store::{Backend, Store, StoreConfig};

use chiase_core::policy::{Subject, decide_audit_verify};

use super::{context, explain, said};
use crate::config::{Config, redact_url};
use crate::outln;
use crate::state::AppState;
use crate::usecase::record_change;

pub async fn backup(cfg: Config, dest: &Path) -> anyhow::Result<()> {
    let (app, op) = context(cfg.clone()).await?;
    let store = app.store.clone();
    match store.backend() {
        Backend::Sqlite => {
            store.backup_sqlite(dest).await.map_err(explain)?;
            record_change(&app, &op, "backup", None, dest.display().to_string(), serde_json::json!({})).await.map_err(said)?;
            let size = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
            outln!("Đã sao lưu / backed up to {} ({} MiB)", dest.display(), size / 1_048_576)?;
            Ok(())
        }
        Backend::Postgres => {
            let url = cfg.database_url.clone().unwrap_or_default();
            outln!("PostgreSQL: dùng pg_dump / use pg_dump (a consistent snapshot, the server may keep running):")?;
            outln!("  pg_dump --format=custom --file={} '{}'", dest.display(), redact_url(&url))?;
            outln!("Khôi phục / restore: createdb NEW && pg_restore --dbname=NEW {}", dest.display())?;
            let status =
                std::process::Command::new("pg_dump").arg("--format=custom").arg(format!("--file={}", dest.display())).arg(&url).status();
            match status {
                Ok(s) if s.success() => {
                    record_change(&app, &op, "backup", None, dest.display().to_string(), serde_json::json!({ "tool": "pg_dump" }))
                        .await
                        .map_err(said)?;
                    outln!("pg_dump: ok")?;
                    Ok(())
                }
                Ok(s) => anyhow::bail!("pg_dump failed: {s}"),
                Err(e) => anyhow::bail!("pg_dump is not installed here ({e}); run the command above where it is"),
            }
        }
    }
}

pub async fn restore(cfg: Config, src: &Path) -> anyhow::Result<()> {
    if cfg.database_url.is_some() {
        anyhow::bail!("PostgreSQL: khôi phục bằng pg_restore / restore with pg_restore (docs/deploy.md)");
    }
    // The backup must open as a chiase database before anything is replaced.
    let probe = Store::open(&StoreConfig::new(format!("sqlite://{}", src.display()), 2))
        .await
        .with_context(|| format!("{} is not a chiase database", src.display()))?;
    let versions = probe.catalog_versions().await.map_err(explain)?.len();
    let verify = decide_audit_verify(&Subject::Operator).map_err(|r| anyhow::anyhow!("BUG: {}", r.msg()))?;
    let audit = probe.verify_audit(&verify).await.map_err(explain)?;
    probe.close().await;
    let db = cfg.data_dir.join("chiase.db");
    // Refuse while a server uses the data directory: it holds this lock.
    let _lock = crate::config::lock_exclusive(&cfg.data_dir)?;
    if db.exists() {
        let aside = cfg.data_dir.join(format!("chiase.db.before-restore-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S")));
        std::fs::rename(&db, &aside)?;
        for ext in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(cfg.data_dir.join(format!("chiase.db{ext}")));
        }
        outln!("Bản cũ để lại tại / the previous database is kept at {}", aside.display())?;
    }
    std::fs::create_dir_all(&cfg.data_dir)?;
    std::fs::copy(src, &db)?;
    let (app, op) = context(cfg).await?;
    record_change(
        &app,
        &op,
        "restore",
        None,
        src.display().to_string(),
        serde_json::json!({ "versions": versions, "audit_events": audit.events, "audit_ok": audit.ok }),
    )
    .await
    .map_err(said)?;
    outln!(
        "Đã khôi phục / restored {} ({} phiên bản danh mục / catalog versions, nhật ký / audit {} events, {})",
        src.display(),
        versions,
        audit.events,
        if audit.ok { "intact" } else { "NOT intact" }
    )?;
    Ok(())
}

pub async fn migrate(cfg: Config, to: &str) -> anyhow::Result<()> {
    if cfg.database_url.is_some() {
        anyhow::bail!("nguồn phải là SQLite / the source must be the SQLite installation (omit --database)");
    }
    let source = super::open_store(&cfg).await?;
    let target = Store::open(&StoreConfig::new(to.to_string(), 4)).await.with_context(|| format!("cannot open {}", redact_url(to)))?;
    let started = std::time::Instant::now();
    let report = source
        .copy_to(&target, &|table, n| {
            if n > 0 {
                eprintln!("  {table}: {n}");
            }
        })
        .await
        .map_err(explain)?;
    outln!("{:<28} {:>10} {:>10}  checksum", "table", "source", "target")?;
    for t in &report.tables {
        let same = if t.source_checksum == t.target_checksum { "=" } else { "≠ DIFFERENT" };
        outln!("{:<28} {:>10} {:>10}  {} {}", t.table, t.source_rows, t.target_rows, &t.target_checksum[..12], same)?;
    }
    let target_app = AppState::for_command(target, cfg.clone())?;
    record_change(
        &target_app,
        &crate::auth::Caller::operator(),
        "migrated_from_sqlite",
        None,
        cfg.data_dir.display().to_string(),
        serde_json::json!({ "tables": report.tables.len(), "ok": report.ok }),
    )
    .await
    .map_err(said)?;
    if report.ok {
        outln!(
            "Đã sao chép, mọi bảng khớp / copied, every table matches ({:.1} s). Chạy / run: chiase serve --database '{}'",
            started.elapsed().as_secs_f64(),
            redact_url(to)
        )?;
        Ok(())
    } else {
        anyhow::bail!("có bảng không khớp / some tables differ: the target is not to be used")
    }
}
