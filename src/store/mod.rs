//! The store: what the gateway remembers that the platform cannot, shared by every replica.
//!
//! One trait per concern: [`LinkStore`] (identity links and what the IdP last wrote),
//! [`IntentStore`] (creates begun, so that a retry after a crash is recognised),
//! [`AuditStore`], [`RequestLogStore`], [`TokenStore`], [`OAuthStore`], [`TenantStore`] and
//! [`ReplicaSync`] (locks and the change feed between replicas); [`Store`] is all of them. Two stores run the same SQL behind them:
//! SQLite (embedded, the default) and PostgreSQL (several replicas on one database).

mod audit;
mod intents;
mod links;
mod memo;
mod oauth;
mod postgres;
mod replicas;
mod requests;
mod sql;
mod sqlite;
mod tenants;
mod tokens;

#[cfg(test)]
pub(crate) mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use audit::{AuditEntry, AuditQuery, AuditStore};
pub use intents::{CreateIntent, IntentStore};
pub use links::{Identity, LinkStore, Scope};
pub use oauth::{ClientRecord, JwtTrust, OAuthStore};
pub use postgres::PostgresStore;
pub use replicas::{Change, ReplicaLock, ReplicaSync};
pub use requests::{PlatformCall, RequestEntry, RequestLogStore, RequestQuery};
pub use sqlite::SqliteStore;
pub use tenants::{Deprovision, TenantRecord, TenantStore};
pub use tokens::{TokenKind, TokenRecord, TokenStore, TokenWrite};

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The platform key or SCIM id is already linked.
    #[error("identity already linked: {0}")]
    Conflict(String),
    /// The database failed or could not be reached.
    #[error("identity store: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema migrations could not be applied.
    #[error("identity store migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored value (JSON, timestamp, token lifetime) cannot be read back.
    #[error("identity store holds unreadable data: {0}")]
    Corrupt(String),
    /// The link to update is gone (deleted meanwhile, perhaps by another replica).
    #[error("the identity link no longer exists")]
    NotFound,
    /// The tenant was deleted while a request of it ran: nothing is linked to it any more.
    #[error("tenant {0} no longer exists")]
    TenantGone(String),
}

/// A store call in flight.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Every concern of the store at once: what `open` returns and `app` hands out, each part of
/// the gateway keeping only the trait it needs.
pub trait Store:
    LinkStore
    + IntentStore
    + AuditStore
    + RequestLogStore
    + TokenStore
    + OAuthStore
    + TenantStore
    + ReplicaSync
{
}

impl<
        T: LinkStore
            + IntentStore
            + AuditStore
            + RequestLogStore
            + TokenStore
            + OAuthStore
            + TenantStore
            + ReplicaSync,
    > Store for T
{
}

/// Opens the store a URL names, running migrations: `sqlite://path` or `sqlite::memory:`
/// (embedded), `postgres://...` (shared by several replicas).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else {
        Ok(Arc::new(SqliteStore::open(url).await?))
    }
}
