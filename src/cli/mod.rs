//! The command line's parts besides `main`: the admin API's clients (`admin`, `oauth`,
//! `drift`, `import`, `requests`) and `explain`.

pub mod admin;
pub mod drift;
pub mod explain;
pub mod import;
pub mod oauth;
pub mod requests;

use std::sync::Arc;

use scimgate::scim::schema::Registry;

/// The built-in SCIM schemas.
pub fn registry() -> anyhow::Result<Arc<Registry>> {
    Ok(Arc::new(Registry::standard().map_err(|e| {
        anyhow::anyhow!("built-in SCIM schemas: {e:?}")
    })?))
}

/// A field of an admin API answer's JSON object (`Null` when absent).
pub fn at<'a>(value: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    value.get(name).unwrap_or(&serde_json::Value::Null)
}
