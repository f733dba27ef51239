-- Harvesting (issue 12, item 5): other catalogs chiase pulls entries
-- from on a schedule (a CKAN site, a DCAT catalog, a Data Package,
-- another chiase), each run's report, and what each run brought.
CREATE TABLE harvest_sources (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    url         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('ckan', 'dcat', 'datapackage', 'chiase')),
    every_secs  INTEGER,                               -- NULL: only when asked
    timeout_secs INTEGER NOT NULL DEFAULT 60,          -- one request's deadline
    database_id INTEGER REFERENCES databases (id),     -- where entries with no database of the same id here go
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    next_run_at TEXT                                   -- NULL: not scheduled
);

CREATE TABLE harvest_runs (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES harvest_sources (id) ON DELETE CASCADE,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    added       INTEGER NOT NULL DEFAULT 0,
    changed     INTEGER NOT NULL DEFAULT 0,
    removed     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    report      TEXT NOT NULL DEFAULT '[]',            -- JSON: one line per entry added, changed, removed or failed
    error       TEXT                                   -- why the whole run failed (nothing was changed)
);
CREATE INDEX harvest_runs_by_source ON harvest_runs (source_id, id);

-- An entry a source lists, as last harvested; `dataset_id` is the local,
-- read-only copy of its rows when it has open rows chiase could fetch.
CREATE TABLE harvested_entries (
    source_id    INTEGER NOT NULL REFERENCES harvest_sources (id) ON DELETE CASCADE,
    remote_id    TEXT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    publisher    TEXT,
    landing_url  TEXT,
    modified     TEXT,
    metadata     TEXT NOT NULL DEFAULT '{}',
    content_hash TEXT NOT NULL,
    dataset_id   INTEGER REFERENCES datasets (id),
    harvested_at TEXT NOT NULL,
    PRIMARY KEY (source_id, remote_id)
);
CREATE UNIQUE INDEX harvested_entries_dataset ON harvested_entries (dataset_id) WHERE dataset_id IS NOT NULL;
