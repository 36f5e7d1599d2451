//! Writes (RFC 7644 §3.3 create, §3.5.1 replace, §3.5.2 modify, §3.6 delete): the platform
//! calls for what changed, the identity link and what the IdP wrote, the cache entries the
//! write makes stale, and the locks that serialize writes to one resource (within a process,
//! and across replicas sharing the store), so concurrent PATCHes of one resource all apply.
//! `If-Match` (§3.14) is checked against the version the write starts from.

use std::sync::Arc;

use serde_json::Value;

use super::calls::CallsOutcome;
use super::links::{
    external_id_of, id_delta, member_ids, shadow_of, strip_common, Locked, MemberMove,
};
use super::present::Detail;
use super::MemberFailure;
use super::{RequestContext, Resource, Resources, Result, ServiceError};
use crate::mapping::compile::Sends;
use crate::mapping::spec::{MemberChange, MembersSpec};
use crate::mapping::vars::{
    CallVars, CreateVars, DeleteVars, MemberVars, MembershipVars, UpdateVars,
};

/// How many one-member calls run at once.
const MEMBER_CONCURRENCY: usize = 8;
use super::lifecycle::Lifecycle;
use super::retry::Attempt;
use crate::scim::patch::apply_patch;
use crate::scim::{EntityTags, ResourceKind, ScimError, ScimOp};
use crate::store::CreateIntent;
use crate::store::{Deprovision, Identity, ReplicaLock, StoreError};

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
    pub(super) async fn lock(&self, id: &str) -> Option<tokio::sync::MutexGuard<'_, ()>> {
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
pub(super) struct WriteLock<'a> {
    _local: Option<tokio::sync::MutexGuard<'a, ()>>,
    /// Held when other replicas share the store (then the store is read, not the cache).
    replicas: Option<ReplicaLock>,
}

/// What a write did: the resource as written (`None` for a delete), and what the audit log
/// should say beyond the operation (a reactivation instead of a create, an account kept).
#[derive(Debug)]
pub struct Executed {
    /// The resource written.
    pub resource: Option<Resource>,
    /// What happened, when it is not what the operation says.
    pub note: Option<String>,
}

/// Where a write's new resource came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Whole {
    /// The IdP sent it whole (PUT): what it left out and the platform holds is read back.
    Resource,
    /// A PATCH applied to the resource as the IdP saw it: what it removed stays removed.
    Patched,
    /// A create's retry (`retry.rs`), sent whole: the create may have stopped before its later
    /// calls, so what the IdP saw before is not trusted; each attribute is compared with the
    /// platform's.
    Repeat,
}

