//! SCIM endpoints, thin: a route and typed request pieces go to the tenant's gateway, and its
//! result comes back as an answer (RFC 7644 §3.3 create, §3.4 query and search, §3.5 replace
//! and modify, §3.6 delete, §3.14 versions, §4 discovery). Writes take the one write path
//! (`write.rs`) that `/Bulk`'s take too.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use serde_json::Value;

use super::error::{scim_error, service_error};
use super::extract::{has_filter, json_body, preconditions, query_pairs};
use super::layers::TenantRequest;
use super::response::{empty, scim_json, HttpResponse};
use super::routes::{method_not_allowed, ScimRoute};
use super::write::{success_status, write, Origin, Write};
use super::{bulk, HttpState};
use crate::scim::list::{list_response, ListQuery};
use crate::scim::{Projection, ResourceKind, ScimError, WriteMethod};
use crate::service::{Gateway, Lifecycle, RequestContext, Resource};

/// Answers a request to a tenant's SCIM endpoint (after the base path and the tenant).
pub(super) async fn handle<B>(
    state: &HttpState,
    admitted: TenantRequest,
    rest: &str,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let route = ScimRoute::parse(rest);
    let method = request.method().clone();
    if let (false, Some(allow)) = (route.allows(&method), route.allowed()) {
        return method_not_allowed(allow);
    }
    let query = query_pairs(request.uri().query());
    let gateway = &admitted.gateway;
    let base_url = admitted.base_url.as_str();
    let discovery = &admitted.discovery;
    match route {
        ScimRoute::Resources(kind) if method == Method::GET => {
            match ListQuery::from_query_pairs(
                &query,
                gateway.limits.max_results,
                admitted.tenant.dialect,
            ) {
                Ok(q) => run_query(gateway, &[kind], &q, base_url).await,
                Err(e) => scim_error(&e),
            }
        }
        ScimRoute::Search(kinds) => {
            let kinds = match kinds {
                Some(kind) => vec![kind],
                // RFC 7644 §3.4.3: a search at the root covers every resource type served.
                None => gateway.kinds(),
            };
            let body = match json_body(request).await {
                Ok(body) => body,
                Err(answer) => return answer.scim_response(),
            };
            match ListQuery::from_search_request(
                &body,
                gateway.limits.max_results,
                admitted.tenant.dialect,
            ) {
                Ok(q) => run_query(gateway, &kinds, &q, base_url).await,
                Err(e) => scim_error(&e),
            }
        }
        ScimRoute::Resource(kind, id) if method == Method::GET => {
            // A projection that does not parse is answered after the read (an unknown id
            // stays a 404, an unchanged resource a 304); the read then resolves everything.
            let projection = Projection::from_query_pairs(&query);
            let resolve = projection.clone().unwrap_or_default();
            let req = RequestContext {
                base_url,
                projection: &resolve,
            };
            let read = match gateway.resources(kind) {
                Ok(r) => r.get(id, &req).await,
                Err(e) => Err(e),
            };
            match (read, projection) {
                (Err(e), _) => service_error(&e),
                // RFC 7644 §3.14: an unchanged resource answers 304 with no body.
                (Ok(r), _)
                    if preconditions(request.headers())
                        .if_none_match
                        .is_some_and(|tags| tags.names(&r.version)) =>
                {
                    not_modified(&r.version)
                }
                (Ok(_), Err(e)) => scim_error(&e),
                (Ok(r), Ok(projection)) => single(gateway, kind, &projection, &r, StatusCode::OK),
            }
        }
        ScimRoute::Resources(kind) | ScimRoute::Resource(kind, _) => {
            let (write_method, id) = match (route, &method) {
                (ScimRoute::Resource(_, id), &Method::PUT) => (WriteMethod::Put, Some(id)),
                (ScimRoute::Resource(_, id), &Method::PATCH) => (WriteMethod::Patch, Some(id)),
                (ScimRoute::Resource(_, id), &Method::DELETE) => (WriteMethod::Delete, Some(id)),
                _ => (WriteMethod::Post, None),
            };
            let if_match = preconditions(request.headers()).if_match;
            let (body, projection) = if write_method == WriteMethod::Delete {
                // A delete answers no resource: its projection is not read.
                (Value::Null, Projection::default())
            } else {
                let body = match json_body(request).await {
                    Ok(body) => body,
                    Err(answer) => return answer.scim_response(),
                };
                // Checked before the write: a write whose answer would be an error is not made.
                match Projection::from_query_pairs(&query) {
                    Ok(p) => (body, p),
                    Err(e) => return scim_error(&e),
                }
            };
            let origin = Origin {
                tenant: admitted.tenant.id.clone(),
                actor: admitted.actor(),
                base_url: admitted.base_url.clone(),
                projection: projection.clone(),
                dialect: admitted.tenant.dialect,
                lifecycle: Lifecycle {
                    deprovision: admitted.tenant.deprovision,
                    reactivate: admitted.tenant.reactivate,
                },
            };
            let written = write(
                gateway,
                &state.audit,
                &origin,
                Write {
                    kind,
                    method: write_method,
                    id: id.map(str::to_owned),
                    body,
                    if_match,
                },
            )
            .await;
            match written {
                Ok(Some(resource)) => single(
                    gateway,
                    kind,
                    &projection,
                    &resource,
                    success_status(write_method),
                ),
                Ok(None) => empty(StatusCode::NO_CONTENT),
                Err(answer) => answer.scim_response(),
            }
        }
        ScimRoute::ServiceProviderConfig => scim_json(
            StatusCode::OK,
            &discovery.service_provider_config(base_url, &dialect_doc(&admitted)),
        ),
        // RFC 7644 §4: discovery endpoints SHOULD answer a filter with 403.
        ScimRoute::ResourceTypes | ScimRoute::Schemas if has_filter(&query) => scim_error(
            &ScimError::forbidden("filtering is not supported on discovery endpoints"),
        ),
        ScimRoute::ResourceTypes => scim_json(StatusCode::OK, &discovery.resource_types(base_url)),
        ScimRoute::Schemas => scim_json(StatusCode::OK, &discovery.schemas(base_url)),
        ScimRoute::ResourceType(id) => match discovery.resource_type(id, base_url) {
            Some(json) => scim_json(StatusCode::OK, &json),
            None => scim_error(&ScimError::not_found(format!("no resource type {id}"))),
        },
        ScimRoute::Schema(id) => match discovery.schema(id, base_url) {
            Some(json) => scim_json(StatusCode::OK, &json),
            None => scim_error(&ScimError::not_found(format!("no schema {id}"))),
        },
        ScimRoute::Bulk => bulk::post(state, &admitted, request).await,
        ScimRoute::Me => scim_error(&ScimError::not_implemented(
            "/Me is not supported: IdP tokens are not tied to a user",
        )),
        ScimRoute::Unknown => scim_error(&ScimError::not_found(format!(
            "no SCIM endpoint at {}",
            request.uri().path()
        ))),
    }
}

