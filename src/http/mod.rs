//! The SCIM HTTP surface (RFC 7644 §3): routing under the base path, authentication, request
//! extraction into typed values, and answers in `application/scim+json`. Errors become HTTP only
//! through `error.rs`.

pub mod admin;
pub mod bulk;
pub mod discovery;
pub mod error;
pub mod response;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde_json::Value;
use tracing::Instrument;

use self::error::{scim_error, service_error, ErrorAnswer};
use self::response::{empty, scim_json, HttpResponse};
use crate::auth::{bearer_token, Authenticator, Caller};
use crate::scim::list::{list_response, ListQuery};
use crate::scim::path::parse_attr_list;
use crate::scim::projection::project;
use crate::scim::{ScimError, ScimType};
use crate::service::{version_listed, Gateway, Kind, RequestContext, Resource, ServiceError};
use crate::tenants::{missing_backend, Tenants, DEFAULT_TENANT};

/// What the HTTP layer needs for every request.
pub struct HttpState {
    pub tenants: Arc<Tenants>,
    /// The config's SCIM tokens: the `default` tenant's.
    pub auth: Box<dyn Authenticator>,
    pub base_path: String,
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// What each backend serves, by backend name.
    pub discovery: HashMap<String, discovery::Discovery>,
    /// The admin API's tokens; `None` when the admin API is off.
    pub admin: Option<Box<dyn Authenticator>>,
}

/// What a listener serves: SCIM and the admin API together, or the admin API on its own
/// address (then the SCIM listener does not serve it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    ScimAndAdmin,
    ScimOnly,
    AdminOnly,
}

/// Answers one request; never fails (every error is a SCIM error answer).
pub async fn handle<B>(state: Arc<HttpState>, surface: Surface, request: Request<B>) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    // A bulk request runs many operations, each bounded by the platform timeouts; the whole is
    // not cut off by the single-request limit (its client would lose every result).
    if request.uri().path().ends_with("/Bulk") {
        return route(state, surface, request).await;
    }
    let timeout = state.request_timeout;
    match tokio::time::timeout(timeout, route(state.clone(), surface, request)).await {
        Ok(response) => response,
        Err(_) => unavailable(format!(
            "the request took longer than {}s",
            timeout.as_secs()
        )),
    }
}

