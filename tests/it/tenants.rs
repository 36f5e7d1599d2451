//! Tenants (SCIM configurations): each with its own SCIM URL, tokens, links and audit log,
//! managed through the admin API and the CLI.

use reqwest::Method;
use serde_json::{json, Value};

use crate::admin::admin;
use crate::support::{admin_cli, user, Answer, Harness};

/// A demo gateway with two more backends, `coder-a` and `coder-b`, each an emulated Coder of
/// its own (a backend fronts one tenant).
pub(crate) async fn with_two_platforms() -> Harness {
    Harness::with(scimgate::demo::DemoOptions {
        extra_backends: vec!["coder-a".to_owned(), "coder-b".to_owned()],
        ..Default::default()
    })
    .await
}

/// The SCIM base URL of a tenant.
pub(crate) fn tenant_url(h: &Harness, tenant: &str) -> String {
    format!("{}/{tenant}", h.url(""))
}

/// Makes a tenant fronting the demo's backend; answers its body.
pub(crate) async fn make_tenant(h: &Harness, id: &str, extra: Value) -> Value {
    let mut body = json!({"id": id, "name": format!("Tenant {id}")});
    if let (Some(map), Some(more)) = (body.as_object_mut(), extra.as_object()) {
        map.extend(more.clone());
    }
    let (status, made) = admin(
        h,
        Method::POST,
        "/tenants",
        Some(body),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    made
}

/// Makes a token of a tenant; answers (id, secret).
async fn make_token(h: &Harness, tenant: &str, name: &str) -> (String, String) {
    let (status, made) = admin(
        h,
        Method::POST,
        &format!("/tenants/{tenant}/tokens"),
        Some(json!({ "name": name })),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    (
        made["id"].as_str().unwrap().to_owned(),
        made["token"].as_str().unwrap().to_owned(),
    )
}

pub(crate) async fn create_user(h: &Harness, base: &str, token: &str, name: &str) -> Answer {
    h.call_as(
        token,
        Method::POST,
        &format!("{base}/Users"),
        Some(user(name, &format!("{name}@example.com"))),
        &[],
    )
    .await
}

/// The issue's "done when": a tenant and a token through the admin API, a user provisioned
/// with it, the token rotated (old refused, new accepted) and revoked (refused), each step in
/// the tenant's audit log.
#[tokio::test]
async fn a_tenant_is_provisioned_with_its_own_rotated_and_revoked_token() {
    let h = with_two_platforms().await;
    let made = make_tenant(&h, "acme", json!({"backend": "coder-a"})).await;
    assert_eq!(made["enabled"], true);
    assert_eq!(made["backend"], "coder-a");
    assert_eq!(made["scimBaseUrl"], tenant_url(&h, "acme"));
    let acme = tenant_url(&h, "acme");
    let (token_id, first) = make_token(&h, "acme", "okta").await;

    let created = create_user(&h, &acme, &first, "ada").await.expect(201);
    let location = created["meta"]["location"].as_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{acme}/Users/")),
        "{location}"
    );
    let read = h
        .call_as(&first, Method::GET, &location, None, &[])
        .await
        .expect(200);
    assert_eq!(read["userName"], "ada");

    let t = Some(h.demo.admin_token.as_str());
    let (status, rotated) = admin(
        &h,
        Method::POST,
        &format!("/tenants/acme/tokens/{token_id}/regenerate"),
        None,
        t,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["token"].as_str().unwrap().to_owned();
    create_user(&h, &acme, &first, "bea")
        .await
        .expect_error(401, None);
    create_user(&h, &acme, &second, "bea").await.expect(201);

    let (status, _) = admin(
        &h,
        Method::POST,
        &format!("/tenants/acme/tokens/{token_id}/revoke"),
        None,
        t,
    )
    .await;
    assert_eq!(status, 200);
    create_user(&h, &acme, &second, "cid")
        .await
        .expect_error(401, None);

    // The tenant's audit log, oldest first: every step, with its actor.
    let (status, log) = admin(&h, Method::GET, "/tenants/acme/audit", None, t).await;
    assert_eq!(status, 200, "{log}");
    let steps: Vec<(String, String, String)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let admin_actor = "admin:demo-admin".to_owned();
    let token_actor = format!("token:{token_id}:okta");
    let ok = "success".to_owned();
    assert_eq!(
        steps,
        vec![
            ("tenant.create".to_owned(), admin_actor.clone(), ok.clone()),
            ("token.create".to_owned(), admin_actor.clone(), ok.clone()),
            ("create".to_owned(), token_actor.clone(), ok.clone()),
            (
                "token.regenerate".to_owned(),
                admin_actor.clone(),
                ok.clone()
            ),
            ("create".to_owned(), token_actor.clone(), ok.clone()),
            ("token.revoke".to_owned(), admin_actor.clone(), ok.clone()),
        ]
    );
    // The default tenant's log has none of it.
    let (_, default_log) = admin(&h, Method::GET, "/tenants/default/audit", None, t).await;
    assert_eq!(default_log["total"], 0, "{default_log}");
    h.demo.stop().await;
}

/// A token works on its own tenant's URL only; elsewhere it is refused exactly as a made-up
/// token is, and an unknown tenant answers the same, so nothing is revealed.
#[tokio::test]
async fn a_tenants_token_is_refused_on_another_tenants_url() {
    let h = with_two_platforms().await;
    make_tenant(&h, "acme", json!({"backend": "coder-a"})).await;
    make_tenant(&h, "beta", json!({"backend": "coder-b"})).await;
    let (_, acme_token) = make_token(&h, "acme", "okta").await;
    let (_, beta_token) = make_token(&h, "beta", "entra").await;
    let acme = tenant_url(&h, "acme");
    let beta = tenant_url(&h, "beta");
    let made = create_user(&h, &acme, &acme_token, "only-acme")
        .await
        .expect(201);
    let id = made["id"].as_str().unwrap();

    let made_up = "sgt_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef";
    let refusal = h
        .call_as(made_up, Method::GET, &format!("{beta}/Users"), None, &[])
        .await
        .expect_error(401, None);
    for (token, url) in [
        (acme_token.as_str(), format!("{beta}/Users")),
        (acme_token.as_str(), format!("{beta}/Users/{id}")),
        (acme_token.as_str(), h.url("/Users")),
        (acme_token.as_str(), format!("{}/nowhere/Users", h.url(""))),
        (h.demo.token.as_str(), format!("{acme}/Users")),
        (beta_token.as_str(), format!("{acme}/Users/{id}")),
    ] {
        let answer = h.call_as(token, Method::GET, &url, None, &[]).await;
        assert_eq!(
            answer.headers.get("www-authenticate").unwrap(),
            "Bearer realm=\"scimgate\""
        );
        assert_eq!(answer.expect_error(401, None), refusal, "{url}");
    }
    // Each tenant sees its own identities only.
    h.call_as(
        &beta_token,
        Method::GET,
        &format!("{beta}/Users/{id}"),
        None,
        &[],
    )
    .await
    .expect_error(404, None);
    // A lone segment is never a tenant: an existing tenant's and a made-up one answer alike.
    for lone in ["/acme", "/nowhere"] {
        h.get(lone).await.expect_error(404, None);
    }
    // The default tenant still answers at the bare base path, and at /default.
    h.get("/Users").await.expect(200);
    h.call_as(
        &h.demo.token,
        Method::GET,
        &format!("{}/Users", tenant_url(&h, "default")),
        None,
        &[],
    )
    .await
    .expect(200);
    h.demo.stop().await;
}

/// A disabled tenant answers every SCIM request with 403 (to its own callers; others still
/// get 401), and answers again once enabled.
#[tokio::test]
async fn a_disabled_tenant_answers_every_scim_request_with_an_error() {
    let h = with_two_platforms().await;
    make_tenant(&h, "acme", json!({"backend": "coder-a"})).await;
    let (_, token) = make_token(&h, "acme", "okta").await;
    let acme = tenant_url(&h, "acme");
    let t = Some(h.demo.admin_token.as_str());
    let (status, changed) = admin(
        &h,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"enabled": false})),
        t,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["enabled"], false);
    for path in ["/Users", "/Groups", "/ServiceProviderConfig", "/Schemas"] {
        let body = h
            .call_as(&token, Method::GET, &format!("{acme}{path}"), None, &[])
            .await
            .expect_error(403, None);
        assert!(
            body["detail"].as_str().unwrap().contains("disabled"),
            "{body}"
        );
    }
    create_user(&h, &acme, &token, "ada")
        .await
        .expect_error(403, None);
    create_user(&h, &acme, "not-a-real-token-at-all", "ada")
        .await
        .expect_error(401, None);
    admin(
        &h,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"enabled": true})),
        t,
    )
    .await;
    create_user(&h, &acme, &token, "ada").await.expect(201);
    let (_, log) = admin(
        &h,
        Method::GET,
        "/tenants/acme/audit?operation=tenant.update",
        None,
        t,
    )
    .await;
    assert_eq!(log["entries"][0]["detail"], "enabled");
    assert_eq!(log["entries"][1]["detail"], "disabled");
    h.demo.stop().await;
}

