//! PATCH (RFC 7644 §3.5.2): parsing a PatchOp request and applying its
//! add (§3.5.2.1), remove (§3.5.2.2) and replace (§3.5.2.3) operations to a
//! resource, atomically, with the mutability rules of RFC 7643 §2.2 and the
//! single-primary rule of §2.4.
//!
//! Besides the RFC, it accepts what Okta and Entra ID actually send: op
//! names in any case, booleans as "True"/"False", a readOnly `id` echoed in
//! a no-path replace, `emails[type eq "work"].value` creating the element
//! when none matches, a manager given as a bare id, and `remove` of a
//! multi-valued attribute with a `value` listing the elements to drop.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimType};
use super::filter::{matches_element, validate_element, Filter, Literal};
use super::path::{parse_patch_path, PatchPath};
use super::schema::{
    body_members, check_required, check_single_primary, normalize_single, normalize_value,
    refresh_schemas, AttrType, Attribute, Mutability, Registry, ResourceType, Schema,
};
use super::value::{fold, get_ci, is_present, key_ci, remove_ci, set_ci};
use super::PATCH_OP_SCHEMA;

/// Most operations accepted in one request; bounds the work of one PATCH.
pub const MAX_PATCH_OPERATIONS: usize = 1000;

/// The `op` of a PATCH operation (RFC 7644 §3.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// Add values (§3.5.2.1); a multi-valued attribute gains elements.
    Add,
    /// Remove values (§3.5.2.2); needs a `path`.
    Remove,
    /// Replace values (§3.5.2.3).
    Replace,
}

impl PatchOpKind {
    /// The lowercase op name, as the RFC writes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }

    /// Any case: Entra sends "Add", "Replace", "Remove".
    pub fn parse(s: &str) -> Option<PatchOpKind> {
        [PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Replace]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

/// One entry of a PatchOp request's `Operations` array, parsed but not yet applied.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// What the operation does.
    pub op: PatchOpKind,
    /// The target; `None` means the resource itself, `value` then being an object of attributes.
    pub path: Option<PatchPath>,
    /// The `value` member as sent, not yet checked against the schema; `None` when absent, which
    /// only `remove` allows.
    pub value: Option<Value>,
}

fn syntax(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}

/// Parses a PatchOp request body: its `schemas` and the shape of each of its operations (at
/// most [`MAX_PATCH_OPERATIONS`]). Nothing is applied; see [`apply_patch`].
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| syntax("the PATCH body must be a JSON object".into()))?;
    if let Some(schemas) = get_ci(obj, "schemas") {
        let names_patch = schemas.as_array().is_some_and(|list| {
            list.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
            })
        });
        if !names_patch {
            return Err(syntax(format!(
                "\"schemas\" must be [\"{PATCH_OP_SCHEMA}\"]"
            )));
        }
    }
    let ops = match get_ci(obj, "Operations").and_then(Value::as_array) {
        Some(ops) if !ops.is_empty() => ops,
        _ => return Err(syntax("\"Operations\" must be a non-empty array".into())),
    };
    if ops.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::bad_request(
            ScimType::TooMany,
            format!(
                "{} operations in one PATCH; at most {MAX_PATCH_OPERATIONS} are accepted",
                ops.len()
            ),
        ));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op))
        .collect()
}

fn parse_op(i: usize, op: &Value) -> Result<PatchOp, ScimError> {
    let obj = op
        .as_object()
        .ok_or_else(|| syntax(format!("Operations[{i}] must be a JSON object")))?;
    let kind = get_ci(obj, "op")
        .and_then(Value::as_str)
        .and_then(PatchOpKind::parse)
        .ok_or_else(|| {
            syntax(format!(
                "Operations[{i}].op must be \"add\", \"remove\" or \"replace\""
            ))
        })?;
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_patch_path(s.trim()).map_err(|e| {
            ScimError::bad_request(
                ScimType::InvalidPath,
                format!("Operations[{i}]: {}", e.detail),
            )
        })?),
        Some(_) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                format!("Operations[{i}].path must be a string"),
            ))
        }
    };
    let value = get_ci(obj, "value").cloned();
    match kind {
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("Operations[{i}]: \"{}\" needs a \"value\"", kind.as_str()),
        )),
        PatchOpKind::Remove if path.is_none() => Err(ScimError::bad_request(
            ScimType::NoTarget,
            format!("Operations[{i}]: \"remove\" needs a \"path\""),
        )),
        _ => Ok(PatchOp {
            op: kind,
            path,
            value,
        }),
    }
}

/// Applies `ops` in order to a copy of `resource`; the first failing
/// operation fails the whole request and leaves `resource` as it was.
pub fn apply_patch(
    registry: &Registry,
    rt: &ResourceType,
    resource: &Value,
    ops: &[PatchOp],
) -> Result<Value, ScimError> {
    let mut doc = resource
        .as_object()
        .cloned()
        .ok_or_else(|| syntax("the resource to patch must be a JSON object".into()))?;
    for (i, op) in ops.iter().enumerate() {
        let patcher = Patcher { registry, rt };
        patcher.apply(&mut doc, op).map_err(|e| ScimError {
            detail: format!("Operations[{i}]: {}", e.detail),
            ..e
        })?;
    }
    check_required(registry, rt, &doc)?;
    refresh_schemas(registry, rt, &mut doc);
    Ok(Value::Object(doc))
}

fn mutability(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::Mutability, detail)
}

fn invalid_value(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

fn no_target(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::NoTarget, detail)
}

