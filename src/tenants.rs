//! Tenants (SCIM configurations) at run time: each has its own SCIM URL (`/scim/v2/{tenant}`),
//! its own tokens, links and audit log, and fronts one of the backends the config file names.
//!
//! Tenant records live in the store, so every replica sees the same ones; each replica keeps
//! them in a small cache that a change through any replica clears at once (the store's change
//! feed), and builds one [`Gateway`] per tenant when the tenant is first used. The tenant
//! `default` fronts the config's `[backend]` and answers at the bare `/scim/v2`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use serde_json::Value;

use crate::backend::Platform;
use crate::cache::LookupCache;
use crate::clock::SharedClock;
use crate::config::{check_name, ScimConfig, DEFAULT_BACKEND};
use crate::mapping::Mapping;
use crate::scim::schema::Registry;
use crate::scim::{ErrorKind, ScimError, ScimType};
use crate::service::{record_admin_action, Gateway, Kind, ServiceError};
use crate::store::{Scope, Store, StoreError, TenantRecord, TokenRecord, TokenWrite};

/// The tenant answering at the bare SCIM base path, fronting `[backend]`.
pub const DEFAULT_TENANT: &str = "default";

/// The longest token lifetime a policy may set (100 years).
const MAX_POLICY_DAYS: u32 = 36_500;

/// One backend of the config, ready to call: a platform client and its compiled mapping.
pub struct Backend {
    /// Its name in the config (`default` for `[backend]`).
    pub name: String,
    /// The compiled mapping file.
    pub mapping: Arc<Mapping>,
    /// The platform's client.
    pub platform: Arc<dyn Platform>,
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
    platforms: BTreeMap<String, Arc<Backend>>,
    store: Arc<dyn Store>,
    cache: LookupCache,
    registry: Arc<Registry>,
    limits: ScimConfig,
    clock: SharedClock,
    /// Tenant records by id (`None`: no such tenant), cleared by every change of a tenant.
    records: moka::future::Cache<String, Option<Arc<TenantRecord>>>,
    /// Counts the changes forgotten, so a record read before a change is not cached after it.
    generation: AtomicU64,
    /// One gateway per tenant, with the backend it was built for.
    gateways: Mutex<HashMap<String, (String, Arc<Gateway>)>>,
}

impl Tenants {
    pub fn new(
        platforms: Vec<Backend>,
        store: Arc<dyn Store>,
        cache: LookupCache,
        registry: Arc<Registry>,
        limits: ScimConfig,
        clock: SharedClock,
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

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn limits(&self) -> &ScimConfig {
        &self.limits
    }

    /// The gateway's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The backends of the config, by name.
    pub fn platforms(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.platforms.values()
    }

    /// Makes the `default` tenant when the config has a `[backend]` and the store has no such
    /// tenant yet (first start, or an upgrade from a single-tenant store).
    pub async fn ensure_default(&self) -> Result<(), StoreError> {
        if !self.platforms.contains_key(DEFAULT_BACKEND) {
            return Ok(());
        }
        let now = self.clock.now();
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
            .filter(|t| !self.platforms.contains_key(&t.backend))
            .collect())
    }

    /// A tenant's record, from the cache when it holds it.
    pub async fn record(&self, id: &str) -> Result<Option<Arc<TenantRecord>>, StoreError> {
        if let Some(cached) = self.records.get(id).await {
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

    /// A tenant's record, or 404.
    pub async fn existing(&self, id: &str) -> Result<Arc<TenantRecord>, ServiceError> {
        self.record(id)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("no tenant {id}")).into())
    }

