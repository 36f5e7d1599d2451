//! GitLab through the shipped `config/mappings/gitlab.toml`, in front of the GitLab emulator
//! (`scimgate demo --platform gitlab` starts the same): the same binary as for Coder, differing
//! only by mapping file. Users and groups through their whole lifecycles, membership read from a
//! call of its own and written one member per call, the service account invisible, an id
//! reused on the platform answered 404.

use reqwest::Method;
use serde_json::{json, Value};

use scimgate::demo::DemoOptions;
use scimgate::sandbox::gitlab::GitLabEmulator;

use crate::support::{filter_query, patch_op, user, Harness};

async fn gitlab() -> Harness {
    Harness::with(DemoOptions {
        gitlab: true,
        ..Default::default()
    })
    .await
}

/// Without a cache: a change made on GitLab directly is seen at once (else within
/// `cache.ttl_secs`).
async fn gitlab_uncached() -> Harness {
    Harness::with(DemoOptions {
        gitlab: true,
        cache_ttl: std::time::Duration::ZERO,
        ..Default::default()
    })
    .await
}

fn emulator(h: &Harness) -> &GitLabEmulator {
    &h.demo.gitlab.as_ref().expect("a GitLab demo").0
}

/// A call straight to GitLab's API with the administrator's token (acting on the platform
/// behind the gateway's back).
async fn gitlab_api(h: &Harness, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let (_, url, token) = h.demo.gitlab.as_ref().expect("a GitLab demo");
    let mut request = h
        .http
        .request(method, format!("{url}/api/v4{path}"))
        .header("PRIVATE-TOKEN", token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("GitLab answers");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn group(name: &str, members: &[&str]) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": members.iter().map(|id| json!({"value": id})).collect::<Vec<_>>(),
    })
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn gitlab_user_lifecycle() {
    let h = gitlab_uncached().await;
    let gl = emulator(&h);

    // The gateway's own account (root, the token's owner) is invisible and unwritable.
    let listed = h.get("/Users").await.expect(200);
    assert_eq!(listed["totalResults"], 0, "{listed}");
    let root = h
        .get(&format!("/Users?{}", filter_query(r#"userName eq "root""#)))
        .await
        .expect(200);
    assert_eq!(root["totalResults"], 0);
    h.post("/Users", user("root", "root@example.com"))
        .await
        .expect_error(409, Some("uniqueness"));

    // Created without `active`: GitLab made the account active, and it reads back so. The
    // username is the userName's local part in GitLab's form (`.`, `_` and `-` kept).
    let mut alice = user("Alice.Liddell@example.com", "alice@example.com");
    alice.as_object_mut().unwrap().remove("active");
    let created = h.post("/Users", alice).await.expect(201);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["userName"], "Alice.Liddell@example.com");
    assert_eq!(created["active"], true);
    let platform = gl.user_json("alice.liddell").expect("GitLab has the user");
    assert_eq!(platform["email"], "alice@example.com");
    assert_eq!(platform["name"], "Given Family");
    assert_eq!(platform["state"], "active");
    assert_eq!(h.get(&format!("/Users/{id}")).await.expect(200), created);

    // GitLab requires an email: a user with none (and no email userName) gets a placeholder
    // address (the setting placeholder_email_domain), never shown back.
    let mut no_email = user("bob", "x@example.com");
    no_email.as_object_mut().unwrap().remove("emails");
    let bob = h.post("/Users", no_email).await.expect(201);
    assert!(bob.get("emails").is_none(), "{bob}");
    assert_eq!(
        gl.user_json("bob").unwrap()["email"],
        "bob@no-email.scimgate.invalid"
    );
    let bob = h
        .get(&format!("/Users/{}", bob["id"].as_str().unwrap()))
        .await
        .expect(200);
    assert!(bob.get("emails").is_none(), "{bob}");

    // A filter on userName asks GitLab by username; the IdP's spelling is matched again.
    let found = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"userName eq "alice.liddell@example.com""#)
        ))
        .await
        .expect(200);
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    // Deactivation blocks, reactivation unblocks; a filter on active is GitLab's own.
    let blocked = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await
        .expect(200);
    assert_eq!(blocked["active"], false);
    assert_eq!(gl.user_json("alice.liddell").unwrap()["state"], "blocked");
    let inactive = h
        .get(&format!("/Users?{}", filter_query("active eq false")))
        .await
        .expect(200);
    assert_eq!(inactive["totalResults"], 1, "{inactive}");
    h.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "replace", "value": {"active": true}}])),
    )
    .await
    .expect(200);
    assert_eq!(gl.user_json("alice.liddell").unwrap()["state"], "active");

    // A replace changes name and email on GitLab (no reconfirmation mail).
    let mut replaced = user("Alice.Liddell@example.com", "liddell@example.com");
    replaced["displayName"] = json!("Alice Liddell");
    let put = h.put(&format!("/Users/{id}"), replaced).await.expect(200);
    assert_eq!(put["displayName"], "Alice Liddell");
    let platform = gl.user_json("alice.liddell").unwrap();
    assert_eq!(platform["name"], "Alice Liddell");
    assert_eq!(platform["email"], "liddell@example.com");

    // A user GitLab deactivated for dormancy is active for SCIM, and the IdP can block them.
    assert!(gl.set_user_state("alice.liddell", "deactivated"));
    let seen = h.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(seen["active"], true, "{seen}");
    h.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await
    .expect(200);
    assert_eq!(gl.user_json("alice.liddell").unwrap()["state"], "blocked");
    // A name change sends the name only: GitLab's username stays as GitLab holds it.
    assert!(gl.set_user_state("alice.liddell", "active"));
    let (status, _) = gitlab_api(
        &h,
        Method::PUT,
        &format!("/users/{}", gl.user_id("alice.liddell").unwrap()),
        Some(json!({"username": "Alice.Liddell"})),
    )
    .await;
    assert_eq!(status, 200);
    h.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "replace", "path": "displayName", "value": "A. Liddell"}])),
    )
    .await
    .expect(200);
    let platform = gl.user_json("alice.liddell").unwrap();
    assert_eq!(
        (platform["username"].as_str(), platform["name"].as_str()),
        (Some("Alice.Liddell"), Some("A. Liddell"))
    );

    // Banned or pending approval on GitLab: inactive for SCIM; reactivation unbans or approves.
    for (state, call) in [
        ("banned", "POST /api/v4/users/:id/unban"),
        ("blocked_pending_approval", "POST /api/v4/users/:id/approve"),
    ] {
        assert!(gl.set_user_state("alice.liddell", state));
        let seen = h.get(&format!("/Users/{id}")).await.expect(200);
        assert_eq!(seen["active"], false, "{state}: {seen}");
        let before = gl.request_counts().get(call).copied().unwrap_or(0);
        let back = h
            .patch(
                &format!("/Users/{id}"),
                patch_op(json!([{"op": "replace", "path": "active", "value": true}])),
            )
            .await
            .expect(200);
        assert_eq!(back["active"], true, "{state}");
        assert_eq!(gl.user_json("alice.liddell").unwrap()["state"], "active");
        assert_eq!(gl.request_counts().get(call).copied(), Some(before + 1));
    }
    // LDAP-blocked: GitLab's API cannot unblock; the IdP gets GitLab's refusal, not a 200.
    assert!(gl.set_user_state("alice.liddell", "ldap_blocked"));
    let refused = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "replace", "path": "active", "value": true}])),
        )
        .await
        .expect_error(403, None);
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("LDAP blocked users"),
        "{refused}"
    );
    assert_eq!(
        gl.user_json("alice.liddell").unwrap()["state"],
        "ldap_blocked"
    );
    assert!(gl.set_user_state("alice.liddell", "active"));

    // Blocked on GitLab directly: the IdP sees it.
    assert!(gl.set_user_state("alice.liddell", "blocked"));
    let seen = h.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(seen["active"], false, "{seen}");

    // A GitLab error reaches the IdP in SCIM's form: the email is another user's.
    let carol = h
        .post("/Users", user("carol@example.com", "carol@example.com"))
        .await
        .expect(201);
    let clash = h
        .patch(
            &format!("/Users/{}", carol["id"].as_str().unwrap()),
            patch_op(json!([{"op": "replace", "path": "emails", "value": [{"value": "liddell@example.com", "primary": true}]}])),
        )
        .await
        .expect_error(409, Some("uniqueness"));
    assert!(
        clash["detail"].as_str().unwrap().contains("taken"),
        "{clash}"
    );

    // Deleted through SCIM (GitLab deletes asynchronously): gone for the IdP at once.
    gl.set_delete_delay(std::time::Duration::from_millis(300));
    h.delete(&format!("/Users/{id}")).await.expect(204);
    h.get(&format!("/Users/{id}")).await.expect_error(404, None);
    let listed = h.get("/Users").await.expect(200);
    assert_eq!(listed["totalResults"], 2, "{listed}");
}

