//! What several gateway processes sharing one store need from it: a lock per resource being
//! written, and a feed of the links and tenants any of them changed (caches drop them).

use super::{Scope, StoreFuture};

/// Held while one resource is written, by whichever replica writes it; released when dropped.
pub type ReplicaLock = Box<dyn Send + Sync>;

/// A link written by some gateway process sharing the store (RFC-independent plumbing for
/// running several replicas): caches everywhere drop what they hold for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    /// The link's tenant (the tenant's own id, for a tenant change).
    pub tenant: String,
    /// The link's resource type, or [`Change::TENANT`] for a tenant change.
    pub resource_type: String,
    /// The link's SCIM id (the tenant's id, for a tenant change).
    pub scim_id: String,
    /// The link's platform key (the tenant's backend, for a tenant change).
    pub backend_key: String,
    /// The link was deleted (not only changed): its key must not be linked again from an
    /// older list.
    #[serde(default)]
    pub deleted: bool,
}

impl Change {
    /// The resource type of a change that is a tenant's (its id in `tenant` and `scim_id`, its
    /// backend in `backend_key`).
    pub const TENANT: &'static str = "Tenant";

    pub(crate) fn tenant_scope(id: &str) -> Scope<'_> {
        Scope {
            tenant: id,
            resource_type: Change::TENANT,
        }
    }

    /// Whether this is a tenant's record changing (not a link).
    pub fn is_tenant(&self) -> bool {
        self.resource_type == Change::TENANT
    }
}

/// Coordination between replicas sharing the store (a store one process owns answers `None`
/// to both), and whether the store answers at all.
pub trait ReplicaSync: Send + Sync + 'static {
    /// One trivial query: `Ok` when the store answers (`/readyz`).
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// Waits until no other replica sharing the store writes the resource `key` names, and
    /// keeps it so until the lock is dropped; `None` for a store only this process uses
    /// (its own locks are enough).
    fn lock_resource<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<ReplicaLock>>;

    /// The links other processes (and this one) change, for stores several gateway processes
    /// share; `None` for a store only this process uses.
    fn changes(&self) -> StoreFuture<'_, Option<tokio::sync::mpsc::Receiver<Change>>>;
}
