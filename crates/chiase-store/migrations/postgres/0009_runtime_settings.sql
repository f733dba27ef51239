-- Same table and meaning as migrations/sqlite/0009_runtime_settings.sql.
CREATE TABLE runtime_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);
