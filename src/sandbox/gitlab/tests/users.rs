//! Users: shape, create/update validation, search filters, pagination, emails, identities.

use serde_json::{json, Value};

use super::{id, start, usernames, Env};

/// Keys of the admin user object, in the sheet's order (plus `bot`).
const USER_KEYS: [&str; 42] = [
    "id",
    "username",
    "name",
    "email",
    "state",
    "locked",
    "avatar_url",
    "web_url",
    "created_at",
    "is_admin",
    "bio",
    "location",
    "public_email",
    "linkedin",
    "twitter",
    "discord",
    "github",
    "website_url",
    "organization",
    "job_title",
    "pronouns",
    "bot",
    "last_sign_in_at",
    "confirmed_at",
    "theme_id",
    "last_activity_on",
    "color_scheme_id",
    "projects_limit",
    "current_sign_in_at",
    "note",
    "identities",
    "can_create_group",
    "can_create_project",
    "two_factor_enabled",
    "external",
    "private_profile",
    "commit_email",
    "current_sign_in_ip",
    "last_sign_in_ip",
    "namespace_id",
    "created_by",
    "email_reset_offered_at",
];

fn alice_body() -> Value {
    json!({
        "email": "alice@example.com", "username": "alice", "name": "Alice Liddell",
        "force_random_password": true, "skip_confirmation": true,
        "provider": "saml", "extern_uid": "00u1abcd", "job_title": "Engineer"
    })
}

#[tokio::test]
async fn create_returns_the_admin_view() {
    let env = start().await;
    let r = env.call("POST", "/users", Some(alice_body())).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let u = &r.json;
    let keys: Vec<&String> = u.as_object().unwrap().keys().collect();
    assert_eq!(keys, USER_KEYS);
    assert_eq!(u["id"], 2);
    assert_eq!(u["namespace_id"], 2);
    assert_eq!(u["state"], "active");
    assert_eq!(u["is_admin"], false);
    assert_eq!(
        u["identities"],
        json!([{"provider": "saml", "extern_uid": "00u1abcd"}])
    );
    assert_eq!(u["job_title"], "Engineer");
    assert_eq!(u["web_url"], format!("{}/alice", env.root));
    assert_eq!(u["commit_email"], "alice@example.com");
    assert_eq!(u["created_by"]["username"], "root");
    assert_eq!(u["last_activity_on"], Value::Null);
    let created = u["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    assert!(u["confirmed_at"].is_string());
    assert!(u["avatar_url"]
        .as_str()
        .unwrap()
        .starts_with("https://www.gravatar.com/avatar/"));
    // Without skip_confirmation the account stays unconfirmed.
    let r = env
        .call(
            "POST",
            "/users",
            Some(
                json!({"email": "b@example.com", "username": "bob", "name": "Bob",
                        "password": "Tr0ub4dor&3x"}),
            ),
        )
        .await;
    assert_eq!(
        (r.status, r.json["confirmed_at"].clone()),
        (201, Value::Null)
    );
    assert_eq!(
        env.get("/users/2").await.json,
        env.emu.user_json("alice").unwrap()
    );
    env.stop().await;
}

#[tokio::test]
async fn create_validation_and_conflicts() {
    let env = start().await;
    let r = env.call("POST", "/users", Some(json!({}))).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json,
        json!({"error": "email is missing, password, reset_password, force_random_password are missing, at least one parameter must be provided, name is missing, username is missing"})
    );
    let r = env
        .call(
            "POST",
            "/users",
            Some(
                json!({"email": "c@example.com", "username": "carol", "name": "Carol",
                        "reset_password": true, "extern_uid": "x"}),
            ),
        )
        .await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"error": "extern_uid, provider provide all or none of parameters"})
        )
    );
    let r = env
        .call(
            "POST",
            "/users",
            Some(
                json!({"email": "c@example.com", "username": "carol", "name": "Carol",
                        "password": "short"}),
            ),
        )
        .await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"message": {"password": ["is too short (minimum is 8 characters)"]}})
        )
    );
    let r = env
        .call(
            "POST",
            "/users",
            Some(
                json!({"email": "not-an-email", "username": "-carol", "name": "Carol",
                        "password": "carol-secret-1"}),
            ),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["message"]["email"], json!(["is invalid"]));
    assert_eq!(
        r.json["message"]["password"],
        json!(["must not contain commonly used combinations of words and letters"])
    );
    assert_eq!(
        r.json["message"]["username"],
        json!(["can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'."])
    );

    env.call("POST", "/users", Some(alice_body())).await;
    let mut dup = alice_body();
    dup["username"] = json!("alice2");
    dup["email"] = json!("ALICE@example.com");
    let r = env.call("POST", "/users", Some(dup)).await;
    assert_eq!(
        (r.status, r.json),
        (409, json!({"message": "Email has already been taken"}))
    );
    let mut dup = alice_body();
    dup["username"] = json!("Alice");
    dup["email"] = json!("alice2@example.com");
    let r = env.call("POST", "/users", Some(dup)).await;
    assert_eq!(
        (r.status, r.json),
        (409, json!({"message": "Username has already been taken"}))
    );
    let mut dup = alice_body();
    dup["username"] = json!("alice3");
    dup["email"] = json!("alice3@example.com");
    let r = env.call("POST", "/users", Some(dup)).await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"message": {"identities.extern_uid": ["has already been taken"]}})
        )
    );
    // Usernames share the namespace with top-level groups.
    env.create_group("eng", None).await;
    let r = env
        .call(
            "POST",
            "/users",
            Some(
                json!({"email": "e@example.com", "username": "eng", "name": "E",
                        "force_random_password": true}),
            ),
        )
        .await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"message": {"username": ["has already been taken"]}})
        )
    );
    env.stop().await;
}

