//! Tenants (SCIM configurations) at run time: each has its own SCIM URL (`/scim/v2/{tenant}`),
//! its own tokens, links and audit log, and fronts one of the backends the config file names.
//!
//! Tenant records live in the store, so every replica sees the same ones; each replica keeps
//! them in a small cache that a change through any replica clears at once (the store's change
//! feed), and builds one [`Gateway`] per tenant when the tenant is first used. The tenant
//! `default` fronts the config's `[backend]` and answers at the bare `/scim/v2`. Making,
//! changing and deleting tenants is the admin API's (`crate::admin`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::backend::Platform;
use crate::cache::LookupCache;
use crate::clock::SharedClock;
use crate::config::{ScimConfig, DEFAULT_BACKEND};
use crate::mapping::Mapping;
use crate::scim::schema::Registry;
use crate::scim::ScimError;
use crate::service::Gateway;
use crate::store::{Store, StoreError, TenantRecord};

/// The tenant answering at the bare SCIM base path, fronting `[backend]`.
pub const DEFAULT_TENANT: &str = "default";

/// One backend of the config, ready to call: a platform client and its compiled mapping.
pub struct Backend {
    /// Its name in the config (`default` for `[backend]`).
    pub name: String,
    /// The compiled mapping file.
    pub mapping: Arc<Mapping>,
    /// The schemas as this backend serves them (the mapping's mutability overrides).
    pub registry: Arc<Registry>,
    /// The platform's client.
    pub platform: Arc<dyn Platform>,
    /// Values the mapping reads as `settings.<name>`.
    pub settings: Value,
}

/// A tenant's gateway and what it was built for: a change of either rebuilds it.
type Built = (String, Value, Arc<Gateway>);

/// Every tenant's gateway, over the shared store, cache and platform clients.
pub struct Tenants {
    backends: BTreeMap<String, Arc<Backend>>,
    store: Arc<dyn Store>,
    cache: LookupCache,
    limits: ScimConfig,
    clock: SharedClock,
    /// Tenant records by id (`None`: no such tenant), cleared by every change of a tenant.
    records: moka::future::Cache<String, Option<Arc<TenantRecord>>>,
    /// Counts the changes forgotten, so a record read before a change is not cached after it.
    generation: AtomicU64,
    /// One gateway per tenant, with what it was built for.
    gateways: Mutex<HashMap<String, Built>>,
}