async fn route<B>(shared: Arc<HttpState>, surface: Surface, request: Request<B>) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let state: &HttpState = &shared;
    let path = request.uri().path().to_owned();
    // Public operational endpoints, outside the SCIM API and without authentication.
    match (path.as_str(), request.method()) {
        ("/healthz", &Method::GET) => return empty(StatusCode::NO_CONTENT),
        ("/info", &Method::GET) => return build_info(),
        _ => {}
    }
    let admin_path = path == admin::PREFIX || path.starts_with(&format!("{}/", admin::PREFIX));
    if admin_path && surface != Surface::ScimOnly {
        let base_url = base_url(state, &request);
        return admin::route(state, &base_url, surface, request).await;
    }
    if surface == Surface::AdminOnly {
        return not_found_url(&path);
    }
    let Some(rest) = strip_base(&path, &state.base_path) else {
        return not_found_url(&path);
    };
    let (tenant_id, tenant_in_path, rest) = split_tenant(rest);
    // The caller first: an unknown tenant and another tenant's token answer alike, and only
    // a tenant's own callers reach its record.
    let caller = match authenticate(state, tenant_id, &request).await {
        Ok(caller) => caller,
        Err(Refusal::Invalid(detail)) => return unauthorized(detail),
        Err(Refusal::Unchecked) => {
            return unavailable("the token cannot be checked right now; try again shortly")
        }
    };
    let tenant = match state.tenants.record(tenant_id).await {
        Ok(Some(tenant)) => tenant,
        // Its tokens went with it (deleted meanwhile).
        Ok(None) => return unauthorized(INVALID_TOKEN),
        Err(e) => {
            tracing::error!(error = %e, tenant = tenant_id, "cannot read a tenant");
            return unavailable(
                "the gateway cannot read its configuration store right now; try again shortly",
            );
        }
    };
    if !tenant.enabled {
        return scim_error(&ScimError::forbidden(format!(
            "the SCIM configuration {} is disabled by the gateway's administrator",
            tenant.id
        )));
    }
    let (Some(gateway), Some(discovery)) = (
        state.tenants.gateway(&tenant),
        state.discovery.get(&tenant.backend),
    ) else {
        return scim_error(&missing_backend(&tenant));
    };
    let gw: &Gateway = &gateway;
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method().clone();
    let query = query_pairs(request.uri().query());
    let mut scim_base = base_url(state, &request);
    if tenant_in_path {
        scim_base = format!("{scim_base}/{tenant_id}");
    }
    let facts = Facts {
        base_url: scim_base,
        if_match: header_text(&request, header::IF_MATCH),
        include_members: members_wanted(&query),
        actor: format!("token:{}", caller.token_name),
    };
    let if_none_match = header_text(&request, header::IF_NONE_MATCH);
    let base_url = facts.base_url.clone();
    let ctx = facts.context();
    match segments.as_slice() {
        [endpoint] if kind_of(endpoint).is_some() => {
            let Some(kind) = kind_of(endpoint) else {
                return not_found_url(&path);
            };
            match method {
                Method::GET => match ListQuery::from_query_pairs(&query, gw.limits.max_results) {
                    Ok(q) => run_query(gw, &[kind], &q, &ctx).await,
                    Err(e) => scim_error(&e),
                },
                Method::POST => {
                    let body = match read_json(state, request).await {
                        Ok(b) => b,
                        Err(r) => return r,
                    };
                    let created = detached(&gateway, &facts, move |gw, facts| async move {
                        gw.resources(kind)?.create(&body, &facts.context()).await
                    })
                    .await;
                    single(gw, kind, &query, created, StatusCode::CREATED)
                }
                _ => method_not_allowed("GET, POST"),
            }
        }
        [endpoint, ".search"] if kind_of(endpoint).is_some() => match method {
            Method::POST => match read_json(state, request).await {
                Ok(body) => {
                    search(
                        gw,
                        &kind_of(endpoint).into_iter().collect::<Vec<_>>(),
                        &body,
                        &ctx,
                    )
                    .await
                }
                Err(r) => r,
            },
            _ => method_not_allowed("POST"),
        },
        // RFC 7644 §3.4.3: a search at the root covers every resource type served.
        [".search"] => match method {
            Method::POST => match read_json(state, request).await {
                Ok(body) => search(gw, &gw.kinds(), &body, &ctx).await,
                Err(r) => r,
            },
            _ => method_not_allowed("POST"),
        },
        [endpoint, id] if kind_of(endpoint).is_some() => {
            let Some(kind) = kind_of(endpoint) else {
                return not_found_url(&path);
            };
            let id = (*id).to_owned();
            match method {
                Method::GET => {
                    let read = match gw.resources(kind) {
                        Ok(r) => r.get(&id, &ctx).await,
                        Err(e) => Err(e),
                    };
                    match read {
                        // RFC 7644 §3.14: an unchanged resource answers 304 with no body.
                        Ok(r)
                            if if_none_match
                                .as_deref()
                                .is_some_and(|h| version_listed(h, &r.version)) =>
                        {
                            not_modified(&r.version)
                        }
                        other => single(gw, kind, &query, other, StatusCode::OK),
                    }
                }
                Method::PUT => {
                    let body = match read_json(state, request).await {
                        Ok(b) => b,
                        Err(r) => return r,
                    };
                    let replaced = detached(&gateway, &facts, move |gw, facts| async move {
                        gw.resources(kind)?
                            .replace(&id, &body, &facts.context())
                            .await
                    })
                    .await;
                    single(gw, kind, &query, replaced, StatusCode::OK)
                }
                Method::PATCH => {
                    let body = match read_json(state, request).await {
                        Ok(b) => b,
                        Err(r) => return r,
                    };
                    let patched = detached(&gateway, &facts, move |gw, facts| async move {
                        gw.resources(kind)?
                            .patch(&id, &body, &facts.context())
                            .await
                    })
                    .await;
                    single(gw, kind, &query, patched, StatusCode::OK)
                }
                Method::DELETE => match detached(&gateway, &facts, move |gw, facts| async move {
                    gw.resources(kind)?.delete(&id, &facts.context()).await
                })
                .await
                {
                    Ok(()) => empty(StatusCode::NO_CONTENT),
                    Err(e) => service_error(&e),
                },
                _ => method_not_allowed("GET, PUT, PATCH, DELETE"),
            }
        }
        ["ServiceProviderConfig"] => match method {
            Method::GET => scim_json(
                StatusCode::OK,
                &discovery.service_provider_config(&base_url),
            ),
            _ => method_not_allowed("GET"),
        },
        ["ResourceTypes"] | ["Schemas"] => match method {
            Method::GET if has_filter(&query) => forbidden_filter(),
            Method::GET if segments.first() == Some(&"Schemas") => {
                scim_json(StatusCode::OK, &discovery.schemas(&base_url))
            }
            Method::GET => scim_json(StatusCode::OK, &discovery.resource_types(&base_url)),
            _ => method_not_allowed("GET"),
        },
        ["ResourceTypes", id] => match method {
            Method::GET => match discovery.resource_type(id, &base_url) {
                Some(json) => scim_json(StatusCode::OK, &json),
                None => scim_error(&ScimError::not_found(format!("no resource type {id}"))),
            },
            _ => method_not_allowed("GET"),
        },
        ["Schemas", id] => match method {
            Method::GET => match discovery.schema(id, &base_url) {
                Some(json) => scim_json(StatusCode::OK, &json),
                None => scim_error(&ScimError::not_found(format!("no schema {id}"))),
            },
            _ => method_not_allowed("GET"),
        },
        ["Bulk"] => match method {
            Method::POST => bulk::post(&gateway, request, facts.clone()).await,
            _ => method_not_allowed("POST"),
        },
        ["Me", ..] => not_implemented("/Me is not supported: IdP tokens are not tied to a user"),
        _ => not_found_url(&path),
    }
}

