//! The user lifecycle as Microsoft Entra ID drives it (Microsoft's "Develop a SCIM endpoint"
//! tutorial and its validator): test-connection lookup of a random userName, create with the
//! enterprise extension, lookups (with Entra's `emails[type eq "work"].value eq` and unquoted
//! values), PATCH with `Replace`/`Add` op names, string booleans, value
//! paths that create missing elements, then delete.

use serde_json::json;

use crate::support::{filter_query, patch_op, Harness};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

#[tokio::test]
async fn entra_user_lifecycle() {
    let h = Harness::start().await;

    // "Test connection": a filter on a random id must answer an empty list, not an error.
    let probe = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"userName eq "d4e3c5b6-0f1a-4b2c-9d8e-7f6a5b4c3d2e""#)
        ))
        .await
        .expect(200);
    assert_eq!(probe["totalResults"], 0);

    let created = h
        .post(
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, CUSTOM],
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
                "active": true,
                "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
                "roles": [],
                ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"},
                // Entra's own extension, which this tenant does not declare: ignored (lenient).
                CUSTOM: {"costCenter": "4130"}
            }),
        )
        .await
        .expect(201);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["userName"],
        "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
    );
    assert_eq!(created[ENTERPRISE]["employeeNumber"], "701984");
    assert!(created.get(CUSTOM).is_none(), "{created}");
    assert!(created["schemas"]
        .as_array()
        .unwrap()
        .contains(&json!(ENTERPRISE)));
    // Coder holds a normalized, length-limited name; the display name comes from name.formatted.
    let coder = h.coder_user("test-user-ab6490ee-1e48-479e-a20");
    assert_eq!(coder["name"], "givenName familyName");

    // Lookups Entra makes: by userName and by externalId, and in Entra's own forms (the default
    // tenant reads them leniently): a sub-attribute after the value filter, an unquoted value.
    for filter in [
        r#"userName eq "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1""#,
        r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
        r#"emails[type eq "work"].value eq "Test_User_fd0ea19b@testuser.com""#,
        "externalId eq 0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    ] {
        let found = h
            .get(&format!("/Users?{}", filter_query(filter)))
            .await
            .expect(200);
        assert_eq!(found["totalResults"], 1, "{filter}");
        assert_eq!(found["Resources"][0]["id"], id.as_str());
    }
    // Entra sets the manager as a one-element array (the lenient dialect reads the element).
    let patched = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "Add", "path": "manager", "value": [{"$ref": format!("../Users/{id}"), "value": id}]}])),
        )
        .await
        .expect(200);
    assert_eq!(patched[ENTERPRISE]["manager"]["value"], id.as_str());
    assert_eq!(
        h.get(&format!("/Users/{id}")).await.expect(200)[ENTERPRISE]["manager"]["value"],
        id.as_str()
    );
    let other = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"emails[type eq "home"].value eq "Test_User_fd0ea19b@testuser.com""#)
        ))
        .await
        .expect(200);
    assert_eq!(other["totalResults"], 0);
    // externalId is caseExact.
    let miss = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF""#)
        ))
        .await
        .expect(200);
    assert_eq!(miss["totalResults"], 0);

    // Coder cannot change an email. The shipped mapping declares `on_change = "keep"`: Coder keeps
    // the first address, the IdP reads back what it wrote (see `email_changes_rejected_...`).
    let changed = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
            ])),
        )
        .await
        .expect(200);
    assert_eq!(changed["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(changed["name"]["familyName"], "updatedFamilyName");
    let coder = h.coder_user("test-user-ab6490ee-1e48-479e-a20");
    assert_eq!(coder["email"], "Test_User_fd0ea19b@testuser.com");
    assert_eq!(
        coder["name"], "givenName familyName",
        "name.formatted still names the user"
    );

    // Attribute updates with Entra's op spelling; enterprise fields by URN path.
    let patched = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([
                {"op": "Replace", "path": "name.formatted", "value": "Updated Name"},
                {"op": "Add", "path": format!("{ENTERPRISE}:department"), "value": "Engineering"},
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}
            ])),
        )
        .await
        .expect(200);
    assert_eq!(patched["name"]["formatted"], "Updated Name");
    assert_eq!(
        h.coder_user("test-user-ab6490ee-1e48-479e-a20")["name"],
        "Updated Name"
    );
    assert_eq!(patched[ENTERPRISE]["department"], "Engineering");
    assert_eq!(
        patched["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );

    // Deactivation with a string boolean, as Entra sends it.
    let off = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await
        .expect(200);
    assert_eq!(off["active"], false);
    assert_eq!(
        h.coder_user("test-user-ab6490ee-1e48-479e-a20")["status"],
        "suspended"
    );
    let on = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "Replace", "path": "active", "value": "True"}])),
        )
        .await
        .expect(200);
    assert_eq!(on["active"], true);

    // Reads with excludedAttributes, as Entra's group sync does for members.
    let slim = h
        .get(&format!("/Users/{id}?excludedAttributes={ENTERPRISE}"))
        .await
        .expect(200);
    assert!(slim.get(ENTERPRISE).is_none());
    assert_eq!(slim["id"], id.as_str());

    h.delete(&format!("/Users/{id}")).await.expect(204);
    h.get(&format!("/Users/{id}")).await.expect_error(404, None);
    h.demo.stop().await;
}

