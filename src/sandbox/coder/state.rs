//! In-memory data model of the Coder emulator: users, organizations, groups,
//! their indexes, and rendering to the codersdk JSON shapes.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Name of the implicit all-members group of every organization (`database.EveryoneGroup`).
pub(super) const EVERYONE_GROUP: &str = "Everyone";

/// The zero time Postgres stores for users who never logged in.
pub(super) fn zero_time() -> OffsetDateTime {
    time::macros::datetime!(0001-01-01 00:00:00 UTC)
}

/// `dbtime.Now()`: current UTC time rounded down to microseconds (Postgres precision).
pub(super) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    let micros = t.microsecond();
    t.replace_microsecond(micros).unwrap_or(t)
}

/// RFC 3339 with `Z`, sub-seconds trimmed like Go's `time.RFC3339Nano`.
pub(super) fn fmt_time(t: &OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "0001-01-01T00:00:00Z".to_string())
}

fn ser_time<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fmt_time(t))
}

/// A UUID that serializes as its hyphenated string (the `uuid` crate is built without serde).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Id(pub Uuid);

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.hyphenated())
    }
}

fn ids(v: &[Uuid]) -> Vec<Id> {
    v.iter().copied().map(Id).collect()
}

/// A set of ids that remembers insertion order, with O(log n) insert/remove.
#[derive(Debug, Default, Clone)]
pub(super) struct OrderedSet {
    next: u64,
    pos: HashMap<Uuid, u64>,
    order: BTreeMap<u64, Uuid>,
}

impl OrderedSet {
    pub(super) fn insert(&mut self, id: Uuid) -> bool {
        if self.pos.contains_key(&id) {
            return false;
        }
        let seq = self.next;
        self.next += 1;
        self.pos.insert(id, seq);
        self.order.insert(seq, id);
        true
    }

    pub(super) fn remove(&mut self, id: &Uuid) -> bool {
        match self.pos.remove(id) {
            Some(seq) => {
                self.order.remove(&seq);
                true
            }
            None => false,
        }
    }

    pub(super) fn contains(&self, id: &Uuid) -> bool {
        self.pos.contains_key(id)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Uuid> + '_ {
        self.order.values()
    }
}

/// `users` row.
#[derive(Debug, Clone)]
pub(super) struct User {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub email: String,
    pub avatar_url: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub status: String,
    pub login_type: String,
    pub theme_preference: String,
    /// Site roles as stored (`rbac_roles`); the implicit `member` role is never stored.
    pub roles: Vec<String>,
    /// Organizations in membership order.
    pub org_ids: Vec<Uuid>,
    pub deleted: bool,
    pub is_service_account: bool,
    pub github_com_user_id: i64,
}

/// `codersdk.SlimRole`.
#[derive(Serialize)]
pub(super) struct SlimRole<'a> {
    pub name: &'a str,
    pub display_name: &'static str,
    pub organization_id: &'static str,
}

/// Site roles a PUT /users/{user}/roles may grant, with their display names.
pub(super) fn site_role_display_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "owner" => "Owner",
        "user-admin" => "User Admin",
        "template-admin" => "Template Admin",
        "auditor" => "Auditor",
        "member" => "Member",
        _ => return None,
    })
}

fn slim_roles(names: &[String]) -> Vec<SlimRole<'_>> {
    names
        .iter()
        .map(|n| SlimRole {
            name: n,
            display_name: site_role_display_name(n).unwrap_or(""),
            organization_id: "",
        })
        .collect()
}

/// `codersdk.User`.
#[derive(Serialize)]
pub(super) struct UserOut<'a> {
    pub id: Id,
    pub username: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub avatar_url: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: OffsetDateTime,
    #[serde(serialize_with = "ser_time")]
    pub last_seen_at: OffsetDateTime,
    pub status: &'a str,
    pub login_type: &'a str,
    pub theme_preference: &'a str,
    pub organization_ids: Vec<Id>,
    pub roles: Vec<SlimRole<'a>>,
    pub is_service_account: bool,
    pub has_ai_seat: bool,
}