#[tokio::test]
async fn get_and_list_filters() {
    let env = start().await;
    env.call("POST", "/users", Some(alice_body())).await;
    env.create_user("bob").await;
    let carol = env.create_user("carol").await;
    assert_eq!(
        env.get("/users/999").await.json,
        json!({"message": "404 User Not Found"})
    );
    // Default order for administrators: id desc.
    assert_eq!(
        usernames(&env.get("/users").await.json),
        ["carol", "bob", "alice", "root"]
    );
    assert_eq!(
        usernames(&env.get("/users?order_by=username&sort=asc").await.json),
        ["alice", "bob", "carol", "root"]
    );
    assert_eq!(
        usernames(&env.get("/users?username=ALICE").await.json),
        ["alice"]
    );
    assert_eq!(
        usernames(&env.get("/users?username=ali").await.json),
        Vec::<String>::new()
    );
    assert_eq!(
        usernames(&env.get("/users?search=liddell").await.json),
        ["alice"]
    );
    assert_eq!(
        usernames(&env.get("/users?search=Bob@Example.com").await.json),
        ["bob"]
    );
    assert_eq!(
        usernames(&env.get("/users?search=example.com").await.json),
        Vec::<String>::new()
    );
    assert_eq!(
        usernames(
            &env.get("/users?extern_uid=00U1ABCD&provider=saml")
                .await
                .json
        ),
        ["alice"]
    );
    assert!(
        env.get("/users?extern_uid=00u1abcd&provider=ldap")
            .await
            .json
            == json!([])
    );
    let r = env.get("/users?provider=saml").await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"error": "extern_uid, provider provide all or none of parameters"})
        )
    );
    env.call("POST", &format!("/users/{}/block", id(&carol)), None)
        .await;
    assert_eq!(
        usernames(&env.get("/users?blocked=true").await.json),
        ["carol"]
    );
    assert_eq!(
        usernames(&env.get("/users?active=true").await.json),
        ["bob", "alice", "root"]
    );
    assert_eq!(
        usernames(&env.get("/users?active=false").await.json).len(),
        4
    );
    env.stop().await;
}

