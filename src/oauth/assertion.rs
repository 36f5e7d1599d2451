//! JWT client assertions (RFC 7523 §3), apart from fetching keys: which key and algorithm a
//! JWT names, and whether it is signed by that key with the claims the client asks for.
//!
//! Only asymmetric algorithms are accepted (a JWK Set is public: an HMAC "key" from it would
//! let anyone sign), never `none`; `exp`, `iss`, `sub` and `aud` are required (§3 items 1–4),
//! `nbf` is honoured, one minute of clock skew is allowed, a `jti` is required (so that an
//! assertion is good once, item 7), and an assertion that claims to live longer than a day is
//! refused (§3 item 4 allows it; such a JWT is a credential, not an
//! assertion).

use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, Validation};

/// The algorithms accepted.
pub const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Their names, for the server metadata.
pub const ALGORITHM_NAMES: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The longest an assertion may claim to live, in seconds.
const LONGEST_LIFE: u64 = 24 * 60 * 60;

/// What a client's assertions must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The `iss`.
    pub issuer: &'a str,
    /// The `sub`.
    pub subject: &'a str,
    /// Any one of these as (one of) the `aud`.
    pub audiences: &'a [String],
    /// Now, in seconds since the epoch.
    pub now: u64,
}

/// The claims kept from a verified assertion.
#[derive(Debug, Clone)]
pub struct Claims {
    /// Its id, for refusing a replay.
    pub jti: String,
    /// When it expires (seconds since the epoch).
    pub exp: u64,
}

/// The algorithm and key id (`kid`) of a JWT's header; an algorithm not accepted is refused.
pub fn header(jwt: &str) -> Result<(Algorithm, Option<String>), String> {
    let header = jsonwebtoken::decode_header(jwt)
        .map_err(|e| format!("the client assertion is not a JWT: {e}"))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(format!(
            "the client assertion is signed with {:?}; accepted: {}",
            header.alg,
            ALGORITHM_NAMES.join(", ")
        ));
    }
    Ok((header.alg, header.kid))
}

/// The `sub` a JWT claims, read without checking anything: only to find which client it
/// says it is, whose keys then check it.
pub fn claimed_subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// The key of `set` a JWT with `kid` and `alg` is to be checked with: the one of that id,
/// or without an id the only key that fits the algorithm. A key meant for encryption only,
/// or for another algorithm, does not fit.
pub fn select_key<'a>(set: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let fits = |jwk: &&Jwk| {
        let for_signing = !matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        );
        let same_alg = jwk
            .common
            .key_algorithm
            .is_none_or(|a| format!("{a:?}") == format!("{alg:?}"));
        for_signing && same_alg
    };
    match kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .find(fits),
        None => {
            let mut fitting = set.keys.iter().filter(fits);
            match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    }
}

/// Checks a JWT's signature by `key` and its claims against `expected`.
pub fn verify(
    jwt: &str,
    key: &Jwk,
    alg: Algorithm,
    expected: &Expected<'_>,
) -> Result<Claims, String> {
    let decoding = jsonwebtoken::DecodingKey::from_jwk(key)
        .map_err(|e| format!("the signing key cannot be read: {e}"))?;
    let mut validation = Validation::new(alg);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.set_issuer(&[expected.issuer]);
    validation.sub = Some(expected.subject.to_owned());
    validation.set_audience(expected.audiences);
    validation.validate_nbf = true;
    validation.leeway = 60;
    let data = jsonwebtoken::decode::<serde_json::Value>(jwt, &decoding, &validation)
        .map_err(|e| format!("the client assertion is refused: {}", describe(&e)))?;
    let Some(jti) = data.claims.get("jti").and_then(serde_json::Value::as_str) else {
        return Err("the client assertion is refused: it has no `jti` claim".to_owned());
    };
    let Some(exp) = data.claims.get("exp").and_then(serde_json::Value::as_u64) else {
        return Err("the client assertion is refused: its `exp` is not a time".to_owned());
    };
    let claims = Claims {
        jti: jti.to_owned(),
        exp,
    };
    // jsonwebtoken checks `exp` against the system clock; the gateway's clock decides too.
    if claims.exp.saturating_add(60) < expected.now {
        return Err("the client assertion is refused: it has expired".to_owned());
    }
    if claims.exp > expected.now.saturating_add(LONGEST_LIFE) {
        return Err(
            "the client assertion is refused: it claims to live longer than a day".to_owned(),
        );
    }
    Ok(claims)
}

