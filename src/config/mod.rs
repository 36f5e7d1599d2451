//! Gateway configuration: the raw file (serde, unknown keys rejected) compiled once at start-up
//! into a validated [`Config`]. Every problem is collected with its file and key and reported at
//! once; `scimgate check` runs exactly this code.

mod raw;

pub use raw::DEFAULT_MAX_HEADER_BYTES;
mod secret;
pub mod show;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub use crate::problems::{Problem, Problems};
pub use raw::{RawConfig, RawRequestLog};
pub use secret::{Secret, SecretRef, Secrets, WITHHELD};

use crate::mapping::{load_mapping, Mapping};
use crate::scim::schema::Registry;

/// The `[server]` section: where and how the SCIM API is served.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (`server.listen`).
    pub listen: SocketAddr,
    /// Path prefix of the SCIM API, `/scim/v2` by default; no trailing slash.
    pub base_path: String,
    /// External base URL (scheme and host) used in `meta.location` and `Location`; when unset,
    /// taken from the request's `Host` header.
    pub public_url: Option<String>,
    /// Whole-request time limit (`server.request_timeout_secs`, at least 1 s); a slower
    /// request is answered 503.
    pub request_timeout: Duration,
    /// Largest request body accepted (`server.max_body_bytes`); larger ones are answered 413.
    pub max_body_bytes: usize,
    /// Largest request head, request line and headers (`server.max_header_bytes`); a larger
    /// one is answered 431 (twice as large, or more than 100 headers, is cut off by hyper).
    pub max_header_bytes: usize,
    /// Inbound SCIM requests per second a tenant, and one token, may make (a burst of twice
    /// that); more are answered 429 with `Retry-After`. `None`: no limit.
    pub rate_limits: RateLimits,
    /// TLS on the listeners (`[server.tls]`), its files checked to load; `None`: plain HTTP.
    pub tls: Option<crate::tls::TlsFiles>,
    /// Where `/healthz`, `/readyz` and `/metrics` are served on their own
    /// (`server.management_listen`, plain HTTP); `None`: on `listen`, beside SCIM.
    pub management_listen: Option<SocketAddr>,
}

/// How log lines are written (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line, for a log pipeline.
    Json,
}

/// Inbound request rates (`server.requests_per_second_per_tenant`, `..._per_token`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RateLimits {
    /// Per tenant; `None`: no limit.
    pub per_tenant: Option<std::num::NonZeroU32>,
    /// Per token; `None`: no limit.
    pub per_token: Option<std::num::NonZeroU32>,
}

/// The `[scim]` section: how much one list or filter request may cost.
#[derive(Debug, Clone)]
pub struct ScimConfig {
    /// The largest page (`count`) served; larger requests are capped (RFC 7644 §3.4.2.4).
    pub max_results: usize,
    /// How many platform objects the gateway reads at most to answer a filter or sort the
    /// platform cannot; beyond it the answer is a SCIM `tooMany` error.
    pub max_scan: usize,
}

/// A named bearer token from the config (`[[auth.tokens]]` or `[[admin.tokens]]`).
#[derive(Debug, Clone)]
pub struct ApiToken {
    /// The entry's `name`, shown in logs and the audit log in place of the secret.
    pub name: String,
    /// The token itself, read from the `env` variable or `file` the entry names.
    pub secret: Secret,
}

/// The admin API: off without tokens; beside SCIM unless it has its own address.
#[derive(Debug, Clone, Default)]
pub struct AdminConfig {
    /// Admin bearer tokens (`admin.tokens`); empty: the admin API is off.
    pub tokens: Vec<ApiToken>,
    /// The admin API's own address (`admin.listen`); `None`: served beside SCIM.
    pub listen: Option<SocketAddr>,
}

/// The `[cache]` section: the lookup cache of platform objects and names.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// How long a cached entry is reused (`cache.ttl_secs`).
    pub ttl: Duration,
    /// Most entries each cache holds (`cache.max_entries`).
    pub max_entries: u64,
}

