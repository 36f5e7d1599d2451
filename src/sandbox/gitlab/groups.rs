//! Group endpoints of the GitLab emulator (`lib/api/groups.rb`): list/search, get by id or
//! URL-encoded full path, create (the creator becomes an owner), update, delete (202).

use std::cmp::Ordering;

use http::StatusCode;
use serde_json::json;

use super::pagination::{offset, paging, LinkBase};
use super::params::{Check, Params};
use super::render;
use super::routes::{ApiError, ApiResult, Ctx, Reply};
use super::state::{now, Group, Member, State, ACCESS_LEVELS, OWNER};
use super::validate::{path_error, Errors, BLANK, TAKEN};

const VISIBILITIES: [&str; 3] = ["private", "internal", "public"];

/// `find_group!`: an id or a full path, else 404 `Group Not Found`.
pub(super) fn resolve(st: &State, reference: &str) -> Result<u64, ApiError> {
    st.group_by_ref(reference)
        .ok_or_else(|| ApiError::not_found("Group"))
}

/// Name/path search of `Namespace.search`: substring from 3 characters, exact below.
fn matches_search(g: &Group, q: &str) -> bool {
    let hit = |field: &str| {
        let f = field.to_lowercase();
        if q.chars().count() < 3 {
            f == q
        } else {
            f.contains(q)
        }
    };
    hit(&g.name) || hit(&g.path)
}

/// `GET /groups` (administrators see every group).
pub(super) fn list(st: &State, ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    c.boolean("statistics");
    c.boolean("archived");
    let skip = c.int_list("skip_groups").unwrap_or_default();
    c.boolean("all_available");
    let visibility = c.one_of("visibility", &VISIBILITIES);
    let search = c.string("search").map(|s| s.to_lowercase());
    let owned = c.boolean("owned").unwrap_or(false);
    let order_by = c
        .one_of("order_by", &["name", "path", "id", "similarity"])
        .unwrap_or_else(|| "name".to_string());
    let sort = c
        .one_of("sort", &["asc", "desc"])
        .unwrap_or_else(|| "asc".to_string());
    let min_access = c.integer("min_access_level");
    if min_access.is_some_and(|l| !ACCESS_LEVELS.contains(&l)) {
        c.reject_value("min_access_level");
    }
    let top_level_only = c.boolean("top_level_only").unwrap_or(false);
    let page = paging(&mut c);
    c.finish()?;

    let actor_level = |g: &Group| g.member(ctx.actor).map(|m| m.access_level);
    let mut groups: Vec<&Group> = st
        .groups
        .values()
        .filter(|g| !skip.iter().any(|s| u64::try_from(*s).ok() == Some(g.id)))
        .filter(|g| visibility.as_deref().is_none_or(|v| g.visibility == v))
        .filter(|g| search.as_deref().is_none_or(|q| matches_search(g, q)))
        .filter(|g| !owned || actor_level(g) == Some(OWNER))
        .filter(|g| min_access.is_none_or(|l| actor_level(g).is_some_and(|a| a >= l)))
        .filter(|g| !top_level_only || g.parent_id.is_none())
        .collect();
    let key = |a: &Group, b: &Group| -> Ordering {
        match order_by.as_str() {
            "path" => a.path.cmp(&b.path),
            "id" => Ordering::Equal,
            _ => a.name.cmp(&b.name),
        }
    };
    let similarity = order_by == "similarity" && search.is_some();
    groups.sort_by(|a, b| {
        if similarity {
            let exact = |g: &Group| {
                search
                    .as_deref()
                    .is_some_and(|q| g.name.to_lowercase() == q || g.path.to_lowercase() == q)
            };
            return exact(b)
                .cmp(&exact(a))
                .then(a.name.cmp(&b.name))
                .then(a.id.cmp(&b.id));
        }
        let o = key(a, b);
        let o = if sort == "desc" { o.reverse() } else { o };
        // The id tie-breaker follows `sort` only when ordering by id.
        if order_by == "id" && sort == "desc" {
            o.then(b.id.cmp(&a.id))
        } else {
            o.then(a.id.cmp(&b.id))
        }
    });
    let (items, headers) = offset(groups, page, &LinkBase::new(st, ctx));
    Reply::page(
        items
            .into_iter()
            .map(|g| render::group(st, g, false))
            .collect(),
        headers,
    )
}

/// `GET /groups/:id` → `GroupDetail`.
pub(super) fn get(st: &State, reference: &str) -> ApiResult {
    let id = resolve(st, reference)?;
    let g = st
        .groups
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Group"))?;
    Reply::ok(&render::group(st, g, true))
}

