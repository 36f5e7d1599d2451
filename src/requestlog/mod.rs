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

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// How often the writer takes what is queued (an entry is readable this much later at most,
/// plus the write).
const DRAIN_EVERY: Duration = Duration::from_millis(100);

/// How often entries past the retention are removed.
const EXPIRE_EVERY: Duration = Duration::from_secs(300);

/// Bodies of a batch masked on the writer's own task at most; more go to a blocking thread.
const INLINE_MASK_BYTES: usize = 256 << 10;

/// The longest retention the config takes (ten years).
pub const MAX_RETENTION_HOURS: u32 = 87_600;

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

/// Most bytes of raw bodies waiting for the writer (beyond it entries are dropped, counted):
/// the queue's count alone would let two thousand 1 MiB `/Bulk` bodies wait in memory.
const MAX_QUEUED_BYTES: usize = 16 << 20;

/// The running request log: where the HTTP layer hands entries over.
pub struct RequestLog {
    queue: mpsc::Sender<Captured>,
    clock: SharedClock,
    /// Bytes of bodies in the queue.
    queued_bytes: Arc<AtomicUsize>,
}

impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLog").finish_non_exhaustive()
    }
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
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            store,
            clock: clock.clone(),
            masker: Arc::new(Masker::new(&settings.mask, settings.max_body_bytes)),
            retention: settings.retention,
            keep: settings.max_entries_per_tenant,
            queued_bytes: queued_bytes.clone(),
        };
        tokio::spawn(writer.run(entries));
        Some(Arc::new(RequestLog {
            queue,
            clock,
            queued_bytes,
        }))
    }

    /// Now, by the gateway's clock (entries are stamped and pruned by the same).
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Hands an entry to the writer, or drops it (counted) when the writer is behind.
    pub fn submit(&self, captured: Captured) {
        let size = captured.request_body.len() + captured.response_body.len();
        let before = self.queued_bytes.fetch_add(size, Ordering::AcqRel);
        if before.saturating_add(size) > MAX_QUEUED_BYTES {
            self.queued_bytes.fetch_sub(size, Ordering::AcqRel);
            crate::metrics::metrics().request_log_dropped("queue_full");
            return;
        }
        if let Err(e) = self.queue.try_send(captured) {
            self.queued_bytes.fetch_sub(size, Ordering::AcqRel);
            crate::metrics::metrics().request_log_dropped(match e {
                mpsc::error::TrySendError::Full(_) => "queue_full",
                mpsc::error::TrySendError::Closed(_) => "writer_stopped",
            });
        }
    }
}

/// The writer: masks and stores entries in batches, and keeps the log to its bounds.
struct Writer {
    store: Arc<dyn Store>,
    clock: SharedClock,
    masker: Arc<Masker>,
    retention: Duration,
    keep: u64,
    queued_bytes: Arc<AtomicUsize>,
}

impl Writer {
    /// Until the log is dropped. The tenants written to are trimmed to their count whenever a
    /// quarter of it has been written since (a burst holds little more than the count); the
    /// retention is applied at start and every five minutes. Every replica prunes; deleting
    /// what another replica deleted is harmless.
    async fn run(self, mut queue: mpsc::Receiver<Captured>) {
        // The queue is read on a clock, not waited on: a sender then never has to wake the
        // writer, which at thousands of requests a second cost more than the writing.
        let mut poll = tokio::time::interval(DRAIN_EVERY);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_expiry = std::time::Instant::now();
        self.expire().await;
        let mut written: HashMap<String, u64> = HashMap::new();
        loop {
            poll.tick().await;
            loop {
                let mut batch = Vec::new();
                let closed = loop {
                    match queue.try_recv() {
                        Ok(captured) => {
                            batch.push(captured);
                            if batch.len() == BATCH {
                                break false;
                            }
                        }
                        Err(mpsc::error::TryRecvError::Empty) => break false,
                        Err(mpsc::error::TryRecvError::Disconnected) => break true,
                    }
                };
                let full = batch.len() == BATCH;
                if !batch.is_empty() {
                    self.store(batch, &mut written).await;
                }
                if closed {
                    return;
                }
                if !full {
                    break;
                }
            }
            if last_expiry.elapsed() >= EXPIRE_EVERY {
                last_expiry = std::time::Instant::now();
                self.expire().await;
            }
        }
    }

    /// Stores a batch, then trims the tenants a quarter of whose count has been written since
    /// they were last trimmed.
    async fn store(&self, batch: Vec<Captured>, written: &mut HashMap<String, u64>) {
        let size: usize = batch
            .iter()
            .map(|c| c.request_body.len() + c.response_body.len())
            .sum();
        self.store_batch(batch, size, written).await;
        self.queued_bytes.fetch_sub(size, Ordering::AcqRel);
        let threshold = (self.keep / 4).max(1);
        let full: Vec<String> = written
            .iter()
            .filter(|(_, n)| **n >= threshold)
            .map(|(t, _)| t.clone())
            .collect();
        for tenant in full {
            written.remove(&tenant);
            if let Err(e) = self.store.trim_requests(&tenant, self.keep).await {
                tracing::warn!(error = %e, tenant, "cannot trim the request log");
            }
        }
    }