#[tokio::test]
async fn offset_and_keyset_pagination() {
    let env = start().await;
    for n in 0..7 {
        env.create_user(&format!("user{n}")).await;
    }
    let r = env
        .get("/users?per_page=3&page=2&order_by=id&sort=asc")
        .await;
    assert_eq!(usernames(&r.json), ["user2", "user3", "user4"]);
    assert_eq!(r.header("x-total"), Some("8"));
    assert_eq!(r.header("x-total-pages"), Some("3"));
    assert_eq!(r.header("x-page"), Some("2"));
    assert_eq!(r.header("x-per-page"), Some("3"));
    assert_eq!(r.header("x-prev-page"), Some("1"));
    assert_eq!(r.header("x-next-page"), Some("3"));
    let next = r.link("next").unwrap();
    assert_eq!(
        next,
        format!(
            "{}/api/v4/users?order_by=id&page=3&per_page=3&sort=asc",
            env.root
        )
    );
    assert!(r.link("first").unwrap().contains("page=1&"));
    let last = env.get(&next).await;
    assert_eq!(usernames(&last.json), ["user5", "user6"]);
    assert_eq!(last.header("x-next-page"), Some(""));
    assert!(last.link("next").is_none());
    assert!(last.link("last").unwrap().contains("page=3"));
    let capped = env.get("/users?per_page=500").await;
    assert_eq!(capped.header("x-per-page"), Some("100"));
    let r = env.get("/users?page=x").await;
    assert_eq!(
        (r.status, r.json),
        (400, json!({"error": "page is invalid"}))
    );

    // Keyset: follow rel="next" verbatim until it disappears.
    let mut url = "/users?pagination=keyset&per_page=3&order_by=id&sort=asc".to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let r = env.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.header("x-total").is_none());
        seen.extend(r.json.as_array().unwrap().iter().map(id));
        pages += 1;
        match r.link("next") {
            Some(next) => {
                assert!(next.contains("id_after="), "{next}");
                url = next;
            }
            None => break,
        }
    }
    assert_eq!(seen, (1..=8).collect::<Vec<u64>>());
    assert_eq!(pages, 3);
    let desc = env
        .get("/users?pagination=keyset&per_page=5&order_by=id&sort=desc")
        .await;
    assert!(desc.link("next").unwrap().contains("id_before=4"));
    let r = env.get("/users?pagination=keyset&order_by=name").await;
    assert_eq!(r.status, 405);
    env.stop().await;
}

