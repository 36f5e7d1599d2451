//! The mapping's template contract: the variables each kind of expression and call template
//! sees, as typed values. The service fills these structs; nothing else reaches a template.
//!
//! | where in a mapping file | context | variables |
//! |---|---|---|
//! | `[platform.headers]` | [`SettingsVars`] | `settings` |
//! | `key`, `from_backend`, `[groups.members].from_backend` | [`ObjectVars`] | `backend`, `settings` |
//! | `to_backend` | [`ValueVars`] | `value`, `resource`, `settings` |
//! | `[[...list.filters]].query` | [`FilterVars`] | `value`, `settings` |
//! | `list.items`, `list.total`, `[users.groups].items` | [`ResponseVars`] | `response`, `headers`, `settings` |
//! | `platform.error_message` | [`ErrorVars`] | `response` |
//! | `get`, `[users.groups]` calls | [`ReadVars`] | `key`, `settings` |
//! | `list` call | [`PageVars`] | `offset`/`limit` or `page`/`per_page`, `settings` |
//! | `create` calls | [`CreateVars`] | `scim`, `desired`, `settings`; `key`, `backend` after the first |
//! | `update` calls | [`UpdateVars`] | `key`, `scim`, `desired`, `changed`, `current`, `backend`, `settings` |
//! | `[groups.members].update` calls | [`MembershipVars`] | what a create and an update both offer (no `current`, `changed`), and `added`, `removed` |
//! | `delete` calls | [`DeleteVars`] | `key`, `scim`, `settings` |
//!
//! A call that `returns_object` sets `key` and `backend` for the calls after it.

use std::borrow::Cow;

use super::expr::{Scope, VarSource};
use super::lazy::JsonBody;
use serde::Serialize;
use serde_json::{Map, Value};

/// A template context: its variables, by name, and its value for MiniJinja.
pub trait TemplateVars: Serialize + VarSource + Sized {
    /// The variables this context offers.
    const NAMES: &'static [&'static str];

    /// The context as expressions read it (a variable not set is undefined); each expression
    /// converts only what it reads.
    fn context(&self) -> Scope<'_> {
        Scope::new(self)
    }
}

fn json(value: &Value) -> Option<Cow<'_, Value>> {
    Some(Cow::Borrowed(value))
}

fn text(value: &str) -> Option<Cow<'_, Value>> {
    Some(Cow::Owned(Value::String(value.to_owned())))
}

fn object(map: &Map<String, Value>) -> Option<Cow<'_, Value>> {
    Some(Cow::Owned(Value::Object(map.clone())))
}

fn number(n: Option<usize>) -> Option<Cow<'static, Value>> {
    n.map(|n| Cow::Owned(Value::from(n)))
}

fn texts(items: &[String]) -> Option<Cow<'_, Value>> {
    Some(Cow::Owned(Value::Array(
        items.iter().cloned().map(Value::String).collect(),
    )))
}

/// The variables of a sequence of calls, which a call that returns the platform object
/// updates for the calls after it.
pub trait CallVars: TemplateVars {
    /// The platform object a call answered with, and its key.
    fn object_returned(&mut self, key: String, object: Value);
}

/// Platform headers: the backend's settings only.
#[derive(Debug, Serialize)]
pub struct SettingsVars<'a> {
    /// `[backend.settings]` of the gateway config.
    pub settings: &'a Value,
}

impl VarSource for SettingsVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "settings" => json(self.settings),
            _ => None,
        }
    }
}

impl TemplateVars for SettingsVars<'_> {
    const NAMES: &'static [&'static str] = &["settings"];
}

/// Reading a platform object: its key, SCIM attributes, members.
#[derive(Debug, Serialize)]
pub struct ObjectVars<'a> {
    /// The platform object.
    pub backend: &'a Value,
    /// `[backend.settings]` of the gateway config.
    pub settings: &'a Value,
}

impl VarSource for ObjectVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "backend" => json(self.backend),
            "settings" => json(self.settings),
            _ => None,
        }
    }
}

impl TemplateVars for ObjectVars<'_> {
    const NAMES: &'static [&'static str] = &["backend", "settings"];
}

/// Writing one SCIM attribute to the platform (`to_backend`).
#[derive(Debug, Serialize)]
pub struct ValueVars<'a> {
    /// The attribute's SCIM value (null when absent).
    pub value: &'a Value,
    /// The whole SCIM resource being written.
    pub resource: &'a Value,
    /// `[backend.settings]` of the gateway config.
    pub settings: &'a Value,
}

