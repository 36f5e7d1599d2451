//! The cross-cutting concerns of every request, as tower layers (`app.rs` stacks them, in one
//! commented place):
//!
//! - [`RequestTimeoutLayer`]: the whole request within `server.request_timeout_secs`, except
//!   `/Bulk`, whose operations are each bounded by the platform timeouts (cutting the whole
//!   off would lose every result); a slower request is answered 503. Writes run on tasks of
//!   their own, so a timeout stops the waiting, never a write halfway.
//! - [`BodyLimitLayer`]: request heads within `server.max_header_bytes` (431; hyper's read
//!   buffer bounds them too, but only roughly), bodies within `server.max_body_bytes`, or
//!   `/Bulk`'s `maxPayloadSize`
//!   (RFC 7644 §3.7.4). A handler that reads a body answers 413 for a larger one (declared or
//!   sent), after authentication, routing and the media type: a caller without a token learns
//!   nothing of the limits.
//! - [`AuthenticateLayer`]: SCIM requests need a bearer token of their tenant (RFC 7644 §2);
//!   the caller, the tenant and its gateway go into the request's extensions
//!   ([`TenantRequest`]). Admin requests need an admin token ([`AdminCaller`]).
//!
//! Refusals are answered in the form of the API asked: SCIM errors, or the admin API's.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::request::Parts;
use http::{header, Request, StatusCode};
use http_body_util::Limited;
use tower::{Layer, Service};

use super::error::ErrorAnswer;
use super::extract::{origin_url, BodyLimit};
use super::response::HttpResponse;
use super::routes::{area, landing, v1_base_path, Area, Landing, ScimVersion, ADMIN_PREFIX};
use super::{HttpState, Surface};
use crate::auth::{bare_token, bearer_token, Caller};
use crate::scim::bulk::MAX_PAYLOAD_SIZE;
use crate::scim::ScimError;
use crate::service::Gateway;
use crate::store::TenantRecord;
use crate::tenants::DEFAULT_TENANT;

use super::discovery::Discovery;
use super::metered::TenantSlot;
use super::requestlog::RequestNote;

type BoxFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>>;

/// Where a listener serves SCIM and what else: what the layers need to route a request.
#[derive(Debug, Clone)]
pub struct Listener {
    /// The SCIM base path (`/scim/v2`).
    pub base_path: Arc<str>,
    /// What the listener serves.
    pub surface: Surface,
}

impl Listener {
    fn landing<B>(&self, request: &Request<B>) -> Landing {
        landing(
            request.method(),
            request.uri().path(),
            &self.base_path,
            self.surface,
        )
    }
}

/// An error in the form of the API the request went to.
fn refusal(landing: Landing, answer: ErrorAnswer) -> HttpResponse {
    if landing.admin {
        answer.admin_response()
    } else {
        answer.scim_response()
    }
}

/// The inner service, ready: the clone that was polled ready is the one called.
pub(super) fn take<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

// ---- timeout ---------------------------------------------------------------------------

/// Answers 503 when a request (other than `/Bulk`) takes longer than `limit`.
#[derive(Debug, Clone)]
pub struct RequestTimeoutLayer {
    limit: Duration,
    listener: Listener,
}

impl RequestTimeoutLayer {
    /// The whole-request limit on a listener.
    pub fn new(limit: Duration, listener: Listener) -> Self {
        RequestTimeoutLayer { limit, listener }
    }
}

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeout {
            inner,
            limit: self.limit,
            listener: self.listener.clone(),
        }
    }
}

/// See [`RequestTimeoutLayer`].
#[derive(Debug, Clone)]
pub struct RequestTimeout<S> {
    inner: S,
    limit: Duration,
    listener: Listener,
}

impl<S, B> Service<Request<B>> for RequestTimeout<S>
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
        let landing = self.listener.landing(&request);
        let limit = self.limit;
        let answer = take(&mut self.inner).call(request);
        Box::pin(async move {
            if landing.bulk {
                return answer.await;
            }
            match tokio::time::timeout(limit, answer).await {
                Ok(response) => response,
                Err(_) => Ok(refusal(
                    landing,
                    ErrorAnswer::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("the request took longer than {}s", limit.as_secs()),
                    ),
                )),
            }
        })
    }
}

// ---- body limit ------------------------------------------------------------------------

