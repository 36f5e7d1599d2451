//! User endpoints of the Coder emulator (`coderd/users.go`): list/search, get, create,
//! profile, suspend/activate, soft delete and site roles.

use std::collections::BTreeMap;
use std::ops::Bound;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::routes::{read_json, ApiError, ApiResult, Query, Reply, Validation};
use super::search::parse_users_query;
use super::state::{now, site_role_display_name, zero_time, State, User, UserOut};

/// `httpmw.ExtractUserParam`: a miss is a 400, not a 404.
pub(super) fn resolve(st: &State, param: &str) -> Result<Uuid, ApiError> {
    st.resolve_user(param).ok_or_else(|| {
        ApiError::bad_request("\"user\" must be an existing uuid or username.")
            .detail(format!("queried user={param:?}"))
    })
}

fn user_reply(st: &State, id: Uuid, status: StatusCode) -> ApiResult {
    match st.users.get(&id) {
        Some(u) => Reply::json(status, &u.out()),
        None => Err(ApiError::bad_request(
            "\"user\" must be an existing uuid or username.",
        )),
    }
}

/// `codersdk.NameValid` (usernames, group names).
pub(super) fn name_valid(s: &str) -> bool {
    if s.is_empty() || s.len() > 32 || s == "new" || s == "create" {
        return false;
    }
    s.split('-')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `codersdk.UserRealNameValid`.
fn real_name_valid(s: &str) -> bool {
    s.chars().count() <= 128 && s.trim() == s
}

/// A permissive version of the validator's `email` rule.
fn email_valid(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !s.chars().any(char::is_whitespace)
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

#[derive(Serialize)]
struct UsersPage<'a> {
    users: Vec<UserOut<'a>>,
    count: usize,
}

fn positive_int(query: &Query, key: &str, errors: &mut Vec<Validation>) -> usize {
    match query.get(key) {
        None | Some("") => 0,
        Some(v) => match v.parse::<i32>() {
            Ok(n) if n >= 0 => n as usize,
            _ => {
                errors.push(Validation::new(
                    key,
                    format!("Query param {key:?} must be a valid positive integer"),
                ));
                0
            }
        },
    }
}

/// `GET /users`: `{users, count}`, ordered by lower(username).
pub(super) fn list(st: &State, query: &Query) -> ApiResult {
    let filter = parse_users_query(query.get("q").unwrap_or(""))
        .map_err(|v| ApiError::bad_request("Invalid user search query.").validations(v))?;
    let mut errors = Vec::new();
    let after_id = match query.get("after_id") {
        None | Some("") => None,
        Some(v) => match Uuid::parse_str(v) {
            Ok(id) => Some(id),
            Err(e) => {
                errors.push(Validation::new(
                    "after_id",
                    format!("Query param \"after_id\" must be a valid uuid: {e}"),
                ));
                None
            }
        },
    };
    let limit = positive_int(query, "limit", &mut errors);
    let offset = positive_int(query, "offset", &mut errors);
    if !errors.is_empty() {
        return Err(
            ApiError::bad_request("Query parameters have invalid values.").validations(errors),
        );
    }

    let start = match after_id {
        // The cursor row may be soft-deleted; an unknown cursor yields nothing.
        Some(id) => match st.users.get(&id) {
            Some(u) => Bound::Excluded(u.username.to_lowercase()),
            None => {
                return Reply::ok(&UsersPage {
                    users: Vec::new(),
                    count: 0,
                })
            }
        },
        None => Bound::Unbounded,
    };
    let mut count = 0usize;
    let mut page = Vec::new();
    for id in st
        .by_username
        .range::<String, _>((start, Bound::Unbounded))
        .map(|(_, id)| id)
    {
        let Some(u) = st.users.get(id) else { continue };
        if u.deleted || !filter.matches(u) {
            continue;
        }
        if count >= offset && (limit == 0 || page.len() < limit) {
            page.push(u.out());
        }
        count += 1;
    }
    // GetUsers computes the count with a window function: an empty page reports 0.
    if page.is_empty() {
        count = 0;
    }
    Reply::ok(&UsersPage { users: page, count })
}

/// `GET /users/{user}`.
pub(super) fn get(st: &State, param: &str) -> ApiResult {
    let id = resolve(st, param)?;
    user_reply(st, id, StatusCode::OK)
}

/// `codersdk.CreateUserRequestWithOrgs` (plus the deprecated single `organization_id`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct CreateUserRequest {
    email: Option<String>,
    username: Option<String>,
    name: Option<String>,
    password: Option<String>,
    login_type: Option<String>,
    user_status: Option<String>,
    organization_ids: Option<Vec<String>>,
    organization_id: Option<String>,
    service_account: Option<bool>,
}

