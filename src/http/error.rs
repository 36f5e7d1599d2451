//! The one place errors become HTTP answers: every layer's error is turned into a SCIM error
//! body (RFC 7644 §3.12) with its status and `scimType`. Failures that are not the IdP's are
//! logged with their cause and answered without internals.

use http::StatusCode;

use super::response::{scim_json, HttpResponse};
use crate::backend::BackendError;
use crate::scim::ScimError;
use crate::service::ServiceError;

pub fn service_error(err: &ServiceError) -> HttpResponse {
    scim_error(&to_scim_error(err))
}

pub fn to_scim_error(err: &ServiceError) -> ScimError {
    match err {
        ServiceError::Scim(e) => e.clone(),
        ServiceError::Backend(BackendError::Timeout(_)) => {
            tracing::warn!(error = %err, "platform timeout");
            ScimError::new(504, None, "The platform did not answer in time.")
        }
        ServiceError::Backend(BackendError::Unreachable(cause)) => {
            tracing::warn!(%cause, "platform unreachable");
            ScimError::new(502, None, "The platform cannot be reached.")
        }
        ServiceError::Backend(BackendError::InvalidRequest(cause)) => {
            tracing::error!(%cause, "mapping rendered an invalid platform request");
            ScimError::new(
                502,
                None,
                "The gateway could not build the platform request; see the gateway log.",
            )
        }
        ServiceError::PlatformFailed { status, message } => {
            // The platform's own words may hold internals (stack traces, proxy pages): logged,
            // not answered.
            tracing::warn!(status, %message, "platform failed");
            ScimError::new(
                502,
                None,
                format!("The platform failed (HTTP {status}); see the gateway log."),
            )
        }
        ServiceError::Mapping(cause) => {
            tracing::error!(%cause, "platform answer does not fit the mapping");
            ScimError::new(
                502,
                None,
                "The platform's answer does not fit the gateway's mapping; see the gateway log.",
            )
        }
        ServiceError::Aborted(cause) => {
            tracing::error!(%cause, "operation aborted");
            ScimError::new(500, None, "Internal error; see the gateway log.")
        }
        ServiceError::Store(crate::store::StoreError::TenantGone(tenant)) => {
            tracing::warn!(%tenant, "a request ran while its tenant was deleted");
            ScimError::new(
                503,
                None,
                "This SCIM configuration was deleted while the request ran.",
            )
        }
        ServiceError::Store(cause) => {
            tracing::error!(%cause, "identity store failure");
            ScimError::new(500, None, "Internal error; see the gateway log.")
        }
    }
}

pub fn scim_error(err: &ScimError) -> HttpResponse {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    scim_json(status, &err.to_json())
}
