//! Unit tests of the mapping engine against the shipped Coder mapping.

use std::path::Path;

use serde_json::{json, Value};

use super::compile::compile_mapping_str;
use super::vars::CreateVars;
use super::{BackendResponse, Mapping, MappingError};
use crate::problems::Problems;
use crate::scim::filter::parse_filter;
use crate::scim::schema::Registry;
use crate::scim::ErrorKind;

const CODER: &str = include_str!("../../config/mappings/coder.toml");

fn coder_with(text: &str) -> Mapping {
    let registry = Registry::standard().unwrap();
    let mut problems = Problems::default();
    let mapping = compile_mapping_str(Path::new("coder.toml"), text, &registry, &mut problems);
    assert!(problems.is_empty(), "{problems}");
    mapping.unwrap()
}

fn coder() -> Mapping {
    coder_with(CODER)
}

fn settings() -> Value {
    json!({"organization_id": "org-1", "placeholder_email_domain": "none.invalid"})
}

fn coder_user(username: &str, name: &str, email: &str, status: &str) -> Value {
    json!({"id": "uuid-1", "username": username, "name": name, "email": email, "status": status})
}

#[test]
fn platform_objects_become_scim_attributes() {
    let m = coder();
    let s = settings();
    let out = m
        .users
        .to_scim(
            &coder_user("alice", "Alice L", "alice@x.example", "dormant"),
            None,
            None,
            &s,
        )
        .unwrap();
    assert_eq!(
        out,
        json!({
            "userName": "alice",
            "displayName": "Alice L",
            "name": {"givenName": "Alice", "familyName": "L", "formatted": "Alice L"},
            "emails": [{"value": "alice@x.example", "type": "work", "primary": true}],
            "active": true
        })
    );
    // Name parts from the display name (Coder holds none): the last word is the family name,
    // the words before it the given name; one word is both; no display name, no parts.
    for (name, given, family) in [
        ("Ada King Lovelace", "Ada King", "Lovelace"),
        ("  Admin ", "Admin", "Admin"),
    ] {
        let out = m
            .users
            .to_scim(
                &coder_user("bob", name, "b@x.example", "active"),
                None,
                None,
                &s,
            )
            .unwrap();
        assert_eq!(out["name"]["givenName"], given, "{name}");
        assert_eq!(out["name"]["familyName"], family, "{name}");
    }
    let suspended = m
        .users
        .to_scim(
            &coder_user("bob", "", "bob@x.example", "suspended"),
            None,
            None,
            &s,
        )
        .unwrap();
    assert_eq!(suspended["active"], false);
    assert!(
        suspended.get("displayName").is_none(),
        "an empty name is no value"
    );
    assert!(suspended.get("name").is_none(), "{suspended}");
    // A placeholder address the gateway made up is never shown.
    let placeholder = m
        .users
        .to_scim(
            &coder_user("carol", "", "carol@none.invalid", "active"),
            None,
            None,
            &s,
        )
        .unwrap();
    assert!(placeholder.get("emails").is_none(), "{placeholder}");
}

#[test]
fn what_the_idp_wrote_stands_until_the_platform_changes_it() {
    let m = coder();
    let s = settings();
    let shadow = json!({"userName": "Alice@Example.com", "name": {"givenName": "Alice"}});
    let snapshot = coder_user("alice", "", "alice@example.com", "dormant");
    // Unchanged platform: the IdP's spelling and its removal of displayName stand.
    let same = m
        .users
        .to_scim(&snapshot, Some(&shadow), Some(&snapshot), &s)
        .unwrap();
    assert_eq!(same["userName"], "Alice@Example.com");
    assert!(same.get("displayName").is_none());
    assert!(
        same.get("active").is_none(),
        "active was never written and did not change"
    );
    // Renamed and suspended on the platform: the platform wins for those attributes only.
    let changed = coder_user("alice2", "", "alice@example.com", "suspended");
    let out = m
        .users
        .to_scim(&changed, Some(&shadow), Some(&snapshot), &s)
        .unwrap();
    assert_eq!(out["userName"], "alice2");
    assert_eq!(out["active"], false);
    assert_eq!(out["name"]["givenName"], "Alice");
    // "keep": the IdP's email stands even though Coder kept another one.
    let kept = json!({"userName": "a", "emails": [{"value": "new@example.com"}]});
    let out = m
        .users
        .to_scim(&changed, Some(&kept), Some(&snapshot), &s)
        .unwrap();
    assert_eq!(out["emails"], json!([{"value": "new@example.com"}]));
}

