//! `/Bulk` (RFC 7644 §3.7): many resource operations in one request, run in the order sent,
//! each through the same `Resources` calls as its single-request form and each on its own task
//! (a timeout stops the waiting, never a write halfway). An operation's `bulkId` names the
//! resource its POST creates; later operations refer to it as `bulkId:<id>` in their path or
//! anywhere in their data. Every operation gets its own status in the BulkResponse; the
//! request as a whole answers 200 unless it cannot be read at all.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::{json, Map, Value};

use super::error::{scim_error, ErrorAnswer};
use super::response::{scim_json, HttpResponse};
use super::{detached, kind_of, Facts};
use crate::scim::{
    ErrorKind, ScimError, ScimType, BULK_REQUEST_SCHEMA as BULK_REQUEST,
    BULK_RESPONSE_SCHEMA as BULK_RESPONSE,
};
use crate::service::{Gateway, Kind};

/// Most operations in one request (advertised as `bulk.maxOperations`).
pub const MAX_OPERATIONS: usize = 1000;
/// Largest request body in bytes (advertised as `bulk.maxPayloadSize`).
pub const MAX_PAYLOAD_SIZE: usize = 1024 * 1024;

/// How data and paths refer to the resource another operation of the request creates.
const REFERENCE: &str = "bulkId:";

/// Answers `POST /Bulk`.
pub(super) async fn post<B>(
    gateway: &Arc<Gateway>,
    request: Request<B>,
    facts: Facts,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let body = match read_body(request).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let bulk = match parse_request(body) {
        Ok(b) => b,
        Err(e) => return scim_error(&e),
    };
    let results = run(gateway, &facts, bulk).await;
    scim_json(
        StatusCode::OK,
        &json!({"schemas": [BULK_RESPONSE], "Operations": results}),
    )
}

/// A BulkRequest that passed the request-wide checks.
#[derive(Debug)]
struct BulkRequest {
    /// Stop after this many failed operations; `None` runs them all.
    fail_on_errors: Option<usize>,
    operations: Vec<Value>,
}