/// Limits requests: heads to `max_header_bytes` (431), bodies to `max_body_bytes`, or
/// `maxPayloadSize` for `/Bulk`.
#[derive(Debug, Clone)]
pub struct BodyLimitLayer {
    max_body_bytes: usize,
    max_header_bytes: usize,
    listener: Listener,
}

impl BodyLimitLayer {
    /// Heads of at most `max_header_bytes`, bodies of at most `max_body_bytes` (other than
    /// `/Bulk`'s) on a listener.
    pub fn new(max_body_bytes: usize, max_header_bytes: usize, listener: Listener) -> Self {
        BodyLimitLayer {
            max_body_bytes,
            max_header_bytes,
            listener,
        }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyLimited {
            inner,
            max_body_bytes: self.max_body_bytes,
            max_header_bytes: self.max_header_bytes,
            listener: self.listener.clone(),
        }
    }
}

/// See [`BodyLimitLayer`].
#[derive(Debug, Clone)]
pub struct BodyLimited<S> {
    inner: S,
    max_body_bytes: usize,
    max_header_bytes: usize,
    listener: Listener,
}

impl<S, B> Service<Request<B>> for BodyLimited<S>
where
    S: Service<Request<Limited<B>>, Response = HttpResponse, Error = Infallible>
        + Clone
        + Send
        + 'static,
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
        // The head as sent: the request line and each `name: value\r\n`.
        let target = request
            .uri()
            .path_and_query()
            .map_or(0, |p| p.as_str().len());
        let head = target
            + request
                .headers()
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len() + 4)
                .sum::<usize>();
        if head > self.max_header_bytes {
            let landing = self.listener.landing(&request);
            let answer = ErrorAnswer::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!(
                    "the request's headers are larger than {} bytes",
                    self.max_header_bytes
                ),
            );
            return Box::pin(std::future::ready(Ok(refusal(landing, answer))));
        }
        let limit = if self.listener.landing(&request).bulk {
            // RFC 7644 §3.7.4: a larger body is answered 413 naming the limit.
            BodyLimit {
                bytes: MAX_PAYLOAD_SIZE,
                message: format!(
                    "The size of the bulk request exceeds maxPayloadSize ({MAX_PAYLOAD_SIZE} bytes)."
                ),
            }
        } else {
            BodyLimit {
                bytes: self.max_body_bytes,
                message: format!(
                    "the request body is larger than {} bytes",
                    self.max_body_bytes
                ),
            }
        };
        let bytes = limit.bytes;
        let mut request = request.map(|body| Limited::new(body, bytes));
        request.extensions_mut().insert(limit);
        Box::pin(take(&mut self.inner).call(request))
    }
}

// ---- authentication --------------------------------------------------------------------

/// A SCIM request let in: who calls, for which tenant, through which gateway.
#[derive(Clone)]
pub struct TenantRequest {
    /// The token's owner, for logs and the audit log.
    pub caller: Caller,
    /// The tenant asked for.
    pub tenant: Arc<TenantRecord>,
    /// The tenant's gateway.
    pub gateway: Arc<Gateway>,
    /// What the tenant's backend serves, for the discovery endpoints.
    pub discovery: Arc<Discovery>,
    /// The tenant's SCIM base URL as the IdP sees it.
    pub base_url: String,
    /// The gateway's origin (`https://host`) as the IdP sees it.
    pub origin: String,
}

impl TenantRequest {
    /// How the audit log names the caller.
    pub fn actor(&self) -> String {
        format!("token:{}", self.caller.token_name)
    }
}

/// An admin request let in.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Caller);

/// Authenticates SCIM and admin requests; public endpoints pass.
#[derive(Clone)]
pub struct AuthenticateLayer {
    state: Arc<HttpState>,
    surface: Surface,
}

impl AuthenticateLayer {
    /// Authentication against the gateway's tokens and tenants.
    pub fn new(state: Arc<HttpState>, surface: Surface) -> Self {
        AuthenticateLayer { state, surface }
    }
}

impl<S> Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            state: self.state.clone(),
            surface: self.surface,
        }
    }
}

/// See [`AuthenticateLayer`].
#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    state: Arc<HttpState>,
    surface: Surface,
}

