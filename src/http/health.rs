//! The operational endpoints beside `/healthz` (alive): `/readyz` (whether this replica can
//! serve: the store answers, each backend can be reached and its circuit is closed) and
//! `/metrics` (the Prometheus exposition, [`crate::metrics`]). Both are public, or served
//! only on `server.management_listen` when it is set.

use std::time::Duration;

use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use super::response::{empty, json_response, HttpResponse};
use super::HttpState;
use crate::backend::Reach;

/// How long one readiness check may take: a probe that hangs is a probe that failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /readyz`: 200 when the store and every backend are ready, else 503; the body names
/// each part and, for one that is not ready, why.
pub async fn readiness(state: &HttpState) -> HttpResponse {
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
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "store": store,
        "backends": backends.into_iter().collect::<Map<String, Value>>(),
    });
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
