//! SCIM 1.1 (the 2012 core schema and protocol drafts that OneLogin's templates and Okta's
//! on-premises agent still speak), translated to and from the 2.0 forms the rest of the core
//! reads, so a 1.1 request takes the same path as a 2.0 one:
//!
//! - resources: the 1.1 URNs (`urn:scim:schemas:core:1.0`, the enterprise extension
//!   `urn:scim:schemas:extension:enterprise:1.0`) for RFC 7643's; `meta.resourceType` and
//!   `$ref`, which 1.1 does not have, left out of answers; the enterprise `manager` is 1.1's
//!   `{"managerId", "displayName"}` for 2.0's `{"value", "$ref", "displayName"}`;
//! - PATCH (1.1 §3.3.2): a partial resource, read as 2.0 operations: `meta.attributes` names
//!   attributes to remove; a multi-valued attribute's elements are added, except those marked
//!   `"operation": "delete"`, which are removed (found by `value`); other attributes replace
//!   (a complex one sub-attribute by sub-attribute);
//! - answers: list responses with the 1.1 `schemas`, errors as `{"Errors": [{"description",
//!   "code"}]}` (1.1 §3.9);
//! - discovery: `/ServiceProviderConfigs` (1.1 §4) and `/Schemas` (1.1 §7) from the 2.0
//!   documents.
//!
//! A 1.1 body is recognised by its `schemas` naming a 1.1 URN ([`is_v1_body`]): the lenient
//! dialect reads one that arrives at the 2.0 URL too.

use serde_json::{json, Map, Value};

use super::error::{ScimError, ScimType};
use super::op::ResourceKind;
use super::path::parse_attr_path;
use super::{ENTERPRISE_USER_SCHEMA, ERROR_SCHEMA, LIST_RESPONSE_SCHEMA, PATCH_OP_SCHEMA};
use super::{GROUP_SCHEMA, USER_SCHEMA};

/// The 1.1 core schema, of users and groups alike.
pub const CORE_V1: &str = "urn:scim:schemas:core:1.0";
/// The 1.1 enterprise user extension.
pub const ENTERPRISE_V1: &str = "urn:scim:schemas:extension:enterprise:1.0";

/// The 2.0 URN of a 1.1 one for a resource type (the core one names users and groups alike).
fn urn_to_v2(kind: ResourceKind, urn: &str) -> Option<&'static str> {
    if urn.eq_ignore_ascii_case(CORE_V1) {
        Some(match kind {
            ResourceKind::User => USER_SCHEMA,
            ResourceKind::Group => GROUP_SCHEMA,
        })
    } else if urn.eq_ignore_ascii_case(ENTERPRISE_V1) {
        Some(ENTERPRISE_USER_SCHEMA)
    } else {
        None
    }
}

/// The 1.1 URN of a 2.0 one.
fn urn_to_v1(urn: &str) -> Option<&'static str> {
    if urn.eq_ignore_ascii_case(USER_SCHEMA) || urn.eq_ignore_ascii_case(GROUP_SCHEMA) {
        Some(CORE_V1)
    } else if urn.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
        Some(ENTERPRISE_V1)
    } else {
        None
    }
}

/// Whether a request body is in 1.1 form: its `schemas` names a 1.1 URN.
pub fn is_v1_body(body: &Value) -> bool {
    body.get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|schemas| {
            schemas
                .iter()
                .filter_map(Value::as_str)
                .any(|s| s.eq_ignore_ascii_case(CORE_V1) || s.eq_ignore_ascii_case(ENTERPRISE_V1))
        })
}

/// A 1.1 attribute path (`meta.attributes`) in 2.0 form: a 1.1 extension URN prefix becomes
/// the 2.0 one.
fn path_to_v2(kind: ResourceKind, path: &str) -> String {
    for v1 in [ENTERPRISE_V1, CORE_V1] {
        let prefix = format!("{v1}:");
        let head = path.get(..prefix.len());
        let rest = path.get(prefix.len()..).filter(|r| !r.is_empty());
        if let (Some(head), Some(rest)) = (head, rest) {
            if head.eq_ignore_ascii_case(&prefix) {
                if let Some(v2) = urn_to_v2(kind, v1) {
                    return format!("{v2}:{rest}");
                }
            }
        }
    }
    path.to_owned()
}

