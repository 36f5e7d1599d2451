//! A bare HTTP/1.1 pass-through proxy (hyper server, hyper-util pooled client): what one
//! proxy hop costs on this machine, the yardstick `scripts/bench` measures the gateway against.
//! It forwards each request as it came (method, path, headers, body) to `--upstream` and streams
//! the answer back; nothing is parsed.
//!
//! Usage: `passthrough --upstream http://127.0.0.1:PORT`; prints its own URL on one line.

// A benchmark tool, not a request path: a failed setup step stops it with its message.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::convert::Infallible;

use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let upstream = args
        .iter()
        .position(|a| a == "--upstream")
        .and_then(|i| args.get(i + 1))
        .expect("--upstream http://host:port")
        .trim_end_matches('/')
        .to_owned();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build(connector);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("http://{}", listener.local_addr().expect("addr"));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                let client = client.clone();
                let path = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                *req.uri_mut() = format!("{upstream}{path}").parse().expect("uri");
                async move {
                    let answer = match client.request(req).await {
                        Ok(r) => r.map(http_body_util::Either::Left),
                        Err(_) => hyper::Response::builder()
                            .status(502)
                            .body(http_body_util::Either::Right(http_body_util::Empty::<
                                bytes::Bytes,
                            >::new(
                            )))
                            .expect("response"),
                    };
                    Ok::<_, Infallible>(answer)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
