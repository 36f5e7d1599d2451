//! The user search query language of `GET /api/v2/users?q=` (coderd `searchquery.Users`)
//! and the matching of users against it.

use time::OffsetDateTime;

use super::routes::Validation;
use super::state::User;

/// Parsed `q` filter (`database.GetUsersParams` minus pagination).
#[derive(Debug, Default)]
pub(super) struct UserFilter {
    pub search: String,
    pub name: String,
    pub status: Vec<String>,
    pub roles: Vec<String>,
    pub login_types: Vec<String>,
    pub created_after: Option<OffsetDateTime>,
    pub created_before: Option<OffsetDateTime>,
    pub last_seen_after: Option<OffsetDateTime>,
    pub last_seen_before: Option<OffsetDateTime>,
    pub github_com_user_id: i64,
}

/// Splits on `delim` outside double quotes; quotes are kept when `keep_quotes`.
fn split_quoted(s: &str, delim: char, keep_quotes: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    for c in s.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
            if keep_quotes {
                cur.push(c);
            }
        } else if c == delim && !in_quotes {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

const LOGIN_TYPES: [&str; 6] = ["", "password", "github", "oidc", "token", "none"];
const STATUSES: [&str; 3] = ["active", "dormant", "suspended"];

/// Parses `q`; on error returns the validations for a 400 "Invalid user search query.".
pub(super) fn parse_users_query(query: &str) -> Result<UserFilter, Vec<Validation>> {
    let query = query.to_lowercase();
    // (key, value) pairs in order of appearance.
    let mut values: Vec<(String, String)> = Vec::new();
    for element in split_quoted(&query, ' ', true) {
        if element.starts_with(':') || element.ends_with(':') {
            return Err(vec![Validation::new(
                "q",
                format!("Query element {element:?} cannot start or end with ':'"),
            )]);
        }
        let parts = split_quoted(&element, ':', false);
        match parts.as_slice() {
            [_] => values.push(("search".to_string(), element.replace('"', ""))),
            [key, value] => values.push((key.clone(), value.clone())),
            _ => {
                return Err(vec![Validation::new(
                    "q",
                    format!("Query element {element:?} can only contain 1 ':'"),
                )])
            }
        }
    }

    let mut errors = Vec::new();
    let mut f = UserFilter::default();
    let first = |key: &str| -> Option<&str> {
        values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    // `all` splits every value of the key on commas (repeatable list keys).
    let all = |key: &str| -> Vec<String> {
        values
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect()
    };
    f.search = first("search").unwrap_or("").to_string();
    f.name = first("name").unwrap_or("").to_string();
    for s in all("status") {
        if STATUSES.contains(&s.as_str()) {
            f.status.push(s);
        } else {
            errors.push(Validation::new(
                "status",
                format!("Query param \"status\" has invalid value: {s:?} is not a valid value"),
            ));
        }
    }
    f.roles = all("role");
    for s in all("login_type") {
        if LOGIN_TYPES.contains(&s.as_str()) {
            f.login_types.push(s);
        } else {
            errors.push(Validation::new(
                "login_type",
                format!("Query param \"login_type\" has invalid value: {s:?} is not a valid value"),
            ));
        }
    }
    let mut time_param = |key: &str| -> Option<OffsetDateTime> {
        let v = first(key)?;
        match OffsetDateTime::parse(
            v.to_uppercase().as_str(),
            &time::format_description::well_known::Rfc3339,
        ) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(Validation::new(
                    key,
                    format!(
                        "Query param {key:?} must be a valid date format (2006-01-02T15:04:05.999999999Z07:00): {e}"
                    ),
                ));
                None
            }
        }
    };
    f.created_after = time_param("created_after");
    f.created_before = time_param("created_before");
    f.last_seen_after = time_param("last_seen_after");
    f.last_seen_before = time_param("last_seen_before");
    if let Some(v) = first("github_com_user_id") {
        match v.parse::<i64>() {
            Ok(n) => f.github_com_user_id = n,
            Err(e) => errors.push(Validation::new(
                "github_com_user_id",
                format!("Query param \"github_com_user_id\" must be a valid 64-bit integer: {e}"),
            )),
        }
    }
    const KNOWN: [&str; 10] = [
        "search",
        "name",
        "status",
        "role",
        "login_type",
        "created_after",
        "created_before",
        "last_seen_after",
        "last_seen_before",
        "github_com_user_id",
    ];
    let mut seen_unknown: Vec<&str> = Vec::new();
    for (k, _) in &values {
        if !KNOWN.contains(&k.as_str()) && !seen_unknown.contains(&k.as_str()) {
            seen_unknown.push(k);
            errors.push(Validation::new(
                k,
                format!("{k:?} is not a valid query param"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(errors)
    }
}

fn contains_ci(haystack: &str, needle_lower: &str) -> bool {
    haystack.to_lowercase().contains(needle_lower)
}

impl UserFilter {
    /// The `WHERE` clause of `GetUsers` (soft-deleted users are excluded by the caller).
    pub(super) fn matches(&self, u: &User) -> bool {
        if !self.search.is_empty()
            && !contains_ci(&u.email, &self.search)
            && !contains_ci(&u.username, &self.search)
        {
            return false;
        }
        if !self.name.is_empty() && !contains_ci(&u.name, &self.name) {
            return false;
        }
        if !self.status.is_empty() && !self.status.contains(&u.status) {
            return false;
        }
        // Everyone is a member: filtering by `member` matches every user.
        if !self.roles.is_empty()
            && !self.roles.iter().any(|r| r == "member")
            && !self.roles.iter().any(|r| u.roles.contains(r))
        {
            return false;
        }
        if !self.login_types.is_empty() && !self.login_types.contains(&u.login_type) {
            return false;
        }
        if self.created_after.is_some_and(|t| u.created_at < t) {
            return false;
        }
        if self.created_before.is_some_and(|t| u.created_at > t) {
            return false;
        }
        if self.last_seen_after.is_some_and(|t| u.last_seen_at < t) {
            return false;
        }
        if self.last_seen_before.is_some_and(|t| u.last_seen_at > t) {
            return false;
        }
        if self.github_com_user_id != 0 && u.github_com_user_id != self.github_com_user_id {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_terms_and_keys() {
        let f =
            parse_users_query("Alice status:active STATUS:dormant role:owner name:\"Bob Smith\"")
                .unwrap_or_default();
        assert_eq!(f.search, "alice");
        assert_eq!(f.status, vec!["active", "dormant"]);
        assert_eq!(f.roles, vec!["owner"]);
        assert_eq!(f.name, "bob smith");
    }

    #[test]
    fn rejects_bad_terms() {
        let e = parse_users_query("status:").err().unwrap_or_default();
        assert_eq!(
            e[0].detail,
            "Query element \"status:\" cannot start or end with ':'"
        );
        let e = parse_users_query("foo:bar").err().unwrap_or_default();
        assert_eq!(e[0].field, "foo");
        let e = parse_users_query("a:b:c").err().unwrap_or_default();
        assert_eq!(e[0].field, "q");
        let e = parse_users_query("status:bogus").err().unwrap_or_default();
        assert_eq!(e[0].field, "status");
    }
}
