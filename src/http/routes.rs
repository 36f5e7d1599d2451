//! Where a request goes: the area of the gateway its path names (the public operational
//! endpoints, the admin API, a tenant's SCIM API) and, inside SCIM, the endpoint (RFC 7644
//! §3.2: `/Users`, `/Groups`, `/.search`, `/Bulk`, the discovery endpoints of §4, `/Me`), with
//! the methods each allows (405 with `Allow` otherwise).

use http::{header, HeaderValue, Method, StatusCode};

use super::error::ErrorAnswer;
use super::response::HttpResponse;
use super::Surface;
use crate::scim::{Dialect, ResourceKind};
use crate::tenants::DEFAULT_TENANT;

/// The admin API's path prefix.
pub const ADMIN_PREFIX: &str = "/admin/v1";

/// The part of the gateway a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area<'a> {
    /// `GET /healthz`: the process serves (public).
    Health,
    /// `GET /info`: version and commit (public).
    Info,
    /// `GET /readyz`: whether the store and each backend can be reached (public, or on the
    /// management address).
    Ready,
    /// `GET /metrics`: the Prometheus exposition (public, or on the management address).
    Metrics,
    /// `GET /docs/dialect/<dialect>`: what a tenant of that dialect accepts (public; a
    /// ServiceProviderConfig's `documentationUri`).
    DialectDoc(Dialect),
    /// `/admin/v1...` on a listener that serves the admin API.
    Admin,
    /// A tenant's OAuth authorization server (public: its clients authenticate in the token
    /// request itself).
    OAuth {
        /// The tenant's id.
        tenant: &'a str,
        /// Which of its endpoints.
        endpoint: OAuthEndpoint,
    },
    /// A tenant's SCIM API.
    Scim {
        /// The protocol version its URL names.
        version: ScimVersion,
        /// The tenant's id (`default` at the bare base path).
        tenant: &'a str,
        /// Whether the path names the tenant (`/scim/v2/acme/...`).
        named: bool,
        /// The path after the base path and the tenant (`/Users/2819c223`).
        rest: &'a str,
    },
    /// Nothing here.
    Nowhere,
}

/// The SCIM version a URL names: 2.0 under the base path (`/scim/v2`), 1.1 under its `v1`
/// sibling (`/scim/v1`, served when the base path ends in `/v2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimVersion {
    /// RFC 7643/7644.
    V2,
    /// SCIM 1.1 (`crate::scim::v1`).
    V1,
}

/// The path after the SCIM 1.1 base (`/scim/v1` beside a `/scim/v2` base path).
fn strip_v1_base<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    let stem = base.strip_suffix("/v2")?;
    strip_base(path.strip_prefix(stem)?, "/v1")
}

/// The SCIM 1.1 base path beside a 2.0 one, when it is served.
pub fn v1_base_path(base: &str) -> Option<String> {
    base.strip_suffix("/v2").map(|stem| format!("{stem}/v1"))
}

/// An endpoint of a tenant's OAuth authorization server (`crate::oauth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthEndpoint {
    /// `/oauth/<tenant>/token` (RFC 6749 §3.2).
    Token,
    /// `/.well-known/oauth-authorization-server/oauth/<tenant>` (RFC 8414 §3: the well-known
    /// segment goes between the host and the issuer's path).
    Metadata,
}

/// The OAuth endpoint a path names, with its tenant.
fn oauth_endpoint(path: &str) -> Option<(&str, OAuthEndpoint)> {
    let named = |tenant: &str| crate::config::check_name(tenant).is_ok();
    if let Some(tenant) = path.strip_prefix("/.well-known/oauth-authorization-server/oauth/") {
        return named(tenant).then_some((tenant, OAuthEndpoint::Metadata));
    }
    let (tenant, rest) = path.strip_prefix("/oauth/")?.split_once('/')?;
    (rest == "token" && named(tenant)).then_some((tenant, OAuthEndpoint::Token))
}

/// What the tower layers need to know of where a request goes, before it is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Landing {
    /// The admin API answers it (its refusals are in the admin API's form, else SCIM's).
    pub admin: bool,
    /// A tenant's `/Bulk` endpoint (its own body limit, no whole-request timeout).
    pub bulk: bool,
}

/// Where a request to a listener serving `surface` lands.
pub fn landing(method: &Method, path: &str, base_path: &str, surface: Surface) -> Landing {
    match area(method, path, base_path, surface) {
        Area::Admin => Landing {
            admin: true,
            bulk: false,
        },
        Area::Scim { rest, version, .. } => Landing {
            admin: false,
            bulk: version == ScimVersion::V2 && ScimRoute::parse(rest) == ScimRoute::Bulk,
        },
        Area::Health
        | Area::Info
        | Area::Ready
        | Area::Metrics
        | Area::DialectDoc(_)
        | Area::OAuth { .. }
        | Area::Nowhere => Landing {
            admin: false,
            bulk: false,
        },
    }
}

