//! The one place errors become HTTP answers: every layer's error is turned into a SCIM error
//! body (RFC 7644 §3.12) with its status and `scimType`. Failures that are not the IdP's are
//! logged with their cause and answered without internals.

use http::StatusCode;

use super::response::{scim_json, HttpResponse};
use crate::backend::{Failure, PlatformError};
use crate::scim::ScimError;
use crate::service::ServiceError;

pub fn service_error(err: &ServiceError) -> HttpResponse {
    scim_error(&to_scim_error(err))
}

pub fn to_scim_error(err: &ServiceError) -> ScimError {
    match err {
        ServiceError::Scim(e) => e.clone(),
        ServiceError::Platform(e) => platform_error(e),
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

/// A failed platform call as the IdP sees it: the mapping's meaning of a refusal, else a 502 or
/// 504 that names no internals (the platform's own words may hold stack traces or proxy pages:
/// they are logged, not answered).
fn platform_error(err: &PlatformError) -> ScimError {
    match &err.failure {
        Failure::Refused {
            meaning: Some(meaning),
            ..
        } => meaning.clone(),
        Failure::Timeout(_) => {
            tracing::warn!(error = %err, retry = ?err.retry, "platform timeout");
            ScimError::new(504, None, "The platform did not answer in time.")
        }
        Failure::Unreachable(cause) => {
            tracing::warn!(%cause, retry = ?err.retry, "platform unreachable");
            ScimError::new(502, None, "The platform cannot be reached.")
        }
        Failure::InvalidRequest(cause) => {
            tracing::error!(%cause, "mapping rendered an invalid platform request");
            ScimError::new(
                502,
                None,
                "The gateway could not build the platform request; see the gateway log.",
            )
        }
        Failure::Refused {
            status, message, ..
        } => {
            tracing::warn!(status, %message, fault = ?err.fault, retry = ?err.retry, "platform failed");
            ScimError::new(
                502,
                None,
                format!("The platform failed (HTTP {status}); see the gateway log."),
            )
        }
    }
}

pub fn scim_error(err: &ScimError) -> HttpResponse {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    scim_json(status, &err.to_json())
}
