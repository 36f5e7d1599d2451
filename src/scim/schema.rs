//! The schema registry: the single definition of every attribute, used to
//! serve /Schemas (RFC 7643 §7) and /ResourceTypes (§6), to resolve paths, to
//! validate request bodies and to drive filtering, PATCH and projection.
//!
//! Schemas are the RFC 7643 §8.7.1/§8.7.2 representations embedded as JSON
//! files: core User (§4.1), enterprise User extension (§4.3) and Group
//! (§4.2). The common attributes id, externalId and meta (§3.1) belong to
//! every resource type and are kept apart from the schema attribute lists.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::{ScimError, ScimType};
use super::filter::parse_bool;
use super::path::{parse_attr_path, AttrPath};
use super::value::{get_ci, is_present, parse_datetime};
use super::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA, USER_SCHEMA,
};

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    /// Unicode text (§2.3.1); compared ignoring case unless the attribute is `caseExact`.
    String,
    /// JSON `true` or `false` (§2.3.2).
    Boolean,
    /// A real number (§2.3.3).
    Decimal,
    /// A whole number with no fractional part (§2.3.4).
    Integer,
    /// An xsd:dateTime string such as `2008-01-23T04:56:22Z` (§2.3.5); compared in time order.
    DateTime,
    /// Base64-encoded bytes carried as a string (§2.3.6); never ordered in filters.
    Binary,
    /// A URI carried as a string (§2.3.7); `reference_types` says what it may point to.
    Reference,
    /// An object of sub-attributes, one level deep (§2.3.8).
    Complex,
}

impl AttrType {
    /// The RFC 7643 spelling of the type (`"dateTime"`, `"complex"`, ...), as served in /Schemas.
    pub fn as_str(&self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    /// Set by the service provider only; values a client sends are ignored.
    ReadOnly,
    /// Clients may set and change the value at any time; the default.
    #[default]
    ReadWrite,
    /// Clients may give the value when the resource is created but not change it afterwards.
    Immutable,
    /// Clients may set the value but it is never returned (e.g. `password`).
    WriteOnly,
}

impl Mutability {
    /// The RFC 7643 §7 spelling, as served in /Schemas.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    /// In every response, whatever `attributes` and `excludedAttributes` say (e.g. `id`).
    Always,
    /// Never in a response (e.g. `password`).
    Never,
    /// In responses unless `attributes` leaves it out or `excludedAttributes` names it; the
    /// default.
    #[default]
    Default,
    /// In a response only when `attributes` names it.
    Request,
}

impl Returned {
    /// The RFC 7643 §7 spelling, as served in /Schemas.
    pub fn as_str(&self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    /// No uniqueness is asked for; the default.
    #[default]
    None,
    /// Unique among the resources of this service provider or tenant (e.g. `userName`).
    Server,
    /// Unique across all service providers, like a GUID.
    Global,
}

impl Uniqueness {
    /// The RFC 7643 §7 spelling, as served in /Schemas.
    pub fn as_str(&self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// An attribute definition (RFC 7643 §7); defaults are those of §2.2.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attribute {
    /// The name as the schema spells it; requests may use any case (§2.1).
    pub name: String,
    /// The data type, JSON member `type`.
    #[serde(rename = "type")]
    pub attr_type: AttrType,
    /// Whether the value is an array of values (§2.4).
    #[serde(default)]
    pub multi_valued: bool,
    /// Human-readable text served in /Schemas; empty when the file gives none.
    #[serde(default)]
    pub description: String,
    /// Whether a resource must have a value; a write that leaves it unassigned is rejected.
    #[serde(default)]
    pub required: bool,
    /// Whether string values keep their case when filtered and sorted; ignored for `complex`.
    #[serde(default)]
    pub case_exact: bool,
    /// Whether and when clients may change the value.
    #[serde(default)]
    pub mutability: Mutability,
    /// When the value appears in responses.
    #[serde(default)]
    pub returned: Returned,
    /// How unique values must be; served in /Schemas.
    #[serde(default)]
    pub uniqueness: Uniqueness,
    /// Suggested values such as `"work"` or `"home"`; served in /Schemas but not enforced.
    #[serde(default)]
    pub canonical_values: Vec<String>,
    /// For a `reference`, what it may point to: resource type names, `"external"` or `"uri"`.
    #[serde(default)]
    pub reference_types: Vec<String>,
    /// For a `complex` attribute, its sub-attributes; empty for every other type.
    #[serde(default)]
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    /// A sub-attribute by name, ignoring case (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether the value is an object of sub-attributes rather than a single value.
    pub fn is_complex(&self) -> bool {
        self.attr_type == AttrType::Complex
    }

    /// The RFC 7643 §7 representation.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.attr_type.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if !self.is_complex() {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if self.attr_type == AttrType::Reference {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        if self.is_complex() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(Attribute::to_json).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(m)
    }
}

/// A schema (RFC 7643 §7): the attributes one schema URN contributes to a resource.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// The schema URN, e.g. `urn:ietf:params:scim:schemas:core:2.0:User`.
    pub id: String,
    /// Human-readable name, e.g. "User" or "EnterpriseUser".
    pub name: String,
    /// Human-readable text served in /Schemas; empty when the file gives none.
    #[serde(default)]
    pub description: String,
    /// The top-level attributes, without the common id, externalId and meta.
    pub attributes: Vec<Attribute>,
}

impl Schema {
    /// A top-level attribute by name, ignoring case; the common attributes are not found here.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// An extension schema a resource type admits (RFC 7643 §6 `schemaExtensions`).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaExtension {
    /// The extension's schema URN.
    pub schema: String,
    /// Whether every resource of the type must carry the extension.
    pub required: bool,
}

/// A resource type (RFC 7643 §6): an endpoint with its core schema and extensions.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// Identifier, e.g. "User"; the last segment of its /ResourceTypes URL.
    pub id: String,
    /// Human-readable name; the same as `id` for User and Group.
    pub name: String,
    /// Path of the endpoint relative to the base URL, with its leading slash, e.g. `/Users`.
    pub endpoint: String,
    /// Human-readable text served in /ResourceTypes.
    pub description: String,
    /// URN of the core schema.
    pub schema: String,
    /// Extension schemas, in the order they are served.
    pub extensions: Vec<SchemaExtension>,
}

