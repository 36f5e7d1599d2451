//! Managed SCIM bearer tokens, OAuth client secrets and OAuth access tokens as stored: hashes,
//! never secrets; every change written alone.

use time::OffsetDateTime;

use super::StoreFuture;

/// A managed SCIM bearer token; the secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// The token's id, also the `<id>` of its `sgt_<id>_<secret>` form.
    pub id: String,
    /// The tenant the token is good for.
    pub tenant: String,
    /// The name given by the admin, shown in logs and the audit log.
    pub name: String,
    /// Hex SHA-256 of the secret part.
    pub hash: String,
    /// When the token was made.
    pub created: OffsetDateTime,
    /// When the current secret was issued (made or regenerated).
    pub issued: OffsetDateTime,
    /// From then on the token is refused; `None`: never.
    pub expires_at: Option<OffsetDateTime>,
    /// When a request last presented it.
    pub last_used_at: Option<OffsetDateTime>,
    /// Once set, never cleared: `put_token` keeps a stored revocation.
    pub revoked_at: Option<OffsetDateTime>,
    /// What the token is for.
    pub kind: TokenKind,
    /// The OAuth client a secret or access token belongs to.
    pub client: Option<String>,
    /// The client secret an access token was issued for (revoking it revokes the token).
    pub parent: Option<String>,
}

/// What a stored token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A SCIM bearer token an admin made.
    Bearer,
    /// An OAuth client's secret: it gets access tokens, and is never a bearer token itself.
    ClientSecret,
    /// An access token the OAuth token endpoint issued (a bearer token, short-lived).
    Access,
}

impl TokenKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Bearer => "bearer",
            TokenKind::ClientSecret => "secret",
            TokenKind::Access => "access",
        }
    }

    /// The kind of a stored form.
    pub fn parse(s: &str) -> Option<TokenKind> {
        [
            TokenKind::Bearer,
            TokenKind::ClientSecret,
            TokenKind::Access,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether a request may present it as `Authorization: Bearer`.
    pub fn is_bearer(self) -> bool {
        self != TokenKind::ClientSecret
    }
}

/// One change to a stored token, written alone (one column set, one statement), so that
/// concurrent changes never undo each other: a rename cannot bring an old secret back, nor a
/// check of the token a revocation.
#[derive(Debug, Clone)]
pub enum TokenWrite {
    /// A new name.
    Name(String),
    /// A new expiry (`None`: never), whatever the stored one.
    Expiry(Option<OffsetDateTime>),
    /// An earlier expiry: only while the stored one is this late or later (a limit lowered
    /// meanwhile is not undone).
    ShortenTo(OffsetDateTime),
    /// Revoked at this time (an earlier revocation stays).
    Revoke(OffsetDateTime),
    /// A new secret, issued at `issued`; only while the token is not revoked.
    Secret {
        /// Hex SHA-256 of the new secret part.
        hash: String,
        /// When the new secret was issued.
        issued: OffsetDateTime,
    },
}

/// Every tenant's managed tokens.
pub trait TokenStore: Send + Sync + 'static {
    /// Adds or replaces a managed token (a stored revocation stays).
    fn put_token<'a>(&'a self, token: &'a TokenRecord) -> StoreFuture<'a, ()>;

    /// Writes one change to a tenant's token; false when no token was changed (none of that
    /// id, or, for a new secret, a revoked one).
    fn write_token<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
        write: &'a TokenWrite,
    ) -> StoreFuture<'a, bool>;

    /// Sets a token's `last_used_at` alone (so checking a token never undoes a revocation or
    /// regeneration made meanwhile).
    fn touch_token<'a>(&'a self, id: &'a str, at: OffsetDateTime) -> StoreFuture<'a, ()>;

    /// Makes a tenant's live tokens expire by `latest` at the latest; how many changed.
    fn shorten_tokens<'a>(
        &'a self,
        tenant: &'a str,
        latest: OffsetDateTime,
    ) -> StoreFuture<'a, u64>;

    /// Deletes a tenant's OAuth access tokens that expired before `before`; how many.
    fn prune_access_tokens<'a>(
        &'a self,
        tenant: &'a str,
        before: OffsetDateTime,
    ) -> StoreFuture<'a, u64>;

    /// A tenant's managed tokens of every kind (one, with `id`), oldest first. A token of a
    /// revoked OAuth client, or issued for a revoked secret, reads as revoked then.
    fn tokens<'a>(
        &'a self,
        tenant: &'a str,
        id: Option<&'a str>,
    ) -> StoreFuture<'a, Vec<TokenRecord>>;
}
