//! The request pipeline's order of refusals, over HTTP: who is refused before anything is read
//! (401 before 415 before 413), which form errors take, and what a write records when its body
//! does not parse.

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::admin::admin;
use crate::support::{patch_op, user, Harness};

/// Sends a request head that declares a 50 MB body (and sends none); answers the status.
async fn status_of_huge(h: &Harness, method: &str, path: &str, headers: &[&str]) -> u16 {
    let address = h.url("").replace("http://", "").replace("/scim/v2", "");
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 50000000\r\n");
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("an answer before the body")
        .unwrap();
    let line = String::from_utf8_lossy(&answer[..n]).to_string();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn refusals_come_in_order_and_reveal_nothing_to_strangers() {
    let h = Harness::start().await;
    let bearer = format!("Authorization: Bearer {}", h.demo.token);
    let json = "Content-Type: application/scim+json";
    // No token: 401, whatever the body; the limits are not told to strangers.
    assert_eq!(
        status_of_huge(&h, "POST", "/scim/v2/Users", &[json]).await,
        401
    );
    assert_eq!(
        status_of_huge(&h, "POST", "/scim/v2/Bulk", &[json]).await,
        401
    );
    assert_eq!(
        status_of_huge(&h, "POST", "/admin/v1/tenants", &[json]).await,
        401
    );
    // A caller with a token: the media type first, then the size.
    let text = "Content-Type: text/plain";
    assert_eq!(
        status_of_huge(&h, "POST", "/scim/v2/Users", &[&bearer, text]).await,
        415
    );
    assert_eq!(
        status_of_huge(&h, "POST", "/scim/v2/Users", &[&bearer, json]).await,
        413
    );
    assert_eq!(
        status_of_huge(&h, "POST", "/scim/v2/Bulk", &[&bearer, json]).await,
        413
    );
    // Requests that read no body are not refused for one.
    assert_eq!(
        status_of_huge(&h, "PUT", "/scim/v2/Users", &[&bearer, json]).await,
        405
    );
    assert_eq!(status_of_huge(&h, "GET", "/healthz", &[]).await, 204);
}

#[tokio::test]
async fn projections_never_stop_a_read_or_a_delete_and_never_half_do_a_write() {
    let h = Harness::start().await;
    // An unknown id stays a 404 whatever the projection.
    h.get("/Users/nobody?attributes=a..b")
        .await
        .expect_error(404, None);
    let made = h
        .post("/Users", user("pia", "pia@example.com"))
        .await
        .expect(201);
    let id = made["id"].as_str().unwrap().to_owned();
    h.get(&format!("/Users/{id}?attributes=a..b"))
        .await
        .expect_error(400, Some("invalidPath"));
    // A write whose answer would be an error is not made.
    h.post("/Users?attributes=a..b", user("quinn", "quinn@example.com"))
        .await
        .expect_error(400, Some("invalidPath"));
    let listed = h
        .get("/Users?filter=userName%20eq%20%22quinn%22")
        .await
        .expect(200);
    assert_eq!(listed["totalResults"], 0);
    // A delete answers no resource: its projection does not matter.
    h.delete(&format!("/Users/{id}?attributes=a..b"))
        .await
        .expect(204);
}

#[tokio::test]
async fn a_write_whose_body_does_not_parse_is_audited_as_refused() {
    let h = Harness::start().await;
    let made = h
        .post("/Users", user("ray", "ray@example.com"))
        .await
        .expect(201);
    let id = made["id"].as_str().unwrap().to_owned();
    h.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "teleport"}])),
    )
    .await
    .expect_error(400, Some("invalidSyntax"));
    let t = Some(h.demo.admin_token.as_str());
    let (status, log) = admin(
        &h,
        Method::GET,
        &format!("/tenants/default/audit?operation=patch&target={id}"),
        None,
        t,
    )
    .await;
    assert_eq!(status, 200, "{log}");
    let entry = &log["entries"][0];
    assert_eq!(
        (entry["outcome"].as_str(), entry["status"].as_u64()),
        (Some("failure"), Some(400)),
        "{log}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_public_with_or_without_a_trailing_slash() {
    let h = Harness::start().await;
    for path in ["/openapi.json", "/openapi.json/"] {
        let (status, document) = admin(&h, Method::GET, path, None, None).await;
        assert_eq!((status, document["openapi"].as_str()), (200, Some("3.0.3")));
    }
}
