-- OAuth 2.0 clients (RFC 6749 §4.4, client credentials), one tenant's each. A client proves
-- itself with one of its secrets, or with a JWT signed by a key of `jwks_url` (RFC 7523), and
-- gets short-lived access tokens. Revoking a client revokes its secrets and tokens.
CREATE TABLE oauth_clients (
    id                    TEXT NOT NULL PRIMARY KEY,
    tenant                TEXT NOT NULL REFERENCES tenants (id),
    name                  TEXT NOT NULL,
    created               TEXT NOT NULL,
    access_token_minutes  BIGINT NOT NULL,
    jwks_url              TEXT,
    jwt_issuer            TEXT,
    jwt_subject           TEXT,
    jwt_audience          TEXT,
    revoked_at            TEXT
);
CREATE INDEX oauth_clients_by_tenant ON oauth_clients (tenant, created);

-- What a token row is: an admin-made SCIM bearer token (`bearer`), an OAuth client's secret
-- (`secret`, never accepted as a bearer token), or an access token the token endpoint issued
-- (`access`); `client` names the OAuth client of the last two, `parent` the secret an access
-- token was issued for. A token reads as revoked when its client or parent is (one query, so
-- no revocation races an issue).
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'bearer';
ALTER TABLE tokens ADD COLUMN client TEXT;
ALTER TABLE tokens ADD COLUMN parent TEXT;
CREATE INDEX tokens_by_client ON tokens (client);

-- The JWT client assertions used (RFC 7523 §3 item 7), until they expire: an assertion is good
-- once, across every replica sharing the store.
CREATE TABLE used_assertions (
    client     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (client, jti)
);
