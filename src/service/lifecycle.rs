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
    /// Deactivates a user's platform account through the mapping (a DELETE under the
    /// `suspend` policy); answers the user's link, for the caller to drop. A mapping that
    /// cannot deactivate is an error, never a user left active and reported deleted.
    pub(super) async fn suspend(
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
        let written = self
            .write(
                identity,
                &current,
                &before.json,
                suspended,
                Whole::Patched,
                req,
            )
            .await?;
        if written.json.get("active") != Some(&Value::Bool(false)) {
            return Err(cannot(
                "the platform account is still active after the write",
            ));
        }
        self.identity(id).await
    }

    /// The POST of a user whose name is taken: when the user of that name is deactivated,
    /// it is replaced by the POSTed one (active unless the body says otherwise) and answered;
    /// otherwise the conflict stands.
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
        let filter = parse_filter(&format!("userName eq {}", Value::from(user_name)))?;
        let query = ListQuery {
            filter: Some(filter),
            count: Some(2),
            ..ListQuery::default()
        };
        let page = self.list(&query, req).await?;
        let [found] = page.resources.as_slice() else {
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
