//! The effective configuration (`scimgate config show`, `GET /admin/v1/config`): every option
//! with the value in force, its default, the environment variable that overrides it and where
//! the value came from (default, file, environment). It reads the file and the environment as
//! `serve` does ([`RawConfig::read`]). Secrets are never written in a config (tokens and
//! credentials are references), but a store URL may carry a password and a backend's settings
//! may hold anything: those are redacted.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use super::raw::{RawBackend, RawConfig};

/// Where an option's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Not set: the default.
    Default,
    /// The config file.
    File,
    /// An environment variable (`SCIMGATE__...`).
    Env,
}

/// One option as in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigOption {
    /// Its key (`server.listen`, `auth.tokens[0].env`, `backends.gitlab.base_url`).
    pub key: String,
    /// The value in force (`null`: not set), secrets redacted.
    pub value: Value,
    /// The default (`null`: none, or not set by default).
    pub default: Value,
    /// The environment variable that overrides it; `None` inside a list (not overridable).
    pub env: Option<String>,
    /// Where the value came from.
    pub source: Source,
}

use crate::redact::secret_like;
pub use crate::redact::REDACTED;

/// Every option of the config at `path` (with the environment), in key order.
pub fn options(path: &Path) -> Result<Vec<ConfigOption>, String> {
    options_of(&RawConfig::read(path)?, path)
}

/// Every option of `raw`, the config at `path` as read (with the environment): what a
/// running gateway shows is what it compiled.
pub fn options_of(raw: &RawConfig, path: &Path) -> Result<Vec<ConfigOption>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let written: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
    let from_env = env_overrides(std::env::vars());
    Ok(listing(raw, &written, &from_env))
}

/// The keys the environment sets (`SCIMGATE__SERVER__LISTEN` → `server.listen`), with the
/// variable's name.
fn env_overrides(vars: impl Iterator<Item = (String, String)>) -> BTreeMap<String, String> {
    vars.filter_map(|(name, _)| {
        let rest = name.strip_prefix("SCIMGATE__")?;
        Some((rest.to_lowercase().replace("__", "."), name))
    })
    .collect()
}

fn listing(
    raw: &RawConfig,
    written: &toml::Table,
    from_env: &BTreeMap<String, String>,
) -> Vec<ConfigOption> {
    let mut effective = BTreeMap::new();
    flatten("", &to_json(raw), &mut effective);
    let mut in_file = BTreeMap::new();
    flatten("", &to_json(written), &mut in_file);
    let mut defaults = BTreeMap::new();
    flatten("", &to_json(&RawConfig::defaults()), &mut defaults);
    let mut backend_defaults = BTreeMap::new();
    flatten("", &to_json(&RawBackend::defaults()), &mut backend_defaults);
    // Every option with a default is listed, set or not; and every one set.
    let mut keys: Vec<String> = defaults
        .keys()
        .filter(|k| !k.starts_with("backend.") && !k.starts_with("backends."))
        .cloned()
        .collect();
    // A config without `[backend]` or `[backends.*]` has no such option, not an empty one.
    keys.extend(
        effective
            .iter()
            .filter(|(k, v)| !(matches!(k.as_str(), "backend" | "backends") && is_empty(v)))
            .map(|(k, _)| k.clone()),
    );
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let default = backend_field(&key)
                .and_then(|field| backend_defaults.get(field))
                .or_else(|| defaults.get(&key))
                .cloned()
                .unwrap_or(Value::Null);
            let source = if from_env.contains_key(&key) {
                Source::Env
            } else if in_file.contains_key(&key) {
                Source::File
            } else {
                Source::Default
            };
            let value = effective.get(&key).cloned().unwrap_or(Value::Null);
            ConfigOption {
                value: redact(&key, value),
                default: redact(&key, default),
                env: (!key.contains('[')).then(|| {
                    from_env.get(&key).cloned().unwrap_or_else(|| {
                        format!("SCIMGATE__{}", key.to_uppercase().replace('.', "__"))
                    })
                }),
                source,
                key,
            }
        })
        .collect()
}

/// The field of a backend a key names (`backend.timeout_secs`, `backends.x.timeout_secs`).
fn backend_field(key: &str) -> Option<&str> {
    if let Some(field) = key.strip_prefix("backend.") {
        return Some(field);
    }
    key.strip_prefix("backends.")?
        .split_once('.')
        .map(|(_, field)| field)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `{"a": {"b": 1}, "c": [{"d": 2}]}` as `a.b = 1`, `c[0].d = 2`; an empty table or list is a
/// value of its own.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (name, inner) in map {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                flatten(&key, inner, out);
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            for (i, inner) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), inner, out);
            }
        }
        _ if prefix.is_empty() => {}
        Value::Object(_) => {
            out.insert(prefix.to_owned(), Value::Object(Map::new()));
        }
        _ => {
            out.insert(prefix.to_owned(), value.clone());
        }
    }
}

/// A value as shown: any URL without its password (or its secret-looking query parameters);
/// under a backend's settings, a key whose name says it is secret hidden whole, whatever its
/// type and wherever it sits in the key.
fn redact(key: &str, value: Value) -> Value {
    if let Some((_, setting)) = key.split_once(".settings.") {
        if setting.split(['.', '[']).any(secret_like) {
            return Value::String(REDACTED.to_owned());
        }
    }
    match &value {
        Value::String(text) if text.contains("://") => Value::String(without_password(text)),
        _ => value,
    }
}

