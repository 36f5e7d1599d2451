//! Wiring: builds the gateway's state from a validated [`Config`] (store, cache, platform
//! clients, tenants, the admin plane, the audit log, the background tasks that keep replicas
//! in step), stacks the tower layers every request passes, and serves them on a bound listener.
//! [`serve`] takes the listener and a shutdown future, so tests bind port 0 and stop the
//! server when they are done.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::admin::Admin;
use crate::audit::Audit;
use crate::auth::{Authenticator, StaticTokens};
use crate::backend::{HttpPlatform, Platform, Resilient};
use crate::cache::LookupCache;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConfiguredBackend};
use crate::http::discovery::Discovery;
use crate::http::error::ErrorAnswer;
use crate::http::layers::{AuthenticateLayer, BodyLimitLayer, Listener, RequestTimeoutLayer};
use crate::http::metered::MeteredLayer;
use crate::http::requestlog::RequestLogLayer;
use crate::http::response::HttpResponse;
use crate::http::{HttpState, Surface};
use crate::oauth::Issuer;
use crate::requestlog::RequestLog;
use crate::scim::schema::Registry;
use crate::service::kinds_of;
use crate::store::{self, Store};
use crate::tenants::{Backend, Tenants};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A platform client could not be built.
    #[error("backend client: {0}")]
    Backend(String),
    /// The TLS certificate and key did not load (they changed since the config was checked).
    #[error("server.tls: {0}")]
    Tls(String),
}

/// Builds everything a running gateway needs: store (migrated), cache, platform clients, the
/// tenants (the `default` one made on first start when the config has a `[backend]`).
pub async fn build(config: Config, registry: Arc<Registry>) -> Result<Arc<HttpState>, StartError> {
    build_with(config, registry, &|name, backend, settings| {
        let platform = HttpPlatform::new(
            &backend.config.base_url,
            backend.config.timeout,
            backend.config.credential.as_ref().map(|s| s.expose()),
            settings,
            &backend.mapping.platform,
        )
        .map_err(|e| StartError::Backend(format!("backend {name}: {e}")))?
        .named(name);
        // Retries where safe, Retry-After honoured, a breaker per backend.
        Ok(Arc::new(
            Resilient::new(Arc::new(platform), backend.config.resilience.clone()).named(name),
        ))
    })
    .await
}

/// How [`build_with`] makes each backend's platform client (name, backend, its settings).
pub type PlatformMaker<'a> = &'a dyn Fn(
    &str,
    &ConfiguredBackend,
    &serde_json::Value,
) -> Result<Arc<dyn Platform>, StartError>;

/// [`build`] with the platform clients made by `make_platform` (`scimgate explain` records
/// calls instead of sending them).
pub async fn build_with(
    config: Config,
    registry: Arc<Registry>,
    make_platform: PlatformMaker<'_>,
) -> Result<Arc<HttpState>, StartError> {
    let tls = match config.server.tls.clone() {
        Some(files) => {
            let tls = Arc::new(crate::tls::Tls::load(files).map_err(StartError::Tls)?);
            // Renewed certificates are picked up while the state lives.
            tls.watch();
            Some(tls)
        }
        None => None,
    };
    let store = store::open(&config.store_url).await?;
    let cache = LookupCache::new(&config.cache);
    let clock: SharedClock = Arc::new(SystemClock);
    let mut backends = Vec::new();
    let mut discovery = HashMap::new();
    for (name, backend) in config.backends {
        let settings = serde_json::Value::Object(backend.config.settings.clone());
        let platform = make_platform(&name, &backend, &settings)?;
        let kinds = kinds_of(&backend.mapping);
        let served = Arc::new(crate::mapping::registry_for(&registry, &backend.mapping));
        discovery.insert(
            name.clone(),
            Arc::new(Discovery::new(
                served.clone(),
                kinds.iter().map(|k| k.name().to_owned()).collect(),
                config.scim.max_results,
            )),
        );
        backends.push(Backend {
            name,
            registry: served,
            mapping: Arc::new(backend.mapping),
            platform,
            settings,
        });
    }
    let tenants = Arc::new(Tenants::new(
        backends,
        store.clone(),
        cache.clone(),
        config.scim.clone(),
        clock.clone(),
    ));
    tenants.ensure_default().await?;
    for orphan in tenants.orphans().await? {
        tracing::warn!(
            tenant = %orphan.id,
            backend = %orphan.backend,
            "this tenant fronts a backend the config does not define; it answers 503 until it does"
        );
    }
    follow_other_replicas(&store, &cache, &tenants).await?;
    if let Some(retention) = config.audit_retention {
        prune_audit_log(store.clone(), clock.clone(), retention);
    }
    let request_log = RequestLog::start(store.clone(), clock.clone(), &config.request_log);
    Ok(Arc::new(HttpState {
        request_log,
        admin: Admin::new(tenants.clone()),
        // An IdP's JWK Set that does not answer within 5 s fails the token request (the IdP
        // retries); one that answers is kept 10 minutes.
        oauth: Issuer::new(store.clone(), clock.clone(), Duration::from_secs(5))
            .map_err(StartError::Backend)?,
        audit: Audit::new(store, clock),
        tenants,
        scim_tokens: Box::new(StaticTokens::new(config.tokens)),
        admin_tokens: (!config.admin.tokens.is_empty()).then(|| {
            Box::new(StaticTokens::new(config.admin.tokens.clone())) as Box<dyn Authenticator>
        }),
        base_path: config.server.base_path.clone(),
        public_url: config.server.public_url.clone(),
        max_body_bytes: config.server.max_body_bytes,
        max_header_bytes: config.server.max_header_bytes,
        rate_limits: crate::http::ratelimit::RateLimiters::new(config.server.rate_limits),
        request_timeout: config.server.request_timeout,
        tls,
        discovery,
        management_apart: config.server.management_listen.is_some(),
        config_options: config.options,
        readiness: Default::default(),
    }))
}

