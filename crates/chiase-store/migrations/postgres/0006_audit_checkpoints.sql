-- Same table and meaning as migrations/sqlite/0006_audit_checkpoints.sql.
CREATE TABLE audit_checkpoints (
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL,
    at   TEXT NOT NULL,            -- RFC 3339, microseconds, Z: signed as written
    mac  TEXT NOT NULL,
    PRIMARY KEY (seq, hash)
);
