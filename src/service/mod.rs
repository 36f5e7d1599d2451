//! One SCIM operation at a time for one tenant (RFC 7644 §3.3 create, §3.4 query, §3.5 replace
//! and modify, §3.6 delete), orchestrating the pure cores (the SCIM protocol, the mapping) over
//! the I/O edges behind traits (the [`Platform`], the [`LinkStore`], the cache).
//!
//! - `query.rs`: reads: one resource, lists and filters, paged on the platform or here.
//! - `write.rs`: writes (create, replace, patch, delete) and the locks that serialize them.
//! - `retry.rs`: creates safe to retry: a create's intent, recorded before the platform is
//!   asked, recognises the IdP's retry after a crash or a lost answer.
//! - `lifecycle.rs`: a tenant's policy: reactivation on create, deprovisioning on delete.
//! - `links.rs`: identity links: which platform object a SCIM id is, and what the IdP wrote.
//! - `present.rs`: a platform object and its link as a SCIM resource: members, groups, ETag.
//! - `calls.rs`: running the mapping's calls on the platform, paging its lists.
//! - `drift.rs`: how the platform differs from the links and from what the IdP last wrote.
//! - `import.rs`: bulk linking of accounts that existed before SCIM to the IdP's identities.
//!
//! Errors stay typed here ([`ServiceError`]); `http::error` is the one place they become
//! answers. Nothing here knows HTTP.

mod calls;
pub mod drift;
pub mod import;
mod lifecycle;
mod links;
mod present;
mod query;
mod retry;
#[cfg(test)]
mod tests;
mod write;

use std::sync::Arc;

use serde_json::Value;

pub use lifecycle::Lifecycle;
pub use write::{Executed, WriteLocks};

use crate::backend::{Platform, PlatformError};
use crate::cache::LookupCache;
use crate::clock::SharedClock;
use crate::config::ScimConfig;
use crate::mapping::{Mapping, MappingError, ResourceMapping};
use crate::scim::schema::{Registry, ResourceType};
use crate::scim::{Projection, ResourceKind, ScimError};
use crate::store::{IntentStore, LinkStore, ReplicaSync, Scope, StoreError};

/// Everything that can go wrong in an operation, by layer.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A protocol-level answer for the IdP (bad filter, unknown id, uniqueness...).
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// A platform call failed: no answer, or an error answer (which says whose fault it is).
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The platform's answer does not fit the mapping.
    #[error("{0}")]
    Mapping(String),
    /// The identity store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A read this request waited for another request to make failed (reads of the same
    /// thing are made once, e.g. a tenant's groups by member).
    #[error(transparent)]
    Shared(std::sync::Arc<ServiceError>),
    /// The operation's task ended abnormally (a bug).
    #[error("operation aborted: {0}")]
    Aborted(String),
    /// The IdP changed platform fields that no call the mapping selected sends: the platform
    /// did not change them (a mapping mistake `check` catches where it can).
    #[error("no call of the mapping sends the changed field(s) {}", fields.join(", "))]
    NotSent {
        /// The platform fields, dotted.
        fields: Vec<String>,
    },
    /// Some members could not be added or removed (the platform takes one member per call);
    /// every other member's change was made.
    #[error("membership changed only in part")]
    MembersFailed {
        /// The members whose change failed.
        failures: Vec<MemberFailure>,
    },
    /// A resource was created, but what had to follow (setting its members) failed.
    #[error("{created} was created, but its members could not be set: {cause}")]
    MembersNotSet {
        /// The resource made (`Group <id>`).
        created: String,
        /// Why the members could not be set.
        cause: Box<ServiceError>,
    },
}

/// One member whose joining or leaving failed.
#[derive(Debug)]
pub struct MemberFailure {
    /// The member's SCIM id.
    pub member: String,
    /// Whether the member was joining (else leaving).
    pub joined: bool,
    /// Why it failed.
    pub cause: Box<ServiceError>,
}

impl From<MappingError> for ServiceError {
    fn from(e: MappingError) -> Self {
        match e.to_scim() {
            Some(scim) => ServiceError::Scim(scim),
            None => ServiceError::Mapping(e.to_string()),
        }
    }
}

impl ServiceError {
    /// Whether this is the SCIM answer "no such resource".
    pub fn is_not_found(&self) -> bool {
        matches!(self, ServiceError::Scim(e) if e.kind == crate::scim::ErrorKind::NotFound)
    }

