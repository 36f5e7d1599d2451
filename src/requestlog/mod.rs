//! The request log, for debugging an IdP's provisioning: each SCIM request a tenant received,
//! the platform calls it made, and both bodies with secrets masked ([`mask`]), kept in the
//! store (readable from any replica) within an age and a count per tenant. Separate from the
//! audit log, which keeps what changed and who changed it.
//!
//! The request's path pays for little: the HTTP layer (`http::requestlog`) hands over the
//! bodies as they are (shared buffers, not copies) through a bounded queue; one writer task
//! masks them and stores them in batches. When the queue is full (the store slower than the
//! requests) entries are dropped and counted (`request_log_dropped_total`), never waited for.
//! Platform calls are noted by the HTTP client ([`note_call`]) into the request's
//! [`CallTrace`], a task-local that [`carry`] takes along onto the tasks a request spawns.

pub mod mask;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::clock::SharedClock;
use crate::store::{PlatformCall, RequestEntry, Store};

use self::mask::Masker;

/// Most platform calls kept of one request (a scan of a large list pages many times).
const MAX_CALLS: usize = 100;

/// Most entries stored in one transaction.
const BATCH: usize = 256;

/// `[request_log]` as compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLogSettings {
    /// Whether requests are logged at all.
    pub enabled: bool,
    /// Entries older than this are removed.
    pub retention: Duration,
    /// Most entries kept per tenant (the oldest go first).
    pub max_entries_per_tenant: u64,
    /// Longest text kept of each body, in bytes.
    pub max_body_bytes: usize,
    /// Attribute paths masked besides secrets (`phoneNumbers`, `name.familyName`).
    pub mask: Vec<String>,
    /// Entries waiting for the writer at most; more are dropped.
    pub queue: usize,
}

/// One request as the HTTP layer saw it: raw, masked by the writer.
#[derive(Debug)]
pub struct Captured {
    /// When it arrived.
    pub at: OffsetDateTime,
    /// The tenant it was for.
    pub tenant: String,
    /// Its `x-request-id`.
    pub request_id: String,
    /// The token it named (never the secret).
    pub token: String,
    /// Method, path and query.
    pub method: String,
    /// The path and query as sent.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// How long the answer took.
    pub duration: Duration,
    /// The IdP's body as sent.
    pub request_body: Bytes,
    /// The answer's body.
    pub response_body: Bytes,
    /// The platform calls it made.
    pub calls: Vec<PlatformCall>,
}

/// The running request log: where the HTTP layer hands entries over.
pub struct RequestLog {
    queue: mpsc::Sender<Captured>,
}

impl RequestLog {
    /// Starts the writer on `store`; `None` when the log is off.
    pub fn start(
        store: Arc<dyn Store>,
        clock: SharedClock,
        settings: &RequestLogSettings,
    ) -> Option<Arc<RequestLog>> {
        if !settings.enabled {
            return None;
        }
        let (queue, entries) = mpsc::channel(settings.queue.max(1));
        let masker = Masker::new(&settings.mask, settings.max_body_bytes);
        let bounds = Bounds {
            retention: settings.retention,
            keep: settings.max_entries_per_tenant,
        };
        tokio::spawn(write_entries(store, clock, masker, bounds, entries));
        Some(Arc::new(RequestLog { queue }))
    }

    /// Hands an entry to the writer, or drops it (counted) when the writer is behind.
    pub fn submit(&self, captured: Captured) {
        if self.queue.try_send(captured).is_err() {
            crate::metrics::metrics().request_log_dropped("queue_full");
        }
    }
}

/// How much of the log is kept.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    retention: Duration,
    keep: u64,
}

/// Masks and stores entries in batches until the log is dropped; prunes to the bounds at
/// start, every five minutes, and whenever a quarter of a tenant's count has been written
/// since (so a burst cannot hold much more than the count until the next tick). Every replica
/// prunes; deleting what another replica deleted is harmless.
async fn write_entries(
    store: Arc<dyn Store>,
    clock: SharedClock,
    masker: Masker,
    bounds: Bounds,
    mut queue: mpsc::Receiver<Captured>,
) {
    let mut captured = Vec::with_capacity(BATCH);
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    let mut written: u64 = 0;
    loop {
        tokio::select! {
            received = queue.recv_many(&mut captured, BATCH) => {
                if received == 0 {
                    return;
                }
                let entries: Vec<RequestEntry> =
                    captured.drain(..).map(|c| entry(&masker, c)).collect();
                match store.log_requests(&entries).await {
                    Ok(()) => written += entries.len() as u64,
                    Err(e) => {
                        tracing::warn!(error = %e, entries = entries.len(), "cannot store request log entries");
                        for _ in &entries {
                            crate::metrics::metrics().request_log_dropped("store_error");
                        }
                    }
                }
                if written >= (bounds.keep / 4).max(1) {
                    written = 0;
                    prune(store.as_ref(), &clock, bounds).await;
                }
            }
            _ = tick.tick() => prune(store.as_ref(), &clock, bounds).await,
        }
    }
}

/// What is stored of a captured request: the bodies masked and bounded.
pub fn entry(masker: &Masker, captured: Captured) -> RequestEntry {
    // What the request's body masked is cut out of the answer too (an echo, a derived name).
    let mut masked = Vec::new();
    let request_body = masker.body_of_entry(&captured.request_body, &mut masked);
    let response_body = masker.body_of_entry(&captured.response_body, &mut masked);
    RequestEntry {
        id: uuid::Uuid::now_v7().to_string(),
        at: captured.at,
        tenant: captured.tenant,
        request_id: captured.request_id,
        token: captured.token,
        method: captured.method,
        path: captured.path,
        status: captured.status,
        duration_ms: captured.duration.as_secs_f64() * 1000.0,
        request_body,
        response_body,
        calls: captured.calls,
    }
}

