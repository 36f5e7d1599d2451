//! `/Bulk` (RFC 7644 §3.7): operations run in order, `bulkId` references resolved across them,
//! `failOnErrors`, per-operation statuses and locations, and the advertised limits enforced.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{filter_query, patch_op, user, Harness};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const MAX_OPERATIONS: usize = 1000;
const MAX_PAYLOAD_SIZE: usize = 1024 * 1024;

fn bulk(operations: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": operations})
}

/// Posts a BulkRequest and returns its `Operations`, checking the BulkResponse envelope.
async fn run(h: &Harness, request: Value) -> Vec<Value> {
    let body = h.post("/Bulk", request).await.expect(200);
    assert_eq!(body["schemas"], json!([BULK_RESPONSE]));
    body["Operations"]
        .as_array()
        .expect("Operations array")
        .clone()
}

/// The path below the SCIM base URL of an absolute `location`.
fn path_of(h: &Harness, location: &Value) -> String {
    let location = location.as_str().expect("location");
    location
        .strip_prefix(&h.demo.scim_url)
        .unwrap_or_else(|| panic!("{location} is not under {}", h.demo.scim_url))
        .to_owned()
}

/// Asserts a failed operation's entry: its status and a SCIM error body as `response`.
#[track_caller]
fn assert_failed(entry: &Value, status: u16, scim_type: Option<&str>) {
    assert_eq!(entry["status"], status.to_string(), "{entry}");
    assert_eq!(entry["response"]["schemas"], json!([ERROR]), "{entry}");
    assert_eq!(entry["response"]["status"], status.to_string(), "{entry}");
    assert_eq!(entry["response"]["scimType"].as_str(), scim_type, "{entry}");
    assert!(entry["response"]["detail"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn bulk_creates_a_user_and_adds_it_to_a_new_group() {
    let h = Harness::start().await;
    // RFC 7644 §3.7.2's example: a user, then a group whose member is that user by bulkId.
    let ops = run(
        &h,
        bulk(json!([
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "qwerty",
                "data": user("alice", "alice@example.com"),
            },
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "ytrewq",
                "data": {
                    "schemas": [GROUP],
                    "displayName": "Tour Guides",
                    "members": [{"type": "User", "value": "bulkId:qwerty"}],
                },
            },
        ])),
    )
    .await;
    assert_eq!(ops.len(), 2);
    let (alice, guides) = (&ops[0], &ops[1]);
    assert_eq!(alice["method"], "POST");
    assert_eq!(alice["bulkId"], "qwerty");
    assert_eq!(alice["status"], "201", "{alice}");
    assert!(alice["version"]
        .as_str()
        .is_some_and(|v| v.starts_with("W/")));
    assert!(alice.get("response").is_none());
    assert_eq!(guides["bulkId"], "ytrewq");
    assert_eq!(guides["status"], "201", "{guides}");

    let user_path = path_of(&h, &alice["location"]);
    let user = h.get(&user_path).await.expect(200);
    assert_eq!(user["userName"], "alice");
    assert_eq!(user["meta"]["version"], alice["version"]);
    let group = h.get(&path_of(&h, &guides["location"])).await.expect(200);
    assert_eq!(group["displayName"], "Tour Guides");
    let members = group["members"].as_array().expect("members");
    assert_eq!(members.len(), 1, "{group}");
    assert_eq!(members[0]["value"], user["id"]);
    assert!(members[0]["value"]
        .as_str()
        .is_some_and(|v| !v.starts_with("bulkId:")));

    // A later request's bulkIds are its own: `qwerty` means nothing there.
    let ops = run(
        &h,
        bulk(json!([{
            "method": "PATCH",
            "path": "/Groups/bulkId:qwerty",
            "data": patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "x"}]}])),
        }])),
    )
    .await;
    assert_failed(&ops[0], 409, Some("invalidValue"));
    h.demo.stop().await;
}

