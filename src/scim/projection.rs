//! Attribute projection of returned resources: the `attributes` and
//! `excludedAttributes` parameters (RFC 7644 §3.4.2.5, §3.9) together with
//! each attribute's `returned` characteristic (RFC 7643 §7).

use serde_json::{Map, Value};

use super::error::ScimError;
use super::path::{parse_attr_list, AttrPath};
use super::schema::{Attribute, Registry, ResourceType, Returned};
use super::value::{is_present, remove_ci};

/// The `attributes` and `excludedAttributes` a request names, parsed once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// Only these (and those `returned: always`); empty: no such restriction.
    pub attributes: Vec<AttrPath>,
    /// Not these (unless `returned: always`).
    pub excluded: Vec<AttrPath>,
}

impl Projection {
    /// From URL query pairs (percent-decoded; names in any case; repeated ones add up).
    pub fn from_query_pairs(pairs: &[(String, String)]) -> Result<Projection, ScimError> {
        let mut projection = Projection::default();
        for (name, value) in pairs {
            if name.eq_ignore_ascii_case("attributes") {
                projection.attributes.extend(parse_attr_list(value)?);
            } else if name.eq_ignore_ascii_case("excludedAttributes") {
                projection.excluded.extend(parse_attr_list(value)?);
            }
        }
        Ok(projection)
    }

    /// Whether the projection leaves every resource as it is.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Whether an answer keeps the top-level attribute `name` (so it is worth computing):
    /// `attributes` names it, or, without `attributes`, `excludedAttributes` does not.
    pub fn keeps(&self, name: &str) -> bool {
        if self.attributes.is_empty() {
            !names(&self.excluded, name)
        } else {
            names(&self.attributes, name)
        }
    }

    /// Whether `attributes` asks for the top-level attribute `name` by name (for attributes
    /// answered only when asked for, such as a user's `groups` in a list).
    pub fn asks_for(&self, name: &str) -> bool {
        names(&self.attributes, name)
    }

    /// The resource as this projection answers it.
    pub fn apply(&self, registry: &Registry, rt: &ResourceType, resource: &Value) -> Value {
        if self.is_empty() {
            resource.clone()
        } else {
            project(registry, rt, resource, &self.attributes, &self.excluded)
        }
    }
}

fn names(paths: &[AttrPath], name: &str) -> bool {
    paths.iter().any(|p| p.name.eq_ignore_ascii_case(name))
}

/// The resolved form of an `attributes` or `excludedAttributes` list.
struct Selection {
    /// (schema URN or "" for common attributes, attribute, sub-attribute)
    entries: Vec<(String, String, Option<String>)>,
    /// Schemas named as a whole, e.g. the enterprise extension URN.
    whole_schemas: Vec<String>,
    /// Names that resolve to nothing, kept so unknown members can match.
    unknown: Vec<String>,
}

impl Selection {
    fn new(registry: &Registry, rt: &ResourceType, paths: &[AttrPath]) -> Selection {
        let mut sel = Selection {
            entries: Vec::new(),
            whole_schemas: Vec::new(),
            unknown: Vec::new(),
        };
        for path in paths {
            let schema_urn = path.as_schema_urn().filter(|urn| {
                urn.eq_ignore_ascii_case(&rt.schema) || registry.extension_schema(rt, urn).is_some()
            });
            if let Some(urn) = schema_urn {
                sel.whole_schemas.push(urn.to_ascii_lowercase());
                continue;
            }
            match registry.resolve(rt, path) {
                Some(r) => sel.entries.push((
                    r.schema_urn.to_ascii_lowercase(),
                    r.attribute.name.to_ascii_lowercase(),
                    r.sub_attribute.map(|s| s.name.to_ascii_lowercase()),
                )),
                None if path.urn.is_none() => sel.unknown.push(path.name.to_ascii_lowercase()),
                None => {}
            }
        }
        sel
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.whole_schemas.is_empty() && self.unknown.is_empty()
    }

    fn names_schema(&self, urn: &str) -> bool {
        self.whole_schemas
            .iter()
            .any(|s| s.eq_ignore_ascii_case(urn))
    }

    /// `None`: not named. `Some(None)`: named whole. `Some(Some(subs))`:
    /// only these sub-attributes are named.
    fn named(&self, urn: &str, attr: &Attribute) -> Option<Option<Vec<String>>> {
        let mut subs = Vec::new();
        let mut whole = false;
        for (u, a, s) in &self.entries {
            if u.eq_ignore_ascii_case(urn) && a.eq_ignore_ascii_case(&attr.name) {
                match s {
                    Some(s) => subs.push(s.clone()),
                    None => whole = true,
                }
            }
        }
        if whole {
            Some(None)
        } else if subs.is_empty() {
            None
        } else {
            Some(Some(subs))
        }
    }
}

