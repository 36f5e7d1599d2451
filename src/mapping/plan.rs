//! Planning with a compiled mapping: rendering backend requests, converting objects both ways
//! (platform object ⇄ SCIM resource, with the gateway's stored copy filling what the platform
//! cannot hold), choosing filter push-downs and classifying platform errors. Pure: no I/O.

use serde_json::{Map, Value};

use super::compile::{
    AttributeMapping, CallSpec, GroupsOfSpec, ListSpec, Mapping, MemberSource, MembersSpec,
    Pushdown, ResourceMapping,
};
use super::expr::{EvalError, Expr, Template};
use super::model::{OnChange, PaginationStyle};
use super::request::{BackendRequest, BackendResponse};
use super::vars::{
    ErrorVars, FilterVars, ItemVars, ObjectVars, PageVars, ResponseVars, TemplateVars, ValueVars,
};
use crate::scim::filter::{CompareOp, Filter, Literal};
use crate::scim::path::AttrPath;
use crate::scim::schema::Mutability;
use crate::scim::{ScimError, ScimType};

/// Why the mapping could not turn a value or a platform answer into what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MappingError {
    /// A value from the IdP cannot become a platform value (`slug` of "@@@", a required value missing).
    #[error("{0}")]
    InvalidValue(String),
    /// The platform cannot change this attribute.
    #[error("{0}")]
    Immutable(String),
    /// The platform's answer does not fit the mapping (no key, items not a list): a gateway
    /// configuration or platform version problem, not the IdP's fault.
    #[error("{0}")]
    Unusable(String),
}

impl MappingError {
    /// The SCIM error (400) the IdP gets; `None` for `Unusable`, which is the gateway's or the
    /// platform's fault rather than the request's.
    pub fn to_scim(&self) -> Option<ScimError> {
        match self {
            MappingError::InvalidValue(m) => {
                Some(ScimError::bad_request(ScimType::InvalidValue, m.clone()))
            }
            MappingError::Immutable(m) => {
                Some(ScimError::bad_request(ScimType::Mutability, m.clone()))
            }
            MappingError::Unusable(_) => None,
        }
    }
}

fn unusable(what: &str, e: EvalError) -> MappingError {
    MappingError::Unusable(format!("{what}: {e}"))
}

impl CallSpec {
    /// Whether this call runs with these variables.
    pub fn applies(&self, vars: &impl TemplateVars) -> Result<bool, MappingError> {
        match &self.when {
            None => Ok(true),
            Some(cond) => cond
                .eval_bool(&vars.context())
                .map_err(|e| unusable("call condition", e)),
        }
    }

    /// The platform object in the call's answer: where `object` says, else the whole body.
    pub fn object_of(
        &self,
        response: &BackendResponse,
        settings: &Value,
    ) -> Result<Value, MappingError> {
        let Some(expr) = &self.object else {
            return Ok(response.body.clone());
        };
        let headers = Value::Object(response.headers.clone());
        let vars = ResponseVars {
            response: &response.body,
            headers: &headers,
            settings,
        };
        match expr.eval(&vars.context()) {
            Ok(Some(object @ Value::Object(_))) => Ok(object),
            Ok(other) => Err(MappingError::Unusable(format!(
                "{}.object: `{}` gave {} instead of the platform object",
                self.key,
                expr.source(),
                other.as_ref().map_or("nothing", json_kind)
            ))),
            Err(e) => Err(unusable(&format!("{}.object", self.key), e)),
        }
    }

    /// Renders the request; `extra_query` (filter push-down) is appended.
    pub fn render(
        &self,
        vars: &impl TemplateVars,
        extra_query: &[(String, String)],
    ) -> Result<BackendRequest, MappingError> {
        let ctx = &vars.context();
        let path = self
            .path
            .render_string(ctx)
            .map_err(|e| MappingError::InvalidValue(e.0))?
            .unwrap_or_default();
        let mut query = render_pairs(&self.query, ctx)?;
        query.extend(extra_query.iter().cloned());
        let headers = render_pairs(&self.headers, ctx)?;
        let body = match &self.body {
            None => None,
            Some(t) => t.render(ctx).map_err(|e| MappingError::InvalidValue(e.0))?,
        };
        Ok(BackendRequest {
            method: self.method,
            path,
            query,
            headers,
            body,
        })
    }
}

