//! OAuth 2.0 for IdPs (Entra ID's app gallery accepts no long-lived bearer token): a tenant's
//! token endpoint issues short-lived access tokens to clients that prove themselves with one
//! of several secrets (RFC 6749 §4.4) or a JWT signed by a key of their JWK Set (RFC 7523).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::admin::admin;
use crate::support::{admin_cli, Harness};
use crate::tenants::{create_user, make_tenant, tenant_url, with_two_platforms};

/// `http://127.0.0.1:<port>`: where the demo listens.
fn origin(h: &Harness) -> String {
    h.url("").replace("/scim/v2", "")
}

/// Makes an OAuth client of `tenant`; answers its admin API body.
async fn make_client(h: &Harness, tenant: &str, body: Value) -> Value {
    let (status, made) = admin(
        h,
        Method::POST,
        &format!("/tenants/{tenant}/oauth/clients"),
        Some(body),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    made
}

/// A token request with form parameters (and HTTP Basic credentials, when given): status,
/// headers, body.
async fn token_request(
    h: &Harness,
    tenant: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = h
        .http
        .post(format!("{}/oauth/{tenant}/token", origin(h)))
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

/// Entra's form: the client's id and secret in the body.
async fn by_secret(h: &Harness, tenant: &str, id: &str, secret: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ];
    let (status, _, body) = token_request(h, tenant, &form, None).await;
    (status, body)
}

/// The "done when": an IdP obtains a token from its tenant's token endpoint and
/// provisions with it; an expired or revoked secret is refused; revoking the client ends its
/// access tokens at once.
#[tokio::test]
async fn an_idp_gets_a_token_by_client_credentials_and_provisions_with_it() {
    let h = with_two_platforms().await;
    make_tenant(&h, "acme", json!({"backend": "coder-a"})).await;
    let acme = tenant_url(&h, "acme");
    let t = Some(h.demo.admin_token.as_str());

    // RFC 8414: the tenant's metadata names its issuer and token endpoint.
    let metadata: Value = h
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server/oauth/acme",
            origin(&h)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token_endpoint = format!("{}/oauth/acme/token", origin(&h));
    assert_eq!(metadata["issuer"], format!("{}/oauth/acme", origin(&h)));
    assert_eq!(metadata["token_endpoint"], token_endpoint);
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["client_credentials"])
    );

    let client = make_client(&h, "acme", json!({"name": "entra"})).await;
    let id = client["clientId"].as_str().unwrap().to_owned();
    let first = client["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(client["tokenEndpoint"], token_endpoint);
    assert_eq!(client["accessTokenMinutes"], 60);
    assert_eq!(client["secrets"].as_array().unwrap().len(), 1);
    assert!(client["secrets"][0]["expiresAt"].is_string(), "{client}");
    assert!(!client["secrets"][0].to_string().contains(&first));

    // The token, with no caching, and what it opens: this tenant's SCIM API only.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", first.as_str()),
        ("scope", "scim"),
    ];
    let (status, headers, issued) = token_request(&h, "acme", &form, None).await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["expires_in"], 3600);
    assert_eq!(headers["cache-control"], "no-store");
    let access = issued["access_token"].as_str().unwrap().to_owned();
    create_user(&h, &acme, &access, "ada").await.expect(201);
    let other = tenant_url(&h, "default");
    h.call_as(&access, Method::GET, &format!("{other}/Users"), None, &[])
        .await
        .expect_error(401, None);
    // A client secret is no bearer token, in its own form or passed off as one.
    create_user(&h, &acme, &first, "bea")
        .await
        .expect_error(401, None);
    let disguised = first.replacen("sgc_", "sgt_", 1);
    create_user(&h, &acme, &disguised, "bea")
        .await
        .expect_error(401, None);
    // HTTP Basic (RFC 6749 §2.3.1) works as well.
    let grant = [("grant_type", "client_credentials")];
    let (status, _, _) = token_request(&h, "acme", &grant, Some((&id, &first))).await;
    assert_eq!(status, 200);

    // Refusals in RFC 6749 §5.2's terms.
    let (status, headers, refused) =
        token_request(&h, "acme", &grant, Some((&id, "sgc_x_y"))).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(headers.contains_key("www-authenticate"));
    let (status, refused) = by_secret(&h, "nosuch", &id, &first).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, _, refused) = token_request(
        &h,
        "acme",
        &[
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", &first),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let json_body = h
        .http
        .post(&token_endpoint)
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 400);
    let wrong_method = h.http.get(&token_endpoint).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);

    // Several secrets live at once; one revoked is refused, the other still works.
    let (status, added) = admin(
        &h,
        Method::POST,
        &format!("/tenants/acme/oauth/clients/{id}/secrets"),
        Some(json!({})),
        t,
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let second = added["clientSecret"].as_str().unwrap().to_owned();
    let first_id = added["secrets"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(by_secret(&h, "acme", &id, &second).await.0, 200);
    let (status, _) = admin(
        &h,
        Method::POST,
        &format!("/tenants/acme/oauth/clients/{id}/secrets/{first_id}/revoke"),
        None,
        t,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(by_secret(&h, "acme", &id, &first).await.0, 401);
    assert_eq!(by_secret(&h, "acme", &id, &second).await.0, 200);

    // An expired secret is refused.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, short) = admin(
        &h,
        Method::POST,
        &format!("/tenants/acme/oauth/clients/{id}/secrets"),
        Some(json!({"expiresAt": soon})),
        t,
    )
    .await;
    assert_eq!(status, 201, "{short}");
    let short = short["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(by_secret(&h, "acme", &id, &short).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, refused) = by_secret(&h, "acme", &id, &short).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // A disabled tenant's clients get no token.
    admin(
        &h,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"enabled": false})),
        t,
    )
    .await;
    let (status, refused) = by_secret(&h, "acme", &id, &second).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    admin(
        &h,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"enabled": true})),
        t,
    )
    .await;

    // Revoking the client ends its secrets and its access tokens at once.
    let (status, revoked) = admin(
        &h,
        Method::POST,
        &format!("/tenants/acme/oauth/clients/{id}/revoke"),
        None,
        t,
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["active"], false);
    assert_eq!(revoked["liveAccessTokens"], 0);
    create_user(&h, &acme, &access, "cid")
        .await
        .expect_error(401, None);
    assert_eq!(by_secret(&h, "acme", &id, &second).await.0, 401);

    // The audit log tells who got tokens and what the admins did.
    let (_, log) = admin(&h, Method::GET, "/tenants/acme/audit", None, t).await;
    let operations: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    for operation in [
        "oauth_client.create",
        "oauth.token",
        "oauth_client.secret.create",
        "oauth_client.secret.revoke",
        "oauth_client.revoke",
    ] {
        assert!(
            operations.contains(&operation),
            "{operation}: {operations:?}"
        );
    }
    // The tenant's endpoint information names the token endpoint for Entra.
    let (_, endpoint) = admin(&h, Method::GET, "/tenants/acme/endpoint", None, t).await;
    assert_eq!(
        endpoint["entra"]["OAuth 2.0 client credentials grant"]["Token Endpoint"],
        token_endpoint
    );
    h.demo.stop().await;
}

