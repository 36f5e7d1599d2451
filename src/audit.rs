//! The audit log as the gateway writes it: every provisioning change (SCIM create, replace,
//! patch, delete, also inside `/Bulk`) and every admin action, with the tenant, who acted,
//! what, on which target, and how it ended. The HTTP layer records each action once it knows
//! the answer it gave; a failure to record is logged, never answered, since the action itself
//! is done (or failed) by then.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::scim::WriteMethod;
use crate::store::{AuditEntry, AuditStore};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// SCIM create (RFC 7644 §3.3).
    Create,
    /// SCIM replace (§3.5.1).
    Replace,
    /// SCIM modify (§3.5.2).
    Patch,
    /// SCIM delete (§3.6).
    Delete,
    /// An identity link given another `externalId`.
    Relink,
    /// An identity link dropped.
    Unlink,
    /// A tenant made.
    TenantCreate,
    /// A tenant changed.
    TenantUpdate,
    /// A tenant deleted.
    TenantDelete,
    /// A managed token made.
    TokenCreate,
    /// A managed token renamed or given another expiry.
    TokenUpdate,
    /// A managed token revoked.
    TokenRevoke,
    /// A managed token given a new secret.
    TokenRegenerate,
    /// An OAuth client made.
    ClientCreate,
    /// An OAuth client renamed or given other settings.
    ClientUpdate,
    /// An OAuth client revoked, with its secrets and access tokens.
    ClientRevoke,
    /// An OAuth client given another secret.
    ClientSecretCreate,
    /// One secret of an OAuth client revoked.
    ClientSecretRevoke,
    /// An access token issued by the OAuth token endpoint (or refused).
    AccessTokenIssue,
}

impl Operation {
    /// The operation's name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Replace => "replace",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
            Operation::Relink => "relink",
            Operation::Unlink => "unlink",
            Operation::TenantCreate => "tenant.create",
            Operation::TenantUpdate => "tenant.update",
            Operation::TenantDelete => "tenant.delete",
            Operation::TokenCreate => "token.create",
            Operation::TokenUpdate => "token.update",
            Operation::TokenRevoke => "token.revoke",
            Operation::TokenRegenerate => "token.regenerate",
            Operation::ClientCreate => "oauth_client.create",
            Operation::ClientUpdate => "oauth_client.update",
            Operation::ClientRevoke => "oauth_client.revoke",
            Operation::ClientSecretCreate => "oauth_client.secret.create",
            Operation::ClientSecretRevoke => "oauth_client.secret.revoke",
            Operation::AccessTokenIssue => "oauth.token",
        }
    }

    /// The operation a SCIM write is, by its method.
    pub fn of_method(method: WriteMethod) -> Operation {
        match method {
            WriteMethod::Post => Operation::Create,
            WriteMethod::Put => Operation::Replace,
            WriteMethod::Patch => Operation::Patch,
            WriteMethod::Delete => Operation::Delete,
        }
    }
}

/// Who did what to which resource.
#[derive(Debug, Clone, Copy)]
pub struct Action<'a> {
    /// The tenant whose log it goes to.
    pub tenant: &'a str,
    /// `token:<name>` of a SCIM token, `admin:<name>` of an admin.
    pub actor: &'a str,
    /// What was done.
    pub operation: Operation,
    /// `User`, `Group`, `Tenant`, `Token`.
    pub resource_type: &'a str,
    /// The SCIM id, tenant id or token id (for a failed create, the name it was given).
    pub target: &'a str,
}

/// How an action ended: the HTTP status answered and, for a success, what changed (a tenant
/// update), for a failure, the error answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the action was carried out.
    pub success: bool,
    /// The status answered.
    pub status: u16,
    /// What changed, or why it failed.
    pub detail: String,
}

impl Outcome {
    /// Carried out, answered `status`.
    pub fn success(status: u16, detail: String) -> Outcome {
        Outcome {
            success: true,
            status,
            detail,
        }
    }

    /// Refused or failed, answered `status` with `detail`.
    pub fn failure(status: u16, detail: String) -> Outcome {
        Outcome {
            success: false,
            status,
            detail,
        }
    }
}

/// Writes the audit log.
#[derive(Clone)]
pub struct Audit {
    store: Arc<dyn AuditStore>,
    clock: SharedClock,
}

impl Audit {
    /// An audit log in `store`, its entries timed by `clock`.
    pub fn new(store: Arc<dyn AuditStore>, clock: SharedClock) -> Audit {
        Audit { store, clock }
    }

    /// Records one action.
    pub async fn record(&self, action: Action<'_>, outcome: Outcome) {
        let entry = AuditEntry {
            // Time-ordered (UUIDv7): entries of one millisecond still sort in order.
            id: uuid::Uuid::now_v7().to_string(),
            at: self.clock.now(),
            tenant: action.tenant.to_owned(),
            actor: action.actor.to_owned(),
            operation: action.operation.as_str().to_owned(),
            resource_type: action.resource_type.to_owned(),
            target: action.target.to_owned(),
            outcome: if outcome.success {
                "success"
            } else {
                "failure"
            }
            .to_owned(),
            status: outcome.status,
            detail: outcome.detail,
        };
        if let Err(e) = self.store.record(&entry).await {
            tracing::error!(
                error = %e,
                operation = action.operation.as_str(),
                target = action.target,
                "cannot write the audit log"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::{AuditQuery, SqliteStore};

    #[tokio::test]
    async fn actions_are_recorded_with_their_outcome_and_time() {
        let store = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
        crate::store::tests::tenants_for_tests(store.as_ref(), &["acme"]).await;
        let at = time::macros::datetime!(2026-12-03 12:00:00 UTC);
        let audit = Audit::new(store.clone(), Arc::new(ManualClock::new(at)));
        let action = Action {
            tenant: "acme",
            actor: "token:okta",
            operation: Operation::Create,
            resource_type: "User",
            target: "bjensen",
        };
        audit
            .record(action, Outcome::failure(409, "taken".to_owned()))
            .await;
        let (entries, total) = store
            .audit(&AuditQuery {
                tenant: "acme".to_owned(),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(total, 1);
        let entry = &entries[0];
        assert_eq!(
            (
                entry.operation.as_str(),
                entry.outcome.as_str(),
                entry.status,
                entry.detail.as_str(),
                entry.at
            ),
            ("create", "failure", 409, "taken", at)
        );
    }
}
