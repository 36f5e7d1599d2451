-- How a tenant reads its IdP's requests: `strict` (RFC 7644 to the letter) or `lenient` (also
-- the IdP dialects `scim::dialect` lists), and whether its tokens may come without the
-- `Bearer` scheme (`Authorization: <token>`, Okta's "header" authentication mode).
ALTER TABLE tenants ADD COLUMN dialect TEXT NOT NULL DEFAULT 'lenient';
ALTER TABLE tenants ADD COLUMN bare_token BIGINT NOT NULL DEFAULT 0;