/// How to call one platform: a `[backend]` or `[backends.<name>]` section, apart from
/// its mapping.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// Scheme, host and optional path prefix; no trailing slash.
    pub base_url: String,
    /// Time limit of each platform call (`timeout_secs`, at least 1 s); a timeout is
    /// answered 504.
    pub timeout: Duration,
    /// The platform credential (`credential`), sent as the mapping's `[platform.auth]` says.
    pub credential: Option<Secret>,
    /// Values the mapping reads as `settings.<name>`.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Retries and the circuit breaker (`retry_attempts`, `breaker_failures`,
    /// `breaker_cooldown_secs`).
    pub resilience: crate::backend::Policy,
}

/// A platform the gateway can front: where it is, how to call it, and its compiled mapping.
#[derive(Debug)]
pub struct ConfiguredBackend {
    /// Where the platform is and how to call it.
    pub config: BackendConfig,
    /// The compiled mapping file the section's `mapping` names.
    pub mapping: Mapping,
}

/// The name `[backend]` has among the named backends; the `default` tenant fronts it.
pub const DEFAULT_BACKEND: &str = "default";

/// The validated configuration the gateway runs with.
#[derive(Debug)]
pub struct Config {
    /// Listen address, base path, public URL and request limits (`[server]`).
    pub server: ServerConfig,
    /// Page and scan limits of SCIM answers (`[scim]`).
    pub scim: ScimConfig,
    /// The `default` tenant's bearer tokens (`[[auth.tokens]]`).
    pub tokens: Vec<ApiToken>,
    /// The admin API's tokens and address (`[admin]`).
    pub admin: AdminConfig,
    /// How long audit entries are kept (`None`: forever).
    pub audit_retention: Option<Duration>,
    /// The request log (`[request_log]`).
    pub request_log: crate::requestlog::RequestLogSettings,
    /// `sqlite://path` (created when missing), `sqlite::memory:` or `postgres://...`.
    pub store_url: String,
    /// Lifetime and size of the lookup cache (`[cache]`).
    pub cache: CacheConfig,
    /// How log lines are written (`log.format`).
    pub log_format: LogFormat,
    /// Trace export (`[otlp]`); `None` without an endpoint.
    pub otlp: Option<crate::telemetry::OtlpSettings>,
    /// Every option as in force, for `GET /admin/v1/config` (empty for a config not read
    /// from a file, such as the demo's).
    pub options: Vec<show::ConfigOption>,
    /// Every backend by name; `[backend]` is `default`.
    pub backends: std::collections::BTreeMap<String, ConfiguredBackend>,
}

impl Config {
    /// Loads and compiles the config file and the mapping it names. Environment variables
    /// `SCIMGATE__<SECTION>__<KEY>` override file values (e.g. `SCIMGATE__SERVER__LISTEN`).
    pub fn load(path: &Path, registry: &Registry) -> Result<Config, Problems> {
        Self::load_as(path, registry, Secrets::Read)
    }

    /// [`Config::load`], reading secrets or (for `scimgate explain`) withholding them.
    pub fn load_as(path: &Path, registry: &Registry, secrets: Secrets) -> Result<Config, Problems> {
        let mut problems = Problems::default();
        let raw = match RawConfig::read(path) {
            Ok(raw) => raw,
            Err(message) => {
                problems.add(path, "", message);
                return Err(problems);
            }
        };
        let base_dir = path.parent().unwrap_or(Path::new("."));
        // What `GET /admin/v1/config` shows: the options compiled below.
        let options = show::options_of(&raw, path);
        let mut config = Self::compile(path, base_dir, raw, registry, problems, secrets)?;
        config.options = match options {
            Ok(options) => options,
            Err(e) => {
                warn_options_unlisted(path, &e);
                Vec::new()
            }
        };
        Ok(config)
    }

