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
    openapi       TEXT,              -- the upstream's OpenAPI document (JSON), when given
    upstream_auth TEXT,              -- the upstream's own credential (header and value), sealed (AES-256-GCM), base64
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX services_by_database ON services (database_id);