/// Admin mistakes are refused with the reason, and the CLI makes and lists clients.
#[tokio::test]
async fn oauth_clients_are_managed_through_the_admin_api_and_cli() {
    let h = Harness::start().await;
    let t = Some(h.demo.admin_token.as_str());
    for (body, expected) in [
        (
            json!({"name": "x", "accessTokenMinutes": 2}),
            "accessTokenMinutes",
        ),
        (json!({"name": "x", "secret": false}), "secret or a JWK Set"),
        (
            json!({"name": "x", "jwt": {"jwksUrl": "http://idp.example/keys", "audience": "x"}}),
            "https",
        ),
        (
            json!({"name": "x", "secretExpiresAt": "2001-01-01T00:00:00Z"}),
            "past",
        ),
        (json!({"name": "x", "colour": "red"}), "unknown field"),
    ] {
        let (status, refused) = admin(
            &h,
            Method::POST,
            "/tenants/default/oauth/clients",
            Some(body),
            t,
        )
        .await;
        assert_eq!(status, 400, "{refused}");
        assert!(
            refused["error"].as_str().unwrap().contains(expected),
            "{refused}"
        );
    }
    let (ok, made) = admin_cli(
        &h,
        &[
            "oauth-clients",
            "create",
            "--name",
            "okta",
            "--access-token-minutes",
            "15",
        ],
    )
    .await;
    assert!(ok, "{made}");
    assert_eq!(made["accessTokenMinutes"], 15);
    let id = made["clientId"].as_str().unwrap().to_owned();
    let secret = made["clientSecret"].as_str().unwrap().to_owned();
    let (status, issued) = by_secret(&h, "default", &id, &secret).await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["expires_in"], 900);
    let (ok, listed) = admin_cli(&h, &["oauth-clients", "list"]).await;
    assert!(ok);
    assert_eq!(listed["clients"][0]["clientId"], id.as_str());
    assert_eq!(listed["clients"][0]["liveAccessTokens"], 1);
    assert!(listed["clients"][0]["secrets"][0]["lastUsedAt"].is_string());
    let (ok, _) = admin_cli(&h, &["oauth-clients", "revoke", &id]).await;
    assert!(ok);
    let (ok, _) = admin_cli(&h, &["oauth-clients", "add-secret", &id]).await;
    assert!(!ok, "a revoked client gets no new secret");
    // Client secrets are not listed among the tenant's bearer tokens.
    let (_, tokens) = admin(&h, Method::GET, "/tenants/default/tokens", None, t).await;
    assert_eq!(tokens["tokens"], json!([]));
    h.demo.stop().await;
}

