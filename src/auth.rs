//! Bearer-token authentication of IdP requests (RFC 6750 as profiled by RFC 7644 §2).
//!
//! Tokens are compared in constant time, and every configured token is compared so the time
//! taken says nothing about which one nearly matched. The [`Authenticator`] trait is the seam
//! for managed, per-tenant tokens.

use subtle::ConstantTimeEq;

use crate::config::ApiToken;

/// Who made an authenticated request, for logs and audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name: the config entry's `name`, or `<id>:<name>` for a managed token.
    pub token_name: String,
}

/// Tells whom a bearer token belongs to; [`StaticTokens`] does it for the config's tokens.
pub trait Authenticator: Send + Sync + 'static {
    /// The caller a presented bearer token belongs to, if any.
    fn authenticate(&self, bearer: &str) -> Option<Caller>;
}

/// Tokens from the config file.
pub struct StaticTokens {
    tokens: Vec<ApiToken>,
}

impl StaticTokens {
    /// Accepts exactly these tokens (the config's `auth.tokens` or `admin.tokens`).
    pub fn new(tokens: Vec<ApiToken>) -> Self {
        StaticTokens { tokens }
    }
}

impl Authenticator for StaticTokens {
    fn authenticate(&self, bearer: &str) -> Option<Caller> {
        let mut found = None;
        for token in &self.tokens {
            let equal: bool = token
                .secret
                .expose()
                .as_bytes()
                .ct_eq(bearer.as_bytes())
                .into();
            if equal && found.is_none() {
                found = Some(Caller {
                    token_name: token.name.clone(),
                });
            }
        }
        found
    }
}

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// The token of an `Authorization: <token>` header value sent without a scheme, as Okta's
/// "HTTP Header" mode does when the admin pastes the token alone; only for tenants that
/// accept it (a value with a space names a scheme, so is never read as a bare token).
pub fn bare_token(header: &str) -> Option<&str> {
    let token = header.trim();
    (!token.is_empty() && !token.contains(char::is_whitespace)).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn matches_only_configured_tokens() {
        let auth = StaticTokens::new(vec![ApiToken {
            name: "okta".to_owned(),
            secret: Secret::new("s3cret-token-value".to_owned()),
        }]);
        assert_eq!(
            auth.authenticate("s3cret-token-value")
                .map(|c| c.token_name),
            Some("okta".to_owned())
        );
        assert_eq!(auth.authenticate("s3cret-token-valu"), None);
        assert_eq!(auth.authenticate(""), None);
    }

    #[test]
    fn parses_a_bare_token() {
        assert_eq!(bare_token(" abc "), Some("abc"));
        assert_eq!(bare_token("Bearer abc"), None);
        assert_eq!(bare_token("Basic abc"), None);
        assert_eq!(bare_token("  "), None);
    }

    #[test]
    fn parses_bearer_header() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