/// `POST /users` → 201 User.
pub(super) fn create(st: &mut State, body: &[u8]) -> ApiResult {
    let req: CreateUserRequest = read_json(body)?;
    // UUIDs are decoded with the body: a malformed one is a JSON error.
    let mut raw_orgs = req.organization_ids.unwrap_or_default();
    if raw_orgs.is_empty() {
        raw_orgs.extend(req.organization_id);
    }
    let mut org_ids = Vec::with_capacity(raw_orgs.len());
    for raw in &raw_orgs {
        match Uuid::parse_str(raw) {
            Ok(id) => org_ids.push(id),
            Err(e) => {
                return Err(ApiError::bad_request("Request body must be valid JSON.")
                    .detail(format!("invalid UUID {raw:?}: {e}")))
            }
        }
    }
    let email = req.email.unwrap_or_default();
    let username = req.username.unwrap_or_default();
    let name = req.name.unwrap_or_default();
    let password = req.password.unwrap_or_default();

    let mut v = Vec::new();
    if email.is_empty() {
        v.push(Validation::tag("email", "required", &email));
    } else if !email_valid(&email) {
        v.push(Validation::tag("email", "email", &email));
    }
    if username.is_empty() {
        v.push(Validation::tag("username", "required", &username));
    } else if !name_valid(&username) {
        v.push(Validation::tag("username", "username", &username));
    }
    if !real_name_valid(&name) {
        v.push(Validation::tag("name", "user_real_name", &name));
    }
    let status = req.user_status.unwrap_or_default();
    if !matches!(status.as_str(), "" | "active" | "dormant" | "suspended") {
        v.push(Validation::new(
            "user_status",
            format!("{status:?} is not a valid user status"),
        ));
    }
    if !v.is_empty() {
        return Err(ApiError::validation_failed(v));
    }

    let login_type = match req.login_type.as_deref() {
        None | Some("") => "password".to_string(),
        Some(l) => l.to_string(),
    };
    if login_type != "password" && !password.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Password cannot be set for non-password ({login_type:?}) authentication."
        )));
    }
    if org_ids.is_empty() {
        return Err(ApiError::bad_request(
            "No organization specified to place the user as a member of. It is required to specify at least one organization id to place the user in.",
        )
        .detail("required at least 1 value for the array 'organization_ids'")
        .validations(vec![Validation::new(
            "organization_ids",
            "Missing values, this cannot be empty",
        )]));
    }
    if st.by_username.contains_key(&username.to_lowercase())
        || st.by_email.contains_key(&email.to_lowercase())
    {
        return Err(ApiError::new(StatusCode::CONFLICT, "User already exists."));
    }
    for org in org_ids.iter_mut() {
        if org.is_nil() {
            *org = st.default_org;
        } else if !st.orgs.contains_key(org) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "Organization does not exist with the provided id {:?}.",
                    org.to_string()
                ),
            ));
        }
    }
    match login_type.as_str() {
        "password" => {
            let len = password.chars().count();
            let problem = if len < 8 {
                Some("password must be at least 8 characters")
            } else if len > 64 {
                Some("password must be no more than 64 characters")
            } else {
                None
            };
            if let Some(p) = problem {
                return Err(ApiError::bad_request("Password not strong enough!")
                    .validations(vec![Validation::new("password", p)]));
            }
        }
        // OIDC is assumed to be configured on the emulated deployment.
        "oidc" | "github" | "none" => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "Unsupported login type {other:?} for manually creating new users."
            )))
        }
    }

    let t = now();
    let id = Uuid::new_v4();
    st.insert_user(User {
        id,
        username,
        name: name.trim().to_string(),
        email,
        avatar_url: String::new(),
        created_at: t,
        updated_at: t,
        last_seen_at: zero_time(),
        status: if status.is_empty() {
            "dormant".to_string()
        } else {
            status
        },
        login_type,
        theme_preference: String::new(),
        roles: Vec::new(),
        org_ids: Vec::new(),
        deleted: false,
        is_service_account: req.service_account.unwrap_or(false),
        github_com_user_id: 0,
    });
    for org in org_ids {
        st.add_org_member(org, id);
    }
    user_reply(st, id, StatusCode::CREATED)
}

/// `codersdk.UpdateUserProfileRequest`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct UpdateProfileRequest {
    username: Option<String>,
    name: Option<String>,
    avatar_url: Option<String>,
}

/// `PUT /users/{user}/profile` → 200 User. `name` is replaced by the body's value (absent = "").
pub(super) fn update_profile(st: &mut State, param: &str, body: &[u8]) -> ApiResult {
    let id = resolve(st, param)?;
    let req: UpdateProfileRequest = read_json(body)?;
    let username = req.username.unwrap_or_default();
    let name = req.name.unwrap_or_default();
    let mut v = Vec::new();
    if username.is_empty() {
        v.push(Validation::tag("username", "required", &username));
    } else if !name_valid(&username) {
        v.push(Validation::tag("username", "username", &username));
    }
    if !real_name_valid(&name) {
        v.push(Validation::tag("name", "user_real_name", &name));
    }
    if !v.is_empty() {
        return Err(ApiError::validation_failed(v));
    }
    let lower = username.to_lowercase();
    if st.by_username.get(&lower).is_some_and(|other| *other != id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "A user with this username already exists.",
        )
        .validations(vec![Validation::new(
            "username",
            "This username is already in use.",
        )]));
    }
    let Some(user) = st.users.get_mut(&id) else {
        return Err(ApiError::bad_request(
            "\"user\" must be an existing uuid or username.",
        ));
    };
    let old_lower = user.username.to_lowercase();
    user.username = username;
    user.name = name;
    if let Some(a) = req.avatar_url {
        user.avatar_url = a;
    }
    user.updated_at = now();
    if !user.deleted && old_lower != lower {
        st.by_username.remove(&old_lower);
        st.by_username.insert(lower, id);
    }
    user_reply(st, id, StatusCode::OK)
}