/// Several replicas on one store: what another replica writes must not be served stale here.
async fn follow_other_replicas(
    store: &Arc<dyn Store>,
    cache: &LookupCache,
    tenants: &Arc<Tenants>,
) -> Result<(), StartError> {
    if let Some(mut changes) = store.changes().await? {
        let cache = cache.clone();
        let tenants = tenants.clone();
        tokio::spawn(async move {
            while let Some(change) = changes.recv().await {
                if change.is_tenant() {
                    tenants
                        .forget(&change.tenant, &change.backend_key, change.deleted)
                        .await;
                } else {
                    cache.forget_change(&change).await;
                }
            }
        });
    }
    Ok(())
}

/// Hourly, in every replica; deleting what another replica already deleted is harmless.
fn prune_audit_log(store: Arc<dyn Store>, clock: SharedClock, retention: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let before = clock.now() - retention;
            match store.prune_audit(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "audit entries past retention removed"),
                Err(e) => tracing::warn!(error = %e, "cannot prune the audit log"),
            }
        }
    });
}

/// Serves SCIM (and the admin API) until `shutdown` resolves, then lets in-flight requests
/// finish.
pub async fn run(
    listener: TcpListener,
    state: Arc<HttpState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(listener, state, Surface::ScimAndAdmin, shutdown).await
}

/// A panic (a bug: the lint wall forbids them on request paths) answered as a 500, not a
/// dropped connection.
fn panic_answer(_: Box<dyn std::any::Any + Send>) -> HttpResponse {
    tracing::error!("a request handler panicked");
    ErrorAnswer::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal error; see the gateway log.",
    )
    .scim_response()
}

/// The body of an answer as [`service`] gives it (traced, and boxed by the panic layer).
pub type StackBody = tower_http::trace::ResponseBody<
    tower_http::body::UnsyncBoxBody<bytes::Bytes, Box<dyn std::error::Error + Send + Sync>>,
    tower_http::classify::NeverClassifyEos<tower_http::classify::ServerErrorsFailureClass>,
>;

/// The stack every request passes, outermost first, around the router: what [`serve`] runs
/// for each connection, and what `scimgate explain` sends its one request through.
pub fn service<B>(
    state: Arc<HttpState>,
    surface: Surface,
) -> impl tower::Service<
    http::Request<B>,
    Response = http::Response<StackBody>,
    Error = Infallible,
    Future = impl Future<Output = Result<http::Response<StackBody>, Infallible>> + Send,
