//! Loads a mapping file and compiles it: every expression and template parsed, every SCIM path
//! resolved against the schema registry, every problem collected with its file and key so that
//! `scimgate check` can print them all at once.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

mod calls;
mod resource;

use super::expr::{Expr, Template, ValueTemplate};
use super::model::{
    AuthScheme, OnChange, PaginationStyle, RawAttribute, RawCall, RawErrorRule, RawGenerate,
    RawGroupsOf, RawList, RawMembers, RawPlatform,
};
use super::request::Method;
pub use super::spec::*;
use crate::problems::Problems;
use crate::scim::filter::CompareOp;
use crate::scim::path::{parse_attr_path, AttrPath};
use crate::scim::schema::{Mutability, Registry};
use crate::scim::ScimType;

/// Reads, parses and compiles one mapping file. Problems are added to `problems`; `None` when
/// the file could not be used at all.
pub fn load_mapping(path: &Path, registry: &Registry, problems: &mut Problems) -> Option<Mapping> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            problems.add(path, "", format!("cannot read the mapping file: {e}"));
            return None;
        }
    };
    compile_mapping_str(path, &text, registry, problems)
}

/// Compiles mapping text; `path` only names the file in messages.
pub fn compile_mapping_str(
    path: &Path,
    text: &str,
    registry: &Registry,
    problems: &mut Problems,
) -> Option<Mapping> {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            problems.add(path, "", format!("not valid TOML: {}", e.message()));
            return None;
        }
    };
    let mut c = Compiler {
        file: path,
        registry,
        problems,
        rt_name: "User",
    };
    for key in table.keys() {
        if !["platform", "errors", "users", "groups"].contains(&key.as_str()) {
            c.problem(
                key,
                "unknown section (expected `platform`, `errors`, `users` or `groups`)".to_owned(),
            );
        }
    }
    let platform = c
        .section::<RawPlatform>(&table, "platform", true)
        .map(|raw| c.platform(raw));
    let errors = c
        .section::<Vec<RawErrorRule>>(&table, "errors", false)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter_map(|(i, raw)| c.error_rule(&format!("errors[{i}]"), raw))
        .collect();
    let groups = match table.get("groups") {
        Some(toml::Value::Table(groups)) => {
            c.rt_name = "Group";
            let groups = c.resource_table("groups", groups);
            if groups.as_ref().is_some_and(|g| g.members.is_none()) {
                c.problem(
                    "groups.members",
                    "missing (how the platform lists and changes members)".to_owned(),
                );
            }
            groups
        }
        Some(_) => {
            c.problem("groups", "must be a table".to_owned());
            None
        }
        None => None,
    };
    c.rt_name = "User";
    let users = match table.get("users") {
        Some(toml::Value::Table(users)) => c.resource_table("users", users),
        Some(_) => {
            c.problem("users", "must be a table".to_owned());
            None
        }
        None => {
            c.problem("users", "missing section".to_owned());
            None
        }
    };
    if users.as_ref().is_some_and(|u| u.groups_of.is_some()) && !table.contains_key("groups") {
        c.problem(
            "users.groups",
            "needs a [groups] section (to know the groups it lists)".to_owned(),
        );
        return None;
    }
    if let (Some(users), Some(groups)) = (&users, &groups) {
        let from_list = matches!(users.groups_of, Some(GroupsOfSpec::GroupList));
        let members_in_object = groups
            .members
            .as_ref()
            .is_some_and(|m| matches!(m.source, MemberSource::Object(_)));
        if from_list && !members_in_object {
            c.problem(
                "users.groups.from",
                "\"groups.list\" picks a user's groups by the members in each group object: it needs [groups.members] from_backend, not a members list call".to_owned(),
            );
            return None;
        }
    }
    let groups_ok = !table.contains_key("groups") || groups.is_some();
    if !groups_ok {
        return None;
    }
    let mapping = Mapping {
        file: path.to_owned(),
        platform: platform?,
        errors,
        users: users?,
        groups,
    };
    super::contract::check(&mapping, registry, c.problems);
    Some(mapping)
}

