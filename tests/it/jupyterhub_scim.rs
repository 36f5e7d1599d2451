//! The real JupyterHub that `scripts/test` starts, provisioned through the gateway with the
//! shipped `config/mappings/jupyterhub.toml`: what the hub cannot hold round-trips through the
//! gateway, what it cannot do (`active: false`) is refused as the mapping declares, membership
//! is a delta. The hub is shared: every test uses names of its own and never counts all users.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use scimgate::demo::{DemoOptions, FrontedPlatform, JUPYTERHUB_MAPPING};

use crate::jupyterhub::{expect, unique, TestJupyterHub};
use crate::support::{filter_query, patch_op, Harness};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The gateway in front of the test hub; without a cache, so changes made on the hub directly
/// are seen at once.
async fn gateway(hub: &TestJupyterHub) -> Harness {
    Harness::with(DemoOptions {
        cache_ttl: Duration::ZERO,
        front: Some(FrontedPlatform {
            mapping: JUPYTERHUB_MAPPING.to_owned(),
            mapping_name: "config/mappings/jupyterhub.toml".to_owned(),
            base_url: hub.url.clone(),
            credential: hub.token.clone(),
            settings: serde_json::Map::new(),
        }),
        ..Default::default()
    })
    .await
}

fn person(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "externalId": format!("ext-{user_name}"),
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada Lovelace",
        "emails": [{"value": email, "type": "work", "primary": true}],
    })
}

