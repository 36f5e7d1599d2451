//! A faithful in-memory emulator of the GitLab REST API v4 — users, user moderation,
//! identities, secondary emails, groups and group members — served over real HTTP/1.1 for
//! tests of the gateway in front of GitLab (CE/Free, self-managed, administrator token).
//!
//! It follows the project's GitLab reference sheet, quirks included: both error families
//! (`{"message": …}` from helpers and model validation, `{"error": …}` from Grape's parameter
//! checks and the catch-all route), offset pagination headers and `Link`, keyset pagination on
//! `/users`, "action" POSTs answering 201 with a bare `true` (`null` when already done), the
//! asynchronous user deletion, group deletion answering 202, and Rack::Attack's 429.
//!
//! Representation choices where the sheet was silent, approximate, or contradicted by the
//! GitLab source (`lib/api/*.rb`):
//! * Member misses on `GET|PUT|DELETE /groups/:id/members/:user_id` answer
//!   `404 {"message":"404 Not found"}` — the endpoints use `find_by!`, whose
//!   `ActiveRecord::RecordNotFound` the API rescues with that body (the sheet's
//!   `404 Member Not Found` is marked approximate).
//! * `/users/:id` only matches digits (`requirements: { id: /[0-9]*/ }`); `/users/abc` falls
//!   to the catch-all `404 {"error":"404 Not Found"}`, as do unsupported methods.
//! * Administrators' `GET /users` is always ordered by `order_by`/`sort` (defaults `id`,
//!   `desc`, since Grape fills the defaults in); the exact-match search ranking applies to
//!   non-administrators only. Keyset pagination supports `order_by=id` (asc: `id_after`,
//!   desc: `id_before`); other orders answer 405.
//! * Switching the primary email is allowed to a confirmed secondary email (the old primary
//!   becomes a confirmed secondary email) or with `skip_reconfirmation=true`; anything else is
//!   `400 {"message":{"email":["is not an email you own"]}}` (wording approximate).
//! * `PUT /users/:id` with a `provider` + `extern_uid` another user holds succeeds without
//!   linking: the identity row is found or created and its failed uid update is not checked
//!   (`Users::UpdateService#assign_identity`), so a new row has `"extern_uid": null`.
//! * Groups: the creator becomes a direct owner; usernames and top-level group paths share one
//!   namespace; the last owner of a group (counting owners of ancestors) can be neither
//!   demoted nor removed (`403 Forbidden`); deleting a group deletes its subgroups at once.
//! * Only the configured token exists at first (owned by `root`, id 1, administrator);
//!   [`GitLabEmulator::add_token`] adds tokens of other users, whose calls are refused with
//!   `403 Forbidden` everywhere but `GET /user`, `GET /users` and `GET /users/:id`. Tokens
//!   of blocked or deactivated users get GitLab's 403.
//! * User and group ids come from separate sequences; user namespaces and groups share the
//!   namespace sequence (root's namespace is 1, so the first group is 2).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;

mod emails;
mod groups;
mod members;
mod moderation;
mod pagination;
mod params;
mod render;
mod routes;
mod state;
mod users;
mod validate;

use params::Params;
use routes::{authenticate, dispatch, route_not_found, ApiError, Ctx, Route};
use state::{today, State};

/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Counter key of requests no route matched.
const UNMATCHED: &str = "<unmatched>";

