//! Bulk linking (`scimgate links import`, `POST /admin/v1/tenants/{t}/links/import`): user
//! accounts that existed on the platform before SCIM, linked to the IdP's identities, so that
//! the IdP's first provisioning finds each person's account (with the IdP's `externalId`)
//! instead of creating a second one or failing on a name taken.
//!
//! Each IdP identity (a row of the IdP's export: `userName`, `email`, `externalId`) is matched
//! case-insensitively by email or by userName against the platform's accounts as SCIM shows
//! them. Exactly one account: linked (a SCIM id; the `externalId` set, as a PATCH of the link
//! would). None: unmatched. Several: ambiguous, linked to none. An account already linked to
//! another IdP identity, or an `externalId` another link answers to, is a conflict, never
//! re-pointed: an identity is never confused. Running an import again links nothing twice:
//! what is linked as asked answers `alreadyLinked`, so an interrupted import is re-run whole.
//!
//! Without identities (the platform's list alone), every account not yet linked gets a SCIM
//! id, as a SCIM list would give it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{RequestContext, Resources, Result};
use crate::scim::projection::Projection;
use crate::scim::{ResourceKind, ScimError};
use crate::store::Identity;

/// One identity of the IdP, as its export names it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdpIdentity {
    /// The IdP's userName (Okta's login, Entra's userPrincipalName).
    #[serde(default)]
    pub user_name: Option<String>,
    /// The person's primary email.
    #[serde(default)]
    pub email: Option<String>,
    /// The IdP's id of the person (becomes the link's `externalId`).
    #[serde(default)]
    pub external_id: Option<String>,
}

/// What identities are matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MatchBy {
    /// Any of the account's emails.
    Email,
    /// The account's userName.
    UserName,
}

/// What happened to one identity (or, from the platform's list, one account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Linked now.
    Linked,
    /// Would be linked (a dry run).
    WouldLink,
    /// Linked as asked before: nothing done.
    AlreadyLinked,
    /// Several accounts match: none is linked.
    Ambiguous,
    /// No account matches.
    Unmatched,
    /// The account is linked to another IdP identity, or the `externalId` to another
    /// account: nothing changed.
    Conflict,
}

/// One identity's (or account's) result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    /// The value matched on (the account's name, from the platform's list).
    pub matched_on: String,
    /// What happened.
    pub outcome: Outcome,
    /// The account's SCIM id, when linked (or already).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The account's platform key, when one matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// How many accounts matched.
    pub candidates: usize,
    /// Why, for a conflict or an unmatched row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The platform's user accounts by what they are matched on.
struct Accounts {
    by_email: HashMap<String, Vec<String>>,
    by_user_name: HashMap<String, Vec<String>>,
    links: HashMap<String, Identity>,
    names: Vec<(String, String)>,
}