/// The object holding an attribute: the resource, or its extension object.
fn container<'d>(
    doc: &'d mut Map<String, Value>,
    ext: Option<&Schema>,
    create: bool,
) -> Option<&'d mut Map<String, Value>> {
    let Some(ext) = ext else { return Some(doc) };
    let key = match key_ci(doc, &ext.id) {
        Some(key) => key,
        None if create => {
            doc.insert(ext.id.clone(), Value::Object(Map::new()));
            ext.id.clone()
        }
        None => return None,
    };
    let slot = doc.get_mut(&key)?;
    if !slot.is_object() && create {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// Equality as the attribute defines it: strings ignore case unless caseExact.
fn same_value(attr: Option<&Attribute>, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            let exact = attr.is_some_and(|a| a.case_exact);
            fold(x, exact) == fold(y, exact)
        }
        _ => a == b,
    }
}

/// Whether `new` denotes the same element of multi-valued `attr` as
/// `existing`: same `value` (and `type`, when both give one), or `new`
/// repeating a subset of `existing`. Adding such an element merges instead
/// of duplicating (RFC 7643 §2.4 lets service providers drop duplicates).
fn same_element(attr: &Attribute, existing: &Value, new: &Value) -> bool {
    match (existing, new) {
        (Value::Object(e), Value::Object(n)) => {
            if let (Some(ev), Some(nv)) = (get_ci(e, "value"), get_ci(n, "value")) {
                let types_agree = match (get_ci(e, "type"), get_ci(n, "type")) {
                    (Some(et), Some(nt)) => same_value(attr.sub("type"), et, nt),
                    _ => true,
                };
                return types_agree && same_value(attr.sub("value"), ev, nv);
            }
            n.iter().all(|(k, v)| get_ci(e, k) == Some(v))
        }
        _ => same_value(Some(attr), existing, new),
    }
}

