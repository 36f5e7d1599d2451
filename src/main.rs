//! The `scimgate` command line: serve, check and demo here; the admin API's clients (tenants,
//! tokens, links, audit) and explain in `cli/`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use scimgate::config::{Config, LogFormat};
use scimgate::http::Surface;

mod cli;

use cli::admin::{
    links, send_admin, tenants, tokens, AdminArgs, AdminServer, LinkAction, TenantAction,
    TokenAction,
};
use cli::explain::{explain, ExplainArgs};
use cli::oauth::{oauth_clients, ClientAction};
use cli::registry;

/// A SCIM 2.0 gateway: identity providers (Okta, Entra ID, ...) provision users into a platform
/// that only has a REST API, through a TOML mapping file.
#[derive(Parser)]
#[command(name = "scimgate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve SCIM in front of the platform the config file names.
    Serve {
        #[command(flatten)]
        file: ConfigFile,
    },
    /// Validate a config file and its mapping; prints every problem with file and key, and
    /// exits non-zero when there is one.
    Check {
        #[command(flatten)]
        file: ConfigFile,
    },
    /// The effective configuration: every option with its value, its default, the
    /// environment variable that overrides it and where the value came from (default, file,
    /// env), secrets redacted. Reads the file and the environment as `serve` does.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// GET a URL and exit 0 on a 2xx answer, 1 otherwise: a container HEALTHCHECK without
    /// curl in the image (`scimgate probe http://127.0.0.1:9090/healthz`).
    Probe {
        /// The URL to ask (plain HTTP).
        url: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// Show what one SCIM request would do, without calling the platform: the platform calls
    /// the gateway would make, in order, each with the condition that chose or skipped it (and
    /// the values it read), the rendered request, and the SCIM answer. Reads are answered from
    /// --object; secrets show as ***. Runs serve's own code on an in-memory store.
    ///
    /// Example: scimgate explain PATCH /Users/2819c223 --object alice.json
    ///   --body '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    ///            "Operations":[{"op":"replace","path":"active","value":false}]}'
    Explain {
        #[command(flatten)]
        file: ConfigFile,
        #[command(flatten)]
        args: ExplainArgs,
    },
    /// Manage tenants (SCIM configurations: each has its own SCIM URL and tokens and fronts a
    /// backend of the config) through a running gateway's admin API.
    #[command(alias = "tenant")]
    Tenants {
        #[command(flatten)]
        admin: AdminServer,
        #[command(subcommand)]
        action: TenantAction,
    },
    /// Manage identity links through a running gateway's admin API.
    #[command(alias = "link")]
    Links {
        #[command(flatten)]
        admin: AdminArgs,
        /// User or Group.
        #[arg(long = "type", default_value = "User")]
        resource_type: String,
        #[command(subcommand)]
        action: LinkAction,
    },
    /// How a tenant's platform differs from its identity links, through a running gateway's
    /// admin API: accounts no IdP manages, links whose account is gone or was replaced,
    /// attributes changed on the platform since the gateway wrote them, and group membership
    /// changed since. Reads only; links nothing.
    Drift {
        #[command(flatten)]
        admin: AdminArgs,
        /// User or Group (default: every type the mapping serves).
        #[arg(long = "type")]
        resource_type: Option<String>,
        /// The API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Manage SCIM bearer tokens through a running gateway's admin API.
    #[command(alias = "token")]
    Tokens {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Manage OAuth clients (client credentials, e.g. Entra ID's app gallery) through a
    /// running gateway's admin API; their token endpoint is <base>/oauth/<tenant>/token.
    #[command(name = "oauth-clients", alias = "oauth-client")]
    OAuthClients {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        action: ClientAction,
    },
    /// Read a tenant's request log through a running gateway's admin API: each SCIM request
    /// (oldest first) with the platform calls it made, the token it named (a refused one
    /// too), and with --bodies the bodies, secrets masked.
    Requests {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        filter: cli::requests::RequestFilter,
    },
    /// Read the audit log through a running gateway's admin API (newest first).
    Audit {
        #[command(flatten)]
        admin: AdminArgs,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        operation: Option<String>,
        #[arg(long)]
        target: Option<String>,
        /// success or failure.
        #[arg(long)]
        outcome: Option<String>,
        /// RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 1)]
        start_index: u64,
        #[arg(long, default_value_t = 100)]
        count: u64,
    },
    /// Serve SCIM in front of a built-in emulated platform (Coder, or GitLab with `--platform`),
    /// a second emulated Coder is the backend `second`, for a second tenant. Prints the SCIM
    /// base URL, the bearer token, the admin token and curl lines.
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Bearer token IdPs must send (at least 16 characters); random when not given.
        #[arg(long, env = "SCIMGATE_DEMO_TOKEN")]
        token: Option<String>,
        /// Directory for the SQLite store; a temporary one (removed at exit) when not given.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Bearer token of the admin API (at least 16 characters); random when not given.
        #[arg(long, env = "SCIMGATE_DEMO_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// The emulated platform the default tenant fronts, with its mapping from
        /// config/mappings/ (the second tenant's backend is always an emulated Coder).
        #[arg(long, value_enum, default_value_t = DemoPlatform::Coder)]
        platform: DemoPlatform,
    },
}

/// The platforms `scimgate demo` can emulate.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DemoPlatform {
    /// Coder (coderd API v2), with config/mappings/coder.toml.
    Coder,
    /// GitLab (REST API v4), with config/mappings/gitlab.toml.
    Gitlab,
}

/// The log on stderr: `SCIMGATE_LOG` filters it (`info` by default); `format` is the config's
/// `log.format`, or `SCIMGATE_LOG_FORMAT` (`human`, `json`) for the commands without a config.
/// `export` (serve's, with `[otlp]`) sends spans to a collector beside the log; its filter is
/// its own, so `SCIMGATE_LOG` does not change what is exported.
fn init_tracing(
    default_level: &str,
    format: Option<LogFormat>,
    export: Option<scimgate::telemetry::ExportLayer>,
) {
    let filter =
        EnvFilter::try_from_env("SCIMGATE_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let format = format.unwrap_or_else(|| match std::env::var("SCIMGATE_LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        _ => LogFormat::Human,
    });
    match export {
        // Each its own filter: SCIMGATE_LOG does not change what is exported.
        Some(export) => tracing_subscriber::registry()
            .with(vec![log_layer(format).with_filter(filter).boxed(), export])
            .init(),
        // The filter for the whole subscriber, as before there was an export: a span or event
        // it turns away is never made.
        None => tracing_subscriber::registry()
            .with(filter)
            .with(log_layer(format))
            .init(),
    }
}

