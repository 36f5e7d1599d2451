//! Compiling platform calls: one call (method, path, query, headers, body, envelope), a
//! sequence of calls, a read by key, and a list call with its paging and filter push-downs.

use super::*;

impl Compiler<'_> {
    pub(super) fn call(&mut self, key: &str, raw: RawCall) -> Option<CallSpec> {
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

    pub(super) fn method(&mut self, key: &str, s: &str) -> Option<Method> {
        let method = Method::parse(s);
        if method.is_none() {
            self.problem(
                key,
                format!("unsupported HTTP method `{s}` (GET, POST, PUT, PATCH or DELETE)"),
            );
        }
        method
    }

    pub(super) fn calls(&mut self, key: &str, raw: Vec<RawCall>) -> Option<Vec<CallSpec>> {
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
    pub(super) fn read_call(
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

    pub(super) fn list(&mut self, key: &str, raw: RawList) -> Option<ListSpec> {
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
}
