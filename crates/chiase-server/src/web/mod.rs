//! Web pages, rendered on the server from templates compiled into the
//! binary (askama), in Vietnamese first and English on request (`?lang=en`).
//! Dates on Vietnamese pages are dd/mm/yyyy.

mod admin;
mod agencies;
mod agency_home;
mod audit;
mod catalog;
mod catalog_admin;
mod datapackage;
mod dataset_edit;
mod dataset_new;
mod datasets;
mod dcat;
mod freshness;
mod harvest_admin;
mod notifications;
mod oidc;
mod requests;
mod schema_edit;
mod services;
mod session;
mod settings;
mod site;
mod sync;
mod tokens;
mod uploads;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(catalog::index))
        .route("/databases/{key}", get(catalog::database))
        .route("/datasets/new", get(dataset_new::show).post(dataset_new::create))
        .route("/datasets/new/propose", axum::routing::post(dataset_new::propose))
        .route("/datasets/{id}", get(datasets::dataset))
        .route("/agencies/{id}", get(agencies::agency))
        .route("/datasets/{id}/request", get(requests::show).post(requests::submit))
        .route("/datasets/{id}/upload", get(uploads::show).post(uploads::submit))
        .route("/databases/{key}/datapackage", get(datapackage::show).post(datapackage::submit))
        .route("/datasets/{id}/schema", get(schema_edit::show).post(schema_edit::submit))
        .route("/datasets/{id}/edit", get(dataset_edit::show).post(dataset_edit::submit))
        .route("/datasets/{id}/sync", get(sync::show).post(sync::submit))
        .route("/requests", get(requests::list))
        .route("/audit", get(audit::audit_log))
        .route("/my-access", get(requests::my_access))
        .route("/my-agency", get(agency_home::my_agency))
        .route("/tokens", get(tokens::show).post(tokens::submit))
        .route("/notifications", get(notifications::list))
        .route("/notifications/read", axum::routing::post(notifications::mark_read))
        .route("/requests/{id}", get(requests::detail))
        .route("/requests/{id}/{action}", axum::routing::post(requests::decide))
        .route("/admin/agencies", get(admin::agencies_page).post(admin::agencies_submit))
        .route("/admin/users", get(admin::users_show).post(admin::users_submit))
        .route("/admin/catalog", get(catalog_admin::show).post(catalog_admin::publish))
        .route("/admin/catalog/preview", axum::routing::post(catalog_admin::preview))
        .route("/admin/settings", get(settings::show).post(settings::submit))
        .route("/admin/harvest", get(harvest_admin::show).post(harvest_admin::submit))
        .route("/services", get(services::list))
        .route("/services/{id}", get(services::show))
        .route("/catalog", get(dcat::catalog_negotiated))
        .route("/catalog.ttl", get(dcat::catalog_ttl))
        .route("/catalog.jsonld", get(dcat::catalog_jsonld))
        .route("/catalog.rdf", get(dcat::catalog_rdf))
        .route("/dataset/{file}", get(dcat::dataset))
        .route("/themes", get(dcat::themes_negotiated))
        .route("/themes.ttl", get(dcat::themes_ttl))
        .route("/themes.jsonld", get(dcat::themes_jsonld))
        .route("/themes.rdf", get(dcat::themes_rdf))
        .route("/themes/{code}", get(dcat::theme))
        .route("/robots.txt", get(site::robots))
        .route("/huong-dan-khai-thac", get(site::how_to_ask))
        .route("/freshness", get(freshness::dashboard))
        .route("/sitemap.xml", get(site::sitemap))
        .route("/assets/chiase.css", get(stylesheet))
        .route("/assets/leaflet.js", get(|| asset(LEAFLET_JS, "text/javascript; charset=utf-8")))
        .route("/assets/leaflet.css", get(|| asset(LEAFLET_CSS, "text/css; charset=utf-8")))
        .route("/assets/chiase-map.js", get(|| asset(MAP_JS, "text/javascript; charset=utf-8")))
        .route("/assets/chiase-upload.js", get(|| asset(UPLOAD_JS, "text/javascript; charset=utf-8")))
        .route("/assets/outline.geojson", get(outline))
        .route("/login", get(session::show).post(session::submit))
        .route("/login/oidc", get(oidc::start))
        .route("/login/oidc/callback", get(oidc::callback))
        .route("/logout", axum::routing::post(session::logout))
        .route("/setup", get(session::setup_show).post(session::setup_submit))
}

