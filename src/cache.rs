//! Lookup cache (moka): platform objects by key, identity links by SCIM id (and platform key)
//! and `userName` → SCIM id, per tenant, with a TTL. Every write through the gateway refreshes
//! or invalidates the entries it touches; the TTL bounds how long a change made on the platform
//! directly can stay unseen. Platform keys deleted through the gateway are remembered for a
//! while so that a list read before the delete cannot link them again. A tenant's groups,
//! indexed by member, are read once for every user (`[users.groups] from = "groups.list"`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use moka::future::Cache;
use serde_json::Value;

use crate::config::CacheConfig;
use crate::store::Identity;

/// The lookup cache of every tenant; clones share the same entries.
#[derive(Clone)]
pub struct LookupCache {
    objects: Cache<String, Arc<Value>>,
    names: Cache<String, String>,
    identities: Cache<String, Arc<Identity>>,
    /// Platform key → SCIM id of the links in `identities` (a hit counts only while the link
    /// cached under that id still names the key).
    keys: Cache<String, String>,
    /// Keys deleted through the gateway, with the deleted account's proof when known.
    deleted: Cache<String, Option<String>>,
    groups_of: Cache<String, Arc<Vec<Value>>>,
    /// Each tenant's groups by member.
    member_index: Cache<String, Arc<MemberIndex>>,
    /// Counts group writes, so an index read before one is never kept after it.
    group_writes: Arc<AtomicU64>,
    /// Entries live long enough to be read again (`cache.ttl_secs` above zero).
    keeps_entries: bool,
}

fn object_key(tenant: &str, resource_type: &str, backend_key: &str) -> String {
    format!("{tenant}\u{1f}{resource_type}\u{1f}{backend_key}")
}

fn name_key(tenant: &str, resource_type: &str, name: &str) -> String {
    // userName is case-insensitive (RFC 7643 §4.1.1).
    format!("{tenant}\u{1f}{resource_type}\u{1f}{}", name.to_lowercase())
}