    /// Compiles an already-read raw config; relative paths are taken from `base_dir`.
    pub fn compile(
        path: &Path,
        base_dir: &Path,
        raw: RawConfig,
        registry: &Registry,
        mut problems: Problems,
        secrets: Secrets,
    ) -> Result<Config, Problems> {
        let listen = match raw.server.listen.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(e) => {
                problems.add(
                    path,
                    "server.listen",
                    format!("`{}` is not an address:port: {e}", raw.server.listen),
                );
                None
            }
        };
        let base_path = normalize_base_path(&raw.server.base_path);
        if !base_path.is_empty() && !base_path.starts_with('/') {
            problems.add(path, "server.base_path", "must start with `/`");
        }
        let public_url = raw
            .server
            .public_url
            .map(|u| u.trim_end_matches('/').to_owned());
        if let Some(u) = &public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                problems.add(
                    path,
                    "server.public_url",
                    format!("`{u}` must start with http:// or https://"),
                );
            }
        }
        if raw.scim.max_results == 0 {
            problems.add(path, "scim.max_results", "must be at least 1");
        }
        let tokens = resolve_tokens(
            path,
            base_dir,
            "auth.tokens",
            &raw.auth.tokens,
            &mut problems,
            secrets,
        );
        let admin_tokens = resolve_tokens(
            path,
            base_dir,
            "admin.tokens",
            &raw.admin.tokens,
            &mut problems,
            secrets,
        );
        let admin_listen = optional_address(
            path,
            "admin.listen",
            raw.admin.listen.as_deref(),
            &mut problems,
        );
        let management_listen = optional_address(
            path,
            "server.management_listen",
            raw.server.management_listen.as_deref(),
            &mut problems,
        );
        let log_format = match raw.log.format.as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => {
                problems.add(
                    path,
                    "log.format",
                    format!("`{other}` is not a log format: `human` or `json`"),
                );
                LogFormat::Human
            }
        };
        // Two listeners on one address: the second would fail to bind at start-up.
        for (key, other) in [
            ("admin.listen", admin_listen),
            ("server.management_listen", management_listen),
        ] {
            if other.is_some() && other == listen {
                problems.add(path, key, "is the same address as server.listen");
            }
        }
        if management_listen.is_some() && management_listen == admin_listen {
            problems.add(
                path,
                "server.management_listen",
                "is the same address as admin.listen",
            );
        }
        if admin_listen.is_some() && admin_tokens.is_empty() {
            problems.add(
                path,
                "admin.listen",
                "the admin API has no tokens (admin.tokens), so it would be off",
            );
        }
        if raw.auth.tokens.is_empty() && raw.admin.tokens.is_empty() {
            problems.add(
                path,
                "auth.tokens",
                "no bearer token configured, nor an admin API to make some: no IdP could call the gateway",
            );
        }
        if !raw.auth.tokens.is_empty() && raw.backend.is_none() {
            problems.add(
                path,
                "auth.tokens",
                "these tokens are the default tenant's, which fronts [backend]; there is none",
            );
        }
        let mut backends = std::collections::BTreeMap::new();
        let named = raw
            .backend
            .as_ref()
            .map(|b| (DEFAULT_BACKEND.to_owned(), "backend".to_owned(), b))
            .into_iter()
            .chain(
                raw.backends
                    .iter()
                    .map(|(name, b)| (name.clone(), format!("backends.{name}"), b)),
            );
        for (name, key, raw_backend) in named {
            if key != "backend" && name == DEFAULT_BACKEND && raw.backend.is_some() {
                problems.add(
                    path,
                    &key,
                    "`[backend]` is the backend named default already",
                );
                continue;
            }
            if let Err(message) = check_name(&name) {
                problems.add(path, &key, format!("backend name `{name}` {message}"));
                continue;
            }
            if let Some(backend) = compile_backend(
                path,
                base_dir,
                &key,
                raw_backend,
                registry,
                &mut problems,
                secrets,
            ) {
                backends.insert(name, backend);
            }
        }
        if raw.backend.is_none() && raw.backends.is_empty() {
            problems.add(
                path,
                "backend",
                "no backend configured: the gateway needs a platform to front",
            );
        }
        let store_url = match store_url(&raw.store.url, base_dir) {
            Ok(url) => url,
            Err(message) => {
                problems.add(path, "store.url", message);
                String::new()
            }
        };
        if raw.scim.max_scan == 0 {
            problems.add(path, "scim.max_scan", "must be at least 1");
        }
        if raw.server.max_body_bytes < 1024 {
            problems.add(path, "server.max_body_bytes", "must be at least 1024");
        }
        let tls = raw
            .server
            .tls
            .as_ref()
            .and_then(|tls| tls_files(path, base_dir, tls, &mut problems));
        if raw.server.max_header_bytes < raw::MIN_MAX_HEADER_BYTES {
            problems.add(
                path,
                "server.max_header_bytes",
                format!("must be at least {}", raw::MIN_MAX_HEADER_BYTES),
            );
        }
        let request_log = request_log(path, &raw.request_log, &mut problems);
        let otlp = otlp(path, &raw.otlp, &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        let Some(listen) = listen else {
            return Err(problems);
        };
        Ok(Config {
            server: ServerConfig {
                listen,
                base_path,
                public_url,
                request_timeout: Duration::from_secs(raw.server.request_timeout_secs.max(1)),
                max_body_bytes: raw.server.max_body_bytes,
                max_header_bytes: raw.server.max_header_bytes,
                rate_limits: RateLimits {
                    per_tenant: std::num::NonZeroU32::new(
                        raw.server.requests_per_second_per_tenant,
                    ),
                    per_token: std::num::NonZeroU32::new(raw.server.requests_per_second_per_token),
                },
                tls,
                management_listen,
            },
            log_format,
            otlp,
            options: Vec::new(),
            scim: ScimConfig {
                max_results: raw.scim.max_results,
                max_scan: raw.scim.max_scan,
            },
            tokens,
            admin: AdminConfig {
                tokens: admin_tokens,
                listen: admin_listen,
            },
            audit_retention: (raw.audit.retention_days > 0)
                .then(|| Duration::from_secs(u64::from(raw.audit.retention_days) * 86_400)),
            request_log,
            store_url,
            cache: CacheConfig {
                ttl: Duration::from_secs(raw.cache.ttl_secs),
                max_entries: raw.cache.max_entries,
            },
            backends,
        })
    }
}

