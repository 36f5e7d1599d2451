//! `/Bulk` requests (RFC 7644 §3.7), read and checked: the request-wide checks (§3.7.1,
//! §3.7.3 `failOnErrors`, §3.7.4 limits), each operation's method, path, version and data, and
//! the `bulkId` references (§3.7.2) by which a later operation names what an earlier POST made,
//! in its path or anywhere in its data.

use std::collections::HashMap;

use serde_json::Value;

use super::error::{ErrorKind, ScimError, ScimType};
use super::op::{ResourceKind, WriteMethod};
use super::BULK_REQUEST_SCHEMA as BULK_REQUEST;

/// Most operations in one request (advertised as `bulk.maxOperations`).
pub const MAX_OPERATIONS: usize = 1000;
/// Largest request body in bytes (advertised as `bulk.maxPayloadSize`).
pub const MAX_PAYLOAD_SIZE: usize = 1024 * 1024;

/// How data and paths refer to the resource another operation of the request creates.
const REFERENCE: &str = "bulkId:";

/// A BulkRequest that passed the request-wide checks.
#[derive(Debug)]
pub struct BulkRequest {
    /// Stop after this many failed operations; `None` runs them all.
    pub fail_on_errors: Option<usize>,
    /// The operations as sent, in order.
    pub operations: Vec<Value>,
}

/// The request-wide checks: schema, `Operations`, `failOnErrors`, `maxOperations` and unique
/// `bulkId`s. Anything about one operation is that operation's failure, not the request's.
pub fn parse_request(body: Value) -> Result<BulkRequest, ScimError> {
    let Value::Object(mut body) = body else {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "a BulkRequest is a JSON object",
        ));
    };
    let schema_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(BULK_REQUEST))
            })
        });
    if !schema_ok {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("`schemas` must be [\"{BULK_REQUEST}\"]"),
        ));
    }
    let fail_on_errors = match body.get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("`failOnErrors` must be a positive integer, not {v}"),
                ))
            }
        },
    };
    let operations = match body.remove("Operations") {
        Some(Value::Array(ops)) => ops,
        _ => {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                "a BulkRequest needs an `Operations` array",
            ))
        }
    };
    // RFC 7644 §3.7.4: the limit is named in the answer.
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::too_large(format!(
            "The number of operations ({}) exceeds maxOperations ({MAX_OPERATIONS}).",
            operations.len()
        )));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, op) in operations.iter().enumerate() {
        if let Some(bulk_id) = op.get("bulkId").and_then(Value::as_str) {
            if let Some(first) = seen.insert(bulk_id, index) {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!(
                        "bulkId `{bulk_id}` is used by operations {} and {}; a bulkId must be \
                         unique within a request",
                        first + 1,
                        index + 1
                    ),
                ));
            }
        }
    }
    Ok(BulkRequest {
        fail_on_errors,
        operations,
    })
}

/// What each `bulkId` of a request stands for as the operations run.
#[derive(Debug, Default)]
pub struct BulkIds(HashMap<String, Slot>);

impl BulkIds {
    /// Every `bulkId` of the request, none of them created yet.
    pub fn new(request: &BulkRequest) -> BulkIds {
        let mut slots = HashMap::new();
        for (index, op) in request.operations.iter().enumerate() {
            if let Some(bulk_id) = op.get("bulkId").and_then(Value::as_str) {
                slots.insert(bulk_id.to_owned(), Slot::Later(index + 1));
            }
        }
        BulkIds(slots)
    }

    /// The POST of `bulk_id` created the resource `id` at `location`.
    pub fn created(&mut self, bulk_id: String, id: String, location: String) {
        self.0.insert(bulk_id, Slot::Created { id, location });
    }

    /// Operation `number` (1-based), which names `bulk_id`, created nothing.
    pub fn failed(&mut self, bulk_id: String, number: usize) {
        self.0.insert(bulk_id, Slot::Failed(number));
    }
}

/// What a `bulkId` stands for at a point of the run.
#[derive(Debug, Clone)]
enum Slot {
    /// Its POST (operation number, 1-based) has not run yet.
    Later(usize),
    Created {
        id: String,
        location: String,
    },
    /// Its POST failed (or it is not a POST), so there is nothing to refer to.
    Failed(usize),
}

/// The location an error entry can still name: `(endpoint, id)` once the path is understood.
pub type Target = Option<(String, String)>;

/// One operation, checked, its references resolved, ready to parse into a
/// [`ScimOp`](super::ScimOp) and run.
#[derive(Debug)]
pub struct BulkOperation {
    /// What it does.
    pub method: WriteMethod,
    /// The resource type its path names.
    pub kind: ResourceKind,
    /// The endpoint segment of its path (`Users`), for locations.
    pub endpoint: String,
    /// The resource id (PUT, PATCH, DELETE), a reference resolved.
    pub id: Option<String>,
    /// The version the write is conditional on (`version`; never for a POST).
    pub version: Option<String>,
    /// The `data` (null for a DELETE), references resolved.
    pub data: Value,
}

