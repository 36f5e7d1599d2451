//! SCIM 1.1 as OneLogin's templates (and Okta's on-premises agent) speak it, at `/scim/v1`:
//! users and groups made, found, changed by 1.1 PATCH (`meta.attributes`, `"operation":
//! "delete"`), deleted (200), discovery at `/ServiceProviderConfigs` and `/Schemas`, errors in
//! the 1.1 form; and a 1.1 body sent to the 2.0 URL, read by a lenient tenant only.

use reqwest::Method;
use serde_json::{json, Value};

use crate::admin::admin;
use crate::support::{filter_query, Answer, Harness};

const CORE_V1: &str = "urn:scim:schemas:core:1.0";

fn v1_url(h: &Harness, path: &str) -> String {
    format!("{}{path}", h.url("").replace("/scim/v2", "/scim/v1"))
}

async fn v1(h: &Harness, method: Method, path: &str, body: Option<Value>) -> Answer {
    h.call_as(&h.demo.token, method, &v1_url(h, path), body, &[])
        .await
}

fn onelogin_user(name: &str) -> Value {
    json!({
        "schemas": [CORE_V1],
        "userName": name,
        "externalId": format!("ol-{name}"),
        "name": {"givenName": "Ola", "familyName": "Login"},
        "emails": [{"value": format!("{name}@example.com"), "primary": true}],
        "title": "Engineer",
        "active": true,
    })
}

#[tokio::test]
async fn onelogin_provisions_users_and_groups_over_scim_1_1() {
    let h = Harness::start().await;
    // Discovery, 1.1 style.
    let spc = v1(&h, Method::GET, "/ServiceProviderConfigs", None)
        .await
        .expect(200);
    assert_eq!(spc["schemas"], json!([CORE_V1]));
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    let schemas = v1(&h, Method::GET, "/Schemas", None).await.expect(200);
    let user_schema = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "User")
        .unwrap()
        .clone();
    assert_eq!(user_schema["id"], "urn:scim:schemas:core:1.0:User");
    assert_eq!(user_schema["endpoint"], "/Users");
    assert!(user_schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "userName" && a["schema"] == CORE_V1));
    v1(&h, Method::GET, "/Schemas/Users", None)
        .await
        .expect(200);

    // Create, answered in 1.1 form at the 1.1 URL.
    let made = v1(&h, Method::POST, "/Users", Some(onelogin_user("ola")))
        .await
        .expect(201);
    assert_eq!(made["schemas"], json!([CORE_V1]));
    assert_eq!(made["userName"], "ola");
    assert!(made["meta"].get("resourceType").is_none());
    let id = made["id"].as_str().unwrap().to_owned();
    let location = made["meta"]["location"].as_str().unwrap();
    assert_eq!(location, v1_url(&h, &format!("/Users/{id}")));
    // The same user at the 2.0 URL.
    let same = h.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(
        same["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
    assert_eq!(same["externalId"], "ol-ola");

    // OneLogin looks users up by userName.
    let query = filter_query("userName eq \"ola\"");
    let found = v1(&h, Method::GET, &format!("/Users?{query}"), None)
        .await
        .expect(200);
    assert_eq!(found["schemas"], json!([CORE_V1]));
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    // A 1.1 PATCH: a change, and `meta.attributes` removing the title.
    let patched = v1(
        &h,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": [CORE_V1],
            "name": {"givenName": "Olga"},
            "meta": {"attributes": ["title"]},
        })),
    )
    .await
    .expect(200);
    assert_eq!(patched["name"]["givenName"], "Olga");
    assert_eq!(patched["name"]["familyName"], "Login");
    assert!(patched.get("title").is_none(), "{patched}");
    // A PUT deactivates.
    let mut off = onelogin_user("ola");
    off["active"] = json!(false);
    let put = v1(&h, Method::PUT, &format!("/Users/{id}"), Some(off))
        .await
        .expect(200);
    assert_eq!(put["active"], false);

    // Groups: made, a member added and one deleted by `"operation": "delete"`.
    let second = v1(&h, Method::POST, "/Users", Some(onelogin_user("olav")))
        .await
        .expect(201);
    let second_id = second["id"].as_str().unwrap().to_owned();
    let group = v1(
        &h,
        Method::POST,
        "/Groups",
        Some(
            json!({"schemas": [CORE_V1], "displayName": "OneLogin Admins",
                    "members": [{"value": id}]}),
        ),
    )
    .await
    .expect(201);
    assert_eq!(group["schemas"], json!([CORE_V1]));
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let changed = v1(
        &h,
        Method::PATCH,
        &group_path,
        Some(json!({"schemas": [CORE_V1], "members": [
            {"value": second_id},
            {"value": id, "operation": "delete"},
        ]})),
    )
    .await
    .expect(200);
    let members: Vec<&str> = changed["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, [second_id.as_str()]);
    assert!(changed["members"][0].get("$ref").is_none());

    // Errors in the 1.1 form; a DELETE answers 200 (1.1 §3.4).
    let missing = v1(&h, Method::GET, "/Users/no-such-user", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["Errors"][0]["code"], "404");
    assert!(missing.body["Errors"][0]["description"].is_string());
    let deleted = v1(&h, Method::DELETE, &format!("/Users/{second_id}"), None).await;
    assert_eq!(deleted.status, 200);
    v1(&h, Method::GET, &format!("/Users/{second_id}"), None)
        .await
        .expect(404);
    let unauthenticated = h
        .call_as("wrong", Method::GET, &v1_url(&h, "/Users"), None, &[])
        .await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(unauthenticated.body["Errors"][0]["code"], "401");
    // 2.0-only endpoints are not 1.1's.
    assert_eq!(
        v1(&h, Method::GET, "/ResourceTypes", None).await.status,
        404
    );
    assert_eq!(
        v1(&h, Method::POST, "/Bulk", Some(json!({}))).await.status,
        501
    );
    // The endpoint information names the 1.1 URL for OneLogin.
    let (_, endpoint) = admin(
        &h,
        Method::GET,
        "/tenants/default/endpoint",
        None,
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(endpoint["scim1BaseUrl"], v1_url(&h, ""));
    h.demo.stop().await;
}

/// Admins paste whichever URL they have: a lenient tenant reads a 1.1 body at the 2.0 URL and
/// answers in 2.0 form; a strict one refuses it.
#[tokio::test]
async fn a_1_1_body_at_the_2_0_url_is_read_leniently_only() {
    let h = Harness::start().await;
    let made = h.post("/Users", onelogin_user("olive")).await.expect(201);
    assert_eq!(
        made["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
    let path = format!("/Users/{}", made["id"].as_str().unwrap());
    let patched = h
        .patch(
            &path,
            json!({"schemas": [CORE_V1], "meta": {"attributes": ["title"]}, "displayName": "Olive O"}),
        )
        .await
        .expect(200);
    assert!(patched.get("title").is_none(), "{patched}");
    assert_eq!(patched["displayName"], "Olive O");
    let (status, _) = admin(
        &h,
        Method::PATCH,
        "/tenants/default",
        Some(json!({"dialect": "strict"})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 200);
    let refused = h
        .post("/Users", onelogin_user("oscar"))
        .await
        .expect_error(400, Some("invalidValue"));
    assert!(
        refused["detail"].as_str().unwrap().contains("schemas"),
        "{refused}"
    );
    h.demo.stop().await;
}
