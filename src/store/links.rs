//! Identity links: the SCIM id the gateway owns for each platform object it serves, the
//! platform key it stands for, and the resource as the IdP last wrote it (RFC 7643 §3.1 `id`
//! and `externalId`; RFC 7644 §3.6: a deleted resource's id answers 404 from then on).

use serde_json::Value;
use time::OffsetDateTime;

use super::StoreFuture;

/// Which set of identities: a tenant's resources of one type.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The tenant's id.
    pub tenant: &'a str,
    /// The SCIM resource type id (`User`, `Group`).
    pub resource_type: &'a str,
}

/// One linked identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The SCIM `id` the gateway gave the resource.
    pub scim_id: String,
    /// The platform object's stable key (the mapping's `key` expression); unique in a scope.
    pub backend_key: String,
    /// The IdP's `externalId`, when it sent one.
    pub external_id: Option<String>,
    /// The SCIM resource as the IdP last wrote it (no `id`, no `meta`).
    pub shadow: Value,
    /// The platform object right after the gateway last wrote it; `Null` when the IdP never
    /// wrote this object (it was created on the platform directly).
    pub platform: Value,
    /// When the link was made (`meta.created`).
    pub created: OffsetDateTime,
    /// When the link was last written (`meta.lastModified`).
    pub last_modified: OffsetDateTime,
    /// What proves the platform account is still the one linked (the mapping's `identity`,
    /// as JSON text); `None` while unknown, or when the mapping declares no proof.
    pub proof: Option<String>,
}

/// The identity links of every tenant, by scope (tenant and resource type).
pub trait LinkStore: Send + Sync + 'static {
    /// The identity with this SCIM id; `None` when there is no such link.
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

    /// The identities whose `externalId` is exactly this one (in no particular order; the
    /// store does not keep it unique).
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

    /// Gives a link another SCIM id, all else kept (a platform object the IdP deleted that the
    /// platform keeps: the old id is gone, the object is not); true when there was one.
    fn rekey<'a>(
        &'a self,
        scope: Scope<'a>,
        scim_id: &'a str,
        new_scim_id: &'a str,
    ) -> StoreFuture<'a, bool>;

    /// One page of links of a scope, oldest first, and how many there are in all.
    fn page<'a>(
        &'a self,
        scope: Scope<'a>,
        offset: u64,
        limit: u64,
    ) -> StoreFuture<'a, (Vec<Identity>, u64)>;
}
