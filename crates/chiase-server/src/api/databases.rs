//! `/api/v1/databases`: the catalog, searchable and faceted, and each
//! database with its verbatim and derived fields and ownership history.
//! Catalog descriptions are public by law, so these routes need no account.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use chiase_core::catalog::Cadence;
use chiase_core::sharing::SharingMode;
use chiase_store::databases::{DatabaseDetail, DatabaseKey, DatabasePage, DatabaseQuery};
use chrono::NaiveDate;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{PublicErrors, ReadErrors};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::params::{Lang, Params};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(show))
}

/// The parameters of a catalog search (the web page takes the same).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchQuery {
    /// Words to find in names, descriptions and agencies, with or without
    /// diacritics ("dat dai" finds "đất đai").
    q: Option<String>,
    /// Owner agency ids (repeat the parameter or separate with commas).
    #[param(style = Form, explode)]
    agency: Option<Vec<String>>,
    /// Sharing modes (repeat the parameter or separate with commas).
    #[param(style = Form, explode, inline)]
    sharing: Option<Vec<SharingMode>>,
    /// Update cadences (repeat the parameter or separate with commas).
    #[param(style = Form, explode, inline)]
    cadence: Option<Vec<Cadence>>,
    /// Results per page.
    #[param(minimum = 1, maximum = 500, default = 20)]
    limit: Option<i64>,
    #[param(minimum = 0, maximum = 1000000, default = 0)]
    offset: Option<i64>,
    /// The language of labels.
    #[param(inline)]
    lang: Option<Lang>,
}

/// Search the catalog, with facets by owner agency, sharing mode and cadence.
#[utoipa::path(
    get,
    path = "/api/v1/databases",
    tag = "databases",
    operation_id = "databases_list",
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of results with facet counts over every match.", body = super::schemas::DatabasePage),
        PublicErrors,
    ),
)]
async fn list(State(app): State<AppState>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse_as::<SearchQuery>(uri.query())?;
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

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ShowQuery {
    /// Also say who owned it on this date (`YYYY-MM-DD` or `dd/mm/yyyy`).
    as_of: Option<String>,
    /// The language of labels.
    #[param(inline)]
    lang: Option<Lang>,
}

/// One database: its text as the decision published it, the fields derived
/// from it, its ownership history, and the datasets it holds (each marked
/// readable or not for the caller, as in `/api/v1/datasets`).
#[utoipa::path(
    get,
    path = "/api/v1/databases/{key}",
    tag = "databases",
    operation_id = "databases_show",
    params(("key" = String, Path, description = "Its number in the current decision, or its id."), ShowQuery),
    security((), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The database.", body = super::schemas::DatabaseDetail),
        ReadErrors,
    ),
)]
async fn show(State(app): State<AppState>, caller: Caller, ApiPath(key): ApiPath<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let p = Params::parse_as::<ShowQuery>(uri.query())?;
    let lang = p.lang()?;
    let as_of = p.date("as_of")?;
    let detail = crate::usecase::catalog::find_database(&app, &key).await?;
    let datasets = crate::usecase::datasets::list(&app, &caller, Some(&DatabaseKey::Id(detail.id.clone()))).await?;
    let mut v = detail_json(&detail, as_of, lang);
    v["datasets"] = Value::Array(datasets.iter().map(super::render::dataset_json).collect());
    Ok(Json(v))
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
