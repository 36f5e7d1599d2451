//! Group membership endpoints of the GitLab emulator (`lib/api/members.rb`): list direct or
//! inherited members, get, add, change the access level, remove; and a user's memberships.
//! A group's last owner can be neither demoted nor removed (`403 Forbidden`).

use std::collections::BTreeMap;

use http::StatusCode;

use super::groups::resolve;
use super::pagination::{offset, paging, LinkBase};
use super::params::{parse_int, Check, Params};
use super::render;
use super::routes::{ApiError, ApiResult, Ctx, Reply};
use super::state::{fmt_date, now, today, Member, State, ACCESS_LEVELS, OWNER};
use super::validate::Errors;

fn level_name(level: i64) -> &'static str {
    match level {
        10 => "Guest",
        15 => "Planner",
        20 => "Reporter",
        30 => "Developer",
        40 => "Maintainer",
        50 => "Owner",
        _ => "Custom",
    }
}

/// Direct members in membership order, or (with `all`) direct plus inherited ones keeping
/// each user's highest level, ordered by user id (the finder's `DISTINCT ON (user_id)`).
fn collect(st: &State, group_id: u64, all: bool) -> Vec<Member> {
    let mut ids = vec![group_id];
    if all {
        ids.extend(st.ancestors(group_id));
    }
    let mut best: BTreeMap<u64, Member> = BTreeMap::new();
    for gid in ids {
        for m in st
            .groups
            .get(&gid)
            .map(|g| g.members.as_slice())
            .unwrap_or_default()
        {
            let keep = best
                .get(&m.user_id)
                .is_none_or(|b| m.access_level > b.access_level);
            if keep {
                best.insert(m.user_id, m.clone());
            }
        }
    }
    let mut out: Vec<Member> = best.into_values().collect();
    if !all {
        out.sort_by_key(|m| m.seq);
    }
    out
}

/// `User.search(query, use_minimum_char_limit: false)` on a member.
fn member_matches(st: &State, m: &Member, q: &str) -> bool {
    st.users.get(&m.user_id).is_some_and(|u| {
        u.name.to_lowercase().contains(q)
            || u.username.to_lowercase().contains(q)
            || u.email.eq_ignore_ascii_case(q)
    })
}

/// `GET /groups/:id/members[/all]`.
pub(super) fn list(
    st: &State,
    ctx: &Ctx<'_>,
    reference: &str,
    params: &Params,
    all: bool,
) -> ApiResult {
    let mut c = Check::new(params);
    let query = c.string("query").map(|q| q.to_lowercase());
    let user_ids = c.int_list("user_ids");
    let skip = if all { None } else { c.int_list("skip_users") };
    c.boolean("show_seat_info");
    let page = paging(&mut c);
    c.finish()?;
    let gid = resolve(st, reference)?;
    let has = |list: &Option<Vec<i64>>, id: u64| {
        list.as_ref()
            .is_some_and(|l| l.iter().any(|x| u64::try_from(*x).ok() == Some(id)))
    };
    let members: Vec<Member> = collect(st, gid, all)
        .into_iter()
        .filter(|m| {
            query
                .as_deref()
                .is_none_or(|q| q.is_empty() || member_matches(st, m, q))
        })
        .filter(|m| user_ids.as_ref().is_none_or(Vec::is_empty) || has(&user_ids, m.user_id))
        .filter(|m| !has(&skip, m.user_id))
        .collect();
    let (items, headers) = offset(members, page, &LinkBase::new(st, ctx));
    Reply::page(
        items.iter().map(|m| render::member(st, m)).collect(),
        headers,
    )
}

/// `requires :user_id, type: Integer`.
fn user_id_param(c: &mut Check<'_>) -> Option<u64> {
    c.require("user_id");
    c.integer("user_id").and_then(|n| u64::try_from(n).ok())
}

/// `GET /groups/:id/members[/all]/:user_id`; a miss is `ActiveRecord::RecordNotFound`.
pub(super) fn get(st: &State, reference: &str, params: &Params, all: bool) -> ApiResult {
    let mut c = Check::new(params);
    let uid = user_id_param(&mut c);
    c.finish()?;
    let gid = resolve(st, reference)?;
    let m = collect(st, gid, all)
        .into_iter()
        .find(|m| Some(m.user_id) == uid)
        .ok_or_else(ApiError::record_not_found)?;
    Reply::ok(&render::member(st, &m))
}

/// `Member` validations of a new or changed membership.
fn member_errors(
    st: &State,
    gid: u64,
    user_id: u64,
    level: i64,
    expires_at: Option<&str>,
) -> Errors {
    let mut e = Errors::default();
    if !ACCESS_LEVELS.contains(&level) {
        e.add("access_level", "is not included in the list");
    } else if let Some((inherited, group)) = st.inherited_access(gid, user_id) {
        if level < inherited {
            e.add(
                "access_level",
                format!(
                    "should be greater than or equal to {} inherited membership from group {group}",
                    level_name(inherited)
                ),
            );
        }
    }
    if expires_at.is_some_and(|d| d < fmt_date(&today()).as_str()) {
        e.add("expires_at", "cannot be a date in the past");
    }
    e
}

fn expires_param(c: &mut Check<'_>) -> Option<String> {
    c.datetime("expires_at").map(|t| fmt_date(&t.date()))
}

