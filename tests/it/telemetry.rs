//! Trace export (`[otlp]`): a real `scimgate serve` sends each request's span, with its
//! request id and status, and its platform calls as child spans, to an OTLP/HTTP collector
//! (protobuf, decoded here with the OpenTelemetry project's own types); the platform gets each
//! call's `traceparent`; a request's `traceparent` is continued when configured; the spans
//! still batched are sent at SIGTERM; no secret is in any span.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use reqwest::Method;
use tokio::net::TcpListener;

use crate::processes::{behind_proxy, call, Replica, CODER_TOKEN, SCIM_TOKEN};
use crate::support::user;

/// What an OTLP/HTTP collector was sent: each POST's path, content type and body.
#[derive(Default)]
struct Collector {
    posts: Mutex<Vec<(String, String, Bytes)>>,
}

/// A collector on a free port, answering every export with an empty success (as OTLP/HTTP's
/// `ExportTraceServiceResponse` with nothing rejected is: zero bytes of protobuf).
async fn collector() -> (Arc<Collector>, String) {
    let collector = Arc::new(Collector::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = collector.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let collector = serving.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let collector = collector.clone();
                        async move {
                            let path = request.uri().path().to_owned();
                            let content_type = request
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned();
                            let body = request.into_body().collect().await?.to_bytes();
                            collector
                                .posts
                                .lock()
                                .unwrap()
                                .push((path, content_type, body));
                            let mut answer =
                                hyper::Response::new(http_body_util::Full::new(Bytes::new()));
                            answer
                                .headers_mut()
                                .insert("content-type", "application/x-protobuf".parse().unwrap());
                            Ok::<_, hyper::Error>(answer)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (collector, url)
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attribute(&span.attributes, key) {
        Some(AnyValue::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn number(span: &Span, key: &str) -> Option<i64> {
    match attribute(&span.attributes, key) {
        Some(AnyValue::IntValue(n)) => Some(*n),
        _ => None,
    }
}

/// Every span the collector was sent, checked to be OTLP/HTTP protobuf from `service`.
fn spans_of(collector: &Collector, service: &str) -> Vec<Span> {
    let posts = collector.posts.lock().unwrap().clone();
    let mut spans = Vec::new();
    for (path, content_type, body) in &posts {
        assert_eq!(path, "/v1/traces");
        assert_eq!(content_type, "application/x-protobuf");
        let export = ExportTraceServiceRequest::decode(body.clone()).expect("OTLP protobuf");
        for resource in export.resource_spans {
            let resource_attributes = resource.resource.map(|r| r.attributes).unwrap_or_default();
            assert!(
                matches!(attribute(&resource_attributes, "service.name"),
                    Some(AnyValue::StringValue(name)) if name == service),
                "{resource_attributes:?}"
            );
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    spans
}

/// SIGTERM, and the process's exit in good order.
async fn terminate(mut replica: Replica) {
    let terminated = Command::new("kill")
        .args(["-TERM", &replica.child_id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let exited = replica.wait(Duration::from_secs(15)).await;
    assert!(exited.success(), "{exited:?}");
}

/// The span of the request that sent `x-request-id: request_id`.
fn request_span<'a>(spans: &'a [Span], request_id: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == "request" && text(s, "request_id") == Some(request_id))
        .unwrap_or_else(|| panic!("the span of {request_id}: {spans:#?}"))
}

/// The platform calls made for `request`, as its child spans.
fn calls_of<'a>(spans: &'a [Span], request: &Span) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| {
            s.name == "platform call"
                && s.trace_id == request.trace_id
                && s.parent_span_id == request.span_id
        })
        .collect()
}

fn is_error(span: &Span) -> bool {
    span.status.as_ref().map(|s| s.code)
        == Some(opentelemetry_proto::tonic::trace::v1::status::StatusCode::Error as i32)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_and_its_platform_calls_are_exported_as_one_trace() {
    use crate::faults::Fault;
    let (collector, collector_url) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    // The proxy shows what the platform was sent: the trace's traceparent.
    let (proxy, config) = behind_proxy(
        dir.path(),
        &format!(
            "[otlp]\nendpoint = \"{collector_url}/\"\nservice_name = \"scimgate-it\"\ncontinue_traces = true\n\n[cache]\nttl_secs = 0\n"
        ),
    )
    .await;
    // Batches every ten minutes: whatever the collector gets, it gets at SIGTERM.
    let replica = Replica::start_with(&config, &[("OTEL_BSP_SCHEDULE_DELAY", "600000")]);
    let http = reqwest::Client::new();
    let users = format!("{}/scim/v2/Users", replica.url);
    let password = "Tr4ce-me-not-0123";
    let mut body = user("traced", "traced@example.com");
    body["password"] = password.into();
    let created = http
        .post(&users)
        .bearer_auth(SCIM_TOKEN)
        .header("x-request-id", "it-trace-create")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A tracing proxy in front sent this request's traceparent: the span continues it.
    let caller_trace = "0af7651916cd43dd8448eb211c80319c";
    let caller_span = "b7ad6b7169203331";
    let read = http
        .get(format!("{users}/{id}"))
        .bearer_auth(SCIM_TOKEN)
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let missing = http
        .get(format!("{users}/nobody"))
        .bearer_auth(SCIM_TOKEN)
        .header("x-request-id", "it-trace-missing")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // The platform fails every attempt of a read: a 5xx answer, its calls marked as errors.
    proxy.inject(&[
        Fault::Status(500, vec![]),
        Fault::Status(500, vec![]),
        Fault::Status(500, vec![]),
    ]);
    let failed = http
        .get(format!("{users}/{id}"))
        .bearer_auth(SCIM_TOKEN)
        .header("x-request-id", "it-trace-failed")
        .send()
        .await
        .unwrap();
    assert!(failed.status().is_server_error(), "{}", failed.status());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        collector.posts.lock().unwrap().len(),
        0,
        "nothing is sent before the batch is due"
    );

    // SIGTERM: the spans still batched go out before the process ends.
    terminate(replica).await;
    let spans = spans_of(&collector, "scimgate-it");
    assert!(!spans.is_empty(), "nothing was exported at SIGTERM");
    // The log's events are not exported (an error's text may quote the platform's answer);
    // no secret anywhere: not the password, the SCIM token or the platform's credential.
    assert!(spans.iter().all(|s| s.events.is_empty()), "{spans:#?}");
    let everything = format!("{spans:?}");
    for secret in [password, SCIM_TOKEN, CODER_TOKEN] {
        assert!(!everything.contains(secret), "{secret} was exported");
    }

    let create = request_span(&spans, "it-trace-create");
    assert_eq!(text(create, "method"), Some("POST"));
    assert_eq!(text(create, "path"), Some("/scim/v2/Users"));
    assert_eq!(number(create, "http.response.status_code"), Some(201));
    assert!(!is_error(create));
    let calls = calls_of(&spans, create);
    assert!(
        calls
            .iter()
            .any(|c| text(c, "http.request.method") == Some("POST")
                && text(c, "backend") == Some("default")
                && text(c, "url.path").is_some_and(|p| p.starts_with("/api/v2/"))
                && number(c, "http.response.status_code") == Some(201)),
        "the create's POST to the platform, as a child span: {calls:#?}"
    );
    assert!(calls
        .iter()
        .all(|c| c.kind == opentelemetry_proto::tonic::trace::v1::span::SpanKind::Client as i32));
    // The platform was sent each call's traceparent: the create's trace, the call's span.
    let create_trace = hex::encode(&create.trace_id);
    let traceparents = proxy.traceparents();
    for c in &calls {
        let expected = format!("00-{create_trace}-{}-01", hex::encode(&c.span_id));
        assert!(
            traceparents.contains(&expected),
            "{expected} not in {traceparents:?}"
        );
    }

    let continued = spans
        .iter()
        .find(|s| s.name == "request" && hex::encode(&s.trace_id) == caller_trace)
        .unwrap_or_else(|| panic!("the read continues the caller's trace: {spans:#?}"));
    assert_eq!(hex::encode(&continued.parent_span_id), caller_span);
    assert_eq!(number(continued, "http.response.status_code"), Some(200));
    // A 404 is the IdP's mistake, not a server error: no error status on its span.
    let missing = request_span(&spans, "it-trace-missing");
    assert_eq!(number(missing, "http.response.status_code"), Some(404));
    assert!(!is_error(missing));
    let failed = request_span(&spans, "it-trace-failed");
    assert!(is_error(failed), "{failed:#?}");
    let failed_calls = calls_of(&spans, failed);
    assert!(
        failed_calls
            .iter()
            .any(|c| number(c, "http.response.status_code") == Some(500) && is_error(c)),
        "{failed_calls:#?}"
    );
}

/// Without `continue_traces`, a caller's `traceparent` is ignored: anyone may send one, and
/// would choose the gateway's sampling and where its spans hang.
#[tokio::test(flavor = "multi_thread")]
async fn a_callers_traceparent_is_not_continued_by_default() {
    let (collector, collector_url) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (proxy, config) = behind_proxy(
        dir.path(),
        &format!("[otlp]\nendpoint = \"{collector_url}\"\n\n[cache]\nttl_secs = 0\n"),
    )
    .await;
    let replica = Replica::start(&config);
    let http = reqwest::Client::new();
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let (status, made) = call(
        &http,
        Method::POST,
        format!("{}/scim/v2/Users", replica.url),
        SCIM_TOKEN,
        Some(user("untraced", "untraced@example.com")),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let read = http
        .get(format!(
            "{}/scim/v2/Users/{}",
            replica.url,
            made["id"].as_str().unwrap()
        ))
        .bearer_auth(SCIM_TOKEN)
        .header(
            "traceparent",
            format!("00-{caller_trace}-00f067aa0ba902b7-01"),
        )
        .header("x-request-id", "it-trace-uncontinued")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    terminate(replica).await;
    let spans = spans_of(&collector, "scimgate");
    let read = request_span(&spans, "it-trace-uncontinued");
    assert_ne!(hex::encode(&read.trace_id), caller_trace);
    assert!(read.parent_span_id.is_empty(), "{read:#?}");
    // The platform got the gateway's trace, not the caller's.
    let traceparents = proxy.traceparents();
    assert!(!traceparents.is_empty());
    assert!(
        traceparents.iter().all(|t| !t.contains(caller_trace)),
        "{traceparents:?}"
    );
}