/// `codersdk.ReducedUser` (group members).
#[derive(Serialize)]
pub(super) struct ReducedUserOut<'a> {
    pub id: Id,
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub avatar_url: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: OffsetDateTime,
    #[serde(serialize_with = "ser_time")]
    pub last_seen_at: OffsetDateTime,
    pub status: &'a str,
    pub login_type: &'a str,
    pub theme_preference: &'a str,
    pub is_service_account: bool,
}

impl User {
    pub(super) fn out(&self) -> UserOut<'_> {
        UserOut {
            id: Id(self.id),
            username: &self.username,
            name: &self.name,
            email: &self.email,
            avatar_url: &self.avatar_url,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_seen_at: self.last_seen_at,
            status: &self.status,
            login_type: &self.login_type,
            theme_preference: &self.theme_preference,
            organization_ids: ids(&self.org_ids),
            roles: slim_roles(&self.roles),
            is_service_account: self.is_service_account,
            has_ai_seat: false,
        }
    }

    pub(super) fn reduced(&self) -> ReducedUserOut<'_> {
        ReducedUserOut {
            id: Id(self.id),
            username: &self.username,
            email: &self.email,
            name: &self.name,
            avatar_url: &self.avatar_url,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_seen_at: self.last_seen_at,
            status: &self.status,
            login_type: &self.login_type,
            theme_preference: &self.theme_preference,
            is_service_account: self.is_service_account,
        }
    }
}

/// `organization_members` row data (keyed by user id in [`Org::members`]).
#[derive(Debug, Clone)]
pub(super) struct Membership {
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub roles: Vec<String>,
}

/// `organizations` row plus its members.
#[derive(Debug, Clone)]
pub(super) struct Org {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub icon: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub is_default: bool,
    pub member_order: OrderedSet,
    pub members: HashMap<Uuid, Membership>,
}

/// `codersdk.Organization`.
#[derive(Serialize)]
pub(super) struct OrgOut<'a> {
    pub id: Id,
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
    pub icon: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: OffsetDateTime,
    pub is_default: bool,
}

impl Org {
    pub(super) fn out(&self) -> OrgOut<'_> {
        OrgOut {
            id: Id(self.id),
            name: &self.name,
            display_name: &self.display_name,
            description: &self.description,
            icon: &self.icon,
            created_at: self.created_at,
            updated_at: self.updated_at,
            is_default: self.is_default,
        }
    }
}

/// `codersdk.OrganizationMember`.
#[derive(Serialize)]
pub(super) struct OrgMemberOut<'a> {
    pub user_id: Id,
    pub organization_id: Id,
    #[serde(serialize_with = "ser_time")]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: OffsetDateTime,
    pub roles: Vec<OrgRole<'a>>,
}

/// `codersdk.OrganizationMemberWithUserData`.
#[derive(Serialize)]
pub(super) struct OrgMemberWithUserOut<'a> {
    pub username: &'a str,
    pub name: &'a str,
    pub avatar_url: &'a str,
    pub email: &'a str,
    pub global_roles: Vec<SlimRole<'a>>,
    pub user_id: Id,
    pub organization_id: Id,
    #[serde(serialize_with = "ser_time")]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: OffsetDateTime,
    pub roles: Vec<OrgRole<'a>>,
}

/// Organization-scoped `codersdk.SlimRole`.
#[derive(Serialize)]
pub(super) struct OrgRole<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub organization_id: String,
}

pub(super) fn org_roles<'a>(org_id: Uuid, names: &'a [String]) -> Vec<OrgRole<'a>> {
    names
        .iter()
        .map(|n| OrgRole {
            name: n,
            display_name: "",
            organization_id: org_id.to_string(),
        })
        .collect()
}

/// `groups` row plus explicit members (the Everyone group's members are implicit).
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub display_name: String,
    pub avatar_url: String,
    pub quota_allowance: i64,
    pub source: String,
    pub members: OrderedSet,
}

impl Group {
    pub(super) fn is_everyone(&self) -> bool {
        self.id == self.org_id
    }
}

