//! OAuth 2.0 for IdPs that will not hold a long-lived bearer token (Entra ID's app gallery):
//! each tenant is an authorization server issuing short-lived access tokens to its clients
//! by the client credentials grant (RFC 6749 §4.4), clients proving themselves with a secret
//! (§2.3.1, HTTP Basic or the body) or a signed JWT (RFC 7523 §2.2, `private_key_jwt`), and
//! describing itself by authorization server metadata (RFC 8414).
//!
//! This file reads a token request and writes the answers, apart from any I/O;
//! [`assertion`] checks a JWT against a JWK Set, [`jwks`] fetches and caches JWK Sets, and
//! [`issuer`] puts them together with the store.
//!
//! Departures, each deliberate: `scope` is accepted and ignored (an access token opens the
//! tenant's whole SCIM API, and Entra sends scopes of its own); no refresh tokens (a client
//! asks again, as §4.4.3 recommends).

pub mod assertion;
pub mod issuer;
pub mod jwks;

use base64::Engine;
use serde_json::{json, Value};

pub use issuer::Issuer;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The only grant served.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// How long an access token lives when its client says nothing else.
pub const DEFAULT_ACCESS_TOKEN_MINUTES: u32 = 60;

/// The bounds of a client's access token lifetime, in minutes.
pub const ACCESS_TOKEN_MINUTES: std::ops::RangeInclusive<u32> = 5..=1440;

/// A token request's client authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret`, by HTTP Basic or in the body.
    Secret {
        /// The client id.
        client_id: String,
        /// The secret as presented.
        secret: String,
    },
    /// A signed JWT (RFC 7523 §2.2), with the `client_id` when the body names it.
    Assertion {
        /// The `client_id` parameter, if sent.
        client_id: Option<String>,
        /// The compact JWT.
        jwt: String,
    },
}

/// An error code of RFC 6749 §5.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A parameter missing, repeated or malformed.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong or expired secret, bad JWT).
    InvalidClient,
    /// The client may not use this grant (its tenant is disabled).
    UnauthorizedClient,
    /// A grant other than client credentials.
    UnsupportedGrantType,
    /// The gateway failed (its store, say); the client may try again.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The code as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The HTTP status it is answered with: 401 for a client that did not authenticate
    /// (§5.2 allows it for every method, and IdPs read it as "the credentials are wrong"), 503
    /// for the gateway's own failure, 400 otherwise.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient => 401,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// A refused token request: the code and a description for the admin reading the IdP's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// What went wrong, in RFC 6749's terms.
    pub code: ErrorCode,
    /// Why, in words (never a secret).
    pub description: String,
}

impl OAuthError {
    /// An error of `code`.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: description.into(),
        }
    }

    /// The body of RFC 6749 §5.2.
    pub fn body(&self) -> Value {
        json!({"error": self.code.as_str(), "error_description": self.description})
    }
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