/// The request facts a service call needs, owned so a write can run on its own task.
#[derive(Clone)]
pub(crate) struct Facts {
    pub(crate) base_url: String,
    pub(crate) if_match: Option<String>,
    pub(crate) include_members: bool,
    /// Who makes the request, for the audit log (`token:<name>`).
    pub(crate) actor: String,
}

impl Facts {
    fn context(&self) -> RequestContext<'_> {
        RequestContext {
            base_url: &self.base_url,
            if_match: self.if_match.as_deref(),
            include_members: self.include_members,
            actor: &self.actor,
        }
    }
}

fn header_text<B>(request: &Request<B>, name: header::HeaderName) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Runs a write to completion on its own task: a request timeout or a client that hangs up
/// stops the waiting, never a write halfway through its platform calls and store updates.
async fn detached<T, Fut>(
    gateway: &Arc<Gateway>,
    facts: &Facts,
    op: impl FnOnce(Arc<Gateway>, Facts) -> Fut,
) -> Result<T, ServiceError>
where
    Fut: std::future::Future<Output = Result<T, ServiceError>> + Send + 'static,
    T: Send + 'static,
{
    let task =
        tokio::spawn(op(gateway.clone(), facts.clone()).instrument(tracing::Span::current()));
    match task.await {
        Ok(result) => result,
        Err(e) => Err(ServiceError::Aborted(e.to_string())),
    }
}

