//! JSON as MiniJinja sees it, read only where an expression looks.
//!
//! A platform answer can be large (Coder answers a user's groups with every member of each,
//! the organization's "Everyone" group included). Parsing it into JSON values and converting
//! those into MiniJinja values costs far more than the platform call. A platform answer is a
//! [`JsonBody`]: its text, checked to be JSON, parsed whole only when something reads it whole.
//! Expressions read it through `RawNode`s, which parse one level of the text when they are
//! looked into, so `response | rejectattr('id', 'eq', x) | list` reads one field of each
//! group and never builds the members. A `JsonNode` does the same over JSON already parsed.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as JinjaValue};
use serde_json::value::RawValue;
use serde_json::Value;

/// A platform answer's body: its text, parsed when something reads it as JSON.
#[derive(Debug, Clone)]
pub struct JsonBody {
    text: Arc<str>,
    parsed: OnceLock<Arc<Value>>,
}

impl JsonBody {
    /// A body as the platform sent it; nothing is parsed yet.
    pub fn from_text(text: String) -> JsonBody {
        JsonBody {
            text: Arc::from(text),
            parsed: OnceLock::new(),
        }
    }

    /// A body given as JSON (recorded and test answers).
    pub fn from_value(value: Value) -> JsonBody {
        let body = JsonBody {
            text: Arc::from(value.to_string()),
            parsed: OnceLock::new(),
        };
        let _ = body.parsed.set(Arc::new(value));
        body
    }

    /// The body as JSON: `null` when empty, a JSON string of the text when it is not JSON.
    pub fn value(&self) -> &Arc<Value> {
        self.parsed.get_or_init(|| {
            Arc::new(if self.text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&self.text)
                    .unwrap_or_else(|_| Value::String(self.text.to_string()))
            })
        })
    }

    /// The body's text, for `body_contains` rules and messages.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The body for an expression: from the JSON when it was parsed already; else an object
    /// or array read from the text (reading its first level checks the whole text is JSON);
    /// else parsed.
    pub(super) fn jinja(&self) -> JinjaValue {
        if let Some(parsed) = self.parsed.get() {
            return lazy(parsed.clone());
        }
        match RawNode::root(&self.text) {
            Some(node) => JinjaValue::from_object(node),
            None => lazy(self.value().clone()),
        }
    }
}

impl serde::Serialize for JsonBody {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

/// An object or array inside a JSON text, parsed one level when it is looked into.
#[derive(Debug)]
struct RawNode {
    text: Arc<str>,
    start: usize,
    end: usize,
    level: OnceLock<Level>,
}

/// One level of a JSON object or array: where each member's text is.
#[derive(Debug)]
enum Level {
    /// Members in key order (a repeated key: the last one, as when parsed whole).
    Object(Vec<(String, usize, usize)>),
    Array(Vec<(usize, usize)>),
}

/// The value of the JSON text `text[start..end]` (checked to be JSON) for MiniJinja.
fn raw_at(text: &Arc<str>, start: usize, end: usize) -> JinjaValue {
    let part = text.get(start..end).unwrap_or_default().trim();
    match part.as_bytes().first() {
        Some(b'{' | b'[') => JinjaValue::from_object(RawNode {
            text: text.clone(),
            start,
            end,
            level: OnceLock::new(),
        }),
        _ => match serde_json::from_str::<Value>(part) {
            Ok(scalar) => scalar_value(&scalar),
            Err(_) => JinjaValue::UNDEFINED,
        },
    }
}

impl RawNode {
    fn part(&self) -> &str {
        self.text.get(self.start..self.end).unwrap_or_default()
    }

    /// Where a member's text is, as positions in the whole text.
    fn span(&self, member: &RawValue) -> (usize, usize) {
        let at = (member.get().as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize);
        (at, at + member.get().len())
    }

    /// The node of a whole JSON text that is an object or array; `None` for anything else,
    /// text that is not JSON included.
    fn root(text: &Arc<str>) -> Option<RawNode> {
        let node = RawNode {
            text: text.clone(),
            start: 0,
            end: text.len(),
            level: OnceLock::new(),
        };
        let level = node.parse_level()?;
        let _ = node.level.set(level);
        Some(node)
    }

    /// The first level of the node's text; `None` when it is not a JSON object or array.
    fn parse_level(&self) -> Option<Level> {
        let part = self.part();
        let trimmed = part.trim_start();
        if trimmed.starts_with('{') {
            let members: BTreeMap<String, &RawValue> = serde_json::from_str(part).ok()?;
            Some(Level::Object(
                members
                    .into_iter()
                    .map(|(key, member)| {
                        let (start, end) = self.span(member);
                        (key, start, end)
                    })
                    .collect(),
            ))
        } else if trimmed.starts_with('[') {
            let items: Vec<&RawValue> = serde_json::from_str(part).ok()?;
            Some(Level::Array(
                items.into_iter().map(|item| self.span(item)).collect(),
            ))
        } else {
            None
        }
    }

