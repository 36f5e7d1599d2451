//! Whole HTTP requests through the real gateway: the demo (scimgate in front of the emulated
//! Coder, an in-memory store, no rate limits) is started once per process, and every input is
//! sent to it over a real TCP connection on loopback.
//!
//! An input is a request written as text, the way the seeds in `fuzz/seeds/request/` are:
//!
//! ```text
//! PATCH /scim/v2/Users/{user}
//! If-Match: *
//!
//! {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [...]}
//! ```
//!
//! The first line is the method and the request target (one not starting with `/` is put
//! under `/scim/v2/`), then headers up to an empty line, then the body. The harness makes it a
//! well-formed HTTP/1.1 request: bytes a URI cannot hold are percent-encoded, malformed
//! headers are dropped, and it adds `Host`, `Content-Length`, `Connection: close` and the
//! demo's bearer token (the admin token under `/admin/v1`), so requests reach the handlers.
//! `{user}` and `{group}` stand for the ids of a user and a group the harness keeps in the
//! platform, `{token}` for the SCIM token.
//!
//! An input starting with `RAW\n` (or whose first line is no `METHOD TARGET`) is sent as it is,
//! as the whole request, and the connection's write side is then closed.
//!
//! What must hold, or the input is a crash:
//! - an answer arrives, and the connection closes, within 10 s (a hang is a bug);
//! - no 5xx but 501, 502, 503 and 504 (the platform's causes): a 500 is a bug, and so is any
//!   panic in the gateway (libFuzzer's panic hook aborts the process on it);
//! - under `/scim/v2` every answer of status >= 400 is a SCIM error (RFC 7644 §3.12):
//!   JSON with `"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"]` and the status as
//!   a string; under `/scim/v1`, SCIM 1.1's `{"Errors": [...]}`.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use scimgate::config::RateLimits;
use scimgate::demo::{start, DemoOptions};
use serde_json::{json, Value};

/// How long one request may take, from connect to the server closing the connection.
const DEADLINE: Duration = Duration::from_secs(10);
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

struct Gateway {
    addr: SocketAddr,
    token: String,
    admin_token: String,
    /// Ids of the user and group `{user}` and `{group}` stand for.
    ids: Mutex<Ids>,
}

struct Ids {
    user: String,
    group: String,
    /// A request may have deleted or renamed them: check before the next use.
    user_dirty: bool,
    group_dirty: bool,
}

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
static GATEWAY: OnceLock<Gateway> = OnceLock::new();
static SERIAL: AtomicU64 = AtomicU64::new(0);

fn gateway() -> &'static Gateway {
    GATEWAY.get_or_init(|| {
        // libFuzzer's own main runs the process, not Rust's: SIGPIPE is not ignored yet, and
        // a write to a connection the peer closed would kill the process.
        // SAFETY: setting a signal disposition to SIG_IGN at start-up, before any other use.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let runtime = RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime")
        });
        let data_dir = std::env::temp_dir().join("scimgate-fuzz-request");
        let demo = runtime
            .block_on(start(DemoOptions {
                data_dir: Some(data_dir),
                store_url: Some("sqlite::memory:".to_owned()),
                platform_timeout: Duration::from_secs(5),
                rate_limits: RateLimits::default(),
                ..DemoOptions::default()
            }))
            .expect("the demo starts");
        let authority = demo
            .scim_url
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .expect("the demo's SCIM URL");
        let addr: SocketAddr = authority.parse().expect("the demo listens on an address");
        let token = demo.token.clone();
        let admin_token = demo.admin_token.clone();
        // Serving for the life of the process.
        std::mem::forget(demo);
        let user = create(&gw_ref(addr, &token), "Users");
        let group = create(&gw_ref(addr, &token), "Groups");
        Gateway {
            addr,
            token,
            admin_token,
            ids: Mutex::new(Ids {
                user,
                group,
                user_dirty: false,
                group_dirty: false,
            }),
        }
    })
}

/// What `create` needs before the gateway is in its static.
struct GwRef<'a> {
    addr: SocketAddr,
    token: &'a str,
}

fn gw_ref<'a>(addr: SocketAddr, token: &'a str) -> GwRef<'a> {
    GwRef { addr, token }
}

/// A user or a group made through the gateway; its id.
fn create(gw: &GwRef<'_>, endpoint: &str) -> String {
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let body = if endpoint == "Users" {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
               "userName": format!("fuzz-{pid}-{n}"),
               "name": {"givenName": "Fuzz", "familyName": "Target"},
               "emails": [{"value": format!("fuzz-{pid}-{n}@example.com"), "primary": true}]})
    } else {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
               "displayName": format!("fuzz-group-{pid}-{n}")})
    };
    let body = body.to_string();
    let request = format!(
        "POST /scim/v2/{endpoint} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        gw.addr,
        gw.token,
        body.len()
    );
    let answer = exchange(gw.addr, request.as_bytes(), false).expect("the gateway answers");
    let parsed = parse_response(&answer).expect("an HTTP answer");
    assert_eq!(parsed.status, 201, "creating a fixture: {}", String::from_utf8_lossy(&answer));
    let body: Value = serde_json::from_slice(&parsed.body).expect("a JSON resource");
    body["id"].as_str().expect("an id").to_owned()
}

