//! Tenants (SCIM configurations) at run time: each has its own SCIM URL (`/scim/v2/{tenant}`),
//! its own tokens, links and audit log, and fronts one of the backends the config file names.
//!
//! Tenant records live in the store, so every replica sees the same ones; each replica keeps
//! them in a small cache that a change through any replica clears at once (the store's change
//! feed), and builds one [`Gateway`] per tenant when the tenant is first used. The tenant
//! `default` fronts the config's `[backend]` and answers at the bare `/scim/v2`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::backend::BackendClient;
use crate::cache::LookupCache;
use crate::config::{check_name, ScimConfig, DEFAULT_BACKEND};
use crate::mapping::Mapping;
use crate::scim::schema::Registry;
use crate::scim::{ScimError, ScimType};
use crate::service::{now, record_admin_action, Gateway, Kind, ServiceError};
use crate::store::{IdentityStore, Scope, StoreError, TenantRecord};

/// The tenant answering at the bare SCIM base path, fronting `[backend]`.
pub const DEFAULT_TENANT: &str = "default";

/// The longest token lifetime a policy may set (100 years).
const MAX_POLICY_DAYS: u32 = 36_500;

/// One backend of the config, ready to call: a platform client and its compiled mapping.
pub struct Platform {
    pub name: String,
    pub mapping: Arc<Mapping>,
    pub client: BackendClient,
    /// Values the mapping reads as `settings.<name>`.
    pub settings: Value,
}

/// What an admin asks a new tenant to be.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub id: String,
    pub name: Option<String>,
    pub backend: Option<String>,
    pub enabled: bool,
    pub max_token_lifetime_days: Option<u32>,
}

/// What an admin changes of a tenant; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantChange {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub backend: Option<String>,
    /// `Some(None)` removes the limit.
    pub max_token_lifetime_days: Option<Option<u32>>,
}

/// Every tenant's gateway, over the shared store, cache and platform clients.
pub struct Tenants {
    platforms: BTreeMap<String, Arc<Platform>>,
    store: Arc<dyn IdentityStore>,
    cache: LookupCache,
    registry: Arc<Registry>,
    limits: ScimConfig,
    /// Tenant records by id (`None`: no such tenant), cleared by every change of a tenant.
    records: moka::future::Cache<String, Option<Arc<TenantRecord>>>,
    /// One gateway per tenant, with the backend it was built for.
    gateways: Mutex<HashMap<String, (String, Arc<Gateway>)>>,
}