/// `PUT /users/{user}/status/suspend|activate` → 200 User.
pub(super) fn set_status(st: &mut State, param: &str, status: &str) -> ApiResult {
    let id = resolve(st, param)?;
    let token_owner = st.token_owner;
    let Some(user) = st.users.get_mut(&id) else {
        return Err(ApiError::bad_request(
            "\"user\" must be an existing uuid or username.",
        ));
    };
    if status == "suspended" {
        if id == token_owner {
            return Err(ApiError::bad_request("You cannot suspend yourself."));
        }
        if user.roles.iter().any(|r| r == "owner") {
            return Err(ApiError::bad_request(
                "You cannot suspend a user with the \"owner\" role. You must remove the role first.",
            ));
        }
    }
    user.status = status.to_string();
    user.updated_at = now();
    user_reply(st, id, StatusCode::OK)
}

/// `DELETE /users/{user}` → 200 `{"message":"User has been deleted!"}` (soft delete).
pub(super) fn delete(st: &mut State, param: &str) -> ApiResult {
    let id = resolve(st, param)?;
    if id == st.token_owner {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "You cannot delete yourself!",
        ));
    }
    delete_user(st, id);
    Reply::message(StatusCode::OK, "User has been deleted!")
}

/// Marks the user deleted, frees its username/email and drops its org/group memberships.
pub(super) fn delete_user(st: &mut State, id: Uuid) {
    let Some(user) = st.users.get_mut(&id) else {
        return;
    };
    user.deleted = true;
    let uname = user.username.to_lowercase();
    let email = user.email.to_lowercase();
    let orgs = user.org_ids.clone();
    if st.by_username.get(&uname) == Some(&id) {
        st.by_username.remove(&uname);
    }
    if st.by_email.get(&email) == Some(&id) {
        st.by_email.remove(&email);
    }
    for org in orgs {
        st.remove_org_member(org, id);
    }
    for g in st.groups.values_mut() {
        g.members.remove(&id);
    }
}

#[derive(Serialize)]
struct UserRoles<'a> {
    roles: &'a [String],
    organization_roles: BTreeMap<String, &'a [String]>,
}

/// `GET /users/{user}/roles` → `codersdk.UserRoles`.
pub(super) fn get_roles(st: &State, param: &str) -> ApiResult {
    let id = resolve(st, param)?;
    let Some(user) = st.users.get(&id) else {
        return Err(ApiError::bad_request(
            "\"user\" must be an existing uuid or username.",
        ));
    };
    let organization_roles = user
        .org_ids
        .iter()
        .filter_map(|o| {
            st.orgs
                .get(o)
                .and_then(|org| org.members.get(&id))
                .map(|m| (o.to_string(), m.roles.as_slice()))
        })
        .collect();
    Reply::ok(&UserRoles {
        roles: &user.roles,
        organization_roles,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UpdateRoles {
    roles: Option<Vec<String>>,
}

/// `PUT /users/{user}/roles` → 200 User; replaces the whole site role set.
pub(super) fn put_roles(st: &mut State, param: &str, body: &[u8]) -> ApiResult {
    let id = resolve(st, param)?;
    if id == st.token_owner {
        return Err(ApiError::bad_request("You cannot change your own roles."));
    }
    let req: UpdateRoles = read_json(body)?;
    let mut roles: Vec<String> = Vec::new();
    for r in req.roles.unwrap_or_default() {
        if site_role_display_name(&r).is_none() {
            return Err(ApiError::bad_request(format!(
                "Invalid role name {r:?}: not a site role."
            )));
        }
        // The member role is implied and never stored.
        if r != "member" && !roles.contains(&r) {
            roles.push(r);
        }
    }
    roles.sort();
    let Some(user) = st.users.get_mut(&id) else {
        return Err(ApiError::bad_request(
            "\"user\" must be an existing uuid or username.",
        ));
    };
    user.roles = roles;
    user_reply(st, id, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coder_name_rules() {
        assert!(name_valid("alice"));
        assert!(name_valid("a-b-c1"));
        assert!(name_valid(&"a".repeat(32)));
        assert!(!name_valid(&"a".repeat(33)));
        assert!(!name_valid("-a"));
        assert!(!name_valid("a-"));
        assert!(!name_valid("a--b"));
        assert!(!name_valid("a_b"));
        assert!(!name_valid("a.b"));
        assert!(!name_valid(""));
        assert!(!name_valid("new"));
    }

    #[test]
    fn email_rules() {
        assert!(email_valid("a@b.example"));
        assert!(email_valid("a.b+c@localhost"));
        assert!(!email_valid("nope"));
        assert!(!email_valid("a@"));
        assert!(!email_valid("a b@c.d"));
        assert!(!email_valid("a@b..c"));
    }
}
