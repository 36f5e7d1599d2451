//! The request log's tower layer: each SCIM request of a known tenant, with its bodies and the
//! platform calls it made, handed to [`crate::requestlog`] once answered.
//!
//! The layer puts a [`RequestNote`] into the request: authentication writes the tenant and the
//! token into it (for a refused request too, when the tenant exists, so that an admin can see
//! which token an IdP sent and why it was refused), and the body reader the IdP's body. It
//! runs the request inside a [`CallTrace`]. A request naming no existing tenant is not logged,
//! so a scanner cannot fill anyone's log. A request whose client left (or that panicked) is
//! kept with status 499 and no answer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service};

use super::layers::{take, Listener};
use super::response::HttpResponse;
use super::routes::{area, Area};
use super::HttpState;
use crate::requestlog::{CallTrace, Captured, RequestLog};

/// What the layers and handlers learn of a request, for its log entry.
#[derive(Debug, Clone, Default)]
pub struct RequestNote(Arc<Mutex<Noted>>);

#[derive(Debug, Default)]
struct Noted {
    tenant: Option<String>,
    token: String,
    body: Bytes,
}

impl RequestNote {
    /// The tenant the request is logged under and the token it named (never the secret).
    pub fn tenant(&self, tenant: &str, token: String) {
        if let Ok(mut noted) = self.0.lock() {
            noted.tenant = Some(tenant.to_owned());
            noted.token = token;
        }
    }

    /// The IdP's body as read (a shared buffer, not a copy).
    pub fn body(&self, body: &Bytes) {
        if let Ok(mut noted) = self.0.lock() {
            noted.body = body.clone();
        }
    }
}

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

/// A request in progress: logged when it ends, answered or not.
struct Pending {
    log: Arc<RequestLog>,
    note: RequestNote,
    trace: CallTrace,
    at: time::OffsetDateTime,
    started: Instant,
    request_id: String,
    method: String,
    path: String,
    answer: Option<(u16, Bytes)>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Ok(mut noted) = self.note.0.lock() else {
            return;
        };
        let Some(tenant) = noted.tenant.take() else {
            return;
        };
        // 499: the client closed the connection before the answer (nginx's convention).
        let (status, response_body) = self.answer.take().unwrap_or((499, Bytes::new()));
        self.log.submit(Captured {
            at: self.at,
            tenant,
            request_id: std::mem::take(&mut self.request_id),
            token: std::mem::take(&mut noted.token),
            method: std::mem::take(&mut self.method),
            path: std::mem::take(&mut self.path),
            status,
            duration: self.started.elapsed(),
            request_body: std::mem::take(&mut noted.body),
            response_body,
            calls: self.trace.take(),
        });
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
        let scim = matches!(
            area(
                request.method(),
                request.uri().path(),
                &self.listener.base_path,
                self.listener.surface,
            ),
            Area::Scim { .. }
        );
        let Some(log) = self.log.clone().filter(|_| scim) else {
            return Box::pin(inner.call(request));
        };
        let note = RequestNote::default();
        request.extensions_mut().insert(note.clone());
        let trace = CallTrace::default();
        let pending = Pending {
            log,
            note,
            trace: trace.clone(),
            at: time::OffsetDateTime::now_utc(),
            started: Instant::now(),
            request_id: request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            method: request.method().as_str().to_owned(),
            path: request
                .uri()
                .path_and_query()
                .map_or_else(String::new, |p| p.as_str().to_owned()),
            answer: None,
        };
        let answer = trace.scope(inner.call(request));
        Box::pin(async move {
            // The whole entry moves in, so it is logged when this future ends or is dropped.
            let mut pending = pending;
            let response = answer.await?;
            let (parts, body) = response.into_parts();
            // The answer's body is whole in memory: collecting it takes the buffer, no copy.
            let bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            pending.answer = Some((parts.status.as_u16(), bytes.clone()));
            Ok(http::Response::from_parts(parts, Full::new(bytes)))
        })
    }
}
