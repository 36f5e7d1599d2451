-- Creates the gateway began and has not answered: a create whose platform call succeeded while
-- the process died before the link was stored leaves one behind. Written before the platform
-- is asked, removed once the create is answered (or refused), so that the IdP's retry of the
-- same request is recognised: the
-- account it made is linked under the SCIM id chosen the first time and the retry answered as
-- the create it repeats, never with a second account or a 409 for the IdP's own account.
-- One row per resource name (userName, displayName, as RFC 7643 compares them: lowercased).
CREATE TABLE create_intents (
    tenant        TEXT NOT NULL REFERENCES tenants (id),
    resource_type TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- A digest of the request body: only the same request is a retry.
    request       TEXT NOT NULL,
    scim_id       TEXT NOT NULL,
    started       TEXT NOT NULL,
    PRIMARY KEY (tenant, resource_type, name)
);
CREATE INDEX create_intents_by_start ON create_intents (tenant, started);
