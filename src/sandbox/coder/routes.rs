//! HTTP plumbing of the Coder emulator: route table, session-token authentication,
//! codersdk error bodies, query/body decoding and dispatch to the handlers.

use bytes::Bytes;
use http::{header, HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use serde::{de::DeserializeOwned, Serialize};

use super::state::State;
use super::{groups, users};

/// `codersdk.ValidationError`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub(super) struct Validation {
    pub field: String,
    pub detail: String,
}

impl Validation {
    pub(super) fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Validation {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// The go-playground validator's message for a failed tag.
    pub(super) fn tag(field: &str, tag: &str, value: &str) -> Self {
        Validation::new(
            field,
            format!("Validation failed for tag {tag:?} with value: \"{value}\""),
        )
    }
}

/// A non-2xx answer with a `codersdk.Response` body.
#[derive(Debug)]
pub(super) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub detail: Option<String>,
    pub validations: Vec<Validation>,
}

#[derive(Serialize)]
struct ResponseBody<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "<[Validation]>::is_empty")]
    validations: &'a [Validation],
}

pub(super) const SIGNED_OUT: &str =
    "You are signed out or your session has expired. Please sign in again to continue.";
pub(super) const RESOURCE_NOT_FOUND: &str =
    "Resource not found or you do not have access to this resource";

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            detail: None,
            validations: Vec::new(),
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(super) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub(super) fn validations(mut self, v: Vec<Validation>) -> Self {
        self.validations = v;
        self
    }

    /// `httpapi.ResourceNotFound`.
    pub(super) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, RESOURCE_NOT_FOUND)
    }

    /// Struct validation failure of `httpapi.Read`.
    pub(super) fn validation_failed(v: Vec<Validation>) -> Self {
        Self::bad_request("Validation failed.").validations(v)
    }

    fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal server error occurred.",
        )
        .detail(detail)
    }

    pub(super) fn into_response(self) -> Response<Full<Bytes>> {
        let body = ResponseBody {
            message: &self.message,
            detail: self.detail.as_deref(),
            validations: &self.validations,
        };
        match serde_json::to_vec(&body) {
            Ok(bytes) => json_response(self.status, bytes),
            Err(_) => json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"message":"An internal server error occurred."}"#.to_vec(),
            ),
        }
    }
}

/// A successful answer.
pub(super) struct Reply {
    status: StatusCode,
    body: Option<Vec<u8>>,
}

impl Reply {
    pub(super) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> ApiResult {
        serde_json::to_vec(value)
            .map(|body| Reply {
                status,
                body: Some(body),
            })
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    pub(super) fn ok<T: Serialize + ?Sized>(value: &T) -> ApiResult {
        Self::json(StatusCode::OK, value)
    }

    pub(super) fn message(status: StatusCode, message: &str) -> ApiResult {
        Self::json(
            status,
            &ResponseBody {
                message,
                detail: None,
                validations: &[],
            },
        )
    }

    pub(super) fn no_content() -> ApiResult {
        Ok(Reply {
            status: StatusCode::NO_CONTENT,
            body: None,
        })
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        match self.body {
            Some(b) => json_response(self.status, b),
            None => {
                let mut resp = Response::new(Full::new(Bytes::new()));
                *resp.status_mut() = self.status;
                resp
            }
        }
    }
}

pub(super) type ApiResult = Result<Reply, ApiError>;

fn json_response(status: StatusCode, mut body: Vec<u8>) -> Response<Full<Bytes>> {
    // Go's json.Encoder terminates the document with a newline.
    body.push(b'\n');
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// Decodes a JSON request body like `httpapi.Read` (before struct validation).
pub(super) fn read_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let detail = if body.iter().all(u8::is_ascii_whitespace) {
            "EOF".to_string()
        } else {
            e.to_string()
        };
        ApiError::bad_request("Request body must be valid JSON.").detail(detail)
    })
}