#[test]
fn a_whole_resource_is_completed_with_what_the_platform_decides() {
    let m = coder();
    let s = settings();
    // Created without active, displayName or emails: Coder made the account dormant, named it
    // from name.* and took the userName for its email.
    let mut shadow =
        json!({"userName": "bob@example.com", "name": {"givenName": "Bob", "familyName": "B"}});
    let created = coder_user("bob", "Bob B", "bob@example.com", "dormant");
    m.users
        .complete_unwritten(&mut shadow, &created, &s)
        .unwrap();
    assert_eq!(shadow["active"], true, "Coder decides active: read back");
    assert!(
        shadow.get("displayName").is_none() && shadow.get("emails").is_none(),
        "values derived from other attributes are re-derived, not pinned: {shadow}"
    );
    assert_eq!(
        shadow["userName"], "bob@example.com",
        "what was written stands"
    );
    // What the IdP wrote, even `active: false` against an active account, is not replaced.
    let mut written = json!({"userName": "bob", "active": false});
    m.users
        .complete_unwritten(&mut written, &created, &s)
        .unwrap();
    assert_eq!(written["active"], false);
}

#[test]
fn scim_resources_become_platform_fields() {
    let m = coder();
    let s = settings();
    let desired = m
        .users
        .desired(
            &json!({"userName": "Dade.Murphy@Example.com", "name": {"givenName": "Dade", "familyName": "Murphy"}}),
            &s,
        )
        .unwrap();
    assert_eq!(
        Value::Object(desired),
        json!({"username": "dade-murphy", "name": "Dade Murphy", "email": "Dade.Murphy@Example.com"})
    );
    let with_email = m
        .users
        .desired(
            &json!({"userName": "x", "displayName": "X", "emails": [{"value": "a@e"}, {"value": "b@e", "primary": true}]}),
            &s,
        )
        .unwrap();
    assert_eq!(with_email["email"], "b@e");
    assert_eq!(with_email["name"], "X");
    let placeholder = m.users.desired(&json!({"userName": "Zed"}), &s).unwrap();
    assert_eq!(placeholder["email"], "zed@none.invalid");
    // Without a placeholder domain there is no email at all; the create call then refuses.
    let none = m
        .users
        .desired(&json!({"userName": "Zed"}), &json!({}))
        .unwrap();
    assert!(none.get("email").is_none());
    let err = m
        .users
        .desired(&json!({"userName": "@@@"}), &s)
        .unwrap_err();
    assert!(
        matches!(err, MappingError::InvalidValue(ref msg) if msg.contains("userName")),
        "{err}"
    );
}

#[test]
fn changes_apply_keep_or_reject() {
    let m = coder();
    let s = settings();
    let current = coder_user("alice", "Alice", "alice@example.com", "active");
    let desired = m
        .users
        .desired(
            &json!({"userName": "alice", "emails": [{"value": "other@example.com"}]}),
            &s,
        )
        .unwrap();
    // The name was removed (a change: cleared), the email is kept by Coder (no change).
    let changed = m.users.changes(&desired, None, &current).unwrap();
    assert_eq!(Value::Object(changed), json!({"name": true}));
    let strict = coder_with(&CODER.replace("on_change = \"keep\"", "on_change = \"reject\""));
    let err = strict.users.changes(&desired, None, &current).unwrap_err();
    assert!(matches!(err, MappingError::Immutable(_)), "{err}");
    assert_eq!(
        m.users.kept_changes(
            &json!({"emails": [{"value": "a"}]}),
            &json!({"emails": [{"value": "b"}]})
        ),
        vec!["emails"]
    );
}

fn response(status: u16, body: Value) -> BackendResponse {
    BackendResponse {
        status,
        headers: Default::default(),
        body: crate::mapping::lazy::JsonBody::from_text(body.to_string()),
    }
}

