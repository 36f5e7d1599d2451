//! The mapping contract, checked when a mapping is compiled (so by `scimgate check` and at
//! start-up): every variable a template or condition names is one its context offers (the
//! typed contexts of `vars.rs`), every platform field it reads is one the mapping declares,
//! every setting one `[platform]` names, every SCIM attribute one the resource type has; no
//! field that looks like a secret is read unless the file declares it; and every platform
//! field an attribute writes is sent by a create call and, unless the platform keeps or
//! refuses changes to it, by an update call. A typo is a problem with its file, key and a
//! suggestion, never a write that silently does nothing.

use std::collections::BTreeSet;
use std::path::Path;

use super::expr::{Expr, Template};
use super::model::OnChange;
use super::spec::{
    CallSpec, GroupsOfSpec, Mapping, MemberChange, MemberSource, PlatformSpec, ResourceMapping,
    Sends,
};
use super::vars::{
    CreateVars, DeleteVars, ErrorVars, FilterVars, ItemVars, MemberPageVars, MemberVars,
    MembershipVars, ObjectVars, PageVars, ReadVars, ResponseVars, SettingsVars, TemplateVars,
    UpdateVars, ValueVars,
};
use crate::problems::Problems;
use crate::scim::schema::{Registry, ResourceType};

/// Field names that hold credentials on most platforms: never read unless declared.
const SECRET_LIKE: [&str; 8] = [
    "password",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "credential",
    "otp",
];

/// Checks a compiled mapping, adding each breach of the contract to `problems`.
pub fn check(mapping: &Mapping, registry: &Registry, problems: &mut Problems) {
    let mut c = Checker {
        file: &mapping.file,
        problems,
        platform: &mapping.platform,
    };
    let platform = &mapping.platform;
    for (name, template) in &platform.headers {
        let key = format!("platform.headers.{name}");
        c.template(&key, template, SettingsVars::NAMES, None);
    }
    if let Some(expr) = &platform.error_message {
        c.expr("platform.error_message", expr, ErrorVars::NAMES, None);
    }
    for (section, rt_name) in [
        (Some(&mapping.users), "User"),
        (mapping.groups.as_ref(), "Group"),
    ] {
        let (Some(resource), Some(rt)) = (section, registry.resource_type(rt_name)) else {
            continue;
        };
        let fields = Fields::of(resource);
        let resource_check = ResourceCheck {
            resource,
            fields: &fields,
            registry,
            rt,
        };
        c.resource(&resource_check);
    }
}

/// The platform object's fields a resource section declares.
struct Fields {
    /// Declared by `fields` (then nothing else is).
    explicit: Vec<String>,
    /// Top-level field names the mapping may read.
    readable: BTreeSet<String>,
    /// Field paths the attributes write (`desired`, `changed`), with what a change does.
    written: Vec<(Vec<String>, OnChange, String)>,
}

impl Fields {
    fn of(resource: &ResourceMapping) -> Fields {
        let mut readable: BTreeSet<String> = resource.fields.iter().cloned().collect();
        if resource.fields.is_empty() {
            // No declaration: what the key, the attributes and the members read is one.
            let mut exprs: Vec<&Expr> = vec![&resource.key];
            exprs.extend(resource.identity.as_ref());
            exprs.extend(resource.exclude.as_ref());
            exprs.extend(
                resource
                    .attributes
                    .iter()
                    .filter_map(|a| a.from_backend.as_ref()),
            );
            if let Some(MemberSource::Object(expr)) = resource.members.as_ref().map(|m| &m.source) {
                exprs.push(expr);
            }
            for expr in exprs {
                for path in expr.paths() {
                    if let Some(field) = path.strip_prefix("backend.") {
                        readable.insert(first_segment(field).to_owned());
                    }
                }
            }
            for attribute in &resource.attributes {
                if let Some(field) = attribute.backend_field.as_ref().and_then(|f| f.first()) {
                    readable.insert(field.clone());
                }
            }
        }
        let written = resource
            .attributes
            .iter()
            .filter(|a| a.to_backend.is_some())
            .filter_map(|a| {
                a.backend_field
                    .clone()
                    .map(|f| (f, a.on_change, a.key.clone()))
            })
            .collect();
        Fields {
            explicit: resource.fields.clone(),
            readable,
            written,
        }
    }

    fn writes(&self, field: &str) -> bool {
        self.written
            .iter()
            .any(|(path, _, _)| path.first().is_some_and(|f| f == field))
    }
}