/// What an attribute path names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedAttr<'a> {
    /// The defining schema's URN; "" for the common attributes.
    pub schema_urn: &'a str,
    /// The top-level attribute the path names.
    pub attribute: &'a Attribute,
    /// The sub-attribute after the '.', when the path names one.
    pub sub_attribute: Option<&'a Attribute>,
}

/// Why a [`Registry`] could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    /// An embedded schema file does not parse as an RFC 7643 schema.
    #[error("schema file {file} is not a valid RFC 7643 schema: {message}")]
    BadSchemaFile {
        /// The embedded file's name, e.g. `user.json`.
        file: String,
        /// The JSON parser's description of the problem.
        message: String,
    },
    /// A resource type names a schema URN that is not among the registry's schemas.
    #[error("resource type {resource_type} refers to unknown schema {schema}")]
    UnknownSchema {
        /// The resource type's id.
        resource_type: String,
        /// The URN that was not found.
        schema: String,
    },
}

const COMMON_JSON: &str = include_str!("schemas/common.json");
const USER_JSON: &str = include_str!("schemas/user.json");
const ENTERPRISE_USER_JSON: &str = include_str!("schemas/enterprise_user.json");
const GROUP_JSON: &str = include_str!("schemas/group.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonFile {
    attributes: Vec<Attribute>,
}

fn parse_embedded<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, RegistryError> {
    serde_json::from_str(text).map_err(|e| RegistryError::BadSchemaFile {
        file: file.to_owned(),
        message: e.to_string(),
    })
}

/// Every schema and resource type served, with the common attributes (RFC 7643 §3.1);
/// the one source of attribute definitions.
#[derive(Debug, Clone)]
pub struct Registry {
    schemas: Vec<Schema>,
    resource_types: Vec<ResourceType>,
    common: Vec<Attribute>,
}

impl Registry {
    /// User (with the enterprise extension, optional) and Group.
    pub fn standard() -> Result<Registry, RegistryError> {
        let schemas = vec![
            parse_embedded("user.json", USER_JSON)?,
            parse_embedded("enterprise_user.json", ENTERPRISE_USER_JSON)?,
            parse_embedded("group.json", GROUP_JSON)?,
        ];
        let resource_types = vec![
            ResourceType {
                id: "User".into(),
                name: "User".into(),
                endpoint: "/Users".into(),
                description: "User Account".into(),
                schema: USER_SCHEMA.into(),
                extensions: vec![SchemaExtension {
                    schema: ENTERPRISE_USER_SCHEMA.into(),
                    required: false,
                }],
            },
            ResourceType {
                id: "Group".into(),
                name: "Group".into(),
                endpoint: "/Groups".into(),
                description: "Group".into(),
                schema: GROUP_SCHEMA.into(),
                extensions: Vec::new(),
            },
        ];
        Registry::new(schemas, resource_types)
    }

    /// A registry of custom schemas; every schema a resource type names
    /// must be among `schemas`.
    pub fn new(
        schemas: Vec<Schema>,
        resource_types: Vec<ResourceType>,
    ) -> Result<Registry, RegistryError> {
        let common: CommonFile = parse_embedded("common.json", COMMON_JSON)?;
        for rt in &resource_types {
            let named = std::iter::once(&rt.schema).chain(rt.extensions.iter().map(|e| &e.schema));
            for urn in named {
                if !schemas.iter().any(|s| s.id.eq_ignore_ascii_case(urn)) {
                    return Err(RegistryError::UnknownSchema {
                        resource_type: rt.id.clone(),
                        schema: urn.clone(),
                    });
                }
            }
        }
        Ok(Registry {
            schemas,
            resource_types,
            common: common.attributes,
        })
    }

    /// Every schema, core and extension, in registration order (the /Schemas listing).
    pub fn schemas(&self) -> &[Schema] {
        &self.schemas
    }

