//! Transport-level behaviour: authentication, the root account, error families of unknown
//! routes, parameter sources, throttling and request counters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::{start, Auth, Body, TOKEN};

#[tokio::test]
async fn authentication_and_root_account() {
    let env = start().await;
    for auth in [
        Auth::None,
        Auth::PrivateToken("wrong"),
        Auth::Bearer("wrong"),
    ] {
        let r = env.send("GET", "/user", Body::None, auth).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json, json!({"message": "401 Unauthorized"}));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    for auth in [Auth::PrivateToken(TOKEN), Auth::Bearer(TOKEN)] {
        let r = env.send("GET", "/user", Body::None, auth).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["id"], 1);
        assert_eq!(r.json["username"], "root");
        assert_eq!(r.json["is_admin"], true);
        assert_eq!(r.json["state"], "active");
        assert_eq!(r.json["namespace_id"], 1);
    }
    let r = env
        .send(
            "GET",
            &format!("/user?private_token={TOKEN}"),
            Body::None,
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 200);
    // Using the API marks the token owner active today.
    let today = super::super::state::fmt_date(&super::super::state::today());
    assert_eq!(r.json["last_activity_on"], today);
    env.stop().await;
}

#[tokio::test]
async fn unknown_routes_use_the_error_family() {
    let env = start().await;
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/users/abc"),
        ("PATCH", "/users/1"),
        ("GET", "/users/1/block"),
    ] {
        let r = env.send(method, path, Body::None, Auth::None).await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.json, json!({"error": "404 Not Found"}));
    }
    let r = env
        .send(
            "GET",
            "/../api/v3/users",
            Body::None,
            Auth::PrivateToken(TOKEN),
        )
        .await;
    assert_eq!(r.status, 404);
    env.stop().await;
}

#[tokio::test]
async fn non_admin_and_blocked_tokens() {
    let env = start().await;
    let alice = env.create_user("alice").await;
    assert!(env.emu.add_token("alice-token", "alice"));
    assert!(!env.emu.add_token("x", "nobody"));
    let me = env
        .send(
            "GET",
            "/user",
            Body::None,
            Auth::PrivateToken("alice-token"),
        )
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["username"], "alice");
    assert!(me.json.get("is_admin").is_none());
    let list = env
        .send(
            "GET",
            "/users",
            Body::None,
            Auth::PrivateToken("alice-token"),
        )
        .await;
    assert_eq!(list.status, 200);
    let keys: Vec<&String> = list.json[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "username",
            "name",
            "state",
            "locked",
            "avatar_url",
            "web_url"
        ]
    );
    for (method, path) in [("POST", "/users"), ("GET", "/groups")] {
        let r = env
            .send(method, path, Body::None, Auth::PrivateToken("alice-token"))
            .await;
        assert_eq!(r.status, 403, "{method} {path}");
        assert_eq!(r.json, json!({"message": "403 Forbidden"}));
    }
    let r = env
        .call("POST", &format!("/users/{}/block", alice["id"]), None)
        .await;
    assert_eq!(r.status, 201);
    let r = env
        .send(
            "GET",
            "/user",
            Body::None,
            Auth::PrivateToken("alice-token"),
        )
        .await;
    assert_eq!(
        (r.status, r.json),
        (
            403,
            json!({"message": "403 Forbidden - Your account has been blocked."})
        )
    );
    env.stop().await;
}

#[tokio::test]
async fn params_from_query_form_and_json() {
    let env = start().await;
    let auth = Auth::PrivateToken(TOKEN);
    let q = env
        .send(
            "POST",
            "/users?email=q@example.com&username=quinn&name=Quinn&force_random_password=true",
            Body::None,
            auth,
        )
        .await;
    assert_eq!(q.status, 201, "{}", q.text);
    let f = env
        .send(
            "POST",
            "/users",
            Body::Form(&[
                ("email", "f@example.com"),
                ("username", "fay"),
                ("name", "Fay F"),
                ("reset_password", "true"),
                ("skip_confirmation", "1"),
            ]),
            auth,
        )
        .await;
    assert_eq!(f.status, 201, "{}", f.text);
    assert!(f.json["confirmed_at"].is_string());
    let bad = env
        .send(
            "POST",
            "/users",
            Body::Raw("application/json", "{\"email\":"),
            auth,
        )
        .await;
    assert_eq!(
        (bad.status, bad.json),
        (
            400,
            json!({"error": "message body does not match declared format"})
        )
    );
    let bad_bool = env
        .send(
            "GET",
            "/users?active=maybe&order_by=email",
            Body::None,
            auth,
        )
        .await;
    assert_eq!(
        bad_bool.json,
        json!({"error": "active is invalid, order_by does not have a valid value"})
    );
    env.stop().await;
}

#[tokio::test]
async fn throttling_hook() {
    let env = start().await;
    env.emu.throttle_next(2);
    for _ in 0..2 {
        // Throttling happens before authentication and routing.
        let r = env.send("GET", "/nope", Body::None, Auth::None).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.text, "Retry later\n");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(r.header("ratelimit-remaining"), Some("0"));
        assert_eq!(
            r.header("ratelimit-name"),
            Some("throttle_authenticated_api")
        );
        assert!(r.header("ratelimit-resettime").unwrap().ends_with(" GMT"));
    }
    assert_eq!(env.get("/user").await.status, 200);

    env.emu.throttle_next_for(1, Duration::from_secs(30));
    let r = env.get("/users").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("30"));
    let reset: u64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((now + 28..=now + 31).contains(&reset), "{reset} vs {now}");
    assert_eq!(env.get("/users").await.status, 200);
    env.stop().await;
}

#[tokio::test]
async fn request_counters() {
    let env = start().await;
    let u = env.create_user("alice").await;
    env.get("/users").await;
    env.get("/users?username=alice").await;
    env.call("POST", &format!("/users/{}/block", u["id"]), None)
        .await;
    env.send("GET", "/nope", Body::None, Auth::None).await;
    env.send("GET", "/users", Body::None, Auth::None).await;
    let counts = env.emu.request_counts();
    assert_eq!(counts.get("POST /api/v4/users"), Some(&1));
    assert_eq!(counts.get("GET /api/v4/users"), Some(&3));
    assert_eq!(counts.get("POST /api/v4/users/:id/block"), Some(&1));
    assert_eq!(counts.get("GET <unmatched>"), Some(&1));
    assert_eq!(env.emu.request_count(), 6);
    env.stop().await;
}
