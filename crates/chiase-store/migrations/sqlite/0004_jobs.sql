-- Leases for background jobs: when several chiase processes share one
-- database, a periodic job runs in the one process holding its lease.
CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Files kept beside datasets (scanned documents, attachments), stored
-- through object_store (a local directory or an S3-compatible bucket);
-- the bytes are addressed by their SHA-256.
CREATE TABLE files (
    id           INTEGER PRIMARY KEY,
    dataset_id   INTEGER NOT NULL REFERENCES datasets (id),
    record_key   TEXT,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    storage_key  TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    uploaded_at  TEXT NOT NULL
);
CREATE INDEX files_by_dataset ON files (dataset_id, record_key);
