//! Extension schemas a tenant declares (RFC 7643 §3.3, §7): an IdP's own attributes, such as
//! Microsoft Entra ID's `urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User`,
//! added to a resource type for that tenant. The gateway keeps their values (the platform has
//! no place for them), answers them back, validates them like any attribute, and lists the
//! schemas in `/Schemas` and the resource type's `schemaExtensions`.
//!
//! A declaration is `{"resourceType": "User", "schema": <an RFC 7643 §7 schema>}`; the schema
//! as `/Schemas` serves it (with `schemas` and `meta`) is accepted too.

use serde_json::Value;

use super::schema::{Registry, Schema, SchemaExtension};
use super::v1::{CORE_V1, ENTERPRISE_V1};

/// The most extension schemas one tenant declares.
pub const MAX_DECLARED: usize = 20;

/// One declared extension: the resource type it extends and its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    /// The resource type's id (`User`, `Group`).
    pub resource_type: String,
    /// The extension schema.
    pub schema: Schema,
}

/// Reads declarations (a JSON array, as stored and as the admin API takes them) against the
/// registry they extend; every problem names the declaration and key.
pub fn parse_declared(value: &Value, base: &Registry) -> Result<Vec<Declared>, String> {
    let Some(items) = value.as_array() else {
        return Err("extensions must be an array of {\"resourceType\", \"schema\"}".to_owned());
    };
    if items.len() > MAX_DECLARED {
        return Err(format!(
            "at most {MAX_DECLARED} extension schemas, not {}",
            items.len()
        ));
    }
    let mut out: Vec<Declared> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = |key: &str, why: String| format!("extensions[{i}].{key}: {why}");
        let Some(object) = item.as_object() else {
            return Err(format!("extensions[{i}] must be an object"));
        };
        if let Some(key) = object
            .keys()
            .find(|k| !["resourceType", "schema"].contains(&k.as_str()))
        {
            return Err(at(
                key,
                "unknown key; known: resourceType, schema".to_owned(),
            ));
        }
        let resource_type = object
            .get("resourceType")
            .and_then(Value::as_str)
            .ok_or_else(|| at("resourceType", "required: User or Group".to_owned()))?;
        let Some(rt) = base.resource_type(resource_type) else {
            return Err(at(
                "resourceType",
                format!("`{resource_type}` is not a resource type served"),
            ));
        };
        let mut raw = object
            .get("schema")
            .cloned()
            .ok_or_else(|| at("schema", "required: an RFC 7643 schema".to_owned()))?;
        // As /Schemas serves it: its own `schemas` and `meta` are not part of the definition.
        if let Some(map) = raw.as_object_mut() {
            map.remove("schemas");
            map.remove("meta");
        }
        let schema: Schema = serde_json::from_value(raw)
            .map_err(|e| at("schema", format!("not an RFC 7643 schema: {e}")))?;
        let urn = schema.id.as_str();
        if !urn.to_ascii_lowercase().starts_with("urn:") || urn.contains(char::is_whitespace) {
            return Err(at("schema.id", format!("`{urn}` is not a URN")));
        }
        let taken = base.schema(urn).is_some()
            || [CORE_V1, ENTERPRISE_V1]
                .iter()
                .any(|v1| urn.eq_ignore_ascii_case(v1))
            || out.iter().any(|d| d.schema.id.eq_ignore_ascii_case(urn));
        if taken {
            return Err(at(
                "schema.id",
                format!("`{urn}` is a schema the gateway has already"),
            ));
        }
        if schema.attributes.is_empty() {
            return Err(at("schema.attributes", "at least one attribute".to_owned()));
        }
        for (j, attribute) in schema.attributes.iter().enumerate() {
            let name = attribute.name.as_str();
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
            if !valid {
                return Err(at(
                    &format!("schema.attributes[{j}].name"),
                    format!("`{name}` is not an attribute name (RFC 7643 §2.1: ATTRNAME)"),
                ));
            }
            let twice = schema
                .attributes
                .iter()
                .filter(|a| a.name.eq_ignore_ascii_case(name))
                .count()
                > 1;
            if twice {
                return Err(at(
                    &format!("schema.attributes[{j}].name"),
                    format!("`{name}` is declared twice"),
                ));
            }
        }
        out.push(Declared {
            resource_type: rt.id.clone(),
            schema,
        });
    }
    Ok(out)
}

impl Registry {
    /// This registry with declared extension schemas added to their resource types (optional:
    /// a resource without them stays valid).
    pub fn with_declared(&self, declared: &[Declared]) -> Registry {
        let mut registry = self.clone();
        for d in declared {
            registry.add_extension(
                &d.resource_type,
                d.schema.clone(),
                SchemaExtension {
                    schema: d.schema.id.clone(),
                    required: false,
                },
            );
        }
        registry
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

    fn declaration() -> Value {
        json!([{"resourceType": "User", "schema": {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": CUSTOM, "name": "CustomExtension", "description": "Entra's own",
            "attributes": [{
                "name": "costCenter", "type": "string", "multiValued": false,
                "required": false, "caseExact": false, "mutability": "readWrite",
                "returned": "default", "uniqueness": "none"
            }],
            "meta": {"resourceType": "Schema"}
        }}])
    }

    #[test]
    fn a_declared_extension_joins_its_resource_type() {
        let base = Registry::standard().unwrap();
        let declared = parse_declared(&declaration(), &base).unwrap();
        let registry = base.with_declared(&declared);
        let rt = registry.resource_type("User").unwrap();
        let ext = registry.extension_schema(rt, CUSTOM).unwrap();
        assert!(ext.attribute("costCenter").is_some());
        assert!(registry.schema(CUSTOM).is_some());
        assert!(base.schema(CUSTOM).is_none());
        let group = registry.resource_type("Group").unwrap();
        assert!(registry.extension_schema(group, CUSTOM).is_none());
    }

    #[test]
    fn mistakes_are_named_with_their_key() {
        let base = Registry::standard().unwrap();
        let err = |v: Value| parse_declared(&v, &base).unwrap_err();
        assert!(err(json!({})).contains("array"));
        assert!(err(json!([{"resourceType": "Device", "schema": {}}])).contains("resourceType"));
        assert!(err(json!([{"resourceType": "User"}])).contains("schema"));
        let mut core = declaration();
        core[0]["schema"]["id"] = json!("urn:ietf:params:scim:schemas:core:2.0:User");
        assert!(err(core).contains("already"));
        let mut not_urn = declaration();
        not_urn[0]["schema"]["id"] = json!("custom");
        assert!(err(not_urn).contains("not a URN"));
        let mut bad_type = declaration();
        bad_type[0]["schema"]["attributes"][0]["type"] = json!("money");
        assert!(err(bad_type).contains("extensions[0].schema"));
        let mut bad_name = declaration();
        bad_name[0]["schema"]["attributes"][0]["name"] = json!("cost center");
        assert!(err(bad_name).contains("attributes[0].name"));
        let twice = json!([declaration()[0].clone(), declaration()[0].clone()]);
        assert!(err(twice).contains("already"));
        let mut extra = declaration();
        extra[0]["colour"] = json!("red");
        assert!(err(extra).contains("colour"));
    }
}