/// The signed-in reader, as the page header shows them.
#[derive(Debug, Clone)]
pub struct Who {
    pub name: String,
    /// Requests waiting for their agency's decision (stewards).
    pub waiting: usize,
    /// An administrator (the header links the admin pages).
    pub admin: bool,
    /// Their unread notifications.
    pub unread: usize,
}

/// Chooses words by language in templates: `{{ tr.t("Tìm kiếm", "Search") }}`,
/// and carries the portal's name. A handler takes it as an extractor.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: &'static str,
    /// The portal's name (`site_name`).
    pub site: &'static str,
}

impl Tr {
    /// The language asked for: `?lang=en|vi`, else the reader's
    /// `Accept-Language` (the preferred of Vietnamese and English), else
    /// Vietnamese.
    pub fn new(site: &'static str, query: Option<&str>, accept_language: Option<&str>) -> Tr {
        let asked = query.and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "lang").map(|(_, v)| v.into_owned()));
        let en = match asked.as_deref() {
            Some("en") => true,
            Some(_) => false,
            None => accept_language.is_some_and(prefers_english),
        };
        Tr { lang: if en { "en" } else { "vi" }, site }
    }

    /// A title in the reader's language: the English one when there is one
    /// and English is asked for, else the Vietnamese.
    pub fn title(&self, vi: &str, en: Option<&str>) -> String {
        match (en, self.is_en()) {
            (Some(en), true) => en.to_string(),
            _ => vi.to_string(),
        }
    }

    /// A link to a page in the reader's language (`?lang=en` in English).
    pub fn link(&self, path: &str) -> String {
        if self.is_en() { format!("{path}?lang=en") } else { path.to_string() }
    }

    /// The other language's code, for the switch link (`?lang=`).
    pub fn other(&self) -> &'static str {
        if self.is_en() { "vi" } else { "en" }
    }

    pub fn t<'a>(&self, vi: &'a str, en: &'a str) -> &'a str {
        if self.lang == "en" { en } else { vi }
    }

    /// dd/mm/yyyy in Vietnamese, ISO 8601 in English.
    pub fn date(&self, d: &NaiveDate) -> String {
        if self.lang == "en" { d.format("%Y-%m-%d").to_string() } else { d.format("%d/%m/%Y").to_string() }
    }

    pub fn is_en(&self) -> bool {
        self.lang == "en"
    }
}

/// Whether an `Accept-Language` header ranks English above Vietnamese
/// (quality values honoured; neither named: Vietnamese).
fn prefers_english(header: &str) -> bool {
    let rank = |want: &str| {
        header
            .split(',')
            .filter_map(|part| {
                let mut bits = part.split(';');
                let tag = bits.next()?.trim().to_ascii_lowercase();
                let q = bits.find_map(|b| b.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
                (tag == want || tag.starts_with(&format!("{want}-"))).then_some(q)
            })
            .fold(None, |best: Option<f32>, q| Some(best.map_or(q, |b| b.max(q))))
    };
    match (rank("en"), rank("vi")) {
        (Some(en), Some(vi)) => en > vi,
        (Some(en), None) => en > 0.0,
        _ => false,
    }
}

impl axum::extract::FromRequestParts<AppState> for Tr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, app: &AppState) -> Result<Tr, Self::Rejection> {
        let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        Ok(Tr::new(app.site_name(), parts.uri.query(), accept))
    }
}

/// Where the reader reached this server, for links outside a page (API examples, the sitemap): the Host
/// they asked for (the scheme a proxy says it served, else http).
pub(crate) fn origin(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).filter(|h| !h.is_empty() && !h.contains(['/', ' ', '\'', '"']));
    let scheme = match headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{}", host.unwrap_or("127.0.0.1:8080"))
}

/// The signed-in caller of a form post: the form carries the session's
/// anti-forgery token in a field, checked by the same extractor as the
/// API's `X-CSRF-Token` header.
pub(crate) async fn form_caller(app: &AppState, parts: &mut axum::http::request::Parts, csrf: &str) -> Result<Caller, ApiError> {
    use axum::extract::FromRequestParts;
    if let Ok(v) = axum::http::HeaderValue::from_str(csrf) {
        parts.headers.insert("x-csrf-token", v);
    }
    Caller::from_request_parts(parts, app).await
}

