-- Signed checkpoints of the audit chain's head (chiase-store
-- audit_anchor.rs): (seq, hash, at) with an HMAC-SHA256 under a key kept
-- in a file outside the database. Each checkpoint is also appended to a
-- JSON-lines file beside the key, so that wiping this table does not
-- remove the anchor. Several processes may write the same checkpoint: the
-- key makes a second copy harmless.
CREATE TABLE audit_checkpoints (
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL,
    at   TEXT NOT NULL,            -- RFC 3339, microseconds, Z: signed as written
    mac  TEXT NOT NULL,            -- hex HMAC-SHA256 of "chiase-audit-checkpoint\nSEQ\nHASH\nAT"
    PRIMARY KEY (seq, hash)
);