impl VarSource for ValueVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "value" => json(self.value),
            "resource" => json(self.resource),
            "settings" => json(self.settings),
            _ => None,
        }
    }
}

impl TemplateVars for ValueVars<'_> {
    const NAMES: &'static [&'static str] = &["value", "resource", "settings"];
}

/// A filter pushed down to the platform's list call.
#[derive(Debug, Serialize)]
pub struct FilterVars<'a> {
    /// The filter's comparison value.
    pub value: &'a Value,
    /// `[backend.settings]` of the gateway config.
    pub settings: &'a Value,
}

impl VarSource for FilterVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "value" => json(self.value),
            "settings" => json(self.settings),
            _ => None,
        }
    }
}

impl TemplateVars for FilterVars<'_> {
    const NAMES: &'static [&'static str] = &["value", "settings"];
}

/// Reading a platform answer (list items, totals, a user's groups).
#[derive(Debug, Serialize)]
pub struct ResponseVars<'a> {
    /// The answer's JSON body (expressions read it lazily).
    pub response: &'a JsonBody,
    /// The answer's headers, by lower-case name.
    pub headers: &'a Value,
    /// `[backend.settings]` of the gateway config.
    pub settings: &'a Value,
}

impl VarSource for ResponseVars<'_> {
    fn lazy(&self, name: &str) -> Option<minijinja::Value> {
        (name == "response").then(|| self.response.jinja())
    }

    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "response" => json(self.response.value()),
            "headers" => json(self.headers),
            "settings" => json(self.settings),
            _ => None,
        }
    }
}

impl TemplateVars for ResponseVars<'_> {
    const NAMES: &'static [&'static str] = &["response", "headers", "settings"];
}

/// Reading a platform error answer (`platform.error_message`).
#[derive(Debug, Serialize)]
pub struct ErrorVars<'a> {
    /// The error answer's JSON body (a JSON string when it is not JSON).
    pub response: &'a Value,
}

impl VarSource for ErrorVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "response" => json(self.response),
            _ => None,
        }
    }
}

impl TemplateVars for ErrorVars<'_> {
    const NAMES: &'static [&'static str] = &["response"];
}

/// A call that reads one object by key (`get`, `[users.groups]`).
#[derive(Debug, Serialize)]
pub struct ReadVars<'a> {
    /// The object's platform key.
    pub key: &'a str,
    /// `[backend.settings]` of the gateway config.
    pub settings: &'a Value,
}

impl VarSource for ReadVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "key" => text(self.key),
            "settings" => json(self.settings),
            _ => None,
        }
    }
}

impl TemplateVars for ReadVars<'_> {
    const NAMES: &'static [&'static str] = &["key", "settings"];
}

/// One item of a list answer (`[groups.members.list] user_key`).
#[derive(Debug, Serialize)]
pub struct ItemVars<'a> {
    /// The item.
    pub item: &'a Value,
    /// `[backend.settings]` of the gateway config.
    pub settings: &'a Value,
}

impl VarSource for ItemVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "item" => json(self.item),
            "settings" => json(self.settings),
            _ => None,
        }
    }
}

impl TemplateVars for ItemVars<'_> {
    const NAMES: &'static [&'static str] = &["item", "settings"];
}

/// One page of the platform's list call; which variables are set depends on the mapping's
/// `pagination` (`offset`/`limit`, `page`/`per_page`, or none).
#[derive(Debug, Default, Serialize)]
pub struct PageVars<'a> {
    /// The group whose members are listed (`[groups.members.list]` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    /// 0-based position of the first object (`pagination = "offset"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
    /// Objects asked for (`pagination = "offset"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// 1-based page number (`pagination = "page"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<usize>,
    /// Objects per page (`pagination = "page"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_page: Option<usize>,
    /// `[backend.settings]` of the gateway config.
    pub settings: Option<&'a Value>,
}

impl VarSource for PageVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "key" => self.key.and_then(text),
            "offset" => number(self.offset),
            "limit" => number(self.limit),
            "page" => number(self.page),
            "per_page" => number(self.per_page),
            "settings" => self.settings.and_then(json),
            _ => None,
        }
    }
}

impl TemplateVars for PageVars<'_> {
    const NAMES: &'static [&'static str] = &["offset", "limit", "page", "per_page", "settings"];
}

