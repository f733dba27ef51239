//! Exports that stream: `GET /api/v1/datasets/{id}/export.{csv,json,ndjson,
//! xlsx,geojson}` with the same filters as the record API (and `bom=true`,
//! `escape_formulas=false` for CSV), and
//! `GET /api/v1/databases/{key}/datapackage.zip` (`bom`, `escape_formulas`
//! too). The work is in
//! `usecase::exports`; these routes are outside the global timeout.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use chiase_io::writers::{CsvOptions, ExportFormat};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{Binary, FeatureCollection, ReadErrors};
use super::records::RecordQuery;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::params::{Params, pairs};
use crate::state::AppState;
use crate::usecase::exports;

/// The long routes (no global timeout: an export lasts as long as it must).
pub fn long_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_csv))
        .routes(routes!(export_json))
        .routes(routes!(export_ndjson))
        .routes(routes!(export_xlsx))
        .routes(routes!(export_geojson))
        .routes(routes!(datapackage))
}

/// The CSV options of exports and the Data Package.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct CsvQuery {
    /// Start CSV files with a byte-order mark (for Excel).
    #[param(default = false)]
    bom: Option<bool>,
    /// Put `'` before text that a spreadsheet would run as a formula
    /// (`=`, `+`, `-`, `@`…); `false` exports it raw.
    #[param(default = true)]
    escape_formulas: Option<bool>,
}

/// One export route per format: the same record query as `GET …/records`
/// (without paging: every matching row), streamed.
// rustfmt re-indents the attribute inside the macro on every run.
#[rustfmt::skip]
macro_rules! export_route {
    ($name:ident, $format:expr, $path:tt, $content_type:tt, $body:ty, $op:tt, $doc:tt) => {
        #[doc = $doc]
        #[utoipa::path(
            get,
            path = $path,
            tag = "exports",
            operation_id = $op,
            params(("id" = String, Path, description = "The dataset's id."), RecordQuery, CsvQuery),
            security((), ("bearer" = []), ("session" = [])),
            responses(
                (status = 200, description = "The file (as an attachment).", content_type = $content_type, body = $body),
                ReadErrors,
            ),
        )]
        async fn $name(State(app): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>, uri: Uri) -> Result<Response, ApiError> {
            export(app, caller, id, $format, uri).await
        }
    };
}

export_route!(
    export_csv,
    ExportFormat::Csv,
    "/api/v1/datasets/{id}/export.csv",
    "text/csv",
    String,
    "export_csv",
    "The rows the caller may read as CSV, with the filters of `GET …/records`."
);
export_route!(
    export_json,
    ExportFormat::Json,
    "/api/v1/datasets/{id}/export.json",
    "application/json",
    Vec<serde_json::Value>,
    "export_json",
    "The rows the caller may read as a JSON array, with the filters of `GET …/records`."
);
export_route!(
    export_ndjson,
    ExportFormat::Ndjson,
    "/api/v1/datasets/{id}/export.ndjson",
    "application/x-ndjson",
    String,
    "export_ndjson",
    "The rows the caller may read as NDJSON (one object a line), with the filters of `GET …/records`."
);
export_route!(
    export_xlsx,
    ExportFormat::Xlsx,
    "/api/v1/datasets/{id}/export.xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Binary,
    "export_xlsx",
    "The rows the caller may read as an Excel workbook, with the filters of `GET …/records`."
);
export_route!(
    export_geojson,
    ExportFormat::Geojson,
    "/api/v1/datasets/{id}/export.geojson",
    "application/geo+json",
    FeatureCollection,
    "export_geojson",
    "The rows the caller may read as a GeoJSON feature collection (a dataset with a geographic field), with the filters of `GET …/records`."
);

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
    Ok(Body::from_stream(futures_util::StreamExt::fuse(guarded)))
}

async fn export(app: AppState, caller: Caller, id: String, format: ExportFormat, uri: Uri) -> Result<Response, ApiError> {
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

/// A database as a Frictionless Data Package (zip): the datasets the caller
/// may read, as CSV with their Table Schema; the others named in
/// `chiase:omitted`.
#[utoipa::path(
    get,
    path = "/api/v1/databases/{key}/datapackage.zip",
    tag = "exports",
    operation_id = "export_datapackage",
    params(("key" = String, Path, description = "The database's number in the current decision, or its id."), CsvQuery),
    security((), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The package (as an attachment).", content_type = "application/zip", body = Binary),
        ReadErrors,
    ),
)]
async fn datapackage(State(app): State<AppState>, caller: Caller, ApiPath(key): ApiPath<String>, uri: Uri) -> Result<Response, ApiError> {
    // The CSV flags of exports, and nothing else: a misspelt flag is a 400,
    // not a silently unprotected file.
    let p = Params::parse_as::<CsvQuery>(uri.query())?;
    let options = CsvOptions { bom: p.bool("bom")?.unwrap_or(false), escape_formulas: p.bool("escape_formulas")?.unwrap_or(true) };
    let (name, dir, path) = exports::datapackage(&app, &caller, &key, options).await?;
    let mut resp = file_body(dir, path).await?.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, disposition(&name));
    Ok(resp)
}
