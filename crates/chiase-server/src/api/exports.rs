//! Exports that stream: `GET /api/v1/datasets/{id}/export.{csv,json,ndjson,
//! xlsx,geojson}` with the same filters as the record API (and `bom=true`,
//! `escape_formulas=false` for CSV), and
//! `GET /api/v1/databases/{key}/datapackage.zip` (`bom`, `escape_formulas`
//! too). The work is in
//! `usecase::exports`; these routes are outside the global timeout.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chiase_io::writers::{CsvOptions, ExportFormat};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::params::{Params, pairs};
use crate::state::AppState;
use crate::usecase::exports;

/// The long routes (no global timeout: an export lasts as long as it must).
pub fn long_router() -> Router<AppState> {
    Router::new().route("/api/v1/datasets/{id}/{file}", get(export)).route("/api/v1/databases/{key}/datapackage.zip", get(datapackage))
}

fn disposition(name: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).unwrap_or(HeaderValue::from_static("attachment"))
}

/// A file on disk as a streamed body; its temporary directory lives as
/// long as the stream.
async fn file_body(dir: tempfile::TempDir, path: std::path::PathBuf) -> Result<Body, ApiError> {
    let file = tokio::fs::File::open(&path).await.map_err(|e| ApiError::internal(&e))?;
    let stream = tokio_util::io::ReaderStream::new(file);
    let guarded = futures_util::StreamExt::map(stream, move |chunk| {
        let _keep = &dir;
        chunk
    });
    Ok(Body::from_stream(guarded))
}

async fn export(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, file)): ApiPath<(String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let format = file
        .strip_prefix("export.")
        .and_then(ExportFormat::from_extension)
        .ok_or_else(|| ApiError::not_found(format!("không có «{file}»"), format!("no «{file}» here")))?;
    let export = exports::start(&app, &caller, &id, format, pairs(&uri), uri.query()).await?;
    let name = export.name.clone();
    let body = match format {
        ExportFormat::Xlsx => {
            let (dir, path) = export.xlsx(&app).await?;
            file_body(dir, path).await?
        }
        _ => Body::from_stream(export.stream(&app)?),
    };
    let mut resp = body.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, disposition(&name));
    Ok(resp)
}

async fn datapackage(State(app): State<AppState>, caller: Caller, ApiPath(key): ApiPath<String>, uri: Uri) -> Result<Response, ApiError> {
    // The CSV flags of exports, and nothing else: a misspelt flag is a 400,
    // not a silently unprotected file.
    let p = Params::parse(uri.query(), &["bom", "escape_formulas"])?;
    let options = CsvOptions { bom: p.bool("bom")?.unwrap_or(false), escape_formulas: p.bool("escape_formulas")?.unwrap_or(true) };
    let (name, dir, path) = exports::datapackage(&app, &caller, &key, options).await?;
    let mut resp = file_body(dir, path).await?.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, disposition(&name));
    Ok(resp)
}
