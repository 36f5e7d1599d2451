//! The one place errors become HTTP answers: every layer's error is classified here into an
//! [`ErrorAnswer`] (a status, the optional `scimType` and a detail), which is sent as a SCIM
//! error body (RFC 7644 §3.12) or, on the admin API, as `{"status", "error"}`. Failures that
//! are not the caller's are logged with their cause and answered without internals.

use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

use super::response::{json_response, scim_json, HttpResponse};
use crate::admin::AdminError;
use crate::backend::{Failure, PlatformError};
use crate::scim::{ErrorKind, ScimError, ScimType, ERROR_SCHEMA};
use crate::service::ServiceError;
use crate::store::StoreError;

/// An error as it is answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorAnswer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The SCIM `scimType`, when one applies.
    pub scim_type: Option<ScimType>,
    /// What went wrong, for the caller.
    pub detail: String,
    /// How long the caller should wait before trying again (`Retry-After`), when known.
    pub retry_after: Option<std::time::Duration>,
}

/// The status of each kind of SCIM error (RFC 7644 §3.12, Table 8).
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
    }
}

impl ErrorAnswer {
    /// An answer the HTTP layer makes itself (401, 405, 415, a timeout).
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ErrorAnswer {
        ErrorAnswer {
            status,
            scim_type: None,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// A protocol error as answered.
    pub fn from_scim(err: &ScimError) -> ErrorAnswer {
        ErrorAnswer {
            status: status_of(err.kind),
            scim_type: err.scim_type,
            detail: err.detail.clone(),
            retry_after: None,
        }
    }

    /// A failed operation as answered: the caller's mistakes as they are, everything else
    /// logged and answered without internals.
    pub fn from_service(err: &ServiceError) -> ErrorAnswer {
        match err {
            ServiceError::Scim(e) => ErrorAnswer::from_scim(e),
            ServiceError::Platform(e) => platform_error(e),
            ServiceError::Mapping(cause) => {
                tracing::error!(%cause, "platform answer does not fit the mapping");
                ErrorAnswer::new(
                    StatusCode::BAD_GATEWAY,
                    "The platform's answer does not fit the gateway's mapping; see the gateway log.",
                )
            }
            ServiceError::Shared(shared) => ErrorAnswer::from_service(shared),
            ServiceError::Aborted(cause) => {
                tracing::error!(%cause, "operation aborted");
                internal()
            }
            ServiceError::Store(e) => ErrorAnswer::from_store(e),
            ServiceError::NotSent { fields } => {
                tracing::error!(fields = %fields.join(", "), "a change the IdP asked for was sent by no call of the mapping");
                ErrorAnswer::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "The gateway's mapping has no call that changes {} on the platform: that change did not happen.",
                        fields.join(", ")
                    ),
                )
            }
            ServiceError::MembersFailed { failures } => {
                let answers: Vec<(String, ErrorAnswer)> = failures
                    .iter()
                    .map(|f| {
                        let verb = if f.joined { "adding" } else { "removing" };
                        (
                            format!("{verb} {}", f.member),
                            ErrorAnswer::from_service(&f.cause),
                        )
                    })
                    .collect();
                let listed: Vec<String> = answers
                    .iter()
                    .map(|(what, answer)| format!("{what} ({})", answer.detail))
                    .collect();
                let first = answers.into_iter().next().map(|(_, a)| a);
                // The group is there; a member the platform does not know is a bad value in
                // the request, never a 404 an IdP could take for the group being gone.
                let (status, scim_type) = match first {
                    Some(a) if a.status == StatusCode::NOT_FOUND => {
                        (StatusCode::BAD_REQUEST, Some(ScimType::InvalidValue))
                    }
                    Some(a) => (a.status, a.scim_type),
                    None => (StatusCode::BAD_GATEWAY, None),
                };
                ErrorAnswer {
                    status,
                    scim_type,
                    detail: format!(
                        "Membership changed only in part: {} failed; every other member's change was made.",
                        listed.join("; ")
                    ),
                    retry_after: None,
                }
            }
            ServiceError::MembersNotSet { created, cause } => {
                // The group exists now: say so, so the IdP can find it instead of retrying a
                // create that would clash.
                let cause = ErrorAnswer::from_service(cause);
                ErrorAnswer {
                    detail: format!(
                        "{created} was created, but its members could not be set: {}",
                        cause.detail
                    ),
                    ..cause
                }
            }
        }
    }