#[tokio::test]
async fn gitlab_group_lifecycle_with_members_listed_and_written_one_by_one() {
    let h = gitlab().await;
    let gl = emulator(&h);
    let mut ids = Vec::new();
    for name in ["ann", "ben", "cat"] {
        let created = h
            .post("/Users", user(name, &format!("{name}@example.com")))
            .await
            .expect(201);
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let (ann, ben, cat) = (&ids[0], &ids[1], &ids[2]);

    // Created with a member: GitLab's path comes from the name; the token's owner (root),
    // the group's first owner, is never shown as a member.
    let created = h
        .post("/Groups", group("Data Science", &[ann]))
        .await
        .expect(201);
    let gid = created["id"].as_str().unwrap().to_owned();
    assert_eq!(member_ids(&created), vec![ann.clone()]);
    let on_gitlab = gl.group_json("data-science").expect("GitLab has the group");
    assert_eq!(on_gitlab["name"], "Data Science");
    assert_eq!(
        gl.group_members("data-science").unwrap(),
        vec![("root".to_owned(), 50), ("ann".to_owned(), 30)]
    );

    // A delta: one POST and one DELETE per member, nothing else.
    let before = gl.request_counts();
    let patched = h
        .patch(
            &format!("/Groups/{gid}"),
            patch_op(json!([
                {"op": "add", "path": "members", "value": [{"value": ben}, {"value": cat}]},
                {"op": "remove", "path": format!("members[value eq \"{ann}\"]")}
            ])),
        )
        .await
        .expect(200);
    let mut expected = vec![ben.clone(), cat.clone()];
    expected.sort();
    assert_eq!(member_ids(&patched), expected);
    let after = gl.request_counts();
    let calls =
        |key: &str| after.get(key).copied().unwrap_or(0) - before.get(key).copied().unwrap_or(0);
    assert_eq!(calls("POST /api/v4/groups/:id/members"), 2, "{after:?}");
    assert_eq!(calls("DELETE /api/v4/groups/:id/members/:user_id"), 1);
    assert_eq!(
        calls("PUT /api/v4/groups/:id"),
        0,
        "the name did not change"
    );
    let mut on_gitlab = gl.group_members("data-science").unwrap();
    on_gitlab.sort();
    assert_eq!(
        on_gitlab,
        vec![
            ("ben".to_owned(), 30),
            ("cat".to_owned(), 30),
            ("root".to_owned(), 50)
        ]
    );

    // A member added on GitLab directly is read from the member list, as a SCIM member.
    let ann_id = gl.user_id("ann").unwrap();
    let (status, _) = gitlab_api(
        &h,
        Method::POST,
        &format!("/groups/{}/members", on_gitlab_id(gl, "data-science")),
        Some(json!({"user_id": ann_id, "access_level": 20})),
    )
    .await;
    assert_eq!(status, 201);
    let read = h.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(member_ids(&read).len(), 3, "{read}");

    // One member's change fails (ben was deleted on GitLab directly): the others are made,
    // and the answer says which failed and why, never 200.
    let (status, _) = gitlab_api(
        &h,
        Method::DELETE,
        &format!(
            "/groups/{}/members/{}",
            on_gitlab_id(gl, "data-science"),
            gl.user_id("ben").unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = gitlab_api(
        &h,
        Method::DELETE,
        &format!("/users/{}", gl.user_id("ben").unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let failed = h
        .patch(
            &format!("/Groups/{gid}"),
            patch_op(json!([
                {"op": "add", "path": "members", "value": [{"value": ben}]},
                {"op": "remove", "path": format!("members[value eq \"{cat}\"]")}
            ])),
        )
        .await
        .expect_error(400, Some("invalidValue"));
    let detail = failed["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains(&format!("adding {ben}")), "{detail}");
    assert!(detail.contains("every other member"), "{detail}");
    let (status, log) = crate::admin::admin(
        &h,
        Method::GET,
        &format!("/tenants/default/audit?operation=patch&target={gid}&outcome=failure"),
        None,
        Some(h.demo.admin_token.as_str()),
    )
    .await;
    assert_eq!(status, 200, "{log}");
    let audited = log["entries"][0]["detail"].as_str().unwrap_or_default();
    assert!(audited.contains(&format!("adding {ben}")), "{log}");
    let names: Vec<String> = gl
        .group_members("data-science")
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        !names.contains(&"cat".to_owned()),
        "cat's removal was made: {names:?}"
    );

    // A rename changes GitLab's name, not its path (the group's URL).
    let renamed = h
        .patch(
            &format!("/Groups/{gid}"),
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "ML Research"}])),
        )
        .await
        .expect(200);
    assert_eq!(renamed["displayName"], "ML Research");
    assert_eq!(
        gl.group_json("data-science").unwrap()["name"],
        "ML Research"
    );

    // A user who is a group's sole owner cannot be deleted: 409, and the link stays.
    let (status, sole) = gitlab_api(
        &h,
        Method::POST,
        "/groups",
        Some(json!({"name": "Ann's", "path": "anns"})),
    )
    .await;
    assert_eq!(status, 201, "{sole}");
    let sole_id = sole["id"].as_u64().unwrap();
    for (method, path, body) in [
        (
            Method::POST,
            format!("/groups/{sole_id}/members"),
            Some(json!({"user_id": ann_id, "access_level": 50})),
        ),
        (Method::DELETE, format!("/groups/{sole_id}/members/1"), None),
    ] {
        let (status, body) = gitlab_api(&h, method, &path, body).await;
        assert!(status < 300, "{status} {body}");
    }
    let refused = h
        .delete(&format!("/Users/{ann}"))
        .await
        .expect_error(409, None);
    assert!(
        refused["detail"].as_str().unwrap().contains("sole-owner"),
        "{refused}"
    );
    h.get(&format!("/Users/{ann}")).await.expect(200);

    // Deleted (GitLab schedules it): gone for the IdP.
    h.delete(&format!("/Groups/{gid}")).await.expect(204);
    h.get(&format!("/Groups/{gid}"))
        .await
        .expect_error(404, None);
}

fn on_gitlab_id(gl: &GitLabEmulator, path: &str) -> u64 {
    gl.group_json(path).unwrap()["id"].as_u64().unwrap()
}

#[tokio::test]
async fn a_gitlab_id_reused_for_another_account_is_not_that_person() {
    let h = gitlab_uncached().await;
    let gl = emulator(&h);
    gl.set_id_reuse(true);
    let dave = h
        .post("/Users", user("dave@example.com", "dave@example.com"))
        .await
        .expect(201);
    let dave_id = dave["id"].as_str().unwrap();
    let dave_key = gl.user_id("dave").unwrap();

    // Dave is deleted on GitLab directly; Erin gets his id.
    let (status, _) = gitlab_api(&h, Method::DELETE, &format!("/users/{dave_key}"), None).await;
    assert_eq!(status, 204);
    let (status, erin) = gitlab_api(
        &h,
        Method::POST,
        "/users",
        Some(json!({"email": "erin@example.com", "username": "erin", "name": "Erin", "force_random_password": true})),
    )
    .await;
    assert_eq!(status, 201, "{erin}");
    assert_eq!(
        erin["id"].as_u64(),
        Some(dave_key),
        "the emulator reused the id"
    );

    // Dave's SCIM id answers 404, never Erin's account; Erin is listed with an id of her own.
    h.get(&format!("/Users/{dave_id}"))
        .await
        .expect_error(404, None);
    let listed = h.get("/Users").await.expect(200);
    assert_eq!(listed["totalResults"], 1, "{listed}");
    assert_eq!(listed["Resources"][0]["userName"], "erin");
    assert_ne!(listed["Resources"][0]["id"], dave_id);
    h.patch(
        &format!("/Users/{dave_id}"),
        patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await
    .expect_error(404, None);
    assert_eq!(gl.user_json("erin").unwrap()["state"], "active");
}

#[tokio::test]
async fn a_member_change_no_call_makes_is_an_error_not_a_success() {
    // A mapping whose per-member add call never applies: the member is not added, so the
    // group's create cannot answer 201 as if it had been.
    let emulator = GitLabEmulator::new("glpat-conditionsneverhold0");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(emulator.clone().serve(listener, async move {
        let _ = stopped.await;
    }));
    let mapping = scimgate::demo::GITLAB_MAPPING.replace(
        "[[groups.members.add]]\nmethod = \"POST\"",
        "[[groups.members.add]]\nwhen = \"scim.displayName == 'never'\"\nmethod = \"POST\"",
    );
    assert_ne!(mapping, scimgate::demo::GITLAB_MAPPING);
    let mut settings = serde_json::Map::new();
    settings.insert("service_account".to_owned(), json!("root"));
    let h = Harness::with(DemoOptions {
        front: Some(scimgate::demo::FrontedPlatform {
            mapping,
            mapping_name: "gitlab.toml".to_owned(),
            base_url: url,
            credential: "glpat-conditionsneverhold0".to_owned(),
            settings,
        }),
        ..Default::default()
    })
    .await;
    let ann = h
        .post("/Users", user("ann", "ann@example.com"))
        .await
        .expect(201);
    let failed = h
        .post("/Groups", group("Nobody", &[ann["id"].as_str().unwrap()]))
        .await;
    assert_eq!(failed.status.as_u16(), 500, "{}", failed.body);
    let detail = failed.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("was created, but its members could not be set"),
        "{detail}"
    );
    assert_eq!(
        emulator.group_members("nobody").unwrap(),
        vec![("root".to_owned(), 50)]
    );
    let _ = stop.send(());
    let _ = serving.await;
}
