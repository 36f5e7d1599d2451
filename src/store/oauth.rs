//! OAuth 2.0 clients as stored (RFC 6749 §2): who they are and how they may prove it. Their
//! secrets and the access tokens they get are token rows (`TokenStore`, kinds `secret` and
//! `access`).

use time::OffsetDateTime;

use super::StoreFuture;

/// An OAuth client of one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    /// The `client_id`.
    pub id: String,
    /// The tenant whose SCIM API its access tokens open.
    pub tenant: String,
    /// The name given by the admin, shown in logs and the audit log.
    pub name: String,
    /// When it was made.
    pub created: OffsetDateTime,
    /// How long each access token it gets lives.
    pub access_token_minutes: u32,
    /// Whose signed JWTs (RFC 7523) prove it, when it may prove itself that way.
    pub jwt: Option<JwtTrust>,
    /// Once set, never cleared: the client, its secrets and tokens are refused.
    pub revoked_at: Option<OffsetDateTime>,
}

/// The JWT client assertions (RFC 7523 §3) a client is proved by: signed by a key of
/// `jwks_url`, with these claims.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtTrust {
    /// Where the signing keys are (a JWK Set, RFC 7517 §5).
    pub jwks_url: String,
    /// The `iss` asked for; `None`: the client id (RFC 7523 §3).
    pub issuer: Option<String>,
    /// The `sub` asked for; `None`: the client id.
    pub subject: Option<String>,
    /// The `aud` asked for; `None`: the token endpoint's URL or the issuer's.
    pub audience: Option<String>,
}

/// Every tenant's OAuth clients.
pub trait OAuthStore: Send + Sync + 'static {
    /// Adds a client, or changes its name, token lifetime and JWT trust (a stored revocation
    /// stays).
    fn put_client<'a>(&'a self, client: &'a ClientRecord) -> StoreFuture<'a, ()>;

    /// A tenant's clients (one, with `id`), oldest first.
    fn clients<'a>(
        &'a self,
        tenant: &'a str,
        id: Option<&'a str>,
    ) -> StoreFuture<'a, Vec<ClientRecord>>;

    /// Notes the first use of a client's JWT assertion `jti` (kept until `expires_at`, those
    /// expired by `now` dropped); false when it was used before.
    fn use_assertion<'a>(
        &'a self,
        client: &'a str,
        jti: &'a str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreFuture<'a, bool>;

    /// Revokes a client with its secrets and access tokens, at once; false when there is no
    /// such client.
    fn revoke_client<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
        at: OffsetDateTime,
    ) -> StoreFuture<'a, bool>;
}