/// A 1.1 query parameter naming attributes (`filter`, `attributes`, `excludedAttributes`,
/// `sortBy`) in 2.0 form: the 1.1 URN prefixes and `manager.managerId` translated.
pub fn query_value_to_v2(kind: ResourceKind, value: &str) -> String {
    let mut out = value.to_owned();
    for v1 in [ENTERPRISE_V1, CORE_V1] {
        if let Some(v2) = urn_to_v2(kind, v1) {
            out = out.replace(&format!("{v1}:"), &format!("{v2}:"));
        }
    }
    out.replace("manager.managerId", "manager.value")
}

/// A 1.1 resource (a POST or PUT body) in 2.0 form. The `operation` markers of multi-valued
/// elements, which only PATCH gives meaning to, are dropped.
pub fn resource_to_v2(kind: ResourceKind, body: &Value) -> Value {
    let Value::Object(members) = body else {
        return body.clone();
    };
    let mut out = Map::with_capacity(members.len());
    for (key, value) in members {
        if key.eq_ignore_ascii_case("schemas") {
            let schemas: Vec<Value> = value
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| match s.as_str().and_then(|s| urn_to_v2(kind, s)) {
                    Some(v2) => Value::from(v2),
                    None => s.clone(),
                })
                .collect();
            out.insert(key.clone(), Value::Array(schemas));
        } else if let Some(v2) = urn_to_v2(kind, key) {
            out.insert(v2.to_owned(), manager_to_v2(value));
        } else if let Value::Array(items) = value {
            let items = items.iter().map(without_operation).collect();
            out.insert(key.clone(), Value::Array(items));
        } else {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

/// An enterprise extension object with 1.1's `manager.managerId` as 2.0's `manager.value`.
fn manager_to_v2(extension: &Value) -> Value {
    let mut extension = extension.clone();
    if let Some(Value::Object(manager)) = extension.get_mut("manager") {
        if let Some(id) = manager.remove("managerId") {
            manager.insert("value".to_owned(), id);
        }
    }
    extension
}

/// An enterprise extension object with 2.0's `manager.value` as 1.1's `manager.managerId`
/// (and no `$ref`).
fn manager_to_v1(extension: &Value) -> Value {
    let mut extension = extension.clone();
    if let Some(Value::Object(manager)) = extension.get_mut("manager") {
        manager.remove("$ref");
        if let Some(id) = manager.remove("value") {
            manager.insert("managerId".to_owned(), id);
        }
    }
    extension
}

/// A 1.1 attribute name as a PATCH path: a name, a sub-attribute, or a URN-qualified one,
/// never a value filter (a body key or `meta.attributes` entry is no place for one).
fn checked_name(kind: ResourceKind, name: &str) -> Result<String, ScimError> {
    let path = path_to_v2(kind, name);
    let plain = parse_attr_path(&path).is_ok() && !path.contains(['[', ']', '"', ' ']);
    if plain {
        // 1.1's manager id is 2.0's manager value.
        Ok(path.replace("manager.managerId", "manager.value"))
    } else {
        Err(ScimError::bad_request(
            ScimType::InvalidPath,
            format!("`{name}` is not an attribute name"),
        ))
    }
}

/// A multi-valued element without its 1.1 `operation` marker.
fn without_operation(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(element) = item.as_object_mut() {
        element.remove("operation");
    }
    item
}

fn op(op: &str, path: &str, value: Option<Value>) -> Value {
    let mut o = json!({"op": op, "path": path});
    if let (Some(value), Some(map)) = (value, o.as_object_mut()) {
        map.insert("value".to_owned(), value);
    }
    o
}

/// A JSON value as a filter literal (a string quoted and escaped, others as they are).
fn literal(value: &Value) -> String {
    value.to_string()
}

/// A 1.1 PATCH body (a partial resource, 1.1 §3.3.2) as a 2.0 PatchOp request.
pub fn patch_to_v2(kind: ResourceKind, body: &Value) -> Result<Value, ScimError> {
    let Value::Object(members) = body else {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "a SCIM 1.1 PATCH body is a JSON object of attributes",
        ));
    };
    let mut ops = Vec::new();
    // 1.1: the attributes `meta.attributes` names are removed first, then the rest applied.
    if let Some(removed) = members.get("meta").and_then(|m| m.get("attributes")) {
        let Some(names) = removed.as_array() else {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "meta.attributes lists the attributes to remove",
            ));
        };
        for name in names {
            let Some(name) = name.as_str() else {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    "meta.attributes lists attribute names",
                ));
            };
            ops.push(op("remove", &checked_name(kind, name)?, None));
        }
    }
    for (key, value) in members {
        if ["schemas", "meta", "id"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
        {
            continue;
        }
        if let Some(v2) = urn_to_v2(kind, key) {
            let Value::Object(extension) = value else {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("{key} is an object of attributes"),
                ));
            };
            for (name, value) in extension {
                let path = checked_name(kind, &format!("{v2}:{name}"))?;
                let value = match name.as_str() {
                    "manager" => manager_to_v2(&json!({ "manager": value }))
                        .get("manager")
                        .cloned()
                        .unwrap_or(Value::Null),
                    _ => value.clone(),
                };
                ops.push(op("replace", &path, Some(value)));
            }
            continue;
        }
        let key = &checked_name(kind, key)?;
        let Value::Array(items) = value else {
            ops.push(op("replace", key, Some(value.clone())));
            continue;
        };
        let mut added = Vec::new();
        for item in items {
            let deleting = item
                .get("operation")
                .and_then(Value::as_str)
                .is_some_and(|o| o.eq_ignore_ascii_case("delete"));
            if !deleting {
                added.push(without_operation(item));
                continue;
            }
            // 1.1 finds the element to delete by its value (and, without one, its type).
            let filter = match (item.get("value"), item.get("type")) {
                (Some(v), _) if !v.is_null() => format!("value eq {}", literal(v)),
                (_, Some(t)) if !t.is_null() => format!("type eq {}", literal(t)),
                _ => {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidValue,
                        format!(
                            "an element of {key} marked \"operation\": \"delete\" needs a value"
                        ),
                    ))
                }
            };
            ops.push(op("remove", &format!("{key}[{filter}]"), None));
        }
        if !added.is_empty() {
            ops.push(op("add", key, Some(Value::Array(added))));
        }
    }
    Ok(json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops}))
}

