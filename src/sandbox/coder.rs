//! A faithful in-memory emulator of the Coder (coderd) REST API v2 — users, organizations,
//! memberships and (Premium) groups — served over real HTTP/1.1 for `scimgate demo` and the
//! integration tests.
//!
//! It follows the project's Coder reference sheet, quirks included: `{user}` misses are 400s,
//! new users are `dormant`, deletes are soft, list counts come from a window function (an
//! empty page reports `count: 0`), and every non-2xx answer is a `codersdk.Response` body.
//!
//! Representation choices where the sheet was silent or inferred:
//! * `roles` on a User lists the stored *site* roles only; the implicit `member` role is never
//!   stored or shown, so a plain user has `"roles": []` (as `db2sdk.User` does).
//!   `PUT /users/{user}/roles` drops `member` from the body and stores the rest sorted.
//! * Soft-deleting a user also removes its organization and group memberships.
//! * Adding a current member through `PATCH /groups/{group}` fails with 400
//!   `Cannot add the same user to a group twice!` and applies nothing (real unique-key
//!   violation inside the transaction); removing a non-member is a no-op.
//! * Users who are not members of the group's organization → 400
//!   `User must be a member of organization "<group name>"` (the real message's quirk) with a
//!   clarifying `detail`.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

mod groups;
mod routes;
mod search;
mod state;
mod users;

use routes::{authenticate, dispatch, method_not_allowed, route_not_found, ApiError, Query, Route};
use state::{now, State};

/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Counter key of requests no route matched.
const UNMATCHED: &str = "<unmatched>";

struct Inner {
    token: String,
    state: Mutex<State>,
    total: AtomicU64,
    counts: Mutex<HashMap<(Method, &'static str), u64>>,
}

/// An emulated Coder deployment. Cheap to clone; clones share the same state.
#[derive(Clone)]
pub struct CoderEmulator {
    inner: Arc<Inner>,
}

impl CoderEmulator {
    /// A fresh deployment with one organization (named "coder", display "Coder") and its
    /// Everyone group (id == organization id), accepting `session_token` in the
    /// `Coder-Session-Token` header (also the `coder_session_token` cookie / query parameter).
    ///
    /// The deployment's first user is the token's owner: `admin` / `admin@coder.example`,
    /// site role `owner`, status `active`, login type `password`; `me` resolves to it.
    ///
    /// Real Coder API tokens have the shape `ID-SECRET` (10 + 22 characters), and a token
    /// that is not in that shape is rejected with detail `Invalid API key format: ...`.
    /// Use a token of that shape, e.g. `abcdefghij-0123456789abcdefghijkl`; a secret of the
    /// configured token's own length (e.g. `abcdefghij-0123456789abcdefghijklmn`) is also
    /// considered well-formed, and the configured token itself is always accepted.
    pub fn new(session_token: impl Into<String>) -> Self {
        CoderEmulator {
            inner: Arc::new(Inner {
                token: session_token.into(),
                state: Mutex::new(State::new()),
                total: AtomicU64::new(0),
                counts: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The id of the default organization (also the id of its Everyone group).
    pub fn organization_id(&self) -> String {
        self.state().default_org.to_string()
    }

    /// Serve on an already-bound listener until `shutdown` resolves (graceful: in-flight
    /// requests finish, idle keep-alive connections are closed). Keep-alive HTTP/1.1.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
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
                                tracing::debug!(error = %e, "coder emulator: connection error");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "coder emulator: accept failed");
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

    /// Per "METHOD path-pattern" counts, e.g. "PATCH /api/v2/groups/{group}"; requests that
    /// match no route are counted under `"METHOD <unmatched>"`.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        let counts = self.inner.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|((m, p), n)| (format!("{m} {p}"), *n))
            .collect()
    }

    /// Test helper acting as the platform itself: set a user's status ("active" | "dormant" |
    /// "suspended") by id or username. False for an unknown user or status.
    pub fn set_user_status(&self, id_or_username: &str, status: &str) -> bool {
        if !matches!(status, "active" | "dormant" | "suspended") {
            return false;
        }
        let mut st = self.state();
        let Some(id) = st.resolve_user(id_or_username) else {
            return false;
        };
        match st.users.get_mut(&id) {
            Some(u) => {
                u.status = status.to_string();
                u.updated_at = now();
                true
            }
            None => false,
        }
    }

    /// Test helper: a user as its API JSON (`codersdk.User`) plus a `"deleted"` flag, by id,
    /// username (live users first) or `me`; soft-deleted users are found too (by id, or by
    /// their former username when no live user has it — the most recently created wins).
    pub fn user_json(&self, id_or_username: &str) -> Option<serde_json::Value> {
        let st = self.state();
        let id = st.resolve_user(id_or_username).or_else(|| {
            let lower = id_or_username.to_lowercase();
            st.users
                .values()
                .filter(|u| u.deleted && u.username.to_lowercase() == lower)
                .max_by_key(|u| u.created_at)
                .map(|u| u.id)
        })?;
        let user = st.users.get(&id)?;
        let mut value = serde_json::to_value(user.out()).ok()?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("deleted".to_string(), serde_json::Value::Bool(user.deleted));
        }
        Some(value)
    }

    fn count(&self, method: &Method, pattern: &'static str) {
        self.inner.total.fetch_add(1, Ordering::Relaxed);
        let mut counts = self.inner.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((method.clone(), pattern)).or_insert(0) += 1;
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let route = Route::parse(parts.uri.path());
        self.count(&parts.method, route.map_or(UNMATCHED, |r| r.pattern()));
        let resp = self.respond(&parts, route, body).await;
        tracing::debug!(
            method = %parts.method,
            path = parts.uri.path(),
            status = resp.status().as_u16(),
            "coder emulator request"
        );
        resp
    }

    async fn respond(
        &self,
        parts: &http::request::Parts,
        route: Option<Route<'_>>,
        body: Incoming,
    ) -> Response<Full<Bytes>> {
        let Some(route) = route else {
            return route_not_found();
        };
        let query = Query::parse(parts.uri.query().unwrap_or(""));
        if let Err(e) = authenticate(&self.inner.token, &parts.headers, &query) {
            return e.into_response();
        }
        if !route.methods().contains(&parts.method) {
            return method_not_allowed(&route);
        }
        let body = if matches!(parts.method, Method::POST | Method::PUT | Method::PATCH) {
            match Limited::new(body, MAX_BODY).collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) => {
                    return ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "Request body must be valid JSON.",
                    )
                    .detail(e.to_string())
                    .into_response()
                }
            }
        } else {
            Bytes::new()
        };
        let mut st = self.state();
        dispatch(&mut st, &parts.method, route, &query, &body)
    }
}

#[cfg(test)]
mod tests;
