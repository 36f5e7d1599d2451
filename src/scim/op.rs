//! Typed SCIM write operations: create (RFC 7644 §3.3), replace (§3.5.1), modify (§3.5.2) and
//! delete (§3.6), parsed once at the edge from a request or from one `/Bulk` operation (§3.7),
//! so that nothing deeper sees a raw request body: a resource is normalized against its
//! schemas, a PATCH body is a list of operations.

use serde_json::Value;

use super::dialect::Dialect;
use super::error::{ScimError, ScimType};
use super::lenient::{clear_empty_strings, lenient_operations};
use super::patch::{parse_patch_request, PatchOp};
use super::schema::{
    drop_undeclared_extensions, is_undeclared_urn, normalize_resource_parts, Registry, ResourceType,
};

/// The resource types of RFC 7643 §4 a gateway can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `urn:ietf:params:scim:schemas:core:2.0:User`, at `/Users`.
    User,
    /// `urn:ietf:params:scim:schemas:core:2.0:Group`, at `/Groups`.
    Group,
}

impl ResourceKind {
    /// Every kind, in the order discovery lists them.
    pub const ALL: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

    /// The resource type's id (`User`), which also names it in the store and the cache.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The kind an endpoint segment (`Users`) names; endpoints are case-sensitive.
    pub fn from_endpoint(segment: &str) -> Option<ResourceKind> {
        match segment {
            "Users" => Some(ResourceKind::User),
            "Groups" => Some(ResourceKind::Group),
            _ => None,
        }
    }

    /// The attribute IdPs look a resource up by before writing it (`userName eq`,
    /// `displayName eq`).
    pub fn name_attribute(self) -> &'static str {
        match self {
            ResourceKind::User => "userName",
            ResourceKind::Group => "displayName",
        }
    }
}

/// The HTTP methods that write, as a request or a `/Bulk` operation names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    /// Create (§3.3).
    Post,
    /// Replace (§3.5.1).
    Put,
    /// Modify (§3.5.2).
    Patch,
    /// Delete (§3.6).
    Delete,
}

impl WriteMethod {
    /// The method a `/Bulk` operation names, in any letter case.
    pub fn parse(s: &str) -> Option<WriteMethod> {
        match s.to_ascii_uppercase().as_str() {
            "POST" => Some(WriteMethod::Post),
            "PUT" => Some(WriteMethod::Put),
            "PATCH" => Some(WriteMethod::Patch),
            "DELETE" => Some(WriteMethod::Delete),
            _ => None,
        }
    }

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMethod::Post => "POST",
            WriteMethod::Put => "PUT",
            WriteMethod::Patch => "PATCH",
            WriteMethod::Delete => "DELETE",
        }
    }
}

/// One write to one resource type, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum ScimOp {
    /// A new resource, normalized (§3.3).
    Create {
        /// The resource in canonical form.
        resource: Value,
        /// The readOnly attributes the body carried, which `resource` leaves out.
        read_only: Value,
    },
    /// A whole resource replaced (§3.5.1).
    Replace {
        /// The resource's id.
        id: String,
        /// The new resource in canonical form.
        resource: Value,
        /// The readOnly attributes the body carried, which `resource` leaves out.
        read_only: Value,
    },
    /// Operations applied to a resource (§3.5.2).
    Patch {
        /// The resource's id.
        id: String,
        /// The PATCH operations, in order.
        operations: Vec<PatchOp>,
    },
    /// A resource deleted (§3.6).
    Delete {
        /// The resource's id.
        id: String,
    },
}

impl ScimOp {
    /// Parses a write to resource type `rt`: `id` is the resource's (none for a POST), `body`
    /// the request body (ignored for a DELETE), read in `dialect`.
    pub fn parse(
        method: WriteMethod,
        id: Option<&str>,
        body: &Value,
        registry: &Registry,
        rt: &ResourceType,
        dialect: Dialect,
    ) -> Result<ScimOp, ScimError> {
        Self::parse_noting_ignored(method, id, body, registry, rt, dialect).map(|(op, _)| op)
    }

