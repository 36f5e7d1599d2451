//! Secrets by reference: a config names an environment variable or a file, never the secret
//! itself, and a [`Secret`] never prints its value.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a secret comes from: `{ env = "NAME" }` or `{ file = "path" }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The environment variable holding the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The file holding the secret, relative to the config file's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

impl SecretRef {
    /// A reference to the environment variable `name`.
    pub fn env(name: &str) -> Self {
        SecretRef {
            env: Some(name.to_owned()),
            file: None,
        }
    }

    /// Reads the secret, trimmed, taking a relative file path from `base_dir`; an error when
    /// it is missing or empty, or unless exactly one of `env` and `file` is given.
    pub fn resolve(&self, base_dir: &Path) -> Result<Secret, String> {
        self.resolve_as(base_dir, Secrets::Read)
    }

    /// [`SecretRef::resolve`], or with [`Secrets::Withheld`] only its form checked and a
    /// placeholder in place of the value (`scimgate explain` needs no secret).
    pub fn resolve_as(&self, base_dir: &Path, secrets: Secrets) -> Result<Secret, String> {
        if secrets == Secrets::Withheld {
            return match (&self.env, &self.file) {
                (Some(_), None) | (None, Some(_)) => Ok(Secret::new(WITHHELD.to_owned())),
                _ => Err("give exactly one of `env` or `file`".to_owned()),
            };
        }
        match (&self.env, &self.file) {
            (Some(var), None) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim().to_owned())),
                Ok(_) => Err(format!("environment variable {var} is empty")),
                Err(_) => Err(format!("environment variable {var} is not set")),
            },
            (None, Some(file)) => {
                let path = base_dir.join(file);
                match std::fs::read_to_string(&path) {
                    Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim().to_owned())),
                    Ok(_) => Err(format!("secret file {} is empty", path.display())),
                    Err(e) => Err(format!("cannot read secret file {}: {e}", path.display())),
                }
            }
            _ => Err("give exactly one of `env` or `file`".to_owned()),
        }
    }
}

/// Whether compiling a config reads its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Read every secret (serve, check).
    Read,
    /// Read none: each becomes [`WITHHELD`] (explain, which sends nothing anywhere).
    Withheld,
}

/// What a withheld secret reads as (long enough for the token length rule).
pub const WITHHELD: &str = "***withheld-secret***";

/// A secret value; `Debug` and `Display` show only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The value itself, to compare or send it; never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}