/// `postgres://user:pw@host/db?password=pw` → `postgres://user:***@host/db?password=***`; a
/// URL that does not parse shows only its scheme.
fn without_password(text: &str) -> String {
    let Ok(mut url) = reqwest::Url::parse(text) else {
        let scheme = text.split("://").next().unwrap_or_default();
        return format!("{scheme}://{REDACTED}");
    };
    if url.password().is_some() {
        let _ = url.set_password(Some(REDACTED));
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.iter().any(|(k, _)| secret_like(k)) {
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs.into_iter().map(|(k, v)| {
                let shown = if secret_like(&k) {
                    REDACTED.to_owned()
                } else {
                    v
                };
                (k, shown)
            }));
    }
    url.to_string()
}

/// The options as a table for a terminal: key, value, default, environment variable, source.
pub fn table(options: &[ConfigOption]) -> String {
    let show = |v: &Value| match v {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<[String; 5]> = options
        .iter()
        .map(|o| {
            [
                o.key.clone(),
                show(&o.value),
                show(&o.default),
                o.env.clone().unwrap_or_else(|| "—".to_owned()),
                format!("{:?}", o.source).to_lowercase(),
            ]
        })
        .collect();
    let header = ["KEY", "VALUE", "DEFAULT", "ENVIRONMENT", "SOURCE"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw_of(text: &str) -> (RawConfig, toml::Table) {
        (toml::from_str(text).unwrap(), toml::from_str(text).unwrap())
    }

    fn find<'a>(options: &'a [ConfigOption], key: &str) -> &'a ConfigOption {
        options
            .iter()
            .find(|o| o.key == key)
            .unwrap_or_else(|| panic!("no {key} in {options:#?}"))
    }

    #[test]
    fn each_option_says_its_value_default_variable_and_source() {
        let (raw, written) = raw_of(
            r#"
[server]
base_path = "/scim"
[store]
url = "postgres://scim:hunter2@db.internal:5432/scimgate"
[[auth.tokens]]
name = "okta"
env = "OKTA_TOKEN"
[backend]
mapping = "mappings/coder.toml"
base_url = "https://coder.example.com"
credential = { env = "CODER_TOKEN" }
[backend.settings]
organization_id = "org-1"
api_token = "written-here-by-mistake"
"#,
        );
        // The environment overrode the listen address (as RawConfig::read would have).
        let mut raw = raw;
        raw.server.listen = "0.0.0.0:9000".to_owned();
        let env = env_overrides(
            [(
                "SCIMGATE__SERVER__LISTEN".to_owned(),
                "0.0.0.0:9000".to_owned(),
            )]
            .into_iter(),
        );
        let options = listing(&raw, &written, &env);
        let listen = find(&options, "server.listen");
        assert_eq!(listen.value, "0.0.0.0:9000");
        assert_eq!(listen.default, "127.0.0.1:8080");
        assert_eq!(listen.source, Source::Env);
        assert_eq!(listen.env.as_deref(), Some("SCIMGATE__SERVER__LISTEN"));
        let base_path = find(&options, "server.base_path");
        assert_eq!(
            (base_path.source, &base_path.value),
            (Source::File, &Value::from("/scim"))
        );
        let timeout = find(&options, "server.request_timeout_secs");
        assert_eq!(
            (timeout.source, &timeout.value),
            (Source::Default, &Value::from(30))
        );
        assert_eq!(
            timeout.env.as_deref(),
            Some("SCIMGATE__SERVER__REQUEST_TIMEOUT_SECS")
        );
        // Unset options with no default are listed too.
        assert_eq!(find(&options, "server.public_url").value, Value::Null);
        // A backend's defaults, and references shown as what they are.
        let backend_timeout = find(&options, "backend.timeout_secs");
        assert_eq!(backend_timeout.default, 10);
        assert_eq!(backend_timeout.source, Source::Default);
        assert_eq!(
            find(&options, "backend.credential.env").value,
            "CODER_TOKEN"
        );
        let token = find(&options, "auth.tokens[0].env");
        assert_eq!(
            (token.value.clone(), token.env.clone()),
            (Value::from("OKTA_TOKEN"), None)
        );
        // Redacted: the store's password, a secret-looking setting; nothing else.
        let store = find(&options, "store.url");
        assert_eq!(store.value, "postgres://scim:***@db.internal:5432/scimgate");
        assert_eq!(find(&options, "backend.settings.api_token").value, REDACTED);
        assert_eq!(
            find(&options, "backend.settings.organization_id").value,
            "org-1"
        );
        let text = table(&options);
        assert!(
            !text.contains("hunter2") && !text.contains("written-here"),
            "{text}"
        );
        assert!(text.starts_with("KEY"), "{text}");
    }

    #[test]
    fn urls_lose_only_their_password() {
        for (url, shown) in [
            ("postgres://u:p@h/db", "postgres://u:***@h/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("sqlite://scimgate.sqlite", "sqlite://scimgate.sqlite"),
            ("postgres://u:p%40ss@h:5432", "postgres://u:***@h:5432"),
            (
                "postgres://u@h/db?password=hunter2&sslmode=require",
                "postgres://u@h/db?password=***&sslmode=require",
            ),
            (
                "https://user:pw@coder.example.com",
                "https://user:***@coder.example.com/",
            ),
            // An unencoded `/` in the password: not a URL that parses the way it was meant.
            ("postgres://u:pa/ss@h/db", "postgres://***"),
        ] {
            let out = without_password(url);
            assert_eq!(out, shown, "{url}");
            assert!(!out.contains("hunter2") && !out.contains("pa/ss"));
        }
        for (key, value) in [
            ("backend.settings.api_token", json!("t")),
            ("backend.settings.api_token.value", json!("t")),
            ("backends.x.settings.oauth.client_secret", json!({"a": 1})),
            ("backend.settings.private_key", json!(42)),
        ] {
            assert_eq!(redact(key, value), json!(REDACTED), "{key}");
        }
        assert_eq!(
            redact("backend.settings.organization_id", json!("o")),
            json!("o")
        );
    }
}
