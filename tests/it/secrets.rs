//! No secret in any log line: the gateway's logs at debug level, captured through a whole
//! lifecycle that uses every kind of secret (a config token, the admin token, a managed token,
//! an OAuth client secret and the access token it got, the platform credential), hold none of
//! them; failures with wrong secrets log none either.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::json;

use crate::admin::admin;
use crate::support::{patch_op, Harness};

/// Everything the gateway logs, kept.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let captured = Captured::default();
    // nextest runs each test in a process of its own: this subscriber sees every thread.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .try_init()
        .expect("the only subscriber of this test process");
    let h = Harness::start().await;
    let t = Some(h.demo.admin_token.as_str());
    // A managed token, and an OAuth client's secret and access token.
    let (_, token) = admin(
        &h,
        Method::POST,
        "/tenants/default/tokens",
        Some(json!({"name": "okta"})),
        t,
    )
    .await;
    let managed = token["token"].as_str().unwrap().to_owned();
    let (_, client) = admin(
        &h,
        Method::POST,
        "/tenants/default/oauth/clients",
        Some(json!({"name": "entra"})),
        t,
    )
    .await;
    let client_id = client["clientId"].as_str().unwrap().to_owned();
    let client_secret = client["clientSecret"].as_str().unwrap().to_owned();
    let origin = h.url("").replace("/scim/v2", "");
    let issued: serde_json::Value = h
        .http
        .post(format!("{origin}/oauth/default/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = issued["access_token"].as_str().unwrap().to_owned();
    // A lifecycle with each: create, read, filter, patch, delete.
    let users = h.url("/Users");
    for (i, bearer) in [h.demo.token.clone(), managed.clone(), access.clone()]
        .iter()
        .enumerate()
    {
        let name = format!("secret{i}");
        let made = h
            .call_as(
                bearer,
                Method::POST,
                &users,
                Some(crate::support::user(&name, &format!("{name}@example.com"))),
                &[],
            )
            .await
            .expect(201);
        let url = format!("{users}/{}", made["id"].as_str().unwrap());
        h.call_as(bearer, Method::GET, &url, None, &[])
            .await
            .expect(200);
        let query = crate::support::filter_query(&format!("userName eq \"{name}\""));
        h.call_as(bearer, Method::GET, &format!("{users}?{query}"), None, &[])
            .await
            .expect(200);
        let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
        h.call_as(bearer, Method::PATCH, &url, Some(off), &[])
            .await
            .expect(200);
        h.call_as(bearer, Method::DELETE, &url, None, &[])
            .await
            .expect(204);
    }
    // Wrong secrets, near the right ones, are refused and not logged either.
    let near_misses = [
        format!("{}x", h.demo.token),
        format!("{managed}x"),
        format!("{access}x"),
    ];
    for wrong in &near_misses {
        h.call_as(wrong, Method::GET, &users, None, &[])
            .await
            .expect_error(401, None);
    }
    let wrong_secret = format!("{client_secret}x");
    let refused = h
        .http
        .post(format!("{origin}/oauth/default/token"))
        .basic_auth(&client_id, Some(&wrong_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let wrong_admin = format!("{}x", h.demo.admin_token);
    let (status, _) = admin(&h, Method::GET, "/tenants", None, Some(&wrong_admin)).await;
    assert_eq!(status, 401);
    let (config_token, admin_token, platform_credential) = (
        h.demo.token.clone(),
        h.demo.admin_token.clone(),
        h.demo.emulator_token.clone(),
    );
    h.demo.stop().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("platform call"), "debug logs were captured");
    let secret_part = |token: &str| token.rsplit('_').next().unwrap_or(token).to_owned();
    let mut secrets = vec![
        ("the config token", config_token),
        ("the admin token", admin_token),
        ("the platform credential", platform_credential),
        ("a managed token's secret", secret_part(&managed)),
        ("an OAuth client secret", secret_part(&client_secret)),
        ("an OAuth access token's secret", secret_part(&access)),
    ];
    secrets.extend(
        near_misses
            .iter()
            .map(|w| ("a wrong token", w.clone()))
            .chain([
                ("a wrong client secret", secret_part(&wrong_secret)),
                ("a wrong admin token", wrong_admin),
            ]),
    );
    for (what, secret) in secrets {
        assert!(secret.len() >= 16, "{what} is long enough to search for");
        assert!(!logs.contains(&secret), "{what} is in the logs");
    }
}
