//! Two `scimgate serve` processes (the real binary, a real config file) on one PostgreSQL
//! store and one platform behave as one gateway: tenants, tokens and identities made through
//! one are honoured by the other at once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::support::{user, TestDatabase};

pub(crate) const SCIM_TOKEN: &str = "config-token-of-the-default-tenant";
const ADMIN_TOKEN: &str = "admin-token-shared-by-the-replicas";
pub(crate) const CODER_TOKEN: &str = "abcdefghij-0123456789abcdefghijkl";

/// A running `scimgate serve`, killed on drop.
pub(crate) struct Replica {
    child: Child,
    pub(crate) url: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    pub(crate) fn child_id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit on its own, at most `bound`.
    pub(crate) async fn wait(&mut self, bound: Duration) -> std::process::ExitStatus {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < bound, "still running after {bound:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `scimgate serve` on a free port and waits for the address it logs.
    pub(crate) fn start(config: &std::path::Path) -> Replica {
        Replica::start_with(config, &[])
    }

    /// `start` with more environment variables.
    pub(crate) fn start_with(config: &std::path::Path, env: &[(&str, &str)]) -> Replica {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
            .args(["serve", "--config"])
            .arg(config)
            .env("SCIMGATE__SERVER__LISTEN", "127.0.0.1:0")
            .env("SCIMGATE_LOG", "info")
            .env("IT_SCIM_TOKEN", SCIM_TOKEN)
            .env("IT_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("IT_CODER_TOKEN", CODER_TOKEN)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("scimgate starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (address, found) = mpsc::channel();
        // Reads the log to the end, so the process never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("scimgate serving") {
                    let listen = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("listen="))
                        .map(str::to_owned);
                    let _ = address.send(listen);
                } else if line.contains("ERROR") || line.starts_with("error") {
                    eprintln!("replica: {line}");
                }
            }
        });
        let listen = found
            .recv_timeout(Duration::from_secs(30))
            .ok()
            .flatten()
            .expect("the replica logs the address it serves");
        Replica {
            child,
            url: format!("http://{listen}"),
        }
    }
}

/// Copies the shipped Coder mapping into `dir/mappings/`.
pub(crate) fn with_coder_mapping(dir: &std::path::Path) {
    std::fs::create_dir(dir.join("mappings")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/mappings/coder.toml"),
        dir.join("mappings/coder.toml"),
    )
    .unwrap();
}

