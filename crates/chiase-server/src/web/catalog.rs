//! The catalog pages: `/` lists and searches the catalog with facet links;
//! `/databases/{key}` shows one database as the decision published it.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chiase_core::catalog::Cadence;
use chiase_core::sharing::SharingMode;
use chiase_store::databases::{DatabaseDetail, DatabaseKey, DatabaseQuery, MatchMode};

use super::{Tr, query_string};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::catalog_query;
use crate::state::AppState;
use crate::usecase::catalog::find_database;

/// The signed-in reader for the page header: their name, the session's
/// anti-forgery token, and the requests their agency must decide.
pub(super) async fn who(app: &AppState, caller: Option<&Caller>) -> (Option<super::Who>, String) {
    let Some((c, user)) = caller.and_then(|c| c.user.as_ref().map(|u| (c, u))) else { return (None, String::new()) };
    // Only stewards have a box to decide; for others the listing is refused and the count is none.
    let waiting = crate::usecase::requests::list(
        app,
        c,
        chiase_core::policy::RequestBox::ToDecide,
        Some(chiase_core::requests::RequestStatus::Pending),
    )
    .await
    .map(|l| l.len())
    .unwrap_or(0);
    let admin = chiase_core::policy::decide_agency_admin(&c.subject).is_ok();
    // One indexed count.
    let unread = app.store.unread_notifications(user.pk).await.map(|n| n.max(0) as usize).unwrap_or(0);
    (Some(super::Who { name: user.display_name.clone(), waiting, admin, unread }), c.csrf.clone().unwrap_or_default())
}
use crate::extract::ApiPath;
use crate::params::Params;

const PAGE_SIZE: i64 = 20;

struct FacetView {
    title: &'static str,
    values: Vec<FacetLink>,
}

struct FacetLink {
    label: String,
    count: i64,
    href: String,
    selected: bool,
}

struct ResultView {
    href: String,
    no: String,
    name: String,
    owner: String,
    modes: Vec<(&'static str, &'static str)>,
    cadence: &'static str,
    summary: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "catalog.html")]
struct CatalogPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    q: String,
    count: i64,
    any_words: bool,
    results: Vec<ResultView>,
    facets: Vec<FacetView>,
    filters_active: bool,
    clear_href: String,
    prev_href: Option<String>,
    next_href: Option<String>,
    first: i64,
    last: i64,
    lang_href: String,
    version: Option<String>,
    hidden: Vec<(String, String)>,
    /// On the unfiltered home page: open datasets, most recently updated
    /// first (link, title, owner, date).
    recent: Vec<(String, String, String, String)>,
}

/// Datasets shown as recently updated on the home page.
const RECENT: usize = 5;

/// The current filters as query pairs, for links that change one of them.
fn pairs(query: &DatabaseQuery, lang: &str) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = vec![("q", query.q.clone().unwrap_or_default())];
    v.extend(query.agencies.iter().map(|a| ("agency", a.clone())));
    v.extend(query.sharing.iter().map(|m| ("sharing", m.code().to_string())));
    v.extend(query.cadences.iter().map(|c| ("cadence", c.code().to_string())));
    if lang == "en" {
        v.push(("lang", "en".into()));
    }
    v
}

fn toggled(query: &DatabaseQuery, lang: &str, key: &'static str, value: &str) -> (String, bool) {
    let mut p = pairs(query, lang);
    let selected = p.iter().any(|(k, v)| *k == key && v == value);
    if selected {
        p.retain(|(k, v)| !(*k == key && v == value));
    } else {
        p.push((key, value.to_string()));
    }
    (format!("/{}", query_string(&p)), selected)
}

