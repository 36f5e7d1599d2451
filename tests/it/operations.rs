//! Operating the gateway: the metrics an IdP's lifecycle produces, readiness when the store
//! goes away, the management address and the JSON log of a real `scimgate serve`. (Readiness
//! when the platform goes away and comes back: `faults.rs`.) Each test runs in a process of
//! its own (nextest), so the process-wide metrics hold only its requests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use scimgate::demo::DemoOptions;
use serde_json::{json, Value};

use crate::processes::{serve_config, CODER_TOKEN};
use crate::support::{filter_query, patch_op, sample, user, Harness, TestDatabase};

#[tokio::test]
async fn an_idp_lifecycle_shows_in_the_metrics() {
    let h = Harness::start().await;
    // Okta's order: look the user up, create, read, deactivate, delete; plus a refusal.
    h.get(&format!("/Users?{}", filter_query("userName eq \"ann\"")))
        .await
        .expect(200);
    let made = h
        .post("/Users", user("ann", "ann@example.com"))
        .await
        .expect(201);
    let path = format!("/Users/{}", made["id"].as_str().unwrap());
    h.get(&path).await.expect(200);
    h.patch(
        &path,
        patch_op(json!([{"op": "replace", "value": {"active": false}}])),
    )
    .await
    .expect(200);
    h.delete(&path).await;
    h.get(&path).await.expect_error(404, None);
    let refused = h
        .call_as(
            "not-a-token-of-anyone-here",
            reqwest::Method::GET,
            &h.url("/Users"),
            None,
            &[],
        )
        .await;
    assert_eq!(refused.status, 401);
    // A tenant named in a URL by someone without its token: no label of it.
    let scanner = h
        .call_as(
            "not-a-token-of-anyone-here",
            reqwest::Method::GET,
            &format!("{}/scim/v2/evilcorp/Users", h.origin()),
            None,
            &[],
        )
        .await;
    assert_eq!(scanner.status, 401);
    // Beside SCIM, the metrics need an admin token and readiness tells only its status.
    let anonymous = h
        .http
        .get(format!("{}/metrics", h.origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let anonymous: Value = h
        .http
        .get(format!("{}/readyz", h.origin()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anonymous, json!({"status": "ready"}));

    let text = h.metrics().await;
    let requests = |resource: &str, operation: &str, status: u16| {
        let tenant = if status == 401 { "" } else { "default" };
        sample(
            &text,
            &format!(
                "scimgate_scim_requests_total{{tenant=\"{tenant}\",resource=\"{resource}\",operation=\"{operation}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(requests("Users", "list", 200), 1.0, "{text}");
    assert_eq!(requests("Users", "create", 201), 1.0, "{text}");
    assert_eq!(requests("Users", "get", 200), 1.0, "{text}");
    assert_eq!(requests("Users", "patch", 200), 1.0, "{text}");
    assert_eq!(requests("Users", "delete", 204), 1.0, "{text}");
    assert_eq!(requests("Users", "get", 404), 1.0, "{text}");
    // The refusals, with no tenant: a URL cannot make up label values.
    assert_eq!(requests("Users", "list", 401), 2.0, "{text}");
    assert!(!text.contains("evilcorp"), "{text}");
    assert_eq!(
        sample(
            &text,
            "scimgate_scim_request_duration_seconds_count{tenant=\"default\",resource=\"Users\",operation=\"get\"}"
        ),
        2.0,
        "{text}"
    );
    // No label holds an id or a name the IdP sent.
    let id = made["id"].as_str().unwrap();
    assert!(!text.contains(id) && !text.contains("ann"), "{text}");
    // The platform calls the lifecycle made, timed.
    let platform = |method: &str| {
        sample(
            &text,
            &format!("scimgate_platform_request_duration_seconds_count{{backend=\"default\",method=\"{method}\"}}"),
        )
    };
    assert!(platform("POST") >= 1.0, "{text}");
    assert!(platform("GET") >= 2.0, "{text}");
    assert!(platform("DELETE") >= 1.0, "{text}");
    // None failed (faults.rs checks these series by name when they do).
    assert_eq!(
        sample(
            &text,
            "scimgate_platform_errors_total{backend=\"default\",class=\"server_error\"}"
        ),
        0.0,
        "{text}"
    );
    // The store and the caches were used, and said so.
    assert!(
        sample(
            &text,
            "scimgate_store_operation_duration_seconds_count{operation=\"links.insert\"}"
        ) >= 1.0,
        "{text}"
    );
    let lookups: f64 = ["hit", "miss"]
        .iter()
        .map(|result| {
            sample(
                &text,
                &format!("scimgate_cache_lookups_total{{cache=\"tenant\",result=\"{result}\"}}"),
            )
        })
        .sum();
    assert!(lookups >= 1.0, "{text}");
    assert!(
        text.lines()
            .any(|l| l == "scimgate_scim_requests_in_flight 0"),
        "{text}"
    );
    h.demo.stop().await;
}

#[tokio::test]
async fn rate_limit_refusals_are_counted_by_limit() {
    let h = Harness::with(DemoOptions {
        rate_limits: scimgate::config::RateLimits {
            per_tenant: None,
            per_token: std::num::NonZeroU32::new(1),
        },
        ..Default::default()
    })
    .await;
    let mut refused = 0;
    for _ in 0..6 {
        if h.get("/Users?count=1").await.status == 429 {
            refused += 1;
        }
    }
    assert!(refused >= 1, "a burst of 2 at 1/s refuses some of 6");
    let text = h.metrics().await;
    assert_eq!(
        sample(
            &text,
            "scimgate_rate_limited_requests_total{tenant=\"default\",limit=\"token\"}"
        ),
        f64::from(refused),
        "{text}"
    );
    h.demo.stop().await;
}

#[tokio::test]
async fn readiness_fails_when_the_store_goes_away() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let h = Harness::with(DemoOptions {
        store_url: Some(db.url.clone()),
        ..Default::default()
    })
    .await;
    let (status, ready) = h.ready().await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    // The database dropped under the gateway (its connections ended).
    db.drop_now().await;
    // The last check is answered again for a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, ready) = h.ready().await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["store"]["ready"], false, "{ready}");
    assert!(ready["store"]["error"].as_str().is_some(), "{ready}");
    assert_eq!(ready["backends"]["default"]["ready"], true, "{ready}");
    h.demo.stop().await;
}

/// A child process killed when the test ends, failed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on the loopback (bound, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// Two workers: the emulator this test serves keeps answering while a probe process runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_address_serves_probes_and_metrics_apart_and_logs_are_json() {
    let emulator = scimgate::sandbox::coder::CoderEmulator::new(CODER_TOKEN.to_owned());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let coder_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(emulator.clone().serve(listener, std::future::pending()));
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("store.sqlite").display());
    let config = serve_config(
        dir.path(),
        &store,
        &[("default", &coder_url, &emulator.organization_id())],
    );
    let (scim_port, management_port) = (free_port(), free_port());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text = format!(
        "[server]\nlisten = \"127.0.0.1:{scim_port}\"\nmanagement_listen = \"127.0.0.1:{management_port}\"\n\n[log]\nformat = \"json\"\n\n{text}"
    );
    std::fs::write(&config, text).unwrap();
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_scimgate"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("SCIMGATE_LOG", "info")
            .env("IT_SCIM_TOKEN", crate::processes::SCIM_TOKEN)
            .env("IT_ADMIN_TOKEN", "admin-token-of-the-management-test")
            .env("IT_CODER_TOKEN", CODER_TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    // Every line is a JSON object; the start names both addresses.
    let mut started = false;
    let mut management_logged = false;
    while !(started && management_logged) {
        let line = seen
            .recv_timeout(Duration::from_secs(30))
            .expect("scimgate logs its start");
        let event: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        let message = event["fields"]["message"].as_str().unwrap_or_default();
        started |= message == "scimgate serving";
        management_logged |= message == "management address serving";
        assert!(
            event["level"].is_string() && event["timestamp"].is_string(),
            "{line}"
        );
    }
    let http = reqwest::Client::new();
    let at = |port: u16, path: &str| format!("http://127.0.0.1:{port}{path}");
    let status = |r: reqwest::Response| r.status().as_u16();
    for path in ["/info", "/docs/dialect/strict"] {
        let answer = http.get(at(management_port, path)).send().await.unwrap();
        assert_eq!(
            answer.status(),
            404,
            "{path} is not on the management address"
        );
    }
    for path in ["/healthz", "/readyz", "/metrics"] {
        let answer = http.get(at(management_port, path)).send().await.unwrap();
        assert!(
            answer.status().is_success(),
            "{path} on the management address"
        );
    }
    // Apart: not on the SCIM address (health stays on both), and nothing else there.
    assert_eq!(
        status(http.get(at(scim_port, "/readyz")).send().await.unwrap()),
        404
    );
    assert_eq!(
        status(http.get(at(scim_port, "/metrics")).send().await.unwrap()),
        404
    );
    assert_eq!(
        status(http.get(at(scim_port, "/healthz")).send().await.unwrap()),
        204
    );
    assert_eq!(
        status(
            http.get(at(management_port, "/scim/v2/Users"))
                .bearer_auth(crate::processes::SCIM_TOKEN)
                .send()
                .await
                .unwrap()
        ),
        404
    );
    assert_eq!(
        status(
            http.get(at(management_port, "/admin/v1/tenants"))
                .send()
                .await
                .unwrap()
        ),
        404
    );
    // A SCIM request on its address shows in the management address's metrics, and its log
    // line carries the request id.
    let answer = http
        .get(at(scim_port, "/scim/v2/Users"))
        .bearer_auth(crate::processes::SCIM_TOKEN)
        .header("x-request-id", "req-ops-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let metrics = http
        .get(at(management_port, "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        sample(
            &metrics,
            "scimgate_scim_requests_total{tenant=\"default\",resource=\"Users\",operation=\"list\",status=\"200\"}"
        ),
        1.0,
        "{metrics}"
    );
    // `scimgate probe`, the image's HEALTHCHECK: 0 on a 2xx, 1 otherwise.
    let probe = |url: String| {
        Command::new(env!("CARGO_BIN_EXE_scimgate"))
            .args(["probe", &url])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(probe(at(management_port, "/readyz")), Some(0));
    assert_eq!(probe(at(management_port, "/nothing-here")), Some(1));
    assert_eq!(
        probe(format!("http://127.0.0.1:{}/healthz", free_port())),
        Some(1)
    );
    // The admin API shows the configuration in force, where each value came from.
    let shown: Value = http
        .get(at(scim_port, "/admin/v1/config"))
        .bearer_auth("admin-token-of-the-management-test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let option = |key: &str| {
        shown["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no {key} in {shown}"))
    };
    assert_eq!(
        option("server.management_listen"),
        json!({"key": "server.management_listen", "value": format!("127.0.0.1:{management_port}"),
               "default": null, "env": "SCIMGATE__SERVER__MANAGEMENT_LISTEN", "source": "file"})
    );
    assert_eq!(option("cache.ttl_secs")["source"], "default");
    assert_eq!(option("backend.credential.env")["value"], "IT_CODER_TOKEN");
    assert!(!shown.to_string().contains(CODER_TOKEN), "{shown}");
    drop(child);
}

#[test]
fn config_show_lists_every_option_with_its_source_and_redacts() {
    let dir = tempfile::tempdir().unwrap();
    let config = serve_config(
        dir.path(),
        "postgres://scim:pa55word@db.internal/scimgate",
        &[("default", "https://coder.example.com", "org-1")],
    );
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
            .args(["config", "show", "--config"])
            .arg(&config)
            .args(args)
            .env("SCIMGATE__SERVER__REQUEST_TIMEOUT_SECS", "12")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let options: Vec<Value> = serde_json::from_str(&run(&["--json"])).unwrap();
    let option = |key: &str| {
        options
            .iter()
            .find(|o| o["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no {key}"))
    };
    assert_eq!(
        option("server.request_timeout_secs"),
        json!({"key": "server.request_timeout_secs", "value": 12, "default": 30,
               "env": "SCIMGATE__SERVER__REQUEST_TIMEOUT_SECS", "source": "env"})
    );
    assert_eq!(
        option("store.url")["value"],
        "postgres://scim:***@db.internal/scimgate"
    );
    assert_eq!(option("store.url")["source"], "file");
    assert_eq!(option("server.listen")["source"], "default");
    assert_eq!(option("backend.timeout_secs")["default"], 10);
    let table = run(&[]);
    assert!(table.starts_with("KEY"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("server.request_timeout_secs")
                && l.contains("SCIMGATE__SERVER__REQUEST_TIMEOUT_SECS")
                && l.trim_end().ends_with("env")),
        "{table}"
    );
    assert!(!table.contains("pa55word") && !run(&["--json"]).contains("pa55word"));
}
