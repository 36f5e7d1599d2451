-- Tenants (SCIM configurations). Each fronts a backend named in the config file; platform
-- credentials stay in the config, never here.
CREATE TABLE tenants (
    id                      TEXT NOT NULL PRIMARY KEY,
    name                    TEXT NOT NULL,
    enabled                 BIGINT NOT NULL,
    backend                 TEXT NOT NULL,
    max_token_lifetime_days BIGINT,
    created                 TEXT NOT NULL,
    updated                 TEXT NOT NULL
);
-- A backend fronts one tenant at most: tenants on one platform would see each other's accounts.
CREATE UNIQUE INDEX tenants_by_backend ON tenants (backend);

-- The tenants of what the store holds already: a single-tenant store's `default`, which fronts
-- the config's [backend] (the backend named `default`). Their times in the fixed-width form
-- (`...:SS.mmmZ`) the store writes now; older stores may hold more fraction digits.
INSERT INTO tenants (id, name, enabled, backend, max_token_lifetime_days, created, updated)
SELECT tenant, CASE WHEN tenant = 'default' THEN 'Default' ELSE tenant END, 1, tenant, NULL,
       CASE WHEN length(first_seen) = 24 THEN first_seen ELSE substr(first_seen, 1, 19) || '.000Z' END,
       CASE WHEN length(first_seen) = 24 THEN first_seen ELSE substr(first_seen, 1, 19) || '.000Z' END
FROM (
    SELECT tenant, MIN(created) AS first_seen
    FROM (SELECT tenant, created FROM identities UNION ALL SELECT tenant, created FROM tokens) AS known
    GROUP BY tenant
) AS seen;

-- Identity links and tokens belong to a tenant that exists: a tenant cannot be deleted while
-- it has links (whatever is in flight), and nothing is linked to a tenant that is gone. The
-- tables are made anew under their own names with the reference (the same statements on
-- SQLite and PostgreSQL), their rows kept aside meanwhile.
CREATE TABLE identities_before_tenants AS SELECT * FROM identities;
DROP TABLE identities;
CREATE TABLE identities (
    tenant        TEXT NOT NULL REFERENCES tenants (id),
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
INSERT INTO identities (tenant, resource_type, scim_id, backend_key, external_id, shadow, platform, created, last_modified)
SELECT tenant, resource_type, scim_id, backend_key, external_id, shadow, platform, created, last_modified FROM identities_before_tenants;
DROP TABLE identities_before_tenants;
CREATE UNIQUE INDEX identities_by_backend_key ON identities (tenant, resource_type, backend_key);
CREATE INDEX identities_by_external_id ON identities (tenant, resource_type, external_id);

-- `issued`: when the token's current secret was issued (a tenant's maximum lifetime counts
-- from it; NULL for tokens from before: issued when made).
CREATE TABLE tokens_before_tenants AS SELECT * FROM tokens;
DROP TABLE tokens;
CREATE TABLE tokens (
    id           TEXT NOT NULL PRIMARY KEY,
    tenant       TEXT NOT NULL REFERENCES tenants (id),
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created      TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT,
    issued       TEXT
);
INSERT INTO tokens (id, tenant, name, hash, created, expires_at, last_used_at, revoked_at)
SELECT id, tenant, name, hash, created, expires_at, last_used_at, revoked_at FROM tokens_before_tenants;
DROP TABLE tokens_before_tenants;
CREATE INDEX tokens_by_tenant ON tokens (tenant, created);
