-- Hosted datasets: one typed table per dataset (created at run time as
-- ds_<id>, see chiase-store/src/datasets/ddl.rs), described here.
--
-- A dataset table is temporal: every insert, update and delete writes a
-- version row numbered by the dataset's change sequence (_seq); a version
-- ends when a later change replaces or deletes it (_end). Current rows are
-- those with _end IS NULL. The change feed and "as of" reads come from the
-- same rows.

CREATE TABLE datasets (
    id              INTEGER PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    database_id     INTEGER NOT NULL REFERENCES databases (id),
    title           TEXT NOT NULL,
    title_en        TEXT,
    description     TEXT NOT NULL DEFAULT '',
    licence         TEXT NOT NULL,
    sharing_mode    TEXT NOT NULL CHECK (sharing_mode IN ('open', 'default', 'specific', 'legal')),
    cadence         TEXT NOT NULL,
    schema          TEXT NOT NULL,          -- Table Schema JSON (chiase_core::schema::SchemaSpec)
    schema_version  INTEGER NOT NULL DEFAULT 1,
    table_name      TEXT NOT NULL UNIQUE,
    row_count       INTEGER NOT NULL DEFAULT 0,   -- current rows, kept by every write
    last_seq        INTEGER NOT NULL DEFAULT 0,   -- last change number
    last_version    INTEGER NOT NULL DEFAULT 0,   -- last version row id (_v)
    next_record_id  INTEGER NOT NULL DEFAULT 1,   -- next record identity (_id)
    synthetic       INTEGER NOT NULL DEFAULT 0,   -- filled by `chiase demo`: not real data
    template        TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    data_updated_at TEXT
);
CREATE INDEX datasets_by_database ON datasets (database_id);

-- Who changed what, when: one row per write (an import, a batch, a patch).
CREATE TABLE change_batches (
    id            INTEGER PRIMARY KEY,
    dataset_id    INTEGER NOT NULL REFERENCES datasets (id),
    kind          TEXT NOT NULL,     -- append, upsert, replace, insert, update, delete
    first_seq     INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL,
    rows_inserted INTEGER NOT NULL DEFAULT 0,
    rows_updated  INTEGER NOT NULL DEFAULT 0,
    rows_deleted  INTEGER NOT NULL DEFAULT 0,
    actor         TEXT NOT NULL,
    source        TEXT,
    at            TEXT NOT NULL
);
CREATE INDEX change_batches_by_dataset ON change_batches (dataset_id, at);

-- Every schema a dataset had.
CREATE TABLE dataset_schemas (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    version    INTEGER NOT NULL,
    schema     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (dataset_id, version)
);