    /// A tenant's record read from the store (not this replica's cache), or 404: for admin
    /// actions that depend on its latest settings (the token policy).
    pub async fn fresh(&self, id: &str) -> Result<TenantRecord, ServiceError> {
        self.store
            .tenants(Some(id))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ScimError::not_found(format!("no tenant {id}")).into())
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
                .is_some_and(|(built_for, _)| deleted || built_for != backend);
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
    fn gateways(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Arc<Gateway>)>> {
        match self.gateways.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The gateway serving a tenant; `None` when the config has no backend of its name.
    pub fn gateway(&self, tenant: &TenantRecord) -> Option<Arc<Gateway>> {
        let platform = self.platforms.get(&tenant.backend)?;
        let mut gateways = self.gateways();
        if let Some((backend, gateway)) = gateways.get(&tenant.id) {
            if *backend == tenant.backend {
                return Some(gateway.clone());
            }
            // Moved (a notice this replica missed): nothing of the old platform stays.
            self.cache.forget_tenant(&tenant.id);
        }
        let gateway = Arc::new(Gateway {
            tenant: tenant.id.clone(),
            registry: self.registry.clone(),
            mapping: platform.mapping.clone(),
            platform: platform.platform.clone(),
            store: self.store.clone(),
            cache: self.cache.clone(),
            settings: platform.settings.clone(),
            limits: self.limits.clone(),
            clock: self.clock.clone(),
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
        let id = new.id.clone();
        let result = self.create_unaudited(new).await;
        // A refused id is not a tenant: its log would be unreadable (and the id unbounded).
        if check_name(&id).is_ok() {
            self.audit(actor, "tenant.create", &id, &result, 201, String::new())
                .await;
        }
        result
    }

    async fn create_unaudited(&self, new: NewTenant) -> Result<TenantRecord, ServiceError> {
        check_name(&new.id).map_err(|m| invalid(format!("tenant id `{}` {m}", new.id)))?;
        check_lifetime(new.max_token_lifetime_days)?;
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
        self.check_backend_free(&backend, &new.id).await?;
        let now = self.clock.now();
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
                    ErrorKind::Conflict,
                    Some(ScimType::Uniqueness),
                    format!(
                        "tenant {} exists already, or another tenant fronts backend {}",
                        record.id, record.backend
                    ),
                )
                .into())
            }
            Err(e) => return Err(e.into()),
        }
        self.forget(&record.id, &record.backend, false).await;
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
        self.audit(actor, "tenant.update", id, &result, 200, detail)
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
        let mut record = self.fresh(id).await?;
        let mut said = Vec::new();
        if let Some(name) = change.name {
            let name = checked_name(name)?;
            if name != record.name {
                said.push(format!("name {:?} -> {name:?}", record.name));
            }
            record.name = name;
        }
        if let Some(enabled) = change.enabled {
            if enabled != record.enabled {
                said.push(if enabled { "enabled" } else { "disabled" }.to_owned());
            }
            record.enabled = enabled;
        }
        let mut moving = false;
        if let Some(backend) = change.backend {
            if backend != record.backend {
                if id == DEFAULT_TENANT {
                    return Err(ScimError::conflict("the default tenant fronts the config's [backend]; make another tenant for another backend",
                    )
                    .into());
                }
                self.check_backend(&backend)?;
                self.check_backend_free(&backend, id).await?;
                let links = self.link_count(id).await?;
                if links > 0 {
                    return Err(ScimError::conflict(format!(
                            "tenant {id} has {links} identity links to accounts of backend {}; delete them before moving it to {backend}",
                            record.backend
                        ),
                    )
                    .into());
                }
                said.push(format!("backend {} -> {backend}", record.backend));
                record.backend = backend;
                moving = true;
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
        let read_updated = record.updated;
        // Strictly later than the read, so that a second change within the millisecond still
        // tells the two apart.
        record.updated = self
            .clock
            .now()
            .max(read_updated + time::Duration::milliseconds(1));
        match self.store.update_tenant(&record, read_updated).await {
            Ok(()) => {}
            // Gone, changed by another admin since it was read, or (when moving) linked to an
            // identity since the count above.
            Err(StoreError::NotFound) => {
                return Err(
                    match self.store.tenants(Some(id)).await?.into_iter().next() {
                        None => ScimError::not_found(format!("no tenant {id}")),
                        Some(_) if moving => ScimError::conflict(format!(
                    "tenant {id} changed meanwhile or has identity links now; it stays where it is"
                )),
                        Some(_) => ScimError::conflict(format!(
                            "tenant {id} was changed meanwhile; read it and try again"
                        )),
                    }
                    .into(),
                )
            }
            Err(StoreError::Conflict(m)) => return Err(ScimError::conflict(m).into()),
            Err(e) => return Err(e.into()),
        }
        self.forget(id, &record.backend, false).await;
        *detail = said.join("; ");
        if let Some(days) = shorten {
            // Every token, not only those issued recently: none outlives the new limit from now.
            let latest = self.clock.now() + time::Duration::days(i64::from(days));
            let shortened = self.store.shorten_tokens(id, latest).await?;
            if shortened > 0 {
                said.push(format!("{shortened} token(s) now expire within the limit"));
            }
            *detail = said.join("; ");
        }
        Ok(record)
    }

    /// Deletes a tenant and its tokens (audited). Refused for the config's `default` tenant
    /// and while the tenant has identity links: deleting them would lose which platform
    /// account each IdP identity is.
    pub async fn delete(&self, id: &str, actor: &str) -> Result<(), ServiceError> {
        let result = self.delete_unaudited(id).await;
        self.audit(actor, "tenant.delete", id, &result, 204, String::new())
            .await;
        result
    }

    async fn delete_unaudited(&self, id: &str) -> Result<(), ServiceError> {
        self.existing(id).await?;
        if id == DEFAULT_TENANT && self.platforms.contains_key(DEFAULT_BACKEND) {
            return Err(ScimError::conflict(
                "the default tenant is the config's [backend]; disable it instead",
            )
            .into());
        }
        let has_links = |links: u64| {
            ServiceError::from(ScimError::conflict(format!(
                "tenant {id} has {links} identity links; delete them first (or disable the tenant)"
            )))
        };
        let links = self.link_count(id).await?;
        if links > 0 {
            return Err(has_links(links));
        }
        // The store deletes only a tenant without links, in the same statement.
        if !self.store.delete_tenant(id).await? {
            return match self.link_count(id).await? {
                0 => Err(ScimError::not_found(format!("no tenant {id}")).into()),
                links => Err(has_links(links)),
            };
        }
        self.forget(id, "", true).await;
        Ok(())
    }

    // ---- managed tokens ------------------------------------------------------------------

    pub async fn tokens(&self, tenant: &str) -> Result<Vec<TokenRecord>, ServiceError> {
        Ok(self.store.tokens(tenant, None).await?)
    }

    pub async fn token(&self, tenant: &str, id: &str) -> Result<TokenRecord, ServiceError> {
        self.store
            .tokens(tenant, Some(id))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ScimError::not_found(format!("no token {id}")).into())
    }

