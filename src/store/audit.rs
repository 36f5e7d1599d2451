//! The audit log: who did what to which resource, and how it ended.

use time::OffsetDateTime;

use super::StoreFuture;

/// One audit log entry: who did what to which resource, and how it ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub tenant: String,
    /// `token:<name>` for an IdP's SCIM token, `admin:<name>` for an admin.
    pub actor: String,
    /// `create`, `replace`, `patch`, `delete` (SCIM), `relink`, `unlink` (admin).
    pub operation: String,
    pub resource_type: String,
    /// The SCIM id (or, for a failed create, the resource's userName/displayName).
    pub target: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The HTTP status answered.
    pub status: u16,
    pub detail: String,
}

/// Filters and paging for the audit log; `None` filters match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub tenant: String,
    pub actor: Option<String>,
    pub operation: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub offset: u64,
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