    /// The schema whose URN is `id`, ignoring case.
    pub fn schema(&self, id: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(id))
    }

    /// Every resource type, in registration order (the /ResourceTypes listing).
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// The resource type whose id is `id` (e.g. "User"), ignoring case.
    pub fn resource_type(&self, id: &str) -> Option<&ResourceType> {
        self.resource_types
            .iter()
            .find(|rt| rt.id.eq_ignore_ascii_case(id))
    }

    /// Adds an extension schema to a resource type (no-op for an unknown type).
    pub(crate) fn add_extension(
        &mut self,
        rt_id: &str,
        schema: Schema,
        extension: SchemaExtension,
    ) {
        if let Some(rt) = self
            .resource_types
            .iter_mut()
            .find(|rt| rt.id.eq_ignore_ascii_case(rt_id))
        {
            rt.extensions.push(extension);
            self.schemas.push(schema);
        }
    }

    /// id, externalId and meta (RFC 7643 §3.1).
    pub fn common_attributes(&self) -> &[Attribute] {
        &self.common
    }

    /// The common attribute (id, externalId or meta) named `name`, ignoring case.
    pub fn common_attribute(&self, name: &str) -> Option<&Attribute> {
        self.common
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The core schema of `rt`; [`Registry::new`] ensures it exists for its own resource types.
    pub fn core_schema(&self, rt: &ResourceType) -> Option<&Schema> {
        self.schema(&rt.schema)
    }

    /// The extension schemas of `rt`, in declaration order.
    pub fn extension_schemas<'a>(&'a self, rt: &ResourceType) -> Vec<&'a Schema> {
        rt.extensions
            .iter()
            .filter_map(|e| self.schema(&e.schema))
            .collect()
    }

    /// The extension of `rt` whose URN is `urn` (any case).
    pub fn extension_schema(&self, rt: &ResourceType, urn: &str) -> Option<&Schema> {
        rt.extensions
            .iter()
            .find(|e| e.schema.eq_ignore_ascii_case(urn))
            .and_then(|e| self.schema(&e.schema))
    }

    /// Resolve a parsed attribute path against a resource type: core schema, extensions (by
    /// URN prefix), and common attributes (id, externalId, meta). Attribute names are
    /// case-insensitive.
    ///
    /// An unqualified name is looked up in the common attributes, then the
    /// core schema, then the extensions: IdPs do send `employeeNumber`
    /// without its URN, and no extension name clashes with a core one.
    pub fn resolve<'a>(&'a self, rt: &ResourceType, path: &AttrPath) -> Option<ResolvedAttr<'a>> {
        let with_sub = |schema_urn: &'a str, attribute: &'a Attribute| {
            let sub_attribute = match &path.sub {
                None => None,
                Some(sub) => Some(attribute.sub(sub)?),
            };
            Some(ResolvedAttr {
                schema_urn,
                attribute,
                sub_attribute,
            })
        };
        let core = self.core_schema(rt)?;
        if let Some(urn) = &path.urn {
            if core.id.eq_ignore_ascii_case(urn) {
                if let Some(a) = self.common_attribute(&path.name) {
                    return with_sub("", a);
                }
                return with_sub(&core.id, core.attribute(&path.name)?);
            }
            let ext = self.extension_schema(rt, urn)?;
            return with_sub(&ext.id, ext.attribute(&path.name)?);
        }
        if let Some(a) = self.common_attribute(&path.name) {
            return with_sub("", a);
        }
        if let Some(a) = core.attribute(&path.name) {
            return with_sub(&core.id, a);
        }
        self.extension_schemas(rt)
            .into_iter()
            .find_map(|ext| ext.attribute(&path.name).map(|a| (ext, a)))
            .and_then(|(ext, a)| with_sub(&ext.id, a))
    }

    /// Sets the mutability of the attribute `path` names in resource type `rt_id` (a platform
    /// that cannot change what the standard schema calls readWrite declares it readOnly, so
    /// `/Schemas` tells the truth and writes of it are refused); false when `path` names no
    /// attribute of the type.
    pub fn set_mutability(&mut self, rt_id: &str, path: &AttrPath, mutability: Mutability) -> bool {
        let Some(rt) = self.resource_type(rt_id).cloned() else {
            return false;
        };
        let Some(found) = self.resolve(&rt, path) else {
            return false;
        };
        let urn = found.schema_urn.to_owned();
        let name = found.attribute.name.clone();
        let sub = found.sub_attribute.map(|s| s.name.clone());
        let attributes = if urn.is_empty() {
            &mut self.common
        } else {
            match self
                .schemas
                .iter_mut()
                .find(|s| s.id.eq_ignore_ascii_case(&urn))
            {
                Some(schema) => &mut schema.attributes,
                None => return false,
            }
        };
        let Some(attribute) = attributes.iter_mut().find(|a| a.name == name) else {
            return false;
        };
        let target = match &sub {
            None => attribute,
            Some(sub) => match attribute.sub_attributes.iter_mut().find(|a| a.name == *sub) {
                Some(s) => s,
                None => return false,
            },
        };
        target.mutability = mutability;
        true
    }

    /// The value of `path`'s attribute (its sub-attribute is not applied) in
    /// a resource: extension attributes live in the object keyed by the
    /// extension URN, everything else at the top level. Names match in any case.
    pub fn attr_value<'v>(
        &self,
        rt: &ResourceType,
        resource: &'v Value,
        path: &AttrPath,
    ) -> Option<&'v Value> {
        let obj = resource.as_object()?;
        let extension_urn = match self.resolve(rt, path) {
            Some(r) if self.extension_schema(rt, r.schema_urn).is_some() => Some(r.schema_urn),
            Some(_) => None,
            None => path
                .urn
                .as_deref()
                .filter(|u| !u.eq_ignore_ascii_case(&rt.schema)),
        };
        let container = match extension_urn {
            Some(urn) => get_ci(obj, urn)?.as_object()?,
            None => obj,
        };
        get_ci(container, &path.name)
    }

    /// RFC 7643 §7 form with meta {resourceType:"Schema", location}
    pub fn schema_json(&self, schema: &Schema, location: &str) -> Value {
        let attributes: Vec<Value> = schema.attributes.iter().map(Attribute::to_json).collect();
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": schema.id,
            "name": schema.name,
            "description": schema.description,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": location},
        })
    }

    /// RFC 7643 §6 form with meta {resourceType:"ResourceType", location}
    pub fn resource_type_json(&self, rt: &ResourceType, location: &str) -> Value {
        let mut m = Map::new();
        m.insert("schemas".into(), json!([RESOURCE_TYPE_SCHEMA]));
        m.insert("id".into(), json!(rt.id));
        m.insert("name".into(), json!(rt.name));
        m.insert("endpoint".into(), json!(rt.endpoint));
        m.insert("description".into(), json!(rt.description));
        m.insert("schema".into(), json!(rt.schema));
        if !rt.extensions.is_empty() {
            let exts: Vec<Value> = rt
                .extensions
                .iter()
                .map(|e| json!({"schema": e.schema, "required": e.required}))
                .collect();
            m.insert("schemaExtensions".into(), Value::Array(exts));
        }
        m.insert(
            "meta".into(),
            json!({"resourceType": "ResourceType", "location": location}),
        );
        Value::Object(m)
    }
}