impl<S, B> Service<Request<B>> for Authenticate<S>
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
        let state = self.state.clone();
        let surface = self.surface;
        let mut inner = take(&mut self.inner);
        // Only the head is looked at (across awaits, so the body need not be `Sync`).
        let (mut parts, body) = request.into_parts();
        Box::pin(async move {
            let path = parts.uri.path().to_owned();
            match area(&parts.method, &path, &state.base_path, surface) {
                Area::Scim {
                    tenant,
                    named,
                    version,
                    ..
                } => match admit_scim(&state, tenant, named, version, &parts).await {
                    Ok(admitted) => {
                        if let Some(note) = parts.extensions.get::<RequestNote>() {
                            note.tenant(&admitted.tenant.id, admitted.caller.token_name.clone());
                        }
                        parts.extensions.insert(admitted);
                    }
                    Err(answer) => {
                        if let Some(note) = parts.extensions.get::<RequestNote>() {
                            note_refusal(&state, tenant, &parts, note).await;
                        }
                        return Ok(match version {
                            ScimVersion::V2 => answer.scim_response(),
                            ScimVersion::V1 => answer.scim1_response(),
                        });
                    }
                },
                Area::Admin => match admit_admin(&state, &path, &parts) {
                    Ok(Some(caller)) => {
                        parts.extensions.insert(caller);
                    }
                    Ok(None) => {}
                    Err(answer) => return Ok(answer.admin_response()),
                },
                // Public: OAuth clients authenticate in the token request.
                // Beside SCIM, an admin token opens the details (health.rs); they are public
                // only on the management address.
                Area::Ready | Area::Metrics
                    if surface != Surface::Management
                        && parts.headers.contains_key(header::AUTHORIZATION) =>
                {
                    match admit_admin(&state, "", &parts) {
                        Ok(Some(caller)) => {
                            parts.extensions.insert(caller);
                        }
                        Ok(None) => {}
                        Err(answer) => return Ok(answer.admin_response()),
                    }
                }
                Area::Health
                | Area::Info
                | Area::Ready
                | Area::Metrics
                | Area::DialectDoc(_)
                | Area::OAuth { .. }
                | Area::Nowhere => {}
            }
            // The tenant that let the request in, for the metrics (metered.rs).
            if let (Some(admitted), Some(slot)) = (
                parts.extensions.get::<TenantRequest>(),
                parts.extensions.get::<TenantSlot>(),
            ) {
                slot.admit(&admitted.tenant);
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

/// A refused SCIM request goes into its tenant's request log when the token it presented is
/// one of the tenant's (revoked, expired, its secret mistyped; or the tenant disabled), named
/// by its id, so that an admin can see why an IdP is refused. A request without a token of the
/// tenant is not logged: anyone can send those, and they would push the IdP's out of the log.
async fn note_refusal(state: &HttpState, tenant: &str, request: &Parts, note: &RequestNote) {
    let Some(token) = request
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| bearer_token(h).or_else(|| bare_token(h)))
    else {
        return;
    };
    let named = if crate::tokens::is_managed(token) {
        match crate::tokens::presented_id(token) {
            Some(id) => match state.tenants.store().tokens(tenant, Some(id)).await {
                Ok(found) if !found.is_empty() => Some(format!("managed:{id}")),
                _ => None,
            },
            None => None,
        }
    } else if tenant == DEFAULT_TENANT {
        state.scim_tokens.authenticate(token).map(|c| c.token_name)
    } else {
        None
    };
    if let Some(named) = named {
        note.tenant(tenant, named);
    }
}

const INVALID_TOKEN: &str = "the bearer token is not valid";

fn unauthorized(detail: &str) -> ErrorAnswer {
    ErrorAnswer::new(StatusCode::UNAUTHORIZED, detail)
}

fn unavailable(detail: &str) -> ErrorAnswer {
    ErrorAnswer::new(StatusCode::SERVICE_UNAVAILABLE, detail)
}

/// Lets a SCIM request to `tenant` in, or says why not. The caller comes first: an unknown
/// tenant and another tenant's token answer alike, and only a tenant's own callers reach its
/// record (disabled: 403; its backend gone from the config: 503).
async fn admit_scim(
    state: &HttpState,
    tenant: &str,
    named: bool,
    version: ScimVersion,
    request: &Parts,
) -> Result<TenantRequest, ErrorAnswer> {
    let caller = authenticate(state, tenant, request).await?;
    let record = match state.tenants.record(tenant).await {
        Ok(Some(record)) => record,
        // Its tokens went with it (deleted meanwhile).
        Ok(None) => return Err(unauthorized(INVALID_TOKEN)),
        Err(e) => {
            tracing::error!(error = %e, tenant, "cannot read a tenant");
            return Err(unavailable(
                "the gateway cannot read its configuration store right now; try again shortly",
            ));
        }
    };
    if !record.enabled {
        return Err(ErrorAnswer::from_scim(&ScimError::forbidden(format!(
            "the SCIM configuration {} is disabled by the gateway's administrator",
            record.id
        ))));
    }
    let (Some(gateway), Some(discovery)) = (
        state.tenants.gateway(&record),
        state.discovery.get(&record.backend),
    ) else {
        return Err(ErrorAnswer::from_scim(&crate::tenants::missing_backend(
            &record,
        )));
    };
    let origin = origin_url(state, &request.headers, &request.uri);
    let mut base_url = match version {
        ScimVersion::V2 => format!("{origin}{}", state.base_path),
        ScimVersion::V1 => format!(
            "{origin}{}",
            v1_base_path(&state.base_path).unwrap_or_default()
        ),
    };
    if named {
        base_url = format!("{base_url}/{tenant}");
    }
    // A tenant's own extension schemas are in its gateway's registry, and its discovery.
    let discovery = if record.extensions.as_array().is_some_and(|e| !e.is_empty()) {
        Arc::new(discovery.with_registry(gateway.registry.clone()))
    } else {
        discovery.clone()
    };
    Ok(TenantRequest {
        caller,
        tenant: record,
        gateway,
        discovery,
        base_url,
        origin,
    })
}

/// The caller of a SCIM request to tenant `tenant`, or why it is refused.
///
/// Managed tokens (`sgt_...`) are looked up in the store on every request, so a revocation
/// holds at once on every replica, and hold for their own tenant only; tokens from the config
/// are compared in memory and are the `default` tenant's. A store that cannot be asked is a
/// 503 (the IdP retries rather than giving up on the token).
async fn authenticate(
    state: &HttpState,
    tenant: &str,
    request: &Parts,
) -> Result<Caller, ErrorAnswer> {
    let header = request
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = match (header.and_then(bearer_token), header.and_then(bare_token)) {
        (Some(bearer), _) => Some(bearer),
        // Okta's header mode, for a tenant that accepts it.
        (None, Some(bare)) => match state.tenants.record(tenant).await {
            Ok(Some(record)) if record.bare_token => Some(bare),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(error = %e, tenant, "cannot read a tenant");
                return Err(unavailable(
                    "the token cannot be checked right now; try again shortly",
                ));
            }
        },
        (None, None) => None,
    };
    let caller = match token {
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
                    return Err(unavailable(
                        "the token cannot be checked right now; try again shortly",
                    ));
                }
            }
        }
        Some(bearer) if tenant == DEFAULT_TENANT => state.scim_tokens.authenticate(bearer),
        _ => None,
    };
    match caller {
        Some(caller) => {
            tracing::Span::current().record("caller", caller.token_name.as_str());
            Ok(caller)
        }
        None if header.is_none() => Err(unauthorized(
            "authentication required: send Authorization: Bearer <token>",
        )),
        None => Err(unauthorized(INVALID_TOKEN)),
    }
}

/// Lets an admin request in: `Some` with the caller; `None` where no token is needed (the
/// public OpenAPI document, or the admin API switched off, which the router answers).
fn admit_admin(
    state: &HttpState,
    path: &str,
    request: &Parts,
) -> Result<Option<AdminCaller>, ErrorAnswer> {
    let Some(admin_tokens) = &state.admin_tokens else {
        return Ok(None);
    };
    let segments = path.strip_prefix(ADMIN_PREFIX).unwrap_or_default();
    if segments
        .split('/')
        .filter(|s| !s.is_empty())
        .eq(["openapi.json"])
    {
        return Ok(None);
    }
    let caller = request
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .and_then(|t| admin_tokens.authenticate(t));
    match caller {
        Some(caller) => {
            tracing::Span::current().record("caller", caller.token_name.as_str());
            Ok(Some(AdminCaller(caller)))
        }
        None => Err(unauthorized(
            "admin authentication required: Authorization: Bearer <admin token>",
        )),
    }
}
