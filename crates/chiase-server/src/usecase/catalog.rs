//! The catalog: publishing a decision's table as a new version
//! (administrators; the operator at first start), and finding a database
//! for the public pages and API (the catalog is public by law).

use chiase_core::catalog::{CatalogDiff, CatalogRow, ChangedEntry, Decision, EntryFields, diff};
use chiase_core::policy::{self, Subject};
use chiase_io::decision_table::{BUILTIN_641, BUILTIN_641_DATE, BUILTIN_641_DECISION, ParsedCatalog, parse_catalog};
use chiase_store::Store;
use chiase_store::StoreError;
use chiase_store::catalog::{CatalogSource, CatalogVersion, ImportSummary};
use chiase_store::databases::{DatabaseDetail, DatabaseKey};
use chrono::NaiveDate;
use serde_json::json;

use super::record_change;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A database by number or id, or 404.
pub async fn find_database(app: &AppState, key: &str) -> Result<DatabaseDetail, ApiError> {
    app.store.database(&DatabaseKey::parse(key)).await?.ok_or_else(|| {
        let shown: String = key.chars().take(64).collect();
        ApiError::not_found(format!("không có cơ sở dữ liệu «{shown}» trong danh mục"), format!("no database «{shown}» in the catalog"))
    })
}

/// Publishes a decision's catalog as a new version.
pub async fn import(
    app: &AppState,
    caller: &Caller,
    decision: &Decision,
    source: &CatalogSource,
    entries: &[(CatalogRow, EntryFields)],
) -> Result<ImportSummary, ApiError> {
    let permit = policy::decide_catalog(&caller.subject)?;
    let summary = app.store.import_catalog(&permit, decision, source, entries).await?;
    record_change(
        app,
        caller,
        "catalog_imported",
        None,
        decision.number.clone(),
        json!({ "version": summary.version.id, "entries": summary.entries, "file": source.name, "sha256": source.sha256 }),
    )
    .await?;
    Ok(summary)
}

/// What publishing a decision's table would do, before it is done: the
/// entries as derived, and how they differ from the current version
/// (entries matched to databases by name, as the import matches them).
pub struct Preview {
    pub parsed: ParsedCatalog,
    pub current: Option<CatalogVersion>,
    /// Keyed by the entry's name as the newer version writes it (the older one's for removed entries).
    pub diff: CatalogDiff<String>,
}

/// Parses a decision's table and compares it with the current version
/// (administrators). Nothing is written.
pub async fn preview(app: &AppState, caller: &Caller, file_name: &str, bytes: &[u8]) -> Result<Preview, ApiError> {
    policy::decide_catalog(&caller.subject)?;
    let parsed = parse_catalog(file_name, bytes).map_err(|e| {
        let at = match e.column {
            Some(c) => format!("dòng {}, cột «{c}»", e.line),
            None => format!("dòng {}", e.line),
        };
        let at_en = match e.column {
            Some(c) => format!("line {}, column «{c}»", e.line),
            None => format!("line {}", e.line),
        };
        ApiError::bad_request(format!("{at}: {}", e.msg.vi), format!("{at_en}: {}", e.msg.en))
    })?;
    let current = app.store.current_catalog().await?;
    let name_of = |key: &str, list: &[(String, String)]| list.iter().find(|(k, _)| k == key).map(|(_, n)| n.clone()).unwrap_or_default();
    let new_names: Vec<(String, String)> = parsed.entries.iter().map(|(_, f)| (f.name_key(), f.name.clone())).collect();
    let new_pairs: Vec<(String, &EntryFields)> = parsed.entries.iter().map(|(_, f)| (f.name_key(), f)).collect();
    let (version, old_names, old_pairs_owned) = match &current {
        Some((v, entries)) => (
            Some(v.clone()),
            entries.iter().map(|(_, f)| (f.name_key(), f.name.clone())).collect::<Vec<_>>(),
            entries.iter().map(|(_, f)| (f.name_key(), f.clone())).collect::<Vec<_>>(),
        ),
        None => (None, Vec::new(), Vec::new()),
    };
    let old_pairs: Vec<(String, &EntryFields)> = old_pairs_owned.iter().map(|(k, f)| (k.clone(), f)).collect();
    let d = diff(&old_pairs, &new_pairs);
    let named = |k: &String| {
        let n = name_of(k, &new_names);
        if n.is_empty() { name_of(k, &old_names) } else { n }
    };
    let diff = CatalogDiff {
        added: d.added.iter().map(named).collect(),
        removed: d.removed.iter().map(named).collect(),
        changed: d.changed.into_iter().map(|c| ChangedEntry { key: named(&c.key), changes: c.changes }).collect(),
        unchanged: d.unchanged,
    };
    Ok(Preview { parsed, current: version, diff })
}

/// Loads the compiled-in Decision 641 catalog when no catalog exists yet
/// (the operator's act at first start; another process may win the race).
pub async fn load_builtin(store: &Store) -> anyhow::Result<bool> {
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
    let permit = policy::decide_catalog(&Subject::Operator).map_err(|r| anyhow::anyhow!("BUG: {}", r.msg()))?;
    match store.import_catalog(&permit, &decision, &source, &parsed.entries).await {
        Ok(summary) => {
            tracing::info!(entries = summary.entries, "loaded the built-in catalog of Decision 641/QĐ-UBND");
            Ok(true)
        }
        // Another process loaded it first.
        Err(StoreError::Domain(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
