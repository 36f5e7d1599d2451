//! The `scimgate` command line: serve, check and demo, and the admin API's clients (tenants,
//! tokens, links, audit).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use scimgate::config::Config;
use scimgate::scim::schema::Registry;

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
        /// The gateway config file (see config/scimgate.toml).
        #[arg(
            short,
            long,
            env = "SCIMGATE_CONFIG",
            default_value = "config/scimgate.toml"
        )]
        config: PathBuf,
    },
    /// Validate a config file and its mapping; prints every problem with file and key, and
    /// exits non-zero when there is one.
    Check {
        #[arg(
            short,
            long,
            env = "SCIMGATE_CONFIG",
            default_value = "config/scimgate.toml"
        )]
        config: PathBuf,
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
        #[arg(
            short,
            long,
            env = "SCIMGATE_CONFIG",
            default_value = "config/scimgate.toml"
        )]
        config: PathBuf,
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
    /// Manage SCIM bearer tokens through a running gateway's admin API.
    #[command(alias = "token")]
    Tokens {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        action: TokenAction,
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

/// Where the admin API is and how to get in.
#[derive(clap::Args)]
struct AdminServer {
    /// The gateway's base URL (scheme, host, port), or the admin API's own address.
    #[arg(
        long,
        env = "SCIMGATE_ADMIN_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    admin_url: String,
    /// An admin token (admin.tokens).
    #[arg(long, env = "SCIMGATE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
}

impl AdminServer {
    fn url(&self, path: &str) -> String {
        format!("{}/admin/v1{path}", self.admin_url.trim_end_matches('/'))
    }
}

/// The admin API and the tenant a command is about.
#[derive(clap::Args)]
struct AdminArgs {
    #[command(flatten)]
    server: AdminServer,
    /// The tenant (`default` answers at the bare SCIM base path).
    #[arg(long, env = "SCIMGATE_TENANT", default_value = "default")]
    tenant: String,
}

impl AdminArgs {
    fn url(&self, path: &str) -> String {
        self.server.url(&format!("/tenants/{}{path}", self.tenant))
    }
}

#[derive(Subcommand)]
enum TenantAction {
    /// Every tenant.
    List,
    /// One tenant.
    Get { id: String },
    /// Make a tenant; its SCIM base URL is <base>/scim/v2/<id>.
    Create {
        /// The URL segment: lower-case letters, digits and `-`.
        id: String,
        /// A display name (default: the id).
        #[arg(long)]
        name: Option<String>,
        /// A backend of the config (`default` is [backend]); needed when there are several.
        #[arg(long)]
        backend: Option<String>,
        /// Make it disabled (it answers every SCIM request with 403 until enabled).
        #[arg(long)]
        disabled: bool,
        /// The longest a token of this tenant may live, in days.
        #[arg(long)]
        max_token_lifetime_days: Option<u32>,
    },
    /// Change a tenant.
    Update {
        id: String,
        /// A new display name.
        #[arg(long)]
        name: Option<String>,
        /// Only while the tenant has no identity links.
        #[arg(long)]
        backend: Option<String>,
        /// Serve SCIM again.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Answer every SCIM request with 403 (tokens and links stay).
        #[arg(long)]
        disable: bool,
        /// Shortens the tenant's tokens that would outlive it.
        #[arg(long, conflicts_with = "no_token_lifetime_limit")]
        max_token_lifetime_days: Option<u32>,
        /// Remove the token lifetime limit.
        #[arg(long)]
        no_token_lifetime_limit: bool,
    },
    /// Delete a tenant and its tokens (refused while it has identity links).
    Delete { id: String },
    /// What to paste into Okta or Entra ID: the SCIM base URL and how to authenticate.
    Endpoint { id: String },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token; prints its secret once.
    Create {
        #[arg(long)]
        name: String,
        /// RFC 3339 time after which it is refused.
        #[arg(long)]
        expires_at: Option<String>,
    },
    List,
    Get {
        id: String,
    },
    /// Rename it or change its expiry.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "no_expiry")]
        expires_at: Option<String>,
        /// Remove the expiry.
        #[arg(long)]
        no_expiry: bool,
    },
    /// Refuse it from now on.
    Revoke {
        id: String,
    },
    /// A new secret; the old one is refused from now on.
    Regenerate {
        id: String,
    },
}