    /// Masks a batch and stores it. A batch with large bodies is masked off the async workers
    /// (parsing megabytes takes a while); a small one here (handing it to another thread
    /// would cost more than masking it).
    async fn store_batch(
        &self,
        batch: Vec<Captured>,
        size: usize,
        written: &mut HashMap<String, u64>,
    ) {
        let count = batch.len() as u64;
        let masker = self.masker.clone();
        let mask = move || batch.into_iter().map(|c| entry(&masker, c)).collect();
        let entries = if size > INLINE_MASK_BYTES {
            tokio::task::spawn_blocking(mask).await
        } else {
            Ok(mask())
        };
        let entries: Vec<RequestEntry> = match entries {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, "cannot mask request log entries");
                crate::metrics::metrics().request_log_dropped_many("mask_failed", count);
                return;
            }
        };
        match self.store.log_requests(&entries).await {
            Ok(()) => {
                for e in &entries {
                    *written.entry(e.tenant.clone()).or_default() += 1;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, entries = count, "cannot store request log entries");
                crate::metrics::metrics().request_log_dropped_many("store_error", count);
            }
        }
    }

    /// Removes entries past the retention, and those of tenants that are gone.
    async fn expire(&self) {
        let before = self
            .clock
            .now()
            .checked_sub(time::Duration::try_from(self.retention).unwrap_or(time::Duration::MAX))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        match self.store.prune_requests(before).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(
                removed = n,
                "request log entries past their retention removed"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot prune the request log"),
        }
    }
}

/// A unique, time-ordered entry id: the time in milliseconds, this process's random prefix
/// (replicas share the table) and a counter. Cheaper than a UUID's system random per entry.
fn entry_id(at: OffsetDateTime) -> String {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = at.unix_timestamp_nanos() / 1_000_000;
    format!("{millis:013x}-{prefix:016x}-{n:012x}")
}

/// What is stored of a captured request: bodies masked and bounded; the values masked in them
/// cut out of the path, its query and the platform calls too, and query parameters whose
/// names say secret (`access_token`) masked.
pub fn entry(masker: &Masker, captured: Captured) -> RequestEntry {
    // What the request's body masked is cut out of the answer too (an echo, a derived name).
    let mut masked = Vec::new();
    let request_body = masker.body_of_entry(&captured.request_body, &mut masked);
    let response_body = masker.body_of_entry(&captured.response_body, &mut masked);
    let mut calls = captured.calls;
    for call in &mut calls {
        call.path = masker.scrub_text(&call.path, &masked);
    }
    RequestEntry {
        id: entry_id(captured.at),
        at: captured.at,
        tenant: captured.tenant,
        request_id: captured.request_id,
        token: captured.token,
        method: captured.method,
        path: masker.scrub_text(&mask::secret_query(&captured.path), &masked),
        status: captured.status,
        duration_ms: captured.duration.as_secs_f64() * 1000.0,
        request_body,
        response_body,
        calls,
    }
}

// ---- the request in progress ---------------------------------------------------------------

tokio::task_local! {
    static CALLS: CallTrace;
}

/// One request in progress: what the layers learn of it and the platform calls it makes.
/// Shared by the HTTP layer, the request's extensions and the tasks it spawns ([`carry`]);
/// the entry is handed to the log when the last of them lets go, so the calls of a write that
/// goes on after a timeout answered are in it too.
#[derive(Debug, Clone, Default)]
pub struct CallTrace(Arc<Mutex<Trace>>);

#[derive(Debug, Default)]
struct Trace {
    kept: Vec<PlatformCall>,
    more: usize,
    draft: Option<Draft>,
}

/// The entry a request will make, filled in as the request goes.
#[derive(Debug)]
struct Draft {
    log: Arc<RequestLog>,
    at: OffsetDateTime,
    started: std::time::Instant,
    request_id: String,
    method: String,
    path: String,
    tenant: Option<String>,
    token: String,
    request_body: Bytes,
    answer: Option<(u16, Bytes, Duration)>,
}

impl Drop for Trace {
    fn drop(&mut self) {
        let Some(draft) = self.draft.take() else {
            return;
        };
        // A request that names no existing tenant is logged nowhere.
        let Some(tenant) = draft.tenant else {
            return;
        };
        // 499: the client closed the connection before the answer (nginx's convention).
        let (status, response_body, duration) = draft
            .answer
            .unwrap_or_else(|| (499, Bytes::new(), draft.started.elapsed()));
        let calls = self.calls();
        draft.log.submit(Captured {
            at: draft.at,
            tenant,
            request_id: draft.request_id,
            token: draft.token,
            method: draft.method,
            path: draft.path,
            status,
            duration,
            request_body: draft.request_body,
            response_body,
            calls,
        });
    }
}

