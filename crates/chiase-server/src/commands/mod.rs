//! What each subcommand does. Commands that write open the same database
//! as `serve` and are safe while it runs (SQLite in WAL mode with immediate
//! write transactions; PostgreSQL as usual).

pub mod access;
pub mod agency;
pub mod catalog;
pub mod dataset;
pub mod ops;
pub mod serve;

use anyhow::Context;
use chiase_core::catalog::Decision;
use chiase_io::decision_table::{BUILTIN_641, BUILTIN_641_DATE, BUILTIN_641_DECISION, parse_catalog};
use chiase_store::catalog::CatalogSource;
use chiase_store::{Store, StoreConfig, StoreError};
use chrono::NaiveDate;

use crate::config::{Config, redact_url};
use crate::params::parse_date;

/// Opens (and migrates) the store the configuration names, creating the
/// data directory for SQLite.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    if cfg.database_url.is_none() {
        std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("cannot create the data directory {}", cfg.data_dir.display()))?;
    }
    let url = cfg.store_url();
    Store::open(&StoreConfig { url: url.clone(), max_connections: cfg.max_connections })
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(&url)))
}

/// Loads the compiled-in Decision 641 catalog when no catalog exists yet.
pub async fn load_builtin_catalog(store: &Store) -> anyhow::Result<bool> {
    if !store.catalog_is_empty().await? {
        return Ok(false);
    }
    let parsed = parse_catalog("builtin:641-QD-UBND-2022.txt", BUILTIN_641.as_bytes())
        .map_err(|e| anyhow::anyhow!("BUG: the built-in catalog does not parse: {e}"))?;
    let (y, m, d) = BUILTIN_641_DATE;
    let decision = Decision {
        number: BUILTIN_641_DECISION.into(),
        date: NaiveDate::from_ymd_opt(y, m, d).expect("BUG: built-in date"),
        signer: None,
        title: Some("Danh mục cơ sở dữ liệu dùng chung tỉnh Tuyên Quang".into()),
    };
    let source = CatalogSource {
        name: "builtin:641-QD-UBND-2022.txt".into(),
        sha256: parsed.sha256.clone(),
        title: Some(parsed.title_lines.join("\n")),
    };
    match store.import_catalog(&decision, &source, &parsed.entries).await {
        Ok(summary) => {
            tracing::info!(entries = summary.entries, "loaded the built-in catalog of Decision 641/QĐ-UBND");
            Ok(true)
        }
        // Another process loaded it first.
        Err(StoreError::Domain(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Records what an operator did at the command line in the audit log.
pub async fn audit_cli(store: &Store, action: &str, target: &str, detail: serde_json::Value) -> anyhow::Result<()> {
    let user = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "unknown".into());
    let event = chiase_store::audit::NewEvent {
        actor: "operator".into(),
        action: action.into(),
        target: Some(target.into()),
        detail: serde_json::json!({ "cli": true, "os_user": user, "detail": detail }),
        source: Some("cli".into()),
        ..Default::default()
    };
    store.append_audit(&[event]).await?;
    Ok(())
}

/// The operator's permit to write a dataset (the command line holds the
/// database itself; every use is audited).
pub fn operator_write(ds: &chiase_store::datasets::Dataset) -> anyhow::Result<chiase_core::policy::WritePermit> {
    use chiase_core::policy::{Action, Subject, decide};
    decide(&Subject::Operator, Action::Write, &ds.facts(), chrono::Utc::now(), &[]).write().map_err(|r| anyhow::anyhow!("{}", r.msg()))
}

/// Parses a date given on the command line.
pub fn cli_date(s: &str) -> anyhow::Result<NaiveDate> {
    parse_date(s).ok_or_else(|| anyhow::anyhow!("ngày không hợp lệ «{s}» (YYYY-MM-DD hoặc dd/mm/yyyy) / invalid date «{s}»"))
}

/// Turns a store error into a message for the terminal.
pub fn explain(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Domain(d) => anyhow::anyhow!("{}", d.msg()),
        other => anyhow::Error::new(other),
    }
}