/// With `on_change = "reject"`, an email change is a clear 400 `mutability` and changes nothing.
#[tokio::test]
async fn email_changes_rejected_when_the_mapping_says_so() {
    let mapping =
        scimgate::demo::CODER_MAPPING.replace("on_change = \"keep\"", "on_change = \"reject\"");
    assert_ne!(mapping, scimgate::demo::CODER_MAPPING);
    let h = Harness::with(scimgate::demo::DemoOptions {
        mapping: Some(mapping),
        ..Default::default()
    })
    .await;
    let created = h
        .post(
            "/Users",
            crate::support::user("kim@example.com", "kim@example.com"),
        )
        .await
        .expect(201);
    let id = created["id"].as_str().unwrap();
    h.patch(
        &format!("/Users/{id}"),
        patch_op(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "kim@elsewhere.example"},
            {"op": "Replace", "path": "name.familyName", "value": "Changed"}
        ])),
    )
    .await
    .expect_error(400, Some("mutability"));
    let unchanged = h.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(unchanged["emails"][0]["value"], "kim@example.com");
    assert_eq!(unchanged["name"]["familyName"], "Family");
    // The same address in another element order is no change.
    let mut same = unchanged.clone();
    same["title"] = json!("Engineer");
    h.put(&format!("/Users/{id}"), same).await.expect(200);
    h.demo.stop().await;
}

/// Entra ID's "null update": an attribute emptied at the source comes as `""`, by path and in
/// a PUT; the lenient dialect clears it (the platform's and the gateway's copy alike).
#[tokio::test]
async fn entra_empty_strings_clear_attributes() {
    let h = Harness::start().await;
    let mut body = crate::support::user("nora", "nora@example.com");
    body["title"] = json!("Engineer");
    body["name"]["middleName"] = json!("Q");
    let made = h.post("/Users", body.clone()).await.expect(201);
    let url = format!("/Users/{}", made["id"].as_str().unwrap());
    assert_eq!(made["title"], "Engineer");
    let ops = patch_op(json!([
        {"op": "Replace", "path": "title", "value": ""},
        {"op": "Replace", "path": "name.middleName", "value": ""},
    ]));
    let patched = h.patch(&url, ops).await.expect(200);
    assert!(patched.get("title").is_none(), "{patched}");
    assert!(patched["name"].get("middleName").is_none(), "{patched}");
    let read = h.get(&url).await.expect(200);
    assert!(read.get("title").is_none(), "{read}");
    // The display name, emptied in a PUT, is cleared on the platform too.
    body["displayName"] = json!("Nora N");
    let named = h.put(&url, body.clone()).await.expect(200);
    assert_eq!(named["displayName"], "Nora N");
    assert_eq!(h.coder_user("nora")["name"], "Nora N");
    body["displayName"] = json!("");
    let put = h.put(&url, body).await.expect(200);
    assert!(put.get("displayName").is_none(), "{put}");
    // On Coder, a cleared display name falls back to the name parts (the mapping's rule).
    assert_eq!(h.coder_user("nora")["name"], "Given Family");
    assert_eq!(put["title"], "Engineer");
    h.demo.stop().await;
}

