//! One function per SCIM operation on Users (RFC 7644 §3.3 create, §3.4 query, §3.5 replace and
//! modify, §3.6 delete), orchestrating the pure cores (SCIM protocol, mapping) with the I/O
//! edges (platform client, identity store, cache). Errors stay typed here; `http::error` is the
//! one place they become HTTP answers.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::backend::{Platform, PlatformError};
use crate::cache::LookupCache;
use crate::config::ScimConfig;
use crate::mapping::compile::{CallSpec, GroupsOfSpec, MembersSpec, ResourceMapping};
use crate::mapping::model::PaginationStyle;
use crate::mapping::vars::{
    CallVars, CreateVars, DeleteVars, MembershipVars, ReadVars, UpdateVars,
};
use crate::mapping::{BackendRequest, BackendResponse, Mapping, MappingError};
use crate::scim::filter::{CompareOp, Filter, Literal};
use crate::scim::list::ListQuery;
use crate::scim::patch::{apply_patch, parse_patch_request};
use crate::scim::schema::{normalize_resource, Registry, ResourceType};
use crate::scim::sort::sort_resources;
use crate::scim::{ErrorKind, ScimError, ScimType};
use crate::store::{AuditStore, Identity, Scope, Store, StoreError};

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
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operation's task ended abnormally (a bug).
    #[error("operation aborted: {0}")]
    Aborted(String),
    /// A resource was created, but what had to follow (setting its members) failed.
    #[error("{created} was created, but its members could not be set: {cause}")]
    MembersNotSet {
        /// The resource made (`Group <id>`).
        created: String,
        /// Why the members could not be set.
        cause: Box<ServiceError>,
    },
}

impl From<MappingError> for ServiceError {
    fn from(e: MappingError) -> Self {
        match e.to_scim() {
            Some(scim) => ServiceError::Scim(scim),
            None => ServiceError::Mapping(e.to_string()),
        }
    }
}

type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// A SCIM resource ready to answer with: its JSON (with `id` and `meta`) and its version.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub json: Value,
    /// Weak entity tag (`W/"..."`), also in `meta.version`.
    pub version: String,
}

/// One page of a query.
#[derive(Debug)]
pub struct ListPage {
    pub total_results: usize,
    pub start_index: usize,
    pub resources: Vec<Value>,
}

/// The gateway for one tenant: a platform, its mapping and the gateway's memory of it.
pub struct Gateway {
    pub tenant: String,
    pub registry: Arc<Registry>,
    pub mapping: Arc<Mapping>,
    pub platform: Arc<dyn Platform>,
    pub store: Arc<dyn Store>,
    pub cache: LookupCache,
    pub settings: Value,
    pub limits: ScimConfig,
    pub locks: WriteLocks,
    pub clock: crate::clock::SharedClock,
}

/// The resource types this gateway can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }
}

/// The operations on one resource type of a gateway.
pub struct Resources<'a> {
    gw: &'a Gateway,
    section: &'a ResourceMapping,
    pub rt: &'a ResourceType,
}

impl Gateway {
    /// The operations on `kind`; a 501 SCIM error when the mapping does not serve it.
    pub fn resources(&self, kind: Kind) -> Result<Resources<'_>> {
        let section = match kind {
            Kind::User => Some(&self.mapping.users),
            Kind::Group => self.mapping.groups.as_ref(),
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
            rt,
        })
    }

    /// The resource types the mapping serves.
    pub fn kinds(&self) -> Vec<Kind> {
        kinds_of(&self.mapping)
    }
}

/// The resource types a mapping serves.
pub fn kinds_of(mapping: &Mapping) -> Vec<Kind> {
    let mut kinds = vec![Kind::User];
    if mapping.groups.is_some() {
        kinds.push(Kind::Group);
    }
    kinds
}

/// What a sequence of platform calls left behind.
#[derive(Clone)]
enum CallsOutcome {
    /// No call's condition held.
    NoneRan,
    /// The last call that ran answered with the platform object.
    Object(Value),
    /// Calls ran; the object must be read again.
    Ran,
}

impl CallsOutcome {
    /// The outcome of this sequence followed by another.
    fn then(self, next: CallsOutcome) -> CallsOutcome {
        match next {
            CallsOutcome::NoneRan => self,
            other => other,
        }
    }
}

/// Per-request facts the answer depends on.
pub struct RequestContext<'a> {
    /// `https://host/scim/v2`, for `meta.location`.
    pub base_url: &'a str,
    /// The `If-Match` header of a write (RFC 7644 §3.14): the write happens only while the
    /// resource still has one of these versions.
    pub if_match: Option<&'a str>,
    /// Whether a single group read answers with its members (false for Entra's
    /// `excludedAttributes=members`, which then costs no member resolution).
    pub include_members: bool,
    /// Who makes the request, for the audit log (`token:<name>`, `admin:<name>`).
    pub actor: &'a str,
}

/// Serializes writes to one resource within this process, so that two concurrent PATCHes of
/// one resource both apply (each reads what the other wrote). Striped: a fixed set of locks,
/// one chosen by the resource id.
pub struct WriteLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl Default for WriteLocks {
    fn default() -> Self {
        WriteLocks {
            stripes: (0..256).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl WriteLocks {
    async fn lock(&self, id: &str) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut hasher);
        // `get` rather than indexing: no panic path, even if the stripes were ever empty.
        let stripe = self
            .stripes
            .get(hasher.finish() as usize % self.stripes.len().max(1))?;
        Some(stripe.lock().await)
    }
}

/// The locks a write to one resource holds until it ends.
struct WriteLock<'a> {
    _local: Option<tokio::sync::MutexGuard<'a, ()>>,
    /// Held when other replicas share the store (then the store is read, not the cache).
    replicas: Option<crate::store::ReplicaLock>,
}

/// Whether an `If-Match`/`If-None-Match` list names this version (`*` names any). Weak and
/// strong tags compare by their opaque part: SCIM versions are weak (RFC 7644 §3.14).
pub fn version_listed(header: &str, version: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let wanted = opaque(version);
    header
        .split(',')
        .any(|tag| tag.trim() == "*" || opaque(tag) == wanted)
}

fn check_precondition(req: &RequestContext<'_>, current: &Resource) -> Result<()> {
    match req.if_match {
        Some(header) if !version_listed(header, &current.version) => {
            Err(ScimError::precondition_failed(format!(
                "the resource changed since that version; its version is now {}",
                current.version
            ))
            .into())
        }
        _ => Ok(()),
    }
}

