//! Organization, membership and group endpoints of the Coder emulator
//! (`coderd/organizations.go`, `coderd/members.go`, `enterprise/coderd/groups.go`),
//! behaving as if a Premium licence is present.

use http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use super::routes::{read_json, ApiError, ApiResult, Query, Reply, Validation};
use super::state::{
    org_roles, Group, GroupOut, Id, OrderedSet, OrgMemberOut, OrgMemberWithUserOut, OrgOut, State,
    EVERYONE_GROUP,
};
use super::users::{name_valid, resolve};

/// `httpmw.ExtractOrganizationParam`: uuid, name or `default`; a miss is the generic 404.
fn resolve_org(st: &State, param: &str) -> Result<Uuid, ApiError> {
    st.resolve_org(param).ok_or_else(ApiError::not_found)
}

/// `GET /organizations`.
pub(super) fn list_organizations(st: &State) -> ApiResult {
    let orgs: Vec<OrgOut<'_>> = st
        .org_order
        .iter()
        .filter_map(|id| st.orgs.get(id))
        .map(|o| o.out())
        .collect();
    Reply::ok(&orgs)
}

/// `GET /organizations/{organization}`.
pub(super) fn get_organization(st: &State, param: &str) -> ApiResult {
    let id = resolve_org(st, param)?;
    match st.orgs.get(&id) {
        Some(o) => Reply::ok(&o.out()),
        None => Err(ApiError::not_found()),
    }
}

/// `GET /users/{user}/organizations`.
pub(super) fn user_organizations(st: &State, param: &str) -> ApiResult {
    let id = resolve(st, param)?;
    let orgs: Vec<OrgOut<'_>> = st
        .users
        .get(&id)
        .map(|u| u.org_ids.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|o| st.orgs.get(o))
        .map(|o| o.out())
        .collect();
    Reply::ok(&orgs)
}

/// `GET /organizations/{organization}/members` → `[OrganizationMemberWithUserData]`.
pub(super) fn list_members(st: &State, param: &str) -> ApiResult {
    let org_id = resolve_org(st, param)?;
    let Some(org) = st.orgs.get(&org_id) else {
        return Err(ApiError::not_found());
    };
    let members: Vec<OrgMemberWithUserOut<'_>> = org
        .member_order
        .iter()
        .filter_map(|uid| Some((st.users.get(uid)?, org.members.get(uid)?)))
        .filter(|(u, _)| !u.deleted)
        .map(|(u, m)| OrgMemberWithUserOut {
            username: &u.username,
            name: &u.name,
            avatar_url: &u.avatar_url,
            email: &u.email,
            global_roles: u.out().roles,
            user_id: Id(u.id),
            organization_id: Id(org_id),
            created_at: m.created_at,
            updated_at: m.updated_at,
            roles: org_roles(org_id, &m.roles),
        })
        .collect();
    Reply::ok(&members)
}

fn member_reply(st: &State, org_id: Uuid, user_id: Uuid) -> ApiResult {
    let Some(m) = st.orgs.get(&org_id).and_then(|o| o.members.get(&user_id)) else {
        return Err(ApiError::not_found());
    };
    Reply::ok(&OrgMemberOut {
        user_id: Id(user_id),
        organization_id: Id(org_id),
        created_at: m.created_at,
        updated_at: m.updated_at,
        roles: org_roles(org_id, &m.roles),
    })
}

/// `POST /organizations/{organization}/members/{user}` → 200 OrganizationMember.
pub(super) fn add_member(st: &mut State, org: &str, user: &str) -> ApiResult {
    let org_id = resolve_org(st, org)?;
    let user_id = resolve(st, user)?;
    if !st.add_org_member(org_id, user_id) {
        return Err(ApiError::bad_request(
            "Organization member already exists in this organization",
        ));
    }
    member_reply(st, org_id, user_id)
}

/// `DELETE /organizations/{organization}/members/{user}` → 204; also leaves the org's groups.
pub(super) fn remove_member(st: &mut State, org: &str, user: &str) -> ApiResult {
    let org_id = resolve_org(st, org)?;
    let user_id = resolve(st, user)?;
    if !st.remove_org_member(org_id, user_id) {
        return Err(ApiError::not_found());
    }
    Reply::no_content()
}