> + Clone
       + Send
       + 'static
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let router = {
        let state = state.clone();
        tower::service_fn(move |request: http::Request<_>| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(crate::http::route(state, surface, request).await) }
        })
    };
    let listener_of = Listener {
        base_path: Arc::from(state.base_path.as_str()),
        surface,
    };
    ServiceBuilder::new()
        // An id for every request, kept from the caller's x-request-id when it sends one.
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // One tracing span per request, with the id and, once known, the caller.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(finished_span),
        )
        // The id echoed in the answer.
        .layer(PropagateRequestIdLayer::x_request_id())
        // SCIM requests counted and timed by tenant, resource, operation and status: panics,
        // timeouts, refusals and clients gone included (GET /metrics).
        .layer(MeteredLayer::new(listener_of.clone()))
        // A panic answered 500 instead of a dropped connection.
        .layer(CatchPanicLayer::custom(panic_answer))
        // Each SCIM request of a tenant, its platform calls and its bodies (masked), into the
        // request log: timeouts included; a request whose client left is kept as 499.
        .layer(RequestLogLayer::new(state.clone(), listener_of.clone()))
        // The whole request within request_timeout_secs (not /Bulk): 503 after it.
        .layer(RequestTimeoutLayer::new(
            state.request_timeout,
            listener_of.clone(),
        ))
        // Heads within max_header_bytes (431); bodies within max_body_bytes (/Bulk:
        // maxPayloadSize): 413 when read beyond.
        .layer(BodyLimitLayer::new(
            state.max_body_bytes,
            state.max_header_bytes,
            listener_of,
        ))
        // The caller and its tenant (SCIM) or the admin (admin API), into the extensions.
        .layer(AuthenticateLayer::new(state.clone(), surface))
        // Each tenant's and each token's request rate: 429 with Retry-After beyond it.
        .layer(crate::http::ratelimit::RateLimitLayer::new(state.clone()))
        .service(router)
}

/// Serves what `surface` names on one listener (`main` runs SCIM and the admin API on two
/// addresses when the config gives the admin API its own).
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    surface: Surface,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max_header_bytes = state.max_header_bytes;
    // The management address is for probes and scrapers inside the deployment: plain HTTP.
    let tls = state.tls.clone().filter(|_| surface != Surface::Management);
    let service = service(state, surface);
    let graceful = GracefulShutdown::new();
    let mut builder = ConnectionBuilder::new(TokioExecutor::new());
    // Request heads bounded in memory: hyper answers a head much larger than max_header_bytes
    // (its read buffer; or more than 100 headers) with 431 and closes the connection before
    // any layer runs; the body-limit layer holds heads to max_header_bytes exactly.
    builder
        .http1()
        .max_buf_size(max_header_bytes.saturating_mul(2));
    builder
        .http2()
        .max_header_list_size(u32::try_from(max_header_bytes).unwrap_or(u32::MAX));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a moment rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(service.clone());
                match &tls {
                    None => {
                        let connection = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .into_owned();
                        let connection = graceful.watch(connection);
                        tokio::spawn(async move {
                            if let Err(e) = connection.await {
                                tracing::debug!(error = %e, "connection ended with an error");
                            }
                        });
                    }
                    Some(tls) => {
                        // The handshake runs on the connection's own task, bounded in time,
                        // so a slow client never holds up the accept loop.
                        let acceptor = tls.acceptor().clone();
                        let builder = builder.clone();
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            let handshake = tokio::time::timeout(
                                crate::tls::HANDSHAKE_TIMEOUT,
                                acceptor.accept(stream),
                            );
                            let stream = match handshake.await {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(e)) => {
                                    tracing::debug!(error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!("TLS handshake timed out");
                                    return;
                                }
                            };
                            let connection = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service);
                            if let Err(e) = watcher.watch(connection).await {
                                tracing::debug!(error = %e, "connection ended with an error");
                            }
                        });
                    }
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10s; closing");
        }
    }
    Ok(())
}

fn request_span<B>(request: &http::Request<B>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
        caller = tracing::field::Empty,
    );
    crate::telemetry::begin_request(&span, request.headers());
    span
}

/// tower-http's own debug line (status, latency), and the status on the exported span.
fn finished_span<B>(response: &http::Response<B>, latency: Duration, span: &tracing::Span) {
    use tower_http::trace::OnResponse as _;
    tower_http::trace::DefaultOnResponse::new().on_response(response, latency, span);
    crate::telemetry::end_request(span, response.status().as_u16());
}