fn strip_base<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The tenant a path under the base names, whether the path names it, and the rest of the
/// path: `/acme/Users` is tenant `acme`; `/Users` is the `default` tenant (tenant ids are
/// lower-case, SCIM endpoints are not, and the lower-case endpoint names are reserved). A
/// lone segment is always one of the default tenant's endpoints, so `/acme` and `/<anything>`
/// answer the same 404 and tell nothing of which tenants exist.
fn split_tenant(rest: &str) -> (&str, bool, &str) {
    let trimmed = rest.trim_start_matches('/');
    let (first, after) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let names_an_endpoint = after.split('/').any(|s| !s.is_empty());
    if names_an_endpoint && crate::config::check_name(first).is_ok() {
        (first, true, &trimmed[first.len()..])
    } else {
        (DEFAULT_TENANT, false, rest)
    }
}

fn unauthorized(detail: &str) -> HttpResponse {
    ErrorAnswer::new(StatusCode::UNAUTHORIZED, detail).scim_response()
}

fn unavailable(detail: impl Into<String>) -> HttpResponse {
    ErrorAnswer::new(StatusCode::SERVICE_UNAVAILABLE, detail).scim_response()
}

const INVALID_TOKEN: &str = "the bearer token is not valid";

/// Why a SCIM request is not let in.
enum Refusal {
    /// No token, or not one of this tenant's (401).
    Invalid(&'static str),
    /// The store could not be asked (503: the IdP retries rather than giving up on the token).
    Unchecked,
}

/// The caller of a SCIM request to tenant `tenant`, or why it is refused.
///
/// Managed tokens (`sgt_...`) are looked up in the store on every request, so a revocation
/// holds at once on every replica, and hold for their own tenant only; tokens from the config
/// are compared in memory and are the `default` tenant's.
async fn authenticate<B>(
    state: &HttpState,
    tenant: &str,
    request: &Request<B>,
) -> Result<Caller, Refusal> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = match header.and_then(bearer_token) {
        Some(bearer) if crate::tokens::is_managed(bearer) => {
            match crate::tokens::verify(
                state.tenants.store().as_ref(),
                tenant,
                bearer,
                state.tenants.clock().now(),
            )
            .await
            {
                Ok(caller) => caller,
                Err(e) => {
                    tracing::error!(error = %e, "cannot check a managed token");
                    return Err(Refusal::Unchecked);
                }
            }
        }
        Some(bearer) if tenant == DEFAULT_TENANT => state.auth.authenticate(bearer),
        _ => None,
    };
    match caller {
        Some(caller) => {
            tracing::Span::current().record("caller", caller.token_name.as_str());
            Ok(caller)
        }
        None if header.is_none() => Err(Refusal::Invalid(
            "authentication required: send Authorization: Bearer <token>",
        )),
        None => Err(Refusal::Invalid(INVALID_TOKEN)),
    }
}

/// `https://host/scim/v2` as the IdP sees it, for `meta.location` and `Location`.
fn base_url<B>(state: &HttpState, request: &Request<B>) -> String {
    if let Some(public) = &state.public_url {
        return format!("{public}{}", state.base_path);
    }
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}{}", state.base_path)
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn has_filter(query: &[(String, String)]) -> bool {
    query.iter().any(|(k, _)| k.eq_ignore_ascii_case("filter"))
}

/// Reads a JSON request body within the size limit; a SCIM error answer when it cannot.
async fn read_json<B>(state: &HttpState, request: Request<B>) -> Result<Value, HttpResponse>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    read_body_json(state, request)
        .await
        .map_err(|e| e.scim_response())
}

/// Reads a JSON request body within the size limit; the error says why it cannot (the SCIM API
/// and the admin API answer it each in its own form).
async fn read_body_json<B>(state: &HttpState, request: Request<B>) -> Result<Value, ErrorAnswer>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limit = state.max_body_bytes;
    read_json_within(request, limit, || {
        format!("the request body is larger than {limit} bytes")
    })
    .await
}

