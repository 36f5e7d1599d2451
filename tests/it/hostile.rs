//! Hostile input, table-driven: each request is refused with a 4xx (a SCIM error body where the
//! gateway answers; hyper's own 431 for an oversized head), and the server answers normally
//! afterwards. What a request must not do is as important as the status: no account made.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{patch_op, Harness};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// One hostile request: what it is, where it goes, its body and content type, and the status
/// and `scimType` it must get.
struct Case {
    what: &'static str,
    method: Method,
    path: String,
    body: Vec<u8>,
    content_type: &'static str,
    status: u16,
    scim_type: Option<&'static str>,
}

fn case(
    what: &'static str,
    method: Method,
    path: &str,
    body: Value,
    status: u16,
    scim_type: Option<&'static str>,
) -> Case {
    Case {
        what,
        method,
        path: path.to_owned(),
        body: body.to_string().into_bytes(),
        content_type: "application/scim+json",
        status,
        scim_type,
    }
}

fn raw(
    what: &'static str,
    method: Method,
    path: &str,
    body: &[u8],
    content_type: &'static str,
    status: u16,
    scim_type: Option<&'static str>,
) -> Case {
    Case {
        what,
        method,
        path: path.to_owned(),
        body: body.to_vec(),
        content_type,
        status,
        scim_type,
    }
}

fn user_with(name: &str, member: &str, value: Value) -> Value {
    let mut u = json!({"schemas": [USER], "userName": name,
                       "emails": [{"value": format!("{name}@example.com"), "primary": true}]});
    u[member] = value;
    u
}