pub async fn index(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, uri: Uri) -> Result<Response, Response> {
    let p = Params::parse(uri.query(), &["q", "agency", "sharing", "cadence", "offset", "lang"]).map_err(|e| error_page(tr, e))?;
    let mut query = catalog_query(&p, PAGE_SIZE).map_err(|e| error_page(tr, e))?;
    query.limit = PAGE_SIZE;
    let page = app.store.search_databases(&query).await.map_err(|e| error_page(tr, e.into()))?;
    let lang = tr.lang;

    let results = page
        .results
        .iter()
        .map(|r| ResultView {
            href: format!("/databases/{}{}", r.id, if lang == "en" { "?lang=en" } else { "" }),
            no: r.no.map(|n| n.to_string()).unwrap_or_default(),
            name: r.name.clone(),
            owner: r.owner.name.clone(),
            modes: r.sharing_modes.iter().map(|m| (m.code(), m.label(lang))).collect(),
            cadence: r.cadence.label(lang),
            summary: r.summary.clone(),
        })
        .collect();
    let link = |key: &'static str, value: &str, label: String, count: i64| {
        let (href, selected) = toggled(&query, lang, key, value);
        FacetLink { label, count, href, selected }
    };
    let facets = vec![
        FacetView {
            title: tr.t("Hình thức chia sẻ", "Sharing"),
            values: page
                .facets
                .sharing
                .iter()
                .map(|f| link("sharing", &f.value, label_of::<SharingMode>(&f.value, lang), f.count))
                .collect(),
        },
        FacetView {
            title: tr.t("Cơ quan chủ quản", "Owner agency"),
            values: page.facets.agency.iter().map(|f| link("agency", &f.value, f.label.clone(), f.count)).collect(),
        },
        FacetView {
            title: tr.t("Tần suất cập nhật", "Update cadence"),
            values: page.facets.cadence.iter().map(|f| link("cadence", &f.value, label_of::<Cadence>(&f.value, lang), f.count)).collect(),
        },
    ];
    let base = pairs(&query, lang);
    let at = |offset: i64| {
        let mut p = base.clone();
        if offset > 0 {
            p.push(("offset", offset.to_string()));
        }
        format!("/{}", query_string(&p))
    };
    let mut lang_pairs: Vec<(&str, String)> = base.iter().filter(|(k, _)| *k != "lang").cloned().collect();
    lang_pairs.push(("lang", tr.other().into()));
    let versions = app.store.catalog_versions().await.map_err(|e| error_page(tr, e.into()))?;
    let version = versions.last().map(|v| format!("{} {} {}", v.decision_no, tr.t("ngày", "of"), tr.date(&v.decision_date)));
    let hidden = base.iter().filter(|(k, _)| *k != "q").map(|(k, v)| (k.to_string(), v.clone())).collect();
    let filters_active = !(query.agencies.is_empty() && query.sharing.is_empty() && query.cadences.is_empty() && query.q.is_none());
    let (who, session_csrf) = who(&app, caller.as_ref().ok()).await;
    let recent = if filters_active || query.offset > 0 {
        Vec::new()
    } else {
        let mut open = crate::usecase::datasets::list(&app, &Caller::anonymous(None), None).await.map_err(|e| error_page(tr, e))?;
        open.retain(|l| l.activity.is_some());
        open.sort_by_key(|l| std::cmp::Reverse(l.activity.as_ref().and_then(|a| a.data_updated_at)));
        open.into_iter()
            .take(RECENT)
            .map(|l| {
                let d = &l.dataset;
                let updated = l.activity.as_ref().and_then(|a| a.data_updated_at).map(|t| tr.date(&t.date_naive())).unwrap_or_default();
                (tr.link(&format!("/datasets/{}", d.id)), tr.title(&d.title, d.title_en.as_deref()), d.owner.name.clone(), updated)
            })
            .collect()
    };
    let page = CatalogPage {
        recent,
        tr,
        who,
        session_csrf,
        q: query.q.clone().unwrap_or_default(),
        count: page.count,
        any_words: page.matched == Some(MatchMode::Any),
        results,
        facets,
        filters_active,
        clear_href: if lang == "en" { "/?lang=en".into() } else { "/".into() },
        prev_href: (query.offset > 0).then(|| at((query.offset - PAGE_SIZE).max(0))),
        next_href: (query.offset + PAGE_SIZE < page.count).then(|| at(query.offset + PAGE_SIZE)),
        first: if page.count == 0 { 0 } else { query.offset + 1 },
        last: (query.offset + PAGE_SIZE).min(page.count),
        lang_href: format!("/{}", query_string(&lang_pairs)),
        version,
        hidden,
    };
    Ok(page.into_response())
}

