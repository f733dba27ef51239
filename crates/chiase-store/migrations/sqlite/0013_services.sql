-- Services (issue 13): live systems a catalog database offers, called
-- through the gateway (`/gateway/{service}/…`).
CREATE TABLE services (
    id            INTEGER PRIMARY KEY,
    slug          TEXT NOT NULL UNIQUE,
    database_id   INTEGER NOT NULL REFERENCES databases (id),
    title         TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    upstream_url  TEXT NOT NULL,
    sharing_mode  TEXT NOT NULL CHECK (sharing_mode IN ('open', 'default', 'specific', 'legal')),
    timeout_ms    INTEGER NOT NULL,
    rate_per_minute INTEGER,         -- calls a consumer may make in a minute (NULL: no limit)
    quota_per_day INTEGER,           -- and in a day (Vietnam time)
    health_path   TEXT NOT NULL DEFAULT '/',  -- what the health check asks for
    health_ok     INTEGER,           -- the last check: answered below 500 in time (NULL: not checked yet)
    health_detail TEXT,
    health_checked_at TEXT,
    openapi       TEXT,              -- the upstream's OpenAPI document (JSON), when given
    upstream_auth TEXT,              -- the upstream's own credential (header and value), sealed (AES-256-GCM), base64
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX services_by_database ON services (database_id);

-- Calls per consumer (agency, else account, else address) and window
-- (`m:YYYY-MM-DDTHH:MM` or `d:YYYY-MM-DD`, the period), counted in the database so
-- that every process on it shares the limits.
CREATE TABLE service_usage (
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    consumer   TEXT NOT NULL,
    period     TEXT NOT NULL,
    calls      INTEGER NOT NULL,
    PRIMARY KEY (service_id, consumer, period)
);