impl LookupCache {
    /// Empty caches of `cache.max_entries` entries each, kept for `cache.ttl_secs` (marks of
    /// deleted keys: more entries, kept at least five minutes).
    pub fn new(config: &CacheConfig) -> LookupCache {
        LookupCache {
            objects: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .support_invalidation_closures()
                .build(),
            names: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .support_invalidation_closures()
                .build(),
            identities: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .support_invalidation_closures()
                .build(),
            keys: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .support_invalidation_closures()
                .build(),
            groups_of: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .support_invalidation_closures()
                .build(),
            member_index: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .support_invalidation_closures()
                .build(),
            group_writes: Arc::new(AtomicU64::new(0)),
            keeps_entries: !config.ttl.is_zero() && config.max_entries > 0,
            // Independent of the lookup TTL: long enough for any list in flight to finish.
            // At least twice the lookup TTL, so no cached list can outlive the mark.
            deleted: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(300).max(config.ttl * 2))
                .support_invalidation_closures()
                .build(),
        }
    }

    /// Whether what is put in the cache can be read back (false with `ttl_secs = 0`): work done
    /// only to fill the cache is then skipped.
    pub fn keeps_entries(&self) -> bool {
        self.keeps_entries
    }

    /// The cached platform object of type `rt` with platform key `key`, while fresh.
    pub async fn object(&self, tenant: &str, rt: &str, key: &str) -> Option<Arc<Value>> {
        counted(
            "object",
            self.objects.get(&object_key(tenant, rt, key)).await,
        )
    }

    /// Caches a platform object under its platform key.
    pub async fn put_object(&self, tenant: &str, rt: &str, key: &str, object: Arc<Value>) {
        self.objects
            .insert(object_key(tenant, rt, key), object)
            .await;
    }

    /// Drops the cached platform object of a platform key.
    pub async fn forget_object(&self, tenant: &str, rt: &str, key: &str) {
        self.objects.invalidate(&object_key(tenant, rt, key)).await;
    }

    /// The cached identity link of a SCIM id, while fresh.
    pub async fn identity(&self, tenant: &str, rt: &str, scim_id: &str) -> Option<Arc<Identity>> {
        counted(
            "identity",
            self.identities.get(&object_key(tenant, rt, scim_id)).await,
        )
    }

    /// Caches an identity link under its SCIM id (and its platform key).
    pub async fn put_identity(&self, tenant: &str, rt: &str, identity: Identity) {
        self.keys
            .insert(
                object_key(tenant, rt, &identity.backend_key),
                identity.scim_id.clone(),
            )
            .await;
        let key = object_key(tenant, rt, &identity.scim_id);
        self.identities.insert(key, Arc::new(identity)).await;
    }

    /// The cached identity link of a platform key, while fresh.
    pub async fn identity_by_key(
        &self,
        tenant: &str,
        rt: &str,
        backend_key: &str,
    ) -> Option<Arc<Identity>> {
        let scim_id = counted(
            "key",
            self.keys.get(&object_key(tenant, rt, backend_key)).await,
        )?;
        let identity = self.identity(tenant, rt, &scim_id).await?;
        // The link may have moved to another key since (a rename on key-by-name platforms).
        (identity.backend_key == backend_key).then_some(identity)
    }

    /// Forgets a link and remembers its platform key as deleted.
    pub async fn forget_identity(&self, tenant: &str, rt: &str, identity: &Identity) {
        self.identities
            .invalidate(&object_key(tenant, rt, &identity.scim_id))
            .await;
        self.keys
            .invalidate(&object_key(tenant, rt, &identity.backend_key))
            .await;
        self.deleted
            .insert(
                object_key(tenant, rt, &identity.backend_key),
                identity.proof.clone(),
            )
            .await;
    }

    /// A key linked again (platforms that reuse keys, such as names) is no longer "deleted".
    pub async fn clear_deleted(&self, tenant: &str, rt: &str, backend_key: &str) {
        self.deleted
            .invalidate(&object_key(tenant, rt, backend_key))
            .await;
    }

    /// Whether a platform key was deleted through the gateway recently.
    pub fn was_deleted(&self, tenant: &str, rt: &str, backend_key: &str) -> bool {
        self.deleted
            .contains_key(&object_key(tenant, rt, backend_key))
    }

    /// The proof of the account deleted under a key recently: `None` when none was deleted,
    /// `Some(None)` when its proof is not known.
    pub async fn deleted_proof(
        &self,
        tenant: &str,
        rt: &str,
        backend_key: &str,
    ) -> Option<Option<String>> {
        self.deleted.get(&object_key(tenant, rt, backend_key)).await
    }

    /// The platform group objects a user (by platform key) belongs to.
    pub async fn groups_of(&self, tenant: &str, user_key: &str) -> Option<Arc<Vec<Value>>> {
        counted(
            "groups_of",
            self.groups_of
                .get(&object_key(tenant, "User", user_key))
                .await,
        )
    }

    /// Caches the platform group objects a user (by platform key) belongs to.
    pub async fn put_groups_of(&self, tenant: &str, user_key: &str, groups: Arc<Vec<Value>>) {
        self.groups_of
            .insert(object_key(tenant, "User", user_key), groups)
            .await;
    }

    /// Drops everything cached about a link another process (or this one) changed in a
    /// shared store.
    pub async fn forget_change(&self, change: &crate::store::Change) {
        let (tenant, rt) = (change.tenant.as_str(), change.resource_type.as_str());
        self.identities
            .invalidate(&object_key(tenant, rt, &change.scim_id))
            .await;
        self.objects
            .invalidate(&object_key(tenant, rt, &change.backend_key))
            .await;
        self.keys
            .invalidate(&object_key(tenant, rt, &change.backend_key))
            .await;
        if change.deleted {
            self.deleted
                .insert(object_key(tenant, rt, &change.backend_key), None)
                .await;
        }
        // A rename elsewhere leaves an old name pointing here; names are cheap to look up again.
        self.names.invalidate_all();
        if rt == "Group" {
            self.forget_all_groups_of();
        }
    }

    /// A tenant moved to another backend or went: nothing cached of it may outlive that
    /// (other tenants' entries, their deleted marks above all, stay).
    pub fn forget_tenant(&self, tenant: &str) {
        let prefix = format!("{tenant}\u{1f}");
        fn drop_prefixed<V>(cache: &Cache<String, V>, prefix: &str)
        where
            V: Clone + Send + Sync + 'static,
        {
            let prefix = prefix.to_owned();
            if cache
                .invalidate_entries_if(move |key, _| key.starts_with(&prefix))
                .is_err()
            {
                cache.invalidate_all();
            }
        }
        drop_prefixed(&self.objects, &prefix);
        drop_prefixed(&self.names, &prefix);
        drop_prefixed(&self.identities, &prefix);
        drop_prefixed(&self.keys, &prefix);
        drop_prefixed(&self.deleted, &prefix);
        drop_prefixed(&self.groups_of, &prefix);
        self.group_writes.fetch_add(1, Ordering::AcqRel);
        drop_prefixed(&self.member_index, &prefix);
    }

    /// Any group write can change any user's groups.
    pub fn forget_all_groups_of(&self) {
        self.group_writes.fetch_add(1, Ordering::AcqRel);
        self.groups_of.invalidate_all();
        self.member_index.invalidate_all();
    }

    /// A tenant's groups by member: from the cache, else built by `build` (the groups and
    /// each one's member keys). Concurrent misses wait for one build. An index whose build
    /// began before a group write is not answered: it is built again, once; a second race
    /// with a write answers the second build (as any read concurrent with a write may).
    pub async fn member_index<E, F, Fut>(
        &self,
        tenant: &str,
        build: F,
    ) -> Result<Arc<MemberIndex>, Arc<E>>
    where
        E: Send + Sync + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<(Value, Vec<String>)>, E>>,
    {
        let built = |generation: u64, groups| Arc::new(MemberIndex::new(generation, groups));
        if !self.keeps_entries {
            return build().await.map(|g| built(0, g)).map_err(Arc::new);
        }
        // Keyed as every other entry of the tenant is prefixed, for `forget_tenant`.
        let key = format!("{tenant}\u{1f}");
        let mut attempts = 0;
        loop {
            attempts += 1;
            let generation = self.group_writes.load(Ordering::Acquire);
            let index = self
                .member_index
                .try_get_with(key.clone(), async {
                    build().await.map(|g| built(generation, g))
                })
                .await?;
            if attempts == 2 || index.generation == self.group_writes.load(Ordering::Acquire) {
                return Ok(index);
            }
            self.member_index.invalidate(&key).await;
        }
    }

    /// The SCIM id last seen with this name (`userName`, or a group's `displayName`),
    /// compared case-insensitively.
    pub async fn id_for_name(&self, tenant: &str, rt: &str, name: &str) -> Option<String> {
        counted("name", self.names.get(&name_key(tenant, rt, name)).await)
    }

    /// Remembers the SCIM id a name belongs to, so an `eq` filter on it skips listing.
    pub async fn put_name(&self, tenant: &str, rt: &str, name: &str, scim_id: &str) {
        self.names
            .insert(name_key(tenant, rt, name), scim_id.to_owned())
            .await;
    }

    /// Forgets the SCIM id of a name that may no longer hold (after a write or delete).
    pub async fn forget_name(&self, tenant: &str, rt: &str, name: &str) {
        self.names.invalidate(&name_key(tenant, rt, name)).await;
    }
}

