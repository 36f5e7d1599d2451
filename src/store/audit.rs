//! The audit log: who did what to which resource, and how it ended.

use time::OffsetDateTime;

use super::StoreFuture;

/// One audit log entry: who did what to which resource, and how it ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Unique id of the entry (a UUID v7).
    pub id: String,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The id of the tenant acted in.
    pub tenant: String,
    /// `token:<name>` for an IdP's SCIM token, `admin:<name>` for an admin.
    pub actor: String,
    /// `create`, `replace`, `patch`, `delete` (SCIM), `relink`, `unlink` (admin).
    pub operation: String,
    /// `User` or `Group` for provisioning and link changes; `Tenant` or `Token` for admin
    /// actions on those.
    pub resource_type: String,
    /// The SCIM id (or, for a failed create, the resource's userName/displayName).
    pub target: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The HTTP status answered.
    pub status: u16,
    /// What a tenant update changed or, for a failure, the error answered; may be empty.
    pub detail: String,
}

/// Filters and paging for the audit log; `None` filters match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// The tenant whose entries are read (always filtered on).
    pub tenant: String,
    /// Only entries of this actor.
    pub actor: Option<String>,
    /// Only entries of this operation.
    pub operation: Option<String>,
    /// Only entries about this target.
    pub target: Option<String>,
    /// Only entries with this outcome (`success` or `failure`).
    pub outcome: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only entries before this time.
    pub until: Option<OffsetDateTime>,
    /// How many matching entries (newest first) to skip.
    pub offset: u64,
    /// Most entries to return.
    pub limit: u64,
}

/// The audit log of every tenant.
pub trait AuditStore: Send + Sync + 'static {
    /// Adds an entry to the audit log.
    fn record<'a>(&'a self, entry: &'a AuditEntry) -> StoreFuture<'a, ()>;

    /// Audit entries matching a query, newest first, and how many match in all.
    fn audit<'a>(&'a self, query: &'a AuditQuery) -> StoreFuture<'a, (Vec<AuditEntry>, u64)>;

    /// Removes audit entries older than `before`; how many.
    fn prune_audit<'a>(&'a self, before: OffsetDateTime) -> StoreFuture<'a, u64>;
}
