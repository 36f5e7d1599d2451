//! `/admin/v1/tenants`, `/tenants/{id}` and `/tenants/{id}/endpoint`: list, make, read, change
//! and delete tenants, and what an IdP admin pastes into Okta or Entra ID to connect to one.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use super::{answer, bad_request, error, known_keys, no_content, read_body, rfc3339, Ctx};
use crate::admin::{NewTenant, TenantChange};
use crate::audit::Operation;
use crate::config::check_name;
use crate::http::error::ErrorAnswer;
use crate::http::response::HttpResponse;
use crate::http::Surface;
use crate::scim::Dialect;
use crate::store::{Deprovision, TenantRecord};
use crate::tenants::DEFAULT_TENANT;

const TENANT_FIELDS: &[&str] = &[
    "id",
    "name",
    "backend",
    "enabled",
    "tokenPolicy",
    "dialect",
    "bareToken",
    "deprovision",
    "reactivate",
    "extensions",
];

pub(super) async fn route<B>(
    ctx: &Ctx<'_>,
    rest: &[&str],
    method: Method,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let admin = &ctx.state.admin;
    let as_json = |record: &TenantRecord| tenant_json(record, &ctx.scim_base);
    match (rest, method) {
        ([], Method::GET) => {
            let list = admin
                .list_tenants()
                .await
                .map(|list| json!({"tenants": list.iter().map(as_json).collect::<Vec<_>>()}))
                .map_err(|e| ErrorAnswer::from_admin(&e));
            answer(list, StatusCode::OK)
        }
        ([], Method::POST) => {
            let new = match read_body(request).await.and_then(|b| new_tenant(&b)) {
                Ok(new) => new,
                Err(e) => return e.admin_response(),
            };
            let id = new.id.clone();
            let made = admin
                .create_tenant(new)
                .await
                .map_err(|e| ErrorAnswer::from_admin(&e));
            // A refused id is not a tenant: its log would be unreadable (and the id unbounded).
            if check_name(&id).is_ok() {
                let success = (StatusCode::CREATED, String::new());
                ctx.audit(&id, Operation::TenantCreate, "Tenant", &id, &made, success)
                    .await;
            }
            answer(made.map(|r| as_json(&r)), StatusCode::CREATED)
        }
        ([id], Method::GET) => answer(
            admin
                .tenant(id)
                .await
                .map(|r| as_json(&r))
                .map_err(|e| ErrorAnswer::from_admin(&e)),
            StatusCode::OK,
        ),
        ([id], Method::PATCH) => {
            let change = match read_body(request).await.and_then(|b| tenant_change(&b)) {
                Ok(change) => change,
                Err(e) => return e.admin_response(),
            };
            let (changed, said) = match admin.update_tenant(id, change).await {
                Ok((record, said)) => (Ok(record), said),
                Err(e) => (Err(ErrorAnswer::from_admin(&e)), String::new()),
            };
            let success = (StatusCode::OK, said);
            ctx.audit(id, Operation::TenantUpdate, "Tenant", id, &changed, success)
                .await;
            answer(changed.map(|r| as_json(&r)), StatusCode::OK)
        }
        ([id], Method::DELETE) => {
            let deleted = admin
                .delete_tenant(id)
                .await
                .map_err(|e| ErrorAnswer::from_admin(&e));
            let success = (StatusCode::NO_CONTENT, String::new());
            ctx.audit(id, Operation::TenantDelete, "Tenant", id, &deleted, success)
                .await;
            no_content(deleted)
        }
        ([id, "endpoint"], Method::GET) => answer(
            admin
                .tenant(id)
                .await
                .map(|record| endpoint_json(ctx, &record))
                .map_err(|e| ErrorAnswer::from_admin(&e)),
            StatusCode::OK,
        ),
        ([], _) => error(StatusCode::METHOD_NOT_ALLOWED, "GET or POST"),
        ([_], _) => error(StatusCode::METHOD_NOT_ALLOWED, "GET, PATCH or DELETE"),
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "GET only"),
    }
}

