//! HTTP plumbing of the GitLab emulator: the route table (Grape patterns, with the
//! `/users/:id` digits requirement), both error families, replies with headers,
//! token authentication and dispatch to the handlers.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use super::params::Params;
use super::state::State;
use super::{emails, groups, members, moderation, users};

/// A non-2xx answer in one of GitLab's two error families.
#[derive(Debug)]
pub(super) enum ApiError {
    /// `{"message": <string or field→[errors] map>}` (helpers and model validation).
    Message(StatusCode, Value),
    /// `{"error": "..."}` (Grape parameter validation, unknown routes).
    Grape(StatusCode, String),
}

impl ApiError {
    /// `{"message": "<text>"}` with `status`.
    pub(super) fn message(status: StatusCode, text: impl Into<String>) -> Self {
        ApiError::Message(status, Value::String(text.into()))
    }

    /// Grape's 400 `{"error": "..."}`.
    pub(super) fn grape(text: impl Into<String>) -> Self {
        ApiError::Grape(StatusCode::BAD_REQUEST, text.into())
    }

    /// `not_found!(resource)` → `404 <resource> Not Found`.
    pub(super) fn not_found(resource: &str) -> Self {
        Self::message(StatusCode::NOT_FOUND, format!("404 {resource} Not Found"))
    }

    /// `ActiveRecord::RecordNotFound` rescued by the API → `404 Not found`.
    pub(super) fn record_not_found() -> Self {
        Self::message(StatusCode::NOT_FOUND, "404 Not found")
    }

    /// `forbidden!(reason)`.
    pub(super) fn forbidden(reason: Option<&str>) -> Self {
        Self::message(
            StatusCode::FORBIDDEN,
            match reason {
                Some(r) => format!("403 Forbidden - {r}"),
                None => "403 Forbidden".to_string(),
            },
        )
    }

    /// `conflict!(message)`.
    pub(super) fn conflict(text: &str) -> Self {
        Self::message(StatusCode::CONFLICT, text)
    }

    /// `bad_request!(reason)`.
    pub(super) fn bad_request(reason: &str) -> Self {
        Self::message(
            StatusCode::BAD_REQUEST,
            format!("400 Bad request - {reason}"),
        )
    }

    /// `render_validation_error!`: 400 with the model's field → messages map.
    pub(super) fn validation(errors: &[(String, Vec<String>)]) -> Self {
        let map: serde_json::Map<String, Value> =
            errors.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        ApiError::Message(StatusCode::BAD_REQUEST, Value::Object(map))
    }

    fn parts(&self) -> (StatusCode, Value) {
        match self {
            ApiError::Message(s, v) => (*s, json!({ "message": v })),
            ApiError::Grape(s, t) => (*s, json!({ "error": t })),
        }
    }

    /// The JSON body (for unit tests).
    #[cfg(test)]
    pub(super) fn body_text(&self) -> String {
        self.parts().1.to_string()
    }

    pub(super) fn into_response(self) -> Response<Full<Bytes>> {
        let (status, body) = self.parts();
        json_response(status, body.to_string().into_bytes(), Vec::new())
    }
}

/// A successful answer with its extra headers.
pub(super) struct Reply {
    status: StatusCode,
    body: Option<Vec<u8>>,
    headers: Vec<(&'static str, String)>,
}

pub(super) type ApiResult = Result<Reply, ApiError>;

impl Reply {
    pub(super) fn json(status: StatusCode, value: &Value) -> ApiResult {
        Ok(Reply {
            status,
            body: Some(value.to_string().into_bytes()),
            headers: Vec::new(),
        })
    }

    pub(super) fn ok(value: &Value) -> ApiResult {
        Self::json(StatusCode::OK, value)
    }

    pub(super) fn created(value: &Value) -> ApiResult {
        Self::json(StatusCode::CREATED, value)
    }

    /// A list with pagination headers.
    pub(super) fn page(items: Vec<Value>, headers: Vec<(&'static str, String)>) -> ApiResult {
        Ok(Reply {
            status: StatusCode::OK,
            body: Some(Value::Array(items).to_string().into_bytes()),
            headers,
        })
    }

    pub(super) fn no_content() -> ApiResult {
        Ok(Reply {
            status: StatusCode::NO_CONTENT,
            body: None,
            headers: Vec::new(),
        })
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        match self.body {
            Some(b) => json_response(self.status, b, self.headers),
            None => {
                let mut resp = Response::new(Full::new(Bytes::new()));
                *resp.status_mut() = self.status;
                resp
            }
        }
    }
}

fn json_response(
    status: StatusCode,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    resp
}

/// The catch-all route: `{"error":"404 Not Found"}`.
pub(super) fn route_not_found() -> Response<Full<Bytes>> {
    ApiError::Grape(StatusCode::NOT_FOUND, "404 Not Found".to_string()).into_response()
}

/// Moderation actions on a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Block,
    Unblock,
    Deactivate,
    Activate,
    Ban,
    Unban,
    Approve,
}

/// A matched API route; string parameters are percent-decoded path segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    CurrentUser,
    Users,
    User(u64),
    UserAction(u64, Action),
    UserEmails(u64),
    UserEmail(u64, String),
    UserIdentity(u64, String),
    UserMemberships(String),
    Groups,
    Group(String),
    GroupMembers(String),
    GroupMembersAll(String),
    GroupMember(String, String),
    GroupMemberAll(String, String),
}

