//! Starting a demo gateway and talking SCIM to it.

use reqwest::{Method, StatusCode};
use scimgate::demo::{self, Demo, DemoOptions};
use serde_json::{json, Value};

pub struct Harness {
    pub demo: Demo,
    pub http: reqwest::Client,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {}",
            self.body
        );
        self.body
    }

    /// Asserts a SCIM error with this status and scimType (RFC 7644 §3.12).
    #[track_caller]
    pub fn expect_error(self, status: u16, scim_type: Option<&str>) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {}",
            self.body
        );
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/scim+json")
        );
        assert_eq!(
            self.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
        assert_eq!(self.body["status"], json!(status.to_string()));
        assert_eq!(self.body["scimType"].as_str(), scim_type, "{}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        self.body
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with(DemoOptions::default()).await
    }

    pub async fn with(options: DemoOptions) -> Harness {
        let demo = demo::start(options).await.expect("demo starts");
        Harness {
            demo,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.demo.scim_url, path)
    }

    /// The gateway's origin (`http://127.0.0.1:port`), where `/readyz` and `/metrics` are.
    pub fn origin(&self) -> String {
        self.demo.scim_url.trim_end_matches("/scim/v2").to_owned()
    }

    /// `GET /readyz`: its status and body.
    pub async fn ready(&self) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}/readyz", self.origin()))
            .bearer_auth(&self.demo.admin_token)
            .send()
            .await
            .expect("gateway answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("readyz answers JSON"))
    }

    /// `GET /metrics`: the exposition text.
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.origin()))
            .bearer_auth(&self.demo.admin_token)
            .send()
            .await
            .expect("gateway answers");
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        response.text().await.unwrap()
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.call_as(&self.demo.token, method, &self.url(path), body, headers)
            .await
    }

    /// A SCIM call to a whole URL (another tenant's, say) with a given bearer token.
    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        url: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.http.request(method, url).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("gateway answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// The Coder user behind a SCIM user, as the platform holds it.
    pub fn coder_user(&self, username: &str) -> Value {
        self.demo
            .emulator
            .user_json(username)
            .unwrap_or_else(|| panic!("Coder has no user {username}"))
    }
}

/// The value of the sample `series` (name and labels as exposed) in a metrics text; 0 when
/// the series is not there (a counter never incremented).
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| {
            value.split_whitespace().next().unwrap().parse().unwrap()
        })
}

pub fn patch_op(ops: Value) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops,
    })
}

pub fn user(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true,
    })
}

/// `?filter=` with the value percent-encoded.
pub fn filter_query(filter: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    format!("filter={encoded}")
}

/// `GET /admin/v1<path>` with the demo's admin token: its JSON, asserting a 200.
pub async fn admin_get(h: &Harness, path: &str) -> Value {
    let response = h
        .http
        .get(format!("{}/admin/v1{path}", h.demo.admin_url))
        .bearer_auth(&h.demo.admin_token)
        .send()
        .await
        .expect("the admin API answers");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("JSON")
}

/// Runs `scimgate <command> --admin-url <the demo's> <rest...>` with the demo's admin token;
/// answers whether it succeeded and the JSON it printed (`Null` when none).
pub async fn admin_cli(h: &Harness, args: &[&str]) -> (bool, Value) {
    let base = h.url("").replace("/scim/v2", "");
    let token = h.demo.admin_token.clone();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"))
            .args(&args[..1])
            .args(["--admin-url", &base])
            .args(&args[1..])
            .env("SCIMGATE_ADMIN_TOKEN", &token)
            .output()
            .expect("the scimgate binary runs");
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
        (
            out.status.success(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null),
        )
    })
    .await
    .expect("the CLI task ends")
}

/// A database of its own on the test PostgreSQL server (`SCIMGATE_TEST_POSTGRES`, default the
/// local server), dropped by [`TestDatabase::drop_now`]. `None` (skip) without a server, except
/// under CI, where the server is part of the machine.
pub struct TestDatabase {
    admin: sqlx::PgConnection,
    name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Option<TestDatabase> {
        use sqlx::Connection;
        let admin_url = std::env::var("SCIMGATE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("SKIPPED: no PostgreSQL at {admin_url} ({e})");
                return None;
            }
            Err(e) => panic!("PostgreSQL at {admin_url}: {e}"),
        };
        let name = format!("scimgate_it_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        Some(TestDatabase { admin, name, url })
    }

    pub async fn drop_now(mut self) {
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&mut self.admin)
            .await
            .unwrap();
    }
}
