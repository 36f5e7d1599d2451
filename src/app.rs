//! Wiring: builds the gateway's state from a validated [`Config`] and serves it on a bound
//! listener behind the tower stack. `run` takes the listener and a shutdown future so tests bind
//! port 0 and stop the server when they are done.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{Authenticator, StaticTokens};
use crate::backend::HttpPlatform;
use crate::cache::LookupCache;
use crate::config::Config;
use crate::http::{discovery::Discovery, HttpState, Surface};
use crate::scim::schema::Registry;
use crate::service::kinds_of;
use crate::store;
use crate::tenants::{Backend, Tenants};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("backend client: {0}")]
    Backend(String),
}

/// Builds everything a running gateway needs: store (migrated), cache, platform clients, the
/// tenants (the `default` one made on first start when the config has a `[backend]`).
pub async fn build(config: Config, registry: Arc<Registry>) -> Result<Arc<HttpState>, StartError> {
    let store = store::open(&config.store_url).await?;
    let cache = LookupCache::new(&config.cache);
    let mut platforms = Vec::new();
    let mut discovery = HashMap::new();
    for (name, backend) in config.backends {
        let settings = serde_json::Value::Object(backend.config.settings);
        let client = HttpPlatform::new(
            &backend.config.base_url,
            backend.config.timeout,
            backend.config.credential.as_ref().map(|s| s.expose()),
            &settings,
            &backend.mapping.platform,
        )
        .map_err(|e| StartError::Backend(format!("backend {name}: {e}")))?;
        let kinds = kinds_of(&backend.mapping);
        discovery.insert(
            name.clone(),
            Discovery::new(
                registry.clone(),
                kinds.iter().map(|k| k.name().to_owned()).collect(),
                config.scim.max_results,
            ),
        );
        platforms.push(Backend {
            name,
            mapping: Arc::new(backend.mapping),
            platform: Arc::new(client),
            settings,
        });
    }
    let clock: crate::clock::SharedClock = Arc::new(crate::clock::SystemClock);
    let tenants = Arc::new(Tenants::new(
        platforms,
        store.clone(),
        cache.clone(),
        registry,
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
    // Several replicas on one store: what another replica writes must not be served stale here.
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
    if let Some(retention) = config.audit_retention {
        // Hourly, in every replica; deleting what another replica already deleted is harmless.
        let store = store.clone();
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
    Ok(Arc::new(HttpState {
        tenants,
        auth: Box::new(StaticTokens::new(config.tokens)),
        base_path: config.server.base_path.clone(),
        public_url: config.server.public_url.clone(),
        max_body_bytes: config.server.max_body_bytes,
        request_timeout: config.server.request_timeout,
        admin: (!config.admin.tokens.is_empty()).then(|| {
            Box::new(StaticTokens::new(config.admin.tokens.clone())) as Box<dyn Authenticator>
        }),
        discovery,
    }))
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

/// Serves what `surface` names on one listener (`main` runs SCIM and the admin API on two
/// addresses when the config gives the admin API its own).
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    surface: Surface,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The stack, outermost first: every request gets an id (kept from the caller's
    // x-request-id when present), one tracing span, and the id echoed in the answer.
    let service = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &http::Request<_>| {
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id,
                    caller = tracing::field::Empty,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(crate::http::handle(state, surface, request).await) }
        });

    let graceful = GracefulShutdown::new();
    let builder = ConnectionBuilder::new(TokioExecutor::new());
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
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service.clone()))
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
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