#[derive(Subcommand)]
enum LinkAction {
    /// One page of links.
    List {
        #[arg(long, default_value_t = 1)]
        start_index: u64,
        #[arg(long, default_value_t = 100)]
        count: u64,
    },
    /// One link by SCIM id.
    Get { id: String },
    /// The links answering to an externalId.
    Find {
        #[arg(long)]
        external_id: String,
    },
    /// Re-link: set the externalId a link answers to.
    Relink {
        id: String,
        #[arg(long, required_unless_present = "clear")]
        external_id: Option<String>,
        /// Remove the externalId instead.
        #[arg(long, conflicts_with = "external_id")]
        clear: bool,
    },
    /// Delete a link (the platform account stays).
    Delete { id: String },
}

fn init_tracing(default_level: &str) {
    let filter =
        EnvFilter::try_from_env("SCIMGATE_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // explain prints what the gateway would do; its log (the platform "failing" on a read it
    // has no answer for) is noise there unless asked for.
    init_tracing(match cli.command {
        Command::Explain { .. } => "off",
        _ => "info",
    });
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
            Command::Serve { config } => serve(config).await,
            Command::Check { config } => check(config),
            Command::Links {
                admin,
                resource_type,
                action,
            } => links(&admin, &resource_type, action).await,
            Command::Tokens { admin, action } => tokens(&admin, action).await,
            Command::Tenants { admin, action } => tenants(&admin, action).await,
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
            Command::Explain { config, args } => explain(config, args).await,
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

/// Calls the admin API and prints its JSON answer; a non-2xx answer is an error.
async fn links(
    admin: &AdminArgs,
    resource_type: &str,
    action: LinkAction,
) -> anyhow::Result<ExitCode> {
    let base = admin.url("/links");
    let http = reqwest::Client::new();
    let typed = [("type", resource_type.to_owned())];
    let request = match action {
        LinkAction::List { start_index, count } => http.get(&base).query(&typed).query(&[
            ("startIndex", start_index.to_string()),
            ("count", count.to_string()),
        ]),
        LinkAction::Get { id } => http.get(format!("{base}/{id}")).query(&typed),
        LinkAction::Find { external_id } => http
            .get(&base)
            .query(&typed)
            .query(&[("externalId", external_id)]),
        LinkAction::Relink {
            id, external_id, ..
        } => http
            .patch(format!("{base}/{id}"))
            .query(&typed)
            .json(&serde_json::json!({ "externalId": external_id })),
        LinkAction::Delete { id } => http.delete(format!("{base}/{id}")).query(&typed),
    };
    send_admin(&admin.server, request).await
}

async fn tokens(admin: &AdminArgs, action: TokenAction) -> anyhow::Result<ExitCode> {
    let base = admin.url("/tokens");
    let http = reqwest::Client::new();
    let request = match action {
        TokenAction::Create { name, expires_at } => http
            .post(&base)
            .json(&serde_json::json!({ "name": name, "expiresAt": expires_at })),
        TokenAction::List => http.get(&base),
        TokenAction::Get { id } => http.get(format!("{base}/{id}")),
        TokenAction::Update {
            id,
            name,
            expires_at,
            no_expiry,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(name) = name {
                body.insert("name".to_owned(), serde_json::Value::String(name));
            }
            if let Some(t) = expires_at {
                body.insert("expiresAt".to_owned(), serde_json::Value::String(t));
            } else if no_expiry {
                body.insert("expiresAt".to_owned(), serde_json::Value::Null);
            }
            http.patch(format!("{base}/{id}")).json(&body)
        }
        TokenAction::Revoke { id } => http.post(format!("{base}/{id}/revoke")),
        TokenAction::Regenerate { id } => http.post(format!("{base}/{id}/regenerate")),
    };
    send_admin(&admin.server, request).await
}

async fn tenants(admin: &AdminServer, action: TenantAction) -> anyhow::Result<ExitCode> {
    use serde_json::{json, Map, Value};
    let base = admin.url("/tenants");
    let http = reqwest::Client::new();
    let request = match action {
        TenantAction::List => http.get(&base),
        TenantAction::Get { id } => http.get(format!("{base}/{id}")),
        TenantAction::Endpoint { id } => http.get(format!("{base}/{id}/endpoint")),
        TenantAction::Delete { id } => http.delete(format!("{base}/{id}")),
        TenantAction::Create {
            id,
            name,
            backend,
            disabled,
            max_token_lifetime_days,
        } => {
            let mut body = json!({"id": id, "enabled": !disabled});
            if let Some(map) = body.as_object_mut() {
                if let Some(name) = name {
                    map.insert("name".to_owned(), Value::String(name));
                }
                if let Some(backend) = backend {
                    map.insert("backend".to_owned(), Value::String(backend));
                }
                if let Some(days) = max_token_lifetime_days {
                    map.insert("tokenPolicy".to_owned(), json!({"maxLifetimeDays": days}));
                }
            }
            http.post(&base).json(&body)
        }
        TenantAction::Update {
            id,
            name,
            backend,
            enable,
            disable,
            max_token_lifetime_days,
            no_token_lifetime_limit,
        } => {
            let mut body = Map::new();
            if let Some(name) = name {
                body.insert("name".to_owned(), Value::String(name));
            }
            if let Some(backend) = backend {
                body.insert("backend".to_owned(), Value::String(backend));
            }
            if enable || disable {
                body.insert("enabled".to_owned(), Value::Bool(enable));
            }
            if let Some(days) = max_token_lifetime_days {
                body.insert("tokenPolicy".to_owned(), json!({"maxLifetimeDays": days}));
            } else if no_token_lifetime_limit {
                body.insert("tokenPolicy".to_owned(), json!({"maxLifetimeDays": null}));
            }
            http.patch(format!("{base}/{id}")).json(&body)
        }
    };
    send_admin(admin, request).await
}

/// Sends an admin API request and prints its JSON answer; a non-2xx answer is an error.
async fn send_admin(
    admin: &AdminServer,
    request: reqwest::RequestBuilder,
) -> anyhow::Result<ExitCode> {
    let response = request
        .bearer_auth(&admin.admin_token)
        .send()
        .await
        .with_context(|| format!("cannot reach the admin API at {}", admin.admin_url))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !text.is_empty() {
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or(text)),
            Err(_) => println!("{text}"),
        }
    }
    if status.is_success() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("admin API answered {status}");
        Ok(ExitCode::FAILURE)
    }
}

