//! What counts as a secret where the gateway shows what it was given: the names that say a
//! value is secret, and what stands in for a hidden value. Shared by `config show` and the
//! request log's masking, so the two hide the same things.

/// What stands in for a hidden value.
pub const REDACTED: &str = "***";

/// The words that make a key's name say its value is secret (`client_secret`, `api_key`,
/// `X-Auth-Token`, `passwordHash`, ...).
pub const SECRET_WORDS: [&str; 8] = [
    "secret",
    "token",
    "password",
    "passwd",
    "credential",
    "apikey",
    "api_key",
    "private",
];

/// Whether a key's name says its value is a secret.
pub fn secret_like(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_that_say_secret() {
        for name in [
            "password",
            "client_secret",
            "X-Auth-Token",
            "apiKey",
            "privateKey",
        ] {
            assert!(super::secret_like(name), "{name}");
        }
        for name in ["userName", "emails", "displayName", "externalId"] {
            assert!(!super::secret_like(name), "{name}");
        }
    }
}