impl Resources<'_> {
    fn scope(&self) -> Scope<'_> {
        Scope {
            tenant: &self.gw.tenant,
            resource_type: self.type_id(),
        }
    }

    /// The resource type's id (`User`, `Group`), which also names it in the store and cache.
    pub fn type_id(&self) -> &str {
        &self.rt.id
    }

    /// The attribute IdPs look resources up by before writing (`userName eq`, `displayName eq`).
    fn name_attribute(&self) -> &'static str {
        if self.rt.id == "Group" {
            "displayName"
        } else {
            "userName"
        }
    }

    // ---- platform calls -------------------------------------------------------------------

    async fn send(&self, request: &BackendRequest) -> Result<BackendResponse> {
        let response = self.gw.platform.send(request).await?;
        if response.is_success() {
            return Ok(response);
        }
        Err(PlatformError::refused(
            request.method,
            response.status,
            self.gw.mapping.error_message(&response),
            self.gw.mapping.classify_error(&response),
        )
        .into())
    }

    /// Runs a sequence of calls (create, update, delete). Calls marked `returns_object` update
    /// `backend` and `key` in the context for the calls after them. Returns the platform object
    /// when the last call that ran gave it.
    async fn run_calls<V: CallVars>(
        &self,
        calls: &[CallSpec],
        vars: &mut V,
    ) -> Result<CallsOutcome> {
        let mut outcome = CallsOutcome::NoneRan;
        for call in calls {
            if !call.applies(vars)? {
                continue;
            }
            let request = call.render(vars, &[])?;
            let response = self.send(&request).await?;
            if call.returns_object {
                let key = self.section.key_of(&response.body, &self.gw.settings)?;
                vars.object_returned(key, response.body.clone());
                outcome = CallsOutcome::Object(response.body);
            } else {
                outcome = CallsOutcome::Ran;
            }
        }
        Ok(outcome)
    }

    /// The platform object for a key, from the cache unless `fresh`.
    async fn fetch_object(&self, key: &str, fresh: bool) -> Result<Arc<Value>> {
        if !fresh {
            if let Some(hit) = self
                .gw
                .cache
                .object(&self.gw.tenant, self.type_id(), key)
                .await
            {
                return Ok(hit);
            }
        }
        let vars = ReadVars {
            key,
            settings: &self.gw.settings,
        };
        let request = self.section.get.render(&vars, &[])?;
        let response = self.send(&request).await?;
        let object = Arc::new(response.body);
        self.cache_object(key, object.clone()).await;
        Ok(object)
    }

    // ---- rendering -----------------------------------------------------------------------

    /// The resource a platform object and its link make, with group members resolved.
    async fn present(
        &self,
        identity: &Identity,
        object: &Value,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        self.present_with(identity, object, false, req).await
    }

    /// `present`, with a user's read-only `groups` when `with_groups` (it costs a platform call,
    /// so single reads include it and lists only when asked for by `attributes`).
    async fn present_with(
        &self,
        identity: &Identity,
        object: &Value,
        with_groups: bool,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        self.present_full(identity, object, with_groups, req.include_members, req)
            .await
    }

    async fn present_full(
        &self,
        identity: &Identity,
        object: &Value,
        with_groups: bool,
        with_members: bool,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        let members = match &self.section.members {
            Some(spec) => {
                let keys = self.member_platform_keys(spec, object)?;
                let values = match with_members {
                    true => Some(self.member_values(&keys, req).await?),
                    false => None,
                };
                Some((keys, values))
            }
            None => None,
        };
        let mut resource = self.render(identity, object, members, req)?;
        if let (true, Some(spec)) = (with_groups, &self.section.groups_of) {
            // A user's groups are a courtesy of the read: a platform that cannot list them
            // (Coder without its Premium licence answers 403) must not fail the user.
            match self.group_values(spec, &identity.backend_key, req).await {
                Ok(groups) => {
                    if let (false, Some(map)) = (groups.is_empty(), resource.json.as_object_mut()) {
                        // Derived from the platform: not part of what the version covers.
                        map.insert("groups".to_owned(), Value::Array(groups));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the user's groups; answering without them")
                }
            }
        }
        Ok(resource)
    }

    /// A user's groups as SCIM values (`value`, `$ref`, `display`, `type` "direct").
    async fn group_values(
        &self,
        spec: &GroupsOfSpec,
        user_key: &str,
        req: &RequestContext<'_>,
    ) -> Result<Vec<Value>> {
        let objects = match self.gw.cache.groups_of(&self.gw.tenant, user_key).await {
            Some(hit) => hit,
            None => {
                let vars = ReadVars {
                    key: user_key,
                    settings: &self.gw.settings,
                };
                let request = spec.call.render(&vars, &[])?;
                let response = self.send(&request).await?;
                let items = Arc::new(spec.read_groups(&response, &self.gw.settings)?);
                self.gw
                    .cache
                    .put_groups_of(&self.gw.tenant, user_key, items.clone())
                    .await;
                items
            }
        };
        let groups = self.gw.resources(Kind::Group)?;
        let mut out = Vec::with_capacity(objects.len());
        // Linked without caching the objects: these may be older than a group write's answer.
        let mut keyed = std::collections::HashMap::with_capacity(objects.len());
        let mut keys = Vec::with_capacity(objects.len());
        for object in objects.iter() {
            let key = groups.section.key_of(object, &self.gw.settings)?;
            keyed.insert(key.clone(), object);
            keys.push(key);
        }
        for identity in groups.link_keys(&keys).await? {
            let Some(object) = keyed.get(&identity.backend_key) else {
                continue;
            };
            let attrs = groups.section.to_scim(
                object,
                Some(&identity.shadow),
                Some(&identity.platform),
                &self.gw.settings,
            )?;
            let mut group = Map::new();
            group.insert("value".to_owned(), Value::String(identity.scim_id.clone()));
            group.insert(
                "$ref".to_owned(),
                Value::String(format!(
                    "{}{}/{}",
                    req.base_url, groups.rt.endpoint, identity.scim_id
                )),
            );
            if let Some(display) = attrs.get("displayName") {
                group.insert("display".to_owned(), display.clone());
            }
            group.insert("type".to_owned(), Value::String("direct".to_owned()));
            out.push(Value::Object(group));
        }
        Ok(out)
    }

    fn render(
        &self,
        identity: &Identity,
        object: &Value,
        members: Option<(Vec<String>, Option<Vec<Value>>)>,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        let (member_keys, members) = match members {
            Some((keys, values)) => (Some(keys), values),
            None => (None, None),
        };
        let rt = self.rt;
        // The `display` the IdP gave each member (the stored copy keeps nothing else of them).
        let displays: std::collections::HashMap<&str, &Value> = identity
            .shadow
            .get("members")
            .and_then(Value::as_array)
            .map(|members| {
                members
                    .iter()
                    .filter_map(|m| Some((m.get("value")?.as_str()?, m.get("display")?)))
                    .collect()
            })
            .unwrap_or_default();
        let members = members.map(|list| {
            list.into_iter()
                .map(|mut member| {
                    let display = member
                        .get("value")
                        .and_then(Value::as_str)
                        .and_then(|id| displays.get(id));
                    if let (Some(display), Some(map)) = (display, member.as_object_mut()) {
                        map.insert("display".to_owned(), (*display).clone());
                    }
                    member
                })
                .collect::<Vec<_>>()
        });
        let mut attrs = self.section.to_scim(
            object,
            Some(&identity.shadow),
            Some(&identity.platform),
            &self.gw.settings,
        )?;
        attrs = strip_common(attrs);
        let Some(map) = attrs.as_object_mut() else {
            return Err(ServiceError::Mapping(
                "resource is not an object".to_owned(),
            ));
        };
        if let Some(ext) = &identity.external_id {
            map.insert("externalId".to_owned(), Value::String(ext.clone()));
        }
        // Membership always comes from the platform, never from the stored copy.
        map.remove("members");
        // The version covers the attributes and who the members are (by platform key), so it is
        // the same however the resource is read: through any host name, with or without members.
        let version = weak_etag(&attrs, member_keys.as_deref());
        if let (Some(members), Some(map)) =
            (members.filter(|m| !m.is_empty()), attrs.as_object_mut())
        {
            map.insert("members".to_owned(), Value::Array(members));
        }
        let Some(map) = attrs.as_object_mut() else {
            return Err(ServiceError::Mapping(
                "resource is not an object".to_owned(),
            ));
        };
        let mut schemas = vec![Value::String(rt.schema.clone())];
        for ext in &rt.extensions {
            if map.contains_key(&ext.schema) {
                schemas.push(Value::String(ext.schema.clone()));
            }
        }
        let mut out = Map::new();
        out.insert("schemas".to_owned(), Value::Array(schemas));
        out.insert("id".to_owned(), Value::String(identity.scim_id.clone()));
        if let Value::Object(attrs) = attrs {
            out.extend(attrs);
        }
        out.insert(
            "meta".to_owned(),
            json!({
                "resourceType": self.type_id(),
                "created": rfc3339(identity.created),
                "lastModified": rfc3339(identity.last_modified),
                "location": format!("{}{}/{}", req.base_url, rt.endpoint, identity.scim_id),
                "version": version,
            }),
        );
        Ok(Resource {
            id: identity.scim_id.clone(),
            json: Value::Object(out),
            version,
        })
    }

    async fn identity(&self, id: &str) -> Result<Identity> {
        if let Some(hit) = self
            .gw
            .cache
            .identity(&self.gw.tenant, self.type_id(), id)
            .await
        {
            return Ok((*hit).clone());
        }
        self.identity_from_store(id).await
    }

    /// The link as the store holds it now (and the cache from then on).
    async fn identity_from_store(&self, id: &str) -> Result<Identity> {
        let identity = self
            .gw
            .store
            .get(self.scope(), id)
            .await?
            .ok_or_else(|| ServiceError::from(not_found(self.type_id(), id)))?;
        self.gw
            .cache
            .put_identity(&self.gw.tenant, self.type_id(), identity.clone())
            .await;
        Ok(identity)
    }

    /// Writes a changed link to the store and the cache.
    async fn save(&self, identity: &Identity) -> Result<()> {
        match self.gw.store.update(self.scope(), identity).await {
            Ok(()) => {}
            // Deleted meanwhile (another request or replica): the id is gone.
            Err(StoreError::NotFound) => {
                return Err(not_found(self.type_id(), &identity.scim_id).into())
            }
            Err(e) => return Err(e.into()),
        }
        self.gw
            .cache
            .put_identity(&self.gw.tenant, self.type_id(), identity.clone())
            .await;
        Ok(())
    }

    /// The platform object behind a link; a platform that no longer has it makes the id unknown.
    async fn object_for(&self, identity: &Identity, fresh: bool) -> Result<Arc<Value>> {
        match self.fetch_object(&identity.backend_key, fresh).await {
            Err(ServiceError::Platform(e)) if e.is_not_found() => {
                self.forget(identity).await?;
                Err(not_found(self.type_id(), &identity.scim_id).into())
            }
            other => other,
        }
    }

    async fn forget(&self, identity: &Identity) -> Result<()> {
        self.gw
            .store
            .delete(self.scope(), &identity.scim_id)
            .await?;
        self.gw
            .cache
            .forget_identity(&self.gw.tenant, self.type_id(), identity)
            .await;
        self.gw
            .cache
            .forget_object(&self.gw.tenant, self.type_id(), &identity.backend_key)
            .await;
        if let Some(name) = identity
            .shadow
            .get(self.name_attribute())
            .and_then(Value::as_str)
        {
            self.gw
                .cache
                .forget_name(&self.gw.tenant, self.type_id(), name)
                .await;
        }
        Ok(())
    }

    // ---- operations ----------------------------------------------------------------------

    pub async fn get(&self, id: &str, req: &RequestContext<'_>) -> Result<Resource> {
        let identity = self.identity(id).await?;
        let object = self.object_for(&identity, false).await?;
        self.present_with(&identity, &object, true, req).await
    }

    /// Creates a resource (RFC 7644 §3.3); recorded in the audit log.
    pub async fn create(&self, body: &Value, req: &RequestContext<'_>) -> Result<Resource> {
        let result = self.create_unaudited(body, req).await;
        let target = match &result {
            Ok(r) => r.id.clone(),
            // No id yet: the name the IdP gave it.
            Err(_) => body
                .get(self.name_attribute())
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned(),
        };
        self.audit("create", &target, req, result.as_ref().map(|_| 201))
            .await;
        result
    }

    async fn create_unaudited(&self, body: &Value, req: &RequestContext<'_>) -> Result<Resource> {
        let rt = self.rt;
        let resource = normalize_resource(&self.gw.registry, rt, body)?;
        let desired = self.section.desired(&resource, &self.gw.settings)?;
        // Members are checked before anything is created on the platform.
        let member_keys = match &self.section.members {
            Some(_) => self.member_keys(&member_ids(&resource)?).await?,
            None => Vec::new(),
        };
        let mut vars = CreateVars {
            scim: &resource,
            desired: &desired,
            settings: &self.gw.settings,
            key: None,
            backend: None,
        };
        let now = self.gw.clock.now();
        let mut identity = Identity {
            scim_id: uuid::Uuid::new_v4().to_string(),
            backend_key: String::new(),
            external_id: external_id_of(&resource),
            shadow: shadow_of(&resource),
            platform: Value::Null,
            created: now,
            last_modified: now,
        };
        // The mapping compiler guarantees an unconditional first call that returns the object.
        let Some((first, rest)) = self.section.create.split_first() else {
            return Err(ServiceError::Mapping(
                "the mapping has no create call".to_owned(),
            ));
        };
        let request = first.render(&vars, &[])?;
        let created = self.send(&request).await?.body;
        identity.backend_key = self.section.key_of(&created, &self.gw.settings)?;
        identity.platform = self.section.snapshot_of(&created);
        // Linked before any further call, so a failing later call (a state change) never leaves
        // a platform account the gateway does not know.
        match self.gw.store.insert(self.scope(), &identity).await {
            Ok(()) => {
                self.gw
                    .cache
                    .clear_deleted(&self.gw.tenant, self.type_id(), &identity.backend_key)
                    .await
            }
            Err(StoreError::Conflict(key)) => {
                return Err(ScimError::conflict_uniqueness(format!(
                    "the platform object {key} is already provisioned"
                ))
                .into())
            }
            Err(e) => return Err(e.into()),
        }
        vars.object_returned(identity.backend_key.clone(), created.clone());
        let mut outcome = self.run_calls(rest, &mut vars).await?;
        if let Some(spec) = &self.section.members {
            if !member_keys.is_empty() {
                let mut membership = MembershipVars {
                    write: &mut vars,
                    added: &member_keys,
                    removed: &[],
                };
                let added = self
                    .run_calls(&spec.update, &mut membership)
                    .await
                    .map_err(|e| ServiceError::MembersNotSet {
                        created: format!("{} {}", self.type_id(), identity.scim_id),
                        cause: Box::new(e),
                    })?;
                outcome = outcome.then(added);
            }
        }
        let object = self
            .object_after(outcome, created, &identity.backend_key)
            .await?;
        let snapshot = self.section.snapshot_of(&object);
        if snapshot != identity.platform {
            identity.platform = snapshot;
            self.save(&identity).await?;
        }
        self.answer_written(&identity, object, req).await
    }

    /// The platform object after a sequence of calls: the one the last call answered with, the
    /// unchanged one when no call ran, else read again.
    async fn object_after(
        &self,
        outcome: CallsOutcome,
        unchanged: Value,
        key: &str,
    ) -> Result<Arc<Value>> {
        match outcome {
            CallsOutcome::Object(object) => Ok(Arc::new(object)),
            CallsOutcome::NoneRan => Ok(Arc::new(unchanged)),
            CallsOutcome::Ran => self.fetch_object(key, true).await,
        }
    }

    async fn cache_object(&self, backend_key: &str, object: Arc<Value>) {
        self.gw
            .cache
            .put_object(&self.gw.tenant, self.type_id(), backend_key, object)
            .await;
    }

    /// Caches what a write left and answers with the resource.
    async fn answer_written(
        &self,
        identity: &Identity,
        object: Arc<Value>,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        self.cache_object(&identity.backend_key, object.clone())
            .await;
        self.remember_name(identity).await;
        if self.rt.id == Kind::Group.name() {
            self.gw.cache.forget_all_groups_of();
        }
        self.present_with(identity, &object, true, req).await
    }

    async fn remember_name(&self, identity: &Identity) {
        if let Some(name) = identity
            .shadow
            .get(self.name_attribute())
            .and_then(Value::as_str)
        {
            self.gw
                .cache
                .put_name(&self.gw.tenant, self.type_id(), name, &identity.scim_id)
                .await;
        }
    }

    /// Replaces a resource (RFC 7644 §3.5.1); recorded in the audit log.
    pub async fn replace(
        &self,
        id: &str,
        body: &Value,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        let result = self.replace_unaudited(id, body, req).await;
        self.audit("replace", id, req, result.as_ref().map(|_| 200))
            .await;
        result
    }

    async fn replace_unaudited(
        &self,
        id: &str,
        body: &Value,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        let resource = normalize_resource(&self.gw.registry, self.rt, body)?;
        let lock = self.lock_for_write(id).await?;
        let (identity, current, before) = self.current_for_write(id, req, &lock).await?;
        self.write(identity, &current, &before.json, resource, req)
            .await
    }

    /// Modifies a resource (RFC 7644 §3.5.2); recorded in the audit log.
    pub async fn patch(
        &self,
        id: &str,
        body: &Value,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        let result = self.patch_unaudited(id, body, req).await;
        self.audit("patch", id, req, result.as_ref().map(|_| 200))
            .await;
        result
    }

    async fn patch_unaudited(
        &self,
        id: &str,
        body: &Value,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        let rt = self.rt;
        let ops = parse_patch_request(body)?;
        let lock = self.lock_for_write(id).await?;
        let (identity, current, before) = self.current_for_write(id, req, &lock).await?;
        let patched = apply_patch(&self.gw.registry, rt, &before.json, &ops)?;
        self.write(identity, &current, &before.json, patched, req)
            .await
    }

    /// What a write to an existing resource starts from (the caller holds `lock`): the link,
    /// the platform object read fresh, and the resource as the IdP sees it, whose version must
    /// satisfy `If-Match`.
    async fn current_for_write(
        &self,
        id: &str,
        req: &RequestContext<'_>,
        lock: &WriteLock<'_>,
    ) -> Result<(Identity, Arc<Value>, Resource)> {
        let identity = self.identity_for_write(id, lock).await?;
        let current = self.object_for(&identity, true).await?;
        let before = self.present(&identity, &current, req).await?;
        check_precondition(req, &before)?;
        Ok((identity, current, before))
    }

    /// Applies a new full resource: platform calls for what changed, then the stored copy.
    async fn write(
        &self,
        mut identity: Identity,
        current: &Value,
        before: &Value,
        resource: Value,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        let resource = strip_common(resource);
        let desired = self.section.desired(&resource, &self.gw.settings)?;
        // What the resource as the IdP last saw it asked for; unknown when it cannot be computed.
        let desired_before = self.section.desired(before, &self.gw.settings).ok();
        let changed = self
            .section
            .changes(&desired, desired_before.as_ref(), current)?;
        let mut vars = UpdateVars {
            key: identity.backend_key.clone(),
            scim: &resource,
            desired: &desired,
            changed: &changed,
            current,
            backend: current.clone(),
            settings: &self.gw.settings,
        };
        let old_name = identity
            .shadow
            .get(self.name_attribute())
            .and_then(Value::as_str)
            .map(str::to_owned);
        // Forgotten before the calls too, so a concurrent read cannot keep serving the old object.
        if self.rt.id == Kind::Group.name() {
            self.gw.cache.forget_all_groups_of();
        }
        self.gw
            .cache
            .forget_object(&self.gw.tenant, self.type_id(), &identity.backend_key)
            .await;
        // Membership changes as a delta: only who joined and who left, whatever the group's size.
        let membership = match &self.section.members {
            Some(spec) => {
                let (added, removed) = id_delta(&member_ids(before)?, &member_ids(&resource)?);
                Some((
                    spec,
                    self.member_keys(&added).await?,
                    self.member_keys(&removed).await?,
                ))
            }
            None => None,
        };
        let mut result = self.run_calls(&self.section.update, &mut vars).await;
        if let (Some((spec, added, removed)), Ok(first)) = (membership, &result) {
            if !added.is_empty() || !removed.is_empty() {
                let first = first.clone();
                let mut membership = MembershipVars {
                    write: &mut vars,
                    added: &added,
                    removed: &removed,
                };
                result = self
                    .run_calls(&spec.update, &mut membership)
                    .await
                    .map(|next| first.then(next));
            }
        }
        // Whatever happened on the platform, the cached object may now be stale.
        self.gw
            .cache
            .forget_object(&self.gw.tenant, self.type_id(), &identity.backend_key)
            .await;
        // Even after a failure part-way, the old name and users' groups may no longer be true.
        // The stored copy is left as it was: the platform's changed values then win on reads.
        if let Some(name) = old_name {
            self.gw
                .cache
                .forget_name(&self.gw.tenant, self.type_id(), &name)
                .await;
        }
        if self.rt.id == Kind::Group.name() {
            self.gw.cache.forget_all_groups_of();
        }
        let outcome = result?;
        let object = self
            .object_after(outcome, current.clone(), &identity.backend_key)
            .await?;
        let shadow = shadow_of(&resource);
        for attribute in self.section.kept_changes(&identity.shadow, &shadow) {
            tracing::warn!(
                scim_id = %identity.scim_id,
                attribute,
                "the platform cannot change this attribute: it keeps its value, the gateway keeps the IdP's"
            );
        }
        identity.external_id = external_id_of(&resource);
        identity.shadow = shadow;
        identity.platform = self.section.snapshot_of(&object);
        identity.last_modified = self.gw.clock.now();
        self.save(&identity).await?;
        self.answer_written(&identity, object, req).await
    }

    /// Deletes a resource (RFC 7644 §3.6); recorded in the audit log.
    pub async fn delete(&self, id: &str, req: &RequestContext<'_>) -> Result<()> {
        let result = self.delete_unaudited(id, req).await;
        self.audit("delete", id, req, result.as_ref().map(|_| 204))
            .await;
        result
    }

    async fn delete_unaudited(&self, id: &str, req: &RequestContext<'_>) -> Result<()> {
        let lock = self.lock_for_write(id).await?;
        let identity = self.identity_for_write(id, &lock).await?;
        if req.if_match.is_some() {
            let current = self.object_for(&identity, true).await?;
            check_precondition(req, &self.present(&identity, &current, req).await?)?;
        }
        let mut vars = DeleteVars {
            key: &identity.backend_key,
            scim: &identity.shadow,
            settings: &self.gw.settings,
        };
        match self.run_calls(&self.section.delete, &mut vars).await {
            Ok(_) => {}
            // Already gone from the platform: the IdP's intent holds.
            Err(ServiceError::Platform(e)) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        if self.rt.id == Kind::Group.name() {
            self.gw.cache.forget_all_groups_of();
        }
        self.forget(&identity).await
    }

    // ---- queries -------------------------------------------------------------------------

    pub async fn list(&self, query: &ListQuery, req: &RequestContext<'_>) -> Result<ListPage> {
        let rt = self.rt;
        // A user's groups cost a platform call each: in lists only when asked for.
        let with_groups = query
            .attributes
            .iter()
            .any(|a| a.name.eq_ignore_ascii_case("groups"));
        // Members are resolved only when the filter or the answer needs them.
        let with_members = query
            .filter
            .as_ref()
            .is_some_and(|f| f.to_string().to_ascii_lowercase().contains("members"))
            || if query.attributes.is_empty() {
                !query
                    .excluded_attributes
                    .iter()
                    .any(|a| a.name.eq_ignore_ascii_case("members"))
            } else {
                query
                    .attributes
                    .iter()
                    .any(|a| a.name.eq_ignore_ascii_case("members"))
            };
        if let Some(filter) = &query.filter {
            filter.validate(&self.gw.registry, rt)?;
        }
        let want = query
            .count
            .unwrap_or(self.gw.limits.max_results)
            .min(self.gw.limits.max_results);
        let start = query.start_index.max(1);

        // Filters on what only the gateway holds are answered from the store.
        if let Some(filter) = &query.filter {
            if let Some(candidates) = self.store_candidates(filter).await? {
                let mut matched = Vec::new();
                for identity in candidates {
                    match self.object_for(&identity, false).await {
                        Ok(object) => {
                            let r = self
                                .present_full(&identity, &object, with_groups, with_members, req)
                                .await?;
                            if filter.matches(&r.json, &self.gw.registry, rt) {
                                matched.push(r.json);
                            }
                        }
                        Err(ServiceError::Scim(e)) if e.kind == ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                return Ok(self.finish_page(matched, query, start, want));
            }
            if let Some(page) = self
                .cached_name_lookup(filter, query, start, want, (with_groups, with_members), req)
                .await?
            {
                return Ok(page);
            }
        }

        let pushdown = match &query.filter {
            Some(filter) => self.section.list.pushdown(filter, &self.gw.settings)?,
            None => None,
        };
        let exact = query.filter.is_none() || pushdown.as_ref().is_some_and(|p| p.exact);
        let extra: Vec<(String, String)> = pushdown.map(|p| p.query).unwrap_or_default();

        if exact && query.sort_by.is_none() && self.section.list.pagination != PaginationStyle::None
        {
            return self
                .list_direct(&extra, start, want, (with_groups, with_members), req)
                .await;
        }
        // The gateway must see every candidate: filter, sort and page here.
        let objects = self.scan(&extra).await?;
        let mut matched = Vec::new();
        for (identity, object) in self.link_all(&objects).await? {
            let r = self
                .present_full(&identity, &object, with_groups, with_members, req)
                .await?;
            let wanted = query.filter.as_ref().is_none_or(|f| {
                f.matches(&r.json, &self.gw.registry, rt)
                    || (identity.platform.is_null()
                        && self
                            .section
                            .names_in_platform_form(f, &object, &self.gw.settings))
            });
            if wanted {
                matched.push(r.json);
            }
        }
        Ok(self.finish_page(matched, query, start, want))
    }

    fn finish_page(
        &self,
        mut matched: Vec<Value>,
        query: &ListQuery,
        start: usize,
        want: usize,
    ) -> ListPage {
        if let Some(by) = &query.sort_by {
            sort_resources(
                &self.gw.registry,
                self.rt,
                &mut matched,
                by,
                query.sort_order,
            );
        }
        let total = matched.len();
        let resources: Vec<Value> = matched.into_iter().skip(start - 1).take(want).collect();
        ListPage {
            total_results: total,
            start_index: start,
            resources,
        }
    }

    /// `id eq "..."` and `externalId eq "..."` (also inside a top-level `and`) name identities
    /// the store knows directly.
    async fn store_candidates(&self, filter: &Filter) -> Result<Option<Vec<Identity>>> {
        match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: Literal::String(value),
            } if path.sub.is_none() && is_core_or_none(&path.urn) => {
                if path.name.eq_ignore_ascii_case("id") {
                    let found = self.gw.store.get(self.scope(), value).await?;
                    Ok(Some(found.into_iter().collect()))
                } else if path.name.eq_ignore_ascii_case("externalId") {
                    Ok(Some(
                        self.gw
                            .store
                            .find_by_external_id(self.scope(), value)
                            .await?,
                    ))
                } else {
                    Ok(None)
                }
            }
            Filter::And(left, right) => {
                if let Some(found) = Box::pin(self.store_candidates(left)).await? {
                    return Ok(Some(found));
                }
                Box::pin(self.store_candidates(right)).await
            }
            _ => Ok(None),
        }
    }

    /// IdPs look a user up by `userName eq` before most writes; a name the gateway saw recently
    /// is answered without listing the platform.
    async fn cached_name_lookup(
        &self,
        filter: &Filter,
        query: &ListQuery,
        start: usize,
        want: usize,
        (with_groups, with_members): (bool, bool),
        req: &RequestContext<'_>,
    ) -> Result<Option<ListPage>> {
        let Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Literal::String(name),
        } = filter
        else {
            return Ok(None);
        };
        if !path.name.eq_ignore_ascii_case(self.name_attribute())
            || path.sub.is_some()
            || !is_core_or_none(&path.urn)
        {
            return Ok(None);
        }
        let Some(id) = self
            .gw
            .cache
            .id_for_name(&self.gw.tenant, self.type_id(), name)
            .await
        else {
            return Ok(None);
        };
        let Some(identity) = self.gw.store.get(self.scope(), &id).await? else {
            return Ok(None);
        };
        let object = match self.object_for(&identity, false).await {
            Ok(o) => o,
            Err(ServiceError::Scim(e)) if e.kind == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let rt = self.rt;
        let r = self
            .present_full(&identity, &object, with_groups, with_members, req)
            .await?;
        if !filter.matches(&r.json, &self.gw.registry, rt) {
            return Ok(None);
        }
        Ok(Some(self.finish_page(vec![r.json], query, start, want)))
    }

    /// The platform pages exactly what the IdP asked for.
    async fn list_direct(
        &self,
        extra: &[(String, String)],
        start: usize,
        want: usize,
        (with_groups, with_members): (bool, bool),
        req: &RequestContext<'_>,
    ) -> Result<ListPage> {
        let offset = start - 1;
        let mut objects = Vec::new();
        let mut total = None;
        if want == 0 {
            // Only the total is wanted; ask for the smallest page (a limit of 0 means "all" on
            // some platforms).
            let (_, t) = self.list_page(extra, offset, 1).await?;
            total = t;
        }
        if want > 0 {
            let (items, t) = self.fetch_range(extra, offset, want).await?;
            objects = items;
            total = total.or(t);
        }
        // Past the end some platforms (Coder) count nothing at all; ask for the real total.
        if objects.is_empty() && offset > 0 && total.is_none_or(|t| t == 0) {
            total = self.list_page(extra, 0, 1).await?.1;
        }
        let total = match total {
            Some(t) => t,
            // The platform gives no total: count by scanning (bounded).
            None => self.scan(extra).await?.len(),
        };
        let mut resources = Vec::with_capacity(objects.len());
        for (identity, object) in self.link_all(&objects).await? {
            resources.push(
                self.present_full(&identity, &object, with_groups, with_members, req)
                    .await?
                    .json,
            );
        }
        Ok(ListPage {
            total_results: total,
            start_index: start,
            resources,
        })
    }

    /// `want` platform objects from `offset` (fewer at the end), with the platform's total.
    /// Offset paging asks for exactly that range; page paging reads the aligned pages that
    /// cover it and cuts it out.
    async fn fetch_range(
        &self,
        extra: &[(String, String)],
        offset: usize,
        want: usize,
    ) -> Result<(Vec<Value>, Option<usize>)> {
        let list = &self.section.list;
        let page_size = list.max_page_size;
        let aligned = list.pagination == PaginationStyle::Page;
        let mut position = if aligned {
            offset - offset % page_size
        } else {
            offset
        };
        let mut skip = offset - position;
        let mut out = Vec::new();
        let mut total = None;
        while out.len() < want {
            let size = if aligned {
                page_size
            } else {
                (want - out.len()).min(page_size)
            };
            let (items, t) = self.list_page(extra, position, size).await?;
            total = total.or(t);
            let n = items.len();
            out.extend(items.into_iter().skip(skip));
            skip = 0;
            position += n;
            if n < size {
                break;
            }
        }
        // A platform that ignores the page size must not overflow the IdP's `count`.
        out.truncate(want);
        Ok((out, total))
    }

    /// One platform list call for `size` objects from `offset`; returns them and the total.
    async fn list_page(
        &self,
        extra: &[(String, String)],
        offset: usize,
        size: usize,
    ) -> Result<(Vec<Value>, Option<usize>)> {
        let list = &self.section.list;
        let vars = list.page_vars(offset, size, &self.gw.settings);
        let request = list.call.render(&vars, extra)?;
        let response = self.send(&request).await?;
        Ok(list.read_page(&response, &self.gw.settings)?)
    }

    /// Every platform object matching the push-down query, up to the configured bound.
    async fn scan(&self, extra: &[(String, String)]) -> Result<Vec<Value>> {
        let list = &self.section.list;
        let cap = self.gw.limits.max_scan;
        let too_many = || {
            ScimError::bad_request(
                ScimType::TooMany,
                format!(
                    "answering this query needs more than {cap} platform objects to be read; narrow the filter"
                ),
            )
        };
        if list.pagination == PaginationStyle::None {
            let (items, _) = self.list_page(extra, 0, 0).await?;
            if items.len() > cap {
                return Err(too_many().into());
            }
            return Ok(items);
        }
        let size = list.max_page_size;
        let mut out = Vec::new();
        loop {
            let (items, total) = self.list_page(extra, out.len(), size).await?;
            if total.is_some_and(|t| t > cap) {
                return Err(too_many().into());
            }
            let n = items.len();
            out.extend(items);
            if out.len() > cap {
                return Err(too_many().into());
            }
            if n < size || total.is_some_and(|t| out.len() >= t) {
                return Ok(out);
            }
        }
    }

    /// Serializes writes to one resource: within this process (striped locks), then across
    /// every replica sharing the store (the store's lock, when it has one). Held until dropped.
    async fn lock_for_write(&self, id: &str) -> Result<WriteLock<'_>> {
        let local = self.gw.locks.lock(id).await;
        let key = format!("{}\u{1f}{}\u{1f}{id}", self.gw.tenant, self.type_id());
        let replicas = self.gw.store.lock_resource(&key).await?;
        Ok(WriteLock {
            _local: local,
            replicas,
        })
    }

    /// The link a write starts from. With other replicas writing too, it is read from the
    /// store: a cached copy may predate the write another replica finished just before this
    /// one got the lock.
    async fn identity_for_write(&self, id: &str, lock: &WriteLock<'_>) -> Result<Identity> {
        if lock.replicas.is_some() {
            self.identity_from_store(id).await
        } else {
            self.identity(id).await
        }
    }

    // ---- audit log -------------------------------------------------------------------------

    async fn audit<T>(
        &self,
        operation: &str,
        target: &str,
        req: &RequestContext<'_>,
        result: Result<u16, &T>,
    ) where
        T: AuditableError,
    {
        self.audit_as(req.actor, operation, target, result).await
    }

    /// Records one operation. A failure to record is logged, not answered: the operation
    /// itself is done (or failed) on the platform already.
    async fn audit_as<T>(&self, actor: &str, operation: &str, target: &str, result: Result<u16, &T>)
    where
        T: AuditableError,
    {
        record_admin_action(
            self.gw.store.as_ref(),
            self.gw.clock.now(),
            &self.gw.tenant,
            actor,
            operation,
            self.type_id(),
            target,
            result.map(|status| (status, String::new())),
        )
        .await;
    }

    // ---- identity links (admin API) -------------------------------------------------------

    /// One page of this type's identity links (oldest first) and how many there are.
    pub async fn links(&self, offset: u64, limit: u64) -> Result<(Vec<Identity>, u64)> {
        Ok(self.gw.store.page(self.scope(), offset, limit).await?)
    }

    pub async fn link(&self, id: &str) -> Result<Identity> {
        self.gw
            .store
            .get(self.scope(), id)
            .await?
            .ok_or_else(|| not_found(self.type_id(), id).into())
    }

    pub async fn links_by_external_id(&self, external_id: &str) -> Result<Vec<Identity>> {
        Ok(self
            .gw
            .store
            .find_by_external_id(self.scope(), external_id)
            .await?)
    }

    /// Re-links: the identity answers to another `externalId` (the IdP's id of the person
    /// changed, or an account is handed to another IdP identity). The platform is not touched.
    pub async fn relink(
        &self,
        id: &str,
        external_id: Option<String>,
        actor: &str,
    ) -> Result<Identity> {
        let result = self.relink_unaudited(id, external_id).await;
        self.audit_as(actor, "relink", id, result.as_ref().map(|_| 200))
            .await;
        result
    }

    async fn relink_unaudited(&self, id: &str, external_id: Option<String>) -> Result<Identity> {
        let _lock = self.lock_for_write(id).await?;
        let mut identity = self.link(id).await?;
        // One IdP identity, one account: an externalId another link answers to is refused.
        if let Some(ext) = &external_id {
            let holders = self.links_by_external_id(ext).await?;
            if let Some(other) = holders.iter().find(|h| h.scim_id != identity.scim_id) {
                return Err(ScimError::conflict_uniqueness(format!(
                    "externalId {ext} belongs to {} already",
                    other.scim_id
                ))
                .into());
            }
        }
        identity.external_id = external_id.clone();
        if let Some(map) = identity.shadow.as_object_mut() {
            match external_id {
                Some(ext) => {
                    map.insert("externalId".to_owned(), Value::String(ext));
                }
                None => {
                    map.remove("externalId");
                }
            }
        }
        identity.last_modified = self.gw.clock.now();
        self.save(&identity).await?;
        Ok(identity)
    }

    /// Drops a link (and what the gateway keeps for it); the platform object stays, and gets a
    /// new SCIM id the next time a query finds it.
    pub async fn unlink(&self, id: &str, actor: &str) -> Result<()> {
        let result = self.unlink_unaudited(id).await;
        self.audit_as(actor, "unlink", id, result.as_ref().map(|_| 204))
            .await;
        result
    }

    async fn unlink_unaudited(&self, id: &str) -> Result<()> {
        let _lock = self.lock_for_write(id).await?;
        let identity = self.link(id).await?;
        self.gw.store.delete(self.scope(), id).await?;
        // Not marked deleted: the platform object is still there and may be linked again.
        self.gw
            .cache
            .forget_change(&crate::store::Change {
                tenant: self.gw.tenant.clone(),
                resource_type: self.type_id().to_owned(),
                scim_id: identity.scim_id.clone(),
                backend_key: identity.backend_key.clone(),
                deleted: false,
            })
            .await;
        Ok(())
    }

    /// A group's members as SCIM values (`value`, `$ref`, `display`, `type`), from the platform
    /// keys the mapping reads off the group object.
    fn member_platform_keys(&self, spec: &MembersSpec, object: &Value) -> Result<Vec<String>> {
        Ok(spec.member_keys(object, &self.gw.settings)?)
    }

    async fn member_values(&self, keys: &[String], req: &RequestContext<'_>) -> Result<Vec<Value>> {
        let users = self.gw.resources(Kind::User)?;
        let ids = users.link_ids(keys).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let mut member = Map::new();
                member.insert(
                    "$ref".to_owned(),
                    Value::String(format!("{}{}/{}", req.base_url, users.rt.endpoint, id)),
                );
                member.insert("value".to_owned(), Value::String(id));
                member.insert("type".to_owned(), Value::String("User".to_owned()));
                Value::Object(member)
            })
            .collect())
    }

    /// The SCIM ids of platform keys, in their order, linking keys seen for the first time;
    /// reads only ids, so a 10,000-member group does not parse 10,000 stored users.
    async fn link_ids(&self, keys: &[String]) -> Result<Vec<String>> {
        let known: std::collections::HashMap<String, String> = self
            .gw
            .store
            .ids_by_backend_keys(self.scope(), keys)
            .await?
            .into_iter()
            .collect();
        let unknown: Vec<String> = keys
            .iter()
            .filter(|k| !known.contains_key(*k))
            .cloned()
            .collect();
        let mut fresh: std::collections::HashMap<String, String> = Default::default();
        if !unknown.is_empty() {
            for identity in self.link_keys(&unknown).await? {
                fresh.insert(identity.backend_key, identity.scim_id);
            }
        }
        Ok(keys
            .iter()
            .filter_map(|k| known.get(k).or_else(|| fresh.get(k)).cloned())
            .collect())
    }

    /// The platform keys of the users a SCIM member list names; a member that is not a known
    /// user (or is a group: the platforms served have no nested groups) is a 400.
    async fn member_keys(&self, members: &[String]) -> Result<Vec<String>> {
        let users = self.gw.resources(Kind::User)?;
        let found = self.gw.store.get_many(users.scope(), members).await?;
        let by_id: std::collections::HashMap<&str, &str> = found
            .iter()
            .map(|i| (i.scim_id.as_str(), i.backend_key.as_str()))
            .collect();
        members
            .iter()
            .map(|id| {
                by_id
                    .get(id.as_str())
                    .map(|k| (*k).to_owned())
                    .ok_or_else(|| {
                        ServiceError::Scim(ScimError::bad_request(
                            ScimType::InvalidValue,
                            format!("member {id} is not a known User"),
                        ))
                    })
            })
            .collect()
    }

    /// Links platform keys (creating links for keys seen for the first time), in their order.
    async fn link_keys(&self, keys: &[String]) -> Result<Vec<Identity>> {
        let known = self
            .gw
            .store
            .get_by_backend_keys(self.scope(), keys)
            .await?;
        let mut by_key: std::collections::HashMap<String, Identity> = known
            .into_iter()
            .map(|i| (i.backend_key.clone(), i))
            .collect();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match by_key.remove(key) {
                Some(identity) => out.push(identity),
                // Read before a delete that has since finished: not to be linked again.
                None if self
                    .gw
                    .cache
                    .was_deleted(&self.gw.tenant, self.type_id(), key) => {}
                None => {
                    let now = self.gw.clock.now();
                    let fresh = Identity {
                        scim_id: uuid::Uuid::new_v4().to_string(),
                        backend_key: key.clone(),
                        external_id: None,
                        shadow: Value::Object(Map::new()),
                        platform: Value::Null,
                        created: now,
                        last_modified: now,
                    };
                    out.push(self.gw.store.link_or_get(self.scope(), &fresh).await?);
                }
            }
        }
        Ok(out)
    }

    /// Pairs platform objects with their links, linking objects seen for the first time.
    async fn link_all(&self, objects: &[Value]) -> Result<Vec<(Identity, Arc<Value>)>> {
        let mut by_key = std::collections::HashMap::with_capacity(objects.len());
        let mut keys = Vec::with_capacity(objects.len());
        for object in objects {
            let key = self.section.key_of(object, &self.gw.settings)?;
            by_key.insert(key.clone(), object);
            keys.push(key);
        }
        let mut out = Vec::with_capacity(keys.len());
        for identity in self.link_keys(&keys).await? {
            let Some(object) = by_key.get(&identity.backend_key) else {
                continue;
            };
            let object = Arc::new((*object).clone());
            self.cache_object(&identity.backend_key, object.clone())
                .await;
            out.push((identity, object));
        }
        Ok(out)
    }
}

