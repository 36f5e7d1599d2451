//! `/oauth/<tenant>/token` and `/.well-known/oauth-authorization-server/oauth/<tenant>`: a
//! tenant's OAuth 2.0 token endpoint (RFC 6749 §3.2, §4.4, the client credentials grant) and
//! its authorization server metadata (RFC 8414 §3), over `crate::oauth`. Public: the client
//! authenticates in the token request. Answers are RFC 6749's (§5.1, §5.2), never cached.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use serde_json::Value;

use super::extract::{body_bytes, origin_url};
use super::response::{json_response, HttpResponse};
use super::routes::OAuthEndpoint;
use super::HttpState;
use crate::audit::{Action, Operation, Outcome};
use crate::oauth::{self, Endpoints, ErrorCode, OAuthError};

/// Answers a request to one of `tenant`'s OAuth endpoints.
pub async fn handle<B>(
    state: &HttpState,
    tenant: &str,
    endpoint: OAuthEndpoint,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let origin = origin_url(state, request.headers(), request.uri());
    let endpoints = Endpoints::new(&origin, tenant);
    match (endpoint, request.method()) {
        // The same document for any tenant name: it tells nothing of which tenants exist.
        (OAuthEndpoint::Metadata, &Method::GET) => {
            json_response(StatusCode::OK, &oauth::metadata(&endpoints))
        }
        (OAuthEndpoint::Token, &Method::POST) => {
            let answer = token(state, tenant, &endpoints, request).await;
            let (status, body) = match answer {
                Ok(body) => (StatusCode::OK, body),
                Err(e) => (
                    StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST),
                    e.body(),
                ),
            };
            let mut response = json_response(status, &body);
            let headers = response.headers_mut();
            // §5.1: tokens and refusals are never stored by a cache.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            if status == StatusCode::UNAUTHORIZED {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"scimgate\""),
                );
            }
            response
        }
        (endpoint, _) => {
            let allow = match endpoint {
                OAuthEndpoint::Token => "POST",
                OAuthEndpoint::Metadata => "GET",
            };
            let mut response = json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &OAuthError::new(ErrorCode::InvalidRequest, format!("{allow} only")).body(),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            response
        }
    }
}

/// A token request: the client authenticated, an access token issued and audited.
async fn token<B>(
    state: &HttpState,
    tenant: &str,
    endpoints: &Endpoints,
    request: Request<B>,
) -> Result<Value, OAuthError>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let invalid = |d: String| OAuthError::new(ErrorCode::InvalidRequest, d);
    let form_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        // §4.4.2: the parameters come form-encoded.
        return Err(invalid(
            "send the parameters as application/x-www-form-urlencoded".to_owned(),
        ));
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = body_bytes(request).await.map_err(|e| invalid(e.detail))?;
    let form: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let auth = oauth::parse_token_request(&form, authorization.as_deref())?;
    let record = match state.tenants.record(tenant).await {
        Ok(record) => record,
        Err(e) => {
            tracing::error!(error = %e, tenant, "cannot read a tenant");
            return Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the gateway cannot read its configuration store right now; try again shortly",
            ));
        }
    };
    let issued = state.oauth.issue(record.as_deref(), auth, endpoints).await;
    match issued {
        Ok(issued) => {
            let action = Action {
                tenant,
                actor: &format!("oauth:{}", issued.client.id),
                operation: Operation::AccessTokenIssue,
                resource_type: "OAuthClient",
                target: &issued.client.id,
            };
            let detail = format!("expires in {} s", issued.expires_in);
            state
                .audit
                .record(action, Outcome::success(200, detail))
                .await;
            Ok(oauth::token_answer(&issued.access_token, issued.expires_in))
        }
        Err(e) => {
            tracing::warn!(tenant, error = %e.description, "a token request is refused");
            Err(e)
        }
    }
}
