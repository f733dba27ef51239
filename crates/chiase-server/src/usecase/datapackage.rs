//! A Frictionless Data Package imported as new datasets of a catalog
//! database: each resource a dataset (id from its name, title, Table
//! Schema, rows), created by the owner's stewards (the policy's
//! `decide_create_dataset`).
//!
//! All or nothing, for real: every resource is read, mapped and parsed
//! first (the same record reader and field parsers as an import, the same
//! report of row, field, value and message), and only a package without a
//! problem reaches the store, which creates every dataset and writes its
//! rows in one transaction (DDL is transactional on SQLite and PostgreSQL),
//! so a clash the store finds late (a repeated key) leaves nothing behind
//! either. The price: a package's rows are held in memory, which
//! `package_max_mib` bounds.
//!
//! A package comes as a zip, or by URL (its `datapackage.json` or its zip):
//! loopback only unless `package_url_hosts` names the host; no redirect is
//! followed, bodies are bounded, each fetch has a deadline. Relative paths
//! of a package fetched by URL are fetched beside it, under the same rules.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use chiase_core::policy::decide_create_dataset;
use chiase_core::schema::Schema;
use chiase_core::sharing::SharingMode;
use chiase_io::datapackage::{Data, Package, PackageError, PackageLimits, Resource, ZipPackage, parse_descriptor};
use chiase_io::tabular::{ColumnMap, ReadOptions, RecordReader, parse_record};
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::NewDataset;
use chiase_store::datasets::import::{Created, NewWithRows, ParsedRow};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::json;

use super::imports::{MAX_REPORTED, ReportError, cell_value};
use super::record_change;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// How long one fetch may take, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long all the fetches of one package may take together.
const PACKAGE_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the package is.
pub enum Source {
    /// The bytes uploaded: a zip, or a `datapackage.json` alone (then its
    /// rows must be inline or at URLs).
    Bytes(Vec<u8>),
    /// A URL of a `datapackage.json` or of a zip.
    Url(String),
}

/// What became of one resource.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceReport {
    /// The resource's name in the package.
    pub name: String,
    /// The dataset it became (or would have).
    pub dataset: String,
    pub title: String,
    pub sharing_mode: SharingMode,
    pub fields: usize,
    pub rows_read: u64,
    /// Rows written; `null` when nothing was.
    pub rows_imported: Option<i64>,
    pub errors: Vec<ReportError>,
}

/// What an import of a package did, or why it did nothing.
#[derive(Debug, Clone, Serialize)]
pub struct PackageReport {
    pub database: String,
    /// The package's `name`.
    pub package: Option<String>,
    /// Datasets created: all the resources, or none.
    pub created: usize,
    pub resources: Vec<ResourceReport>,
}

/// Imports a package into catalog database `key`.
pub async fn import(app: &AppState, caller: &Caller, key: &str, source: Source) -> Result<PackageReport, ApiError> {
    let db = super::catalog::find_database(app, key).await?;
    let database = DatabaseKey::Id(db.id.clone());
    // Asked before anything is read or fetched.
    let permit = decide_create_dataset(&caller.subject, app.store.database_owner(&database).await?)?;
    let limits = PackageLimits { total: app.config.package_max_mib << 20, ..PackageLimits::default() };
    let (package, files) = gather(app, source, &limits).await?;
    for r in &package.resources {
        if app.store.dataset(&r.id).await?.is_some() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "dataset_exists",
                format!("đã có tập dữ liệu «{}» (từ tài nguyên «{}»): không nhập gì; hãy đổi tên tài nguyên", r.id, r.name),
                format!("a dataset «{}» exists already (from resource «{}»): nothing was imported; rename the resource", r.id, r.name),
            ));
        }
    }
    // Never more open than the catalog allows, nor than the package says:
    // a resource that says nothing is shared the most restricted way the
    // catalog gives the database.
    let modes = &db.sharing_modes;
    let strictest = modes.iter().copied().max_by_key(|m| strictness(*m)).unwrap_or(SharingMode::Specific);
    let mode_of = |r: &Resource| r.sharing_mode.as_deref().and_then(|m| m.parse().ok()).filter(|m| modes.contains(m)).unwrap_or(strictest);

    let parsed = {
        let resources = package.resources.clone();
        tokio::task::spawn_blocking(move || resources.iter().zip(files).map(|(r, bytes)| parse_rows(r, bytes)).collect::<Vec<_>>())
            .await
            .map_err(|e| ApiError::internal(&format!("package parsing stopped: {e}")))?
    };
    let mut reports = Vec::with_capacity(parsed.len());
    let mut items = Vec::with_capacity(parsed.len());
    for (r, p) in package.resources.iter().zip(parsed) {
        let p = p?;
        reports.push(ResourceReport {
            name: r.name.clone(),
            dataset: r.id.clone(),
            title: r.title.clone(),
            sharing_mode: mode_of(r),
            fields: r.schema.fields.len(),
            rows_read: p.rows_read,
            rows_imported: None,
            errors: p.errors,
        });
        items.push(NewWithRows {
            dataset: NewDataset {
                slug: r.id.clone(),
                database: database.clone(),
                title: r.title.clone(),
                title_en: None,
                description: r.description.clone(),
                licence: r.licence.clone(),
                sharing_mode: mode_of(r),
                cadence: db.cadence,
                schema: r.schema.clone(),
                template: None,
                synthetic: false,
            },
            rows: p.rows,
        });
    }
    let mut report = PackageReport { database: db.id.clone(), package: package.name.clone(), created: 0, resources: reports };
    if report.resources.iter().any(|r| !r.errors.is_empty()) {
        return Err(rejected(report));
    }
    let source_name = format!("datapackage {}", package.name.as_deref().unwrap_or(""));
    match app.store.create_datasets_with_rows(&permit, &items, &caller.actor.name, Some(source_name.trim())).await? {
        Created::Refused { index, problems } => {
            report.resources[index].errors = problems.into_iter().take(MAX_REPORTED).map(ReportError::from).collect();
            Err(rejected(report))
        }
        Created::Done(done) => {
            report.created = done.len();
            for ((ds, summary), r) in done.iter().zip(report.resources.iter_mut()) {
                r.rows_imported = Some(summary.inserted);
                record_change(
                    app,
                    caller,
                    "dataset_created",
                    Some(ds),
                    ds.id.clone(),
                    json!({ "sharing_mode": ds.sharing_mode, "fields": ds.schema.fields.len(), "datapackage": package.name, "resource": r.name, "rows": summary.inserted }),
                )
                .await?;
            }
            Ok(report)
        }
    }
}