/// Makes sure `{user}` and `{group}` name resources that exist; their ids.
fn fixtures(gw: &Gateway, want_user: bool, want_group: bool) -> (String, String) {
    let mut ids = gw.ids.lock().unwrap_or_else(|e| e.into_inner());
    let r = gw_ref(gw.addr, &gw.token);
    if want_user && ids.user_dirty {
        if !exists(&r, "Users", &ids.user) {
            ids.user = create(&r, "Users");
        }
        ids.user_dirty = false;
    }
    if want_group && ids.group_dirty {
        if !exists(&r, "Groups", &ids.group) {
            ids.group = create(&r, "Groups");
        }
        ids.group_dirty = false;
    }
    (ids.user.clone(), ids.group.clone())
}

fn exists(gw: &GwRef<'_>, endpoint: &str, id: &str) -> bool {
    let request = format!(
        "GET /scim/v2/{endpoint}/{id} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        gw.addr, gw.token
    );
    exchange(gw.addr, request.as_bytes(), false)
        .ok()
        .and_then(|a| parse_response(&a))
        .is_some_and(|r| r.status == 200)
}

/// Sends `request` on a new connection and reads until the server closes it; `Err` when it
/// does not within [`DEADLINE`]. With `half_close`, the write side is shut after the request.
fn exchange(addr: SocketAddr, request: &[u8], half_close: bool) -> Result<Vec<u8>, String> {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, DEADLINE)
        .map_err(|e| format!("cannot connect to the gateway: {e}"))?;
    stream.set_nodelay(true).ok();
    stream.set_write_timeout(Some(DEADLINE)).ok();
    // The server may answer and close before reading all of a large body (413, 431): a
    // failed write is not a failure, the answer is read all the same.
    let _ = stream.write_all(request);
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = DEADLINE.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(format!(
                "no end of the answer within {DEADLINE:?}; read so far: {:?}",
                String::from_utf8_lossy(&answer)
            ));
        }
        stream.set_read_timeout(Some(left)).ok();
        match stream.read(&mut buf) {
            Ok(0) => return Ok(answer),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // Reset by the server after an answer (or instead of one): what was read counts.
            Err(_) => return Ok(answer),
        }
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The first final (non-1xx) HTTP/1.1 answer in `bytes`; `None` when there is none.
fn parse_response(mut bytes: &[u8]) -> Option<Response> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head_len) = response.parse(bytes).ok()? else {
            return None;
        };
        let status = response.code?;
        let headers: Vec<(String, String)> = response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let rest = &bytes[head_len..];
        if (100..200).contains(&status) {
            bytes = rest;
            continue;
        }
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let chunked = r
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        r.body = if chunked {
            dechunk(rest)
        } else if let Some(len) = r.header("content-length").and_then(|v| v.trim().parse().ok()) {
            rest[..rest.len().min(len)].to_vec()
        } else {
            rest.to_vec()
        };
        return Some(r);
    }
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&bytes[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        bytes = &bytes[eol + 2..];
        if size == 0 || bytes.len() < size {
            out.extend_from_slice(&bytes[..bytes.len().min(size)]);
            break;
        }
        out.extend_from_slice(&bytes[..size]);
        bytes = bytes.get(size + 2..).unwrap_or(&[]);
    }
    out
}

fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The request target with every byte a URI cannot hold percent-encoded.
fn encode_target(target: &[u8]) -> String {
    let mut out = String::new();
    for &b in target {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A request the harness built from a structured input, and what it needs to judge the answer.
struct Built {
    bytes: Vec<u8>,
    method: String,
    path: String,
}

/// Builds a well-formed HTTP/1.1 request from the input's text form; `None` when the first
/// line is no `METHOD TARGET` (the input is then sent raw).
fn build(gw: &Gateway, input: &[u8], user: &str, group: &str) -> Option<Built> {
    let input = replace_all(input, b"\r\n", b"\n");
    let (head, body) = match input.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&input[..at], &input[at + 2..]),
        None => (&input[..], &[][..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next()?;
    let space = first.iter().position(|&b| b == b' ')?;
    let (method, target) = (&first[..space], &first[space + 1..]);
    if method.is_empty() || method.len() > 20 || !method.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let method = String::from_utf8(method.to_vec()).ok()?;
    if method.eq_ignore_ascii_case("CONNECT") {
        return None;
    }
    let target = replace_all(target, b"{user}", user.as_bytes());
    let target = replace_all(&target, b"{group}", group.as_bytes());
    let target = replace_all(&target, b"{token}", gw.token.as_bytes());
    let mut target = encode_target(&target);
    if !target.starts_with('/') {
        target = format!("/scim/v2/{target}");
    }
    let path = target.split('?').next().unwrap_or("").to_owned();
    let admin = path == "/admin/v1" || path.starts_with("/admin/v1/");
    let token = if admin { &gw.admin_token } else { &gw.token };

    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", gw.addr).into_bytes();
    let mut content_type = false;
    for line in lines.take(40) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            continue;
        }
        let value = value.trim_ascii();
        if value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n' || (b < 0x20 && b != b'\t') || b == 0x7f) {
            continue;
        }
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        if [
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "authorization",
            "expect",
            "upgrade",
            "te",
            "keep-alive",
        ]
        .contains(&lower.as_str())
        {
            continue;
        }
        content_type |= lower == "content-type";
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(&replace_all(value, b"{token}", gw.token.as_bytes()));
        out.extend_from_slice(b"\r\n");
    }
    let body = replace_all(body, b"{user}", user.as_bytes());
    let body = replace_all(&body, b"{group}", group.as_bytes());
    if !body.is_empty() && !content_type {
        out.extend_from_slice(b"Content-Type: application/scim+json\r\n");
    }
    out.extend_from_slice(
        format!(
            "Authorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&body);
    Some(Built {
        bytes: out,
        method,
        path,
    })
}

fn under(path: &str, base: &str) -> bool {
    path == base || path.starts_with(&format!("{base}/"))
}

/// What every answer to a well-formed request must be.
fn judge(built: &Built, answer: &[u8]) {
    let shown = || String::from_utf8_lossy(&built.bytes).into_owned();
    let Some(r) = parse_response(answer) else {
        panic!(
            "no HTTP answer to a well-formed request\nrequest: {}\nread: {:?}",
            shown(),
            String::from_utf8_lossy(answer)
        );
    };
    let body_text = String::from_utf8_lossy(&r.body);
    assert!(
        !(500..600).contains(&r.status) || (501..=504).contains(&r.status),
        "status {} (a gateway bug)\nrequest: {}\nanswer: {body_text}",
        r.status,
        shown()
    );
    if r.status < 400 || built.method == "HEAD" {
        return;
    }
    if under(&built.path, "/scim/v2") {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
            panic!(
                "status {} under /scim/v2 without a JSON body ({e})\nrequest: {}\nanswer: {body_text}",
                r.status,
                shown()
            )
        });
        assert_eq!(
            body["schemas"],
            json!([ERROR_SCHEMA]),
            "status {} under /scim/v2 is no SCIM error\nrequest: {}\nanswer: {body_text}",
            r.status,
            shown()
        );
        assert_eq!(
            body["status"],
            Value::String(r.status.to_string()),
            "a SCIM error's status is the HTTP status, as a string\nrequest: {}\nanswer: {body_text}",
            shown()
        );
    } else if under(&built.path, "/scim/v1") {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
            panic!(
                "status {} under /scim/v1 without a JSON body ({e})\nrequest: {}\nanswer: {body_text}",
                r.status,
                shown()
            )
        });
        assert!(
            body["Errors"].is_array(),
            "status {} under /scim/v1 is no SCIM 1.1 error\nrequest: {}\nanswer: {body_text}",
            r.status,
            shown()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let gw = gateway();
    let raw = data.strip_prefix(b"RAW\n");
    let wants_user = contains(data, b"{user}");
    let wants_group = contains(data, b"{group}");
    let (user, group) = fixtures(gw, wants_user, wants_group);
    let built = match raw {
        Some(_) => None,
        None => build(gw, data, &user, &group),
    };
    match built {
        Some(built) => {
            let answer = exchange(gw.addr, &built.bytes, false).unwrap_or_else(|e| {
                panic!("{e}\nrequest: {}", String::from_utf8_lossy(&built.bytes))
            });
            judge(&built, &answer);
            let writes = !matches!(built.method.as_str(), "GET" | "HEAD");
            let bulk = contains(built.path.as_bytes(), b"Bulk");
            if writes || bulk {
                let mut ids = gw.ids.lock().unwrap_or_else(|e| e.into_inner());
                ids.user_dirty |= wants_user || bulk;
                ids.group_dirty |= wants_group || bulk;
            }
        }
        None => {
            let mut bytes = raw.unwrap_or(data).to_vec();
            bytes = replace_all(&bytes, b"{token}", gw.token.as_bytes());
            bytes = replace_all(&bytes, b"{user}", user.as_bytes());
            bytes = replace_all(&bytes, b"{group}", group.as_bytes());
            if !contains(&bytes, b"\r\n\r\n") && !contains(&bytes, b"\n\n") {
                bytes.extend_from_slice(b"\r\n\r\n");
            }
            let answer = exchange(gw.addr, &bytes, true).unwrap_or_else(|e| {
                panic!("{e}\nrequest: {:?}", String::from_utf8_lossy(&bytes))
            });
            // The server may close without answering (the request was cut short by the
            // closed write side); what it does answer must not be a 500.
            if let Some(r) = parse_response(&answer) {
                assert!(
                    !(500..600).contains(&r.status) || (501..=505).contains(&r.status),
                    "status {} to a raw request\nrequest: {:?}\nanswer: {:?}",
                    r.status,
                    String::from_utf8_lossy(&bytes),
                    String::from_utf8_lossy(&answer)
                );
            }
            // Anything the raw request did may have removed the fixtures.
            let mut ids = gw.ids.lock().unwrap_or_else(|e| e.into_inner());
            ids.user_dirty = true;
            ids.group_dirty = true;
        }
    }
});