/// One attribute of a request body, resolved and normalized.
#[derive(Debug, Clone)]
pub(crate) struct Member<'a> {
    /// The extension schema holding the attribute; `None` for core/common.
    pub ext: Option<&'a Schema>,
    pub attr: &'a Attribute,
    /// Set when the body names a sub-attribute directly (`"name.givenName"`).
    pub sub: Option<&'a Attribute>,
    /// `None` when the body gives null or an empty array (unassigned).
    pub value: Option<Value>,
    /// The key as written, for error messages.
    pub key: String,
}

impl<'a> Member<'a> {
    pub(crate) fn target(&self) -> &'a Attribute {
        self.sub.unwrap_or(self.attr)
    }
}

fn unknown_attribute(key: &str) -> ScimError {
    ScimError::bad_request(
        ScimType::InvalidSyntax,
        format!("\"{key}\" is not an attribute of this resource type"),
    )
}

/// Whether `key` (a body member's name) belongs to a schema resource type `rt` does not have:
/// an extension object keyed by an unknown URN, or an attribute qualified by one. Plain names
/// and the URNs of known schemas (with their attributes, known or not) are not.
pub(crate) fn is_undeclared_urn(registry: &Registry, rt: &ResourceType, key: &str) -> bool {
    let known = |urn: &str| {
        urn.eq_ignore_ascii_case(&rt.schema) || registry.extension_schema(rt, urn).is_some()
    };
    if !key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) || known(key) {
        return false;
    }
    match parse_attr_path(key) {
        Ok(path) => !path.urn.as_deref().is_some_and(known),
        // Malformed under a known schema: not undeclared, so the schema check refuses it.
        Err(_) => !std::iter::once(rt.schema.as_str())
            .chain(rt.extensions.iter().map(|e| e.schema.as_str()))
            .any(|urn| {
                key.get(..urn.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(urn))
                    && key
                        .get(urn.len()..)
                        .is_some_and(|rest| rest.starts_with(':'))
            }),
    }
}

/// For [`super::Dialect::Lenient`]: removes from a resource body (or a path-less PATCH
/// value) the members of schemas `rt` does not have, as Microsoft Entra ID sends its own
/// (`urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User`), and answers their
/// names for the caller to log. `Strict` leaves them for the schema check to refuse.
pub fn drop_undeclared_extensions(
    registry: &Registry,
    rt: &ResourceType,
    body: &mut Value,
) -> Vec<String> {
    let Value::Object(members) = body else {
        return Vec::new();
    };
    let dropped: Vec<String> = members
        .keys()
        .filter(|key| is_undeclared_urn(registry, rt, key))
        .cloned()
        .collect();
    for key in &dropped {
        members.remove(key);
    }
    dropped
}

/// Resolves and normalizes each member of a body object. The `schemas` key
/// is skipped (callers check it), objects keyed by an extension URN are
/// opened, and URN-qualified keys are routed to their schema.
pub(crate) fn body_members<'a>(
    registry: &'a Registry,
    rt: &ResourceType,
    obj: &Map<String, Value>,
) -> Result<Vec<Member<'a>>, ScimError> {
    let mut out = Vec::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let is_core_urn = key.eq_ignore_ascii_case(&rt.schema);
        let ext = registry.extension_schema(rt, key);
        if is_core_urn || ext.is_some() {
            let inner = match value {
                Value::Null => continue,
                Value::Object(inner) => inner,
                _ => {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidValue,
                        format!("\"{key}\" must be a JSON object of that schema's attributes"),
                    ))
                }
            };
            let urn = ext.map_or(rt.schema.as_str(), |e| e.id.as_str());
            for (name, v) in inner {
                // Some clients (scim2-tester, some IdPs) nest `schemas` inside the extension.
                if name.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let path = parse_attr_path(&format!("{urn}:{name}"))
                    .map_err(|_| unknown_attribute(&format!("{key}:{name}")))?;
                out.push(member(registry, rt, &path, &format!("{urn}:{name}"), v)?);
            }
            continue;
        }
        let path = parse_attr_path(key).map_err(|_| unknown_attribute(key))?;
        out.push(member(registry, rt, &path, key, value)?);
    }
    Ok(out)
}

fn member<'a>(
    registry: &'a Registry,
    rt: &ResourceType,
    path: &AttrPath,
    key: &str,
    value: &Value,
) -> Result<Member<'a>, ScimError> {
    let resolved = registry
        .resolve(rt, path)
        .ok_or_else(|| unknown_attribute(key))?;
    if resolved.sub_attribute.is_some() && resolved.attribute.multi_valued {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!(
                "\"{key}\" names a sub-attribute of a multi-valued attribute; give the whole value"
            ),
        ));
    }
    let target = resolved.sub_attribute.unwrap_or(resolved.attribute);
    let label = match resolved.sub_attribute {
        Some(sub) => format!("{}.{}", resolved.attribute.name, sub.name),
        None => resolved.attribute.name.clone(),
    };
    let read_only = resolved.attribute.mutability == Mutability::ReadOnly
        || target.mutability == Mutability::ReadOnly;
    // readOnly values are ignored, not checked (RFC 7644 §3.3): a client
    // echoing back a server-made `meta` must not fail on its shape.
    let value = if read_only {
        (!value.is_null()).then(|| value.clone())
    } else {
        normalize_value(target, value, &label)?
    };
    Ok(Member {
        ext: registry.extension_schema(rt, resolved.schema_urn),
        attr: resolved.attribute,
        sub: resolved.sub_attribute,
        value,
        key: key.to_owned(),
    })
}