/// `[otlp]` compiled: `None` when no endpoint is set; each bad value named.
fn otlp(
    path: &Path,
    raw: &raw::RawOtlp,
    problems: &mut Problems,
) -> Option<crate::telemetry::OtlpSettings> {
    // Checked with or without an endpoint: one may come from the environment at the next start.
    let mut ok = true;
    if !(0.0..=1.0).contains(&raw.sample_ratio) {
        problems.add(path, "otlp.sample_ratio", "must be from 0 to 1");
        ok = false;
    }
    if raw.timeout_secs == 0 {
        problems.add(path, "otlp.timeout_secs", "must be at least 1");
        ok = false;
    }
    if raw.service_name.trim().is_empty() {
        problems.add(path, "otlp.service_name", "must not be empty");
        ok = false;
    }
    let endpoint = raw.endpoint.trim();
    if endpoint.is_empty() {
        return None;
    }
    let traces_url = match crate::telemetry::traces_url(endpoint) {
        Ok(url) => url,
        Err(e) => {
            problems.add(path, "otlp.endpoint", e);
            return None;
        }
    };
    if !ok {
        return None;
    }
    let settings = crate::telemetry::OtlpSettings {
        traces_url,
        service_name: raw.service_name.trim().to_owned(),
        sample_ratio: raw.sample_ratio,
        timeout: Duration::from_secs(raw.timeout_secs),
        continue_traces: raw.continue_traces,
    };
    // The exporter as serve builds it (the SDK reads OTEL_EXPORTER_OTLP_* variables too).
    if let Err(e) = crate::telemetry::check(&settings) {
        problems.add(path, "otlp", e);
        return None;
    }
    Some(settings)
}

/// `[request_log]` compiled; each bad value named.
fn request_log(
    path: &Path,
    raw: &raw::RawRequestLog,
    problems: &mut Problems,
) -> crate::requestlog::RequestLogSettings {
    if !(1..=crate::requestlog::MAX_RETENTION_HOURS).contains(&raw.retention_hours) {
        problems.add(
            path,
            "request_log.retention_hours",
            format!(
                "must be from 1 to {} (ten years; or set enabled = false)",
                crate::requestlog::MAX_RETENTION_HOURS
            ),
        );
    }
    if raw.max_entries_per_tenant == 0 {
        problems.add(
            path,
            "request_log.max_entries_per_tenant",
            "must be at least 1 (or set enabled = false)",
        );
    }
    if raw.queue == 0 {
        problems.add(path, "request_log.queue", "must be at least 1");
    }
    for (n, attribute) in raw.mask.iter().enumerate() {
        let well_formed = !attribute.is_empty()
            && attribute
                .split('.')
                .all(|step| !step.is_empty() && !step.contains(char::is_whitespace));
        if !well_formed {
            problems.add(
                path,
                &format!("request_log.mask[{n}]"),
                format!("`{attribute}` is not an attribute path (e.g. `phoneNumbers`, `name.familyName`)"),
            );
        }
    }
    raw.into()
}

