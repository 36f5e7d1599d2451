//! Protocol behaviour over HTTP: validation errors, filters, paging, sorting, projection,
//! uniqueness, platform errors and push-down limits.

use serde_json::{json, Value};

use crate::support::{filter_query, patch_op, user, Harness, TestDatabase};
use scimgate::demo::DemoOptions;

async fn create(h: &Harness, name: &str) -> Value {
    h.post("/Users", user(name, &format!("{name}@example.com")))
        .await
        .expect(201)
}

#[tokio::test]
async fn bad_requests_get_scim_errors() {
    let h = Harness::start().await;
    // Not JSON, wrong type, missing required attribute, unknown attribute, wrong media type.
    let raw = h
        .http
        .post(h.url("/Users"))
        .bearer_auth(&h.demo.token)
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidSyntax");
    h.post("/Users", json!({"userName": 42}))
        .await
        .expect_error(400, Some("invalidValue"));
    h.post("/Users", json!({"displayName": "no user name"}))
        .await
        .expect_error(400, Some("invalidValue"));
    h.post(
        "/Users",
        json!({"userName": "x@example.com", "favouriteColour": "red"}),
    )
    .await
    .expect_error(400, Some("invalidSyntax"));
    let form = h
        .http
        .post(h.url("/Users"))
        .bearer_auth(&h.demo.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 415);

    // A userName Coder cannot derive a name from.
    h.post("/Users", user("@@@", "a@example.com"))
        .await
        .expect_error(400, Some("invalidValue"));
    // No email at all: the demo's placeholder domain gives Coder the address it requires, and
    // the placeholder is never shown over SCIM.
    let no_email = h
        .post("/Users", json!({"userName": "noemail"}))
        .await
        .expect(201);
    assert!(no_email.get("emails").is_none(), "{no_email}");
    assert_eq!(
        h.coder_user("noemail")["email"],
        "noemail@no-email.scimgate.invalid"
    );

    // Filters: bad syntax says where.
    let bad = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"userName eq "x" and"#)
        ))
        .await
        .expect_error(400, Some("invalidFilter"));
    assert!(
        bad["detail"].as_str().unwrap().contains("position"),
        "{bad}"
    );
    h.get(&format!("/Users?{}", filter_query("active gt true")))
        .await
        .expect_error(400, Some("invalidFilter"));
    // An empty filter is not "no filter" (RFC 7644 §3.4.2.2).
    for empty in ["/Users?filter=", "/Users?filter=%20%20"] {
        h.get(empty).await.expect_error(400, Some("invalidFilter"));
    }
    h.get("/Users?count=abc")
        .await
        .expect_error(400, Some("invalidValue"));

    // PATCH errors.
    let id = create(&h, "patchy").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/Users/{id}");
    h.patch(&path, patch_op(json!([{"op": "remove"}])))
        .await
        .expect_error(400, Some("noTarget"));
    h.patch(
        &path,
        patch_op(json!([{"op": "replace", "path": "id", "value": "x"}])),
    )
    .await
    .expect_error(400, Some("mutability"));
    h.patch(
        &path,
        patch_op(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
    )
    .await
    .expect_error(400, Some("invalidPath"));
    h.patch(
        &path,
        patch_op(json!([{"op": "jump", "path": "title", "value": "x"}])),
    )
    .await
    .expect_error(400, Some("invalidSyntax"));
    // Atomic: the first operation is not applied when the second fails.
    h.patch(
        &path,
        patch_op(json!([
            {"op": "replace", "path": "title", "value": "Boss"},
            {"op": "replace", "path": "meta.created", "value": "x"}
        ])),
    )
    .await
    .expect_error(400, Some("mutability"));
    assert!(h.get(&path).await.expect(200).get("title").is_none());
    h.demo.stop().await;
}

