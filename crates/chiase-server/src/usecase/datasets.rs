//! Hosted datasets: listing them (the description is public like the
//! catalog; how many rows and when they changed only for those who may read
//! them), creating one, changing its description or its schema, and
//! proposing a schema from a sample file.

use std::io::Read;

use chiase_core::catalog::Cadence;
use chiase_core::policy::{decide_create_dataset, decide_edit_dataset, decide_read, decide_schema_change};
use chiase_core::schema::SchemaSpec;
use chiase_core::sharing::SharingMode;
use chiase_io::tabular::{ReadOptions, RecordReader};
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::{Activity, Dataset, DatasetChanges, NewDataset};
use serde_json::json;

use super::{find_dataset, record_change};
use crate::auth::Caller;
use crate::error::{ApiError, file_error};
use crate::state::AppState;

/// A dataset in a listing, with its activity when the caller may read its
/// rows (otherwise withheld: it tells how much restricted data there is and
/// when it moves).
pub struct Listed {
    pub dataset: Dataset,
    pub activity: Option<Activity>,
}

/// Every dataset (or those of one catalog entry), each marked readable or
/// not for the caller.
pub async fn list(app: &AppState, caller: &Caller, database: Option<&DatabaseKey>) -> Result<Vec<Listed>, ApiError> {
    let datasets = app.store.datasets(database).await?;
    let grants = match caller.subject.state_agency() {
        Some(a) => app.store.grants_of(a).await?,
        None => vec![],
    };
    let now = chrono::Utc::now();
    Ok(datasets
        .into_iter()
        .map(|ds| {
            let activity = decide_read(&caller.subject, &ds.facts(), now, &grants).ok().and_then(|p| ds.activity(&p).ok());
            Listed { dataset: ds, activity }
        })
        .collect())
}

/// One dataset, marked readable or not for the caller.
pub async fn show(app: &AppState, caller: &Caller, id: &str) -> Result<Listed, ApiError> {
    let ds = find_dataset(app, id).await?;
    let activity = super::read_permit(app, caller, &ds).await.ok().and_then(|p| ds.activity(&p).ok());
    Ok(Listed { dataset: ds, activity })
}

/// What a steward gives to create a dataset.
pub struct CreateDataset {
    pub id: String,
    pub database: DatabaseKey,
    pub title: String,
    pub title_en: Option<String>,
    pub description: String,
    pub licence: Option<String>,
    pub sharing_mode: SharingMode,
    pub cadence: Option<Cadence>,
    pub schema: SchemaSpec,
    pub template: Option<String>,
    pub synthetic: bool,
}

/// Creates a dataset in a catalog database (stewards of its owner).
pub async fn create(app: &AppState, caller: &Caller, c: CreateDataset) -> Result<Dataset, ApiError> {
    let owner = app.store.database_owner(&c.database).await?;
    let permit = decide_create_dataset(&caller.subject, owner)?;
    let cadence = match c.cadence {
        Some(c) => c,
        None => app.store.database(&c.database).await?.map(|d| d.cadence).unwrap_or(Cadence::Unspecified),
    };
    let new = NewDataset {
        slug: c.id,
        database: c.database,
        title: c.title,
        title_en: c.title_en,
        description: c.description,
        licence: c.licence,
        sharing_mode: c.sharing_mode,
        cadence,
        schema: c.schema,
        template: c.template,
        synthetic: c.synthetic,
    };
    let ds = app.store.create_dataset(&permit, &new, &caller.actor.name).await?;
    record_change(
        app,
        caller,
        "dataset_created",
        Some(&ds),
        ds.id.clone(),
        json!({ "sharing_mode": ds.sharing_mode, "fields": ds.schema.fields.len(), "template": ds.template, "synthetic": ds.synthetic }),
    )
    .await?;
    Ok(ds)
}

/// Changes a dataset's schema (stewards of its owner).
pub async fn change_schema(app: &AppState, caller: &Caller, id: &str, spec: SchemaSpec) -> Result<Dataset, ApiError> {
    let ds = find_dataset(app, id).await?;
    let permit = decide_schema_change(&caller.subject, &ds.facts())?;
    let ds = app.store.change_schema(&permit, id, spec, &caller.actor.name).await?;
    record_change(app, caller, "schema_changed", Some(&ds), ds.id.clone(), json!({ "schema_version": ds.schema_version })).await?;
    Ok(ds)
}

/// Changes what describes a dataset: titles, description, licence, cadence,
/// sharing mode and theme (stewards of its owner; the mode among those the
/// catalog gives its database). A value that cannot be stored is a 400.
/// The audit event `dataset_updated` names each changed field with its
/// value before and after; a change that changes nothing records nothing.
pub async fn update(app: &AppState, caller: &Caller, id: &str, changes: DatasetChanges) -> Result<Dataset, ApiError> {
    let ds = find_dataset(app, id).await?;
    let permit = decide_edit_dataset(&caller.subject, &ds.facts())?;
    let done = app.store.update_dataset(&permit, id, &changes, &caller.actor.name).await.map_err(|e| bad_value(e.into()))?;
    let (b, a) = (&done.before, &done.after);
    let mut changed = serde_json::Map::new();
    let mut note = |field: &str, before: serde_json::Value, after: serde_json::Value| {
        if before != after {
            changed.insert(field.to_string(), json!({ "from": before, "to": after }));
        }
    };
    note("title", json!(b.title), json!(a.title));
    note("title_en", json!(b.title_en), json!(a.title_en));
    note("description", json!(b.description), json!(a.description));
    note("licence", json!(b.licence), json!(a.licence));
    note("cadence", json!(b.cadence), json!(a.cadence));
    note("sharing_mode", json!(b.sharing_mode), json!(a.sharing_mode));
    note("theme", json!(b.theme), json!(a.theme));
    if !changed.is_empty() {
        record_change(app, caller, "dataset_updated", Some(a), a.id.clone(), json!({ "changes": changed })).await?;
    }
    Ok(done.after)
}

/// A value the store refused (422) is a bad request here: what was sent
/// cannot describe a dataset.
fn bad_value(mut e: ApiError) -> ApiError {
    if e.status == axum::http::StatusCode::UNPROCESSABLE_ENTITY {
        e.status = axum::http::StatusCode::BAD_REQUEST;
    }
    e
}

/// Proposes a schema from a sample (no data is kept, no permit needed).
/// Runs on a blocking thread: it parses a file.
pub async fn infer(
    source: Box<dyn Read + Send>,
    name: Option<String>,
    content_type: Option<String>,
    options: ReadOptions,
    sample: usize,
) -> Result<chiase_io::infer::Proposal, ApiError> {
    tokio::task::spawn_blocking(move || {
        let reader = RecordReader::open(source, name.as_deref(), content_type.as_deref(), &options).map_err(file_error)?;
        chiase_io::infer::infer(reader, sample).map_err(file_error)
    })
    .await
    .map_err(|e| ApiError::internal(&format!("schema inference stopped: {e}")))?
}
