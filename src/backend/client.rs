//! The HTTP client to the platform: one keep-alive connection pool, a timeout per call, the
//! platform credential added to every request (and never logged), answers read into
//! [`BackendResponse`]s for the mapping to interpret.

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION};
use serde_json::{Map, Value};
use tracing::Instrument as _;

use std::future::Future;
use std::pin::Pin;

use super::{Failure, Platform, PlatformError, PlatformFuture, Reach};
use crate::mapping::lazy::JsonBody;
use crate::mapping::model::AuthScheme;
use crate::mapping::vars::{SettingsVars, TemplateVars};
use crate::mapping::{BackendRequest, BackendResponse, Method, PlatformSpec};
use crate::requestlog::{note_call, CallOutcome};

/// Notes a platform call of `backend` in the log of the request making it (`crate::requestlog`).
pub(super) fn note(
    backend: &str,
    request: &BackendRequest,
    outcome: CallOutcome<'_>,
    elapsed: std::time::Duration,
) {
    note_call(
        backend,
        request.method.as_str(),
        &request.path,
        &request.query,
        outcome,
        elapsed,
    );
}

/// A platform call in progress, noted in the request log and ended on its span once: with its
/// outcome when it ends, as abandoned when it is dropped unanswered (its request timed out,
/// its client left).
struct CallNote<'a> {
    /// The call's exported span (`crate::telemetry`), ended as abandoned too.
    span: tracing::Span,
    backend: &'a str,
    request: &'a BackendRequest,
    started: Instant,
    noted: bool,
}

impl CallNote<'_> {
    fn finish(mut self, outcome: CallOutcome<'_>) {
        self.noted = true;
        let traced = match outcome {
            CallOutcome::Answered(status) => Ok(status),
            CallOutcome::Failed(why) => Err(why),
        };
        crate::telemetry::end_call(&self.span, traced);
        note(self.backend, self.request, outcome, self.started.elapsed());
    }
}

impl Drop for CallNote<'_> {
    fn drop(&mut self) {
        if !self.noted {
            crate::telemetry::end_call(&self.span, Err("abandoned"));
            let abandoned = CallOutcome::Failed("abandoned (no answer awaited)");
            note(
                self.backend,
                self.request,
                abandoned,
                self.started.elapsed(),
            );
        }
    }
}

/// A platform over HTTP. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct HttpPlatform {
    http: reqwest::Client,
    /// The backend's name in the config, for the metrics.
    backend: String,
    base_url: String,
    timeout: Duration,
    headers: HeaderMap,
}

