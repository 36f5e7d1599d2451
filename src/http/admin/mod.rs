//! The admin API (`/admin/v1`, JSON), authenticated apart from SCIM with the admin tokens of the
//! config (the authentication layer lets in an [`AdminCaller`]): tenants (`tenants.rs`), each
//! tenant's managed SCIM tokens (`tokens.rs`) and OAuth clients (`oauth.rs`), identity links and audit log (`links.rs`), request log (`requests.rs`); and
//! the OpenAPI document describing it (public, `openapi.json` beside this file). Every change
//! is recorded in the audit log with the answer it got. Errors are `{"status", "error"}`.

mod links;
mod oauth;
mod requests;
mod tenants;
mod tokens;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use super::error::ErrorAnswer;
use super::extract::{base_url, origin_url, query_pairs};
use super::layers::AdminCaller;
use super::response::{empty, json_response, HttpResponse};
use super::routes::ADMIN_PREFIX;
use super::{HttpState, Surface};
use crate::audit::{Action, Operation, Outcome};

/// What every admin handler needs of its request.
struct Ctx<'a> {
    state: &'a HttpState,
    /// `admin:<name>`, for the audit log.
    actor: String,
    /// The gateway's SCIM base URL, as this request reached it.
    scim_base: String,
    /// The gateway's origin (`https://host`), as this request reached it.
    origin: String,
    surface: Surface,
    query: Vec<(String, String)>,
    /// The path asked, for "no such endpoint" answers.
    path: String,
}

impl Ctx<'_> {
    /// A query parameter (name in any case).
    fn param(&self, name: &str) -> Option<String> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// Records an admin action with the answer it got.
    async fn audit<T>(
        &self,
        tenant: &str,
        operation: Operation,
        resource_type: &str,
        target: &str,
        result: &Result<T, ErrorAnswer>,
        success: (StatusCode, String),
    ) {
        let outcome = match result {
            Ok(_) => Outcome::success(success.0.as_u16(), success.1),
            Err(answer) => Outcome::failure(answer.status.as_u16(), answer.detail.clone()),
        };
        let action = Action {
            tenant,
            actor: &self.actor,
            operation,
            resource_type,
            target,
        };
        self.state.audit.record(action, outcome).await;
    }
}

/// An admin error answer.
fn error(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    ErrorAnswer::new(status, message).admin_response()
}

/// A JSON answer, or the error in the admin API's form.
fn answer(result: Result<Value, ErrorAnswer>, status: StatusCode) -> HttpResponse {
    match result {
        Ok(body) => json_response(status, &body),
        Err(e) => e.admin_response(),
    }
}

fn no_content(result: Result<(), ErrorAnswer>) -> HttpResponse {
    match result {
        Ok(()) => empty(StatusCode::NO_CONTENT),
        Err(e) => e.admin_response(),
    }
}

/// Answers a request under `/admin/v1`.
pub async fn route<B>(
    state: &HttpState,
    surface: Surface,
    caller: Option<AdminCaller>,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = request.uri().path().to_owned();
    let rest = path.strip_prefix(ADMIN_PREFIX).unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method().clone();
    if segments.as_slice() == ["openapi.json"] {
        return match method {
            Method::GET => json_response(StatusCode::OK, openapi()),
            _ => error(StatusCode::METHOD_NOT_ALLOWED, "GET only"),
        };
    }
    if state.admin_tokens.is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "the admin API is off (no admin.tokens configured)",
        );
    }
    let Some(AdminCaller(caller)) = caller else {
        // The authentication layer lets no admin request through without a caller.
        return error(
            StatusCode::UNAUTHORIZED,
            "admin authentication required: Authorization: Bearer <admin token>",
        );
    };
    let ctx = Ctx {
        state,
        actor: format!("admin:{}", caller.token_name),
        scim_base: base_url(state, request.headers(), request.uri()),
        origin: origin_url(state, request.headers(), request.uri()),
        surface,
        query: query_pairs(request.uri().query()),
        path: path.clone(),
    };
    match segments.as_slice() {
        ["tenants"] | ["tenants", _] | ["tenants", _, "endpoint"] => {
            let rest = segments.get(1..).unwrap_or_default();
            tenants::route(&ctx, rest, method, request).await
        }
        ["tenants", tenant, "tokens", rest @ ..] => {
            tokens::route(&ctx, tenant, rest, method, request).await
        }
        ["tenants", tenant, "oauth", "clients", rest @ ..] => {
            oauth::route(&ctx, tenant, rest, method, request).await
        }
        ["tenants", tenant, "audit"] => links::audit_log(&ctx, tenant, method).await,
        ["tenants", tenant, "drift"] => links::drift(&ctx, tenant, method).await,
        ["tenants", tenant, "requests"] => requests::request_log(&ctx, tenant, method).await,
        ["config"] => match method {
            // The file and environment as read at start-up (a change takes a restart).
            Method::GET => json_response(StatusCode::OK, &json!({"options": state.config_options})),
            _ => error(StatusCode::METHOD_NOT_ALLOWED, "GET only"),
        },
        ["tenants", tenant, "links", rest @ ..] => {
            links::route(&ctx, tenant, rest, method, request).await
        }
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint at {path}"),
        ),
    }
}

/// `startIndex` (1-based, default 1) and `count` (default 100, at most 1000).
fn paging(ctx: &Ctx<'_>) -> Result<(u64, u64), String> {
    let number = |name: &str, default: u64| match ctx.param(name) {
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

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Checks a body's keys: only `allowed` ones, so a typo is an error, not ignored.
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

/// The OpenAPI 3.0 description of this API (`openapi.json` beside this file, read once).
pub fn openapi() -> &'static Value {
    static DOCUMENT: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        // The document is part of the build and checked by a test: it always parses.
        serde_json::from_str(include_str!("openapi.json")).unwrap_or(Value::Null)
    })
}

/// A body error in the admin API's form.
fn bad_request(message: impl Into<String>) -> ErrorAnswer {
    ErrorAnswer::new(StatusCode::BAD_REQUEST, message)
}

/// Reads a JSON request body, as SCIM does (415 and 413 in the admin API's form).
async fn read_body<B>(request: Request<B>) -> Result<Value, ErrorAnswer>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    super::extract::json_body(request).await
}

/// `{"total", "startIndex", <key>: items}`.
fn page(total: u64, start: u64, key: &str, items: Vec<Value>) -> Value {
    json!({"total": total, "startIndex": start, key: items})
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
            "/admin/v1/tenants/{tenant}/requests",
            "/admin/v1/tenants/{tenant}/oauth/clients",
            "/admin/v1/tenants/{tenant}/oauth/clients/{id}",
            "/admin/v1/tenants/{tenant}/oauth/clients/{id}/revoke",
            "/admin/v1/tenants/{tenant}/oauth/clients/{id}/secrets",
            "/admin/v1/tenants/{tenant}/oauth/clients/{id}/secrets/{secret}/revoke",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
    }
}
