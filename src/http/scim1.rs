//! SCIM 1.1 at `/scim/v1[/<tenant>]` (OneLogin's templates, Okta's on-premises agent): the
//! request translated to 2.0 (`crate::scim::v1`), answered by the 2.0 endpoints (`scim.rs`),
//! and the answer translated back. Only the 1.1 endpoints are served: `/Users`, `/Groups`,
//! `/ServiceProviderConfigs` and `/Schemas`; `/Bulk` is 2.0's only (the 1.1 configuration
//! says so). 1.1 answers a DELETE with 200 (1.1 §3.4) and speaks `application/json`.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

use super::error::ErrorAnswer;
use super::extract::{has_filter, json_body, query_pairs, BodyLimit};
use super::layers::TenantRequest;
use super::response::{json_response, HttpResponse};
use super::routes::ScimRoute;
use super::{scim, HttpState};
use crate::scim::v1::{self, is_v1_body};
use crate::scim::{ResourceKind, ScimError, PATCH_OP_SCHEMA};

/// How much larger than the body limit a translated 1.1 body may be.
const TRANSLATED_GROWTH: usize = 8;

fn error(e: &ScimError) -> HttpResponse {
    ErrorAnswer::from_scim(e).scim1_response()
}

/// 405 in SCIM 1.1's form (`{"Errors": [...]}`, as every 1.1 error), naming what is allowed.
fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = ErrorAnswer::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed here; allowed: {allow}"),
    )
    .scim1_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// Answers a request to a tenant's SCIM 1.1 endpoint (after the base path and the tenant).
pub(super) async fn handle<B>(
    state: &HttpState,
    admitted: TenantRequest,
    rest: &str,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let get = request.method() == Method::GET;
    let query = query_pairs(request.uri().query());
    let discovery = &admitted.discovery;
    let base_url = admitted.base_url.as_str();
    match segments.as_slice() {
        ["ServiceProviderConfigs"] if get => json_response(
            StatusCode::OK,
            &v1::service_provider_config_v1(
                &discovery.service_provider_config(base_url, &scim::dialect_doc(&admitted)),
            ),
        ),
        ["ServiceProviderConfigs"] => method_not_allowed("GET"),
        ["Schemas", ..] if !get => method_not_allowed("GET"),
        ["Schemas", ..] if has_filter(&query) => error(&ScimError::forbidden(
            "filtering is not supported on discovery endpoints",
        )),
        ["Schemas"] => {
            let schemas: Vec<Value> = admitted
                .gateway
                .kinds()
                .into_iter()
                .filter_map(|kind| schema_v1(&admitted, kind))
                .collect();
            json_response(
                StatusCode::OK,
                &serde_json::json!({
                    "schemas": [v1::CORE_V1],
                    "totalResults": schemas.len(),
                    "Resources": schemas,
                }),
            )
        }
        ["Schemas", id] => {
            let kind = admitted.gateway.kinds().into_iter().find(|k| {
                let name = k.name();
                *id == format!("{name}s")
                    || id.eq_ignore_ascii_case(&format!("{}:{name}", v1::CORE_V1))
            });
            match kind.and_then(|k| schema_v1(&admitted, k)) {
                Some(schema) => json_response(StatusCode::OK, &schema),
                None => error(&ScimError::not_found(format!("no schema {id}"))),
            }
        }
        [endpoint, ..] if ResourceKind::from_endpoint(endpoint).is_some() => {
            resources(state, admitted, rest, request).await
        }
        ["Bulk"] => error(&ScimError::not_implemented(
            "SCIM 1.1 bulk requests are not served; /Bulk is served at the SCIM 2.0 URL",
        )),
        _ => error(&ScimError::not_found(format!(
            "no SCIM 1.1 endpoint at {}",
            request.uri().path()
        ))),
    }
}

/// The 1.1 resource schema of a resource type the tenant serves.
fn schema_v1(admitted: &TenantRequest, kind: ResourceKind) -> Option<Value> {
    let gateway = &admitted.gateway;
    let rt = gateway.registry.resource_type(kind.name())?;
    let json = |urn: &str| {
        gateway
            .registry
            .schema(urn)
            .map(|s| gateway.registry.schema_json(s, ""))
    };
    let core = json(&rt.schema)?;
    let extensions: Vec<Value> = rt
        .extensions
        .iter()
        .filter_map(|e| json(&e.schema))
        .collect();
    let extensions: Vec<&Value> = extensions.iter().collect();
    Some(v1::resource_schema_v1(kind, &core, &extensions))
}

