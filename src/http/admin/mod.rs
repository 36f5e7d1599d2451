//! The admin API (`/admin/v1`, JSON), authenticated apart from SCIM with the admin tokens of the
//! config: tenants (list, create, get, update, delete, endpoint info), and each tenant's
//! managed SCIM tokens (create, list, get, update, revoke, regenerate), identity links (list,
//! get, look up by `externalId`, re-link, delete) and audit log; and the OpenAPI document
//! describing it (public, at `/admin/v1/openapi.json`).

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use super::{query_pairs, read_body_json, HttpState, Surface};
use crate::auth::bearer_token;
use crate::http::error::ErrorAnswer;
use crate::service::{Kind, ServiceError};
use crate::store::{Identity, TenantRecord};
use crate::tenants::{NewTenant, TenantChange, TokenChange, DEFAULT_TENANT};

use super::response::HttpResponse;

pub const PREFIX: &str = "/admin/v1";

fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    let mut response = http::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Admin errors: `{"status": 404, "error": "..."}`.
fn error(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    json_response(
        status,
        &json!({"status": status.as_u16(), "error": message.into()}),
    )
}

fn service_error(e: &ServiceError) -> HttpResponse {
    ErrorAnswer::from_service(e).admin_response()
}

/// Answers a request under `/admin/v1`.
pub async fn route<B>(
    state: &HttpState,
    base_url: &str,
    surface: Surface,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let path = request.uri().path().to_owned();
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method().clone();
    if segments.as_slice() == ["openapi.json"] {
        return match method {
            Method::GET => json_response(StatusCode::OK, openapi()),
            _ => error(StatusCode::METHOD_NOT_ALLOWED, "GET only"),
        };
    }
    let Some(admin) = &state.admin else {
        return error(
            StatusCode::NOT_FOUND,
            "the admin API is off (no admin.tokens configured)",
        );
    };
    let caller = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .and_then(|t| admin.authenticate(t));
    let Some(caller) = caller else {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "admin authentication required: Authorization: Bearer <admin token>",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scimgate-admin\""),
        );
        return response;
    };
    tracing::Span::current().record("caller", caller.token_name.as_str());
    let actor = format!("admin:{}", caller.token_name);
    let query = query_pairs(request.uri().query());
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    match segments.as_slice() {
        ["tenants"] | ["tenants", _] | ["tenants", _, "endpoint"] => {
            tenants(
                state,
                base_url,
                surface,
                &actor,
                segments.get(1..).unwrap_or_default(),
                method,
                request,
            )
            .await
        }
        ["tenants", tenant, "tokens", rest @ ..] => {
            // Tokens need no backend: a tenant whose backend left the config keeps them
            // manageable (revocable above all).
            // The latest record: the token policy may have just changed on another replica.
            let record = match state.tenants.fresh(tenant).await {
                Ok(record) => record,
                Err(e) => return service_error(&e),
            };
            tokens(state, &record, &actor, rest, method, request).await
        }
        ["tenants", tenant, "audit"] => {
            // A deleted tenant's log stays readable (it says who deleted it).
            let known = match state.tenants.record(tenant).await {
                Ok(record) => record.is_some(),
                Err(e) => return service_error(&e.into()),
            };
            if method != Method::GET {
                return error(StatusCode::METHOD_NOT_ALLOWED, "GET only");
            }
            let time = |name: &str| -> Result<Option<time::OffsetDateTime>, String> {
                match param(name) {
                    None => Ok(None),
                    Some(v) => time::OffsetDateTime::parse(
                        &v,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map(Some)
                    .map_err(|e| format!("{name}: not an RFC 3339 time: {e}")),
                }
            };
            let (since, until) = match (time("since"), time("until")) {
                (Ok(s), Ok(u)) => (s, u),
                (Err(m), _) | (_, Err(m)) => return error(StatusCode::BAD_REQUEST, m),
            };
            let (start, count) = match paging(&param) {
                Ok(p) => p,
                Err(m) => return error(StatusCode::BAD_REQUEST, m),
            };
            let query = crate::store::AuditQuery {
                tenant: (*tenant).to_owned(),
                actor: param("actor"),
                operation: param("operation"),
                target: param("target"),
                outcome: param("outcome"),
                since,
                until,
                offset: start - 1,
                limit: count,
            };
            match state.tenants.store().audit(&query).await {
                Ok((_, 0)) if !known => error(StatusCode::NOT_FOUND, format!("no tenant {tenant}")),
                Ok((entries, total)) => json_response(
                    StatusCode::OK,
                    &json!({"total": total, "startIndex": start, "entries": entries}),
                ),
                Err(e) => service_error(&e.into()),
            }
        }
        ["tenants", tenant, "links", rest @ ..] => {
            let gateway = match state.tenants.gateway_for_admin(tenant).await {
                Ok(gw) => gw,
                Err(e) => return service_error(&e),
            };
            // Links answer at the tenant's own SCIM URL.
            let scim_base = tenant_scim_url(base_url, tenant);
            let base_url = scim_base.as_str();
            let kind = match param("type").as_deref() {
                None | Some("User") => Kind::User,
                Some("Group") => Kind::Group,
                Some(other) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("type must be User or Group, not {other}"),
                    )
                }
            };
            let resources = match gateway.resources(kind) {
                Ok(r) => r,
                Err(e) => return service_error(&e),
            };
            let render =
                |i: &Identity| link_json(i, kind, base_url, resources.rt.endpoint.as_str());
            match (rest, method) {
                ([], Method::GET) => {
                    if let Some(ext) = param("externalId") {
                        return match resources.links_by_external_id(&ext).await {
                            Ok(found) => json_response(
                                StatusCode::OK,
                                &json!({"total": found.len(), "startIndex": 1, "links": found.iter().map(render).collect::<Vec<_>>()}),
                            ),
                            Err(e) => service_error(&e),
                        };
                    }
                    let (start, count) = match paging(&param) {
                        Ok(p) => p,
                        Err(m) => return error(StatusCode::BAD_REQUEST, m),
                    };
                    match resources.links(start - 1, count).await {
                        Ok((links, total)) => json_response(
                            StatusCode::OK,
                            &json!({"total": total, "startIndex": start, "links": links.iter().map(render).collect::<Vec<_>>()}),
                        ),
                        Err(e) => service_error(&e),
                    }
                }
                ([id], Method::GET) => match resources.link(id).await {
                    Ok(link) => json_response(StatusCode::OK, &render(&link)),
                    Err(e) => service_error(&e),
                },
                ([id], Method::PATCH) => {
                    let body = match read_body_json(state, request).await {
                        Ok(b) => b,
                        Err(e) => return e.admin_response(),
                    };
                    let external_id = match body.get("externalId") {
                        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                        Some(Value::Null) => None,
                        _ => {
                            return error(
                                StatusCode::BAD_REQUEST,
                                "send {\"externalId\": \"<new id>\"} (or null to clear it)",
                            )
                        }
                    };
                    match resources.relink(id, external_id, &actor).await {
                        Ok(link) => json_response(StatusCode::OK, &render(&link)),
                        Err(e) => service_error(&e),
                    }
                }
                ([id], Method::DELETE) => match resources.unlink(id, &actor).await {
                    Ok(()) => no_content(),
                    Err(e) => service_error(&e),
                },
                ([], _) => error(StatusCode::METHOD_NOT_ALLOWED, "GET only"),
                ([_], _) => error(StatusCode::METHOD_NOT_ALLOWED, "GET, PATCH or DELETE"),
                _ => error(
                    StatusCode::NOT_FOUND,
                    format!("no admin endpoint at {path}"),
                ),
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint at {path}"),
        ),
    }
}

