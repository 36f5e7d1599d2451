//! Discovery endpoints (RFC 7644 §4) and the protocol's edges: authentication, unknown URLs,
//! wrong methods, unsupported features.

use reqwest::Method;
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn discovery_tells_the_truth() {
    let h = Harness::start().await;
    let spc = h.get("/ServiceProviderConfig").await.expect(200);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["bulk"]["maxOperations"], 1000);
    assert_eq!(spc["bulk"]["maxPayloadSize"], 1048576);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 200);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    // How the tenant reads requests: the gateway's page for its dialect.
    let doc = spc["documentationUri"].as_str().unwrap();
    assert_eq!(doc, h.url("").replace("/scim/v2", "/docs/dialect/lenient"));
    let text = h.http.get(doc).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("Microsoft Entra ID"), "{text}");

    let types = h.get("/ResourceTypes").await.expect(200);
    assert_eq!(types["totalResults"], 2);
    let user_type = &types["Resources"][0];
    assert_eq!(user_type["id"], "User");
    assert_eq!(user_type["endpoint"], "/Users");
    assert_eq!(
        user_type["schema"],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
    assert_eq!(
        h.get("/ResourceTypes/User").await.expect(200)["name"],
        "User"
    );
    assert_eq!(
        h.get("/ResourceTypes/Group").await.expect(200)["endpoint"],
        "/Groups"
    );
    h.get("/ResourceTypes/Role").await.expect_error(404, None);

    let schemas = h.get("/Schemas").await.expect(200);
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group"
        ]
    );
    let core = h
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await
        .expect(200);
    let user_name = core["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .expect("userName attribute");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["uniqueness"], "server");

    // Discovery endpoints answer a filter with 403 (RFC 7644 §4).
    h.get("/Schemas?filter=id%20eq%20%22x%22")
        .await
        .expect_error(403, None);
    h.demo.stop().await;
}

#[tokio::test]
async fn authentication_is_required() {
    let h = Harness::start().await;
    for token in [None, Some("wrong-token-wrong-token")] {
        let mut request = h.http.get(h.url("/Users"));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401);
        assert!(response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer")));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "401");
    }
    h.demo.stop().await;
}

#[tokio::test]
async fn unknown_urls_methods_and_features() {
    let h = Harness::start().await;
    h.get("/Nope").await.expect_error(404, None);
    h.get("/Users/abc/def").await.expect_error(404, None);
    let wrong = h.call(Method::DELETE, "/Users", None).await;
    assert!(wrong.headers.get("allow").is_some());
    wrong.expect_error(405, None);
    h.call(Method::POST, "/ServiceProviderConfig", Some(json!({})))
        .await
        .expect_error(405, None);
    h.call(Method::PUT, "/Schemas", Some(json!({})))
        .await
        .expect_error(405, None);
    h.call(Method::GET, "/.search", None)
        .await
        .expect_error(405, None);
    h.post("/Bulk", json!({}))
        .await
        .expect_error(400, Some("invalidSyntax"));
    h.get("/Bulk").await.expect_error(405, None);
    h.get("/Me").await.expect_error(501, None);
    // Outside the base path entirely.
    let outside = h
        .http
        .get(h.url("/Users").replace("/scim/v2", "/other"))
        .bearer_auth(&h.demo.token)
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status().as_u16(), 404);
    h.demo.stop().await;
}

#[tokio::test]
async fn build_info_and_health_are_public() {
    let h = Harness::start().await;
    let base = h.url("").replace("/scim/v2", "");
    let info = h.http.get(format!("{base}/info")).send().await.unwrap();
    assert_eq!(info.status().as_u16(), 200);
    let info: serde_json::Value = info.json().await.unwrap();
    assert_eq!(info["name"], "scimgate");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert!(info["commit"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(info["scim"]["version"], "2.0");
    let health = h.http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 204);
    h.demo.stop().await;
}