/// Path/name validations of a group about to be saved.
fn group_errors(st: &State, g: &Group) -> Errors {
    let mut e = Errors::default();
    if g.name.trim().is_empty() {
        e.add("name", BLANK);
    } else if g.parent_id.is_some()
        && st
            .groups
            .values()
            .any(|o| o.id != g.id && o.parent_id == g.parent_id && o.name == g.name)
    {
        e.add("name", TAKEN);
    }
    if g.path.is_empty() {
        e.add("path", BLANK);
    } else if let Some(m) = path_error(&g.path) {
        e.add("path", m);
    } else {
        let taken = match g.parent_id {
            None => st.top_level_path_taken(&g.path, None, Some(g.id)),
            Some(p) => st.groups.values().any(|o| {
                o.id != g.id && o.parent_id == Some(p) && o.path.eq_ignore_ascii_case(&g.path)
            }),
        };
        if taken {
            e.add("path", TAKEN);
        }
    }
    e
}

/// Optional attributes shared by create and update.
struct GroupAttrs {
    description: Option<String>,
    visibility: Option<String>,
    request_access_enabled: Option<bool>,
}

fn group_attrs(c: &mut Check<'_>) -> GroupAttrs {
    let a = GroupAttrs {
        description: c.string("description"),
        visibility: c.one_of("visibility", &VISIBILITIES),
        request_access_enabled: c.boolean("request_access_enabled"),
    };
    for k in [
        "lfs_enabled",
        "share_with_group_lock",
        "require_two_factor_authentication",
    ] {
        c.boolean(k);
    }
    a
}

impl GroupAttrs {
    fn apply(self, g: &mut Group) {
        if let Some(d) = self.description {
            g.description = d;
        }
        if let Some(v) = self.visibility {
            g.visibility = v;
        }
        if let Some(r) = self.request_access_enabled {
            g.request_access_enabled = r;
        }
    }
}

/// `POST /groups` → 201 `GroupDetail`; the creator is added as owner.
pub(super) fn create(st: &mut State, ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    c.require("name");
    let name = c.string("name").unwrap_or_default();
    c.require("path");
    let path = c.string("path").unwrap_or_default();
    let parent = c.integer("parent_id");
    c.integer("organization_id");
    let attrs = group_attrs(&mut c);
    c.finish()?;
    let parent_id = match parent {
        Some(p) => Some(resolve(st, &p.to_string())?),
        None => None,
    };
    let t = now();
    let mut g = Group {
        id: 0,
        name,
        path,
        description: String::new(),
        visibility: "private".to_string(),
        parent_id,
        created_at: t,
        request_access_enabled: true,
        members: Vec::new(),
    };
    attrs.apply(&mut g);
    let errors = group_errors(st, &g);
    if !errors.is_empty() {
        return Err(ApiError::message(
            StatusCode::BAD_REQUEST,
            format!("Failed to save group {}", errors.ruby_inspect()),
        ));
    }
    g.id = st.alloc_namespace_id();
    g.members.push(Member {
        seq: st.alloc_member_seq(),
        user_id: ctx.actor,
        access_level: OWNER,
        created_at: t,
        created_by: Some(ctx.actor),
        expires_at: None,
    });
    let id = g.id;
    st.groups.insert(id, g);
    let g = st
        .groups
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Group"))?;
    Reply::created(&render::group(st, g, true))
}

/// `PUT /groups/:id` → 200 `GroupDetail`; failures are model-validation maps.
pub(super) fn update(st: &mut State, reference: &str, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    let name = c.string("name");
    let path = c.string("path");
    let attrs = group_attrs(&mut c);
    c.finish()?;
    let id = resolve(st, reference)?;
    let mut g = st
        .groups
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Group"))?;
    if let Some(n) = name {
        g.name = n;
    }
    if let Some(p) = path {
        g.path = p;
    }
    attrs.apply(&mut g);
    let errors = group_errors(st, &g);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors.entries()));
    }
    st.groups.insert(id, g);
    let g = st
        .groups
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Group"))?;
    Reply::ok(&render::group(st, g, true))
}

/// `DELETE /groups/:id` → 202 `{"message":"202 Accepted"}`; the group and its subgroups go.
pub(super) fn delete(st: &mut State, reference: &str) -> ApiResult {
    let id = resolve(st, reference)?;
    st.remove_group(id);
    Reply::json(StatusCode::ACCEPTED, &json!({"message": "202 Accepted"}))
}