/// Decoded query string, in order.
pub(super) struct Query(Vec<(String, String)>);

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` component decoding (`+` is a space).
fn decode_component(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let mut ahead = bytes.clone();
                match (ahead.next().and_then(hex), ahead.next().and_then(hex)) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        bytes = ahead;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Query {
    pub(super) fn parse(raw: &str) -> Self {
        Query(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode_component(k), decode_component(v)),
                    None => (decode_component(p), String::new()),
                })
                .collect(),
        )
    }

    /// First value of `key` (Go's `url.Values.Get`).
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

/// A matched API route with its path parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route<'a> {
    Users,
    User(&'a str),
    UserProfile(&'a str),
    UserSuspend(&'a str),
    UserActivate(&'a str),
    UserRoles(&'a str),
    UserOrganizations(&'a str),
    Organizations,
    Organization(&'a str),
    OrganizationMembers(&'a str),
    OrganizationMember(&'a str, &'a str),
    OrganizationGroups(&'a str),
    OrganizationGroup(&'a str, &'a str),
    Groups,
    Group(&'a str),
}

impl Route<'_> {
    /// Matches a request path (a trailing slash is ignored).
    pub(super) fn parse(path: &str) -> Option<Route<'_>> {
        let rest = path.strip_prefix("/api/v2/")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let segs: Vec<&str> = rest.split('/').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return None;
        }
        Some(match segs.as_slice() {
            ["users"] => Route::Users,
            ["users", u] => Route::User(u),
            ["users", u, "profile"] => Route::UserProfile(u),
            ["users", u, "status", "suspend"] => Route::UserSuspend(u),
            ["users", u, "status", "activate"] => Route::UserActivate(u),
            ["users", u, "roles"] => Route::UserRoles(u),
            ["users", u, "organizations"] => Route::UserOrganizations(u),
            ["organizations"] => Route::Organizations,
            ["organizations", o] => Route::Organization(o),
            ["organizations", o, "members"] => Route::OrganizationMembers(o),
            ["organizations", o, "members", u] => Route::OrganizationMember(o, u),
            ["organizations", o, "groups"] => Route::OrganizationGroups(o),
            ["organizations", o, "groups", g] => Route::OrganizationGroup(o, g),
            ["groups"] => Route::Groups,
            ["groups", g] => Route::Group(g),
            _ => return None,
        })
    }

    /// The chi-style pattern used for request counters.
    pub(super) fn pattern(&self) -> &'static str {
        match self {
            Route::Users => "/api/v2/users",
            Route::User(_) => "/api/v2/users/{user}",
            Route::UserProfile(_) => "/api/v2/users/{user}/profile",
            Route::UserSuspend(_) => "/api/v2/users/{user}/status/suspend",
            Route::UserActivate(_) => "/api/v2/users/{user}/status/activate",
            Route::UserRoles(_) => "/api/v2/users/{user}/roles",
            Route::UserOrganizations(_) => "/api/v2/users/{user}/organizations",
            Route::Organizations => "/api/v2/organizations",
            Route::Organization(_) => "/api/v2/organizations/{organization}",
            Route::OrganizationMembers(_) => "/api/v2/organizations/{organization}/members",
            Route::OrganizationMember(..) => "/api/v2/organizations/{organization}/members/{user}",
            Route::OrganizationGroups(_) => "/api/v2/organizations/{organization}/groups",
            Route::OrganizationGroup(..) => {
                "/api/v2/organizations/{organization}/groups/{groupName}"
            }
            Route::Groups => "/api/v2/groups",
            Route::Group(_) => "/api/v2/groups/{group}",
        }
    }

    /// Methods served on this route.
    pub(super) fn methods(&self) -> &'static [Method] {
        const GET: &[Method] = &[Method::GET];
        const PUT: &[Method] = &[Method::PUT];
        match self {
            Route::Users | Route::OrganizationGroups(_) => &[Method::GET, Method::POST],
            Route::User(_) => &[Method::GET, Method::DELETE],
            Route::UserRoles(_) => &[Method::GET, Method::PUT],
            Route::UserProfile(_) | Route::UserSuspend(_) | Route::UserActivate(_) => PUT,
            Route::OrganizationMember(..) => &[Method::POST, Method::DELETE],
            Route::Group(_) => &[Method::GET, Method::PATCH, Method::DELETE],
            Route::UserOrganizations(_)
            | Route::Organizations
            | Route::Organization(_)
            | Route::OrganizationMembers(_)
            | Route::OrganizationGroup(..)
            | Route::Groups => GET,
        }
    }
}

/// Session-token check of `httpmw.ExtractAPIKey`.
pub(super) fn authenticate(
    expected: &str,
    headers: &HeaderMap,
    query: &Query,
) -> Result<(), ApiError> {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| *k == "coder_session_token" && !v.is_empty())
        .map(|(_, v)| v.to_string());
    let token = from_cookie
        .or_else(|| {
            query
                .get("coder_session_token")
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        })
        .or_else(|| {
            headers
                .get("Coder-Session-Token")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        });
    let unauthorized =
        |detail: String| ApiError::new(StatusCode::UNAUTHORIZED, SIGNED_OUT).detail(detail);
    let Some(token) = token else {
        return Err(unauthorized(
            "Cookie \"coder_session_token\" or query parameter must be provided.".to_string(),
        ));
    };
    if constant_time_eq(token.as_bytes(), expected.as_bytes()) {
        return Ok(());
    }
    let parts: Vec<&str> = token.split('-').collect();
    let expected_secret_len = expected.split_once('-').map(|(_, s)| s.len());
    let format_error = match parts.as_slice() {
        [id, secret] => {
            if id.len() != 10 {
                Some(format!(
                    "invalid API key ID length, expected 10 got {}",
                    id.len()
                ))
            } else if secret.len() != 22 && Some(secret.len()) != expected_secret_len {
                Some(format!(
                    "invalid API key secret length, expected 22 got {}",
                    secret.len()
                ))
            } else {
                None
            }
        }
        _ => Some(format!(
            "incorrect amount of API key parts, expected 2 got {}",
            parts.len()
        )),
    };
    if let Some(e) = format_error {
        return Err(unauthorized(format!("Invalid API key format: {e}")));
    }
    let same_id = expected
        .split_once('-')
        .is_some_and(|(id, _)| parts.first() == Some(&id));
    Err(unauthorized(if same_id {
        "API key secret is invalid.".to_string()
    } else {
        "API key is invalid.".to_string()
    }))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The 404 for paths no route matches.
pub(super) fn route_not_found() -> Response<Full<Bytes>> {
    ApiError::new(StatusCode::NOT_FOUND, "Route not found.").into_response()
}

/// The 405 for a known path with an unsupported method.
pub(super) fn method_not_allowed(route: &Route<'_>) -> Response<Full<Bytes>> {
    let mut resp =
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.").into_response();
    let allow = route
        .methods()
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(v) = header::HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// Runs the handler of an authenticated request whose method the route serves.
pub(super) fn dispatch(
    st: &mut State,
    method: &Method,
    route: Route<'_>,
    query: &Query,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let result = match (route, method.as_str()) {
        (Route::Users, "GET") => users::list(st, query),
        (Route::Users, "POST") => users::create(st, body),
        (Route::User(u), "GET") => users::get(st, u),
        (Route::User(u), "DELETE") => users::delete(st, u),
        (Route::UserProfile(u), _) => users::update_profile(st, u, body),
        (Route::UserSuspend(u), _) => users::set_status(st, u, "suspended"),
        (Route::UserActivate(u), _) => users::set_status(st, u, "active"),
        (Route::UserRoles(u), "GET") => users::get_roles(st, u),
        (Route::UserRoles(u), _) => users::put_roles(st, u, body),
        (Route::UserOrganizations(u), _) => groups::user_organizations(st, u),
        (Route::Organizations, _) => groups::list_organizations(st),
        (Route::Organization(o), _) => groups::get_organization(st, o),
        (Route::OrganizationMembers(o), _) => groups::list_members(st, o),
        (Route::OrganizationMember(o, u), "POST") => groups::add_member(st, o, u),
        (Route::OrganizationMember(o, u), _) => groups::remove_member(st, o, u),
        (Route::OrganizationGroups(o), "GET") => groups::list_org_groups(st, o, query),
        (Route::OrganizationGroups(o), _) => groups::create_group(st, o, body),
        (Route::OrganizationGroup(o, g), _) => groups::get_group_by_name(st, o, g),
        (Route::Groups, _) => groups::list_groups(st, query),
        (Route::Group(g), "GET") => groups::get_group(st, g),
        (Route::Group(g), "PATCH") => groups::patch_group(st, g, body),
        (Route::Group(g), _) => groups::delete_group(st, g),
        (Route::Users, _) | (Route::User(_), _) => return method_not_allowed(&route),
    };
    match result {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query() {
        let q = Query::parse("q=alice%20status%3Aactive+x&limit=2&flag");
        assert_eq!(q.get("q"), Some("alice status:active x"));
        assert_eq!(q.get("limit"), Some("2"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(decode_component("%zz%4"), "%zz%4");
    }

    #[test]
    fn matches_routes() {
        assert_eq!(Route::parse("/api/v2/users/me/"), Some(Route::User("me")));
        assert_eq!(
            Route::parse("/api/v2/organizations/coder/groups/eng"),
            Some(Route::OrganizationGroup("coder", "eng"))
        );
        assert_eq!(Route::parse("/api/v2/users//roles"), None);
        assert_eq!(Route::parse("/api/v3/users"), None);
    }
}
