-- The audit log: every provisioning change and every admin action.
CREATE TABLE audit (
    id            TEXT NOT NULL PRIMARY KEY,
    at            TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    operation     TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    target        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    status        INTEGER NOT NULL,
    detail        TEXT NOT NULL
);
CREATE INDEX audit_by_tenant_time ON audit (tenant, at);
-- Retention removes by time across tenants.
CREATE INDEX audit_by_time ON audit (at);
