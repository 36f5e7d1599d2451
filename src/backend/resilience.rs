//! Platform calls that survive a platform's bad moments, as a [`Platform`] around another:
//!
//! - **Retries** with exponential backoff and full jitter, only where sending again is safe
//!   ([`Retry::Safe`]): a call never sent (connection refused), an idempotent call (GET, PUT,
//!   DELETE) that timed out or failed with 502/503/504, and any call the platform said it did
//!   not act on (429, 503).
//! - **`Retry-After`** (seconds or an HTTP date) and **`RateLimit-Reset`** (seconds, or a Unix
//!   time as GitLab sends it) are honoured: the retry waits as long as the platform asks, when
//!   that fits [`Policy::max_wait`]; otherwise the answer goes back, and the wait with it, for
//!   the IdP's `Retry-After`.
//! - **A circuit breaker** per backend: after [`Policy::breaker_threshold`] failures in a row
//!   (no answer, or a 5xx) calls fail at once for [`Policy::breaker_cooldown`], answered 503 with
//!   `Retry-After`, instead of piling up on a platform that is down; then one call is let
//!   through, and its success closes the breaker again. Throttling (429) is not a failure.
//! - **A cap on calls in flight** per backend ([`Policy::max_in_flight`]): a call waits for a
//!   free place at most [`Policy::queue_wait`], then is shed (503 with `Retry-After`) rather
//!   than queued without bound behind a platform that slowed down.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::{Fault, Platform, PlatformError, PlatformFuture, Reach, Retry};
use crate::mapping::{BackendRequest, BackendResponse};

/// How hard to try.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// The first backoff; each next one doubles, up to `max_backoff`, and a random part of it
    /// is waited (full jitter).
    pub backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest the platform's `Retry-After` is waited for before trying again.
    pub max_wait: Duration,
    /// Failures in a row that open the breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker refuses calls.
    pub breaker_cooldown: Duration,
    /// The most time one call spends in retries: no retry starts past it (a request's own
    /// time limit stays the bound of the whole).
    pub budget: Duration,
    /// Calls to the platform in flight at once.
    pub max_in_flight: usize,
    /// How long a call waits for a place before it is shed.
    pub queue_wait: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            attempts: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_wait: Duration::from_secs(5),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(10),
            budget: Duration::from_secs(15),
            max_in_flight: 64,
            queue_wait: Duration::from_secs(2),
        }
    }
}

#[derive(Debug)]
enum Breaker {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial call went out at `since`; others are refused until it ends, or until a
    /// cooldown has passed (a trial whose request was cancelled never ends).
    HalfOpen {
        since: Instant,
    },
}

/// A platform whose calls are retried and guarded by a breaker.
pub struct Resilient {
    inner: Arc<dyn Platform>,
    policy: Policy,
    breaker: Mutex<Breaker>,
    places: tokio::sync::Semaphore,
    /// The backend's name in the config, for the metrics.
    backend: String,
}

impl Resilient {
    /// `inner` with `policy`.
    pub fn new(inner: Arc<dyn Platform>, policy: Policy) -> Self {
        Resilient {
            inner,
            places: tokio::sync::Semaphore::new(policy.max_in_flight.max(1)),
            policy,
            breaker: Mutex::new(Breaker::Closed { failures: 0 }),
            backend: "default".to_owned(),
        }
    }