fn label_of<T: std::str::FromStr + Labelled>(v: &str, lang: &str) -> String {
    v.parse::<T>().map(|x| x.label_in(lang).to_string()).unwrap_or_else(|_| v.to_string())
}

trait Labelled {
    fn label_in(&self, lang: &str) -> &'static str;
}
impl Labelled for SharingMode {
    fn label_in(&self, lang: &str) -> &'static str {
        self.label(lang)
    }
}
impl Labelled for Cadence {
    fn label_in(&self, lang: &str) -> &'static str {
        self.label(lang)
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "database.html")]
struct DatabasePage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    d: DatabaseDetail,
    modes: Vec<(&'static str, &'static str)>,
    channels: Vec<&'static str>,
    lang_href: String,
    back_href: String,
    datasets: Vec<HostedView>,
    /// Its DCAT description, `/dataset/{id}` (`.ttl`, `.jsonld`, `.rdf`).
    dcat_href: String,
}

/// A dataset the database holds, as its page lists it.
struct HostedView {
    href: String,
    title: String,
    mode_code: &'static str,
    mode: &'static str,
    /// Rows and last update, for a reader who may read them.
    rows: Option<i64>,
    updated: Option<String>,
}

pub async fn database(
    State(app): State<AppState>,
    tr: Tr,
    caller: Result<Caller, ApiError>,
    ApiPath(key): ApiPath<String>,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Result<Response, Response> {
    Params::parse(uri.query(), &["lang"]).map_err(|e| error_page(tr, e))?;
    if let Some(rdf) = super::dcat::negotiated(&app, &headers, &key).await {
        return Ok(rdf);
    }
    let d = find_database(&app, &key).await.map_err(|e| error_page(tr, e))?;
    let lang = tr.lang;
    let (who, session_csrf) = who(&app, caller.as_ref().ok()).await;
    let viewer = caller.unwrap_or_else(|_| Caller::anonymous(None));
    let hosted =
        crate::usecase::datasets::list(&app, &viewer, Some(&DatabaseKey::Id(d.id.clone()))).await.map_err(|e| error_page(tr, e))?;
    let datasets = hosted
        .iter()
        .map(|l| HostedView {
            href: tr.link(&format!("/datasets/{}", l.dataset.id)),
            title: tr.title(&l.dataset.title, l.dataset.title_en.as_deref()),
            mode_code: l.dataset.sharing_mode.code(),
            mode: l.dataset.sharing_mode.label(lang),
            rows: l.activity.as_ref().map(|a| a.row_count),
            updated: l.activity.as_ref().and_then(|a| a.data_updated_at).map(|t| tr.date(&t.date_naive())),
        })
        .collect();
    let page = DatabasePage {
        tr,
        who,
        session_csrf,
        modes: d.sharing_modes.iter().map(|m| (m.code(), m.label(lang))).collect(),
        channels: d.fields.channels.iter().map(|c| c.label(lang)).collect(),
        lang_href: format!("/databases/{}?lang={}", d.id, tr.other()),
        back_href: if lang == "en" { "/?lang=en".into() } else { "/".into() },
        dcat_href: format!("/dataset/{}", d.id),
        d,
        datasets,
    };
    Ok(super::dcat::vary_accept(page.into_response()))
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    status: u16,
    message: String,
}

/// An API error shown as a page in the reader's language.
pub(super) fn error_page(tr: Tr, e: ApiError) -> Response {
    let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status };
    let message = if tr.is_en() { e.msg.en.clone() } else { e.msg.vi.clone() };
    (status, ErrorPage { tr, who: None, session_csrf: String::new(), status: status.as_u16(), message }).into_response()
}