/// The SCIM base URL of a tenant, from the gateway's (`default` answers at the bare one).
fn tenant_scim_url(scim_base: &str, tenant: &str) -> String {
    if tenant == DEFAULT_TENANT {
        scim_base.to_owned()
    } else {
        format!("{scim_base}/{tenant}")
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn tenant_json(record: &TenantRecord, scim_base: &str) -> Value {
    json!({
        "id": record.id,
        "name": record.name,
        "enabled": record.enabled,
        "backend": record.backend,
        "tokenPolicy": {"maxLifetimeDays": record.max_token_lifetime_days},
        "scimBaseUrl": tenant_scim_url(scim_base, &record.id),
        "created": rfc3339(record.created),
        "updated": rfc3339(record.updated),
    })
}

/// What an IdP admin pastes into Okta or Entra ID to connect to a tenant.
fn endpoint_json(
    state: &HttpState,
    record: &TenantRecord,
    scim_base: &str,
    surface: Surface,
) -> Value {
    let url = tenant_scim_url(scim_base, &record.id);
    let resource_types: Vec<&str> = state
        .tenants
        .platforms()
        .find(|p| p.name == record.backend)
        .map(|p| {
            crate::service::kinds_of(&p.mapping)
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
            "header": "Authorization: Bearer <token>",
            "tokens": format!("make one with POST /admin/v1/tenants/{}/tokens (or `scimgate tokens --tenant {} create --name <idp>`); its secret is shown once", record.id, record.id),
        },
        "resourceTypes": resource_types,
        "okta": {
            "SCIM connector base URL": url,
            "Unique identifier field for users": "userName",
            "Authentication Mode": "HTTP Header",
            "Authorization": "Bearer <token>",
            "Supported provisioning actions": ["Push New Users", "Push Profile Updates", "Push User Deactivation", "Push Groups"],
        },
        "entra": {
            "Tenant URL": url,
            "Secret Token": "<token>",
        },
    });
    if surface == Surface::AdminOnly && state.public_url.is_none() {
        if let Some(map) = out.as_object_mut() {
            map.insert(
                "warning".to_owned(),
                Value::String("server.public_url is not set, so this URL is built from the admin API's own address; set server.public_url to the URL IdPs reach SCIM at".to_owned()),
            );
        }
    }
    out
}

/// `/tenants`, `/tenants/{id}` and `/tenants/{id}/endpoint`.
async fn tenants<B>(
    state: &HttpState,
    scim_base: &str,
    surface: Surface,
    actor: &str,
    rest: &[&str],
    method: Method,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let tenants = &state.tenants;
    let answer = |result: Result<TenantRecord, ServiceError>, status| match result {
        Ok(record) => json_response(status, &tenant_json(&record, scim_base)),
        Err(e) => service_error(&e),
    };
    match (rest, method) {
        ([], Method::GET) => match tenants.list().await {
            Ok(list) => json_response(
                StatusCode::OK,
                &json!({"tenants": list.iter().map(|t| tenant_json(t, scim_base)).collect::<Vec<_>>()}),
            ),
            Err(e) => service_error(&e),
        },
        ([], Method::POST) => {
            let body = match read_body_json(state, request).await {
                Ok(b) => b,
                Err(e) => return e.admin_response(),
            };
            let new = match new_tenant(&body) {
                Ok(n) => n,
                Err(m) => return error(StatusCode::BAD_REQUEST, m),
            };
            answer(tenants.create(new, actor).await, StatusCode::CREATED)
        }
        ([id], Method::GET) => answer(
            tenants.existing(id).await.map(|r| TenantRecord::clone(&r)),
            StatusCode::OK,
        ),
        ([id], Method::PATCH) => {
            let body = match read_body_json(state, request).await {
                Ok(b) => b,
                Err(e) => return e.admin_response(),
            };
            let change = match tenant_change(&body) {
                Ok(c) => c,
                Err(m) => return error(StatusCode::BAD_REQUEST, m),
            };
            answer(tenants.update(id, change, actor).await, StatusCode::OK)
        }
        ([id], Method::DELETE) => match tenants.delete(id, actor).await {
            Ok(()) => no_content(),
            Err(e) => service_error(&e),
        },
        ([id, "endpoint"], Method::GET) => match tenants.existing(id).await {
            Ok(record) => json_response(
                StatusCode::OK,
                &endpoint_json(state, &record, scim_base, surface),
            ),
            Err(e) => service_error(&e),
        },
        ([], _) => error(StatusCode::METHOD_NOT_ALLOWED, "GET or POST"),
        ([_], _) => error(StatusCode::METHOD_NOT_ALLOWED, "GET, PATCH or DELETE"),
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "GET only"),
    }
}