/// The SCIM base URL of a tenant, from the gateway's (`default` answers at the bare one).
pub(super) fn tenant_scim_url(scim_base: &str, tenant: &str) -> String {
    if tenant == DEFAULT_TENANT {
        scim_base.to_owned()
    } else {
        format!("{scim_base}/{tenant}")
    }
}

fn tenant_json(record: &TenantRecord, scim_base: &str) -> Value {
    json!({
        "id": record.id,
        "name": record.name,
        "enabled": record.enabled,
        "backend": record.backend,
        "tokenPolicy": {"maxLifetimeDays": record.max_token_lifetime_days},
        "dialect": record.dialect.as_str(),
        "bareToken": record.bare_token,
        "deprovision": record.deprovision.as_str(),
        "reactivate": record.reactivate,
        "extensions": record.extensions,
        "scimBaseUrl": tenant_scim_url(scim_base, &record.id),
        "created": rfc3339(record.created),
        "updated": rfc3339(record.updated),
    })
}

/// What an IdP admin pastes into Okta or Entra ID to connect to a tenant.
fn endpoint_json(ctx: &Ctx<'_>, record: &TenantRecord) -> Value {
    let url = tenant_scim_url(&ctx.scim_base, &record.id);
    let oauth = crate::oauth::Endpoints::new(&ctx.origin, &record.id);
    let scim1_url = crate::http::routes::v1_base_path(&ctx.state.base_path)
        .map(|v1| tenant_scim_url(&format!("{}{v1}", ctx.origin), &record.id));
    let resource_types: Vec<&str> = ctx
        .state
        .tenants
        .backends()
        .find(|b| b.name == record.backend)
        .map(|b| {
            crate::service::kinds_of(&b.mapping)
                .iter()
                .map(|k| k.name())
                .collect()
        })
        .unwrap_or_default();
    let mut out = json!({
        "tenant": record.id,
        "enabled": record.enabled,
        "scimBaseUrl": url,
        "authentication": {
            "method": "HTTP bearer token (RFC 6750)",
            "header": if record.bare_token { "Authorization: Bearer <token>, or Authorization: <token>" } else { "Authorization: Bearer <token>" },
            "tokens": format!("make one with POST /admin/v1/tenants/{}/tokens (or `scimgate tokens --tenant {} create --name <idp>`); its secret is shown once", record.id, record.id),
            "oauth": {
                "tokenEndpoint": oauth.token_endpoint,
                "metadata": format!("{}/.well-known/oauth-authorization-server/oauth/{}", ctx.origin, record.id),
                "clients": format!("make one with POST /admin/v1/tenants/{}/oauth/clients (or `scimgate oauth-clients --tenant {} create --name <idp>`); its secret is shown once", record.id, record.id),
            },
        },
        "resourceTypes": resource_types,
        "okta": {
            "SCIM connector base URL": url,
            "Unique identifier field for users": "userName",
            "Authentication Mode": "HTTP Header",
            "Authorization": if record.bare_token { "<token>" } else { "Bearer <token>" },
            "Supported provisioning actions": ["Push New Users", "Push Profile Updates", "Push User Deactivation", "Push Groups"],
        },
        "scim1BaseUrl": scim1_url,
        "onelogin": {
            "SCIM Base URL": scim1_url.as_deref().unwrap_or(&url),
            "SCIM Bearer Token": "<token>",
            "API Connection": if scim1_url.is_some() { "SCIM 1.1 (or SCIM 2.0 at scimBaseUrl)" } else { "SCIM 2.0" },
        },
        "entra": {
            "Tenant URL": url,
            "Secret Token": "<token>",
            "OAuth 2.0 client credentials grant": {
                "Token Endpoint": oauth.token_endpoint,
                "Client Identifier": "<clientId>",
                "Client Secret": "<clientSecret>",
            },
        },
    });
    if ctx.surface == Surface::AdminOnly && ctx.state.public_url.is_none() {
        if let Some(map) = out.as_object_mut() {
            map.insert(
                "warning".to_owned(),
                Value::String("server.public_url is not set, so this URL is built from the admin API's own address; set server.public_url to the URL IdPs reach SCIM at".to_owned()),
            );
        }
    }
    out
}

