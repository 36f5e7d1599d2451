//! A tenant's managed SCIM tokens, as an admin makes and changes them. The secret is shown
//! once and stored as a hash (`crate::tokens`); a tenant's token policy bounds each secret's
//! lifetime from its issue; every change is written alone, so concurrent changes of one token
//! never undo each other, and a revoked token never comes back.

use time::OffsetDateTime;

use super::tenants::invalid;
use super::{Admin, AdminError, Result};
use crate::store::{TenantRecord, TokenKind, TokenRecord, TokenWrite};

/// A change to a managed token.
#[derive(Debug, Clone)]
pub enum TokenChange {
    /// New name and/or expiry (`Some(None)` removes the expiry).
    Update {
        /// A new name.
        name: Option<String>,
        /// A new expiry; `Some(None)`: never.
        expires_at: Option<Option<OffsetDateTime>>,
    },
    /// Refused from now on, for good.
    Revoke,
    /// A new secret; the old one is refused from now on.
    Regenerate,
}

impl Admin {
    /// A tenant's bearer tokens, oldest first (OAuth clients' secrets and access tokens are
    /// their clients').
    pub async fn tokens(&self, tenant: &str) -> Result<Vec<TokenRecord>> {
        let mut tokens = self.store.tokens(tenant, None).await?;
        tokens.retain(|t| t.kind == TokenKind::Bearer);
        Ok(tokens)
    }

    /// One of a tenant's bearer tokens.
    pub async fn token(&self, tenant: &str, id: &str) -> Result<TokenRecord> {
        self.store
            .tokens(tenant, Some(id))
            .await?
            .into_iter()
            .find(|t| t.kind == TokenKind::Bearer)
            .ok_or_else(|| AdminError::NotFound(format!("no token {id}")))
    }

    /// Makes a token of a tenant; the secret is in the answer only. Without an expiry asked
    /// for, a tenant with a maximum lifetime gives the longest allowed.
    pub async fn create_token(
        &self,
        tenant: &TenantRecord,
        name: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(TokenRecord, String)> {
        let name = checked_token_name(name)?;
        let (mut record, secret) = crate::tokens::issue(&tenant.id, &name, None, self.clock.now());
        let days = tenant.max_token_lifetime_days;
        record.expires_at = expires_at.or(crate::tokens::latest_expiry(days, record.issued));
        match record.expires_at {
            Some(t) if t <= record.issued => {
                return Err(invalid("expiresAt is in the past".to_owned()))
            }
            _ => crate::tokens::check_expiry(record.expires_at, days, record.issued)
                .map_err(invalid)?,
        }
        self.store.put_token(&record).await?;
        Ok((record, secret))
    }

    /// Renames a token, changes its expiry, revokes it, or gives it a new secret (the old one
    /// stops working at once). Answers the record as stored and, when regenerated, the secret.
    pub async fn change_token(
        &self,
        tenant: &TenantRecord,
        id: &str,
        change: TokenChange,
    ) -> Result<(TokenRecord, Option<String>)> {
        let record = self.token(&tenant.id, id).await?;
        let days = tenant.max_token_lifetime_days;
        let mut writes = Vec::new();
        let mut secret = None;
        match change {
            TokenChange::Update { name, expires_at } => {
                if let Some(name) = name {
                    writes.push(TokenWrite::Name(checked_token_name(&name)?));
                }
                if let Some(expires_at) = expires_at {
                    match (expires_at, record.expires_at) {
                        // Shortening is always allowed (a lowered limit may have set an expiry
                        // beyond what the limit allows from the secret's issue), written only
                        // while the stored expiry is still that late.
                        (Some(new), Some(old)) if new <= old => {
                            writes.push(TokenWrite::ShortenTo(new))
                        }
                        _ => {
                            crate::tokens::check_expiry(expires_at, days, record.issued)
                                .map_err(invalid)?;
                            writes.push(TokenWrite::Expiry(expires_at));
                        }
                    }
                }
            }
            TokenChange::Revoke => writes.push(TokenWrite::Revoke(self.clock.now())),
            TokenChange::Regenerate => {
                let mut renewed = record.clone();
                secret = Some(crate::tokens::regenerate(&mut renewed, self.clock.now()));
                writes.push(TokenWrite::Secret {
                    hash: renewed.hash,
                    issued: renewed.issued,
                });
                // Under a lifetime limit, each new secret gets the whole lifetime; without
                // one, the expiry stays as it is.
                if let Some(latest) = crate::tokens::latest_expiry(days, renewed.issued) {
                    writes.push(TokenWrite::Expiry(Some(latest)));
                }
            }
        }
        for write in &writes {
            if !self.store.write_token(&tenant.id, id, write).await? {
                let gone = self.store.tokens(&tenant.id, Some(id)).await?.is_empty();
                return Err(match write {
                    _ if gone => AdminError::NotFound(format!("no token {id}")),
                    TokenWrite::Secret { .. } => {
                        AdminError::Conflict("a revoked token cannot be regenerated".to_owned())
                    }
                    _ => AdminError::Conflict(
                        "the token's expiry changed meanwhile (a lowered limit?); read it and try again"
                            .to_owned(),
                    ),
                });
            }
        }
        // What is stored now (a change made meanwhile included).
        let stored = self.token(&tenant.id, id).await?;
        Ok((stored, secret))
    }
}

pub(super) fn checked_token_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(invalid("a token's name is 1 to 200 characters".to_owned()));
    }
    Ok(name.to_owned())
}