#[test]
fn platform_errors_become_scim_errors() {
    let m = coder();
    let unknown = response(
        400,
        json!({"message": "\"user\" must be an existing uuid or username.", "detail": "queried user=\"bob\""}),
    );
    let e = m.classify_error(&unknown).unwrap();
    assert_eq!((e.kind, e.scim_type), (ErrorKind::NotFound, None));
    assert!(e.detail.contains("queried user"), "{}", e.detail);
    let clash = m
        .classify_error(&response(409, json!({"message": "User already exists."})))
        .unwrap();
    assert_eq!(clash.kind, ErrorKind::Conflict);
    assert_eq!(clash.scim_type.map(|t| t.as_str()), Some("uniqueness"));
    let invalid = response(
        400,
        json!({"message": "Validation failed.", "validations": [{"field": "username", "detail": "bad name"}]}),
    );
    let e = m.classify_error(&invalid).unwrap();
    assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidValue"));
    assert!(e.detail.contains("bad name"), "{}", e.detail);
    assert_eq!(
        m.classify_error(&response(417, json!({"message": "workspaces"})))
            .unwrap()
            .kind,
        ErrorKind::Conflict
    );
    assert!(m
        .classify_error(&response(500, json!({"message": "boom"})))
        .is_none());
    assert!(
        m.classify_error(&response(401, json!({}))).is_none(),
        "the gateway's credential is not the IdP's fault"
    );
}

