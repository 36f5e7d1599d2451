//! `/admin/v1/tenants/{tenant}/tokens[...]`: a tenant's managed SCIM tokens: list, read, make
//! (the secret in that answer only), rename or give another expiry, revoke, regenerate. They
//! need no backend: a tenant whose backend left the config keeps them manageable (revocable
//! above all).

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use super::{answer, bad_request, error, read_body, rfc3339, Ctx};
use crate::admin::TokenChange;
use crate::audit::Operation;
use crate::http::error::ErrorAnswer;
use crate::http::response::HttpResponse;
use crate::store::TokenRecord;

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
    // The latest record: the token policy may have just changed on another replica.
    let tenant = match admin.fresh_tenant(tenant).await {
        Ok(record) => record,
        Err(e) => return ErrorAnswer::from_admin(&e).admin_response(),
    };
    let now = ctx.state.tenants.clock().now();
    let as_json =
        |(record, secret): (TokenRecord, Option<String>)| token_json(&record, secret, now);
    let audit_and_answer = |operation, target, result, status| {
        audited(ctx, &tenant.id, operation, target, result, status, now)
    };
    match (rest, method) {
        ([], Method::GET) => answer(
            admin
                .tokens(&tenant.id)
                .await
                .map(|list| {
                    json!({"tokens": list.into_iter().map(|r| as_json((r, None))).collect::<Vec<_>>()})
                })
                .map_err(|e| ErrorAnswer::from_admin(&e)),
            StatusCode::OK,
        ),
        ([], Method::POST) => {
            let (name, expires_at) = match read_body(request).await.and_then(|b| new_token(&b)) {
                Ok(asked) => asked,
                Err(e) => return e.admin_response(),
            };
            let made = admin
                .create_token(&tenant, &name, expires_at)
                .await
                .map(|(record, secret)| (record, Some(secret)))
                .map_err(|e| ErrorAnswer::from_admin(&e));
            // A refused name is bounded in the log (it may be anything).
            let target = name.chars().take(200).collect();
            audit_and_answer(Operation::TokenCreate, target, made, StatusCode::CREATED).await
        }
        ([id], Method::GET) => answer(
            admin
                .token(&tenant.id, id)
                .await
                .map(|record| as_json((record, None)))
                .map_err(|e| ErrorAnswer::from_admin(&e)),
            StatusCode::OK,
        ),
        ([id], Method::PATCH) => {
            let change = match read_body(request).await.and_then(|b| token_change(&b)) {
                Ok(change) => change,
                Err(e) => return e.admin_response(),
            };
            let changed = admin
                .change_token(&tenant, id, change)
                .await
                .map_err(|e| ErrorAnswer::from_admin(&e));
            audit_and_answer(Operation::TokenUpdate, (*id).to_owned(), changed, StatusCode::OK).await
        }
        ([id, action @ ("revoke" | "regenerate")], Method::POST) => {
            let (operation, change) = match *action {
                "revoke" => (Operation::TokenRevoke, TokenChange::Revoke),
                _ => (Operation::TokenRegenerate, TokenChange::Regenerate),
            };
            let changed = admin
                .change_token(&tenant, id, change)
                .await
                .map_err(|e| ErrorAnswer::from_admin(&e));
            audit_and_answer(operation, (*id).to_owned(), changed, StatusCode::OK).await
        }
        _ => error(StatusCode::NOT_FOUND, "no such token endpoint (or method)"),
    }
}

/// Records a token change in the tenant's audit log (the token's id, or for a refused
/// create, the name asked for) and answers it.
async fn audited(
    ctx: &Ctx<'_>,
    tenant: &str,
    operation: Operation,
    target: String,
    result: Result<(TokenRecord, Option<String>), ErrorAnswer>,
    status: StatusCode,
    now: time::OffsetDateTime,
) -> HttpResponse {
    let target = match &result {
        Ok((record, _)) => record.id.clone(),
        Err(_) => target,
    };
    let success = (status, String::new());
    ctx.audit(tenant, operation, "Token", &target, &result, success)
        .await;
    answer(
        result.map(|(record, secret)| token_json(&record, secret, now)),
        status,
    )
}

fn token_json(record: &TokenRecord, secret: Option<String>, now: time::OffsetDateTime) -> Value {
    let mut out = json!({
        "id": record.id,
        "name": record.name,
        "created": rfc3339(record.created),
        "expiresAt": record.expires_at.map(rfc3339),
        "lastUsedAt": record.last_used_at.map(rfc3339),
        "revokedAt": record.revoked_at.map(rfc3339),
        "active": record.revoked_at.is_none()
            && record.expires_at.is_none_or(|e| e > now),
    });
    if let (Some(secret), Some(map)) = (secret, out.as_object_mut()) {
        // Shown this once; the gateway keeps only its hash.
        map.insert("token".to_owned(), Value::String(secret));
    }
    out
}

/// `{"name", "expiresAt"}` of a new token.
fn new_token(body: &Value) -> Result<(String, Option<time::OffsetDateTime>), ErrorAnswer> {
    let Some(name) = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return Err(bad_request(
            "send {\"name\": \"...\", \"expiresAt\": \"<RFC 3339 time>\" (optional)}",
        ));
    };
    Ok((name.to_owned(), expiry(body)?.flatten()))
}

/// `{"name", "expiresAt"}` of a token change.
fn token_change(body: &Value) -> Result<TokenChange, ErrorAnswer> {
    Ok(TokenChange::Update {
        name: body.get("name").and_then(Value::as_str).map(str::to_owned),
        expires_at: expiry(body)?,
    })
}

/// `expiresAt` of a token body: absent (no change), null (never), or an RFC 3339 time.
fn expiry(body: &Value) -> Result<Option<Option<time::OffsetDateTime>>, ErrorAnswer> {
    match body.get("expiresAt") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(|t| Some(Some(t)))
                .map_err(|e| bad_request(format!("expiresAt: not an RFC 3339 time: {e}")))
        }
        Some(_) => Err(bad_request("expiresAt must be an RFC 3339 time or null")),
    }
}
