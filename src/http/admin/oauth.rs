//! `/admin/v1/tenants/{tenant}/oauth/clients[...]`: a tenant's OAuth clients: list, read,
//! make (the first secret in that answer only), change, revoke (with its secrets and access
//! tokens); and each client's secrets: another (shown once), one revoked.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use super::{answer, bad_request, error, known_keys, read_body, rfc3339, Ctx};
use crate::admin::{ClientChange, ClientView, NewClient};
use crate::audit::Operation;
use crate::http::error::ErrorAnswer;
use crate::http::response::HttpResponse;
use crate::oauth::Endpoints;
use crate::store::{JwtTrust, TokenRecord};

pub(super) async fn route<B>(
    ctx: &Ctx<'_>,
    tenant: &str,
    rest: &[&str],
    method: Method,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let admin = &ctx.state.admin;
    // The latest record: the token policy bounds secrets and may have just changed.
    let tenant = match admin.fresh_tenant(tenant).await {
        Ok(record) => record,
        Err(e) => return ErrorAnswer::from_admin(&e).admin_response(),
    };
    let endpoints = Endpoints::new(&ctx.origin, &tenant.id);
    let now = ctx.state.tenants.clock().now();
    let as_json =
        |view: &ClientView, secret: Option<String>| client_json(view, secret, &endpoints, now);
    let audited = |operation,
                   target: String,
                   result: Result<(ClientView, Option<String>), ErrorAnswer>,
                   status: StatusCode| {
        let tenant = tenant.id.clone();
        async move {
            let target = match &result {
                Ok((view, _)) => view.client.id.clone(),
                Err(_) => target,
            };
            let success = (status, String::new());
            ctx.audit(&tenant, operation, "OAuthClient", &target, &result, success)
                .await;
            answer(result.map(|(view, secret)| as_json(&view, secret)), status)
        }
    };
    let admin_error = |e| ErrorAnswer::from_admin(&e);
    match (rest, method) {
        ([], Method::GET) => answer(
            admin
                .clients(&tenant.id)
                .await
                .map(|list| {
                    json!({"clients": list.iter().map(|v| as_json(v, None)).collect::<Vec<_>>()})
                })
                .map_err(admin_error),
            StatusCode::OK,
        ),
        ([], Method::POST) => {
            let new = match read_body(request)
                .await
                .and_then(|b| new_client(&b))
                .and_then(|new| audience_known(ctx, new.jwt.as_ref()).map(|()| new))
            {
                Ok(new) => new,
                Err(e) => return e.admin_response(),
            };
            let target = new.name.chars().take(200).collect();
            let made = admin
                .create_client(&tenant, new)
                .await
                .map_err(admin_error);
            audited(Operation::ClientCreate, target, made, StatusCode::CREATED).await
        }
        ([id], Method::GET) => answer(
            admin
                .client(&tenant.id, id)
                .await
                .map(|view| as_json(&view, None))
                .map_err(admin_error),
            StatusCode::OK,
        ),
        ([id], Method::PATCH) => {
            let change = match read_body(request)
                .await
                .and_then(|b| client_change(&b))
                .and_then(|change| {
                    audience_known(ctx, change.jwt.as_ref().and_then(Option::as_ref))
                        .map(|()| change)
                }) {
                Ok(change) => change,
                Err(e) => return e.admin_response(),
            };
            let changed = admin
                .change_client(&tenant.id, id, change)
                .await
                .map(|view| (view, None))
                .map_err(admin_error);
            audited(Operation::ClientUpdate, (*id).to_owned(), changed, StatusCode::OK).await
        }
        ([id, "revoke"], Method::POST) => {
            let revoked = admin
                .revoke_client(&tenant.id, id)
                .await
                .map(|view| (view, None))
                .map_err(admin_error);
            audited(Operation::ClientRevoke, (*id).to_owned(), revoked, StatusCode::OK).await
        }
        ([id, "secrets"], Method::POST) => {
            let expires_at = match read_body(request).await.and_then(|b| secret_expiry(&b)) {
                Ok(expires_at) => expires_at,
                Err(e) => return e.admin_response(),
            };
            let added = admin
                .add_client_secret(&tenant, id, expires_at)
                .await
                .map(|(view, secret)| (view, Some(secret)))
                .map_err(admin_error);
            audited(Operation::ClientSecretCreate, (*id).to_owned(), added, StatusCode::CREATED)
                .await
        }
        ([id, "secrets", secret, "revoke"], Method::POST) => {
            let revoked = admin
                .revoke_client_secret(&tenant.id, id, secret)
                .await
                .map(|view| (view, None))
                .map_err(admin_error);
            audited(Operation::ClientSecretRevoke, (*id).to_owned(), revoked, StatusCode::OK)
                .await
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "no such OAuth client endpoint (or method)",
        ),
    }
}

/// A JWT client's audience is the token endpoint's URL; the gateway knows it only from
/// `server.public_url`, else the `jwt.audience` must say it (the request's `Host`, which the
/// caller chooses, never decides what an assertion must be for).
fn audience_known(ctx: &Ctx<'_>, jwt: Option<&JwtTrust>) -> Result<(), ErrorAnswer> {
    match jwt {
        Some(trust) if trust.audience.is_none() && ctx.state.public_url.is_none() => Err(
            bad_request(
                "jwt.audience is required when server.public_url is not set: give the token endpoint's URL as the IdP signs it",
            ),
        ),
        _ => Ok(()),
    }
}

