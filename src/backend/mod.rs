//! The platform edge: the [`Platform`] trait the service calls, its HTTP implementation
//! ([`HttpPlatform`]), and [`PlatformError`], which says of every failed call who is at fault
//! (the IdP's request, the platform, or the gateway's own setup) and whether sending it again
//! is safe. Answers are returned as they came, for the mapping to interpret.

mod client;
mod error;

use std::future::Future;
use std::pin::Pin;

pub use client::HttpPlatform;
pub use error::{Failure, Fault, PlatformError, Retry};

use crate::mapping::{BackendRequest, BackendResponse};

/// A platform call in flight.
pub type PlatformFuture<'a> =
    Pin<Box<dyn Future<Output = Result<BackendResponse, PlatformError>> + Send + 'a>>;

/// Sends rendered requests to one platform. An answer of any status is `Ok` (the mapping reads
/// error answers too); `Err` means no answer: the platform was not reached, did not answer in
/// time, or the request could not be sent.
pub trait Platform: Send + Sync + 'static {
    /// Sends one request and reads the whole answer.
    fn send<'a>(&'a self, request: &'a BackendRequest) -> PlatformFuture<'a>;
}
