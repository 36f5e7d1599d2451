//! Loads a mapping file and compiles it: every expression and template parsed, every SCIM path
//! resolved against the schema registry, every problem collected with its file and key so that
//! `scimgate check` can print them all at once.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

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

    fn call(&mut self, key: &str, raw: RawCall) -> Option<CallSpec> {
        let method = self.method(&format!("{key}.method"), &raw.method);
        let when = match raw.when.as_deref() {
            Some(s) => Some(self.expr(&format!("{key}.when"), s)?),
            None => None,
        };
        let path = self.template(&format!("{key}.path"), &raw.path);
        let query = self.templates(&format!("{key}.query"), &raw.query);
        let headers = self.templates(&format!("{key}.headers"), &raw.headers);
        let body = match raw.body {
            None => Some(None),
            Some(body) => {
                let json = match serde_json::to_value(&body) {
                    Ok(v) => v,
                    Err(e) => {
                        self.problem(&format!("{key}.body"), e.to_string());
                        Value::Null
                    }
                };
                match ValueTemplate::compile(&json) {
                    Ok(t) => Some(Some(t)),
                    Err(msg) => {
                        self.problem(&format!("{key}.body"), msg);
                        None
                    }
                }
            }
        };
        let object = match raw.object.as_deref() {
            Some(s) => Some(self.expr(&format!("{key}.object"), s)?),
            None => None,
        };
        let mut call = CallSpec {
            key: key.to_owned(),
            when,
            method: method?,
            path: path?,
            query: query?,
            headers: headers?,
            body: body?,
            returns_object: raw.returns_object,
            object,
            sends: Sends::default(),
        };
        call.sends = Sends::of(call.templates().into_iter().map(|(_, t)| t));
        Some(call)
    }

    fn method(&mut self, key: &str, s: &str) -> Option<Method> {
        let method = Method::parse(s);
        if method.is_none() {
            self.problem(
                key,
                format!("unsupported HTTP method `{s}` (GET, POST, PUT, PATCH or DELETE)"),
            );
        }
        method
    }

    fn calls(&mut self, key: &str, raw: Vec<RawCall>) -> Option<Vec<CallSpec>> {
        if raw.is_empty() {
            self.problem(key, "needs at least one call".to_owned());
            return None;
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut ok = true;
        for (i, call) in raw.into_iter().enumerate() {
            match self.call(&format!("{key}[{i}]"), call) {
                Some(c) => out.push(c),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A call that reads (no condition, no body): list and groups-of calls.
    fn read_call(
        &mut self,
        key: &str,
        method: Option<String>,
        path: String,
        query: BTreeMap<String, String>,
        headers: BTreeMap<String, String>,
    ) -> Option<CallSpec> {
        self.call(
            key,
            RawCall {
                when: None,
                method: method.unwrap_or_else(|| "GET".to_owned()),
                path,
                query,
                headers,
                body: None,
                returns_object: false,
                object: None,
            },
        )
    }

    fn list(&mut self, key: &str, raw: RawList) -> Option<ListSpec> {
        let call = self.read_call(key, raw.method, raw.path, raw.query, raw.headers);
        let items = self.expr(&format!("{key}.items"), &raw.items);
        let total = match raw.total.as_deref() {
            Some(s) => Some(self.expr(&format!("{key}.total"), s)?),
            None => None,
        };
        if raw.max_page_size == Some(0) {
            self.problem(
                &format!("{key}.max_page_size"),
                "must be at least 1".to_owned(),
            );
        }
        let mut pushdowns = Vec::new();
        for (i, p) in raw.filters.into_iter().enumerate() {
            let pkey = format!("{key}.filters[{i}]");
            let attribute = self.scim_path(&format!("{pkey}.attribute"), &p.attribute);
            let op = match CompareOp::parse(&p.op) {
                Some(op) => Some(op),
                None => {
                    self.problem(
                        &format!("{pkey}.op"),
                        format!("unknown operator `{}` (eq ne co sw ew gt ge lt le)", p.op),
                    );
                    None
                }
            };
            let query = self.templates(&format!("{pkey}.query"), &p.query);
            let get = match p.get {
                None => Some(None),
                Some(read) => {
                    let get_key = format!("{pkey}.get");
                    self.call(
                        &get_key,
                        RawCall {
                            when: None,
                            method: read.method.unwrap_or_else(|| "GET".to_owned()),
                            path: read.path,
                            query: read.query,
                            headers: read.headers,
                            body: None,
                            returns_object: true,
                            object: read.object,
                        },
                    )
                    .map(Some)
                }
            };
            if p.query.is_empty() == get.as_ref().is_none_or(|g| g.is_none()) {
                self.problem(
                    &pkey,
                    "give either `query` (parameters of the list call) or `get` (a call that reads the one object), not both".to_owned(),
                );
                continue;
            }
            if let (Some(attribute), Some(op), Some(query), Some(get)) = (attribute, op, query, get)
            {
                pushdowns.push(Pushdown {
                    attribute,
                    op,
                    query,
                    get,
                    exact: p.exact,
                });
            }
        }
        if let Some(call) = &call {
            let used: std::collections::HashSet<String> = std::iter::once(&call.path)
                .chain(call.query.iter().map(|(_, t)| t))
                .flat_map(|t| t.variables())
                .collect();
            let needed: &[&str] = match raw.pagination {
                PaginationStyle::Offset => &["offset", "limit"],
                PaginationStyle::Page => &["page", "per_page"],
                PaginationStyle::None => &[],
            };
            for var in needed {
                if !used.contains(*var) {
                    self.problem(
                        &format!("{key}.query"),
                        format!(
                            "pagination {:?} needs `{{{{ {var} }}}}` in the path or query",
                            raw.pagination
                        ),
                    );
                }
            }
        }
        Some(ListSpec {
            call: call?,
            items: items?,
            total,
            pagination: raw.pagination,
            max_page_size: raw.max_page_size.unwrap_or(100).max(1),
            pushdowns,
            lacks: raw.lacks,
            complete: raw.complete,
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

    /// Deserializes one member of a table on its own, so each problem is reported with its
    /// own key and one bad member does not hide the problems of the others.
    fn member<T: DeserializeOwned>(
        &mut self,
        table: &toml::Table,
        parent: &str,
        key: &str,
    ) -> Option<T> {
        let full = format!("{parent}.{key}");
        let Some(value) = table.get(key) else {
            self.problem(&full, "missing".to_owned());
            return None;
        };
        match T::deserialize(value.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(&full, e.message().to_owned());
                None
            }
        }
    }

    /// An array member whose elements are deserialized one by one.
    fn member_list<T: DeserializeOwned>(
        &mut self,
        table: &toml::Table,
        parent: &str,
        key: &str,
    ) -> Option<Vec<T>> {
        let full = format!("{parent}.{key}");
        let items = match table.get(key) {
            None => {
                self.problem(&full, "missing".to_owned());
                return None;
            }
            Some(toml::Value::Array(items)) => items,
            Some(_) => {
                self.problem(&full, "must be a list (`[[...]]` tables)".to_owned());
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match T::deserialize(item.clone()) {
                Ok(v) => out.push(v),
                Err(e) => {
                    self.problem(&format!("{full}[{i}]"), e.message().to_owned());
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn resource_table(&mut self, key: &str, table: &toml::Table) -> Option<ResourceMapping> {
        const KEYS: [&str; 13] = [
            "exclude",
            "generate",
            "key",
            "identity",
            "fields",
            "attributes",
            "get",
            "list",
            "create",
            "update",
            "delete",
            "members",
            "groups",
        ];
        for k in table.keys() {
            if !KEYS.contains(&k.as_str()) {
                self.problem(
                    &format!("{key}.{k}"),
                    format!("unknown key (expected one of {})", KEYS.join(", ")),
                );
            }
        }
        let raw_key = self.member::<String>(table, key, "key");
        let generate = match table.get("generate") {
            None => Some(Vec::new()),
            Some(_) => self
                .member::<BTreeMap<String, RawGenerate>>(table, key, "generate")
                .map(|raw| self.generators(&format!("{key}.generate"), raw)),
        };
        let exclude = match table.get("exclude") {
            None => Some(None),
            Some(_) => self
                .member::<String>(table, key, "exclude")
                .map(|source| self.expr(&format!("{key}.exclude"), &source))
                .map(|e| e.map(Some))
                .unwrap_or(None),
        };
        let identity = match table.get("identity") {
            None => Some(None),
            Some(_) => self
                .member::<String>(table, key, "identity")
                .map(|source| self.expr(&format!("{key}.identity"), &source))
                .map(|e| e.map(Some))
                .unwrap_or(None),
        };
        let fields = match table.get("fields") {
            None => Some(Vec::new()),
            Some(_) => self.member::<Vec<String>>(table, key, "fields"),
        };
        let attributes = self.member_list::<RawAttribute>(table, key, "attributes");
        let get = self.member::<RawCall>(table, key, "get");
        let list = self.member::<RawList>(table, key, "list");
        let create = self.member_list::<RawCall>(table, key, "create");
        // A platform that cannot change anything after creation has no update calls.
        let update = match table.get("update") {
            None => Some(Vec::new()),
            Some(_) => self.member_list::<RawCall>(table, key, "update"),
        };
        let delete = self.member_list::<RawCall>(table, key, "delete");
        let members = self
            .section_for::<RawMembers>(table, key, "members", "Group", "only groups have members")
            .and_then(|m| self.members(&format!("{key}.members"), m));
        let groups_of = self
            .section_for::<RawGroupsOf>(table, key, "groups", "User", "only users belong to groups")
            .and_then(|g| self.groups_of(&format!("{key}.groups"), g));
        // Compile what parsed, even when other parts did not, to report their problems too.
        let mut resource = self.resource(
            key,
            RawResourceParts {
                key: raw_key,
                fields,
                attributes,
                get,
                list,
                create,
                update,
                delete,
            },
        )?;
        resource.members = members;
        resource.groups_of = groups_of;
        resource.identity = identity?;
        resource.generate = generate?;
        resource.exclude = exclude?;
        Some(resource)
    }

    /// An optional member that only one resource type may have.
    fn section_for<T: DeserializeOwned>(
        &mut self,
        table: &toml::Table,
        key: &str,
        name: &str,
        only: &str,
        why: &str,
    ) -> Option<T> {
        table.get(name)?;
        if self.rt_name != only {
            self.problem(&format!("{key}.{name}"), why.to_owned());
            return None;
        }
        self.member::<T>(table, key, name)
    }

    fn generators(
        &mut self,
        key: &str,
        raw: BTreeMap<String, RawGenerate>,
    ) -> Vec<(String, Generator)> {
        const DEFAULT: &str =
            "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.~!@#%^*+=";
        let mut out = Vec::new();
        for (name, g) in raw {
            let mut alphabet: Vec<char> =
                g.alphabet.as_deref().unwrap_or(DEFAULT).chars().collect();
            alphabet.sort_unstable();
            alphabet.dedup();
            if !(1..=256).contains(&g.length) {
                self.problem(
                    &format!("{key}.{name}.length"),
                    "must be 1 to 256".to_owned(),
                );
            } else if alphabet.len() < 2 || alphabet.len() > 256 {
                self.problem(
                    &format!("{key}.{name}.alphabet"),
                    "must hold 2 to 256 distinct characters".to_owned(),
                );
            } else {
                out.push((
                    name,
                    Generator {
                        length: g.length,
                        alphabet,
                    },
                ));
            }
        }
        out
    }

    fn groups_of(&mut self, key: &str, raw: RawGroupsOf) -> Option<GroupsOfSpec> {
        let call = self.read_call(key, raw.method, raw.path, raw.query, Default::default());
        let items = self.expr(&format!("{key}.items"), &raw.items);
        Some(GroupsOfSpec {
            call: call?,
            items: items?,
        })
    }

    fn members(&mut self, key: &str, raw: RawMembers) -> Option<MembersSpec> {
        let source = match (raw.from_backend, raw.list) {
            (Some(source), None) => self
                .expr(&format!("{key}.from_backend"), &source)
                .map(MemberSource::Object),
            (None, Some(list)) => {
                let list_key = format!("{key}.list");
                let user_key = self.expr(&format!("{list_key}.user_key"), &list.user_key);
                let list = self.list(
                    &list_key,
                    RawList {
                        method: list.method,
                        path: list.path,
                        query: list.query,
                        headers: list.headers,
                        items: list.items,
                        total: list.total,
                        pagination: list.pagination,
                        max_page_size: list.max_page_size,
                        filters: Vec::new(),
                        lacks: Vec::new(),
                        complete: Default::default(),
                    },
                );
                match (list, user_key) {
                    (Some(list), Some(user_key)) => Some(MemberSource::List {
                        list: Box::new(list),
                        user_key,
                    }),
                    _ => None,
                }
            }
            _ => {
                self.problem(
                    key,
                    "give either `from_backend` (the group object holds its members) or `list` (a call lists them)".to_owned(),
                );
                None
            }
        };
        let change = match (raw.update, raw.add, raw.remove) {
            (Some(update), None, None) => self
                .calls(&format!("{key}.update"), update)
                .map(MemberChange::Delta),
            (None, Some(add), Some(remove)) => {
                let add = self.calls(&format!("{key}.add"), add);
                let remove = self.calls(&format!("{key}.remove"), remove);
                match (add, remove) {
                    (Some(add), Some(remove)) => Some(MemberChange::EachMember { add, remove }),
                    _ => None,
                }
            }
            _ => {
                self.problem(
                    key,
                    "give either `update` (calls that send who joined and who left) or both `add` and `remove` (calls for one member at a time)".to_owned(),
                );
                None
            }
        };
        Some(MembersSpec {
            source: source?,
            change: change?,
        })
    }

    fn resource(&mut self, key: &str, raw: RawResourceParts) -> Option<ResourceMapping> {
        let key_expr = raw.key.and_then(|k| self.expr(&format!("{key}.key"), &k));
        let mut attributes = Vec::new();
        let mut ok = raw.attributes.is_some() && raw.fields.is_some();
        let mut seen: Vec<String> = Vec::new();
        for a in raw.attributes.unwrap_or_default() {
            // Named by their SCIM attribute (a second entry for one attribute: `#2`).
            let name = a.scim.clone();
            let nth = seen.iter().filter(|s| **s == name).count() + 1;
            seen.push(name.clone());
            let attribute_key = match nth {
                1 => format!("{key}.attributes[{name}]"),
                n => format!("{key}.attributes[{name} #{n}]"),
            };
            match self.attribute(&attribute_key, a) {
                Some(a) => attributes.push(a),
                None => ok = false,
            }
        }
        if let Some(g) = &raw.get {
            // A read by key: it always runs, sends nothing and its answer is the object.
            for (name, given) in [
                ("when", g.when.is_some()),
                ("body", g.body.is_some()),
                ("returns_object", g.returns_object),
            ] {
                if given {
                    self.problem(
                        &format!("{key}.get.{name}"),
                        "a get call reads one object by key: it has no `when`, `body` or `returns_object` (its answer is the object; `object` says where when it is wrapped)".to_owned(),
                    );
                }
            }
        }
        let get = raw.get.and_then(|g| self.call(&format!("{key}.get"), g));
        let list = raw.list.and_then(|l| self.list(&format!("{key}.list"), l));
        let create = raw
            .create
            .and_then(|c| self.calls(&format!("{key}.create"), c));
        if let Some(first) = create.as_ref().and_then(|c| c.first()) {
            if !first.returns_object || first.when.is_some() {
                self.problem(
                    &format!("{key}.create[0]"),
                    "the first create call must be unconditional and set `returns_object = true` (the new object's key comes from it)".to_owned(),
                );
                ok = false;
            }
        }
        let update = match raw.update {
            Some(calls) if calls.is_empty() => Some(Vec::new()),
            other => other.and_then(|c| self.calls(&format!("{key}.update"), c)),
        };
        let delete = raw
            .delete
            .and_then(|c| self.calls(&format!("{key}.delete"), c));
        let snapshot_fields = snapshot_fields(&attributes);
        if !ok {
            return None;
        }
        Some(ResourceMapping {
            section: key.to_owned(),
            fields: raw.fields.unwrap_or_default(),
            key: key_expr?,
            identity: None,
            generate: Vec::new(),
            exclude: None,
            attributes,
            get: get?,
            list: list?,
            create: create?,
            update: update?,
            delete: delete?,
            members: None,
            groups_of: None,
            snapshot_fields,
        })
    }
}

/// The platform fields the attributes' `from_backend` expressions read, as paths under
/// `backend` (an expression that reads the object as a whole is a problem `contract.rs`
/// reports: the whole object is never kept).
fn snapshot_fields(attributes: &[AttributeMapping]) -> Vec<Vec<String>> {
    let mut fields: Vec<Vec<String>> = Vec::new();
    for expr in attributes.iter().filter_map(|a| a.from_backend.as_ref()) {
        for path in expr.paths() {
            let mut parts = path.split('.');
            if parts.next() != Some("backend") {
                continue;
            }
            let rest: Vec<String> = parts.map(str::to_owned).collect();
            if !rest.is_empty() && !fields.contains(&rest) {
                fields.push(rest);
            }
        }
    }
    fields.sort();
    fields
}

/// The members of a resource section, each parsed on its own (`None` when it did not parse).
struct RawResourceParts {
    key: Option<String>,
    fields: Option<Vec<String>>,
    attributes: Option<Vec<RawAttribute>>,
    get: Option<RawCall>,
    list: Option<RawList>,
    create: Option<Vec<RawCall>>,
    update: Option<Vec<RawCall>>,
    delete: Option<Vec<RawCall>>,
}
