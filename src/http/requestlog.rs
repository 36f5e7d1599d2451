//! The request log's tower layer: each SCIM request of a known tenant, with its bodies and the
//! platform calls it made, handed to [`crate::requestlog`] once answered.
//!
//! The layer puts a [`CallTrace`] into the request's extensions and runs the request inside it:
//! authentication writes the tenant and the token into it (for a refused request too, when
//! the token it presented is one of the tenant's, so that an admin can see why an IdP is
//! refused, while a scanner cannot fill the log), the body reader the IdP's body, the HTTP
//! client each platform call. The entry is handed over when the request and every task it
//! spawned have ended. A request whose client left is kept as 499, a panic as 500.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service};

use super::layers::{take, Listener};
use super::response::HttpResponse;
use super::routes::{area, Area};
use super::HttpState;
use crate::requestlog::{CallTrace, RequestLog};

/// What the layers and handlers note of a request for its log entry (in its extensions).
pub type RequestNote = CallTrace;

/// See the module docs.
#[derive(Clone)]
pub struct RequestLogLayer {
    log: Option<Arc<RequestLog>>,
    listener: Listener,
}

impl RequestLogLayer {
    /// Logs the SCIM requests of a listener into the state's request log (when it is on).
    pub fn new(state: Arc<HttpState>, listener: Listener) -> Self {
        RequestLogLayer {
            log: state.request_log.clone(),
            listener,
        }
    }
}

impl<S> Layer<S> for RequestLogLayer {
    type Service = RequestLogged<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestLogged {
            inner,
            log: self.log.clone(),
            listener: self.listener.clone(),
        }
    }
}

/// See [`RequestLogLayer`].
#[derive(Clone)]
pub struct RequestLogged<S> {
    inner: S,
    log: Option<Arc<RequestLog>>,
    listener: Listener,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>>;

/// Notes a panic as the 500 the panic catcher outside answers (without it, the entry would
/// say the client left).
struct PanicNote(CallTrace);

impl Drop for PanicNote {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.answered(500, Bytes::new());
        }
    }
}

impl<S, B> Service<Request<B>> for RequestLogged<S>
where
    S: Service<Request<B>, Response = HttpResponse, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let mut inner = take(&mut self.inner);
        // With the log off, no route is worked out for it.
        let log = self.log.clone().filter(|_| {
            matches!(
                area(
                    request.method(),
                    request.uri().path(),
                    &self.listener.base_path,
                    self.listener.surface,
                ),
                Area::Scim { .. }
            )
        });
        let Some(log) = log else {
            return Box::pin(inner.call(request));
        };
        let trace = CallTrace::for_request(
            log.clone(),
            log.now(),
            request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            request.method().as_str().to_owned(),
            request
                .uri()
                .path_and_query()
                .map_or_else(String::new, |p| p.as_str().to_owned()),
        );
        request.extensions_mut().insert(trace.clone());
        let answer = trace.scope(inner.call(request));
        Box::pin(async move {
            let panic_note = PanicNote(trace);
            let response = answer.await?;
            let (parts, body) = response.into_parts();
            // The answer's body is whole in memory: collecting it takes the buffer, no copy.
            let bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            panic_note.0.answered(parts.status.as_u16(), bytes.clone());
            Ok(http::Response::from_parts(parts, Full::new(bytes)))
        })
    }
}
