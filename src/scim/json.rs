//! Request bodies read as JSON (RFC 8259) with the two guards SCIM needs beyond a parser's:
//! a name that appears twice in one object is refused (RFC 8259 §4 leaves the outcome to the
//! reader; SCIM names are case-insensitive, RFC 7643 §2.1, so `userName` and `USERNAME` are the
//! same name and one of them would silently win), and nesting is bounded (serde_json's own
//! limit of 128 levels). Numbers that do not fit a double are refused by the parser.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses a request body; the error says what is wrong and where.
pub fn parse_body(bytes: &[u8]) -> Result<Value, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Checked
        .deserialize(&mut deserializer)
        .map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// A JSON value read with every object's names checked.
struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(Checked)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        let mut seen = HashSet::new();
        while let Some(name) = access.next_key::<String>()? {
            if !seen.insert(name.to_lowercase()) {
                return Err(de::Error::custom(format!(
                    "the name \"{name}\" appears twice in one object (SCIM names ignore case)"
                )));
            }
            let value = access.next_value_seed(Checked)?;
            map.insert(name, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_read_as_json_does() {
        let body = br#"{"userName": "a", "emails": [{"value": "a@x", "primary": true}], "n": 1.5, "z": null}"#;
        assert_eq!(
            parse_body(body).unwrap(),
            json!({"userName": "a", "emails": [{"value": "a@x", "primary": true}], "n": 1.5, "z": null})
        );
        // Order kept, as serde_json's own parse keeps it.
        let keys: Vec<String> = parse_body(br#"{"b": 1, "a": 2}"#)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["b", "a"]);
    }

    #[test]
    fn hostile_bodies_are_refused() {
        assert!(parse_body(br#"{"userName": "a", "userName": "b"}"#)
            .unwrap_err()
            .contains("twice"));
        assert!(parse_body(br#"{"userName": "a", "USERNAME": "b"}"#)
            .unwrap_err()
            .contains("twice"));
        assert!(parse_body(br#"{"name": {"givenName": "a", "givenname": "b"}}"#).is_err());
        assert!(parse_body(br#"{"n": 1e400}"#).is_err());
        assert!(parse_body(b"{\"userName\": \"\xff\xfe\"}").is_err());
        assert!(parse_body(br#"{"a": 1} trailing"#).is_err());
        assert!(parse_body(b"").is_err());
        let deep = "[".repeat(100_000);
        assert!(parse_body(deep.as_bytes()).is_err());
        // The same name in two objects is no duplicate.
        assert!(parse_body(br#"{"a": {"x": 1}, "b": {"x": 2}}"#).is_ok());
    }
}
