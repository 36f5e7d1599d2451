//! JSON helpers shared by the SCIM modules: case-insensitive member lookup
//! (RFC 7643 §2.1), "has a value" (RFC 7643 §2.5) and xsd:dateTime parsing
//! (RFC 7643 §2.3.5).

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

pub(crate) fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Removes every spelling of `name`, so a resource never ends up holding
/// both `nickName` and `nickname`.
pub(crate) fn remove_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let keys: Vec<String> = map
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    let mut last = None;
    for k in keys {
        last = map.shift_remove(&k).or(last);
    }
    last
}

/// Sets `name` under its canonical spelling, dropping other spellings.
pub(crate) fn set_ci(map: &mut Map<String, Value>, name: &str, value: Value) {
    let others: Vec<String> = map
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(name) && *k != name)
        .cloned()
        .collect();
    for k in others {
        map.shift_remove(&k);
    }
    map.insert(name.to_owned(), value);
}

/// RFC 7643 §2.5: null, "" and empty arrays/objects count as unassigned.
pub(crate) fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(o) => o.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// xsd:dateTime as RFC 7643 §2.3.5 asks for; a value without an offset is
/// taken as UTC because xsd allows the offset to be left out.
pub(crate) fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let with_fraction =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    let plain = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(s, with_fraction)
        .or_else(|_| PrimitiveDateTime::parse(s, plain))
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

pub(crate) fn fold(s: &str, case_exact: bool) -> String {
    if case_exact {
        s.to_owned()
    } else {
        s.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn case_insensitive_helpers() {
        let mut m = json!({"userName": "a", "USERNAME": "b", "x": 1})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(get_ci(&m, "username"), Some(&json!("a")));
        set_ci(&mut m, "userName", json!("c"));
        assert_eq!(m.len(), 2);
        assert_eq!(m["userName"], "c");
        assert!(remove_ci(&mut m, "USERname").is_some());
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn presence_and_datetimes() {
        assert!(!is_present(&json!([])));
        assert!(!is_present(&json!({"a": null})));
        assert!(is_present(&json!(false)));
        assert!(parse_datetime("2011-05-13T04:42:34Z").is_some());
        assert!(parse_datetime("2011-05-13T04:42:34.5+02:00").is_some());
        assert!(parse_datetime("2011-05-13T04:42:34").is_some());
        assert!(parse_datetime("2011-05-13").is_none());
        assert!(parse_datetime("yesterday").is_none());
    }
}