/// A tenant's maximum token lifetime: new tokens get it, longer ones are refused, and a
/// shorter limit shortens the tokens that would outlive it.
#[tokio::test]
async fn the_token_policy_bounds_token_lifetimes() {
    let h = with_two_platforms().await;
    make_tenant(
        &h,
        "acme",
        json!({"backend": "coder-a", "tokenPolicy": {"maxLifetimeDays": 30}}),
    )
    .await;
    let t = Some(h.demo.admin_token.as_str());
    let days_from_now = |days: i64| {
        (time::OffsetDateTime::now_utc() + time::Duration::days(days))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let expiry = |v: &Value| {
        time::OffsetDateTime::parse(
            v["expiresAt"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let (status, made) = admin(
        &h,
        Method::POST,
        "/tenants/acme/tokens",
        Some(json!({"name": "okta"})),
        t,
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let left = expiry(&made) - time::OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::days(29) && left <= time::Duration::days(30),
        "{made}"
    );
    let id = made["id"].as_str().unwrap().to_owned();

    let (status, refused) = admin(
        &h,
        Method::POST,
        "/tenants/acme/tokens",
        Some(json!({"name": "long", "expiresAt": days_from_now(31)})),
        t,
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("30 days"));
    let (status, _) = admin(
        &h,
        Method::PATCH,
        &format!("/tenants/acme/tokens/{id}"),
        Some(json!({"expiresAt": null})),
        t,
    )
    .await;
    assert_eq!(status, 400);

    // Lowering the limit to 7 days shortens the 30-day token.
    let (status, changed) = admin(
        &h,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"tokenPolicy": {"maxLifetimeDays": 7}})),
        t,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["tokenPolicy"]["maxLifetimeDays"], 7);
    let (_, token) = admin(
        &h,
        Method::GET,
        &format!("/tenants/acme/tokens/{id}"),
        None,
        t,
    )
    .await;
    let left = expiry(&token) - time::OffsetDateTime::now_utc();
    assert!(left <= time::Duration::days(7), "{token}");
    // The default tenant has no limit.
    let (status, free) = admin(
        &h,
        Method::POST,
        "/tenants/default/tokens",
        Some(json!({"name": "forever"})),
        t,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(free["expiresAt"], Value::Null);
    h.demo.stop().await;
}

/// Bad tenant requests get clear errors; a tenant with identity links is neither deleted nor
/// moved to another backend; an empty one is deleted with its tokens.
#[tokio::test]
async fn tenant_management_refuses_what_would_lose_identities() {
    let h = with_two_platforms().await;
    let t = Some(h.demo.admin_token.as_str());
    for (body, status, says) in [
        (json!({"id": "Acme"}), 400, "lower-case"),
        (json!({"id": "users"}), 400, "SCIM endpoint"),
        (
            json!({"id": "acme", "backend": "gitlab"}),
            400,
            "no backend gitlab",
        ),
        (
            json!({"id": "acme", "colour": "red"}),
            400,
            "unknown field `colour`",
        ),
        (
            json!({"id": "acme", "enabled": "yes"}),
            400,
            "true or false",
        ),
        (
            json!({"id": "acme", "tokenPolicy": {"maxLifetimeDays": 0}}),
            400,
            "1 to",
        ),
        (json!({"name": "no id"}), 400, "id"),
        (json!({"id": "acme"}), 400, "name the backend"),
        // A backend fronts one tenant: `default` fronts [backend].
        (
            json!({"id": "acme", "backend": "default"}),
            409,
            "fronted by tenant default",
        ),
    ] {
        let (got, answer) = admin(&h, Method::POST, "/tenants", Some(body.clone()), t).await;
        assert_eq!(got, status, "{body} -> {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(says),
            "{body} -> {answer}"
        );
    }
    // A body that is not JSON is answered in the admin API's form too.
    let base = h.url("").replace("/scim/v2", "");
    let bad = h
        .http
        .post(format!("{base}/admin/v1/tenants"))
        .bearer_auth(&h.demo.admin_token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["status"], 400);
    assert!(
        bad["error"].as_str().unwrap().contains("not valid JSON"),
        "{bad}"
    );
    make_tenant(&h, "acme", json!({"backend": "coder-a"})).await;
    let (status, _) = admin(
        &h,
        Method::POST,
        "/tenants",
        Some(json!({"id": "acme", "backend": "coder-b"})),
        t,
    )
    .await;
    assert_eq!(status, 409);
    let (status, refused) = admin(
        &h,
        Method::PATCH,
        "/tenants/default",
        Some(json!({"backend": "coder-b"})),
        t,
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    let (status, _) = admin(&h, Method::GET, "/tenants/nope", None, t).await;
    assert_eq!(status, 404);
    let (status, _) = admin(&h, Method::GET, "/tenants/nope/tokens", None, t).await;
    assert_eq!(status, 404);
    let (status, _) = admin(&h, Method::DELETE, "/tenants/default", None, t).await;
    assert_eq!(status, 409);

    let (_, token) = make_token(&h, "acme", "okta").await;
    let acme = tenant_url(&h, "acme");
    let made = create_user(&h, &acme, &token, "kept").await.expect(201);
    let (status, refused) = admin(&h, Method::DELETE, "/tenants/acme", None, t).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .contains("1 identity links"));
    let (status, listed) = admin(&h, Method::GET, "/tenants", None, t).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = listed["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "default"]);

    // Its links are the tenant's own: listed under it, not under default.
    let (_, links) = admin(&h, Method::GET, "/tenants/acme/links", None, t).await;
    assert_eq!(links["links"][0]["id"], made["id"]);
    assert_eq!(
        links["links"][0]["location"],
        format!("{acme}/Users/{}", made["id"].as_str().unwrap())
    );
    let (_, links) = admin(&h, Method::GET, "/tenants/default/links", None, t).await;
    assert_eq!(links["total"], 0);

    // Emptied, it can go; its tokens go with it, and its URL answers as unknown.
    let (status, _) = admin(
        &h,
        Method::DELETE,
        &format!("/tenants/acme/links/{}", made["id"].as_str().unwrap()),
        None,
        t,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = admin(&h, Method::DELETE, "/tenants/acme", None, t).await;
    assert_eq!(status, 204);
    create_user(&h, &acme, &token, "gone")
        .await
        .expect_error(401, None);
    let (status, _) = admin(&h, Method::GET, "/tenants/acme", None, t).await;
    assert_eq!(status, 404);
    // Its audit log stays readable: it says who deleted it.
    let (status, log) = admin(&h, Method::GET, "/tenants/acme/audit", None, t).await;
    assert_eq!(status, 200);
    assert_eq!(log["entries"][0]["operation"], "tenant.delete");
    assert_eq!(log["entries"][0]["actor"], "admin:demo-admin");
    let (status, _) = admin(&h, Method::GET, "/tenants/never/audit", None, t).await;
    assert_eq!(status, 404);
    h.demo.stop().await;
}

/// The endpoint-info call: what an IdP admin pastes into Okta or Entra ID.
#[tokio::test]
async fn endpoint_info_says_what_to_paste_into_the_idp() {
    let h = with_two_platforms().await;
    make_tenant(&h, "acme", json!({"backend": "coder-a"})).await;
    let t = Some(h.demo.admin_token.as_str());
    let (status, info) = admin(&h, Method::GET, "/tenants/acme/endpoint", None, t).await;
    assert_eq!(status, 200, "{info}");
    let acme = tenant_url(&h, "acme");
    assert_eq!(info["scimBaseUrl"], acme);
    assert_eq!(info["okta"]["SCIM connector base URL"], acme);
    assert_eq!(info["entra"]["Tenant URL"], acme);
    assert_eq!(info["resourceTypes"], json!(["User", "Group"]));
    assert!(info["authentication"]["header"]
        .as_str()
        .unwrap()
        .contains("Bearer"));
    let (_, info) = admin(&h, Method::GET, "/tenants/default/endpoint", None, t).await;
    assert_eq!(info["scimBaseUrl"], h.url(""));
    // The URL it gives works, discovery and bulk included, with locations under it.
    let (_, token) = make_token(&h, "acme", "okta").await;
    let types = h
        .call_as(
            &token,
            Method::GET,
            &format!("{acme}/ResourceTypes"),
            None,
            &[],
        )
        .await
        .expect(200);
    assert!(
        types
            .to_string()
            .contains(&format!("{acme}/ResourceTypes/User")),
        "{types}"
    );
    let bulk = h
        .call_as(
            &token,
            Method::POST,
            &format!("{acme}/Bulk"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [{"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("bulky", "bulky@example.com")}]
            })),
            &[],
        )
        .await
        .expect(200);
    assert_eq!(bulk["Operations"][0]["status"], "201", "{bulk}");
    assert!(bulk["Operations"][0]["location"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{acme}/Users/")));
    h.demo.stop().await;
}

/// `scimgate tenants ...` calls the admin API of a running gateway.
#[tokio::test]
async fn tenants_cli_uses_the_admin_api() {
    let h = with_two_platforms().await;
    let run = |args: Vec<&'static str>| {
        let h = &h;
        async move { Ok::<_, ()>(admin_cli(h, &args).await) }
    };
    let (ok, made) = run(vec![
        "tenant",
        "create",
        "acme",
        "--backend",
        "coder-a",
        "--name",
        "Acme Corp",
        "--max-token-lifetime-days",
        "90",
    ])
    .await
    .unwrap();
    assert!(ok, "{made}");
    assert_eq!(made["name"], "Acme Corp");
    assert_eq!(made["tokenPolicy"]["maxLifetimeDays"], 90);
    let (ok, changed) = run(vec!["tenants", "update", "acme", "--disable"])
        .await
        .unwrap();
    assert!(ok);
    assert_eq!(changed["enabled"], false);
    let (ok, info) = run(vec!["tenants", "endpoint", "acme"]).await.unwrap();
    assert!(ok);
    assert_eq!(info["scimBaseUrl"], tenant_url(&h, "acme"));
    // `token` works as `tokens`, with the tenant to act on.
    let (ok, token) = run(vec![
        "token", "--tenant", "acme", "create", "--name", "okta",
    ])
    .await
    .unwrap();
    assert!(ok, "{token}");
    assert!(token["expiresAt"].is_string());
    let (ok, listed) = run(vec!["tenants", "list"]).await.unwrap();
    assert!(ok);
    assert_eq!(listed["tenants"].as_array().unwrap().len(), 2);
    let (ok, _) = run(vec!["tenants", "get", "nope"]).await.unwrap();
    assert!(!ok);
    h.demo.stop().await;
}

/// Tenants on different backends provision different platforms through one gateway.
#[tokio::test]
async fn tenants_front_the_backend_they_name() {
    let h = Harness::with(scimgate::demo::DemoOptions {
        extra_backends: vec![
            "coder-eu".to_owned(),
            "coder-us".to_owned(),
            "coder-spare".to_owned(),
        ],
        ..Default::default()
    })
    .await;
    let (status, refused) = admin(
        &h,
        Method::POST,
        "/tenants",
        Some(json!({"id": "eu"})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 400, "with two backends, one must be named");
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .contains("coder-eu, coder-spare, coder-us, default"));
    make_tenant(&h, "eu", json!({"backend": "coder-eu"})).await;
    let (_, token) = make_token(&h, "eu", "entra").await;
    let eu = tenant_url(&h, "eu");
    create_user(&h, &eu, &token, "greta").await.expect(201);
    let (_, eu_platform) = &h.demo.extra_emulators[0];
    assert!(eu_platform.user_json("greta").is_some());
    assert!(h.demo.emulator.user_json("greta").is_none());
    // Moving a tenant with links to another backend is refused; an empty one moves.
    let (status, refused) = admin(
        &h,
        Method::PATCH,
        "/tenants/eu",
        Some(json!({"backend": "coder-us"})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .contains("identity links"));
    let (status, _) = admin(
        &h,
        Method::POST,
        "/tenants",
        Some(json!({"id": "us", "backend": "coder-us"})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 201);
    let (status, moved) = admin(
        &h,
        Method::PATCH,
        "/tenants/us",
        Some(json!({"backend": "coder-eu"})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 409, "coder-eu is eu's: {moved}");
    // A tenant without links moves; its next request goes to the new platform.
    let (_, us_token) = make_token(&h, "us", "okta").await;
    let us = tenant_url(&h, "us");
    h.call_as(
        &us_token,
        Method::GET,
        &format!("{us}/ServiceProviderConfig"),
        None,
        &[],
    )
    .await
    .expect(200);
    let (status, moved) = admin(
        &h,
        Method::PATCH,
        "/tenants/us",
        Some(json!({"backend": "coder-spare"})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    create_user(&h, &us, &us_token, "sam").await.expect(201);
    let spare = &h.demo.extra_emulators[2];
    assert_eq!(spare.0, "coder-spare");
    assert!(spare.1.user_json("sam").is_some());
    assert!(h.demo.extra_emulators[1].1.user_json("sam").is_none());
    h.demo.stop().await;
}

/// A tenant whose backend left the config answers 503 to SCIM, and its tokens stay
/// manageable (a token can still be listed and revoked).
#[tokio::test]
async fn a_tenant_whose_backend_left_the_config_answers_503_and_keeps_its_tokens() {
    let data = tempfile::tempdir().unwrap();
    let options = |extra: Vec<String>| scimgate::demo::DemoOptions {
        data_dir: Some(data.path().to_owned()),
        admin_token: Some("admin-token-kept-across-restarts".to_owned()),
        extra_backends: extra,
        ..Default::default()
    };
    let h = Harness::with(options(vec!["coder-gone".to_owned()])).await;
    make_tenant(&h, "gone", json!({"backend": "coder-gone"})).await;
    let (token_id, token) = make_token(&h, "gone", "okta").await;
    h.demo.stop().await;

    // Restarted with a config that no longer has the backend.
    let h = Harness::with(options(Vec::new())).await;
    let gone = tenant_url(&h, "gone");
    let body = h
        .call_as(&token, Method::GET, &format!("{gone}/Users"), None, &[])
        .await
        .expect_error(503, None);
    assert!(
        body["detail"].as_str().unwrap().contains("coder-gone"),
        "{body}"
    );
    let t = Some(h.demo.admin_token.as_str());
    let (status, listed) = admin(&h, Method::GET, "/tenants/gone/tokens", None, t).await;
    assert_eq!(status, 200, "{listed}");
    let (status, _) = admin(
        &h,
        Method::POST,
        &format!("/tenants/gone/tokens/{token_id}/revoke"),
        None,
        t,
    )
    .await;
    assert_eq!(status, 200);
    h.call_as(&token, Method::GET, &format!("{gone}/Users"), None, &[])
        .await
        .expect_error(401, None);
    h.demo.stop().await;
}

/// A tenant's dialect and token header mode (the IdP dialects issue): a strict tenant refuses
/// Entra ID's filter forms and filters on undefined attributes; a lenient one reads them; a
/// tenant that accepts bare tokens takes `Authorization: <token>` (Okta's header mode), others
/// refuse it. Both are changed through the admin API and the CLI, and audited.
#[tokio::test]
async fn a_tenant_reads_strictly_or_leniently_and_may_take_bare_tokens() {
    let h = with_two_platforms().await;
    let made = make_tenant(
        &h,
        "acme",
        json!({"backend": "coder-a", "dialect": "strict"}),
    )
    .await;
    assert_eq!(made["dialect"], "strict");
    assert_eq!(made["bareToken"], false);
    let (_, token) = make_token(&h, "acme", "entra").await;
    let base = tenant_url(&h, "acme");
    // The configuration says how the tenant reads requests, truthfully.
    let spc = h
        .call_as(
            &token,
            Method::GET,
            &format!("{base}/ServiceProviderConfig"),
            None,
            &[],
        )
        .await
        .expect(200);
    let doc = spc["documentationUri"].as_str().unwrap().to_owned();
    assert!(doc.ends_with("/docs/dialect/strict"), "{doc}");
    let text = h.http.get(&doc).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains("draft-zollner-scim-interop-profile"),
        "{text}"
    );
    create_user(&h, &base, &token, "ada").await.expect(201);
    let search = |filter: &'static str| {
        let url = format!("{base}/Users?{}", crate::support::filter_query(filter));
        let token = token.clone();
        let h = &h;
        async move { h.call_as(&token, Method::GET, &url, None, &[]).await }
    };
    let entra = [
        r#"emails[type eq "work"].value eq "ada@example.com""#,
        "userName eq ada",
    ];
    for filter in entra {
        search(filter)
            .await
            .expect_error(400, Some("invalidFilter"));
    }
    search("nickNames pr")
        .await
        .expect_error(400, Some("invalidFilter"));
    // Entra's own extension URN: refused in strict, ignored in lenient (below).
    let mut custom = user("bea", "bea@example.com");
    custom["urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"] =
        json!({"costCenter": "4130"});
    let post_custom = |body: Value| {
        let url = format!("{base}/Users");
        let token = token.clone();
        let h = &h;
        async move { h.call_as(&token, Method::POST, &url, Some(body), &[]).await }
    };
    post_custom(custom.clone())
        .await
        .expect_error(400, Some("invalidSyntax"));
    // A PATCH operation without a path (Okta's deactivation): refused in strict.
    let ada = search("userName eq \"ada\"").await.expect(200)["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    });
    h.call_as(
        &token,
        Method::PATCH,
        &format!("{base}/Users/{ada}"),
        Some(deactivate),
        &[],
    )
    .await
    .expect_error(400, Some("invalidPath"));
    let bare = |url: String, value: String| {
        let http = &h.http;
        async move {
            http.get(url)
                .header("authorization", value)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(bare(format!("{base}/Users"), token.clone()).await, 401);

    let t = Some(h.demo.admin_token.as_str());
    let (status, changed) = admin(
        &h,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"dialect": "lenient", "bareToken": true})),
        t,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["dialect"], "lenient");
    for filter in entra {
        let found = search(filter).await.expect(200);
        assert_eq!(found["totalResults"], 1, "{filter}: {found}");
        assert_eq!(found["Resources"][0]["userName"], "ada");
    }
    assert_eq!(search("nickNames pr").await.expect(200)["totalResults"], 0);
    post_custom(custom).await.expect(201);
    assert_eq!(bare(format!("{base}/Users"), token.clone()).await, 200);
    // A bare token is still only its own tenant's; the default tenant does not take them.
    assert_eq!(bare(h.url("/Users"), token.clone()).await, 401);
    assert_eq!(bare(h.url("/Users"), h.demo.token.clone()).await, 401);
    let (status, refused) = admin(
        &h,
        Method::PATCH,
        "/tenants/default",
        Some(json!({"bareToken": true})),
        t,
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let (_, endpoint) = admin(&h, Method::GET, "/tenants/acme/endpoint", None, t).await;
    assert_eq!(endpoint["okta"]["Authorization"], "<token>");

    let (status, log) = admin(
        &h,
        Method::GET,
        "/tenants/acme/audit?operation=tenant.update",
        None,
        t,
    )
    .await;
    assert_eq!(status, 200);
    let detail = log["entries"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("dialect strict -> lenient"), "{detail}");

    let (ok, shown) = admin_cli(
        &h,
        &[
            "tenants",
            "update",
            "acme",
            "--dialect",
            "strict",
            "--bearer-only",
        ],
    )
    .await;
    assert!(ok);
    assert_eq!(shown["dialect"], "strict");
    assert_eq!(shown["bareToken"], false);
    assert_eq!(bare(format!("{base}/Users"), token.clone()).await, 401);
    let (status, refused) = admin(
        &h,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"dialect": "loose"})),
        t,
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    h.demo.stop().await;
}

/// Every endpoint, every method, with another tenant's tokens (a managed token, an OAuth access
/// token): 401 each, in the form of the URL's protocol, and nothing of the other tenant changed.
#[tokio::test]
async fn every_endpoint_refuses_another_tenants_tokens() {
    let h = with_two_platforms().await;
    make_tenant(&h, "acme", json!({"backend": "coder-a"})).await;
    make_tenant(&h, "beta", json!({"backend": "coder-b"})).await;
    let (_, acme_token) = make_token(&h, "acme", "okta").await;
    let (_, beta_token) = make_token(&h, "beta", "okta").await;
    let (status, client) = admin(
        &h,
        Method::POST,
        "/tenants/acme/oauth/clients",
        Some(json!({"name": "entra"})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 201);
    let origin = h.url("").replace("/scim/v2", "");
    let issued: Value = h
        .http
        .post(format!("{origin}/oauth/acme/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client["clientId"].as_str().unwrap()),
            ("client_secret", client["clientSecret"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let acme_access = issued["access_token"].as_str().unwrap().to_owned();
    // The access token is no better at beta's token endpoint.
    let beta = tenant_url(&h, "beta");
    let beta_v1 = beta.replace("/scim/v2", "/scim/v1");
    let victim = create_user(&h, &beta, &beta_token, "beta-user")
        .await
        .expect(201);
    let id = victim["id"].as_str().unwrap();
    let user = crate::support::user("intruder", "intruder@example.com");
    let patch =
        crate::support::patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let endpoints: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("{beta}/Users"), None),
        (Method::POST, format!("{beta}/Users"), Some(user.clone())),
        (Method::GET, format!("{beta}/Users/{id}"), None),
        (
            Method::PUT,
            format!("{beta}/Users/{id}"),
            Some(user.clone()),
        ),
        (
            Method::PATCH,
            format!("{beta}/Users/{id}"),
            Some(patch.clone()),
        ),
        (Method::DELETE, format!("{beta}/Users/{id}"), None),
        (
            Method::POST,
            format!("{beta}/Users/.search"),
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
        ),
        (
            Method::POST,
            format!("{beta}/.search"),
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
        ),
        (Method::GET, format!("{beta}/Groups"), None),
        (
            Method::POST,
            format!("{beta}/Groups"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "x"}),
            ),
        ),
        (
            Method::POST,
            format!("{beta}/Bulk"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [{"method": "DELETE", "path": format!("/Users/{id}")}]}),
            ),
        ),
        (Method::GET, format!("{beta}/ServiceProviderConfig"), None),
        (Method::GET, format!("{beta}/ResourceTypes"), None),
        (Method::GET, format!("{beta}/Schemas"), None),
        (Method::GET, format!("{beta}/Me"), None),
        (Method::GET, format!("{beta_v1}/Users"), None),
        (Method::DELETE, format!("{beta_v1}/Users/{id}"), None),
        (
            Method::GET,
            format!("{beta_v1}/ServiceProviderConfigs"),
            None,
        ),
    ];
    for token in [acme_token.as_str(), acme_access.as_str()] {
        for (method, url, body) in &endpoints {
            let answer = h
                .call_as(token, method.clone(), url, body.clone(), &[])
                .await;
            assert_eq!(
                answer.status.as_u16(),
                401,
                "{method} {url}: {}",
                answer.body
            );
            if url.contains("/scim/v1") {
                assert_eq!(answer.body["Errors"][0]["code"], "401", "{url}");
            } else {
                assert_eq!(answer.body["status"], "401", "{url}");
            }
        }
    }
    // Beta's user is as it was.
    let read = h
        .call_as(
            &beta_token,
            Method::GET,
            &format!("{beta}/Users/{id}"),
            None,
            &[],
        )
        .await
        .expect(200);
    assert_eq!(read["active"], true);
    let listed = h
        .call_as(
            &beta_token,
            Method::GET,
            &format!("{beta}/Users"),
            None,
            &[],
        )
        .await
        .expect(200);
    let names: Vec<&str> = listed["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["userName"].as_str())
        .collect();
    assert!(
        names.contains(&"beta-user") && !names.contains(&"intruder"),
        "{names:?}"
    );
    h.demo.stop().await;
}
