//! Demo data: every dataset template created (marked synthetic) and filled
//! with deterministic synthetic rows. It never deletes or overwrites rows
//! that are not its own: a dataset that is not synthetic, or holds rows
//! someone else wrote, is left alone and named in the outcome.

use chiase_core::policy::decide_write;
use chiase_core::sharing::SharingMode;
use chiase_io::templates;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::{ImportMode, ParsedRow};
use serde_json::json;

use super::datasets::CreateDataset;
use super::record_change;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Where demo writes say they come from (their change batches' source).
pub const DEMO_SOURCE: &str = "chiase demo";

/// What a demo load did.
#[derive(Debug, Default)]
pub struct DemoOutcome {
    /// Datasets filled with demo rows.
    pub filled: Vec<String>,
    /// Datasets left alone, with why (Vietnamese / English).
    pub left_alone: Vec<(String, String)>,
}

/// The dataset a template describes, as a creation request.
pub fn from_template(t: &templates::Template) -> Result<CreateDataset, ApiError> {
    Ok(CreateDataset {
        id: t.slug.clone(),
        database: DatabaseKey::No(t.database_no),
        title: t.title.clone(),
        title_en: Some(t.title_en.clone()),
        description: t.description.clone(),
        licence: Some(t.licence.clone()),
        sharing_mode: t
            .sharing_mode
            .parse::<SharingMode>()
            .map_err(|s| ApiError::internal(&format!("BUG: template sharing mode «{s}»")))?,
        cadence: Some(t.cadence.parse().map_err(|c| ApiError::internal(&format!("BUG: template cadence «{c}»")))?),
        schema: t.schema.clone(),
        template: Some(t.template.clone()),
        synthetic: false,
    })
}

/// Creates each template's dataset if absent and fills the synthetic ones
/// that hold only demo rows.
pub async fn load(app: &AppState, caller: &Caller, rows: Option<usize>, seed: u64) -> Result<DemoOutcome, ApiError> {
    let mut outcome = DemoOutcome::default();
    for t in templates::all() {
        let ds = match app.store.dataset(&t.slug).await? {
            Some(d) => d,
            None => {
                let mut c = from_template(&t)?;
                c.synthetic = true;
                c.description = format!("{} (Dữ liệu tổng hợp để trình diễn / synthetic demo data)", c.description);
                match super::datasets::create(app, caller, c).await {
                    Ok(d) => d,
                    Err(e) if e.status.is_client_error() => {
                        tracing::warn!(template = %t.template, "demo dataset skipped: {}", e.msg.en);
                        outcome.left_alone.push((t.slug.clone(), format!("{} / {}", e.msg.vi, e.msg.en)));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let permit = decide_write(&caller.subject, &ds.facts())?;
        if !ds.synthetic {
            outcome
                .left_alone
                .push((ds.id.clone(), "tập dữ liệu thật, không phải dữ liệu trình diễn / a real dataset, not demo data".into()));
            continue;
        }
        if app.store.writes_from_others(&permit, &ds, DEMO_SOURCE).await? > 0 {
            outcome.left_alone.push((
                ds.id.clone(),
                "đã có dữ liệu do người khác ghi; không ghi đè / holds rows written by someone else; not overwritten".into(),
            ));
            continue;
        }
        let schema = app.store.schema_of(&ds)?;
        let n = rows.unwrap_or(t.demo.rows);
        let mut parsed = Vec::with_capacity(n);
        for (i, obj) in chiase_io::demo::rows(&t, n, seed).into_iter().enumerate() {
            let values = schema
                .parse_json_row(&obj, None)
                .map_err(|e| ApiError::internal(&format!("BUG: demo row {i} of {} is invalid: {e:?}", t.template)))?;
            parsed.push(ParsedRow::new(i as u64 + 1, values));
        }
        let mut w = app.store.begin_write(&permit, &ds.id, ImportMode::Replace, &caller.actor.name, Some(DEMO_SOURCE)).await?;
        let problems = w.write(&parsed).await?;
        if let Some(p) = problems.first() {
            return Err(ApiError::internal(&format!("BUG: demo rows of {} refused: {p:?}", t.template)));
        }
        let summary = w.commit().await?;
        record_change(app, caller, "demo_data", Some(&ds), ds.id.clone(), json!({ "rows": summary.inserted, "seed": seed })).await?;
        outcome.filled.push(ds.id.clone());
    }
    Ok(outcome)
}