fn decode(seg: &str) -> String {
    percent_decode(seg)
}

/// Percent-decoding of a path segment (`+` stays a plus).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| {
            bytes
                .get(j)
                .and_then(|c| (*c as char).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `requirements: { id: /[0-9]*/ }` of the users resource.
fn digits(seg: &str) -> Option<u64> {
    if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seg.parse().ok()
}

impl Route {
    /// Matches method and path; `None` falls to the catch-all 404.
    pub(super) fn parse(method: &Method, path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/api/v4/")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let segs: Vec<&str> = rest.split('/').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return None;
        }
        let m = method.as_str();
        let route = match segs.as_slice() {
            ["user"] => Route::CurrentUser,
            ["users"] => Route::Users,
            ["users", id] => Route::User(digits(id)?),
            ["users", id, action] => {
                let id = digits(id);
                match *action {
                    "block" => Route::UserAction(id?, Action::Block),
                    "unblock" => Route::UserAction(id?, Action::Unblock),
                    "deactivate" => Route::UserAction(id?, Action::Deactivate),
                    "activate" => Route::UserAction(id?, Action::Activate),
                    "ban" => Route::UserAction(id?, Action::Ban),
                    "unban" => Route::UserAction(id?, Action::Unban),
                    "approve" => Route::UserAction(id?, Action::Approve),
                    "emails" => Route::UserEmails(id?),
                    "memberships" => Route::UserMemberships(decode(segs.get(1)?)),
                    _ => return None,
                }
            }
            ["users", id, "emails", e] => Route::UserEmail(digits(id)?, decode(e)),
            ["users", id, "identities", p] => Route::UserIdentity(digits(id)?, decode(p)),
            ["groups"] => Route::Groups,
            ["groups", g] => Route::Group(decode(g)),
            ["groups", g, "members"] => Route::GroupMembers(decode(g)),
            ["groups", g, "members", "all"] => Route::GroupMembersAll(decode(g)),
            ["groups", g, "members", "all", u] => Route::GroupMemberAll(decode(g), decode(u)),
            ["groups", g, "members", u] => Route::GroupMember(decode(g), decode(u)),
            _ => return None,
        };
        route.methods().contains(&m).then_some(route)
    }

    /// The Grape pattern used for request counters.
    pub(super) fn pattern(&self) -> &'static str {
        match self {
            Route::CurrentUser => "/api/v4/user",
            Route::Users => "/api/v4/users",
            Route::User(_) => "/api/v4/users/:id",
            Route::UserAction(_, Action::Block) => "/api/v4/users/:id/block",
            Route::UserAction(_, Action::Unblock) => "/api/v4/users/:id/unblock",
            Route::UserAction(_, Action::Deactivate) => "/api/v4/users/:id/deactivate",
            Route::UserAction(_, Action::Activate) => "/api/v4/users/:id/activate",
            Route::UserAction(_, Action::Ban) => "/api/v4/users/:id/ban",
            Route::UserAction(_, Action::Unban) => "/api/v4/users/:id/unban",
            Route::UserAction(_, Action::Approve) => "/api/v4/users/:id/approve",
            Route::UserEmails(_) => "/api/v4/users/:id/emails",
            Route::UserEmail(..) => "/api/v4/users/:id/emails/:email_id",
            Route::UserIdentity(..) => "/api/v4/users/:id/identities/:provider",
            Route::UserMemberships(_) => "/api/v4/users/:user_id/memberships",
            Route::Groups => "/api/v4/groups",
            Route::Group(_) => "/api/v4/groups/:id",
            Route::GroupMembers(_) => "/api/v4/groups/:id/members",
            Route::GroupMembersAll(_) => "/api/v4/groups/:id/members/all",
            Route::GroupMember(..) => "/api/v4/groups/:id/members/:user_id",
            Route::GroupMemberAll(..) => "/api/v4/groups/:id/members/all/:user_id",
        }
    }

    fn methods(&self) -> &'static [&'static str] {
        match self {
            Route::CurrentUser
            | Route::UserMemberships(_)
            | Route::GroupMembersAll(_)
            | Route::GroupMemberAll(..) => &["GET"],
            Route::Users | Route::Groups | Route::UserEmails(_) | Route::GroupMembers(_) => {
                &["GET", "POST"]
            }
            Route::User(_) | Route::Group(_) | Route::GroupMember(..) => &["GET", "PUT", "DELETE"],
            Route::UserAction(..) => &["POST"],
            Route::UserEmail(..) | Route::UserIdentity(..) => &["DELETE"],
        }
    }

    /// Routes a non-administrator token may use.
    fn open_to_users(&self, method: &Method) -> bool {
        *method == Method::GET && matches!(self, Route::CurrentUser | Route::Users | Route::User(_))
    }
}

