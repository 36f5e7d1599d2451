//! How the lenient dialect ([`super::Dialect::Lenient`]) reads IdP bodies that RFC 7644 would
//! refuse or misread, before the protocol core sees them; each departure is a line of the
//! dialect's module doc and of the README's table:
//!
//! - operations on, and members of, extension schemas the resource type does not have are left
//!   out (their URNs answered, for a warning) — Entra ID's custom extensions;
//! - a one-element array for a single-valued attribute is that element — Entra ID's manager;
//! - an empty string for a single-valued attribute clears it, as `null` does (RFC 7643 §2.5) —
//!   Entra ID's "null update", which sends `""` for an attribute emptied at the source.

use serde_json::Value;

use super::patch::{PatchOp, PatchOpKind};
use super::path::{parse_attr_path, AttrPath};
use super::schema::{drop_undeclared_extensions, is_undeclared_urn, AttrType, Attribute};
use super::schema::{Registry, ResourceType};

/// PATCH operations as [`super::Dialect::Lenient`] reads them: operations on (and path-less
/// values' members of) schemas the resource type does not have are left out, their names
/// answered for a warning; then [`lenient_single_values`] and [`lenient_empty_strings`].
pub fn lenient_operations(
    registry: &Registry,
    rt: &ResourceType,
    ops: &mut Vec<PatchOp>,
) -> Vec<String> {
    let mut ignored = Vec::new();
    ops.retain_mut(|op| match (&op.path, &mut op.value) {
        (Some(path), _) => {
            let target = path.attr.to_string();
            let undeclared = is_undeclared_urn(registry, rt, &target);
            if undeclared {
                ignored.push(target);
            }
            !undeclared
        }
        (None, Some(value)) => {
            ignored.extend(drop_undeclared_extensions(registry, rt, value));
            true
        }
        (None, None) => true,
    });
    lenient_single_values(registry, rt, ops);
    lenient_multi_values(registry, rt, ops);
    lenient_empty_strings(registry, rt, ops);
    ignored
}