/// The variables of `[groups.members.list]`: a page's, and the group's `key`.
pub struct MemberPageVars;

impl MemberPageVars {
    /// The variables it offers.
    pub const NAMES: &'static [&'static str] =
        &["key", "offset", "limit", "page", "per_page", "settings"];
}

/// The `create` calls of a new resource.
#[derive(Debug, Serialize)]
pub struct CreateVars<'a> {
    /// The SCIM resource as the IdP sent it (normalized).
    pub scim: &'a Value,
    /// The platform fields the resource asks for (from `to_backend`).
    pub desired: &'a Map<String, Value>,
    /// `[backend.settings]` of the gateway config.
    pub settings: &'a Value,
    /// The values generated for this write (`[users.generate]`), never logged or stored.
    pub generated: &'a Map<String, Value>,
    /// The new object's platform key, once the first call made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The platform object as the last call that returned it gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<Value>,
}

impl VarSource for CreateVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "scim" => json(self.scim),
            "desired" => object(self.desired),
            "settings" => json(self.settings),
            "generated" => object(self.generated),
            "key" => self.key.as_deref().and_then(text),
            "backend" => self.backend.as_ref().and_then(json),
            _ => None,
        }
    }
}

impl TemplateVars for CreateVars<'_> {
    const NAMES: &'static [&'static str] =
        &["scim", "desired", "settings", "generated", "key", "backend"];
}

impl CallVars for CreateVars<'_> {
    fn object_returned(&mut self, key: String, object: Value) {
        self.key = Some(key);
        self.backend = Some(object);
    }
}

/// The `update` calls of a replaced or patched resource.
#[derive(Debug, Serialize)]
pub struct UpdateVars<'a> {
    /// The object's platform key.
    pub key: String,
    /// The whole SCIM resource after the change.
    pub scim: &'a Value,
    /// The platform fields the resource asks for.
    pub desired: &'a Map<String, Value>,
    /// The platform fields that differ from the platform's (`field: true`).
    pub changed: &'a Map<String, Value>,
    /// The platform object before the write.
    pub current: &'a Value,
    /// The platform object, as the last call that returned it gave it.
    pub backend: Value,
    /// `[backend.settings]` of the gateway config.
    pub settings: &'a Value,
    /// The values generated for this write (`[users.generate]`), never logged or stored.
    pub generated: &'a Map<String, Value>,
}

impl VarSource for UpdateVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "key" => text(&self.key),
            "scim" => json(self.scim),
            "desired" => object(self.desired),
            "changed" => object(self.changed),
            "current" => json(self.current),
            "backend" => json(&self.backend),
            "settings" => json(self.settings),
            "generated" => object(self.generated),
            _ => None,
        }
    }
}

impl TemplateVars for UpdateVars<'_> {
    const NAMES: &'static [&'static str] = &[
        "key",
        "scim",
        "desired",
        "changed",
        "current",
        "backend",
        "settings",
        "generated",
    ];
}

impl CallVars for UpdateVars<'_> {
    fn object_returned(&mut self, key: String, object: Value) {
        self.key = key;
        self.backend = object;
    }
}

/// The `[groups.members].update` calls after a create or an update: that write's variables
/// and the members who joined and left.
#[derive(Debug, Serialize)]
pub struct MembershipVars<'w, W> {
    /// The write's variables.
    #[serde(flatten)]
    pub write: &'w mut W,
    /// Platform keys of the users who joined.
    pub added: &'w [String],
    /// Platform keys of the users who left.
    pub removed: &'w [String],
}

impl<W: VarSource> VarSource for MembershipVars<'_, W> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "added" => texts(self.added),
            "removed" => texts(self.removed),
            _ => self.write.var(name),
        }
    }
}

impl<W: TemplateVars> TemplateVars for MembershipVars<'_, W> {
    // What `CreateVars` and `UpdateVars` both offer: membership calls follow either write,
    // and `current`/`changed` do not exist after a create.
    const NAMES: &'static [&'static str] = &[
        "key",
        "scim",
        "desired",
        "backend",
        "settings",
        "generated",
        "added",
        "removed",
    ];
}

impl<W: CallVars> CallVars for MembershipVars<'_, W> {
    fn object_returned(&mut self, key: String, object: Value) {
        self.write.object_returned(key, object);
    }
}