/// A JWK Set served on this machine; answers its URL and how often it was fetched.
async fn serve_jwks(jwks: Value) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/keys", listener.local_addr().unwrap());
    let fetches = Arc::new(AtomicUsize::new(0));
    let counted = fetches.clone();
    let body = jwks.to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, fetches)
}

/// An Ed25519 key: the signing key and its public JWK.
fn ed25519_key(kid: &str) -> (jsonwebtoken::EncodingKey, Value) {
    use ring::signature::KeyPair;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key());
    (
        jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref()),
        json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig"}),
    )
}

/// A token request with a JWT client assertion (RFC 7523 §2.2).
async fn by_assertion(h: &Harness, jwt: String) -> (u16, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", jwt.as_str()),
    ];
    let (status, _, body) = token_request(h, "default", &form, None).await;
    (status, body)
}

fn sign(key: &jsonwebtoken::EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// The "done when": a JWT client assertion (RFC 7523) signed by a key of a local
/// JWK Set is accepted; a replayed one, one of another key, or for another audience is not.
#[tokio::test]
async fn a_jwt_assertion_signed_by_a_key_of_the_jwks_is_accepted() {
    let h = Harness::start().await;
    let (key, jwk) = ed25519_key("k1");
    let (stranger, _) = ed25519_key("k1");
    let (jwks_url, fetches) = serve_jwks(json!({"keys": [jwk]})).await;
    let token_endpoint = format!("{}/oauth/default/token", origin(&h));
    // Without server.public_url the gateway cannot know its own URL: the audience is given.
    let (status, refused) = admin(
        &h,
        Method::POST,
        "/tenants/default/oauth/clients",
        Some(json!({"name": "x", "secret": false, "jwt": {"jwksUrl": jwks_url}})),
        Some(&h.demo.admin_token),
    )
    .await;
    assert_eq!(status, 400);
    assert!(refused["error"].as_str().unwrap().contains("jwt.audience"));
    let client = make_client(
        &h,
        "default",
        json!({"name": "entra-federated", "secret": false,
               "jwt": {"jwksUrl": jwks_url, "audience": token_endpoint}}),
    )
    .await;
    assert!(client.get("clientSecret").is_none(), "{client}");
    let id = client["clientId"].as_str().unwrap().to_owned();
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |jti: &str, aud: &str| json!({"iss": id, "sub": id, "aud": aud, "exp": now + 300, "iat": now, "jti": jti});
    let good = sign(&key, "k1", &claims("a1", &token_endpoint));
    let (status, issued) = by_assertion(&h, good.clone()).await;
    assert_eq!(status, 200, "{issued}");
    let access = issued["access_token"].as_str().unwrap();
    h.call_as(access, Method::GET, &h.url("/Users"), None, &[])
        .await
        .expect(200);
    // Another assertion: the set was fetched once and kept.
    assert_eq!(
        by_assertion(&h, sign(&key, "k1", &claims("a2", &token_endpoint)))
            .await
            .0,
        200
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // The audience is the one configured: the issuer's URL is not it.
    let issuer = format!("{}/oauth/default", origin(&h));
    assert_eq!(
        by_assertion(&h, sign(&key, "k1", &claims("a6", &issuer)))
            .await
            .0,
        401
    );
    // A replay, another key, another audience, an unknown key id: refused.
    let (status, refused) = by_assertion(&h, good).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(refused["error_description"]
        .as_str()
        .unwrap()
        .contains("jti"));
    let (status, refused) =
        by_assertion(&h, sign(&stranger, "k1", &claims("a3", &token_endpoint))).await;
    assert_eq!(status, 401);
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{refused}"
    );
    let (status, refused) = by_assertion(
        &h,
        sign(&key, "k1", &claims("a4", "https://elsewhere/token")),
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("aud"),
        "{refused}"
    );
    // An unknown key id does not fetch the set again within the minute.
    let (status, _) = by_assertion(&h, sign(&key, "k9", &claims("a5", &token_endpoint))).await;
    assert_eq!(status, 401);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // A client without a JWK Set is not proved by a JWT, however signed.
    let plain = make_client(&h, "default", json!({"name": "plain"})).await;
    let plain_id = plain["clientId"].as_str().unwrap();
    let jwt = sign(
        &key,
        "k1",
        &json!({"iss": plain_id, "sub": plain_id, "aud": token_endpoint, "exp": now + 300}),
    );
    let (status, refused) = by_assertion(&h, jwt).await;
    assert_eq!(status, 401);
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("JWK Set"),
        "{refused}"
    );
    h.demo.stop().await;
}
