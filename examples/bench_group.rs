//! Membership PATCH on a large group through scimgate (release build): one member added and one
//! removed on a group of N members, repeated; prints the time per PATCH and the Coder calls it
//! made. Run with `cargo run --release --example bench_group -- [--members N] [--patches K]`.

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
use serde_json::{json, Value};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let members = arg("--members", 10_000);
    let patches = arg("--patches", 20).max(1);
    let d = demo::start(DemoOptions {
        max_scan: members * 2,
        ..Default::default()
    })
    .await
    .expect("demo");
    let http = reqwest::Client::new();
    let org = d.emulator.organization_id();
    // Platform accounts made directly on the (emulated) platform, 32 at a time.
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = Vec::new();
    for i in 0..members + patches {
        let (http, url, token, org, sem) = (
            http.clone(),
            d.emulator_url.clone(),
            d.emulator_token.clone(),
            org.clone(),
            sem.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            http.post(format!("{url}/api/v2/users"))
                .header("Coder-Session-Token", token)
                .json(&json!({"email": format!("m{i}@example.com"), "username": format!("m{i}"), "login_type": "oidc", "organization_ids": [org]}))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap_or(false), "platform user creation failed");
    }
    // The gateway links them when it lists them.
    let mut ids = Vec::with_capacity(members + patches);
    let mut start = 1;
    loop {
        let page: Value = http
            .get(format!(
                "{}/Users?startIndex={start}&count=200&attributes=userName",
                d.scim_url
            ))
            .bearer_auth(&d.token)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        let items = page["Resources"].as_array().cloned().unwrap_or_default();
        for u in &items {
            if u["userName"].as_str().is_some_and(|n| n.starts_with('m')) {
                ids.push(u["id"].as_str().unwrap_or_default().to_owned());
            }
        }
        if items.len() < 200 {
            break;
        }
        start += 200;
    }
    assert!(ids.len() >= members + patches, "linked {} users", ids.len());
    let (group_ids, spare) = ids.split_at(members);
    let body = json!({"displayName": "Everyone Big", "members": group_ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()});
    let t = Instant::now();
    let group: Value = http
        .post(format!("{}/Groups", d.scim_url))
        .bearer_auth(&d.token)
        .json(&body)
        .send()
        .await
        .expect("create group")
        .json()
        .await
        .expect("json");
    println!(
        "POST /Groups with {members} members: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let group_id = group["id"].as_str().expect("group id").to_owned();
    let mut times: Vec<Duration> = Vec::new();
    let calls_before = d.emulator.request_count();
    for (i, add) in spare.iter().take(patches).enumerate() {
        let remove = &group_ids[i];
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": add}]},
                {"op": "remove", "path": format!("members[value eq \"{remove}\"]")}
            ]
        });
        let t = Instant::now();
        let r = http
            .patch(format!(
                "{}/Groups/{group_id}?excludedAttributes=members",
                d.scim_url
            ))
            .bearer_auth(&d.token)
            .json(&patch)
            .send()
            .await
            .expect("patch");
        assert!(r.status().is_success(), "PATCH answered {}", r.status());
        let _ = r.bytes().await;
        times.push(t.elapsed());
    }
    let calls = d.emulator.request_count() - calls_before;
    times.sort();
    println!(
        "one-member PATCH on a {members}-member group, {patches} times: p50 {:.1} ms, max {:.1} ms, {:.1} Coder calls per PATCH",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        calls as f64 / patches as f64
    );
    d.stop().await;
}
