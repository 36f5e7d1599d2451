//! The config file as written (`config/scimgate.toml` documents every key).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SecretRef;

/// The whole config file as read, before validation ([`Config::compile`](super::Config::compile)).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]`: listen address, base path, public URL and request limits.
    #[serde(default)]
    pub server: RawServer,
    /// `[scim]`: page and scan limits.
    #[serde(default)]
    pub scim: RawScim,
    /// `[auth]`: the `default` tenant's bearer tokens.
    #[serde(default)]
    pub auth: RawAuth,
    /// `[admin]`: the admin API's tokens and address.
    #[serde(default)]
    pub admin: RawAdmin,
    /// `[audit]`: how long the audit log is kept.
    #[serde(default)]
    pub audit: RawAudit,
    /// `[request_log]`: each SCIM request and its platform calls, for debugging.
    #[serde(default)]
    pub request_log: RawRequestLog,
    /// `[store]`: where the identity store is.
    #[serde(default)]
    pub store: RawStore,
    /// `[cache]`: lifetime and size of the lookup cache.
    #[serde(default)]
    pub cache: RawCache,
    /// `[log]`: the log's format.
    #[serde(default)]
    pub log: RawLog,
    /// `[otlp]`: trace export to an OpenTelemetry collector (off unless `endpoint` is set).
    #[serde(default)]
    pub otlp: RawOtlp,
    /// The default tenant's backend (named `default`).
    pub backend: Option<RawBackend>,
    /// More backends by name, for tenants made through the admin API.
    #[serde(default)]
    pub backends: std::collections::BTreeMap<String, RawBackend>,
}

/// `[server]` as written; missing keys take the defaults below.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    /// `server.listen`: address:port to listen on.
    pub listen: String,
    /// `server.base_path`: path prefix of the SCIM API.
    pub base_path: String,
    /// `server.public_url`: external URL for `meta.location`; `None`: from `Host`.
    pub public_url: Option<String>,
    /// `server.request_timeout_secs`: whole-request time limit.
    pub request_timeout_secs: u64,
    /// `server.max_body_bytes`: largest request body accepted.
    pub max_body_bytes: usize,
    /// `server.max_header_bytes`: largest request head (request line and headers) accepted.
    pub max_header_bytes: usize,
    /// `server.requests_per_second_per_tenant`: SCIM requests a tenant may make (0: no limit).
    pub requests_per_second_per_tenant: u32,
    /// `server.requests_per_second_per_token`: SCIM requests one token may make (0: no limit).
    pub requests_per_second_per_token: u32,
    /// `[server.tls]`: TLS on the listeners; `None`: plain HTTP.
    pub tls: Option<RawTls>,
    /// `server.management_listen`: `/healthz`, `/readyz` and `/metrics` on an address of
    /// their own (then not on `server.listen`); `None`: beside SCIM.
    pub management_listen: Option<String>,
}

/// `[server.tls]` as written.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// `server.tls.cert_file`: the certificate chain, PEM, relative to the config file.
    pub cert_file: String,
    /// `server.tls.key_file`: the private key, PEM, relative to the config file.
    pub key_file: String,
    /// `server.tls.reload_secs`: how often the files are checked for a change.
    #[serde(default = "default_tls_reload_secs")]
    pub reload_secs: u64,
}

fn default_tls_reload_secs() -> u64 {
    10
}

/// The default `server.max_header_bytes`: room for a JWT bearer token several times over.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;

/// The least `server.max_header_bytes` (hyper's smallest read buffer).
pub const MIN_MAX_HEADER_BYTES: usize = 8 * 1024;

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".to_owned(),
            base_path: "/scim/v2".to_owned(),
            public_url: None,
            request_timeout_secs: 30,
            max_body_bytes: 1024 * 1024,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            requests_per_second_per_tenant: 200,
            requests_per_second_per_token: 100,
            tls: None,
            management_listen: None,
        }
    }
}

/// `[scim]` as written.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawScim {
    /// `scim.max_results`: largest page served.
    pub max_results: usize,
    /// `scim.max_scan`: most platform objects read to answer one filter or sort.
    pub max_scan: usize,
}

impl Default for RawScim {
    fn default() -> Self {
        RawScim {
            max_results: 200,
            max_scan: 10_000,
        }
    }
}

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// `[[auth.tokens]]`: the `default` tenant's bearer tokens, by reference.
    #[serde(default)]
    pub tokens: Vec<RawToken>,
}

/// `[log]` as written.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    /// `log.format`: `human` (one readable line per event) or `json` (one object per line).
    pub format: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            format: "human".to_owned(),
        }
    }
}

/// Trace export over OTLP/HTTP (`crate::telemetry`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOtlp {
    /// `otlp.endpoint`: the collector's OTLP/HTTP address (`http://collector:4318`);
    /// `/v1/traces` is appended, as to `OTEL_EXPORTER_OTLP_ENDPOINT`. Empty: no export.
    pub endpoint: String,
    /// `otlp.service_name`: the `service.name` of every span.
    pub service_name: String,
    /// `otlp.sample_ratio`: the share of traces kept, from 0 to 1.
    pub sample_ratio: f64,
    /// `otlp.timeout_secs`: how long one export may take (and the last, at shutdown).
    pub timeout_secs: u64,
    /// `otlp.continue_traces`: a request's W3C `traceparent` makes its span a child of the
    /// caller's (and its sampling decision ours); for a proxy in front that traces.
    pub continue_traces: bool,
}

impl Default for RawOtlp {
    fn default() -> Self {
        RawOtlp {
            endpoint: String::new(),
            service_name: "scimgate".to_owned(),
            sample_ratio: 1.0,
            timeout_secs: 5,
            continue_traces: false,
        }
    }
}

