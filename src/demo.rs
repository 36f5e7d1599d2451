//! `scimgate demo`: the gateway in front of a built-in platform emulator (Coder by default, or
//! GitLab), in one process on loopback, with an SQLite store. Integration tests and the
//! benchmark start the same thing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{
    AdminConfig, ApiToken, BackendConfig, CacheConfig, Config, ConfiguredBackend, Problems,
    ScimConfig, Secret, ServerConfig, DEFAULT_BACKEND,
};
use crate::mapping::compile::compile_mapping_str;
use crate::sandbox::coder::CoderEmulator;
use crate::sandbox::gitlab::GitLabEmulator;
use crate::scim::schema::Registry;

/// The Coder mapping shipped in `config/mappings/coder.toml`, built in so the demo needs no files.
pub const CODER_MAPPING: &str = include_str!("../config/mappings/coder.toml");

/// How [`start`] runs the demo; the default serves on a free loopback port with random
/// tokens and a temporary data directory.
pub struct DemoOptions {
    /// Address of the gateway; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The SCIM bearer token; a random one when `None`.
    pub token: Option<String>,
    /// Where the SQLite file goes; a fresh temporary directory when `None`.
    pub data_dir: Option<PathBuf>,
    /// Most platform objects read to answer one filter or sort (`scim.max_scan`).
    pub max_scan: usize,
    /// Lifetime of cached platform objects; zero turns the cache off.
    pub cache_ttl: Duration,
    /// Mapping text to use instead of the built-in Coder mapping (tests of mapping variants).
    pub mapping: Option<String>,
    /// The identity store URL; an SQLite file in the data directory when `None`.
    pub store_url: Option<String>,
    /// The admin API token; a random one when `None`.
    pub admin_token: Option<String>,
    /// Serve the admin API on its own address (then not beside SCIM).
    pub admin_listen: Option<SocketAddr>,
    /// Serve in front of this already running emulator (another replica's) instead of
    /// starting one: `(emulator, its URL, its token)`.
    pub platform: Option<(CoderEmulator, String, String)>,
    /// More backends by these names, each in front of an emulated Coder of its own (for
    /// tenants on different platforms).
    pub extra_backends: Vec<String>,
    /// Front this platform as the default backend instead of the emulated Coder (which then
    /// idles): another emulator, or a real platform such as a JupyterHub.
    pub front: Option<FrontedPlatform>,
    /// Front the built-in GitLab emulator with `config/mappings/gitlab.toml` (unless `front`
    /// names another platform).
    pub gitlab: bool,
    /// The emulated Coders' `timeout_secs` (tests of slow platforms shorten it).
    pub platform_timeout: Duration,
    /// The emulated Coders' retries and breaker.
    pub resilience: crate::backend::Policy,
    /// Inbound request rates; none by default (`serve` has the config's).
    pub rate_limits: crate::config::RateLimits,
    /// The request log (`[request_log]`); on, with the config's defaults, by default.
    pub request_log: crate::requestlog::RequestLogSettings,
}

/// A platform the demo fronts in place of the emulated Coder.
#[derive(Debug, Clone)]
pub struct FrontedPlatform {
    /// The mapping file's text.
    pub mapping: String,
    /// What the mapping is called in messages (`config/mappings/gitlab.toml`).
    pub mapping_name: String,
    /// The platform's base URL.
    pub base_url: String,
    /// The platform credential.
    pub credential: String,
    /// `[backend.settings]`.
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// The GitLab mapping shipped in `config/mappings/gitlab.toml`.
pub const GITLAB_MAPPING: &str = include_str!("../config/mappings/gitlab.toml");
/// The JupyterHub mapping shipped in `config/mappings/jupyterhub.toml`.
pub const JUPYTERHUB_MAPPING: &str = include_str!("../config/mappings/jupyterhub.toml");

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            data_dir: None,
            max_scan: 10_000,
            cache_ttl: Duration::from_secs(30),
            mapping: None,
            store_url: None,
            platform: None,
            admin_token: None,
            admin_listen: None,
            extra_backends: Vec::new(),
            front: None,
            gitlab: false,
            platform_timeout: Duration::from_secs(10),
            resilience: crate::backend::Policy::default(),
            // A sandbox, and what conformance suites (which do not honour 429) run against:
            // no inbound limits unless asked for.
            rate_limits: crate::config::RateLimits::default(),
            request_log: (&crate::config::RawRequestLog::default()).into(),
        }
    }
}