    /// Makes a token of a tenant (audited); the secret is in the answer only. Without an
    /// expiry asked for, a tenant with a maximum lifetime gives the longest allowed.
    pub async fn create_token(
        &self,
        tenant: &TenantRecord,
        name: &str,
        expires_at: Option<OffsetDateTime>,
        actor: &str,
    ) -> Result<(TokenRecord, String), ServiceError> {
        let result = self.create_token_unaudited(tenant, name, expires_at).await;
        let target = match &result {
            Ok((record, _)) => record.id.clone(),
            // The refused name, bounded (it may be anything).
            Err(_) => name.chars().take(200).collect(),
        };
        self.audit_token(tenant, actor, "token.create", &target, &result, 201)
            .await;
        result
    }

    async fn create_token_unaudited(
        &self,
        tenant: &TenantRecord,
        name: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(TokenRecord, String), ServiceError> {
        let name = checked_token_name(name)?;
        let (mut record, secret) = crate::tokens::issue(&tenant.id, &name, None, self.clock.now());
        let days = tenant.max_token_lifetime_days;
        record.expires_at = expires_at.or(crate::tokens::latest_expiry(days, record.issued));
        match record.expires_at {
            Some(t) if t <= record.issued => {
                return Err(invalid("expiresAt is in the past".to_owned()))
            }
            _ => crate::tokens::check_expiry(record.expires_at, days, record.issued)
                .map_err(invalid)?,
        }
        self.store.put_token(&record).await?;
        Ok((record, secret))
    }

    /// Renames a token, changes its expiry, revokes it, or gives it a new secret (the old one
    /// stops working at once); audited. Answers the record and, when regenerated, the secret.
    pub async fn change_token(
        &self,
        tenant: &TenantRecord,
        id: &str,
        change: TokenChange,
        actor: &str,
    ) -> Result<(TokenRecord, Option<String>), ServiceError> {
        let operation = match change {
            TokenChange::Update { .. } => "token.update",
            TokenChange::Revoke => "token.revoke",
            TokenChange::Regenerate => "token.regenerate",
        };
        let result = self.change_token_unaudited(tenant, id, change).await;
        self.audit_token(tenant, actor, operation, id, &result, 200)
            .await;
        result
    }

    async fn change_token_unaudited(
        &self,
        tenant: &TenantRecord,
        id: &str,
        change: TokenChange,
    ) -> Result<(TokenRecord, Option<String>), ServiceError> {
        let record = self.token(&tenant.id, id).await?;
        let days = tenant.max_token_lifetime_days;
        // Each change is written alone: concurrent changes of one token never undo each other.
        let mut writes = Vec::new();
        let mut secret = None;
        match change {
            TokenChange::Update { name, expires_at } => {
                if let Some(name) = name {
                    writes.push(TokenWrite::Name(checked_token_name(&name)?));
                }
                if let Some(expires_at) = expires_at {
                    match (expires_at, record.expires_at) {
                        // Shortening is always allowed (a lowered limit may have set an expiry
                        // beyond what the limit allows from the secret's issue), written only
                        // while the stored expiry is still that late.
                        (Some(new), Some(old)) if new <= old => {
                            writes.push(TokenWrite::ShortenTo(new))
                        }
                        _ => {
                            crate::tokens::check_expiry(expires_at, days, record.issued)
                                .map_err(invalid)?;
                            writes.push(TokenWrite::Expiry(expires_at));
                        }
                    }
                }
            }
            TokenChange::Revoke => writes.push(TokenWrite::Revoke(self.clock.now())),
            TokenChange::Regenerate => {
                let mut renewed = record.clone();
                secret = Some(crate::tokens::regenerate(&mut renewed, self.clock.now()));
                writes.push(TokenWrite::Secret {
                    hash: renewed.hash,
                    issued: renewed.issued,
                });
                // Under a lifetime limit, each new secret gets the whole lifetime; without
                // one, the expiry stays as it is.
                if let Some(latest) = crate::tokens::latest_expiry(days, renewed.issued) {
                    writes.push(TokenWrite::Expiry(Some(latest)));
                }
            }
        }
        for write in &writes {
            if !self.store.write_token(&tenant.id, id, write).await? {
                let gone = self.store.tokens(&tenant.id, Some(id)).await?.is_empty();
                return Err(match write {
                    _ if gone => ScimError::not_found(format!("no token {id}")),
                    TokenWrite::Secret { .. } => {
                        ScimError::conflict("a revoked token cannot be regenerated")
                    }
                    _ => ScimError::conflict("the token's expiry changed meanwhile (a lowered limit?); read it and try again",
                    ),
                }
                .into());
            }
        }
        // What is stored now (a change made meanwhile included).
        let stored = self.token(&tenant.id, id).await?;
        Ok((stored, secret))
    }

    async fn audit_token<T>(
        &self,
        tenant: &TenantRecord,
        actor: &str,
        operation: &str,
        target: &str,
        result: &Result<T, ServiceError>,
        status: u16,
    ) {
        record_admin_action(
            self.store.as_ref(),
            self.clock.now(),
            &tenant.id,
            actor,
            operation,
            "Token",
            target,
            match result {
                Ok(_) => Ok((status, String::new())),
                Err(e) => Err(e),
            },
        )
        .await;
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

    /// A backend fronts one tenant: tenants on one platform would see each other's accounts
    /// (lists and filters read the platform).
    async fn check_backend_free(&self, backend: &str, tenant: &str) -> Result<(), ServiceError> {
        let taken_by = self
            .store
            .tenants(None)
            .await?
            .into_iter()
            .find(|t| t.backend == backend && t.id != tenant);
        match taken_by {
            Some(other) => Err(ScimError::new(
                    ErrorKind::Conflict,
                    Some(ScimType::Uniqueness),
                format!(
                    "backend {backend} is fronted by tenant {} already; a backend serves one tenant, so tenants never see each other's accounts",
                    other.id
                ),
            )
            .into()),
            None => Ok(()),
        }
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
        status: u16,
        detail: String,
    ) {
        let outcome = match result {
            Ok(_) => Ok((status, detail)),
            Err(e) => Err(e),
        };
        record_admin_action(
            self.store.as_ref(),
            self.clock.now(),
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

/// A change to a managed token.
#[derive(Debug, Clone)]
pub enum TokenChange {
    /// New name and/or expiry (`Some(None)` removes the expiry).
    Update {
        name: Option<String>,
        expires_at: Option<Option<OffsetDateTime>>,
    },
    Revoke,
    Regenerate,
}

fn checked_token_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(invalid("a token's name is 1 to 200 characters".to_owned()));
    }
    Ok(name.to_owned())
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
