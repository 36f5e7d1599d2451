//! Inbound request rates, as a tower layer after authentication: each tenant, and each token,
//! may make `server.requests_per_second_per_tenant` and `..._per_token` SCIM requests a second,
//! in bursts of twice that (the generic cell rate algorithm of `governor`). Beyond it the
//! request is answered 429 with `Retry-After` and a SCIM error (RFC 6585 §4), before any
//! platform call: an IdP that floods one tenant slows no other. Entra ID's gallery provisions
//! at up to 25 requests a second; the defaults (200 a tenant, 100 a token) keep it well inside.

use std::convert::Infallible;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{Request, StatusCode};
use tower::{Layer, Service};

use super::error::ErrorAnswer;
use super::layers::{take, TenantRequest};
use super::response::HttpResponse;
use super::HttpState;
use crate::config::RateLimits;
use crate::scim::{ErrorKind, ScimError};

type BoxFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>>;

/// How many checks between two prunings of keys no longer limited.
const PRUNE_EVERY: u64 = 10_000;

/// The limiters, by tenant and by token.
pub struct RateLimiters {
    per_tenant: Option<DefaultKeyedRateLimiter<String>>,
    per_token: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicU64,
}

fn limiter(rate: Option<NonZeroU32>) -> Option<DefaultKeyedRateLimiter<String>> {
    rate.map(|rate| {
        let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
        RateLimiter::dashmap(Quota::per_second(rate).allow_burst(burst))
    })
}

impl RateLimiters {
    /// The limiters the config asks for.
    pub fn new(limits: RateLimits) -> Self {
        RateLimiters {
            per_tenant: limiter(limits.per_tenant),
            per_token: limiter(limits.per_token),
            checks: AtomicU64::new(0),
        }
    }

    /// `Ok` when a request of `tenant` with `token` may go on now; else which limit refused
    /// it (`token` or `tenant`) and how long to wait.
    pub fn check(&self, tenant: &str, token: &str) -> Result<(), (&'static str, Duration)> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            for limiter in [&self.per_tenant, &self.per_token].into_iter().flatten() {
                limiter.retain_recent();
            }
        }
        let now = DefaultClock::default().now();
        // The token first: a token over its own rate spends nothing of its tenant's.
        if let Some(limiter) = &self.per_token {
            limiter
                .check_key(&format!("{tenant}\u{0}{token}"))
                .map_err(|not_until| ("token", not_until.wait_time_from(now)))?;
        }
        if let Some(limiter) = &self.per_tenant {
            limiter
                .check_key(&tenant.to_owned())
                .map_err(|not_until| ("tenant", not_until.wait_time_from(now)))?;
        }
        Ok(())
    }
}

/// Limits each tenant's and token's SCIM requests; see the module docs.
#[derive(Clone)]
pub struct RateLimitLayer {
    state: Arc<HttpState>,
}

impl RateLimitLayer {
    /// Limits by the state's limiters.
    pub fn new(state: Arc<HttpState>) -> Self {
        RateLimitLayer { state }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            state: self.state.clone(),
        }
    }
}

/// See [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimited<S> {
    inner: S,
    state: Arc<HttpState>,
}

impl<S, B> Service<Request<B>> for RateLimited<S>
where
    S: Service<Request<B>, Response = HttpResponse, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let refused = request
            .extensions()
            .get::<TenantRequest>()
            .and_then(|admitted| {
                self.state
                    .rate_limits
                    .check(&admitted.tenant.id, &admitted.caller.token_name)
                    .err()
                    .map(|(limit, wait)| {
                        crate::metrics::metrics().rate_limited(&admitted.tenant.id, limit);
                        wait
                    })
            });
        if let Some(wait) = refused {
            let mut answer = ErrorAnswer::from_scim(&ScimError::new(
                ErrorKind::Throttled,
                None,
                "Too many requests for this SCIM configuration; slow down.",
            ));
            answer.retry_after = Some(wait);
            debug_assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
            return Box::pin(std::future::ready(Ok(answer.scim_response())));
        }
        Box::pin(take(&mut self.inner).call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_and_a_token_are_limited_apart() {
        let limits = RateLimiters::new(RateLimits {
            per_tenant: NonZeroU32::new(10),
            per_token: NonZeroU32::new(5),
        });
        // A token's burst is twice its rate.
        for _ in 0..10 {
            assert!(limits.check("acme", "okta").is_ok());
        }
        let (limit, wait) = limits.check("acme", "okta").unwrap_err();
        assert_eq!(limit, "token");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        // Another token of the tenant, within the tenant's burst of 20.
        for _ in 0..10 {
            assert!(limits.check("acme", "entra").is_ok());
        }
        assert_eq!(
            limits.check("acme", "third").map_err(|(limit, _)| limit),
            Err("tenant"),
            "the tenant's burst is spent"
        );
        // Another tenant is not slowed.
        assert!(limits.check("beta", "okta").is_ok());
        let off = RateLimiters::new(RateLimits::default());
        for _ in 0..10_000 {
            assert!(off.check("acme", "okta").is_ok());
        }
    }
}