/// Reads a token request: its form parameters (decoded) and its `Authorization` header.
///
/// RFC 6749 §3.1: a parameter without a value is as if omitted; §3.2: a parameter sent twice
/// is refused; §2.3: a client uses one authentication method only; §4.4.2: the grant is
/// `client_credentials`.
pub fn parse_token_request(
    form: &[(String, String)],
    authorization: Option<&str>,
) -> Result<ClientAuth, OAuthError> {
    let form: Vec<&(String, String)> = form.iter().filter(|(_, v)| !v.is_empty()).collect();
    let mut seen = std::collections::HashSet::new();
    if let Some((name, _)) = form.iter().find(|(name, _)| !seen.insert(name.as_str())) {
        return Err(invalid_request(format!("`{name}` is sent more than once")));
    }
    let param = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    match param("grant_type") {
        None => return Err(invalid_request("grant_type is missing")),
        Some(CLIENT_CREDENTIALS) => {}
        Some(other) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type `{other}` is not served; use client_credentials"),
            ))
        }
    }
    let basic = match authorization {
        Some(header) => Some(basic_credentials(header)?),
        None => None,
    };
    let assertion = match (param("client_assertion_type"), param("client_assertion")) {
        (None, None) => None,
        (Some(JWT_ASSERTION_TYPE), Some(jwt)) => Some(jwt.to_owned()),
        (Some(JWT_ASSERTION_TYPE), None) => {
            return Err(invalid_request("client_assertion is missing"))
        }
        (None, Some(_)) => return Err(invalid_request("client_assertion_type is missing")),
        (Some(other), _) => {
            return Err(invalid_request(format!(
                "client_assertion_type `{other}` is not served; use {JWT_ASSERTION_TYPE}"
            )))
        }
    };
    let body_id = param("client_id").map(str::to_owned);
    let body_secret = param("client_secret");
    let methods = usize::from(basic.is_some())
        + usize::from(body_secret.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(invalid_request(
            "the client authenticates more than one way; use one of HTTP Basic, client_secret, client_assertion",
        ));
    }
    if let Some((client_id, secret)) = basic {
        if body_id.as_ref().is_some_and(|id| *id != client_id) {
            return Err(invalid_request(
                "client_id in the body is not the one of HTTP Basic",
            ));
        }
        return Ok(ClientAuth::Secret { client_id, secret });
    }
    if let Some(jwt) = assertion {
        return Ok(ClientAuth::Assertion {
            client_id: body_id,
            jwt,
        });
    }
    match (body_id, body_secret) {
        (Some(client_id), Some(secret)) => Ok(ClientAuth::Secret {
            client_id,
            secret: secret.to_owned(),
        }),
        (None, Some(_)) => Err(invalid_request("client_id is missing")),
        _ => Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "client authentication required: HTTP Basic, client_secret, or client_assertion",
        )),
    }
}

/// The client id and secret of `Authorization: Basic ...` (RFC 6749 §2.3.1: each
/// form-urlencoded before the two are joined).
fn basic_credentials(header: &str) -> Result<(String, String), OAuthError> {
    let refused = || {
        OAuthError::new(
            ErrorCode::InvalidClient,
            "the Authorization header is not HTTP Basic credentials",
        )
    };
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(refused)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| refused())?;
    let decoded = String::from_utf8(decoded).map_err(|_| refused())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(refused)?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok((unescape(id), unescape(secret)))
}

/// Where a tenant's authorization server is, as the IdP reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The issuer identifier (RFC 8414 §2): `<origin>/oauth/<tenant>`.
    pub issuer: String,
    /// `<issuer>/token`.
    pub token_endpoint: String,
}

impl Endpoints {
    /// The endpoints of `tenant` at `origin` (`https://host`).
    pub fn new(origin: &str, tenant: &str) -> Self {
        let issuer = format!("{origin}/oauth/{tenant}");
        Endpoints {
            token_endpoint: format!("{issuer}/token"),
            issuer,
        }
    }
}

/// The authorization server metadata (RFC 8414 §2) of a tenant.
pub fn metadata(endpoints: &Endpoints) -> Value {
    json!({
        "issuer": endpoints.issuer,
        "token_endpoint": endpoints.token_endpoint,
        "grant_types_supported": [CLIENT_CREDENTIALS],
        // No authorization endpoint: no response type is served.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"
        ],
        "token_endpoint_auth_signing_alg_values_supported": assertion::ALGORITHM_NAMES,
    })
}

