//! The catalog: publishing a decision's table as a new version
//! (administrators; the operator at first start), and finding a database
//! for the public pages and API (the catalog is public by law).

use chiase_core::catalog::{CatalogRow, Decision, EntryFields};
use chiase_core::policy::{self, Subject};
use chiase_io::decision_table::{BUILTIN_641, BUILTIN_641_DATE, BUILTIN_641_DECISION, parse_catalog};
use chiase_store::Store;
use chiase_store::StoreError;
use chiase_store::catalog::{CatalogSource, ImportSummary};
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
