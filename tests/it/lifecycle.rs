//! A tenant's user lifecycle policy: reactivation of a deactivated user on POST (instead of a
//! 409 loop), and what a DELETE does to the platform account (delete, suspend, unlink); the
//! SCIM resource is gone after a DELETE whatever the policy (RFC 7644 §3.6).

use reqwest::Method;
use serde_json::{json, Value};

use crate::admin::admin;
use crate::support::{filter_query, patch_op, Answer, Harness};
use crate::tenants::{create_user, make_tenant, tenant_url, with_two_platforms};

async fn token_of(h: &Harness, tenant: &str) -> String {
    let (status, made) = admin(
        h,
        Method::POST,
        &format!("/tenants/{tenant}/tokens"),
        Some(json!({"name": "idp"})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    made["token"].as_str().unwrap().to_owned()
}

async fn call(h: &Harness, token: &str, method: Method, url: &str, body: Option<Value>) -> Answer {
    h.call_as(token, method, url, body, &[]).await
}

/// The users of a name, as the tenant lists them.
async fn by_name(h: &Harness, token: &str, base: &str, name: &str) -> Vec<Value> {
    let query = filter_query(&format!("userName eq \"{name}\""));
    let page = call(
        h,
        token,
        Method::GET,
        &format!("{base}/Users?{query}"),
        None,
    )
    .await
    .expect(200);
    page["Resources"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_suspending_tenant_keeps_accounts_and_reactivates_them_on_post() {
    let h = with_two_platforms().await;
    let made = make_tenant(
        &h,
        "acme",
        json!({"backend": "coder-a", "deprovision": "suspend", "reactivate": true}),
    )
    .await;
    assert_eq!(
        (made["deprovision"].as_str(), made["reactivate"].as_bool()),
        (Some("suspend"), Some(true))
    );
    let base = tenant_url(&h, "acme");
    let token = token_of(&h, "acme").await;

    // Deactivated users stay readable.
    let ada = create_user(&h, &base, &token, "ada").await.expect(201);
    let ada_url = format!("{base}/Users/{}", ada["id"].as_str().unwrap());
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    call(&h, &token, Method::PATCH, &ada_url, Some(off))
        .await
        .expect(200);
    let read = call(&h, &token, Method::GET, &ada_url, None)
        .await
        .expect(200);
    assert_eq!(read["active"], false);

    // DELETE suspends the account: the resource is gone, the account stays, deactivated.
    let bea = create_user(&h, &base, &token, "bea").await.expect(201);
    let bea_id = bea["id"].as_str().unwrap().to_owned();
    let bea_url = format!("{base}/Users/{bea_id}");
    call(&h, &token, Method::DELETE, &bea_url, None)
        .await
        .expect(204);
    call(&h, &token, Method::GET, &bea_url, None)
        .await
        .expect_error(404, None);
    let kept = by_name(&h, &token, &base, "bea").await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["active"], false);
    assert_ne!(kept[0]["id"], bea_id.as_str());

    // The IdP assigns her again: the POST reactivates and updates the deactivated account.
    let mut again = crate::support::user("bea", "bea@example.com");
    again["name"]["givenName"] = json!("Beatrice");
    let revived = call(
        &h,
        &token,
        Method::POST,
        &format!("{base}/Users"),
        Some(again),
    )
    .await
    .expect(201);
    assert_eq!(revived["active"], true);
    assert_eq!(revived["id"], kept[0]["id"]);
    assert_eq!(revived["name"]["givenName"], "Beatrice");
    assert_eq!(by_name(&h, &token, &base, "bea").await.len(), 1);
    // The audit log says what happened, not just "create" and "delete".
    let t = Some(h.demo.admin_token.as_str());
    let (_, log) = admin(
        &h,
        Method::GET,
        "/tenants/acme/audit?operation=create",
        None,
        t,
    )
    .await;
    assert!(
        log["entries"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("reactivated"),
        "{log}"
    );
    let (_, log) = admin(
        &h,
        Method::GET,
        "/tenants/acme/audit?operation=delete",
        None,
        t,
    )
    .await;
    assert!(
        log["entries"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("deprovision suspend"),
        "{log}"
    );

    // Another person whose name the platform folds into the same account name is no match:
    // only the exact userName (ignoring case) of a deactivated user is reactivated.
    let revived_url = format!("{base}/Users/{}", revived["id"].as_str().unwrap());
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    call(&h, &token, Method::PATCH, &revived_url, Some(off))
        .await
        .expect(200);
    let stranger = crate::support::user("bea@elsewhere.example", "bea@elsewhere.example");
    call(
        &h,
        &token,
        Method::POST,
        &format!("{base}/Users"),
        Some(stranger),
    )
    .await
    .expect_error(409, Some("uniqueness"));
    let read = call(&h, &token, Method::GET, &revived_url, None)
        .await
        .expect(200);
    assert_eq!(
        (read["userName"].as_str(), read["active"].as_bool()),
        (Some("bea"), Some(false))
    );
    // In another letter case it is the same userName (RFC 7643: caseExact false).
    let shouted = crate::support::user("BEA", "bea@example.com");
    let again = call(
        &h,
        &token,
        Method::POST,
        &format!("{base}/Users"),
        Some(shouted),
    )
    .await
    .expect(201);
    assert_eq!(again["id"], revived["id"]);
    // An active user of the name is a conflict all the same.
    create_user(&h, &base, &token, "bea")
        .await
        .expect_error(409, Some("uniqueness"));

    let (status, _) = admin(
        &h,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"reactivate": false, "deprovision": "unlink"})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 200);
    // Unlink leaves the account as it is: an active user stays active, kept under a new id
    // with what the IdP wrote.
    let cy = create_user(&h, &base, &token, "cy").await.expect(201);
    let cy_url = format!("{base}/Users/{}", cy["id"].as_str().unwrap());
    call(&h, &token, Method::DELETE, &cy_url, None)
        .await
        .expect(204);
    call(&h, &token, Method::GET, &cy_url, None)
        .await
        .expect_error(404, None);
    let left = by_name(&h, &token, &base, "cy").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["active"], true);
    assert_ne!(left[0]["id"], cy["id"]);
    assert_eq!(left[0]["emails"][0]["value"], "cy@example.com");
    // Without the option, a deactivated user's name is a 409 too.
    create_user(&h, &base, &token, "ada")
        .await
        .expect_error(409, Some("uniqueness"));
    h.demo.stop().await;
}

#[tokio::test]
async fn lifecycle_policies_a_tenant_cannot_keep_are_refused() {
    let h = Harness::start().await;
    let t = Some(h.demo.admin_token.as_str());
    let (status, refused) = admin(
        &h,
        Method::PATCH,
        "/tenants/default",
        Some(json!({"dialect": "strict", "deprovision": "suspend"})),
        t,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        refused["error"].as_str().unwrap().contains("strict"),
        "{refused}"
    );
    let (status, refused) = admin(
        &h,
        Method::PATCH,
        "/tenants/default",
        Some(json!({"deprovision": "archive"})),
        t,
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    // The default delete policy really deletes: the name is free again.
    let made = h
        .post("/Users", crate::support::user("cid", "cid@example.com"))
        .await
        .expect(201);
    h.delete(&format!("/Users/{}", made["id"].as_str().unwrap()))
        .await
        .expect(204);
    let query = crate::support::filter_query("userName eq \"cid\"");
    let found = h.get(&format!("/Users?{query}")).await.expect(200);
    assert_eq!(found["totalResults"], 0, "{found}");
    h.post("/Users", crate::support::user("cid", "cid@example.com"))
        .await
        .expect(201);
    // The CLI sets the policy.
    let (ok, changed) = crate::support::admin_cli(
        &h,
        &[
            "tenants",
            "update",
            "default",
            "--deprovision",
            "unlink",
            "--reactivate",
        ],
    )
    .await;
    assert!(ok, "{changed}");
    assert_eq!(changed["deprovision"], "unlink");
    assert_eq!(changed["reactivate"], true);
    h.demo.stop().await;
}
