-- Sign-in through the province's central sign-on over OpenID Connect
-- (issue 11, item 2).

-- The provider's subject identifier (`sub`) of an account that signs in
-- there; NULL: not linked. One account per subject.
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_subject ON users (oidc_subject) WHERE oidc_subject IS NOT NULL;

-- The ID token a web session was opened with, sent back as id_token_hint
-- when the session ends (RP-initiated logout); NULL: a password session.
ALTER TABLE sessions ADD COLUMN oidc_id_token TEXT;

-- Sign-ins under way: one row per redirect to the provider, keyed by the
-- SHA-256 of its `state`, taken (deleted) by the callback, so each is used
-- once, and dead after `expires_at` (10 minutes).
CREATE TABLE oidc_logins (
    state_hash    TEXT PRIMARY KEY,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    lang          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX oidc_logins_by_expiry ON oidc_logins (expires_at);