/// The log's lines on stderr, in `format`.
fn log_layer<S>(format: LogFormat) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let log = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(std::io::stderr);
    match format {
        // One object per line, the span's fields (request id, caller) with each event.
        LogFormat::Json => log.json().with_current_span(true).boxed(),
        LogFormat::Human => log.with_ansi(std::io::stderr().is_terminal()).boxed(),
    }
}

/// mimalloc instead of glibc's allocator: a list page's profile spent about 40% of its CPU in
/// glibc malloc and free (see the Cargo.toml comment and the closing note of issue 10).
/// `--features system-allocator` keeps glibc's (to compare memory use; see scripts/soak).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // explain prints what the gateway would do; its log (the platform "failing" on a read it
    // has no answer for) is noise there unless asked for.
    match cli.command {
        // serve starts its log once its config says in which format.
        Command::Serve { .. } => {}
        Command::Explain { .. } => init_tracing("off", None, None),
        _ => init_tracing("info", None, None),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { file } => serve(file.config).await,
            Command::Check { file } => check(file.config),
            Command::Config {
                action: ConfigAction::Show { file, json },
            } => show_config(&file.config, json),
            Command::Probe { url, timeout } => probe(&url, timeout).await,
            Command::Links {
                admin,
                resource_type,
                action,
            } => links(&admin, &resource_type, action).await,
            Command::Tokens { admin, action } => tokens(&admin, action).await,
            Command::Drift {
                admin,
                resource_type,
                json,
            } => cli::drift::drift(&admin, resource_type, json).await,
            Command::OAuthClients { admin, action } => oauth_clients(&admin, action).await,
            Command::Tenants { admin, action } => tenants(&admin, action).await,
            Command::Requests { admin, filter } => cli::requests::requests(&admin, filter).await,
            Command::Audit {
                admin,
                actor,
                operation,
                target,
                outcome,
                since,
                until,
                start_index,
                count,
            } => {
                let mut query: Vec<(&str, String)> = vec![
                    ("startIndex", start_index.to_string()),
                    ("count", count.to_string()),
                ];
                for (name, value) in [
                    ("actor", actor),
                    ("operation", operation),
                    ("target", target),
                    ("outcome", outcome),
                    ("since", since),
                    ("until", until),
                ] {
                    if let Some(v) = value {
                        query.push((name, v));
                    }
                }
                let request = reqwest::Client::new()
                    .get(admin.url("/audit"))
                    .query(&query);
                send_admin(&admin.server, request).await
            }
            Command::Explain { file, args } => explain(file.config, args).await,
            Command::Demo {
                listen,
                token,
                data_dir,
                admin_token,
                platform,
            } => demo(listen, token, data_dir, admin_token, platform).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The config file a command reads (serve, check, explain, config show).
#[derive(clap::Args)]
struct ConfigFile {
    /// The gateway config file (see config/scimgate.toml).
    #[arg(
        short,
        long,
        env = "SCIMGATE_CONFIG",
        default_value = "config/scimgate.toml"
    )]
    config: PathBuf,
}

