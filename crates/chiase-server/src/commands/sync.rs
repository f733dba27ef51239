//! `chiase sync`: a dataset's pull jobs at the command line, through
//! `usecase::sync` as the operator.

use serde_json::{Map, Value};

use super::{context, said};
use crate::cli::SyncCommand;
use crate::config::Config;
use crate::outln;
use crate::usecase::sync::{self, Paging};

pub async fn run(cfg: Config, cmd: SyncCommand) -> anyhow::Result<()> {
    let (app, op) = context(cfg).await?;
    match cmd {
        SyncCommand::Add { dataset, url, mode, records_at, paging, map, every, timeout, credential_header } => {
            let paging: Paging = match paging {
                None => Paging::None,
                Some(p) => serde_json::from_str(&p).map_err(|e| anyhow::anyhow!("--paging: {e}"))?,
            };
            let mut mapping = Map::new();
            for m in map {
                let (from, to) = m.split_once('=').ok_or_else(|| anyhow::anyhow!("--map {m}: write FROM=FIELD"))?;
                mapping.insert(from.to_string(), Value::String(to.to_string()));
            }
            // The value from the environment: a command line shows in `ps`.
            let credential = match credential_header {
                None => None,
                Some(h) => {
                    let v = std::env::var("CHIASE_SYNC_CREDENTIAL")
                        .map_err(|_| anyhow::anyhow!("--credential-header needs the value in CHIASE_SYNC_CREDENTIAL"))?;
                    Some((h, v))
                }
            };
            let a = sync::AddJob { url, records_at, paging, mapping, mode, every, timeout_secs: Some(timeout), credential };
            let job = sync::add(&app, &op, &dataset, a).await.map_err(said)?;
            outln!("{}", job.id)?;
        }
        SyncCommand::List { dataset } => {
            let o = sync::list(&app, &op, &dataset).await.map_err(said)?;
            for (job, last) in &o.jobs {
                let every = job.every_secs.map(|e| format!("every {}m", e / 60)).unwrap_or_else(|| "by hand".into());
                let last = match last {
                    Some(r) => {
                        format!("{} {} read {} imported {}", r.started_at.format("%d/%m/%Y %H:%M"), r.status, r.rows_read, r.imported)
                    }
                    None => "never run".into(),
                };
                outln!("{:<4} {:<8} {:<14} {}  {}", job.id, job.mode, every, job.url, last)?;
            }
            for r in &o.runs {
                outln!(
                    "  run {} {} {} {}: read {}, imported {}, deleted {}{}",
                    r.id,
                    r.kind,
                    r.started_at.format("%d/%m/%Y %H:%M"),
                    r.status,
                    r.rows_read,
                    r.imported,
                    r.deleted,
                    r.error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default()
                )?;
            }
        }
        SyncCommand::Run { dataset, job } => {
            let r = sync::run_now(&app, &op, &dataset, job).await.map_err(said)?;
            outln!("{}: read {}, imported {}, deleted {}", r.status, r.rows_read, r.imported, r.deleted)?;
            if let Some(e) = &r.error {
                outln!("error: {e}")?;
            }
            if r.status != "ok" {
                return Err(super::Exit(1).into());
            }
        }
        SyncCommand::Remove { dataset, job } => {
            sync::remove(&app, &op, &dataset, job).await.map_err(said)?;
            outln!("ok")?;
        }
    }
    Ok(())
}
