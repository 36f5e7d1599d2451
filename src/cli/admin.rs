//! The admin API's clients on the command line (`scimgate tenants|tokens|links|audit`): their
//! arguments, and the calls that print the API's JSON answers.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

/// Where the admin API is and how to get in.
#[derive(clap::Args)]
pub struct AdminServer {
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

    /// `request` with the admin token.
    pub fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(&self.admin_token)
    }

    /// Sends `request` with the admin token: the status and the JSON answered (`Null` when
    /// the body is not JSON).
    pub async fn answer(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<(reqwest::StatusCode, serde_json::Value)> {
        let response = self
            .authorized(request)
            .send()
            .await
            .context("cannot reach the admin API")?;
        let status = response.status();
        Ok((
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        ))
    }
}

/// The admin API and the tenant a command is about.
#[derive(clap::Args)]
pub struct AdminArgs {
    /// Where the admin API is.
    #[command(flatten)]
    pub server: AdminServer,
    /// The tenant (`default` answers at the bare SCIM base path).
    #[arg(long, env = "SCIMGATE_TENANT", default_value = "default")]
    tenant: String,
}

impl AdminArgs {
    /// The admin API URL of `path` under the tenant.
    pub fn url(&self, path: &str) -> String {
        self.server.url(&format!("/tenants/{}{path}", self.tenant))
    }
}

#[derive(Subcommand)]
pub enum TenantAction {
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
        /// `strict` (RFC 7644 to the letter) or `lenient` (also the IdP dialects the README
        /// lists; the default).
        #[arg(long, value_parser = ["strict", "lenient"])]
        dialect: Option<String>,
        /// Accept `Authorization: <token>` without `Bearer` (Okta's "HTTP Header" mode).
        #[arg(long)]
        bare_token: bool,
        /// What a DELETE of a user does to the platform account: delete (the default),
        /// suspend (deactivate and keep it) or unlink (leave it as it is).
        #[arg(long, value_parser = ["delete", "suspend", "unlink"])]
        deprovision: Option<String>,
        /// A POST of a deactivated user's userName reactivates and updates that user instead
        /// of answering 409.
        #[arg(long)]
        reactivate: bool,
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
        /// `strict` (RFC 7644 to the letter) or `lenient` (also the IdP dialects).
        #[arg(long, value_parser = ["strict", "lenient"])]
        dialect: Option<String>,
        /// Accept `Authorization: <token>` without `Bearer` (Okta's "HTTP Header" mode).
        #[arg(long, conflicts_with = "bearer_only")]
        bare_token: bool,
        /// Accept tokens only as `Authorization: Bearer <token>`.
        #[arg(long)]
        bearer_only: bool,
        /// What a DELETE of a user does to the platform account: delete, suspend or unlink.
        #[arg(long, value_parser = ["delete", "suspend", "unlink"])]
        deprovision: Option<String>,
        /// Reactivate deactivated users on POST instead of answering 409.
        #[arg(long, conflicts_with = "no_reactivate")]
        reactivate: bool,
        /// Answer a POST of a deactivated user's userName with 409.
        #[arg(long)]
        no_reactivate: bool,
        /// A JSON file of the extension schemas the tenant declares:
        /// [{"resourceType": "User", "schema": <RFC 7643 schema>}, ...] (replaces the list).
        #[arg(long, conflicts_with = "no_extensions")]
        extensions: Option<std::path::PathBuf>,
        /// Declare no extension schemas.
        #[arg(long)]
        no_extensions: bool,
    },
    /// Delete a tenant and its tokens (refused while it has identity links).
    Delete { id: String },
    /// What to paste into Okta or Entra ID: the SCIM base URL and how to authenticate.
    Endpoint { id: String },
}

#[derive(Subcommand)]
pub enum TokenAction {
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
pub enum LinkAction {
    /// Link accounts the platform had before SCIM to the IdP's identities, matched by email
    /// or userName (from the IdP's CSV export with --csv; without it, every platform account
    /// not yet linked gets a SCIM id). Prints matched, ambiguous and unmatched; running it
    /// again links nothing twice, so an interrupted import is run again as it was.
    Import {
        /// The IdP's export: a header row with userName (or login, userPrincipalName), email
        /// (or mail) and externalId (or id, objectId) columns.
        #[arg(long)]
        csv: Option<std::path::PathBuf>,
        /// What identities are matched on: email or userName.
        #[arg(long = "match", default_value = "email", value_parser = ["email", "userName"])]
        match_by: String,
        /// Link nothing; say what would be linked.
        #[arg(long)]
        dry_run: bool,
        /// Identities per request (at most 1000).
        #[arg(long, default_value_t = 200)]
        batch: usize,
    },
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

/// Calls the admin API and prints its JSON answer; a non-2xx answer is an error.
pub async fn links(
    admin: &AdminArgs,
    resource_type: &str,
    action: LinkAction,
) -> anyhow::Result<ExitCode> {
    let base = admin.url("/links");
    let http = reqwest::Client::new();
    let typed = [("type", resource_type.to_owned())];
    let request = match action {
        LinkAction::Import {
            csv,
            match_by,
            dry_run,
            batch,
        } => {
            return super::import::import(
                admin,
                super::import::ImportArgs {
                    csv,
                    match_by,
                    dry_run,
                    batch,
                },
            )
            .await
        }
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

pub async fn tokens(admin: &AdminArgs, action: TokenAction) -> anyhow::Result<ExitCode> {
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

pub async fn tenants(admin: &AdminServer, action: TenantAction) -> anyhow::Result<ExitCode> {
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
            dialect,
            bare_token,
            deprovision,
            reactivate,
        } => {
            let mut body = json!({"id": id, "enabled": !disabled, "bareToken": bare_token, "reactivate": reactivate});
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
                if let Some(dialect) = dialect {
                    map.insert("dialect".to_owned(), Value::String(dialect));
                }
                if let Some(deprovision) = deprovision {
                    map.insert("deprovision".to_owned(), Value::String(deprovision));
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
            dialect,
            bare_token,
            bearer_only,
            deprovision,
            reactivate,
            no_reactivate,
            extensions,
            no_extensions,
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
            if let Some(dialect) = dialect {
                body.insert("dialect".to_owned(), Value::String(dialect));
            }
            if bare_token || bearer_only {
                body.insert("bareToken".to_owned(), Value::Bool(bare_token));
            }
            if let Some(deprovision) = deprovision {
                body.insert("deprovision".to_owned(), Value::String(deprovision));
            }
            if reactivate || no_reactivate {
                body.insert("reactivate".to_owned(), Value::Bool(reactivate));
            }
            if let Some(file) = extensions {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let declared: Value = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", file.display()))?;
                body.insert("extensions".to_owned(), declared);
            } else if no_extensions {
                body.insert("extensions".to_owned(), Value::Null);
            }
            http.patch(format!("{base}/{id}")).json(&body)
        }
    };
    send_admin(admin, request).await
}

/// Sends an admin API request and prints its JSON answer; a non-2xx answer is an error.
pub async fn send_admin(
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