#[tokio::test]
async fn hostile_requests_get_4xx_scim_errors_and_the_server_lives_on() {
    let h = Harness::start().await;
    let victim = h
        .post(
            "/Users",
            crate::support::user("victim", "victim@example.com"),
        )
        .await
        .expect(201);
    let victim_path = format!("/Users/{}", victim["id"].as_str().unwrap());
    let group = h
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "hostile-target"}),
        )
        .await
        .expect(201);
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let invalid_value = Some("invalidValue");
    let invalid_syntax = Some("invalidSyntax");
    let mut cases = vec![
        // Multi-valued attributes sent as one object or a plain string (RFC 7643 §2.4).
        case("phoneNumbers as an object", Method::POST, "/Users", user_with("h1", "phoneNumbers", json!({"value": "555"})), 400, invalid_value),
        case("ims as a string", Method::POST, "/Users", user_with("h2", "ims", json!("me@im")), 400, invalid_value),
        case("photos as an object", Method::POST, "/Users", user_with("h3", "photos", json!({"value": "https://x/p.png"})), 400, invalid_value),
        case("entitlements as a string", Method::POST, "/Users", user_with("h4", "entitlements", json!("admin")), 400, invalid_value),
        case("roles as an object", Method::POST, "/Users", user_with("h5", "roles", json!({"value": "admin"})), 400, invalid_value),
        case("x509Certificates as a string", Method::POST, "/Users", user_with("h6", "x509Certificates", json!("MIIB")), 400, invalid_value),
        case("emails as an object in PUT", Method::PUT, &victim_path, user_with("victim", "emails", json!({"value": "v@example.com"})), 400, invalid_value),
        case("emails as an object in PATCH replace", Method::PATCH, &victim_path, patch_op(json!([{"op": "replace", "path": "emails", "value": {"value": "v@example.com"}}])), 400, invalid_value),
        case("emails as a string in a path-less PATCH", Method::PATCH, &victim_path, patch_op(json!([{"op": "replace", "value": {"emails": "v@example.com"}}])), 400, invalid_value),
        case("a group's members as an object", Method::PUT, &group_path, json!({"schemas": [GROUP], "displayName": "hostile-target", "members": {"value": victim["id"]}}), 400, invalid_value),
        // Wrong types.
        case("userName as a number", Method::POST, "/Users", json!({"schemas": [USER], "userName": 42}), 400, invalid_value),
        case("active as a word", Method::POST, "/Users", user_with("h7", "active", json!("maybe")), 400, invalid_value),
        case("name as a string", Method::POST, "/Users", user_with("h8", "name", json!("Ada")), 400, invalid_value),
        case("a body that is an array", Method::POST, "/Users", json!([1, 2]), 400, None),
        case("an unknown attribute", Method::POST, "/Users", user_with("h9", "favouriteColour", json!("red")), 400, invalid_syntax),
        // JSON itself.
        raw("malformed JSON", Method::POST, "/Users", br#"{"userName": "#, "application/scim+json", 400, invalid_syntax),
        raw("deeply nested JSON", Method::POST, "/Users", "[".repeat(50_000).as_bytes(), "application/scim+json", 400, invalid_syntax),
        raw("a number out of range", Method::POST, "/Users", br#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "n", "x": 1e400}"#, "application/scim+json", 400, invalid_syntax),
        raw("invalid UTF-8", Method::POST, "/Users", b"{\"userName\": \"\xff\xfe\"}", "application/scim+json", 400, invalid_syntax),
        raw("a duplicate name", Method::POST, "/Users", br#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "dup1", "userName": "dup2"}"#, "application/scim+json", 400, invalid_syntax),
        raw("a duplicate name in another case", Method::POST, "/Users", br#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "dup3", "USERNAME": "dup4"}"#, "application/scim+json", 400, invalid_syntax),
        raw("a body too large", Method::POST, "/Users", &vec![b' '; 2 * 1024 * 1024], "application/scim+json", 413, None),
        // Content types.
        raw("text/plain", Method::POST, "/Users", br#"{"userName": "t"}"#, "text/plain", 415, None),
        raw("XML", Method::POST, "/Users", b"<User/>", "application/xml", 415, None),
        // Ids that try to leave their place.
        case("traversal in an id", Method::GET, "/Users/..%2F..%2Fetc%2Fpasswd", Value::Null, 404, None),
        case("a dot-dot id", Method::DELETE, "/Users/%2e%2e", Value::Null, 404, None),
        case("a very long id", Method::GET, &format!("/Users/{}", "a".repeat(4000)), Value::Null, 404, None),
        // Filters.
        case("a filter too long", Method::GET, &format!("/Users?filter=userName%20eq%20%22{}%22", "a".repeat(9000)), Value::Null, 400, Some("invalidFilter")),
        case("a filter nested too deep", Method::GET, &format!("/Users?filter={}userName%20pr{}", "(".repeat(100), ")".repeat(100)), Value::Null, 400, Some("invalidFilter")),
        case("a filter cut short", Method::GET, "/Users?filter=userName%20eq", Value::Null, 400, Some("invalidFilter")),
        case("a filter with an unknown operator", Method::GET, "/Users?filter=userName%20like%20%22a%22", Value::Null, 400, Some("invalidFilter")),
        // PATCH.
        case("too many operations", Method::PATCH, &victim_path, patch_op(Value::Array((0..1001).map(|i| json!({"op": "replace", "path": "title", "value": format!("t{i}")})).collect())), 400, None),
        case("an unknown op", Method::PATCH, &victim_path, patch_op(json!([{"op": "explode", "path": "title"}])), 400, None),
        case("a path that does not parse", Method::PATCH, &victim_path, patch_op(json!([{"op": "replace", "path": "emails[[[", "value": "x"}])), 400, Some("invalidPath")),
        case("a PATCH without Operations", Method::PATCH, &victim_path, json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}), 400, None),
        case("a readOnly id", Method::PATCH, &victim_path, patch_op(json!([{"op": "replace", "path": "id", "value": "mine"}])), 400, Some("mutability")),
        // Bulk.
        case("too many bulk operations", Method::POST, "/Bulk", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": (0..1001).map(|i| json!({"method": "DELETE", "path": format!("/Users/x{i}")})).collect::<Vec<_>>()}), 413, None),
        case("a bulk request that is not one", Method::POST, "/Bulk", json!({"Operations": "all of them"}), 400, None),
    ];
    for c in cases.drain(..) {
        let url = h.url(&c.path);
        let mut request = h
            .http
            .request(c.method.clone(), &url)
            .bearer_auth(&h.demo.token);
        if !c.body.is_empty() && c.body != b"null" {
            request = request
                .header("content-type", c.content_type)
                .body(c.body.clone());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", c.what));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, c.status, "{}: {body}", c.what);
        assert_eq!(content_type, "application/scim+json", "{}", c.what);
        assert_eq!(
            body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            c.what
        );
        if let Some(scim_type) = c.scim_type {
            assert_eq!(body["scimType"], scim_type, "{}: {body}", c.what);
        }
    }
    // A bulk operation without a method fails alone, inside the BulkResponse (RFC 7644 §3.7.3).
    let bulk = h
        .post(
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                   "Operations": [{"path": "/Users"}]}),
        )
        .await
        .expect(200);
    assert_eq!(bulk["Operations"][0]["status"], "400", "{bulk}");
    // Heads too large: 431 in SCIM form (the layer), or hyper's own 431 for far too many
    // headers, before any handler runs.
    let huge = "x".repeat(33 * 1024);
    let answer = h
        .call_with(
            reqwest::Method::GET,
            "/Users",
            None,
            &[("x-padding", huge.as_str())],
        )
        .await;
    assert_eq!(
        answer.status.as_u16(),
        431,
        "a 33 KB header: {}",
        answer.body
    );
    assert_eq!(answer.body["status"], "431");
    let mut many = h.http.get(h.url("/Users")).bearer_auth(&h.demo.token);
    for i in 0..150 {
        many = many.header(format!("x-h{i}"), "v");
    }
    assert_eq!(
        many.send().await.unwrap().status().as_u16(),
        431,
        "150 headers"
    );

    // Nothing was made, the victim is as it was, and the server answers on.
    let users = h.get("/Users?count=200").await.expect(200);
    let names: Vec<&str> = users["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["userName"].as_str())
        .collect();
    for name in [
        "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "dup1", "dup2", "dup3", "dup4", "n",
    ] {
        assert!(!names.contains(&name), "{name} was made: {names:?}");
    }
    let victim_now = h.get(&victim_path).await.expect(200);
    assert_eq!(victim_now["emails"], victim["emails"]);
    let group_now = h.get(&group_path).await.expect(200);
    assert!(
        group_now
            .get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{group_now}"
    );
    h.get("/ServiceProviderConfig").await.expect(200);
    h.demo.stop().await;
}
