//! The gateway's Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format
//! (which Prometheus scrapes): SCIM requests, platform calls, the lookup cache, inbound rate
//! limits and the store. Names follow Prometheus' conventions (base units, `_seconds`,
//! counters ending in `_total`); labels are bounded sets (tenants, backends, endpoints,
//! statuses), never a user, a group or a path with an id in it.
//!
//! One process serves one gateway, so the metrics are one process-wide set ([`metrics`]):
//! the platform client, the cache and the store record into it where the event happens,
//! without a handle threaded through every constructor.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

/// A SCIM request as counted: which tenant, which endpoint, what was done, the status.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScimRequestLabels {
    /// The tenant that admitted the request (empty when none did: a 401, an unknown URL).
    pub tenant: String,
    /// `Users`, `Groups`, `Bulk`, `Schemas`, `ResourceTypes`, `ServiceProviderConfig`, `Me`,
    /// `other`.
    pub resource: &'static str,
    /// `create`, `get`, `list`, `search`, `replace`, `patch`, `delete`, `bulk`, `discover`,
    /// `other`.
    pub operation: &'static str,
    /// The HTTP status answered.
    pub status: u16,
}

/// A SCIM request as timed (the status left out: one histogram per endpoint is enough).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScimTimingLabels {
    /// As in [`ScimRequestLabels`].
    pub tenant: String,
    /// As in [`ScimRequestLabels`].
    pub resource: &'static str,
    /// As in [`ScimRequestLabels`].
    pub operation: &'static str,
}

/// A call to a platform.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlatformCallLabels {
    /// The backend's name in the config.
    pub backend: String,
    /// The HTTP method.
    pub method: &'static str,
}

/// A platform call that failed, by class.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlatformErrorLabels {
    /// The backend's name in the config.
    pub backend: String,
    /// `timeout`, `unreachable`, `invalid_request`, `circuit_open`, `overloaded`,
    /// `rate_limited` (429), `client_error` (another 4xx), `server_error` (5xx).
    pub class: &'static str,
}

/// A lookup in one of the gateway's caches.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `object`, `identity`, `key`, `name`, `groups_of`, `tenant`.
    pub cache: &'static str,
    /// `hit` or `miss`.
    pub result: &'static str,
}

/// A request refused by an inbound rate limit.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RateLimitLabels {
    /// The tenant.
    pub tenant: String,
    /// `tenant` or `token`: which limit refused it.
    pub limit: &'static str,
}

/// A store operation.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreLabels {
    /// The store operation, by concern and method (`links.get`, `audit.record`, ...).
    pub operation: &'static str,
}

/// Request log entries not stored.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLogDropLabels {
    /// `queue_full` (the writer behind the requests), `store_error`, `mask_failed` or
    /// `writer_stopped`.
    pub reason: &'static str,
}

/// Every metric the gateway keeps, registered once.
pub struct Metrics {
    registry: Registry,
    scim_requests: Family<ScimRequestLabels, Counter>,
    scim_duration: Family<ScimTimingLabels, Histogram, fn() -> Histogram>,
    scim_in_flight: Gauge,
    platform_duration: Family<PlatformCallLabels, Histogram, fn() -> Histogram>,
    platform_errors: Family<PlatformErrorLabels, Counter>,
    cache_lookups: Family<CacheLabels, Counter>,
    rate_limited: Family<RateLimitLabels, Counter>,
    store_duration: Family<StoreLabels, Histogram, fn() -> Histogram>,
    request_log_dropped: Family<RequestLogDropLabels, Counter>,
}