    /// Whether the platform failed (unreachable, too slow, 5xx, throttled) rather than refused
    /// the request: the one a retry may fix.
    pub fn is_platform_failure(&self) -> bool {
        matches!(self, ServiceError::Platform(e) if e.fault == crate::backend::Fault::Platform)
    }
}

type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// A SCIM resource ready to answer with: its JSON (with `id` and `meta`) and its version.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The SCIM id.
    pub id: String,
    /// The resource, as every projection starts from.
    pub json: Value,
    /// Weak entity tag (`W/"..."`), also in `meta.version`.
    pub version: String,
}

/// One page of a query.
#[derive(Debug)]
pub struct ListPage {
    /// How many resources match in all.
    pub total_results: usize,
    /// The 1-based index of the first resource of the page.
    pub start_index: usize,
    /// The page's resources, not yet projected.
    pub resources: Vec<Value>,
}

/// What an answer depends on beyond the resource itself.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// `https://host/scim/v2[/tenant]`, for `meta.location` and `$ref`s.
    pub base_url: &'a str,
    /// What the caller asked to see: members and groups are resolved only when the answer
    /// keeps them (Entra's `excludedAttributes=members` costs no member resolution).
    pub projection: &'a Projection,
}

/// The gateway for one tenant: a platform, its mapping and the gateway's memory of it.
pub struct Gateway {
    /// The tenant's id.
    pub tenant: String,
    /// The SCIM schemas.
    pub registry: Arc<Registry>,
    /// The backend's compiled mapping.
    pub mapping: Arc<Mapping>,
    /// The backend's platform.
    pub platform: Arc<dyn Platform>,
    /// Identity links.
    pub links: Arc<dyn LinkStore>,
    /// Creates begun, so that their retries are recognised.
    pub intents: Arc<dyn IntentStore>,
    /// Locks across replicas sharing the store.
    pub replicas: Arc<dyn ReplicaSync>,
    /// Lookups shared by every tenant (keys carry the tenant).
    pub cache: LookupCache,
    /// `[backend.settings]`, as templates see them.
    pub settings: Value,
    /// Page and scan limits.
    pub limits: ScimConfig,
    /// Serialize writes to one resource within this process.
    pub locks: WriteLocks,
    /// Serialize creates of one name within this process.
    pub create_locks: WriteLocks,
    /// Time.
    pub clock: SharedClock,
}

/// The operations on one resource type of a gateway.
pub struct Resources<'a> {
    gw: &'a Gateway,
    section: &'a ResourceMapping,
    kind: ResourceKind,
    /// The resource type's schemas.
    pub rt: &'a ResourceType,
}

impl Gateway {
    /// The operations on `kind`; a "not implemented" SCIM error when the mapping does not
    /// serve it.
    pub fn resources(&self, kind: ResourceKind) -> Result<Resources<'_>> {
        let section = match kind {
            ResourceKind::User => Some(&self.mapping.users),
            ResourceKind::Group => self.mapping.groups.as_ref(),
        };
        let Some(section) = section else {
            return Err(ScimError::not_implemented(format!(
                "the {} mapping does not serve {}s",
                self.mapping.platform.name,
                kind.name()
            ))
            .into());
        };
        let rt = self.registry.resource_type(kind.name()).ok_or_else(|| {
            ServiceError::Mapping(format!("the schema registry has no {} type", kind.name()))
        })?;
        Ok(Resources {
            gw: self,
            section,
            kind,
            rt,
        })
    }

    /// The resource types the mapping serves.
    pub fn kinds(&self) -> Vec<ResourceKind> {
        kinds_of(&self.mapping)
    }
}

/// The resource types a mapping serves.
pub fn kinds_of(mapping: &Mapping) -> Vec<ResourceKind> {
    let mut kinds = vec![ResourceKind::User];
    if mapping.groups.is_some() {
        kinds.push(ResourceKind::Group);
    }
    kinds
}

impl Resources<'_> {
    /// The resource type's id (`User`, `Group`), which also names it in the store and cache.
    pub fn type_id(&self) -> &'static str {
        self.kind.name()
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            tenant: &self.gw.tenant,
            resource_type: self.type_id(),
        }
    }

    /// The attribute IdPs look resources up by before writing (`userName`, `displayName`).
    fn name_attribute(&self) -> &'static str {
        self.kind.name_attribute()
    }
}

fn not_found(kind: &str, id: &str) -> ScimError {
    ScimError::not_found(format!("{kind} {id} not found"))
}