#[tokio::test]
async fn fail_on_errors_stops_after_that_many_failures() {
    let h = Harness::start().await;
    let bad_user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]});
    let ops = run(
        &h,
        json!({
            "schemas": [BULK_REQUEST],
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": bad_user},
                {"method": "POST", "path": "/Users", "bulkId": "b",
                 "data": user("bob", "bob@example.com")},
            ],
        }),
    )
    .await;
    // The first failure ends the run: the second operation is neither run nor answered.
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(ops[0]["method"], "POST");
    assert_eq!(ops[0]["bulkId"], "a");
    assert!(ops[0].get("location").is_none());
    assert_failed(&ops[0], 400, Some("invalidValue"));
    let found = h
        .get(&format!("/Users?{}", filter_query("userName eq \"bob\"")))
        .await
        .expect(200);
    assert_eq!(found["totalResults"], 0);

    // Without failOnErrors every operation runs; references to a failed POST, to a later
    // operation or to no operation fail with 409 invalidValue (RFC 7644 §3.7.3).
    let ops = run(
        &h,
        bulk(json!([
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": bad_user},
            {"method": "POST", "path": "/Groups", "bulkId": "g",
             "data": {"schemas": [GROUP], "displayName": "Team A",
                      "members": [{"value": "bulkId:a"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:c",
             "data": patch_op(json!([{"op": "replace", "path": "title", "value": "Early"}]))},
            {"method": "POST", "path": "/Users", "bulkId": "c",
             "data": user("carol", "carol@example.com")},
            {"method": "DELETE", "path": "/Users/bulkId:nowhere"},
            {"method": "POST", "path": "/Users", "data": user("dave", "dave@example.com")},
            {"method": "GET", "path": "/Users"},
        ])),
    )
    .await;
    assert_eq!(ops.len(), 7, "{ops:?}");
    assert_failed(&ops[0], 400, Some("invalidValue"));
    assert_failed(&ops[1], 409, Some("invalidValue"));
    assert!(ops[1]["response"]["detail"]
        .as_str()
        .unwrap()
        .contains("`a`"));
    assert_failed(&ops[2], 409, Some("invalidValue"));
    assert_eq!(ops[2]["method"], "PATCH");
    assert_eq!(ops[3]["status"], "201", "{}", ops[3]);
    assert_failed(&ops[4], 409, Some("invalidValue"));
    // A POST needs a bulkId; GET is not a bulk method.
    assert_failed(&ops[5], 400, Some("invalidSyntax"));
    assert_failed(&ops[6], 400, Some("invalidValue"));
    assert_eq!(ops[6]["method"], "GET");
    let found = h
        .get(&format!(
            "/Groups?{}",
            filter_query("displayName eq \"Team A\"")
        ))
        .await
        .expect(200);
    assert_eq!(found["totalResults"], 0);
    h.demo.stop().await;
}

#[tokio::test]
async fn bulk_patch_put_and_delete_by_path() {
    let h = Harness::start().await;
    let created = h.post("/Users", user("erin", "erin@example.com")).await;
    let erin = created.expect(201);
    let id = erin["id"].as_str().unwrap().to_owned();
    let version = erin["meta"]["version"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let title = |t: &str| patch_op(json!([{"op": "replace", "path": "title", "value": t}]));

    let ops = run(
        &h,
        bulk(json!([
            // Methods in any case; `version` is the operation's If-Match.
            {"method": "patch", "path": path, "version": version, "data": title("Boss")},
            {"method": "PATCH", "path": path, "version": version, "data": title("Stale")},
            {"method": "Put", "path": path, "data": erin.clone()},
        ])),
    )
    .await;
    assert_eq!(ops.len(), 3);
    let patched = &ops[0];
    assert_eq!(patched["method"], "PATCH");
    assert_eq!(patched["status"], "200", "{patched}");
    assert!(patched["location"]
        .as_str()
        .is_some_and(|l| l.ends_with(&path)));
    assert_ne!(patched["version"], json!(version));
    let boss_version = patched["version"].as_str().unwrap().to_owned();
    // The second PATCH still names the first version: refused, with its location.
    assert_failed(&ops[1], 412, None);
    assert!(ops[1]["location"]
        .as_str()
        .is_some_and(|l| l.ends_with(&path)));
    // PUT of the original representation drops the title again.
    assert_eq!(ops[2]["method"], "PUT");
    assert_eq!(ops[2]["status"], "200", "{}", ops[2]);
    let now = h.get(&path).await.expect(200);
    assert!(now.get("title").is_none(), "{now}");
    assert_eq!(now["meta"]["version"], ops[2]["version"]);
    assert_eq!(
        ops[2]["version"],
        json!(version),
        "same content, same version"
    );

    let ops = run(
        &h,
        bulk(json!([
            // The version with the title is stale again (the PUT restored the original
            // content, and with it the original version).
            {"method": "DELETE", "path": path, "version": boss_version},
            {"method": "DELETE", "path": path},
            {"method": "DELETE", "path": path},
        ])),
    )
    .await;
    assert_failed(&ops[0], 412, None);
    assert_eq!(ops[1]["method"], "DELETE");
    assert_eq!(ops[1]["status"], "204", "{}", ops[1]);
    assert!(ops[1]["location"]
        .as_str()
        .is_some_and(|l| l.ends_with(&path)));
    assert!(ops[1].get("response").is_none());
    assert_failed(&ops[2], 404, None);
    h.get(&path).await.expect_error(404, None);
    h.demo.stop().await;
}

#[tokio::test]
async fn bulk_requests_are_checked_and_limited() {
    let h = Harness::start().await;
    let delete = json!({"method": "DELETE", "path": "/Users/nobody"});

    // The BulkRequest schema is required.
    h.post("/Bulk", json!({"Operations": [delete]}))
        .await
        .expect_error(400, Some("invalidSyntax"));
    h.post(
        "/Bulk",
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}),
    )
    .await
    .expect_error(400, Some("invalidSyntax"));
    h.post("/Bulk", json!({"schemas": [BULK_REQUEST]}))
        .await
        .expect_error(400, Some("invalidSyntax"));
    // bulkIds are unique within a request.
    let post = json!({"method": "POST", "path": "/Users", "bulkId": "x",
                      "data": user("frank", "frank@example.com")});
    h.post("/Bulk", bulk(json!([post, post])))
        .await
        .expect_error(400, Some("invalidValue"));

    // RFC 7644 §3.7.4: too many operations or too large a body is 413 naming the limit, and
    // nothing runs.
    let too_many = vec![delete.clone(); MAX_OPERATIONS + 1];
    let error = h
        .post("/Bulk", bulk(json!(too_many)))
        .await
        .expect_error(413, None);
    assert!(error["detail"].as_str().unwrap().contains("maxOperations"));
    assert!(error["detail"].as_str().unwrap().contains("1000"));
    let padding = "x".repeat(MAX_PAYLOAD_SIZE);
    let error = h
        .post(
            "/Bulk",
            json!({"schemas": [BULK_REQUEST], "Operations": [], "padding": padding}),
        )
        .await
        .expect_error(413, None);
    assert!(error["detail"].as_str().unwrap().contains("maxPayloadSize"));
    assert!(error["detail"].as_str().unwrap().contains("1048576"));

    // Exactly maxOperations is accepted.
    let ops = run(&h, bulk(json!(vec![delete; MAX_OPERATIONS]))).await;
    assert_eq!(ops.len(), MAX_OPERATIONS);
    assert_failed(&ops[0], 404, None);

    let empty = run(&h, bulk(json!([]))).await;
    assert!(empty.is_empty());
    h.call(Method::GET, "/Bulk", None)
        .await
        .expect_error(405, None);
    h.demo.stop().await;
}

#[tokio::test]
async fn discovery_advertises_bulk_with_its_limits() {
    let h = Harness::start().await;
    let spc = h.get("/ServiceProviderConfig").await.expect(200);
    assert_eq!(
        spc["bulk"],
        json!({
            "supported": true,
            "maxOperations": MAX_OPERATIONS,
            "maxPayloadSize": MAX_PAYLOAD_SIZE,
        })
    );
    h.demo.stop().await;
}