fn invalid_value(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

/// Normalizes one attribute's value: names to the schema's spelling, types
/// checked, booleans given as "True"/"false" coerced, a multi-valued
/// attribute given as anything but an array refused, readOnly sub-attributes
/// dropped (RFC 7644 §3.3 says they are ignored). `None` means unassigned
/// (RFC 7643 §2.5).
pub(crate) fn normalize_value(
    attr: &Attribute,
    v: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if v.is_null() {
        return Ok(None);
    }
    if !attr.multi_valued {
        if v.is_array() {
            return Err(invalid_value(format!(
                "\"{label}\" is single-valued; an array is not allowed"
            )));
        }
        return normalize_single(attr, v, label);
    }
    // RFC 7643 §2.4: a multi-valued attribute is an array, even of one value; a lone object
    // or string is refused rather than guessed at.
    let Value::Array(items) = v else {
        return Err(invalid_value(format!(
            "\"{label}\" is multi-valued: send an array of values"
        )));
    };
    let mut out = Vec::new();
    for item in items {
        if item.is_array() {
            return Err(invalid_value(format!(
                "\"{label}\" must be an array of values, not of arrays"
            )));
        }
        if let Some(x) = normalize_single(attr, item, label)? {
            out.push(x);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    check_single_primary(&out, label)?;
    Ok(Some(Value::Array(out)))
}

/// RFC 7643 §2.4: `primary` may be true on one value at most.
pub(crate) fn check_single_primary(values: &[Value], label: &str) -> Result<(), ScimError> {
    let primaries = values
        .iter()
        .filter(|e| e.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(invalid_value(format!(
            "\"{label}\": at most one value may have \"primary\": true"
        )));
    }
    Ok(())
}

pub(crate) fn normalize_single(
    attr: &Attribute,
    v: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if v.is_null() {
        return Ok(None);
    }
    if !attr.is_complex() {
        return normalize_scalar(attr, v, label).map(Some);
    }
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, sv) in o {
                let sub = attr.sub(k).ok_or_else(|| {
                    ScimError::bad_request(
                        ScimType::InvalidSyntax,
                        format!("\"{label}.{k}\" is not a sub-attribute of \"{label}\""),
                    )
                })?;
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(x) = normalize_value(sub, sv, &format!("{label}.{}", sub.name))? {
                    out.insert(sub.name.clone(), x);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        // A bare value stands for {"value": ...}: Entra sends the manager's
        // id as a plain string.
        Value::String(_) | Value::Number(_) | Value::Bool(_) => match attr.sub("value") {
            Some(value_attr) => {
                let x = normalize_scalar(value_attr, v, &format!("{label}.value"))?;
                let mut out = Map::new();
                out.insert(value_attr.name.clone(), x);
                Ok(Some(Value::Object(out)))
            }
            None => Err(invalid_value(format!("\"{label}\" must be a JSON object"))),
        },
        _ => Err(invalid_value(format!("\"{label}\" must be a JSON object"))),
    }
}

fn normalize_scalar(attr: &Attribute, v: &Value, label: &str) -> Result<Value, ScimError> {
    let wrong = |what: &str| invalid_value(format!("\"{label}\" must be {what}"));
    match attr.attr_type {
        AttrType::String | AttrType::Reference | AttrType::Binary => match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(wrong("a string")),
        },
        AttrType::Boolean => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) => parse_bool(s)
                .map(Value::Bool)
                .ok_or_else(|| wrong("a boolean (true or false)")),
            _ => Err(wrong("a boolean (true or false)")),
        },
        AttrType::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(json!(f as i64)),
                _ => Err(wrong("an integer")),
            },
            _ => Err(wrong("an integer")),
        },
        AttrType::Decimal => match v {
            Value::Number(_) => Ok(v.clone()),
            _ => Err(wrong("a number")),
        },
        AttrType::DateTime => match v {
            Value::String(s) if parse_datetime(s).is_some() => Ok(v.clone()),
            _ => Err(wrong(
                "an xsd:dateTime string such as \"2011-05-13T04:42:34Z\"",
            )),
        },
        AttrType::Complex => Err(wrong("a JSON object")),
    }
}

/// Canonical form of a POST/PUT body (RFC 7644 §3.3, §3.5.1): names in the
/// schema's spelling, extension attributes (as URN-keyed objects or
/// URN-qualified keys) folded under their URN, readOnly attributes dropped,
/// values normalized as `normalize_value` does, required attributes
/// checked, and `schemas` rebuilt from the extensions present. A missing
/// `schemas` is accepted because several IdPs leave it out.
pub fn normalize_resource(
    registry: &Registry,
    rt: &ResourceType,
    input: &Value,
) -> Result<Value, ScimError> {
    normalize_resource_parts(registry, rt, input).map(|(resource, _)| resource)
}