#[tokio::test]
async fn uniqueness_and_identity() {
    let h = Harness::start().await;
    let first = create(&h, "jane").await;
    // Same userName in another case: Coder's normalized name clashes: 409 uniqueness.
    h.post("/Users", user("JANE", "jane2@example.com"))
        .await
        .expect_error(409, Some("uniqueness"));
    // Renaming through PUT changes Coder's username and keeps the SCIM id.
    let mut renamed = first.clone();
    renamed["userName"] = json!("jane.doe");
    let after = h
        .put(
            &format!("/Users/{}", first["id"].as_str().unwrap()),
            renamed,
        )
        .await
        .expect(200);
    assert_eq!(after["id"], first["id"]);
    assert_eq!(after["userName"], "jane.doe");
    assert_eq!(h.coder_user("jane-doe")["email"], "jane@example.com");
    // The old name no longer finds anyone; the new one does.
    let old = h
        .get(&format!("/Users?{}", filter_query(r#"userName eq "jane""#)))
        .await
        .expect(200);
    assert_eq!(old["totalResults"], 0);
    let new = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"userName eq "jane.doe""#)
        ))
        .await
        .expect(200);
    assert_eq!(new["totalResults"], 1);
    h.demo.stop().await;
}

#[tokio::test]
async fn paging_sorting_and_projection() {
    let h = Harness::start().await;
    for name in ["carol", "alice", "erin", "bob", "dave"] {
        create(&h, name).await;
    }
    // Coder always has its first (owner) user, who appears in plain lists too.
    let all = h.get("/Users").await.expect(200);
    assert_eq!(all["totalResults"], 6);
    assert_eq!(all["startIndex"], 1);
    assert_eq!(all["itemsPerPage"], 6);

    let page = h.get("/Users?startIndex=2&count=2").await.expect(200);
    assert_eq!(page["totalResults"], 6);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    assert_eq!(page["Resources"].as_array().unwrap().len(), 2);

    let past_the_end = h.get("/Users?startIndex=50&count=5").await.expect(200);
    assert_eq!(past_the_end["totalResults"], 6);
    assert_eq!(past_the_end["itemsPerPage"], 0);
    assert_eq!(past_the_end["Resources"], json!([]));

    let only_total = h.get("/Users?count=0").await.expect(200);
    assert_eq!(only_total["totalResults"], 6);
    assert_eq!(only_total["Resources"], json!([]));

    let sorted = h
        .get(&format!(
            "/Users?{}&sortBy=userName&sortOrder=descending&count=3",
            filter_query("userName co \"a\"")
        ))
        .await
        .expect(200);
    let names: Vec<&str> = sorted["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    // "admin", Coder's own first user, matches too and sorts last.
    assert_eq!(names, ["dave", "carol", "alice"]);
    assert_eq!(sorted["totalResults"], 4);

    let projected = h
        .get(&format!(
            "/Users?{}&attributes=userName",
            filter_query(r#"userName eq "erin""#)
        ))
        .await
        .expect(200);
    let erin = &projected["Resources"][0];
    assert_eq!(erin["userName"], "erin");
    assert!(erin.get("id").is_some(), "id is always returned");
    assert!(erin.get("name").is_none());
    assert!(erin.get("emails").is_none());

    // POST /.search with the same query.
    let searched = h
        .post(
            "/Users/.search",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "userName sw \"b\"",
                "attributes": ["userName"],
                "startIndex": 1,
                "count": 10
            }),
        )
        .await
        .expect(200);
    assert_eq!(searched["totalResults"], 1);
    assert_eq!(searched["Resources"][0]["userName"], "bob");

    // Complex filters are evaluated by the gateway over the merged resource.
    let complex = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"(userName eq "alice" or userName eq "bob") and emails[type eq "work" and value ew "@example.com"] and not (name.givenName pr and active eq false)"#)
        ))
        .await
        .expect(200);
    assert_eq!(complex["totalResults"], 2);
    h.demo.stop().await;
}