/// The request-wide checks: schema, `Operations`, `failOnErrors`, `maxOperations` and unique
/// `bulkId`s. Anything about one operation is that operation's failure, not the request's.
fn parse_request(body: Value) -> Result<BulkRequest, ScimError> {
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

/// Runs the operations in order and answers one BulkResponse entry per operation run.
async fn run(gateway: &Arc<Gateway>, request_facts: &Facts, bulk: BulkRequest) -> Vec<Value> {
    let mut slots: HashMap<String, Slot> = HashMap::new();
    for (index, op) in bulk.operations.iter().enumerate() {
        if let Some(bulk_id) = op.get("bulkId").and_then(Value::as_str) {
            slots.insert(bulk_id.to_owned(), Slot::Later(index + 1));
        }
    }
    let mut results = Vec::with_capacity(bulk.operations.len());
    let mut errors = 0;
    for (index, op) in bulk.operations.into_iter().enumerate() {
        let bulk_id = op.get("bulkId").and_then(Value::as_str).map(str::to_owned);
        let outcome = run_one(gateway, request_facts, op, &slots).await;
        if let Some(bulk_id) = bulk_id {
            let slot = match &outcome.created {
                Some((id, location)) => Slot::Created {
                    id: id.clone(),
                    location: location.clone(),
                },
                None => Slot::Failed(index + 1),
            };
            slots.insert(bulk_id, slot);
        }
        if outcome.failed {
            errors += 1;
        }
        results.push(outcome.entry);
        if bulk.fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
    }
    results
}

/// One operation's BulkResponse entry, and the resource it created.
struct Outcome {
    entry: Value,
    failed: bool,
    /// `(id, location)` of the resource a successful POST created.
    created: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    fn parse(s: &str) -> Option<Verb> {
        match s.to_ascii_uppercase().as_str() {
            "POST" => Some(Verb::Post),
            "PUT" => Some(Verb::Put),
            "PATCH" => Some(Verb::Patch),
            "DELETE" => Some(Verb::Delete),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
}

/// A checked operation, references resolved, ready to run.
#[derive(Debug)]
struct Ready {
    verb: Verb,
    kind: Kind,
    endpoint: String,
    /// The resource id (PUT, PATCH, DELETE).
    id: Option<String>,
    version: Option<String>,
    data: Value,
}

async fn run_one(
    gateway: &Arc<Gateway>,
    request_facts: &Facts,
    op: Value,
    slots: &HashMap<String, Slot>,
) -> Outcome {
    let base_url = request_facts.base_url.as_str();
    let method_text = op
        .get("method")
        .and_then(Value::as_str)
        .map(|m| Verb::parse(m).map_or_else(|| m.to_owned(), |v| v.as_str().to_owned()));
    let bulk_id = op.get("bulkId").and_then(Value::as_str).map(str::to_owned);
    let mut entry = Map::new();
    if let Some(m) = &method_text {
        entry.insert("method".to_owned(), Value::String(m.clone()));
    }
    if let Some(b) = &bulk_id {
        entry.insert("bulkId".to_owned(), Value::String(b.clone()));
    }
    let ready = match prepare(op, slots) {
        Ok(r) => r,
        Err((e, location)) => {
            let location = location.map(|(endpoint, id)| format!("{base_url}/{endpoint}/{id}"));
            return failure(entry, location, &ErrorAnswer::from_scim(&e));
        }
    };
    let location = ready
        .id
        .as_ref()
        .map(|id| format!("{base_url}/{}/{id}", ready.endpoint));
    let facts = Facts {
        base_url: base_url.to_owned(),
        if_match: ready.version.clone(),
        include_members: true,
        actor: request_facts.actor.clone(),
    };
    let (kind, id, data) = (ready.kind, ready.id.clone().unwrap_or_default(), ready.data);
    let result = match ready.verb {
        Verb::Post => {
            detached(gateway, &facts, move |gw, facts| async move {
                gw.resources(kind)?
                    .create(&data, &facts.context())
                    .await
                    .map(Some)
            })
            .await
        }
        Verb::Put => {
            detached(gateway, &facts, move |gw, facts| async move {
                gw.resources(kind)?
                    .replace(&id, &data, &facts.context())
                    .await
                    .map(Some)
            })
            .await
        }
        Verb::Patch => {
            detached(gateway, &facts, move |gw, facts| async move {
                gw.resources(kind)?
                    .patch(&id, &data, &facts.context())
                    .await
                    .map(Some)
            })
            .await
        }
        Verb::Delete => {
            detached(gateway, &facts, move |gw, facts| async move {
                gw.resources(kind)?
                    .delete(&id, &facts.context())
                    .await
                    .map(|()| None)
            })
            .await
        }
    };
    match result {
        Err(e) => failure(entry, location, &ErrorAnswer::from_service(&e)),
        Ok(resource) => {
            let status = match ready.verb {
                Verb::Post => 201,
                Verb::Delete => 204,
                Verb::Put | Verb::Patch => 200,
            };
            let mut created = None;
            let location = match &resource {
                Some(r) => {
                    let location = r
                        .json
                        .pointer("/meta/location")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("{base_url}/{}/{}", ready.endpoint, r.id));
                    if ready.verb == Verb::Post {
                        created = Some((r.id.clone(), location.clone()));
                    }
                    entry.insert("version".to_owned(), Value::String(r.version.clone()));
                    Some(location)
                }
                None => location,
            };
            if let Some(l) = location {
                entry.insert("location".to_owned(), Value::String(l));
            }
            entry.insert("status".to_owned(), Value::String(status.to_string()));
            Outcome {
                entry: Value::Object(entry),
                failed: false,
                created,
            }
        }
    }
}

/// A failed operation's entry: its status and the SCIM error body as `response`
/// (RFC 7644 §3.7.3); `location` for all but a failed POST.
fn failure(mut entry: Map<String, Value>, location: Option<String>, e: &ErrorAnswer) -> Outcome {
    if let Some(l) = location {
        entry.insert("location".to_owned(), Value::String(l));
    }
    entry.insert(
        "status".to_owned(),
        Value::String(e.status.as_u16().to_string()),
    );
    entry.insert("response".to_owned(), e.scim_body());
    Outcome {
        entry: Value::Object(entry),
        failed: true,
        created: None,
    }
}

/// The location an error entry can still name: `(endpoint, id)` once the path is understood.
type Target = Option<(String, String)>;

/// Checks one operation and resolves its `bulkId` references.
fn prepare(op: Value, slots: &HashMap<String, Slot>) -> Result<Ready, (ScimError, Target)> {
    let invalid = |detail: String| (ScimError::bad_request(ScimType::InvalidValue, detail), None);
    let Value::Object(mut op) = op else {
        return Err(invalid("an operation is a JSON object".to_owned()));
    };
    let verb = match op.get("method") {
        Some(Value::String(m)) => Verb::parse(m).ok_or_else(|| {
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
    let (endpoint, id) = match (verb, segments.as_slice()) {
        (Verb::Post, [endpoint]) => (*endpoint, None),
        (Verb::Post, _) => {
            return Err(invalid(format!(
                "a POST's path names a resource endpoint such as /Users, not `{path}`"
            )))
        }
        (_, [endpoint, id]) => (*endpoint, Some(*id)),
        (_, _) => {
            return Err(invalid(format!(
                "a {}'s path names one resource such as /Users/{{id}}, not `{path}`",
                verb.as_str()
            )))
        }
    };
    let Some(kind) = kind_of(endpoint) else {
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
    if verb == Verb::Post
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
    let mut data = match (verb, op.remove("data")) {
        (Verb::Delete, _) => Value::Null,
        (_, Some(data @ Value::Object(_))) => data,
        (_, _) => {
            return Err((
                ScimError::bad_request(
                    ScimType::InvalidSyntax,
                    format!("a {} operation needs a `data` object", verb.as_str()),
                ),
                target,
            ))
        }
    };
    if let Err(e) = resolve_in(&mut data, None, slots) {
        return Err((e, target));
    }
    Ok(Ready {
        verb,
        kind,
        endpoint,
        id,
        version: if verb == Verb::Post { None } else { version },
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

/// Reads the request body as JSON within `maxPayloadSize` (RFC 7644 §3.7.4: a larger body is
/// answered 413 naming the limit).
async fn read_body<B>(request: Request<B>) -> Result<Value, HttpResponse>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    super::read_json_within(request, MAX_PAYLOAD_SIZE, || {
        format!("The size of the bulk request exceeds maxPayloadSize ({MAX_PAYLOAD_SIZE} bytes).")
    })
    .await
    .map_err(|e| e.scim_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots() -> HashMap<String, Slot> {
        HashMap::from([
            (
                "qwerty".to_owned(),
                Slot::Created {
                    id: "u-1".to_owned(),
                    location: "https://x/scim/v2/Users/u-1".to_owned(),
                },
            ),
            ("later".to_owned(), Slot::Later(3)),
            ("broken".to_owned(), Slot::Failed(1)),
        ])
    }

    #[test]
    fn references_resolve_in_values_refs_and_filters() {
        let mut data = json!({
            "members": [{"value": "bulkId:qwerty", "$ref": "bulkId:qwerty"}],
            "Operations": [{"op": "remove", "path": "members[value eq \"bulkId:qwerty\"]"}],
            "displayName": "not a bulkId:qwerty reference",
        });
        resolve_in(&mut data, None, &slots()).unwrap();
        assert_eq!(data["members"][0]["value"], "u-1");
        assert_eq!(data["members"][0]["$ref"], "https://x/scim/v2/Users/u-1");
        assert_eq!(data["Operations"][0]["path"], "members[value eq \"u-1\"]");
        assert_eq!(data["displayName"], "not a bulkId:qwerty reference");
    }

    #[test]
    fn unresolvable_references_are_409_invalid_value() {
        for reference in ["later", "broken", "nowhere"] {
            let mut data = json!({"members": [{"value": format!("bulkId:{reference}")}]});
            let e = resolve_in(&mut data, None, &slots()).unwrap_err();
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
        assert_eq!(ready.verb, Verb::Patch);
        assert_eq!(ready.kind, Kind::Group);
        assert_eq!(ready.id.as_deref(), Some("u-1"));
        assert_eq!(ready.version.as_deref(), Some("W/\"1\""));
    }
}