#[tokio::test]
async fn update_profile_identities_and_conflicts() {
    let env = start().await;
    let alice = env.call("POST", "/users", Some(alice_body())).await.json;
    let bob = env.create_user("bob").await;
    let path = format!("/users/{}", id(&alice));
    let r = env
        .call(
            "PUT",
            &path,
            Some(json!({"name": "Alice L.", "bio": "hi", "note": "n", "admin": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.json["name"].clone(), r.json["bio"].clone()),
        (json!("Alice L."), json!("hi"))
    );
    assert_eq!(
        (r.json["note"].clone(), r.json["is_admin"].clone()),
        (json!("n"), json!(true))
    );
    let r = env
        .call(
            "PUT",
            &path,
            Some(json!({"provider": "saml", "extern_uid": "00u2"})),
        )
        .await;
    assert_eq!(
        r.json["identities"],
        json!([{"provider": "saml", "extern_uid": "00u2"}])
    );
    let r = env
        .call(
            "PUT",
            &path,
            Some(json!({"provider": "oidc", "extern_uid": "sub-1"})),
        )
        .await;
    assert_eq!(r.json["identities"].as_array().unwrap().len(), 2);
    // A uid held by someone else is silently not linked (the row gets no uid).
    let r = env
        .call(
            "PUT",
            &format!("/users/{}", id(&bob)),
            Some(json!({"provider": "saml", "extern_uid": "00U2"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["identities"],
        json!([{"provider": "saml", "extern_uid": null}])
    );
    let r = env
        .call("PUT", &path, Some(json!({"commit_email": "_private"})))
        .await;
    assert_eq!(
        r.json["commit_email"],
        format!("{}-alice@users.noreply.127.0.0.1", id(&alice))
    );
    let r = env
        .call(
            "PUT",
            &path,
            Some(json!({"public_email": "elsewhere@example.com"})),
        )
        .await;
    assert_eq!(
        r.json,
        json!({"message": {"public_email": ["is not an email you own"]}})
    );
    let r = env
        .call("PUT", &path, Some(json!({"username": "BOB"})))
        .await;
    assert_eq!(
        (r.status, r.json),
        (409, json!({"message": "Username has already been taken"}))
    );
    let r = env
        .call("PUT", &path, Some(json!({"email": "bob@example.com"})))
        .await;
    assert_eq!(
        (r.status, r.json),
        (409, json!({"message": "Email has already been taken"}))
    );
    let r = env
        .call("PUT", &path, Some(json!({"password": "1234"})))
        .await;
    assert_eq!(
        r.json,
        json!({"message": {"password": ["is too short (minimum is 8 characters)"]}})
    );
    let r = env
        .call("PUT", "/users/99", Some(json!({"name": "x"})))
        .await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 User Not Found"}))
    );
    // Identity removal.
    let r = env
        .call("DELETE", &format!("{path}/identities/oidc"), None)
        .await;
    assert_eq!(r.status, 204);
    let r = env
        .call("DELETE", &format!("{path}/identities/oidc"), None)
        .await;
    assert_eq!(
        (r.status, r.json),
        (404, json!({"message": "404 Identity Not Found"}))
    );
    env.stop().await;
}

async fn switch(env: &Env, path: &str, email: &str) -> super::Resp {
    env.call("PUT", path, Some(json!({"email": email}))).await
}

#[tokio::test]
async fn primary_email_switch_needs_a_confirmed_secondary() {
    let env = start().await;
    let alice = env.call("POST", "/users", Some(alice_body())).await.json;
    let path = format!("/users/{}", id(&alice));
    let r = switch(&env, &path, "new@example.com").await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"message": {"email": ["is not an email you own"]}})
        )
    );
    // An unconfirmed secondary email is not enough.
    let r = env
        .call(
            "POST",
            &format!("{path}/emails"),
            Some(json!({"email": "new@example.com"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json["confirmed_at"].clone()),
        (201, Value::Null)
    );
    assert_eq!(switch(&env, &path, "new@example.com").await.status, 400);
    let r = env
        .call(
            "POST",
            &format!("{path}/emails"),
            Some(json!({"email": "alt@example.com", "skip_confirmation": true})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(r.json["confirmed_at"].is_string());
    let r = env
        .call(
            "POST",
            &format!("{path}/emails"),
            Some(json!({"email": "ALT@example.com"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json),
        (
            400,
            json!({"message": {"email": ["has already been taken"]}})
        )
    );
    let r = switch(&env, &path, "alt@example.com").await;
    assert_eq!(
        (r.status, r.json["email"].clone()),
        (200, json!("alt@example.com"))
    );
    let emails: Vec<String> = env
        .get(&format!("{path}/emails"))
        .await
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(emails, ["new@example.com", "alice@example.com"]);
    // The old primary is now a secondary email: it still counts as taken.
    let r = env
        .call("POST", "/users", Some(json!({"email": "alice@example.com", "username": "x1", "name": "X", "reset_password": true})))
        .await;
    assert_eq!(r.status, 409);
    let r = env
        .call(
            "PUT",
            &path,
            Some(json!({"email": "forced@example.com", "skip_reconfirmation": true})),
        )
        .await;
    assert_eq!(
        (r.status, r.json["email"].clone()),
        (200, json!("forced@example.com"))
    );
    env.stop().await;
}
