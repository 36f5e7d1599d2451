//! End-to-end tests of the Coder emulator over real HTTP on loopback.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::CoderEmulator;

const TOKEN: &str = "abcdefghij-0123456789abcdefghijkl";
const SIGNED_OUT: &str =
    "You are signed out or your session has expired. Please sign in again to continue.";

struct Env {
    emu: CoderEmulator,
    base: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start() -> Env {
    start_with(TOKEN).await
}

async fn start_with(token: &str) -> Env {
    let emu = CoderEmulator::new(token);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(emu.clone().serve(listener, async move {
        let _ = rx.await;
    }));
    Env {
        emu,
        base: format!("http://{addr}/api/v2"),
        client: reqwest::Client::new(),
        stop: Some(tx),
        server,
    }
}

impl Env {
    async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.header("Coder-Session-Token", t);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON body {text:?}: {e}"))
        };
        (status, value)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string());
        self.raw(method, path, body.as_deref(), Some(TOKEN)).await
    }

    fn org(&self) -> String {
        self.emu.organization_id()
    }

    async fn create_user(&self, username: &str) -> Value {
        let (status, body) = self
            .call(
                "POST",
                "/users",
                Some(json!({
                    "email": format!("{username}@example.com"),
                    "username": username,
                    "name": format!("User {username}"),
                    "login_type": "oidc",
                    "organization_ids": [self.org()],
                })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn create_group(&self, name: &str) -> Value {
        let (status, body) = self
            .call(
                "POST",
                &format!("/organizations/{}/groups", self.org()),
                Some(json!({"name": name, "display_name": "Display"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let res = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        assert!(matches!(res, Ok(Ok(Ok(())))), "server did not stop cleanly");
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn member_names(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn create_user_is_dormant_with_full_shape() {
    let env = start().await;
    let u = env.create_user("alice").await;
    assert_eq!(u["status"], "dormant");
    assert_eq!(u["username"], "alice");
    assert_eq!(u["name"], "User alice");
    assert_eq!(u["email"], "alice@example.com");
    assert_eq!(u["login_type"], "oidc");
    assert_eq!(u["roles"], json!([]));
    assert_eq!(u["organization_ids"], json!([env.org()]));
    assert_eq!(u["last_seen_at"], "0001-01-01T00:00:00Z");
    assert_eq!(u["is_service_account"], false);
    assert_eq!(u["has_ai_seat"], false);
    assert_eq!(u["avatar_url"], "");
    assert_eq!(u["theme_preference"], "");
    let created = u["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z'), "{created}");
    assert_eq!(uuid::Uuid::parse_str(&id(&u)).unwrap().get_version_num(), 4);

    // user_status active accepted; the nil organization id means the default org.
    let (status, b) = env
        .call(
            "POST",
            "/users",
            Some(
                json!({"email": "bob@example.com", "username": "bob", "login_type": "none",
                        "user_status": "active",
                        "organization_ids": ["00000000-0000-0000-0000-000000000000"]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["status"], "active");
    assert_eq!(b["organization_ids"], json!([env.org()]));
    env.stop().await;
}

#[tokio::test]
async fn create_user_conflicts_and_validation() {
    let env = start().await;
    env.create_user("alice").await;
    let org = env.org();
    // Username clash (case-insensitive).
    let (s, b) = env
        .call("POST", "/users", Some(json!({"email": "other@example.com", "username": "ALICE", "login_type": "oidc", "organization_ids": [org]})))
        .await;
    assert_eq!((s, b), (409, json!({"message": "User already exists."})));
    // Email clash.
    let (s, b) = env
        .call("POST", "/users", Some(json!({"email": "Alice@Example.com", "username": "alice2", "login_type": "oidc", "organization_ids": [org]})))
        .await;
    assert_eq!(
        (s, b["message"].clone()),
        (409, json!("User already exists."))
    );
    // Bad username.
    for bad in ["bad_name", "-lead", "trail-", "dou--ble", &"x".repeat(33)] {
        let (s, b) = env
            .call("POST", "/users", Some(json!({"email": "x@example.com", "username": bad, "login_type": "oidc", "organization_ids": [org]})))
            .await;
        assert_eq!(s, 400, "{bad}: {b}");
        assert_eq!(b["message"], "Validation failed.");
        assert_eq!(b["validations"][0]["field"], "username");
    }
    // Missing email and username.
    let (s, b) = env
        .call("POST", "/users", Some(json!({"organization_ids": [org]})))
        .await;
    assert_eq!(s, 400);
    let fields: Vec<&str> = b["validations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["email", "username"]);
    assert_eq!(
        b["validations"][0]["detail"],
        "Validation failed for tag \"required\" with value: \"\""
    );
    // Empty organization_ids.
    let (s, b) = env
        .call("POST", "/users", Some(json!({"email": "c@example.com", "username": "carol", "login_type": "oidc", "organization_ids": []})))
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!({
            "message": "No organization specified to place the user as a member of. It is required to specify at least one organization id to place the user in.",
            "detail": "required at least 1 value for the array 'organization_ids'",
            "validations": [{"field": "organization_ids", "detail": "Missing values, this cannot be empty"}]
        })
    );
    // Unknown organization.
    let unknown = uuid::Uuid::new_v4().to_string();
    let (s, b) = env
        .call("POST", "/users", Some(json!({"email": "c@example.com", "username": "carol", "login_type": "oidc", "organization_ids": [unknown]})))
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        b["message"],
        format!("Organization does not exist with the provided id \"{unknown}\".")
    );
    // Password rules.
    let (s, b) = env
        .call("POST", "/users", Some(json!({"email": "c@example.com", "username": "carol", "password": "short", "organization_ids": [org]})))
        .await;
    assert_eq!(
        (s, b["message"].clone()),
        (400, json!("Password not strong enough!"))
    );
    assert_eq!(b["validations"][0]["field"], "password");
    let (s, b) = env
        .call("POST", "/users", Some(json!({"email": "c@example.com", "username": "carol", "password": "longenough", "organization_ids": [org]})))
        .await;
    assert_eq!((s, b["login_type"].clone()), (201, json!("password")));
    let (s, b) = env
        .call("POST", "/users", Some(json!({"email": "d@example.com", "username": "dave", "password": "longenough", "login_type": "oidc", "organization_ids": [org]})))
        .await;
    assert_eq!(
        (s, b["message"].clone()),
        (
            400,
            json!("Password cannot be set for non-password (\"oidc\") authentication.")
        )
    );
    let (s, b) = env
        .call("POST", "/users", Some(json!({"email": "d@example.com", "username": "dave", "login_type": "token", "organization_ids": [org]})))
        .await;
    assert_eq!(
        (s, b["message"].clone()),
        (
            400,
            json!("Unsupported login type \"token\" for manually creating new users.")
        )
    );
    // Malformed JSON.
    let (s, b) = env
        .raw("POST", "/users", Some("{not json"), Some(TOKEN))
        .await;
    assert_eq!(s, 400);
    assert_eq!(b["message"], "Request body must be valid JSON.");
    assert!(b["detail"].is_string());
    env.stop().await;
}

#[tokio::test]
async fn get_user_by_id_username_and_me() {
    let env = start().await;
    let u = env.create_user("alice").await;
    let (s, by_id) = env.call("GET", &format!("/users/{}", id(&u)), None).await;
    assert_eq!(s, 200);
    assert_eq!(by_id, u);
    let (s, by_name) = env.call("GET", "/users/ALICE", None).await;
    assert_eq!((s, by_name), (200, u.clone()));
    let (s, me) = env.call("GET", "/users/me", None).await;
    assert_eq!(s, 200);
    assert_eq!(me["username"], "admin");
    assert_eq!(me["email"], "admin@coder.example");
    assert_eq!(me["status"], "active");
    assert_eq!(
        me["roles"],
        json!([{"name": "owner", "display_name": "Owner", "organization_id": ""}])
    );
    let (s, b) = env.call("GET", "/users/nobody", None).await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!({"message": "\"user\" must be an existing uuid or username.", "detail": "queried user=\"nobody\""})
    );
    let (s, _) = env
        .call("GET", &format!("/users/{}", uuid::Uuid::new_v4()), None)
        .await;
    assert_eq!(s, 400);
    env.stop().await;
}

#[tokio::test]
async fn search_query_language() {
    let env = start().await;
    env.create_user("alice").await;
    env.create_user("bob").await;
    let carol = env.create_user("carol").await;
    env.emu.set_user_status(&id(&carol), "suspended");
    let names = |b: &Value| -> Vec<String> {
        b["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, b) = env.call("GET", "/users", None).await;
    assert_eq!(s, 200);
    assert_eq!(names(&b), vec!["admin", "alice", "bob", "carol"]);
    assert_eq!(b["count"], 4);
    // Substring on username or email, case-insensitive.
    let (_, b) = env.call("GET", "/users?q=LIC", None).await;
    assert_eq!(names(&b), vec!["alice"]);
    let (_, b) = env.call("GET", "/users?q=example.com", None).await;
    assert_eq!(names(&b), vec!["alice", "bob", "carol"]);
    let (_, b) = env.call("GET", "/users?q=bob%40example.com", None).await;
    assert_eq!(names(&b), vec!["bob"]);
    // Status keys, repeatable.
    let (_, b) = env.call("GET", "/users?q=status:suspended", None).await;
    assert_eq!(names(&b), vec!["carol"]);
    let (_, b) = env
        .call("GET", "/users?q=status%3Aactive%20status%3Asuspended", None)
        .await;
    assert_eq!(names(&b), vec!["admin", "carol"]);
    let (_, b) = env
        .call("GET", "/users?q=example%20status:dormant", None)
        .await;
    assert_eq!(names(&b), vec!["alice", "bob"]);
    // Roles, login types, names.
    let (_, b) = env.call("GET", "/users?q=role:owner", None).await;
    assert_eq!(names(&b), vec!["admin"]);
    let (_, b) = env.call("GET", "/users?q=role:member", None).await;
    assert_eq!(b["count"], 4);
    let (_, b) = env.call("GET", "/users?q=login_type:password", None).await;
    assert_eq!(names(&b), vec!["admin"]);
    let (_, b) = env
        .call("GET", "/users?q=name:%22user%20bob%22", None)
        .await;
    assert_eq!(names(&b), vec!["bob"]);
    let (_, b) = env
        .call(
            "GET",
            "/users?q=created_after:%222000-01-01T00:00:00Z%22",
            None,
        )
        .await;
    assert_eq!(b["count"], 4);
    // Errors.
    let (s, b) = env.call("GET", "/users?q=foo:bar", None).await;
    assert_eq!(s, 400);
    assert_eq!(b["message"], "Invalid user search query.");
    assert_eq!(
        b["validations"],
        json!([{"field": "foo", "detail": "\"foo\" is not a valid query param"}])
    );
    let (s, b) = env.call("GET", "/users?q=status:", None).await;
    assert_eq!(s, 400);
    assert_eq!(
        b["validations"][0]["detail"],
        "Query element \"status:\" cannot start or end with ':'"
    );
    // Unquoted timestamps have more than one ':' (as in the real parser).
    let (s, b) = env
        .call("GET", "/users?q=created_after:2000-01-01T00:00:00Z", None)
        .await;
    assert_eq!((s, b["validations"][0]["field"].clone()), (400, json!("q")));
    let (s, b) = env.call("GET", "/users?q=status:bogus", None).await;
    assert_eq!(
        (s, b["validations"][0]["field"].clone()),
        (400, json!("status"))
    );
    env.stop().await;
}

#[tokio::test]
async fn pagination() {
    let env = start().await;
    for n in ["u3", "u1", "u5", "u2", "u4"] {
        env.create_user(n).await;
    }
    let names = |b: &Value| -> Vec<String> {
        b["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, b) = env.call("GET", "/users?q=example.com&limit=2", None).await;
    assert_eq!(
        (names(&b), b["count"].clone()),
        (vec!["u1".to_string(), "u2".to_string()], json!(5))
    );
    let (_, b) = env
        .call("GET", "/users?q=example.com&limit=2&offset=2", None)
        .await;
    assert_eq!(
        (names(&b), b["count"].clone()),
        (vec!["u3".to_string(), "u4".to_string()], json!(5))
    );
    let (_, b) = env
        .call("GET", "/users?q=example.com&limit=2&offset=4", None)
        .await;
    assert_eq!(
        (names(&b), b["count"].clone()),
        (vec!["u5".to_string()], json!(5))
    );
    // Past the end the window-function count is lost: count 0.
    let (_, b) = env
        .call("GET", "/users?q=example.com&limit=2&offset=10", None)
        .await;
    assert_eq!((names(&b).len(), b["count"].clone()), (0, json!(0)));
    // Keyset cursor.
    let u2 = env.emu.user_json("u2").unwrap();
    let (_, b) = env
        .call(
            "GET",
            &format!("/users?q=example.com&after_id={}", id(&u2)),
            None,
        )
        .await;
    assert_eq!(names(&b), vec!["u3", "u4", "u5"]);
    assert_eq!(b["count"], 3);
    let (s, b) = env.call("GET", "/users?limit=-1", None).await;
    assert_eq!(
        (s, b["message"].clone()),
        (400, json!("Query parameters have invalid values."))
    );
    env.stop().await;
}

#[tokio::test]
async fn profile_update() {
    let env = start().await;
    let a = env.create_user("alice").await;
    env.create_user("bob").await;
    let path = format!("/users/{}/profile", id(&a));
    let (s, b) = env
        .call("PUT", &path, Some(json!({"name": "Only Name"})))
        .await;
    assert_eq!(s, 400);
    assert_eq!(b["message"], "Validation failed.");
    assert_eq!(b["validations"][0]["field"], "username");
    let (s, b) = env
        .call("PUT", &path, Some(json!({"username": "Bob", "name": "x"})))
        .await;
    assert_eq!(s, 409);
    assert_eq!(
        b,
        json!({"message": "A user with this username already exists.",
               "validations": [{"field": "username", "detail": "This username is already in use."}]})
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (s, b) = env
        .call("PUT", &path, Some(json!({"username": "alice2", "name": "Alice L.", "email": "new@example.com", "avatar_url": "https://a/b.png"})))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["username"], "alice2");
    assert_eq!(b["name"], "Alice L.");
    assert_eq!(b["email"], "alice@example.com");
    assert_eq!(b["avatar_url"], "https://a/b.png");
    assert_ne!(b["updated_at"], a["updated_at"]);
    let (s, _) = env.call("GET", "/users/alice", None).await;
    assert_eq!(s, 400);
    let (s, _) = env.call("GET", "/users/alice2", None).await;
    assert_eq!(s, 200);
    // Same username (own) is fine.
    let (s, _) = env
        .call(
            "PUT",
            &path,
            Some(json!({"username": "alice2", "name": "Alice"})),
        )
        .await;
    assert_eq!(s, 200);
    env.stop().await;
}

#[tokio::test]
async fn suspend_activate_and_guards() {
    let env = start().await;
    let a = env.create_user("alice").await;
    let (s, b) = env.call("PUT", "/users/alice/status/suspend", None).await;
    assert_eq!(
        (s, b["status"].clone(), b["id"].clone()),
        (200, json!("suspended"), a["id"].clone())
    );
    let (s, b) = env
        .call("PUT", &format!("/users/{}/status/activate", id(&a)), None)
        .await;
    assert_eq!((s, b["status"].clone()), (200, json!("active")));
    let (s, b) = env.call("PUT", "/users/me/status/suspend", None).await;
    assert_eq!(
        (s, b),
        (400, json!({"message": "You cannot suspend yourself."}))
    );
    // Owners cannot be suspended.
    let (s, b) = env
        .call(
            "PUT",
            "/users/alice/roles",
            Some(json!({"roles": ["owner", "member"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        b["roles"],
        json!([{"name": "owner", "display_name": "Owner", "organization_id": ""}])
    );
    let (s, b) = env.call("PUT", "/users/alice/status/suspend", None).await;
    assert_eq!(s, 400);
    assert_eq!(
        b["message"],
        "You cannot suspend a user with the \"owner\" role. You must remove the role first."
    );
    let (s, b) = env.call("GET", "/users/alice/roles", None).await;
    assert_eq!(s, 200);
    assert_eq!(b["roles"], json!(["owner"]));
    assert_eq!(b["organization_roles"][env.org()], json!([]));
    let (s, _) = env
        .call("PUT", "/users/alice/roles", Some(json!({"roles": []})))
        .await;
    assert_eq!(s, 200);
    let (s, _) = env.call("PUT", "/users/alice/status/suspend", None).await;
    assert_eq!(s, 200);
    let (s, b) = env
        .call("PUT", "/users/me/roles", Some(json!({"roles": []})))
        .await;
    assert_eq!(
        (s, b["message"].clone()),
        (400, json!("You cannot change your own roles."))
    );
    // Out-of-band status change is visible.
    assert!(env.emu.set_user_status("alice", "dormant"));
    assert!(!env.emu.set_user_status("alice", "weird"));
    let (_, b) = env.call("GET", "/users/alice", None).await;
    assert_eq!(b["status"], "dormant");
    env.stop().await;
}

#[tokio::test]
async fn soft_delete() {
    let env = start().await;
    let a = env.create_user("alice").await;
    let g = env.create_group("eng").await;
    let (s, _) = env
        .call(
            "PATCH",
            &format!("/groups/{}", id(&g)),
            Some(json!({"add_users": [id(&a)]})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = env.call("DELETE", "/users/alice", None).await;
    assert_eq!((s, b), (200, json!({"message": "User has been deleted!"})));
    let (s, b) = env.call("GET", "/users/alice", None).await;
    assert_eq!(
        (s, b["message"].clone()),
        (400, json!("\"user\" must be an existing uuid or username."))
    );
    let (s, b) = env.call("GET", &format!("/users/{}", id(&a)), None).await;
    assert_eq!((s, b["username"].clone()), (200, json!("alice")));
    let (_, b) = env.call("GET", "/users?q=alice", None).await;
    assert_eq!(b["count"], 0);
    // Group membership is gone.
    let (_, b) = env.call("GET", &format!("/groups/{}", id(&g)), None).await;
    assert_eq!(b["total_member_count"], 0);
    assert_eq!(env.emu.user_json(&id(&a)).unwrap()["deleted"], true);
    assert_eq!(env.emu.user_json("alice").unwrap()["deleted"], true);
    // Username and email are reusable.
    let a2 = env.create_user("alice").await;
    assert_ne!(id(&a2), id(&a));
    assert_eq!(env.emu.user_json("alice").unwrap()["id"], a2["id"]);
    let (s, b) = env.call("DELETE", "/users/me", None).await;
    assert_eq!(
        (s, b),
        (403, json!({"message": "You cannot delete yourself!"}))
    );
    env.stop().await;
}

#[tokio::test]
async fn groups_lifecycle() {
    let env = start().await;
    let org = env.org();
    let a = env.create_user("alice").await;
    let b = env.create_user("bob").await;
    let g = env.create_group("engineering").await;
    assert_eq!(g["name"], "engineering");
    assert_eq!(g["display_name"], "Display");
    assert_eq!(g["organization_id"], json!(org));
    assert_eq!(g["organization_name"], "coder");
    assert_eq!(g["organization_display_name"], "Coder");
    assert_eq!(g["members"], json!([]));
    assert_eq!(g["total_member_count"], 0);
    assert_eq!(g["source"], "user");
    let gpath = format!("/groups/{}", id(&g));
    // Duplicate, bad and reserved names.
    let (s, body) = env
        .call(
            "POST",
            &format!("/organizations/{org}/groups"),
            Some(json!({"name": "engineering"})),
        )
        .await;
    assert_eq!(
        (s, body["message"].clone()),
        (409, json!("A group named \"engineering\" already exists."))
    );
    let (s, body) = env
        .call(
            "POST",
            "/organizations/coder/groups",
            Some(json!({"name": "bad name"})),
        )
        .await;
    assert_eq!(
        (s, body["validations"][0]["field"].clone()),
        (400, json!("name"))
    );
    let (s, _) = env
        .call(
            "POST",
            "/organizations/coder/groups",
            Some(json!({"name": "Everyone"})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, body) = env
        .call(
            "POST",
            "/organizations/nope/groups",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (s, body["message"].clone()),
        (
            404,
            json!("Resource not found or you do not have access to this resource")
        )
    );
    // Add members.
    let (s, body) = env
        .call(
            "PATCH",
            &gpath,
            Some(json!({"add_users": [id(&a), id(&b)]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(member_names(&body), vec!["alice", "bob"]);
    assert_eq!(body["total_member_count"], 2);
    assert_eq!(body["members"][0]["email"], "alice@example.com");
    assert_eq!(body["members"][0]["status"], "dormant");
    // Adding a current member fails as a whole.
    let c = env.create_user("carol").await;
    let (s, body) = env
        .call(
            "PATCH",
            &gpath,
            Some(json!({"add_users": [id(&c), id(&a)]})),
        )
        .await;
    assert_eq!(
        (s, body["message"].clone()),
        (400, json!("Cannot add the same user to a group twice!"))
    );
    let (_, body) = env.call("GET", &gpath, None).await;
    assert_eq!(body["total_member_count"], 2);
    // Invalid and non-member ids.
    let (s, body) = env
        .call("PATCH", &gpath, Some(json!({"add_users": ["alice"]})))
        .await;
    assert_eq!(
        (s, body["message"].clone()),
        (400, json!("ID \"alice\" must be a valid user UUID."))
    );
    let stranger = uuid::Uuid::new_v4().to_string();
    let (s, body) = env
        .call("PATCH", &gpath, Some(json!({"add_users": [stranger]})))
        .await;
    assert_eq!(s, 400);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("User must be a member of organization"));
    // Remove, rename, pointer fields.
    let (s, body) = env
        .call("PATCH", &gpath, Some(json!({"remove_users": [id(&a), id(&c)], "name": "eng", "display_name": null, "quota_allowance": 5})))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(member_names(&body), vec!["bob"]);
    assert_eq!(body["name"], "eng");
    assert_eq!(body["display_name"], "Display");
    assert_eq!(body["quota_allowance"], 5);
    let (s, body) = env
        .call(
            "PATCH",
            &gpath,
            Some(json!({"name": "", "display_name": ""})),
        )
        .await;
    assert_eq!(
        (s, body["name"].clone(), body["display_name"].clone()),
        (200, json!("eng"), json!(""))
    );
    // Lookups.
    let (s, body) = env
        .call("GET", &format!("/organizations/{org}/groups/eng"), None)
        .await;
    assert_eq!((s, body["id"].clone()), (200, g["id"].clone()));
    let (s, _) = env
        .call("GET", "/organizations/coder/groups/engineering", None)
        .await;
    assert_eq!(s, 404);
    let (s, body) = env
        .call("GET", "/groups?organization=coder&has_member=bob", None)
        .await;
    assert_eq!(s, 200);
    let names: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Everyone", "eng"]);
    let (_, body) = env
        .call("GET", &format!("/groups?has_member={}", id(&a)), None)
        .await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    let (_, body) = env
        .call("GET", &format!("/groups?group_ids={}", id(&g)), None)
        .await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    let (s, body) = env.call("GET", "/groups?bogus=1", None).await;
    assert_eq!(
        (s, body["message"].clone()),
        (400, json!("Query parameters have invalid values."))
    );
    let (s, body) = env
        .call("GET", &format!("/organizations/{org}/groups"), None)
        .await;
    assert_eq!((s, body.as_array().unwrap().len()), (200, 2));
    let (s, _) = env.call("GET", "/groups/not-a-uuid", None).await;
    assert_eq!(s, 400);
    // Removing the user from the organization removes it from the group.
    let (s, _) = env
        .call("DELETE", &format!("/organizations/{org}/members/bob"), None)
        .await;
    assert_eq!(s, 204);
    let (_, body) = env.call("GET", &gpath, None).await;
    assert_eq!(body["total_member_count"], 0);
    let (s, body) = env.call("DELETE", &gpath, None).await;
    assert_eq!(
        (s, body),
        (200, json!({"message": "Successfully deleted group!"}))
    );
    let (s, _) = env.call("GET", &gpath, None).await;
    assert_eq!(s, 404);
    env.stop().await;
}

#[tokio::test]
async fn everyone_group() {
    let env = start().await;
    let org = env.org();
    env.create_user("alice").await;
    let (s, g) = env.call("GET", &format!("/groups/{org}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(g["id"], json!(org));
    assert_eq!(g["name"], "Everyone");
    assert_eq!(member_names(&g), vec!["admin", "alice"]);
    assert_eq!(g["total_member_count"], 2);
    let (s, g2) = env
        .call("GET", "/organizations/coder/groups/Everyone", None)
        .await;
    assert_eq!((s, g2["id"].clone()), (200, json!(org)));
    let path = format!("/groups/{org}");
    let (s, b) = env.call("PATCH", &path, Some(json!({"name": "all"}))).await;
    assert_eq!(
        (s, b["message"].clone()),
        (400, json!("Cannot rename the \"Everyone\" group!"))
    );
    let (s, _) = env
        .call("PATCH", &path, Some(json!({"add_users": [org]})))
        .await;
    assert_eq!(s, 403);
    let (s, b) = env.call("DELETE", &path, None).await;
    assert_eq!(
        (s, b["message"].clone()),
        (
            400,
            json!("\"Everyone\" is a reserved group and cannot be deleted!")
        )
    );
    env.stop().await;
}

#[tokio::test]
async fn organizations_and_members() {
    let env = start().await;
    let org = env.org();
    let (s, b) = env.call("GET", "/organizations", None).await;
    assert_eq!(s, 200);
    assert_eq!(b[0]["id"], json!(org));
    assert_eq!(b[0]["name"], "coder");
    assert_eq!(b[0]["is_default"], true);
    let (s, b) = env.call("GET", "/organizations/coder", None).await;
    assert_eq!((s, b["display_name"].clone()), (200, json!("Coder")));
    let (s, b) = env
        .call(
            "GET",
            &format!("/organizations/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(
        (s, b["message"].clone()),
        (
            404,
            json!("Resource not found or you do not have access to this resource")
        )
    );
    env.create_user("alice").await;
    let (s, b) = env
        .call("GET", &format!("/organizations/{org}/members"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(b[1]["username"], "alice");
    assert_eq!(b[1]["organization_id"], json!(org));
    let (s, b) = env
        .call("POST", &format!("/organizations/{org}/members/alice"), None)
        .await;
    assert_eq!(
        (s, b["message"].clone()),
        (
            400,
            json!("Organization member already exists in this organization")
        )
    );
    let (s, _) = env
        .call(
            "DELETE",
            &format!("/organizations/{org}/members/alice"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (_, u) = env.call("GET", "/users/alice", None).await;
    assert_eq!(u["organization_ids"], json!([]));
    let (s, _) = env
        .call(
            "DELETE",
            &format!("/organizations/{org}/members/alice"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, b) = env
        .call("POST", &format!("/organizations/{org}/members/alice"), None)
        .await;
    assert_eq!((s, b["organization_id"].clone()), (200, json!(org)));
    let (_, b) = env.call("GET", "/users/alice/organizations", None).await;
    assert_eq!(b[0]["name"], "coder");
    env.stop().await;
}

#[tokio::test]
async fn auth_failures() {
    let env = start().await;
    let (s, b) = env.raw("GET", "/users/me", None, None).await;
    assert_eq!(s, 401);
    assert_eq!(
        b,
        json!({"message": SIGNED_OUT, "detail": "Cookie \"coder_session_token\" or query parameter must be provided."})
    );
    let (s, b) = env.raw("GET", "/users/me", None, Some("garbage")).await;
    assert_eq!((s, b["message"].clone()), (401, json!(SIGNED_OUT)));
    assert!(
        b["detail"]
            .as_str()
            .unwrap()
            .starts_with("Invalid API key format: "),
        "{b}"
    );
    let (s, b) = env
        .raw(
            "GET",
            "/users/me",
            None,
            Some("zzzzzzzzzz-0123456789abcdefghijkl"),
        )
        .await;
    assert_eq!((s, b["message"].clone()), (401, json!(SIGNED_OUT)));
    assert_eq!(b["detail"], "API key is invalid.");
    let (s, b) = env
        .raw(
            "GET",
            "/users/me",
            None,
            Some("abcdefghij-XXXXXXXXXXXXXXXXXXXXXX"),
        )
        .await;
    assert_eq!(
        (s, b["detail"].clone()),
        (401, json!("API key secret is invalid."))
    );
    // Cookie and query parameter.
    let resp = env
        .client
        .get(format!("{}/users/me", env.base))
        .header("Cookie", format!("other=1; coder_session_token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (s, _) = env
        .raw(
            "GET",
            &format!("/users/me?coder_session_token={TOKEN}"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200);
    env.stop().await;

    // The brief's example token shape (24-character secret) works when configured.
    let env = start_with("abcdefghij-0123456789abcdefghijklmn").await;
    let (s, _) = env
        .raw(
            "GET",
            "/users/me",
            None,
            Some("abcdefghij-0123456789abcdefghijklmn"),
        )
        .await;
    assert_eq!(s, 200);
    env.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let env = start().await;
    let (s, b) = env.call("GET", "/nope", None).await;
    assert_eq!((s, b), (404, json!({"message": "Route not found."})));
    let (s, b) = env.raw("GET", "/users/me/nope", None, None).await;
    assert_eq!((s, b["message"].clone()), (404, json!("Route not found.")));
    let (s, b) = env.call("PATCH", "/users/me", None).await;
    assert_eq!(s, 405);
    assert!(b["message"].is_string());
    env.stop().await;
}

#[tokio::test]
async fn request_counters() {
    let env = start().await;
    assert_eq!(env.emu.request_count(), 0);
    let g = env.create_group("eng").await;
    env.call("GET", "/users/me", None).await;
    env.call("GET", "/users/admin", None).await;
    env.call("PATCH", &format!("/groups/{}", id(&g)), Some(json!({})))
        .await;
    env.call("GET", "/bogus", None).await;
    assert_eq!(env.emu.request_count(), 5);
    let counts = env.emu.request_counts();
    assert_eq!(counts.get("GET /api/v2/users/{user}"), Some(&2));
    assert_eq!(counts.get("PATCH /api/v2/groups/{group}"), Some(&1));
    assert_eq!(
        counts.get("POST /api/v2/organizations/{organization}/groups"),
        Some(&1)
    );
    assert_eq!(counts.get("GET <unmatched>"), Some(&1));
    env.stop().await;
}

#[tokio::test]
async fn large_group_and_fast_lookups() {
    let env = start().await;
    // Seed 10,000 org members directly, as the platform would.
    let ids: Vec<String> = {
        let mut st = env.emu.state();
        let org = st.default_org;
        (0..10_000)
            .map(|i| {
                let id = uuid::Uuid::new_v4();
                let t = super::state::now();
                st.insert_user(super::state::User {
                    id,
                    username: format!("user{i:05}"),
                    name: String::new(),
                    email: format!("user{i:05}@example.com"),
                    avatar_url: String::new(),
                    created_at: t,
                    updated_at: t,
                    last_seen_at: super::state::zero_time(),
                    status: "dormant".into(),
                    login_type: "oidc".into(),
                    theme_preference: String::new(),
                    roles: Vec::new(),
                    org_ids: Vec::new(),
                    deleted: false,
                    is_service_account: false,
                    github_com_user_id: 0,
                });
                st.add_org_member(org, id);
                id.to_string()
            })
            .collect()
    };
    let g = env.create_group("big").await;
    let path = format!("/groups/{}", id(&g));
    let started = Instant::now();
    let (s, body) = env
        .call("PATCH", &path, Some(json!({"add_users": ids})))
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["total_member_count"], 10_000);
    let (s, body) = env
        .call("PATCH", &path, Some(json!({"remove_users": ids[..5000]})))
        .await;
    assert_eq!((s, body["total_member_count"].clone()), (200, json!(5000)));
    assert!(started.elapsed() < Duration::from_secs(20));
    let started = Instant::now();
    for id in ids.iter().take(500) {
        let (s, _) = env.call("GET", &format!("/users/{id}"), None).await;
        assert_eq!(s, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let (_, b) = env.call("GET", "/users?q=user09999", None).await;
    assert_eq!(b["count"], 1);
    env.stop().await;
}
