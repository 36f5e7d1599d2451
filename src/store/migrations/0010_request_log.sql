-- The request log, for debugging an IdP's provisioning: each SCIM request a tenant received,
-- the platform calls it made, and the bodies with secrets masked. Bounded by age and by entries
-- per tenant (request_log in the config); separate from the audit log, which keeps what changed.
CREATE TABLE request_log (
    id            TEXT NOT NULL PRIMARY KEY,
    at            TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    token         TEXT NOT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    status        INTEGER NOT NULL,
    duration_ms   DOUBLE PRECISION NOT NULL,
    request_body  TEXT NOT NULL,
    response_body TEXT NOT NULL,
    calls         TEXT NOT NULL
);
-- Read and trimmed per tenant, newest first. Retention removes across tenants every few
-- minutes with a scan: no index by time alone, so that each insert maintains one index less.
CREATE INDEX request_log_by_tenant_time ON request_log (tenant, at);