/// Request and platform latencies: 1 ms to about 33 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Store latencies: 0.1 ms to about 3.3 s, doubling.
fn store_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("scimgate");
        let metrics = Metrics {
            scim_requests: Family::default(),
            scim_duration: Family::new_with_constructor(latency_histogram),
            scim_in_flight: Gauge::default(),
            platform_duration: Family::new_with_constructor(latency_histogram),
            platform_errors: Family::default(),
            cache_lookups: Family::default(),
            rate_limited: Family::default(),
            store_duration: Family::new_with_constructor(store_histogram),
            request_log_dropped: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "build",
            "The running version and commit",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", env!("SCIMGATE_COMMIT")),
            ]),
        );
        registry.register(
            "scim_requests",
            "SCIM requests answered, by tenant, resource, operation and status",
            metrics.scim_requests.clone(),
        );
        registry.register_with_unit(
            "scim_request_duration",
            "Time from a SCIM request's head to its answer",
            Unit::Seconds,
            metrics.scim_duration.clone(),
        );
        registry.register(
            "scim_requests_in_flight",
            "SCIM requests being answered now",
            metrics.scim_in_flight.clone(),
        );
        registry.register_with_unit(
            "platform_request_duration",
            "Time of each HTTP call to a platform (each attempt of a retried call)",
            Unit::Seconds,
            metrics.platform_duration.clone(),
        );
        registry.register(
            "platform_errors",
            "Platform calls that failed, by backend and class",
            metrics.platform_errors.clone(),
        );
        registry.register(
            "cache_lookups",
            "Lookups in the gateway's caches, by cache and result (hit or miss)",
            metrics.cache_lookups.clone(),
        );
        registry.register(
            "rate_limited_requests",
            "SCIM requests refused with 429 by an inbound rate limit",
            metrics.rate_limited.clone(),
        );
        registry.register_with_unit(
            "store_operation_duration",
            "Time of each identity store operation",
            Unit::Seconds,
            metrics.store_duration.clone(),
        );
        registry.register(
            "request_log_dropped",
            "Request log entries not stored, by reason (queue_full, store_error)",
            metrics.request_log_dropped.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// A SCIM request answered.
    pub fn scim_request(&self, labels: ScimTimingLabels, status: u16, took: Duration) {
        self.scim_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.scim_requests
            .get_or_create(&ScimRequestLabels {
                tenant: labels.tenant,
                resource: labels.resource,
                operation: labels.operation,
                status,
            })
            .inc();
    }

    /// A SCIM request started ([`InFlight`] ends it).
    pub fn scim_started(&self) -> InFlight {
        self.scim_in_flight.inc();
        InFlight
    }

    /// One HTTP call to a platform (an attempt) and how long it took.
    pub fn platform_call(&self, backend: &str, method: &'static str, took: Duration) {
        self.platform_duration
            .get_or_create(&PlatformCallLabels {
                backend: backend.to_owned(),
                method,
            })
            .observe(took.as_secs_f64());
    }

    /// A platform call that failed.
    pub fn platform_error(&self, backend: &str, class: &'static str) {
        self.platform_errors
            .get_or_create(&PlatformErrorLabels {
                backend: backend.to_owned(),
                class,
            })
            .inc();
    }

    /// A cache lookup.
    pub fn cache_lookup(&self, cache: &'static str, hit: bool) {
        self.cache_lookups
            .get_or_create(&CacheLabels {
                cache,
                result: if hit { "hit" } else { "miss" },
            })
            .inc();
    }

    /// A request refused by a rate limit (`limit`: `tenant` or `token`).
    pub fn rate_limited(&self, tenant: &str, limit: &'static str) {
        self.rate_limited
            .get_or_create(&RateLimitLabels {
                tenant: tenant.to_owned(),
                limit,
            })
            .inc();
    }

    /// A store operation and how long it took.
    pub fn store_operation(&self, operation: &'static str, took: Duration) {
        self.store_duration
            .get_or_create(&StoreLabels { operation })
            .observe(took.as_secs_f64());
    }

    /// A request log entry not stored.
    pub fn request_log_dropped(&self, reason: &'static str) {
        self.request_log_dropped_many(reason, 1);
    }

    /// Request log entries not stored.
    pub fn request_log_dropped_many(&self, reason: &'static str, count: u64) {
        self.request_log_dropped
            .get_or_create(&RequestLogDropLabels { reason })
            .inc_by(count);
    }

    /// The exposition (OpenMetrics text), as `GET /metrics` answers it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// A SCIM request in flight: counted down when dropped (answered, or its client gone).
pub struct InFlight;

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics().scim_in_flight.dec();
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// The media type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let m = Metrics::new();
        m.scim_request(
            ScimTimingLabels {
                tenant: "acme".into(),
                resource: "Users",
                operation: "create",
            },
            201,
            Duration::from_millis(3),
        );
        m.platform_call("default", "POST", Duration::from_millis(2));
        m.platform_error("default", "timeout");
        m.cache_lookup("object", true);
        m.rate_limited("acme", "token");
        m.store_operation("links.get", Duration::from_micros(300));
        let text = m.render();
        for line in [
            "scimgate_scim_requests_total{tenant=\"acme\",resource=\"Users\",operation=\"create\",status=\"201\"} 1",
            "scimgate_scim_request_duration_seconds_count{tenant=\"acme\",resource=\"Users\",operation=\"create\"} 1",
            "scimgate_platform_request_duration_seconds_bucket{le=\"0.002\",backend=\"default\",method=\"POST\"} 1",
            "scimgate_platform_errors_total{backend=\"default\",class=\"timeout\"} 1",
            "scimgate_cache_lookups_total{cache=\"object\",result=\"hit\"} 1",
            "scimgate_rate_limited_requests_total{tenant=\"acme\",limit=\"token\"} 1",
            "scimgate_store_operation_duration_seconds_count{operation=\"links.get\"} 1",
            "# TYPE scimgate_scim_requests_in_flight gauge",
            "# EOF",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(text.contains("scimgate_build_info{version=\""), "{text}");
    }
}
