//! A tenant's OAuth clients (`crate::oauth`), as an admin makes and changes them: each with
//! several secrets live at once (each with an expiry, shown once, stored as a hash), or
//! trusting the JWTs a JWK Set verifies, and revoked for good with everything it holds.

use time::OffsetDateTime;

use super::tenants::invalid;
use super::tokens::checked_token_name;
use super::{Admin, AdminError, Result};
use crate::oauth::{ACCESS_TOKEN_MINUTES, DEFAULT_ACCESS_TOKEN_MINUTES};
use crate::store::{ClientRecord, JwtTrust, TenantRecord, TokenKind, TokenRecord};

/// How long a secret lives when neither the admin nor the tenant's token policy says.
const DEFAULT_SECRET_DAYS: i64 = 365;

/// A client to make.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Its name.
    pub name: String,
    /// Its access tokens' lifetime (default 60).
    pub access_token_minutes: Option<u32>,
    /// Whose JWTs prove it, if any.
    pub jwt: Option<JwtTrust>,
    /// Whether it gets a first secret now.
    pub with_secret: bool,
    /// That secret's expiry (default: the tenant's longest, else a year).
    pub secret_expires_at: Option<OffsetDateTime>,
}

/// A change to a client.
#[derive(Debug, Clone, Default)]
pub struct ClientChange {
    /// A new name.
    pub name: Option<String>,
    /// A new access token lifetime (for tokens issued from now on).
    pub access_token_minutes: Option<u32>,
    /// New JWT trust; `Some(None)` removes it.
    pub jwt: Option<Option<JwtTrust>>,
}

/// A client as an admin sees it: the record, its secrets (hashes only), and how many of its
/// access tokens are live.
#[derive(Debug, Clone)]
pub struct ClientView {
    /// The client.
    pub client: ClientRecord,
    /// Its secrets, oldest first, revoked and expired ones included.
    pub secrets: Vec<TokenRecord>,
    /// Access tokens not expired nor revoked.
    pub live_access_tokens: usize,
}

impl Admin {
    /// A tenant's clients, oldest first.
    pub async fn clients(&self, tenant: &str) -> Result<Vec<ClientView>> {
        let clients = self.store.clients(tenant, None).await?;
        let tokens = self.store.tokens(tenant, None).await?;
        let now = self.clock.now();
        Ok(clients
            .into_iter()
            .map(|client| view(client, &tokens, now))
            .collect())
    }

    /// One of a tenant's clients.
    pub async fn client(&self, tenant: &str, id: &str) -> Result<ClientView> {
        let client = self
            .store
            .clients(tenant, Some(id))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AdminError::NotFound(format!("no OAuth client {id}")))?;
        let tokens = self.store.tokens(tenant, None).await?;
        Ok(view(client, &tokens, self.clock.now()))
    }

    /// Makes a client of a tenant, with a first secret (shown in this answer only) unless
    /// asked not to.
    pub async fn create_client(
        &self,
        tenant: &TenantRecord,
        new: NewClient,
    ) -> Result<(ClientView, Option<String>)> {
        let now = self.clock.now();
        let client = ClientRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            tenant: tenant.id.clone(),
            name: checked_token_name(&new.name)?,
            created: now,
            access_token_minutes: checked_minutes(
                new.access_token_minutes
                    .unwrap_or(DEFAULT_ACCESS_TOKEN_MINUTES),
            )?,
            jwt: new.jwt.map(checked_trust).transpose()?,
            revoked_at: None,
        };
        if !new.with_secret && client.jwt.is_none() {
            return Err(invalid(
                "a client needs a secret or a JWK Set to prove itself with".to_owned(),
            ));
        }
        let secret = if new.with_secret {
            Some(new_secret(tenant, &client, new.secret_expires_at, now)?)
        } else {
            None
        };
        // The secret first: one left alone by a failed client write is of no use to anyone.
        if let Some((record, _)) = &secret {
            self.store.put_token(record).await?;
        }
        self.store.put_client(&client).await?;
        let shown = secret.map(|(_, s)| s);
        Ok((self.client(&tenant.id, &client.id).await?, shown))
    }

    /// Renames a client, changes its access token lifetime or its JWT trust.
    pub async fn change_client(
        &self,
        tenant: &str,
        id: &str,
        change: ClientChange,
    ) -> Result<ClientView> {
        let mut client = self.live_client(tenant, id).await?;
        if let Some(name) = change.name {
            client.name = checked_token_name(&name)?;
        }
        if let Some(minutes) = change.access_token_minutes {
            client.access_token_minutes = checked_minutes(minutes)?;
        }
        if let Some(jwt) = change.jwt {
            client.jwt = jwt.map(checked_trust).transpose()?;
        }
        self.store.put_client(&client).await?;
        self.client(tenant, id).await
    }

    /// Gives a client another secret (its others stay live); answers the secret once.
    pub async fn add_client_secret(
        &self,
        tenant: &TenantRecord,
        id: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(ClientView, String)> {
        let client = self.live_client(&tenant.id, id).await?;
        let (record, secret) = new_secret(tenant, &client, expires_at, self.clock.now())?;
        self.store.put_token(&record).await?;
        Ok((self.client(&tenant.id, id).await?, secret))
    }

    /// Revokes one secret of a client (the access tokens it got stay until they expire).
    pub async fn revoke_client_secret(
        &self,
        tenant: &str,
        id: &str,
        secret_id: &str,
    ) -> Result<ClientView> {
        let view = self.client(tenant, id).await?;
        if !view.secrets.iter().any(|s| s.id == secret_id) {
            return Err(AdminError::NotFound(format!(
                "OAuth client {id} has no secret {secret_id}"
            )));
        }
        let at = crate::store::TokenWrite::Revoke(self.clock.now());
        self.store.write_token(tenant, secret_id, &at).await?;
        self.client(tenant, id).await
    }

    /// Revokes a client, its secrets and its access tokens, for good.
    pub async fn revoke_client(&self, tenant: &str, id: &str) -> Result<ClientView> {
        if !self
            .store
            .revoke_client(tenant, id, self.clock.now())
            .await?
        {
            return Err(AdminError::NotFound(format!("no OAuth client {id}")));
        }
        self.client(tenant, id).await
    }

    async fn live_client(&self, tenant: &str, id: &str) -> Result<ClientRecord> {
        let view = self.client(tenant, id).await?;
        if view.client.revoked_at.is_some() {
            return Err(AdminError::Conflict(format!(
                "OAuth client {id} is revoked; make another"
            )));
        }
        Ok(view.client)
    }
}

