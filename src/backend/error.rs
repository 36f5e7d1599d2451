//! Failed platform calls, classified once where they happen: who is at fault and whether a
//! retry is safe. The HTTP layer turns them into SCIM answers and logs both; `resilience.rs`
//! retries on [`Retry`].

use std::time::Duration;

use crate::mapping::Method;
use crate::scim::ScimError;

/// Who a failed platform call is the fault of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The IdP's request: the platform refused it for a reason the mapping attributes to the
    /// request (a name taken, a value the platform does not accept).
    Caller,
    /// The platform: not reachable, too slow, or failing (5xx).
    Platform,
    /// The gateway's own setup: its mapping rendered a request HTTP cannot carry or the
    /// platform refuses, its credential was refused, or its base URL is wrong.
    Gateway,
}

/// Whether sending the same call again is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The platform did not act on the call (it was never sent, or the platform said so with
    /// 429 or 503), or the call is idempotent: sending it again is safe.
    Safe,
    /// The platform may have acted on a call that is not idempotent (a POST or PATCH that
    /// timed out): sending it again could apply it twice.
    Unsafe,
    /// The platform refused the request itself: it would refuse it again.
    Pointless,
}

/// What went wrong.
#[derive(Debug, Clone)]
pub enum Failure {
    /// No answer within the backend's `timeout_secs`.
    Timeout(Duration),
    /// No connection, or the connection broke.
    Unreachable(String),
    /// The rendered request cannot be sent (a header value HTTP does not allow).
    InvalidRequest(String),
    /// Calls to the platform are refused for a while: it kept failing (the circuit is open).
    CircuitOpen,
    /// Every place for a call to the platform stayed taken: this one was shed.
    Overloaded,
    /// The platform answered with an error status.
    Refused {
        /// The platform's HTTP status.
        status: u16,
        /// The platform's own words, as the mapping's `error_message` reads them.
        message: String,
        /// What the answer means for the IdP's request, when the mapping's `[[errors]]` rules
        /// (or the defaults) attribute it to the request.
        meaning: Option<ScimError>,
    },
}

/// A platform call that produced no usable answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{failure}")]
pub struct PlatformError {
    /// What went wrong.
    pub failure: Failure,
    /// Whose fault it is.
    pub fault: Fault,
    /// Whether the same call may be sent again.
    pub retry: Retry,
    /// How long the platform (or the breaker) asks to wait before another try, when known.
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout(after) => write!(f, "the platform did not answer within {after:?}"),
            Failure::Unreachable(cause) => write!(f, "cannot reach the platform: {cause}"),
            Failure::InvalidRequest(cause) => write!(f, "invalid request to the platform: {cause}"),
            Failure::CircuitOpen => f.write_str("the platform keeps failing; its calls are paused"),
            Failure::Overloaded => f.write_str("too many calls to the platform in flight; shed"),
            Failure::Refused { message, .. } => f.write_str(message),
        }
    }
}

/// Safe when the call is idempotent, else unsafe: the platform may have acted on it.
fn retry_by_method(method: Method) -> Retry {
    if method.is_idempotent() {
        Retry::Safe
    } else {
        Retry::Unsafe
    }
}

impl PlatformError {
    /// No answer in time: the platform may have acted on the call.
    pub fn timeout(method: Method, after: Duration) -> PlatformError {
        PlatformError {
            failure: Failure::Timeout(after),
            fault: Fault::Platform,
            retry: retry_by_method(method),
            retry_after: None,
        }
    }

    /// No answer at all; `sent` tells whether the request left the gateway (a refused
    /// connection means it did not, so any call may be sent again).
    pub fn unreachable(method: Method, sent: bool, cause: String) -> PlatformError {
        PlatformError {
            failure: Failure::Unreachable(cause),
            fault: Fault::Platform,
            retry: if sent {
                retry_by_method(method)
            } else {
                Retry::Safe
            },
            retry_after: None,
        }
    }

    /// A request HTTP cannot carry: the mapping's fault.
    pub fn invalid_request(cause: String) -> PlatformError {
        PlatformError {
            failure: Failure::InvalidRequest(cause),
            fault: Fault::Gateway,
            retry: Retry::Pointless,
            retry_after: None,
        }
    }