/// A running demo: the gateway and the emulator, stopped by [`Demo::stop`] or on drop.
pub struct Demo {
    /// The `default` tenant's SCIM base URL (`http://host:port/scim/v2`).
    pub scim_url: String,
    /// Where the admin API answers (`http://host:port`, without `/admin/v1`).
    pub admin_url: String,
    /// The `default` tenant's bearer token (a config token named `demo`).
    pub token: String,
    /// Base URL of the emulated Coder behind the `default` tenant.
    pub emulator_url: String,
    /// The API key the gateway sends to the emulated Coder.
    pub emulator_token: String,
    /// The emulated Coder behind the `default` tenant, for reading and changing its state.
    pub emulator: CoderEmulator,
    /// The emulated GitLab behind the `default` tenant (`gitlab`), its URL and token.
    pub gitlab: Option<(GitLabEmulator, String, String)>,
    /// The emulators behind `extra_backends`, by backend name.
    pub extra_emulators: Vec<(String, CoderEmulator)>,
    /// Bearer token of the admin API (`/admin/v1`).
    pub admin_token: String,
    /// The SQLite file in the data directory (not used when `store_url` names another store).
    pub store_path: PathBuf,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
    _temp_dir: Option<TempDir>,
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// An address could not be bound.
    #[error("cannot bind {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// The data directory could not be created.
    #[error("data directory: {0}")]
    DataDir(std::io::Error),
    /// The built-in schemas or mapping do not compile.
    #[error("built-in configuration is invalid:\n{0}")]
    Config(Problems),
    /// The gateway could not be built (store or platform client).
    #[error(transparent)]
    Start(#[from] crate::app::StartError),
}

fn random_secret(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

/// A new emulated Coder on a loopback port (not serving yet): the emulator, its URL, its API
/// key and its listener.
async fn new_emulator() -> Result<(CoderEmulator, String, String, TcpListener), DemoError> {
    // Coder API keys look like `<10-char id>-<22-char secret>`.
    let token = format!("{}-{}", random_secret(10), random_secret(22));
    let emulator = CoderEmulator::new(token.clone());
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| DemoError::Bind(addr, e))?;
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| DemoError::Bind(addr, e))?
    );
    Ok((emulator, url, token, listener))
}

/// A new emulated GitLab on a loopback port (not serving yet), with an administrator's
/// personal access token (`glpat-` and 20 characters, as GitLab makes them).
async fn new_gitlab() -> Result<(GitLabEmulator, String, String, TcpListener), DemoError> {
    let token = format!("glpat-{}", random_secret(20));
    let emulator = GitLabEmulator::new(token.clone());
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| DemoError::Bind(addr, e))?;
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| DemoError::Bind(addr, e))?
    );
    Ok((emulator, url, token, listener))
}

/// The Coder mapping (or `mapping_text`) compiled, in front of an emulator.
fn coder_backend(
    registry: &Registry,
    mapping_text: &str,
    emulator: &CoderEmulator,
    url: &str,
    token: &str,
    timeout: Duration,
    resilience: &crate::backend::Policy,
) -> Result<ConfiguredBackend, DemoError> {
    let mut problems = Problems::default();
    let mapping = compile_mapping_str(
        Path::new("config/mappings/coder.toml"),
        mapping_text,
        registry,
        &mut problems,
    );
    let mapping = match mapping {
        Some(m) if problems.is_empty() => m,
        _ => return Err(DemoError::Config(problems)),
    };
    let mut settings = serde_json::Map::new();
    settings.insert(
        "organization_id".to_owned(),
        serde_json::Value::String(emulator.organization_id()),
    );
    // IdPs (and conformance suites) may create users without any email; Coder needs one.
    settings.insert(
        "placeholder_email_domain".to_owned(),
        serde_json::Value::String("no-email.scimgate.invalid".to_owned()),
    );
    Ok(ConfiguredBackend {
        config: BackendConfig {
            base_url: url.to_owned(),
            timeout,
            credential: Some(Secret::new(token.to_owned())),
            settings,
            resilience: resilience.clone(),
        },
        mapping,
    })
}