fn view(client: ClientRecord, tokens: &[TokenRecord], now: OffsetDateTime) -> ClientView {
    let id = client.id.as_str();
    let of_client = |kind| {
        tokens
            .iter()
            .filter(move |t| t.kind == kind && t.client.as_deref() == Some(id))
    };
    let secrets = of_client(TokenKind::ClientSecret).cloned().collect();
    let live_access_tokens = of_client(TokenKind::Access)
        .filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now))
        .count();
    ClientView {
        secrets,
        live_access_tokens,
        client: client.clone(),
    }
}

fn checked_minutes(minutes: u32) -> Result<u32> {
    if ACCESS_TOKEN_MINUTES.contains(&minutes) {
        Ok(minutes)
    } else {
        Err(invalid(format!(
            "accessTokenMinutes must be {} to {}, not {minutes}",
            ACCESS_TOKEN_MINUTES.start(),
            ACCESS_TOKEN_MINUTES.end()
        )))
    }
}

fn checked_trust(trust: JwtTrust) -> Result<JwtTrust> {
    crate::oauth::jwks::check_url(&trust.jwks_url)
        .map_err(|e| invalid(format!("jwt.jwksUrl: {e}")))?;
    for (key, value) in [
        ("issuer", &trust.issuer),
        ("subject", &trust.subject),
        ("audience", &trust.audience),
    ] {
        if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
            return Err(invalid(format!("jwt.{key} must not be empty")));
        }
    }
    Ok(trust)
}

/// A new secret of a client (not stored yet) and its value.
fn new_secret(
    tenant: &TenantRecord,
    client: &ClientRecord,
    asked: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(TokenRecord, String)> {
    let expires_at = secret_expiry(tenant, asked, now)?;
    Ok(crate::tokens::issue_kind(
        TokenKind::ClientSecret,
        Some(&client.id),
        &tenant.id,
        &client.name,
        Some(expires_at),
        now,
    ))
}

/// A new secret's expiry: the one asked for (in the future, within the tenant's token
/// policy), else the policy's longest, else a year. A secret always expires.
fn secret_expiry(
    tenant: &TenantRecord,
    asked: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<OffsetDateTime> {
    let days = tenant.max_token_lifetime_days;
    let expires_at = asked
        .or(crate::tokens::latest_expiry(days, now))
        .unwrap_or(now + time::Duration::days(DEFAULT_SECRET_DAYS));
    if expires_at <= now {
        return Err(invalid("expiresAt is in the past".to_owned()));
    }
    crate::tokens::check_expiry(Some(expires_at), days, now).map_err(invalid)?;
    Ok(expires_at)
}