/// Answers one resource as the projection asks (RFC 7644 §3.9), with its `ETag`, and for a
/// create its `Location`.
fn single(
    gateway: &Gateway,
    kind: ResourceKind,
    projection: &Projection,
    resource: &Resource,
    status: StatusCode,
) -> HttpResponse {
    let json = match gateway.registry.resource_type(kind.name()) {
        Some(rt) => projection.apply(&gateway.registry, rt, &resource.json),
        None => resource.json.clone(),
    };
    let mut response = scim_json(status, &json);
    if let Ok(v) = HeaderValue::from_str(&resource.version) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED {
        if let Some(location) = resource
            .json
            .pointer("/meta/location")
            .and_then(Value::as_str)
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    response
}

/// Where the gateway documents how the tenant reads requests (its dialect).
pub(super) fn dialect_doc(admitted: &TenantRequest) -> String {
    format!(
        "{}/docs/dialect/{}",
        admitted.origin,
        admitted.tenant.dialect.as_str()
    )
}

fn not_modified(version: &str) -> HttpResponse {
    let mut response = empty(StatusCode::NOT_MODIFIED);
    if let Ok(v) = HeaderValue::from_str(version) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// Answers a query over one resource type, or over several for a root search (each type's
/// matches in turn, paged together).
async fn run_query(
    gateway: &Gateway,
    kinds: &[ResourceKind],
    query: &ListQuery,
    base_url: &str,
) -> HttpResponse {
    let req = RequestContext {
        base_url,
        projection: &query.projection,
    };
    let max_results = gateway.limits.max_results;
    let mut total = 0;
    let mut resources = Vec::new();
    let mut start_index = query.start_index.max(1);
    // Several types: each type's matches from the first, paged together below; the filter's
    // attributes are checked once across the types.
    let across = if kinds.len() > 1 {
        let mut all = ListQuery::clone(query);
        all.start_index = 1;
        all.count = Some(max_results);
        let types: Vec<_> = kinds
            .iter()
            .filter_map(|k| gateway.resources(*k).ok().map(|r| r.rt))
            .collect();
        if let Err(e) = all.check_across(&gateway.registry, &types) {
            return scim_error(&e);
        }
        Some(all)
    } else {
        None
    };
    for &kind in kinds {
        let of_kind = match gateway.resources(kind) {
            Ok(r) => r,
            Err(e) => return service_error(&e),
        };
        let page = of_kind.list(across.as_ref().unwrap_or(query), &req).await;
        let page = match page {
            Ok(p) => p,
            Err(e) => return service_error(&e),
        };
        total += page.total_results;
        start_index = page.start_index;
        resources.extend(
            page.resources
                .into_iter()
                .map(|r| query.projection.apply(&gateway.registry, of_kind.rt, &r)),
        );
    }
    if kinds.len() > 1 {
        start_index = query.start_index.max(1);
        let want = query.count.unwrap_or(max_results);
        resources = resources
            .into_iter()
            .skip(start_index - 1)
            .take(want)
            .collect();
    }
    scim_json(
        StatusCode::OK,
        &list_response(total, start_index, resources),
    )
}