/// `codersdk.Group`.
#[derive(Serialize)]
pub(super) struct GroupOut<'a> {
    pub id: Id,
    pub name: &'a str,
    pub display_name: &'a str,
    pub organization_id: Id,
    pub organization_name: &'a str,
    pub organization_display_name: &'a str,
    pub members: Vec<ReducedUserOut<'a>>,
    pub total_member_count: usize,
    pub avatar_url: &'a str,
    pub quota_allowance: i64,
    pub source: &'a str,
}

/// The whole deployment.
#[derive(Debug)]
pub(super) struct State {
    /// The id of the user owning the accepted API token.
    pub token_owner: Uuid,
    pub default_org: Uuid,
    pub users: HashMap<Uuid, User>,
    /// lower(username) → id, non-deleted users only; ordered, so it doubles as the list order.
    pub by_username: BTreeMap<String, Uuid>,
    /// lower(email) → id, non-deleted users only.
    pub by_email: HashMap<String, Uuid>,
    pub orgs: HashMap<Uuid, Org>,
    pub org_order: Vec<Uuid>,
    pub groups: HashMap<Uuid, Group>,
    /// (organization, exact name) → group id.
    pub group_names: HashMap<(Uuid, String), Uuid>,
}

impl State {
    /// A deployment with the default organization, its Everyone group and the first (owner) user.
    pub(super) fn new() -> Self {
        let created = now();
        let org_id = Uuid::new_v4();
        let owner_id = Uuid::new_v4();
        let mut st = State {
            token_owner: owner_id,
            default_org: org_id,
            users: HashMap::new(),
            by_username: BTreeMap::new(),
            by_email: HashMap::new(),
            orgs: HashMap::new(),
            org_order: Vec::new(),
            groups: HashMap::new(),
            group_names: HashMap::new(),
        };
        st.orgs.insert(
            org_id,
            Org {
                id: org_id,
                name: "coder".to_string(),
                display_name: "Coder".to_string(),
                description: String::new(),
                icon: String::new(),
                created_at: created,
                updated_at: created,
                is_default: true,
                member_order: OrderedSet::default(),
                members: HashMap::new(),
            },
        );
        st.org_order.push(org_id);
        st.insert_group(Group {
            id: org_id,
            org_id,
            name: EVERYONE_GROUP.to_string(),
            display_name: String::new(),
            avatar_url: String::new(),
            quota_allowance: 0,
            source: "user".to_string(),
            members: OrderedSet::default(),
        });
        st.insert_user(User {
            id: owner_id,
            username: "admin".to_string(),
            name: "Admin".to_string(),
            email: "admin@coder.example".to_string(),
            avatar_url: String::new(),
            created_at: created,
            updated_at: created,
            last_seen_at: created,
            status: "active".to_string(),
            login_type: "password".to_string(),
            theme_preference: String::new(),
            roles: vec!["owner".to_string()],
            org_ids: Vec::new(),
            deleted: false,
            is_service_account: false,
            github_com_user_id: 0,
        });
        st.add_org_member(org_id, owner_id);
        st
    }

    pub(super) fn insert_user(&mut self, user: User) {
        self.by_username
            .insert(user.username.to_lowercase(), user.id);
        self.by_email.insert(user.email.to_lowercase(), user.id);
        self.users.insert(user.id, user);
    }

    pub(super) fn insert_group(&mut self, group: Group) {
        self.group_names
            .insert((group.org_id, group.name.clone()), group.id);
        self.groups.insert(group.id, group);
    }

    /// Adds the membership row; false when it already exists or the org/user is unknown.
    pub(super) fn add_org_member(&mut self, org_id: Uuid, user_id: Uuid) -> bool {
        let Some(org) = self.orgs.get_mut(&org_id) else {
            return false;
        };
        if !org.member_order.insert(user_id) {
            return false;
        }
        let t = now();
        org.members.insert(
            user_id,
            Membership {
                created_at: t,
                updated_at: t,
                roles: Vec::new(),
            },
        );
        if let Some(u) = self.users.get_mut(&user_id) {
            if !u.org_ids.contains(&org_id) {
                u.org_ids.push(org_id);
            }
        }
        true
    }