/// What `scimgate config` does.
#[derive(Subcommand)]
enum ConfigAction {
    /// Every option: key, value, default, environment variable, source.
    Show {
        #[command(flatten)]
        file: ConfigFile,
        /// JSON (a list of options) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn show_config(path: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let options = scimgate::config::show::options(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&options)?);
    } else {
        print!("{}", scimgate::config::show::table(&options));
    }
    Ok(ExitCode::SUCCESS)
}

async fn probe(url: &str, timeout: u64) -> anyhow::Result<ExitCode> {
    // The probe asks this container's own address: never through a proxy from the
    // environment, and a redirect is not an answer.
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let answer = client
        .get(url)
        .timeout(std::time::Duration::from_secs(timeout))
        .send()
        .await;
    Ok(match answer {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("{url}: {}", r.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{url}: {}", e.without_url());
            ExitCode::FAILURE
        }
    })
}

fn check(path: PathBuf) -> anyhow::Result<ExitCode> {
    let registry = registry()?;
    match Config::load(&path, &registry) {
        Ok(config) => {
            println!("{}: OK", path.display());
            for (name, backend) in &config.backends {
                println!(
                    "  backend {name}: platform {}, mapping {}, {}",
                    backend.mapping.platform.name,
                    backend.mapping.file.display(),
                    backend.config.base_url
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for p in &problems.0 {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s) found", problems.0.len());
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn serve(path: PathBuf) -> anyhow::Result<ExitCode> {
    let registry = registry()?;
    let config = match Config::load(&path, &registry) {
        Ok(c) => c,
        Err(problems) => {
            init_tracing("info", None, None);
            for p in &problems.0 {
                eprintln!("{p}");
            }
            anyhow::bail!(
                "{} configuration problem(s); not starting",
                problems.0.len()
            );
        }
    };
    let (exporter, export) = match &config.otlp {
        Some(otlp) => {
            let (exporter, layer) =
                scimgate::telemetry::Exporter::start(otlp, tokio::runtime::Handle::current())
                    .map_err(anyhow::Error::msg)?;
            (Some(exporter), Some(layer))
        }
        None => (None, None),
    };
    init_tracing("info", Some(config.log_format), export);
    if let Some(otlp) = &config.otlp {
        tracing::info!(url = %otlp.traces_url, "exporting traces (OTLP)");
    }
    let served = run(config, registry).await;
    // The spans of the last requests, sent before the process ends, however it ends.
    if let Some(exporter) = exporter {
        exporter.shutdown().await;
    }
    served
}

/// `serve` once its config is loaded and its log started.
async fn run(
    config: Config,
    registry: std::sync::Arc<scimgate::scim::schema::Registry>,
) -> anyhow::Result<ExitCode> {
    let listen = config.server.listen;
    let admin_listen = config.admin.listen;
    let management_listen = config.server.management_listen;
    let base_path = config.server.base_path.clone();
    let backends = config
        .backends
        .iter()
        .map(|(name, b)| format!("{name} ({})", b.mapping.platform.name))
        .collect::<Vec<_>>()
        .join(", ");
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    // The address bound, not the one asked for: port 0 picks a free port.
    let listen = listener.local_addr().unwrap_or(listen);
    let state = scimgate::app::build(config, registry).await?;
    tracing::info!(%listen, %base_path, %backends, "scimgate serving");
    // Every listener: SCIM (with the admin API unless it has its own address), the admin
    // API's own, the management address's (health, readiness, metrics).
    let mut listeners = vec![(
        "SCIM",
        listener,
        if admin_listen.is_some() {
            Surface::ScimOnly
        } else {
            Surface::ScimAndAdmin
        },
    )];
    for (which, addr, key, surface) in [
        ("admin", admin_listen, "admin.listen", Surface::AdminOnly),
        (
            "management",
            management_listen,
            "server.management_listen",
            Surface::Management,
        ),
    ] {
        if let Some(addr) = addr {
            let bound = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} ({key})"))?;
            let addr = bound.local_addr().unwrap_or(addr);
            tracing::info!(%addr, "{which} address serving");
            listeners.push((which, bound, surface));
        }
    }
    // One shutdown signal stops every listener; each finishes its requests in flight.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    let mut names = Vec::new();
    for (which, bound, surface) in listeners {
        let mut stopped = stopped.clone();
        names.push(which);
        servers.push(tokio::spawn(scimgate::app::serve(
            bound,
            state.clone(),
            surface,
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        )));
    }
    drop(state);
    // A server ending on its own (an accept loop failing) ends the process too.
    let early = tokio::select! {
        () = shutdown_signal() => None,
        (result, index, _) = futures_util::future::select_all(servers.iter_mut()) => {
            Some((names.get(index).copied().unwrap_or("a"), result))
        }
    };
    let _ = stop.send(true);
    if let Some((which, result)) = early {
        anyhow::bail!("the {which} listener stopped: {result:?}");
    }
    for server in servers {
        server.await??;
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn demo(
    listen: SocketAddr,
    token: Option<String>,
    data_dir: Option<PathBuf>,
    admin_token: Option<String>,
    platform: DemoPlatform,
) -> anyhow::Result<ExitCode> {
    if let Some(t) = &token {
        anyhow::ensure!(t.len() >= 16, "--token must be at least 16 characters");
    }
    if let Some(t) = &admin_token {
        anyhow::ensure!(
            t.len() >= 16,
            "--admin-token must be at least 16 characters"
        );
    }
    let demo = scimgate::demo::start(scimgate::demo::DemoOptions {
        listen,
        token,
        data_dir,
        admin_token,
        // A second platform, for a second tenant (a backend fronts one tenant).
        extra_backends: vec!["second".to_owned()],
        gitlab: platform == DemoPlatform::Gitlab,
        ..Default::default()
    })
    .await?;
    match &demo.gitlab {
        Some((_, url, token)) => {
            println!("scimgate demo: SCIM in front of an emulated GitLab");
            println!();
            println!("  SCIM base URL : {}", demo.scim_url);
            println!("  Bearer token  : {}", demo.token);
            println!("  GitLab (emulated) : {url} (PRIVATE-TOKEN: {token}, user root)");
        }
        None => {
            println!("scimgate demo: SCIM in front of an emulated Coder");
            println!();
            println!("  SCIM base URL : {}", demo.scim_url);
            println!("  Bearer token  : {}", demo.token);
            println!(
                "  Coder (emulated) : {} (Coder-Session-Token: {})",
                demo.emulator_url, demo.emulator_token
            );
        }
    }
    println!("  Identity store: {}", demo.store_path.display());
    println!(
        "  Admin API     : {}/admin/v1 (Bearer {})",
        demo.admin_url, demo.admin_token
    );
    println!();
    println!("Try:");
    println!(
        "  curl -s -H 'Authorization: Bearer {}' -H 'Content-Type: application/scim+json' \\\n    -d '{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"alice@example.com\",\"name\":{{\"givenName\":\"Alice\",\"familyName\":\"Liddell\"}},\"emails\":[{{\"value\":\"alice@example.com\",\"type\":\"work\",\"primary\":true}}]}}' \\\n    {}/Users",
        demo.token, demo.scim_url
    );
    println!(
        "  curl -s -H 'Authorization: Bearer {}' '{}/Users?filter=userName%20eq%20%22alice@example.com%22'",
        demo.token, demo.scim_url
    );
    println!();
    println!("A second tenant, in front of a second emulated Coder (backend `second`):");
    println!(
        "  export SCIMGATE_ADMIN_URL={} SCIMGATE_ADMIN_TOKEN={}",
        demo.admin_url, demo.admin_token
    );
    println!("  scimgate tenants create acme --backend second");
    println!("  scimgate tokens --tenant acme create --name okta   # prints its token once");
    println!("  (its SCIM base URL: {}/acme)", demo.scim_url);
    println!();
    println!(
        "SCIM 1.1 (OneLogin): {} with the same token.",
        demo.scim_url.replace("/scim/v2", "/scim/v1")
    );
    println!(
        "OAuth client credentials (Entra's gallery): `scimgate oauth-clients create --name entra`, \
         then POST {}/oauth/default/token",
        demo.admin_url
    );
    println!();
    println!("Press Ctrl-C to stop.");
    shutdown_signal().await;
    demo.stop().await;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
