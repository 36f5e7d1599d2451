//! The SCIM requests' metrics, as a tower layer: each SCIM request counted by tenant,
//! resource, operation and status, timed, and counted while in flight ([`crate::metrics`]).
//! It stands outside authentication, so refusals (401, 429) are counted too; the tenant label
//! is the tenant that admitted the request ([`AdmittedTenant`], set by authentication), never
//! a tenant named in an unauthenticated URL, so a scanner cannot grow the label set.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Method, Request};
use tower::{Layer, Service};

use super::layers::{take, Listener};
use super::response::HttpResponse;
use super::routes::{area, Area, ScimRoute};
use crate::metrics::{metrics, ScimTimingLabels};
use crate::scim::ResourceKind;

/// The tenant that admitted a request, in its answer's extensions.
#[derive(Debug, Clone)]
pub struct AdmittedTenant(pub Arc<crate::store::TenantRecord>);

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

type BoxFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>>;

impl<S, B> Service<Request<B>> for Metered<S>
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

    fn call(&mut self, request: Request<B>) -> Self::Future {
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
        let in_flight = metrics().scim_started();
        let started = Instant::now();
        Box::pin(async move {
            let response = inner.call(request).await?;
            let tenant = response
                .extensions()
                .get::<AdmittedTenant>()
                .map(|t| t.0.id.clone())
                .unwrap_or_default();
            metrics().scim_request(
                ScimTimingLabels {
                    tenant,
                    resource,
                    operation,
                },
                response.status().as_u16(),
                started.elapsed(),
            );
            drop(in_flight);
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