    /// [`ScimOp::parse`], and what a lenient reading left out: the schema URNs of members
    /// (or PATCH operations) of schemas the resource type does not have, for a warning.
    pub fn parse_noting_ignored(
        method: WriteMethod,
        id: Option<&str>,
        body: &Value,
        registry: &Registry,
        rt: &ResourceType,
        dialect: Dialect,
    ) -> Result<(ScimOp, Vec<String>), ScimError> {
        let mut ignored = Vec::new();
        let mut body = std::borrow::Cow::Borrowed(body);
        let has_undeclared = body
            .as_object()
            .is_some_and(|o| o.keys().any(|k| is_undeclared_urn(registry, rt, k)));
        if let (Dialect::Lenient, WriteMethod::Post | WriteMethod::Put) = (dialect, method) {
            if has_undeclared {
                ignored = drop_undeclared_extensions(registry, rt, body.to_mut());
            }
            let has_empty = body
                .as_object()
                .is_some_and(|o| o.values().any(has_empty_string));
            if has_empty {
                clear_empty_strings(registry, rt, body.to_mut());
            }
        }
        let body = &*body;
        let id = || {
            id.map(str::to_owned).ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::InvalidPath,
                    format!("a {} names one resource by its id", method.as_str()),
                )
            })
        };
        let op = match method {
            WriteMethod::Post => {
                let (resource, read_only) = normalize_resource_parts(registry, rt, body)?;
                ScimOp::Create {
                    resource,
                    read_only,
                }
            }
            WriteMethod::Put => {
                let (resource, read_only) = normalize_resource_parts(registry, rt, body)?;
                ScimOp::Replace {
                    id: id()?,
                    resource,
                    read_only,
                }
            }
            WriteMethod::Patch => {
                let mut operations = parse_patch_request(body)?;
                if let (Dialect::Strict, Some(i)) =
                    (dialect, operations.iter().position(|op| op.path.is_none()))
                {
                    // The SCIM interoperability profile: each operation names its target.
                    return Err(ScimError::bad_request(
                        ScimType::InvalidPath,
                        format!("Operations[{i}] has no \"path\"; this tenant reads SCIM strictly and needs one in every operation"),
                    ));
                }
                if dialect.is_lenient() {
                    ignored = lenient_operations(registry, rt, &mut operations);
                }
                ScimOp::Patch {
                    id: id()?,
                    operations,
                }
            }
            WriteMethod::Delete => ScimOp::Delete { id: id()? },
        };
        Ok((op, ignored))
    }

    /// The method this operation is sent with.
    pub fn method(&self) -> WriteMethod {
        match self {
            ScimOp::Create { .. } => WriteMethod::Post,
            ScimOp::Replace { .. } => WriteMethod::Put,
            ScimOp::Patch { .. } => WriteMethod::Patch,
            ScimOp::Delete { .. } => WriteMethod::Delete,
        }
    }
}