/// Reads a JSON body of a JSON media type within `limit` bytes (a declared or actual larger
/// body is a 413 with `too_large()` as its detail).
async fn read_json_within<B>(
    request: Request<B>,
    limit: usize,
    too_large: impl Fn() -> String,
) -> Result<Value, ErrorAnswer>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if let Some(ct) = request.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !(essence == "application/scim+json"
            || essence == "application/json"
            || essence.ends_with("+json"))
        {
            return Err(ErrorAnswer::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("send application/scim+json, not `{essence}`"),
            ));
        }
    }
    let too_large = || ErrorAnswer::from_scim(&ScimError::too_large(too_large()));
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Err(too_large())
        }
        Err(_) => {
            return Err(ErrorAnswer::from_scim(&ScimError::bad_request(
                ScimType::InvalidSyntax,
                "the request body could not be read",
            )))
        }
    };
    serde_json::from_slice::<Value>(&bytes).map_err(|e| {
        ErrorAnswer::from_scim(&ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("the request body is not valid JSON: {e}"),
        ))
    })
}

/// Answers one resource, honouring `attributes`/`excludedAttributes` (RFC 7644 §3.9).
fn single(
    gw: &Gateway,
    kind: Kind,
    query: &[(String, String)],
    result: Result<Resource, ServiceError>,
    status: StatusCode,
) -> HttpResponse {
    let resource = match result {
        Ok(r) => r,
        Err(e) => return service_error(&e),
    };
    let (attributes, excluded) = match projection_params(query) {
        Ok(p) => p,
        Err(e) => return scim_error(&e),
    };
    let json = match gw.registry.resource_type(kind.name()) {
        Some(rt) if !attributes.is_empty() || !excluded.is_empty() => {
            project(&gw.registry, rt, &resource.json, &attributes, &excluded)
        }
        _ => resource.json.clone(),
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

fn projection_params(
    query: &[(String, String)],
) -> Result<
    (
        Vec<crate::scim::path::AttrPath>,
        Vec<crate::scim::path::AttrPath>,
    ),
    ScimError,
> {
    let mut attributes = Vec::new();
    let mut excluded = Vec::new();
    for (k, v) in query {
        if k.eq_ignore_ascii_case("attributes") {
            attributes.extend(parse_attr_list(v)?);
        } else if k.eq_ignore_ascii_case("excludedAttributes") {
            excluded.extend(parse_attr_list(v)?);
        }
    }
    Ok((attributes, excluded))
}

/// What is running: version, commit, the protocol versions served.
fn build_info() -> HttpResponse {
    let mut response = empty(StatusCode::OK);
    let body = serde_json::json!({
        "name": "scimgate",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("SCIMGATE_COMMIT"),
        "scim": {"version": "2.0", "specifications": ["RFC 7643", "RFC 7644"]},
        "adminApi": {"version": "1", "path": "/admin/v1"},
    });
    *response.body_mut() = http_body_util::Full::new(Bytes::from(body.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Whether the answer's projection keeps `members` (so they are worth resolving).
fn members_wanted(query: &[(String, String)]) -> bool {
    let Ok((attributes, excluded)) = projection_params(query) else {
        return true;
    };
    let names = |paths: &[crate::scim::path::AttrPath]| {
        paths.iter().any(|p| p.name.eq_ignore_ascii_case("members"))
    };
    if !attributes.is_empty() {
        return names(&attributes);
    }
    !names(&excluded)
}

/// The resource type an endpoint segment names.
fn kind_of(endpoint: &str) -> Option<Kind> {
    match endpoint {
        "Users" => Some(Kind::User),
        "Groups" => Some(Kind::Group),
        _ => None,
    }
}

async fn search(
    gw: &Gateway,
    kinds: &[Kind],
    body: &Value,
    ctx: &RequestContext<'_>,
) -> HttpResponse {
    match ListQuery::from_search_request(body, gw.limits.max_results) {
        Ok(q) => run_query(gw, kinds, &q, ctx).await,
        Err(e) => scim_error(&e),
    }
}

/// Answers a query over one resource type, or over several for a root search (each type's
/// matches in turn, paged together).
async fn run_query(
    gw: &Gateway,
    kinds: &[Kind],
    query: &ListQuery,
    ctx: &RequestContext<'_>,
) -> HttpResponse {
    let mut total = 0;
    let mut resources = Vec::new();
    let mut start_index = query.start_index.max(1);
    for &kind in kinds {
        let resources_of = match gw.resources(kind) {
            Ok(r) => r,
            Err(e) => return service_error(&e),
        };
        let page = if kinds.len() == 1 {
            resources_of.list(query, ctx).await
        } else {
            // Several types: each type's matches from the first, paged together below.
            let mut all = ListQuery::clone(query);
            all.start_index = 1;
            all.count = Some(gw.limits.max_results);
            resources_of.list(&all, ctx).await
        };
        let page = match page {
            Ok(p) => p,
            Err(e) => return service_error(&e),
        };
        total += page.total_results;
        start_index = page.start_index;
        resources.extend(page.resources.into_iter().map(|r| {
            if query.attributes.is_empty() && query.excluded_attributes.is_empty() {
                r
            } else {
                project(
                    &gw.registry,
                    resources_of.rt,
                    &r,
                    &query.attributes,
                    &query.excluded_attributes,
                )
            }
        }));
    }
    if kinds.len() > 1 {
        start_index = query.start_index.max(1);
        let want = query.count.unwrap_or(gw.limits.max_results);
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

fn not_modified(version: &str) -> HttpResponse {
    let mut response = empty(StatusCode::NOT_MODIFIED);
    if let Ok(v) = HeaderValue::from_str(version) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

fn not_found_url(path: &str) -> HttpResponse {
    scim_error(&ScimError::not_found(format!("no SCIM endpoint at {path}")))
}

fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = ErrorAnswer::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed here; allowed: {allow}"),
    )
    .scim_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn not_implemented(detail: &str) -> HttpResponse {
    scim_error(&ScimError::not_implemented(detail))
}

fn forbidden_filter() -> HttpResponse {
    // RFC 7644 §4: discovery endpoints SHOULD answer a filter with 403.
    scim_error(&ScimError::forbidden(
        "filtering is not supported on discovery endpoints",
    ))
}

#[cfg(test)]
mod tests {
    use super::split_tenant;

    #[test]
    fn paths_name_their_tenant() {
        assert_eq!(split_tenant(""), ("default", false, ""));
        assert_eq!(split_tenant("/Users"), ("default", false, "/Users"));
        assert_eq!(split_tenant("/Users/abc"), ("default", false, "/Users/abc"));
        assert_eq!(split_tenant("/acme/Users"), ("acme", true, "/Users"));
        assert_eq!(split_tenant("/acme/Users/x"), ("acme", true, "/Users/x"));
        assert_eq!(split_tenant("/default/Users"), ("default", true, "/Users"));
        // A lone segment, a tenant's or not, is a (missing) endpoint of the default tenant.
        assert_eq!(split_tenant("/acme"), ("default", false, "/acme"));
        assert_eq!(split_tenant("/acme/"), ("default", false, "/acme/"));
        assert_eq!(
            split_tenant("/65207616-9f5b-4ae6-96a9-aefefda5106c"),
            ("default", false, "/65207616-9f5b-4ae6-96a9-aefefda5106c")
        );
        // Upper case and reserved names are never tenants.
        assert_eq!(
            split_tenant("/Acme/Users"),
            ("default", false, "/Acme/Users")
        );
        assert_eq!(
            split_tenant("/users/Users"),
            ("default", false, "/users/Users")
        );
    }
}
