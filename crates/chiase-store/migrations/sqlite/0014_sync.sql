-- Sync into datasets (issue 13, item 4): pull jobs that read an upstream
-- JSON endpoint into a hosted dataset on a schedule, and every sync run —
-- a pull job's, or a push from an agency's own system — with its report.
CREATE TABLE sync_jobs (
    id           INTEGER PRIMARY KEY,
    dataset_id   INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    records_at   TEXT NOT NULL DEFAULT '',                -- JSON pointer to the records ('' : the answer is the array)
    paging       TEXT NOT NULL DEFAULT '{"type":"none"}',  -- JSON: how the pages are asked for
    mapping      TEXT NOT NULL DEFAULT '{}',               -- JSON: upstream key -> dataset field
    mode         TEXT NOT NULL CHECK (mode IN ('replace', 'upsert')),
    every_secs   INTEGER,                                  -- NULL: only when asked
    timeout_secs INTEGER NOT NULL DEFAULT 60,              -- one request's deadline
    credential   TEXT,                                     -- the header sent upstream, sealed (AES-256-GCM); NULL: none
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    next_run_at  TEXT                                      -- NULL: not scheduled
);
CREATE INDEX sync_jobs_by_dataset ON sync_jobs (dataset_id, id);

CREATE TABLE sync_runs (
    id          INTEGER PRIMARY KEY,
    dataset_id  INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    job_id      INTEGER REFERENCES sync_jobs (id) ON DELETE CASCADE,  -- NULL: a push
    kind        TEXT NOT NULL CHECK (kind IN ('pull', 'push')),
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    rows_read   INTEGER NOT NULL DEFAULT 0,
    imported    INTEGER NOT NULL DEFAULT 0,                -- rows inserted or updated
    deleted     INTEGER NOT NULL DEFAULT 0,
    report      TEXT NOT NULL DEFAULT '{}',                -- JSON: the import's summary or its row errors
    error       TEXT,                                      -- why the run failed (then nothing changed)
    run_by      TEXT NOT NULL
);
CREATE INDEX sync_runs_by_dataset ON sync_runs (dataset_id, id);
CREATE INDEX sync_runs_by_job ON sync_runs (job_id, id);