    /// A store that failed: a tenant deleted under a running request is worth a retry
    /// elsewhere; anything else is the gateway's problem.
    pub fn from_store(err: &StoreError) -> ErrorAnswer {
        match err {
            StoreError::TenantGone(tenant) => {
                tracing::warn!(%tenant, "a request ran while its tenant was deleted");
                ErrorAnswer::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "This SCIM configuration was deleted while the request ran.",
                )
            }
            cause => {
                tracing::error!(%cause, "identity store failure");
                internal()
            }
        }
    }

    /// An admin action that was not carried out.
    pub fn from_admin(err: &AdminError) -> ErrorAnswer {
        match err {
            AdminError::NotFound(m) => ErrorAnswer::new(StatusCode::NOT_FOUND, m.clone()),
            AdminError::Invalid(m) => ErrorAnswer::new(StatusCode::BAD_REQUEST, m.clone()),
            AdminError::Conflict(m) => ErrorAnswer::new(StatusCode::CONFLICT, m.clone()),
            AdminError::BackendMissing(m) => {
                ErrorAnswer::new(StatusCode::SERVICE_UNAVAILABLE, m.clone())
            }
            AdminError::Store(e) => ErrorAnswer::from_store(e),
        }
    }

    /// The RFC 7644 §3.12 body. `status` is a string because the RFC defines it as one, and
    /// some clients (Entra) reject a number.
    pub fn scim_body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".to_owned(), Value::String(t.as_str().to_owned()));
        }
        if let Some(obj) = body.as_object_mut() {
            obj.insert("detail".to_owned(), Value::String(self.detail.clone()));
        }
        body
    }

    /// The answer in SCIM form (`application/scim+json`).
    pub fn scim_response(&self) -> HttpResponse {
        let mut response = scim_json(self.status, &self.scim_body());
        self.add_challenge(&mut response, "Bearer realm=\"scimgate\"");
        self.add_retry_after(&mut response);
        response
    }

    /// `Retry-After` in whole seconds (at least 1), when the wait is known (RFC 9110 §10.2.3).
    fn add_retry_after(&self, response: &mut HttpResponse) {
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
    }

    /// The answer in SCIM 1.1's form: `{"Errors": [{"description", "code"}]}` (1.1 §3.9).
    pub fn scim1_response(&self) -> HttpResponse {
        let body = crate::scim::v1::answer_to_v1(self.status.as_u16(), &self.scim_body());
        let mut response = json_response(self.status, &body);
        self.add_challenge(&mut response, "Bearer realm=\"scimgate\"");
        self.add_retry_after(&mut response);
        response
    }

    /// The answer in the admin API's form: `{"status": 404, "error": "..."}`.
    pub fn admin_response(&self) -> HttpResponse {
        let mut response = json_response(
            self.status,
            &json!({"status": self.status.as_u16(), "error": self.detail}),
        );
        self.add_challenge(&mut response, "Bearer realm=\"scimgate-admin\"");
        response
    }

    /// A 401 names the scheme to authenticate with (RFC 6750 §3).
    fn add_challenge(&self, response: &mut HttpResponse, challenge: &'static str) {
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
    }
}

fn internal() -> ErrorAnswer {
    ErrorAnswer::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal error; see the gateway log.",
    )
}

/// A failed platform call as the IdP sees it: the mapping's meaning of a refusal, else a 502 or
/// 504 that names no internals (the platform's own words may hold stack traces or proxy pages:
/// they are logged, not answered).
fn platform_error(err: &PlatformError) -> ErrorAnswer {
    let answer = match &err.failure {
        Failure::Refused {
            meaning: Some(meaning),
            ..
        } => ErrorAnswer::from_scim(meaning),
        Failure::Timeout(_) => {
            tracing::warn!(error = %err, retry = ?err.retry, "platform timeout");
            ErrorAnswer::new(
                StatusCode::GATEWAY_TIMEOUT,
                "The platform did not answer in time.",
            )
        }
        Failure::Unreachable(cause) => {
            tracing::warn!(%cause, retry = ?err.retry, "platform unreachable");
            ErrorAnswer::new(StatusCode::BAD_GATEWAY, "The platform cannot be reached.")
        }
        Failure::Overloaded => ErrorAnswer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The gateway has too many calls waiting on the platform; try again shortly.",
        ),
        Failure::CircuitOpen => ErrorAnswer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The platform kept failing; the gateway pauses its calls for a moment. Try again later.",
        ),
        Failure::InvalidRequest(cause) => {
            tracing::error!(%cause, "mapping rendered an invalid platform request");
            ErrorAnswer::new(
                StatusCode::BAD_GATEWAY,
                "The gateway could not build the platform request; see the gateway log.",
            )
        }
        // The platform throttles the gateway: the IdP is asked to slow down, by as much as
        // the platform asked.
        Failure::Refused { status: 429, .. } => ErrorAnswer::from_scim(&ScimError::new(
            ErrorKind::Throttled,
            None,
            "The platform is throttling requests; try again later.",
        )),
        Failure::Refused { status: 503, .. } => ErrorAnswer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The platform is not available right now; try again later.",
        ),
        Failure::Refused {
            status, message, ..
        } => {
            tracing::warn!(status, %message, fault = ?err.fault, retry = ?err.retry, "platform failed");
            ErrorAnswer::new(
                StatusCode::BAD_GATEWAY,
                format!("The platform failed (HTTP {status}); see the gateway log."),
            )
        }
    };
    ErrorAnswer {
        retry_after: err.retry_after,
        ..answer
    }
}

