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

#[tokio::test(flavor = "multi_thread")]
async fn a_request_and_its_platform_calls_are_exported_as_one_trace() {
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
    let mut replica = Replica::start(&config);
    let http = reqwest::Client::new();
    let users = format!("{}/scim/v2/Users", replica.url);
    let password = "Tr4ce-me-not-0123";
    let mut body = user("traced", "traced@example.com");
    body["password"] = password.into();
    let created = http
        .post(&users)
        .bearer_auth(SCIM_TOKEN)
        .header("x-request-id", "it-trace-create-1")
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
    let (status, _) = call(
        &http,
        Method::GET,
        format!("{users}/nobody"),
        SCIM_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // SIGTERM: the spans still batched go out before the process ends.
    let terminated = Command::new("kill")
        .args(["-TERM", &replica.child_id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let exited = replica.wait(Duration::from_secs(15)).await;
    assert!(exited.success(), "{exited:?}");

    let posts = collector.posts.lock().unwrap().clone();
    assert!(!posts.is_empty(), "nothing was exported");
    let mut spans = Vec::new();
    for (path, content_type, body) in &posts {
        assert_eq!(path, "/v1/traces");
        assert_eq!(content_type, "application/x-protobuf");
        let export = ExportTraceServiceRequest::decode(body.clone()).expect("OTLP protobuf");
        for resource in export.resource_spans {
            let resource_attributes = resource.resource.map(|r| r.attributes).unwrap_or_default();
            assert!(
                matches!(attribute(&resource_attributes, "service.name"),
                    Some(AnyValue::StringValue(name)) if name == "scimgate-it"),
                "{resource_attributes:?}"
            );
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    // No secret anywhere: not the password, the SCIM token or the platform's credential.
    let everything = format!("{spans:?}");
    for secret in [password, SCIM_TOKEN, CODER_TOKEN] {
        assert!(!everything.contains(secret), "{secret} was exported");
    }

    let create = spans
        .iter()
        .find(|s| s.name == "request" && text(s, "request_id") == Some("it-trace-create-1"))
        .unwrap_or_else(|| panic!("the create's span, with its request id: {spans:#?}"));
    assert_eq!(text(create, "method"), Some("POST"));
    assert_eq!(text(create, "path"), Some("/scim/v2/Users"));
    assert_eq!(number(create, "http.response.status_code"), Some(201));
    let calls: Vec<&Span> = spans
        .iter()
        .filter(|s| {
            s.name == "platform call"
                && s.trace_id == create.trace_id
                && s.parent_span_id == create.span_id
        })
        .collect();
    assert!(
        calls.iter().any(|c| text(c, "method") == Some("POST")
            && text(c, "backend") == Some("default")
            && number(c, "http.response.status_code") == Some(201)),
        "the create's POST to the platform, as a child span: {calls:#?}"
    );
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
    let missing = spans
        .iter()
        .find(|s| s.name == "request" && number(s, "http.response.status_code") == Some(404))
        .expect("the 404's span");
    assert_ne!(
        missing.status.as_ref().map(|s| s.code),
        Some(opentelemetry_proto::tonic::trace::v1::status::StatusCode::Error as i32)
    );
}
