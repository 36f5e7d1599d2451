//! The mapping language's promises over HTTP: what a mapping cannot carry out is an error the
//! IdP sees, never a 200 for a change that did not happen.

use serde_json::json;

use crate::support::{patch_op, user, Harness};

#[tokio::test]
async fn a_change_no_call_sends_is_an_error_not_a_200() {
    // The profile call runs only for username changes, although it could send the name too.
    let mapping = scimgate::demo::CODER_MAPPING.replacen(
        "when = \"changed.username or changed.name\"",
        "when = \"changed.username\"",
        1,
    );
    assert_ne!(mapping, scimgate::demo::CODER_MAPPING);
    let h = Harness::with(scimgate::demo::DemoOptions {
        mapping: Some(mapping),
        ..Default::default()
    })
    .await;
    let made = h
        .post("/Users", user("ursula", "ursula@example.com"))
        .await
        .expect(201);
    let id = made["id"].as_str().unwrap();
    let body = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ursula K."}])),
        )
        .await
        .expect_error(500, None);
    assert!(body["detail"].as_str().unwrap().contains("name"), "{body}");
    // The platform's name did not change, and the gateway does not claim it did.
    assert_ne!(h.coder_user("ursula")["name"], "Ursula K.");
    let read = h.get(&format!("/Users/{id}")).await.expect(200);
    assert_ne!(read["displayName"], "Ursula K.");
    // A change the call does carry still works.
    h.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "replace", "path": "userName", "value": "ursula2@example.com"}])),
    )
    .await
    .expect(200);
}
