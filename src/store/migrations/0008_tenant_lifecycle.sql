-- What a tenant's DELETE of a user does to the platform account (`delete`, `suspend`, or
-- `unlink`: the account stays as it is), and whether a POST matching a deactivated user
-- reactivates and updates it (`reactivate`) instead of answering 409.
ALTER TABLE tenants ADD COLUMN deprovision TEXT NOT NULL DEFAULT 'delete';
ALTER TABLE tenants ADD COLUMN reactivate BIGINT NOT NULL DEFAULT 0;

-- The extension schemas the tenant declares (`scim::declared`): a JSON array of
-- {"resourceType", "schema"}.
ALTER TABLE tenants ADD COLUMN extensions TEXT NOT NULL DEFAULT '[]';
