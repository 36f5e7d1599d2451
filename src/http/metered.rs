//! The SCIM requests' metrics, as a tower layer: each SCIM request counted by tenant,
//! resource, operation and status, timed, and counted while in flight ([`crate::metrics`]).
//! It stands outermost but for the request id (panics answered 500, timeouts, refusals and
//! requests whose client left are all counted); the tenant label is the tenant that admitted
//! the request, set by authentication into the request's [`TenantSlot`], never a tenant named
//! in an unauthenticated URL, so a scanner cannot grow the label set.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Method, Request};
use tower::{Layer, Service};

use super::layers::{take, Listener};
use super::routes::{area, Area, ScimRoute};
use crate::metrics::{metrics, ScimTimingLabels};
use crate::scim::ResourceKind;

/// Where authentication leaves the tenant that admitted a request, for the metrics: shared
/// with this layer, so an answer made outside authentication (a timeout, a panic) still
/// carries it.
#[derive(Debug, Clone, Default)]
pub struct TenantSlot(Arc<OnceLock<Arc<crate::store::TenantRecord>>>);

impl TenantSlot {
    /// Notes the tenant that admitted the request.
    pub fn admit(&self, tenant: &Arc<crate::store::TenantRecord>) {
        let _ = self.0.set(tenant.clone());
    }

    fn tenant(&self) -> String {
        self.0.get().map(|t| t.id.clone()).unwrap_or_default()
    }
}

/// A request's measurement: recorded when it ends, answered or dropped (the client gone).
struct Measured {
    slot: TenantSlot,
    resource: &'static str,
    operation: &'static str,
    started: Instant,
    status: Option<u16>,
    _in_flight: crate::metrics::InFlight,
}

impl Drop for Measured {
    fn drop(&mut self) {
        metrics().scim_request(
            ScimTimingLabels {
                tenant: self.slot.tenant(),
                resource: self.resource,
                operation: self.operation,
            },
            // 499: the client closed the connection before the answer (nginx's convention).
            self.status.unwrap_or(499),
            self.started.elapsed(),
        );
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct MeteredLayer {
    listener: Listener,
}

impl MeteredLayer {
    /// Metrics of the SCIM requests to a listener.
    pub fn new(listener: Listener) -> Self {
        MeteredLayer { listener }
    }
}

impl<S> Layer<S> for MeteredLayer {
    type Service = Metered<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metered {
            inner,
            listener: self.listener.clone(),
        }
    }
}

/// See [`MeteredLayer`].
#[derive(Debug, Clone)]
pub struct Metered<S> {
    inner: S,
    listener: Listener,
}

type BoxFuture<R> = Pin<Box<dyn Future<Output = Result<http::Response<R>, Infallible>> + Send>>;

impl<S, B, R> Service<Request<B>> for Metered<S>
where
    S: Service<Request<B>, Response = http::Response<R>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = Infallible;
    type Future = BoxFuture<R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let mut inner = take(&mut self.inner);
        let endpoint = match area(
            request.method(),
            request.uri().path(),
            &self.listener.base_path,
            self.listener.surface,
        ) {
            Area::Scim { rest, .. } => Some(endpoint(request.method(), &ScimRoute::parse(rest))),
            _ => None,
        };
        let Some((resource, operation)) = endpoint else {
            return Box::pin(inner.call(request));
        };
        let slot = TenantSlot::default();
        request.extensions_mut().insert(slot.clone());
        let measured = Measured {
            slot,
            resource,
            operation,
            started: Instant::now(),
            status: None,
            _in_flight: metrics().scim_started(),
        };
        Box::pin(async move {
            // The whole measurement moves in (not just the field written), so it is recorded
            // when this future ends or is dropped, not when `call` returns.
            let mut measured = measured;
            let response = inner.call(request).await?;
            measured.status = Some(response.status().as_u16());
            Ok(response)
        })
    }
}

/// The resource and operation labels of a SCIM request.
fn endpoint(method: &Method, route: &ScimRoute<'_>) -> (&'static str, &'static str) {
    let resource = match route {
        ScimRoute::Resources(kind)
        | ScimRoute::Resource(kind, _)
        | ScimRoute::Search(Some(kind)) => match kind {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        },
        ScimRoute::Search(None) => "all",
        ScimRoute::ServiceProviderConfig => "ServiceProviderConfig",
        ScimRoute::ResourceTypes | ScimRoute::ResourceType(_) => "ResourceTypes",
        ScimRoute::Schemas | ScimRoute::Schema(_) => "Schemas",
        ScimRoute::Bulk => "Bulk",
        ScimRoute::Me => "Me",
        ScimRoute::Unknown => "other",
    };
    let operation = match (route, method) {
        (ScimRoute::Resources(_), &Method::GET) => "list",
        (ScimRoute::Resources(_), &Method::POST) => "create",
        (ScimRoute::Resource(..), &Method::GET) => "get",
        (ScimRoute::Resource(..), &Method::PUT) => "replace",
        (ScimRoute::Resource(..), &Method::PATCH) => "patch",
        (ScimRoute::Resource(..), &Method::DELETE) => "delete",
        (ScimRoute::Search(_), &Method::POST) => "search",
        (ScimRoute::Bulk, &Method::POST) => "bulk",
        (
            ScimRoute::ServiceProviderConfig
            | ScimRoute::ResourceTypes
            | ScimRoute::ResourceType(_)
            | ScimRoute::Schemas
            | ScimRoute::Schema(_),
            &Method::GET,
        ) => "discover",
        _ => "other",
    };
    (resource, operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_labelled_without_ids() {
        let cases = [
            (Method::POST, "/Users", ("Users", "create")),
            (Method::GET, "/Users/2819c223-7f76", ("Users", "get")),
            (Method::PATCH, "/Groups/e9e30dba", ("Groups", "patch")),
            (Method::DELETE, "/Groups/e9e30dba", ("Groups", "delete")),
            (Method::PUT, "/Users/x", ("Users", "replace")),
            (Method::GET, "/Groups", ("Groups", "list")),
            (Method::POST, "/.search", ("all", "search")),
            (Method::POST, "/Users/.search", ("Users", "search")),
            (Method::POST, "/Bulk", ("Bulk", "bulk")),
            (Method::GET, "/Schemas/urn:x", ("Schemas", "discover")),
            (Method::GET, "/nothing/here/at/all", ("other", "other")),
            (
                Method::POST,
                "/ServiceProviderConfig",
                ("ServiceProviderConfig", "other"),
            ),
        ];
        for (method, rest, expected) in cases {
            assert_eq!(
                endpoint(&method, &ScimRoute::parse(rest)),
                expected,
                "{method} {rest}"
            );
        }
    }
}