    /// The same platform, its metrics labelled with the backend's name in the config.
    pub fn named(mut self, backend: &str) -> Resilient {
        backend.clone_into(&mut self.backend);
        self
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        match self.breaker.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Whether a call may go out now (`Ok(true)`: as the breaker's trial); the wait left
    /// when not.
    fn admit(&self) -> Result<bool, Duration> {
        let mut breaker = self.breaker();
        let now = Instant::now();
        match *breaker {
            Breaker::Closed { .. } => Ok(false),
            Breaker::Open { until } if now < until => Err(until - now),
            Breaker::Open { .. } => {
                *breaker = Breaker::HalfOpen { since: now };
                Ok(true)
            }
            // A trial still out; one lost without a word (never expected: see `Trial`) is
            // replaced after a cooldown.
            Breaker::HalfOpen { since } if since.elapsed() < self.policy.breaker_cooldown => {
                Err(Duration::from_secs(1))
            }
            Breaker::HalfOpen { .. } => {
                *breaker = Breaker::HalfOpen { since: now };
                Ok(true)
            }
        }
    }

    /// A call's final result, noted once: the platform's own failures count (no answer, a
    /// 5xx), never the IdP's or the gateway's (a refused request, a header HTTP cannot carry).
    fn note(&self, result: &Result<BackendResponse, PlatformError>) {
        let failed = match result {
            Ok(response) => (500..=599).contains(&response.status),
            Err(e) => e.fault == Fault::Platform,
        };
        if failed {
            self.failed();
        } else {
            self.succeeded();
        }
    }

    fn succeeded(&self) {
        *self.breaker() = Breaker::Closed { failures: 0 };
    }

    fn failed(&self) {
        let mut breaker = self.breaker();
        let failures = match *breaker {
            Breaker::Closed { failures } => failures + 1,
            // The trial failed: open again at once.
            Breaker::HalfOpen { .. } | Breaker::Open { .. } => self.policy.breaker_threshold,
        };
        *breaker = if failures >= self.policy.breaker_threshold {
            tracing::warn!(
                cooldown_secs = self.policy.breaker_cooldown.as_secs(),
                "the platform keeps failing: its calls are refused for a while (circuit open)"
            );
            Breaker::Open {
                until: Instant::now() + self.policy.breaker_cooldown,
            }
        } else {
            Breaker::Closed { failures }
        };
    }

    /// Whether an attempt's result may be tried again, and the wait the platform asked for.
    fn again(
        request: &BackendRequest,
        result: &Result<BackendResponse, PlatformError>,
    ) -> (bool, Option<Duration>) {
        match result {
            Ok(response) => {
                let idempotent = request.method.is_idempotent();
                let asked = wait_asked(response);
                // 429: the platform did not act. A 503 says so only with a Retry-After (a
                // proxy answers 503 too when the platform dropped a request it got): other
                // 503s, 502s and 504s are tried again for idempotent calls only.
                let again = match response.status {
                    429 => true,
                    503 => idempotent || asked.is_some(),
                    502 | 504 => idempotent,
                    _ => false,
                };
                (again, asked)
            }
            Err(e) => (e.retry == Retry::Safe, None),
        }
    }

    /// A call refused here, in the request log beside the calls that were sent.
    fn not_sent(&self, request: &BackendRequest, why: &str) {
        super::client::note(
            &self.backend,
            request,
            crate::requestlog::CallOutcome::Failed(why),
            Duration::ZERO,
        );
    }

    async fn call(&self, request: &BackendRequest) -> Result<BackendResponse, PlatformError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let trial = match self.admit() {
                Ok(trial) => trial.then(|| Trial::new(self)),
                Err(wait) => {
                    crate::metrics::metrics().platform_error(&self.backend, "circuit_open");
                    self.not_sent(request, "circuit_open (not sent)");
                    return Err(PlatformError::circuit_open(wait));
                }
            };
            let place =
                match tokio::time::timeout(self.policy.queue_wait, self.places.acquire()).await {
                    Ok(Ok(place)) => place,
                    _ => {
                        if let Some(trial) = trial {
                            trial.ended();
                        }
                        crate::metrics::metrics().platform_error(&self.backend, "overloaded");
                        self.not_sent(request, "overloaded (not sent)");
                        tracing::warn!(
                            in_flight = self.policy.max_in_flight,
                            "the platform's calls are all in flight: one is shed"
                        );
                        return Err(PlatformError::overloaded(Duration::from_secs(1)));
                    }
                };
            let result = self.inner.send(request).await;
            drop(place);
            let (again, asked) = Self::again(request, &result);
            let wait = asked.unwrap_or_else(|| self.backoff(attempt));
            let out_of_budget = started.elapsed() + wait > self.policy.budget;
            if !again
                || attempt >= self.policy.attempts
                || wait > self.policy.max_wait
                || out_of_budget
            {
                self.note(&result);
                if let Some(trial) = trial {
                    trial.ended();
                }
                // Given up (or done): the wait the platform asked for goes with the answer.
                return result.map_err(|e| e.with_retry_after(asked));
            }
            if let Some(trial) = trial {
                // A trial that will be tried again has not ended: its end decides.
                trial.ended();
                self.note(&result);
                if matches!(*self.breaker(), Breaker::Open { .. }) {
                    return result.map_err(|e| e.with_retry_after(asked));
                }
            }
            tracing::debug!(
                method = %request.method,
                path = %request.path,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "platform call retried"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// A random wait up to the attempt's exponential backoff (full jitter).
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .policy
            .backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.policy.max_backoff);
        let mut bytes = [0u8; 4];
        let fraction = match getrandom::fill(&mut bytes) {
            Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
            Err(_) => 0.5,
        };
        ceiling.mul_f64(fraction)
    }
}

/// The breaker's trial call in flight: if its request is dropped before it ends (a request
/// timeout, a client gone), the breaker opens again rather than staying half-open.
struct Trial<'a> {
    resilient: &'a Resilient,
    ended: bool,
}