fn no_content() -> HttpResponse {
    let mut response = json_response(StatusCode::NO_CONTENT, &Value::Null);
    *response.body_mut() = Full::new(Bytes::new());
    response.headers_mut().remove(header::CONTENT_TYPE);
    response
}

/// Checks a tenant body's keys: only `allowed` ones, so a typo is an error, not ignored.
fn known_keys(body: &Value, allowed: &[&str]) -> Result<(), String> {
    let Some(map) = body.as_object() else {
        return Err("send a JSON object".to_owned());
    };
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "unknown field `{k}`; known: {}",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn optional_text(body: &Value, key: &str) -> Result<Option<String>, String> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn optional_bool(body: &Value, key: &str) -> Result<Option<bool>, String> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("{key} must be true or false")),
    }
}

/// `tokenPolicy.maxLifetimeDays`: absent (no change), null (no limit) or whole days.
fn lifetime(body: &Value) -> Result<Option<Option<u32>>, String> {
    let Some(policy) = body.get("tokenPolicy") else {
        return Ok(None);
    };
    known_keys(policy, &["maxLifetimeDays"]).map_err(|m| format!("tokenPolicy: {m}"))?;
    match policy.get("maxLifetimeDays") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => v
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .map(|d| Some(Some(d)))
            .ok_or_else(|| {
                "tokenPolicy.maxLifetimeDays must be a whole number of days or null".to_owned()
            }),
    }
}

