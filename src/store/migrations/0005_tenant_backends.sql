-- A backend fronts one tenant at most: tenants on one platform would see each other's accounts.
CREATE UNIQUE INDEX tenants_by_backend ON tenants (backend);
-- When a token's current secret was issued (a tenant's maximum lifetime counts from it).
ALTER TABLE tokens ADD COLUMN issued TEXT;
