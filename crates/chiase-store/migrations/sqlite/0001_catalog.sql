-- The catalog of shared databases: agencies with their lifecycle, catalog
-- versions by decision, databases and the entries each version published.
-- Dates are 'YYYY-MM-DD' text, timestamps RFC 3339 text, JSON is text.

-- An agency keeps its id for life; its current name is here and every name
-- it ever had is in agency_names, so old decisions still resolve to it.
CREATE TABLE agencies (
    id               INTEGER PRIMARY KEY,
    slug             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged', 'dissolved')),
    established_on   TEXT,
    ended_on         TEXT,
    successor_id     INTEGER REFERENCES agencies (id),
    contact_name     TEXT,
    contact_position TEXT,
    contact_phone    TEXT,
    contact_email    TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE agency_names (
    agency_id  INTEGER NOT NULL REFERENCES agencies (id),
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,          -- folded words: how names are matched
    valid_from TEXT,                   -- NULL: from before chiase knew it
    valid_to   TEXT                    -- NULL: still its name
);
CREATE INDEX agency_names_by_key ON agency_names (name_key);
CREATE INDEX agency_names_by_agency ON agency_names (agency_id);

-- Lifecycle events, dated as the decision that made them says.
CREATE TABLE agency_events (
    id          INTEGER PRIMARY KEY,
    agency_id   INTEGER NOT NULL REFERENCES agencies (id),
    kind        TEXT NOT NULL,         -- created, renamed, merged, absorbed, dissolved, contact_changed
    occurred_on TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    recorded_at TEXT NOT NULL
);
CREATE INDEX agency_events_by_agency ON agency_events (agency_id, occurred_on);

-- Each import of a decision's catalog is a version.
CREATE TABLE catalog_versions (
    id            INTEGER PRIMARY KEY,
    decision_no   TEXT NOT NULL UNIQUE,
    decision_date TEXT NOT NULL,
    signer        TEXT,
    title         TEXT,
    source_name   TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    source_title  TEXT,
    entry_count   INTEGER NOT NULL,
    imported_at   TEXT NOT NULL
);

-- A database lives across versions; this row holds its current entry.
CREATE TABLE databases (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    no          INTEGER,               -- number in the current version; NULL once withdrawn
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    owner_id    INTEGER NOT NULL REFERENCES agencies (id),
    cadence     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'listed' CHECK (status IN ('listed', 'withdrawn')),
    version_id  INTEGER NOT NULL REFERENCES catalog_versions (id),
    fields      TEXT NOT NULL,         -- JSON of chiase_core::catalog::EntryFields
    raw         TEXT NOT NULL,         -- JSON of the verbatim cells
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX databases_by_no ON databases (no);
CREATE INDEX databases_by_owner ON databases (owner_id);
CREATE INDEX databases_by_name_key ON databases (name_key);

CREATE TABLE database_sharing (
    database_id INTEGER NOT NULL REFERENCES databases (id),
    mode        TEXT NOT NULL CHECK (mode IN ('open', 'default', 'specific', 'legal')),
    PRIMARY KEY (database_id, mode)
);
CREATE INDEX database_sharing_by_mode ON database_sharing (mode, database_id);

-- Who owned a database when: mergers move ownership, history stays.
CREATE TABLE database_owners (
    id          INTEGER PRIMARY KEY,
    database_id INTEGER NOT NULL REFERENCES databases (id),
    agency_id   INTEGER NOT NULL REFERENCES agencies (id),
    valid_from  TEXT NOT NULL,
    valid_to    TEXT,
    reason      TEXT NOT NULL          -- decision, merger, transfer
);
CREATE INDEX database_owners_by_database ON database_owners (database_id, valid_from);

-- What each version published, verbatim and derived.
CREATE TABLE catalog_entries (
    version_id  INTEGER NOT NULL REFERENCES catalog_versions (id),
    database_id INTEGER NOT NULL REFERENCES databases (id),
    no          INTEGER NOT NULL,
    line        INTEGER NOT NULL,
    raw         TEXT NOT NULL,
    fields      TEXT NOT NULL,
    PRIMARY KEY (version_id, database_id)
);

-- Bumped in the same transaction as every change that alters search
-- results (imports, renames, mergers), so that each process rebuilds its
-- in-memory catalog index (chiase_core::catalog_index) exactly when needed.
CREATE TABLE catalog_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO catalog_generation (id, generation) VALUES (1, 0);
