//! `/api/v1/databases`: the catalog, searchable and faceted, and each
//! database with its verbatim and derived fields and ownership history.
//! Catalog descriptions are public by law, so these routes need no account.

use axum::extract::State;
use axum::http::Uri;
use axum::routing::get;
use axum::{Json, Router};
use chiase_core::catalog::Cadence;
use chiase_core::sharing::SharingMode;
use chiase_store::databases::{DatabaseDetail, DatabasePage, DatabaseQuery};
use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::params::Params;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/databases", get(list)).route("/api/v1/databases/{key}", get(show))
}

async fn list(State(app): State<AppState>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["q", "agency", "sharing", "cadence", "limit", "offset", "lang"])?;
    let lang = p.lang()?;
    let query = crate::params::catalog_query(&p, 20)?;
    let page = app.store.search_databases(&query).await?;
    Ok(Json(page_json(&page, &query, lang)))
}

/// The list response: `{count, limit, offset, results, facets, matched}`.
pub fn page_json(page: &DatabasePage, query: &DatabaseQuery, lang: &str) -> Value {
    let label_sharing = |v: &str| v.parse::<SharingMode>().map(|m| m.label(lang).to_string()).unwrap_or_else(|_| v.to_string());
    let label_cadence = |v: &str| v.parse::<Cadence>().map(|c| c.label(lang).to_string()).unwrap_or_else(|_| v.to_string());
    json!({
        "count": page.count,
        "limit": query.limit,
        "offset": query.offset,
        "matched": page.matched,
        "results": page.results,
        "facets": {
            "agency": page.facets.agency,
            "sharing": page.facets.sharing.iter().map(|f| json!({ "value": f.value, "label": label_sharing(&f.value), "count": f.count })).collect::<Vec<_>>(),
            "cadence": page.facets.cadence.iter().map(|f| json!({ "value": f.value, "label": label_cadence(&f.value), "count": f.count })).collect::<Vec<_>>(),
        }
    })
}

async fn show(State(app): State<AppState>, ApiPath(key): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(uri.query(), &["as_of", "lang"])?;
    let lang = p.lang()?;
    let as_of = p.date("as_of")?;
    let detail = crate::usecase::catalog::find_database(&app, &key).await?;
    Ok(Json(detail_json(&detail, as_of, lang)))
}

/// The owner on a date, from the ownership history (`None` before the
/// first decision that listed the database).
pub fn owner_on(detail: &DatabaseDetail, on: NaiveDate) -> Option<&chiase_store::agencies::AgencyRef> {
    detail.owner_history.iter().find(|s| s.valid_from <= on && s.valid_to.is_none_or(|t| on < t)).map(|s| &s.agency)
}

/// The detail response: verbatim cells, derived fields, labels in `lang`.
pub fn detail_json(d: &DatabaseDetail, as_of: Option<NaiveDate>, lang: &str) -> Value {
    let f = &d.fields;
    let mut v = json!({
        "id": d.id,
        "no": d.no,
        "name": d.name,
        "status": d.status,
        "owner": d.owner,
        "owner_history": d.owner_history,
        "sharing_modes": d.sharing_modes,
        "sharing": d.sharing_modes.iter().map(|m| json!({ "mode": m, "label": m.label(lang) })).collect::<Vec<_>>(),
        "sharing_scopes": f.sharing.scopes,
        "sharing_derivation": f.sharing.basis,
        "terms_of_use": f.sharing.terms_of_use,
        "cadence": d.cadence,
        "cadence_label": d.cadence.label(lang),
        "channels": f.channels.iter().map(|c| json!({ "code": c.code(), "label": c.label(lang) })).collect::<Vec<_>>(),
        "description": f.description,
        "description_text": f.description.plain(),
        "mechanism": f.mechanism,
        "mechanism_text": f.mechanism.plain(),
        "category": f.category,
        "notes": f.notes,
        "verbatim": {
            "no": d.verbatim.no,
            "name": d.verbatim.name,
            "owner": d.verbatim.owner,
            "description": d.verbatim.description,
            "mechanism": d.verbatim.mechanism,
            "category": d.verbatim.category,
            "notes": d.verbatim.notes,
            "line": d.verbatim.line,
        },
        "version": d.version,
        "listed_in": d.listed_in,
    });
    if let Some(date) = as_of {
        v["owner_as_of"] = json!({ "date": date, "owner": owner_on(d, date) });
    }
    v
}