/// Renders name/template pairs; undefined values are left out.
pub fn render_pairs(
    pairs: &[(String, Template)],
    ctx: &minijinja::Value,
) -> Result<Vec<(String, String)>, MappingError> {
    let mut out = Vec::with_capacity(pairs.len());
    for (name, t) in pairs {
        if let Some(v) = t
            .render_string(ctx)
            .map_err(|e| MappingError::InvalidValue(e.0))?
        {
            out.push((name.clone(), v));
        }
    }
    Ok(out)
}

/// A JSON value at a dotted field path.
pub fn field<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// The value of a (canonical-case) SCIM attribute path in a normalized resource.
pub fn scim_get<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let container = scim_container(resource, path)?;
    let v = container.get(&path.name)?;
    match &path.sub {
        None => Some(v),
        Some(sub) => v.get(sub),
    }
}

/// Whether a schema URN is one of the core schemas (attributes at the top level of a resource).
pub fn is_core_urn(urn: &str) -> bool {
    urn.to_ascii_lowercase()
        .starts_with("urn:ietf:params:scim:schemas:core:")
}

fn scim_container<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    match &path.urn {
        Some(urn) if !is_core_urn(urn) => resource.get(urn.as_str()),
        _ => Some(resource),
    }
}

/// Sets (or, with `None`, removes) a SCIM attribute path in a resource object.
pub fn scim_set(resource: &mut Value, path: &AttrPath, value: Option<Value>) {
    let Some(root) = resource.as_object_mut() else {
        return;
    };
    let container = match &path.urn {
        Some(urn) if !is_core_urn(urn) => {
            if value.is_none() && !root.contains_key(urn.as_str()) {
                return;
            }
            let entry = root
                .entry(urn.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            match entry.as_object_mut() {
                Some(m) => m,
                None => return,
            }
        }
        _ => root,
    };
    match (&path.sub, value) {
        (None, Some(v)) => {
            container.insert(path.name.clone(), v);
        }
        (None, None) => {
            container.remove(&path.name);
        }
        (Some(sub), Some(v)) => {
            let parent = container
                .entry(path.name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(obj) = parent.as_object_mut() {
                obj.insert(sub.clone(), v);
            }
        }
        (Some(sub), None) => {
            if let Some(obj) = container.get_mut(&path.name).and_then(Value::as_object_mut) {
                obj.remove(sub);
                if obj.is_empty() {
                    container.remove(&path.name);
                }
            }
        }
    }
    // An extension object left empty is no value at all.
    if let Some(urn) = &path.urn {
        if !is_core_urn(urn) {
            let empty = root
                .get(urn.as_str())
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty);
            if empty {
                root.remove(urn.as_str());
            }
        }
    }
}

impl AttributeMapping {
    fn to_backend_value(
        &self,
        resource: &Value,
        settings: &Value,
    ) -> Result<Option<Value>, MappingError> {
        let Some(expr) = &self.to_backend else {
            return Ok(None);
        };
        let value = scim_get(resource, &self.scim)
            .cloned()
            .unwrap_or(Value::Null);
        let vars = ValueVars {
            value: &value,
            resource,
            settings,
        };
        expr.eval(&vars.context())
            .map(|v| v.filter(|v| !v.is_null()))
            .map_err(|e| MappingError::InvalidValue(format!("{}: {}", self.scim_source, e.0)))
    }
}

impl ResourceMapping {
    /// What proves an object is the account a link was made for (`identity`, as JSON text);
    /// `None` when the mapping declares no proof or the object has no value for it.
    pub fn proof_of(
        &self,
        backend: &Value,
        settings: &Value,
    ) -> Result<Option<String>, MappingError> {
        let Some(expr) = &self.identity else {
            return Ok(None);
        };
        let vars = ObjectVars { backend, settings };
        match expr
            .eval(&vars.context())
            .map_err(|e| unusable("identity", e))?
        {
            None | Some(Value::Null) => Ok(None),
            Some(value) => Ok(Some(value.to_string())),
        }
    }

    /// Whether an object is one the gateway must never show or touch (`exclude`).
    pub fn excludes(&self, backend: &Value, settings: &Value) -> Result<bool, MappingError> {
        match &self.exclude {
            None => Ok(false),
            Some(expr) => expr
                .eval_bool(&ObjectVars { backend, settings }.context())
                .map_err(|e| unusable("exclude", e)),
        }
    }

    /// The platform's stable key of an object.
    pub fn key_of(&self, backend: &Value, settings: &Value) -> Result<String, MappingError> {
        let vars = ObjectVars { backend, settings };
        match self
            .key
            .eval(&vars.context())
            .map_err(|e| unusable("key", e))?
        {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(Value::Number(n)) => Ok(n.to_string()),
            other => Err(MappingError::Unusable(format!(
                "the platform object has no key (`{}` gave {})",
                self.key.source(),
                other
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "nothing".to_owned())
            ))),
        }
    }

    /// The SCIM attributes of a platform object, with the gateway's stored copy (`shadow`,
    /// what the IdP last wrote) filling everything the platform does not hold.
    ///
    /// For an attribute the platform holds, what the IdP wrote stands as long as the platform's
    /// value is the one it had right after that write (`snapshot`): so an IdP reads back
    /// `Alice@Example.com` although the platform keeps `alice`, and an attribute it removed
    /// stays removed. When the platform's value changed since, it was changed on the platform and
    /// the platform's value wins. Without a snapshot (an object the IdP never wrote) every
    /// attribute comes from the platform. With `on_change = "keep"`, a stored value always wins.
    pub fn to_scim(
        &self,
        backend: &Value,
        shadow: Option<&Value>,
        snapshot: Option<&Value>,
        settings: &Value,
    ) -> Result<Value, MappingError> {
        self.to_scim_lacking(backend, shadow, snapshot, settings, &[])
    }

    /// [`ResourceMapping::to_scim`] of an object that lacks some fields (a list item): an
    /// attribute read from a missing field is not read from the platform (what the IdP wrote
    /// stands, or it is absent).
    pub fn to_scim_lacking(
        &self,
        backend: &Value,
        shadow: Option<&Value>,
        snapshot: Option<&Value>,
        settings: &Value,
        lacking: &[String],
    ) -> Result<Value, MappingError> {
        let mut resource = shadow
            .filter(|s| s.is_object())
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        // The common case: the platform object is exactly as the gateway last wrote it, so
        // every attribute stands as the IdP wrote it (the rule below, without evaluating it).
        if lacking.is_empty()
            && shadow.is_some()
            && snapshot.is_some_and(|snap| *snap == self.snapshot_of(backend))
        {
            return Ok(resource);
        }
        let backend_ctx = ObjectVars { backend, settings }.context();
        let snapshot_ctx = match (shadow, snapshot) {
            (Some(_), Some(snap)) if !snap.is_null() => Some(
                ObjectVars {
                    backend: snap,
                    settings,
                }
                .context(),
            ),
            _ => None,
        };
        for attr in &self.attributes {
            let Some(from) = &attr.from_backend else {
                continue;
            };
            if attr.on_change == OnChange::Keep
                && shadow.is_some_and(|s| scim_get(s, &attr.scim).is_some())
            {
                continue;
            }
            let reads_missing = !lacking.is_empty()
                && from.paths().iter().any(|p| {
                    p.strip_prefix("backend.")
                        .is_some_and(|f| lacking.iter().any(|l| f.split('.').next() == Some(l)))
                });
            if reads_missing {
                continue;
            }
            let value = from
                .eval(&backend_ctx)
                .map_err(|e| unusable(&format!("reading `{}`", attr.scim_source), e))?
                .filter(|v| !is_empty_value(v));
            if let Some(snap_ctx) = &snapshot_ctx {
                let before = from
                    .eval(snap_ctx)
                    .ok()
                    .flatten()
                    .filter(|v| !is_empty_value(v));
                if before == value {
                    continue;
                }
            }
            scim_set(&mut resource, &attr.scim, value);
        }
        Ok(resource)
    }

    /// Refuses what a whole resource (POST, PUT) asks of attributes the platform decides: a
    /// value for an attribute the mapping declares `readOnly` that is not the platform's
    /// (`active: false` for a platform that cannot disable anyone) would be dropped by the RFC's
    /// rule and answered 200 while nothing changed, so it is a 400 `mutability`; and an
    /// `immutable` attribute that has a value keeps it. `offered` holds the readOnly values the
    /// body carried, `resource` the rest, `platform_view` the resource as the platform holds it
    /// (before a replace; as a create asks for it).
    pub fn refuse_undecidable(
        &self,
        offered: &Value,
        resource: &Value,
        platform_view: &Value,
    ) -> Result<(), MappingError> {
        for attr in &self.attributes {
            let (sent, kind) = match attr.mutability {
                Some(Mutability::ReadOnly) => (scim_get(offered, &attr.scim), "readOnly"),
                Some(Mutability::Immutable) => (scim_get(resource, &attr.scim), "immutable"),
                _ => continue,
            };
            let held = scim_get(platform_view, &attr.scim);
            let refused = match (kind, sent, held) {
                (_, None, _) => false,
                ("readOnly", Some(sent), held) => Some(sent) != held,
                (_, Some(sent), Some(held)) => sent != held,
                (_, Some(_), None) => false,
            };
            if refused {
                let value = sent.map(Value::to_string).unwrap_or_default();
                return Err(MappingError::Immutable(format!(
                    "{} is {kind} on this platform: it cannot be set to {value}{}",
                    attr.scim_source,
                    held.map(|h| format!(" (it is {h})")).unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// Completes what the IdP wrote in a whole resource (a create or a replace) with the
    /// attributes it left out that the platform decides: a user created without `active` reads
    /// back `active: true` when the platform has the account active, not without it. Attributes
    /// the IdP wrote, even empty, are left as written; a PATCH that removes an attribute does
    /// not come here, so a removed attribute stays removed.
    ///
    /// An attribute whose `to_backend` derives the platform value from other attributes
    /// (`resource.userName` for a missing email, `resource.name` for a missing displayName)
    /// is not completed: the value is the IdP's own, re-derived on every write, and reading it
    /// back as written would pin it.
    pub fn complete_unwritten(
        &self,
        shadow: &mut Value,
        backend: &Value,
        settings: &Value,
    ) -> Result<(), MappingError> {
        let backend_ctx = ObjectVars { backend, settings }.context();
        for attr in &self.attributes {
            let Some(from) = &attr.from_backend else {
                continue;
            };
            if scim_get(shadow, &attr.scim).is_some() {
                continue;
            }
            let derived = attr.to_backend.as_ref().is_some_and(|to| {
                to.paths()
                    .iter()
                    .any(|p| p == "resource" || p.starts_with("resource."))
            });
            if derived {
                continue;
            }
            let value = from
                .eval(&backend_ctx)
                .map_err(|e| unusable(&format!("reading `{}`", attr.scim_source), e))?
                .filter(|v| !is_empty_value(v));
            if value.is_some() {
                scim_set(shadow, &attr.scim, value);
            }
        }
        Ok(())
    }

    /// What the gateway remembers of a platform object as "last written": the fields the
    /// attributes read (so a platform-side change elsewhere, such as a login time, does not
    /// count as a change, and a group's member list is not stored again with every write).
    pub fn snapshot_of(&self, backend: &Value) -> Value {
        let mut out = Map::new();
        for path in &self.snapshot_fields {
            if let Some(v) = field(backend, path) {
                insert_path(&mut out, path, v.clone());
            }
        }
        Value::Object(out)
    }

    /// The platform fields a SCIM resource asks for (`desired` in call templates).
    pub fn desired(
        &self,
        resource: &Value,
        settings: &Value,
    ) -> Result<Map<String, Value>, MappingError> {
        let mut out = Map::new();
        for attr in &self.attributes {
            let (Some(field_path), Some(_)) = (&attr.backend_field, &attr.to_backend) else {
                continue;
            };
            if let Some(v) = attr.to_backend_value(resource, settings)? {
                insert_path(&mut out, field_path, v);
            }
        }
        Ok(out)
    }

    /// Refuses changes the platform cannot make (`on_change = "reject"`), and returns the
    /// platform fields that change (`changed` in call templates: field → true).
    ///
    /// `desired_before` is what the resource as the IdP saw it before this write asked for: a
    /// field the IdP did not change is left alone even where the platform holds it in another
    /// form (a platform-made `Bob-Smith` is not renamed `bob-smith` by an unrelated PATCH).
    pub fn changes(
        &self,
        desired: &Map<String, Value>,
        desired_before: Option<&Map<String, Value>>,
        current: &Value,
    ) -> Result<Map<String, Value>, MappingError> {
        let desired_value = Value::Object(desired.clone());
        let before_value = desired_before.map(|b| Value::Object(b.clone()));
        let mut changed = Map::new();
        for attr in &self.attributes {
            let (Some(field_path), Some(_)) = (&attr.backend_field, &attr.to_backend) else {
                continue;
            };
            // No value and an empty value are the same; a value the IdP removed is a change.
            let want = field(&desired_value, field_path).filter(|v| !is_empty_value(v));
            let have = field(current, field_path).filter(|v| !is_empty_value(v));
            if want == have {
                continue;
            }
            if let Some(before) = &before_value {
                if want == field(before, field_path).filter(|v| !is_empty_value(v)) {
                    continue;
                }
            }
            match attr.on_change {
                OnChange::Apply => {}
                OnChange::Reject => {
                    return Err(MappingError::Immutable(format!(
                        "the platform cannot change `{}` once set",
                        attr.scim_source
                    )))
                }
                OnChange::Keep => continue,
            }
            insert_path(&mut changed, field_path, Value::Bool(true));
        }
        Ok(changed)
    }
}

impl ResourceMapping {
    /// For an object the IdP never wrote (created on the platform directly): whether a simple
    /// `attr eq "value"` filter names it in the platform's own form. `userName eq
    /// "alice@example.com"` then finds Coder's `alice`, so an IdP can match and adopt accounts
    /// that existed before provisioning instead of failing to create them again.
    pub fn names_in_platform_form(
        &self,
        filter: &Filter,
        backend: &Value,
        settings: &Value,
    ) -> bool {
        let Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Literal::String(wanted),
        } = filter
        else {
            return false;
        };
        self.attributes.iter().any(|attr| {
            let (Some(field_path), Some(_)) = (&attr.backend_field, &attr.to_backend) else {
                return false;
            };
            if !same_attribute(&attr.scim, path) {
                return false;
            }
            let mut resource = Value::Object(Map::new());
            scim_set(
                &mut resource,
                &attr.scim,
                Some(Value::String(wanted.clone())),
            );
            match (
                attr.to_backend_value(&resource, settings),
                field(backend, field_path),
            ) {
                (Ok(Some(Value::String(a))), Some(Value::String(b))) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
        })
    }

    /// The `on_change = "keep"` attributes whose value the IdP changed between two versions
    /// of a resource: the platform keeps its own value for them.
    pub fn kept_changes<'a>(&'a self, before: &Value, after: &Value) -> Vec<&'a str> {
        self.attributes
            .iter()
            .filter(|a| a.on_change == OnChange::Keep)
            .filter(|a| scim_get(before, &a.scim).is_some())
            .filter(|a| scim_get(before, &a.scim) != scim_get(after, &a.scim))
            .map(|a| a.scim_source.as_str())
            .collect()
    }
}

fn insert_path(map: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = map;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        match entry.as_object_mut() {
            Some(m) => current = m,
            None => return,
        }
    }
    current.insert(last.clone(), value);
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A push-down chosen for a filter: the query parameters to send and whether the platform's
/// answer is exactly the filter's.
#[derive(Debug, Clone)]
pub struct PushdownPlan<'a> {
    /// Parameters added to the list call.
    pub query: Vec<(String, String)>,
    /// Instead: the read call of the one object the filter names, rendered.
    pub get: Option<(&'a CallSpec, BackendRequest)>,
    /// The platform's match is exactly the filter.
    pub exact: bool,
}

impl ListSpec {
    /// The first push-down rule matching the filter, or one of the conjuncts of a top-level
    /// `and` (then never exact: the other conjuncts still need the gateway's filter).
    pub fn pushdown(
        &self,
        filter: &Filter,
        settings: &Value,
    ) -> Result<Option<PushdownPlan<'_>>, MappingError> {
        if let Some(plan) = self.pushdown_simple(filter, settings)? {
            return Ok(Some(plan));
        }
        if let Filter::And(left, right) = filter {
            for side in [left.as_ref(), right.as_ref()] {
                if let Some(mut plan) = self.pushdown(side, settings)? {
                    plan.exact = false;
                    return Ok(Some(plan));
                }
            }
        }
        Ok(None)
    }

    fn pushdown_simple(
        &self,
        filter: &Filter,
        settings: &Value,
    ) -> Result<Option<PushdownPlan<'_>>, MappingError> {
        let Filter::Compare { path, op, value } = filter else {
            return Ok(None);
        };
        let Some(rule) = self.pushdowns.iter().find(|p| p.matches(path, *op)) else {
            return Ok(None);
        };
        let value = match value {
            Literal::String(s) => Value::String(s.clone()),
            Literal::Number(n) => Value::Number(n.clone()),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Null => return Ok(None),
        };
        let vars = FilterVars {
            value: &value,
            settings,
        };
        let get = match &rule.get {
            None => Ok(None),
            Some(call) => call.render(&vars, &[]).map(|r| Some((call, r))),
        };
        match (render_pairs(&rule.query, &vars.context()), get) {
            (Ok(query), Ok(get)) => Ok(Some(PushdownPlan {
                query,
                get,
                exact: rule.exact,
            })),
            (Err(e), _) | (_, Err(e)) => match e {
                // A value the platform's query cannot express ("@@@" for a username) matches
                // nothing the platform holds under that rule; let the caller scan instead.
                MappingError::InvalidValue(_) => Ok(None),
                e => Err(e),
            },
        }
    }
}

impl ListSpec {
    /// The variables of the list call for `size` objects from `offset`, as the mapping's
    /// `pagination` names them (page paging reads the page `offset` falls in: callers ask for
    /// ranges aligned to `size`).
    pub fn page_vars<'a>(&self, offset: usize, size: usize, settings: &'a Value) -> PageVars<'a> {
        let mut vars = PageVars {
            settings: Some(settings),
            ..PageVars::default()
        };
        match self.pagination {
            PaginationStyle::Offset => {
                vars.offset = Some(offset);
                vars.limit = Some(size);
            }
            PaginationStyle::Page => {
                vars.page = Some(offset / size.max(1) + 1);
                vars.per_page = Some(size);
            }
            PaginationStyle::None => {}
        }
        vars
    }

    /// The platform objects of a list answer and the total the platform tells, if it does.
    pub fn read_page(
        &self,
        response: &BackendResponse,
        settings: &Value,
    ) -> Result<(Vec<Value>, Option<usize>), MappingError> {
        let headers = Value::Object(response.headers.clone());
        let ctx = ResponseVars {
            response: &response.body,
            headers: &headers,
            settings,
        }
        .context();
        let items = eval_list(&self.items, &ctx, "list items")?;
        let total = match &self.total {
            None => None,
            Some(expr) => match expr.eval(&ctx) {
                Ok(Some(Value::Number(n))) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
                Ok(Some(Value::String(s))) => s.trim().parse().ok(),
                _ => None,
            },
        };
        Ok((items, total))
    }
}