/// Checks one operation and resolves its `bulkId` references; a failure names the location
/// it can (once the path is understood).
pub fn prepare(op: Value, ids: &BulkIds) -> Result<BulkOperation, (ScimError, Target)> {
    let slots = &ids.0;
    let invalid = |detail: String| (ScimError::bad_request(ScimType::InvalidValue, detail), None);
    let Value::Object(mut op) = op else {
        return Err(invalid("an operation is a JSON object".to_owned()));
    };
    let method = match op.get("method") {
        Some(Value::String(m)) => WriteMethod::parse(m).ok_or_else(|| {
            invalid(format!(
                "method `{m}` is not one of POST, PUT, PATCH or DELETE"
            ))
        })?,
        _ => {
            return Err(invalid(
                "an operation needs a `method` (POST, PUT, PATCH or DELETE)".to_owned(),
            ))
        }
    };
    let Some(Value::String(path)) = op.get("path") else {
        return Err(invalid("an operation needs a `path`".to_owned()));
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (endpoint, id) = match (method, segments.as_slice()) {
        (WriteMethod::Post, [endpoint]) => (*endpoint, None),
        (WriteMethod::Post, _) => {
            return Err(invalid(format!(
                "a POST's path names a resource endpoint such as /Users, not `{path}`"
            )))
        }
        (_, [endpoint, id]) => (*endpoint, Some(*id)),
        (_, _) => {
            return Err(invalid(format!(
                "a {}'s path names one resource such as /Users/{{id}}, not `{path}`",
                method.as_str()
            )))
        }
    };
    let Some(kind) = ResourceKind::from_endpoint(endpoint) else {
        return Err((
            ScimError::not_found(format!("no SCIM endpoint at {path}")),
            None,
        ));
    };
    let endpoint = endpoint.to_owned();
    let id = match id {
        Some(id) => match id.strip_prefix(REFERENCE) {
            Some(reference) => Some(
                resolve(reference, slots)
                    .map(|(id, _)| id)
                    .map_err(|e| (e, None))?,
            ),
            None => Some(id.to_owned()),
        },
        None => None,
    };
    let target = id.as_ref().map(|id| (endpoint.clone(), id.clone()));
    if method == WriteMethod::Post
        && op
            .get("bulkId")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return Err((
            ScimError::bad_request(
                ScimType::InvalidSyntax,
                "a POST operation needs a `bulkId` (RFC 7644 §3.7)",
            ),
            None,
        ));
    }
    let version = match op.get("version") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(v.clone()),
        Some(other) => {
            return Err((
                ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("`version` must be a string, not {other}"),
                ),
                target,
            ))
        }
    };
    let mut data = match (method, op.remove("data")) {
        (WriteMethod::Delete, _) => Value::Null,
        (_, Some(data @ Value::Object(_))) => data,
        (_, _) => {
            return Err((
                ScimError::bad_request(
                    ScimType::InvalidSyntax,
                    format!("a {} operation needs a `data` object", method.as_str()),
                ),
                target,
            ))
        }
    };
    if let Err(e) = resolve_in(&mut data, None, slots) {
        return Err((e, target));
    }
    Ok(BulkOperation {
        method,
        kind,
        endpoint,
        id,
        version: if method == WriteMethod::Post {
            None
        } else {
            version
        },
        data,
    })
}

/// The `(id, location)` a `bulkId` stands for; RFC 7644 §3.7.3: a reference that cannot be
/// resolved fails the operation with 409 `invalidValue`.
fn resolve(bulk_id: &str, slots: &HashMap<String, Slot>) -> Result<(String, String), ScimError> {
    let unresolved =
        |detail: String| ScimError::new(ErrorKind::Conflict, Some(ScimType::InvalidValue), detail);
    match slots.get(bulk_id) {
        Some(Slot::Created { id, location }) => Ok((id.clone(), location.clone())),
        Some(Slot::Later(n)) => Err(unresolved(format!(
            "bulkId `{bulk_id}` is created by operation {n}, which has not run yet: operations \
             run in the order sent"
        ))),
        Some(Slot::Failed(n)) => Err(unresolved(format!(
            "bulkId `{bulk_id}` cannot be resolved: operation {n} did not create a resource"
        ))),
        None => Err(unresolved(format!(
            "bulkId `{bulk_id}` is not the bulkId of any operation in this request"
        ))),
    }
}