/// Writes a config for `scimgate serve` into `dir` and answers its path: the test tokens, the
/// store at `store`, and one backend on the shipped Coder mapping per `(name, URL,
/// organization)` (`default` is `[backend]`).
pub(crate) fn serve_config(
    dir: &std::path::Path,
    store: &str,
    backends: &[(&str, &str, &str)],
) -> std::path::PathBuf {
    with_coder_mapping(dir);
    let mut text = format!(
        "[[auth.tokens]]\nname = \"okta\"\nenv = \"IT_SCIM_TOKEN\"\n\n[[admin.tokens]]\nname = \"ops\"\nenv = \"IT_ADMIN_TOKEN\"\n\n[store]\nurl = \"{store}\"\n"
    );
    for (name, url, organization) in backends {
        let table = if *name == "default" {
            "backend".to_owned()
        } else {
            format!("backends.{name}")
        };
        text.push_str(&format!(
            "\n[{table}]\nmapping = \"mappings/coder.toml\"\nbase_url = \"{url}\"\ncredential = {{ env = \"IT_CODER_TOKEN\" }}\n\n[{table}.settings]\norganization_id = \"{organization}\"\nplaceholder_email_domain = \"no-email.scimgate.invalid\"\n"
        ));
    }
    let config = dir.join("scimgate.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// An emulated Coder behind a fault-injecting proxy (`crate::faults`), and a config for
/// `scimgate serve` in `dir` fronting the proxy, with `extra` (TOML sections) appended.
pub(crate) async fn behind_proxy(
    dir: &std::path::Path,
    extra: &str,
) -> (std::sync::Arc<crate::faults::Proxy>, std::path::PathBuf) {
    let coder = scimgate::sandbox::coder::CoderEmulator::new(CODER_TOKEN);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(coder.clone().serve(listener, std::future::pending()));
    let (proxy, proxy_url) = crate::faults::proxy_to(upstream).await;
    let store = format!("sqlite://{}", dir.join("scimgate.sqlite").display());
    let config = serve_config(
        dir,
        &store,
        &[("default", &proxy_url, &coder.organization_id())],
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push('\n');
    text.push_str(extra);
    std::fs::write(&config, text).unwrap();
    (proxy, config)
}

pub(crate) async fn call(
    http: &reqwest::Client,
    method: Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the replica answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asks until `want` is answered (a change notice takes a moment), at most a second.
async fn eventually(want: u16, mut ask: impl AsyncFnMut() -> u16) -> u16 {
    let mut got = 0;
    for _ in 0..50 {
        got = ask().await;
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got
}

#[tokio::test]
async fn two_serve_processes_on_one_postgres_behave_as_one() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    // Two platforms: the default tenant's, and acme's.
    let mut platforms = Vec::new();
    for _ in 0..2 {
        let coder = scimgate::sandbox::coder::CoderEmulator::new(CODER_TOKEN);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(coder.clone().serve(listener, async move {
            let _ = stopped.await;
        }));
        platforms.push((coder, url, stop, task));
    }

    let dir = tempfile::tempdir().unwrap();
    let config = serve_config(
        dir.path(),
        &db.url,
        &[
            (
                "default",
                &platforms[0].1,
                &platforms[0].0.organization_id(),
            ),
            (
                "coder-acme",
                &platforms[1].1,
                &platforms[1].0.organization_id(),
            ),
        ],
    );
    let a = Replica::start(&config);
    let b = Replica::start(&config);
    let http = reqwest::Client::new();

    // A tenant and its token, made through A, work through B.
    let (status, made) = call(
        &http,
        Method::POST,
        format!("{}/admin/v1/tenants", a.url),
        ADMIN_TOKEN,
        Some(json!({"id": "acme", "backend": "coder-acme"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let (status, token) = call(
        &http,
        Method::POST,
        format!("{}/admin/v1/tenants/acme/tokens", a.url),
        ADMIN_TOKEN,
        Some(json!({"name": "okta"})),
    )
    .await;
    assert_eq!(status, 201, "{token}");
    let secret = token["token"].as_str().unwrap().to_owned();
    let token_id = token["id"].as_str().unwrap().to_owned();
    let (status, created) = call(
        &http,
        Method::POST,
        format!("{}/scim/v2/acme/Users", b.url),
        &secret,
        Some(user("ada", "ada@example.com")),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(platforms[1].0.user_json("ada").is_some());

    // A user changed through A reads changed through B, which had it cached.
    let read_on_b = || {
        let (http, url, secret) = (
            http.clone(),
            format!("{}/scim/v2/acme/Users/{id}", b.url),
            secret.clone(),
        );
        async move { call(&http, Method::GET, url, &secret, None).await }
    };
    assert_eq!(read_on_b().await.0, 200);
    let (status, _) = call(
        &http,
        Method::PATCH,
        format!("{}/scim/v2/acme/Users/{id}", a.url),
        &secret,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Countess"}]
        })),
    )
    .await;
    assert_eq!(status, 200);
    let mut title = Value::Null;
    for _ in 0..50 {
        title = read_on_b().await.1["title"].clone();
        if title == "Countess" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(title, "Countess");

    // Concurrent PATCHes of one user through both replicas all apply: writes to one resource
    // are serialized across the replicas, not only within each.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (http, secret) = (http.clone(), secret.clone());
        let replica = if i % 2 == 0 { &a.url } else { &b.url };
        let url = format!("{replica}/scim/v2/acme/Users/{id}");
        tasks.push(tokio::spawn(async move {
            call(
                &http,
                Method::PATCH,
                url,
                &secret,
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "phoneNumbers", "value": [{"value": format!("+1 555 01{i:02}"), "type": "work"}]}]
                })),
            )
            .await
            .0
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let phones = read_on_b().await.1["phoneNumbers"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(phones, 16);

    // Disabled through A: B refuses the tenant's requests at once; enabled again, it serves.
    let set_enabled = |enabled: bool| {
        let (http, url) = (http.clone(), format!("{}/admin/v1/tenants/acme", a.url));
        async move {
            call(
                &http,
                Method::PATCH,
                url,
                ADMIN_TOKEN,
                Some(json!({ "enabled": enabled })),
            )
            .await
            .0
        }
    };
    assert_eq!(set_enabled(false).await, 200);
    assert_eq!(eventually(403, async || read_on_b().await.0).await, 403);
    assert_eq!(set_enabled(true).await, 200);
    assert_eq!(eventually(200, async || read_on_b().await.0).await, 200);

    // Revoked through A: refused by B at once (tokens are looked up on every request).
    let (status, _) = call(
        &http,
        Method::POST,
        format!("{}/admin/v1/tenants/acme/tokens/{token_id}/revoke", a.url),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(read_on_b().await.0, 401);

    // Both replicas wrote to one audit log.
    let (_, log) = call(
        &http,
        Method::GET,
        format!("{}/admin/v1/tenants/acme/audit", b.url),
        ADMIN_TOKEN,
        None,
    )
    .await;
    let operations: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    // One patch of the title, then the sixteen concurrent ones.
    let expected: Vec<&str> = ["tenant.create", "token.create", "create"]
        .into_iter()
        .chain(std::iter::repeat_n("patch", 17))
        .chain(["tenant.update", "tenant.update", "token.revoke"])
        .collect();
    assert_eq!(operations, expected);
    drop(a);
    drop(b);
    for (_, _, stop, task) in platforms {
        let _ = stop.send(());
        let _ = task.await;
    }
    db.drop_now().await;
}

/// SIGTERM: a `scimgate serve` finishes the request in flight (a read the platform answers
/// slowly), answers it, refuses new connections, and exits in good order within its bound.
#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_and_exits() {
    use crate::faults::Fault;
    let dir = tempfile::tempdir().unwrap();
    // Reads go to the platform (through the slow proxy), never to the cache.
    let (proxy, config) = behind_proxy(dir.path(), "[cache]\nttl_secs = 0\n").await;
    let mut replica = Replica::start(&config);
    let http = reqwest::Client::new();
    let users = format!("{}/scim/v2/Users", replica.url);
    let (status, made) = call(
        &http,
        Method::POST,
        users.clone(),
        SCIM_TOKEN,
        Some(user("term", "term@example.com")),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let url = format!("{users}/{}", made["id"].as_str().unwrap());
    // The next platform call takes 1.5 s; the read is in flight when SIGTERM comes.
    proxy.inject(&[Fault::Slow(Duration::from_millis(1500))]);
    let before = proxy.hits();
    let in_flight = {
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move { call(&http, Method::GET, url, SCIM_TOKEN, None).await })
    };
    while proxy.hits() == before {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let terminated = Command::new("kill")
        .args(["-TERM", &replica.child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let (status, read) = in_flight.await.unwrap();
    assert_eq!(status, 200, "the request in flight is answered: {read}");
    assert_eq!(read["userName"], "term");
    // It exits on its own, in good order, within the 10 s bound.
    let exited = replica.wait(Duration::from_secs(12)).await;
    assert!(exited.success(), "{exited:?}");
    // Without [otlp], the platform is sent no trace context.
    assert_eq!(proxy.traceparents(), Vec::<String>::new());
    // Nothing listens any more.
    assert!(http
        .get(format!("{}/healthz", replica.url))
        .send()
        .await
        .is_err());
}