/// The SCIM ids of a resource's `members`; members that are groups are refused (the platforms
/// served have no nested groups).
fn member_ids(resource: &Value) -> Result<Vec<String>> {
    let Some(members) = resource.get("members").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut ids = Vec::with_capacity(members.len());
    let mut seen = std::collections::HashSet::with_capacity(members.len());
    for member in members {
        if member
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("Group"))
        {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "groups cannot be members here: the platform has no nested groups",
            )
            .into());
        }
        match member.get("value").and_then(Value::as_str) {
            Some(id) => {
                if seen.insert(id) {
                    ids.push(id.to_owned());
                }
            }
            None => {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    "every member needs a `value` (the member's id)",
                )
                .into())
            }
        }
    }
    Ok(ids)
}

/// Who joined and who left between two member lists, in their order.
fn id_delta(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let old: std::collections::HashSet<&String> = before.iter().collect();
    let new: std::collections::HashSet<&String> = after.iter().collect();
    let added = after
        .iter()
        .filter(|id| !old.contains(id))
        .cloned()
        .collect();
    let removed = before
        .iter()
        .filter(|id| !new.contains(id))
        .cloned()
        .collect();
    (added, removed)
}

/// What the audit log records of a failed operation.
pub trait AuditableError {
    fn status_and_detail(&self) -> (u16, String);
}

