//! `POST /Bulk` (RFC 7644 §3.7): many operations in one request, run in the order sent, each
//! through the same write path as its single-request form (`write.rs`: parsed into a
//! `ScimOp`, run on a task of its own, audited). An operation's `bulkId` names what its POST
//! creates; later operations refer to it as `bulkId:<id>` (`scim::bulk` resolves them). Every
//! operation gets its own status in the BulkResponse; the request as a whole answers 200
//! unless it cannot be read at all.

use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::{json, Map, Value};

use super::error::{scim_error, ErrorAnswer};
use super::extract::json_body;
use super::layers::TenantRequest;
use super::response::{scim_json, HttpResponse};
use super::write::{success_status, write, Origin, Write};
use super::HttpState;
use crate::scim::bulk::{parse_request, prepare, BulkIds};
use crate::scim::{EntityTags, Projection, WriteMethod, BULK_RESPONSE_SCHEMA};
use crate::service::Lifecycle;

/// Answers `POST /Bulk`.
pub(super) async fn post<B>(
    state: &HttpState,
    admitted: &TenantRequest,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let body = match json_body(request).await {
        Ok(body) => body,
        Err(answer) => return answer.scim_response(),
    };
    let bulk = match parse_request(body) {
        Ok(bulk) => bulk,
        Err(e) => return scim_error(&e),
    };
    // BulkResponse entries carry no resource: nothing to project.
    let origin = Origin {
        tenant: admitted.tenant.id.clone(),
        actor: admitted.actor(),
        base_url: admitted.base_url.clone(),
        projection: Projection::default(),
        dialect: admitted.tenant.dialect,
        lifecycle: Lifecycle {
            deprovision: admitted.tenant.deprovision,
            reactivate: admitted.tenant.reactivate,
        },
    };
    let mut ids = BulkIds::new(&bulk);
    let mut results = Vec::with_capacity(bulk.operations.len());
    let mut errors = 0;
    for (index, op) in bulk.operations.into_iter().enumerate() {
        let bulk_id = op.get("bulkId").and_then(Value::as_str).map(str::to_owned);
        let outcome = run_one(state, admitted, &origin, op, &ids).await;
        if let Some(bulk_id) = bulk_id {
            match &outcome.created {
                Some((id, location)) => ids.created(bulk_id, id.clone(), location.clone()),
                None => ids.failed(bulk_id, index + 1),
            }
        }
        if outcome.failed {
            errors += 1;
        }
        results.push(outcome.entry);
        if bulk.fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
    }
    scim_json(
        StatusCode::OK,
        &json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": results}),
    )
}

/// One operation's BulkResponse entry, and the resource it created.
struct Outcome {
    entry: Value,
    failed: bool,
    /// `(id, location)` of the resource a successful POST created.
    created: Option<(String, String)>,
}

async fn run_one(
    state: &HttpState,
    admitted: &TenantRequest,
    origin: &Origin,
    op: Value,
    ids: &BulkIds,
) -> Outcome {
    let base_url = origin.base_url.as_str();
    let method_text = op
        .get("method")
        .and_then(Value::as_str)
        .map(|m| WriteMethod::parse(m).map_or_else(|| m.to_owned(), |v| v.as_str().to_owned()));
    let bulk_id = op.get("bulkId").and_then(Value::as_str).map(str::to_owned);
    let mut entry = Map::new();
    if let Some(m) = &method_text {
        entry.insert("method".to_owned(), Value::String(m.clone()));
    }
    if let Some(b) = &bulk_id {
        entry.insert("bulkId".to_owned(), Value::String(b.clone()));
    }
    let ready = match prepare(op, ids) {
        Ok(ready) => ready,
        Err((e, location)) => {
            let location = location.map(|(endpoint, id)| format!("{base_url}/{endpoint}/{id}"));
            return failure(entry, location, &ErrorAnswer::from_scim(&e));
        }
    };
    let location = ready
        .id
        .as_ref()
        .map(|id| format!("{base_url}/{}/{id}", ready.endpoint));
    let written = write(
        &admitted.gateway,
        &state.audit,
        origin,
        Write {
            kind: ready.kind,
            method: ready.method,
            id: ready.id,
            body: ready.data,
            if_match: ready.version.as_deref().map(EntityTags::parse),
        },
    )
    .await;
    let resource = match written {
        Ok(resource) => resource,
        Err(answer) => return failure(entry, location, &answer),
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
            if ready.method == WriteMethod::Post {
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
    entry.insert(
        "status".to_owned(),
        Value::String(success_status(ready.method).as_u16().to_string()),
    );
    Outcome {
        entry: Value::Object(entry),
        failed: false,
        created,
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