/// For [`super::Dialect::Lenient`]: a single-valued attribute sent as a one-element array, as
/// Microsoft Entra ID sends the manager (`{"op": "Add", "path": "manager", "value":
/// [{"value": "..."}]}`), is read as that element, by path or among the attributes of a
/// path-less operation (extension objects included). Longer arrays stay for the schema check
/// to refuse.
pub fn lenient_single_values(registry: &Registry, rt: &ResourceType, ops: &mut [PatchOp]) {
    let single_valued = |path: &AttrPath| {
        registry
            .resolve(rt, path)
            .is_some_and(|r| !r.sub_attribute.unwrap_or(r.attribute).multi_valued)
    };
    for op in ops {
        let Some(value) = &mut op.value else {
            continue;
        };
        match &op.path {
            Some(path) if path.filter.is_none() && single_valued(&path.attr) => unwrap_one(value),
            Some(_) => {}
            None => {
                let Value::Object(attributes) = value else {
                    continue;
                };
                for (name, v) in attributes.iter_mut() {
                    match registry.extension_schema(rt, name) {
                        Some(ext) => {
                            if let Value::Object(inner) = v {
                                for (name, v) in inner.iter_mut() {
                                    if ext.attribute(name).is_some_and(|a| !a.multi_valued) {
                                        unwrap_one(v);
                                    }
                                }
                            }
                        }
                        None => {
                            if parse_attr_path(name).is_ok_and(|p| single_valued(&p)) {
                                unwrap_one(v);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `[x]` becomes `x`.
fn unwrap_one(value: &mut Value) {
    if let Value::Array(items) = value {
        if items.len() == 1 {
            if let Some(only) = items.pop() {
                *value = only;
            }
        }
    }
}

/// For [`super::Dialect::Lenient`]: an `add` whose path names a multi-valued attribute and
/// whose value is one object (`{"op": "add", "path": "members", "value": {"value": "..."}}`,
/// which RFC 7644 §3.5.2.1's "adds a new value" lets some IdPs read as allowed) is read with
/// that object as a one-element array. A `replace` with one object stays refused (it would
/// silently drop every other value), as strict refuses both (400 `invalidValue`, RFC 7643
/// §2.4) and both dialects refuse a lone object in a resource body.
pub fn lenient_multi_values(registry: &Registry, rt: &ResourceType, ops: &mut [PatchOp]) {
    for op in ops {
        let (Some(path), Some(value @ Value::Object(_))) = (&op.path, &mut op.value) else {
            continue;
        };
        let multi = path.filter.is_none()
            && path.attr.sub.is_none()
            && registry
                .resolve(rt, &path.attr)
                .is_some_and(|r| r.sub_attribute.is_none() && r.attribute.multi_valued);
        if multi && op.op == PatchOpKind::Add {
            *value = Value::Array(vec![value.take()]);
        }
    }
}

/// The single-valued attribute (or sub-attribute) a path without a filter names, when its
/// value is simple (not complex): what an empty string clears.
fn simple_single<'r>(
    registry: &'r Registry,
    rt: &ResourceType,
    path: &AttrPath,
) -> Option<&'r Attribute> {
    let resolved = registry.resolve(rt, path)?;
    let leaf = resolved.sub_attribute.unwrap_or(resolved.attribute);
    (!leaf.multi_valued && leaf.attr_type != AttrType::Complex).then_some(leaf)
}

/// For [`super::Dialect::Lenient`]: an operation setting a single-valued simple attribute to
/// `""` removes it; `""` sub-attributes in the value of a single-valued complex attribute
/// (`name`) are removed by operations of their own (a replace leaves sub-attributes it does
/// not name as they are, §3.5.2.3); `""` members of path-less values become `null`, which
/// clears them.
pub fn lenient_empty_strings(registry: &Registry, rt: &ResourceType, ops: &mut Vec<PatchOp>) {
    let mut i = 0;
    while let Some(op) = ops.get_mut(i) {
        i += 1;
        if op.op == PatchOpKind::Remove {
            continue;
        }
        let mut removals = Vec::new();
        match (&op.path, &mut op.value) {
            (Some(path), Some(Value::String(s)))
                if s.is_empty()
                    && path.filter.is_none()
                    && simple_single(registry, rt, &path.attr).is_some() =>
            {
                op.op = PatchOpKind::Remove;
                op.value = None;
            }
            (Some(path), Some(Value::Object(inner))) if path.filter.is_none() => {
                let complex = registry
                    .resolve(rt, &path.attr)
                    .filter(|r| r.sub_attribute.is_none() && !r.attribute.multi_valued);
                if let Some(resolved) = complex {
                    inner.retain(|name, v| {
                        let emptied = matches!(v, Value::String(s) if s.is_empty())
                            && resolved
                                .attribute
                                .sub(name)
                                .is_some_and(|sub| !sub.multi_valued);
                        if emptied {
                            let mut sub_path = path.clone();
                            sub_path.attr.sub = Some(name.clone());
                            removals.push(PatchOp {
                                op: PatchOpKind::Remove,
                                path: Some(sub_path),
                                value: None,
                            });
                        }
                        !emptied
                    });
                }
            }
            (None, Some(value)) => clear_empty_strings(registry, rt, value),
            _ => {}
        }
        let added = removals.len();
        ops.splice(i..i, removals);
        i += added;
    }
}

/// For [`super::Dialect::Lenient`]: the `""` members of a resource body (POST, PUT, a
/// path-less PATCH value) that are single-valued simple attributes, or sub-attributes of a
/// single-valued complex one, become `null` (unassigned, RFC 7643 §2.5).
pub fn clear_empty_strings(registry: &Registry, rt: &ResourceType, body: &mut Value) {
    let Value::Object(members) = body else {
        return;
    };
    for (name, value) in members.iter_mut() {
        if let Some(ext) = registry.extension_schema(rt, name) {
            if let Value::Object(inner) = value {
                for (name, value) in inner.iter_mut() {
                    if let Some(attr) = ext.attribute(name) {
                        clear_member(attr, value);
                    }
                }
            }
            continue;
        }
        let Ok(path) = parse_attr_path(name) else {
            continue;
        };
        if let Some(resolved) = registry.resolve(rt, &path) {
            match resolved.sub_attribute {
                Some(sub) => clear_member(sub, value),
                None => clear_member(resolved.attribute, value),
            }
        }
    }
}

/// `""` of a single-valued simple attribute becomes `null`; a single-valued complex one has
/// its sub-attributes cleared so.
fn clear_member(attr: &Attribute, value: &mut Value) {
    if attr.multi_valued {
        return;
    }
    match value {
        Value::String(s) if s.is_empty() && attr.attr_type != AttrType::Complex => {
            *value = Value::Null
        }
        Value::Object(_) if attr.attr_type == AttrType::Complex => clear_in_complex(attr, value),
        _ => {}
    }
}

fn clear_in_complex(attr: &Attribute, value: &mut Value) {
    if let Value::Object(inner) = value {
        for (name, v) in inner.iter_mut() {
            if let Some(sub) = attr.sub(name) {
                clear_member(sub, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::patch::{apply_patch, parse_patch_request};
    use crate::scim::{Dialect, ScimOp, WriteMethod, PATCH_OP_SCHEMA};

    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": [USER, ENTERPRISE], "id": "1", "userName": "bjensen",
            "title": "Tour Guide", "name": {"givenName": "Barbara", "familyName": "Jensen"},
            ENTERPRISE: {"department": "Tours"},
        })
    }

    fn patched(ops: Value) -> Value {
        let registry = Registry::standard().unwrap();
        let rt = registry.resource_type("User").unwrap();
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
        let mut ops = parse_patch_request(&body).unwrap();
        lenient_operations(&registry, rt, &mut ops);
        apply_patch(&registry, rt, &user(), &ops).unwrap()
    }

    /// Entra ID's null update: `""` by path, in a path-less value, in a complex value, and in
    /// an extension; the other attributes stay.
    #[test]
    fn empty_strings_in_patch_operations_clear() {
        let u = patched(json!([{"op": "Replace", "path": "title", "value": ""}]));
        assert!(u.get("title").is_none(), "{u}");
        assert_eq!(u["userName"], "bjensen");
        let u = patched(json!([{"op": "Add", "path": "name.givenName", "value": ""}]));
        assert!(u["name"].get("givenName").is_none(), "{u}");
        assert_eq!(u["name"]["familyName"], "Jensen");
        let u = patched(json!([{"op": "Replace", "value": {
            "title": "", "name": {"givenName": ""}, ENTERPRISE: {"department": ""},
        }}]));
        assert!(u.get("title").is_none(), "{u}");
        assert!(u["name"].get("givenName").is_none(), "{u}");
        assert!(
            u.get(ENTERPRISE)
                .and_then(|e| e.get("department"))
                .is_none(),
            "{u}"
        );
        let u = patched(
            json!([{"op": "Replace", "path": "name", "value": {"givenName": "", "familyName": "J"}}]),
        );
        assert!(u["name"].get("givenName").is_none(), "{u}");
        assert_eq!(u["name"]["familyName"], "J");
        let u = patched(
            json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": ""}]),
        );
        assert!(
            u.get(ENTERPRISE)
                .and_then(|e| e.get("department"))
                .is_none(),
            "{u}"
        );
    }

    #[test]
    fn one_object_for_a_multi_valued_path_is_one_element() {
        let u = patched(
            json!([{"op": "add", "path": "emails", "value": {"value": "b@x", "type": "home"}}]),
        );
        assert_eq!(u["emails"][0]["value"], "b@x", "{u}");
        // Strict: refused.
        let registry = Registry::standard().unwrap();
        let rt = registry.resource_type("User").unwrap();
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [
            {"op": "add", "path": "emails", "value": {"value": "b@x"}}]});
        let ops = parse_patch_request(&body).unwrap();
        let e = apply_patch(&registry, rt, &user(), &ops).unwrap_err();
        assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidValue));
    }

    #[test]
    fn empty_strings_in_bodies_clear_in_lenient_only() {
        let registry = Registry::standard().unwrap();
        let rt = registry.resource_type("User").unwrap();
        let body = json!({"schemas": [USER], "userName": "bjensen", "title": "", "name": {"givenName": "", "familyName": "Jensen"}});
        let created =
            |dialect| match ScimOp::parse(WriteMethod::Post, None, &body, &registry, rt, dialect)
                .unwrap()
            {
                ScimOp::Create { resource, .. } => resource,
                other => panic!("{other:?}"),
            };
        let lenient = created(Dialect::Lenient);
        assert!(lenient.get("title").is_none(), "{lenient}");
        assert!(lenient["name"].get("givenName").is_none(), "{lenient}");
        assert_eq!(lenient["name"]["familyName"], "Jensen");
        let strict = created(Dialect::Strict);
        assert_eq!(strict["title"], "");
        // A required attribute sent empty is missing.
        let nameless = json!({"schemas": [USER], "userName": ""});
        assert!(ScimOp::parse(
            WriteMethod::Post,
            None,
            &nameless,
            &registry,
            rt,
            Dialect::Lenient
        )
        .is_err());
    }
}
