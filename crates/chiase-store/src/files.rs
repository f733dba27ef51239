//! The records of files kept beside datasets (the bytes themselves are in
//! object storage, addressed by SHA-256; see chiase-server `files.rs`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::datasets::{Dataset, check_permit};
use crate::db::{Id, Sql};
use crate::{Store, StoreError, now};

/// A file's record.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FileInfo {
    pub id: i64,
    pub record_key: Option<String>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    #[serde(skip)]
    pub storage_key: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
}

/// A file to record after its bytes are stored.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub record_key: Option<String>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub storage_key: String,
}

const COLUMNS: &str = "id, record_key, name, content_type, size, sha256, storage_key, uploaded_by, uploaded_at";

impl Store {
    /// Records a stored file (needs a write permit for the dataset).
    pub async fn add_file(
        &self,
        permit: &chiase_core::policy::WritePermit,
        ds: &Dataset,
        f: &NewFile,
        actor: &str,
    ) -> Result<FileInfo, StoreError> {
        check_permit(permit.dataset_id(), ds)?;
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let Id(id) = conn
            .fetch_one(
                Sql::new(
                    "INSERT INTO files (dataset_id, record_key, name, content_type, size, sha256, storage_key, uploaded_by, uploaded_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(ds.pk.get())
                .bind(f.record_key.clone())
                .bind(f.name.as_str())
                .bind(f.content_type.as_str())
                .bind(f.size)
                .bind(f.sha256.as_str())
                .bind(f.storage_key.as_str())
                .bind(actor)
                .bind(now()),
            )
            .await?;
        let info = conn.fetch_one(Sql::assembled(format!("SELECT {COLUMNS} FROM files WHERE id = ?")).bind(id)).await?;
        tx.commit().await?;
        Ok(info)
    }

    /// File records of a dataset (one when `id` is given). Callers hold a
    /// `FilesPermit` (see `datasets::records`).
    pub(crate) async fn file_rows(&self, ds: &Dataset, id: Option<i64>) -> Result<Vec<FileInfo>, StoreError> {
        let mut c = self.pools.reader().await?;
        let sql = match id {
            None => Sql::assembled(format!("SELECT {COLUMNS} FROM files WHERE dataset_id = ? ORDER BY id")).bind(ds.pk.get()),
            Some(id) => Sql::assembled(format!("SELECT {COLUMNS} FROM files WHERE dataset_id = ? AND id = ?")).bind(ds.pk.get()).bind(id),
        };
        c.conn().fetch_all(sql).await
    }
}