/// Filters of `GET /groups`.
#[derive(Default)]
struct GroupFilter {
    organization: Option<Uuid>,
    has_member: Option<Uuid>,
    group_ids: Vec<Uuid>,
}

fn parse_group_filter(st: &State, query: &Query) -> Result<GroupFilter, ApiError> {
    let mut errors = Vec::new();
    let mut f = GroupFilter::default();
    if let Some(v) = query.get("organization").filter(|v| !v.is_empty()) {
        match Uuid::parse_str(v).ok().or_else(|| {
            st.org_order
                .iter()
                .find(|id| st.orgs.get(id).is_some_and(|o| o.name == v))
                .copied()
        }) {
            Some(id) => f.organization = Some(id),
            None => errors.push(Validation::new(
                "organization",
                format!(
                    "Query param \"organization\" must be a valid uuid or name: organization {v:?} not found"
                ),
            )),
        }
    }
    if let Some(v) = query.get("has_member").filter(|v| !v.is_empty()) {
        match Uuid::parse_str(v)
            .ok()
            .or_else(|| st.by_username.get(&v.to_lowercase()).copied())
        {
            Some(id) => f.has_member = Some(id),
            None => errors.push(Validation::new(
                "has_member",
                format!(
                    "Query param \"has_member\" must be a valid uuid or name: user {v:?} not found"
                ),
            )),
        }
    }
    if let Some(v) = query.get("group_ids").filter(|v| !v.is_empty()) {
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match Uuid::parse_str(part) {
                Ok(id) => f.group_ids.push(id),
                Err(e) => errors.push(Validation::new(
                    "group_ids",
                    format!("Query param \"group_ids\" has invalid uuids: {part:?}: {e}"),
                )),
            }
        }
    }
    let mut unknown: Vec<&str> = Vec::new();
    for k in query.keys() {
        if !matches!(
            k,
            "organization" | "has_member" | "group_ids" | "coder_session_token"
        ) && !unknown.contains(&k)
        {
            unknown.push(k);
            errors.push(Validation::new(
                k,
                format!("{k:?} is not a valid query param"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(ApiError::bad_request("Query parameters have invalid values.").validations(errors))
    }
}

fn groups_reply(st: &State, f: &GroupFilter) -> ApiResult {
    let out: Vec<GroupOut<'_>> = st
        .sorted_groups()
        .into_iter()
        .filter(|g| f.organization.is_none_or(|o| g.org_id == o))
        .filter(|g| f.group_ids.is_empty() || f.group_ids.contains(&g.id))
        .filter(|g| f.has_member.is_none_or(|u| st.group_has_member(g, &u)))
        .map(|g| st.group_out(g))
        .collect();
    Reply::ok(&out)
}

/// `GET /groups?organization=&has_member=&group_ids=`.
pub(super) fn list_groups(st: &State, query: &Query) -> ApiResult {
    let f = parse_group_filter(st, query)?;
    groups_reply(st, &f)
}

/// `GET /organizations/{organization}/groups` (same filters, organization forced).
pub(super) fn list_org_groups(st: &State, org: &str, query: &Query) -> ApiResult {
    let org_id = resolve_org(st, org)?;
    let mut f = parse_group_filter(st, query)?;
    f.organization = Some(org_id);
    groups_reply(st, &f)
}

/// `GET /organizations/{organization}/groups/{groupName}`.
pub(super) fn get_group_by_name(st: &State, org: &str, name: &str) -> ApiResult {
    let org_id = resolve_org(st, org)?;
    let group = st
        .group_names
        .get(&(org_id, name.to_string()))
        .and_then(|id| st.groups.get(id))
        .ok_or_else(ApiError::not_found)?;
    Reply::ok(&st.group_out(group))
}

/// `httpmw.ExtractGroupParam`: a UUID (400 otherwise) of an existing group (404 otherwise).
fn resolve_group(st: &State, param: &str) -> Result<Uuid, ApiError> {
    let id = Uuid::parse_str(param).map_err(|e| {
        ApiError::bad_request(format!("Invalid UUID {param:?}.")).detail(e.to_string())
    })?;
    if st.groups.contains_key(&id) {
        Ok(id)
    } else {
        Err(ApiError::not_found())
    }
}

/// `GET /groups/{group}`.
pub(super) fn get_group(st: &State, param: &str) -> ApiResult {
    let id = resolve_group(st, param)?;
    match st.groups.get(&id) {
        Some(g) => Reply::ok(&st.group_out(g)),
        None => Err(ApiError::not_found()),
    }
}

/// `codersdk.GroupDisplayNameValid`.
fn display_name_valid(s: &str) -> bool {
    s.chars().count() <= 64 && s.trim() == s
}

/// `codersdk.CreateGroupRequest`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct CreateGroupRequest {
    name: Option<String>,
    display_name: Option<String>,
    avatar_url: Option<String>,
    quota_allowance: Option<i64>,
}

/// `POST /organizations/{organization}/groups` → 201 Group.
pub(super) fn create_group(st: &mut State, org: &str, body: &[u8]) -> ApiResult {
    let org_id = resolve_org(st, org)?;
    let req: CreateGroupRequest = read_json(body)?;
    let name = req.name.unwrap_or_default();
    let display_name = req.display_name.unwrap_or_default();
    let mut v = Vec::new();
    if name.is_empty() {
        v.push(Validation::tag("name", "required", &name));
    } else if !name_valid(&name) {
        v.push(Validation::tag("name", "group_name", &name));
    }
    if !display_name.is_empty() && !display_name_valid(&display_name) {
        v.push(Validation::tag(
            "display_name",
            "group_display_name",
            &display_name,
        ));
    }
    if !v.is_empty() {
        return Err(ApiError::validation_failed(v));
    }
    if name == EVERYONE_GROUP {
        return Err(
            ApiError::bad_request("Invalid group name.").validations(vec![Validation::new(
                "name",
                format!("{name:?} is a reserved group name"),
            )]),
        );
    }
    if st.group_names.contains_key(&(org_id, name.clone())) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("A group named {name:?} already exists."),
        )
        .validations(vec![Validation::new("name", "Group names must be unique")]));
    }
    let id = Uuid::new_v4();
    st.insert_group(Group {
        id,
        org_id,
        name,
        display_name,
        avatar_url: req.avatar_url.unwrap_or_default(),
        quota_allowance: req.quota_allowance.unwrap_or(0),
        source: "user".to_string(),
        members: OrderedSet::default(),
    });
    match st.groups.get(&id) {
        Some(g) => Reply::json(StatusCode::CREATED, &st.group_out(g)),
        None => Err(ApiError::not_found()),
    }
}