impl Resources<'_> {
    /// Links the IdP's `identities` matched `by` (see the module docs); `dry_run` links
    /// nothing and says what would be.
    pub async fn import(
        &self,
        identities: &[IdpIdentity],
        by: MatchBy,
        dry_run: bool,
    ) -> Result<Vec<Imported>> {
        self.users_only()?;
        let accounts = self.accounts().await?;
        let mut out = Vec::with_capacity(identities.len());
        for identity in identities {
            out.push(self.import_one(&accounts, identity, by, dry_run).await?);
        }
        Ok(out)
    }

    /// Gives every platform account not yet linked a SCIM id (no `externalId`).
    pub async fn import_platform(&self, dry_run: bool) -> Result<Vec<Imported>> {
        self.users_only()?;
        let accounts = self.accounts().await?;
        // Every unlinked account linked in one go (as a list page links what it shows).
        let unlinked: Vec<String> = accounts
            .names
            .iter()
            .filter(|(key, _)| !accounts.links.contains_key(key))
            .map(|(key, _)| key.clone())
            .collect();
        let made: HashMap<String, String> = if dry_run {
            HashMap::new()
        } else {
            self.link_keys(&unlinked)
                .await?
                .into_iter()
                .map(|identity| (identity.backend_key, identity.scim_id))
                .collect()
        };
        let mut out = Vec::with_capacity(accounts.names.len());
        for (key, name) in &accounts.names {
            let (outcome, id) = match (accounts.links.get(key), dry_run) {
                (Some(identity), _) => (Outcome::AlreadyLinked, Some(identity.scim_id.clone())),
                (None, true) => (Outcome::WouldLink, None),
                (None, false) => (Outcome::Linked, made.get(key).cloned()),
            };
            out.push(Imported {
                matched_on: name.clone(),
                outcome,
                id,
                key: Some(key.clone()),
                candidates: 1,
                detail: None,
            });
        }
        Ok(out)
    }

    fn users_only(&self) -> Result<()> {
        if self.kind != ResourceKind::User {
            return Err(ScimError::bad_request(
                crate::scim::ScimType::InvalidValue,
                "only user accounts are imported",
            )
            .into());
        }
        Ok(())
    }

    /// Every platform account (up to `scim.max_scan`), as SCIM shows it, with its link.
    async fn accounts(&self) -> Result<Accounts> {
        let (keys, objects): (Vec<String>, Vec<Value>) = self
            .scan_keyed()
            .await?
            .into_iter()
            .map(|(key, _, object)| (key, object))
            .unzip();
        let links: HashMap<String, Identity> = self
            .gw
            .links
            .get_by_backend_keys(self.scope(), &keys)
            .await?
            .into_iter()
            .map(|identity| (identity.backend_key.clone(), identity))
            .collect();
        let projection = Projection::default();
        let req = RequestContext {
            base_url: "",
            projection: &projection,
        };
        let mut accounts = Accounts {
            by_email: HashMap::new(),
            by_user_name: HashMap::new(),
            links,
            names: Vec::with_capacity(keys.len()),
        };
        for (key, object) in keys.into_iter().zip(objects) {
            let transient;
            let identity = match accounts.links.get(&key) {
                Some(identity) => identity,
                None => {
                    transient = self.new_link(String::new(), &key);
                    &transient
                }
            };
            let shown = self
                .present(identity, &object, super::drift::COMPARED, &req)
                .await?
                .json;
            let user_name = shown
                .get("userName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if !user_name.is_empty() {
                accounts
                    .by_user_name
                    .entry(user_name.to_lowercase())
                    .or_default()
                    .push(key.clone());
            }
            let mut emails: Vec<String> = shown
                .get("emails")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("value")?.as_str())
                .map(str::to_lowercase)
                .collect();
            emails.sort();
            emails.dedup();
            for email in emails {
                accounts
                    .by_email
                    .entry(email)
                    .or_default()
                    .push(key.clone());
            }
            accounts.names.push((key, user_name));
        }
        Ok(accounts)
    }

    async fn import_one(
        &self,
        accounts: &Accounts,
        identity: &IdpIdentity,
        by: MatchBy,
        dry_run: bool,
    ) -> Result<Imported> {
        let (value, index) = match by {
            MatchBy::Email => (identity.email.as_deref(), &accounts.by_email),
            MatchBy::UserName => (identity.user_name.as_deref(), &accounts.by_user_name),
        };
        let value = value.map(str::trim).unwrap_or_default();
        let mut result = Imported {
            matched_on: value.to_owned(),
            outcome: Outcome::Unmatched,
            id: None,
            key: None,
            candidates: 0,
            detail: None,
        };
        if value.is_empty() {
            result.detail = Some(format!(
                "the identity has no {}",
                match by {
                    MatchBy::Email => "email",
                    MatchBy::UserName => "userName",
                }
            ));
            return Ok(result);
        }
        let candidates = index
            .get(&value.to_lowercase())
            .map(Vec::as_slice)
            .unwrap_or_default();
        result.candidates = candidates.len();
        let [key] = candidates else {
            if candidates.len() > 1 {
                result.outcome = Outcome::Ambiguous;
            }
            return Ok(result);
        };
        result.key = Some(key.clone());
        let external_id = identity
            .external_id
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        // The store's link now (an earlier row of this import may have made it).
        let linked = self
            .gw
            .links
            .get_by_backend_keys(self.scope(), std::slice::from_ref(key))
            .await?
            .into_iter()
            .next();
        if let Some(link) = &linked {
            result.id = Some(link.scim_id.clone());
            match (link.external_id.as_deref(), external_id) {
                (Some(held), Some(asked)) if held == asked => {
                    result.outcome = Outcome::AlreadyLinked;
                    return Ok(result);
                }
                (_, None) => {
                    result.outcome = Outcome::AlreadyLinked;
                    return Ok(result);
                }
                (Some(held), Some(_)) => {
                    result.outcome = Outcome::Conflict;
                    result.detail = Some(format!(
                        "the account is linked to another IdP identity (externalId {held})"
                    ));
                    return Ok(result);
                }
                (None, Some(_)) => {}
            }
        }
        if let Some(asked) = external_id {
            let holders = self.links_by_external_id(asked).await?;
            if let Some(other) = holders.iter().find(|h| &h.backend_key != key) {
                result.outcome = Outcome::Conflict;
                result.detail = Some(format!(
                    "externalId {asked} belongs to {} already",
                    other.scim_id
                ));
                return Ok(result);
            }
        }
        if dry_run {
            result.outcome = Outcome::WouldLink;
            return Ok(result);
        }
        let link = match linked {
            Some(link) => link,
            None => self
                .link_keys(std::slice::from_ref(key))
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    super::ServiceError::Mapping(format!(
                        "the account {key} was deleted through the gateway a moment ago"
                    ))
                })?,
        };
        result.id = Some(link.scim_id.clone());
        if let Some(asked) = external_id {
            self.relink(&link.scim_id, Some(asked.to_owned())).await?;
        }
        result.outcome = Outcome::Linked;
        Ok(result)
    }
}
