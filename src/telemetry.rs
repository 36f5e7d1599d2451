//! Trace export over OTLP/HTTP (`[otlp]`): each request's span (with its `request_id`) and
//! the platform calls it made, as child spans, sent in batches to an OpenTelemetry collector.
//! The W3C `traceparent` of the current span goes with each platform call, so a platform that
//! traces joins the trace; a request's own `traceparent` is continued when
//! `otlp.continue_traces` says so (a tracing proxy in front).
//!
//! Off unless `otlp.endpoint` is set: then no layer is installed, no platform-call span is
//! made, and the hooks below cost one atomic load. The request spans are the `tracing` spans
//! the log already has (`tracing-opentelemetry` turns them into OpenTelemetry spans); only
//! `scimgate`'s own spans at info and above are sent, never the log's events (an error's text
//! may quote the platform's answer: names, emails). No body, no query (a filter value may be an
//! email address), no header value but the `x-request-id`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector, HttpClient, HttpError};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::Layer;

/// Whether spans are exported: set once, when the exporter starts.
static EXPORTING: AtomicBool = AtomicBool::new(false);
/// Whether a request's `traceparent` is continued (`otlp.continue_traces`).
static CONTINUING: AtomicBool = AtomicBool::new(false);

/// `[otlp]` compiled.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpSettings {
    /// The collector's traces URL (`.../v1/traces`).
    pub traces_url: String,
    /// `service.name` of every span.
    pub service_name: String,
    /// The share of traces sampled (0 to 1); a continued trace keeps its caller's decision.
    pub sample_ratio: f64,
    /// How long one export may take.
    pub timeout: Duration,
    /// Continue a request's `traceparent`.
    pub continue_traces: bool,
}

/// The traces URL for `otlp.endpoint`: `/v1/traces` appended to the collector's address, as
/// the OpenTelemetry spec does with `OTEL_EXPORTER_OTLP_ENDPOINT`.
/// A key in the URL is refused: it would be logged with it; keys go in
/// `OTEL_EXPORTER_OTLP_HEADERS`.
pub fn traces_url(endpoint: &str) -> Result<String, String> {
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(format!(
            "`{endpoint}` must start with http:// or https:// (OTLP over HTTP, e.g. http://collector:4318)"
        ));
    }
    let uri = match endpoint.parse::<http::Uri>() {
        Ok(uri) => uri,
        Err(e) => return Err(format!("`{endpoint}` is not a URL: {e}")),
    };
    let Some(authority) = uri.authority().filter(|a| !a.host().is_empty()) else {
        return Err(format!("`{endpoint}` names no host"));
    };
    if authority.as_str().contains('@') {
        return Err(
            "must not hold a user or key (`user:key@`): give the collector's key in \
                    OTEL_EXPORTER_OTLP_HEADERS"
                .to_owned(),
        );
    }
    if uri.query().is_some() || endpoint.contains('#') {
        return Err(format!(
            "`{endpoint}` must be the collector's address without a query or fragment"
        ));
    }
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        return Err(format!(
            "`{endpoint}`: give the collector's address; `/v1/traces` is appended"
        ));
    }
    Ok(format!("{base}/v1/traces"))
}

/// The running exporter: spans are batched on a thread of the SDK and sent from the runtime.
pub struct Exporter {
    provider: SdkTracerProvider,
    /// How long the last export may take at shutdown.
    timeout: Duration,
}

/// The SDK's span exporter for `settings`, sending with `client`.
fn span_exporter(
    settings: &OtlpSettings,
    client: impl HttpClient + 'static,
) -> Result<opentelemetry_otlp::SpanExporter, String> {
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(settings.traces_url.clone())
        .with_timeout(settings.timeout)
        .build()
        .map_err(|e| format!("cannot start the OTLP exporter: {e}"))
}

/// What serve would refuse when starting the exporter (the SDK also reads `OTEL_EXPORTER_OTLP_*`
/// variables, such as a compression it was not built with): for `scimgate check`.
pub fn check(settings: &OtlpSettings) -> Result<(), String> {
    span_exporter(settings, NeverSent).map(drop)
}

/// The `tracing` layer that turns spans into OpenTelemetry spans, for the subscriber.
pub type ExportLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

impl Exporter {
    /// Starts exporting as `settings` say; the layer goes into the global subscriber.
    /// `runtime` runs the exports (the SDK's batch thread has no runtime of its own).
    pub fn start(
        settings: &OtlpSettings,
        runtime: tokio::runtime::Handle,
    ) -> Result<(Exporter, ExportLayer), String> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            // A collector does not redirect; a redirect is a wrong endpoint, reported as such.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the OTLP client: {e}"))?;
        let exporter = span_exporter(settings, RuntimeClient { client, runtime })?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(settings.service_name.clone())
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                settings.sample_ratio,
            ))))
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("scimgate");
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("scimgate", tracing::Level::INFO)
                    // Spans only: an event's text may quote a platform's answer.
                    .and(tracing_subscriber::filter::filter_fn(|meta| meta.is_span())),
            )
            .boxed();
        EXPORTING.store(true, Ordering::Relaxed);
        CONTINUING.store(settings.continue_traces, Ordering::Relaxed);
        Ok((
            Exporter {
                provider,
                timeout: settings.timeout,
            },
            layer,
        ))
    }

    /// Sends the spans still batched and stops; at shutdown, within the export timeout.
    pub async fn shutdown(self) {
        EXPORTING.store(false, Ordering::Relaxed);
        let (provider, bound) = (self.provider, self.timeout + Duration::from_secs(1));
        // The SDK waits for its batch thread, which waits for the export on the runtime:
        // off the runtime's workers. force_flush reports the export's result (shutdown does
        // not).
        let flush = tokio::task::spawn_blocking(move || {
            let flushed = provider.force_flush();
            let _ = provider.shutdown();
            flushed
        });
        match tokio::time::timeout(bound, flush).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the last spans were not exported"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the last spans were not exported"),
            Err(_) => tracing::warn!(
                "the last spans were not exported within {} s",
                bound.as_secs()
            ),
        }
    }
}

