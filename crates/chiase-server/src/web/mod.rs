//! Web pages, rendered on the server from templates compiled into the
//! binary (askama), in Vietnamese first and English on request (`?lang=en`).
//! Dates on Vietnamese pages are dd/mm/yyyy.

mod catalog;
mod session;

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(catalog::index))
        .route("/databases/{key}", get(catalog::database))
        .route("/assets/chiase.css", get(stylesheet))
        .route("/login", get(session::show).post(session::submit))
        .route("/logout", axum::routing::post(session::logout))
        .route("/setup", get(session::setup_show).post(session::setup_submit))
}

/// Chooses words by language in templates: `{{ tr.t("Tìm kiếm", "Search") }}`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: &'static str,
}

impl Tr {
    pub fn from_query(query: Option<&str>) -> Tr {
        let en = query.is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "lang" && v == "en"));
        Tr { lang: if en { "en" } else { "vi" } }
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

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLESHEET).into_response()
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    tr: Tr,
    who: Option<String>,
    session_csrf: String,
    path: String,
}

/// The 404 page for paths outside the API.
pub async fn not_found(uri: Uri) -> Response {
    let page = NotFoundPage { tr: Tr::from_query(uri.query()), who: None, session_csrf: String::new(), path: uri.path().to_string() };
    (StatusCode::NOT_FOUND, page).into_response()
}