impl From<&raw::RawRequestLog> for crate::requestlog::RequestLogSettings {
    fn from(raw: &raw::RawRequestLog) -> Self {
        crate::requestlog::RequestLogSettings {
            enabled: raw.enabled,
            retention: Duration::from_secs(u64::from(raw.retention_hours) * 3600),
            max_entries_per_tenant: raw.max_entries_per_tenant,
            max_body_bytes: raw.max_body_bytes,
            mask: raw.mask.clone(),
            queue: raw.queue,
        }
    }
}

/// Tenant and backend names: URL segments, so lower-case letters, digits and `-` (not first),
/// at most 63 characters, and never a SCIM endpoint's name.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    const RESERVED: &[&str] = &[
        "users",
        "groups",
        "bulk",
        "me",
        "schemas",
        "resourcetypes",
        "serviceproviderconfig",
    ];
    let well_formed = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        Err("must be 1 to 63 lower-case letters, digits or `-` (not first)")
    } else if RESERVED.contains(&name) {
        Err("is the name of a SCIM endpoint")
    } else {
        Ok(())
    }
}

/// One backend section (`key` is `backend` or `backends.<name>`) and the mapping it names.
fn compile_backend(
    path: &Path,
    base_dir: &Path,
    key: &str,
    raw: &raw::RawBackend,
    registry: &Registry,
    problems: &mut Problems,
    secrets: Secrets,
) -> Option<ConfiguredBackend> {
    let credential = match &raw.credential {
        None => None,
        Some(r) => match r.resolve_as(base_dir, secrets) {
            Ok(s) => Some(s),
            Err(msg) => {
                problems.add(path, &format!("{key}.credential"), msg);
                None
            }
        },
    };
    let base_url = raw.base_url.trim_end_matches('/').to_owned();
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        problems.add(
            path,
            &format!("{key}.base_url"),
            format!("`{base_url}` must start with http:// or https://"),
        );
    }
    let mapping = load_mapping(&base_dir.join(&raw.mapping), registry, problems)?;
    let known = mapping
        .platform
        .settings
        .iter()
        .chain(&mapping.platform.optional_settings);
    for name in raw.settings.keys() {
        if !known.clone().any(|k| k == name) {
            let names: Vec<&str> = known.clone().map(String::as_str).collect();
            problems.add(
                path,
                &format!("{key}.settings.{name}"),
                format!(
                    "the {} mapping has no setting `{name}` (it has {})",
                    mapping.platform.name,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            );
        }
    }
    for name in &mapping.platform.settings {
        if !raw.settings.contains_key(name) {
            problems.add(
                path,
                &format!("{key}.settings.{name}"),
                format!("the {} mapping needs this setting", mapping.platform.name),
            );
        }
    }
    if mapping.platform.auth_scheme != crate::mapping::model::AuthScheme::None
        && raw.credential.is_none()
    {
        problems.add(
            path,
            &format!("{key}.credential"),
            format!(
                "the {} mapping authenticates with a credential",
                mapping.platform.name
            ),
        );
    }
    for (name, value, least) in [
        ("retry_attempts", u64::from(raw.retry_attempts), 1),
        ("breaker_failures", u64::from(raw.breaker_failures), 1),
        ("breaker_cooldown_secs", raw.breaker_cooldown_secs, 1),
    ] {
        if value < least {
            problems.add(
                path,
                &format!("{key}.{name}"),
                format!("must be at least {least}"),
            );
        }
    }
    if !(1..=4096).contains(&raw.max_concurrent_calls) {
        problems.add(
            path,
            &format!("{key}.max_concurrent_calls"),
            "must be 1 to 4096",
        );
    }
    if raw.retry_attempts > 10 {
        problems.add(path, &format!("{key}.retry_attempts"), "must be at most 10");
    }
    if raw.breaker_cooldown_secs > 3600 {
        problems.add(
            path,
            &format!("{key}.breaker_cooldown_secs"),
            "must be at most 3600",
        );
    }
    let config = BackendConfig {
        base_url,
        timeout: Duration::from_secs(raw.timeout_secs.max(1)),
        credential,
        settings: raw.settings.clone(),
        resilience: crate::backend::Policy {
            attempts: raw.retry_attempts.clamp(1, 10),
            breaker_threshold: raw.breaker_failures.max(1),
            breaker_cooldown: Duration::from_secs(raw.breaker_cooldown_secs.clamp(1, 3600)),
            max_in_flight: raw.max_concurrent_calls.clamp(1, 4096),
            ..crate::backend::Policy::default()
        },
    };
    // Build the platform client now, so a credential HTTP cannot carry is reported by `check`
    // rather than at `serve`.
    if let Err(message) = crate::backend::HttpPlatform::new(
        &config.base_url,
        config.timeout,
        config.credential.as_ref().map(Secret::expose),
        &serde_json::Value::Object(config.settings.clone()),
        &mapping.platform,
    ) {
        problems.add(path, &format!("{key}.credential"), message);
    }
    Some(ConfiguredBackend { config, mapping })
}