fn optional_text(body: &Value, key: &str) -> Result<Option<String>, ErrorAnswer> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request(format!("{key} must be a string"))),
    }
}

fn optional_bool(body: &Value, key: &str) -> Result<Option<bool>, ErrorAnswer> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad_request(format!("{key} must be true or false"))),
    }
}

/// `tokenPolicy.maxLifetimeDays`: absent (no change), null (no limit) or whole days.
fn lifetime(body: &Value) -> Result<Option<Option<u32>>, ErrorAnswer> {
    let Some(policy) = body.get("tokenPolicy") else {
        return Ok(None);
    };
    known_keys(policy, &["maxLifetimeDays"])
        .map_err(|m| bad_request(format!("tokenPolicy: {m}")))?;
    match policy.get("maxLifetimeDays") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => v
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .map(|d| Some(Some(d)))
            .ok_or_else(|| {
                bad_request("tokenPolicy.maxLifetimeDays must be a whole number of days or null")
            }),
    }
}

/// `dialect`: absent (no change) or `strict` / `lenient`.
fn dialect(body: &Value) -> Result<Option<Dialect>, ErrorAnswer> {
    match body.get("dialect") {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(Dialect::parse)
            .map(Some)
            .ok_or_else(|| bad_request("dialect must be \"strict\" or \"lenient\"")),
    }
}

/// `deprovision`: absent (no change) or `delete` / `suspend` / `unlink`.
fn deprovision(body: &Value) -> Result<Option<Deprovision>, ErrorAnswer> {
    match body.get("deprovision") {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(Deprovision::parse)
            .map(Some)
            .ok_or_else(|| {
                bad_request("deprovision must be \"delete\", \"suspend\" or \"unlink\"")
            }),
    }
}

/// `extensions`: absent (no change), null (none) or the declarations (checked by the admin
/// lifecycle against the tenant's backend).
fn extensions(body: &Value) -> Option<Value> {
    match body.get("extensions") {
        None => None,
        Some(Value::Null) => Some(Value::Array(Vec::new())),
        Some(v) => Some(v.clone()),
    }
}

fn new_tenant(body: &Value) -> Result<NewTenant, ErrorAnswer> {
    known_keys(body, TENANT_FIELDS).map_err(bad_request)?;
    let Some(id) = optional_text(body, "id")? else {
        return Err(bad_request("send {\"id\": \"<url segment>\", \"name\": ..., \"backend\": ..., \"enabled\": true, \"tokenPolicy\": {\"maxLifetimeDays\": 90}}"));
    };
    Ok(NewTenant {
        id,
        name: optional_text(body, "name")?,
        backend: optional_text(body, "backend")?,
        enabled: optional_bool(body, "enabled")?.unwrap_or(true),
        max_token_lifetime_days: lifetime(body)?.flatten(),
        dialect: dialect(body)?,
        bare_token: optional_bool(body, "bareToken")?.unwrap_or(false),
        deprovision: deprovision(body)?,
        reactivate: optional_bool(body, "reactivate")?.unwrap_or(false),
        extensions: extensions(body),
    })
}

fn tenant_change(body: &Value) -> Result<TenantChange, ErrorAnswer> {
    known_keys(body, TENANT_FIELDS.get(1..).unwrap_or_default()).map_err(bad_request)?;
    Ok(TenantChange {
        name: optional_text(body, "name")?,
        enabled: optional_bool(body, "enabled")?,
        backend: optional_text(body, "backend")?,
        max_token_lifetime_days: lifetime(body)?,
        dialect: dialect(body)?,
        bare_token: optional_bool(body, "bareToken")?,
        deprovision: deprovision(body)?,
        reactivate: optional_bool(body, "reactivate")?,
        extensions: extensions(body),
    })
}
