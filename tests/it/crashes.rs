//! Crash safety: the real `scimgate serve` (a real config, an SQLite store on disk) is killed
//! with SIGKILL at each step of a create and of a group PATCH, while the platform call of that
//! step is held at a proxy in front of the emulated Coder (before it reaches the platform, or
//! after). Restarted on the same store, it gets the IdP's retry of the same request. Afterwards
//! the platform and the gateway agree: no second account, no membership lost, no link without
//! an account, and the retry of a create is answered as the create (201), never with a 409 for
//! the IdP's own account.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::faults::{proxy_to, Proxy};
use crate::processes::{call, serve_config, Replica, CODER_TOKEN, SCIM_TOKEN};
use crate::support::user;

/// The emulated Coder behind a proxy, a config for `scimgate serve` in front of the proxy, and
/// the store that outlives each process.
struct Rig {
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    proxy: std::sync::Arc<Proxy>,
    coder_url: String,
    organization: String,
    http: reqwest::Client,
}

impl Rig {
    async fn new() -> Rig {
        let coder = scimgate::sandbox::coder::CoderEmulator::new(CODER_TOKEN);
        let organization = coder.organization_id();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let coder_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(coder.serve(listener, std::future::pending()));
        let (proxy, proxy_url) = proxy_to(coder_url.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite://{}", dir.path().join("ids.sqlite").display());
        let config = serve_config(
            dir.path(),
            &store,
            &[("default", &proxy_url, &organization)],
        );
        Rig {
            _dir: dir,
            config,
            proxy,
            coder_url,
            organization,
            http: reqwest::Client::new(),
        }
    }

    fn start(&self) -> Replica {
        Replica::start(&self.config)
    }

    async fn scim(
        &self,
        gateway: &Replica,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}/scim/v2{path}", gateway.url);
        call(&self.http, method, url, SCIM_TOKEN, body).await
    }

    /// Sends a SCIM request that will be stopped at the held platform call, waits until the
    /// platform call is reached, and kills the gateway there (SIGKILL).
    async fn kill_amid(
        &self,
        gateway: Replica,
        reached: std::sync::Arc<tokio::sync::Notify>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) {
        let url = format!("{}/scim/v2{path}", gateway.url);
        let request = self
            .http
            .request(method, url)
            .bearer_auth(SCIM_TOKEN)
            .json(&body.unwrap_or(Value::Null))
            .send();
        let in_flight = tokio::spawn(request);
        tokio::time::timeout(Duration::from_secs(20), reached.notified())
            .await
            .expect("the held platform call is reached");
        drop(gateway);
        // The IdP saw its connection break: no answer.
        let answer = tokio::time::timeout(Duration::from_secs(10), in_flight)
            .await
            .expect("the killed gateway's connection ends")
            .unwrap();
        assert!(answer.is_err(), "no answer from a killed process");
    }