struct Inner {
    state: Mutex<State>,
    total: AtomicU64,
    counts: Mutex<HashMap<(Method, &'static str), u64>>,
}

/// An emulated GitLab instance. Cheap to clone; clones share the same state.
#[derive(Clone)]
pub struct GitLabEmulator {
    inner: Arc<Inner>,
}

impl GitLabEmulator {
    /// A fresh instance whose only user is the administrator `root` (id 1, `Administrator`,
    /// `admin@example.com`), owner of `token` (accepted as `PRIVATE-TOKEN`, as
    /// `Authorization: Bearer`, or as the `private_token` / `access_token` query parameter).
    pub fn new(token: impl Into<String>) -> Self {
        GitLabEmulator {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new(token.into())),
                total: AtomicU64::new(0),
                counts: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serve on an already-bound listener until `shutdown` resolves (graceful: in-flight
    /// requests finish, idle keep-alive connections are closed). Keep-alive HTTP/1.1. The
    /// instance's external URL (in `web_url`s and `Link` headers) becomes the listener's.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Ok(addr) = listener.local_addr() {
            self.state().external_url = format!("http://{addr}");
        }
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        let this = self.clone();
                        let svc = hyper::service::service_fn(move |req| {
                            let this = this.clone();
                            async move { Ok::<_, Infallible>(this.handle(req).await) }
                        });
                        let conn = hyper::server::conn::http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), svc);
                        let conn = graceful.watch(conn);
                        tokio::spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::debug!(error = %e, "gitlab emulator: connection error");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "gitlab emulator: accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        graceful.shutdown().await;
        Ok(())
    }

    /// Total number of API requests handled so far (every request, whatever its outcome).
    pub fn request_count(&self) -> u64 {
        self.inner.total.load(Ordering::Relaxed)
    }

    /// Per "METHOD path-pattern" counts, e.g. "POST /api/v4/users/:id/block"; requests that
    /// match no route are counted under `"METHOD <unmatched>"`.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        let counts = self.inner.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|((m, p), n)| (format!("{m} {p}"), *n))
            .collect()
    }

    /// Test hook: the next `n` requests (any path, before authentication) answer Rack::Attack's
    /// 429 `Retry later` with `RateLimit-*` headers and `Retry-After: 1`.
    pub fn throttle_next(&self, n: u32) {
        self.throttle_next_for(n, Duration::from_secs(1));
    }

    /// Test hook: like [`throttle_next`](Self::throttle_next) with `Retry-After` (and
    /// `RateLimit-Reset`) `retry_after` from now, in whole seconds.
    pub fn throttle_next_for(&self, n: u32, retry_after: Duration) {
        let mut st = self.state();
        st.throttle_remaining = n;
        st.throttle_retry_after = retry_after.as_secs();
    }

    /// Test hook (off by default): new users take the smallest freed user id, which GitLab
    /// never does — for testing the gateway's identity proofs.
    pub fn set_id_reuse(&self, on: bool) {
        self.state().reuse_ids = on;
    }

    /// Test hook: how long a deleted user stays visible (default zero: deletion is immediate).
    pub fn set_delete_delay(&self, delay: Duration) {
        self.state().delete_delay = delay;
    }

    /// Test hook: set a user's `last_activity_on` (by id or username); a date 90+ days ago
    /// makes the user dormant, so `/deactivate` accepts it. False for an unknown user.
    pub fn set_last_activity_on(&self, user: &str, date: Option<time::Date>) -> bool {
        let mut st = self.state();
        let Some(id) = resolve_user(&st, user) else {
            return false;
        };
        match st.users.get_mut(&id) {
            Some(u) => {
                u.last_activity_on = date;
                true
            }
            None => false,
        }
    }

    /// Test hook: make a user dormant (last active 91 days ago).
    pub fn make_dormant(&self, user: &str) -> bool {
        self.set_last_activity_on(user, Some(today() - time::Duration::days(91)))
    }

    /// Test hook acting as the platform: set a user's `state` (`active`, `blocked`,
    /// `deactivated`, `blocked_pending_approval`, `banned`, `ldap_blocked`). False for an
    /// unknown user or state.
    pub fn set_user_state(&self, user: &str, user_state: &str) -> bool {
        const STATES: [&str; 6] = [
            "active",
            "blocked",
            "deactivated",
            "blocked_pending_approval",
            "banned",
            "ldap_blocked",
        ];
        if !STATES.contains(&user_state) {
            return false;
        }
        let mut st = self.state();
        let Some(id) = resolve_user(&st, user) else {
            return false;
        };
        match st.users.get_mut(&id) {
            Some(u) => {
                u.state = user_state.to_string();
                true
            }
            None => false,
        }
    }

    /// Test hook: a personal access token for a user (by id or username). False for an
    /// unknown user.
    pub fn add_token(&self, token: &str, user: &str) -> bool {
        let mut st = self.state();
        let Some(id) = resolve_user(&st, user) else {
            return false;
        };
        st.tokens.insert(token.to_string(), id);
        true
    }

    /// A user's id by username (case-insensitive).
    pub fn user_id(&self, username: &str) -> Option<u64> {
        self.state().user_by_username(username)
    }

    /// A user's admin-view JSON by id or username (also while a deletion is pending).
    pub fn user_json(&self, user: &str) -> Option<Value> {
        let st = self.state();
        let id = resolve_user(&st, user)?;
        users::admin_json(&st, id)
    }

    /// A group's `GroupDetail` JSON by id or full path.
    pub fn group_json(&self, group: &str) -> Option<Value> {
        let st = self.state();
        let id = st.group_by_ref(group)?;
        st.groups.get(&id).map(|g| render::group(&st, g, true))
    }

    /// A group's direct members as `(username, access_level)`, in membership order.
    pub fn group_members(&self, group: &str) -> Option<Vec<(String, i64)>> {
        let st = self.state();
        let id = st.group_by_ref(group)?;
        let g = st.groups.get(&id)?;
        Some(
            g.members
                .iter()
                .filter_map(|m| {
                    st.users
                        .get(&m.user_id)
                        .map(|u| (u.username.clone(), m.access_level))
                })
                .collect(),
        )
    }

    fn count(&self, method: &Method, pattern: &'static str) {
        self.inner.total.fetch_add(1, Ordering::Relaxed);
        let mut counts = self.inner.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((method.clone(), pattern)).or_insert(0) += 1;
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let route = Route::parse(&parts.method, parts.uri.path());
        self.count(
            &parts.method,
            route.as_ref().map_or(UNMATCHED, Route::pattern),
        );
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(c) => c.to_bytes(),
            Err(_) => return ApiError::grape(params::INVALID_BODY).into_response(),
        };
        let resp = self.respond(&parts, route, &body);
        tracing::debug!(
            method = %parts.method,
            path = parts.uri.path(),
            status = resp.status().as_u16(),
            "gitlab emulator request"
        );
        resp
    }

    fn respond(
        &self,
        parts: &http::request::Parts,
        route: Option<Route>,
        body: &[u8],
    ) -> Response<Full<Bytes>> {
        let mut st = self.state();
        if st.throttle_remaining > 0 {
            st.throttle_remaining -= 1;
            return throttled(st.throttle_retry_after);
        }
        st.purge(Instant::now());
        let Some(route) = route else {
            return route_not_found();
        };
        let query = Params::query_pairs(parts.uri.query().unwrap_or(""));
        let actor = match authenticate(&st, &parts.headers, &query) {
            Ok(a) => a,
            Err(e) => return e.into_response(),
        };
        let admin = st.users.get(&actor).is_some_and(|u| u.is_admin);
        if let Some(u) = st.users.get_mut(&actor) {
            // `Users::ActivityService` after every authenticated API call.
            u.last_activity_on = Some(today());
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let params = match Params::parse(&query, content_type, body) {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        };
        let ctx = Ctx {
            actor,
            admin,
            path: parts.uri.path(),
            query: &query,
        };
        dispatch(&mut st, &ctx, &parts.method, route, params)
    }
}

/// A user by id (digits) or username.
fn resolve_user(st: &State, user: &str) -> Option<u64> {
    match user.parse::<u64>() {
        Ok(id) => st.users.contains_key(&id).then_some(id),
        Err(_) => st.user_by_username(user),
    }
}

/// Rack::Attack's throttled answer (`Gitlab::RackAttack`).
fn throttled(retry_after: u64) -> Response<Full<Bytes>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let reset = now + retry_after;
    let reset_time = i64::try_from(reset)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .ok()
        })
        .unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from_static(b"Retry later\n")));
    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = [
        ("content-type", "text/plain".to_string()),
        ("ratelimit-name", "throttle_authenticated_api".to_string()),
        ("ratelimit-limit", "60".to_string()),
        ("ratelimit-observed", "61".to_string()),
        ("ratelimit-remaining", "0".to_string()),
        ("ratelimit-reset", reset.to_string()),
        ("ratelimit-resettime", reset_time),
        ("retry-after", retry_after.to_string()),
    ];
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests;
