//! Platform error text made safe to show: a platform's own words go into SCIM `detail`, the
//! gateway's log and the audit log, so they are cut to one bounded line with whatever looks
//! like a secret or a database statement removed (one platform's "already exists" message
//! carried the SQL statement, with the new user's password hash).

/// The longest message kept, in characters.
const MAX_CHARS: usize = 200;

/// Words that, before `=` or `:`, mark a secret value.
const SECRET_KEYS: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
];

/// Words that start a database statement.
const SQL_STARTS: [&str; 6] = [
    "insert into",
    "update ",
    "delete from",
    "select ",
    "pq:",
    "sqlstate",
];

/// Whether a field name marks a secret (`password`, `api_key`, `private_token`, ...).
pub fn is_secret_key(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|k| lower.contains(k))
}

/// A JSON value with the values (strings and numbers; a flag such as
/// `force_random_password: true` is no secret) of secret-named fields, at any depth, shown as
/// `***`.
pub fn mask_secret_fields(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let shown = if is_secret_key(k) && (v.is_string() || v.is_number()) {
                        Value::String("***".to_owned())
                    } else {
                        mask_secret_fields(v)
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_secret_fields).collect()),
        other => other.clone(),
    }
}

/// The text as it may be shown.
pub fn redact(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let lower = line.to_ascii_lowercase();
    let statement = SQL_STARTS.iter().filter_map(|s| lower.find(s)).min();
    let (kept, cut) = match statement {
        // Byte offsets of ASCII needles in the lowercased copy are those of the line.
        Some(at) => (line.get(..at).unwrap_or(""), true),
        None => (line, false),
    };
    let mut words: Vec<String> = Vec::new();
    let mut hide_next = false;
    for word in kept.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        if hide_next {
            words.push("***".to_owned());
            hide_next = false;
            continue;
        }
        match secret_pair(word, &lower) {
            Some(Some(shown)) => words.push(shown),
            Some(None) => {
                words.push(word.to_owned());
                hide_next = true;
            }
            None if looks_opaque(word) => words.push("***".to_owned()),
            None => words.push(word.to_owned()),
        }
    }
    let mut out = words.join(" ");
    if cut {
        out = format!(
            "{} (database statement omitted)",
            out.trim_end_matches([':', ' '])
        );
    }
    if out.chars().count() > MAX_CHARS {
        out = out.chars().take(MAX_CHARS).collect::<String>() + "…";
    }
    out
}

/// `password=x` → `Some(Some("password=***"))`; `password:` (the value follows) →
/// `Some(None)`; any other word → `None`.
fn secret_pair(word: &str, lower: &str) -> Option<Option<String>> {
    let key = SECRET_KEYS
        .iter()
        .find(|k| lower.trim_matches('"').starts_with(*k))?;
    let rest = lower.trim_matches('"').get(key.len()..).unwrap_or("");
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    let separator = rest.find(['=', ':'])?;
    let value = rest.get(separator + 1..).unwrap_or("").trim_matches('"');
    let name_end = word.len() - rest.len() + separator + 1;
    if value.is_empty() {
        Some(None)
    } else {
        Some(Some(format!("{}***", word.get(..name_end).unwrap_or(word))))
    }
}

/// A long run of letters, digits and token punctuation with both letters and digits: a hash,
/// a key or a token rather than a word.
fn looks_opaque(word: &str) -> bool {
    let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '$');
    core.len() >= 24
        && core
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "$./+=_-".contains(c))
        && core.chars().any(|c| c.is_ascii_digit())
        && core.chars().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn plain_messages_pass() {
        assert_eq!(redact("User already exists."), "User already exists.");
        assert_eq!(redact("first line\nsecond line"), "first line");
        assert_eq!(redact(""), "");
    }

    #[test]
    fn statements_hashes_and_secret_values_are_removed() {
        let leaked = "duplicate key: INSERT INTO users (name, password) VALUES ('bob', '$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy')";
        assert_eq!(redact(leaked), "duplicate key (database statement omitted)");
        assert_eq!(
            redact("bad token=abc123 for user"),
            "bad token=*** for user"
        );
        assert_eq!(
            redact("password: hunter2 rejected"),
            "password: *** rejected"
        );
        assert_eq!(
            redact("key 8f14e45fceea167a5a36dedd4bea2543ab12cd34 is invalid"),
            "key *** is invalid"
        );
        let long = "x".repeat(500);
        assert_eq!(redact(&long).chars().count(), 201);
    }
}