impl<'a> Trial<'a> {
    fn new(resilient: &'a Resilient) -> Self {
        Trial {
            resilient,
            ended: false,
        }
    }

    fn ended(mut self) {
        self.ended = true;
    }
}

impl Drop for Trial<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.resilient.failed();
        }
    }
}

impl Platform for Resilient {
    fn send<'a>(&'a self, request: &'a BackendRequest) -> PlatformFuture<'a> {
        Box::pin(self.call(request))
    }

    fn explains(&self) -> bool {
        self.inner.explains()
    }

    fn reach(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reach> + Send + '_>> {
        let open_for = match *self.breaker() {
            Breaker::Open { until } => until.checked_duration_since(Instant::now()),
            _ => None,
        };
        match open_for {
            Some(wait) => Box::pin(async move { Reach::CircuitOpen(wait) }),
            None => self.inner.reach(),
        }
    }

    fn considered(
        &self,
        call: &str,
        condition: &str,
        held: bool,
        variables: serde_json::Map<String, serde_json::Value>,
    ) {
        self.inner.considered(call, condition, held, variables);
    }
}

/// How long an answer asks to wait: `Retry-After` (delta seconds or an HTTP date), else
/// `RateLimit-Reset` (delta seconds, or a Unix time as GitLab sends it).
pub fn wait_asked(response: &BackendResponse) -> Option<Duration> {
    let header = |name: &str| {
        response
            .headers
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
    };
    let now = SystemTime::now();
    let until = |at: SystemTime| at.duration_since(now).unwrap_or_default();
    let from_retry_after = header("retry-after").and_then(|value| {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822)
            .ok()?;
        let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(
            u64::try_from(at.unix_timestamp()).ok()?,
        ))?;
        Some(until(at))
    });
    let wait = from_retry_after.or_else(|| {
        let value = header("ratelimit-reset")?.parse::<u64>().ok()?;
        // A value past 2001 in seconds is a time, not a wait.
        if value > 1_000_000_000 {
            Some(until(
                SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(value))?,
            ))
        } else {
            Some(Duration::from_secs(value))
        }
    })?;
    Some(wait.min(LONGEST_WAIT))
}