impl Tenants {
    pub fn new(
        platforms: Vec<Platform>,
        store: Arc<dyn IdentityStore>,
        cache: LookupCache,
        registry: Arc<Registry>,
        limits: ScimConfig,
    ) -> Tenants {
        Tenants {
            platforms: platforms
                .into_iter()
                .map(|p| (p.name.clone(), Arc::new(p)))
                .collect(),
            store,
            cache,
            registry,
            limits,
            // A replica that missed a change notice (its listener reconnecting) catches up
            // within this time.
            records: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(30))
                .build(),
            gateways: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Arc<dyn IdentityStore> {
        &self.store
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn limits(&self) -> &ScimConfig {
        &self.limits
    }

    /// The backends of the config, by name.
    pub fn platforms(&self) -> impl Iterator<Item = &Arc<Platform>> {
        self.platforms.values()
    }

    /// Makes the `default` tenant when the config has a `[backend]` and the store has no such
    /// tenant yet (first start, or an upgrade from a single-tenant store).
    pub async fn ensure_default(&self) -> Result<(), StoreError> {
        if !self.platforms.contains_key(DEFAULT_BACKEND) {
            return Ok(());
        }
        let now = now();
        let record = TenantRecord {
            id: DEFAULT_TENANT.to_owned(),
            name: "Default".to_owned(),
            enabled: true,
            backend: DEFAULT_BACKEND.to_owned(),
            max_token_lifetime_days: None,
            created: now,
            updated: now,
        };
        match self.store.insert_tenant(&record).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
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
            .filter(|t| !self.platforms.contains_key(&t.backend))
            .collect())
    }

    /// A tenant's record, from the cache when it holds it.
    pub async fn record(&self, id: &str) -> Result<Option<Arc<TenantRecord>>, StoreError> {
        if let Some(cached) = self.records.get(id).await {
            return Ok(cached);
        }
        let found = self.store.tenants(Some(id)).await?.into_iter().next();
        let found = found.map(Arc::new);
        self.records.insert(id.to_owned(), found.clone()).await;
        Ok(found)
    }

    /// A tenant's record, or 404.
    pub async fn existing(&self, id: &str) -> Result<Arc<TenantRecord>, ServiceError> {
        self.record(id)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("no tenant {id}")).into())
    }

    /// Drops what this replica remembers of a tenant (it changed, here or on another replica).
    pub async fn forget(&self, id: &str) {
        self.records.invalidate(id).await;
    }

    /// The gateway serving a tenant; `None` when the config has no backend of its name.
    pub fn gateway(&self, tenant: &TenantRecord) -> Option<Arc<Gateway>> {
        let platform = self.platforms.get(&tenant.backend)?;
        let mut gateways = match self.gateways.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((backend, gateway)) = gateways.get(&tenant.id) {
            if *backend == tenant.backend {
                return Some(gateway.clone());
            }
        }
        let gateway = Arc::new(Gateway {
            tenant: tenant.id.clone(),
            registry: self.registry.clone(),
            mapping: platform.mapping.clone(),
            backend: platform.client.clone(),
            store: self.store.clone(),
            cache: self.cache.clone(),
            settings: platform.settings.clone(),
            limits: self.limits.clone(),
            locks: Default::default(),
        });
        gateways.insert(tenant.id.clone(), (tenant.backend.clone(), gateway.clone()));
        Some(gateway)
    }

    /// The gateway of a tenant an admin names: 404 when there is no such tenant, 503 when its
    /// backend is not in the config.
    pub async fn gateway_for_admin(&self, id: &str) -> Result<Arc<Gateway>, ServiceError> {
        let record = self.existing(id).await?;
        self.gateway(&record)
            .ok_or_else(|| missing_backend(&record).into())
    }

    pub async fn list(&self) -> Result<Vec<TenantRecord>, ServiceError> {
        Ok(self.store.tenants(None).await?)
    }

    /// Makes a tenant (audited).
    pub async fn create(&self, new: NewTenant, actor: &str) -> Result<TenantRecord, ServiceError> {
        let result = self.create_unaudited(new.clone()).await;
        self.audit(actor, "tenant.create", &new.id, &result, String::new())
            .await;
        result
    }

    async fn create_unaudited(&self, new: NewTenant) -> Result<TenantRecord, ServiceError> {
        check_name(&new.id).map_err(|m| invalid(format!("tenant id `{}` {m}", new.id)))?;
        let backend = match new.backend {
            Some(b) => b,
            None if self.platforms.len() == 1 => {
                self.platforms.keys().next().cloned().unwrap_or_default()
            }
            None => {
                return Err(invalid(format!(
                    "name the backend the tenant fronts: one of {}",
                    self.backend_names()
                )))
            }
        };
        self.check_backend(&backend)?;
        check_lifetime(new.max_token_lifetime_days)?;
        let now = now();
        let record = TenantRecord {
            name: checked_name(new.name.unwrap_or_else(|| new.id.clone()))?,
            id: new.id,
            enabled: new.enabled,
            backend,
            max_token_lifetime_days: new.max_token_lifetime_days,
            created: now,
            updated: now,
        };
        match self.store.insert_tenant(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ScimError::new(
                    409,
                    Some(ScimType::Uniqueness),
                    format!("tenant {} exists already", record.id),
                )
                .into())
            }
            Err(e) => return Err(e.into()),
        }
        self.forget(&record.id).await;
        Ok(record)
    }

    /// Changes a tenant (audited). A backend change is refused while the tenant has identity
    /// links (they name the old platform's accounts). A shorter token lifetime shortens the
    /// tenant's tokens that would outlive it.
    pub async fn update(
        &self,
        id: &str,
        change: TenantChange,
        actor: &str,
    ) -> Result<TenantRecord, ServiceError> {
        let mut detail = String::new();
        let result = self.update_unaudited(id, change, &mut detail).await;
        self.audit(actor, "tenant.update", id, &result, detail)
            .await;
        result
    }

    async fn update_unaudited(
        &self,
        id: &str,
        change: TenantChange,
        detail: &mut String,
    ) -> Result<TenantRecord, ServiceError> {
        // From the store, not this replica's cache: the change is made on the latest record.
        let Some(mut record) = self.store.tenants(Some(id)).await?.into_iter().next() else {
            return Err(ScimError::not_found(format!("no tenant {id}")).into());
        };
        let mut said = Vec::new();
        if let Some(name) = change.name {
            record.name = checked_name(name)?;
        }
        if let Some(enabled) = change.enabled {
            if enabled != record.enabled {
                said.push(if enabled { "enabled" } else { "disabled" }.to_owned());
            }
            record.enabled = enabled;
        }
        if let Some(backend) = change.backend {
            if backend != record.backend {
                self.check_backend(&backend)?;
                let links = self.link_count(id).await?;
                if links > 0 {
                    return Err(ScimError::new(
                        409,
                        None,
                        format!(
                            "tenant {id} has {links} identity links to accounts of backend {}; delete them before moving it to {backend}",
                            record.backend
                        ),
                    )
                    .into());
                }
                said.push(format!("backend {} -> {backend}", record.backend));
                record.backend = backend;
            }
        }
        let mut shorten = None;
        if let Some(days) = change.max_token_lifetime_days {
            check_lifetime(days)?;
            if days != record.max_token_lifetime_days {
                said.push(format!(
                    "token lifetime {} -> {}",
                    lifetime_text(record.max_token_lifetime_days),
                    lifetime_text(days)
                ));
                shorten = days;
            }
            record.max_token_lifetime_days = days;
        }
        record.updated = now();
        match self.store.update_tenant(&record).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(ScimError::not_found(format!("no tenant {id}")).into())
            }
            Err(e) => return Err(e.into()),
        }
        self.forget(id).await;
        if let Some(days) = shorten {
            let latest = now() + time::Duration::days(i64::from(days));
            let mut shortened = 0;
            for mut token in self.store.tokens(id, None).await? {
                if token.revoked_at.is_none() && token.expires_at.is_none_or(|e| e > latest) {
                    token.expires_at = Some(latest);
                    self.store.put_token(&token).await?;
                    shortened += 1;
                }
            }
            if shortened > 0 {
                said.push(format!("{shortened} token(s) now expire within the limit"));
            }
        }
        *detail = said.join("; ");
        Ok(record)
    }

    /// Deletes a tenant and its tokens (audited). Refused for the config's `default` tenant
    /// and while the tenant has identity links: deleting them would lose which platform
    /// account each IdP identity is.
    pub async fn delete(&self, id: &str, actor: &str) -> Result<(), ServiceError> {
        let result = self.delete_unaudited(id).await;
        self.audit(actor, "tenant.delete", id, &result, String::new())
            .await;
        result
    }

    async fn delete_unaudited(&self, id: &str) -> Result<(), ServiceError> {
        self.existing(id).await?;
        if id == DEFAULT_TENANT && self.platforms.contains_key(DEFAULT_BACKEND) {
            return Err(ScimError::new(
                409,
                None,
                "the default tenant is the config's [backend]; disable it instead",
            )
            .into());
        }
        let links = self.link_count(id).await?;
        if links > 0 {
            return Err(ScimError::new(
                409,
                None,
                format!("tenant {id} has {links} identity links; delete them first (or disable the tenant)"),
            )
            .into());
        }
        if !self.store.delete_tenant(id).await? {
            return Err(ScimError::not_found(format!("no tenant {id}")).into());
        }
        self.forget(id).await;
        Ok(())
    }

    async fn link_count(&self, tenant: &str) -> Result<u64, StoreError> {
        let mut total = 0;
        for kind in [Kind::User, Kind::Group] {
            let scope = Scope {
                tenant,
                resource_type: kind.name(),
            };
            total += self.store.page(scope, 0, 0).await?.1;
        }
        Ok(total)
    }

    fn backend_names(&self) -> String {
        self.platforms
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn check_backend(&self, backend: &str) -> Result<(), ServiceError> {
        if self.platforms.contains_key(backend) {
            Ok(())
        } else {
            Err(invalid(format!(
                "the config has no backend {backend}; it has {}",
                self.backend_names()
            )))
        }
    }

    async fn audit<T>(
        &self,
        actor: &str,
        operation: &str,
        id: &str,
        result: &Result<T, ServiceError>,
        detail: String,
    ) {
        let outcome = match result {
            Ok(_) => Ok((200, detail)),
            Err(e) => Err(e),
        };
        record_admin_action(
            self.store.as_ref(),
            id,
            actor,
            operation,
            "Tenant",
            id,
            outcome,
        )
        .await;
    }
}

