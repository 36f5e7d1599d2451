//! Tenants made, changed and deleted by an admin. A backend fronts one tenant (tenants on one
//! platform would see each other's accounts); a tenant with identity links is neither moved to
//! another backend nor deleted (the links say which platform account each IdP identity is);
//! changes are optimistic (a change another admin made meanwhile is not undone); a shorter
//! token lifetime shortens the tenant's tokens that would outlive it.

use super::{no_tenant, Admin, AdminError, Result};
use crate::config::{check_name, DEFAULT_BACKEND};
use crate::scim::{Dialect, ResourceKind};
use crate::store::{Deprovision, Scope, StoreError, TenantRecord};
use crate::tenants::DEFAULT_TENANT;

/// The longest token lifetime a policy may set (100 years).
const MAX_POLICY_DAYS: u32 = 36_500;

/// What an admin asks a new tenant to be.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Its URL segment.
    pub id: String,
    /// Shown to admins; the id when not given.
    pub name: Option<String>,
    /// The backend it fronts; may be left out when the config has one backend only.
    pub backend: Option<String>,
    /// A disabled tenant refuses its callers.
    pub enabled: bool,
    /// The longest its managed tokens may live.
    pub max_token_lifetime_days: Option<u32>,
    /// How its IdP's requests are read; lenient when not given.
    pub dialect: Option<Dialect>,
    /// Whether tokens may come without the `Bearer` scheme (Okta's header mode).
    pub bare_token: bool,
    /// What a DELETE of a user does to its account (delete when not given).
    pub deprovision: Option<Deprovision>,
    /// Whether a POST matching a deactivated user reactivates it.
    pub reactivate: bool,
    /// Extension schemas it declares (`crate::scim::declared`); none when not given.
    pub extensions: Option<serde_json::Value>,
}

/// What an admin changes of a tenant; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantChange {
    /// A new name.
    pub name: Option<String>,
    /// Enable or disable it.
    pub enabled: Option<bool>,
    /// Move it to another backend (only without identity links).
    pub backend: Option<String>,
    /// `Some(None)` removes the limit.
    pub max_token_lifetime_days: Option<Option<u32>>,
    /// Read its IdP's requests strictly or leniently.
    pub dialect: Option<Dialect>,
    /// Accept tokens without the `Bearer` scheme, or stop accepting them.
    pub bare_token: Option<bool>,
    /// Another deprovisioning policy.
    pub deprovision: Option<Deprovision>,
    /// Reactivate deactivated users on POST, or answer 409.
    pub reactivate: Option<bool>,
    /// Other extension schemas (the whole list).
    pub extensions: Option<serde_json::Value>,
}

impl Admin {
    /// Every tenant, by id.
    pub async fn list_tenants(&self) -> Result<Vec<TenantRecord>> {
        Ok(self.store.tenants(None).await?)
    }