/// A resource with only what `attributes` keeps and without what `excluded` names, each
/// attribute's `returned` characteristic honoured (RFC 7643 §7).
pub fn project(
    registry: &Registry,
    rt: &ResourceType,
    resource: &Value,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Value {
    let Some(obj) = resource.as_object() else {
        return resource.clone();
    };
    let sel = Selection::new(registry, rt, attributes);
    let exc = Selection::new(registry, rt, excluded);
    let core_whole = sel.names_schema(&rt.schema);
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key.clone(), value.clone());
            continue;
        }
        if let Some(ext) = registry.extension_schema(rt, key) {
            if exc.names_schema(&ext.id) {
                continue;
            }
            let Some(inner) = value.as_object() else {
                continue;
            };
            let whole = sel.names_schema(&ext.id);
            let mut projected = Map::new();
            for (k, v) in inner {
                match ext.attribute(k) {
                    Some(attr) => {
                        if let Some(pv) = project_attr(attr, &ext.id, v, &sel, &exc, whole) {
                            projected.insert(k.clone(), pv);
                        }
                    }
                    None if sel.is_empty() || whole => {
                        projected.insert(k.clone(), v.clone());
                    }
                    None => {}
                }
            }
            if !projected.is_empty() {
                out.insert(key.clone(), Value::Object(projected));
            }
            continue;
        }
        match registry.resolve(rt, &AttrPath::new(key.as_str())) {
            Some(r) => {
                let whole = core_whole && !r.schema_urn.is_empty();
                if let Some(pv) = project_attr(r.attribute, r.schema_urn, value, &sel, &exc, whole)
                {
                    out.insert(key.clone(), pv);
                }
            }
            None => {
                let lower = key.to_ascii_lowercase();
                let wanted = sel.is_empty() || sel.unknown.contains(&lower);
                if wanted && !exc.unknown.contains(&lower) {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
    }
    // Keep `schemas` in step with the extension objects left.
    if obj.keys().any(|k| k.eq_ignore_ascii_case("schemas")) {
        let schemas = super::schema::schemas_value(registry, rt, &out);
        remove_ci(&mut out, "schemas");
        let rest = std::mem::take(&mut out);
        out.insert("schemas".into(), schemas);
        out.extend(rest);
    }
    Value::Object(out)
}

fn project_attr(
    attr: &Attribute,
    urn: &str,
    value: &Value,
    sel: &Selection,
    exc: &Selection,
    schema_selected: bool,
) -> Option<Value> {
    match attr.returned {
        Returned::Never => return None,
        Returned::Always => return Some(value.clone()),
        Returned::Default | Returned::Request => {}
    }
    let named = sel.named(urn, attr);
    let mut v = if sel.is_empty() {
        if attr.returned == Returned::Request {
            return None;
        }
        value.clone()
    } else {
        match (&named, schema_selected) {
            (Some(Some(subs)), false) => keep_subs(attr, value, subs),
            (Some(_), _) | (None, true)
                if attr.returned != Returned::Request || named.is_some() =>
            {
                value.clone()
            }
            _ => return None,
        }
    };
    drop_unreturned_subs(attr, &mut v, named.as_ref().and_then(|n| n.as_ref()));
    match exc.named(urn, attr) {
        Some(None) => return None,
        Some(Some(subs)) => {
            for_each_element(&mut v, |o| {
                for s in &subs {
                    if attr.sub(s).is_some_and(|a| a.returned != Returned::Always) {
                        remove_ci(o, s);
                    }
                }
            });
        }
        None => {}
    }
    if let Value::Array(items) = &mut v {
        items.retain(is_present);
    }
    is_present(&v).then_some(v)
}

fn for_each_element(v: &mut Value, mut f: impl FnMut(&mut Map<String, Value>)) {
    match v {
        Value::Object(o) => f(o),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(o) = item {
                    f(o);
                }
            }
        }
        _ => {}
    }
}

/// Only the named sub-attributes, plus those returned always.
fn keep_subs(attr: &Attribute, value: &Value, subs: &[String]) -> Value {
    let mut v = value.clone();
    for_each_element(&mut v, |o| {
        o.retain(|k, _| {
            subs.iter().any(|s| s.eq_ignore_ascii_case(k))
                || attr.sub(k).is_some_and(|a| a.returned == Returned::Always)
        });
    });
    v
}

