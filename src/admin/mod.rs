//! The admin plane's lifecycles, apart from any HTTP: tenants (made, changed, moved, deleted)
//! in `tenants.rs`, and each tenant's managed SCIM tokens (made, renamed, given another expiry,
//! revoked, given a new secret) in `tokens.rs`, and its OAuth clients in `oauth.rs`. They fail with an [`AdminError`], which says
//! what went wrong, never which status answers it; the admin API (`http::admin`) answers and
//! audits them. Identity links are re-linked and dropped through the tenant's gateway, under
//! its write locks.

mod oauth;
mod tenants;
mod tokens;

use std::sync::Arc;

pub use oauth::{ClientChange, ClientView, NewClient};
pub use tenants::{NewTenant, TenantChange};
pub use tokens::TokenChange;

use crate::clock::SharedClock;
use crate::service::Gateway;
use crate::store::{Store, StoreError, TenantRecord};
use crate::tenants::Tenants;

/// Why an admin action was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No such tenant or token.
    #[error("{0}")]
    NotFound(String),
    /// The request holds a value that cannot be (a bad id, an unknown backend, a lifetime out
    /// of bounds).
    #[error("{0}")]
    Invalid(String),
    /// The action conflicts with what is stored (an id taken, a tenant with links, a change
    /// made meanwhile by another admin).
    #[error("{0}")]
    Conflict(String),
    /// The tenant fronts a backend the config no longer defines.
    #[error("{0}")]
    BackendMissing(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T, E = AdminError> = std::result::Result<T, E>;

/// The admin lifecycles over the tenants' runtime and the store.
pub struct Admin {
    tenants: Arc<Tenants>,
    store: Arc<dyn Store>,
    clock: SharedClock,
}

impl Admin {
    /// The admin plane of a running gateway.
    pub fn new(tenants: Arc<Tenants>) -> Admin {
        Admin {
            store: tenants.store().clone(),
            clock: tenants.clock().clone(),
            tenants,
        }
    }

    /// A tenant's record (from this replica's cache when it holds it), or not found.
    pub async fn tenant(&self, id: &str) -> Result<Arc<TenantRecord>> {
        self.tenants.record(id).await?.ok_or_else(|| no_tenant(id))
    }

    /// A tenant's record as the store holds it now, or not found: for changes that depend on
    /// its latest settings (the token policy may have just changed on another replica).
    pub async fn fresh_tenant(&self, id: &str) -> Result<TenantRecord> {
        self.tenants.fresh(id).await?.ok_or_else(|| no_tenant(id))
    }

    /// The gateway of a tenant an admin names: not found when there is no such tenant,
    /// `BackendMissing` when its backend is not in the config.
    pub async fn gateway(&self, id: &str) -> Result<Arc<Gateway>> {
        let record = self.tenant(id).await?;
        self.tenants.gateway(&record).ok_or_else(|| {
            AdminError::BackendMissing(crate::tenants::missing_backend(&record).detail)
        })
    }
}

fn no_tenant(id: &str) -> AdminError {
    AdminError::NotFound(format!("no tenant {id}"))
}
