//! What each subcommand does. Commands act as the operator at the server's
//! command line through the same use cases as the API (so the same rules
//! and the same audit events); they open the same database as `serve` and
//! are safe while it runs (SQLite in WAL mode with immediate write
//! transactions; PostgreSQL as usual).
//!
//! Output goes through [`outln!`], which turns a closed pipe
//! (`chiase … | head`) into a quiet end instead of a panic; a command that
//! must fail with a status returns [`Exit`] rather than calling
//! `process::exit` from async code.

pub mod access;
pub mod agency;
pub mod catalog;
pub mod dataset;
pub mod harvest;
pub mod ops;
pub mod serve;
pub mod sync;

use anyhow::Context;
use chiase_core::Msg;
use chiase_store::{Store, StoreConfig, StoreError};
use chrono::NaiveDate;

use crate::auth::Caller;
use crate::config::{Config, redact_url};
use crate::error::ApiError;
use crate::params::parse_date;
use crate::state::AppState;

/// Prints a line to standard output; `?` after it ends the command quietly
/// when the reader went away.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// A command's failure that was already explained on standard error:
/// `main` exits with this status and prints nothing more.
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct Exit(pub u8);

/// Opens (and migrates) the store the configuration names, creating the
/// data directory (private to the service user) for SQLite.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    if cfg.database_url.is_none() {
        crate::config::private_dir(&cfg.data_dir)?;
    }
    let url = cfg.store_url();
    let store = Store::open(&StoreConfig {
        url: url.clone(),
        max_connections: cfg.max_connections,
        acquire_timeout: std::time::Duration::from_secs(cfg.db_acquire_timeout_secs),
        cache_mib: cfg.db_cache_mib,
    })
    .await
    .with_context(|| format!("cannot open the database {}", redact_url(&url)))?;
    if cfg.database_url.is_none() {
        crate::config::private_files(&cfg.data_dir)?;
    }
    Ok(store)
}

/// The state a command works with (the recorder audits every change).
pub async fn context(cfg: Config) -> anyhow::Result<(AppState, Caller)> {
    let store = open_store(&cfg).await?;
    Ok((AppState::for_command(store, cfg)?, Caller::operator()))
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

/// Turns a use case's error into a message for the terminal.
pub fn said(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", Msg::new(e.msg.vi, e.msg.en))
}