    fn level(&self) -> &Level {
        // Inner nodes are parts of a text checked whole when its root was read.
        self.level
            .get_or_init(|| self.parse_level().unwrap_or(Level::Array(Vec::new())))
    }

    /// The JSON value of the whole node (parsed directly: an expression's result).
    fn to_json(&self) -> Value {
        serde_json::from_str(self.part()).unwrap_or(Value::Null)
    }
}

impl Object for RawNode {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.level() {
            Level::Object(_) => ObjectRepr::Map,
            Level::Array(_) => ObjectRepr::Seq,
        }
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        match self.level() {
            Level::Object(members) => {
                let key = key.as_str()?;
                let found = members
                    .binary_search_by(|(k, _, _)| k.as_str().cmp(key))
                    .ok()?;
                let (_, start, end) = members.get(found)?;
                Some(raw_at(&self.text, *start, *end))
            }
            Level::Array(items) => {
                let (start, end) = items.get(key.as_usize()?)?;
                Some(raw_at(&self.text, *start, *end))
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.level() {
            Level::Object(members) => Enumerator::Values(
                members
                    .iter()
                    .map(|(k, _, _)| JinjaValue::from(k.as_str()))
                    .collect(),
            ),
            Level::Array(items) => Enumerator::Seq(items.len()),
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.level() {
            Level::Object(members) => Some(members.len()),
            Level::Array(items) => Some(items.len()),
        }
    }
}

/// An expression's result as JSON: the parts that are still JSON (a lazy node, a list of them)
/// taken as they are, the rest through MiniJinja's serializer.
pub(super) fn to_json(value: &JinjaValue) -> Result<Value, serde_json::Error> {
    if let Some(raw) = value.downcast_object_ref::<RawNode>() {
        return Ok(raw.to_json());
    }
    if let Some(node) = value.downcast_object_ref::<JsonNode>() {
        return Ok(node.value().clone());
    }
    if value.as_object().is_none() && value.kind() == minijinja::value::ValueKind::Seq {
        if let Ok(items) = value.try_iter() {
            return items
                .map(|item| to_json(&item))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array);
        }
    }
    serde_json::to_value(value)
}

/// One step from a node to a member: a key of an object or a position in an array.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// An object or array inside a shared JSON document.
#[derive(Debug)]
struct JsonNode {
    root: Arc<Value>,
    path: Vec<Step>,
}

/// The value of a shared JSON document for MiniJinja: scalars converted, objects and arrays
/// read lazily.
pub(super) fn lazy(root: Arc<Value>) -> JinjaValue {
    at(&root, Vec::new())
}

fn at(root: &Arc<Value>, path: Vec<Step>) -> JinjaValue {
    match resolve(root, &path) {
        Value::Object(_) | Value::Array(_) => JinjaValue::from_object(JsonNode {
            root: root.clone(),
            path,
        }),
        scalar => scalar_value(scalar),
    }
}

/// A JSON scalar as MiniJinja's own serializer would make it.
fn scalar_value(value: &Value) -> JinjaValue {
    match value {
        Value::Null => JinjaValue::from(()),
        Value::Bool(b) => JinjaValue::from(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => JinjaValue::from(u),
            (None, Some(i)) => JinjaValue::from(i),
            _ => JinjaValue::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => JinjaValue::from(s.as_str()),
        other => JinjaValue::from_serialize(other),
    }
}

fn resolve<'v>(root: &'v Value, path: &[Step]) -> &'v Value {
    static NULL: Value = Value::Null;
    let mut value = root;
    for step in path {
        let next = match (step, value) {
            (Step::Key(key), Value::Object(map)) => map.get(key),
            (Step::Index(i), Value::Array(items)) => items.get(*i),
            _ => None,
        };
        value = next.unwrap_or(&NULL);
    }
    value
}

impl JsonNode {
    fn value(&self) -> &Value {
        resolve(&self.root, &self.path)
    }

