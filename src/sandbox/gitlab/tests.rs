//! End-to-end tests of the GitLab emulator over real HTTP on loopback: a shared harness
//! here, the cases by area in `tests/`.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::GitLabEmulator;

mod groups;
mod members;
mod moderation;
mod transport;
mod users;

const TOKEN: &str = "glpat-emulator-0123456789";

/// A response: status, headers, raw text and the JSON body (`Null` when empty or not JSON).
struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Link` target of `rel`.
    fn link(&self, rel: &str) -> Option<String> {
        let link = self.header("link")?;
        link.split(", ").find_map(|part| {
            let (url, r) = part.split_once(">; rel=\"")?;
            (r.trim_end_matches('"') == rel).then(|| url.trim_start_matches('<').to_string())
        })
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    PrivateToken(&'a str),
    Bearer(&'a str),
}

/// A request body.
enum Body<'a> {
    None,
    Json(Value),
    Form(&'a [(&'a str, &'a str)]),
    Raw(&'a str, &'a str),
}

struct Env {
    emu: GitLabEmulator,
    root: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start() -> Env {
    let emu = GitLabEmulator::new(TOKEN);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(emu.clone().serve(listener, async move {
        let _ = rx.await;
    }));
    Env {
        emu,
        root: format!("http://{addr}"),
        client: reqwest::Client::new(),
        stop: Some(tx),
        server,
    }
}

impl Env {
    /// `path` is relative to `/api/v4` unless it is an absolute URL (a followed `Link`).
    async fn send(&self, method: &str, path: &str, body: Body<'_>, auth: Auth<'_>) -> Resp {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/api/v4{}", self.root, path)
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, url);
        req = match auth {
            Auth::None => req,
            Auth::PrivateToken(t) => req.header("PRIVATE-TOKEN", t),
            Auth::Bearer(t) => req.header("Authorization", format!("Bearer {t}")),
        };
        req = match body {
            Body::None => req,
            Body::Json(v) => req
                .header("Content-Type", "application/json")
                .body(v.to_string()),
            Body::Form(pairs) => {
                let encoded = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish();
                req.header("Content-Type", "application/x-www-form-urlencoded")
                    .body(encoded)
            }
            Body::Raw(ct, text) => req.header("Content-Type", ct).body(text.to_string()),
        };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    /// An administrator call with an optional JSON body.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let body = body.map_or(Body::None, Body::Json);
        self.send(method, path, body, Auth::PrivateToken(TOKEN))
            .await
    }

    async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None).await
    }

    async fn create_user(&self, username: &str) -> Value {
        let r = self
            .call(
                "POST",
                "/users",
                Some(json!({
                    "email": format!("{username}@example.com"),
                    "username": username,
                    "name": format!("User {username}"),
                    "force_random_password": true,
                    "skip_confirmation": true,
                })),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json
    }

    async fn create_group(&self, path: &str, parent: Option<u64>) -> Value {
        let r = self
            .call(
                "POST",
                "/groups",
                Some(json!({"name": format!("Group {path}"), "path": path, "parent_id": parent})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json
    }

    async fn add_member(&self, group: u64, user: u64, level: i64) -> Resp {
        self.call(
            "POST",
            &format!("/groups/{group}/members"),
            Some(json!({"user_id": user, "access_level": level})),
        )
        .await
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let res = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        assert!(matches!(res, Ok(Ok(Ok(())))), "server did not stop cleanly");
    }
}

fn id(v: &Value) -> u64 {
    v["id"].as_u64().unwrap()
}

fn usernames(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect()
}