/// `codersdk.PatchGroupRequest`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PatchGroupRequest {
    add_users: Option<Vec<String>>,
    remove_users: Option<Vec<String>>,
    name: Option<String>,
    display_name: Option<String>,
    avatar_url: Option<String>,
    quota_allowance: Option<i64>,
}

/// `PATCH /groups/{group}` → 200 Group. All-or-nothing, like the real transaction.
pub(super) fn patch_group(st: &mut State, param: &str, body: &[u8]) -> ApiResult {
    let id = resolve_group(st, param)?;
    let req: PatchGroupRequest = read_json(body)?;
    let Some(group) = st.groups.get(&id) else {
        return Err(ApiError::not_found());
    };
    let mut name = req.name.unwrap_or_default();
    let mut v = Vec::new();
    if !name.is_empty() && !name_valid(&name) {
        v.push(Validation::tag("name", "group_name", &name));
    }
    if let Some(d) = req.display_name.as_deref() {
        if !d.is_empty() && !display_name_valid(d) {
            v.push(Validation::tag("display_name", "group_display_name", d));
        }
    }
    if !v.is_empty() {
        return Err(ApiError::validation_failed(v));
    }
    if name == group.name {
        name.clear();
    }
    if group.is_everyone() && !name.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Cannot rename the {EVERYONE_GROUP:?} group!"
        )));
    }
    if group.is_everyone() && req.display_name.as_deref().is_some_and(|d| !d.is_empty()) {
        return Err(ApiError::bad_request(format!(
            "Cannot update the Display Name for the {EVERYONE_GROUP:?} group!"
        )));
    }
    if name == EVERYONE_GROUP {
        return Err(ApiError::bad_request(format!(
            "{EVERYONE_GROUP:?} is a reserved group name!"
        )));
    }
    let add = req.add_users.unwrap_or_default();
    let remove = req.remove_users.unwrap_or_default();
    if (!add.is_empty() || !remove.is_empty()) && group.name == EVERYONE_GROUP {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("Cannot add or remove users from the {EVERYONE_GROUP:?} group!"),
        ));
    }
    let org = st.orgs.get(&group.org_id);
    let parse_member = |raw: &String| -> Result<Uuid, ApiError> {
        let uid = Uuid::parse_str(raw)
            .map_err(|_| ApiError::bad_request(format!("ID {raw:?} must be a valid user UUID.")))?;
        if !org.is_some_and(|o| o.member_order.contains(&uid)) {
            // The real message names the group where it means the organization.
            return Err(ApiError::bad_request(format!(
                "User must be a member of organization {:?}",
                group.name
            ))
            .detail(format!(
                "user {raw:?} is not a member of organization {:?}",
                org.map(|o| o.name.as_str()).unwrap_or_default()
            )));
        }
        Ok(uid)
    };
    let add_ids = add
        .iter()
        .map(parse_member)
        .collect::<Result<Vec<_>, _>>()?;
    let remove_ids = remove
        .iter()
        .map(parse_member)
        .collect::<Result<Vec<_>, _>>()?;
    if !name.is_empty() && st.group_names.contains_key(&(group.org_id, name.clone())) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("A group with name {name:?} already exists."),
        ));
    }
    // Adding a current member violates the (group_id, user_id) unique key: nothing is applied.
    let mut seen = std::collections::HashSet::new();
    for uid in &add_ids {
        if group.members.contains(uid) || !seen.insert(*uid) {
            return Err(ApiError::bad_request("Cannot add the same user to a group twice!").detail(
                format!(
                    "insert group member \"{uid}\": pq: duplicate key value violates unique constraint \"group_members_user_id_group_id_key\""
                ),
            ));
        }
    }

    let org_id = group.org_id;
    let old_name = group.name.clone();
    let Some(group) = st.groups.get_mut(&id) else {
        return Err(ApiError::not_found());
    };
    if let Some(a) = req.avatar_url {
        group.avatar_url = a;
    }
    if let Some(q) = req.quota_allowance {
        group.quota_allowance = q;
    }
    if let Some(d) = req.display_name {
        group.display_name = d;
    }
    for uid in add_ids {
        group.members.insert(uid);
    }
    for uid in &remove_ids {
        group.members.remove(uid);
    }
    if !name.is_empty() {
        group.name = name.clone();
        st.group_names.remove(&(org_id, old_name));
        st.group_names.insert((org_id, name), id);
    }
    match st.groups.get(&id) {
        Some(g) => Reply::ok(&st.group_out(g)),
        None => Err(ApiError::not_found()),
    }
}

/// `DELETE /groups/{group}` → 200 `{"message":"Successfully deleted group!"}`.
pub(super) fn delete_group(st: &mut State, param: &str) -> ApiResult {
    let id = resolve_group(st, param)?;
    let Some(group) = st.groups.get(&id) else {
        return Err(ApiError::not_found());
    };
    if group.name == EVERYONE_GROUP || group.is_everyone() {
        return Err(ApiError::bad_request(format!(
            "{EVERYONE_GROUP:?} is a reserved group and cannot be deleted!"
        )));
    }
    let key = (group.org_id, group.name.clone());
    st.group_names.remove(&key);
    st.groups.remove(&id);
    Reply::message(StatusCode::OK, "Successfully deleted group!")
}