/// Replaces every `bulkId:<id>` reference in the string values of `value` by the created
/// resource's id (its location in a `$ref`). A whole string `bulkId:x` is a reference; inside
/// a longer string (a PATCH path filter such as `members[value eq "bulkId:x"]`) only a quoted
/// `"bulkId:x"` is.
fn resolve_in(
    value: &mut Value,
    key: Option<&str>,
    slots: &HashMap<String, Slot>,
) -> Result<(), ScimError> {
    match value {
        Value::String(s) => {
            if let Some(reference) = s.strip_prefix(REFERENCE) {
                let (id, location) = resolve(reference, slots)?;
                *s = if key == Some("$ref") { location } else { id };
            } else if s.contains(&format!("\"{REFERENCE}")) {
                *s = resolve_quoted(s, slots)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| resolve_in(item, key, slots)),
        Value::Object(members) => members
            .iter_mut()
            .try_for_each(|(k, v)| resolve_in(v, Some(k), slots)),
        _ => Ok(()),
    }
}

/// `text` with each quoted `"bulkId:x"` replaced by `"<id>"`.
fn resolve_quoted(text: &str, slots: &HashMap<String, Slot>) -> Result<String, ScimError> {
    let opening = format!("\"{REFERENCE}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(&opening) {
        let after = &rest[start + opening.len()..];
        let Some(end) = after.find('"') else {
            break;
        };
        let (id, _) = resolve(&after[..end], slots)?;
        out.push_str(&rest[..start]);
        out.push('"');
        out.push_str(&id);
        out.push('"');
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slots() -> BulkIds {
        BulkIds(HashMap::from([
            (
                "qwerty".to_owned(),
                Slot::Created {
                    id: "u-1".to_owned(),
                    location: "https://x/scim/v2/Users/u-1".to_owned(),
                },
            ),
            ("later".to_owned(), Slot::Later(3)),
            ("broken".to_owned(), Slot::Failed(1)),
        ]))
    }

    #[test]
    fn references_resolve_in_values_refs_and_filters() {
        let mut data = json!({
            "members": [{"value": "bulkId:qwerty", "$ref": "bulkId:qwerty"}],
            "Operations": [{"op": "remove", "path": "members[value eq \"bulkId:qwerty\"]"}],
            "displayName": "not a bulkId:qwerty reference",
        });
        resolve_in(&mut data, None, &slots().0).unwrap();
        assert_eq!(data["members"][0]["value"], "u-1");
        assert_eq!(data["members"][0]["$ref"], "https://x/scim/v2/Users/u-1");
        assert_eq!(data["Operations"][0]["path"], "members[value eq \"u-1\"]");
        assert_eq!(data["displayName"], "not a bulkId:qwerty reference");
    }

    #[test]
    fn unresolvable_references_are_409_invalid_value() {
        for reference in ["later", "broken", "nowhere"] {
            let mut data = json!({"members": [{"value": format!("bulkId:{reference}")}]});
            let e = resolve_in(&mut data, None, &slots().0).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Conflict);
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        }
    }

    #[test]
    fn request_checks() {
        let op = json!({"method": "DELETE", "path": "/Users/1"});
        let e = parse_request(json!({"Operations": [op]})).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = parse_request(json!({"schemas": [BULK_REQUEST]})).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        let many = vec![op.clone(); MAX_OPERATIONS + 1];
        let e = parse_request(json!({"schemas": [BULK_REQUEST], "Operations": many})).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
        assert!(e.detail.contains("1000"));
        let e = parse_request(
            json!({"schemas": [BULK_REQUEST], "failOnErrors": 0, "Operations": [op]}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let dup = json!({"method": "POST", "path": "/Users", "bulkId": "a", "data": {}});
        let e = parse_request(json!({"schemas": [BULK_REQUEST], "Operations": [dup, dup]}))
            .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let ok = parse_request(
            json!({"schemas": [BULK_REQUEST], "failOnErrors": 2, "Operations": [op]}),
        )
        .unwrap();
        assert_eq!(ok.fail_on_errors, Some(2));
        assert_eq!(ok.operations.len(), 1);
    }

    #[test]
    fn operation_checks() {
        let s = slots();
        let bad = |op: Value| prepare(op, &s).expect_err("rejected").0;
        assert_eq!(
            bad(json!({"method": "GET", "path": "/Users/1"})).kind,
            ErrorKind::Invalid
        );
        assert_eq!(
            bad(json!({"method": "post", "path": "/Users", "data": {}})).scim_type,
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            bad(json!({"method": "POST", "path": "/Users/1", "bulkId": "b", "data": {}})).kind,
            ErrorKind::Invalid
        );
        assert_eq!(
            bad(json!({"method": "DELETE", "path": "/Roles/1"})).kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            bad(json!({"method": "PUT", "path": "/Users/1"})).kind,
            ErrorKind::Invalid
        );
        assert_eq!(
            bad(json!({"method": "DELETE", "path": "/Users/bulkId:later"})).kind,
            ErrorKind::Conflict
        );
        let ready = prepare(
            json!({"method": "patch", "path": "/Groups/bulkId:qwerty", "version": "W/\"1\"",
                   "data": {"Operations": []}}),
            &s,
        )
        .expect("accepted");
        assert_eq!(ready.method, WriteMethod::Patch);
        assert_eq!(ready.kind, ResourceKind::Group);
        assert_eq!(ready.id.as_deref(), Some("u-1"));
        assert_eq!(ready.version.as_deref(), Some("W/\"1\""));
    }
}
