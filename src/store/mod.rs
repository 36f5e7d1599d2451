//! The identity store: what the gateway remembers that the platform cannot.
//!
//! For every platform object it serves, the store links the SCIM `id` (owned by the gateway, stable
//! even where the platform's key is a mutable name) to the platform key, and keeps the resource as
//! the IdP last wrote it (`externalId`, name parts, the original `userName`, extension fields...).
//! A deleted resource's link is removed, so its id answers 404 from then on even on platforms that
//! only soft-delete (RFC 7644 §3.6).
//!
//! The trait is the seam for the PostgreSQL store; SQLite (embedded) is the default.

mod sqlite;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;
use time::OffsetDateTime;

pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The platform key or SCIM id is already linked.
    #[error("identity already linked: {0}")]
    Conflict(String),
    #[error("identity store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("identity store migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("identity store holds unreadable data: {0}")]
    Corrupt(String),
}

/// Which set of identities: a tenant's resources of one type.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub tenant: &'a str,
    pub resource_type: &'a str,
}

/// One linked identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub scim_id: String,
    pub backend_key: String,
    pub external_id: Option<String>,
    /// The SCIM resource as the IdP last wrote it (no `id`, no `meta`).
    pub shadow: Value,
    /// The platform object right after the gateway last wrote it; `Null` when the IdP never
    /// wrote this object (it was created on the platform directly).
    pub platform: Value,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
}

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

pub trait IdentityStore: Send + Sync + 'static {
    fn get<'a>(&'a self, scope: Scope<'a>, scim_id: &'a str) -> StoreFuture<'a, Option<Identity>>;

    /// The identities with any of these SCIM ids (in no particular order).
    fn get_many<'a>(
        &'a self,
        scope: Scope<'a>,
        scim_ids: &'a [String],
    ) -> StoreFuture<'a, Vec<Identity>>;

    /// `(platform key, SCIM id)` of the links of any of these platform keys (in no particular
    /// order): the cheap lookup for large member lists.
    fn ids_by_backend_keys<'a>(
        &'a self,
        scope: Scope<'a>,
        keys: &'a [String],
    ) -> StoreFuture<'a, Vec<(String, String)>>;

    /// The identities linked to any of these platform keys (in no particular order).
    fn get_by_backend_keys<'a>(
        &'a self,
        scope: Scope<'a>,
        keys: &'a [String],
    ) -> StoreFuture<'a, Vec<Identity>>;

    fn find_by_external_id<'a>(
        &'a self,
        scope: Scope<'a>,
        external_id: &'a str,
    ) -> StoreFuture<'a, Vec<Identity>>;

    /// Adds a link; `Conflict` when the key or id is taken.
    fn insert<'a>(&'a self, scope: Scope<'a>, identity: &'a Identity) -> StoreFuture<'a, ()>;

    /// Links a platform object seen for the first time (created on the platform directly), or
    /// returns the link another request made meanwhile.
    fn link_or_get<'a>(
        &'a self,
        scope: Scope<'a>,
        identity: &'a Identity,
    ) -> StoreFuture<'a, Identity>;

    /// Replaces the stored attributes of a link.
    fn update<'a>(&'a self, scope: Scope<'a>, identity: &'a Identity) -> StoreFuture<'a, ()>;

    /// Removes a link; true when there was one.
    fn delete<'a>(&'a self, scope: Scope<'a>, scim_id: &'a str) -> StoreFuture<'a, bool>;
}

/// Opens the store a URL names (`sqlite://path`, `sqlite::memory:`), running migrations.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn IdentityStore>, StoreError> {
    Ok(std::sync::Arc::new(SqliteStore::open(url).await?))
}
