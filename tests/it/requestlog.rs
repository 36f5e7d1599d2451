//! The request log (`[request_log]`, `GET /admin/v1/tenants/{t}/requests`, `scimgate
//! requests`): an IdP's requests with the platform calls each made, the bodies with secrets
//! and configured attributes masked, refused requests attributed to the token they named, and
//! the log held to its bounds.

use std::time::Duration;

use reqwest::Method;
use scimgate::demo::DemoOptions;
use serde_json::{json, Value};

use crate::support::{filter_query, patch_op, Harness};

/// The tenant's request log as the admin API answers it, with `query` (`status=4xx`, ...).
async fn admin_post(h: &Harness, path: &str, body: Value) -> Value {
    let response = h
        .http
        .post(format!("{}/admin/v1{path}", h.demo.admin_url))
        .bearer_auth(&h.demo.admin_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "POST {path}");
    response.json().await.unwrap_or(Value::Null)
}

async fn read_log(h: &Harness, query: &str) -> Value {
    crate::support::admin_get(h, &format!("/tenants/default/requests?{query}")).await
}

/// Waits until the writer has stored `want` entries (it writes in the background).
async fn logged(h: &Harness, want: u64) -> Value {
    for _ in 0..100 {
        let log = read_log(h, "count=1000").await;
        // The page and its total are two reads: a batch stored between them shows in the total
        // only, so the page itself is waited for.
        if log["entries"].as_array().unwrap().len() as u64 >= want {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "fewer than {want} entries logged: {}",
        read_log(h, "").await
    );
}

fn entry_of<'a>(log: &'a Value, method: &str, path_start: &str) -> &'a Value {
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == method && e["path"].as_str().unwrap().starts_with(path_start))
        .unwrap_or_else(|| panic!("no {method} {path_start} in {log}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idps_requests_are_logged_with_their_platform_calls_and_masked_bodies() {
    let mut options = DemoOptions::default();
    options.request_log.mask = vec!["phoneNumbers".into(), "name.familyName".into()];
    let h = Harness::with(options).await;
    let secrets = [
        "hunter2-first-password",
        "hunter3-patched-password",
        "Secretfamilyname",
        "555-0100-private-phone",
    ];
    let created = h
        .post(
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "logged.user",
                "password": secrets[0],
                "name": {"givenName": "Logged", "familyName": secrets[2]},
                "emails": [{"value": "logged.user@example.com", "primary": true}],
                "phoneNumbers": [{"value": secrets[3], "type": "work"}],
            }),
        )
        .await
        .expect(201);
    let id = created["id"].as_str().unwrap();
    h.patch(
        &format!("/Users/{id}"),
        patch_op(json!([
            {"op": "replace", "path": "password", "value": secrets[1]},
            {"op": "replace", "path": "active", "value": false}
        ])),
    )
    .await
    .expect(200);
    h.call_with(
        Method::GET,
        &format!("/Users?{}", filter_query("userName eq \"logged.user\"")),
        None,
        &[("x-request-id", "okta-lookup-1")],
    )
    .await
    .expect(200);
    // Refused: the tenant's own managed token, revoked (logged, named by its id), and a
    // made-up one and none at all (not logged: anyone can send those).
    let made = admin_post(&h, "/tenants/default/tokens", json!({"name": "okta"})).await;
    let (token_id, token) = (
        made["id"].as_str().unwrap(),
        made["token"].as_str().unwrap(),
    );
    h.call_as(token, Method::GET, &h.url("/Users"), None, &[])
        .await
        .expect(200);
    admin_post(
        &h,
        &format!("/tenants/default/tokens/{token_id}/revoke"),
        json!({}),
    )
    .await;
    h.call_as(
        token,
        Method::GET,
        &h.url("/Users?access_token=in-the-query"),
        None,
        &[],
    )
    .await
    .expect_error(401, None);
    let made_up = "sgt_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef";
    h.call_as(made_up, Method::GET, &h.url("/Users"), None, &[])
        .await
        .expect_error(401, None);
    let bare = h.http.get(h.url("/Groups")).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    // A body that is not JSON is not kept (its secrets could not be found).
    let raw = h
        .http
        .post(h.url("/Users"))
        .bearer_auth(&h.demo.token)
        .header("content-type", "application/scim+json")
        .body(format!("userName=x&password={}", secrets[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    // A tenant that does not exist has no log to fill.
    let nowhere = h
        .http
        .get(format!("{}/nowhere/Users", h.url("")))
        .bearer_auth(made_up)
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 401);

    let log = logged(&h, 6).await;
    let text = log.to_string();
    let token_secret = token.rsplit('_').next().unwrap();
    for secret in secrets.iter().copied().chain([
        h.demo.token.as_str(),
        h.demo.admin_token.as_str(),
        token_secret,
        "0123456789abcdef0123456789abcdef0123456789abcdef",
        "in-the-query",
    ]) {
        assert!(!text.contains(secret), "{secret} in the request log: {log}");
    }
    assert!(!text.contains("/nowhere"), "{log}");
    assert_eq!(log["total"], 6, "{log}");

    let create = entry_of(&log, "POST", "/scim/v2/Users");
    let create = if create["status"] == 201 {
        create
    } else {
        log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["method"] == "POST" && e["status"] == 201)
            .unwrap()
    };
    assert_eq!(create["token"], "demo");
    let sent: Value = serde_json::from_str(create["requestBody"].as_str().unwrap()).unwrap();
    assert_eq!(sent["password"], "***");
    assert_eq!(sent["name"]["familyName"], "***");
    assert_eq!(sent["name"]["givenName"], "Logged");
    assert_eq!(sent["phoneNumbers"], "***");
    assert_eq!(sent["userName"], "logged.user");
    let answered: Value = serde_json::from_str(create["responseBody"].as_str().unwrap()).unwrap();
    assert_eq!(answered["id"], id);
    assert_eq!(answered["name"]["familyName"], "***");
    // The platform calls the create made: the account created on the emulated Coder.
    let calls = create["calls"].as_array().unwrap();
    assert!(
        calls.iter().any(|c| c["method"] == "POST"
            && c["path"].as_str().unwrap().starts_with("/api/v2/")
            && c["status"] == 201
            && c["backend"] == "default"),
        "{create}"
    );

    // A PATCH runs on a task of its own: its calls are carried into its entry.
    let patch = entry_of(&log, "PATCH", &format!("/scim/v2/Users/{id}"));
    assert_eq!(patch["status"], 200);
    let ops: Value = serde_json::from_str(patch["requestBody"].as_str().unwrap()).unwrap();
    assert_eq!(ops["Operations"][0]["value"], "***");
    assert_eq!(ops["Operations"][1]["value"], false);
    assert!(
        patch["calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["method"] == "PUT" || c["method"] == "PATCH"),
        "{patch}"
    );

    let lookup = entry_of(&log, "GET", "/scim/v2/Users?filter=");
    assert_eq!(lookup["requestId"], "okta-lookup-1");
    assert!(
        lookup["responseBody"]
            .as_str()
            .unwrap()
            .contains("\"totalResults\":1"),
        "{lookup}"
    );

    // The refusal names the token presented, never its secret (nor one in the query).
    let refused = read_log(&h, "status=401").await;
    assert_eq!(refused["total"], 1, "{refused}");
    let entry = &refused["entries"][0];
    assert_eq!(entry["token"], format!("managed:{token_id}"));
    assert_eq!(entry["path"], "/scim/v2/Users?access_token=***");
    let accepted = read_log(&h, "status=200&method=GET").await;
    let accepted = entry_of(&accepted, "GET", "/scim/v2/Users");
    let accepted_token = accepted["token"].as_str().unwrap();
    assert!(
        accepted_token.starts_with(&format!("{token_id}:")),
        "{accepted}"
    );
    let not_json = entry_of(&read_log(&h, "status=400").await, "POST", "/scim/v2/Users").clone();
    assert!(
        not_json["requestBody"]
            .as_str()
            .unwrap()
            .contains("not JSON: not kept"),
        "{not_json}"
    );

    // Filters: one request by its id, by method, by a bad status.
    assert_eq!(read_log(&h, "requestId=okta-lookup-1").await["total"], 1);
    assert_eq!(read_log(&h, "method=patch").await["total"], 1);
    assert_eq!(read_log(&h, "since=10m&status=2xx").await["total"], 4);
    let bad = h
        .http
        .get(format!(
            "{}/admin/v1/tenants/default/requests?status=teapot",
            h.demo.admin_url
        ))
        .bearer_auth(&h.demo.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // The CLI prints the requests oldest first, each with its platform calls.
    let base = h.url("").replace("/scim/v2", "");
    let token = h.demo.admin_token.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"))
            .args([
                "requests",
                "--admin-url",
                &base,
                "--tenant",
                "default",
                "--since",
                "15m",
                "--bodies",
            ])
            .env("SCIMGATE_ADMIN_TOKEN", &token)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("201  POST   /scim/v2/Users"), "{printed}");
    assert!(printed.contains("-> POST /api/v2/"), "{printed}");
    assert!(
        printed.contains(&format!("token managed:{token_id}")),
        "{printed}"
    );
    assert!(printed.contains("\"password\": \"***\""), "{printed}");
    assert!(
        printed.contains("6 of 6 matching requests shown"),
        "{printed}"
    );
    for secret in secrets.into_iter().chain([token_secret]) {
        assert!(!printed.contains(secret), "{secret}: {printed}");
    }
    let created_at = printed.find("201  POST").unwrap();
    let refused_at = printed.find("token managed:").unwrap();
    assert!(created_at < refused_at, "oldest first: {printed}");
    h.demo.stop().await;
}

#[tokio::test]
async fn the_request_log_keeps_to_its_count_and_body_size() {
    let mut options = DemoOptions::default();
    options.request_log.max_entries_per_tenant = 5;
    options.request_log.max_body_bytes = 64;
    let h = Harness::with(options).await;
    let made = h
        .post(
            "/Users",
            crate::support::user("bounded.user", "bounded.user@example.com"),
        )
        .await
        .expect(201);
    for _ in 0..20 {
        h.get(&format!("/Users/{}", made["id"].as_str().unwrap()))
            .await
            .expect(200);
    }
    // The newest 5 stay: pruned after each batch the writer stores.
    let mut log = read_log(&h, "count=1000").await;
    for _ in 0..100 {
        let newest_is_last_get = log["entries"][0]["method"] == "GET";
        if log["total"] == 5 && newest_is_last_get {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        log = read_log(&h, "count=1000").await;
    }
    assert_eq!(log["total"], 5, "{log}");
    let body = log["entries"][0]["responseBody"].as_str().unwrap();
    assert!(body.len() < 64 + 40, "{body}");
    assert!(body.contains("bytes in all)"), "{body}");
    h.demo.stop().await;
}

#[tokio::test]
async fn with_the_log_off_nothing_is_logged_and_the_api_says_so() {
    let mut options = DemoOptions::default();
    options.request_log.enabled = false;
    let h = Harness::with(options).await;
    h.get("/Users").await.expect(200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = read_log(&h, "").await;
    assert_eq!(log["total"], 0, "{log}");
    assert_eq!(log["logging"], false);
    h.demo.stop().await;
}