fn client_json(
    view: &ClientView,
    secret: Option<String>,
    endpoints: &Endpoints,
    now: time::OffsetDateTime,
) -> Value {
    let client = &view.client;
    let mut out = json!({
        "clientId": client.id,
        "name": client.name,
        "created": rfc3339(client.created),
        "accessTokenMinutes": client.access_token_minutes,
        "jwt": client.jwt.as_ref().map(|j| json!({
            "jwksUrl": j.jwks_url,
            "issuer": j.issuer,
            "subject": j.subject,
            "audience": j.audience,
        })),
        "revokedAt": client.revoked_at.map(rfc3339),
        "active": client.revoked_at.is_none(),
        "tokenEndpoint": endpoints.token_endpoint,
        "issuer": endpoints.issuer,
        "liveAccessTokens": view.live_access_tokens,
        "secrets": view.secrets.iter().map(|s| secret_json(s, now)).collect::<Vec<_>>(),
    });
    if let (Some(secret), Some(map)) = (secret, out.as_object_mut()) {
        // Shown this once; the gateway keeps only its hash.
        map.insert("clientSecret".to_owned(), Value::String(secret));
    }
    out
}

fn secret_json(record: &TokenRecord, now: time::OffsetDateTime) -> Value {
    json!({
        "id": record.id,
        "created": rfc3339(record.created),
        "expiresAt": record.expires_at.map(rfc3339),
        "lastUsedAt": record.last_used_at.map(rfc3339),
        "revokedAt": record.revoked_at.map(rfc3339),
        "active": record.revoked_at.is_none() && record.expires_at.is_none_or(|e| e > now),
    })
}

const CLIENT_KEYS: &[&str] = &[
    "name",
    "accessTokenMinutes",
    "jwt",
    "secret",
    "secretExpiresAt",
];

/// `{"name", "accessTokenMinutes", "jwt", "secret", "secretExpiresAt"}` of a new client.
fn new_client(body: &Value) -> Result<NewClient, ErrorAnswer> {
    known_keys(body, CLIENT_KEYS).map_err(bad_request)?;
    let Some(name) = body.get("name").and_then(Value::as_str) else {
        return Err(bad_request(
            "send {\"name\": \"...\"} (and optionally accessTokenMinutes, jwt, secret, secretExpiresAt)",
        ));
    };
    let with_secret = match body.get("secret") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad_request("secret must be true or false")),
    };
    Ok(NewClient {
        name: name.to_owned(),
        access_token_minutes: minutes(body)?,
        jwt: jwt(body)?.flatten(),
        with_secret,
        secret_expires_at: time_of(body, "secretExpiresAt")?,
    })
}

/// `{"name", "accessTokenMinutes", "jwt"}` of a client change (`"jwt": null` removes it).
fn client_change(body: &Value) -> Result<ClientChange, ErrorAnswer> {
    known_keys(body, &["name", "accessTokenMinutes", "jwt"]).map_err(bad_request)?;
    let name = match body.get("name") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad_request("name must be a string")),
    };
    Ok(ClientChange {
        name,
        access_token_minutes: minutes(body)?,
        jwt: jwt(body)?,
    })
}

/// `{"expiresAt"}` of a new secret.
fn secret_expiry(body: &Value) -> Result<Option<time::OffsetDateTime>, ErrorAnswer> {
    known_keys(body, &["expiresAt"]).map_err(bad_request)?;
    time_of(body, "expiresAt")
}

fn minutes(body: &Value) -> Result<Option<u32>, ErrorAnswer> {
    match body.get("accessTokenMinutes") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|m| u32::try_from(m).ok())
            .map(Some)
            .ok_or_else(|| bad_request("accessTokenMinutes must be a whole number of minutes")),
    }
}

/// `jwt`: absent (no change), null (none), or `{"jwksUrl", "issuer", "subject", "audience"}`.
fn jwt(body: &Value) -> Result<Option<Option<JwtTrust>>, ErrorAnswer> {
    let trust = match body.get("jwt") {
        None => return Ok(None),
        Some(Value::Null) => return Ok(Some(None)),
        Some(trust) => trust,
    };
    known_keys(trust, &["jwksUrl", "issuer", "subject", "audience"])
        .map_err(|e| bad_request(format!("jwt: {e}")))?;
    let text = |key: &str| match trust.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request(format!("jwt.{key} must be a string"))),
    };
    let Some(jwks_url) = text("jwksUrl")? else {
        return Err(bad_request("jwt.jwksUrl is required"));
    };
    Ok(Some(Some(JwtTrust {
        jwks_url,
        issuer: text("issuer")?,
        subject: text("subject")?,
        audience: text("audience")?,
    })))
}

fn time_of(body: &Value, key: &str) -> Result<Option<time::OffsetDateTime>, ErrorAnswer> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(Some)
                .map_err(|e| bad_request(format!("{key}: not an RFC 3339 time: {e}")))
        }
        Some(_) => Err(bad_request(format!("{key} must be an RFC 3339 time"))),
    }
}