impl Trace {
    /// The calls noted, in order; a last line says how many more were not kept.
    fn calls(&mut self) -> Vec<PlatformCall> {
        let mut kept = std::mem::take(&mut self.kept);
        if self.more > 0 {
            kept.push(PlatformCall {
                backend: String::new(),
                method: String::new(),
                path: format!("({} more calls not kept)", self.more),
                status: None,
                error: None,
                duration_ms: 0.0,
            });
        }
        kept
    }
}

impl CallTrace {
    /// A request to be logged into `log` once it and all its work have ended.
    pub fn for_request(
        log: Arc<RequestLog>,
        at: OffsetDateTime,
        request_id: String,
        method: String,
        path: String,
    ) -> CallTrace {
        CallTrace(Arc::new(Mutex::new(Trace {
            draft: Some(Draft {
                log,
                at,
                started: std::time::Instant::now(),
                request_id,
                method,
                path,
                tenant: None,
                token: String::new(),
                request_body: Bytes::new(),
                answer: None,
            }),
            kept: Vec::new(),
            more: 0,
        })))
    }

    fn with_draft(&self, change: impl FnOnce(&mut Draft)) {
        if let Ok(mut trace) = self.0.lock() {
            if let Some(draft) = trace.draft.as_mut() {
                change(draft);
            }
        }
    }

    /// The tenant the request is logged under and the token it named (never the secret).
    pub fn tenant(&self, tenant: &str, token: String) {
        self.with_draft(|d| {
            d.tenant = Some(tenant.to_owned());
            d.token = token;
        });
    }

    /// The IdP's body as read (a shared buffer, not a copy).
    pub fn body(&self, body: &Bytes) {
        self.with_draft(|d| d.request_body = body.clone());
    }

    /// The answer: its status and body (a shared buffer), and how long it took.
    pub fn answered(&self, status: u16, body: Bytes) {
        self.with_draft(|d| d.answer = Some((status, body, d.started.elapsed())));
    }

    /// Runs `work` with its platform calls noted here.
    pub fn scope<F: Future>(&self, work: F) -> impl Future<Output = F::Output> {
        CALLS.scope(self.clone(), work)
    }

    #[cfg(test)]
    fn take(&self) -> Vec<PlatformCall> {
        self.0.lock().map(|mut t| t.calls()).unwrap_or_default()
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

    /// A log whose queue the test reads.
    fn test_log() -> (Arc<RequestLog>, mpsc::Receiver<Captured>) {
        let (queue, entries) = mpsc::channel(8);
        let log = RequestLog {
            queue,
            clock: Arc::new(crate::clock::SystemClock),
            queued_bytes: Arc::new(AtomicUsize::new(0)),
        };
        (Arc::new(log), entries)
    }

    #[tokio::test]
    async fn the_entry_waits_for_the_work_the_request_spawned() {
        let (log, mut entries) = test_log();
        let trace = CallTrace::for_request(
            log.clone(),
            log.now(),
            "req-1".into(),
            "POST".into(),
            "/scim/v2/Users".into(),
        );
        trace.tenant("default", "okta".into());
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        // A write on its own task, still calling the platform after the answer (a timeout).
        let write = tokio::spawn(trace.scope(carry(async move {
            let _ = wait.await;
            note_call(
                "default",
                "POST",
                "/api/v2/users",
                &[],
                CallOutcome::Answered(201),
                Duration::ZERO,
            );
        })));
        trace.answered(503, Bytes::from_static(b"{}"));
        drop(trace);
        assert!(entries.try_recv().is_err(), "logged before the write ended");
        go.send(()).unwrap();
        write.await.unwrap();
        let captured = entries.recv().await.unwrap();
        assert_eq!(captured.status, 503);
        assert_eq!(captured.calls.len(), 1);
        assert_eq!(captured.calls[0].status, Some(201));
        assert_eq!(captured.token, "okta");
    }

    #[tokio::test]
    async fn a_request_of_no_tenant_is_not_logged_and_a_dropped_one_is_499() {
        let (log, mut entries) = test_log();
        let nobody = CallTrace::for_request(
            log.clone(),
            log.now(),
            String::new(),
            "GET".into(),
            "/x".into(),
        );
        drop(nobody);
        let left = CallTrace::for_request(
            log.clone(),
            log.now(),
            String::new(),
            "GET".into(),
            "/y".into(),
        );
        left.tenant("default", "-".into());
        drop(left);
        let captured = entries.recv().await.unwrap();
        assert_eq!((captured.path.as_str(), captured.status), ("/y", 499));
        assert!(entries.try_recv().is_err());
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