/// RFC 7643 §2.4: once `winner` is primary, no other element is.
fn clear_other_primaries(items: &mut [Value], winner: usize) {
    for (i, item) in items.iter_mut().enumerate() {
        if i == winner {
            continue;
        }
        if let Some(obj) = item.as_object_mut() {
            if obj.get("primary") == Some(&Value::Bool(true)) {
                obj.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// immutable sub-attributes of an element may not change once set.
fn check_immutable_subs(
    attr: &Attribute,
    old: &Value,
    new: &Value,
    label: &str,
) -> Result<(), ScimError> {
    for sub in attr
        .sub_attributes
        .iter()
        .filter(|s| s.mutability == Mutability::Immutable)
    {
        let before = old.as_object().and_then(|o| get_ci(o, &sub.name));
        let after = new.as_object().and_then(|o| get_ci(o, &sub.name));
        if let Some(before) = before.filter(|b| is_present(b)) {
            if !after.is_some_and(|a| same_value(Some(sub), before, a)) {
                return Err(mutability(format!(
                    "\"{label}.{}\" is immutable and already has a value",
                    sub.name
                )));
            }
        }
    }
    Ok(())
}

/// Simple equality conjuncts of a `[...]` filter (`type eq "work"`), from
/// which an element can be created when none matches: Entra sends
/// `emails[type eq "work"].value` to set a work email that does not exist yet.
fn filter_seed(filter: &Filter, out: &mut Vec<(String, Literal)>) -> bool {
    match filter {
        Filter::Compare {
            path,
            op: super::filter::CompareOp::Eq,
            value,
        } if path.sub.is_none() && path.urn.is_none() && *value != Literal::Null => {
            out.push((path.name.clone(), value.clone()));
            true
        }
        Filter::And(a, b) => filter_seed(a, out) && filter_seed(b, out),
        _ => false,
    }
}

fn literal_json(lit: &Literal) -> Value {
    match lit {
        Literal::String(s) => Value::String(s.clone()),
        Literal::Number(n) => Value::Number(n.clone()),
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Null => Value::Null,
    }
}

struct Patcher<'r> {
    registry: &'r Registry,
    rt: &'r ResourceType,
}

impl<'r> Patcher<'r> {
    fn apply(&self, doc: &mut Map<String, Value>, op: &PatchOp) -> Result<(), ScimError> {
        let value = op.value.as_ref();
        let Some(path) = &op.path else {
            return match op.op {
                PatchOpKind::Remove => Err(no_target("\"remove\" needs a \"path\"".into())),
                kind => self.apply_object(doc, kind, value.unwrap_or(&Value::Null)),
            };
        };
        // A path naming a whole extension schema targets its object.
        if path.filter.is_none() {
            if let Some(ext) = path
                .attr
                .as_schema_urn()
                .and_then(|urn| self.registry.extension_schema(self.rt, &urn))
            {
                if op.op == PatchOpKind::Remove {
                    remove_ci(doc, &ext.id);
                    return Ok(());
                }
                let mut wrapped = Map::new();
                wrapped.insert(ext.id.clone(), value.cloned().unwrap_or(Value::Null));
                return self.apply_object(doc, op.op, &Value::Object(wrapped));
            }
        }
        let label = path.to_string();
        let resolved = self.registry.resolve(self.rt, &path.attr).ok_or_else(|| {
            ScimError::bad_request(
                ScimType::InvalidPath,
                format!("\"{label}\" is not an attribute of {}", self.rt.name),
            )
        })?;
        let attr = resolved.attribute;
        let ext = self.registry.extension_schema(self.rt, resolved.schema_urn);
        let sub = match (&path.filter, &path.value_sub) {
            (Some(_), Some(name)) => Some(attr.sub(name).ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::InvalidPath,
                    format!("\"{name}\" is not a sub-attribute of \"{}\"", attr.name),
                )
            })?),
            _ => resolved.sub_attribute,
        };
        if attr.mutability == Mutability::ReadOnly
            || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
        {
            return Err(mutability(format!("\"{label}\" is readOnly")));
        }
        let target = Target {
            ext,
            attr,
            sub,
            label,
        };
        match &path.filter {
            Some(filter) => self.apply_filtered(doc, op.op, &target, filter, value),
            None => match sub {
                Some(sub) => apply_sub(doc, op.op, &target, sub, value),
                None => apply_whole(doc, op.op, &target, value),
            },
        }
    }

    /// add/replace without a path: `value` is an object of attributes.
    fn apply_object(
        &self,
        doc: &mut Map<String, Value>,
        kind: PatchOpKind,
        value: &Value,
    ) -> Result<(), ScimError> {
        let obj = value.as_object().ok_or_else(|| {
            invalid_value(format!(
                "without a \"path\", \"{}\" needs an object of attributes as its value",
                kind.as_str()
            ))
        })?;
        for m in body_members(self.registry, self.rt, obj)? {
            let leaf = m.target();
            if m.attr.mutability == Mutability::ReadOnly || leaf.mutability == Mutability::ReadOnly
            {
                // Okta echoes the resource's own id in group pushes: an
                // unchanged readOnly value is no attempt to modify it.
                let current = container(doc, m.ext, false)
                    .and_then(|c| get_ci(c, &m.attr.name))
                    .and_then(|v| match m.sub {
                        Some(s) => v.as_object().and_then(|o| get_ci(o, &s.name)),
                        None => Some(v),
                    });
                let unchanged = match (&m.value, current) {
                    (None, _) => true,
                    (Some(new), Some(cur)) => same_value(Some(leaf), cur, new),
                    (Some(_), None) => false,
                };
                if unchanged {
                    continue;
                }
                return Err(mutability(format!("\"{}\" is readOnly", m.key)));
            }
            let target = Target {
                ext: m.ext,
                attr: m.attr,
                sub: m.sub,
                label: m.key.clone(),
            };
            match m.sub {
                Some(sub) => set_sub(doc, kind, &target, sub, m.value)?,
                None => set_whole(doc, kind, &target, m.value)?,
            }
        }
        Ok(())
    }

    fn apply_filtered(
        &self,
        doc: &mut Map<String, Value>,
        kind: PatchOpKind,
        t: &Target<'_>,
        filter: &Filter,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if !t.attr.multi_valued {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                format!(
                    "\"{}\": a value filter needs a multi-valued attribute",
                    t.label
                ),
            ));
        }
        validate_element(filter, Some(t.attr), self.registry, self.rt)?;
        let create = kind != PatchOpKind::Remove;
        let Some(c) = container(doc, t.ext, create) else {
            return Ok(());
        };
        let mut items = match get_ci(c, &t.attr.name) {
            Some(Value::Array(items)) => items.clone(),
            Some(v) if !v.is_null() => vec![v.clone()],
            _ => Vec::new(),
        };
        let matched: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, el)| matches_element(filter, el, Some(t.attr), self.registry, self.rt))
            .map(|(i, _)| i)
            .collect();

        if kind == PatchOpKind::Remove {
            match t.sub {
                Some(sub) => {
                    if sub.mutability == Mutability::Immutable {
                        return Err(mutability(format!("\"{}\" is immutable", t.label)));
                    }
                    for &i in &matched {
                        if let Some(obj) = items.get_mut(i).and_then(Value::as_object_mut) {
                            remove_ci(obj, &sub.name);
                        }
                    }
                    items.retain(is_present);
                }
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !matched.contains(&i);
                        i += 1;
                        keep
                    });
                }
            }
            store_items(c, t.attr, items);
            return Ok(());
        }

        let value = value.unwrap_or(&Value::Null);
        if matched.is_empty() {
            let mut seed = Vec::new();
            let can_create =
                (t.sub.is_some() || kind == PatchOpKind::Add) && filter_seed(filter, &mut seed);
            if !can_create {
                return Err(no_target(format!(
                    "no value of \"{}\" matches the filter",
                    t.attr.name
                )));
            }
            let mut element = Map::new();
            for (name, lit) in seed {
                let sub = t.attr.sub(&name).ok_or_else(|| {
                    no_target(format!(
                        "\"{}\" has no sub-attribute \"{name}\"",
                        t.attr.name
                    ))
                })?;
                if let Some(v) = normalize_value(sub, &literal_json(&lit), &t.label)? {
                    element.insert(sub.name.clone(), v);
                }
            }
            match t.sub {
                Some(sub) => {
                    if let Some(v) = normalize_value(sub, value, &t.label)? {
                        element.insert(sub.name.clone(), v);
                    }
                }
                None => {
                    if let Some(Value::Object(v)) = normalize_single(t.attr, value, &t.label)? {
                        element.extend(v);
                    }
                }
            }
            let element = Value::Object(element);
            let primary = is_primary(&element);
            items.push(element);
            if primary {
                let last = items.len().saturating_sub(1);
                clear_other_primaries(&mut items, last);
            }
            check_single_primary(&items, &t.label)?;
            store_items(c, t.attr, items);
            return Ok(());
        }

        let mut winner = None;
        for &i in &matched {
            let Some(old) = items.get(i).cloned() else {
                continue;
            };
            let new = match t.sub {
                Some(sub) => {
                    let v = normalize_value(sub, value, &t.label)?;
                    let mut obj = old.as_object().cloned().unwrap_or_default();
                    match v {
                        Some(v) => {
                            obj.insert(sub.name.clone(), v);
                        }
                        None => {
                            remove_ci(&mut obj, &sub.name);
                        }
                    }
                    Value::Object(obj)
                }
                None => {
                    if value.is_array() {
                        return Err(invalid_value(format!(
                            "\"{}\" selects single values; give one object, not an array",
                            t.label
                        )));
                    }
                    let new = normalize_single(t.attr, value, &t.label)?.unwrap_or(Value::Null);
                    match (kind, &old, new) {
                        // add merges into the element; replace swaps it
                        // (RFC 7644 §3.5.2.1 vs §3.5.2.3).
                        (PatchOpKind::Add, Value::Object(o), Value::Object(n)) => {
                            let mut merged = o.clone();
                            merged.extend(n);
                            Value::Object(merged)
                        }
                        (_, _, new) => new,
                    }
                }
            };
            check_immutable_subs(t.attr, &old, &new, &t.attr.name)?;
            if is_primary(&new) && !is_primary(&old) {
                winner = Some(i);
            }
            if let Some(slot) = items.get_mut(i) {
                *slot = new;
            }
        }
        items.retain(is_present);
        if let Some(w) = winner.filter(|w| *w < items.len()) {
            clear_other_primaries(&mut items, w);
        }
        check_single_primary(&items, &t.label)?;
        store_items(c, t.attr, items);
        Ok(())
    }
}

