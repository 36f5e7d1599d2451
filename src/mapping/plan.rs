//! Planning with a compiled mapping: rendering backend requests, converting objects both ways
//! (platform object ⇄ SCIM resource, with the gateway's stored copy filling what the platform
//! cannot hold), choosing filter push-downs and classifying platform errors. Pure: no I/O.

mod convert;
mod lists;

pub use convert::SNAPSHOT_MARK;
pub use lists::read_user_groups;

use serde_json::{Map, Value};

use super::compile::{
    AttributeMapping, CallSpec, ListSpec, Mapping, MemberSource, MembersSpec, Pushdown,
    ResourceMapping,
};
use super::expr::{EvalError, Expr, Scope, Template};
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
            // The answer is the object: anything else (a body that is not JSON, a list, an
            // empty answer) is no object to read fields from.
            return match response.body.value().as_ref() {
                object @ Value::Object(_) => Ok(object.clone()),
                other => Err(MappingError::Unusable(format!(
                    "{}: the platform answered {} instead of the platform object",
                    self.key,
                    match other {
                        Value::String(_) => "a body that is not JSON",
                        other => json_kind(other),
                    }
                ))),
            };
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
    ctx: &Scope<'_>,
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
                if !response.body.text().contains(needle.as_str()) {
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
                response: response.body.value(),
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
        match response.body.value().get(key) {
            Some(Value::String(s)) if !s.is_empty() => return s.clone(),
            Some(v @ Value::Object(_)) => return v.to_string(),
            _ => {}
        }
    }
    let mut text: String = response.body.text().chars().take(300).collect();
    if text.is_empty() {
        text = "no details".to_owned();
    }
    text
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