/// jsonwebtoken's error, in the words of the claims it is about.
fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::InvalidSignature => "its signature does not verify".to_owned(),
        ErrorKind::ExpiredSignature => "it has expired".to_owned(),
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)".to_owned(),
        ErrorKind::InvalidIssuer => "its iss is not the client's issuer".to_owned(),
        ErrorKind::InvalidSubject => "its sub is not the client's subject".to_owned(),
        ErrorKind::InvalidAudience => "its aud is not this token endpoint".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("it has no `{claim}` claim"),
        ErrorKind::InvalidAlgorithm => "the key does not fit its algorithm".to_owned(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::signature::KeyPair;
    use serde_json::json;

    /// A fresh Ed25519 key: its signing key and its public JWK (with `kid`).
    pub(crate) fn ed25519_key(kid: &str) -> (EncodingKey, serde_json::Value) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key());
        (
            EncodingKey::from_ed_der(pkcs8.as_ref()),
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}),
        )
    }

    /// A JWT of `claims` signed by `key` as `kid`.
    pub(crate) fn sign(key: &EncodingKey, kid: &str, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn claims(exp_in: i64) -> serde_json::Value {
        json!({
            "iss": "client-1", "sub": "client-1",
            "aud": "https://gw.example/oauth/acme/token",
            "exp": (now() as i64 + exp_in), "iat": now(), "jti": "j1",
        })
    }

    #[test]
    fn a_signed_assertion_of_the_client_is_accepted_and_nothing_else() {
        let (key, jwk) = ed25519_key("k1");
        let (other_key, _) = ed25519_key("k1");
        let set: JwkSet = serde_json::from_value(json!({"keys": [jwk]})).unwrap();
        let audiences = ["https://gw.example/oauth/acme/token".to_owned()];
        let expected = Expected {
            issuer: "client-1",
            subject: "client-1",
            audiences: &audiences,
            now: now(),
        };
        let check = |jwt: &str| {
            let (alg, kid) = header(jwt)?;
            let key = select_key(&set, kid.as_deref(), alg).ok_or("no key")?;
            verify(jwt, key, alg, &expected)
        };
        let good = sign(&key, "k1", &claims(300));
        assert_eq!(claimed_subject(&good).as_deref(), Some("client-1"));
        assert_eq!(check(&good).unwrap().jti, "j1");
        // Another key, expired, too long-lived, another audience or subject, no `aud`.
        assert!(check(&sign(&other_key, "k1", &claims(300)))
            .unwrap_err()
            .contains("signature"));
        assert!(check(&sign(&key, "k1", &claims(-600)))
            .unwrap_err()
            .contains("expired"));
        assert!(check(&sign(&key, "k1", &claims(3 * 86_400)))
            .unwrap_err()
            .contains("longer than a day"));
        let mut wrong = claims(300);
        wrong["aud"] = json!("https://elsewhere/token");
        assert!(check(&sign(&key, "k1", &wrong))
            .unwrap_err()
            .contains("aud"));
        let mut wrong = claims(300);
        wrong["sub"] = json!("client-2");
        assert!(check(&sign(&key, "k1", &wrong))
            .unwrap_err()
            .contains("sub"));
        let mut wrong = claims(300);
        wrong.as_object_mut().unwrap().remove("aud");
        assert!(check(&sign(&key, "k1", &wrong))
            .unwrap_err()
            .contains("aud"));
        let mut wrong = claims(300);
        wrong.as_object_mut().unwrap().remove("jti");
        assert!(check(&sign(&key, "k1", &wrong))
            .unwrap_err()
            .contains("jti"));
        let mut huge = claims(300);
        huge["exp"] = json!(u64::MAX / 2);
        assert!(check(&sign(&key, "k1", &huge)).is_err());
        // An unknown key id finds no key.
        assert_eq!(
            check(&sign(&key, "k2", &claims(300))).unwrap_err(),
            "no key"
        );
        // HMAC (anyone could sign with a public "key") and `none` are refused outright.
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(300),
            &EncodingKey::from_secret(b"x"),
        )
        .unwrap();
        assert!(header(&hs).unwrap_err().contains("HS256"));
        assert!(header("eyJhbGciOiJub25lIn0.e30.").is_err());
    }
}
