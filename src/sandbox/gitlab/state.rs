//! In-memory data model of the GitLab emulator: users (with identities and secondary emails),
//! groups with their direct memberships, access tokens, the id sequences, and the settings
//! the test hooks change (id reuse, deletion delay, throttling).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use time::{Date, OffsetDateTime};

/// `Gitlab::Access::OWNER`.
pub(super) const OWNER: i64 = 50;

/// Member access levels the CE `Member` model accepts (guest, planner, reporter, developer,
/// maintainer, owner).
pub(super) const ACCESS_LEVELS: [i64; 6] = [10, 15, 20, 30, 40, OWNER];

/// `deactivate_dormant_users_period` (application setting default).
pub(super) const DORMANT_DAYS: i64 = 90;

/// `User::MINIMUM_DAYS_CREATED`: a never-active user is dormant once this old.
pub(super) const MINIMUM_DAYS_CREATED: i64 = 7;

/// Free-text profile attributes settable on create/update, with whether an unset value
/// renders as `null` (else `""`).
pub(super) const PROFILE_FIELDS: [(&str, bool); 11] = [
    ("bio", false),
    ("location", true),
    ("linkedin", false),
    ("twitter", false),
    ("discord", false),
    ("github", false),
    ("website_url", false),
    ("organization", false),
    ("job_title", false),
    ("pronouns", true),
    ("note", true),
];

/// Current UTC time truncated to milliseconds (the precision GitLab renders).
pub(super) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

/// Today's UTC date.
pub(super) fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// `2024-01-01T00:00:00.000Z`, as ActiveSupport renders times in JSON.
pub(super) fn fmt_time(t: &OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `2024-01-01`.
pub(super) fn fmt_date(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// An external identity (`identities` row).
#[derive(Debug, Clone)]
pub(super) struct Identity {
    pub provider: String,
    /// `None` when an update created the row but could not set a taken uid.
    pub extern_uid: Option<String>,
}

/// A secondary email (`emails` row).
#[derive(Debug, Clone)]
pub(super) struct Email {
    pub id: u64,
    pub email: String,
    pub confirmed_at: Option<OffsetDateTime>,
}

/// A scheduled asynchronous deletion.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deletion {
    pub at: Instant,
    pub hard: bool,
}

/// `users` row plus what the emulator needs of its associations.
#[derive(Debug, Clone)]
pub(super) struct User {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub email: String,
    /// `active | blocked | deactivated | blocked_pending_approval | banned | ldap_blocked`.
    pub state: String,
    pub is_admin: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub confirmed_at: Option<OffsetDateTime>,
    pub last_activity_on: Option<Date>,
    /// Values of [`PROFILE_FIELDS`] that were set.
    pub profile: BTreeMap<&'static str, String>,
    pub public_email: Option<String>,
    pub commit_email: Option<String>,
    pub projects_limit: i64,
    pub theme_id: i64,
    pub color_scheme_id: i64,
    pub can_create_group: bool,
    pub external: bool,
    pub private_profile: bool,
    pub identities: Vec<Identity>,
    pub emails: Vec<Email>,
    pub namespace_id: u64,
    pub created_by: Option<u64>,
    pub deleting: Option<Deletion>,
}

impl User {
    /// `User#blocked?` (the blocked family of states).
    pub(super) fn blocked(&self) -> bool {
        matches!(
            self.state.as_str(),
            "blocked" | "ldap_blocked" | "blocked_pending_approval"
        )
    }

    /// `User#no_recent_activity?` for an active user (`can_be_deactivated?`).
    pub(super) fn dormant(&self) -> bool {
        match self.last_activity_on {
            Some(d) => d <= today() - time::Duration::days(DORMANT_DAYS),
            None => self.created_at.date() <= today() - time::Duration::days(MINIMUM_DAYS_CREATED),
        }
    }

    /// Whether `email` is the confirmed primary or a confirmed secondary email.
    pub(super) fn owns_email(&self, email: &str) -> bool {
        (self.confirmed_at.is_some() && self.email.eq_ignore_ascii_case(email))
            || self
                .emails
                .iter()
                .any(|e| e.confirmed_at.is_some() && e.email.eq_ignore_ascii_case(email))
    }
}

/// A direct membership (`members` row of a group).
#[derive(Debug, Clone)]
pub(super) struct Member {
    /// Insertion order (the member row id).
    pub seq: u64,
    pub user_id: u64,
    pub access_level: i64,
    pub created_at: OffsetDateTime,
    pub created_by: Option<u64>,
    pub expires_at: Option<String>,
}

/// `namespaces` row of type Group plus its direct members.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub id: u64,
    pub name: String,
    pub path: String,
    pub description: String,
    pub visibility: String,
    pub parent_id: Option<u64>,
    pub created_at: OffsetDateTime,
    pub request_access_enabled: bool,
    pub members: Vec<Member>,
}