    /// What the platform answers to a GET, straight from the platform.
    async fn platform_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.coder_url))
            .header("Coder-Session-Token", CODER_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The platform's users of this name.
    async fn platform_users(&self, username: &str) -> Vec<Value> {
        let answer = self.platform_get("/api/v2/users").await;
        let users = answer.get("users").cloned().unwrap_or(answer);
        users
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["username"] == username)
            .cloned()
            .collect()
    }

    /// The platform's group of this name: its members' usernames.
    async fn platform_group_members(&self, name: &str) -> Option<Vec<String>> {
        let groups = self
            .platform_get(&format!(
                "/api/v2/groups?organization={}",
                self.organization
            ))
            .await;
        let group = groups.as_array()?.iter().find(|g| g["name"] == name)?;
        let mut members: Vec<String> = group["members"]
            .as_array()?
            .iter()
            .map(|m| m["username"].as_str().unwrap_or_default().to_owned())
            .collect();
        members.sort();
        Some(members)
    }

    /// What the gateway serves for a filter: the resources found.
    async fn found(&self, gateway: &Replica, path: &str, filter: &str) -> Vec<Value> {
        let (status, list) = self
            .scim(
                gateway,
                Method::GET,
                &format!("{path}?filter={}", urlencode(filter)),
                None,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        list["Resources"].as_array().cloned().unwrap_or_default()
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A user create killed at each step, then retried by the IdP with the same request.
#[tokio::test]
async fn a_create_killed_at_each_step_is_finished_by_the_retry_with_one_account() {
    let rig = Rig::new().await;
    // (the step, the platform call held there, whether the platform got it first)
    let steps: [(&str, Method, &'static str, &str, bool); 4] = [
        (
            "before the platform's create",
            Method::POST,
            "POST",
            "/api/v2/users",
            false,
        ),
        (
            "after the platform's create, before the link",
            Method::POST,
            "POST",
            "/api/v2/users",
            true,
        ),
        (
            "after the link, before the later calls",
            Method::POST,
            "PUT",
            "/status/suspend",
            false,
        ),
        (
            "after every call, before the answer",
            Method::POST,
            "GET",
            "/api/v2/groups",
            false,
        ),
    ];
    for (n, (step, method, held_method, held_path, forward)) in steps.into_iter().enumerate() {
        // The platform's username is the userName's local part: the IdP's name and the
        // platform's differ, as with Entra ID's email-form names.
        let name = format!("crash{n}");
        let user_name = format!("{name}@example.com");
        let mut body = user(&user_name, &user_name);
        // An inactive user needs a second call after the create (suspend).
        body["active"] = json!(false);
        let reached = rig.proxy.hold(held_method, held_path, forward);
        rig.kill_amid(rig.start(), reached, method, "/Users", Some(body.clone()))
            .await;

        let gateway = rig.start();
        let (status, made) = rig
            .scim(&gateway, Method::POST, "/Users", Some(body.clone()))
            .await;
        assert_eq!(status, 201, "{step}: the retry is the create: {made}");
        assert_eq!(made["userName"], user_name.as_str(), "{step}");
        assert_eq!(made["active"], false, "{step}: the retry's request applied");
        let accounts = rig.platform_users(&name).await;
        assert_eq!(accounts.len(), 1, "{step}: one account: {accounts:?}");
        assert_eq!(accounts[0]["status"], "suspended", "{step}");
        let found = rig
            .found(&gateway, "/Users", &format!("userName eq \"{user_name}\""))
            .await;
        assert_eq!(found.len(), 1, "{step}: one SCIM user");
        assert_eq!(found[0]["id"], made["id"], "{step}: under the id answered");
        // The create was answered: the same POST once more is a POST for a name taken (RFC
        // 7644 §3.3), and so is another request for the name.
        let mut other = body.clone();
        other["displayName"] = json!("Someone Else");
        for again in [body.clone(), other] {
            let (status, refused) = rig
                .scim(&gateway, Method::POST, "/Users", Some(again))
                .await;
            assert_eq!(status, 409, "{step}: {refused}");
            assert_eq!(refused["scimType"], "uniqueness", "{step}");
        }
        assert_eq!(rig.platform_users(&name).await.len(), 1, "{step}");
    }
}

/// A create cut short after its link was stored, whose user the IdP then found and deleted:
/// the same POST again makes a new user under a new id (a deleted id never comes back).
#[tokio::test]
async fn a_create_cut_short_then_deleted_is_not_brought_back_by_its_retry() {
    let rig = Rig::new().await;
    let body = user("eve@example.com", "eve@example.com");
    let reached = rig.proxy.hold("GET", "/api/v2/groups", false);
    rig.kill_amid(
        rig.start(),
        reached,
        Method::POST,
        "/Users",
        Some(body.clone()),
    )
    .await;
    let gateway = rig.start();
    let found = rig
        .found(&gateway, "/Users", "userName eq \"eve@example.com\"")
        .await;
    assert_eq!(found.len(), 1);
    let old = found[0]["id"].as_str().unwrap().to_owned();
    let (status, _) = rig
        .scim(&gateway, Method::DELETE, &format!("/Users/{old}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, made) = rig.scim(&gateway, Method::POST, "/Users", Some(body)).await;
    assert_eq!(status, 201, "{made}");
    assert_ne!(made["id"], old.as_str());
    let (status, _) = rig
        .scim(&gateway, Method::GET, &format!("/Users/{old}"), None)
        .await;
    assert_eq!(status, 404);
}

/// An account made on the platform directly is not the IdP's to claim by POSTing its name,
/// not even when a create of that name was cut short while the platform refused it.
#[tokio::test]
async fn a_post_for_an_account_the_gateway_did_not_create_stays_a_conflict() {
    let rig = Rig::new().await;
    let made = rig
        .http
        .post(format!("{}/api/v2/users", rig.coder_url))
        .header("Coder-Session-Token", CODER_TOKEN)
        .json(&json!({
            "username": "outsider",
            "email": "outsider@example.com",
            "organization_ids": [rig.organization],
            "login_type": "password",
            "password": "a-long-enough-password-1"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status().as_u16(), 201, "{:?}", made.text().await);
    // The IdP's person of that name has another address.
    let body = user("outsider", "someone.else@example.com");
    let reached = rig.proxy.hold("POST", "/api/v2/users", true);
    rig.kill_amid(
        rig.start(),
        reached,
        Method::POST,
        "/Users",
        Some(body.clone()),
    )
    .await;
    let gateway = rig.start();
    for _ in 0..2 {
        let (status, refused) = rig
            .scim(&gateway, Method::POST, "/Users", Some(body.clone()))
            .await;
        assert_eq!(status, 409, "{refused}");
        assert_eq!(refused["scimType"], "uniqueness");
    }
    assert_eq!(rig.platform_users("outsider").await.len(), 1);
}

/// A group create with members, and a group PATCH adding one, each killed at its membership
/// call (before the platform got it, and after), then retried.
#[tokio::test]
async fn group_writes_killed_at_the_membership_call_lose_no_member() {
    let rig = Rig::new().await;
    let first = rig.start();
    let mut ids = Vec::new();
    for name in ["ann", "ben", "cat", "dan"] {
        let (status, made) = rig
            .scim(
                &first,
                Method::POST,
                "/Users",
                Some(user(name, &format!("{name}@example.com"))),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        ids.push(made["id"].as_str().unwrap().to_owned());
    }
    let member = |i: usize| json!({"value": ids[i]});
    let mut gateway = Some(first);

    // A create with members, killed before and after the membership call reached the platform.
    for (n, forward) in [false, true].into_iter().enumerate() {
        let name = format!("crew{n}");
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": [member(0), member(1)],
        });
        let reached = rig.proxy.hold("PATCH", "/api/v2/groups/", forward);
        let running = gateway.take().unwrap_or_else(|| rig.start());
        rig.kill_amid(
            running,
            reached,
            Method::POST,
            "/Groups",
            Some(body.clone()),
        )
        .await;
        let restarted = rig.start();
        let (status, made) = rig
            .scim(&restarted, Method::POST, "/Groups", Some(body.clone()))
            .await;
        assert_eq!(status, 201, "forward {forward}: {made}");
        assert_eq!(made["members"].as_array().map(Vec::len), Some(2), "{made}");
        assert_eq!(
            rig.platform_group_members(&name).await,
            Some(vec!["ann".to_owned(), "ben".to_owned()])
        );
        let found = rig
            .found(&restarted, "/Groups", &format!("displayName eq \"{name}\""))
            .await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["id"], made["id"]);
        gateway = Some(restarted);
    }

    // A PATCH adding a member, killed before and after the platform got the change; the IdP
    // sends the same PATCH again.
    let running = gateway.take().unwrap_or_else(|| rig.start());
    let (_, group) = rig
        .scim(
            &running,
            Method::POST,
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "patched",
                "members": [member(0)],
            })),
        )
        .await;
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let mut gateway = Some(running);
    for (added, forward) in [(2, false), (3, true)] {
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [member(added)]}],
        });
        let reached = rig.proxy.hold("PATCH", "/api/v2/groups/", forward);
        let running = gateway.take().unwrap_or_else(|| rig.start());
        rig.kill_amid(running, reached, Method::PATCH, &path, Some(patch.clone()))
            .await;
        let restarted = rig.start();
        let (status, answer) = rig
            .scim(&restarted, Method::PATCH, &path, Some(patch))
            .await;
        assert!(status == 200 || status == 204, "{status} {answer}");
        gateway = Some(restarted);
    }
    let gateway = gateway.unwrap();
    let (status, read) = rig.scim(&gateway, Method::GET, &path, None).await;
    assert_eq!(status, 200);
    let mut members: Vec<&str> = read["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    members.sort();
    let mut want = vec![ids[0].as_str(), ids[2].as_str(), ids[3].as_str()];
    want.sort();
    assert_eq!(members, want, "no member lost, none twice");
    assert_eq!(
        rig.platform_group_members("patched").await,
        Some(vec!["ann".to_owned(), "cat".to_owned(), "dan".to_owned()])
    );
    // No link without an account: every user the gateway lists is on the platform.
    let (_, users) = rig.scim(&gateway, Method::GET, "/Users", None).await;
    for listed in users["Resources"].as_array().unwrap() {
        let name = listed["userName"].as_str().unwrap();
        assert_eq!(rig.platform_users(name).await.len(), 1, "{name}");
    }
}