#[tokio::test]
async fn jupyterhub_user_lifecycle_through_the_gateway() {
    let Some(hub) = TestJupyterHub::from_env() else {
        return;
    };
    let h = gateway(&hub).await;
    let name = unique("scim-ada");
    let user_name = format!("{}@Example.com", name.to_uppercase());

    // The hub keeps a name and nothing else; the rest round-trips through the gateway.
    let created = h
        .post("/Users", person(&user_name, "ada@example.com"))
        .await
        .expect(201);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["active"], true, "read back from the mapping");
    let on_hub = expect(
        hub.call(
            Method::GET,
            &format!("/users/{name}@example.com"),
            None,
            &[],
        )
        .await,
        200,
    );
    assert_eq!(on_hub["name"], format!("{name}@example.com"));
    let read = h.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(read, created);
    assert_eq!(read["userName"], user_name.as_str());
    assert_eq!(read["emails"][0]["value"], "ada@example.com");
    assert_eq!(read["name"]["familyName"], "Lovelace");
    assert_eq!(read["externalId"], format!("ext-{user_name}"));

    // userName eq is one read by name on the hub.
    let found = h
        .get(&format!(
            "/Users?{}",
            filter_query(&format!("userName eq \"{user_name}\""))
        ))
        .await
        .expect(200);
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    // JupyterHub cannot disable a user: /Schemas says active is readOnly, and a deactivation
    // is refused rather than answered 200 with the user still able to sign in.
    let schema = h.get(&format!("/Schemas/{USER_SCHEMA}")).await.expect(200);
    let active = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "active")
        .unwrap();
    assert_eq!(active["mutability"], "readOnly", "{active}");
    h.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await
    .expect_error(400, Some("mutability"));
    // The same by PUT (the RFC would have it dropped, and the user could still sign in).
    let mut deactivated = person(&user_name, "ada@example.com");
    deactivated["active"] = json!(false);
    h.put(&format!("/Users/{id}"), deactivated)
        .await
        .expect_error(400, Some("mutability"));
    // And a user created inactive is refused before anything is made on the hub.
    let inactive_name = unique("scim-inactive");
    let mut inactive = person(&inactive_name, "i@example.com");
    inactive["active"] = json!(false);
    h.post("/Users", inactive)
        .await
        .expect_error(400, Some("mutability"));
    let absent = hub
        .call(Method::GET, &format!("/users/{inactive_name}"), None, &[])
        .await;
    assert_eq!(absent.0, StatusCode::NOT_FOUND);
    // `active: true` is what the hub holds: accepted.
    let mut active = person(&user_name, "ada@example.com");
    active["active"] = json!(true);
    h.put(&format!("/Users/{id}"), active).await.expect(200);

    // What the hub cannot hold changes through the gateway alone.
    let patched = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([
                {"op": "replace", "path": "displayName", "value": "Countess Lovelace"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "countess@example.com"}
            ])),
        )
        .await
        .expect(200);
    assert_eq!(patched["displayName"], "Countess Lovelace");
    assert_eq!(patched["emails"][0]["value"], "countess@example.com");

    // A rename moves the user's URL on the hub; the SCIM id follows.
    let renamed_name = unique("scim-byron");
    let mut replaced = person(&renamed_name, "countess@example.com");
    replaced["displayName"] = json!("Countess Lovelace");
    let put = h.put(&format!("/Users/{id}"), replaced).await.expect(200);
    assert_eq!(put["userName"], renamed_name.as_str());
    expect(
        hub.call(Method::GET, &format!("/users/{renamed_name}"), None, &[])
            .await,
        200,
    );
    let old = hub
        .call(
            Method::GET,
            &format!("/users/{name}@example.com"),
            None,
            &[],
        )
        .await;
    assert_eq!(old.0, StatusCode::NOT_FOUND);
    assert_eq!(
        h.get(&format!("/Users/{id}")).await.expect(200)["userName"],
        renamed_name.as_str()
    );

    // Deleted and made again under the same name on the hub directly: another account (its
    // creation time tells), so the old SCIM id answers 404 and the new one is listed anew.
    expect(
        hub.call(Method::DELETE, &format!("/users/{renamed_name}"), None, &[])
            .await,
        204,
    );
    expect(
        hub.call(Method::POST, &format!("/users/{renamed_name}"), None, &[])
            .await,
        201,
    );
    h.get(&format!("/Users/{id}")).await.expect_error(404, None);
    let relisted = h
        .get(&format!(
            "/Users?{}",
            filter_query(&format!("userName eq \"{renamed_name}\""))
        ))
        .await
        .expect(200);
    assert_eq!(relisted["totalResults"], 1, "{relisted}");
    let new_id = relisted["Resources"][0]["id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    assert!(
        relisted["Resources"][0].get("emails").is_none(),
        "nothing of the first account is shown as the second: {relisted}"
    );

    // Deleted through SCIM: gone from the hub.
    h.delete(&format!("/Users/{new_id}")).await.expect(204);
    let gone = hub
        .call(Method::GET, &format!("/users/{renamed_name}"), None, &[])
        .await;
    assert_eq!(gone.0, StatusCode::NOT_FOUND);
    h.get(&format!("/Users/{new_id}"))
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn jupyterhub_group_lifecycle_through_the_gateway() {
    let Some(hub) = TestJupyterHub::from_env() else {
        return;
    };
    let h = gateway(&hub).await;
    let mut ids = Vec::new();
    let mut names = Vec::new();
    for prefix in ["scim-grace", "scim-alan"] {
        let name = unique(prefix);
        let created = h
            .post("/Users", person(&name, &format!("{name}@example.com")))
            .await
            .expect(201);
        ids.push(created["id"].as_str().unwrap().to_owned());
        names.push(name);
    }
    let suffix = unique("team");
    let display = format!("Data Science {suffix}");
    let hub_name = format!("data-science-{suffix}");

    // The group's hub name is made from its first displayName; members are hub user names.
    let created = h
        .post(
            "/Groups",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": display,
                "externalId": format!("ext-{suffix}"),
                "members": [{"value": ids[0], "display": "Grace"}],
            }),
        )
        .await
        .expect(201);
    let gid = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["displayName"], display.as_str());
    assert_eq!(created["members"].as_array().unwrap().len(), 1, "{created}");
    assert_eq!(created["members"][0]["display"], "Grace");
    assert_eq!(created["members"][0]["value"], ids[0].as_str());
    let on_hub = expect(
        hub.call(Method::GET, &format!("/groups/{hub_name}"), None, &[])
            .await,
        200,
    );
    assert_eq!(on_hub["users"], json!([names[0]]));

    // A delta: Alan joins, Grace leaves.
    let patched = h
        .patch(
            &format!("/Groups/{gid}"),
            patch_op(json!([
                {"op": "add", "path": "members", "value": [{"value": ids[1]}]},
                {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}
            ])),
        )
        .await
        .expect(200);
    assert_eq!(patched["members"].as_array().unwrap().len(), 1, "{patched}");
    assert_eq!(patched["members"][0]["value"], ids[1].as_str());
    let on_hub = expect(
        hub.call(Method::GET, &format!("/groups/{hub_name}"), None, &[])
            .await,
        200,
    );
    assert_eq!(on_hub["users"], json!([names[1]]));

    // A member added on the hub directly is read as a SCIM member.
    expect(
        hub.call(
            Method::POST,
            &format!("/groups/{hub_name}/users"),
            Some(json!({"users": [names[0]]})),
            &[],
        )
        .await,
        200,
    );
    let read = h.get(&format!("/Groups/{gid}")).await.expect(200);
    let mut members: Vec<&str> = read["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    members.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(members, expected);

    // JupyterHub cannot rename a group: the gateway keeps the new displayName, the hub's name
    // (the group's URL) stays.
    let renamed = h
        .patch(
            &format!("/Groups/{gid}"),
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "ML Research"}])),
        )
        .await
        .expect(200);
    assert_eq!(renamed["displayName"], "ML Research");
    expect(
        hub.call(Method::GET, &format!("/groups/{hub_name}"), None, &[])
            .await,
        200,
    );
    let by_name = h
        .get(&format!(
            "/Groups?{}",
            filter_query(&format!("displayName eq \"{display}\""))
        ))
        .await
        .expect(200);
    assert_eq!(
        by_name["totalResults"], 0,
        "the old displayName names no group now: {by_name}"
    );
    // The new one finds it (an IdP that found nothing would make a duplicate).
    let renamed_found = h
        .get(&format!(
            "/Groups?{}",
            filter_query("displayName eq \"ML Research\"")
        ))
        .await
        .expect(200);
    let ids_found: Vec<&str> = renamed_found["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["id"].as_str())
        .collect();
    assert!(ids_found.contains(&gid.as_str()), "{renamed_found}");

    // Alan is deleted and made again under his name on the hub directly: his old SCIM id
    // names nobody now, and may neither add the new Alan to a group nor remove him.
    for method in [Method::DELETE, Method::POST] {
        let answer = hub
            .call(method, &format!("/users/{}", names[1]), None, &[])
            .await;
        assert!(answer.0.is_success(), "{answer:?}");
    }
    let refused = h
        .patch(
            &format!("/Groups/{gid}"),
            patch_op(json!([{"op": "remove", "path": "members"}, {"op": "add", "path": "members", "value": [{"value": ids[1]}]}])),
        )
        .await
        .expect_error(400, Some("invalidValue"));
    assert!(
        refused["detail"].as_str().unwrap().contains(&ids[1]),
        "{refused}"
    );
    let on_hub = expect(
        hub.call(Method::GET, &format!("/groups/{hub_name}"), None, &[])
            .await,
        200,
    );
    assert!(
        !on_hub["users"]
            .as_array()
            .unwrap()
            .contains(&json!(names[1])),
        "the new Alan was not added: {on_hub}"
    );

    // Deleted through SCIM: gone from the hub; users stay.
    h.delete(&format!("/Groups/{gid}")).await.expect(204);
    let gone = hub
        .call(Method::GET, &format!("/groups/{hub_name}"), None, &[])
        .await;
    assert_eq!(gone.0, StatusCode::NOT_FOUND);
    h.get(&format!("/Users/{}", ids[0])).await.expect(200);
    h.delete(&format!("/Users/{}", ids[0])).await.expect(204);
    h.get(&format!("/Users/{}", ids[1]))
        .await
        .expect_error(404, None);
    expect(
        hub.call(Method::DELETE, &format!("/users/{}", names[1]), None, &[])
            .await,
        204,
    );
}
