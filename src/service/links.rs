//! Identity links: which platform object a SCIM id stands for, and what the IdP last wrote of
//! it (RFC 7643 §3.1 `id`, `externalId`). Links are read through the cache, written through
//! the store, made for platform objects seen for the first time, and dropped when the platform
//! no longer has the object (RFC 7644 §3.6: the id answers 404 from then on). The admin API
//! re-links and unlinks through here too, under the same write locks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{not_found, Resources, Result, ServiceError};
use crate::mapping::model::Completion;

/// How many list items are read whole at a time when list items lack fields.
const COMPLETION_CONCURRENCY: usize = 8;
/// Up to this many members not in the cache are read from the store whole (and cached);
/// more are read as ids only, so a 10,000-member group does not parse 10,000 stored users.
const CACHED_LINKS_READ_WHOLE: usize = 100;
use crate::scim::{ResourceKind, ScimError, ScimType};
use crate::store::{Change, Identity, StoreError};

impl Resources<'_> {
    /// A link by SCIM id, from the cache when it holds it.
    pub(super) async fn identity(&self, id: &str) -> Result<Identity> {
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
    pub(super) async fn identity_from_store(&self, id: &str) -> Result<Identity> {
        let identity = self
            .gw
            .links
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
    pub(super) async fn save(&self, identity: &Identity) -> Result<()> {
        match self.gw.links.update(self.scope(), identity).await {
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

    /// The platform object behind a link. A platform that no longer has it, or has another
    /// account under its key (the proof differs: a reused id), makes the id unknown and
    /// retires the link; a proof not known yet is recorded.
    ///
    /// A read (`Locked::No`) decides a retirement under the resource's write lock, on the link
    /// as stored then: a write may be moving the link (a rename changes a JupyterHub user's
    /// key), and what the read saw missing may be under the new key by then.
    pub(super) async fn object_for(
        &self,
        identity: &mut Identity,
        fresh: bool,
        locked: Locked,
    ) -> Result<Arc<Value>> {
        let why = match self.linked_object(identity, fresh).await? {
            Linked::Found(object) => return Ok(object),
            Linked::Retire(why) => why,
        };
        if locked == Locked::Yes {
            return self.retire(identity, why).await;
        }
        let _lock = self.lock_for_write(&identity.scim_id).await?;
        let stored = self.identity_from_store(&identity.scim_id).await?;
        if stored.backend_key == identity.backend_key && stored.proof == identity.proof {
            return self.retire(identity, why).await;
        }
        *identity = stored;
        match self.linked_object(identity, true).await? {
            Linked::Found(object) => Ok(object),
            Linked::Retire(why) => self.retire(identity, why).await,
        }
    }

    /// The platform object behind a link, or why the link no longer names it.
    async fn linked_object(&self, identity: &mut Identity, fresh: bool) -> Result<Linked> {
        let object = match self.fetch_object(&identity.backend_key, fresh).await {
            Err(ServiceError::Platform(e)) if e.is_not_found() => {
                return Ok(Linked::Retire(Retirement::Gone))
            }
            other => other?,
        };
        if self.section.excludes(&object, &self.gw.settings)? {
            // Never shown, never touched: as if it did not exist (a stray link goes).
            return Ok(Linked::Retire(Retirement::Excluded));
        }
        let proof = self.section.proof_of(&object, &self.gw.settings)?;
        match (&identity.proof, proof) {
            (Some(known), Some(seen)) if *known != seen => {
                Ok(Linked::Retire(Retirement::AnotherAccount))
            }
            (None, Some(seen)) => {
                identity.proof = Some(seen);
                self.save(identity).await?;
                Ok(Linked::Found(object))
            }
            _ => Ok(Linked::Found(object)),
        }
    }

    /// Retires a link that no longer names its account; the id is then unknown.
    async fn retire(&self, identity: &Identity, why: Retirement) -> Result<Arc<Value>> {
        if why == Retirement::AnotherAccount {
            tracing::warn!(
                scim_id = %identity.scim_id,
                key = %identity.backend_key,
                "the platform account under this key is not the linked one (its identity changed); the link is retired"
            );
        }
        self.forget(identity).await?;
        Err(not_found(self.type_id(), &identity.scim_id).into())
    }

    /// Drops a link whose platform object is gone, and everything cached of it.
    pub(super) async fn forget(&self, identity: &Identity) -> Result<()> {
        self.gw
            .links
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
        self.forget_name(identity).await;
        Ok(())
    }

    /// Forgets the name IdPs look this resource up by (it may not answer to it any more).
    async fn forget_name(&self, identity: &Identity) {
        if let Some(name) = self.name_of(identity) {
            self.gw
                .cache
                .forget_name(&self.gw.tenant, self.type_id(), name)
                .await;
        }
    }

    /// The name (`userName`, `displayName`) the IdP last wrote for a resource.
    pub(super) fn name_of<'i>(&self, identity: &'i Identity) -> Option<&'i str> {
        identity
            .shadow
            .get(self.name_attribute())
            .and_then(Value::as_str)
    }

    /// The links the cache holds for these platform keys, by key, and the keys it does not.
    async fn cached_links(&self, keys: &[String]) -> (HashMap<String, Arc<Identity>>, Vec<String>) {
        let (tenant, rt) = (&self.gw.tenant, self.type_id());
        let mut cached = HashMap::with_capacity(keys.len());
        let mut uncached = Vec::new();
        for key in keys {
            match self.gw.cache.identity_by_key(tenant, rt, key).await {
                Some(hit) => {
                    cached.insert(key.clone(), hit);
                }
                None => uncached.push(key.clone()),
            }
        }
        (cached, uncached)
    }

    /// The stored links of these platform keys, put in the cache when it keeps them.
    async fn stored_links(&self, keys: &[String]) -> Result<Vec<Identity>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let found = self
            .gw
            .links
            .get_by_backend_keys(self.scope(), keys)
            .await?;
        if self.gw.cache.keeps_entries() {
            for identity in &found {
                self.gw
                    .cache
                    .put_identity(&self.gw.tenant, self.type_id(), identity.clone())
                    .await;
            }
        }
        Ok(found)
    }

    /// A link of `key` as it starts: the SCIM id `scim_id`, nothing written by an IdP, no
    /// proof yet. (Empty `scim_id`: a stand-in to present an object no link names.)
    pub(super) fn new_link(&self, scim_id: String, key: &str) -> Identity {
        let now = self.gw.clock.now();
        Identity {
            scim_id,
            backend_key: key.to_owned(),
            external_id: None,
            shadow: Value::Object(Map::new()),
            platform: Value::Null,
            created: now,
            last_modified: now,
            proof: None,
        }
    }

    /// Links platform keys (creating links for keys seen for the first time), in their order.
    pub(super) async fn link_keys(&self, keys: &[String]) -> Result<Vec<Identity>> {
        let (cached, uncached) = self.cached_links(keys).await;
        let mut by_key: HashMap<String, Identity> = cached
            .into_iter()
            .map(|(key, identity)| (key, (*identity).clone()))
            .collect();
        for identity in self.stored_links(&uncached).await? {
            by_key.insert(identity.backend_key.clone(), identity);
        }
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
                    let fresh = self.new_link(uuid::Uuid::new_v4().to_string(), key);
                    out.push(self.gw.links.link_or_get(self.scope(), &fresh).await?);
                }
            }
        }
        Ok(out)
    }

    /// Pairs listed platform objects with their links (linking objects seen for the first
    /// time), each completed as the list says when items lack fields: read whole with the
    /// `get` call (a bounded number at a time, in order), or marked partial. A partial item is
    /// never cached as the object.
    pub(super) async fn listed(
        &self,
        objects: Vec<Value>,
    ) -> Result<Vec<(Identity, Arc<Value>, bool)>> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let list = &self.section.list;
        let linked = self.link_all(objects).await?;
        if list.lacks.is_empty() {
            return Ok(linked.into_iter().map(|(i, o)| (i, o, false)).collect());
        }
        if list.complete == Completion::Omit {
            return Ok(linked.into_iter().map(|(i, o)| (i, o, true)).collect());
        }
        stream::iter(linked)
            .map(|(identity, _)| async move {
                let object = self.fetch_object(&identity.backend_key, false).await?;
                Ok::<_, ServiceError>((identity, object, false))
            })
            .buffered(COMPLETION_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Pairs platform objects with their links, linking objects seen for the first time, and
    /// caches the objects (unless list items lack fields: a partial item is not the object).
    /// The objects are taken, not copied: a page of 100 users copied cost about 4% of a list
    /// request's CPU.
    pub(super) async fn link_all(
        &self,
        objects: Vec<Value>,
    ) -> Result<Vec<(Identity, Arc<Value>)>> {
        let mut by_key = HashMap::with_capacity(objects.len());
        let mut keys = Vec::with_capacity(objects.len());
        for object in objects {
            // Accounts the gateway must never show (its own) are neither linked nor listed.
            if self.section.excludes(&object, &self.gw.settings)? {
                continue;
            }
            let key = self.section.key_of(&object, &self.gw.settings)?;
            let proof = self.section.proof_of(&object, &self.gw.settings)?;
            // A key deleted through the gateway now names another account (a reused id):
            // that account is new, not the deleted one.
            if let (Some(seen), Some(Some(deleted))) = (
                &proof,
                self.gw
                    .cache
                    .deleted_proof(&self.gw.tenant, self.type_id(), &key)
                    .await,
            ) {
                if *seen != deleted {
                    self.gw
                        .cache
                        .clear_deleted(&self.gw.tenant, self.type_id(), &key)
                        .await;
                }
            }
            by_key.insert(key.clone(), (object, proof));
            keys.push(key);
        }
        let mut out = Vec::with_capacity(keys.len());
        for identity in self.link_keys(&keys).await? {
            // A key listed twice (a page shifted by a concurrent insert) is answered once.
            let Some((object, proof)) = by_key.remove(&identity.backend_key) else {
                continue;
            };
            let identity = self.reconcile(identity, proof.as_deref()).await?;
            let object = Arc::new(object);
            if self.section.list.lacks.is_empty() {
                self.cache_object(&identity.backend_key, object.clone())
                    .await;
            }
            out.push((identity, object));
        }
        Ok(out)
    }

    /// The link for a listed object with proof `seen`: the same link when the proof matches
    /// (or is recorded now); a new link, the old one retired, when another account took the
    /// key.
    async fn reconcile(&self, mut identity: Identity, seen: Option<&str>) -> Result<Identity> {
        let Some(seen) = seen else {
            return Ok(identity);
        };
        match identity.proof.as_deref() {
            Some(known) if known == seen => Ok(identity),
            None => {
                identity.proof = Some(seen.to_owned());
                self.save(&identity).await?;
                Ok(identity)
            }
            Some(_) => {
                tracing::warn!(
                    scim_id = %identity.scim_id,
                    key = %identity.backend_key,
                    "another platform account took this key; the old link is retired and the account linked anew"
                );
                self.forget(&identity).await?;
                self.gw
                    .cache
                    .clear_deleted(&self.gw.tenant, self.type_id(), &identity.backend_key)
                    .await;
                let fresh = Identity {
                    proof: Some(seen.to_owned()),
                    ..self.new_link(uuid::Uuid::new_v4().to_string(), &identity.backend_key)
                };
                Ok(self.gw.links.link_or_get(self.scope(), &fresh).await?)
            }
        }
    }

    /// The SCIM ids of platform keys, in their order, linking keys seen for the first time;
    /// reads only ids, so a 10,000-member group does not parse 10,000 stored users.
    pub(super) async fn link_ids(&self, keys: &[String]) -> Result<Vec<String>> {
        let (cached, uncached) = self.cached_links(keys).await;
        let mut known: HashMap<String, String> = cached
            .into_iter()
            .map(|(key, identity)| (key, identity.scim_id.clone()))
            .collect();
        if uncached.len() <= CACHED_LINKS_READ_WHOLE && self.gw.cache.keeps_entries() {
            // A few: read whole and cached, so the next read of the group asks no store.
            for identity in self.stored_links(&uncached).await? {
                known.insert(identity.backend_key, identity.scim_id);
            }
        } else if !uncached.is_empty() {
            known.extend(
                self.gw
                    .links
                    .ids_by_backend_keys(self.scope(), &uncached)
                    .await?,
            );
        }
        let unknown: Vec<String> = keys
            .iter()
            .filter(|k| !known.contains_key(*k))
            .cloned()
            .collect();
        let mut fresh: HashMap<String, String> = HashMap::new();
        if !unknown.is_empty() && self.section.exclude.is_some() {
            // Whether a member seen for the first time is an account never to show needs
            // the account: read each (from the cache when it holds it), then link the rest.
            use futures_util::stream::{self, StreamExt, TryStreamExt};
            let objects: Vec<Arc<Value>> = stream::iter(unknown.iter().cloned())
                .map(|key| async move { self.fetch_object(&key, false).await })
                .buffered(COMPLETION_CONCURRENCY)
                .try_collect()
                .await?;
            let objects: Vec<Value> = objects.iter().map(|o| (**o).clone()).collect();
            for (identity, _) in self.link_all(objects).await? {
                fresh.insert(identity.backend_key, identity.scim_id);
            }
        } else if !unknown.is_empty() {
            for identity in self.link_keys(&unknown).await? {
                fresh.insert(identity.backend_key, identity.scim_id);
            }
        }
        Ok(keys
            .iter()
            .filter_map(|k| known.get(k).or_else(|| fresh.get(k)).cloned())
            .collect())
    }

    /// The users a SCIM member list names, as `(SCIM id, platform key)`; a member that is not
    /// a known user is a 400 `invalidValue`. When the mapping declares what proves an account,
    /// each is checked to be still the linked one (as a read of it would): a name the platform
    /// gave another person since must not add or remove that person. A joining member who is
    /// gone is refused; a leaving one has left already and is left out.
    pub(super) async fn member_keys(
        &self,
        members: &[String],
        change: MemberMove,
    ) -> Result<Vec<(String, String)>> {
        use futures_util::stream::{self, StreamExt};
        let users = self.gw.resources(ResourceKind::User)?;
        let found = self.gw.links.get_many(users.scope(), members).await?;
        let mut by_id: HashMap<String, Identity> =
            found.into_iter().map(|i| (i.scim_id.clone(), i)).collect();
        let mut linked = Vec::with_capacity(members.len());
        for id in members {
            let identity = by_id.remove(id).ok_or_else(|| unknown_member(id))?;
            linked.push(identity);
        }
        if users.section.identity.is_none() {
            return Ok(linked
                .into_iter()
                .map(|i| (i.scim_id, i.backend_key))
                .collect());
        }
        let users = &users;
        let checked: Vec<(Identity, Result<()>)> = stream::iter(linked)
            .map(|mut identity| async move {
                let result = users
                    .object_for(&mut identity, false, Locked::No)
                    .await
                    .map(|_| ());
                (identity, result)
            })
            .buffered(COMPLETION_CONCURRENCY)
            .collect()
            .await;
        let mut out = Vec::with_capacity(checked.len());
        for (identity, result) in checked {
            match result {
                Ok(()) => out.push((identity.scim_id, identity.backend_key)),
                Err(e) if e.is_not_found() && change == MemberMove::Leaving => {}
                Err(e) if e.is_not_found() => return Err(unknown_member(&identity.scim_id)),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    // ---- the admin API's view of links ---------------------------------------------------

    /// One page of this type's identity links (oldest first) and how many there are.
    pub async fn links(&self, offset: u64, limit: u64) -> Result<(Vec<Identity>, u64)> {
        Ok(self.gw.links.page(self.scope(), offset, limit).await?)
    }

    /// One link, as the store holds it.
    pub async fn link(&self, id: &str) -> Result<Identity> {
        self.gw
            .links
            .get(self.scope(), id)
            .await?
            .ok_or_else(|| not_found(self.type_id(), id).into())
    }

    /// The links answering to an IdP's `externalId`.
    pub async fn links_by_external_id(&self, external_id: &str) -> Result<Vec<Identity>> {
        Ok(self
            .gw
            .links
            .find_by_external_id(self.scope(), external_id)
            .await?)
    }

    /// Re-links: the identity answers to another `externalId` (the IdP's id of the person
    /// changed, or an account is handed to another IdP identity); `None` clears it. The
    /// platform is not touched. One IdP identity, one account: an `externalId` another link
    /// answers to is refused.
    pub async fn relink(&self, id: &str, external_id: Option<String>) -> Result<Identity> {
        let _lock = self.lock_for_write(id).await?;
        let mut identity = self.link(id).await?;
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
    pub async fn unlink(&self, id: &str) -> Result<()> {
        let _lock = self.lock_for_write(id).await?;
        let identity = self.link(id).await?;
        self.drop_link(&identity).await
    }

    /// Gives a link a new SCIM id, keeping what the IdP wrote (the old id is gone for the IdP,
    /// the platform object stays and answers as the same person under the new id); forgets
    /// everything cached of the old id. Answers the new id.
    pub(super) async fn retire_link(&self, identity: &Identity) -> Result<String> {
        let new_id = uuid::Uuid::new_v4().to_string();
        if !self
            .gw
            .links
            .rekey(self.scope(), &identity.scim_id, &new_id)
            .await?
        {
            return Err(not_found(self.type_id(), &identity.scim_id).into());
        }
        self.forget_kept(identity).await;
        Ok(new_id)
    }

    /// Forgets what the cache holds of a link whose platform object stays: not marked
    /// deleted, the object may be linked again.
    pub(super) async fn forget_kept(&self, identity: &Identity) {
        self.gw
            .cache
            .forget_change(&Change {
                tenant: self.gw.tenant.clone(),
                resource_type: self.type_id().to_owned(),
                scim_id: identity.scim_id.clone(),
                backend_key: identity.backend_key.clone(),
                deleted: false,
            })
            .await;
        self.forget_name(identity).await;
    }

    /// Drops a link whose platform object stays (and may be linked again under a new SCIM id),
    /// and everything cached of it.
    pub(super) async fn drop_link(&self, identity: &Identity) -> Result<()> {
        self.gw
            .links
            .delete(self.scope(), &identity.scim_id)
            .await?;
        self.forget_kept(identity).await;
        Ok(())
    }
}

/// A member id that names no user the gateway may show.
fn unknown_member(id: &str) -> ServiceError {
    ServiceError::Scim(ScimError::bad_request(
        ScimType::InvalidValue,
        format!("member {id} is not a known User"),
    ))
}

/// Whether members are joining or leaving a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MemberMove {
    /// Joining: each must be a user the gateway knows.
    Joining,
    /// Leaving: one whose account is gone has left already.
    Leaving,
}

/// Whether the caller holds the resource's write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Locked {
    /// A write: it holds the lock.
    Yes,
    /// A read: a retirement takes the lock first.
    No,
}

/// What stands behind a link.
enum Linked {
    /// The account it names.
    Found(Arc<Value>),
    /// Nothing it may be shown as.
    Retire(Retirement),
}

/// Why a link no longer names its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retirement {
    /// The platform has nothing under the key.
    Gone,
    /// The account under the key is one the mapping excludes.
    Excluded,
    /// The account under the key is another (its proof differs).
    AnotherAccount,
}

/// The SCIM ids of a resource's `members`; members that are groups are refused (the platforms
/// served have no nested groups).
pub(super) fn member_ids(resource: &Value) -> Result<Vec<String>> {
    let Some(members) = resource.get("members").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut ids = Vec::with_capacity(members.len());
    let mut seen = HashSet::with_capacity(members.len());
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
pub(super) fn id_delta(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let old: HashSet<&String> = before.iter().collect();
    let new: HashSet<&String> = after.iter().collect();
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

pub(super) fn external_id_of(resource: &Value) -> Option<String> {
    resource
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The resource without `id`, `meta` or `schemas` (those are the gateway's to compute).
pub(super) fn strip_common(mut resource: Value) -> Value {
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
pub(super) fn shadow_of(resource: &Value) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_deltas_keep_order_and_refuse_groups() {
        let before = ["a", "b", "c"].map(str::to_owned);
        let after = ["c", "d", "a"].map(str::to_owned);
        assert_eq!(
            id_delta(&before, &after),
            (vec!["d".to_owned()], vec!["b".to_owned()])
        );
        let group = json!({"members": [{"value": "g1", "type": "Group"}]});
        assert!(member_ids(&group).is_err());
        let twice = json!({"members": [{"value": "u1"}, {"value": "u1"}, {"value": "u2"}]});
        assert_eq!(member_ids(&twice).unwrap(), ["u1", "u2"]);
        assert!(member_ids(&json!({"members": [{"display": "x"}]})).is_err());
    }

    #[test]
    fn the_store_never_keeps_a_password_or_who_is_a_member() {
        let written = json!({
            "id": "1", "meta": {}, "schemas": [], "userName": "bjensen",
            "password": "t1meMa$heen",
            "members": [{"value": "u1", "display": "Babs"}, {"value": "u2"}]
        });
        assert_eq!(
            shadow_of(&written),
            json!({"userName": "bjensen", "members": [{"value": "u1", "display": "Babs"}]})
        );
    }
}