struct Target<'a> {
    ext: Option<&'a Schema>,
    attr: &'a Attribute,
    sub: Option<&'a Attribute>,
    label: String,
}

fn store_items(c: &mut Map<String, Value>, attr: &Attribute, items: Vec<Value>) {
    if items.is_empty() {
        remove_ci(c, &attr.name);
    } else {
        set_ci(c, &attr.name, Value::Array(items));
    }
}

/// A path naming a whole attribute (`members`, `name`, `active`).
fn apply_whole(
    doc: &mut Map<String, Value>,
    kind: PatchOpKind,
    t: &Target<'_>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if kind != PatchOpKind::Remove {
        let v = normalize_value(t.attr, value.unwrap_or(&Value::Null), &t.label)?;
        return set_whole(doc, kind, t, v);
    }
    let Some(c) = container(doc, t.ext, false) else {
        return Ok(());
    };
    let Some(current) = get_ci(c, &t.attr.name).cloned() else {
        return Ok(());
    };
    // Entra removes group members with path "members" and the members to
    // drop as the value.
    let listed = match value {
        Some(v) if t.attr.multi_valued && !v.is_null() => normalize_value(t.attr, v, &t.label)?,
        _ => None,
    };
    match (listed, current) {
        (Some(Value::Array(drop)), Value::Array(mut items)) => {
            items.retain(|el| !drop.iter().any(|d| same_element(t.attr, el, d)));
            store_items(c, t.attr, items);
        }
        (Some(_), _) => {}
        (None, current) => {
            if t.attr.mutability == Mutability::Immutable && is_present(&current) {
                return Err(mutability(format!("\"{}\" is immutable", t.label)));
            }
            remove_ci(c, &t.attr.name);
        }
    }
    Ok(())
}

/// A path naming a sub-attribute without a filter (`name.givenName`, or
/// `emails.type`, which applies to every email).
fn apply_sub(
    doc: &mut Map<String, Value>,
    kind: PatchOpKind,
    t: &Target<'_>,
    sub: &Attribute,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let v = match kind {
        PatchOpKind::Remove => None,
        _ => normalize_value(sub, value.unwrap_or(&Value::Null), &t.label)?,
    };
    if !t.attr.multi_valued {
        return set_sub(doc, kind, t, sub, v);
    }
    let Some(c) = container(doc, t.ext, v.is_some()) else {
        return Ok(());
    };
    let mut items = match get_ci(c, &t.attr.name) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    if items.is_empty() {
        if let Some(v) = v {
            let mut element = Map::new();
            element.insert(sub.name.clone(), v);
            items.push(Value::Object(element));
        }
    } else {
        for item in &mut items {
            let old = item.clone();
            if let Some(obj) = item.as_object_mut() {
                match &v {
                    Some(v) => set_ci(obj, &sub.name, v.clone()),
                    None => {
                        remove_ci(obj, &sub.name);
                    }
                }
            }
            check_immutable_subs(t.attr, &old, item, &t.attr.name)?;
        }
        items.retain(is_present);
    }
    check_single_primary(&items, &t.label)?;
    store_items(c, t.attr, items);
    Ok(())
}