    /// Removes the membership row and (like the database trigger) the user's memberships of the
    /// organization's groups.
    pub(super) fn remove_org_member(&mut self, org_id: Uuid, user_id: Uuid) -> bool {
        let Some(org) = self.orgs.get_mut(&org_id) else {
            return false;
        };
        if !org.member_order.remove(&user_id) {
            return false;
        }
        org.members.remove(&user_id);
        if let Some(u) = self.users.get_mut(&user_id) {
            u.org_ids.retain(|o| *o != org_id);
        }
        for g in self.groups.values_mut() {
            if g.org_id == org_id {
                g.members.remove(&user_id);
            }
        }
        true
    }

    /// Resolves an `{user}` path parameter: `me`, a UUID (deleted users included), or a
    /// username (case-insensitive, non-deleted only).
    pub(super) fn resolve_user(&self, param: &str) -> Option<Uuid> {
        if param == "me" {
            return Some(self.token_owner);
        }
        if let Ok(id) = Uuid::parse_str(param) {
            return self.users.contains_key(&id).then_some(id);
        }
        self.by_username.get(&param.to_lowercase()).copied()
    }

    /// Resolves an `{organization}` parameter: UUID, name, or `default`.
    pub(super) fn resolve_org(&self, param: &str) -> Option<Uuid> {
        if let Ok(id) = Uuid::parse_str(param) {
            return self.orgs.contains_key(&id).then_some(id);
        }
        if param == "default" {
            return Some(self.default_org);
        }
        self.org_order
            .iter()
            .find(|id| self.orgs.get(id).is_some_and(|o| o.name == param))
            .copied()
    }

    /// Whether `user` is a member of `group` (implicitly so for an Everyone group).
    pub(super) fn group_has_member(&self, group: &Group, user: &Uuid) -> bool {
        if group.is_everyone() {
            self.orgs
                .get(&group.org_id)
                .is_some_and(|o| o.member_order.contains(user))
        } else {
            group.members.contains(user)
        }
    }

    pub(super) fn group_out<'a>(&'a self, group: &'a Group) -> GroupOut<'a> {
        let org = self.orgs.get(&group.org_id);
        let ids: Box<dyn Iterator<Item = &Uuid> + '_> = if group.is_everyone() {
            match org {
                Some(o) => Box::new(o.member_order.iter()),
                None => Box::new(std::iter::empty()),
            }
        } else {
            Box::new(group.members.iter())
        };
        let members: Vec<ReducedUserOut<'a>> = ids
            .filter_map(|id| self.users.get(id))
            .filter(|u| !u.deleted)
            .map(User::reduced)
            .collect();
        GroupOut {
            id: Id(group.id),
            name: &group.name,
            display_name: &group.display_name,
            organization_id: Id(group.org_id),
            organization_name: org.map(|o| o.name.as_str()).unwrap_or(""),
            organization_display_name: org.map(|o| o.display_name.as_str()).unwrap_or(""),
            total_member_count: members.len(),
            members,
            avatar_url: &group.avatar_url,
            quota_allowance: group.quota_allowance,
            source: &group.source,
        }
    }

    /// Groups in list order: organization creation order, then name.
    pub(super) fn sorted_groups(&self) -> Vec<&Group> {
        let mut gs: Vec<&Group> = self.groups.values().collect();
        let org_pos = |id: &Uuid| self.org_order.iter().position(|o| o == id);
        gs.sort_by(|a, b| {
            org_pos(&a.org_id)
                .cmp(&org_pos(&b.org_id))
                .then_with(|| a.name.cmp(&b.name))
        });
        gs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_with_z() {
        assert_eq!(fmt_time(&zero_time()), "0001-01-01T00:00:00Z");
        let t = time::macros::datetime!(2024-05-01 10:00:00.1234 UTC);
        assert_eq!(fmt_time(&t), "2024-05-01T10:00:00.1234Z");
        let n = now();
        assert_eq!(n.nanosecond() % 1000, 0);
        assert!(fmt_time(&n).ends_with('Z'));
    }

    #[test]
    fn ordered_set_keeps_insertion_order() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut s = OrderedSet::default();
        assert!(s.insert(c) && s.insert(a) && s.insert(b));
        assert!(!s.insert(a));
        assert!(s.remove(&a) && !s.remove(&a));
        assert!(s.insert(a));
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![c, b, a]);
    }
}
