//! DCAT over HTTP (docs/dcat.md): `/catalog.{ttl,jsonld,rdf}` (paged with
//! Hydra, `?page=N`, `?modified_since=`), `/dataset/{id}.{ttl,jsonld,rdf}`,
//! `/themes.{ttl,jsonld,rdf}`, the same without an extension by
//! content negotiation (Turtle unless `Accept` asks for another), and the
//! RDF answer of the database and dataset pages when `Accept` prefers it
//! ([`negotiated`]). The graphs are built in `usecase::dcat`; errors are
//! JSON in both languages, as the API's.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::origin;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::params::Params;
use crate::state::AppState;
use crate::usecase::dcat::{self, Base, CatalogQuery, Graph, RdfFormat};

/// A graph as the response body, with its media type.
fn rdf_response(graph: &Graph, format: RdfFormat) -> Result<Response, ApiError> {
    let body = graph.write(format)?;
    let content_type = format!("{}; charset=utf-8", format.media_type());
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("text/turtle")));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    Ok(resp)
}

/// The format an `Accept` header asks for, Turtle when it names none.
fn accepted(headers: &HeaderMap) -> RdfFormat {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).and_then(RdfFormat::negotiate).unwrap_or(RdfFormat::Turtle)
}

/// `name.ext` split into the name and a known RDF format.
fn split_format(file: &str) -> Option<(&str, RdfFormat)> {
    let (name, ext) = file.rsplit_once('.')?;
    RdfFormat::from_extension(ext).map(|f| (name, f))
}

fn unknown_format(ext: &str) -> ApiError {
    let shown: String = ext.chars().take(20).collect();
    ApiError::not_found(
        format!("không có định dạng «{shown}»: dùng .ttl, .jsonld hoặc .rdf"),
        format!("no format «{shown}»: use .ttl, .jsonld or .rdf"),
    )
}

async fn catalog_as(app: &AppState, uri: &Uri, headers: &HeaderMap, format: RdfFormat) -> Result<Response, ApiError> {
    let p = Params::parse(uri.query(), &["page", "modified_since"])?;
    let q = CatalogQuery::parse(p.one("page")?, p.one("modified_since")?)?;
    let base = Base::new(app, &origin(headers))?;
    rdf_response(&dcat::catalog_page(app, &base, &q).await?, format)
}

/// `GET /catalog.ttl`, `.jsonld`, `.rdf`, `/catalog`.
pub async fn catalog_ttl(State(app): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    catalog_as(&app, &uri, &headers, RdfFormat::Turtle).await.unwrap_or_else(IntoResponse::into_response)
}
pub async fn catalog_jsonld(State(app): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    catalog_as(&app, &uri, &headers, RdfFormat::JsonLd).await.unwrap_or_else(IntoResponse::into_response)
}
pub async fn catalog_rdf(State(app): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    catalog_as(&app, &uri, &headers, RdfFormat::RdfXml).await.unwrap_or_else(IntoResponse::into_response)
}
pub async fn catalog_negotiated(State(app): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let format = accepted(&headers);
    catalog_as(&app, &uri, &headers, format).await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /dataset/{key}.{ttl,jsonld,rdf}`: one catalog database. Without an
/// extension: RDF when `Accept` asks for it, else a redirect (303) to its
/// page, `/databases/{key}`.
pub async fn dataset(State(app): State<AppState>, ApiPath(file): ApiPath<String>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(e) = Params::parse(uri.query(), &[]) {
        return e.into_response();
    }
    let (key, format) = match split_format(&file) {
        Some((key, f)) => (key.to_string(), f),
        None if !file.contains('.') => match headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).and_then(RdfFormat::negotiate) {
            Some(f) => (file.clone(), f),
            // Ids and numbers are ASCII letters, digits and `-`: anything
            // else names no database (and must not reach a header).
            None if file.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
                return Redirect::to(&format!("/databases/{file}")).into_response();
            }
            None => return database_as(&app, &headers, &file, RdfFormat::Turtle).await.unwrap_or_else(IntoResponse::into_response),
        },
        None => return unknown_format(file.rsplit_once('.').map_or("", |(_, e)| e)).into_response(),
    };
    database_as(&app, &headers, &key, format).await.unwrap_or_else(IntoResponse::into_response)
}

async fn database_as(app: &AppState, headers: &HeaderMap, key: &str, format: RdfFormat) -> Result<Response, ApiError> {
    let base = Base::new(app, &origin(headers))?;
    rdf_response(&dcat::database(app, &base, key).await?, format)
}

async fn themes_as(app: &AppState, uri: &Uri, headers: &HeaderMap, format: RdfFormat) -> Result<Response, ApiError> {
    Params::parse(uri.query(), &[])?;
    let base = Base::new(app, &origin(headers))?;
    rdf_response(&dcat::themes(app, &base), format)
}

/// `GET /themes.ttl`, `.jsonld`, `.rdf`, `/themes`: the theme vocabulary.
pub async fn themes_ttl(State(app): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    themes_as(&app, &uri, &headers, RdfFormat::Turtle).await.unwrap_or_else(IntoResponse::into_response)
}
pub async fn themes_jsonld(State(app): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    themes_as(&app, &uri, &headers, RdfFormat::JsonLd).await.unwrap_or_else(IntoResponse::into_response)
}
pub async fn themes_rdf(State(app): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    themes_as(&app, &uri, &headers, RdfFormat::RdfXml).await.unwrap_or_else(IntoResponse::into_response)
}
pub async fn themes_negotiated(State(app): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let format = accepted(&headers);
    themes_as(&app, &uri, &headers, format).await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /themes/{code}`: a theme's URI dereferences to the scheme that
/// defines it (by `Accept`, Turtle by default); an unknown code is a 404.
pub async fn theme(State(app): State<AppState>, ApiPath(code): ApiPath<String>, uri: Uri, headers: HeaderMap) -> Response {
    if code.parse::<chiase_core::theme::Theme>().is_err() {
        let shown: String = code.chars().take(40).collect();
        return ApiError::not_found(format!("không có lĩnh vực «{shown}»"), format!("no theme «{shown}»")).into_response();
    }
    let format = accepted(&headers);
    themes_as(&app, &uri, &headers, format).await.unwrap_or_else(IntoResponse::into_response)
}

/// For an HTML page of a catalog database: its DCAT when the request's
/// `Accept` prefers an RDF format to HTML; `None` serves the page.
pub(super) async fn negotiated(app: &AppState, headers: &HeaderMap, database_key: &str) -> Option<Response> {
    let format = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).and_then(RdfFormat::negotiate)?;
    Some(database_as(app, headers, database_key, format).await.unwrap_or_else(IntoResponse::into_response))
}

/// Marks a page's response as varying with `Accept` (it has RDF siblings).
pub(super) fn vary_accept(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept, Accept-Language"));
    resp
}
