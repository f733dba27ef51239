//! `chiase harvest`: harvest sources at the command line, through
//! `usecase::harvest` as the operator.

use super::{context, said};
use crate::cli::HarvestCommand;
use crate::config::Config;
use crate::outln;
use crate::usecase::harvest;

pub async fn run(cfg: Config, cmd: HarvestCommand) -> anyhow::Result<()> {
    let (app, op) = context(cfg).await?;
    match cmd {
        HarvestCommand::Add { url, kind, every, id, database, timeout } => {
            let id = id.unwrap_or_else(|| id_from_url(&url));
            let a = harvest::AddSource { id, url, kind, every, database, timeout_secs: Some(timeout) };
            let s = harvest::add(&app, &op, a).await.map_err(said)?;
            outln!("{}", s.id)?;
        }
        HarvestCommand::List => {
            for l in harvest::list(&app, &op).await.map_err(said)? {
                let s = &l.source;
                let last = match &l.last_run {
                    Some(r) => format!(
                        "{} {} (+{} ~{} -{} ={} !{})",
                        r.started_at.format("%d/%m/%Y %H:%M"),
                        r.status,
                        r.added,
                        r.changed,
                        r.removed,
                        r.unchanged,
                        r.failed
                    ),
                    None => "never run".into(),
                };
                let every = s.every_secs.map(|e| format!("every {}", human_period(e))).unwrap_or_else(|| "by hand".into());
                outln!("{:<24} {:<12} {:<14} {}  {}", s.id, s.kind, every, s.url, last)?;
            }
        }
        HarvestCommand::Run { id } => {
            let r = harvest::run_now(&app, &op, &id).await.map_err(said)?;
            outln!(
                "{}: added {}, changed {}, removed {}, unchanged {}, failed {}",
                r.status,
                r.added,
                r.changed,
                r.removed,
                r.unchanged,
                r.failed
            )?;
            if let Some(e) = &r.error {
                outln!("error: {e}")?;
            }
            if let serde_json::Value::Array(lines) = &r.report.0 {
                for line in lines {
                    outln!(
                        "  {} {}{}",
                        line["outcome"].as_str().unwrap_or(""),
                        line["entry"].as_str().unwrap_or(""),
                        match line["reason"].as_str() {
                            Some(r) => format!(": {r}"),
                            None => String::new(),
                        }
                    )?;
                }
            }
            if r.status != "ok" {
                return Err(super::Exit(1).into());
            }
        }
        HarvestCommand::Remove { id } => {
            harvest::remove(&app, &op, &id).await.map_err(said)?;
            outln!("ok")?;
        }
    }
    Ok(())
}

/// `https://data.tinh.gov.vn:8443/x` → `data-tinh-gov-vn`.
fn id_from_url(url: &str) -> String {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':', '?']).next().unwrap_or("nguon");
    let id: String = host.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let id = id.trim_matches('-').chars().take(60).collect::<String>();
    if id.is_empty() { "nguon".into() } else { id }
}

fn human_period(secs: i64) -> String {
    match secs {
        s if s % 604_800 == 0 => format!("{}w", s / 604_800),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{}m", s / 60),
    }
}
