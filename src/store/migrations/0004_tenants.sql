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
-- When a token's current secret was issued (a tenant's maximum lifetime counts from it).
ALTER TABLE tokens ADD COLUMN issued TEXT;