/// `/Users`, `/Groups` and one of each: the 2.0 endpoint with the body in 2.0 form, its answer
/// in 1.1 form.
async fn resources<B>(
    state: &HttpState,
    admitted: TenantRequest,
    rest: &str,
    request: Request<B>,
) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let route = ScimRoute::parse(rest);
    let (kind, search) = match route {
        ScimRoute::Resources(kind) | ScimRoute::Resource(kind, _) => (kind, false),
        ScimRoute::Search(_) => (ResourceKind::User, true),
        _ => (ResourceKind::User, false),
    };
    if search || matches!(route, ScimRoute::Unknown) {
        return error(&ScimError::not_found(format!(
            "no SCIM 1.1 endpoint at {}",
            request.uri().path()
        )));
    }
    if let (false, Some(allow)) = (route.allows(request.method()), route.allowed()) {
        return method_not_allowed(allow);
    }
    let method = request.method().clone();
    let request = match query_to_v2(kind, request) {
        Ok(request) => request,
        Err(e) => return error(&e),
    };
    let response = if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
        let (mut parts, body) = request.into_parts();
        let body = match json_body(Request::from_parts(parts.clone(), body)).await {
            Ok(body) => body,
            Err(answer) => return answer.scim1_response(),
        };
        let translated = match method {
            Method::PATCH if !is_patch_op(&body) => match v1::patch_to_v2(kind, &body) {
                Ok(patch) => patch,
                Err(e) => return error(&e),
            },
            Method::PATCH => body,
            _ => v1::resource_to_v2(kind, &body),
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/scim+json"),
        );
        let bytes = Bytes::from(translated.to_string());
        // The translation may be larger than what was sent (`meta.attributes` entries become
        // operations): bounded still, at a multiple of the limit.
        let limit = parts
            .extensions
            .get::<BodyLimit>()
            .map_or(usize::MAX, |l| l.bytes.saturating_mul(TRANSLATED_GROWTH));
        let body = Limited::new(Full::new(bytes), limit);
        scim::handle(state, admitted, rest, Request::from_parts(parts, body)).await
    } else {
        scim::handle(state, admitted, rest, request).await
    };
    answer_v1(response, method == Method::DELETE).await
}

/// The request with the 1.1 names in its query parameters in 2.0 form.
fn query_to_v2<B>(kind: ResourceKind, request: Request<B>) -> Result<Request<B>, ScimError> {
    let Some(query) = request.uri().query() else {
        return Ok(request);
    };
    if !query.contains("urn%3Ascim") && !query.contains("urn:scim") && !query.contains("managerId")
    {
        return Ok(request);
    }
    let translated: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query_pairs(Some(query)).into_iter().map(|(k, v)| {
            let v = v1::query_value_to_v2(kind, &v);
            (k, v)
        }))
        .finish();
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    parts.uri = format!("{path}?{translated}").parse().map_err(|_| {
        ScimError::bad_request(
            crate::scim::ScimType::InvalidSyntax,
            "the query cannot be read",
        )
    })?;
    Ok(Request::from_parts(parts, body))
}

/// Whether a PATCH body is already a 2.0 PatchOp request (sent to the 1.1 URL).
fn is_patch_op(body: &Value) -> bool {
    !is_v1_body(body)
        && body
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(PATCH_OP_SCHEMA)))
}

/// A 2.0 answer in 1.1 form: its body translated, `application/json`, a DELETE's 204 a 200.
async fn answer_v1(response: HttpResponse, delete: bool) -> HttpResponse {
    let (mut parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    if delete && parts.status == StatusCode::NO_CONTENT {
        parts.status = StatusCode::OK;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    if bytes.is_empty() {
        return HttpResponse::from_parts(parts, Full::new(bytes));
    }
    let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
        return HttpResponse::from_parts(parts, Full::new(bytes));
    };
    let translated = v1::answer_to_v1(parts.status.as_u16(), &json);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    HttpResponse::from_parts(parts, Full::new(Bytes::from(translated.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `cargo fuzz` (target `request`): `iGET /scim/v1/Users` was answered 405 in
    /// SCIM 2.0's error form.
    #[tokio::test]
    async fn a_405_is_a_scim_1_1_error() {
        let response = method_not_allowed("GET, POST");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, POST");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["Errors"][0]["code"], "405", "{body}");
        assert!(body.get("schemas").is_none(), "{body}");
    }
}