impl GroupsOfSpec {
    /// The platform group objects of a `[users.groups]` answer.
    pub fn read_groups(
        &self,
        response: &BackendResponse,
        settings: &Value,
    ) -> Result<Vec<Value>, MappingError> {
        let headers = Value::Object(response.headers.clone());
        let ctx = ResponseVars {
            response: &response.body,
            headers: &headers,
            settings,
        }
        .context();
        eval_list(&self.items, &ctx, "groups")
    }
}

impl MembersSpec {
    /// The platform keys of a group object's members.
    pub fn member_keys(
        &self,
        group: &Value,
        settings: &Value,
    ) -> Result<Option<Vec<String>>, MappingError> {
        let MemberSource::Object(expr) = &self.source else {
            return Ok(None);
        };
        let ctx = ObjectVars {
            backend: group,
            settings,
        }
        .context();
        Ok(Some(
            eval_list(expr, &ctx, "members")?
                .into_iter()
                .filter_map(as_key)
                .collect(),
        ))
    }

    /// The user key of one item of a `[groups.members.list]` answer.
    pub fn member_key_of(
        &self,
        item: &Value,
        settings: &Value,
    ) -> Result<Option<String>, MappingError> {
        let MemberSource::List { user_key, .. } = &self.source else {
            return Ok(None);
        };
        let vars = ItemVars { item, settings };
        Ok(user_key
            .eval(&vars.context())
            .map_err(|e| unusable("members.list.user_key", e))?
            .and_then(as_key))
    }
}