/// The area of a request to a listener serving `surface`, with SCIM under `base_path`.
pub fn area<'a>(method: &Method, path: &'a str, base_path: &str, surface: Surface) -> Area<'a> {
    match (path, method) {
        ("/healthz", &Method::GET) => return Area::Health,
        ("/readyz", &Method::GET) => return Area::Ready,
        ("/metrics", &Method::GET) => return Area::Metrics,
        // The management address serves those three and nothing else.
        _ if surface == Surface::Management => return Area::Nowhere,
        ("/info", &Method::GET) => return Area::Info,
        (_, &Method::GET) => {
            if let Some(dialect) = path.strip_prefix("/docs/dialect/").and_then(Dialect::parse) {
                return Area::DialectDoc(dialect);
            }
        }
        _ => {}
    }
    let admin_path = path == ADMIN_PREFIX
        || path
            .strip_prefix(ADMIN_PREFIX)
            .is_some_and(|rest| rest.starts_with('/'));
    if admin_path && surface != Surface::ScimOnly {
        return Area::Admin;
    }
    if surface == Surface::AdminOnly {
        return Area::Nowhere;
    }
    if let Some((tenant, endpoint)) = oauth_endpoint(path) {
        return Area::OAuth { tenant, endpoint };
    }
    let (version, rest) = match strip_base(path, base_path) {
        Some(rest) => (ScimVersion::V2, rest),
        None => match strip_v1_base(path, base_path) {
            Some(rest) => (ScimVersion::V1, rest),
            None => return Area::Nowhere,
        },
    };
    let (tenant, named, rest) = split_tenant(rest);
    Area::Scim {
        version,
        tenant,
        named,
        rest,
    }
}

fn strip_base<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The tenant a path under the base names, whether the path names it, and the rest of the
/// path: `/acme/Users` is tenant `acme`; `/Users` is the `default` tenant (tenant ids are
/// lower-case, SCIM endpoints are not, and the lower-case endpoint names are reserved). A
/// lone segment is always one of the default tenant's endpoints, so `/acme` and `/<anything>`
/// answer the same 404 and tell nothing of which tenants exist.
fn split_tenant(rest: &str) -> (&str, bool, &str) {
    let trimmed = rest.trim_start_matches('/');
    let (first, after) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let names_an_endpoint = after.split('/').any(|s| !s.is_empty());
    match trimmed.get(first.len()..) {
        Some(rest) if names_an_endpoint && crate::config::check_name(first).is_ok() => {
            (first, true, rest)
        }
        _ => (DEFAULT_TENANT, false, rest),
    }
}

