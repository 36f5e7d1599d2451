//! Tenant records: SCIM configurations, each fronting a backend the config names.

use time::OffsetDateTime;

use super::StoreFuture;
use crate::scim::Dialect;

/// A tenant: one SCIM configuration, with its own SCIM URL and tokens, fronting a backend the
/// config file names (credentials stay in the config, never in the store).
#[derive(Debug, Clone, PartialEq)]
pub struct TenantRecord {
    /// The URL segment (`/scim/v2/{id}`): lower-case letters, digits and `-`.
    pub id: String,
    /// Display name, for people.
    pub name: String,
    /// A disabled tenant answers every SCIM request with an error.
    pub enabled: bool,
    /// The name of a backend in the config (`[backend]` is `default`).
    pub backend: String,
    /// The longest a managed token of this tenant may live; `None`: no limit.
    pub max_token_lifetime_days: Option<u32>,
    /// How the tenant's IdP requests are read: RFC 7644 to the letter, or with the IdP
    /// dialects (the default).
    pub dialect: Dialect,
    /// Whether a token may come as `Authorization: <token>`, without the `Bearer` scheme
    /// (Okta's "header" authentication mode).
    pub bare_token: bool,
    /// What a DELETE of a user does to its platform account.
    pub deprovision: Deprovision,
    /// Whether a POST of a user matching a deactivated one (same `userName`) reactivates and
    /// updates that user instead of answering 409.
    pub reactivate: bool,
    /// The extension schemas it declares (`crate::scim::declared`), a JSON array as the
    /// admin API took it.
    pub extensions: serde_json::Value,
    /// When the tenant was made.
    pub created: OffsetDateTime,
    /// When it last changed; `update_tenant` writes only while this is as read.
    pub updated: OffsetDateTime,
}

/// What a tenant's DELETE of a user does on the platform. Whichever it is, the gateway drops
/// the identity link, so the SCIM resource is gone (RFC 7644 §3.6: later reads answer 404);
/// groups are always deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Deprovision {
    /// The platform account is deleted (the mapping's delete calls).
    #[default]
    Delete,
    /// The platform account is deactivated (`active` set false through the mapping) and kept.
    Suspend,
    /// The platform account is left as it is.
    Unlink,
}

impl Deprovision {
    /// Every policy.
    pub const ALL: [Deprovision; 3] = [
        Deprovision::Delete,
        Deprovision::Suspend,
        Deprovision::Unlink,
    ];

    /// The stored and API form.
    pub fn as_str(self) -> &'static str {
        match self {
            Deprovision::Delete => "delete",
            Deprovision::Suspend => "suspend",
            Deprovision::Unlink => "unlink",
        }
    }

    /// The policy of a stored or API form.
    pub fn parse(s: &str) -> Option<Deprovision> {
        Deprovision::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// The tenants, shared by every replica on the store.
pub trait TenantStore: Send + Sync + 'static {
    /// Adds a tenant; `Conflict` when the id is taken or another tenant fronts its backend.
    fn insert_tenant<'a>(&'a self, tenant: &'a TenantRecord) -> StoreFuture<'a, ()>;

    /// Replaces a tenant's fields (all but `id` and `created`) if it is still as read (its
    /// `updated` was `read_updated`); `NotFound` when it is gone, changed meanwhile, or the
    /// backend would change while it has identity links; `Conflict` when another tenant
    /// fronts the backend.
    fn update_tenant<'a>(
        &'a self,
        tenant: &'a TenantRecord,
        read_updated: OffsetDateTime,
    ) -> StoreFuture<'a, ()>;

    /// Removes a tenant and its managed tokens when it has no identity links; false when
    /// nothing was removed (no such tenant, or it has links).
    fn delete_tenant<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;

    /// Every tenant (or the one with `id`), by id.
    fn tenants<'a>(&'a self, id: Option<&'a str>) -> StoreFuture<'a, Vec<TenantRecord>>;
}