/// The successful answer (RFC 6749 §5.1).
pub fn token_answer(access_token: &str, expires_in_seconds: u64) -> Value {
    json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn basic(id: &str, secret: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    }

    #[test]
    fn client_credentials_by_basic_or_body() {
        // RFC 6749 §4.4.2's example: Basic credentials, grant in the body.
        let grant = form(&[("grant_type", "client_credentials")]);
        assert_eq!(
            parse_token_request(&grant, Some(&basic("s6BhdRkqt3", "gX1fBat3bV"))),
            Ok(ClientAuth::Secret {
                client_id: "s6BhdRkqt3".into(),
                secret: "gX1fBat3bV".into()
            })
        );
        // Basic's parts are form-urlencoded (§2.3.1): a `:` in a secret comes as %3A.
        assert_eq!(
            parse_token_request(&grant, Some(&basic("a%20b", "x%3Ay"))),
            Ok(ClientAuth::Secret {
                client_id: "a b".into(),
                secret: "x:y".into()
            })
        );
        // §3.1: an empty parameter is as if omitted (not a second authentication method).
        let with_empty = form(&[("grant_type", "client_credentials"), ("client_secret", "")]);
        assert_eq!(
            parse_token_request(&with_empty, Some(&basic("c1", "s1"))),
            Ok(ClientAuth::Secret {
                client_id: "c1".into(),
                secret: "s1".into()
            })
        );
        // Entra's form: everything in the body, with a scope that is ignored.
        let body = form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "c1"),
            ("client_secret", "s1"),
            ("scope", "https://example/.default"),
        ]);
        assert_eq!(
            parse_token_request(&body, None),
            Ok(ClientAuth::Secret {
                client_id: "c1".into(),
                secret: "s1".into()
            })
        );
    }

    #[test]
    fn a_jwt_assertion() {
        let body = form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_ASSERTION_TYPE),
            ("client_assertion", "a.b.c"),
        ]);
        assert_eq!(
            parse_token_request(&body, None),
            Ok(ClientAuth::Assertion {
                client_id: None,
                jwt: "a.b.c".into()
            })
        );
    }

    #[test]
    fn refusals_name_the_rfc_error() {
        let code = |pairs: &[(&str, &str)], auth: Option<&str>| {
            parse_token_request(&form(pairs), auth).unwrap_err().code
        };
        let secret = [("client_id", "c1"), ("client_secret", "s1")];
        assert_eq!(code(&secret, None), ErrorCode::InvalidRequest);
        let with = |grant: &'static str| {
            let mut pairs = vec![("grant_type", grant)];
            pairs.extend(secret);
            pairs
        };
        assert_eq!(
            code(&with("authorization_code"), None),
            ErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            code(&with("password"), None),
            ErrorCode::UnsupportedGrantType
        );
        // Two ways at once, a parameter twice, Basic that is not Basic, no client at all.
        assert_eq!(
            code(&with(CLIENT_CREDENTIALS), Some(&basic("c1", "s1"))),
            ErrorCode::InvalidRequest
        );
        let mut twice = with(CLIENT_CREDENTIALS);
        twice.push(("client_id", "c1"));
        assert_eq!(code(&twice, None), ErrorCode::InvalidRequest);
        let grant = [("grant_type", CLIENT_CREDENTIALS)];
        assert_eq!(code(&grant, Some("Bearer x")), ErrorCode::InvalidClient);
        assert_eq!(code(&grant, Some("Basic !!!")), ErrorCode::InvalidClient);
        assert_eq!(code(&grant, None), ErrorCode::InvalidClient);
        assert_eq!(
            code(
                &[("grant_type", CLIENT_CREDENTIALS), ("client_secret", "s")],
                None
            ),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(
                &[
                    ("grant_type", CLIENT_CREDENTIALS),
                    ("client_assertion_type", "urn:other"),
                    ("client_assertion", "a.b.c")
                ],
                None
            ),
            ErrorCode::InvalidRequest
        );
        assert_eq!(ErrorCode::InvalidClient.status(), 401);
        assert_eq!(ErrorCode::UnsupportedGrantType.status(), 400);
    }

    #[test]
    fn metadata_names_the_issuer_and_token_endpoint() {
        let endpoints = Endpoints::new("https://gw.example", "acme");
        let doc = metadata(&endpoints);
        assert_eq!(doc["issuer"], "https://gw.example/oauth/acme");
        assert_eq!(doc["token_endpoint"], "https://gw.example/oauth/acme/token");
        assert_eq!(doc["grant_types_supported"], json!(["client_credentials"]));
        assert!(doc["token_endpoint_auth_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| !a.as_str().unwrap().starts_with("HS")));
    }
}