impl HttpPlatform {
    /// A client for the platform at `base_url` (no trailing slash), each call limited to
    /// `timeout`, with the mapping's headers (rendered over `settings`) and its credential
    /// scheme applied to `credential`. The error says why HTTP cannot carry a header.
    pub fn new(
        base_url: &str,
        timeout: Duration,
        credential: Option<&str>,
        settings: &Value,
        platform: &PlatformSpec,
    ) -> Result<HttpPlatform, String> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let vars = SettingsVars { settings };
        let ctx = vars.context();
        for (name, template) in &platform.headers {
            let value = template
                .render_string(&ctx)
                .map_err(|e| format!("platform header {name}: {e}"))?
                .unwrap_or_default();
            headers.insert(header_name(name)?, header_value(&value)?);
        }
        if let Some(secret) = credential {
            let (name, value) = match platform.auth_scheme {
                AuthScheme::None => (None, String::new()),
                AuthScheme::Header => (
                    platform
                        .auth_header
                        .as_deref()
                        .map(header_name)
                        .transpose()?,
                    format!("{}{secret}", platform.auth_prefix),
                ),
                AuthScheme::Bearer => (Some(AUTHORIZATION), format!("Bearer {secret}")),
                AuthScheme::Basic => (
                    Some(AUTHORIZATION),
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(secret.as_bytes())
                    ),
                ),
            };
            if let Some(name) = name {
                let mut value = header_value(&value)?;
                value.set_sensitive(true);
                headers.insert(name, value);
            }
        }
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            // Never follow redirects: a redirect to another host would carry the platform
            // credential there (reqwest strips only Authorization), and a 301 turns a POST into a
            // GET. A redirect is answered as the platform's error instead.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .user_agent(concat!("scimgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpPlatform {
            http,
            backend: "default".to_owned(),
            base_url: base_url.to_owned(),
            timeout,
            headers,
        })
    }

    /// The same client, its metrics labelled with the backend's name in the config.
    pub fn named(mut self, backend: &str) -> HttpPlatform {
        backend.clone_into(&mut self.backend);
        self
    }

    /// One call, timed and counted in the metrics by its outcome.
    async fn call(&self, request: &BackendRequest) -> Result<BackendResponse, PlatformError> {
        let started = Instant::now();
        // A child of the request's span, exported with `[otlp]` (none without).
        let span =
            crate::telemetry::call_span(&self.backend, request.method.as_str(), &request.path);
        let call_note = CallNote {
            span: span.clone(),
            backend: &self.backend,
            request,
            started,
            noted: false,
        };
        let result = self.exchange(request).instrument(span.clone()).await;
        let metrics = crate::metrics::metrics();
        metrics.platform_call(&self.backend, request.method.as_str(), started.elapsed());
        let class = match &result {
            Ok(response) => match response.status {
                429 => Some("rate_limited"),
                400..=499 => Some("client_error"),
                500..=599 => Some("server_error"),
                _ => None,
            },
            Err(e) => Some(match e.failure {
                Failure::Timeout(_) => "timeout",
                Failure::InvalidRequest(_) => "invalid_request",
                _ => "unreachable",
            }),
        };
        if let Some(class) = class {
            metrics.platform_error(&self.backend, class);
        }
        let outcome = match &result {
            Ok(response) => CallOutcome::Answered(response.status),
            Err(_) => CallOutcome::Failed(class.unwrap_or("unreachable")),
        };
        call_note.finish(outcome);
        result
    }

    async fn exchange(&self, request: &BackendRequest) -> Result<BackendResponse, PlatformError> {
        let url = format!("{}{}", self.base_url, request.path);
        let mut builder = self
            .http
            .request(reqwest_method(request.method), &url)
            .headers(self.traced_headers())
            .timeout(self.timeout);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (name, value) in &request.headers {
            builder = builder.header(
                header_name(name).map_err(PlatformError::invalid_request)?,
                header_value(value).map_err(PlatformError::invalid_request)?,
            );
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let started = Instant::now();
        let response = builder
            .send()
            .await
            .map_err(|e| self.classify(request.method, e))?;
        let status = response.status().as_u16();
        let mut headers = Map::new();
        for (name, value) in response.headers() {
            if let Ok(v) = value.to_str() {
                headers.insert(name.as_str().to_owned(), Value::String(v.to_owned()));
            }
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.classify(request.method, e))?;
        tracing::debug!(
            method = %request.method,
            path = %request.path,
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "platform call"
        );
        // Kept as text, checked to be JSON; parsed only where something reads it (see
        // mapping::lazy). Not UTF-8 is read as the text with the bad bytes replaced.
        // Vec::from takes the buffer over when it is not shared: no second copy of a large answer.
        let text = match String::from_utf8(Vec::from(bytes)) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(BackendResponse {
            status,
            headers,
            body: JsonBody::from_text(text),
        })
    }

    /// The platform's headers, with the trace's `traceparent` when spans are exported.
    fn traced_headers(&self) -> HeaderMap {
        let mut headers = self.headers.clone();
        crate::telemetry::pass_on(&mut headers);
        headers
    }

    fn classify(&self, method: Method, e: reqwest::Error) -> PlatformError {
        if e.is_timeout() {
            PlatformError::timeout(method, self.timeout)
        } else {
            // A failed connect never sent the request. reqwest's error text carries the URL
            // but never our headers.
            PlatformError::unreachable(method, !e.is_connect(), e.without_url().to_string())
        }
    }
}

impl Platform for HttpPlatform {
    fn send<'a>(&'a self, request: &'a BackendRequest) -> PlatformFuture<'a> {
        Box::pin(self.call(request))
    }

    fn reach(&self) -> Pin<Box<dyn Future<Output = Reach> + Send + '_>> {
        Box::pin(async move {
            // No credential: only whether something answers HTTP there (TLS included).
            let probe = self
                .http
                .get(&self.base_url)
                .timeout(self.timeout.min(Duration::from_secs(2)))
                .send()
                .await;
            match probe {
                // A proxy or load balancer in front of a platform that is down answers too.
                Ok(r) if matches!(r.status().as_u16(), 502..=504) => {
                    Reach::Unreachable(format!("{} answered {}", self.base_url, r.status()))
                }
                Ok(_) => Reach::Reachable,
                Err(e) => Reach::Unreachable(e.without_url().to_string()),
            }
        })
    }
}

fn reqwest_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("`{name}` is not a header name"))
}

fn header_value(value: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value)
        .map_err(|_| "a header value holds characters HTTP does not allow".to_owned())
}