/// A form post of the portal (`application/x-www-form-urlencoded`, at most
/// `limit` bytes): its fields, trimmed but for passwords, and the caller,
/// once the form's `csrf` field matches the session's.
pub(crate) async fn read_form(
    app: &AppState,
    tr: Tr,
    request: axum::extract::Request,
    limit: usize,
) -> Result<(Caller, Vec<(String, String)>), Response> {
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return Err(catalog::error_page(tr, ApiError::too_large(limit)));
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes)
        .map(|(k, v)| {
            let v = if k == "password" { v.into_owned() } else { v.trim().to_string() };
            (k.into_owned(), v)
        })
        .collect();
    match form_caller(app, &mut parts, field(&form, "csrf").unwrap_or_default()).await {
        Ok(c) => Ok((c, form)),
        Err(e) => Err(catalog::error_page(tr, e)),
    }
}

/// A form field's value; `None` when absent or empty.
pub(crate) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// A multipart form post of the portal (an upload): its text parts and its
/// file (absent when `file_required` is false and none was sent), and the
/// caller, once the `csrf` part, sent before the file, matches the session's.
pub(crate) async fn read_upload(
    app: &AppState,
    tr: Tr,
    request: axum::extract::Request,
    file_required: bool,
) -> Result<(Caller, crate::api::records::Upload), Response> {
    let (mut parts, body) = request.into_parts();
    let sent = if file_required {
        crate::api::records::upload(&parts.uri, &parts.headers, body).await
    } else {
        crate::api::records::form_with_optional_file(&parts.uri, &parts.headers, body).await
    };
    let sent = sent.map_err(|e| catalog::error_page(tr, e))?;
    let csrf = sent_value(&sent.pairs, "csrf");
    match form_caller(app, &mut parts, &csrf).await {
        Ok(c) => Ok((c, sent)),
        Err(e) => Err(catalog::error_page(tr, e)),
    }
}

/// The last value of a text part of an upload form, trimmed (empty when absent).
pub(crate) fn sent_value(pairs: &[(String, String)], name: &str) -> String {
    pairs.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.trim().to_string()).unwrap_or_default()
}

/// Builds a query string from pairs, skipping empty values.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    let s = s.finish();
    if s.is_empty() { String::new() } else { format!("?{s}") }
}

const STYLESHEET: &str = include_str!("../../assets/chiase.css");

/// Leaflet, vendored (assets/vendor/README.md), and the script that draws a
/// dataset's map with it.
const LEAFLET_JS: &str = include_str!("../../assets/vendor/leaflet-1.9.4/leaflet.js");
const LEAFLET_CSS: &str = include_str!("../../assets/vendor/leaflet-1.9.4/leaflet.css");
const MAP_JS: &str = include_str!("../../assets/chiase-map.js");
/// The upload form's progress bar.
const UPLOAD_JS: &str = include_str!("../../assets/chiase-upload.js");

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// The province's outline (`map_outline`), or 404 when none is configured.
async fn outline(axum::extract::State(app): axum::extract::State<AppState>, tr: Tr, uri: Uri) -> Response {
    match &app.map_outline {
        Some(g) => ([(header::CONTENT_TYPE, "application/geo+json"), (header::CACHE_CONTROL, "public, max-age=3600")], g.to_string())
            .into_response(),
        None => not_found(tr, uri).await,
    }
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLESHEET).into_response()
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    tr: Tr,
    who: Option<Who>,
    session_csrf: String,
    path: String,
}

/// The 404 page for paths outside the API.
pub async fn not_found(tr: Tr, uri: Uri) -> Response {
    let page = NotFoundPage { tr, who: None, session_csrf: String::new(), path: uri.path().to_string() };
    (StatusCode::NOT_FOUND, page).into_response()
}

/// A moment as people here read it: dd/mm/yyyy hh:mm, Vietnam time.
pub(crate) fn when(tr: Tr, t: chrono::DateTime<chrono::Utc>) -> String {
    let local = t + chrono::Duration::hours(7);
    format!("{} {}", tr.date(&local.date_naive()), local.format("%H:%M"))
}

/// How often a scheduled job runs, in words (`None`: by hand).
pub(crate) fn period(tr: Tr, secs: Option<i64>) -> String {
    match secs {
        None => tr.t("khi bấm chạy", "when run by hand").to_string(),
        Some(s) if s % 86_400 == 0 => format!("{} {}", s / 86_400, tr.t("ngày", "day(s)")),
        Some(s) if s % 3600 == 0 => format!("{} {}", s / 3600, tr.t("giờ", "hour(s)")),
        Some(s) => format!("{} {}", s / 60, tr.t("phút", "minutes")),
    }
}