const TENANT_FIELDS: &[&str] = &["id", "name", "backend", "enabled", "tokenPolicy"];

fn new_tenant(body: &Value) -> Result<NewTenant, String> {
    known_keys(body, TENANT_FIELDS)?;
    let Some(id) = optional_text(body, "id")? else {
        return Err("send {\"id\": \"<url segment>\", \"name\": ..., \"backend\": ..., \"enabled\": true, \"tokenPolicy\": {\"maxLifetimeDays\": 90}}".to_owned());
    };
    Ok(NewTenant {
        id,
        name: optional_text(body, "name")?,
        backend: optional_text(body, "backend")?,
        enabled: optional_bool(body, "enabled")?.unwrap_or(true),
        max_token_lifetime_days: lifetime(body)?.flatten(),
    })
}

fn tenant_change(body: &Value) -> Result<TenantChange, String> {
    known_keys(body, TENANT_FIELDS.get(1..).unwrap_or_default())?;
    Ok(TenantChange {
        name: optional_text(body, "name")?,
        enabled: optional_bool(body, "enabled")?,
        backend: optional_text(body, "backend")?,
        max_token_lifetime_days: lifetime(body)?,
    })
}

/// `startIndex` (1-based, default 1) and `count` (default 100, at most 1000).
fn paging(param: &dyn Fn(&str) -> Option<String>) -> Result<(u64, u64), String> {
    let number = |name: &str, default: u64| match param(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| format!("{name} must be a whole number, not `{v}`")),
    };
    Ok((
        number("startIndex", 1)?.max(1),
        number("count", 100)?.min(1000),
    ))
}

fn token_json(
    record: &crate::store::TokenRecord,
    secret: Option<String>,
    now: time::OffsetDateTime,
) -> Value {
    let time = |t: Option<time::OffsetDateTime>| {
        t.map(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        })
    };
    let mut out = json!({
        "id": record.id,
        "name": record.name,
        "created": time(Some(record.created)),
        "expiresAt": time(record.expires_at),
        "lastUsedAt": time(record.last_used_at),
        "revokedAt": time(record.revoked_at),
        "active": record.revoked_at.is_none()
            && record.expires_at.is_none_or(|e| e > now),
    });
    if let (Some(secret), Some(map)) = (secret, out.as_object_mut()) {
        // Shown this once; the gateway keeps only its hash.
        map.insert("token".to_owned(), Value::String(secret));
    }
    out
}

/// `expiresAt` of a token body: absent (no change), null (never), or an RFC 3339 time.
fn expiry(body: &Value) -> Result<Option<Option<time::OffsetDateTime>>, String> {
    match body.get("expiresAt") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(|t| Some(Some(t)))
                .map_err(|e| format!("expiresAt: not an RFC 3339 time: {e}"))
        }
        Some(_) => Err("expiresAt must be an RFC 3339 time or null".to_owned()),
    }
}