struct ResourceCheck<'a> {
    resource: &'a ResourceMapping,
    fields: &'a Fields,
    registry: &'a Registry,
    rt: &'a ResourceType,
}

struct Checker<'a> {
    file: &'a Path,
    problems: &'a mut Problems,
    platform: &'a PlatformSpec,
}

fn first_segment(path: &str) -> &str {
    path.split('.').next().unwrap_or(path)
}

/// The closest of `candidates` to `wanted`, when one is close enough to be a typo.
fn suggestion<'c>(wanted: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(wanted, c), c))
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 4))
        .min()
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

impl Checker<'_> {
    fn problem(&mut self, key: &str, message: String) {
        self.problems.add(self.file, key, message);
    }

    fn resource(&mut self, r: &ResourceCheck<'_>) {
        let resource = r.resource;
        let section = resource.section.as_str();
        let object = Some(r);
        self.expr(
            &format!("{section}.key"),
            &resource.key,
            ObjectVars::NAMES,
            object,
        );
        if !resource.fields.is_empty() {
            for path in resource.key.paths() {
                self.whole_object(&format!("{section}.key"), &path);
            }
        }
        if let Some(exclude) = &resource.exclude {
            let key = format!("{section}.exclude");
            self.expr(&key, exclude, ObjectVars::NAMES, object);
        }
        if let Some(identity) = &resource.identity {
            let key = format!("{section}.identity");
            self.expr(&key, identity, ObjectVars::NAMES, object);
            for path in identity.paths() {
                self.whole_object(&key, &path);
            }
        }
        for attribute in &resource.attributes {
            if let Some(expr) = &attribute.from_backend {
                let key = format!("{}.from_backend", attribute.key);
                self.expr(&key, expr, ObjectVars::NAMES, object);
                for path in expr.paths() {
                    self.whole_object(&key, &path);
                }
            }
            if let Some(expr) = &attribute.to_backend {
                let key = format!("{}.to_backend", attribute.key);
                self.expr(&key, expr, ValueVars::NAMES, object);
            }
        }
        self.call(&resource.get, ReadVars::NAMES, object);
        self.call(&resource.list.call, PageVars::NAMES, object);
        let list = &resource.list;
        self.expr(
            &format!("{section}.list.items"),
            &list.items,
            ResponseVars::NAMES,
            object,
        );
        if let Some(total) = &list.total {
            self.expr(
                &format!("{section}.list.total"),
                total,
                ResponseVars::NAMES,
                object,
            );
        }
        for field in &list.lacks {
            self.platform_field(&format!("{section}.list.lacks"), "backend", field, r);
        }
        // Who an item is and whether it is shown are decided on list items as they come.
        for (what, expr) in [
            ("identity", &resource.identity),
            ("exclude", &resource.exclude),
        ] {
            let Some(expr) = expr else { continue };
            let lacked: Vec<&String> = list
                .lacks
                .iter()
                .filter(|field| {
                    expr.paths().iter().any(|p| {
                        p == "backend"
                            || p.strip_prefix("backend.")
                                .is_some_and(|f| f.split('.').next() == Some(field.as_str()))
                    })
                })
                .collect();
            if !lacked.is_empty() {
                self.problem(
                    &format!("{section}.{what}"),
                    format!(
                        "reads {} which list items lack ({section}.list.lacks): it must be decided from fields every list item has",
                        lacked.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        for pushdown in &list.pushdowns {
            if let Some(get) = &pushdown.get {
                self.call(get, FilterVars::NAMES, object);
            }
        }
        for (i, pushdown) in list.pushdowns.iter().enumerate() {
            // Every platform field of the attribute keeps its first value while the gateway
            // answers the IdP's (`on_change = "keep"`): asking
            // the platform for the IdP's value misses every renamed object, and an IdP that
            // finds nothing creates a duplicate.
            let same: Vec<_> = resource
                .attributes
                .iter()
                .filter(|a| a.scim == pushdown.attribute)
                .collect();
            let kept = same
                .iter()
                .all(|a| a.on_change == OnChange::Keep)
                .then(|| same.first())
                .flatten();
            if let Some(kept) = kept {
                self.problem(
                    &format!("{section}.list.filters[{i}]"),
                    format!(
                        "`{}` is `on_change = \"keep\"` ({}): the platform keeps its first value, so it cannot answer a filter on the IdP's; leave the filter to the gateway",
                        kept.scim_source, kept.key
                    ),
                );
            }
            for (name, template) in &pushdown.query {
                let key = format!("{section}.list.filters[{i}].query.{name}");
                self.template(&key, template, FilterVars::NAMES, object);
            }
        }
        for (i, call) in resource.create.iter().enumerate() {
            // The first call makes the object: no key or platform object exists before it.
            let names: Vec<&str> = CreateVars::NAMES
                .iter()
                .copied()
                .filter(|n| i > 0 || !["key", "backend"].contains(n))
                .collect();
            self.call(call, &names, object);
        }
        for call in &resource.update {
            self.call(call, UpdateVars::NAMES, object);
        }
        for call in &resource.delete {
            self.call(call, DeleteVars::NAMES, object);
        }
        if let Some(members) = &resource.members {
            match &members.source {
                MemberSource::Object(expr) => {
                    let key = format!("{section}.members.from_backend");
                    self.expr(&key, expr, ObjectVars::NAMES, object);
                }
                MemberSource::List { list, user_key } => {
                    self.call(&list.call, MemberPageVars::NAMES, object);
                    let key = format!("{section}.members.list");
                    self.expr(
                        &format!("{key}.items"),
                        &list.items,
                        ResponseVars::NAMES,
                        object,
                    );
                    if let Some(total) = &list.total {
                        self.expr(&format!("{key}.total"), total, ResponseVars::NAMES, object);
                    }
                    self.expr(
                        &format!("{key}.user_key"),
                        user_key,
                        ItemVars::NAMES,
                        object,
                    );
                }
            }
            let names = match &members.change {
                MemberChange::Delta(_) => {
                    <MembershipVars<'static, UpdateVars<'static>> as TemplateVars>::NAMES
                }
                MemberChange::EachMember { .. } => {
                    <MemberVars<'static, UpdateVars<'static>> as TemplateVars>::NAMES
                }
            };
            for call in members.change.calls() {
                self.call(call, names, object);
            }
        }
        // `from = "groups.list"` reads through [groups.list], checked with the groups.
        if let Some(GroupsOfSpec::Call { call, items }) = &resource.groups_of {
            self.call(call, ReadVars::NAMES, object);
            let key = format!("{section}.groups.items");
            self.expr(&key, items, ResponseVars::NAMES, object);
        }
        self.sent(r);
    }

    /// Every field an attribute writes reaches the platform: a create call sends it, and an
    /// update call does unless the platform keeps or refuses its changes.
    fn sent(&mut self, r: &ResourceCheck<'_>) {
        let resource = r.resource;
        let sends = |calls: &[CallSpec]| {
            let mut all = Sends::default();
            for call in calls {
                all.add(&call.sends);
            }
            all
        };
        let creates = sends(&resource.create);
        let mut updates = sends(&resource.update);
        if let Some(members) = &resource.members {
            for call in members.change.calls() {
                updates.add(&call.sends);
            }
        }
        for (path, on_change, key) in &r.fields.written {
            let dotted = path.join(".");
            if !creates.covers(path) {
                self.problem(
                    key,
                    format!(
                        "no {}.create call sends `desired.{dotted}`: what the IdP gives it would never reach the platform",
                        resource.section
                    ),
                );
            }
            if *on_change == OnChange::Apply && !updates.covers(path) {
                self.problem(
                    key,
                    format!(
                        "no {}.update call sends `desired.{dotted}`: a change would never reach the platform (set on_change = \"keep\" or \"reject\" if the platform cannot change it)",
                        resource.section
                    ),
                );
            }
        }
    }

    fn call(&mut self, call: &CallSpec, names: &[&str], r: Option<&ResourceCheck<'_>>) {
        if let Some(when) = &call.when {
            self.expr(&format!("{}.when", call.key), when, names, r);
        }
        for (part, template) in call.templates() {
            self.template(&format!("{}.{part}", call.key), template, names, r);
        }
        if let Some(object) = &call.object {
            self.expr(
                &format!("{}.object", call.key),
                object,
                ResponseVars::NAMES,
                r,
            );
        }
    }

    fn template(
        &mut self,
        key: &str,
        template: &Template,
        names: &[&str],
        r: Option<&ResourceCheck<'_>>,
    ) {
        for expr in template.exprs() {
            self.expr(key, expr, names, r);
        }
    }

    /// One expression: its variables are its context's, its paths name what exists.
    fn expr(&mut self, key: &str, expr: &Expr, names: &[&str], r: Option<&ResourceCheck<'_>>) {
        let mut variables: Vec<String> = expr.variables().into_iter().collect();
        variables.sort();
        for variable in &variables {
            if !names.contains(&variable.as_str()) {
                self.problem(
                    key,
                    format!(
                        "`{variable}` is not a variable here (it sees {}){}",
                        names.join(", "),
                        suggestion(variable, names.iter().copied())
                    ),
                );
            }
        }
        let mut paths: Vec<String> = expr.paths().into_iter().collect();
        paths.sort();
        for path in paths {
            let Some((variable, rest)) = path.split_once('.') else {
                continue;
            };
            if !names.contains(&variable) {
                continue;
            }
            let field = first_segment(rest);
            match (variable, r) {
                ("settings", _) => self.setting(key, field),
                ("backend" | "current", Some(r)) => self.platform_field(key, variable, field, r),
                ("desired" | "changed", Some(r)) if !r.fields.writes(field) => {
                    let written: Vec<String> = r
                        .fields
                        .written
                        .iter()
                        .filter_map(|(p, _, _)| p.first().cloned())
                        .collect();
                    self.problem(
                        key,
                        format!(
                            "no attribute writes the platform field `{field}` (`{variable}` holds {}){}",
                            if written.is_empty() {
                                "nothing".to_owned()
                            } else {
                                written.join(", ")
                            },
                            suggestion(field, written.iter().map(String::as_str))
                        ),
                    );
                }
                ("scim" | "resource", Some(r)) => self.scim_attribute(key, variable, field, r),
                ("generated", Some(r))
                    if !r.resource.generate.iter().any(|(name, _)| name == field) =>
                {
                    let names = r.resource.generate.iter().map(|(n, _)| n.as_str());
                    self.problem(
                        key,
                        format!(
                            "`generated.{field}`: no such generator in [{}.generate]{}",
                            r.resource.section,
                            suggestion(field, names)
                        ),
                    );
                }
                _ => {}
            }
        }
    }

    fn setting(&mut self, key: &str, name: &str) {
        let known = self
            .platform
            .settings
            .iter()
            .chain(&self.platform.optional_settings);
        if known.clone().any(|s| s == name) {
            return;
        }
        let message = format!(
            "`settings.{name}` is not a setting of this mapping: name it in [platform] settings (required) or optional_settings{}",
            suggestion(name, known.map(String::as_str))
        );
        self.problem(key, message);
    }

    fn platform_field(&mut self, key: &str, variable: &str, field: &str, r: &ResourceCheck<'_>) {
        let declared_explicitly = r.fields.explicit.iter().any(|f| f == field);
        if !r.fields.readable.contains(field) {
            let how = if r.fields.explicit.is_empty() {
                "neither read by an attribute nor the key; list the object's fields in `fields`"
            } else {
                "not in `fields`"
            };
            self.problem(
                key,
                format!(
                    "`{variable}.{field}`: the platform object has no declared field `{field}` ({how}){}",
                    suggestion(field, r.fields.readable.iter().map(String::as_str))
                ),
            );
        } else if is_secret_like(field) && !declared_explicitly {
            self.problem(
                key,
                format!(
                    "`{variable}.{field}` looks like a secret: the gateway does not read it unless `{}.fields` lists it",
                    r.resource.section
                ),
            );
        }
    }

    fn scim_attribute(&mut self, key: &str, variable: &str, name: &str, r: &ResourceCheck<'_>) {
        let known = r
            .registry
            .core_schema(r.rt)
            .into_iter()
            .flat_map(|s| s.attributes.iter())
            .chain(r.registry.common_attributes())
            .map(|a| a.name.as_str());
        if known.clone().any(|a| a.eq_ignore_ascii_case(name)) {
            return;
        }
        let message = format!(
            "`{variable}.{name}`: the SCIM {} schema has no attribute `{name}` (extension attributes are read as {variable}['urn:...'].name){}",
            r.rt.id,
            suggestion(name, known)
        );
        self.problem(key, message);
    }

    /// From `from_backend` and the key: reading the platform object as a whole would make
    /// the gateway keep it all (secrets included).
    fn whole_object(&mut self, key: &str, path: &str) {
        if path == "backend" {
            self.problem(
                key,
                "reads the platform object as a whole (`backend`); name its fields (`backend.x`), and declare an envelope with the call's `object` instead of `(backend.user or backend)`".to_owned(),
            );
        }
    }
}

fn is_secret_like(field: &str) -> bool {
    let lower = field.to_ascii_lowercase();
    SECRET_LIKE.iter().any(|s| lower.contains(s))
}