/// A tenant's groups by the platform keys of their members.
#[derive(Debug)]
pub struct MemberIndex {
    /// The count of group writes when its build began.
    generation: u64,
    by_member: HashMap<String, Vec<Arc<Value>>>,
}

impl MemberIndex {
    fn new(generation: u64, groups: Vec<(Value, Vec<String>)>) -> MemberIndex {
        let mut by_member: HashMap<String, Vec<Arc<Value>>> = HashMap::new();
        for (group, members) in groups {
            let group = Arc::new(group);
            for member in members {
                let of_member = by_member.entry(member).or_default();
                // A member listed twice in one group is in it once.
                if !of_member.last().is_some_and(|g| Arc::ptr_eq(g, &group)) {
                    of_member.push(group.clone());
                }
            }
        }
        MemberIndex {
            generation,
            by_member,
        }
    }

    /// The platform group objects a user (by platform key) is a member of.
    pub fn groups_of(&self, user_key: &str) -> &[Arc<Value>] {
        self.by_member.get(user_key).map_or(&[], Vec::as_slice)
    }
}

/// A lookup's result, counted as a hit or a miss of `cache` in the metrics.
fn counted<T>(cache: &'static str, found: Option<T>) -> Option<T> {
    crate::metrics::metrics().cache_lookup(cache, found.is_some());
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(scim_id: &str, backend_key: &str) -> Identity {
        let now = time::OffsetDateTime::now_utc();
        Identity {
            scim_id: scim_id.to_owned(),
            backend_key: backend_key.to_owned(),
            external_id: None,
            shadow: Value::Null,
            platform: Value::Null,
            created: now,
            last_modified: now,
            proof: None,
        }
    }

    /// A link found by platform key is one that names that key now: after a rename moved the
    /// link, the old key (which the platform may give another person) finds nothing.
    #[tokio::test]
    async fn a_key_finds_only_the_link_that_names_it_now() {
        let cache = LookupCache::new(&CacheConfig {
            ttl: std::time::Duration::from_secs(60),
            max_entries: 100,
        });
        cache
            .put_identity("t", "User", identity("a", "alice"))
            .await;
        let hit = cache.identity_by_key("t", "User", "alice").await.unwrap();
        assert_eq!(hit.scim_id, "a");
        assert!(cache.identity_by_key("u", "User", "alice").await.is_none());
        assert!(cache.identity_by_key("t", "Group", "alice").await.is_none());
        cache
            .put_identity("t", "User", identity("a", "alice2"))
            .await;
        assert!(cache.identity_by_key("t", "User", "alice").await.is_none());
        assert_eq!(
            cache
                .identity_by_key("t", "User", "alice2")
                .await
                .unwrap()
                .scim_id,
            "a"
        );
        cache
            .forget_identity("t", "User", &identity("a", "alice2"))
            .await;
        assert!(cache.identity_by_key("t", "User", "alice2").await.is_none());
    }

    fn group(id: &str) -> Value {
        serde_json::json!({ "id": id })
    }

    fn ids(index: &MemberIndex, user: &str) -> Vec<String> {
        index
            .groups_of(user)
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Concurrent misses build a tenant's index once; a member listed twice is in the group
    /// once; a group write drops the index, and a build that began before a write is built
    /// again rather than kept.
    #[tokio::test]
    async fn the_member_index_is_built_once_and_never_kept_past_a_group_write() {
        use std::sync::atomic::AtomicUsize;
        let cache = LookupCache::new(&CacheConfig {
            ttl: std::time::Duration::from_secs(60),
            max_entries: 100,
        });
        let builds = AtomicUsize::new(0);
        let build = || async {
            builds.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok::<_, String>(vec![
                (
                    group("a"),
                    vec!["u1".to_owned(), "u2".to_owned(), "u1".to_owned()],
                ),
                (group("b"), vec!["u2".to_owned()]),
            ])
        };
        let (one, two) = tokio::join!(
            cache.member_index("t", build),
            cache.member_index("t", build)
        );
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        let (one, two) = (one.unwrap(), two.unwrap());
        assert!(Arc::ptr_eq(&one, &two));
        assert_eq!(ids(&one, "u1"), ["a"]);
        assert_eq!(ids(&one, "u2"), ["a", "b"]);
        assert!(ids(&one, "u3").is_empty());

        cache.member_index("t", build).await.unwrap();
        assert_eq!(builds.load(Ordering::SeqCst), 1, "a hit");
        cache.member_index("other", build).await.unwrap();
        assert_eq!(builds.load(Ordering::SeqCst), 2, "per tenant");

        cache.forget_all_groups_of();
        cache.member_index("t", build).await.unwrap();
        assert_eq!(builds.load(Ordering::SeqCst), 3, "dropped by a group write");

        // A write while the index is being built: that build is not answered.
        cache.forget_tenant("t");
        let racing = || async {
            let n = builds.fetch_add(1, Ordering::SeqCst);
            if n == 3 {
                cache.forget_all_groups_of();
            }
            Ok::<_, String>(vec![(group(&format!("g{n}")), vec!["u1".to_owned()])])
        };
        let index = cache.member_index("t", racing).await.unwrap();
        assert_eq!(ids(&index, "u1"), ["g4"]);
        let again = cache.member_index("t", racing).await.unwrap();
        assert_eq!(ids(&again, "u1"), ["g4"], "the second build is kept");
    }

    /// With the cache off every read builds the index, and a failed build is the read's error.
    #[tokio::test]
    async fn without_a_ttl_the_member_index_is_built_for_each_read() {
        let cache = LookupCache::new(&CacheConfig {
            ttl: std::time::Duration::ZERO,
            max_entries: 100,
        });
        let builds = std::sync::atomic::AtomicUsize::new(0);
        let build = || async {
            builds.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(vec![(group("a"), vec!["u1".to_owned()])])
        };
        cache.member_index("t", build).await.unwrap();
        cache.member_index("t", build).await.unwrap();
        assert_eq!(builds.load(Ordering::SeqCst), 2);
        let failed = cache
            .member_index("t", || async {
                Err::<Vec<(Value, Vec<String>)>, _>("down".to_owned())
            })
            .await;
        assert_eq!(*failed.unwrap_err(), "down");
    }
}
