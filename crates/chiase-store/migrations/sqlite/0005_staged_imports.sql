-- Large imports on SQLite build a new generation of a dataset's table
-- (ds_<id>_g<n>) in short transactions and make it current by changing
-- datasets.table_name in one. The table it replaces is retired here and
-- dropped by housekeeping once readers that loaded the old name are done.
CREATE TABLE retired_tables (
    name       TEXT PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    retired_at TEXT NOT NULL
);

-- Sign-in throttling counts failures per account and source, and per
-- source across accounts.
CREATE INDEX login_attempts_by_source ON login_attempts (source, at);