/// A platform given by its mapping text, URL and credential.
fn fronted_backend(
    registry: &Registry,
    front: &FrontedPlatform,
) -> Result<ConfiguredBackend, DemoError> {
    let mut problems = Problems::default();
    let mapping = compile_mapping_str(
        Path::new(&front.mapping_name),
        &front.mapping,
        registry,
        &mut problems,
    );
    match mapping {
        Some(mapping) if problems.is_empty() => Ok(ConfiguredBackend {
            config: BackendConfig {
                base_url: front.base_url.trim_end_matches('/').to_owned(),
                timeout: Duration::from_secs(10),
                credential: Some(Secret::new(front.credential.clone())),
                settings: front.settings.clone(),
                resilience: crate::backend::Policy::default(),
            },
            mapping,
        }),
        _ => Err(DemoError::Config(problems)),
    }
}

/// Starts the emulated Coder(s) and the gateway in front of them, serving until
/// [`Demo::stop`] or drop.
pub async fn start(options: DemoOptions) -> Result<Demo, DemoError> {
    let (emulator, emulator_url, emulator_token, emulator_listener) = match options.platform.clone()
    {
        Some((emulator, url, token)) => (emulator, url, token, None),
        None => {
            let (emulator, url, token, listener) = new_emulator().await?;
            (emulator, url, token, Some(listener))
        }
    };

    let (temp_dir, data_dir) = match options.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(DemoError::DataDir)?;
            (None, dir)
        }
        None => {
            let dir = std::env::temp_dir().join(format!("scimgate-demo-{}", random_secret(12)));
            std::fs::create_dir_all(&dir).map_err(DemoError::DataDir)?;
            (Some(TempDir(dir.clone())), dir)
        }
    };
    let store_path = data_dir.join("scimgate.sqlite");
    let token = options.token.unwrap_or_else(|| random_secret(40));
    let admin_token = options
        .admin_token
        .clone()
        .unwrap_or_else(|| random_secret(40));

    let registry = Arc::new(Registry::standard().map_err(|e| {
        let mut p = Problems::default();
        p.add(Path::new("<built-in schemas>"), "", format!("{e:?}"));
        DemoError::Config(p)
    })?);
    let mapping_text = options.mapping.as_deref().unwrap_or(CODER_MAPPING);
    let mut front = options.front.clone();
    let mut gitlab = None;
    let mut gitlab_listener = None;
    if options.gitlab && front.is_none() {
        let (emulator, url, token, listener) = new_gitlab().await?;
        let mut settings = serde_json::Map::new();
        settings.insert(
            "service_account".to_owned(),
            serde_json::Value::String("root".to_owned()),
        );
        // IdPs (and conformance suites) may create users without any email; GitLab needs one.
        settings.insert(
            "placeholder_email_domain".to_owned(),
            serde_json::Value::String("no-email.scimgate.invalid".to_owned()),
        );
        front = Some(FrontedPlatform {
            mapping: GITLAB_MAPPING.to_owned(),
            mapping_name: "config/mappings/gitlab.toml".to_owned(),
            base_url: url.clone(),
            credential: token.clone(),
            settings,
        });
        gitlab = Some((emulator.clone(), url, token));
        gitlab_listener = Some((emulator, listener));
    }
    let mut backends = std::collections::BTreeMap::new();
    let default_backend = match &front {
        Some(front) => fronted_backend(&registry, front)?,
        None => coder_backend(
            &registry,
            mapping_text,
            &emulator,
            &emulator_url,
            &emulator_token,
            options.platform_timeout,
            &options.resilience,
        )?,
    };
    backends.insert(DEFAULT_BACKEND.to_owned(), default_backend);
    let mut emulator_listeners = Vec::new();
    let mut extra_emulators = Vec::new();
    for name in &options.extra_backends {
        let (extra, url, token, listener) = new_emulator().await?;
        backends.insert(
            name.clone(),
            coder_backend(
                &registry,
                mapping_text,
                &extra,
                &url,
                &token,
                options.platform_timeout,
                &options.resilience,
            )?,
        );
        extra_emulators.push((name.clone(), extra.clone()));
        emulator_listeners.push((extra, listener));
    }
    if let Some(listener) = emulator_listener {
        emulator_listeners.push((emulator.clone(), listener));
    }
    let config = Config {
        server: ServerConfig {
            listen: options.listen,
            base_path: "/scim/v2".to_owned(),
            public_url: None,
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 1024 * 1024,
            max_header_bytes: crate::config::DEFAULT_MAX_HEADER_BYTES,
            rate_limits: options.rate_limits,
            tls: None,
            management_listen: None,
        },
        scim: ScimConfig {
            max_results: 200,
            max_scan: options.max_scan,
        },
        tokens: vec![ApiToken {
            name: "demo".to_owned(),
            secret: Secret::new(token.clone()),
        }],
        admin: AdminConfig {
            tokens: vec![ApiToken {
                name: "demo-admin".to_owned(),
                secret: Secret::new(admin_token.clone()),
            }],
            listen: options.admin_listen,
        },
        audit_retention: Some(Duration::from_secs(365 * 86_400)),
        request_log: options.request_log.clone(),
        log_format: crate::config::LogFormat::Human,
        otlp: None,
        options: Vec::new(),
        store_url: options
            .store_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", store_path.display())),
        cache: CacheConfig {
            ttl: options.cache_ttl,
            max_entries: if options.cache_ttl.is_zero() {
                0
            } else {
                10_000
            },
        },
        backends,
    };
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|e| DemoError::Bind(options.listen, e))?;
    let gateway_addr = listener
        .local_addr()
        .map_err(|e| DemoError::Bind(options.listen, e))?;
    let state = crate::app::build(config, registry).await?;

    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    let (gateway_stop, gateway_stopped) = oneshot::channel::<()>();
    let mut admin_url = format!("http://{gateway_addr}");
    let scim_surface = match options.admin_listen {
        None => crate::http::Surface::ScimAndAdmin,
        Some(addr) => {
            let admin_listener = TcpListener::bind(addr)
                .await
                .map_err(|e| DemoError::Bind(addr, e))?;
            admin_url = format!(
                "http://{}",
                admin_listener
                    .local_addr()
                    .map_err(|e| DemoError::Bind(addr, e))?
            );
            let (admin_stop, admin_stopped) = oneshot::channel::<()>();
            tasks.push(tokio::spawn(crate::app::serve(
                admin_listener,
                state.clone(),
                crate::http::Surface::AdminOnly,
                async move {
                    let _ = admin_stopped.await;
                },
            )));
            stops.push(admin_stop);
            crate::http::Surface::ScimOnly
        }
    };
    tasks.push(tokio::spawn(crate::app::serve(
        listener,
        state,
        scim_surface,
        async move {
            let _ = gateway_stopped.await;
        },
    )));
    stops.push(gateway_stop);
    if let Some((serving, listener)) = gitlab_listener {
        let (emulator_stop, emulator_stopped) = oneshot::channel::<()>();
        tasks.push(tokio::spawn(serving.serve(listener, async move {
            let _ = emulator_stopped.await;
        })));
        stops.push(emulator_stop);
    }
    for (serving, listener) in emulator_listeners {
        let (emulator_stop, emulator_stopped) = oneshot::channel::<()>();
        tasks.push(tokio::spawn(serving.serve(listener, async move {
            let _ = emulator_stopped.await;
        })));
        stops.push(emulator_stop);
    }
    Ok(Demo {
        scim_url: format!("http://{gateway_addr}/scim/v2"),
        admin_url,
        token,
        emulator_url,
        emulator_token,
        emulator,
        gitlab,
        extra_emulators,
        admin_token,
        store_path,
        stops,
        tasks,
        _temp_dir: temp_dir,
    })
}

impl Demo {
    /// Stops the gateway, then the emulator, and waits for both.
    pub async fn stop(mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}
