//! A tenant's token endpoint at work: the client authenticated by a secret (a token row of
//! kind `secret`) or a JWT checked against its JWK Set, then an access token issued (a token
//! row of kind `access`, verified on each SCIM request like any managed token, so revoking
//! the client stops it at once on every replica).

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::assertion::{self, Expected};
use super::jwks::JwksCache;
use super::{ClientAuth, Endpoints, ErrorCode, OAuthError};
use crate::clock::SharedClock;
use crate::store::{ClientRecord, Store, StoreError, TenantRecord, TokenKind};

/// Access tokens that expired this long ago are deleted when another is issued.
const KEEP_EXPIRED: time::Duration = time::Duration::days(1);

/// An access token issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The token, shown to the client only.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// The client it went to.
    pub client: ClientRecord,
}

/// Issues access tokens for every tenant.
pub struct Issuer {
    store: Arc<dyn Store>,
    clock: SharedClock,
    jwks: JwksCache,
}

fn invalid_client(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

fn unavailable(e: &StoreError) -> OAuthError {
    tracing::error!(error = %e, "the token endpoint cannot read the store");
    OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        "the gateway cannot check the client right now; try again shortly",
    )
}

impl Issuer {
    /// An issuer over the store, fetching JWK Sets within `jwks_timeout`; an error when no
    /// HTTP client can be made for them.
    pub fn new(
        store: Arc<dyn Store>,
        clock: SharedClock,
        jwks_timeout: Duration,
    ) -> Result<Self, String> {
        Ok(Issuer {
            store,
            clock,
            jwks: JwksCache::new(jwks_timeout, Duration::from_secs(600))?,
        })
    }

    /// An access token for the client a request authenticates as, or why not. A tenant that
    /// does not exist answers as a client that does not: nothing tells which tenants exist.
    pub async fn issue(
        &self,
        tenant: Option<&TenantRecord>,
        auth: ClientAuth,
        endpoints: &Endpoints,
    ) -> Result<Issued, OAuthError> {
        let Some(tenant) = tenant else {
            return Err(invalid_client("unknown client or wrong credentials"));
        };
        let now = self.clock.now();
        let (client, secret_id) = match auth {
            ClientAuth::Secret { client_id, secret } => {
                self.by_secret(tenant, &client_id, &secret, now).await?
            }
            ClientAuth::Assertion { client_id, jwt } => (
                self.by_assertion(tenant, client_id, &jwt, endpoints, now)
                    .await?,
                None,
            ),
        };
        if !tenant.enabled {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("the SCIM configuration {} is disabled", tenant.id),
            ));
        }
        let minutes = client.access_token_minutes;
        let expires_at = now + time::Duration::minutes(i64::from(minutes));
        let (mut record, access_token) = crate::tokens::issue_kind(
            TokenKind::Access,
            Some(&client.id),
            &tenant.id,
            &format!("oauth:{}", client.name),
            Some(expires_at),
            now,
        );
        // Revoking the secret revokes the tokens it got.
        record.parent = secret_id;
        self.store.put_token(&record).await.map_err(|e| match e {
            StoreError::TenantGone(_) => invalid_client("unknown client or wrong credentials"),
            e => unavailable(&e),
        })?;
        // Expired tokens are of no use: their rows go, a day late (an admin may look).
        if let Err(e) = self
            .store
            .prune_access_tokens(&tenant.id, now - KEEP_EXPIRED)
            .await
        {
            tracing::warn!(error = %e, tenant = %tenant.id, "cannot prune expired access tokens");
        }
        Ok(Issued {
            access_token,
            expires_in: u64::from(minutes) * 60,
            client,
        })
    }

    /// The live client of `client_id` in `tenant`.
    async fn client(&self, tenant: &str, client_id: &str) -> Result<ClientRecord, OAuthError> {
        let client = self
            .store
            .clients(tenant, Some(client_id))
            .await
            .map_err(|e| unavailable(&e))?
            .into_iter()
            .next()
            .filter(|c| c.revoked_at.is_none());
        client.ok_or_else(|| invalid_client("unknown client or wrong credentials"))
    }

    async fn by_secret(
        &self,
        tenant: &TenantRecord,
        client_id: &str,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<(ClientRecord, Option<String>), OAuthError> {
        let record = crate::tokens::find_live(self.store.as_ref(), &tenant.id, secret, now)
            .await
            .map_err(|e| unavailable(&e))?
            .filter(|r| {
                r.kind == TokenKind::ClientSecret && r.client.as_deref() == Some(client_id)
            });
        let Some(record) = record else {
            return Err(invalid_client(
                "unknown client or wrong credentials (a secret revoked or expired is refused)",
            ));
        };
        let client = self.client(&tenant.id, client_id).await?;
        let secret_id = record.id.clone();
        // The secret's last use, for the admin deciding which secret to retire.
        if let Err(e) = crate::tokens::note_use(self.store.as_ref(), record, now).await {
            tracing::warn!(error = %e, "cannot note a client secret's use");
        }
        Ok((client, Some(secret_id)))
    }

    async fn by_assertion(
        &self,
        tenant: &TenantRecord,
        client_id: Option<String>,
        jwt: &str,
        endpoints: &Endpoints,
        now: OffsetDateTime,
    ) -> Result<ClientRecord, OAuthError> {
        // RFC 7523 §3: the subject is the client id, unless the client says whose it is.
        let Some(client_id) = client_id.or_else(|| assertion::claimed_subject(jwt)) else {
            return Err(invalid_client(
                "the client assertion names no client: send client_id or a sub claim",
            ));
        };
        let client = self.client(&tenant.id, &client_id).await?;
        let Some(trust) = &client.jwt else {
            return Err(invalid_client(
                "this client does not authenticate with JWT assertions (no JWK Set configured)",
            ));
        };
        let (alg, kid) = assertion::header(jwt).map_err(invalid_client)?;
        let key = self
            .jwks
            .key(&trust.jwks_url, kid.as_deref(), alg)
            .await
            .map_err(|e| {
                // The reason is the admin's (the log's), not an anonymous caller's.
                tracing::warn!(client = %client.id, error = %e, "a client assertion's key");
                invalid_client(
                    "no key of the client's JWK Set checks the assertion (see the gateway's log)",
                )
            })?;
        let audiences = match &trust.audience {
            Some(audience) => vec![audience.clone()],
            None => vec![endpoints.token_endpoint.clone(), endpoints.issuer.clone()],
        };
        let expected = Expected {
            issuer: trust.issuer.as_deref().unwrap_or(&client.id),
            subject: trust.subject.as_deref().unwrap_or(&client.id),
            audiences: &audiences,
            now: u64::try_from(now.unix_timestamp()).unwrap_or_default(),
        };
        let claims = assertion::verify(jwt, &key, alg, &expected).map_err(invalid_client)?;
        // Good once, on every replica (RFC 7523 §3 item 7): the store decides.
        let expires_at =
            OffsetDateTime::from_unix_timestamp(i64::try_from(claims.exp).unwrap_or(i64::MAX))
                .unwrap_or(now + time::Duration::days(1));
        let first_use = self
            .store
            .use_assertion(&client.id, &claims.jti, expires_at, now)
            .await
            .map_err(|e| unavailable(&e))?;
        if !first_use {
            return Err(invalid_client(
                "the client assertion was used before (its jti repeats)",
            ));
        }
        Ok(client)
    }
}
