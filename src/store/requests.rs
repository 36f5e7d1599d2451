//! The request log's entries and their store: each SCIM request a tenant received, with the
//! platform calls it made (`crate::requestlog` builds and masks them; the admin API reads them).

use time::OffsetDateTime;

use super::StoreFuture;

/// One platform call a SCIM request made (each attempt of a retried call is one).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformCall {
    /// The backend's name in the config.
    pub backend: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and query, secret-looking query values masked.
    pub path: String,
    /// The platform's status; `None` when no answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why no answer came (`timeout`, `unreachable`, `circuit_open`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the call took, in milliseconds.
    pub duration_ms: f64,
}

/// One SCIM request as the request log keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEntry {
    /// Unique id of the entry, ordered by time (`<ms>-<replica>-<n>`).
    pub id: String,
    /// When the request arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The tenant the request was for.
    pub tenant: String,
    /// The request's `x-request-id` (the caller's, or the one the gateway gave it).
    pub request_id: String,
    /// The token the request named: `<name>` of a config token, `<id>:<name>` of a managed one,
    /// `managed:<id>` for a managed token of the tenant that was refused. Never a secret.
    pub token: String,
    /// The HTTP method.
    pub method: String,
    /// The path and query as sent.
    pub path: String,
    /// The status answered (499: the client left before the answer).
    pub status: u16,
    /// How long the answer took, in milliseconds.
    pub duration_ms: f64,
    /// The IdP's body, masked and bounded; empty for none.
    pub request_body: String,
    /// The answer's body, masked and bounded; empty for none.
    pub response_body: String,
    /// The platform calls made, in order.
    pub calls: Vec<PlatformCall>,
}

/// Filters and paging of the request log; `None` filters match everything.
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    /// The tenant whose entries are read (always filtered on).
    pub tenant: String,
    /// Only entries at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only entries before this time.
    pub until: Option<OffsetDateTime>,
    /// Only entries with a status in `[low, high]` (`401`: 401 only; `4xx`: 400 to 499).
    pub status: Option<(u16, u16)>,
    /// Only entries of this method.
    pub method: Option<String>,
    /// Only entries of this request id.
    pub request_id: Option<String>,
    /// How many matching entries (newest first) to skip.
    pub offset: u64,
    /// Most entries to return.
    pub limit: u64,
}

/// The request log of every tenant.
pub trait RequestLogStore: Send + Sync + 'static {
    /// Adds entries (a batch, in one transaction).
    fn log_requests<'a>(&'a self, entries: &'a [RequestEntry]) -> StoreFuture<'a, ()>;

    /// Entries matching a query, newest first, and how many match in all.
    fn requests<'a>(&'a self, query: &'a RequestQuery)
        -> StoreFuture<'a, (Vec<RequestEntry>, u64)>;

    /// Removes entries older than `before` and entries of tenants that no longer exist; how
    /// many.
    fn prune_requests<'a>(&'a self, before: OffsetDateTime) -> StoreFuture<'a, u64>;

    /// Removes a tenant's entries beyond its newest `keep`; how many.
    fn trim_requests<'a>(&'a self, tenant: &'a str, keep: u64) -> StoreFuture<'a, u64>;
}