/// A `postgres://` URL, or a `sqlite:` URL with a relative file path taken from the config
/// file's folder (like every other path in the config), checked for the database's URL syntax.
/// `[server.tls]`: its files, relative to the config file, read and checked now (a pair that
/// does not load is a problem of the key that names the faulty file).
fn tls_files(
    path: &Path,
    base_dir: &Path,
    raw: &raw::RawTls,
    problems: &mut Problems,
) -> Option<crate::tls::TlsFiles> {
    if raw.reload_secs == 0 || raw.reload_secs > 86_400 {
        problems.add(
            path,
            "server.tls.reload_secs",
            "must be between 1 and 86400",
        );
        return None;
    }
    let files = crate::tls::TlsFiles {
        cert: base_dir.join(&raw.cert_file),
        key: base_dir.join(&raw.key_file),
        reload_every: Duration::from_secs(raw.reload_secs),
    };
    match crate::tls::load_pair(&files.cert, &files.key) {
        Ok(_) => Some(files),
        Err(crate::tls::PairError::Certificate(e)) => {
            problems.add(path, "server.tls.cert_file", e);
            None
        }
        Err(crate::tls::PairError::Key(e)) => {
            problems.add(path, "server.tls.key_file", e);
            None
        }
    }
}

fn store_url(url: &str, base_dir: &Path) -> Result<String, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url)
            .map(|_| url.to_owned())
            // The URL may hold a password: the message does not repeat it.
            .map_err(|e| format!("not a valid PostgreSQL URL: {e}"));
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        // Not repeated: a mistyped URL may still carry a password.
        return Err("neither a sqlite: nor a postgres:// URL".to_owned());
    };
    let resolved = match rest.strip_prefix("//") {
        Some(file) if !file.is_empty() && !file.starts_with('/') && !file.starts_with(':') => {
            format!("sqlite://{}", base_dir.join(file).display())
        }
        _ => url.to_owned(),
    };
    <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&resolved)
        .map_err(|e| format!("`{url}`: {e}"))?;
    Ok(resolved)
}

/// Bearer tokens by reference, each at least 16 characters.
fn resolve_tokens(
    path: &Path,
    base_dir: &Path,
    key: &str,
    raw: &[raw::RawToken],
    problems: &mut Problems,
    secrets: Secrets,
) -> Vec<ApiToken> {
    let mut tokens = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        match t.secret.resolve_as(base_dir, secrets) {
            Ok(secret) if secret.expose().len() < 16 => problems.add(
                path,
                &format!("{key}[{i}]"),
                format!("token `{}` is shorter than 16 characters", t.name),
            ),
            Ok(secret) => tokens.push(ApiToken {
                name: t.name.clone(),
                secret,
            }),
            Err(msg) => problems.add(path, &format!("{key}[{i}]"), msg),
        }
    }
    tokens
}

fn normalize_base_path(p: &str) -> String {
    let trimmed = p.trim().trim_end_matches('/');
    trimmed.to_owned()
}

/// The options could not be listed for the admin API (the file changed under us): the
/// gateway runs all the same, and says so.
fn warn_options_unlisted(path: &Path, error: &str) {
    tracing::warn!(file = %path.display(), error, "cannot list the configuration for GET /admin/v1/config");
}

/// An optional `address:port` key; a problem under `key` when it is not one.
fn optional_address(
    path: &Path,
    key: &str,
    value: Option<&str>,
    problems: &mut Problems,
) -> Option<SocketAddr> {
    let addr = value?;
    match addr.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(e) => {
            problems.add(path, key, format!("`{addr}` is not an address:port: {e}"));
            None
        }
    }
}