/// A SCIM error answer.
pub fn scim_error(err: &ScimError) -> HttpResponse {
    ErrorAnswer::from_scim(err).scim_response()
}

/// A failed operation's SCIM answer.
pub fn service_error(err: &ServiceError) -> HttpResponse {
    ErrorAnswer::from_service(err).scim_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mapping::Method;

    #[test]
    fn bodies_have_a_string_status_and_the_type() {
        let answer =
            ErrorAnswer::from_scim(&ScimError::bad_request(ScimType::InvalidFilter, "bad"));
        assert_eq!(
            answer.scim_body(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "bad"
            })
        );
        let body = ErrorAnswer::from_scim(&ScimError::not_found("none")).scim_body();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
    }

    #[test]
    fn every_kind_has_its_status() {
        let kinds = [
            (ErrorKind::Invalid, 400),
            (ErrorKind::Forbidden, 403),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::PreconditionFailed, 412),
            (ErrorKind::TooLarge, 413),
            (ErrorKind::NotImplemented, 501),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::Throttled, 429),
        ];
        for (kind, status) in kinds {
            assert_eq!(status_of(kind).as_u16(), status, "{kind:?}");
        }
        // A mapping's scim_status means what it says: its kind answers that very status.
        for (status, kind) in crate::mapping::compile::SCIM_STATUSES {
            assert_eq!(status_of(kind).as_u16(), status, "{kind:?}");
        }
    }

    #[test]
    fn platform_failures_name_no_internals() {
        let timeout =
            ServiceError::Platform(PlatformError::timeout(Method::Get, Duration::from_secs(3)));
        assert_eq!(
            ErrorAnswer::from_service(&timeout).status,
            StatusCode::GATEWAY_TIMEOUT
        );
        let failed = ServiceError::Platform(PlatformError::refused(
            Method::Post,
            500,
            "at db.go:12: SELECT * FROM users".to_owned(),
            None,
        ));
        let answer = ErrorAnswer::from_service(&failed);
        assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
        assert!(!answer.detail.contains("SELECT"), "{}", answer.detail);
        let taken = ServiceError::Platform(PlatformError::refused(
            Method::Post,
            409,
            "taken".to_owned(),
            Some(ScimError::conflict_uniqueness("Coder answered 409: taken")),
        ));
        let answer = ErrorAnswer::from_service(&taken);
        assert_eq!(
            (answer.status, answer.scim_type),
            (StatusCode::CONFLICT, Some(ScimType::Uniqueness))
        );
    }

    #[test]
    fn a_partly_made_group_says_it_exists() {
        let err = ServiceError::MembersNotSet {
            created: "Group 9".to_owned(),
            cause: Box::new(ServiceError::Scim(ScimError::bad_request(
                ScimType::InvalidValue,
                "no such user",
            ))),
        };
        let answer = ErrorAnswer::from_service(&err);
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            answer.detail,
            "Group 9 was created, but its members could not be set: no such user"
        );
    }

    #[test]
    fn unauthorized_answers_name_the_scheme() {
        let answer = ErrorAnswer::new(StatusCode::UNAUTHORIZED, "no token");
        let scim = answer.scim_response();
        assert_eq!(
            scim.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"scimgate\""
        );
        let admin = answer.admin_response();
        assert_eq!(
            admin.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"scimgate-admin\""
        );
    }
}