/// `POST /groups/:id/members` (`user_id` or `username`) → 201 member.
pub(super) fn add(st: &mut State, ctx: &Ctx<'_>, reference: &str, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    c.require("access_level");
    let level = c.integer("access_level").unwrap_or(0);
    let user_id = c.string("user_id");
    let username = c.string("username");
    let expires_at = expires_param(&mut c);
    c.string("invite_source");
    c.mutually_exclusive(&["user_id", "username"]);
    c.at_least_one(&["user_id", "username"]);
    c.finish()?;
    let gid = resolve(st, reference)?;
    let target = user_id.as_deref().or(username.as_deref()).unwrap_or("");
    if target.contains(',') {
        return Err(ApiError::bad_request(
            "adding several members in one request is not modeled by the emulator",
        ));
    }
    let uid = match (&user_id, &username) {
        (Some(raw), _) => parse_int(raw)
            .and_then(|n| u64::try_from(n).ok())
            .filter(|id| st.users.contains_key(id)),
        (None, Some(name)) => st.user_by_username(name),
        (None, None) => None,
    }
    .ok_or_else(|| ApiError::not_found("User"))?;
    if st.groups.get(&gid).is_some_and(|g| g.member(uid).is_some()) {
        return Err(ApiError::conflict("Member already exists"));
    }
    let errors = member_errors(st, gid, uid, level, expires_at.as_deref());
    if !errors.is_empty() {
        return Err(ApiError::validation(errors.entries()));
    }
    let m = Member {
        seq: st.alloc_member_seq(),
        user_id: uid,
        access_level: level,
        created_at: now(),
        created_by: Some(ctx.actor),
        expires_at,
    };
    let body = render::member(st, &m);
    if let Some(g) = st.groups.get_mut(&gid) {
        g.members.push(m);
    }
    Reply::created(&body)
}

/// `PUT /groups/:id/members/:user_id?access_level=` → 200 member.
pub(super) fn update(st: &mut State, reference: &str, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    let uid = user_id_param(&mut c);
    c.require("access_level");
    let level = c.integer("access_level").unwrap_or(0);
    let expires_sent = params.has("expires_at");
    let expires_at = expires_param(&mut c);
    c.finish()?;
    let gid = resolve(st, reference)?;
    let Some(uid) = uid.filter(|u| st.groups.get(&gid).is_some_and(|g| g.member(*u).is_some()))
    else {
        return Err(ApiError::record_not_found());
    };
    if level != OWNER && st.is_last_owner(gid, uid) {
        return Err(ApiError::message(StatusCode::FORBIDDEN, "403 Forbidden"));
    }
    let errors = member_errors(st, gid, uid, level, expires_at.as_deref());
    if !errors.is_empty() {
        return Err(ApiError::validation(errors.entries()));
    }
    let mut updated = None;
    if let Some(m) = st
        .groups
        .get_mut(&gid)
        .and_then(|g| g.members.iter_mut().find(|m| m.user_id == uid))
    {
        m.access_level = level;
        if expires_sent {
            m.expires_at = expires_at;
        }
        updated = Some(m.clone());
    }
    let m = updated.ok_or_else(ApiError::record_not_found)?;
    Reply::ok(&render::member(st, &m))
}

/// `DELETE /groups/:id/members/:user_id` → 204; also drops the user's direct memberships of
/// the subgroups unless `skip_subresources=true`.
pub(super) fn remove(st: &mut State, reference: &str, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    let uid = user_id_param(&mut c);
    let skip_subresources = c.boolean("skip_subresources").unwrap_or(false);
    c.boolean("unassign_issuables");
    c.finish()?;
    let gid = resolve(st, reference)?;
    let Some(uid) = uid.filter(|u| st.groups.get(&gid).is_some_and(|g| g.member(*u).is_some()))
    else {
        return Err(ApiError::record_not_found());
    };
    if st.is_last_owner(gid, uid) {
        return Err(ApiError::message(StatusCode::FORBIDDEN, "403 Forbidden"));
    }
    let scope = if skip_subresources {
        vec![gid]
    } else {
        st.subtree(gid)
    };
    for id in scope {
        if let Some(g) = st.groups.get_mut(&id) {
            g.members.retain(|m| m.user_id != uid);
        }
    }
    Reply::no_content()
}

/// `GET /users/:user_id/memberships[?type=Namespace|Project]` (direct group memberships).
pub(super) fn memberships(st: &State, ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let mut c = Check::new(params);
    let uid = user_id_param(&mut c);
    let kind = c.one_of("type", &["Project", "Namespace"]);
    let page = paging(&mut c);
    c.finish()?;
    let uid = uid
        .filter(|u| st.users.contains_key(u))
        .ok_or_else(|| ApiError::not_found("User"))?;
    let mut rows: Vec<(u64, u64)> = Vec::new();
    if kind.as_deref() != Some("Project") {
        for g in st.groups.values() {
            if let Some(m) = g.member(uid) {
                rows.push((m.seq, g.id));
            }
        }
    }
    rows.sort_unstable();
    let (items, headers) = offset(rows, page, &LinkBase::new(st, ctx));
    Reply::page(
        items
            .iter()
            .filter_map(|(_, gid)| {
                let g = st.groups.get(gid)?;
                Some(render::membership(g, g.member(uid)?))
            })
            .collect(),
        headers,
    )
}