/// Refuses a write whose `If-Match` does not name the resource's current version.
fn check_precondition(if_match: Option<&EntityTags>, current: &Resource) -> Result<()> {
    match if_match {
        Some(tags) if !tags.names(&current.version) => {
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
    /// Carries out one write as RFC 7644 has it; the resource as written (`None` for a
    /// delete).
    pub async fn execute(
        &self,
        op: &ScimOp,
        if_match: Option<&EntityTags>,
        req: &RequestContext<'_>,
    ) -> Result<Option<Resource>> {
        self.execute_in(op, if_match, req, Lifecycle::default())
            .await
            .map(|done| done.resource)
    }

    /// Carries out one write under a tenant's lifecycle policy (reactivation on create,
    /// deprovisioning on delete): what it did.
    pub async fn execute_in(
        &self,
        op: &ScimOp,
        if_match: Option<&EntityTags>,
        req: &RequestContext<'_>,
        lifecycle: Lifecycle,
    ) -> Result<Executed> {
        let written = |resource| Executed {
            resource: Some(resource),
            note: None,
        };
        match op {
            ScimOp::Create {
                resource,
                read_only,
            } => {
                self.create_once(resource, read_only, req, lifecycle.reactivate)
                    .await
            }
            ScimOp::Replace {
                id,
                resource,
                read_only,
            } => self
                .replace(id, resource, read_only, if_match, req)
                .await
                .map(written),
            ScimOp::Patch { id, operations } => {
                let lock = self.lock_for_write(id).await?;
                let (identity, current, before) =
                    self.current_for_write(id, if_match, req, &lock).await?;
                let patched = apply_patch(&self.gw.registry, self.rt, &before.json, operations)?;
                self.write(
                    identity,
                    &current,
                    &before.json,
                    patched,
                    Whole::Patched,
                    req,
                )
                .await
                .map(written)
            }
            ScimOp::Delete { id } => self
                .delete(id, if_match, req, lifecycle.deprovision)
                .await
                .map(|note| Executed {
                    resource: None,
                    note,
                }),
        }
    }

    /// Replaces a resource (PUT) by the one the IdP sent.
    pub(super) async fn replace(
        &self,
        id: &str,
        resource: &Value,
        read_only: &Value,
        if_match: Option<&EntityTags>,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        self.replace_as(id, resource, read_only, if_match, req, Whole::Resource)
            .await
    }

    /// Replaces a resource by one sent whole (a PUT, or a create's retry).
    pub(super) async fn replace_as(
        &self,
        id: &str,
        resource: &Value,
        read_only: &Value,
        if_match: Option<&EntityTags>,
        req: &RequestContext<'_>,
        whole: Whole,
    ) -> Result<Resource> {
        let lock = self.lock_for_write(id).await?;
        let (identity, current, before) = self.current_for_write(id, if_match, req, &lock).await?;
        self.section
            .refuse_undecidable(read_only, resource, &before.json)?;
        self.write(
            identity,
            &current,
            &before.json,
            resource.clone(),
            whole,
            req,
        )
        .await
    }

    /// A create, or the retry of one begun before (`retry.rs`), under the lock of its name;
    /// a name taken by a deactivated user reactivates it where the tenant says so.
    async fn create_once(
        &self,
        resource: &Value,
        read_only: &Value,
        req: &RequestContext<'_>,
        reactivate: bool,
    ) -> Result<Executed> {
        let _lock = self.lock_for_create(resource).await?;
        let pending = match self.attempt(resource, read_only, req).await? {
            Attempt::Repeated(resource, how) => {
                return Ok(Executed {
                    resource: Some(resource),
                    note: Some(how),
                })
            }
            Attempt::Create(pending) => pending,
        };
        match self
            .create(resource, read_only, req, pending.as_ref())
            .await
        {
            Ok(created) => Ok(Executed {
                resource: Some(created),
                note: None,
            }),
            Err(e) if reactivate && e.is_uniqueness_conflict() => {
                let revived = self.reactivate(resource, read_only, req, e).await?;
                Ok(Executed {
                    note: Some(format!(
                        "the deactivated user {} of this userName was reactivated and updated (tenant option), not created",
                        revived.id
                    )),
                    resource: Some(revived),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a resource: the first create call makes the platform object and the link is
    /// stored at once, before any further call (a state change, members), so a failing later
    /// call never leaves a platform account the gateway does not know. With `pending`, under
    /// the intent's SCIM id, recorded before the platform is asked and dropped once the IdP
    /// gets an answer.
    async fn create(
        &self,
        resource: &Value,
        read_only: &Value,
        req: &RequestContext<'_>,
        pending: Option<&CreateIntent>,
    ) -> Result<Resource> {
        let desired = self.section.desired(resource, &self.gw.settings)?;
        // What the platform will hold, as far as the create decides it.
        let asked = self.section.to_scim(
            &Value::Object(desired.clone()),
            None,
            None,
            &self.gw.settings,
        )?;
        self.section
            .refuse_undecidable(read_only, resource, &asked)?;
        // Members are checked before anything is created on the platform.
        let members = match &self.section.members {
            Some(_) => {
                self.member_keys(&member_ids(resource)?, MemberMove::Joining)
                    .await?
            }
            None => Vec::new(),
        };
        let generated = self.generated()?;
        let mut vars = CreateVars {
            scim: resource,
            desired: &desired,
            settings: &self.gw.settings,
            generated: &generated,
            key: None,
            backend: None,
        };
        let now = self.gw.clock.now();
        let mut identity = Identity {
            scim_id: match pending {
                Some(pending) => pending.scim_id.clone(),
                None => uuid::Uuid::new_v4().to_string(),
            },
            backend_key: String::new(),
            external_id: external_id_of(resource),
            shadow: shadow_of(resource),
            platform: Value::Null,
            created: now,
            last_modified: now,
            proof: None,
        };
        // The mapping compiler guarantees an unconditional first call that returns the object.
        let Some((first, rest)) = self.section.create.split_first() else {
            return Err(ServiceError::Mapping(
                "the mapping has no create call".to_owned(),
            ));
        };
        let request = first.render(&vars, &[])?;
        if let Some(pending) = pending {
            self.begin(pending).await?;
        }
        // Whether the platform may have made the object without the gateway knowing it: the
        // first call got no clear answer. Only then does the intent stay, for the retry.
        let mut unknown = false;
        let made = async {
            let response = match self.send(&request).await {
                Ok(response) => response,
                Err(ServiceError::Platform(e)) => {
                    unknown = e.may_have_acted();
                    return Err(e.into());
                }
                Err(e) => return Err(e),
            };
            let created = first.object_of(&response, &self.gw.settings)?;
            identity.backend_key = self.section.key_of(&created, &self.gw.settings)?;
            identity.proof = self.section.proof_of(&created, &self.gw.settings)?;
            identity.platform = self.snapshot(&created);
            match self.gw.links.insert(self.scope(), &identity).await {
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
            let mut outcome = self
                .run_calls(rest, &mut vars, &mut Sends::default())
                .await?;
            if let Some(spec) = &self.section.members {
                if !members.is_empty() {
                    let added = self
                        .change_members(spec, &mut vars, &members, &[], &mut Sends::default())
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
            let snapshot = self.snapshot(&object);
            let mut shadow = identity.shadow.clone();
            self.section
                .complete_unwritten(&mut shadow, &object, &self.gw.settings)?;
            if snapshot != identity.platform || shadow != identity.shadow {
                identity.platform = snapshot;
                identity.shadow = shadow;
                self.save(&identity).await?;
            }
            self.answer_written(&identity, object, req).await
        }
        .await;
        // Answered (a resource, or an error the IdP sees): its retry is a new POST.
        if let (Some(pending), false) = (pending, unknown) {
            self.end(pending).await;
        }
        made
    }

    /// What a write to an existing resource starts from (the caller holds `lock`): the link,
    /// the platform object read fresh, and the resource as the IdP sees it (every member
    /// included), whose version must satisfy `If-Match`.
    pub(super) async fn current_for_write(
        &self,
        id: &str,
        if_match: Option<&EntityTags>,
        req: &RequestContext<'_>,
        lock: &WriteLock<'_>,
    ) -> Result<(Identity, Arc<Value>, Resource)> {
        let mut identity = self.identity_for_write(id, lock).await?;
        let current = self.object_for(&mut identity, true, Locked::Yes).await?;
        let before = self
            .present(&identity, &current, Detail::FOR_WRITE, req)
            .await?;
        check_precondition(if_match, &before)?;
        Ok((identity, current, before))
    }

    /// Applies a new full resource: platform calls for what changed (members as a delta), then
    /// the stored copy.
    pub(super) async fn write(
        &self,
        mut identity: Identity,
        current: &Value,
        before: &Value,
        resource: Value,
        whole: Whole,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        let resource = strip_common(resource);
        let desired = self.section.desired(&resource, &self.gw.settings)?;
        // What the resource as the IdP last saw it asked for; unknown when it cannot be computed.
        let desired_before = match whole {
            Whole::Repeat => None,
            Whole::Resource | Whole::Patched => {
                self.section.desired(before, &self.gw.settings).ok()
            }
        };
        let changed = self
            .section
            .changes(&desired, desired_before.as_ref(), current)?;
        let generated = self.generated()?;
        let mut vars = UpdateVars {
            key: identity.backend_key.clone(),
            scim: &resource,
            desired: &desired,
            changed: &changed,
            current,
            backend: current.clone(),
            settings: &self.gw.settings,
            generated: &generated,
        };
        let old_name = identity
            .shadow
            .get(self.name_attribute())
            .and_then(Value::as_str)
            .map(str::to_owned);
        // Forgotten before the calls too, so a concurrent read cannot keep serving the old object.
        self.forget_groups_of_users();
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
                    self.member_keys(&added, MemberMove::Joining).await?,
                    self.member_keys(&removed, MemberMove::Leaving).await?,
                ))
            }
            None => None,
        };
        let mut sent = Sends::default();
        let mut result = self
            .run_calls(&self.section.update, &mut vars, &mut sent)
            .await;
        if let (Some((spec, added, removed)), Ok(first)) = (membership, &result) {
            if !added.is_empty() || !removed.is_empty() {
                let first = first.clone();
                result = self
                    .change_members(spec, &mut vars, &added, &removed, &mut sent)
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
        self.forget_groups_of_users();
        // A rename moved the platform key (JupyterHub): the link follows at once, even when a
        // later call failed, or the next read would find nothing under the old key and
        // retire the link.
        if result.is_err() && vars.key != identity.backend_key {
            let mut moved = identity.clone();
            moved.backend_key = vars.key.clone();
            self.save(&moved).await?;
        }
        let outcome = result?;
        // A change the IdP asked for that no call sent did not happen: say so, never 200.
        let unsent: Vec<String> = leaf_paths(&changed)
            .into_iter()
            .filter(|path| !sent.covers(path))
            .map(|path| path.join("."))
            .collect();
        if !unsent.is_empty() {
            return Err(ServiceError::NotSent { fields: unsent });
        }
        let object = self
            .object_after(outcome, current.clone(), &identity.backend_key)
            .await?;
        let mut shadow = shadow_of(&resource);
        if whole != Whole::Patched {
            self.section
                .complete_unwritten(&mut shadow, &object, &self.gw.settings)?;
        }
        for attribute in self.section.kept_changes(&identity.shadow, &shadow) {
            tracing::warn!(
                scim_id = %identity.scim_id,
                attribute,
                "the platform cannot change this attribute: it keeps its value, the gateway keeps the IdP's"
            );
        }
        // A platform whose key is a name (JupyterHub) changes it with a rename.
        let key = self.section.key_of(&object, &self.gw.settings)?;
        if key != identity.backend_key {
            self.gw
                .cache
                .forget_object(&self.gw.tenant, self.type_id(), &identity.backend_key)
                .await;
            identity.backend_key = key;
        }
        identity.external_id = external_id_of(&resource);
        identity.shadow = shadow;
        identity.platform = self.snapshot(&object);
        identity.last_modified = self.gw.clock.now();
        self.save(&identity).await?;
        self.answer_written(&identity, object, req).await
    }

    /// Deletes a resource; one the platform no longer has is deleted all the same. A user's
    /// platform account is deleted, suspended or left alone as the tenant's policy says; the
    /// link goes in every case, so the resource is gone for the IdP.
    async fn delete(
        &self,
        id: &str,
        if_match: Option<&EntityTags>,
        req: &RequestContext<'_>,
        deprovision: Deprovision,
    ) -> Result<Option<String>> {
        let lock = self.lock_for_write(id).await?;
        let mut identity = self.identity_for_write(id, &lock).await?;
        if if_match.is_some() {
            let current = self.object_for(&mut identity, true, Locked::Yes).await?;
            let before = self
                .present(&identity, &current, Detail::FOR_WRITE, req)
                .await?;
            check_precondition(if_match, &before)?;
        }
        // A create of this resource cut short no longer stands: its retry must not bring the
        // id back (RFC 7644 §3.6).
        self.gw
            .intents
            .drop_creates_of(self.scope(), &identity.scim_id)
            .await?;
        let deprovision = match self.kind {
            ResourceKind::User => deprovision,
            ResourceKind::Group => Deprovision::Delete,
        };
        if deprovision != Deprovision::Delete {
            let retired = self.deprovision(identity, deprovision, req, &lock).await?;
            self.forget_groups_of_users();
            let kept = match deprovision {
                Deprovision::Suspend => "deactivated and kept",
                _ => "kept as it is",
            };
            return Ok(retired.map(|new_id| {
                format!(
                    "deprovision {}: the platform account is {kept}, answering as {new_id}",
                    deprovision.as_str()
                )
            }));
        }
        let mut vars = DeleteVars {
            key: &identity.backend_key,
            scim: &identity.shadow,
            settings: &self.gw.settings,
        };
        match self
            .run_calls(&self.section.delete, &mut vars, &mut Sends::default())
            .await
        {
            Ok(_) => {}
            // Already gone from the platform: the IdP's intent holds.
            Err(ServiceError::Platform(e)) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        self.forget_groups_of_users();
        self.forget(&identity).await.map(|()| None)
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
        self.forget_groups_of_users();
        self.present(identity, &object, Detail::answer(req), req)
            .await
    }

    /// Sends a membership change: who joined and who left (SCIM id, user key) in one go, or
    /// one member at a time (a bounded number at once), every member's failure reported.
    async fn change_members<W: CallVars + Sync>(
        &self,
        spec: &MembersSpec,
        vars: &mut W,
        added: &[(String, String)],
        removed: &[(String, String)],
        sent: &mut Sends,
    ) -> Result<CallsOutcome> {
        use futures_util::stream::{self, StreamExt};
        match &spec.change {
            MemberChange::Delta(calls) => {
                let added: Vec<String> = added.iter().map(|(_, k)| k.clone()).collect();
                let removed: Vec<String> = removed.iter().map(|(_, k)| k.clone()).collect();
                let mut membership = MembershipVars {
                    write: vars,
                    added: &added,
                    removed: &removed,
                };
                match self.run_calls(calls, &mut membership, sent).await? {
                    // Members were to change and no call's condition held: not done.
                    CallsOutcome::NoneRan if !added.is_empty() || !removed.is_empty() => {
                        Err(ServiceError::NotSent {
                            fields: vec!["members".to_owned()],
                        })
                    }
                    outcome => Ok(outcome),
                }
            }
            MemberChange::EachMember { add, remove } => {
                let write: &W = vars;
                let jobs: Vec<(bool, String, String)> = added
                    .iter()
                    .map(|(id, key)| (true, id.clone(), key.clone()))
                    .chain(
                        removed
                            .iter()
                            .map(|(id, key)| (false, id.clone(), key.clone())),
                    )
                    .collect();
                let results: Vec<(bool, String, Result<CallsOutcome>)> = stream::iter(jobs)
                    .map(move |(joined, id, key)| async move {
                        let calls = if joined { add } else { remove };
                        let mut vars = MemberVars {
                            write,
                            member: &key,
                        };
                        let result = self
                            .run_calls(calls, &mut vars, &mut Sends::default())
                            .await;
                        (joined, id, result)
                    })
                    .buffer_unordered(MEMBER_CONCURRENCY)
                    .collect()
                    .await;
                let mut failures: Vec<MemberFailure> = results
                    .into_iter()
                    .filter_map(|(joined, member, result)| {
                        let cause = match result {
                            // No call's condition held for this member: nothing was done.
                            Ok(CallsOutcome::NoneRan) => ServiceError::NotSent {
                                fields: vec![format!(
                                    "members ({} {member})",
                                    if joined { "adding" } else { "removing" }
                                )],
                            },
                            Ok(_) => return None,
                            // A member the platform no longer has in the group has left.
                            Err(ServiceError::Platform(e)) if !joined && e.is_not_found() => {
                                return None
                            }
                            Err(e) => e,
                        };
                        Some(MemberFailure {
                            member,
                            joined,
                            cause: Box::new(cause),
                        })
                    })
                    .collect();
                // The order calls finished in is chance: report the platform's failures
                // (which a retry may fix) before the refusals, the same way every time.
                failures.sort_by_key(|f| (!f.cause.is_platform_failure(), f.member.clone()));
                if failures.is_empty() {
                    Ok(CallsOutcome::Ran)
                } else {
                    Err(ServiceError::MembersFailed { failures })
                }
            }
        }
    }

    /// Fresh values of the mapping's generators (`generate`), for one write's templates only:
    /// drawn from the operating system's randomness, never logged or stored.
    fn generated(&self) -> Result<serde_json::Map<String, Value>> {
        let mut out = serde_json::Map::new();
        if self.gw.platform.explains() {
            // Explained, not sent: a generated secret is shown as what it is.
            for (name, _) in &self.section.generate {
                out.insert(name.clone(), Value::String("***".to_owned()));
            }
            return Ok(out);
        }
        for (name, generator) in &self.section.generate {
            let n = generator.alphabet.len();
            // Bytes at or above the largest multiple of n are redrawn: no character is likelier.
            let fair = 256 - 256 % n;
            let mut value = String::with_capacity(generator.length);
            while value.chars().count() < generator.length {
                let mut bytes = [0u8; 64];
                getrandom::fill(&mut bytes)
                    .map_err(|e| ServiceError::Aborted(format!("no randomness: {e}")))?;
                for b in bytes.iter().map(|b| usize::from(*b)).filter(|b| *b < fair) {
                    if value.chars().count() == generator.length {
                        break;
                    }
                    if let Some(c) = generator.alphabet.get(b % n) {
                        value.push(*c);
                    }
                }
            }
            out.insert(name.clone(), Value::String(value));
        }
        Ok(out)
    }

    /// A group write can change any user's `groups`.
    fn forget_groups_of_users(&self) {
        if self.kind == ResourceKind::Group {
            self.gw.cache.forget_all_groups_of();
        }
    }

    /// Remembers the name IdPs look this resource up by, so the next `eq` filter on it is
    /// answered without listing the platform.
    async fn remember_name(&self, identity: &Identity) {
        if let Some(name) = self.name_of(identity) {
            self.gw
                .cache
                .put_name(&self.gw.tenant, self.type_id(), name, &identity.scim_id)
                .await;
        }
    }

    /// Serializes writes to one resource: within this process (striped locks), then across
    /// every replica sharing the store (the store's lock, when it has one). Held until dropped.
    pub(super) async fn lock_for_write(&self, id: &str) -> Result<WriteLock<'_>> {
        self.lock_in(&self.gw.locks, id).await
    }

    /// The lock of `name` in this tenant's resource type: a stripe of `locks` in this process,
    /// and the advisory lock of the same key across replicas.
    pub(super) async fn lock_in<'l>(
        &'l self,
        locks: &'l WriteLocks,
        name: &str,
    ) -> Result<WriteLock<'l>> {
        let key = format!("{}\u{1f}{}\u{1f}{name}", self.gw.tenant, self.type_id());
        let local = locks.lock(&key).await;
        let replicas = self.gw.replicas.lock_resource(&key).await?;
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
}

/// The paths of the leaves of `changed` (`{"profile": {"name": true}}` → `profile.name`).
fn leaf_paths(changed: &serde_json::Map<String, Value>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (name, value) in changed {
        match value {
            Value::Object(inner) => {
                for mut path in leaf_paths(inner) {
                    path.insert(0, name.clone());
                    out.push(path);
                }
            }
            _ => out.push(vec![name.clone()]),
        }
    }
    out
}