struct Compiler<'a> {
    file: &'a Path,
    registry: &'a Registry,
    problems: &'a mut Problems,
    /// The SCIM resource type of the section being compiled.
    rt_name: &'static str,
}

impl Compiler<'_> {
    fn problem(&mut self, key: &str, message: String) {
        self.problems.add(self.file, key, message);
    }

    /// Deserializes one top-level section on its own, so that an error in one section does not
    /// hide the errors of the others.
    fn section<T: DeserializeOwned>(
        &mut self,
        table: &toml::Table,
        key: &str,
        required: bool,
    ) -> Option<T> {
        let Some(value) = table.get(key) else {
            if required {
                self.problem(key, "missing section".to_owned());
            }
            return None;
        };
        match T::deserialize(value.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(key, e.message().to_owned());
                None
            }
        }
    }

    fn expr(&mut self, key: &str, source: &str) -> Option<Expr> {
        match Expr::compile(source) {
            Ok(e) => Some(e),
            Err(msg) => {
                self.problem(key, msg);
                None
            }
        }
    }

    fn template(&mut self, key: &str, source: &str) -> Option<Template> {
        match Template::compile(source) {
            Ok(t) => Some(t),
            Err(msg) => {
                self.problem(key, msg);
                None
            }
        }
    }

    fn templates(
        &mut self,
        key: &str,
        map: &BTreeMap<String, String>,
    ) -> Option<Vec<(String, Template)>> {
        let mut out = Vec::with_capacity(map.len());
        let mut ok = true;
        for (name, source) in map {
            match self.template(&format!("{key}.{name}"), source) {
                Some(t) => out.push((name.clone(), t)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn platform(&mut self, raw: RawPlatform) -> PlatformSpec {
        if raw.auth.scheme == AuthScheme::Header && raw.auth.header.is_none() {
            self.problem(
                "platform.auth.header",
                "scheme \"header\" needs the header name".to_owned(),
            );
        }
        if raw.auth.scheme != AuthScheme::Header && raw.auth.header.is_some() {
            self.problem(
                "platform.auth.header",
                "only scheme \"header\" takes a header name".to_owned(),
            );
        }
        let error_message = raw
            .error_message
            .as_deref()
            .and_then(|s| self.expr("platform.error_message", s));
        let headers = self
            .templates("platform.headers", &raw.headers)
            .unwrap_or_default();
        PlatformSpec {
            name: raw.name,
            auth_scheme: raw.auth.scheme,
            auth_header: raw.auth.header,
            auth_prefix: raw.auth.prefix,
            settings: raw.settings,
            optional_settings: raw.optional_settings,
            error_message,
            headers,
        }
    }

    fn error_rule(&mut self, key: &str, raw: RawErrorRule) -> Option<ErrorRule> {
        let scim_type = match raw.scim_type.as_deref() {
            None => None,
            Some(s) => match ScimType::parse(s) {
                Some(t) => Some(t),
                None => {
                    self.problem(
                        &format!("{key}.scim_type"),
                        format!("unknown scimType `{s}` (RFC 7644 §3.12 lists the valid ones)"),
                    );
                    return None;
                }
            },
        };
        let scim_status = raw.scim_status.unwrap_or(raw.status);
        let Some(kind) = SCIM_STATUSES
            .iter()
            .find(|(status, _)| *status == scim_status)
            .map(|(_, kind)| *kind)
        else {
            let key = match raw.scim_status {
                Some(_) => format!("{key}.scim_status"),
                // The platform's status is taken when no scim_status is given.
                None => format!("{key}.status"),
            };
            let statuses: Vec<String> = SCIM_STATUSES.iter().map(|(s, _)| s.to_string()).collect();
            self.problem(
                &key,
                format!(
                    "{scim_status} is not a status SCIM errors answer with; set scim_status to one of {}",
                    statuses.join(", ")
                ),
            );
            return None;
        };
        Some(ErrorRule {
            status: raw.status,
            body_contains: raw.body_contains,
            kind,
            scim_type,
        })
    }

    /// A SCIM attribute path that must exist in the User resource type.
    fn scim_path(&mut self, key: &str, source: &str) -> Option<AttrPath> {
        let path = match parse_attr_path(source) {
            Ok(p) => p,
            Err(e) => {
                self.problem(
                    key,
                    format!("`{source}` is not a SCIM attribute path: {}", e.detail),
                );
                return None;
            }
        };
        let Some(rt) = self.registry.resource_type(self.rt_name) else {
            self.problem(
                key,
                "the schema registry has no User resource type".to_owned(),
            );
            return None;
        };
        if self.registry.resolve(rt, &path).is_none() {
            self.problem(
                key,
                format!(
                    "`{source}` is not an attribute of the SCIM {} schemas",
                    self.rt_name
                ),
            );
            return None;
        }
        Some(path)
    }

    fn attribute(&mut self, key: &str, raw: RawAttribute) -> Option<AttributeMapping> {
        let scim = self.scim_path(&format!("{key}.scim"), &raw.scim)?;
        if let Some(rt) = self.registry.resource_type(self.rt_name) {
            if let Some(resolved) = self.registry.resolve(rt, &scim) {
                let attr = resolved.sub_attribute.unwrap_or(resolved.attribute);
                if attr.mutability == Mutability::ReadOnly && raw.to_backend.is_some() {
                    self.problem(
                        &format!("{key}.to_backend"),
                        format!(
                            "`{}` is read-only in SCIM; it cannot be written to the platform",
                            raw.scim
                        ),
                    );
                }
            }
        }
        let backend_field = raw
            .backend
            .as_ref()
            .map(|b| b.split('.').map(str::to_owned).collect::<Vec<_>>());
        if let Some(field) = &backend_field {
            if field.iter().any(String::is_empty) {
                self.problem(
                    &format!("{key}.backend"),
                    format!(
                        "`{}` is not a field path",
                        raw.backend.as_deref().unwrap_or_default()
                    ),
                );
            }
        }
        let from_source = match (&raw.from_backend, &raw.backend) {
            _ if !raw.read => None,
            (Some(expr), _) => Some(expr.clone()),
            (None, Some(field)) => Some(format!("backend.{field}")),
            (None, None) => None,
        };
        if from_source.is_none() && raw.to_backend.is_none() {
            self.problem(
                key,
                "needs `backend`, `from_backend` or `to_backend`".to_owned(),
            );
            return None;
        }
        if raw.to_backend.is_some() && backend_field.is_none() {
            self.problem(
                &format!("{key}.backend"),
                "`to_backend` needs the `backend` field it writes".to_owned(),
            );
        }
        if raw.on_change != OnChange::Apply && raw.to_backend.is_none() {
            self.problem(
                &format!("{key}.on_change"),
                "\"reject\" and \"keep\" apply to attributes written with `to_backend`".to_owned(),
            );
        }
        if raw.mutability == Some(Mutability::ReadOnly) && raw.to_backend.is_some() {
            self.problem(
                &format!("{key}.mutability"),
                "a readOnly attribute is not written to the platform: drop `to_backend`".to_owned(),
            );
        }
        let from_backend = match from_source {
            Some(s) => Some(self.expr(&format!("{key}.from_backend"), &s)?),
            None => None,
        };
        let to_backend = match raw.to_backend.as_deref() {
            Some(s) => Some(self.expr(&format!("{key}.to_backend"), s)?),
            None => None,
        };
        Some(AttributeMapping {
            key: key.to_owned(),
            scim_source: raw.scim,
            scim,
            backend_field,
            from_backend,
            to_backend,
            on_change: raw.on_change,
            mutability: raw.mutability,
        })
    }
}