/// Whether a member value is, or holds at its first level, an empty string (what the lenient
/// dialect clears), so that bodies without any are not copied.
fn has_empty_string(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Object(inner) => inner.values().any(|v| {
            matches!(v, Value::String(s) if s.is_empty())
                || matches!(v, Value::Object(_)) && has_empty_string(v)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_parse_into_typed_operations() {
        let registry = Registry::standard().unwrap();
        let rt = registry.resource_type("User").unwrap();
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "USERNAME": "bjensen",
            "id": "ignored: readOnly"
        });
        let op = parse_user(WriteMethod::Post, &body, Dialect::Strict).unwrap();
        let ScimOp::Create {
            resource,
            read_only,
        } = &op
        else {
            panic!("{op:?}")
        };
        assert_eq!(resource["userName"], "bjensen");
        assert!(resource.get("id").is_none());
        assert_eq!(
            read_only,
            &json!({"id": "ignored: readOnly"}),
            "kept apart, for a server whose platform decides an attribute"
        );
        assert_eq!(op.method(), WriteMethod::Post);

        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        });
        let op = ScimOp::parse(
            WriteMethod::Patch,
            Some("2819c223"),
            &patch,
            &registry,
            rt,
            Dialect::Strict,
        )
        .unwrap();
        assert!(
            matches!(&op, ScimOp::Patch { id, operations } if id == "2819c223" && operations.len() == 1)
        );

        let delete = ScimOp::parse(
            WriteMethod::Delete,
            Some("x"),
            &Value::Null,
            &registry,
            rt,
            Dialect::Strict,
        )
        .unwrap();
        assert_eq!(delete, ScimOp::Delete { id: "x".to_owned() });
        let no_id = ScimOp::parse(
            WriteMethod::Put,
            None,
            &body,
            &registry,
            rt,
            Dialect::Strict,
        )
        .unwrap_err();
        assert_eq!(no_id.scim_type, Some(ScimType::InvalidPath));
        let not_object = ScimOp::parse(
            WriteMethod::Post,
            None,
            &json!([]),
            &registry,
            rt,
            Dialect::Strict,
        )
        .unwrap_err();
        assert_eq!(not_object.scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn kinds_by_endpoint_and_name() {
        assert_eq!(
            ResourceKind::from_endpoint("Users"),
            Some(ResourceKind::User)
        );
        assert_eq!(ResourceKind::from_endpoint("users"), None);
        assert_eq!(ResourceKind::Group.name_attribute(), "displayName");
        assert_eq!(WriteMethod::parse("patch"), Some(WriteMethod::Patch));
        assert_eq!(WriteMethod::parse("GET"), None);
    }

    fn parse_user(
        method: WriteMethod,
        body: &Value,
        dialect: Dialect,
    ) -> Result<ScimOp, ScimError> {
        let registry = Registry::standard().unwrap();
        let rt = registry.resource_type("User").unwrap();
        ScimOp::parse(method, None, body, &registry, rt, dialect)
    }

    /// Entra ID's own extension URNs: ignored (and named) in lenient, refused in strict; an
    /// unknown attribute of a schema the type has stays refused in both.
    #[test]
    fn undeclared_extensions_are_ignored_only_in_lenient() {
        let registry = Registry::standard().unwrap();
        let rt = registry.resource_type("User").unwrap();
        const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
        let body = json!({
            "schemas": [super::super::USER_SCHEMA, CUSTOM],
            "userName": "ada",
            CUSTOM: {"costCenter": "42"},
            format!("{CUSTOM}:badge"): "7",
        });
        let (op, ignored) = ScimOp::parse_noting_ignored(
            WriteMethod::Post,
            None,
            &body,
            &registry,
            rt,
            Dialect::Lenient,
        )
        .unwrap();
        let ScimOp::Create { resource, .. } = op else {
            panic!("{op:?}")
        };
        assert_eq!(resource["userName"], "ada");
        assert!(resource.get(CUSTOM).is_none());
        assert_eq!(ignored.len(), 2, "{ignored:?}");
        let e = parse_user(WriteMethod::Post, &body, Dialect::Strict).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));

        let typos = [
            json!({"userName": "ada", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCentre": "1"}}),
            json!({"userName": "ada", "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName.x": "A"}),
        ];
        for (typo, dialect) in typos
            .iter()
            .flat_map(|t| [(t, Dialect::Lenient), (t, Dialect::Strict)])
        {
            let e = parse_user(WriteMethod::Post, typo, dialect).unwrap_err();
            assert_eq!(
                e.scim_type,
                Some(ScimType::InvalidSyntax),
                "{typo} {dialect:?}"
            );
        }

        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "add", "path": format!("{CUSTOM}:costCenter"), "value": "42"},
            {"op": "replace", "value": {"displayName": "Ada", CUSTOM: {"x": 1}}},
        ]});
        let (op, ignored) = ScimOp::parse_noting_ignored(
            WriteMethod::Patch,
            Some("1"),
            &patch,
            &registry,
            rt,
            Dialect::Lenient,
        )
        .unwrap();
        let ScimOp::Patch { operations, .. } = op else {
            panic!("{op:?}")
        };
        assert_eq!(operations.len(), 1);
        assert_eq!(operations[0].value, Some(json!({"displayName": "Ada"})));
        assert_eq!(ignored.len(), 2, "{ignored:?}");
    }

    /// A path-less PATCH operation (RFC 7644 §3.5.2.1 allows it) is refused in strict, as the
    /// interoperability profile asks.
    #[test]
    fn strict_patch_operations_name_their_path() {
        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "replace", "path": "displayName", "value": "Ada"},
            {"op": "replace", "value": {"active": false}},
        ]});
        let registry = Registry::standard().unwrap();
        let rt = registry.resource_type("User").unwrap();
        let parse = |dialect| {
            ScimOp::parse(
                WriteMethod::Patch,
                Some("1"),
                &patch,
                &registry,
                rt,
                dialect,
            )
        };
        let e = parse(Dialect::Strict).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        assert!(e.detail.contains("Operations[1]"), "{}", e.detail);
        assert!(parse(Dialect::Lenient).is_ok());
    }
}