/// A SCIM endpoint (RFC 7644 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimRoute<'a> {
    /// `/Users`, `/Groups`: list (GET), create (POST).
    Resources(ResourceKind),
    /// `/Users/{id}`: read, replace, modify, delete.
    Resource(ResourceKind, &'a str),
    /// `/Users/.search` or, for every type served, `/.search` (§3.4.3).
    Search(Option<ResourceKind>),
    /// `/ServiceProviderConfig` (§4).
    ServiceProviderConfig,
    /// `/ResourceTypes`.
    ResourceTypes,
    /// `/ResourceTypes/{id}`.
    ResourceType(&'a str),
    /// `/Schemas`.
    Schemas,
    /// `/Schemas/{urn}`.
    Schema(&'a str),
    /// `/Bulk` (§3.7).
    Bulk,
    /// `/Me` (§3.11): not served.
    Me,
    /// No SCIM endpoint.
    Unknown,
}

impl<'a> ScimRoute<'a> {
    /// The endpoint a path (after the base path and tenant) names.
    pub fn parse(rest: &'a str) -> ScimRoute<'a> {
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let kind = |s: &str| ResourceKind::from_endpoint(s);
        match segments.as_slice() {
            [endpoint] if kind(endpoint).is_some() => {
                kind(endpoint).map_or(ScimRoute::Unknown, ScimRoute::Resources)
            }
            [endpoint, ".search"] if kind(endpoint).is_some() => ScimRoute::Search(kind(endpoint)),
            [".search"] => ScimRoute::Search(None),
            [endpoint, id] if kind(endpoint).is_some() => {
                kind(endpoint).map_or(ScimRoute::Unknown, |k| ScimRoute::Resource(k, id))
            }
            ["ServiceProviderConfig"] => ScimRoute::ServiceProviderConfig,
            ["ResourceTypes"] => ScimRoute::ResourceTypes,
            ["ResourceTypes", id] => ScimRoute::ResourceType(id),
            ["Schemas"] => ScimRoute::Schemas,
            ["Schemas", id] => ScimRoute::Schema(id),
            ["Bulk"] => ScimRoute::Bulk,
            ["Me", ..] => ScimRoute::Me,
            _ => ScimRoute::Unknown,
        }
    }

    /// The methods the endpoint allows, as an `Allow` header lists them; `None` when any
    /// method reaches it (to be answered 404 or 501).
    pub fn allowed(&self) -> Option<&'static str> {
        match self {
            ScimRoute::Resources(_) => Some("GET, POST"),
            ScimRoute::Resource(..) => Some("GET, PUT, PATCH, DELETE"),
            ScimRoute::Search(_) | ScimRoute::Bulk => Some("POST"),
            ScimRoute::ServiceProviderConfig
            | ScimRoute::ResourceTypes
            | ScimRoute::ResourceType(_)
            | ScimRoute::Schemas
            | ScimRoute::Schema(_) => Some("GET"),
            ScimRoute::Me | ScimRoute::Unknown => None,
        }
    }

    /// Whether the endpoint allows `method`.
    pub fn allows(&self, method: &Method) -> bool {
        self.allowed()
            .is_none_or(|allow| allow.split(", ").any(|m| m == method.as_str()))
    }
}

/// 405 in SCIM form, naming what is allowed.
pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = ErrorAnswer::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed here; allowed: {allow}"),
    )
    .scim_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_tenant() {
        assert_eq!(split_tenant(""), ("default", false, ""));
        assert_eq!(split_tenant("/Users"), ("default", false, "/Users"));
        assert_eq!(split_tenant("/Users/abc"), ("default", false, "/Users/abc"));
        assert_eq!(split_tenant("/acme/Users"), ("acme", true, "/Users"));
        assert_eq!(split_tenant("/acme/Users/x"), ("acme", true, "/Users/x"));
        assert_eq!(split_tenant("/default/Users"), ("default", true, "/Users"));
        // A lone segment, a tenant's or not, is a (missing) endpoint of the default tenant.
        assert_eq!(split_tenant("/acme"), ("default", false, "/acme"));
        assert_eq!(split_tenant("/acme/"), ("default", false, "/acme/"));
        assert_eq!(
            split_tenant("/65207616-9f5b-4ae6-96a9-aefefda5106c"),
            ("default", false, "/65207616-9f5b-4ae6-96a9-aefefda5106c")
        );
        // Upper case and reserved names are never tenants.
        assert_eq!(
            split_tenant("/Acme/Users"),
            ("default", false, "/Acme/Users")
        );
        assert_eq!(
            split_tenant("/users/Users"),
            ("default", false, "/users/Users")
        );
    }

    #[test]
    fn areas_follow_the_listener() {
        let get = Method::GET;
        let both = Surface::ScimAndAdmin;
        assert_eq!(area(&get, "/healthz", "/scim/v2", both), Area::Health);
        assert_eq!(
            area(&Method::POST, "/healthz", "/scim/v2", both),
            Area::Nowhere
        );
        assert_eq!(
            area(&get, "/admin/v1/tenants", "/scim/v2", both),
            Area::Admin
        );
        assert_eq!(area(&get, "/admin/v1x", "/scim/v2", both), Area::Nowhere);
        assert_eq!(
            area(&get, "/admin/v1/tenants", "/scim/v2", Surface::ScimOnly),
            Area::Nowhere
        );
        assert_eq!(
            area(&get, "/scim/v2/Users", "/scim/v2", Surface::AdminOnly),
            Area::Nowhere
        );
        assert_eq!(
            area(&get, "/scim/v2/acme/Users", "/scim/v2", both),
            Area::Scim {
                version: ScimVersion::V2,
                tenant: "acme",
                named: true,
                rest: "/Users"
            }
        );
        assert_eq!(
            area(&get, "/scim/v2x/Users", "/scim/v2", both),
            Area::Nowhere
        );
        assert_eq!(
            area(&get, "/scim/v1/acme/Users", "/scim/v2", both),
            Area::Scim {
                version: ScimVersion::V1,
                tenant: "acme",
                named: true,
                rest: "/Users"
            }
        );
        assert_eq!(
            area(&get, "/scim/v1x/Users", "/scim/v2", both),
            Area::Nowhere
        );
        // A base path not ending in /v2 serves no 1.1: `v1` is a tenant there.
        assert!(matches!(
            area(&get, "/api/v1/Users", "/api", both),
            Area::Scim {
                version: ScimVersion::V2,
                tenant: "v1",
                ..
            }
        ));
        assert_eq!(v1_base_path("/scim/v2").as_deref(), Some("/scim/v1"));
        assert_eq!(v1_base_path("/api"), None);
    }

    #[test]
    fn endpoints_and_their_methods() {
        assert_eq!(
            ScimRoute::parse("/Users"),
            ScimRoute::Resources(ResourceKind::User)
        );
        assert_eq!(
            ScimRoute::parse("/Groups/g1"),
            ScimRoute::Resource(ResourceKind::Group, "g1")
        );
        assert_eq!(
            ScimRoute::parse("/Users/.search"),
            ScimRoute::Search(Some(ResourceKind::User))
        );
        assert_eq!(ScimRoute::parse("/.search"), ScimRoute::Search(None));
        assert_eq!(ScimRoute::parse("/Me/x"), ScimRoute::Me);
        assert_eq!(ScimRoute::parse("/users"), ScimRoute::Unknown);
        assert_eq!(ScimRoute::parse("/Users/a/b"), ScimRoute::Unknown);
        let resource = ScimRoute::parse("/Users/u1");
        assert!(resource.allows(&Method::PATCH) && !resource.allows(&Method::POST));
        assert!(ScimRoute::Me.allows(&Method::OPTIONS));
        let answer = method_not_allowed("GET");
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.headers()[header::ALLOW], "GET");
    }
}
