//! The user lifecycle as Okta drives it (Okta's "SCIM 2.0 provisioning" developer guide): look
//! up by userName, create, read, full-profile PUT, deactivate and reactivate by a no-path
//! `replace` PATCH, then delete.

use serde_json::json;

use crate::support::{filter_query, patch_op, Harness};

#[tokio::test]
async fn okta_user_lifecycle() {
    let h = Harness::start().await;

    // 1. Okta checks whether the user exists.
    let query = format!(
        "/Users?{}&startIndex=1&count=100",
        filter_query(r#"userName eq "dade.murphy@example.com""#)
    );
    let list = h.get(&query).await.expect(200);
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["Resources"], json!([]));
    assert_eq!(
        list["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );

    // Okta's required tests read the first user of a page of one and expect name parts: the
    // Coder admin, made on Coder with a display name only, has them derived from it.
    let first = h.get("/Users?startIndex=1&count=1").await.expect(200);
    let admin = &first["Resources"][0];
    assert_eq!(admin["userName"], "admin", "{first}");
    assert_eq!(admin["name"]["givenName"], "Admin");
    assert_eq!(admin["name"]["familyName"], "Admin");

    // 2. Create, with Okta's payload (password, empty groups, locale, externalId).
    let created = h
        .post(
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "Dade.Murphy@example.com",
                "name": {"givenName": "Dade", "familyName": "Murphy"},
                "emails": [{"primary": true, "value": "dade.murphy@example.com", "type": "work"}],
                "displayName": "Dade Murphy",
                "locale": "en-US",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "groups": [],
                "password": "1mz050nq",
                "active": true
            }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    let location = created
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let user = created.body;
    let id = user["id"].as_str().expect("id").to_owned();
    assert_eq!(location.as_deref(), user["meta"]["location"].as_str());
    assert!(location.unwrap().ends_with(&format!("/scim/v2/Users/{id}")));
    // The IdP reads back what it wrote, although Coder's name is normalized.
    assert_eq!(user["userName"], "Dade.Murphy@example.com");
    assert_eq!(user["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(user["name"]["givenName"], "Dade");
    assert_eq!(user["locale"], "en-US");
    assert_eq!(user["active"], true);
    assert!(user.get("password").is_none(), "password is never returned");
    assert_eq!(user["meta"]["resourceType"], "User");
    let coder = h.coder_user("dade-murphy");
    assert_eq!(coder["email"], "dade.murphy@example.com");
    assert_eq!(coder["name"], "Dade Murphy");
    assert_eq!(coder["login_type"], "oidc");
    assert_eq!(coder["status"], "dormant", "new Coder users stay dormant");

    // 3. Read, and find by userName in any case.
    let read = h.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(read, user);
    let found = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"userName eq "dade.murphy@EXAMPLE.com""#)
        ))
        .await
        .expect(200);
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    // 4. Profile push: a full PUT with a new display name.
    let mut replacement = user.clone();
    replacement["displayName"] = json!("Zero Cool");
    replacement["name"]["familyName"] = json!("Murphy-Cool");
    let replaced = h
        .put(&format!("/Users/{id}"), replacement)
        .await
        .expect(200);
    assert_eq!(replaced["displayName"], "Zero Cool");
    assert_eq!(replaced["name"]["familyName"], "Murphy-Cool");
    assert_eq!(h.coder_user("dade-murphy")["name"], "Zero Cool");
    assert_ne!(replaced["meta"]["version"], user["meta"]["version"]);

    // 5. Deactivation: Okta's no-path replace.
    let off = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await
        .expect(200);
    assert_eq!(off["active"], false);
    assert_eq!(h.coder_user("dade-murphy")["status"], "suspended");
    let inactive = h
        .get(&format!("/Users?{}", filter_query("active eq false")))
        .await
        .expect(200);
    assert_eq!(inactive["totalResults"], 1);

    // 6. Reactivation.
    let on = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await
        .expect(200);
    assert_eq!(on["active"], true);
    assert_eq!(h.coder_user("dade-murphy")["status"], "active");

    // 7. Delete; the id is gone for every method, although Coder only soft-deletes.
    h.delete(&format!("/Users/{id}")).await.expect(204);
    h.get(&format!("/Users/{id}")).await.expect_error(404, None);
    h.put(&format!("/Users/{id}"), user.clone())
        .await
        .expect_error(404, None);
    h.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "replace", "value": {"active": false}}])),
    )
    .await
    .expect_error(404, None);
    h.delete(&format!("/Users/{id}"))
        .await
        .expect_error(404, None);
    let gone = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"userName eq "Dade.Murphy@example.com""#)
        ))
        .await
        .expect(200);
    assert_eq!(gone["totalResults"], 0);

    // The name is free again: provisioning the same person anew works and gets a new id.
    let again = h
        .post(
            "/Users",
            crate::support::user("Dade.Murphy@example.com", "dade.murphy@example.com"),
        )
        .await
        .expect(201);
    assert_ne!(again["id"], id.as_str());
    h.demo.stop().await;
}
