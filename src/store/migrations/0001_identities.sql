-- The gateway's identity store: the SCIM id it owns for every platform object it has seen,
-- the platform key it maps to, and the SCIM attributes as the IdP last wrote them ("shadow"),
-- which fill in what the platform cannot hold, and the platform object as last written.
CREATE TABLE identities (
    tenant        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    scim_id       TEXT NOT NULL,
    backend_key   TEXT NOT NULL,
    external_id   TEXT,
    shadow        TEXT NOT NULL,
    -- The platform object as it was right after the gateway last wrote it (JSON null when the
    -- IdP never wrote it): a platform value that still equals it was not changed on the platform.
    platform      TEXT NOT NULL,
    created       TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    PRIMARY KEY (tenant, resource_type, scim_id)
);
CREATE UNIQUE INDEX identities_by_backend_key ON identities (tenant, resource_type, backend_key);
CREATE INDEX identities_by_external_id ON identities (tenant, resource_type, external_id);
