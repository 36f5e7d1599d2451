//! User endpoints of the GitLab emulator (`lib/api/users.rb`): the current user, list/search
//! with offset or keyset pagination, get, create and update (identities, primary email
//! switch).

use std::cmp::Ordering;

use http::StatusCode;
use serde_json::Value;

use super::pagination::{keyset, offset, paging, LinkBase};
use super::params::{Check, Params};
use super::render;
use super::routes::{ApiError, ApiResult, Ctx, Reply};
use super::state::{now, Email, Identity, State, User, PROFILE_FIELDS};
use super::validate::{email_valid, password_errors, path_error, Errors, BLANK, NOT_OWNED, TAKEN};

/// Offset pagination on `/users` stops here (GitLab ≥ 17.0 enforces keyset past it).
const MAX_OFFSET: usize = 50_000;

/// Keys the admin view has and a user's own public view (`UserPublic`) lacks.
const ADMIN_ONLY_KEYS: [&str; 7] = [
    "is_admin",
    "note",
    "namespace_id",
    "created_by",
    "email_reset_offered_at",
    "current_sign_in_ip",
    "last_sign_in_ip",
];

pub(super) fn user_not_found() -> ApiError {
    ApiError::not_found("User")
}

/// `GET /user`: the token's owner (admin view for administrators).
pub(super) fn current(st: &State, ctx: &Ctx<'_>) -> ApiResult {
    let u = st.users.get(&ctx.actor).ok_or_else(user_not_found)?;
    let mut v = render::user_admin(st, u);
    if !ctx.admin {
        if let Some(obj) = v.as_object_mut() {
            for k in ADMIN_ONLY_KEYS {
                obj.remove(k);
            }
        }
    }
    Reply::ok(&v)
}

/// The optional attributes shared by create and update (`params :optional_attributes`).
#[derive(Default)]
struct Attrs {
    profile: Vec<(&'static str, String)>,
    projects_limit: Option<i64>,
    extern_uid: Option<String>,
    provider: Option<String>,
    public_email: Option<String>,
    commit_email: Option<String>,
    admin: Option<bool>,
    can_create_group: Option<bool>,
    external: Option<bool>,
    theme_id: Option<i64>,
    color_scheme_id: Option<i64>,
    private_profile: Option<bool>,
    private_profile_sent: bool,
}

fn optional_attributes(c: &mut Check<'_>, params: &Params) -> Attrs {
    let mut a = Attrs::default();
    for (key, _) in PROFILE_FIELDS {
        if let Some(v) = c.string(key) {
            a.profile.push((key, v));
        }
    }
    a.projects_limit = c.integer("projects_limit");
    a.extern_uid = c.string("extern_uid");
    a.provider = c.string("provider");
    a.public_email = c.string("public_email");
    a.commit_email = c.string("commit_email");
    a.admin = c.boolean("admin");
    a.can_create_group = c.boolean("can_create_group");
    a.external = c.boolean("external");
    a.theme_id = c.integer("theme_id");
    a.color_scheme_id = c.integer("color_scheme_id");
    a.private_profile = c.boolean("private_profile");
    a.private_profile_sent = params.has("private_profile");
    c.boolean("view_diffs_file_by_file");
    c.all_or_none(&["extern_uid", "provider"]);
    a
}

impl Attrs {
    fn apply(&self, u: &mut User) {
        for (k, v) in &self.profile {
            u.profile.insert(k, v.clone());
        }
        if let Some(n) = self.projects_limit {
            u.projects_limit = n;
        }
        if let Some(e) = &self.public_email {
            u.public_email = (!e.is_empty()).then(|| e.clone());
        }
        if let Some(e) = &self.commit_email {
            u.commit_email = (!e.is_empty()).then(|| e.clone());
        }
        if let Some(b) = self.admin {
            u.is_admin = b;
        }
        if let Some(b) = self.can_create_group {
            u.can_create_group = b;
        }
        if let Some(b) = self.external {
            u.external = b;
        }
        if let Some(n) = self.theme_id {
            u.theme_id = n;
        }
        if let Some(n) = self.color_scheme_id {
            u.color_scheme_id = n;
        }
        if self.private_profile_sent {
            // `private_profile: null` means the instance default (false).
            u.private_profile = self.private_profile.unwrap_or(false);
        }
    }

