-- Large imports on SQLite build a new generation of a dataset's table and
-- retire the old one here (see the SQLite migration). PostgreSQL applies
-- imports in one transaction and never retires a table, but keeps the same
-- schema so that a copied installation reads the same.
CREATE TABLE retired_tables (
    name       TEXT PRIMARY KEY,
    dataset_id BIGINT NOT NULL REFERENCES datasets (id),
    retired_at TIMESTAMPTZ NOT NULL
);

-- Sign-in throttling counts failures per account and source, and per
-- source across accounts.
CREATE INDEX login_attempts_by_source ON login_attempts (source, at);
