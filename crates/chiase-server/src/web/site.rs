//! `robots.txt` and `sitemap.xml`: search engines index the catalog's
//! pages and the open datasets' pages, not the API, exports or sign-in.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chiase_store::databases::DatabaseQuery;

use crate::auth::Caller;
use crate::state::AppState;
use crate::usecase::datasets;

use super::origin;

/// Pages crawlers are kept from: the API (exports are heavy and the same
/// rows are on the dataset pages), sign-in and set-up.
pub async fn robots(headers: HeaderMap) -> Response {
    let body = format!(
        "User-agent: *\nAllow: /\nDisallow: /api/\nDisallow: /login\nDisallow: /logout\nDisallow: /setup\n\nSitemap: {}/sitemap.xml\n",
        origin(&headers)
    );
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "how_to_ask.html")]
struct HowToAsk {
    tr: super::Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    deadline_days: i64,
    max_days: i64,
}

/// `/huong-dan-khai-thac`: how to ask for data, in plain words, with the
/// deadlines this installation is configured with.
pub async fn how_to_ask(State(app): State<AppState>, tr: super::Tr, caller: Result<Caller, crate::error::ApiError>) -> Response {
    let (who, session_csrf) = super::catalog::who(&app, caller.as_ref().ok()).await;
    let page = HowToAsk {
        tr,
        who,
        session_csrf,
        lang_href: format!("/huong-dan-khai-thac?lang={}", tr.other()),
        deadline_days: app.config.request_deadline_days,
        max_days: app.config.max_grant_days,
    };
    page.into_response()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// The home page, every database of the catalog and every dataset anyone
/// may read, with the date its data last changed.
pub async fn sitemap(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let base = origin(&headers);
    let query = DatabaseQuery { limit: 10_000, ..Default::default() };
    let (page, listed) = match (app.store.search_databases(&query).await, datasets::list(&app, &Caller::anonymous(None), None).await) {
        (Ok(p), Ok(l)) => (p, l),
        (Err(e), _) => return crate::error::ApiError::from(e).into_response(),
        (_, Err(e)) => return e.into_response(),
    };
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    let mut url = |path: String, lastmod: Option<String>| {
        out.push_str(&format!("  <url><loc>{}</loc>", xml_escape(&format!("{base}{path}"))));
        if let Some(d) = lastmod {
            out.push_str(&format!("<lastmod>{d}</lastmod>"));
        }
        out.push_str("</url>\n");
    };
    url("/".into(), None);
    for d in &page.results {
        url(format!("/databases/{}", d.id), None);
    }
    for l in listed.iter().filter(|l| l.activity.is_some()) {
        let lastmod = l.activity.as_ref().and_then(|a| a.data_updated_at).map(|t| t.format("%Y-%m-%d").to_string());
        url(format!("/datasets/{}", l.dataset.id), lastmod);
    }
    out.push_str("</urlset>\n");
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], out).into_response()
}
