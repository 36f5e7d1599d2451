//! The admin API (`/admin/v1`): identity links of a tenant, over HTTP.

use serde_json::{json, Value};

use crate::support::{admin_cli, filter_query, user, Harness};

pub(crate) async fn admin(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let base = h.url("").replace("/scim/v2", "");
    let mut request = h.http.request(method, format!("{base}/admin/v1{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body)
}

#[tokio::test]
async fn identity_links_can_be_listed_found_relinked_and_deleted() {
    use reqwest::Method;
    let h = Harness::start().await;
    let token = h.demo.admin_token.clone();
    let t = Some(token.as_str());

    // The OpenAPI document is public; everything else needs the admin token (not a SCIM one).
    let (status, doc) = admin(&h, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/admin/v1/tenants/{tenant}/links/{id}"]["patch"].is_object());
    for (path, method) in [
        ("/admin/v1/tenants", "post"),
        ("/admin/v1/tenants/{tenant}", "patch"),
        ("/admin/v1/tenants/{tenant}", "delete"),
        ("/admin/v1/tenants/{tenant}/endpoint", "get"),
        ("/admin/v1/tenants/{tenant}/tokens/{id}/regenerate", "post"),
        ("/admin/v1/tenants/{tenant}/audit", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{path} {method}");
    }
    // Every schema reference resolves.
    let text = doc.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    assert_eq!(
        admin(&h, Method::GET, "/tenants/default/links", None, None)
            .await
            .0,
        401
    );
    assert_eq!(
        admin(
            &h,
            Method::GET,
            "/tenants/default/links",
            None,
            Some(&h.demo.token)
        )
        .await
        .0,
        401
    );

    let mut ada = user("ada", "ada@example.com");
    ada["externalId"] = json!("okta-00u1");
    let ada = h.post("/Users", ada).await.expect(201);
    let ada_id = ada["id"].as_str().unwrap().to_owned();
    h.post("/Users", user("bob", "bob@example.com"))
        .await
        .expect(201);

    let (status, page) = admin(&h, Method::GET, "/tenants/default/links?count=1", None, t).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 2);
    assert_eq!(page["links"].as_array().unwrap().len(), 1);
    let (_, link) = admin(
        &h,
        Method::GET,
        &format!("/tenants/default/links/{ada_id}"),
        None,
        t,
    )
    .await;
    assert_eq!(link["resourceType"], "User");
    assert_eq!(link["externalId"], "okta-00u1");
    assert_eq!(link["platformKey"], h.coder_user("ada")["id"]);
    assert!(link["location"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/scim/v2/Users/{ada_id}")));
    let (_, found) = admin(
        &h,
        Method::GET,
        "/tenants/default/links?externalId=okta-00u1",
        None,
        t,
    )
    .await;
    assert_eq!(found["links"][0]["id"], ada_id.as_str());

    // Re-link: the identity now answers to another externalId, over SCIM too.
    let (status, relinked) = admin(
        &h,
        Method::PATCH,
        &format!("/tenants/default/links/{ada_id}"),
        Some(json!({"externalId": "entra-7f3c"})),
        t,
    )
    .await;
    assert_eq!(status, 200, "{relinked}");
    assert_eq!(relinked["externalId"], "entra-7f3c");
    assert_eq!(
        h.get(&format!("/Users/{ada_id}")).await.expect(200)["externalId"],
        "entra-7f3c"
    );
    let by_new = h
        .get(&format!(
            "/Users?{}",
            filter_query(r#"externalId eq "entra-7f3c""#)
        ))
        .await
        .expect(200);
    assert_eq!(by_new["Resources"][0]["id"], ada_id.as_str());
    // Another link's externalId is not taken over.
    let bob_id = h
        .get(&format!("/Users?{}", filter_query(r#"userName eq "bob""#)))
        .await
        .expect(200)["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, clash) = admin(
        &h,
        Method::PATCH,
        &format!("/tenants/default/links/{bob_id}"),
        Some(json!({"externalId": "entra-7f3c"})),
        t,
    )
    .await;
    assert_eq!(status, 409, "{clash}");
    assert_eq!(
        admin(
            &h,
            Method::PATCH,
            &format!("/tenants/default/links/{ada_id}"),
            Some(json!({"externalId": 5})),
            t
        )
        .await
        .0,
        400
    );

    // Delete the link: the SCIM id is gone, the Coder account stays and is found anew.
    let (status, _) = admin(
        &h,
        Method::DELETE,
        &format!("/tenants/default/links/{ada_id}"),
        None,
        t,
    )
    .await;
    assert_eq!(status, 204);
    h.get(&format!("/Users/{ada_id}"))
        .await
        .expect_error(404, None);
    assert_eq!(h.coder_user("ada")["deleted"], false);
    let again = h
        .get(&format!("/Users?{}", filter_query(r#"userName eq "ada""#)))
        .await
        .expect(200);
    assert_eq!(again["totalResults"], 1);
    assert_ne!(again["Resources"][0]["id"], ada_id.as_str());

    // Unknown things.
    assert_eq!(
        admin(
            &h,
            Method::GET,
            &format!("/tenants/default/links/{ada_id}"),
            None,
            t
        )
        .await
        .0,
        404
    );
    assert_eq!(
        admin(&h, Method::GET, "/tenants/acme/links", None, t)
            .await
            .0,
        404
    );
    assert_eq!(
        admin(&h, Method::GET, "/tenants/default/links?type=Role", None, t)
            .await
            .0,
        400
    );
    let (_, groups) = admin(
        &h,
        Method::GET,
        "/tenants/default/links?type=Group",
        None,
        t,
    )
    .await;
    assert_eq!(groups["total"], 0);
    assert_eq!(admin(&h, Method::GET, "/nothing", None, t).await.0, 404);
    h.demo.stop().await;
}

/// `scimgate links ...` calls the admin API of a running gateway.
#[tokio::test]
async fn links_cli_uses_the_admin_api() {
    let h = Harness::start().await;
    let mut kim = user("kim", "kim@example.com");
    kim["externalId"] = json!("ext-kim");
    let kim = h.post("/Users", kim).await.expect(201);
    let id = kim["id"].as_str().unwrap().to_owned();
    let base = h.url("").replace("/scim/v2", "");
    let token = h.demo.admin_token.clone();
    let run = move |args: Vec<String>| {
        let base = base.clone();
        let token = token.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"))
                .arg("links")
                .args(["--admin-url", &base])
                .env("SCIMGATE_ADMIN_TOKEN", &token)
                .args(&args)
                .output()
                .unwrap()
        })
    };
    let out = run(vec![
        "find".into(),
        "--external-id".into(),
        "ext-kim".into(),
    ])
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found["links"][0]["id"], id.as_str());
    let out = run(vec![
        "relink".into(),
        id.clone(),
        "--external-id".into(),
        "ext-kim-2".into(),
    ])
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        h.get(&format!("/Users/{id}")).await.expect(200)["externalId"],
        "ext-kim-2"
    );
    let out = run(vec!["get".into(), "no-such-id".into()]).await.unwrap();
    assert!(!out.status.success());
    h.demo.stop().await;
}

/// Every provisioning change and admin action lands in the audit log, with who, what, on which
/// resource and how it ended; the log is filtered and paged.
#[tokio::test]
async fn audit_log_records_provisioning_and_admin_actions() {
    use reqwest::Method;
    let h = Harness::start().await;
    let t = Some(h.demo.admin_token.as_str());
    let lee = h
        .post("/Users", user("lee", "lee@example.com"))
        .await
        .expect(201);
    let id = lee["id"].as_str().unwrap().to_owned();
    h.post("/Users", user("lee", "lee@example.com"))
        .await
        .expect_error(409, Some("uniqueness"));
    h.patch(
        &format!("/Users/{id}"),
        crate::support::patch_op(json!([{"op": "replace", "path": "title", "value": "Chief"}])),
    )
    .await
    .expect(200);
    admin(
        &h,
        Method::PATCH,
        &format!("/tenants/default/links/{id}"),
        Some(json!({"externalId": "x-1"})),
        t,
    )
    .await;
    h.delete(&format!("/Users/{id}")).await.expect(204);

    let (status, log) = admin(&h, Method::GET, "/tenants/default/audit", None, t).await;
    assert_eq!(status, 200, "{log}");
    let ops: Vec<(String, String, String)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Newest first.
    let expected = [
        ("delete", "token:demo", "success"),
        ("relink", "admin:demo-admin", "success"),
        ("patch", "token:demo", "success"),
        ("create", "token:demo", "failure"),
        ("create", "token:demo", "success"),
    ];
    assert_eq!(
        ops,
        expected
            .iter()
            .map(|(o, a, r)| (o.to_string(), a.to_string(), r.to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(log["total"], 5);
    let entry = &log["entries"][0];
    assert_eq!(entry["target"], id.as_str());
    assert_eq!(entry["resourceType"], "User");
    assert_eq!(entry["status"], 204);
    let failure = &log["entries"][3];
    assert_eq!(failure["status"], 409);
    assert_eq!(failure["target"], "lee");
    assert!(
        failure["detail"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{failure}"
    );

    let (_, failures) = admin(
        &h,
        Method::GET,
        "/tenants/default/audit?outcome=failure",
        None,
        t,
    )
    .await;
    assert_eq!(failures["total"], 1);
    let (_, admins) = admin(
        &h,
        Method::GET,
        "/tenants/default/audit?actor=admin:demo-admin",
        None,
        t,
    )
    .await;
    assert_eq!(admins["entries"][0]["operation"], "relink");
    let (_, page) = admin(
        &h,
        Method::GET,
        &format!("/tenants/default/audit?target={id}&startIndex=2&count=1"),
        None,
        t,
    )
    .await;
    assert_eq!(page["total"], 4);
    assert_eq!(page["entries"][0]["operation"], "relink");
    let (_, future) = admin(
        &h,
        Method::GET,
        "/tenants/default/audit?since=2999-01-01T00:00:00Z",
        None,
        t,
    )
    .await;
    assert_eq!(future["total"], 0);
    assert_eq!(
        admin(
            &h,
            Method::GET,
            "/tenants/default/audit?since=yesterday",
            None,
            t
        )
        .await
        .0,
        400
    );
    let (status, bad) = admin(&h, Method::GET, "/tenants/default/audit?count=ten", None, t).await;
    assert_eq!(status, 400, "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("count"));
    assert_eq!(
        admin(&h, Method::GET, "/tenants/default/audit", None, None)
            .await
            .0,
        401
    );
    h.demo.stop().await;
}

/// Managed tokens: created through the admin API (secret shown once), used for SCIM,
/// regenerated (old refused, new accepted), revoked (refused), each step in the audit log.
#[tokio::test]
async fn managed_tokens_are_created_rotated_and_revoked() {
    use reqwest::Method;
    let h = Harness::start().await;
    let t = Some(h.demo.admin_token.as_str());
    let scim = |token: String, name: &'static str| {
        let http = h.http.clone();
        let url = h.url("/Users");
        async move {
            http.post(url)
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .body(user(name, &format!("{name}@example.com")).to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    let (status, created) = admin(
        &h,
        Method::POST,
        "/tenants/default/tokens",
        Some(json!({"name": "okta-prod"})),
        t,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let first = created["token"].as_str().unwrap().to_owned();
    assert!(first.starts_with("sgt_"));
    assert_eq!(created["active"], true);
    assert_eq!(scim(first.clone(), "tok1").await, 201);

    // Listing and reading never show a secret (the gateway keeps only a hash).
    let (_, list) = admin(&h, Method::GET, "/tenants/default/tokens", None, t).await;
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
    assert!(list["tokens"][0].get("token").is_none());
    assert!(!list.to_string().contains(first.rsplit('_').next().unwrap()));
    let (_, read) = admin(
        &h,
        Method::GET,
        &format!("/tenants/default/tokens/{id}"),
        None,
        t,
    )
    .await;
    assert!(read["lastUsedAt"].is_string(), "{read}");

    // Regenerate: the old secret is dead at once, the new one works.
    let (status, rotated) = admin(
        &h,
        Method::POST,
        &format!("/tenants/default/tokens/{id}/regenerate"),
        None,
        t,
    )
    .await;
    assert_eq!(status, 200);
    let second = rotated["token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(scim(first.clone(), "tok2").await, 401);
    assert_eq!(scim(second.clone(), "tok3").await, 201);

    // Rename and expiry; an expired token is refused.
    let (_, renamed) = admin(
        &h,
        Method::PATCH,
        &format!("/tenants/default/tokens/{id}"),
        Some(json!({"name": "okta", "expiresAt": "2000-01-01T00:00:00Z"})),
        t,
    )
    .await;
    assert_eq!(renamed["name"], "okta");
    assert_eq!(renamed["active"], false);
    assert_eq!(scim(second.clone(), "tok4").await, 401);
    admin(
        &h,
        Method::PATCH,
        &format!("/tenants/default/tokens/{id}"),
        Some(json!({"expiresAt": null})),
        t,
    )
    .await;
    assert_eq!(scim(second.clone(), "tok5").await, 201);

    // Revoke: refused from then on, and it cannot be brought back by regenerating.
    let (_, revoked) = admin(
        &h,
        Method::POST,
        &format!("/tenants/default/tokens/{id}/revoke"),
        None,
        t,
    )
    .await;
    assert!(revoked["revokedAt"].is_string());
    assert_eq!(scim(second.clone(), "tok6").await, 401);
    assert_eq!(
        admin(
            &h,
            Method::POST,
            &format!("/tenants/default/tokens/{id}/regenerate"),
            None,
            t
        )
        .await
        .0,
        409
    );
    assert_eq!(
        admin(
            &h,
            Method::POST,
            "/tenants/default/tokens",
            Some(json!({})),
            t
        )
        .await
        .0,
        400
    );
    assert_eq!(
        admin(&h, Method::GET, "/tenants/default/tokens/nope", None, t)
            .await
            .0,
        404
    );

    // Every step is in the audit log, provisioning under the token's own actor name.
    let (_, log) = admin(&h, Method::GET, "/tenants/default/audit?count=50", None, t).await;
    let ops: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "token.create",
            "create",
            "token.regenerate",
            "create",
            "token.update",
            "token.update",
            "create",
            "token.revoke",
            // Refused (the token is revoked), and recorded as a failure.
            "token.regenerate",
        ]
    );
    assert_eq!(log["entries"][0]["outcome"], "failure");
    assert_eq!(log["entries"][0]["status"], 409);
    let creates: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "create")
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(
        creates
            .iter()
            .all(|a| *a == format!("token:{id}:okta-prod") || *a == format!("token:{id}:okta")),
        "{creates:?}"
    );
    h.demo.stop().await;
}

/// `scimgate tokens ...` and `scimgate audit ...` call the admin API of a running gateway.
#[tokio::test]
async fn tokens_and_audit_cli_use_the_admin_api() {
    let h = Harness::start().await;
    let run = |args: Vec<&'static str>| {
        let h = &h;
        async move {
            let (ok, out) = admin_cli(h, &args).await;
            assert!(ok, "{args:?}");
            Ok::<Value, ()>(out)
        }
    };
    let created = run(vec!["tokens", "create", "--name", "from-cli"])
        .await
        .unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let status = h
        .http
        .post(h.url("/Users"))
        .bearer_auth(&token)
        .json(&user("cli-made", "cli-made@example.com"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 201);
    let listed = run(vec!["tokens", "list"]).await.unwrap();
    assert_eq!(listed["tokens"][0]["name"], "from-cli");
    let log = run(vec!["audit", "--operation", "token.create"])
        .await
        .unwrap();
    assert_eq!(log["total"], 1);
    assert_eq!(log["entries"][0]["actor"], "admin:demo-admin");
    h.demo.stop().await;
}

/// With its own address, the admin API answers there and only there.
#[tokio::test]
async fn admin_api_on_its_own_address() {
    let h = Harness::with(scimgate::demo::DemoOptions {
        admin_listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        ..Default::default()
    })
    .await;
    let scim_base = h.url("").replace("/scim/v2", "");
    assert_ne!(h.demo.admin_url, scim_base);
    let admin_links = |base: &str| format!("{base}/admin/v1/tenants/default/links");
    let on_admin = h
        .http
        .get(admin_links(&h.demo.admin_url))
        .bearer_auth(&h.demo.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(on_admin.status().as_u16(), 200);
    let on_scim = h
        .http
        .get(admin_links(&scim_base))
        .bearer_auth(&h.demo.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(on_scim.status().as_u16(), 404);
    let scim_on_admin = h
        .http
        .get(format!("{}/scim/v2/Users", h.demo.admin_url))
        .bearer_auth(&h.demo.token)
        .send()
        .await
        .unwrap();
    assert_eq!(scim_on_admin.status().as_u16(), 404);
    h.get("/Users").await.expect(200);
    h.demo.stop().await;
}