#[tokio::test]
async fn scans_are_bounded() {
    let h = Harness::with(DemoOptions {
        max_scan: 3,
        ..Default::default()
    })
    .await;
    for name in ["u1", "u2", "u3", "u4"] {
        create(&h, name).await;
    }
    // Coder cannot answer a `title` filter: the gateway would read every user; over the bound
    // it refuses rather than crawl.
    h.get(&format!("/Users?{}", filter_query(r#"title eq "x""#)))
        .await
        .expect_error(400, Some("tooMany"));
    // Pass-through paging is not bounded by the scan limit.
    assert_eq!(h.get("/Users").await.expect(200)["totalResults"], 5);
    h.demo.stop().await;
}

#[tokio::test]
async fn users_created_on_the_platform_are_served() {
    let h = Harness::start().await;
    // Coder's own first user was never provisioned through SCIM; it still gets a stable id.
    let list = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"userName eq "admin""#)
        ))
        .await
        .expect(200);
    assert_eq!(list["totalResults"], 1);
    let admin = &list["Resources"][0];
    let id = admin["id"].as_str().unwrap();
    assert_eq!(admin["emails"][0]["value"], "admin@coder.example");
    assert_eq!(admin["active"], true);
    let again = h.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(again["userName"], "admin");

    // An account made on Coder before provisioning is found by the IdP's userName (Coder's
    // name derived from it) and adopted: the IdP's values stand from then on.
    let made = h
        .http
        .post(format!("{}/api/v2/users", h.demo.emulator_url))
        .header("Coder-Session-Token", &h.demo.emulator_token)
        .json(&json!({
            "email": "grace@example.com", "username": "grace", "login_type": "oidc",
            "organization_ids": [h.demo.emulator.organization_id()]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status().as_u16(), 201);
    let found = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"userName eq "Grace@example.com""#)
        ))
        .await
        .expect(200);
    assert_eq!(found["totalResults"], 1, "{found}");
    let mut grace = found["Resources"][0].clone();
    assert_eq!(grace["userName"], "grace");
    grace["userName"] = json!("Grace@example.com");
    grace["displayName"] = json!("Grace Hopper");
    let adopted = h
        .put(&format!("/Users/{}", grace["id"].as_str().unwrap()), grace)
        .await
        .expect(200);
    assert_eq!(adopted["userName"], "Grace@example.com");
    assert_eq!(h.coder_user("grace")["name"], "Grace Hopper");
    h.demo.stop().await;
}

#[tokio::test]
async fn conditional_requests_and_concurrent_writes() {
    use reqwest::Method;
    let h = Harness::start().await;
    let created = h.post("/Users", user("etta", "etta@example.com")).await;
    let etag = created
        .headers
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let user = created.expect(201);
    assert_eq!(user["meta"]["version"], etag.as_str());
    let path = format!("/Users/{}", user["id"].as_str().unwrap());

    // If-None-Match: unchanged → 304 with no body; another version → the resource.
    let same = h
        .call_with(Method::GET, &path, None, &[("if-none-match", &etag)])
        .await;
    assert_eq!(same.status.as_u16(), 304);
    assert_eq!(same.body, Value::Null);
    h.call_with(
        Method::GET,
        &path,
        None,
        &[("if-none-match", "W/\"other\"")],
    )
    .await
    .expect(200);

    // If-Match: a stale version is refused with 412 and changes nothing.
    let title = patch_op(json!([{"op": "replace", "path": "title", "value": "Boss"}]));
    let changed = h
        .call_with(
            Method::PATCH,
            &path,
            Some(title.clone()),
            &[("if-match", &etag)],
        )
        .await;
    let new_etag = changed
        .headers
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_etag, etag);
    changed.expect(200);
    h.call_with(
        Method::PATCH,
        &path,
        Some(title.clone()),
        &[("if-match", &etag)],
    )
    .await
    .expect_error(412, None);
    h.call_with(
        Method::PUT,
        &path,
        Some(user.clone()),
        &[("if-match", &etag)],
    )
    .await
    .expect_error(412, None);
    h.call_with(Method::DELETE, &path, None, &[("if-match", &etag)])
        .await
        .expect_error(412, None);
    assert_eq!(h.get(&path).await.expect(200)["title"], "Boss");
    h.call_with(Method::PATCH, &path, Some(title), &[("if-match", "*")])
        .await
        .expect(200);

    // Concurrent PATCHes of one user all apply: none is lost.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let http = h.http.clone();
        let url = h.url(&path);
        let token = h.demo.token.clone();
        tasks.push(tokio::spawn(async move {
            let body = patch_op(json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": format!("+1 555 01{i:02}"), "type": "work"}]}]));
            http.patch(url)
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let phones = h.get(&path).await.expect(200)["phoneNumbers"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(phones, 12);
    h.call_with(Method::DELETE, &path, None, &[("if-match", "*")])
        .await
        .expect(204);
    h.demo.stop().await;
}

/// The gateway on a PostgreSQL store: the same behaviour as on SQLite.
#[tokio::test]
async fn gateway_on_postgres() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let h = Harness::with(DemoOptions {
        store_url: Some(db.url.clone()),
        ..Default::default()
    })
    .await;
    let created = create(&h, "pat").await;
    let id = created["id"].as_str().unwrap();
    let found = h
        .get(&format!("/Users?{}", filter_query(r#"userName eq "pat""#)))
        .await
        .expect(200);
    assert_eq!(found["Resources"][0]["id"], id);
    h.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "add", "path": "title", "value": "Captain"}])),
    )
    .await
    .expect(200);
    assert_eq!(
        h.get(&format!("/Users/{id}")).await.expect(200)["title"],
        "Captain"
    );
    h.delete(&format!("/Users/{id}")).await.expect(204);
    h.get(&format!("/Users/{id}")).await.expect_error(404, None);
    h.demo.stop().await;
    db.drop_now().await;
}

/// Two gateway processes on one PostgreSQL store (and one platform) behave as one: a write
/// through one is read through the other at once, although the other had it cached.
#[tokio::test]
async fn replicas_on_one_postgres_behave_as_one() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let a = Harness::with(DemoOptions {
        store_url: Some(db.url.clone()),
        ..Default::default()
    })
    .await;
    let b = Harness::with(DemoOptions {
        store_url: Some(db.url.clone()),
        platform: Some((
            a.demo.emulator.clone(),
            a.demo.emulator_url.clone(),
            a.demo.emulator_token.clone(),
        )),
        token: Some(a.demo.token.clone()),
        ..Default::default()
    })
    .await;
    let created = create(&a, "rhea").await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    // B knows the same SCIM id, and now caches the user.
    assert_eq!(b.get(&path).await.expect(200)["userName"], "rhea");
    assert_eq!(b.get(&path).await.expect(200)["userName"], "rhea");

    a.patch(
        &path,
        patch_op(json!([{"op": "add", "path": "title", "value": "Pilot"}])),
    )
    .await
    .expect(200);
    // The change notice reaches B within moments (no waiting for the cache TTL).
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = b.get(&path).await.expect(200);
        if seen["title"] == "Pilot" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen["title"], "Pilot", "{seen}");

    a.delete(&path).await.expect(204);
    let mut status = 200;
    for _ in 0..50 {
        status = b.get(&path).await.status.as_u16();
        if status == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 404);

    // A managed token made and then revoked through A is refused by B at once.
    let admin = |path: &str| {
        format!(
            "{}/admin/v1/tenants/default/tokens{path}",
            a.url("").replace("/scim/v2", "")
        )
    };
    let made: Value = a
        .http
        .post(admin(""))
        .bearer_auth(&a.demo.admin_token)
        .json(&json!({"name": "shared"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap().to_owned();
    let use_on_b = |name: &'static str| {
        let http = b.http.clone();
        let url = b.url("/Users");
        let token = token.clone();
        async move {
            http.post(url)
                .bearer_auth(token)
                .json(&user(name, &format!("{name}@example.com")))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(use_on_b("via-b").await, 201);
    let revoked = a
        .http
        .post(admin(&format!("/{}/revoke", made["id"].as_str().unwrap())))
        .bearer_auth(&a.demo.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);
    assert_eq!(use_on_b("via-b-again").await, 401);

    b.demo.stop().await;
    a.demo.stop().await;
    db.drop_now().await;
}

/// An IdP looks a user up by `userName eq` before each write. A name the gateway found once
/// (here an account made on the platform, never written through SCIM) is answered from the
/// cache without asking the platform again, and still as the platform has it.
#[tokio::test]
async fn a_user_name_found_once_is_answered_from_the_cache() {
    let h = Harness::start().await;
    let lookup = format!("/Users?{}", filter_query(r#"userName eq "ADMIN""#));
    let emulator = &h.demo.emulator;
    let before = emulator.request_count();
    let first = h.get(&lookup).await.expect(200);
    assert_eq!(first["totalResults"], 1);
    assert_eq!(first["Resources"][0]["userName"], "admin");
    let asked = emulator.request_count() - before;
    assert!(asked >= 1, "the first lookup asks the platform");
    let before = emulator.request_count();
    let again = h.get(&lookup).await.expect(200);
    assert_eq!(again, first);
    assert_eq!(
        emulator.request_count(),
        before,
        "the second lookup is answered from the cache"
    );
    // A name the cached account no longer has is not answered from the cache.
    let other = format!("/Users?{}", filter_query(r#"userName eq "nobody""#));
    assert_eq!(h.get(&other).await.expect(200)["totalResults"], 0);
    assert!(emulator.request_count() > before);
    h.demo.stop().await;
}