    fn identity(&self) -> Option<(&str, &str)> {
        Some((self.provider.as_deref()?, self.extern_uid.as_deref()?))
    }
}

/// The `User` model validations that matter to the gateway.
fn model_errors(
    st: &State,
    u: &User,
    password: Option<&str>,
    password_missing: bool,
    email_not_owned: bool,
    identity_taken: bool,
) -> Errors {
    let mut e = Errors::default();
    if u.email.trim().is_empty() {
        e.add("email", BLANK);
    } else if !email_valid(&u.email) {
        e.add("email", "is invalid");
    } else if st.email_owner(&u.email).is_some_and(|o| o != u.id) {
        e.add("email", TAKEN);
    } else if email_not_owned {
        e.add("email", NOT_OWNED);
    }
    if password_missing {
        e.add("password", BLANK);
    }
    if let Some(pw) = password {
        for m in password_errors(pw, &u.username, &u.name, &u.email) {
            e.add("password", m);
        }
    }
    if u.username.is_empty() {
        e.add("username", BLANK);
    } else if let Some(m) = path_error(&u.username) {
        e.add("username", m);
    } else if st.top_level_path_taken(&u.username, Some(u.id), None) {
        e.add("username", TAKEN);
    }
    if u.name.trim().is_empty() {
        e.add("name", BLANK);
    } else if u.name.chars().count() > 255 {
        e.add("name", "is too long (maximum is 255 characters)");
    }
    if u.projects_limit < 0 {
        e.add("projects_limit", "must be greater than or equal to 0");
    } else if u.projects_limit > i64::from(i32::MAX) {
        e.add("projects_limit", "must be less than or equal to 2147483647");
    }
    if u.public_email.as_deref().is_some_and(|p| !u.owns_email(p)) {
        e.add("public_email", NOT_OWNED);
    }
    if u.commit_email
        .as_deref()
        .is_some_and(|c| c != "_private" && !u.owns_email(c))
    {
        e.add("commit_email", NOT_OWNED);
    }
    if identity_taken {
        e.add("identities.extern_uid", TAKEN);
    }
    e
}

/// `POST /users` → 201 admin view.
pub(super) fn create(st: &mut State, ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    c.require("email");
    let email = c.string("email").unwrap_or_default();
    let password = c.string("password");
    let reset = c.boolean("reset_password").unwrap_or(false);
    let skip_confirmation = c.boolean("skip_confirmation").unwrap_or(false);
    c.at_least_one(&["password", "reset_password", "force_random_password"]);
    c.require("name");
    let name = c.string("name").unwrap_or_default();
    c.require("username");
    let username = c.string("username").unwrap_or_default();
    let force_random = c.boolean("force_random_password").unwrap_or(false);
    let attrs = optional_attributes(&mut c, params);
    c.finish()?;

    // Validated under the placeholder id 0, which no user has.
    let mut user = State::blank_user(0, &username, &name, &email);
    attrs.apply(&mut user);
    if skip_confirmation {
        user.confirmed_at = Some(now());
    }
    user.created_by = Some(ctx.actor);
    let generated = reset || force_random;
    let pw = if generated { None } else { password.as_deref() };
    let identity_taken = attrs
        .identity()
        .is_some_and(|(p, x)| st.identity_owner(p, x).is_some());
    let errors = model_errors(
        st,
        &user,
        pw,
        !generated && pw.is_none(),
        false,
        identity_taken,
    );
    if !errors.is_empty() {
        if st.email_owner(&email).is_some() {
            return Err(ApiError::conflict("Email has already been taken"));
        }
        if st.user_by_username(&username).is_some() {
            return Err(ApiError::conflict("Username has already been taken"));
        }
        return Err(ApiError::validation(errors.entries()));
    }
    user.id = st.alloc_user_id();
    user.namespace_id = st.alloc_namespace_id();
    if let Some((p, x)) = attrs.identity() {
        user.identities.push(Identity {
            provider: p.to_string(),
            extern_uid: Some(x.to_string()),
        });
    }
    let id = user.id;
    st.users.insert(id, user);
    let u = st.users.get(&id).ok_or_else(user_not_found)?;
    Reply::created(&render::user_admin(st, u))
}

/// Switches the primary email: to a confirmed secondary email (the old primary becomes a
/// secondary one), or to anything with `skip_reconfirmation`. False when not allowed.
fn switch_email(st: &mut State, user: &mut User, new: String, skip_reconfirmation: bool) -> bool {
    if new == user.email {
        return true;
    }
    let secondary = user
        .emails
        .iter()
        .position(|e| e.confirmed_at.is_some() && e.email.eq_ignore_ascii_case(&new));
    match secondary {
        Some(i) => {
            user.emails.remove(i);
            let old = std::mem::replace(&mut user.email, new);
            let confirmed_at = user.confirmed_at;
            user.emails.push(Email {
                id: st.alloc_email_id(),
                email: old,
                confirmed_at,
            });
            true
        }
        None if skip_reconfirmation || new.eq_ignore_ascii_case(&user.email) => {
            user.email = new;
            user.confirmed_at = Some(now());
            true
        }
        None => false,
    }
}

/// `PUT /users/:id` → 200 admin view.
pub(super) fn update(st: &mut State, id: u64, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    let email = c.string("email");
    let password = c.string("password");
    let skip_reconfirmation = c.boolean("skip_reconfirmation").unwrap_or(false);
    let name = c.string("name");
    let username = c.string("username");
    let attrs = optional_attributes(&mut c, params);
    c.finish()?;

    let mut user = st.users.get(&id).cloned().ok_or_else(user_not_found)?;
    if email
        .as_deref()
        .is_some_and(|e| st.email_owner(e).is_some_and(|o| o != id))
    {
        return Err(ApiError::conflict("Email has already been taken"));
    }
    if username
        .as_deref()
        .is_some_and(|n| st.user_by_username(n).is_some_and(|o| o != id))
    {
        return Err(ApiError::conflict("Username has already been taken"));
    }
    if let Some(n) = name {
        user.name = n;
    }
    if let Some(n) = username {
        user.username = n;
    }
    let email_not_owned = match email {
        Some(e) => !switch_email(st, &mut user, e, skip_reconfirmation),
        None => false,
    };
    attrs.apply(&mut user);
    if let Some((p, x)) = attrs.identity() {
        // `find_or_create_by(provider)` then `update(extern_uid)`, whose failure on a taken
        // uid is not checked: the row keeps (or gets) no uid and the request succeeds.
        let taken = st.identity_owner(p, x).is_some_and(|o| o != id);
        match user.identities.iter_mut().find(|i| i.provider == p) {
            Some(i) if !taken => i.extern_uid = Some(x.to_string()),
            Some(_) => {}
            None => user.identities.push(Identity {
                provider: p.to_string(),
                extern_uid: (!taken).then(|| x.to_string()),
            }),
        }
    }
    let errors = model_errors(
        st,
        &user,
        password.as_deref(),
        false,
        email_not_owned,
        false,
    );
    if !errors.is_empty() {
        return Err(ApiError::validation(errors.entries()));
    }
    user.updated_at = now();
    st.users.insert(id, user);
    let u = st.users.get(&id).ok_or_else(user_not_found)?;
    Reply::ok(&render::user_admin(st, u))
}

/// `GET /users/:id`: admin view for administrators, `UserBasic` otherwise.
pub(super) fn get(st: &State, ctx: &Ctx<'_>, id: u64) -> ApiResult {
    let u = st.users.get(&id).ok_or_else(user_not_found)?;
    if ctx.admin {
        Reply::ok(&render::user_admin(st, u))
    } else {
        Reply::ok(&render::user_basic(st, u))
    }
}

/// `User.search`'s name/username match: substring from 3 characters, exact below.
fn fuzzy(field: &str, q: &str) -> bool {
    let f = field.to_lowercase();
    if q.chars().count() < 3 {
        f == q
    } else {
        f.contains(q)
    }
}

fn search_matches(u: &User, q: &str, admin: bool) -> bool {
    let email_hit = if admin {
        u.email.eq_ignore_ascii_case(q) || u.emails.iter().any(|e| e.email.eq_ignore_ascii_case(q))
    } else {
        u.public_email
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(q))
    };
    email_hit || fuzzy(&u.name, q) || fuzzy(&u.username, q)
}