    fn child(&self, step: Step) -> JinjaValue {
        let mut path = Vec::with_capacity(self.path.len() + 1);
        path.extend(self.path.iter().cloned());
        path.push(step);
        at(&self.root, path)
    }
}

impl Object for JsonNode {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.value() {
            Value::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        match self.value() {
            Value::Object(map) => {
                let key = key.as_str()?;
                map.contains_key(key)
                    .then(|| self.child(Step::Key(key.to_owned())))
            }
            Value::Array(items) => {
                let index = key.as_usize()?;
                (index < items.len()).then(|| self.child(Step::Index(index)))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.value() {
            Value::Object(map) => {
                // In key order, as a converted map (MiniJinja's maps are sorted) iterates.
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Enumerator::Values(
                    keys.into_iter()
                        .map(|k| JinjaValue::from(k.as_str()))
                        .collect(),
                )
            }
            Value::Array(items) => Enumerator::Seq(items.len()),
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.value() {
            Value::Object(map) => Some(map.len()),
            Value::Array(items) => Some(items.len()),
            _ => Some(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every expression over a lazy document gives what it gives over the converted one.
    #[test]
    fn lazy_documents_read_as_converted_ones() {
        let doc = json!({
            "groups": [
                {"id": "org", "members": [{"id": "u1"}, {"id": "u2"}]},
                {"id": "g1", "name": "Eng", "n": -3, "f": 0.5, "ok": true, "none": null,
                 "members": [{"id": "u1"}], "tags": {"b": 1, "a": 2},
                 "esc": "a\"b\\c\n", "uni": "é€😀"},
            ],
            "count": 2,
        });
        let env = minijinja::Environment::new();
        let shared = Arc::new(doc.clone());
        // As a platform sends it: spaces, escapes, unicode.
        let text = serde_json::to_string_pretty(&doc).unwrap();
        for source in [
            "response.groups | rejectattr('id', 'eq', 'org') | list",
            "response.groups | map(attribute='id') | list",
            "response.groups[1].members | map(attribute='id') | list",
            "response.groups[-1].name",
            "response.groups | length",
            "response.groups[1].tags | length",
            "response.groups[1].tags | dictsort",
            "response.groups[1].tags.a",
            "response.groups[1].missing",
            "response.groups[7]",
            "response.count + 1",
            "response.groups[1].n * 2",
            "response.groups[1].f",
            "response.groups[1].ok and response.groups[1].none is none",
            "response.groups[1] == response.groups[1]",
            "response.groups[0].members == [{'id': 'u1'}, {'id': 'u2'}]",
            "response | tojson",
            "response.groups[1].esc ~ response.groups[1].uni",
            "response.groups[1].tags is mapping and response.groups is sequence",
            "'g1' in response.groups | map(attribute='id')",
            "response.groups | first",
            "'a' in response.groups[1].tags and 'z' not in response.groups[1].tags",
            "response.groups | map(attribute='id') | sort | join(',')",
            "response.groups | map(attribute='members') | list | length",
            "response.groups[0].members | map(attribute='id') | unique | list",
            "response.groups | selectattr('ok') | map(attribute='name') | list",
            "response.groups[1].tags | items | list",
            "response.groups[1] | string | length > 10",
            "response.groups | last",
        ] {
            let expr = env.compile_expression(source).unwrap();
            let converted = expr
                .eval(minijinja::context! { response => JinjaValue::from_serialize(&doc) })
                .unwrap();
            let expected = serde_json::to_value(&converted).unwrap();
            let parsed = expr
                .eval(minijinja::context! { response => lazy(shared.clone()) })
                .unwrap();
            assert_eq!(to_json(&parsed).unwrap(), expected, "{source} (parsed)");
            let body = JsonBody::from_text(text.clone());
            let raw = expr
                .eval(minijinja::context! { response => body.jinja() })
                .unwrap();
            assert_eq!(to_json(&raw).unwrap(), expected, "{source} (text)");
            assert_eq!(raw.is_true(), converted.is_true(), "{source} (truth)");
        }
    }

    #[test]
    fn bodies_read_as_the_platform_sent_them() {
        assert_eq!(**JsonBody::from_text(String::new()).value(), Value::Null);
        assert_eq!(**JsonBody::from_text("  ".to_owned()).value(), Value::Null);
        let text = JsonBody::from_text("<html>busy</html>".to_owned());
        assert_eq!(**text.value(), json!("<html>busy</html>"));
        assert_eq!(text.text(), "<html>busy</html>");
        let cut = JsonBody::from_text("{\"a\": [1, 2".to_owned());
        assert_eq!(**cut.value(), json!("{\"a\": [1, 2"));
        let env = minijinja::Environment::new();
        let whole = env.compile_expression("response").unwrap();
        for text in ["{\"a\": [1, 2", "[1, 2] trailing", "[1, 2]"] {
            let body = JsonBody::from_text(text.to_owned());
            let read = whole
                .eval(minijinja::context! { response => body.jinja() })
                .unwrap();
            let parsed = JsonBody::from_text(text.to_owned());
            assert_eq!(to_json(&read).unwrap(), **parsed.value(), "{text}");
        }
        let doc = JsonBody::from_text(" {\"a\": {\"b\": [1, \"x\"]}, \"a\": 7} ".to_owned());
        // A repeated key reads as its last value, as when parsed whole.
        assert_eq!(**doc.value(), json!({"a": 7}));
        let a = env.compile_expression("response.a").unwrap();
        let fresh = JsonBody::from_text(" {\"a\": {\"b\": 1}, \"a\": 7} ".to_owned());
        let read = a
            .eval(minijinja::context! { response => fresh.jinja() })
            .unwrap();
        assert_eq!(to_json(&read).unwrap(), json!(7));
        assert_eq!(**JsonBody::from_value(json!([1])).value(), json!([1]));
    }
}
