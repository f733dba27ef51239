//! Files kept beside datasets — scanned archives, gazette issues, document
//! attachments — in object storage through the `object_store` crate: a
//! local directory by default (`DATA/files`), an S3-compatible bucket when
//! built with the `s3` feature and configured with `files_url = "s3://…"`.
//! Bytes are addressed by their SHA-256, recorded with the file; every
//! download goes through the policy decision point.
//!
//! Routes: `POST /api/v1/datasets/{id}/files?name=…&record=…` (the body is
//! the file), `GET /api/v1/datasets/{id}/files`, and
//! `GET /api/v1/datasets/{id}/files/{file}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chiase_store::files::NewFile;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::api::datasets::find;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::gate::{read_permit, record_read, record_write, write_permit};
use crate::params::{ApiPath, Params};

/// Largest file accepted.
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024 * 1024;

/// The object store files go to.
pub type Files = Arc<dyn ObjectStore>;

/// Opens the configured object store.
pub fn open(url: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<Files> {
    match url {
        None | Some("") => {
            let dir = data_dir.join("files");
            std::fs::create_dir_all(&dir)?;
            Ok(Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir)?))
        }
        Some(u) if u.starts_with("file://") => {
            let dir = std::path::PathBuf::from(&u["file://".len()..]);
            std::fs::create_dir_all(&dir)?;
            Ok(Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir)?))
        }
        #[cfg(feature = "s3")]
        Some(u) if u.starts_with("s3://") => Ok(Arc::new(object_store::aws::AmazonS3Builder::from_env().with_url(u).build()?)),
        Some(u) => anyhow::bail!("unsupported files_url «{u}» (file://DIR, or s3://BUCKET with the s3 feature)"),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/datasets/{id}/files", get(list).post(upload).layer(DefaultBodyLimit::max(MAX_FILE_BYTES)))
        .route("/api/v1/datasets/{id}/files/{file}", get(download))
}

/// Files may hold anything the rows hold, personal data included: they are
/// for readers who see every field of the dataset.
fn full_access(permit: &chiase_core::policy::ReadPermit, fields: usize) -> Result<(), ApiError> {
    if permit.visible().len() == fields {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "tệp đính kèm chỉ dành cho người được xem mọi trường của tập dữ liệu",
            "attached files are for readers who may see every field of the dataset",
        ))
    }
}

async fn upload(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    let p = Params::parse(uri.query(), &["name", "record", "lang"])?;
    let name = chiase_core::text::clean_line(
        p.one("name")?
            .ok_or_else(|| ApiError::bad_request("cần tham số «name» (tên tệp)", "the «name» parameter (file name) is required"))?,
    );
    if name.is_empty() || name.len() > 255 || name.contains(['/', '\\']) {
        return Err(ApiError::bad_request("tên tệp không hợp lệ", "invalid file name"));
    }
    let ds = find(&app, &id).await?;
    let permit = write_permit(&app, &caller, &ds).await?;
    let record_key = match p.one("record")? {
        Some(k) => Some(app.store.schema_of(&ds)?.key_from_url(k).map_err(|e| ApiError::bad_request(e.message.vi, e.message.en))?),
        None => None,
    };
    // Hash while reading; the bytes are kept in memory up to the limit.
    let mut hasher = Sha256::new();
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("không đọc được tệp: {e}"), format!("cannot read the upload: {e}")))?;
        hasher.update(&chunk);
        bytes.extend_from_slice(&chunk);
    }
    if bytes.is_empty() {
        return Err(ApiError::bad_request("tệp rỗng", "the file is empty"));
    }
    let sha256: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let key = format!("datasets/{}/{}", ds.pk, sha256);
    let size = bytes.len() as i64;
    app.files.put(&StorePath::from(key.as_str()), PutPayload::from(bytes)).await.map_err(|e| ApiError::internal(&e))?;
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("application/octet-stream").to_string();
    let info = app
        .store
        .add_file(&permit, &ds, &NewFile { record_key, name, content_type, size, sha256, storage_key: key }, &caller.actor)
        .await?;
    record_write(
        &app,
        &caller,
        "file_added",
        Some(&ds),
        format!("{}/files/{}", ds.id, info.id),
        json!({ "name": info.name, "size": info.size, "sha256": info.sha256 }),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(json!(info))))
}

async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let ds = find(&app, &id).await?;
    let permit = read_permit(&app, &caller, &ds).await?;
    full_access(&permit, ds.schema.fields.len())?;
    let files = app.store.files(&permit, &ds).await?;
    record_read(&app, &caller, &ds, &permit, "files", None, Some(files.len() as i64)).await?;
    Ok(axum::Json(json!({ "count": files.len(), "results": files })))
}

async fn download(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, file)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let file_id: i64 = file.parse().map_err(|_| ApiError::bad_request("mã tệp không hợp lệ", "invalid file id"))?;
    let ds = find(&app, &id).await?;
    let permit = read_permit(&app, &caller, &ds).await?;
    full_access(&permit, ds.schema.fields.len())?;
    let info = app
        .store
        .file(&permit, &ds, file_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("không có tệp {file_id}"), format!("no file {file_id}")))?;
    record_read(&app, &caller, &ds, &permit, "file", Some(&format!("file={file_id}")), Some(1)).await?;
    let got = app.files.get(&StorePath::from(info.storage_key.as_str())).await.map_err(|e| ApiError::internal(&e))?;
    let stream = got.into_stream().map_err(std::io::Error::other);
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&info.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", info.sha256)).unwrap_or(HeaderValue::from_static("\"\"")));
    let ascii: String =
        chiase_core::fold::fold(&info.name).chars().map(|c| if c.is_ascii_graphic() && c != '"' { c } else { '_' }).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