/// `/tenants/{tenant}/tokens[...]`: managed SCIM tokens.
async fn tokens<B>(
    state: &HttpState,
    tenant: &TenantRecord,
    actor: &str,
    rest: &[&str],
    method: Method,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let tenants = &state.tenants;
    let answer = |result: Result<(crate::store::TokenRecord, Option<String>), ServiceError>,
                  status| match result {
        Ok((record, secret)) => {
            json_response(status, &token_json(&record, secret, tenants.clock().now()))
        }
        Err(e) => service_error(&e),
    };
    match (rest, method) {
        ([], Method::GET) => match tenants.tokens(&tenant.id).await {
            Ok(list) => json_response(
                StatusCode::OK,
                &json!({"tokens": list.iter().map(|r| token_json(r, None, tenants.clock().now())).collect::<Vec<_>>()}),
            ),
            Err(e) => service_error(&e),
        },
        ([], Method::POST) => {
            let body = match read_body_json(state, request).await {
                Ok(b) => b,
                Err(e) => return e.admin_response(),
            };
            let Some(name) = body
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "send {\"name\": \"...\", \"expiresAt\": \"<RFC 3339 time>\" (optional)}",
                );
            };
            let expires_at = match expiry(&body) {
                Ok(e) => e.flatten(),
                Err(m) => return error(StatusCode::BAD_REQUEST, m),
            };
            let created = tenants
                .create_token(tenant, name, expires_at, actor)
                .await
                .map(|(r, s)| (r, Some(s)));
            answer(created, StatusCode::CREATED)
        }
        ([id], Method::GET) => answer(
            tenants.token(&tenant.id, id).await.map(|r| (r, None)),
            StatusCode::OK,
        ),
        ([id], Method::PATCH) => {
            let body = match read_body_json(state, request).await {
                Ok(b) => b,
                Err(e) => return e.admin_response(),
            };
            let expires_at = match expiry(&body) {
                Ok(e) => e,
                Err(m) => return error(StatusCode::BAD_REQUEST, m),
            };
            let name = body.get("name").and_then(Value::as_str).map(str::to_owned);
            answer(
                tenants
                    .change_token(tenant, id, TokenChange::Update { name, expires_at }, actor)
                    .await,
                StatusCode::OK,
            )
        }
        ([id, "revoke"], Method::POST) => answer(
            tenants
                .change_token(tenant, id, TokenChange::Revoke, actor)
                .await,
            StatusCode::OK,
        ),
        ([id, "regenerate"], Method::POST) => answer(
            tenants
                .change_token(tenant, id, TokenChange::Regenerate, actor)
                .await,
            StatusCode::OK,
        ),
        _ => error(StatusCode::NOT_FOUND, "no such token endpoint (or method)"),
    }
}

fn link_json(identity: &Identity, kind: Kind, base_url: &str, endpoint: &str) -> Value {
    let time = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    json!({
        "id": identity.scim_id,
        "resourceType": kind.name(),
        "platformKey": identity.backend_key,
        "externalId": identity.external_id,
        "created": time(identity.created),
        "lastModified": time(identity.last_modified),
        "location": format!("{base_url}{endpoint}/{}", identity.scim_id),
    })
}

/// The OpenAPI 3.0 description of this API (`openapi.json` beside this file, read once).
pub fn openapi() -> &'static Value {
    static DOCUMENT: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        // The document is part of the build and checked by a test: it always parses.
        serde_json::from_str(include_str!("openapi.json")).unwrap_or(Value::Null)
    })
}

#[cfg(test)]
mod tests {
    use super::openapi;

    #[test]
    fn the_openapi_document_parses_and_names_every_admin_path() {
        let document = openapi();
        assert_eq!(document["openapi"], "3.0.3");
        let paths = document["paths"].as_object().expect("paths");
        for path in [
            "/admin/v1/tenants",
            "/admin/v1/tenants/{tenant}",
            "/admin/v1/tenants/{tenant}/endpoint",
            "/admin/v1/tenants/{tenant}/links",
            "/admin/v1/tenants/{tenant}/links/{id}",
            "/admin/v1/tenants/{tenant}/tokens",
            "/admin/v1/tenants/{tenant}/tokens/{id}",
            "/admin/v1/tenants/{tenant}/tokens/{id}/revoke",
            "/admin/v1/tenants/{tenant}/tokens/{id}/regenerate",
            "/admin/v1/tenants/{tenant}/audit",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
    }
}