/// A 2.0 resource in 1.1 form.
pub fn resource_to_v1(resource: &Value) -> Value {
    let Value::Object(members) = resource else {
        return resource.clone();
    };
    let mut out = Map::with_capacity(members.len());
    for (key, value) in members {
        if key == "schemas" {
            let mut schemas: Vec<Value> = Vec::new();
            for s in value.as_array().into_iter().flatten() {
                let v1 = s.as_str().and_then(urn_to_v1).map(Value::from);
                let s = v1.unwrap_or_else(|| s.clone());
                if !schemas.contains(&s) {
                    schemas.push(s);
                }
            }
            out.insert(key.clone(), Value::Array(schemas));
        } else if let Some(v1) = urn_to_v1(key) {
            out.insert(v1.to_owned(), manager_to_v1(value));
        } else if key == "meta" {
            let mut meta = value.clone();
            if let Some(m) = meta.as_object_mut() {
                m.remove("resourceType");
            }
            out.insert(key.clone(), meta);
        } else if let Value::Array(items) = value {
            let items = items
                .iter()
                .map(|item| {
                    let mut item = item.clone();
                    if let Some(element) = item.as_object_mut() {
                        element.remove("$ref");
                    }
                    item
                })
                .collect();
            out.insert(key.clone(), Value::Array(items));
        } else {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

/// A 2.0 answer body (a resource, a list, an error) with its status, in 1.1 form.
pub fn answer_to_v1(status: u16, body: &Value) -> Value {
    let has_schema = |urn: &str| {
        body.get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(urn)))
    };
    if has_schema(ERROR_SCHEMA) {
        let description = body
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("the request failed");
        return json!({"Errors": [{"description": description, "code": status.to_string()}]});
    }
    if has_schema(LIST_RESPONSE_SCHEMA) {
        let resources: Vec<Value> = body
            .get("Resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(resource_to_v1)
            .collect();
        return json!({
            "schemas": [CORE_V1],
            "totalResults": body.get("totalResults").cloned().unwrap_or(Value::from(0)),
            "itemsPerPage": body.get("itemsPerPage").cloned().unwrap_or(Value::from(resources.len())),
            "startIndex": body.get("startIndex").cloned().unwrap_or(Value::from(1)),
            "Resources": resources,
        });
    }
    resource_to_v1(body)
}

/// The 1.1 service provider configuration (1.1 §4, `/ServiceProviderConfigs`) from the 2.0
/// one. `/Bulk` is not served in 1.1 (it is at the 2.0 URL).
pub fn service_provider_config_v1(v2: &Value) -> Value {
    let feature = |name: &str| v2.get(name).cloned().unwrap_or(json!({"supported": false}));
    json!({
        "schemas": [CORE_V1],
        "patch": feature("patch"),
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": feature("filter"),
        "changePassword": feature("changePassword"),
        "sort": feature("sort"),
        "etag": feature("etag"),
        "xmlDataFormat": {"supported": false},
        "authenticationSchemes": v2.get("authenticationSchemes").cloned().unwrap_or(json!([])),
    })
}

/// A 2.0 attribute definition (RFC 7643 §7) in 1.1 form (1.1 §7: `readOnly` for
/// `mutability`, the schema named on each).
fn attribute_to_v1(attribute: &Value, schema: &str) -> Value {
    let get = |k: &str| attribute.get(k).cloned().unwrap_or(Value::Null);
    let mut out = json!({
        "name": get("name"),
        "type": get("type"),
        "multiValued": get("multiValued"),
        "description": get("description"),
        "schema": schema,
        "readOnly": attribute.get("mutability").and_then(Value::as_str) == Some("readOnly"),
        "required": get("required"),
        "caseExact": get("caseExact"),
    });
    if let (Some(subs), Some(map)) = (
        attribute.get("subAttributes").and_then(Value::as_array),
        out.as_object_mut(),
    ) {
        let subs = subs.iter().map(|s| attribute_to_v1(s, schema)).collect();
        map.insert("subAttributes".to_owned(), Value::Array(subs));
    }
    out
}

/// The 1.1 resource schema (1.1 §7) of a resource type, from its 2.0 schemas (`core` and the
/// extensions it has): one document of all their attributes, at `endpoint`.
pub fn resource_schema_v1(kind: ResourceKind, core: &Value, extensions: &[&Value]) -> Value {
    let mut attributes: Vec<Value> = core
        .get("attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|a| attribute_to_v1(a, CORE_V1))
        .collect();
    for extension in extensions {
        let urn = extension
            .get("id")
            .and_then(Value::as_str)
            .and_then(urn_to_v1)
            .unwrap_or(ENTERPRISE_V1);
        attributes.extend(
            extension
                .get("attributes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|a| attribute_to_v1(a, urn)),
        );
    }
    json!({
        "id": format!("{CORE_V1}:{}", kind.name()),
        "name": kind.name(),
        "description": core.get("description").cloned().unwrap_or(Value::Null),
        "schema": CORE_V1,
        "endpoint": format!("/{}s", kind.name()),
        "attributes": attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 1.1 draft's user example (core schema §12, abridged), as OneLogin sends it.
    fn v1_user() -> Value {
        json!({
            "schemas": [CORE_V1, ENTERPRISE_V1],
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "title": "Tour Guide",
            ENTERPRISE_V1: {"employeeNumber": "701984", "department": "Tour Operations"},
        })
    }

    #[test]
    fn a_v1_resource_reads_as_v2_and_answers_as_v1() {
        assert!(is_v1_body(&v1_user()));
        let v2 = resource_to_v2(ResourceKind::User, &v1_user());
        assert_eq!(v2["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
        assert_eq!(v2[ENTERPRISE_USER_SCHEMA]["employeeNumber"], "701984");
        assert!(v2.get(ENTERPRISE_V1).is_none());
        assert!(!is_v1_body(&v2));
        let group = resource_to_v2(
            ResourceKind::Group,
            &json!({"schemas": [CORE_V1], "displayName": "Tour Guides"}),
        );
        assert_eq!(group["schemas"], json!([GROUP_SCHEMA]));

        let mut answered = v2.clone();
        answered["id"] = json!("2819c223");
        answered["meta"] =
            json!({"resourceType": "User", "location": "https://x/scim/v1/Users/2819c223"});
        answered["groups"] =
            json!([{"value": "e9e3", "$ref": "https://x/Groups/e9e3", "display": "Tour Guides"}]);
        let v1 = resource_to_v1(&answered);
        assert_eq!(v1["schemas"], json!([CORE_V1, ENTERPRISE_V1]));
        assert_eq!(v1[ENTERPRISE_V1]["department"], "Tour Operations");
        assert!(v1["meta"].get("resourceType").is_none());
        assert_eq!(v1["meta"]["location"], "https://x/scim/v1/Users/2819c223");
        assert!(v1["groups"][0].get("$ref").is_none());
    }

    /// 1.1 §3.3.2's examples: members added, one deleted by `operation`, attributes removed by
    /// `meta.attributes`.
    #[test]
    fn a_v1_patch_reads_as_v2_operations() {
        let body = json!({
            "schemas": [CORE_V1],
            "members": [
                {"display": "Babs Jensen", "value": "2819c223"},
                {"display": "Mandy Pepperidge", "value": "902c246b", "operation": "delete"},
            ],
            "meta": {"attributes": ["title", "urn:scim:schemas:extension:enterprise:1.0:department"]},
            "displayName": "Tour Guides",
        });
        let patch = patch_to_v2(ResourceKind::Group, &body).unwrap();
        assert_eq!(patch["schemas"], json!([PATCH_OP_SCHEMA]));
        assert_eq!(
            patch["Operations"],
            json!([
                {"op": "remove", "path": "title"},
                {"op": "remove", "path": format!("{ENTERPRISE_USER_SCHEMA}:department")},
                {"op": "remove", "path": "members[value eq \"902c246b\"]"},
                {"op": "add", "path": "members", "value": [{"display": "Babs Jensen", "value": "2819c223"}]},
                {"op": "replace", "path": "displayName", "value": "Tour Guides"},
            ])
        );
        let user = patch_to_v2(
            ResourceKind::User,
            &json!({
                "schemas": [CORE_V1],
                "name": {"givenName": "Babs"},
                "emails": [{"type": "home", "operation": "delete"}],
                ENTERPRISE_V1: {"employeeNumber": "42"},
            }),
        )
        .unwrap();
        assert_eq!(
            user["Operations"],
            json!([
                {"op": "replace", "path": "name", "value": {"givenName": "Babs"}},
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "replace", "path": format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber"), "value": "42"},
            ])
        );
        // A delete marker that names nothing, a meta.attributes that is no list: refused.
        assert!(patch_to_v2(
            ResourceKind::Group,
            &json!({"members": [{"operation": "delete"}]})
        )
        .is_err());
        assert!(patch_to_v2(
            ResourceKind::User,
            &json!({"meta": {"attributes": "title"}})
        )
        .is_err());
        // A quote in a value stays inside the filter's string.
        let tricky = patch_to_v2(
            ResourceKind::Group,
            &json!({"members": [{"value": "a\" or true", "operation": "delete"}]}),
        )
        .unwrap();
        assert_eq!(
            tricky["Operations"][0]["path"],
            "members[value eq \"a\\\" or true\"]"
        );
    }

    #[test]
    fn the_manager_names_and_filter_like_names() {
        let body = json!({"schemas": [CORE_V1, ENTERPRISE_V1], "userName": "a",
                          ENTERPRISE_V1: {"manager": {"managerId": "26118915", "displayName": "John"}}});
        let v2 = resource_to_v2(ResourceKind::User, &body);
        assert_eq!(v2[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "26118915");
        let mut answered = v2.clone();
        answered[ENTERPRISE_USER_SCHEMA]["manager"]["$ref"] = json!("https://x/Users/26118915");
        let v1 = resource_to_v1(&answered);
        assert_eq!(
            v1[ENTERPRISE_V1]["manager"],
            json!({"managerId": "26118915", "displayName": "John"})
        );
        let patch = patch_to_v2(
            ResourceKind::User,
            &json!({ENTERPRISE_V1: {"manager": {"managerId": "7"}}}),
        )
        .unwrap();
        assert_eq!(patch["Operations"][0]["value"], json!({"value": "7"}));
        let removed = patch_to_v2(
            ResourceKind::User,
            &json!({"meta": {"attributes": [
            "urn:scim:schemas:extension:enterprise:1.0:manager.managerId"]}}),
        )
        .unwrap();
        assert_eq!(
            removed["Operations"][0]["path"],
            format!("{ENTERPRISE_USER_SCHEMA}:manager.value")
        );
        // A body key or meta.attributes entry is a name, never a filter.
        for body in [
            json!({"meta": {"attributes": ["emails[type eq \"work\"]"]}}),
            json!({"members[value pr]": [{"value": "x"}]}),
        ] {
            let e = patch_to_v2(ResourceKind::Group, &body).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{body}");
        }
        assert_eq!(
            query_value_to_v2(
                ResourceKind::User,
                "urn:scim:schemas:extension:enterprise:1.0:department eq \"Tours\""
            ),
            format!("{ENTERPRISE_USER_SCHEMA}:department eq \"Tours\"")
        );
    }

    /// A value put into a generated path stays one string literal: the path reads back as a
    /// single comparison with the value as sent.
    #[test]
    fn a_deleted_value_cannot_widen_the_filter() {
        let tricky = patch_to_v2(
            ResourceKind::Group,
            &json!({"members": [{"value": "a\" or value pr or \"", "operation": "delete"}]}),
        )
        .unwrap();
        let path = tricky["Operations"][0]["path"].as_str().unwrap();
        let parsed = crate::scim::path::parse_patch_path(path).unwrap();
        match parsed.filter {
            Some(crate::scim::filter::Filter::Compare { value, .. }) => {
                assert_eq!(
                    value,
                    crate::scim::filter::Literal::String("a\" or value pr or \"".into())
                )
            }
            other => panic!("one comparison expected, not {other:?}"),
        }
    }

    #[test]
    fn answers_are_in_v1_form() {
        let error = json!({"schemas": [ERROR_SCHEMA], "status": "404", "detail": "no User 1"});
        assert_eq!(
            answer_to_v1(404, &error),
            json!({"Errors": [{"description": "no User 1", "code": "404"}]})
        );
        let list = json!({
            "schemas": [LIST_RESPONSE_SCHEMA], "totalResults": 1, "itemsPerPage": 1, "startIndex": 1,
            "Resources": [{"schemas": [USER_SCHEMA], "id": "1", "userName": "a"}],
        });
        let v1 = answer_to_v1(200, &list);
        assert_eq!(v1["schemas"], json!([CORE_V1]));
        assert_eq!(v1["Resources"][0]["schemas"], json!([CORE_V1]));
        assert_eq!(v1["totalResults"], 1);
        let spc = service_provider_config_v1(
            &json!({"patch": {"supported": true}, "filter": {"supported": true, "maxResults": 200}}),
        );
        assert_eq!(spc["schemas"], json!([CORE_V1]));
        assert_eq!(spc["filter"]["maxResults"], 200);
        assert_eq!(spc["bulk"]["supported"], false);
        assert_eq!(spc["xmlDataFormat"]["supported"], false);
    }
}
