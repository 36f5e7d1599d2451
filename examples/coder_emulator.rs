//! The Coder emulator in a process of its own, for `scripts/bench`: the gateway under load must
//! not share its CPU and runtime with the platform it calls.
//!
//! `--users N` seeds N users (`bench-00000`, ...) through its own API. Prints one JSON line:
//! the API URL, the session token, the organization id, and a stats URL answering the number of
//! API requests served so far (the benchmark reads platform calls per request from it).

// A benchmark tool, not a request path: a failed setup step stops it with its message.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/args.rs"]
mod args;

use std::convert::Infallible;

use args::arg;
use scimgate::sandbox::coder::CoderEmulator;
use serde_json::json;
use tokio::net::TcpListener;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let users = arg("--users", 1000);
    let token = "benchbench-0123456789abcdefghijkl".to_owned();
    let emulator = CoderEmulator::new(token.clone());
    let api = TcpListener::bind("127.0.0.1:0").await.expect("bind api");
    let stats = TcpListener::bind("127.0.0.1:0").await.expect("bind stats");
    let url = format!("http://{}", api.local_addr().expect("addr"));
    let stats_url = format!("http://{}", stats.local_addr().expect("addr"));
    let serving = emulator.clone();
    tokio::spawn(async move { serving.serve(api, std::future::pending()).await });

    let counter = emulator.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = stats.accept().await else {
                continue;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let n = counter.request_count();
                    async move {
                        Ok::<_, Infallible>(hyper::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from(n.to_string()),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });

    let org = emulator.organization_id();
    let http = reqwest::Client::new();
    for i in 0..users {
        let made = http
            .post(format!("{url}/api/v2/users"))
            .header("Coder-Session-Token", &token)
            .json(&json!({
                "email": format!("bench-{i:05}@bench.example"),
                "username": format!("bench-{i:05}"),
                "name": format!("Bench User {i:05}"),
                "login_type": "oidc",
                "organization_ids": [org],
            }))
            .send()
            .await
            .expect("the emulator answers");
        assert_eq!(made.status().as_u16(), 201, "seeding bench-{i:05}");
    }
    println!(
        "{}",
        json!({"url": url, "token": token, "organization_id": org, "stats_url": stats_url})
    );
    std::future::pending::<()>().await;
}
