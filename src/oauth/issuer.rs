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
    /// `(client, jti)` of assertions already used, until they expire (RFC 7523 §3 item 7);
    /// this replica's only.
    used_assertions: moka::future::Cache<(String, String), ()>,
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
    /// An issuer over the store, fetching JWK Sets within `jwks_timeout`.
    pub fn new(store: Arc<dyn Store>, clock: SharedClock, jwks_timeout: Duration) -> Self {
        Issuer {
            store,
            clock,
            jwks: JwksCache::new(jwks_timeout, Duration::from_secs(600)),
            used_assertions: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(24 * 60 * 60 + 60))
                .build(),
        }
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
        let client = match auth {
            ClientAuth::Secret { client_id, secret } => {
                self.by_secret(tenant, &client_id, &secret, now).await?
            }
            ClientAuth::Assertion { client_id, jwt } => {
                self.by_assertion(tenant, client_id, &jwt, endpoints, now)
                    .await?
            }
        };
        if !tenant.enabled {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("the SCIM configuration {} is disabled", tenant.id),
            ));
        }
        let minutes = client.access_token_minutes;
        let expires_at = now + time::Duration::minutes(i64::from(minutes));
        let (record, access_token) = crate::tokens::issue_kind(
            TokenKind::Access,
            Some(&client.id),
            &tenant.id,
            &format!("oauth:{}", client.name),
            Some(expires_at),
            now,
        );
        self.store
            .put_token(&record)
            .await
            .map_err(|e| unavailable(&e))?;
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
    ) -> Result<ClientRecord, OAuthError> {
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
        // The secret's last use, for the admin deciding which secret to retire.
        if let Err(e) = crate::tokens::note_use(self.store.as_ref(), record, now).await {
            tracing::warn!(error = %e, "cannot note a client secret's use");
        }
        Ok(client)
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
                tracing::warn!(client = %client.id, error = %e, "a client assertion's key");
                invalid_client(e)
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
        if let Some(jti) = claims.jti {
            // One atomic step: of two requests with one assertion, one wins.
            let first_use = self
                .used_assertions
                .entry((client.id.clone(), jti))
                .or_insert(())
                .await
                .is_fresh();
            if !first_use {
                return Err(invalid_client(
                    "the client assertion was used before (its jti repeats)",
                ));
            }
        }
        Ok(client)
    }
}