/// The audit log.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAudit {
    /// Entries older than this many days are removed (0: kept forever).
    pub retention_days: u32,
}

impl Default for RawAudit {
    fn default() -> Self {
        RawAudit {
            retention_days: 365,
        }
    }
}

/// The request log (`crate::requestlog`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRequestLog {
    /// `request_log.enabled`: log each SCIM request with its platform calls.
    pub enabled: bool,
    /// `request_log.retention_hours`: entries older than this are removed (at least 1).
    pub retention_hours: u32,
    /// `request_log.max_entries_per_tenant`: the newest this many are kept (at least 1).
    pub max_entries_per_tenant: u64,
    /// `request_log.max_body_bytes`: longest text kept of each body.
    pub max_body_bytes: usize,
    /// `request_log.mask`: attribute paths masked besides secrets (`phoneNumbers`,
    /// `name.familyName`).
    pub mask: Vec<String>,
    /// `request_log.queue`: entries waiting to be stored at most; more are dropped (counted).
    pub queue: usize,
}

impl Default for RawRequestLog {
    fn default() -> Self {
        RawRequestLog {
            enabled: true,
            retention_hours: 72,
            max_entries_per_tenant: 10_000,
            max_body_bytes: 16_384,
            mask: Vec::new(),
            queue: 2_000,
        }
    }
}

/// The admin API (`/admin/v1`): off without tokens.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Admin bearer tokens (by reference, like `auth.tokens`); none: the admin API is off.
    #[serde(default)]
    pub tokens: Vec<RawToken>,
    /// Serve the admin API on its own address instead of beside SCIM.
    pub listen: Option<String>,
}

/// One `[[auth.tokens]]` or `[[admin.tokens]]` entry: a name and where its secret is.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    /// Names the token in logs and the audit log.
    pub name: String,
    /// `env = "VAR"` or `file = "path"`, written in the entry itself.
    #[serde(flatten)]
    pub secret: SecretRef,
}

/// `[store]` as written.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStore {
    /// `store.url`: an `sqlite:` URL or a `postgres://` one.
    pub url: String,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            url: "sqlite://scimgate.sqlite".to_owned(),
        }
    }
}

/// `[cache]` as written.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCache {
    /// `cache.ttl_secs`: how long a cached entry is reused.
    pub ttl_secs: u64,
    /// `cache.max_entries`: most entries each cache holds.
    pub max_entries: u64,
}

impl Default for RawCache {
    fn default() -> Self {
        RawCache {
            ttl_secs: 30,
            max_entries: 10_000,
        }
    }
}

/// A `[backend]` or `[backends.<name>]` section as written.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    /// The mapping file, relative to the config file.
    pub mapping: String,
    /// `base_url`: the platform's URL; mapping paths are appended to it.
    pub base_url: String,
    /// `timeout_secs`: time limit of each platform call (default 10).
    #[serde(default = "default_backend_timeout")]
    pub timeout_secs: u64,
    /// `credential`: `{ env = "VAR" }` or `{ file = "path" }`.
    pub credential: Option<SecretRef>,
    /// `settings`: values the mapping reads as `settings.<name>`.
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// `retry_attempts`: attempts per platform call where a retry is safe (default 3; 1: none).
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
    /// `breaker_failures`: platform failures in a row that pause its calls (default 5).
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    /// `breaker_cooldown_secs`: how long the calls are paused (default 10).
    #[serde(default = "default_breaker_cooldown")]
    pub breaker_cooldown_secs: u64,
    /// `max_concurrent_calls`: platform calls in flight at once (default 64); a call that
    /// finds none free within 2 s is shed (503).
    #[serde(default = "default_max_concurrent_calls")]
    pub max_concurrent_calls: usize,
}

impl RawBackend {
    /// The defaults of a backend's keys (`mapping` and `base_url` have none: left out).
    pub fn defaults() -> serde_json::Map<String, serde_json::Value> {
        let backend = RawBackend {
            mapping: String::new(),
            base_url: String::new(),
            timeout_secs: default_backend_timeout(),
            credential: None,
            settings: serde_json::Map::new(),
            retry_attempts: default_retry_attempts(),
            breaker_failures: default_breaker_failures(),
            breaker_cooldown_secs: default_breaker_cooldown(),
            max_concurrent_calls: default_max_concurrent_calls(),
        };
        let mut map = match serde_json::to_value(backend) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        map.remove("mapping");
        map.remove("base_url");
        map
    }
}

fn default_max_concurrent_calls() -> usize {
    64
}

fn default_backend_timeout() -> u64 {
    10
}

fn default_retry_attempts() -> u32 {
    3
}

fn default_breaker_failures() -> u32 {
    5
}

fn default_breaker_cooldown() -> u64 {
    10
}

impl RawConfig {
    /// A config with nothing written: every section's defaults, no backend.
    pub fn defaults() -> RawConfig {
        RawConfig {
            server: RawServer::default(),
            scim: RawScim::default(),
            auth: RawAuth::default(),
            admin: RawAdmin::default(),
            audit: RawAudit::default(),
            request_log: RawRequestLog::default(),
            store: RawStore::default(),
            cache: RawCache::default(),
            log: RawLog::default(),
            otlp: RawOtlp::default(),
            backend: None,
            backends: std::collections::BTreeMap::new(),
        }
    }

    /// Reads the file with the `config` crate, layering `SCIMGATE_*` environment overrides.
    pub fn read(path: &Path) -> Result<RawConfig, String> {
        if !path.exists() {
            return Err("config file not found".to_owned());
        }
        let built = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("SCIMGATE")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .map_err(|e| e.to_string())?;
        built
            .try_deserialize::<RawConfig>()
            .map_err(|e| e.to_string())
    }
}
