//! Sorting of list results (RFC 7644 §3.4.2.3): `sortBy` / `sortOrder`,
//! comparing values as their attribute type says.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;

use super::error::{ScimError, ScimType};
use super::path::AttrPath;
use super::schema::{AttrType, Registry, ResourceType};
use super::value::{fold, get_ci, parse_datetime};

/// The `sortOrder` of RFC 7644 §3.4.2.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Smallest value first; the default when `sortOrder` is absent.
    #[default]
    Ascending,
    /// Largest value first.
    Descending,
}

/// Parses a `sortOrder` value in any case; anything but ascending or descending is 400
/// invalidValue.
pub fn parse_sort_order(s: &str) -> Result<SortOrder, ScimError> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("ascending") {
        Ok(SortOrder::Ascending)
    } else if s.eq_ignore_ascii_case("descending") {
        Ok(SortOrder::Descending)
    } else {
        Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("sortOrder must be \"ascending\" or \"descending\", not \"{s}\""),
        ))
    }
}

/// A comparable value; kinds order among themselves by their rank so a
/// mixed column still sorts deterministically.
#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    Bool(bool),
    Number(f64),
    DateTime(OffsetDateTime),
    Text(String),
}

impl SortKey {
    fn rank(&self) -> u8 {
        match self {
            SortKey::Bool(_) => 0,
            SortKey::Number(_) => 1,
            SortKey::DateTime(_) => 2,
            SortKey::Text(_) => 3,
        }
    }

    fn cmp(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::DateTime(a), SortKey::DateTime(b)) => a.cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// The value `by` sorts on: for a multi-valued attribute the primary
/// element's (else the first one's), for a complex one its `value`.
fn sort_key(
    registry: &Registry,
    rt: &ResourceType,
    resource: &Value,
    by: &AttrPath,
) -> Option<SortKey> {
    let resolved = registry.resolve(rt, by);
    let mut attr = resolved.map(|r| r.sub_attribute.unwrap_or(r.attribute));
    let raw = registry.attr_value(rt, resource, by)?;
    let element = match raw {
        Value::Array(items) => items
            .iter()
            .find(|e| e.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?,
        other => other,
    };
    let value = match (&by.sub, element) {
        (Some(sub), Value::Object(o)) => get_ci(o, sub)?,
        (Some(_), _) => return None,
        (None, Value::Object(o)) => {
            attr = attr.and_then(|a| a.sub("value"));
            get_ci(o, "value")?
        }
        (None, other) => other,
    };
    let case_exact = attr.is_some_and(|a| a.case_exact);
    match value {
        Value::Bool(b) => Some(SortKey::Bool(*b)),
        Value::Number(n) => n.as_f64().map(SortKey::Number),
        Value::String(s) => {
            if attr.is_some_and(|a| a.attr_type == AttrType::DateTime) {
                if let Some(t) = parse_datetime(s) {
                    return Some(SortKey::DateTime(t));
                }
            }
            Some(SortKey::Text(fold(s, case_exact)))
        }
        _ => None,
    }
}

/// Stable sort (ties keep their input order either way); resources without
/// a value come last when ascending and first when descending.
pub fn sort_resources(
    registry: &Registry,
    rt: &ResourceType,
    resources: &mut [Value],
    by: &AttrPath,
    order: SortOrder,
) {
    let mut keyed: Vec<(Option<SortKey>, Value)> = resources
        .iter_mut()
        .map(|r| (sort_key(registry, rt, r, by), std::mem::take(r)))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        let ord = match (a, b) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        match order {
            SortOrder::Ascending => ord,
            SortOrder::Descending => ord.reverse(),
        }
    });
    for (slot, (_, v)) in resources.iter_mut().zip(keyed) {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::path::parse_attr_path;
    use serde_json::json;

    fn sorted(mut items: Vec<Value>, by: &str, order: SortOrder) -> Vec<String> {
        let r = Registry::standard().unwrap();
        let rt = r.resource_type("User").unwrap();
        sort_resources(&r, rt, &mut items, &parse_attr_path(by).unwrap(), order);
        items
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn users() -> Vec<Value> {
        vec![
            json!({"id": "1", "userName": "bob", "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}], "meta": {"created": "2011-01-01T00:00:00Z"}}),
            json!({"id": "2", "userName": "Alice", "meta": {"created": "2010-01-01T00:00:00+01:00"}}),
            json!({"id": "3", "emails": [{"value": "m@x"}], "meta": {"created": "2010-01-01T00:00:00Z"}}),
            json!({"id": "4", "userName": "alice", "externalId": "B"}),
            json!({"id": "5", "userName": "Carol", "externalId": "a"}),
        ]
    }

    #[test]
    fn order_names() {
        assert_eq!(parse_sort_order("ASCENDING").unwrap(), SortOrder::Ascending);
        assert_eq!(
            parse_sort_order("descending").unwrap(),
            SortOrder::Descending
        );
        assert_eq!(
            parse_sort_order("up").unwrap_err().scim_type,
            Some(ScimType::InvalidValue)
        );
    }

    #[test]
    fn case_insensitive_stable_missing_last() {
        assert_eq!(
            sorted(users(), "userName", SortOrder::Ascending),
            ["2", "4", "1", "5", "3"]
        );
        // Ties keep their input order in both directions.
        assert_eq!(
            sorted(users(), "userName", SortOrder::Descending),
            ["3", "5", "1", "2", "4"]
        );
    }

    #[test]
    fn case_exact_attribute() {
        // externalId is caseExact: "B" < "a".
        assert_eq!(
            sorted(users(), "externalId", SortOrder::Ascending),
            ["4", "5", "1", "2", "3"]
        );
    }

    #[test]
    fn multi_valued_uses_primary() {
        assert_eq!(
            sorted(users(), "emails", SortOrder::Ascending),
            ["1", "3", "2", "4", "5"]
        );
        assert_eq!(
            sorted(users(), "emails.value", SortOrder::Ascending),
            ["1", "3", "2", "4", "5"]
        );
    }

    #[test]
    fn datetimes_chronological() {
        assert_eq!(
            sorted(users(), "meta.created", SortOrder::Ascending),
            ["2", "3", "1", "4", "5"]
        );
    }
}
