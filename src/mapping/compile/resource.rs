//! Compiling a `[users]` or `[groups]` section: its members one by one (each problem with its
//! own key), generators, membership in its shapes, and the resource mapping they make.

use super::*;

impl Compiler<'_> {
    /// Deserializes one member of a table on its own, so each problem is reported with its
    /// own key and one bad member does not hide the problems of the others.
    pub(super) fn member<T: DeserializeOwned>(
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
    pub(super) fn member_list<T: DeserializeOwned>(
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

    pub(super) fn resource_table(
        &mut self,
        key: &str,
        table: &toml::Table,
    ) -> Option<ResourceMapping> {
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
    pub(super) fn section_for<T: DeserializeOwned>(
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

    pub(super) fn generators(
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

    pub(super) fn groups_of(&mut self, key: &str, raw: RawGroupsOf) -> Option<GroupsOfSpec> {
        if let Some(from) = raw.from {
            if from != "groups.list" {
                self.problem(
                    &format!("{key}.from"),
                    format!("unknown source `{from}`: the one source is \"groups.list\""),
                );
                return None;
            }
            let mut own_call = Vec::new();
            if raw.method.is_some() {
                own_call.push("method");
            }
            if raw.path.is_some() {
                own_call.push("path");
            }
            if !raw.query.is_empty() {
                own_call.push("query");
            }
            if raw.items.is_some() {
                own_call.push("items");
            }
            if !own_call.is_empty() {
                self.problem(
                    key,
                    format!(
                        "from = \"groups.list\" reads the groups through [groups.list]; leave out {}",
                        own_call.join(", ")
                    ),
                );
                return None;
            }
            return Some(GroupsOfSpec::GroupList);
        }
        let (Some(path), Some(items)) = (raw.path, raw.items) else {
            self.problem(
                key,
                "needs `path` and `items` (a call that lists the user's groups), or from = \"groups.list\""
                    .to_owned(),
            );
            return None;
        };
        let call = self.read_call(key, raw.method, path, raw.query, Default::default());
        let items = self.expr(&format!("{key}.items"), &items);
        Some(GroupsOfSpec::Call {
            call: Box::new(call?),
            items: Box::new(items?),
        })
    }

    pub(super) fn members(&mut self, key: &str, raw: RawMembers) -> Option<MembersSpec> {
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
