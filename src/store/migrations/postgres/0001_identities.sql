-- The gateway's identity store (PostgreSQL): the same table as the SQLite store. See
-- ../0001_identities.sql for what each column holds.
CREATE TABLE identities (
    tenant        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    scim_id       TEXT NOT NULL,
    backend_key   TEXT NOT NULL,
    external_id   TEXT,
    shadow        TEXT NOT NULL,
    platform      TEXT NOT NULL,
    created       TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    PRIMARY KEY (tenant, resource_type, scim_id)
);
CREATE UNIQUE INDEX identities_by_backend_key ON identities (tenant, resource_type, backend_key);
CREATE INDEX identities_by_external_id ON identities (tenant, resource_type, external_id);
