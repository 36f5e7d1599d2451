//! Platform faults, injected by a proxy between the gateway and the emulated Coder: what the
//! gateway retries (only what is safe to send again), what it answers when it gives up (a SCIM
//! 502, 503 or 504, with `Retry-After` where the wait is known), and the breaker that pauses
//! calls to a platform that keeps failing and lets them through again when it recovers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use scimgate::backend::Policy;
use scimgate::demo::DemoOptions;
use scimgate::sandbox::coder::CoderEmulator;

use crate::support::{sample, Harness};

/// What the proxy does to one request.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// Answers after this long (forwarding the request).
    Slow(Duration),
    /// Answers this status with these headers and a JSON error body, not forwarding.
    Status(u16, Vec<(&'static str, String)>),
    /// Closes the connection without an answer.
    Reset,
    /// Forwards, then breaks the connection halfway through the answer's body.
    ResetMidBody,
    /// Answers 200 with a body that is not JSON.
    Malformed,
    /// Answers a redirect elsewhere.
    Redirect,
}

type Body = BoxBody<Bytes, std::io::Error>;

/// A request the proxy stops at: it tells the test, then never answers (the test kills the
/// gateway meanwhile). With `forward`, the platform gets the request first.
struct Hold {
    method: &'static str,
    path: String,
    forward: bool,
    reached: Arc<tokio::sync::Notify>,
}

pub(crate) struct Proxy {
    upstream: String,
    http: reqwest::Client,
    faults: Mutex<VecDeque<Fault>>,
    holds: Mutex<Vec<Hold>>,
    /// Every request fails (Reset) while set: the platform is down.
    down: AtomicBool,
    hits: AtomicUsize,
    /// The `traceparent` header of each request that had one.
    traceparents: Mutex<Vec<String>>,
}

impl Proxy {
    pub(crate) fn inject(&self, faults: &[Fault]) {
        self.faults.lock().unwrap().extend(faults.iter().cloned());
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub(crate) fn traceparents(&self) -> Vec<String> {
        self.traceparents.lock().unwrap().clone()
    }

    /// Stops at the next `method` request whose path contains `path` (after forwarding it to
    /// the platform, with `forward`); the notice comes when it is reached.
    pub(crate) fn hold(
        &self,
        method: &'static str,
        path: &str,
        forward: bool,
    ) -> Arc<tokio::sync::Notify> {
        let reached = Arc::new(tokio::sync::Notify::new());
        self.holds.lock().unwrap().push(Hold {
            method,
            path: path.to_owned(),
            forward,
            reached: reached.clone(),
        });
        reached
    }

    /// Sends a request on to the platform.
    async fn send_upstream(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> Result<reqwest::Response, std::io::Error> {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let url = format!(
            "{}{}",
            self.upstream,
            parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
        );
        let mut forward = self.http.request(parts.method.clone(), &url).body(body);
        for (name, value) in &parts.headers {
            if name != "host" {
                forward = forward.header(name, value);
            }
        }
        forward.send().await.map_err(std::io::Error::other)
    }

    async fn handle(
        self: Arc<Self>,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<Body>, std::io::Error> {
        self.hits.fetch_add(1, Ordering::SeqCst);
        if let Some(traceparent) = request.headers().get("traceparent") {
            let traceparent = traceparent.to_str().unwrap_or_default().to_owned();
            self.traceparents.lock().unwrap().push(traceparent);
        }
        let hold = {
            let mut holds = self.holds.lock().unwrap();
            let at = holds.iter().position(|h| {
                request.method().as_str() == h.method && request.uri().path().contains(&h.path)
            });
            at.map(|at| holds.remove(at))
        };
        if let Some(hold) = hold {
            if hold.forward {
                let _ = self.send_upstream(request).await;
            }
            hold.reached.notify_one();
            return std::future::pending().await;
        }
        let fault = if self.down.load(Ordering::SeqCst) {
            Some(Fault::Reset)
        } else {
            self.faults.lock().unwrap().pop_front()
        };
        let full = |status: u16, body: &str, headers: &[(&'static str, String)]| {
            let mut response = hyper::Response::new(
                Full::new(Bytes::from(body.to_owned()))
                    .map_err(|never: Infallible| match never {})
                    .boxed(),
            );
            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
            for (name, value) in headers {
                response.headers_mut().insert(*name, value.parse().unwrap());
            }
            response
        };
        match fault {
            Some(Fault::Status(status, headers)) => {
                return Ok(full(status, r#"{"message": "injected"}"#, &headers))
            }
            Some(Fault::Reset) => {
                return Err(std::io::Error::other("injected reset"));
            }
            Some(Fault::Malformed) => {
                return Ok(full(
                    200,
                    "{\"id\": \"this is not",
                    &[("content-type", "application/json".into())],
                ))
            }
            Some(Fault::Redirect) => {
                return Ok(full(
                    302,
                    "",
                    &[("location", "http://127.0.0.1:9/elsewhere".into())],
                ))
            }
            Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
            Some(Fault::ResetMidBody) | None => {}
        }
        let answer = self.send_upstream(request).await?;
        let status = answer.status().as_u16();
        let headers: Vec<(String, String)> = answer
            .headers()
            .iter()
            .filter(|(n, _)| *n != "content-length" && *n != "transfer-encoding")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let bytes = answer.bytes().await.map_err(std::io::Error::other)?;
        let body: Body = if matches!(fault, Some(Fault::ResetMidBody)) {
            let half = bytes.slice(..bytes.len() / 2);
            let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
                Ok(Frame::data(half)),
                Err(std::io::Error::other("injected reset mid-body")),
            ];
            StreamBody::new(futures_util::stream::iter(frames)).boxed()
        } else {
            Full::new(bytes)
                .map_err(|never: Infallible| match never {})
                .boxed()
        };
        let mut response = hyper::Response::new(body);
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        for (name, value) in headers {
            response.headers_mut().insert(
                hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        Ok(response)
    }
}

/// A fault-injecting proxy in front of `upstream`; answers it and its URL.
pub(crate) async fn proxy_to(upstream: String) -> (Arc<Proxy>, String) {
    let proxy = Arc::new(Proxy {
        upstream,
        http: reqwest::Client::new(),
        faults: Mutex::new(VecDeque::new()),
        holds: Mutex::new(Vec::new()),
        down: AtomicBool::new(false),
        hits: AtomicUsize::new(0),
        traceparents: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let serving = proxy.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let proxy = serving.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| proxy.clone().handle(r));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (proxy, proxy_url)
}

/// An emulated Coder behind a fault-injecting proxy, and a gateway in front of the proxy.
async fn faulty(policy: Policy, platform_timeout: Duration) -> (Harness, Arc<Proxy>) {
    let token = "abcdefghij-0123456789012345678901".to_owned();
    let emulator = CoderEmulator::new(token.clone());
    let emulator_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", emulator_listener.local_addr().unwrap());
    tokio::spawn(
        emulator
            .clone()
            .serve(emulator_listener, std::future::pending()),
    );
    let (proxy, proxy_url) = proxy_to(upstream).await;
    let h = Harness::with(DemoOptions {
        platform: Some((emulator, proxy_url, token)),
        cache_ttl: Duration::ZERO,
        platform_timeout,
        resilience: policy,
        ..Default::default()
    })
    .await;
    (h, proxy)
}

fn quick() -> Policy {
    Policy {
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        breaker_threshold: 100,
        ..Policy::default()
    }
}

#[tokio::test]
async fn transient_faults_are_retried_where_safe() {
    let (h, proxy) = faulty(quick(), Duration::from_secs(2)).await;
    let made = h
        .post("/Users", crate::support::user("fay", "fay@example.com"))
        .await
        .expect(201);
    let path = format!("/Users/{}", made["id"].as_str().unwrap());
    // Each fault once, then the platform answers: the read succeeds, one call more each.
    // A read is two platform calls (the user, its groups).
    let before = proxy.hits();
    h.get(&path).await.expect(200);
    let calls = proxy.hits() - before;
    for fault in [
        Fault::Status(502, vec![]),
        Fault::Status(503, vec![]),
        Fault::Reset,
        Fault::ResetMidBody,
        Fault::Status(429, vec![("retry-after", "1".into())]),
    ] {
        let before = proxy.hits();
        proxy.inject(std::slice::from_ref(&fault));
        let started = Instant::now();
        let read = h.get(&path).await.expect(200);
        assert_eq!(read["userName"], "fay", "{fault:?}");
        assert_eq!(proxy.hits() - before, calls + 1, "{fault:?}: one retry");
        if matches!(fault, Fault::Status(429, _)) {
            assert!(
                started.elapsed() >= Duration::from_secs(1),
                "Retry-After honoured"
            );
        }
    }
    // A POST that may have reached the platform is never sent twice: the connection broke
    // after the request went out.
    let before = proxy.hits();
    proxy.inject(&[Fault::Reset]);
    h.post("/Users", crate::support::user("gus", "gus@example.com"))
        .await
        .expect_error(502, None);
    assert_eq!(proxy.hits() - before, 1);
    // A 429 on a POST was not acted on: it is retried.
    proxy.inject(&[Fault::Status(429, vec![("retry-after", "0".into())])]);
    h.post("/Users", crate::support::user("gus", "gus@example.com"))
        .await
        .expect(201);
    h.demo.stop().await;
}

#[tokio::test]
async fn lasting_faults_get_scim_errors_with_the_wait() {
    let policy = Policy {
        attempts: 2,
        ..quick()
    };
    let (h, proxy) = faulty(policy, Duration::from_secs(2)).await;
    let made = h
        .post("/Users", crate::support::user("hal", "hal@example.com"))
        .await
        .expect(201);
    let path = format!("/Users/{}", made["id"].as_str().unwrap());
    // Throttled for longer than the gateway waits: 429 to the IdP, with the platform's wait.
    proxy.inject(&[Fault::Status(429, vec![("retry-after", "30".into())])]);
    let throttled = h.get(&path).await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert_eq!(throttled.headers["retry-after"], "30");
    // GitLab's RateLimit-Reset (a Unix time) is read as the wait.
    let reset = (time::OffsetDateTime::now_utc().unix_timestamp() + 20).to_string();
    proxy.inject(&[Fault::Status(503, vec![("ratelimit-reset", reset)])]);
    let unavailable = h.get(&path).await;
    assert_eq!(unavailable.status, 503, "{}", unavailable.body);
    let wait: u64 = unavailable.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((15..=21).contains(&wait), "{wait}");
    // Failing each time: 502 after the retries; malformed JSON and a redirect: 502 at once.
    proxy.inject(&[Fault::Status(502, vec![]), Fault::Status(502, vec![])]);
    h.get(&path).await.expect_error(502, None);
    proxy.inject(&[Fault::Status(500, vec![])]);
    h.get(&path).await.expect_error(502, None);
    proxy.inject(&[Fault::Malformed]);
    h.get(&path).await.expect_error(502, None);
    let before = proxy.hits();
    proxy.inject(&[Fault::Redirect]);
    h.get(&path).await.expect_error(502, None);
    assert_eq!(proxy.hits() - before, 1, "a redirect is not followed");
    // Slower than the platform timeout: 504, the GET tried twice, a POST once.
    let before = proxy.hits();
    proxy.inject(&[
        Fault::Slow(Duration::from_millis(2500)),
        Fault::Slow(Duration::from_millis(2500)),
    ]);
    h.get(&path).await.expect_error(504, None);
    assert_eq!(proxy.hits() - before, 2);
    let before = proxy.hits();
    proxy.inject(&[Fault::Slow(Duration::from_millis(2500))]);
    h.post("/Users", crate::support::user("ida", "ida@example.com"))
        .await
        .expect_error(504, None);
    assert_eq!(proxy.hits() - before, 1);
    // The platform is fine again: so is the gateway.
    tokio::time::sleep(Duration::from_millis(600)).await;
    h.get(&path).await.expect(200);
    h.demo.stop().await;
}

#[tokio::test]
async fn a_platform_that_keeps_failing_is_paused_and_comes_back() {
    let policy = Policy {
        attempts: 1,
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_secs(3),
        ..quick()
    };
    let (h, proxy) = faulty(policy, Duration::from_secs(2)).await;
    let made = h
        .post("/Users", crate::support::user("ivy", "ivy@example.com"))
        .await
        .expect(201);
    let path = format!("/Users/{}", made["id"].as_str().unwrap());
    let (status, ready) = h.ready().await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["backends"]["default"]["circuit"], "closed");
    assert_eq!(ready["store"]["ready"], true);
    // A proxy in front of the platform answering 502 is no platform answering.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    proxy.inject(&[Fault::Status(502, vec![])]);
    let (status, ready) = h.ready().await;
    assert_eq!(status, 503, "{ready}");
    assert!(
        ready["backends"]["default"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("502")),
        "{ready}"
    );
    proxy.down.store(true, Ordering::SeqCst);
    // Down (once the last check, kept a second, is past): not ready, the backend named.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, ready) = h.ready().await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["status"], "not ready");
    assert_eq!(ready["backends"]["default"]["ready"], false);
    assert!(
        ready["backends"]["default"]["error"].as_str().is_some(),
        "{ready}"
    );
    assert_eq!(ready["store"]["ready"], true, "{ready}");
    for _ in 0..3 {
        h.get(&path).await.expect_error(502, None);
    }
    // Open: answered at once, 503 with the wait, without a platform call.
    let before = proxy.hits();
    let paused = h.get(&path).await;
    assert_eq!(paused.status, 503, "{}", paused.body);
    let wait: u64 = paused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&wait), "{wait}");
    assert_eq!(proxy.hits(), before);
    // Open: readiness says so, without probing the platform.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, ready) = h.ready().await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["backends"]["default"]["circuit"], "open", "{ready}");
    assert!(ready["backends"]["default"]["retryAfterSecs"]
        .as_u64()
        .is_some());
    assert_eq!(proxy.hits(), before);
    let metrics = h.metrics().await;
    let errors = |class: &str| {
        sample(
            &metrics,
            &format!("scimgate_platform_errors_total{{backend=\"default\",class=\"{class}\"}}"),
        )
    };
    assert_eq!(errors("unreachable"), 3.0, "{metrics}");
    assert_eq!(errors("circuit_open"), 1.0, "{metrics}");
    // Back up, and the cooldown over: one trial goes through and closes the breaker.
    proxy.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (status, ready) = h.ready().await;
    assert_eq!(status, 200, "ready again on its own: {ready}");
    h.get(&path).await.expect(200);
    h.get(&path).await.expect(200);
    h.demo.stop().await;
}
