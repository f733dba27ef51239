//! `chiase catalog import|versions|diff`.

use anyhow::Context;
use chiase_core::catalog::Decision;
use chiase_io::decision_table::parse_catalog;
use chiase_store::catalog::CatalogSource;

use super::{cli_date, context, explain, said};

use crate::cli::CatalogCommand;
use crate::config::Config;
use crate::outln;

pub async fn run(cfg: Config, cmd: CatalogCommand) -> anyhow::Result<()> {
    match cmd {
        CatalogCommand::Import { file, decision, date, signer, title, dry_run } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let parsed = parse_catalog(&name, &bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{}: dòng/line {}{}: {}",
                    file.display(),
                    e.line,
                    e.column.map(|c| format!(", cột/column «{c}»")).unwrap_or_default(),
                    e.msg
                )
            })?;
            let hint = parsed.decision_hint.clone();
            let number = decision.or_else(|| hint.as_ref().map(|h| h.0.clone())).ok_or_else(|| {
                anyhow::anyhow!(
                    "thiếu --decision: tệp không ghi số quyết định / --decision is required: the file does not name its decision"
                )
            })?;
            let date = match date {
                Some(d) => cli_date(&d)?,
                None => hint
                    .as_ref()
                    .map(|h| h.1)
                    .ok_or_else(|| anyhow::anyhow!("thiếu --date / --date is required: the file does not date its decision"))?,
            };
            if let Some((n, d)) = &hint
                && (n != &number || *d != date)
            {
                eprintln!("chú ý / note: the file's title names decision {n} of {d}, importing as {number} of {date}");
            }
            for w in &parsed.warnings {
                eprintln!("cảnh báo / warning: {w}");
            }
            let title = title.or_else(|| parsed.title_lines.first().cloned());
            if dry_run {
                outln!(
                    "{} mục hợp lệ, chưa nhập (--dry-run) / {} valid entries, not imported (--dry-run)",
                    parsed.entries.len(),
                    parsed.entries.len()
                )?;
                for (_, f) in &parsed.entries {
                    let modes: Vec<&str> = f.sharing.modes.iter().map(|m| m.code()).collect();
                    outln!("{:>3}  {}  [{}] {}  — {}", f.no, f.name, modes.join(", "), f.cadence, f.owner_name)?;
                }
                return Ok(());
            }
            let (app, op) = context(cfg).await?;
            let source = CatalogSource { name, sha256: parsed.sha256.clone(), title: Some(parsed.title_lines.join("\n")) };
            let summary = crate::usecase::catalog::import(&app, &op, &Decision { number, date, signer, title }, &source, &parsed.entries)
                .await
                .map_err(said)?;
            outln!(
                "Đã nhập phiên bản {} ({} ngày {}): {} mục, {} CSDL mới, {} cập nhật, {} rút khỏi danh mục.",
                summary.version.id,
                summary.version.decision_no,
                summary.version.decision_date.format("%d/%m/%Y"),
                summary.entries,
                summary.databases_added,
                summary.databases_updated,
                summary.databases_withdrawn
            )?;
            outln!(
                "Imported version {}: {} entries, {} new databases, {} updated, {} withdrawn.",
                summary.version.id,
                summary.entries,
                summary.databases_added,
                summary.databases_updated,
                summary.databases_withdrawn
            )?;
            if !summary.agencies_created.is_empty() {
                outln!("Cơ quan mới / new agencies: {}", summary.agencies_created.join("; "))?;
            }
        }
        CatalogCommand::Versions => {
            let store = super::open_store(&cfg).await?;
            for v in store.catalog_versions().await.map_err(explain)? {
                outln!(
                    "{:>3}  {}  {}  {} mục/entries  {}",
                    v.id,
                    v.decision_no,
                    v.decision_date.format("%d/%m/%Y"),
                    v.entry_count,
                    v.signer.unwrap_or_default()
                )?;
            }
        }
        CatalogCommand::Diff { from, to, json } => {
            let store = super::open_store(&cfg).await?;
            let versions = store.catalog_versions().await.map_err(explain)?;
            let (from, to) = match (from, to) {
                (Some(a), Some(b)) => (a, b),
                (Some(a), None) => (a, versions.last().map(|v| v.id).unwrap_or(a)),
                _ if versions.len() >= 2 => (versions[versions.len() - 2].id, versions[versions.len() - 1].id),
                _ => anyhow::bail!("cần ít nhất hai phiên bản để so sánh / at least two versions are needed for a diff"),
            };
            let d = store.catalog_diff(from, to).await.map_err(explain)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&d)?)?;
                return Ok(());
            }
            outln!("Phiên bản {from} → {to} / version {from} → {to}")?;
            for r in &d.added {
                outln!("+ {:>3} {}", r.no, r.name)?;
            }
            for r in &d.removed {
                outln!("- {:>3} {}", r.no, r.name)?;
            }
            for c in &d.changed {
                outln!("~ {:>3} {}", c.key.no, c.key.name)?;
                for f in &c.changes {
                    outln!("    {}: «{}» → «{}»", f.field, f.old, f.new)?;
                }
            }
            outln!("{} không đổi / unchanged", d.unchanged)?;
        }
    }
    Ok(())
}
