-- Who may read what: accounts, API tokens, web sessions, sharing requests
-- (an approved request is a grant), and the tamper-evident audit log.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    agency_id     INTEGER REFERENCES agencies (id),   -- NULL: a member of the public
    role          TEXT NOT NULL CHECK (role IN ('admin', 'steward', 'member')),
    password_hash TEXT,                                 -- argon2id PHC string; NULL: no password sign-in
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at    TEXT NOT NULL,
    last_login_at TEXT
);

-- API tokens: only the SHA-256 of a token is kept; it is shown once.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,                         -- first characters, to tell tokens apart
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- Web sessions, shared by every process: the cookie holds the id, the
-- table its hash.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Sign-in attempts, for throttling across processes.
CREATE TABLE login_attempts (
    id       INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    source   TEXT NOT NULL,
    success  INTEGER NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX login_attempts_by_user ON login_attempts (username, at);

-- One-time tokens that let the first administrator be created.
CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    used_at    TEXT
);

-- A consumer agency's request for a dataset; approved, it is the grant.
CREATE TABLE sharing_requests (
    id                  INTEGER PRIMARY KEY,
    dataset_id          INTEGER NOT NULL REFERENCES datasets (id),
    requester_id        INTEGER NOT NULL REFERENCES users (id),
    agency_id           INTEGER NOT NULL REFERENCES agencies (id),
    fields              TEXT,                  -- JSON list of field names; NULL: every non-personal field
    purpose             TEXT NOT NULL,
    legal_basis         TEXT,
    period_from         TEXT NOT NULL,
    period_to           TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'refused', 'withdrawn', 'revoked')),
    created_at          TEXT NOT NULL,
    deadline_at         TEXT NOT NULL,
    decided_by          INTEGER REFERENCES users (id),
    decided_at          TEXT,
    granted_fields      TEXT,                  -- JSON, as approved (may narrow `fields`)
    granted_from        TEXT,
    granted_to          TEXT,
    decision_no         TEXT,                  -- decision document number, when approved by one
    decision_date       TEXT,
    refusal_reason      TEXT,
    refusal_legal_basis TEXT,
    revoked_by          INTEGER REFERENCES users (id),
    revoked_at          TEXT,
    revoke_reason       TEXT
);
CREATE INDEX sharing_requests_by_agency ON sharing_requests (agency_id, status);
CREATE INDEX sharing_requests_by_dataset ON sharing_requests (dataset_id, status);

-- The audit log: an append-only chain. Each event carries the hash of the
-- one before and the hash of its own canonical form (chiase-store audit.rs).
CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,          -- RFC 3339, microseconds, Z: hashed as written
    actor      TEXT NOT NULL,
    user_id    INTEGER,
    agency_id  INTEGER,
    action     TEXT NOT NULL,
    dataset_id INTEGER,
    target     TEXT,
    detail     TEXT NOT NULL,          -- canonical JSON: query, fields, rows, grant, outcome…
    source     TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_events_by_dataset ON audit_events (dataset_id, seq);
CREATE INDEX audit_events_by_agency ON audit_events (agency_id, seq);

-- The head of the chain: one row, locked by each writer, so that several
-- processes extend one unbroken chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Reads of open data are counted per dataset and day, not logged one by one.
CREATE TABLE open_read_counts (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    day        TEXT NOT NULL,
    reads      INTEGER NOT NULL,
    rows       INTEGER NOT NULL,
    PRIMARY KEY (dataset_id, day)
);