fn drop_unreturned_subs(attr: &Attribute, v: &mut Value, named: Option<&Vec<String>>) {
    for_each_element(v, |o| {
        o.retain(|k, _| match attr.sub(k).map(|a| a.returned) {
            Some(Returned::Never) => false,
            Some(Returned::Request) => {
                named.is_some_and(|n| n.iter().any(|s| s.eq_ignore_ascii_case(k)))
            }
            _ => true,
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::path::parse_attr_list;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Value {
        let mut u: Value = serde_json::from_str(include_str!("testdata/full_user.json")).unwrap();
        u[ENT] =
            json!({"employeeNumber": "701984", "manager": {"value": "m1", "displayName": "Boss"}});
        u["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENT]);
        u
    }

    fn proj(attrs: &str, excluded: &str) -> Value {
        let r = Registry::standard().unwrap();
        let rt = r.resource_type("User").unwrap();
        project(
            &r,
            rt,
            &user(),
            &parse_attr_list(attrs).unwrap(),
            &parse_attr_list(excluded).unwrap(),
        )
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn default_projection_drops_never() {
        let v = proj("", "");
        assert!(v.get("password").is_none());
        assert!(v.get("meta").is_some());
        assert!(v.get("groups").is_some());
        assert_eq!(v[ENT]["manager"]["displayName"], "Boss");
        assert_eq!(v["schemas"], user()["schemas"]);
    }

    #[test]
    fn attributes_select() {
        let v = proj("userName,name.givenName,emails.value", "");
        assert_eq!(keys(&v), ["schemas", "id", "userName", "name", "emails"]);
        assert_eq!(v["name"], json!({"givenName": "Barbara"}));
        assert_eq!(
            v["emails"],
            json!([{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}])
        );
        assert_eq!(
            v["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
        );
        let v = proj("password,USERNAME", "");
        assert!(v.get("password").is_none());
        assert_eq!(v["userName"], "bjensen@example.com");
    }

    #[test]
    fn extension_selection() {
        let v = proj(&format!("{ENT}:employeeNumber"), "");
        assert_eq!(keys(&v), ["schemas", "id", ENT]);
        assert_eq!(v[ENT], json!({"employeeNumber": "701984"}));
        assert_eq!(v["schemas"][1], ENT);
        let v = proj(ENT, "");
        assert_eq!(v[ENT], user()[ENT]);
        let v = proj(&format!("{ENT}:manager.value,displayName"), "");
        assert_eq!(v[ENT], json!({"manager": {"value": "m1"}}));
        let v = proj("urn:ietf:params:scim:schemas:core:2.0:User:userName", "");
        assert_eq!(keys(&v), ["schemas", "id", "userName"]);
    }

    #[test]
    fn excluded_attributes() {
        let v = proj(
            "",
            &format!("emails,name.familyName,id,{ENT}:employeeNumber,meta"),
        );
        assert!(v.get("emails").is_none());
        assert!(v.get("meta").is_none());
        assert_eq!(v["id"], user()["id"], "id is returned always");
        assert!(v["name"].get("familyName").is_none());
        assert_eq!(v["name"]["givenName"], "Barbara");
        assert_eq!(
            v[ENT],
            json!({"manager": {"value": "m1", "displayName": "Boss"}})
        );
        let v = proj("", ENT);
        assert!(v.get(ENT).is_none());
        assert_eq!(
            v["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
        );
        let v = proj("", "emails.value");
        assert_eq!(v["emails"][0], json!({"type": "work", "primary": true}));
    }

    #[test]
    fn projections_parse_once_and_say_what_they_keep() {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let none = Projection::from_query_pairs(&pairs(&[("filter", "x")])).unwrap();
        assert!(none.is_empty() && none.keeps("members") && !none.asks_for("groups"));
        let entra =
            Projection::from_query_pairs(&pairs(&[("excludedAttributes", "members")])).unwrap();
        assert!(!entra.keeps("members") && entra.keeps("displayName"));
        let some = Projection::from_query_pairs(&pairs(&[
            ("ATTRIBUTES", "userName"),
            ("attributes", "groups"),
        ]))
        .unwrap();
        assert!(some.asks_for("groups") && some.keeps("userName") && !some.keeps("members"));
        assert!(Projection::from_query_pairs(&pairs(&[("attributes", "a..b")])).is_err());
    }
}