/// Whether spans are being exported.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Makes `span` (a request's) the child of the `traceparent` in `headers`, when traces are
/// continued.
pub fn begin_request(span: &tracing::Span, headers: &http::HeaderMap) {
    if !exporting() {
        return;
    }
    if CONTINUING.load(Ordering::Relaxed) {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        if parent.span().span_context().is_valid() {
            // Refused only when the span is not ours to export, which it is here.
            let _ = span.set_parent(parent);
        }
    }
}

/// Records a finished request's status on its span (an error status for 5xx, as the
/// OpenTelemetry HTTP conventions have it for a server).
pub fn end_request(span: &tracing::Span, status: u16) {
    if exporting() {
        answered(span, status, 500);
    }
}

/// An answer's status on `span`, an error from `error_from` on.
fn answered(span: &tracing::Span, status: u16, error_from: u16) {
    span.set_attribute("http.response.status_code", i64::from(status));
    if status >= error_from {
        span.set_status(opentelemetry::trace::Status::error(format!(
            "HTTP {status}"
        )));
    }
}

/// A platform call's span, a child of its request's; none unless spans are exported (the
/// log has the request's span, and the call in its debug line).
pub fn call_span(backend: &str, method: &str, path: &str) -> tracing::Span {
    if !exporting() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "platform call",
        otel.kind = "client",
        backend,
        http.request.method = method,
        url.path = path,
    )
}

/// Records a platform call's outcome on its span: the status, or why none came.
pub fn end_call(span: &tracing::Span, outcome: Result<u16, &str>) {
    if !exporting() {
        return;
    }
    match outcome {
        // A client's 4xx is an error too: the gateway sent what the platform refused.
        Ok(status) => answered(span, status, 400),
        Err(why) => {
            span.set_attribute("error.type", why.to_owned());
            span.set_status(opentelemetry::trace::Status::error(why.to_owned()));
        }
    }
}

/// Adds the current span's `traceparent` (and `tracestate`) to a platform call's headers.
pub fn pass_on(headers: &mut http::HeaderMap) {
    if !exporting() {
        return;
    }
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// An answer being awaited, as `HttpClient::send_bytes` gives it.
type Sending<'b> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<http::Response<Bytes>, HttpError>> + Send + 'b>,
>;

/// The exporter's HTTP client: reqwest (the one the platform calls use) on the gateway's
/// runtime. The SDK sends from its own thread, where no runtime runs; the call is spawned onto
/// the runtime and awaited from there.
#[derive(Debug)]
struct RuntimeClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl HttpClient for RuntimeClient {
    fn send_bytes<'a, 'b>(&'a self, request: http::Request<Bytes>) -> Sending<'b>
    where
        'a: 'b,
        Self: 'b,
    {
        let client = self.client.clone();
        let call = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let mut response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let headers = response.headers().clone();
            // A collector answers a few bytes; a large answer is a wrong endpoint.
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(HttpError::from("the collector's answer is over 1 MiB"));
                }
                body.extend_from_slice(&chunk);
            }
            let body = Bytes::from(body);
            let mut answer = http::Response::new(body);
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok::<_, HttpError>(answer)
        });
        Box::pin(async move { call.await.map_err(|e| -> HttpError { Box::new(e) })? })
    }
}

/// The most of a collector's answer read.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// A client for building an exporter that is never started (`check`).
#[derive(Debug)]
struct NeverSent;

impl HttpClient for NeverSent {
    fn send_bytes<'a, 'b>(&'a self, _request: http::Request<Bytes>) -> Sending<'b>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async { Err(HttpError::from("not started")) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_appended_to_the_collectors_address() {
        assert_eq!(
            traces_url("http://collector:4318").as_deref(),
            Ok("http://collector:4318/v1/traces")
        );
        assert_eq!(
            traces_url("https://otel.example.com/otlp/").as_deref(),
            Ok("https://otel.example.com/otlp/v1/traces")
        );
        for bad in [
            "collector:4318",
            "grpc://collector:4317",
            "http://",
            "http://a b",
            "https://user:key@collector:4318",
            "http://collector:4318?key=1",
            "http://collector:4318/v1/traces",
        ] {
            assert!(traces_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nothing_is_passed_on_or_recorded_when_not_exporting() {
        let mut headers = http::HeaderMap::new();
        pass_on(&mut headers);
        assert!(headers.is_empty());
    }
}
