//! A tenant's user lifecycle policy, beyond RFC 7644's letter where IdPs need it:
//!
//! - **Reactivation** (an option): a POST of a user whose `userName` is taken by a deactivated
//!   user updates and reactivates that user instead of answering 409. IdPs that unassign a
//!   user deactivate it, and on reassignment POST it again; without this, the IdP loops on
//!   409 (Okta) or gives up (Entra ID). An active user of the name is still a 409.
//! - **Deprovisioning** (`Deprovision`): a DELETE of a user deletes its platform account,
//!   deactivates it, or leaves it alone; the link goes in every case, so the SCIM resource is
//!   gone (later reads answer 404, §3.6).

use serde_json::Value;

use super::links::Locked;
use super::write::{Whole, WriteLock};
use super::{RequestContext, Resource, Resources, Result, ServiceError};
use crate::scim::filter::parse_filter;
use crate::scim::list::ListQuery;
use crate::scim::{ErrorKind, ResourceKind, ScimError};
use crate::store::{Deprovision, Identity};

/// What a tenant's writes do beyond the RFC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// What a DELETE of a user does to the platform account.
    pub deprovision: Deprovision,
    /// Whether a POST matching a deactivated user reactivates it.
    pub reactivate: bool,
}

impl ServiceError {
    /// Whether this is a 409 `uniqueness`: the gateway's own, or the platform's meaning.
    pub fn is_uniqueness_conflict(&self) -> bool {
        let scim = match self {
            ServiceError::Scim(e) => Some(e),
            ServiceError::Platform(e) => e.meaning(),
            ServiceError::Shared(e) => return e.is_uniqueness_conflict(),
            _ => None,
        };
        scim.is_some_and(|e| {
            e.kind == ErrorKind::Conflict && e.scim_type == Some(crate::scim::ScimType::Uniqueness)
        })
    }
}

impl Resources<'_> {
    /// Carries out a DELETE of a user under a `suspend` or `unlink` policy (the caller holds
    /// `lock`): the account deactivated through the mapping (suspend) or left alone (unlink),
    /// then the link given a new SCIM id, so the deleted id answers 404 while the account,
    /// still the same person, answers under the new one. Answers the new id. An account the
    /// platform no longer has is gone already: its link is dropped.
    pub(super) async fn deprovision(
        &self,
        identity: Identity,
        deprovision: Deprovision,
        req: &RequestContext<'_>,
        lock: &WriteLock<'_>,
    ) -> Result<Option<String>> {
        let id = identity.scim_id.clone();
        let identity = match deprovision {
            Deprovision::Suspend => match self.suspend(&id, req, lock).await {
                Ok(identity) => identity,
                Err(ServiceError::Scim(e)) if e.kind == ErrorKind::NotFound => {
                    self.forget(&identity).await?;
                    return Ok(None);
                }
                Err(e) => return Err(e),
            },
            Deprovision::Unlink | Deprovision::Delete => identity,
        };
        self.retire_link(&identity).await.map(Some)
    }

    /// Deactivates a user's platform account through the mapping; answers its link. The
    /// account is read again afterwards and judged by the platform's answer alone: a mapping
    /// that cannot deactivate (no `active`, or one the platform does not change) is an error,
    /// never an account left active and reported deleted.
    async fn suspend(
        &self,
        id: &str,
        req: &RequestContext<'_>,
        lock: &WriteLock<'_>,
    ) -> Result<Identity> {
        let cannot = |why: &str| {
            ServiceError::Scim(ScimError::new(
                ErrorKind::NotImplemented,
                None,
                format!(
                    "this tenant deprovisions by suspending, but {why}; the user was not deleted"
                ),
            ))
        };
        if !self
            .section
            .attributes
            .iter()
            .any(|a| a.scim_source == "active")
        {
            return Err(cannot("the mapping has no `active` attribute"));
        }
        let (identity, current, before) = self.current_for_write(id, None, req, lock).await?;
        let mut suspended = before.json.clone();
        if let Some(map) = suspended.as_object_mut() {
            map.insert("active".to_owned(), Value::Bool(false));
        }
        self.write(
            identity,
            &current,
            &before.json,
            suspended,
            Whole::Patched,
            req,
        )
        .await?;
        let mut identity = self.identity(id).await?;
        let fresh = self.object_for(&mut identity, true, Locked::Yes).await?;
        let platform_says = self
            .section
            .to_scim(&fresh, None, None, &self.gw.settings)?;
        if platform_says.get("active") != Some(&Value::Bool(false)) {
            return Err(cannot(
                "the platform account is still active after the write (the mapping cannot deactivate it)",
            ));
        }
        Ok(identity)
    }

    /// The POST of a user whose name is taken: when a deactivated user answers to exactly
    /// that `userName` (compared as RFC 7643 compares it, ignoring case, never in the
    /// platform's form) and to the same `externalId` where both have one, it is replaced by
    /// the POSTed one (active unless the body says otherwise) and answered; otherwise the
    /// conflict stands. The account's own lock serializes it with other writes to it.
    pub(super) async fn reactivate(
        &self,
        resource: &Value,
        read_only: &Value,
        req: &RequestContext<'_>,
        conflict: ServiceError,
    ) -> Result<Resource> {
        if self.kind != ResourceKind::User {
            return Err(conflict);
        }
        let Some(user_name) = resource.get("userName").and_then(Value::as_str) else {
            return Err(conflict);
        };
        let external_id = resource.get("externalId").and_then(Value::as_str);
        let filter = parse_filter(&format!("userName eq {}", Value::from(user_name)))?;
        let query = ListQuery {
            filter: Some(filter),
            count: Some(10),
            ..ListQuery::default()
        };
        let page = self.list(&query, req).await?;
        let same_person = |found: &&Value| {
            let same_name = found
                .get("userName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.to_lowercase() == user_name.to_lowercase());
            let same_external = match (external_id, found.get("externalId").and_then(Value::as_str))
            {
                (Some(posted), Some(known)) => posted == known,
                _ => true,
            };
            same_name && same_external
        };
        let matching: Vec<&Value> = page.resources.iter().filter(same_person).collect();
        let [found] = matching.as_slice() else {
            return Err(conflict);
        };
        let (Some(id), Some(Value::Bool(false))) =
            (found.get("id").and_then(Value::as_str), found.get("active"))
        else {
            return Err(conflict);
        };
        let mut revived = resource.clone();
        if let Some(map) = revived.as_object_mut() {
            map.entry("active").or_insert(Value::Bool(true));
        }
        tracing::info!(
            tenant = %self.gw.tenant,
            user = %id,
            "a POST matched a deactivated user: it is reactivated and updated (tenant option)"
        );
        self.replace(id, &revived, read_only, None, req).await
    }
}