/// [`normalize_resource`], and the readOnly attributes the body carried (in the same
/// canonical form, without `schemas`), which the resource leaves out: a server whose platform
/// decides an attribute can tell a value it would hold from one it cannot make.
pub fn normalize_resource_parts(
    registry: &Registry,
    rt: &ResourceType,
    input: &Value,
) -> Result<(Value, Value), ScimError> {
    let obj = input.as_object().ok_or_else(|| {
        ScimError::bad_request(
            ScimType::InvalidSyntax,
            "the resource must be a JSON object",
        )
    })?;
    if let Some(schemas) = get_ci(obj, "schemas") {
        check_schemas_member(rt, schemas)?;
    }
    let mut top = Map::new();
    let mut exts: Vec<(&Schema, Map<String, Value>)> = registry
        .extension_schemas(rt)
        .into_iter()
        .map(|s| (s, Map::new()))
        .collect();
    let mut read_only = Map::new();
    for m in body_members(registry, rt, obj)? {
        let Some(value) = m.value else { continue };
        let container = if m.attr.mutability == Mutability::ReadOnly
            || m.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
        {
            // Kept apart under the core or extension name, never in the resource.
            match m.ext {
                Some(ext) => match read_only
                    .entry(ext.id.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    Value::Object(map) => map,
                    _ => continue,
                },
                None => &mut read_only,
            }
        } else {
            match m.ext {
                Some(ext) => match exts.iter_mut().find(|(s, _)| s.id == ext.id) {
                    Some((_, map)) => map,
                    None => continue,
                },
                None => &mut top,
            }
        };
        match m.sub {
            Some(sub) => {
                let entry = container
                    .entry(m.attr.name.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(o) = entry {
                    o.insert(sub.name.clone(), value);
                }
            }
            None => match (container.get_mut(&m.attr.name), value) {
                (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
                (_, value) => {
                    container.insert(m.attr.name.clone(), value);
                }
            },
        }
    }
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Null);
    out.extend(top);
    for (schema, map) in exts {
        if !map.is_empty() {
            out.insert(schema.id.clone(), Value::Object(map));
        }
    }
    check_required(registry, rt, &out)?;
    out.insert("schemas".into(), schemas_value(registry, rt, &out));
    Ok((Value::Object(out), Value::Object(read_only)))
}

/// `schemas` may be left out (IdP dialects), but when given it must name
/// the resource type's core schema (RFC 7643 §3).
fn check_schemas_member(rt: &ResourceType, schemas: &Value) -> Result<(), ScimError> {
    let list = schemas
        .as_array()
        .ok_or_else(|| invalid_value("\"schemas\" must be an array of schema URNs".to_owned()))?;
    let mut has_core = false;
    for s in list {
        let s = s.as_str().ok_or_else(|| {
            invalid_value("\"schemas\" must be an array of schema URNs".to_owned())
        })?;
        has_core |= s.eq_ignore_ascii_case(&rt.schema);
    }
    if !has_core {
        return Err(invalid_value(format!(
            "\"schemas\" must include the {} schema \"{}\"",
            rt.name, rt.schema
        )));
    }
    Ok(())
}

/// Required attributes of the core schema, of required extensions, and of
/// extensions that are present.
pub(crate) fn check_required(
    registry: &Registry,
    rt: &ResourceType,
    resource: &Map<String, Value>,
) -> Result<(), ScimError> {
    let missing = |name: &str| invalid_value(format!("required attribute \"{name}\" is missing"));
    if let Some(core) = registry.core_schema(rt) {
        for a in core.attributes.iter().filter(|a| a.required) {
            if !get_ci(resource, &a.name).is_some_and(is_present) {
                return Err(missing(&a.name));
            }
        }
    }
    for ext in &rt.extensions {
        let Some(schema) = registry.schema(&ext.schema) else {
            continue;
        };
        match get_ci(resource, &schema.id).and_then(Value::as_object) {
            Some(obj) => {
                for a in schema.attributes.iter().filter(|a| a.required) {
                    if !get_ci(obj, &a.name).is_some_and(is_present) {
                        return Err(missing(&format!("{}:{}", schema.id, a.name)));
                    }
                }
            }
            None if ext.required => return Err(missing(&schema.id)),
            None => {}
        }
    }
    Ok(())
}

/// The core URN followed by the URNs of the extensions present.
pub(crate) fn schemas_value(
    registry: &Registry,
    rt: &ResourceType,
    resource: &Map<String, Value>,
) -> Value {
    let mut list = vec![Value::String(rt.schema.clone())];
    for schema in registry.extension_schemas(rt) {
        if get_ci(resource, &schema.id).is_some_and(is_present) {
            list.push(Value::String(schema.id.clone()));
        }
    }
    Value::Array(list)
}

/// Puts `schemas` first and in step with the extension objects present,
/// dropping extension objects left empty.
pub(crate) fn refresh_schemas(
    registry: &Registry,
    rt: &ResourceType,
    resource: &mut Map<String, Value>,
) {
    for schema in registry.extension_schemas(rt) {
        if let Some(key) = super::value::key_ci(resource, &schema.id) {
            if !resource.get(&key).is_some_and(is_present) {
                resource.shift_remove(&key);
            }
        }
    }
    let schemas = schemas_value(registry, rt, resource);
    super::value::remove_ci(resource, "schemas");
    let rest = std::mem::take(resource);
    resource.insert("schemas".into(), schemas);
    resource.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::path::parse_attr_path;

    fn reg() -> Registry {
        Registry::standard().unwrap()
    }

    #[test]
    fn embedded_schemas_parse() {
        let r = reg();
        assert_eq!(r.schemas().len(), 3);
        assert_eq!(r.common_attributes().len(), 3);
        let user = r.schema(USER_SCHEMA).unwrap();
        let user_name = user.attribute("username").unwrap();
        assert!(user_name.required);
        assert!(!user_name.case_exact);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        let password = user.attribute("password").unwrap();
        assert_eq!(password.mutability, Mutability::WriteOnly);
        assert_eq!(password.returned, Returned::Never);
        assert_eq!(
            user.attribute("groups").unwrap().mutability,
            Mutability::ReadOnly
        );
        for name in [
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            assert!(user.attribute(name).is_some(), "{name}");
        }
        assert!(
            user.attribute("id").is_none(),
            "common attributes are kept apart"
        );
        let ent = r
            .schema("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER")
            .unwrap();
        let manager = ent.attribute("manager").unwrap();
        assert_eq!(
            manager.sub("displayName").unwrap().mutability,
            Mutability::ReadOnly
        );
        let group = r.schema(GROUP_SCHEMA).unwrap();
        assert!(group.attribute("displayName").unwrap().required);
        let members = group.attribute("members").unwrap();
        assert_eq!(
            members.sub("value").unwrap().mutability,
            Mutability::Immutable
        );
        assert_eq!(
            members.sub("type").unwrap().canonical_values,
            ["User", "Group"]
        );
        let id = r.common_attribute("id").unwrap();
        assert_eq!(id.returned, Returned::Always);
        assert!(id.case_exact);
    }

    #[test]
    fn resolve_paths() {
        let r = reg();
        let rt = r.resource_type("user").unwrap();
        let p = |s: &str| parse_attr_path(s).unwrap();
        let x = r.resolve(rt, &p("NAME.givenname")).unwrap();
        assert_eq!(x.schema_urn, USER_SCHEMA);
        assert_eq!(x.sub_attribute.unwrap().name, "givenName");
        assert_eq!(r.resolve(rt, &p("id")).unwrap().schema_urn, "");
        assert_eq!(
            r.resolve(rt, &p("meta.lastModified")).unwrap().schema_urn,
            ""
        );
        let x = r
            .resolve(rt, &p(&format!("{ENTERPRISE_USER_SCHEMA}:manager.value")))
            .unwrap();
        assert_eq!(x.schema_urn, ENTERPRISE_USER_SCHEMA);
        assert_eq!(
            r.resolve(rt, &p("employeeNumber")).unwrap().schema_urn,
            ENTERPRISE_USER_SCHEMA
        );
        assert!(r
            .resolve(rt, &p(&format!("{USER_SCHEMA}:userName")))
            .is_some());
        assert!(r
            .resolve(rt, &p(&format!("{USER_SCHEMA}:externalId")))
            .is_some());
        assert!(r.resolve(rt, &p("name.nope")).is_none());
        assert!(r.resolve(rt, &p("nope")).is_none());
        assert!(r
            .resolve(rt, &p(&format!("{GROUP_SCHEMA}:displayName")))
            .is_none());
        let group = r.resource_type("Group").unwrap();
        assert!(r.resolve(group, &p("members.value")).is_some());
        assert!(r.resolve(group, &p("userName")).is_none());
        assert!(r.resolve(group, &p("employeeNumber")).is_none());
    }

    #[test]
    fn schema_and_resource_type_json() {
        let r = reg();
        let user = r.schema(USER_SCHEMA).unwrap();
        let j = r.schema_json(user, "https://x/Schemas/u");
        assert_eq!(j["schemas"][0], SCHEMA_SCHEMA);
        assert_eq!(j["meta"]["resourceType"], "Schema");
        assert_eq!(j["attributes"][0]["name"], "userName");
        assert_eq!(j["attributes"][0]["uniqueness"], "server");
        let emails = j["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "emails")
            .unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"][2]["canonicalValues"][0], "work");
        let rt = r.resource_type("User").unwrap();
        let j = r.resource_type_json(rt, "https://x/ResourceTypes/User");
        assert_eq!(j["endpoint"], "/Users");
        assert_eq!(j["schemaExtensions"][0]["schema"], ENTERPRISE_USER_SCHEMA);
        assert_eq!(j["schemaExtensions"][0]["required"], false);
        let g = r.resource_type_json(r.resource_type("Group").unwrap(), "l");
        assert!(g.get("schemaExtensions").is_none());
    }

    #[test]
    fn custom_registry_checks_references() {
        let rt = ResourceType {
            id: "Device".into(),
            name: "Device".into(),
            endpoint: "/Devices".into(),
            description: String::new(),
            schema: "urn:example:Device".into(),
            extensions: Vec::new(),
        };
        assert!(matches!(
            Registry::new(Vec::new(), vec![rt]),
            Err(RegistryError::UnknownSchema { .. })
        ));
    }

    fn norm(body: Value) -> Result<Value, ScimError> {
        let r = reg();
        let rt = r.resource_type("User").unwrap();
        normalize_resource(&r, rt, &body)
    }

    #[test]
    fn normalizes_the_rfc_full_user() {
        let input: Value = serde_json::from_str(include_str!("testdata/full_user.json")).unwrap();
        let out = norm(input.clone()).unwrap();
        for dropped in ["id", "meta", "groups"] {
            assert!(out.get(dropped).is_none(), "{dropped}");
        }
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
        assert_eq!(out["emails"], input["emails"]);
        assert_eq!(out["addresses"], input["addresses"]);
        assert_eq!(out["password"], input["password"]);
        assert_eq!(out["externalId"], "701984");
        assert_eq!(out.as_object().unwrap().keys().next().unwrap(), "schemas");
    }

    #[test]
    fn canonical_names_and_coercions() {
        let out = norm(json!({
            "USERNAME": "bjensen",
            "Active": "False",
            "name": {"GIVENNAME": "Barbara"},
            "emails": [{"value": "b@example.com", "PRIMARY": "true"}],
            "nickName": null,
            "phoneNumbers": [],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {
                "Manager": "mgr-id",
                "department": "Tour Operations"
            }
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "userName": "bjensen",
                "active": false,
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "b@example.com", "primary": true}],
                ENTERPRISE_USER_SCHEMA: {
                    "employeeNumber": "42",
                    "manager": {"value": "mgr-id"},
                    "department": "Tour Operations"
                }
            })
        );
    }

    #[test]
    fn read_only_members_are_ignored() {
        let out = norm(json!({
            "userName": "a",
            "id": "client-chosen",
            "meta": {"created": 3, "bogus": true},
            ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m", "displayName": "Boss"}}
        }))
        .unwrap();
        assert!(out.get("id").is_none());
        assert!(out.get("meta").is_none());
        assert_eq!(
            out[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "m"})
        );

        let r = reg();
        let g = r.resource_type("Group").unwrap();
        let out = normalize_resource(
            &r,
            g,
            &json!({"displayName": "G", "members": [{"value": "u1", "display": "U"}]}),
        )
        .unwrap();
        // A member's `display` is immutable (RFC 7643 §2.4), not read-only: it is kept.
        assert_eq!(out["members"], json!([{"value": "u1", "display": "U"}]));
        assert_eq!(out["schemas"], json!([GROUP_SCHEMA]));
    }

    #[test]
    fn rejections() {
        let cases = [
            (json!({"userName": 5}), ScimType::InvalidValue, "userName"),
            (
                json!({"userName": "a", "active": "yes"}),
                ScimType::InvalidValue,
                "active",
            ),
            (
                json!({"userName": "a", "bogus": 1}),
                ScimType::InvalidSyntax,
                "bogus",
            ),
            (
                json!({"userName": "a", "name": {"nope": "x"}}),
                ScimType::InvalidSyntax,
                "name.nope",
            ),
            (
                json!({"userName": "a", "name": "x"}),
                ScimType::InvalidValue,
                "name",
            ),
            (
                json!({"userName": "a", "title": ["x"]}),
                ScimType::InvalidValue,
                "title",
            ),
            (
                json!({"schemas": ["urn:x"], "userName": "a"}),
                ScimType::InvalidValue,
                "schemas",
            ),
            (
                json!({"schemas": "x", "userName": "a"}),
                ScimType::InvalidValue,
                "schemas",
            ),
            (
                json!({"displayName": "x"}),
                ScimType::InvalidValue,
                "userName",
            ),
            (json!({"userName": ""}), ScimType::InvalidValue, "userName"),
            (
                json!({"userName": "a", "emails": [{"value": "x", "primary": true}, {"value": "y", "primary": true}]}),
                ScimType::InvalidValue,
                "primary",
            ),
            (
                json!({"userName": "a", "urn:x:y:z": 1}),
                ScimType::InvalidSyntax,
                "urn:x:y:z",
            ),
            (
                json!({"userName": "a", ENTERPRISE_USER_SCHEMA: 3}),
                ScimType::InvalidValue,
                "enterprise",
            ),
            (json!(["x"]), ScimType::InvalidSyntax, "object"),
        ];
        for (body, t, needle) in cases {
            let e = norm(body.clone()).unwrap_err();
            assert_eq!(e.kind, crate::scim::ErrorKind::Invalid, "{body}");
            assert_eq!(e.scim_type, Some(t), "{body}: {}", e.detail);
            assert!(e.detail.contains(needle), "{body}: {}", e.detail);
        }
    }

    #[test]
    fn unqualified_extension_attributes_fold_into_the_extension() {
        let out =
            norm(json!({"userName": "a", "employeeNumber": "7", "name.givenName": "B"})).unwrap();
        assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
        assert_eq!(out["name"], json!({"givenName": "B"}));
        assert!(out.get("employeeNumber").is_none());
    }

    #[test]
    fn schemas_may_be_absent_or_lowercase() {
        assert!(norm(json!({"userName": "a"})).is_ok());
        assert!(norm(json!({"schemas": [USER_SCHEMA.to_lowercase()], "userName": "a"})).is_ok());
        let r = reg();
        let g = r.resource_type("Group").unwrap();
        let e = normalize_resource(&r, g, &json!({"schemas": [GROUP_SCHEMA]})).unwrap_err();
        assert!(e.detail.contains("displayName"));
    }

    #[test]
    fn typed_values() {
        let r = Registry::new(
            vec![Schema {
                id: "urn:example:Thing".into(),
                name: "Thing".into(),
                description: String::new(),
                attributes: serde_json::from_value(json!([
                    {"name": "count", "type": "integer"},
                    {"name": "ratio", "type": "decimal"},
                    {"name": "seen", "type": "dateTime"},
                    {"name": "tags", "type": "string", "multiValued": true}
                ]))
                .unwrap(),
            }],
            vec![ResourceType {
                id: "Thing".into(),
                name: "Thing".into(),
                endpoint: "/Things".into(),
                description: String::new(),
                schema: "urn:example:Thing".into(),
                extensions: Vec::new(),
            }],
        )
        .unwrap();
        let rt = r.resource_type("Thing").unwrap();
        let out = normalize_resource(
            &r,
            rt,
            &json!({"count": 3.0, "ratio": 1.5, "seen": "2011-05-13T04:42:34Z", "tags": ["one"]}),
        )
        .unwrap();
        assert_eq!(out["count"], json!(3));
        assert_eq!(out["tags"], json!(["one"]));
        for bad in [
            // Multi-valued: an array, even of one value (RFC 7643 §2.4).
            json!({"tags": "one"}),
            json!({"count": 1.5}),
            json!({"count": "3"}),
            json!({"ratio": "1.5"}),
            json!({"seen": "13 May 2011"}),
            json!({"tags": [["x"]]}),
        ] {
            let e = normalize_resource(&r, rt, &bad).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}");
        }
    }
}