    /// An error answer. With a `meaning` the mapping blames the request; otherwise a 5xx is
    /// the platform's failure and any other status the gateway's (its credential, base URL or
    /// mapping made a request the platform does not take).
    pub fn refused(
        method: Method,
        status: u16,
        message: String,
        meaning: Option<ScimError>,
    ) -> PlatformError {
        let fault = match (&meaning, status) {
            (Some(_), _) => Fault::Caller,
            // Throttled or failing: the platform's state, not the request's.
            (None, 429 | 500..=599) => Fault::Platform,
            (None, _) => Fault::Gateway,
        };
        let retry = match status {
            // The platform says it did not act: too many requests, or not available now.
            429 | 503 => Retry::Safe,
            500..=599 => retry_by_method(method),
            _ => Retry::Pointless,
        };
        PlatformError {
            failure: Failure::Refused {
                status,
                message,
                meaning,
            },
            fault,
            retry,
            retry_after: None,
        }
    }

    /// Whether the platform may have carried out the call despite the error (whatever its
    /// method): no answer after the request left, or a server error; a refusal (4xx, and 503,
    /// which says it did not act, as `refused` reads it) or a call never sent did nothing.
    pub fn may_have_acted(&self) -> bool {
        match &self.failure {
            Failure::Timeout(_) => true,
            Failure::Unreachable(_) => self.retry != Retry::Safe,
            Failure::Refused { status, .. } => *status >= 500 && *status != 503,
            Failure::InvalidRequest(_) | Failure::CircuitOpen | Failure::Overloaded => false,
        }
    }

    /// Refused at once by the breaker, to be tried again after `wait`.
    pub fn circuit_open(wait: Duration) -> PlatformError {
        PlatformError {
            failure: Failure::CircuitOpen,
            fault: Fault::Platform,
            retry: Retry::Safe,
            retry_after: Some(wait),
        }
    }

    /// Shed: every place for a call stayed taken; try again after `wait`.
    pub fn overloaded(wait: Duration) -> PlatformError {
        PlatformError {
            failure: Failure::Overloaded,
            fault: Fault::Platform,
            retry: Retry::Safe,
            retry_after: Some(wait),
        }
    }

    /// This error with the wait the platform asked for (when it asked).
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> PlatformError {
        if wait.is_some() {
            self.retry_after = wait;
        }
        self
    }

    /// What the refusal means for the IdP's request, when the mapping says.
    pub fn meaning(&self) -> Option<&ScimError> {
        match &self.failure {
            Failure::Refused { meaning, .. } => meaning.as_ref(),
            _ => None,
        }
    }

    /// Whether the platform says the object asked for does not exist (as the mapping reads
    /// its answer: a bare 404 from a proxy or a wrong base URL does not count).
    pub fn is_not_found(&self) -> bool {
        self.meaning()
            .is_some_and(|m| m.kind == crate::scim::ErrorKind::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_and_retries_follow_what_the_platform_did() {
        let timeout = PlatformError::timeout(Method::Post, Duration::from_secs(1));
        assert_eq!(
            (timeout.fault, timeout.retry),
            (Fault::Platform, Retry::Unsafe)
        );
        let timeout = PlatformError::timeout(Method::Get, Duration::from_secs(1));
        assert_eq!(timeout.retry, Retry::Safe);
        let refused = PlatformError::unreachable(Method::Patch, false, "refused".to_owned());
        assert_eq!(refused.retry, Retry::Safe);
        let broken = PlatformError::unreachable(Method::Patch, true, "reset".to_owned());
        assert_eq!(broken.retry, Retry::Unsafe);
        let busy = PlatformError::refused(Method::Post, 429, "slow down".to_owned(), None);
        assert_eq!((busy.fault, busy.retry), (Fault::Platform, Retry::Safe));
        let failing = PlatformError::refused(Method::Post, 500, "oops".to_owned(), None);
        assert_eq!(
            (failing.fault, failing.retry),
            (Fault::Platform, Retry::Unsafe)
        );
        let taken = PlatformError::refused(
            Method::Post,
            409,
            "taken".to_owned(),
            Some(ScimError::conflict_uniqueness("taken")),
        );
        assert_eq!(
            (taken.fault, taken.retry),
            (Fault::Caller, Retry::Pointless)
        );
        let credential = PlatformError::refused(Method::Get, 401, "no".to_owned(), None);
        assert_eq!(credential.fault, Fault::Gateway);
        assert!(!credential.is_not_found());
    }
}