/// The longest wait read from a platform (and passed on to an IdP).
pub const LONGEST_WAIT: Duration = Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicU32, Ordering};

    use serde_json::{json, Map, Value};

    use super::*;
    use crate::mapping::lazy::JsonBody;
    use crate::mapping::Method;

    /// A platform answering from a script, counting calls.
    struct Scripted {
        answers: Mutex<VecDeque<Result<BackendResponse, PlatformError>>>,
        calls: AtomicU32,
    }

    fn answer(status: u16, headers: Value) -> Result<BackendResponse, PlatformError> {
        let headers: Map<String, Value> = headers.as_object().cloned().unwrap_or_default();
        Ok(BackendResponse {
            status,
            headers,
            body: JsonBody::from_text("{}".to_owned()),
        })
    }

    impl Platform for Scripted {
        fn send<'a>(&'a self, _request: &'a BackendRequest) -> PlatformFuture<'a> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let next = self
                .answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| answer(200, json!({})));
            Box::pin(async move { next })
        }
    }

    fn platform(answers: Vec<Result<BackendResponse, PlatformError>>) -> Arc<Scripted> {
        Arc::new(Scripted {
            answers: Mutex::new(answers.into()),
            calls: AtomicU32::new(0),
        })
    }

    fn fast() -> Policy {
        Policy {
            backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            breaker_cooldown: Duration::from_millis(200),
            ..Policy::default()
        }
    }

    fn request(method: Method) -> BackendRequest {
        BackendRequest {
            method,
            path: "/api/v2/users".into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    #[tokio::test]
    async fn safe_calls_are_retried_and_unsafe_ones_are_not() {
        let refused = || {
            Err(PlatformError::unreachable(
                Method::Post,
                false,
                "refused".into(),
            ))
        };
        let p = platform(vec![
            refused(),
            answer(502, json!({})),
            answer(200, json!({})),
        ]);
        let r = Resilient::new(p.clone(), fast());
        assert_eq!(r.send(&request(Method::Get)).await.unwrap().status, 200);
        assert_eq!(p.calls.load(Ordering::SeqCst), 3);
        // A POST that timed out may have been applied: never sent twice.
        let timed_out = Err(PlatformError::timeout(Method::Post, Duration::from_secs(1)));
        let p = platform(vec![timed_out]);
        let r = Resilient::new(p.clone(), fast());
        assert!(r.send(&request(Method::Post)).await.is_err());
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
        // A POST answered 502 may have been applied too; a 429 was not.
        let p = platform(vec![answer(502, json!({}))]);
        let r = Resilient::new(p.clone(), fast());
        assert_eq!(r.send(&request(Method::Post)).await.unwrap().status, 502);
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
        // A bare 503 on a POST may come from a proxy after the platform got it: not again.
        let p = platform(vec![answer(503, json!({}))]);
        let r = Resilient::new(p.clone(), fast());
        assert_eq!(r.send(&request(Method::Post)).await.unwrap().status, 503);
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
        let p = platform(vec![
            answer(429, json!({"retry-after": "0"})),
            answer(201, json!({})),
        ]);
        let r = Resilient::new(p.clone(), fast());
        assert_eq!(r.send(&request(Method::Post)).await.unwrap().status, 201);
        assert_eq!(p.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_wait_too_long_is_not_waited_but_passed_on() {
        let p = platform(vec![answer(429, json!({"retry-after": "30"}))]);
        let r = Resilient::new(p.clone(), fast());
        let started = Instant::now();
        let answer = r.send(&request(Method::Get)).await.unwrap();
        assert_eq!(answer.status, 429);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
        assert_eq!(wait_asked(&answer), Some(Duration::from_secs(30)));
    }

    #[test]
    fn waits_are_read_as_platforms_send_them() {
        let with = |headers: Value| match answer(429, headers) {
            Ok(r) => wait_asked(&r),
            Err(_) => None,
        };
        assert_eq!(
            with(json!({"retry-after": "7"})),
            Some(Duration::from_secs(7))
        );
        let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(60);
        let date = soon
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap();
        let waited = with(json!({"retry-after": date})).unwrap();
        assert!(
            waited > Duration::from_secs(55) && waited <= Duration::from_secs(60),
            "{waited:?}"
        );
        assert_eq!(
            with(json!({"ratelimit-reset": "12"})),
            Some(Duration::from_secs(12))
        );
        let reset = (time::OffsetDateTime::now_utc().unix_timestamp() + 30).to_string();
        let waited = with(json!({"ratelimit-reset": reset})).unwrap();
        assert!(waited > Duration::from_secs(25), "{waited:?}");
        assert_eq!(with(json!({})), None);
        assert_eq!(with(json!({"retry-after": "soon"})), None);
        // Waits are bounded; a reset far in the future cannot overflow.
        assert_eq!(
            with(json!({"retry-after": "99999999999"})),
            Some(LONGEST_WAIT)
        );
        let far = with(json!({"ratelimit-reset": u64::MAX.to_string()}));
        assert!(far.is_none_or(|w| w <= LONGEST_WAIT), "{far:?}");
        // A Retry-After that does not read leaves RateLimit-Reset to say.
        assert_eq!(
            with(json!({"retry-after": "soon", "ratelimit-reset": "4"})),
            Some(Duration::from_secs(4))
        );
    }

    #[tokio::test]
    async fn only_the_platforms_failures_open_the_breaker_and_a_lost_trial_reopens_it() {
        // The gateway's own bad requests are no sign of a platform down.
        let bad = || {
            Err(PlatformError::invalid_request(
                "a header HTTP cannot carry".into(),
            ))
        };
        let p = platform((0..10).map(|_| bad()).collect());
        let r = Resilient::new(
            p.clone(),
            Policy {
                attempts: 1,
                ..fast()
            },
        );
        for _ in 0..10 {
            assert!(r.send(&request(Method::Get)).await.is_err());
        }
        assert!(matches!(*r.breaker(), Breaker::Closed { failures: 0 }));
        // A trial whose request is dropped (a timeout, a client gone) opens the breaker again.
        struct Never;
        impl Platform for Never {
            fn send<'a>(&'a self, _request: &'a BackendRequest) -> PlatformFuture<'a> {
                Box::pin(std::future::pending())
            }
        }
        let stuck = Resilient::new(Arc::new(Never), fast());
        *stuck.breaker() = Breaker::Open {
            until: Instant::now(),
        };
        let get = request(Method::Get);
        let cancelled = tokio::time::timeout(Duration::from_millis(20), stuck.send(&get)).await;
        assert!(cancelled.is_err());
        assert!(matches!(*stuck.breaker(), Breaker::Open { .. }));
    }

    #[tokio::test]
    async fn calls_beyond_the_places_in_flight_are_shed() {
        struct Never;
        impl Platform for Never {
            fn send<'a>(&'a self, _request: &'a BackendRequest) -> PlatformFuture<'a> {
                Box::pin(std::future::pending())
            }
        }
        let r = Arc::new(Resilient::new(
            Arc::new(Never),
            Policy {
                max_in_flight: 1,
                queue_wait: Duration::from_millis(20),
                ..fast()
            },
        ));
        let holder = r.clone();
        let first = tokio::spawn(async move { holder.send(&request(Method::Get)).await.is_ok() });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let shed = r.send(&request(Method::Get)).await.unwrap_err();
        assert!(matches!(shed.failure, super::super::Failure::Overloaded));
        assert_eq!(shed.retry_after, Some(Duration::from_secs(1)));
        first.abort();
        // The place is given back when the call ends, even cancelled.
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(r.places.available_permits(), 1);
    }

    #[tokio::test]
    async fn the_breaker_opens_on_failures_and_closes_on_a_success() {
        let down = || {
            Err(PlatformError::unreachable(
                Method::Get,
                false,
                "refused".into(),
            ))
        };
        let p = platform((0..5).map(|_| down()).collect());
        let policy = Policy {
            attempts: 1,
            ..fast()
        };
        let r = Resilient::new(p.clone(), policy);
        for _ in 0..5 {
            assert!(r.send(&request(Method::Get)).await.is_err());
        }
        // Open: refused without a call, with the wait left.
        let refused = r.send(&request(Method::Get)).await.unwrap_err();
        assert!(refused
            .retry_after
            .is_some_and(|w| w <= Duration::from_millis(200)));
        assert_eq!(p.calls.load(Ordering::SeqCst), 5);
        // A trial that never ends (its request cancelled) does not keep the breaker half-open:
        // after another cooldown, another trial goes out.
        *r.breaker() = Breaker::HalfOpen {
            since: Instant::now() - Duration::from_millis(300),
        };
        assert!(r.admit().is_ok());
        assert!(r.admit().is_err(), "one trial at a time");
        *r.breaker() = Breaker::Open {
            until: Instant::now(),
        };
        // After the cooldown one trial goes out; its success closes the breaker.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(r.send(&request(Method::Get)).await.unwrap().status, 200);
        assert_eq!(r.send(&request(Method::Get)).await.unwrap().status, 200);
        assert_eq!(p.calls.load(Ordering::SeqCst), 7);
    }
}