/// Sets (or with `None`, removes) one sub-attribute of a singular complex
/// attribute, creating the attribute when needed.
fn set_sub(
    doc: &mut Map<String, Value>,
    kind: PatchOpKind,
    t: &Target<'_>,
    sub: &Attribute,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if value.is_none() && kind == PatchOpKind::Add {
        return Ok(());
    }
    let Some(c) = container(doc, t.ext, value.is_some()) else {
        return Ok(());
    };
    let mut obj = match get_ci(c, &t.attr.name) {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    let current = get_ci(&obj, &sub.name).filter(|v| is_present(v)).cloned();
    if sub.mutability == Mutability::Immutable {
        if let Some(cur) = &current {
            if !value
                .as_ref()
                .is_some_and(|v| same_value(Some(sub), cur, v))
            {
                return Err(mutability(format!("\"{}\" is immutable", t.label)));
            }
        }
    }
    match value {
        Some(v) => set_ci(&mut obj, &sub.name, v),
        None => {
            remove_ci(&mut obj, &sub.name);
        }
    }
    if is_present(&Value::Object(obj.clone())) {
        set_ci(c, &t.attr.name, Value::Object(obj));
    } else {
        remove_ci(c, &t.attr.name);
    }
    Ok(())
}

/// add or replace of a whole attribute with an already normalized value:
/// multi-valued add appends (merging repeats), replace swaps the array;
/// complex values merge sub-attributes (RFC 7644 §3.5.2.3 leaves the
/// unnamed ones unchanged); simple values are overwritten. `None` (null)
/// removes on replace and does nothing on add.
fn set_whole(
    doc: &mut Map<String, Value>,
    kind: PatchOpKind,
    t: &Target<'_>,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let attr = t.attr;
    let Some(new) = value else {
        if kind == PatchOpKind::Replace {
            if let Some(c) = container(doc, t.ext, false) {
                if attr.mutability == Mutability::Immutable
                    && get_ci(c, &attr.name).is_some_and(is_present)
                {
                    return Err(mutability(format!("\"{}\" is immutable", t.label)));
                }
                remove_ci(c, &attr.name);
            }
        }
        return Ok(());
    };
    let Some(c) = container(doc, t.ext, true) else {
        return Ok(());
    };
    let current = get_ci(c, &attr.name).filter(|v| is_present(v)).cloned();
    if attr.mutability == Mutability::Immutable {
        if let Some(cur) = &current {
            if !same_value(Some(attr), cur, &new) {
                return Err(mutability(format!(
                    "\"{}\" is immutable and already has a value",
                    t.label
                )));
            }
        }
    }
    if attr.multi_valued {
        let added = match new {
            Value::Array(items) => items,
            other => vec![other],
        };
        let mut items = match (kind, current) {
            (PatchOpKind::Add, Some(Value::Array(items))) => items,
            (PatchOpKind::Add, Some(other)) => vec![other],
            _ => Vec::new(),
        };
        let mut winner = None;
        for el in added {
            let primary = is_primary(&el);
            let at = match items.iter().position(|e| same_element(attr, e, &el)) {
                Some(i) => {
                    // A repeated element merges into the one already there.
                    if let (Some(slot), Value::Object(n)) = (items.get_mut(i), &el) {
                        if let Value::Object(existing) = &*slot {
                            let mut merged = existing.clone();
                            merged.extend(n.clone());
                            let merged = Value::Object(merged);
                            check_immutable_subs(attr, slot, &merged, &attr.name)?;
                            *slot = merged;
                        }
                    }
                    i
                }
                None => {
                    items.push(el);
                    items.len().saturating_sub(1)
                }
            };
            if primary {
                winner = Some(at);
            }
        }
        if let Some(w) = winner {
            clear_other_primaries(&mut items, w);
        }
        check_single_primary(&items, &t.label)?;
        store_items(c, attr, items);
    } else if attr.attr_type == AttrType::Complex {
        let mut merged = match current {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        };
        if let Value::Object(n) = new {
            for (k, v) in n {
                set_ci(&mut merged, &k, v);
            }
        }
        set_ci(c, &attr.name, Value::Object(merged));
    } else {
        set_ci(c, &attr.name, new);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn reg() -> Registry {
        Registry::standard().unwrap()
    }

    fn user() -> Value {
        let mut u: Value = serde_json::from_str(include_str!("testdata/full_user.json")).unwrap();
        u.as_object_mut().unwrap().remove("password");
        u
    }

    fn group() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "displayName": "Tour Guides",
            "members": [
                {"value": "2819c223-7f76-453a-919d-413861904646", "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
                {"value": "902c246b-6245-4190-8e05-00816be7344a", "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}
            ],
            "meta": {"resourceType": "Group", "version": "W/\"3694e05e9dff592\""}
        })
    }

    fn patch_on(rt: &str, resource: &Value, ops: Value) -> Result<Value, ScimError> {
        let r = reg();
        let rt = r.resource_type(rt).unwrap();
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
        let ops = parse_patch_request(&body)?;
        apply_patch(&r, rt, resource, &ops)
    }

    /// Entra ID's one-element arrays for single-valued attributes: read in lenient, refused
    /// (400 invalidValue) in strict; a longer array stays refused.
    #[test]
    fn lenient_reads_one_element_arrays_for_single_values() {
        use crate::scim::lenient::lenient_single_values;
        let r = reg();
        let rt = r.resource_type("User").unwrap();
        let bare = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "a"});
        let lenient = |ops: Value| {
            let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
            let mut ops = parse_patch_request(&body).unwrap();
            lenient_single_values(&r, rt, &mut ops);
            apply_patch(&r, rt, &bare, &ops)
        };
        let manager = json!([{"op": "Add", "path": "manager", "value": [{"$ref": "../Users/26118915", "value": "26118915"}]}]);
        let u = lenient(manager.clone()).unwrap();
        assert_eq!(u[ENT]["manager"]["value"], "26118915");
        let e = patch_user(&bare, manager).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));

        let u = lenient(json!([{"op": "Replace", "path": "name.givenName", "value": ["Ada"]}]))
            .unwrap();
        assert_eq!(u["name"]["givenName"], "Ada");
        let u = lenient(json!([{"op": "Replace", "value": {
            "displayName": ["Ada L"],
            "emails": [{"value": "a@b.c"}],
            ENT: {"department": ["Sales"]}
        }}]))
        .unwrap();
        assert_eq!(u["displayName"], "Ada L");
        assert_eq!(u["emails"], json!([{"value": "a@b.c"}]));
        assert_eq!(u[ENT]["department"], "Sales");
        let e = lenient(json!([{"op": "Replace", "path": "displayName", "value": ["a", "b"]}]))
            .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    fn patch_user(resource: &Value, ops: Value) -> Result<Value, ScimError> {
        patch_on("User", resource, ops)
    }

    fn patch_group(ops: Value) -> Result<Value, ScimError> {
        patch_on("Group", &group(), ops)
    }

    fn member_ids(g: &Value) -> Vec<&str> {
        g["members"]
            .as_array()
            .map(|a| a.iter().map(|m| m["value"].as_str().unwrap()).collect())
            .unwrap_or_default()
    }

    // RFC 7644 §3.5.2.1
    #[test]
    fn rfc_add_members() {
        let g = patch_group(json!([{
            "op": "add",
            "path": "members",
            "value": [{
                "display": "Babs Jensen",
                "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                "value": "2819c223-7f76-453a-919d-413861904646"
            }, {"value": "08e1d05d-121c-4561-8b96-473d93df9210", "type": "User"}]
        }]))
        .unwrap();
        // The first one is already a member: no duplicate.
        assert_eq!(
            member_ids(&g),
            [
                "2819c223-7f76-453a-919d-413861904646",
                "902c246b-6245-4190-8e05-00816be7344a",
                "08e1d05d-121c-4561-8b96-473d93df9210"
            ]
        );
        assert_eq!(
            g["members"][2],
            json!({"value": "08e1d05d-121c-4561-8b96-473d93df9210", "type": "User"})
        );
        assert_eq!(g["id"], group()["id"]);
    }

    #[test]
    fn rfc_add_without_path() {
        let u = patch_user(
            &user(),
            json!([{"op": "add", "value": {
                "emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b@new.example", "type": "other"}],
                "nickname": "Babsy"
            }}]),
        )
        .unwrap();
        let emails = u["emails"].as_array().unwrap();
        assert_eq!(emails.len(), 3);
        assert_eq!(emails[2]["value"], "b@new.example");
        assert_eq!(u["nickName"], "Babsy");
        assert!(u.get("nickname").is_none());
    }

    // RFC 7644 §3.5.2.2
    #[test]
    fn rfc_remove_single_member() {
        let g = patch_group(json!([{
            "op": "remove",
            "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"
        }]))
        .unwrap();
        assert_eq!(member_ids(&g), ["902c246b-6245-4190-8e05-00816be7344a"]);
    }

    #[test]
    fn rfc_remove_all_members() {
        let g = patch_group(json!([{"op": "remove", "path": "members"}])).unwrap();
        assert!(g.get("members").is_none());
    }

    #[test]
    fn rfc_remove_multiple_members() {
        let g = patch_group(json!([
            {"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"},
            {"op": "remove", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]"}
        ]))
        .unwrap();
        assert!(g.get("members").is_none());
    }

    #[test]
    fn rfc_remove_emails_by_filter() {
        let u = patch_user(
            &user(),
            json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
        )
        .unwrap();
        assert_eq!(
            u["emails"],
            json!([{"value": "babs@jensen.org", "type": "home"}])
        );
    }

    #[test]
    fn rfc_remove_then_add_member() {
        let g = patch_group(json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}]}
        ]))
        .unwrap();
        // `display` is immutable (RFC 7643 §2.4): set with the member, it is kept.
        assert_eq!(
            g["members"],
            json!([{"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}])
        );
    }

    // RFC 7644 §3.5.2.3
    #[test]
    fn rfc_replace_members() {
        let g = patch_group(json!([{
            "op": "replace",
            "path": "members",
            "value": [
                {"display": "Babs Jensen", "value": "2819c223-7f76-453a-919d-413861904646"},
                {"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}
            ]
        }]))
        .unwrap();
        assert_eq!(
            member_ids(&g),
            [
                "2819c223-7f76-453a-919d-413861904646",
                "08e1d05d-121c-4561-8b96-473d93df9210"
            ]
        );
    }

    #[test]
    fn rfc_replace_work_address_and_street() {
        let u = patch_user(
            &user(),
            json!([{
                "op": "replace",
                "path": "addresses[type eq \"work\"]",
                "value": {
                    "type": "work",
                    "streetAddress": "911 Universal City Plaza",
                    "locality": "Hollywood",
                    "region": "CA",
                    "postalCode": "91608",
                    "country": "US",
                    "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                    "primary": true
                }
            }]),
        )
        .unwrap();
        assert_eq!(
            u["addresses"][0]["streetAddress"],
            "911 Universal City Plaza"
        );
        assert_eq!(u["addresses"][0]["country"], "US");
        assert_eq!(u["addresses"][1]["type"], "home");

        let u = patch_user(
            &u,
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
        )
        .unwrap();
        assert_eq!(u["addresses"][0]["streetAddress"], "1010 Broadway Ave");
        assert_eq!(u["addresses"][0]["locality"], "Hollywood");
    }

    #[test]
    fn replace_work_email() {
        let u = patch_user(
            &user(),
            json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "bjensen@new.example", "type": "work", "primary": true}}]),
        )
        .unwrap();
        assert_eq!(
            u["emails"][0],
            json!({"value": "bjensen@new.example", "type": "work", "primary": true})
        );
        assert_eq!(u["emails"][1]["value"], "babs@jensen.org");
        let u = patch_user(
            &user(),
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@y.z"}]),
        )
        .unwrap();
        assert_eq!(
            u["emails"][0],
            json!({"value": "x@y.z", "type": "work", "primary": true})
        );
    }

    #[test]
    fn rfc_replace_without_path() {
        let u = patch_user(
            &user(),
            json!([{"op": "replace", "value": {
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
                "nickname": "Babs",
                "name": {"givenName": "Barb"}
            }}]),
        )
        .unwrap();
        assert_eq!(u["emails"].as_array().unwrap().len(), 2);
        assert_eq!(u["nickName"], "Babs");
        assert_eq!(u["name"]["givenName"], "Barb");
        assert_eq!(
            u["name"]["familyName"], "Jensen",
            "unnamed sub-attributes stay"
        );
    }

    #[test]
    fn okta_deactivate_and_group_push() {
        let u = patch_user(
            &user(),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .unwrap();
        assert_eq!(u["active"], false);
        let g = patch_group(json!([{"op": "replace", "value": {
            "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "displayName": "Tour Guides (new)"
        }}]))
        .unwrap();
        assert_eq!(g["displayName"], "Tour Guides (new)");
        assert_eq!(g["id"], "e9e30dba-f08f-4109-8486-d5c6a331660a");
        let e =
            patch_group(json!([{"op": "replace", "value": {"id": "other", "displayName": "x"}}]))
                .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
    }

    #[test]
    fn entra_dialects() {
        let u = patch_user(
            &user(),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .unwrap();
        assert_eq!(u["active"], false);

        let bare = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "a"});
        let u = patch_user(
            &bare,
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}]),
        )
        .unwrap();
        assert_eq!(u["emails"], json!([{"type": "work", "value": "a@b.c"}]));
        // Again: now it matches, so it is updated rather than duplicated.
        let u = patch_user(&u, json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@b.c"}])).unwrap();
        assert_eq!(u["emails"], json!([{"type": "work", "value": "new@b.c"}]));

        let g = patch_group(json!([{"op": "Remove", "path": "members", "value": [{"value": "902c246b-6245-4190-8e05-00816be7344a"}]}])).unwrap();
        assert_eq!(member_ids(&g), ["2819c223-7f76-453a-919d-413861904646"]);

        let u = patch_user(
            &bare,
            json!([{"op": "Add", "path": format!("{ENT}:manager"), "value": "mgr-id"}]),
        )
        .unwrap();
        assert_eq!(u[ENT], json!({"manager": {"value": "mgr-id"}}));
        assert_eq!(
            u["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENT])
        );

        let u = patch_user(
            &u,
            json!([{"op": "Replace", "path": format!("{ENT}:department"), "value": "Sales"}]),
        )
        .unwrap();
        assert_eq!(u[ENT]["department"], "Sales");
        let u = patch_user(
            &u,
            json!([
                {"op": "Remove", "path": format!("{ENT}:manager")},
                {"op": "Remove", "path": format!("{ENT}:department")}
            ]),
        )
        .unwrap();
        assert!(u.get(ENT).is_none());
        assert_eq!(
            u["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
        );
    }

    #[test]
    fn extension_in_no_path_value() {
        let bare = json!({"id": "1", "userName": "a"});
        let u = patch_user(
            &bare,
            json!([{"op": "add", "value": {
                format!("{ENT}:employeeNumber"): "42",
                ENT: {"costCenter": "CC1"}
            }}]),
        )
        .unwrap();
        assert_eq!(u[ENT], json!({"employeeNumber": "42", "costCenter": "CC1"}));
        assert_eq!(u.as_object().unwrap().keys().next().unwrap(), "schemas");
        let u = patch_user(
            &u,
            json!([{"op": "replace", "path": ENT, "value": {"costCenter": "CC2"}}]),
        )
        .unwrap();
        assert_eq!(u[ENT]["costCenter"], "CC2");
        assert_eq!(u[ENT]["employeeNumber"], "42");
        let u = patch_user(&u, json!([{"op": "remove", "path": ENT}])).unwrap();
        assert!(u.get(ENT).is_none());
    }

    #[test]
    fn primary_moves() {
        let u = patch_user(
            &user(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "new@x.y", "type": "other", "primary": true}]}]),
        )
        .unwrap();
        let emails = u["emails"].as_array().unwrap();
        assert_eq!(emails[0]["primary"], false);
        assert_eq!(emails[2]["primary"], true);
        let u = patch_user(
            &user(),
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
        )
        .unwrap();
        assert_eq!(u["emails"][0]["primary"], false);
        assert_eq!(u["emails"][1]["primary"], true);
        let e = patch_user(
            &user(),
            json!([{"op": "replace", "path": "emails", "value": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn sub_attribute_paths() {
        let u = patch_user(
            &user(),
            json!([{"op": "replace", "path": "name.givenName", "value": "Barb"}]),
        )
        .unwrap();
        assert_eq!(u["name"]["givenName"], "Barb");
        let u = patch_user(&u, json!([{"op": "remove", "path": "name.givenName"}])).unwrap();
        assert!(u["name"].get("givenName").is_none());
        let u = patch_user(&u, json!([{"op": "remove", "path": "NAME"}])).unwrap();
        assert!(u.get("name").is_none());
        let u = patch_user(
            &u,
            json!([{"op": "add", "path": "name.familyName", "value": "J"}]),
        )
        .unwrap();
        assert_eq!(u["name"], json!({"familyName": "J"}));
        let u = patch_user(
            &u,
            json!([{"op": "replace", "path": "emails.type", "value": "other"}]),
        )
        .unwrap();
        assert!(u["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "other"));
        let u = patch_user(
            &u,
            json!([{"op": "remove", "path": "emails[type eq \"other\"].primary"}]),
        )
        .unwrap();
        assert!(u["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("primary").is_none()));
    }

    #[test]
    fn removing_unassigned_is_a_no_op() {
        let u = user();
        for path in [
            "roles",
            "entitlements",
            "emails[type eq \"other\"]",
            "name.middleName",
            &format!("{ENT}:manager"),
        ] {
            let out = patch_user(&u, json!([{"op": "remove", "path": path}])).unwrap();
            if path != "name.middleName" {
                assert_eq!(out, u, "{path}");
            }
        }
    }

    #[test]
    fn errors() {
        let u = user();
        let cases = [
            (json!([{"op": "remove"}]), ScimType::NoTarget),
            (
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "replace", "path": "meta.created", "value": "2011-05-13T04:42:34Z"}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "add", "path": "bogus", "value": "x"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "add", "path": "name.bogus", "value": "x"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "add", "path": "emails[type eq \"work\"].bogus", "value": "x"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "add", "path": "title[value eq \"x\"]", "value": "x"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "x"}}]),
                ScimType::NoTarget,
            ),
            (
                json!([{"op": "replace", "path": "emails[value co \"zzz\"].value", "value": "x"}]),
                ScimType::NoTarget,
            ),
            (
                json!([{"op": "add", "path": "active", "value": "maybe"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "add", "path": "userName"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "remove", "path": "userName"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "add", "value": "not an object"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "add", "value": {"bogus": 1}}]),
                ScimType::InvalidSyntax,
            ),
            (
                json!([{"op": "move", "path": "title"}]),
                ScimType::InvalidSyntax,
            ),
            (
                json!([{"op": "add", "path": "emails[primary gt true]", "value": {"value": "x"}}]),
                ScimType::InvalidFilter,
            ),
        ];
        for (ops, t) in cases {
            let e = patch_user(&u, ops.clone()).unwrap_err();
            assert_eq!(e.kind, crate::scim::ErrorKind::Invalid, "{ops}");
            assert_eq!(e.scim_type, Some(t), "{ops}: {}", e.detail);
        }
        let e = patch_user(
            &u,
            json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
        )
        .unwrap_err();
        assert!(e.detail.contains("position"), "{}", e.detail);
    }

    #[test]
    fn immutable_members() {
        let e = patch_group(json!([{
            "op": "replace",
            "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"].value",
            "value": "someone-else"
        }]))
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        // Setting an immutable sub-attribute that has no value yet is fine.
        let g = patch_group(json!([{
            "op": "add",
            "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"].type",
            "value": "User"
        }]))
        .unwrap();
        assert_eq!(g["members"][0]["type"], "User");
        let e = patch_on(
            "Group",
            &g,
            json!([{
                "op": "replace",
                "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"].type",
                "value": "Group"
            }]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
    }

    #[test]
    fn atomic() {
        let u = user();
        let e = patch_user(
            &u,
            json!([
                {"op": "replace", "path": "title", "value": "Changed"},
                {"op": "replace", "path": "id", "value": "x"}
            ]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        assert!(e.detail.starts_with("Operations[1]"), "{}", e.detail);
        assert_eq!(u["title"], "Tour Guide");
    }

    #[test]
    fn request_parsing() {
        let ops = parse_patch_request(&json!({
            "Operations": [
                {"op": "ADD", "path": "title", "value": "x"},
                {"op": "remove", "path": " members[value eq \"1\"] "},
                {"op": "Replace", "path": "", "value": {"active": true}}
            ]
        }))
        .unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].op, PatchOpKind::Add);
        assert!(ops[1].path.as_ref().unwrap().filter.is_some());
        assert!(ops[2].path.is_none());

        let bad = [
            (
                json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "value": {}}]}),
                ScimType::InvalidSyntax,
            ),
            (json!({"Operations": []}), ScimType::InvalidSyntax),
            (json!({}), ScimType::InvalidSyntax),
            (json!([]), ScimType::InvalidSyntax),
            (json!({"Operations": ["add"]}), ScimType::InvalidSyntax),
            (
                json!({"Operations": [{"op": "add", "path": 3, "value": 1}]}),
                ScimType::InvalidPath,
            ),
            (
                json!({"Operations": [{"op": "replace", "path": "title"}]}),
                ScimType::InvalidValue,
            ),
            (
                json!({"Operations": [{"op": "remove", "path": "a b"}]}),
                ScimType::InvalidPath,
            ),
        ];
        for (body, t) in bad {
            let e = parse_patch_request(&body).unwrap_err();
            assert_eq!(e.scim_type, Some(t), "{body}: {}", e.detail);
        }
        let many: Vec<Value> = (0..=MAX_PATCH_OPERATIONS)
            .map(|_| json!({"op": "remove", "path": "title"}))
            .collect();
        let e = parse_patch_request(&json!({"Operations": many})).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::TooMany));
    }
}