/// The SCIM error of a tenant whose backend the config does not (any longer) define.
pub fn missing_backend(tenant: &TenantRecord) -> ScimError {
    tracing::error!(
        tenant = %tenant.id,
        backend = %tenant.backend,
        "the tenant fronts a backend the config does not define"
    );
    ScimError::new(
        503,
        None,
        format!(
            "tenant {} fronts backend {}, which the gateway's config does not define",
            tenant.id, tenant.backend
        ),
    )
}

fn invalid(detail: String) -> ServiceError {
    ScimError::bad_request(ScimType::InvalidValue, detail).into()
}

fn checked_name(name: String) -> Result<String, ServiceError> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.len() > 200 {
        return Err(invalid("a tenant's name is 1 to 200 characters".to_owned()));
    }
    Ok(name)
}

fn check_lifetime(days: Option<u32>) -> Result<(), ServiceError> {
    match days {
        Some(d) if d == 0 || d > MAX_POLICY_DAYS => Err(invalid(format!(
            "maxLifetimeDays must be 1 to {MAX_POLICY_DAYS}, not {d}"
        ))),
        _ => Ok(()),
    }
}

fn lifetime_text(days: Option<u32>) -> String {
    days.map_or_else(|| "unlimited".to_owned(), |d| format!("{d} days"))
}
