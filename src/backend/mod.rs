//! The platform edge: the [`Platform`] trait the service calls, its HTTP implementation
//! ([`HttpPlatform`]), and [`PlatformError`], which says of every failed call who is at fault
//! (the IdP's request, the platform, or the gateway's own setup) and whether sending it again
//! is safe; [`Resilient`] retries what is safe to retry and pauses calls to a platform that
//! keeps failing. Answers are returned as they came, for the mapping to interpret.

mod client;
mod error;
pub mod resilience;

use std::future::Future;
use std::pin::Pin;

pub use client::HttpPlatform;
pub use error::{Failure, Fault, PlatformError, Retry};
pub use resilience::{Policy, Resilient};

use serde_json::{Map, Value};

use crate::mapping::{BackendRequest, BackendResponse};

/// Whether a platform can be called now, as `/readyz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// It answered.
    Reachable,
    /// It did not answer: why.
    Unreachable(String),
    /// Its circuit breaker is open (it kept failing): calls are refused for this long.
    CircuitOpen(std::time::Duration),
}

/// A platform call in flight.
pub type PlatformFuture<'a> =
    Pin<Box<dyn Future<Output = Result<BackendResponse, PlatformError>> + Send + 'a>>;

/// Sends rendered requests to one platform. An answer of any status is `Ok` (the mapping reads
/// error answers too); `Err` means no answer: the platform was not reached, did not answer in
/// time, or the request could not be sent.
pub trait Platform: Send + Sync + 'static {
    /// Sends one request and reads the whole answer.
    fn send<'a>(&'a self, request: &'a BackendRequest) -> PlatformFuture<'a>;

    /// Whether the platform can be reached now (`/readyz`): any HTTP answer at its base URL
    /// counts; `None` for a platform that is not called over the network.
    fn reach(&self) -> Pin<Box<dyn Future<Output = Reach> + Send + '_>> {
        Box::pin(async { Reach::Reachable })
    }

    /// True for a platform that records calls instead of sending them (`scimgate explain`):
    /// the service then reports each call's condition to [`Platform::considered`], and
    /// generated secrets are `***`.
    fn explains(&self) -> bool {
        false
    }

    /// A call whose condition (`when`) the service weighed: the call's key in the mapping
    /// (`users.update[1]`), the condition, whether it held, and the values of the variables it
    /// reads. Called only when [`Platform::explains`].
    fn considered(
        &self,
        _call: &str,
        _condition: &str,
        _held: bool,
        _variables: Map<String, Value>,
    ) {
    }
}