/// `User.search`'s ranking: exact public email, username, name, then name and id.
fn search_rank(u: &User, q: &str) -> u8 {
    if u.public_email
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case(q))
    {
        0
    } else if u.username.eq_ignore_ascii_case(q) {
        1
    } else if u.name.to_lowercase() == q {
        2
    } else {
        3
    }
}

fn compare(a: &User, b: &User, order_by: &str) -> Ordering {
    match order_by {
        "name" => a.name.cmp(&b.name),
        "username" => a.username.cmp(&b.username),
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        _ => Ordering::Equal,
    }
    .then(a.id.cmp(&b.id))
}

/// `GET /users`: filters, ordering (admins: `order_by`/`sort`, default id desc), offset or
/// keyset pagination.
pub(super) fn list(st: &State, ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    let username = c.string("username");
    let extern_uid = c.string("extern_uid");
    let provider = c.string("provider");
    let search = c.string("search").map(|s| s.to_lowercase());
    let active = c.boolean("active").unwrap_or(false);
    let external = c.boolean("external").unwrap_or(false);
    let exclude_external = c.boolean("exclude_external").unwrap_or(false);
    let blocked = c.boolean("blocked").unwrap_or(false);
    let created_after = c.datetime("created_after");
    let created_before = c.datetime("created_before");
    for k in [
        "without_projects",
        "exclude_internal",
        "without_project_bots",
        "humans",
    ] {
        c.boolean(k);
    }
    let admins = c.boolean("admins").unwrap_or(false);
    c.all_or_none(&["extern_uid", "provider"]);
    let order_by = c
        .one_of(
            "order_by",
            &["id", "name", "username", "created_at", "updated_at"],
        )
        .unwrap_or_else(|| "id".to_string());
    let sort = c
        .one_of("sort", &["asc", "desc"])
        .unwrap_or_else(|| "desc".to_string());
    let page = paging(&mut c);
    let pagination = c.one_of("pagination", &["offset", "keyset"]);
    let id_after = c.integer("id_after");
    let id_before = c.integer("id_before");
    c.boolean("with_custom_attributes");
    c.finish()?;

    let (created_after, created_before) = if ctx.admin {
        (created_after, created_before)
    } else {
        (None, None)
    };
    let identity = match (extern_uid.as_deref(), provider.as_deref()) {
        (Some(x), Some(p)) if !x.is_empty() && !p.is_empty() => Some((p, x)),
        _ => None,
    };
    let mut users: Vec<&User> = st
        .users
        .values()
        .filter(|u| {
            username
                .as_deref()
                .is_none_or(|n| u.username.eq_ignore_ascii_case(n))
        })
        .filter(|u| {
            search
                .as_deref()
                .is_none_or(|q| search_matches(u, q, ctx.admin))
        })
        .filter(|u| {
            identity.is_none_or(|(p, x)| {
                u.identities.iter().any(|i| {
                    i.provider == p
                        && i.extern_uid
                            .as_deref()
                            .is_some_and(|v| v.eq_ignore_ascii_case(x))
                })
            })
        })
        .filter(|u| !active || u.state == "active")
        .filter(|u| !blocked || matches!(u.state.as_str(), "blocked" | "ldap_blocked"))
        .filter(|u| !external || u.external)
        .filter(|u| !exclude_external || !u.external)
        .filter(|u| !admins || u.is_admin)
        .filter(|u| created_after.is_none_or(|t| u.created_at >= t))
        .filter(|u| created_before.is_none_or(|t| u.created_at <= t))
        .collect();

    let desc = sort == "desc";
    match (ctx.admin, search.as_deref()) {
        (false, Some(q)) => users.sort_by(|a, b| {
            search_rank(a, q)
                .cmp(&search_rank(b, q))
                .then(a.name.cmp(&b.name))
                .then(a.id.cmp(&b.id))
        }),
        (false, None) => users.sort_by_key(|u| std::cmp::Reverse(u.id)),
        (true, _) => users.sort_by(|a, b| {
            let o = compare(a, b, &order_by);
            if desc {
                o.reverse()
            } else {
                o
            }
        }),
    }
    let link = LinkBase::new(st, ctx);
    let render = |u: &&User| {
        if ctx.admin {
            render::user_admin(st, u)
        } else {
            render::user_basic(st, u)
        }
    };
    if pagination.as_deref() == Some("keyset") {
        if order_by != "id" {
            return Err(ApiError::Grape(
                StatusCode::METHOD_NOT_ALLOWED,
                "Keyset pagination is not yet available for this type of request".to_string(),
            ));
        }
        let (key, cursor) = if desc {
            ("id_before", id_before)
        } else {
            ("id_after", id_after)
        };
        let cursor = cursor.and_then(|n| u64::try_from(n).ok());
        users.retain(|u| cursor.is_none_or(|c| if desc { u.id < c } else { u.id > c }));
        let (page_items, headers) = keyset(users, page.per_page, key, |u| u.id.to_string(), &link);
        return Reply::page(page_items.iter().map(render).collect(), headers);
    }
    if (page.page - 1).saturating_mul(page.per_page) > MAX_OFFSET {
        return Err(ApiError::Grape(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Offset pagination has a maximum allowed offset of {MAX_OFFSET} for requests that return objects of type User. Remaining records can be retrieved using keyset pagination."),
        ));
    }
    let (page_items, headers) = offset(users, page, &link);
    Reply::page(page_items.iter().map(render).collect(), headers)
}

/// A user's JSON in the admin view (test accessor).
pub(super) fn admin_json(st: &State, id: u64) -> Option<Value> {
    st.users.get(&id).map(|u| render::user_admin(st, u))
}