/// The `[groups.members.add]` and `remove` calls for one member: the write's variables and
/// the member's user key.
#[derive(Debug, Serialize)]
pub struct MemberVars<'w, W> {
    /// The write's variables.
    #[serde(flatten)]
    pub write: &'w W,
    /// The user key of the member who joins or leaves.
    pub member: &'w str,
}

impl<W: VarSource> VarSource for MemberVars<'_, W> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "member" => text(self.member),
            _ => self.write.var(name),
        }
    }
}

impl<W: TemplateVars> TemplateVars for MemberVars<'_, W> {
    // What `CreateVars` and `UpdateVars` both offer: membership calls follow either write,
    // and `current`/`changed` do not exist after a create.
    const NAMES: &'static [&'static str] = &[
        "key",
        "scim",
        "desired",
        "backend",
        "settings",
        "generated",
        "member",
    ];
}

impl<W: TemplateVars> CallVars for MemberVars<'_, W> {
    // One member's calls run alongside other members': an answer feeds no later call.
    fn object_returned(&mut self, _: String, _: Value) {}
}

/// The `delete` calls of a resource.
#[derive(Debug, Serialize)]
pub struct DeleteVars<'a> {
    /// The object's platform key.
    pub key: &'a str,
    /// The resource as the IdP last wrote it.
    pub scim: &'a Value,
    /// `[backend.settings]` of the gateway config.
    pub settings: &'a Value,
}

impl VarSource for DeleteVars<'_> {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "key" => text(self.key),
            "scim" => json(self.scim),
            "settings" => json(self.settings),
            _ => None,
        }
    }
}

impl TemplateVars for DeleteVars<'_> {
    const NAMES: &'static [&'static str] = &["key", "scim", "settings"];
}

impl CallVars for DeleteVars<'_> {
    // A delete call's answer is not read.
    fn object_returned(&mut self, _: String, _: Value) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What an expression reads of a context (`VarSource`) is what the context serializes to,
    /// and a variable it names but does not set is undefined.
    fn reads_agree_with_serialized<V: TemplateVars>(vars: &V) {
        let json = serde_json::to_value(vars).unwrap();
        let members = json.as_object().unwrap();
        for (name, value) in members {
            assert_eq!(vars.var(name).as_deref(), Some(value), "{name}");
        }
        for name in V::NAMES {
            if !members.contains_key(*name) {
                assert!(vars.var(name).is_none(), "{name}");
            }
        }
    }

    /// The variables a context really carries are the ones it names.
    fn names_of(vars: &impl TemplateVars) -> Vec<String> {
        let json = serde_json::to_value(vars).unwrap();
        json.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn contexts_carry_exactly_their_variables() {
        let (v, s) = (json!({"a": 1}), json!({"org": "o"}));
        let map = Map::new();
        let update = UpdateVars {
            key: "k".to_owned(),
            scim: &v,
            desired: &map,
            changed: &map,
            current: &v,
            backend: v.clone(),
            settings: &s,
            generated: &map,
        };
        reads_agree_with_serialized(&update);
        let mut names = names_of(&update);
        names.sort();
        let mut expected: Vec<&str> = UpdateVars::NAMES.to_vec();
        expected.sort();
        assert_eq!(names, expected);
        let mut create = CreateVars {
            scim: &v,
            desired: &map,
            settings: &s,
            generated: &map,
            key: None,
            backend: None,
        };
        assert_eq!(
            names_of(&create),
            ["scim", "desired", "settings", "generated"]
        );
        create.object_returned("k1".to_owned(), json!({"id": "k1"}));
        assert_eq!(create.key.as_deref(), Some("k1"));
        let added = ["u1".to_owned()];
        let mut membership = MembershipVars {
            write: &mut create,
            added: &added,
            removed: &[],
        };
        membership.object_returned("k2".to_owned(), json!({"id": "k2"}));
        assert_eq!(membership.var("key").unwrap().as_ref(), &json!("k2"));
        assert_eq!(membership.var("added").unwrap().as_ref(), &json!(["u1"]));
        reads_agree_with_serialized(&membership);
        let page = PageVars {
            page: Some(2),
            per_page: Some(100),
            settings: Some(&s),
            ..Default::default()
        };
        assert_eq!(names_of(&page), ["page", "per_page", "settings"]);
        reads_agree_with_serialized(&page);
        reads_agree_with_serialized(&ReadVars {
            key: "k",
            settings: &s,
        });
        reads_agree_with_serialized(&MemberVars {
            write: &create,
            member: "u2",
        });
    }
}
