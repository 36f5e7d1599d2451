//! The one path every SCIM write takes, from a request or a `/Bulk` operation (RFC 7644 §3.3,
//! §3.5, §3.6, §3.7): parsed into a `ScimOp`, run to completion on a task of its own (a request
//! timeout or a client that hangs up stops the waiting, never a write halfway through its
//! platform calls and store updates), answered, and recorded in the audit log with the answer.

use std::sync::Arc;

use http::StatusCode;
use serde_json::Value;
use tracing::Instrument;

use super::error::ErrorAnswer;
use crate::audit::{Action, Audit, Operation, Outcome};
use crate::scim::v1::{self, is_v1_body};
use crate::scim::Dialect;
use crate::scim::{EntityTags, Projection, ResourceKind, ScimOp, WriteMethod};
use crate::service::{Gateway, Lifecycle, RequestContext, Resource, ServiceError};

/// The status a successful write answers with.
pub(super) fn success_status(method: WriteMethod) -> StatusCode {
    match method {
        WriteMethod::Post => StatusCode::CREATED,
        WriteMethod::Put | WriteMethod::Patch => StatusCode::OK,
        WriteMethod::Delete => StatusCode::NO_CONTENT,
    }
}

/// Who asks for writes, and how they want the answer.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    /// The tenant written to.
    pub tenant: String,
    /// The caller, as the audit log names it.
    pub actor: String,
    /// The tenant's SCIM base URL.
    pub base_url: String,
    /// What the answer keeps.
    pub projection: Projection,
    /// How the tenant reads its IdP's bodies.
    pub dialect: Dialect,
    /// What the tenant's creates and deletes do beyond the RFC.
    pub lifecycle: Lifecycle,
}

/// One write as requested, not yet parsed.
#[derive(Debug)]
pub(super) struct Write {
    /// The resource type written.
    pub kind: ResourceKind,
    /// What is done.
    pub method: WriteMethod,
    /// The resource's id (not for a create).
    pub id: Option<String>,
    /// The request body (null for a delete).
    pub body: Value,
    /// The versions the write is conditional on.
    pub if_match: Option<EntityTags>,
}

/// Carries out one write; the resource written (`None` for a delete), or the error answered.
pub(super) async fn write(
    gateway: &Arc<Gateway>,
    audit: &Audit,
    origin: &Origin,
    write: Write,
) -> Result<Option<Resource>, ErrorAnswer> {
    let task = {
        let (gateway, audit, origin) = (gateway.clone(), audit.clone(), origin.clone());
        async move { carry_out(&gateway, &audit, &origin, write).await }
    };
    // The platform calls it makes go into the request's log entry.
    let task = crate::requestlog::carry(task);
    match tokio::spawn(task.instrument(tracing::Span::current())).await {
        Ok(result) => result,
        Err(e) => Err(ErrorAnswer::from_service(&ServiceError::Aborted(
            e.to_string(),
        ))),
    }
}

/// [`write`], on its own task: everything from the parse to the audit entry happens whatever
/// becomes of the request.
async fn carry_out(
    gateway: &Gateway,
    audit: &Audit,
    origin: &Origin,
    write: Write,
) -> Result<Option<Resource>, ErrorAnswer> {
    // A resource type the mapping does not serve: nothing is attempted, nothing audited.
    let resources = gateway
        .resources(write.kind)
        .map_err(|e| ErrorAnswer::from_service(&e))?;
    let operation = Operation::of_method(write.method);
    let name = write
        .body
        .get(write.kind.name_attribute())
        .and_then(Value::as_str)
        .map(str::to_owned);
    // A create has no id yet: the audit log names it by the name the IdP gave it.
    let target = write.id.clone().or(name).unwrap_or_else(|| "-".to_owned());
    // Lenient: a SCIM 1.1 body sent to the 2.0 URL (admins paste whichever URL they have) is
    // read as its 2.0 form.
    let body = match (origin.dialect, write.method) {
        (Dialect::Lenient, WriteMethod::Post | WriteMethod::Put) if is_v1_body(&write.body) => Ok(
            std::borrow::Cow::Owned(v1::resource_to_v2(write.kind, &write.body)),
        ),
        (Dialect::Lenient, WriteMethod::Patch) if is_v1_body(&write.body) => {
            v1::patch_to_v2(write.kind, &write.body).map(std::borrow::Cow::Owned)
        }
        _ => Ok(std::borrow::Cow::Borrowed(&write.body)),
    };
    let parsed = body.and_then(|body| {
        ScimOp::parse_noting_ignored(
            write.method,
            write.id.as_deref(),
            &body,
            &gateway.registry,
            resources.rt,
            origin.dialect,
        )
    });
    let result = match parsed {
        Ok((op, ignored)) => {
            if !ignored.is_empty() {
                tracing::warn!(
                    tenant = %origin.tenant,
                    ignored = %ignored.join(", "),
                    "the IdP sent attributes of schemas this resource type does not have; the lenient dialect ignores them"
                );
            }
            let req = RequestContext {
                base_url: &origin.base_url,
                projection: &origin.projection,
            };
            resources
                .execute_in(&op, write.if_match.as_ref(), &req, origin.lifecycle)
                .await
                .map(|done| (done.resource, done.note))
                .map_err(|e| ErrorAnswer::from_service(&e))
        }
        Err(e) => Err(ErrorAnswer::from_scim(&e)),
    };
    let target = match &result {
        Ok((Some(resource), _)) => resource.id.clone(),
        _ => target,
    };
    let outcome = result.as_ref().map(|(_, note)| {
        (
            success_status(write.method),
            note.clone().unwrap_or_default(),
        )
    });
    record(audit, origin, write.kind, operation, &target, outcome).await;
    result.map(|(resource, _)| resource)
}

async fn record(
    audit: &Audit,
    origin: &Origin,
    kind: ResourceKind,
    operation: Operation,
    target: &str,
    outcome: Result<(StatusCode, String), &ErrorAnswer>,
) {
    let outcome = match outcome {
        Ok((status, detail)) => Outcome::success(status.as_u16(), detail),
        Err(answer) => Outcome::failure(answer.status.as_u16(), answer.detail.clone()),
    };
    let action = Action {
        tenant: &origin.tenant,
        actor: &origin.actor,
        operation,
        resource_type: kind.name(),
        target,
    };
    audit.record(action, outcome).await;
}
