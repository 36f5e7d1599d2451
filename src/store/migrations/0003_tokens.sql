-- Managed SCIM bearer tokens: only a hash of each secret is stored.
CREATE TABLE tokens (
    id           TEXT NOT NULL PRIMARY KEY,
    tenant       TEXT NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created      TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX tokens_by_tenant ON tokens (tenant, created);
