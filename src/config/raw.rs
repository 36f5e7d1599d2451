//! The config file as written (`config/scimgate.toml` documents every key).

use std::path::Path;

use serde::Deserialize;

use super::SecretRef;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub scim: RawScim,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub audit: RawAudit,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub cache: RawCache,
    /// The default tenant's backend (named `default`).
    pub backend: Option<RawBackend>,
    /// More backends by name, for tenants made through the admin API.
    #[serde(default)]
    pub backends: std::collections::BTreeMap<String, RawBackend>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: String,
    pub base_path: String,
    pub public_url: Option<String>,
    pub request_timeout_secs: u64,
    pub max_body_bytes: usize,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".to_owned(),
            base_path: "/scim/v2".to_owned(),
            public_url: None,
            request_timeout_secs: 30,
            max_body_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawScim {
    pub max_results: usize,
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    #[serde(default)]
    pub tokens: Vec<RawToken>,
}

/// The audit log.
#[derive(Debug, Deserialize)]
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

/// The admin API (`/admin/v1`): off without tokens.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Admin bearer tokens (by reference, like `auth.tokens`); none: the admin API is off.
    #[serde(default)]
    pub tokens: Vec<RawToken>,
    /// Serve the admin API on its own address instead of beside SCIM.
    pub listen: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    pub name: String,
    #[serde(flatten)]
    pub secret: SecretRef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStore {
    pub url: String,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            url: "sqlite://scimgate.sqlite".to_owned(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCache {
    pub ttl_secs: u64,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    /// The mapping file, relative to the config file.
    pub mapping: String,
    pub base_url: String,
    #[serde(default = "default_backend_timeout")]
    pub timeout_secs: u64,
    pub credential: Option<SecretRef>,
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

fn default_backend_timeout() -> u64 {
    10
}

impl RawConfig {
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