impl Tenants {
    /// Every tenant over these backends, sharing one store, cache, registry, limits and
    /// clock; tenant records are read from the store when first needed.
    pub fn new(
        backends: Vec<Backend>,
        store: Arc<dyn Store>,
        cache: LookupCache,
        limits: ScimConfig,
        clock: SharedClock,
    ) -> Tenants {
        Tenants {
            backends: backends
                .into_iter()
                .map(|p| (p.name.clone(), Arc::new(p)))
                .collect(),
            store,
            cache,
            limits,
            clock,
            // A replica that missed a change notice (its listener reconnecting) catches up
            // within this time.
            records: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(30))
                .build(),
            generation: AtomicU64::new(0),
            gateways: Mutex::new(HashMap::new()),
        }
    }

    /// The store every tenant shares.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The gateway's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The backends of the config, by name.
    pub fn backends(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.backends.values()
    }

    /// Makes the `default` tenant when the config has a `[backend]` and the store has no such
    /// tenant yet (first start, or an upgrade from a single-tenant store).
    pub async fn ensure_default(&self) -> Result<(), StoreError> {
        if !self.backends.contains_key(DEFAULT_BACKEND) {
            return Ok(());
        }
        let now = self.clock.now();
        let record = TenantRecord {
            id: DEFAULT_TENANT.to_owned(),
            name: "Default".to_owned(),
            enabled: true,
            backend: DEFAULT_BACKEND.to_owned(),
            max_token_lifetime_days: None,
            dialect: crate::scim::Dialect::default(),
            bare_token: false,
            deprovision: crate::store::Deprovision::Delete,
            reactivate: false,
            extensions: Value::Array(Vec::new()),
            created: now,
            updated: now,
        };
        match self.store.insert_tenant(&record).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => {
                if self.store.tenants(Some(DEFAULT_TENANT)).await?.is_empty() {
                    tracing::warn!(
                        "another tenant fronts the backend `default`, so there is no default tenant at the bare SCIM base path"
                    );
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The tenants whose backend the config does not define (they answer 503 until it does).
    pub async fn orphans(&self) -> Result<Vec<TenantRecord>, StoreError> {
        Ok(self
            .store
            .tenants(None)
            .await?
            .into_iter()
            .filter(|t| !self.backends.contains_key(&t.backend))
            .collect())
    }

    /// A tenant's record, from the cache when it holds it.
    pub async fn record(&self, id: &str) -> Result<Option<Arc<TenantRecord>>, StoreError> {
        let cached = self.records.get(id).await;
        crate::metrics::metrics().cache_lookup("tenant", cached.is_some());
        if let Some(cached) = cached {
            return Ok(cached);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let found = self.store.tenants(Some(id)).await?.into_iter().next();
        let found = found.map(Arc::new);
        // A change forgotten while the store was read (or while the record was cached) may be
        // newer than what was read: then the record is not kept.
        if self.generation.load(Ordering::Acquire) == generation {
            self.records.insert(id.to_owned(), found.clone()).await;
            if self.generation.load(Ordering::Acquire) != generation {
                self.records.invalidate(id).await;
            }
        }
        Ok(found)
    }

    /// A tenant's record read from the store (not this replica's cache): for changes that
    /// depend on its latest settings (the token policy).
    pub async fn fresh(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        Ok(self.store.tenants(Some(id)).await?.into_iter().next())
    }

    /// Drops what this replica remembers of a tenant that changed, here or on another replica
    /// (`backend`: the one it fronts now). When it went, or moved to another backend, its
    /// gateway goes and nothing cached of the old platform stays.
    pub async fn forget(&self, id: &str, backend: &str, deleted: bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.records.invalidate(id).await;
        let moved = {
            let mut gateways = self.gateways();
            let moved = gateways
                .get(id)
                .is_some_and(|(built_for, _, _)| deleted || built_for != backend);
            if moved {
                gateways.remove(id);
            }
            moved
        };
        if moved {
            self.cache.forget_tenant(id);
        }
    }

    /// The gateways by tenant (a panic elsewhere while holding them leaves them usable: the
    /// map is never left half-changed).
    fn gateways(&self) -> std::sync::MutexGuard<'_, HashMap<String, Built>> {
        match self.gateways.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The gateway serving a tenant; `None` when the config has no backend of its name.
    pub fn gateway(&self, tenant: &TenantRecord) -> Option<Arc<Gateway>> {
        let backend = self.backends.get(&tenant.backend)?;
        let mut gateways = self.gateways();
        if let Some((built_for, extensions, gateway)) = gateways.get(&tenant.id) {
            match (
                *built_for == tenant.backend,
                *extensions == tenant.extensions,
            ) {
                (true, true) => return Some(gateway.clone()),
                // Other extension schemas: the same platform, another registry.
                (true, false) => {}
                // Moved (a notice this replica missed): nothing of the old platform stays.
                (false, _) => self.cache.forget_tenant(&tenant.id),
            }
        }
        let registry = match declared(tenant, &backend.registry) {
            Some(declared) => Arc::new(backend.registry.with_declared(&declared)),
            None => backend.registry.clone(),
        };
        let gateway = Arc::new(Gateway {
            tenant: tenant.id.clone(),
            registry,
            mapping: backend.mapping.clone(),
            platform: backend.platform.clone(),
            links: self.store.clone(),
            intents: self.store.clone(),
            replicas: self.store.clone(),
            cache: self.cache.clone(),
            settings: backend.settings.clone(),
            limits: self.limits.clone(),
            clock: self.clock.clone(),
            locks: Default::default(),
            create_locks: Default::default(),
        });
        gateways.insert(
            tenant.id.clone(),
            (
                tenant.backend.clone(),
                tenant.extensions.clone(),
                gateway.clone(),
            ),
        );
        Some(gateway)
    }

    /// The names of the backends of the config.
    pub fn backend_names(&self) -> Vec<&str> {
        self.backends.keys().map(String::as_str).collect()
    }

    /// Whether the config has a backend of this name.
    pub fn has_backend(&self, name: &str) -> bool {
        self.backends.contains_key(name)
    }
}

/// The extension schemas a tenant declares, read against its backend's registry; `None`
/// without any. Declarations were checked when an admin wrote them: one that no longer reads
/// (the backend's schemas changed) is left out, with an error in the log.
fn declared(
    tenant: &TenantRecord,
    registry: &Registry,
) -> Option<Vec<crate::scim::declared::Declared>> {
    if tenant.extensions.as_array().is_none_or(Vec::is_empty) {
        return None;
    }
    match crate::scim::declared::parse_declared(&tenant.extensions, registry) {
        Ok(declared) => Some(declared),
        Err(e) => {
            tracing::error!(tenant = %tenant.id, error = %e, "the tenant's extension schemas are left out");
            None
        }
    }
}

/// The SCIM error of a tenant whose backend the config does not (any longer) define.
pub fn missing_backend(tenant: &TenantRecord) -> ScimError {
    tracing::error!(
        tenant = %tenant.id,
        backend = %tenant.backend,
        "the tenant fronts a backend the config does not define"
    );
    ScimError::unavailable(format!(
        "tenant {} fronts backend {}, which the gateway's config does not define",
        tenant.id, tenant.backend
    ))
}
