//! The operational endpoints beside `/healthz` (alive): `/readyz` (whether this replica can
//! serve: the store answers, each backend can be reached and its circuit is closed) and
//! `/metrics` (the Prometheus exposition, [`crate::metrics`]). On `server.management_listen`
//! both are open (it is for probes and scrapers inside the deployment). Without it they are
//! served beside SCIM, where `/metrics` (its labels name every tenant) needs an admin token
//! and `/readyz` tells anyone only its status, an admin the details.

use std::time::{Duration, Instant};

use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use super::response::{empty, json_response, HttpResponse};
use super::HttpState;
use crate::backend::Reach;

/// How long one readiness check may take: a probe that hangs is a probe that failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /readyz`: 200 when the store and every backend are ready, else 503; the body names
/// each part and, for one that is not ready, why (`detailed`), or says only the status.
pub async fn readiness(state: &HttpState, detailed: bool) -> HttpResponse {
    let (ready, report) = {
        // One check at a time, its result kept a second: probes and scrapers that come
        // together (or a flood of anonymous GETs) cost one store query and one probe per
        // backend a second at most.
        let mut memo = state.readiness.lock().await;
        match memo.as_ref() {
            Some((at, ready, report)) if at.elapsed() < MEMO_FOR => (*ready, report.clone()),
            _ => {
                let (ready, report) = check(state).await;
                *memo = Some((Instant::now(), ready, report.clone()));
                (ready, report)
            }
        }
    };
    let status_text = if ready { "ready" } else { "not ready" };
    let body = if detailed {
        let mut report = report;
        if let Some(map) = report.as_object_mut() {
            map.insert("status".to_owned(), json!(status_text));
        }
        report
    } else {
        json!({"status": status_text})
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = json_response(status, &body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// How long a readiness check's result is answered again.
const MEMO_FOR: Duration = Duration::from_secs(1);

/// The last readiness check: when, whether ready, the report.
pub type ReadinessMemo = tokio::sync::Mutex<Option<(Instant, bool, Value)>>;

/// Checks the store and every backend at once.
async fn check(state: &HttpState) -> (bool, Value) {
    let store = async {
        match tokio::time::timeout(CHECK_TIMEOUT, state.tenants.store().ping()).await {
            Ok(Ok(())) => json!({"ready": true}),
            Ok(Err(e)) => json!({"ready": false, "error": e.to_string()}),
            Err(_) => json!({"ready": false, "error": "the store did not answer within 3 s"}),
        }
    };
    let backends = futures_util::future::join_all(state.tenants.backends().map(|b| async move {
        let reach = tokio::time::timeout(CHECK_TIMEOUT, b.platform.reach())
            .await
            .unwrap_or_else(|_| Reach::Unreachable("no answer within 3 s".to_owned()));
        let report = match reach {
            Reach::Reachable => json!({"ready": true, "circuit": "closed"}),
            Reach::Unreachable(why) => {
                json!({"ready": false, "circuit": "closed", "error": why})
            }
            Reach::CircuitOpen(wait) => json!({
                "ready": false,
                "circuit": "open",
                "error": "the platform kept failing: its calls are refused for a while",
                "retryAfterSecs": wait.as_secs().max(1),
            }),
        };
        (b.name.clone(), report)
    }));
    let (store, backends) = tokio::join!(store, backends);
    let is_ready = |report: &Value| report.get("ready") == Some(&Value::Bool(true));
    let ready = is_ready(&store) && backends.iter().all(|(_, r)| is_ready(r));
    (
        ready,
        json!({
            "store": store,
            "backends": backends.into_iter().collect::<Map<String, Value>>(),
        }),
    )
}

/// `GET /metrics`.
pub fn metrics_answer() -> HttpResponse {
    let mut response = empty(StatusCode::OK);
    *response.body_mut() =
        http_body_util::Full::new(bytes::Bytes::from(crate::metrics::metrics().render()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    response
}