fn registry() -> anyhow::Result<Arc<Registry>> {
    Ok(Arc::new(Registry::standard().map_err(|e| {
        anyhow::anyhow!("built-in SCIM schemas: {e:?}")
    })?))
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

/// `scimgate explain`'s arguments besides the config file.
#[derive(clap::Args)]
struct ExplainArgs {
    /// The tenant whose backend answers (another than `default` is looked up in the
    /// config's store).
    #[arg(long, default_value = "default")]
    tenant: String,
    /// The platform's answer to reading the object the request is about (a JSON file, as
    /// the platform's own get call returns it; `-` for stdin).
    #[arg(long, value_name = "FILE")]
    object: Option<PathBuf>,
    /// Another read explain may answer: a platform path (no query) and the JSON file it
    /// answers with (a group's member list, say; repeatable).
    #[arg(long = "read", value_name = "PATH=FILE")]
    reads: Vec<String>,
    /// A group member's platform user key, for member ids in the request (repeatable).
    #[arg(long = "member", value_name = "SCIM_ID=KEY")]
    members: Vec<String>,
    /// Take the resource's identity link (what the IdP last wrote) from the config's store
    /// instead of making it up from --object.
    #[arg(long)]
    link_from_store: bool,
    /// The request body: inline JSON, a JSON file, or `-` for stdin.
    #[arg(long, value_name = "JSON|FILE")]
    body: Option<String>,
    /// GET, POST, PUT, PATCH or DELETE.
    method: String,
    /// The path under the tenant's SCIM base URL, with any query: /Users/<id>,
    /// '/Users?filter=userName eq "bob"'.
    path: String,
}

/// JSON from a file, or stdin for `-`.
fn read_json_file(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let text = if path == std::path::Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

async fn explain(config: PathBuf, args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let method: http::Method = args
        .method
        .to_ascii_uppercase()
        .parse()
        .with_context(|| format!("`{}` is not an HTTP method", args.method))?;
    anyhow::ensure!(
        args.path.starts_with('/'),
        "the path starts with / (/Users/<id>), under the SCIM base URL"
    );
    let body = match args.body.as_deref() {
        None => None,
        Some(text) if text.trim_start().starts_with(['{', '[']) => {
            Some(serde_json::from_str(text).context("--body is not JSON")?)
        }
        Some(file) => Some(read_json_file(std::path::Path::new(file))?),
    };
    let object = args.object.as_deref().map(read_json_file).transpose()?;
    let members = args
        .members
        .iter()
        .map(|m| {
            m.split_once('=')
                .map(|(id, key)| (id.to_owned(), key.to_owned()))
                .with_context(|| format!("--member {m}: give SCIM_ID=KEY"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let reads = args
        .reads
        .iter()
        .map(|r| {
            let (path, file) = r
                .split_once('=')
                .with_context(|| format!("--read {r}: give PATH=FILE"))?;
            Ok((path.to_owned(), read_json_file(std::path::Path::new(file))?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let request = scimgate::explain::ExplainRequest {
        method,
        path: args.path,
        body,
        tenant: args.tenant,
        object,
        reads,
        members,
        link_from_store: args.link_from_store,
    };
    match scimgate::explain::explain(&config, registry()?, request).await {
        Ok(explanation) => {
            use std::io::Write;
            // A reader that stops early (`| head`) is no error.
            let _ = write!(std::io::stdout().lock(), "{explanation}");
            Ok(ExitCode::SUCCESS)
        }
        Err(scimgate::explain::ExplainError::Config(problems)) => {
            for p in &problems.0 {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s) found", problems.0.len());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

async fn serve(path: PathBuf) -> anyhow::Result<ExitCode> {
    let registry = registry()?;
    let config = match Config::load(&path, &registry) {
        Ok(c) => c,
        Err(problems) => {
            for p in &problems.0 {
                eprintln!("{p}");
            }
            anyhow::bail!(
                "{} configuration problem(s); not starting",
                problems.0.len()
            );
        }
    };
    let listen = config.server.listen;
    let admin_listen = config.admin.listen;
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
    match admin_listen {
        None => scimgate::app::run(listener, state, shutdown_signal()).await?,
        Some(admin_addr) => {
            let admin_listener = tokio::net::TcpListener::bind(admin_addr)
                .await
                .with_context(|| format!("cannot listen on {admin_addr} (admin.listen)"))?;
            tracing::info!(%admin_addr, "admin API serving on its own address");
            // One shutdown signal stops both listeners.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            let scim = tokio::spawn(scimgate::app::serve(
                listener,
                state.clone(),
                scimgate::http::Surface::ScimOnly,
                wait(stopped.clone()),
            ));
            let admin = tokio::spawn(scimgate::app::serve(
                admin_listener,
                state,
                scimgate::http::Surface::AdminOnly,
                wait(stopped),
            ));
            let (mut scim, mut admin) = (scim, admin);
            // Either server ending on its own (an accept loop failing) ends the process too.
            let early = tokio::select! {
                () = shutdown_signal() => None,
                r = &mut scim => Some(("SCIM", r)),
                r = &mut admin => Some(("admin", r)),
            };
            let _ = stop.send(true);
            if let Some((which, result)) = early {
                anyhow::bail!("the {which} listener stopped: {result:?}");
            }
            scim.await??;
            admin.await??;
        }
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