impl Group {
    pub(super) fn member(&self, user_id: u64) -> Option<&Member> {
        self.members.iter().find(|m| m.user_id == user_id)
    }
}

/// The whole instance.
#[derive(Debug)]
pub(super) struct State {
    /// `http://host:port`, the instance's external URL (set when serving starts).
    pub external_url: String,
    pub users: BTreeMap<u64, User>,
    pub groups: BTreeMap<u64, Group>,
    /// Access token → owning user id.
    pub tokens: HashMap<String, u64>,
    next_user_id: u64,
    next_namespace_id: u64,
    next_email_id: u64,
    next_member_seq: u64,
    /// Test hook: new users take the smallest freed id.
    pub reuse_ids: bool,
    /// Test hook: how long a deleted user stays visible.
    pub delete_delay: Duration,
    /// Test hook: how many upcoming requests answer 429.
    pub throttle_remaining: u32,
    /// `Retry-After` seconds of throttled answers.
    pub throttle_retry_after: u64,
}

/// Id of the built-in administrator.
pub(super) const ROOT_ID: u64 = 1;

impl State {
    /// An instance with the administrator `root` (id 1, namespace 1) owning `token`.
    pub(super) fn new(token: String) -> Self {
        let t = now();
        let mut st = State {
            external_url: "http://gitlab.example.com".to_string(),
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            tokens: HashMap::new(),
            next_user_id: ROOT_ID + 1,
            next_namespace_id: 2,
            next_email_id: 1,
            next_member_seq: 1,
            reuse_ids: false,
            delete_delay: Duration::ZERO,
            throttle_remaining: 0,
            throttle_retry_after: 1,
        };
        let mut root = State::blank_user(ROOT_ID, "root", "Administrator", "admin@example.com");
        root.is_admin = true;
        root.confirmed_at = Some(t);
        root.last_activity_on = Some(today());
        root.namespace_id = 1;
        st.users.insert(ROOT_ID, root);
        st.tokens.insert(token, ROOT_ID);
        st
    }

    /// A new active, unconfirmed user with GitLab's defaults.
    pub(super) fn blank_user(id: u64, username: &str, name: &str, email: &str) -> User {
        let t = now();
        User {
            id,
            username: username.to_string(),
            name: name.to_string(),
            email: email.to_string(),
            state: "active".to_string(),
            is_admin: false,
            created_at: t,
            updated_at: t,
            confirmed_at: None,
            last_activity_on: None,
            profile: BTreeMap::new(),
            public_email: None,
            commit_email: None,
            projects_limit: 100_000,
            theme_id: 3,
            color_scheme_id: 1,
            can_create_group: true,
            external: false,
            private_profile: false,
            identities: Vec::new(),
            emails: Vec::new(),
            namespace_id: 0,
            created_by: None,
            deleting: None,
        }
    }

    /// The next user id: the sequence, or the smallest freed id when reuse is on.
    pub(super) fn alloc_user_id(&mut self) -> u64 {
        if self.reuse_ids {
            if let Some(free) = (1..self.next_user_id).find(|id| !self.users.contains_key(id)) {
                return free;
            }
        }
        let id = self.next_user_id;
        self.next_user_id += 1;
        id
    }

