//! `scimgate oauth-clients`: a tenant's OAuth clients through the admin API (the client
//! credentials grant IdPs such as Entra ID's app gallery use instead of a long-lived token).

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{json, Map, Value};

use super::admin::{send_admin, AdminArgs};

/// How a client may prove itself with JWTs (RFC 7523) instead of, or beside, a secret.
#[derive(clap::Args, Debug, Clone)]
pub struct JwtArgs {
    /// The JWK Set URL of the keys that sign the client's assertions (https, or http to this
    /// machine).
    #[arg(long)]
    jwks_url: Option<String>,
    /// The assertions' `iss` (default: the client id).
    #[arg(long, requires = "jwks_url")]
    jwt_issuer: Option<String>,
    /// The assertions' `sub` (default: the client id).
    #[arg(long, requires = "jwks_url")]
    jwt_subject: Option<String>,
    /// The assertions' `aud` (default: the token endpoint's URL or the issuer's).
    #[arg(long, requires = "jwks_url")]
    jwt_audience: Option<String>,
}

impl JwtArgs {
    fn json(&self) -> Option<Value> {
        self.jwks_url.as_ref().map(|url| {
            json!({
                "jwksUrl": url,
                "issuer": self.jwt_issuer,
                "subject": self.jwt_subject,
                "audience": self.jwt_audience,
            })
        })
    }
}

#[derive(Subcommand)]
pub enum ClientAction {
    /// Make a client; prints its id and first secret (the secret once).
    Create {
        /// The client's name (in the audit log and on its access tokens).
        #[arg(long)]
        name: String,
        /// Access token lifetime, 5 to 1440 minutes (default 60).
        #[arg(long)]
        access_token_minutes: Option<u32>,
        /// The first secret's expiry, RFC 3339 (default: the tenant's longest, else a year).
        #[arg(long)]
        secret_expires_at: Option<String>,
        /// Make no secret (the client proves itself with JWTs only).
        #[arg(long, requires = "jwks_url")]
        no_secret: bool,
        #[command(flatten)]
        jwt: JwtArgs,
    },
    /// Every client, with its secrets (never their values).
    List,
    /// One client.
    Get { id: String },
    /// Rename it, change its access token lifetime or its JWT trust.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        access_token_minutes: Option<u32>,
        #[command(flatten)]
        jwt: JwtArgs,
        /// Stop accepting JWTs.
        #[arg(long, conflicts_with = "jwks_url")]
        no_jwt: bool,
    },
    /// Another secret (the others stay live until they expire or are revoked); printed once.
    AddSecret {
        id: String,
        /// RFC 3339 (default: the tenant's longest, else a year).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// Refuse one secret from now on.
    RevokeSecret { id: String, secret_id: String },
    /// Refuse the client, its secrets and its access tokens from now on, for good.
    Revoke { id: String },
}

/// Calls the admin API and prints its JSON answer; a non-2xx answer is an error.
pub async fn oauth_clients(admin: &AdminArgs, action: ClientAction) -> anyhow::Result<ExitCode> {
    let base = admin.url("/oauth/clients");
    let http = reqwest::Client::new();
    let request = match action {
        ClientAction::Create {
            name,
            access_token_minutes,
            secret_expires_at,
            no_secret,
            jwt,
        } => {
            let mut body = Map::new();
            body.insert("name".to_owned(), Value::String(name));
            body.insert("secret".to_owned(), Value::Bool(!no_secret));
            if let Some(minutes) = access_token_minutes {
                body.insert("accessTokenMinutes".to_owned(), json!(minutes));
            }
            if let Some(at) = secret_expires_at {
                body.insert("secretExpiresAt".to_owned(), Value::String(at));
            }
            if let Some(jwt) = jwt.json() {
                body.insert("jwt".to_owned(), jwt);
            }
            http.post(&base).json(&body)
        }
        ClientAction::List => http.get(&base),
        ClientAction::Get { id } => http.get(format!("{base}/{id}")),
        ClientAction::Update {
            id,
            name,
            access_token_minutes,
            jwt,
            no_jwt,
        } => {
            let mut body = Map::new();
            if let Some(name) = name {
                body.insert("name".to_owned(), Value::String(name));
            }
            if let Some(minutes) = access_token_minutes {
                body.insert("accessTokenMinutes".to_owned(), json!(minutes));
            }
            if let Some(jwt) = jwt.json() {
                body.insert("jwt".to_owned(), jwt);
            } else if no_jwt {
                body.insert("jwt".to_owned(), Value::Null);
            }
            http.patch(format!("{base}/{id}")).json(&body)
        }
        ClientAction::AddSecret { id, expires_at } => http
            .post(format!("{base}/{id}/secrets"))
            .json(&json!({ "expiresAt": expires_at })),
        ClientAction::RevokeSecret { id, secret_id } => {
            http.post(format!("{base}/{id}/secrets/{secret_id}/revoke"))
        }
        ClientAction::Revoke { id } => http.post(format!("{base}/{id}/revoke")),
    };
    send_admin(&admin.server, request).await
}