fn is_core_or_none(urn: &Option<String>) -> bool {
    urn.as_deref().is_none_or(crate::mapping::is_core_urn)
}

fn not_found(kind: &str, id: &str) -> ScimError {
    ScimError::not_found(format!("{kind} {id} not found"))
}

fn external_id_of(resource: &Value) -> Option<String> {
    resource
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The resource without `id`, `meta` or `schemas` (those are the gateway's to compute).
fn strip_common(mut resource: Value) -> Value {
    if let Some(map) = resource.as_object_mut() {
        map.remove("id");
        map.remove("meta");
        map.remove("schemas");
    }
    resource
}

/// What the identity store keeps of a written resource: never a password (RFC 7643 §4.1.1
/// makes it write-only; the platform gets it only if the mapping maps it) and of members only
/// the `display` the IdP gave them.
fn shadow_of(resource: &Value) -> Value {
    let mut shadow = strip_common(resource.clone());
    if let Some(map) = shadow.as_object_mut() {
        map.remove("password");
        // Who is a member lives on the platform only; what is kept is the `display` an IdP
        // gave a member, so it reads back what it wrote.
        if let Some(Value::Array(members)) = map.remove("members") {
            let displays: Vec<Value> = members
                .into_iter()
                .filter_map(|m| {
                    let value = m.get("value")?.clone();
                    let display = m.get("display")?.clone();
                    Some(json!({"value": value, "display": display}))
                })
                .collect();
            if !displays.is_empty() {
                map.insert("members".to_owned(), Value::Array(displays));
            }
        }
    }
    shadow
}

/// Records an admin action in the audit log (`Ok((status, detail))` for a success). A failure
/// to record is logged, not answered: the action itself is done (or failed) already.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_admin_action<E: AuditableError>(
    store: &dyn AuditStore,
    at: OffsetDateTime,
    tenant: &str,
    actor: &str,
    operation: &str,
    resource_type: &str,
    target: &str,
    outcome: std::result::Result<(u16, String), &E>,
) {
    let (outcome, status, detail) = match outcome {
        Ok((status, detail)) => ("success", status, detail),
        Err(e) => {
            let (status, detail) = e.status_and_detail();
            ("failure", status, detail)
        }
    };
    let entry = crate::store::AuditEntry {
        // Time-ordered (UUIDv7): entries of one millisecond still sort in order.
        id: uuid::Uuid::now_v7().to_string(),
        at,
        tenant: tenant.to_owned(),
        actor: actor.to_owned(),
        operation: operation.to_owned(),
        resource_type: resource_type.to_owned(),
        target: target.to_owned(),
        outcome: outcome.to_owned(),
        status,
        detail,
    };
    if let Err(e) = store.record(&entry).await {
        tracing::error!(error = %e, operation, target, "cannot write the audit log");
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A weak entity tag over the resource's attributes and its members' platform keys (RFC 7644
/// §3.14, RFC 7232 §2.3). Object keys are hashed in sorted order, so equal content gives the
/// same tag whatever order an IdP sent it in.
fn weak_etag(attrs: &Value, member_keys: Option<&[String]>) -> String {
    fn canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    if let Some(v) = map.get(k) {
                        canonical(v, out);
                    }
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for item in items {
                    canonical(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(attrs, &mut text);
    if let Some(keys) = member_keys {
        let mut keys: Vec<&String> = keys.iter().collect();
        keys.sort();
        text.push_str("|members:");
        for k in keys {
            text.push_str(k);
            text.push(',');
        }
    }
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}
