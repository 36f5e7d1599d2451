//! Loopback benchmark: `GET /Users/{id}` through scimgate next to the same read on the Coder
//! emulator directly, with the gateway's cache on and off, and (cache on) at a tenant's URL
//! with a managed token, which is looked up in the SQLite store on every request. Prints
//! requests/s, p50 and p99.
//!
//! Run with `./scripts/bench` (release build). Options: `--requests N` (per scenario, default
//! 20000), `--concurrency C` (default 16).

// A benchmark tool, not a request path: a failed setup step stops it with its message.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

#[path = "common/args.rs"]
mod args;

use args::arg;
use scimgate::demo::{self, DemoOptions};
use serde_json::json;

struct Figures {
    name: &'static str,
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

impl Figures {
    fn print(&mut self) {
        self.latencies.sort();
        println!(
            "{:<34} {:>8} req  {:>10.0} req/s  p50 {:>8.3} ms  p99 {:>8.3} ms  errors {}",
            self.name,
            self.requests,
            self.requests as f64 / self.elapsed.as_secs_f64(),
            percentile(&self.latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&self.latencies, 0.99).as_secs_f64() * 1e3,
            self.errors,
        );
    }
}

async fn load(
    name: &'static str,
    url: String,
    header: (&'static str, String),
    requests: usize,
    concurrency: usize,
) -> Figures {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    // Warm the connections and caches.
    for _ in 0..concurrency * 4 {
        let _ = client.get(&url).header(header.0, &header.1).send().await;
    }
    let started = Instant::now();
    let per_worker = requests / concurrency;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.clone();
        let header = header.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            let mut errors = 0;
            for _ in 0..per_worker {
                let t = Instant::now();
                match client.get(&url).header(header.0, &header.1).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => errors += 1,
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("worker");
        latencies.extend(l);
        errors += e;
    }
    Figures {
        name,
        requests: per_worker * concurrency,
        elapsed: started.elapsed(),
        latencies,
        errors,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let requests = arg("--requests", 20_000);
    let concurrency = arg("--concurrency", 16).max(1);
    println!(
        "GET one user, {requests} requests per scenario, {concurrency} concurrent connections, loopback, {} cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    for (label, ttl) in [
        ("cache on (30 s TTL)", Duration::from_secs(30)),
        ("cache off", Duration::ZERO),
    ] {
        let d = demo::start(DemoOptions {
            cache_ttl: ttl,
            extra_backends: vec!["second".to_owned()],
            ..Default::default()
        })
        .await
        .expect("demo");
        let http = reqwest::Client::new();
        let created: serde_json::Value = http
            .post(format!("{}/Users", d.scim_url))
            .bearer_auth(&d.token)
            .json(&json!({"userName": "bench@example.com", "emails": [{"value": "bench@example.com", "primary": true}], "displayName": "Bench"}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        let id = created["id"].as_str().expect("id").to_owned();
        let coder = d.emulator.user_json("bench").expect("coder user");
        let coder_id = coder["id"].as_str().expect("coder id").to_owned();
        println!("-- {label}");
        load(
            "emulated Coder directly",
            format!("{}/api/v2/users/{coder_id}", d.emulator_url),
            ("Coder-Session-Token", d.emulator_token.clone()),
            requests,
            concurrency,
        )
        .await
        .print();
        load(
            "through scimgate",
            format!("{}/Users/{id}", d.scim_url),
            ("Authorization", format!("Bearer {}", d.token)),
            requests,
            concurrency,
        )
        .await
        .print();
        if !ttl.is_zero() {
            let (url, token) = tenant_user(&http, &d).await;
            load(
                "scimgate, tenant + managed token",
                url,
                ("Authorization", format!("Bearer {token}")),
                requests,
                concurrency,
            )
            .await
            .print();
        }
        d.stop().await;
    }
}

/// A tenant on the demo's second backend, a managed token of it, and a user made through it:
/// the user's URL and the token.
async fn tenant_user(http: &reqwest::Client, d: &demo::Demo) -> (String, String) {
    let admin = |path: &str| format!("{}/admin/v1{path}", d.admin_url);
    let json = |r: reqwest::Response| async move {
        r.json::<serde_json::Value>().await.expect("admin answer")
    };
    http.post(admin("/tenants"))
        .bearer_auth(&d.admin_token)
        .json(&json!({"id": "bench", "backend": "second"}))
        .send()
        .await
        .expect("tenant");
    let made = json(
        http.post(admin("/tenants/bench/tokens"))
            .bearer_auth(&d.admin_token)
            .json(&json!({"name": "bench"}))
            .send()
            .await
            .expect("token"),
    )
    .await;
    let token = made["token"].as_str().expect("secret").to_owned();
    let base = format!("{}/bench", d.scim_url);
    let user = json(
        http.post(format!("{base}/Users"))
            .bearer_auth(&token)
            .json(&json!({"userName": "tenant-bench@example.com", "emails": [{"value": "tenant-bench@example.com", "primary": true}]}))
            .send()
            .await
            .expect("user"),
    )
    .await;
    let id = user["id"].as_str().expect("id");
    (format!("{base}/Users/{id}"), token)
}
