//! JSON shapes of the GitLab emulator: the admin user view (`UserWithAdmin` /
//! `UserDetailsWithAdmin`, one shape for both), `UserBasic`, `Email`, `Group` /
//! `GroupDetail`, `Member` and `Membership`, keys in the reference sheet's order.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::state::{fmt_date, fmt_time, Email, Group, Member, State, User, PROFILE_FIELDS};

/// Gravatar URL of an email (GitLab's default avatar when none is uploaded).
fn avatar_url(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let hex = hex::encode(digest);
    format!("https://www.gravatar.com/avatar/{hex}?s=80&d=identicon")
}

/// `UserBasic`: `{id, username, name, state, locked, avatar_url, web_url}`.
pub(super) fn user_basic(st: &State, u: &User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "name": u.name,
        "state": u.state,
        "locked": false,
        "avatar_url": avatar_url(&u.email),
        "web_url": format!("{}/{}", st.external_url, u.username),
    })
}

fn profile(u: &User, key: &str, null_default: bool) -> Value {
    match u.profile.get(key) {
        Some(v) => Value::String(v.clone()),
        None if null_default => Value::Null,
        None => Value::String(String::new()),
    }
}

fn opt_time(t: Option<&time::OffsetDateTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(fmt_time(t)))
}

/// The admin view of a user (the sheet's user object).
pub(super) fn user_admin(st: &State, u: &User) -> Value {
    let mut m = match user_basic(st, u) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    // Sheet order: email follows name.
    let mut out = Map::new();
    for (k, v) in m.iter_mut() {
        out.insert(k.clone(), v.take());
        if k == "name" {
            out.insert("email".into(), json!(u.email));
        }
    }
    out.insert("created_at".into(), json!(fmt_time(&u.created_at)));
    out.insert("is_admin".into(), json!(u.is_admin));
    for (key, null_default) in PROFILE_FIELDS.iter().take(9) {
        out.insert((*key).into(), profile(u, key, *null_default));
        if *key == "location" {
            out.insert("public_email".into(), json!(u.public_email));
        }
    }
    out.insert("pronouns".into(), profile(u, "pronouns", true));
    out.insert("bot".into(), json!(false));
    out.insert("last_sign_in_at".into(), Value::Null);
    out.insert("confirmed_at".into(), opt_time(u.confirmed_at.as_ref()));
    out.insert("theme_id".into(), json!(u.theme_id));
    out.insert(
        "last_activity_on".into(),
        u.last_activity_on
            .map_or(Value::Null, |d| Value::String(fmt_date(&d))),
    );
    out.insert("color_scheme_id".into(), json!(u.color_scheme_id));
    out.insert("projects_limit".into(), json!(u.projects_limit));
    out.insert("current_sign_in_at".into(), Value::Null);
    out.insert("note".into(), profile(u, "note", true));
    let identities: Vec<Value> = u
        .identities
        .iter()
        .map(|i| json!({"provider": i.provider, "extern_uid": i.extern_uid}))
        .collect();
    out.insert("identities".into(), Value::Array(identities));
    out.insert("can_create_group".into(), json!(u.can_create_group));
    out.insert("can_create_project".into(), json!(u.projects_limit > 0));
    out.insert("two_factor_enabled".into(), json!(false));
    out.insert("external".into(), json!(u.external));
    out.insert("private_profile".into(), json!(u.private_profile));
    let commit_email = match u.commit_email.as_deref() {
        // `_private`: the private commit email `<id>-<username>@users.noreply.<host>`.
        Some("_private") => {
            let host = st.external_url.split("://").nth(1).unwrap_or("");
            let host = host.split(':').next().unwrap_or(host);
            format!("{}-{}@users.noreply.{host}", u.id, u.username)
        }
        Some(e) => e.to_string(),
        None => u.email.clone(),
    };
    out.insert("commit_email".into(), json!(commit_email));
    out.insert("current_sign_in_ip".into(), Value::Null);
    out.insert("last_sign_in_ip".into(), Value::Null);
    out.insert("namespace_id".into(), json!(u.namespace_id));
    out.insert(
        "created_by".into(),
        u.created_by
            .and_then(|id| st.users.get(&id))
            .map_or(Value::Null, |c| user_basic(st, c)),
    );
    out.insert("email_reset_offered_at".into(), Value::Null);
    Value::Object(out)
}

/// `Email`.
pub(super) fn email(e: &Email) -> Value {
    json!({"id": e.id, "email": e.email, "confirmed_at": opt_time(e.confirmed_at.as_ref())})
}

/// `Group`; `GroupDetail` adds the (always empty here) project and sharing lists.
pub(super) fn group(st: &State, g: &Group, detail: bool) -> Value {
    let full_path = st.full_path(g);
    let mut v = json!({
        "id": g.id,
        "web_url": format!("{}/groups/{}", st.external_url, full_path),
        "name": g.name,
        "path": g.path,
        "description": g.description,
        "visibility": g.visibility,
        "share_with_group_lock": false,
        "require_two_factor_authentication": false,
        "two_factor_grace_period": 48,
        "project_creation_level": "developer",
        "auto_devops_enabled": null,
        "subgroup_creation_level": "maintainer",
        "emails_disabled": false,
        "emails_enabled": true,
        "mentions_disabled": null,
        "lfs_enabled": true,
        "default_branch": null,
        "avatar_url": null,
        "request_access_enabled": g.request_access_enabled,
        "full_name": st.full_name(g),
        "full_path": full_path,
        "created_at": fmt_time(&g.created_at),
        "parent_id": g.parent_id,
        "organization_id": 1,
        "shared_runners_setting": "enabled",
        "ldap_cn": null,
        "ldap_access": null,
        "marked_for_deletion_on": null,
    });
    if detail {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("shared_with_groups".into(), json!([]));
            obj.insert("projects".into(), json!([]));
            obj.insert("shared_projects".into(), json!([]));
        }
    }
    v
}

/// `Member`: the member's `UserBasic` merged with the membership.
pub(super) fn member(st: &State, m: &Member) -> Value {
    let Some(u) = st.users.get(&m.user_id) else {
        return Value::Null;
    };
    let mut v = user_basic(st, u);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("access_level".into(), json!(m.access_level));
        obj.insert("created_at".into(), json!(fmt_time(&m.created_at)));
        obj.insert(
            "created_by".into(),
            m.created_by
                .and_then(|id| st.users.get(&id))
                .map_or(Value::Null, |c| user_basic(st, c)),
        );
        obj.insert("expires_at".into(), json!(m.expires_at));
        obj.insert("membership_state".into(), json!("active"));
        obj.insert("email".into(), json!(u.email));
        obj.insert("group_saml_identity".into(), Value::Null);
    }
    v
}

/// `Membership` (of `GET /users/:user_id/memberships`).
pub(super) fn membership(g: &Group, m: &Member) -> Value {
    json!({
        "source_id": g.id,
        "source_name": g.name,
        "source_type": "Namespace",
        "access_level": m.access_level,
    })
}