#[test]
fn filters_are_pushed_down_where_the_platform_can() {
    let m = coder();
    let list = &m.users.list;
    let plan = |f: &str| {
        list.pushdown(&parse_filter(f).unwrap(), &settings())
            .unwrap()
    };
    let by_name = plan(r#"userName eq "Alice.Smith@Example.com""#).unwrap();
    assert_eq!(
        by_name.query,
        vec![("q".to_owned(), "alice-smith".to_owned())]
    );
    assert!(!by_name.exact, "Coder's search is a substring match");
    let inactive = plan("active eq false").unwrap();
    assert_eq!(
        inactive.query,
        vec![("q".to_owned(), "status:suspended".to_owned())]
    );
    assert!(inactive.exact);
    let conj = plan(r#"active eq false and title eq "x""#).unwrap();
    assert!(!conj.exact, "the other conjunct still needs the gateway");
    assert!(plan(r#"userName co "x""#).is_none());
    assert!(
        plan(r#"userName eq "@@@""#).is_none(),
        "nothing to push down: scan instead"
    );
}

#[test]
fn calls_render_typed_bodies() {
    let m = coder();
    let settings = settings();
    let desired = json!({"username": "alice", "email": "a@example.com"});
    let scim = json!({"userName": "alice", "active": false});
    let vars = CreateVars {
        scim: &scim,
        desired: desired.as_object().unwrap(),
        settings: &settings,
        generated: &serde_json::Map::new(),
        key: None,
        backend: None,
    };
    let create = &m.users.create[0];
    let request = create.render(&vars, &[]).unwrap();
    assert_eq!(request.path, "/api/v2/users");
    assert_eq!(
        request.body,
        Some(
            json!({"email": "a@example.com", "username": "alice", "login_type": "oidc", "organization_ids": ["org-1"]})
        )
    );
    assert!(
        m.users.create[1].applies(&vars).unwrap(),
        "inactive users are suspended after create"
    );
    let only_name = json!({"username": "a"});
    let no_email = CreateVars {
        scim: &scim,
        desired: only_name.as_object().unwrap(),
        settings: &settings,
        generated: &serde_json::Map::new(),
        key: None,
        backend: None,
    };
    let err = create.render(&no_email, &[]).unwrap_err();
    assert!(
        matches!(err, MappingError::InvalidValue(ref msg) if msg.contains("email")),
        "{err}"
    );
}

#[test]
fn broken_mappings_report_every_problem() {
    let registry = Registry::standard().unwrap();
    let mut problems = Problems::default();
    let text = CODER
        .replace("key = \"backend.id\"", "key = \"backend.\"")
        .replace("scim = \"active\"", "scim = \"activ\"")
        .replace(
            "scheme = \"header\", header = \"Coder-Session-Token\"",
            "scheme = \"header\"",
        )
        .replace("scim_type = \"uniqueness\"", "scim_type = \"unique\"")
        .replace("offset = \"{{ offset }}\"", "start = \"{{ begin }}\"");
    assert!(compile_mapping_str(Path::new("m.toml"), &text, &registry, &mut problems).is_none());
    let keys: Vec<&str> = problems.0.iter().map(|p| p.key.as_str()).collect();
    for key in [
        "platform.auth.header",
        "errors[1].scim_type",
        "users.key",
        "users.attributes[activ].scim",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let mut problems = Problems::default();
    assert!(
        compile_mapping_str(Path::new("m.toml"), "[platform", &registry, &mut problems).is_none()
    );
    assert!(problems.0[0].message.contains("not valid TOML"));
}

#[test]
fn snapshots_keep_only_what_attributes_read() {
    let m = coder();
    let mut user = coder_user("alice", "Alice", "alice@example.com", "active");
    user["last_seen_at"] = json!("2026-01-01T00:00:00Z");
    let snap = m.users.snapshot_of(&user);
    assert_eq!(
        snap,
        json!({"email": "alice@example.com", "name": "Alice", "status": "active", "username": "alice"})
    );
    // A login elsewhere on the platform is no change to what the IdP wrote.
    user["last_seen_at"] = json!("2026-02-02T00:00:00Z");
    let shadow = json!({"userName": "Alice@Example.com"});
    let out = m
        .users
        .to_scim(&user, Some(&shadow), Some(&snap), &settings())
        .unwrap();
    assert_eq!(out, shadow);
    // A group's member list is not part of its snapshot.
    let groups = m.groups.as_ref().unwrap();
    let group = json!({"id": "g", "name": "eng", "display_name": "Eng", "members": [{"id": "u1"}]});
    assert_eq!(groups.snapshot_of(&group), json!({"display_name": "Eng"}));
}

#[test]
fn error_rules_answer_only_statuses_scim_errors_use() {
    let registry = Registry::standard().unwrap();
    let mut problems = Problems::default();
    let text = CODER.replace(
        "status = 417\nscim_status = 409",
        "status = 417\n\n[[errors]]\nstatus = 418\n\n[[errors]]\nstatus = 400\nscim_status = 302",
    );
    assert_ne!(text, CODER);
    compile_mapping_str(Path::new("coder.toml"), &text, &registry, &mut problems);
    let messages: Vec<String> = problems.0.iter().map(|p| p.to_string()).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages[0].contains("errors[3].status: 417 is not a status SCIM errors answer with; set scim_status to one of 400, 403, 404, 409, 412, 413, 429, 501, 503"), "{messages:?}");
    assert!(
        messages[1].contains("errors[4].status: 418"),
        "{messages:?}"
    );
    assert!(
        messages[2].contains("errors[5].scim_status: 302"),
        "{messages:?}"
    );
}

/// Compiles the Coder mapping with replacements, answering the problems' texts.
fn problems_of(replacements: &[(&str, &str)]) -> Vec<String> {
    let registry = Registry::standard().unwrap();
    let mut problems = Problems::default();
    let mut text = CODER.to_owned();
    for (from, to) in replacements {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    compile_mapping_str(Path::new("coder.toml"), &text, &registry, &mut problems);
    problems
        .0
        .iter()
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect()
}

#[test]
fn typos_in_templates_are_problems_with_a_suggestion() {
    let found = problems_of(&[
        ("when = \"changed.username or changed.name\"", "when = \"chnged.username or changed.nme\""),
        ("current.status != 'suspended'\"\nmethod = \"PUT\"\npath = \"/api/v2/users/{{ key }}/status/suspend\"",
         "current.stauts != 'suspended'\"\nmethod = \"PUT\"\npath = \"/api/v2/users/{{ key }}/status/suspend\""),
        ("organization = \"{{ settings.organization_id }}\" }", "organization = \"{{ settings.organisation_id }}\" }"),
        ("when = \"scim.active == false\"", "when = \"scim.activ == false\""),
    ]);
    let expect = [
        "users.update[0].when: `chnged` is not a variable here (it sees key, scim, desired, changed, current, backend, settings, generated); did you mean `changed`?",
        "users.update[0].when: no attribute writes the platform field `nme` (`changed` holds username, name, email); did you mean `name`?",
        "users.update[1].when: `current.stauts`: the platform object has no declared field `stauts` (not in `fields`); did you mean `status`?",
        "groups.list.query: `settings.organisation_id` is not a setting of this mapping: name it in [platform] settings (required) or optional_settings; did you mean `organization_id`?",
        "users.create[1].when: `scim.activ`: the SCIM User schema has no attribute `activ` (extension attributes are read as scim['urn:...'].name); did you mean `active`?",
    ];
    for e in expect {
        assert!(found.iter().any(|f| f == e), "missing {e}\nin {found:#?}");
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}

#[test]
fn secrets_and_whole_objects_are_not_read_and_every_write_is_sent() {
    let found = problems_of(&[
        // The envelope shortcut that made the gateway keep the whole object.
        ("backend = \"name\"\nto_backend = \"value or resource.name.formatted",
         "backend = \"name\"\nfrom_backend = \"(backend.user or backend).name\"\nto_backend = \"value or resource.name.formatted"),
        ("fields = [\"id\", \"username\", \"name\", \"email\", \"status\", \"created_at\"]",
         "fields = [\"id\", \"username\", \"name\", \"email\", \"status\", \"created_at\", \"user\"]"),
        // A field that looks like a secret, read without being declared.
        ("from_backend = \"backend.status != 'suspended'\"", "from_backend = \"backend.status != 'suspended' and not backend.api_key\""),
        // An update that no longer sends the name.
        ("body = { username = \"{{ desired.username or current.username }}\", name = \"{{ desired.name or '' }}\" }",
         "body = { username = \"{{ desired.username or current.username }}\" }"),
    ]);
    let expect = [
        "users.attributes[displayName].from_backend: reads the platform object as a whole (`backend`); name its fields (`backend.x`), and declare an envelope with the call's `object` instead of `(backend.user or backend)`",
        "users.attributes[active].from_backend: `backend.api_key`: the platform object has no declared field `api_key` (not in `fields`)",
        "users.attributes[displayName]: no users.update call sends `desired.name`: a change would never reach the platform (set on_change = \"keep\" or \"reject\" if the platform cannot change it)",
    ];
    for e in expect {
        assert!(found.iter().any(|f| f == e), "missing {e}\nin {found:#?}");
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    // Declared, a secret-looking field may be read; undeclared fields of a mapping without
    // `fields` are what its attributes read.
    let declared = problems_of(&[
        (
            "fields = [\"id\", \"username\", \"name\", \"email\", \"status\", \"created_at\"]",
            "",
        ),
        (
            "from_backend = \"backend.status != 'suspended'\"",
            "from_backend = \"backend.status != 'suspended' and not backend.api_token\"",
        ),
    ]);
    assert_eq!(
        declared,
        ["users.attributes[active].from_backend: `backend.api_token` looks like a secret: the gateway does not read it unless `users.fields` lists it"],
    );
}

#[test]
fn platform_words_are_shown_without_secrets_or_statements() {
    let m = coder();
    let leak = response(
        409,
        json!({"message": "duplicate key value violates unique constraint: INSERT INTO users (username, hashed_password) VALUES ('bob', '$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy')"}),
    );
    let e = m.classify_error(&leak).unwrap();
    assert_eq!(
        e.detail,
        "Coder answered 409: duplicate key value violates unique constraint (database statement omitted)"
    );
    let token = response(
        400,
        json!({"message": "invalid api_key=sk_live_1234 given"}),
    );
    assert!(!m.classify_error(&token).unwrap().detail.contains("sk_live"));
}

#[test]
fn gitlab_refuses_a_user_without_an_email_unless_a_placeholder_is_set() {
    let m = coder_with(include_str!("../../config/mappings/gitlab.toml"));
    let resource = json!({"userName": "bob"});
    let err = m
        .users
        .desired(&resource, &json!({"service_account": "root"}))
        .unwrap_err();
    let scim = err.to_scim().expect("the IdP's fault");
    assert_eq!(scim.kind, ErrorKind::Invalid);
    assert!(scim.detail.contains("an email"), "{}", scim.detail);
    let desired = m
        .users
        .desired(
            &resource,
            &json!({"service_account": "root", "placeholder_email_domain": "none.invalid"}),
        )
        .unwrap();
    assert_eq!(desired["email"], "bob@none.invalid");
    let from_email_name = m
        .users
        .desired(&json!({"userName": "Bob@Example.com"}), &json!({}))
        .unwrap();
    assert_eq!(from_email_name["email"], "Bob@Example.com");
    assert_eq!(from_email_name["username"], "bob");
}

#[test]
fn values_the_platform_decides_are_refused_not_dropped() {
    let hub = coder_with(include_str!("../../config/mappings/jupyterhub.toml"));
    let holds = json!({"userName": "ada", "active": true});
    // What JupyterHub would hold anyway passes; a deactivation it cannot make is refused.
    hub.users
        .refuse_undecidable(&json!({"active": true}), &json!({}), &holds)
        .unwrap();
    let err = hub
        .users
        .refuse_undecidable(&json!({"active": false}), &json!({}), &holds)
        .unwrap_err();
    let scim = err.to_scim().unwrap();
    assert_eq!(scim.scim_type, Some(crate::scim::ScimType::Mutability));
    assert!(
        scim.detail.contains("active is readOnly"),
        "{}",
        scim.detail
    );
    // Not sending it at all is fine.
    hub.users
        .refuse_undecidable(&json!({}), &json!({}), &holds)
        .unwrap();

    // immutable: set once, then kept.
    let m = coder_with(&CODER.replace(
        "to_backend = \"value | local_part | slug(32)\"",
        "to_backend = \"value | local_part | slug(32)\"\nmutability = \"immutable\"",
    ));
    let before = json!({"userName": "bob"});
    m.users
        .refuse_undecidable(&json!({}), &json!({"userName": "bob"}), &before)
        .unwrap();
    m.users
        .refuse_undecidable(&json!({}), &json!({"userName": "carol"}), &json!({}))
        .unwrap();
    let err = m
        .users
        .refuse_undecidable(&json!({}), &json!({"userName": "carol"}), &before)
        .unwrap_err();
    assert!(err.to_scim().unwrap().detail.contains("immutable"));
}

#[test]
fn member_calls_see_only_what_a_create_and_an_update_both_offer() {
    let found = problems_of(&[(
        "when = \"added or removed\"",
        "when = \"added or changed.name\"",
    )]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("groups.members.update[0].when: `changed` is not a variable here"),
        "{found:?}"
    );
}

fn problems_in(text: &str) -> Vec<String> {
    let registry = Registry::standard().unwrap();
    let mut problems = Problems::default();
    compile_mapping_str(Path::new("m.toml"), text, &registry, &mut problems);
    problems
        .0
        .iter()
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect()
}

#[test]
fn check_refuses_lookups_that_would_miss_or_confuse_accounts() {
    // A push-down on a name the platform keeps from the first write misses renamed groups.
    let hub = include_str!("../../config/mappings/jupyterhub.toml").replace(
        "[[groups.create]]",
        "[[groups.list.filters]]\nattribute = \"displayName\"\nop = \"eq\"\nget = { path = \"/hub/api/groups/{{ value | slug(255) }}\" }\n\n[[groups.create]]",
    );
    let found = problems_in(&hub);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("groups.list.filters[0]: `displayName` is `on_change = \"keep\"`"),
        "{found:?}"
    );
    // Identity decided from a field list items lack.
    let found =
        problems_in(&CODER.replace("[users.list]\n", "[users.list]\nlacks = [\"created_at\"]\n"));
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("users.identity: reads `created_at` which list items lack")),
        "{found:?}"
    );
}

/// `[users.groups]` is a call of its own or `from = "groups.list"`, never half of each; the list
/// form needs members held in the group object (a members call per group would be one call
/// per group for every user read).
#[test]
fn users_groups_is_a_call_or_the_groups_list() {
    let from_list = "[users.groups]\nfrom = \"groups.list\"\n";
    let cases: [(&str, &str); 3] = [
        (
            "[users.groups]\nfrom = \"groups.lst\"\n",
            "users.groups.from: unknown source `groups.lst`: the one source is \"groups.list\"",
        ),
        (
            "[users.groups]\nfrom = \"groups.list\"\npath = \"/api/v2/groups\"\nitems = \"response\"\n",
            "users.groups: from = \"groups.list\" reads the groups through [groups.list]; leave out path, items",
        ),
        (
            "[users.groups]\npath = \"/api/v2/groups\"\n",
            "users.groups: needs `path` and `items` (a call that lists the user's groups), or from = \"groups.list\"",
        ),
    ];
    for (table, expect) in cases {
        let found = problems_of(&[(from_list, table)]);
        assert_eq!(found, [expect.to_owned()], "{table}");
    }
    assert!(problems_of(&[]).is_empty());

    let gitlab = include_str!("../../config/mappings/gitlab.toml").replacen(
        "[users.get]",
        &format!("{from_list}\n[users.get]"),
        1,
    );
    let registry = Registry::standard().unwrap();
    let mut problems = Problems::default();
    compile_mapping_str(Path::new("gitlab.toml"), &gitlab, &registry, &mut problems);
    let found: Vec<String> = problems
        .0
        .iter()
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect();
    assert_eq!(
        found,
        ["users.groups.from: \"groups.list\" picks a user's groups by the members in each group object: it needs [groups.members] from_backend, not a members list call"],
    );
}
