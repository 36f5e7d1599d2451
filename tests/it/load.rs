//! Inbound limits: a token, and a tenant, beyond their request rates get 429 with
//! `Retry-After` and a SCIM error, before any platform call; other tokens and tenants are not
//! slowed, and the token is let in again once the wait is over.

use std::num::NonZeroU32;
use std::time::Duration;

use reqwest::Method;
use scimgate::config::RateLimits;
use scimgate::demo::DemoOptions;

use crate::support::Harness;

#[tokio::test]
async fn a_token_over_its_rate_is_answered_429_and_others_are_not_slowed() {
    let h = Harness::with(DemoOptions {
        rate_limits: RateLimits {
            per_tenant: NonZeroU32::new(1000),
            per_token: NonZeroU32::new(5),
        },
        ..Default::default()
    })
    .await;
    let (status, made) = crate::admin::admin(
        &h,
        Method::POST,
        "/tenants/default/tokens",
        Some(serde_json::json!({"name": "second"})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 201);
    let second = made["token"].as_str().unwrap().to_owned();
    let calls_before = h.demo.emulator.request_count();
    // A burst of twice the rate goes through; the next is refused.
    let mut refused = None;
    for i in 0..15 {
        let answer = h.call(Method::GET, "/ServiceProviderConfig", None).await;
        if answer.status.as_u16() == 429 {
            refused = Some((i, answer));
            break;
        }
        assert_eq!(answer.status.as_u16(), 200);
    }
    let (at, answer) = refused.expect("the rate is enforced");
    assert!(at >= 9, "a burst of 10 is allowed, refused at {at}");
    let wait: u64 = answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    let body = answer.expect_error(429, None);
    assert!(body["detail"].as_str().unwrap().contains("slow down"));
    // Refused before anything reached the platform.
    h.call(Method::GET, "/Users", None)
        .await
        .expect_error(429, None);
    assert_eq!(h.demo.emulator.request_count(), calls_before);
    // Another token of the tenant is not slowed.
    h.call_as(&second, Method::GET, &h.url("/Users"), None, &[])
        .await
        .expect(200);
    // Once the wait is over, the first token is let in again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    h.call(Method::GET, "/ServiceProviderConfig", None)
        .await
        .expect(200);
    h.demo.stop().await;
}
