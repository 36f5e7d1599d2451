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

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::{Platform, PlatformError, PlatformFuture, Retry};
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
    /// One trial call is out; others are refused until it ends.
    HalfOpen,
}

/// A platform whose calls are retried and guarded by a breaker.
pub struct Resilient {
    inner: Arc<dyn Platform>,
    policy: Policy,
    breaker: Mutex<Breaker>,
}

/// What one attempt came to.
enum Outcome {
    Done(Result<BackendResponse, PlatformError>),
    Again {
        result: Result<BackendResponse, PlatformError>,
        wait: Option<Duration>,
    },
}

impl Resilient {
    /// `inner` with `policy`.
    pub fn new(inner: Arc<dyn Platform>, policy: Policy) -> Self {
        Resilient {
            inner,
            policy,
            breaker: Mutex::new(Breaker::Closed { failures: 0 }),
        }
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        match self.breaker.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Whether a call may go out now; the wait left when not.
    fn admit(&self) -> Result<(), Duration> {
        let mut breaker = self.breaker();
        match *breaker {
            Breaker::Closed { .. } => Ok(()),
            Breaker::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *breaker = Breaker::HalfOpen;
                    Ok(())
                } else {
                    Err(until - now)
                }
            }
            Breaker::HalfOpen => Err(Duration::from_secs(1)),
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
            Breaker::HalfOpen | Breaker::Open { .. } => self.policy.breaker_threshold,
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

    /// Classifies one attempt's result, noting it for the breaker.
    fn judge(
        &self,
        request: &BackendRequest,
        result: Result<BackendResponse, PlatformError>,
    ) -> Outcome {
        match &result {
            Ok(response) => {
                let status = response.status;
                let idempotent = request.method.is_idempotent();
                // The platform did not act (429, 503), or an idempotent call failed upstream.
                let again =
                    matches!(status, 429 | 503) || (idempotent && matches!(status, 502 | 504));
                if (500..=599).contains(&status) {
                    self.failed();
                } else {
                    self.succeeded();
                }
                if again {
                    let wait = wait_asked(response);
                    Outcome::Again { result, wait }
                } else {
                    Outcome::Done(result)
                }
            }
            Err(e) => {
                self.failed();
                if e.retry == Retry::Safe {
                    Outcome::Again { result, wait: None }
                } else {
                    Outcome::Done(result)
                }
            }
        }
    }

    async fn call(&self, request: &BackendRequest) -> Result<BackendResponse, PlatformError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Err(wait) = self.admit() {
                return Err(PlatformError::circuit_open(wait));
            }
            let result = self.inner.send(request).await;
            let (result, asked) = match self.judge(request, result) {
                Outcome::Done(result) => return result,
                Outcome::Again { result, wait } => (result, wait),
            };
            let wait = asked.unwrap_or_else(|| self.backoff(attempt));
            if attempt >= self.policy.attempts || wait > self.policy.max_wait {
                // Given up: the wait the platform asked for goes with the answer.
                return result.map_err(|e| e.with_retry_after(asked));
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

impl Platform for Resilient {
    fn send<'a>(&'a self, request: &'a BackendRequest) -> PlatformFuture<'a> {
        Box::pin(self.call(request))
    }

    fn explains(&self) -> bool {
        self.inner.explains()
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
    if let Some(value) = header("retry-after") {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822)
            .ok()?;
        let at =
            SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at.unix_timestamp()).ok()?);
        return Some(at.duration_since(now).unwrap_or_default());
    }
    let value = header("ratelimit-reset")?.parse::<u64>().ok()?;
    // A value past 2001 in seconds is a time, not a wait.
    if value > 1_000_000_000 {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(value);
        Some(at.duration_since(now).unwrap_or_default())
    } else {
        Some(Duration::from_secs(value))
    }
}

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
        // After the cooldown one trial goes out; its success closes the breaker.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(r.send(&request(Method::Get)).await.unwrap().status, 200);
        assert_eq!(r.send(&request(Method::Get)).await.unwrap().status, 200);
        assert_eq!(p.calls.load(Ordering::SeqCst), 7);
    }
}
