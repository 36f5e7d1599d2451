//! JSON as MiniJinja sees it, converted only where an expression looks.
//!
//! A platform answer can be large (Coder answers a user's groups with every member of each,
//! the organization's "Everyone" group included). Converting it whole into MiniJinja values
//! costs more than the platform call; a [`JsonNode`] shares the parsed answer and converts a
//! member only when an expression reads it, so `response | rejectattr('id', 'eq', x) | list`
//! reads one field of each group and never the members.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as JinjaValue};
use serde_json::Value;

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
                 "members": [{"id": "u1"}], "tags": {"b": 1, "a": 2}},
            ],
            "count": 2,
        });
        let env = minijinja::Environment::new();
        let shared = Arc::new(doc.clone());
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
            "response.groups[1].tags is mapping and response.groups is sequence",
            "'g1' in response.groups | map(attribute='id')",
            "response.groups | first",
            "response.groups | last",
        ] {
            let expr = env.compile_expression(source).unwrap();
            let converted = expr
                .eval(minijinja::context! { response => JinjaValue::from_serialize(&doc) })
                .unwrap();
            let lazily = expr
                .eval(minijinja::context! { response => lazy(shared.clone()) })
                .unwrap();
            assert_eq!(
                serde_json::to_value(&lazily).unwrap(),
                serde_json::to_value(&converted).unwrap(),
                "{source}"
            );
        }
    }
}