    /// The next namespace id (user namespaces and groups share the sequence).
    pub(super) fn alloc_namespace_id(&mut self) -> u64 {
        let id = self.next_namespace_id;
        self.next_namespace_id += 1;
        id
    }

    pub(super) fn alloc_email_id(&mut self) -> u64 {
        let id = self.next_email_id;
        self.next_email_id += 1;
        id
    }

    pub(super) fn alloc_member_seq(&mut self) -> u64 {
        let id = self.next_member_seq;
        self.next_member_seq += 1;
        id
    }

    /// `User.by_username` (case-insensitive).
    pub(super) fn user_by_username(&self, username: &str) -> Option<u64> {
        self.users
            .values()
            .find(|u| u.username.eq_ignore_ascii_case(username))
            .map(|u| u.id)
    }

    /// `User.by_any_email`: the owner of a primary or secondary email.
    pub(super) fn email_owner(&self, email: &str) -> Option<u64> {
        self.users
            .values()
            .find(|u| {
                u.email.eq_ignore_ascii_case(email)
                    || u.emails.iter().any(|e| e.email.eq_ignore_ascii_case(email))
            })
            .map(|u| u.id)
    }

    /// `Identity.with_extern_uid`: provider exact, uid case-insensitive.
    pub(super) fn identity_owner(&self, provider: &str, extern_uid: &str) -> Option<u64> {
        self.users
            .values()
            .find(|u| {
                u.identities.iter().any(|i| {
                    i.provider == provider
                        && i.extern_uid
                            .as_deref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(extern_uid))
                })
            })
            .map(|u| u.id)
    }

    /// Parent chain of a group, nearest first.
    pub(super) fn ancestors(&self, group_id: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let mut cur = self.groups.get(&group_id).and_then(|g| g.parent_id);
        while let Some(id) = cur {
            if out.contains(&id) {
                break;
            }
            out.push(id);
            cur = self.groups.get(&id).and_then(|g| g.parent_id);
        }
        out
    }

    /// The group and all its subgroups.
    pub(super) fn subtree(&self, group_id: u64) -> Vec<u64> {
        let mut out = vec![group_id];
        let mut i = 0;
        while let Some(&cur) = out.get(i) {
            out.extend(
                self.groups
                    .values()
                    .filter(|g| g.parent_id == Some(cur))
                    .map(|g| g.id),
            );
            i += 1;
        }
        out
    }

    /// `full_path`: ancestor paths joined with `/`.
    pub(super) fn full_path(&self, group: &Group) -> String {
        self.lineage(group, |g| g.path.as_str(), "/")
    }

    /// `full_name`: ancestor names joined with ` / `.
    pub(super) fn full_name(&self, group: &Group) -> String {
        self.lineage(group, |g| g.name.as_str(), " / ")
    }

    fn lineage(&self, group: &Group, part: impl Fn(&Group) -> &str, sep: &str) -> String {
        let mut parts: Vec<&str> = self
            .ancestors(group.id)
            .iter()
            .rev()
            .filter_map(|id| self.groups.get(id))
            .map(&part)
            .collect();
        parts.push(part(group));
        parts.join(sep)
    }

    /// `find_group`: an integer id or a full path (case-insensitive).
    pub(super) fn group_by_ref(&self, reference: &str) -> Option<u64> {
        if !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_digit()) {
            return reference
                .parse()
                .ok()
                .filter(|id| self.groups.contains_key(id));
        }
        self.groups
            .values()
            .find(|g| self.full_path(g).eq_ignore_ascii_case(reference))
            .map(|g| g.id)
    }

    /// Whether a top-level namespace path (a username or a top-level group path) is taken.
    pub(super) fn top_level_path_taken(
        &self,
        path: &str,
        except_user: Option<u64>,
        except_group: Option<u64>,
    ) -> bool {
        self.users
            .values()
            .any(|u| Some(u.id) != except_user && u.username.eq_ignore_ascii_case(path))
            || self.groups.values().any(|g| {
                g.parent_id.is_none()
                    && Some(g.id) != except_group
                    && g.path.eq_ignore_ascii_case(path)
            })
    }

    /// Owners of a group: direct owners of it and of its ancestors.
    pub(super) fn owners(&self, group_id: u64) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for gid in std::iter::once(group_id).chain(self.ancestors(group_id)) {
            if let Some(g) = self.groups.get(&gid) {
                for m in g.members.iter().filter(|m| m.access_level == OWNER) {
                    if !out.contains(&m.user_id) {
                        out.push(m.user_id);
                    }
                }
            }
        }
        out
    }

    /// `Member#last_owner_of_the_group?` for a direct member.
    pub(super) fn is_last_owner(&self, group_id: u64, user_id: u64) -> bool {
        self.groups
            .get(&group_id)
            .and_then(|g| g.member(user_id))
            .is_some_and(|m| m.access_level == OWNER)
            && self.owners(group_id) == [user_id]
    }

    /// `User#solo_owned_groups`.
    pub(super) fn solely_owned_groups(&self, user_id: u64) -> Vec<u64> {
        self.groups
            .keys()
            .copied()
            .filter(|gid| self.is_last_owner(*gid, user_id))
            .collect()
    }

    /// The highest direct access level of a user in the ancestors of a group, with the
    /// ancestor's name.
    pub(super) fn inherited_access(&self, group_id: u64, user_id: u64) -> Option<(i64, String)> {
        self.ancestors(group_id)
            .iter()
            .filter_map(|gid| self.groups.get(gid))
            .filter_map(|g| g.member(user_id).map(|m| (m.access_level, g.name.clone())))
            .max_by_key(|(level, _)| *level)
    }

    /// Deletes a group and its subgroups.
    pub(super) fn remove_group(&mut self, group_id: u64) {
        for gid in self.subtree(group_id) {
            self.groups.remove(&gid);
        }
    }

    /// Runs the deletions whose time has come (the `DeleteUserWorker`).
    pub(super) fn purge(&mut self, now: Instant) {
        let due: Vec<(u64, bool)> = self
            .users
            .values()
            .filter_map(|u| u.deleting.filter(|d| d.at <= now).map(|d| (u.id, d.hard)))
            .collect();
        for (uid, hard) in due {
            if hard {
                for gid in self.solely_owned_groups(uid) {
                    self.remove_group(gid);
                }
            }
            for g in self.groups.values_mut() {
                g.members.retain(|m| m.user_id != uid);
            }
            self.tokens.retain(|_, owner| *owner != uid);
            self.users.remove(&uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_render_with_milliseconds() {
        let t = time::macros::datetime!(2024-05-01 10:00:00.1234 UTC);
        assert_eq!(fmt_time(&t), "2024-05-01T10:00:00.123Z");
        assert_eq!(fmt_date(&t.date()), "2024-05-01");
        assert_eq!(now().nanosecond() % 1_000_000, 0);
    }

    #[test]
    fn ids_and_reuse() {
        let mut st = State::new("t".into());
        assert_eq!(st.alloc_user_id(), 2);
        assert_eq!(st.alloc_user_id(), 3);
        st.reuse_ids = true;
        // 2 and 3 were never inserted: both are free, the smallest wins.
        assert_eq!(st.alloc_user_id(), 2);
        st.reuse_ids = false;
        assert_eq!(st.alloc_user_id(), 4);
        assert_eq!(st.alloc_namespace_id(), 2);
    }

    #[test]
    fn dormancy() {
        let mut u = State::blank_user(5, "a", "A", "a@example.com");
        assert!(!u.dormant());
        u.last_activity_on = Some(today() - time::Duration::days(91));
        assert!(u.dormant());
        u.last_activity_on = Some(today() - time::Duration::days(89));
        assert!(!u.dormant());
        u.last_activity_on = None;
        u.created_at = now() - time::Duration::days(8);
        assert!(u.dormant());
    }
}
