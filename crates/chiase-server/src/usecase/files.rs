//! Files kept beside datasets — scanned archives, gazette issues, document
//! attachments — in object storage through the `object_store` crate: a
//! local directory by default (`DATA/files`), an S3-compatible bucket when
//! built with the `s3` feature and configured with `files_url = "s3://…"`.
//! Bytes are addressed by their SHA-256, recorded with the file. An upload
//! streams to the store (hashing on the way) without being held in memory;
//! listing and downloading need the policy's files permit (every field
//! visible: a file may hold anything its rows hold).

use std::sync::Arc;

use axum::body::Bytes;
use chiase_core::policy::{decide_files, decide_write};
use chiase_store::datasets::Dataset;
use chiase_store::files::{FileInfo, NewFile};
use chiase_store::recorder::ReadContext;
use futures_util::{Stream, StreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{find_dataset, read_permit, record_change};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest file accepted.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The object store files go to.
pub type FileStore = Arc<dyn ObjectStore>;

/// Opens the configured object store.
pub fn open(url: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<FileStore> {
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

/// What an uploader gives besides the bytes.
pub struct Upload {
    pub name: String,
    pub record: Option<String>,
    pub content_type: String,
}

/// Stores a file for a dataset (its stewards): streamed to a temporary
/// object while hashed, then moved to its address.
pub async fn upload<S>(app: &AppState, caller: &Caller, id: &str, up: Upload, mut body: S) -> Result<FileInfo, ApiError>
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Unpin,
{
    let name = chiase_core::text::clean_line(&up.name);
    if name.is_empty() || name.chars().count() > 255 || name.contains(['/', '\\']) {
        return Err(ApiError::bad_request("tên tệp không hợp lệ", "invalid file name"));
    }
    let ds = find_dataset(app, id).await?;
    let permit = decide_write(&caller.subject, &ds.facts())?;
    let record_key = match up.record {
        Some(k) => Some(app.store.schema_of(&ds)?.key_from_url(&k).map_err(|e| ApiError::bad_request(e.message.vi, e.message.en))?),
        None => None,
    };
    let temp = StorePath::from(format!("tmp/{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>()));
    let mut writer = WriteMultipart::new(app.files.put_multipart(&temp).await.map_err(|e| ApiError::internal(&e))?);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(ApiError::bad_request(format!("không đọc được tệp: {e}"), format!("cannot read the upload: {e}")));
            }
        };
        size += chunk.len() as u64;
        if size > MAX_FILE_BYTES {
            let _ = writer.abort().await;
            return Err(ApiError::too_large(MAX_FILE_BYTES as usize));
        }
        hasher.update(&chunk);
        writer.wait_for_capacity(4).await.map_err(|e| ApiError::internal(&e))?;
        writer.put(chunk);
    }
    if size == 0 {
        let _ = writer.abort().await;
        return Err(ApiError::bad_request("tệp rỗng", "the file is empty"));
    }
    writer.finish().await.map_err(|e| ApiError::internal(&e))?;
    let sha256: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let key = format!("datasets/{}/{}", ds.pk, sha256);
    app.files.rename(&temp, &StorePath::from(key.as_str())).await.map_err(|e| ApiError::internal(&e))?;
    let new = NewFile { record_key, name, content_type: up.content_type, size: size as i64, sha256, storage_key: key };
    let info = app.store.add_file(&permit, &ds, &new, &caller.actor.name).await?;
    record_change(
        app,
        caller,
        "file_added",
        Some(&ds),
        format!("{}/files/{}", ds.id, info.id),
        json!({ "name": info.name, "size": info.size, "sha256": info.sha256 }),
    )
    .await?;
    Ok(info)
}

/// The files of a dataset (readers who see every field).
pub async fn list(app: &AppState, caller: &Caller, id: &str) -> Result<Vec<FileInfo>, ApiError> {
    let ds = find_dataset(app, id).await?;
    let read = read_permit(app, caller, &ds).await?;
    let permit = decide_files(&read, ds.schema.fields.len())?;
    let files = app.store.files(&permit, &ds).await?;
    Ok(app.recorder.record_read(&read, &ds, files, ReadContext { actor: &caller.actor, surface: "files", query: None }).await?)
}

/// One file: its record and its bytes (readers who see every field).
pub async fn download(
    app: &AppState,
    caller: &Caller,
    id: &str,
    file: &str,
) -> Result<(Dataset, FileInfo, object_store::GetResult), ApiError> {
    let file_id: i64 = file.parse().map_err(|_| ApiError::bad_request("mã tệp không hợp lệ", "invalid file id"))?;
    let ds = find_dataset(app, id).await?;
    let read = read_permit(app, caller, &ds).await?;
    let permit = decide_files(&read, ds.schema.fields.len())?;
    let found = app.store.file(&permit, &ds, file_id).await?;
    let q = format!("file={file_id}");
    let info = app.recorder.record_read(&read, &ds, found, ReadContext { actor: &caller.actor, surface: "file", query: Some(&q) }).await?;
    let info = info.ok_or_else(|| ApiError::not_found(format!("không có tệp {file_id}"), format!("no file {file_id}")))?;
    let got = app.files.get(&StorePath::from(info.storage_key.as_str())).await.map_err(|e| ApiError::internal(&e))?;
    Ok((ds, info, got))
}