fn strictness(m: SharingMode) -> u8 {
    match m {
        SharingMode::Open => 0,
        SharingMode::Default => 1,
        SharingMode::Specific => 2,
        SharingMode::Legal => 3,
    }
}

/// Nothing was imported: 422 with the report of every resource.
fn rejected(report: PackageReport) -> ApiError {
    let errors: usize = report.resources.iter().map(|r| r.errors.len()).sum();
    let names: Vec<&str> = report.resources.iter().filter(|r| !r.errors.is_empty()).map(|r| r.name.as_str()).collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "package_rejected",
        format!("không nhập gì: {errors} lỗi trong dữ liệu của tài nguyên {}", names.join(", ")),
        format!("nothing was imported: {errors} problems in the data of resource {}", names.join(", ")),
    )
    .with_fields(json!({ "report": report }))
}

fn package_error(e: PackageError) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_package", e.msg.vi, e.msg.en)
}

/// The descriptor and, for each resource, the bytes of its rows.
async fn gather(app: &AppState, source: Source, limits: &PackageLimits) -> Result<(Package, Vec<Vec<u8>>), ApiError> {
    let deadline = tokio::time::Instant::now() + PACKAGE_TIMEOUT;
    let (bytes, base) = match source {
        Source::Bytes(b) => (b, None),
        Source::Url(url) => {
            let b = fetch(app, &url, limits.total, deadline).await?;
            let base = url.rsplit_once('/').map(|(b, _)| format!("{b}/"));
            (b, base)
        }
    };
    if bytes.len() as u64 > limits.total {
        return Err(ApiError::too_large(limits.total as usize));
    }
    let limits = *limits;
    // A zip: the descriptor and its files come out of it (blocking work).
    let (package, mut files, left) = if bytes.starts_with(b"PK") {
        tokio::task::spawn_blocking(move || -> Result<_, PackageError> {
            let (mut zip, descriptor) = ZipPackage::open(Cursor::new(bytes), &limits)?;
            let package = parse_descriptor(&descriptor, &limits)?;
            let files = package
                .resources
                .iter()
                .map(|r| match &r.data {
                    Data::Path(p) => zip.read(p).map(Some).map_err(|e| in_resource(&r.name, e)),
                    Data::Inline(d) => Ok(Some(d.clone())),
                    Data::Url(_) => Ok(None),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((package, files, zip.left()))
        })
        .await
        .map_err(|e| ApiError::internal(&format!("package reading stopped: {e}")))?
        .map_err(package_error)?
    } else {
        let package = parse_descriptor(&bytes, &limits).map_err(package_error)?;
        let files = package.resources.iter().map(|r| if let Data::Inline(d) = &r.data { Some(d.clone()) } else { None }).collect();
        (package, files, limits.total.saturating_sub(bytes.len() as u64))
    };
    // What the package points at: fetched under the same rules and the
    // bytes left of the same budget.
    let mut left = left;
    for (r, slot) in package.resources.iter().zip(files.iter_mut()) {
        if slot.is_some() {
            continue;
        }
        let url = match (&r.data, &base) {
            (Data::Url(u), _) => u.clone(),
            (Data::Path(p), Some(base)) => format!("{base}{p}"),
            (Data::Path(_), None) => {
                return Err(package_error(in_resource(
                    &r.name,
                    PackageError {
                        resource: None,
                        msg: chiase_core::Msg::new(
                            "tệp của tài nguyên không có ở đây: hãy gửi cả gói dạng zip",
                            "the resource's file is not here: send the whole package as a zip",
                        ),
                    },
                )));
            }
            (Data::Inline(_), _) => continue,
        };
        let b = fetch(app, &url, left, deadline).await.map_err(|e| {
            let (vi, en) = (format!("tài nguyên «{}»: {}", r.name, e.msg.vi), format!("resource «{}»: {}", r.name, e.msg.en));
            ApiError::new(e.status, "bad_package", vi, en)
        })?;
        left = left.saturating_sub(b.len() as u64);
        *slot = Some(b);
    }
    Ok((package, files.into_iter().map(Option::unwrap_or_default).collect()))
}

fn in_resource(name: &str, e: PackageError) -> PackageError {
    if e.resource.is_some() {
        return e;
    }
    PackageError {
        resource: Some(name.to_string()),
        msg: chiase_core::Msg::new(format!("tài nguyên «{name}»: {}", e.msg.vi), format!("resource «{name}»: {}", e.msg.en)),
    }
}

/// The rows of one resource, parsed against its schema, or its problems.
struct ParsedResource {
    rows_read: u64,
    rows: Vec<ParsedRow>,
    errors: Vec<ReportError>,
}

/// Reads a resource's rows as an import reads a file (blocking).
fn parse_rows(r: &Resource, bytes: Vec<u8>) -> Result<ParsedResource, ApiError> {
    let bad = |e: PackageError| package_error(in_resource(&r.name, e));
    let bytes = r.json_rows(bytes).map_err(bad)?;
    let schema = Arc::new(Schema::new(r.schema.clone()).map_err(|_| {
        bad(PackageError { resource: None, msg: chiase_core::Msg::new("lược đồ không hợp lệ", "invalid schema") })
    })?);
    let encoding = match &r.encoding {
        None => None,
        Some(label) => Some(encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
            bad(PackageError {
                resource: None,
                msg: chiase_core::Msg::new(format!("không biết bảng mã «{label}»"), format!("unknown encoding «{label}»")),
            })
        })?),
    };
    let options = ReadOptions { schema: Some(schema.clone()), encoding, ..ReadOptions::default() };
    let mut reader = RecordReader::open(Box::new(Cursor::new(Bytes::from(bytes))), Some(&r.file_name), None, &options).map_err(|e| {
        let e = crate::error::file_error(e);
        ApiError::new(
            e.status,
            "bad_package",
            format!("tài nguyên «{}»: {}", r.name, e.msg.vi),
            format!("resource «{}»: {}", r.name, e.msg.en),
        )
    })?;
    let header_line = reader.header_line().unwrap_or(1);
    let map = match reader.headers() {
        Some(h) => match ColumnMap::new(h, &schema) {
            Ok(m) => Some(m),
            Err(problems) => {
                let errors = problems
                    .into_iter()
                    .take(MAX_REPORTED)
                    .map(|p| {
                        let mut e = ReportError::new(header_line, Some(p.column), None, "header", p.msg.vi, p.msg.en);
                        e.field = None;
                        e.letter = p.letter;
                        e
                    })
                    .collect();
                return Ok(ParsedResource { rows_read: 0, rows: Vec::new(), errors });
            }
        },
        None => None,
    };
    let mut out = ParsedResource { rows_read: 0, rows: Vec::new(), errors: Vec::new() };
    for rec in reader.by_ref() {
        let rec = rec.map_err(|e| {
            let e = crate::error::file_error(e);
            ApiError::new(
                e.status,
                "bad_package",
                format!("tài nguyên «{}»: {}", r.name, e.msg.vi),
                format!("resource «{}»: {}", r.name, e.msg.en),
            )
        })?;
        out.rows_read += 1;
        match parse_record(&schema, map.as_ref(), &rec) {
            Ok(values) if out.errors.is_empty() => out.rows.push(ParsedRow::with_search(&schema, rec.line, values)),
            Ok(_) => {}
            Err(problems) => {
                // Once a row failed nothing will be written: rows are only checked.
                out.rows.clear();
                for (field, e) in problems {
                    if out.errors.len() >= MAX_REPORTED {
                        break;
                    }
                    let (column, value) = if field == usize::MAX {
                        (None, None)
                    } else {
                        let name = schema.fields[field].spec.name.clone();
                        let value = cell_value(&rec.cells, map.as_ref(), field, &name);
                        (Some(name), value)
                    };
                    let error = ReportError::new(rec.line, column, value, e.code, e.message.vi, e.message.en);
                    out.errors.push(match map.as_ref().and_then(|m| m.column_of(field)) {
                        Some((letter, header)) => error.in_column(letter, header),
                        None => error,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Whether `host` may be fetched from: loopback always, others when
/// `package_url_hosts` names them (or is `*`).
fn host_allowed(app: &AppState, host: &str) -> bool {
    if crate::oidc::http::is_loopback(host) {
        return true;
    }
    let Some(list) = app.config.package_url_hosts.as_deref() else { return false };
    list.split(',').map(str::trim).any(|h| h == "*" || h.eq_ignore_ascii_case(host))
}

fn fetch_error(url: &str, vi: impl std::fmt::Display, en: impl std::fmt::Display) -> ApiError {
    let shown: String = url.chars().take(200).collect();
    ApiError::new(StatusCode::BAD_REQUEST, "bad_package_url", format!("«{shown}»: {vi}"), format!("«{shown}»: {en}"))
}

/// GETs `url` (at most `limit` bytes, within [`FETCH_TIMEOUT`] and before
/// `deadline`, no redirects), where [`host_allowed`] says.
pub async fn fetch(app: &AppState, url: &str, limit: u64, deadline: tokio::time::Instant) -> Result<Vec<u8>, ApiError> {
    let lower = url.trim_start().to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Err(fetch_error(url, "chỉ nhận URL http hoặc https", "only http and https URLs are fetched"));
    }
    let uri: axum::http::Uri = url.trim().parse().map_err(|_| fetch_error(url, "không phải URL", "not a URL"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(fetch_error(url, "chỉ nhận URL http hoặc https", "only http and https URLs are fetched")),
    };
    let authority = uri.authority().ok_or_else(|| fetch_error(url, "URL không có máy chủ", "the URL has no host"))?.clone();
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
    if !host_allowed(app, &host) {
        return Err(fetch_error(
            url,
            "chỉ tải gói từ máy này (loopback) trừ khi cấu hình package_url_hosts cho phép máy chủ khác",
            "packages are fetched only from this machine (loopback) unless the package_url_hosts setting allows other hosts",
        ));
    }
    let work = async {
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| fetch_error(url, format!("không kết nối được: {e}"), format!("cannot connect: {e}")))?;
        let req = axum::http::Request::get(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .header(axum::http::header::HOST, authority.as_str())
            .header(axum::http::header::USER_AGENT, "chiase")
            .body(Empty::<Bytes>::new())
            .map_err(|e| ApiError::internal(&e))?;
        let response = if https {
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| fetch_error(url, format!("tên máy: {e}"), format!("host name: {e}")))?;
            let tls = crate::oidc::http::connector()
                .connect(name, tcp)
                .await
                .map_err(|e| fetch_error(url, format!("TLS: {e}"), format!("TLS: {e}")))?;
            send(url, TokioIo::new(tls), req).await?
        } else {
            send(url, TokioIo::new(tcp), req).await?
        };
        let status = response.status();
        if status.is_redirection() {
            return Err(fetch_error(
                url,
                format!("máy chủ chuyển hướng ({status}): không đi theo"),
                format!("the server redirects ({status}): not followed"),
            ));
        }
        if !status.is_success() {
            return Err(fetch_error(url, format!("máy chủ trả {status}"), format!("the server answered {status}")));
        }
        let body = Limited::new(response.into_body(), limit as usize).collect().await.map_err(|_| {
            fetch_error(
                url,
                format!("lớn hơn giới hạn {} MiB hoặc bị cắt", limit >> 20),
                format!("larger than the {} MiB limit, or cut", limit >> 20),
            )
        })?;
        Ok(body.to_bytes().to_vec())
    };
    let until = deadline.min(tokio::time::Instant::now() + FETCH_TIMEOUT);
    tokio::time::timeout_at(until, work).await.map_err(|_| {
        fetch_error(
            url,
            format!("không trả lời kịp ({} giây mỗi tệp, {} giây cả gói)", FETCH_TIMEOUT.as_secs(), PACKAGE_TIMEOUT.as_secs()),
            format!("no answer in time ({} s a file, {} s for the package)", FETCH_TIMEOUT.as_secs(), PACKAGE_TIMEOUT.as_secs()),
        )
    })?
}

async fn send<T>(url: &str, io: T, req: axum::http::Request<Empty<Bytes>>) -> Result<hyper::Response<hyper::body::Incoming>, ApiError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| fetch_error(url, format!("HTTP: {e}"), format!("HTTP: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await.map_err(|e| fetch_error(url, format!("HTTP: {e}"), format!("HTTP: {e}")))
}