/// Entra ID's own extension attributes: a tenant that declares the schema keeps its values,
/// answers them back, validates them, and lists the schema in discovery.
#[tokio::test]
async fn a_declared_extension_schema_is_kept_and_answered() {
    const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    let h = Harness::start().await;
    let t = Some(h.demo.admin_token.as_str());
    let declaration = json!([{"resourceType": "User", "schema": {
        "id": CUSTOM, "name": "CustomExtension",
        "attributes": [{
            "name": "costCenter", "type": "string", "multiValued": false, "required": false,
            "caseExact": false, "mutability": "readWrite", "returned": "default",
            "uniqueness": "none", "description": "Entra's cost center"
        }, {
            "name": "badgeNumber", "type": "integer", "multiValued": false, "required": false,
            "caseExact": false, "mutability": "readWrite", "returned": "default",
            "uniqueness": "none", "description": ""
        }]
    }}]);
    let (status, bad) = crate::admin::admin(
        &h,
        reqwest::Method::PATCH,
        "/tenants/default",
        Some(json!({"extensions": [{"resourceType": "Device", "schema": {}}]})),
        t,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("extensions[0].resourceType"),
        "{bad}"
    );
    let (status, tenant) = crate::admin::admin(
        &h,
        reqwest::Method::PATCH,
        "/tenants/default",
        Some(json!({"extensions": declaration})),
        t,
    )
    .await;
    assert_eq!(status, 200, "{tenant}");
    assert_eq!(tenant["extensions"][0]["schema"]["id"], CUSTOM);

    // Discovery names it.
    let schemas = h.get("/Schemas").await.expect(200);
    assert!(schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == CUSTOM));
    h.get(&format!("/Schemas/{CUSTOM}")).await.expect(200);
    let user_type = h.get("/ResourceTypes/User").await.expect(200);
    assert!(user_type["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["schema"] == CUSTOM && e["required"] == false));

    // Its values are kept and answered; an undeclared extension is still left out.
    let mut body = crate::support::user("ext", "ext@example.com");
    body["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", CUSTOM]);
    body[CUSTOM] = json!({"costCenter": "CC-1", "badgeNumber": 42});
    body["urn:ietf:params:scim:schemas:extension:Other:2.0:User"] = json!({"x": "y"});
    let made = h.post("/Users", body).await.expect(201);
    assert_eq!(made[CUSTOM]["costCenter"], "CC-1");
    assert!(made
        .get("urn:ietf:params:scim:schemas:extension:Other:2.0:User")
        .is_none());
    let url = format!("/Users/{}", made["id"].as_str().unwrap());
    let read = h.get(&url).await.expect(200);
    assert_eq!(read[CUSTOM]["badgeNumber"], 42);
    assert!(read["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == CUSTOM));
    // Changed by path, validated as declared.
    let ops = patch_op(
        json!([{"op": "Replace", "path": format!("{CUSTOM}:costCenter"), "value": "CC-2"}]),
    );
    let patched = h.patch(&url, ops).await.expect(200);
    assert_eq!(patched[CUSTOM]["costCenter"], "CC-2");
    let ops = patch_op(
        json!([{"op": "Replace", "path": format!("{CUSTOM}:badgeNumber"), "value": "many"}]),
    );
    h.patch(&url, ops)
        .await
        .expect_error(400, Some("invalidValue"));
    // Declared no more: gone from discovery.
    let (status, _) = crate::admin::admin(
        &h,
        reqwest::Method::PATCH,
        "/tenants/default",
        Some(json!({"extensions": null})),
        t,
    )
    .await;
    assert_eq!(status, 200);
    let schemas = h.get("/Schemas").await.expect(200);
    assert!(!schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == CUSTOM));
    h.demo.stop().await;
}