/// The authenticated caller and the request's URL parts (for `Link` headers).
pub(super) struct Ctx<'a> {
    pub actor: u64,
    pub admin: bool,
    pub path: &'a str,
    pub query: &'a [(String, String)],
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Resolves the caller: `PRIVATE-TOKEN`, `Authorization: Bearer`, or the `private_token` /
/// `access_token` query parameters. Blocked and deactivated owners are refused with 403.
pub(super) fn authenticate(
    st: &State,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<u64, ApiError> {
    let from_query = |key: &str| {
        query
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let token = header_str(headers, "private-token")
        .or_else(|| {
            header_str(headers, "authorization").and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
        })
        .or_else(|| from_query("private_token"))
        .or_else(|| from_query("access_token"));
    let unauthorized = || ApiError::message(StatusCode::UNAUTHORIZED, "401 Unauthorized");
    let user = token
        .and_then(|t| st.tokens.get(t))
        .and_then(|id| st.users.get(id))
        .ok_or_else(unauthorized)?;
    if user.blocked() {
        return Err(ApiError::forbidden(Some("Your account has been blocked.")));
    }
    if user.state == "deactivated" {
        return Err(ApiError::forbidden(Some(
            "Your account has been deactivated by your administrator. Please log back in to reactivate your account.",
        )));
    }
    Ok(user.id)
}

/// Runs the handler of an authenticated request.
pub(super) fn dispatch(
    st: &mut State,
    ctx: &Ctx<'_>,
    method: &Method,
    route: Route,
    mut params: Params,
) -> Response<Full<Bytes>> {
    if !ctx.admin && !route.open_to_users(method) {
        return ApiError::forbidden(None).into_response();
    }
    let m = method.as_str();
    let result = match route {
        Route::CurrentUser => users::current(st, ctx),
        Route::Users if m == "GET" => users::list(st, ctx, &params),
        Route::Users => users::create(st, ctx, &params),
        Route::User(id) if m == "GET" => users::get(st, ctx, id),
        Route::User(id) if m == "PUT" => users::update(st, id, &params),
        Route::User(id) => moderation::delete(st, id, &params),
        Route::UserAction(id, action) => moderation::act(st, ctx, id, action),
        Route::UserEmails(id) if m == "GET" => emails::list_emails(st, ctx, id, &params),
        Route::UserEmails(id) => emails::add_email(st, id, &params),
        Route::UserEmail(id, email_id) => emails::delete_email(st, id, &email_id),
        Route::UserIdentity(id, provider) => emails::delete_identity(st, id, &provider),
        Route::UserMemberships(uid) => {
            params.set("user_id", &uid);
            members::memberships(st, ctx, &params)
        }
        Route::Groups if m == "GET" => groups::list(st, ctx, &params),
        Route::Groups => groups::create(st, ctx, &params),
        Route::Group(g) if m == "GET" => groups::get(st, &g),
        Route::Group(g) if m == "PUT" => groups::update(st, &g, &params),
        Route::Group(g) => groups::delete(st, &g),
        Route::GroupMembers(g) if m == "GET" => members::list(st, ctx, &g, &params, false),
        Route::GroupMembers(g) => members::add(st, ctx, &g, &params),
        Route::GroupMembersAll(g) => members::list(st, ctx, &g, &params, true),
        Route::GroupMember(g, u) => {
            params.set("user_id", &u);
            match m {
                "GET" => members::get(st, &g, &params, false),
                "PUT" => members::update(st, &g, &params),
                _ => members::remove(st, &g, &params),
            }
        }
        Route::GroupMemberAll(g, u) => {
            params.set("user_id", &u);
            members::get(st, &g, &params, true)
        }
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
    fn matches_routes() {
        let get = Method::GET;
        assert_eq!(
            Route::parse(&get, "/api/v4/users/12/"),
            Some(Route::User(12))
        );
        assert_eq!(Route::parse(&get, "/api/v4/users/abc"), None);
        assert_eq!(
            Route::parse(&get, "/api/v4/groups/eng%2Fsub/members/all/7"),
            Some(Route::GroupMemberAll("eng/sub".into(), "7".into()))
        );
        assert_eq!(
            Route::parse(&Method::POST, "/api/v4/users/3/block"),
            Some(Route::UserAction(3, Action::Block))
        );
        assert_eq!(Route::parse(&get, "/api/v4/users/3/block"), None);
        assert_eq!(Route::parse(&Method::PATCH, "/api/v4/users"), None);
        assert_eq!(Route::parse(&get, "/api/v4//users"), None);
        assert_eq!(percent_decode("a%2fb%zz+"), "a/b%zz+");
    }
}