/// A key as text: a string, or a number written out.
fn as_key(value: Value) -> Option<String> {
    match value {
        Value::String(k) if !k.is_empty() => Some(k),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Evaluates an expression that must give a list (no value is an empty list).
fn eval_list(expr: &Expr, ctx: &minijinja::Value, what: &str) -> Result<Vec<Value>, MappingError> {
    match expr.eval(ctx) {
        Ok(Some(Value::Array(items))) => Ok(items),
        Ok(None) | Ok(Some(Value::Null)) => Ok(Vec::new()),
        Ok(Some(other)) => Err(MappingError::Unusable(format!(
            "{what}: `{}` gave {} instead of a list",
            expr.source(),
            json_kind(&other)
        ))),
        Err(e) => Err(MappingError::Unusable(format!("{what}: {e}"))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Pushdown {
    fn matches(&self, path: &AttrPath, op: CompareOp) -> bool {
        self.op == op && same_attribute(&self.attribute, path)
    }
}

/// Two attribute paths naming the same attribute (names case-insensitive, the core schema URN
/// optional).
pub(crate) fn same_attribute(a: &AttrPath, b: &AttrPath) -> bool {
    a.name.eq_ignore_ascii_case(&b.name)
        && match (&a.sub, &b.sub) {
            (None, None) => true,
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
            _ => false,
        }
        && match (&a.urn, &b.urn) {
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
            (Some(urn), None) | (None, Some(urn)) => is_core_urn(urn),
            (None, None) => true,
        }
}

impl Mapping {
    /// The SCIM error for a platform's error answer: the first matching `[[errors]]` rule, else
    /// a default by status. `None` means the failure is the gateway's or the platform's, not the
    /// IdP's (the caller answers 502).
    pub fn classify_error(&self, response: &BackendResponse) -> Option<ScimError> {
        let message = self.error_message(response);
        for rule in &self.errors {
            if rule.status != response.status {
                continue;
            }
            if let Some(needle) = &rule.body_contains {
                if !response.raw_body.contains(needle.as_str()) {
                    continue;
                }
            }
            return Some(ScimError::new(rule.kind, rule.scim_type, message));
        }
        // A bare 404 is not taken as "no such object": it is what a wrong base URL or a proxy
        // answers too, and reading it as "gone" would drop identity links. Mappings say which
        // 404s (or other answers) mean "not found" with an `[[errors]]` rule.
        match response.status {
            409 => Some(ScimError::conflict_uniqueness(message)),
            400 | 422 => Some(ScimError::bad_request(ScimType::InvalidValue, message)),
            _ => None,
        }
    }

    /// The platform's own words for an error, for the SCIM `detail`.
    pub fn error_message(&self, response: &BackendResponse) -> String {
        let from_rule = self.platform.error_message.as_ref().and_then(|expr| {
            let vars = ErrorVars {
                response: &response.body,
            };
            match expr.eval(&vars.context()) {
                Ok(Some(Value::String(s))) if !s.is_empty() => Some(s),
                _ => None,
            }
        });
        // Cut to one bounded line, secrets and database statements removed: these words reach
        // SCIM `detail`, the gateway's log and the audit log.
        let text = super::redact::redact(&from_rule.unwrap_or_else(|| default_message(response)));
        format!(
            "{} answered {}: {}",
            self.platform.name, response.status, text
        )
    }
}

fn default_message(response: &BackendResponse) -> String {
    for key in ["message", "error", "detail"] {
        match response.body.get(key) {
            Some(Value::String(s)) if !s.is_empty() => return s.clone(),
            Some(v @ Value::Object(_)) => return v.to_string(),
            _ => {}
        }
    }
    let mut text: String = response.raw_body.chars().take(300).collect();
    if text.is_empty() {
        text = "no details".to_owned();
    }
    text
}