/// Removes entries past the retention or beyond the count.
async fn prune(store: &dyn Store, clock: &SharedClock, bounds: Bounds) {
    let before = clock.now() - bounds.retention;
    match store.prune_requests(before, bounds.keep).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(removed = n, "request log entries past their bounds removed"),
        Err(e) => tracing::warn!(error = %e, "cannot prune the request log"),
    }
}

// ---- platform calls of the request in progress -------------------------------------------

tokio::task_local! {
    static CALLS: CallTrace;
}

/// The platform calls of one request, noted as they are made.
#[derive(Debug, Clone, Default)]
pub struct CallTrace(Arc<Mutex<Calls>>);

#[derive(Debug, Default)]
struct Calls {
    kept: Vec<PlatformCall>,
    more: usize,
}

impl CallTrace {
    /// Runs `work` with its platform calls noted here.
    pub fn scope<F: Future>(&self, work: F) -> impl Future<Output = F::Output> {
        CALLS.scope(self.clone(), work)
    }

    /// The calls noted, in order; a last line says how many more were not kept.
    pub fn take(&self) -> Vec<PlatformCall> {
        let Ok(mut calls) = self.0.lock() else {
            return Vec::new();
        };
        let mut kept = std::mem::take(&mut calls.kept);
        if calls.more > 0 {
            kept.push(PlatformCall {
                backend: String::new(),
                method: String::new(),
                path: format!("({} more calls not kept)", calls.more),
                status: None,
                error: None,
                duration_ms: 0.0,
            });
        }
        kept
    }
}

/// `work`, its platform calls noted in the trace of the request that spawns it (writes run on
/// tasks of their own, which a task-local does not follow by itself).
pub fn carry<F: Future>(work: F) -> impl Future<Output = F::Output> {
    let trace = CALLS.try_with(CallTrace::clone).ok();
    async move {
        match trace {
            Some(trace) => CALLS.scope(trace, work).await,
            None => work.await,
        }
    }
}

/// What became of a platform call.
pub enum CallOutcome<'a> {
    /// The platform answered this status.
    Answered(u16),
    /// No answer, for this reason (`timeout`, `unreachable`, `circuit_open`, ...).
    Failed(&'a str),
}

/// Notes a platform call in the trace of the request making it, if it is being logged.
/// Secret-looking query values are masked; headers (the credential) are never noted.
pub fn note_call(
    backend: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    outcome: CallOutcome<'_>,
    elapsed: Duration,
) {
    let _ = CALLS.try_with(|trace| {
        let Ok(mut calls) = trace.0.lock() else {
            return;
        };
        if calls.kept.len() >= MAX_CALLS {
            calls.more += 1;
            return;
        }
        let mut shown = path.to_owned();
        for (n, (name, value)) in query.iter().enumerate() {
            shown.push(if n == 0 { '?' } else { '&' });
            shown.push_str(name);
            shown.push('=');
            shown.push_str(if crate::redact::secret_like(name) {
                crate::redact::REDACTED
            } else {
                value
            });
        }
        let (status, error) = match outcome {
            CallOutcome::Answered(status) => (Some(status), None),
            CallOutcome::Failed(why) => (None, Some(why.to_owned())),
        };
        calls.kept.push(PlatformCall {
            backend: backend.to_owned(),
            method: method.to_owned(),
            path: shown,
            status,
            error,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_are_noted_in_the_scope_and_carried_onto_spawned_tasks() {
        let trace = CallTrace::default();
        let query = vec![
            ("q".to_owned(), "bob".to_owned()),
            ("private_token".to_owned(), "glpat-secret".to_owned()),
        ];
        trace
            .scope(async {
                note_call(
                    "gitlab",
                    "GET",
                    "/api/v4/users",
                    &query,
                    CallOutcome::Answered(200),
                    Duration::from_millis(3),
                );
                let spawned = tokio::spawn(carry(async {
                    note_call(
                        "gitlab",
                        "POST",
                        "/api/v4/users",
                        &[],
                        CallOutcome::Failed("timeout"),
                        Duration::ZERO,
                    );
                }));
                spawned.await.unwrap();
            })
            .await;
        // Outside any request: nothing is noted, nothing fails.
        note_call(
            "gitlab",
            "GET",
            "/elsewhere",
            &[],
            CallOutcome::Answered(200),
            Duration::ZERO,
        );
        let calls = trace.take();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].path, "/api/v4/users?q=bob&private_token=***");
        assert_eq!(calls[0].status, Some(200));
        assert_eq!(calls[1].method, "POST");
        assert_eq!(calls[1].error.as_deref(), Some("timeout"));
    }

    #[tokio::test]
    async fn a_request_keeps_a_bounded_number_of_calls() {
        let trace = CallTrace::default();
        trace
            .scope(async {
                for _ in 0..MAX_CALLS + 5 {
                    note_call(
                        "b",
                        "GET",
                        "/p",
                        &[],
                        CallOutcome::Answered(200),
                        Duration::ZERO,
                    );
                }
            })
            .await;
        let calls = trace.take();
        assert_eq!(calls.len(), MAX_CALLS + 1);
        assert_eq!(calls[MAX_CALLS].path, "(5 more calls not kept)");
    }
}