    /// Makes a tenant.
    pub async fn create_tenant(&self, new: NewTenant) -> Result<TenantRecord> {
        check_name(&new.id).map_err(|m| invalid(format!("tenant id `{}` {m}", new.id)))?;
        check_lifetime(new.max_token_lifetime_days)?;
        let backends = self.tenants.backend_names();
        let backend = match (new.backend, backends.as_slice()) {
            (Some(b), _) => b,
            (None, [only]) => (*only).to_owned(),
            (None, _) => {
                return Err(invalid(format!(
                    "name the backend the tenant fronts: one of {}",
                    backends.join(", ")
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
            dialect: new.dialect.unwrap_or_default(),
            bare_token: new.bare_token,
            deprovision: new.deprovision.unwrap_or_default(),
            reactivate: new.reactivate,
            extensions: new.extensions.unwrap_or_else(|| serde_json::json!([])),
            created: now,
            updated: now,
        };
        self.check_settings(&record)?;
        match self.store.insert_tenant(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(AdminError::Conflict(format!(
                    "tenant {} exists already, or another tenant fronts backend {}",
                    record.id, record.backend
                )))
            }
            Err(e) => return Err(e.into()),
        }
        self.tenants
            .forget(&record.id, &record.backend, false)
            .await;
        Ok(record)
    }

    /// Changes a tenant; the record and what changed (for the audit log).
    pub async fn update_tenant(
        &self,
        id: &str,
        change: TenantChange,
    ) -> Result<(TenantRecord, String)> {
        // From the store, not this replica's cache: the change is made on the latest record.
        let mut record = self.fresh_tenant(id).await?;
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
                    return Err(AdminError::Conflict(
                        "the default tenant fronts the config's [backend]; make another tenant for another backend".to_owned(),
                    ));
                }
                self.check_backend(&backend)?;
                self.check_backend_free(&backend, id).await?;
                let links = self.link_count(id).await?;
                if links > 0 {
                    return Err(AdminError::Conflict(format!(
                        "tenant {id} has {links} identity links to accounts of backend {}; delete them before moving it to {backend}",
                        record.backend
                    )));
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
        if let Some(dialect) = change.dialect {
            if dialect != record.dialect {
                said.push(format!(
                    "dialect {} -> {}",
                    record.dialect.as_str(),
                    dialect.as_str()
                ));
            }
            record.dialect = dialect;
        }
        if change.bare_token == Some(true) && id == DEFAULT_TENANT {
            return Err(invalid(
                "the default tenant takes its tokens as Authorization: Bearer <token> only; make another tenant for an IdP that sends the token alone".to_owned(),
            ));
        }
        if let Some(bare_token) = change.bare_token {
            if bare_token != record.bare_token {
                said.push(
                    if bare_token {
                        "tokens without Bearer accepted"
                    } else {
                        "tokens need Bearer"
                    }
                    .to_owned(),
                );
            }
            record.bare_token = bare_token;
        }
        if let Some(deprovision) = change.deprovision {
            if deprovision != record.deprovision {
                said.push(format!(
                    "deprovision {} -> {}",
                    record.deprovision.as_str(),
                    deprovision.as_str()
                ));
            }
            record.deprovision = deprovision;
        }
        if let Some(reactivate) = change.reactivate {
            if reactivate != record.reactivate {
                said.push(
                    if reactivate {
                        "deactivated users reactivated on POST"
                    } else {
                        "a POST of a deactivated user's name is a 409"
                    }
                    .to_owned(),
                );
            }
            record.reactivate = reactivate;
        }
        if let Some(extensions) = change.extensions {
            if extensions != record.extensions {
                said.push("extension schemas".to_owned());
            }
            record.extensions = extensions;
        }
        self.check_settings(&record)?;
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
                return Err(match self.tenants.fresh(id).await? {
                    None => no_tenant(id),
                    Some(_) if moving => AdminError::Conflict(format!(
                    "tenant {id} changed meanwhile or has identity links now; it stays where it is"
                )),
                    Some(_) => AdminError::Conflict(format!(
                        "tenant {id} was changed meanwhile; read it and try again"
                    )),
                })
            }
            Err(StoreError::Conflict(m)) => return Err(AdminError::Conflict(m)),
            Err(e) => return Err(e.into()),
        }
        self.tenants.forget(id, &record.backend, false).await;
        if let Some(days) = shorten {
            // Every token, not only those issued recently: none outlives the new limit from now.
            let latest = self.clock.now() + time::Duration::days(i64::from(days));
            let shortened = self.store.shorten_tokens(id, latest).await?;
            if shortened > 0 {
                said.push(format!("{shortened} token(s) now expire within the limit"));
            }
        }
        Ok((record, said.join("; ")))
    }

    /// Deletes a tenant and its tokens. Refused for the config's `default` tenant and while
    /// the tenant has identity links.
    pub async fn delete_tenant(&self, id: &str) -> Result<()> {
        self.tenant(id).await?;
        if id == DEFAULT_TENANT && self.tenants.has_backend(DEFAULT_BACKEND) {
            return Err(AdminError::Conflict(
                "the default tenant is the config's [backend]; disable it instead".to_owned(),
            ));
        }
        let has_links = |links: u64| {
            AdminError::Conflict(format!(
                "tenant {id} has {links} identity links; delete them first (or disable the tenant)"
            ))
        };
        let links = self.link_count(id).await?;
        if links > 0 {
            return Err(has_links(links));
        }
        // The store deletes only a tenant without links, in the same statement.
        if !self.store.delete_tenant(id).await? {
            return match self.link_count(id).await? {
                0 => Err(no_tenant(id)),
                links => Err(has_links(links)),
            };
        }
        self.tenants.forget(id, "", true).await;
        Ok(())
    }

    async fn link_count(&self, tenant: &str) -> Result<u64> {
        let mut total = 0;
        for kind in ResourceKind::ALL {
            let scope = Scope {
                tenant,
                resource_type: kind.name(),
            };
            total += self.store.page(scope, 0, 0).await?.1;
        }
        Ok(total)
    }

    /// A backend fronts one tenant: tenants on one platform would see each other's accounts
    /// (lists and filters read the platform).
    async fn check_backend_free(&self, backend: &str, tenant: &str) -> Result<()> {
        let taken_by = self
            .store
            .tenants(None)
            .await?
            .into_iter()
            .find(|t| t.backend == backend && t.id != tenant);
        match taken_by {
            Some(other) => Err(AdminError::Conflict(format!(
                "backend {backend} is fronted by tenant {} already; a backend serves one tenant, so tenants never see each other's accounts",
                other.id
            ))),
            None => Ok(()),
        }
    }

    fn check_backend(&self, backend: &str) -> Result<()> {
        if self.tenants.has_backend(backend) {
            Ok(())
        } else {
            Err(invalid(format!(
                "the config has no backend {backend}; it has {}",
                self.tenants.backend_names().join(", ")
            )))
        }
    }
}

impl Admin {
    /// Refuses settings the tenant cannot keep: extension schemas that do not read, and a
    /// lifecycle policy it cannot keep: a strict tenant's DELETE deletes
    /// (the interoperability profile), and suspending needs a mapping that maps `active`.
    fn check_settings(&self, record: &TenantRecord) -> Result<()> {
        if let Some(backend) = self.tenants.backends().find(|b| b.name == record.backend) {
            crate::scim::declared::parse_declared(&record.extensions, &backend.registry)
                .map_err(invalid)?;
        }
        if record.dialect == Dialect::Strict && record.deprovision != Deprovision::Delete {
            return Err(invalid(format!(
                "a strict tenant's DELETE deletes: deprovision `{}` needs the lenient dialect",
                record.deprovision.as_str()
            )));
        }
        if record.deprovision == Deprovision::Suspend {
            let maps_active = self
                .tenants
                .backends()
                .find(|b| b.name == record.backend)
                .is_some_and(|b| {
                    b.mapping
                        .users
                        .attributes
                        .iter()
                        .any(|a| a.scim_source == "active")
                });
            if !maps_active {
                return Err(invalid(format!(
                    "deprovision `suspend` needs a mapping with an `active` attribute; backend {}'s has none",
                    record.backend
                )));
            }
        }
        Ok(())
    }
}

pub(super) fn invalid(detail: String) -> AdminError {
    AdminError::Invalid(detail)
}

fn checked_name(name: String) -> Result<String> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.len() > 200 {
        return Err(invalid("a tenant's name is 1 to 200 characters".to_owned()));
    }
    Ok(name)
}

fn check_lifetime(days: Option<u32>) -> Result<()> {
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
