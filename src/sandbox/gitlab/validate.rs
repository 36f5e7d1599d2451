//! Model validations of the GitLab emulator: namespace paths (usernames and group paths),
//! emails, passwords, and the ordered field → messages map that `render_validation_error!`
//! answers with.

/// `Gitlab::PathRegex.namespace_format_message`.
pub(super) const PATH_FORMAT_MESSAGE: &str = "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.";
/// Rails' uniqueness message.
pub(super) const TAKEN: &str = "has already been taken";
/// Rails' presence message.
pub(super) const BLANK: &str = "can't be blank";
/// The ownership message of `public_email`/`commit_email` (also used for primary email
/// switches to an address the user does not own).
pub(super) const NOT_OWNED: &str = "is not an email you own";
/// `Security::WeakPasswords` rejection.
pub(super) const WEAK_PASSWORD: &str =
    "must not contain commonly used combinations of words and letters";

/// A few of GitLab's reserved top-level routes (`Gitlab::PathRegex::TOP_LEVEL_ROUTES`).
const RESERVED: [&str; 24] = [
    "-",
    ".well-known",
    "404.html",
    "admin",
    "api",
    "assets",
    "dashboard",
    "explore",
    "favicon.ico",
    "groups",
    "help",
    "import",
    "jwt",
    "login",
    "oauth",
    "profile",
    "projects",
    "public",
    "robots.txt",
    "s",
    "search",
    "snippets",
    "uploads",
    "users",
];

/// Whole-password matches of GitLab's weak password list (a small sample).
const COMMON_PASSWORDS: [&str; 10] = [
    "password",
    "password1",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyui",
    "qwerty123",
    "iloveyou",
    "sunshine",
    "football",
];

/// Ordered model errors (Rails keeps the order validations ran in).
#[derive(Debug, Default)]
pub(super) struct Errors(Vec<(String, Vec<String>)>);

impl Errors {
    pub(super) fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, msgs)) => msgs.push(message),
            None => self.0.push((field.to_string(), vec![message])),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn entries(&self) -> &[(String, Vec<String>)] {
        &self.0
    }

    /// Ruby's `Hash#inspect` of `errors.messages`, e.g. `{:path=>["has already been taken"]}`.
    pub(super) fn ruby_inspect(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(k, msgs)| {
                let list: Vec<String> = msgs.iter().map(|m| quote(m)).collect();
                format!(":{k}=>[{}]", list.join(", "))
            })
            .collect();
        format!("{{{}}}", parts.join(", "))
    }
}

/// The format/reserved-name error of a namespace path, if any.
pub(super) fn path_error(path: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    let first_ok = path
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    let chars_ok = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let end_ok = !path.ends_with('.') && !lower.ends_with(".git") && !lower.ends_with(".atom");
    if path.is_empty() {
        return None;
    }
    if !(first_ok && chars_ok && end_ok) || path.chars().count() > 255 {
        return Some(PATH_FORMAT_MESSAGE.to_string());
    }
    if RESERVED.contains(&lower.as_str()) {
        return Some(format!("{path} is a reserved name"));
    }
    None
}

/// Devise's `email_regexp`: `\A[^@\s]+@[^@\s]+\z`.
pub(super) fn email_valid(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let ok = |s: &str| !s.is_empty() && !s.chars().any(|c| c == '@' || c.is_whitespace());
    ok(local) && ok(domain)
}

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
}

/// Password rules: length 8..=128, not a common password, and free of `gitlab`, `devops` and
/// the parts (4+ characters) of the user's name, username and email local part.
pub(super) fn password_errors(
    password: &str,
    username: &str,
    name: &str,
    email: &str,
) -> Vec<String> {
    let len = password.chars().count();
    if len < 8 {
        return vec!["is too short (minimum is 8 characters)".to_string()];
    }
    if len > 128 {
        return vec!["is too long (maximum is 128 characters)".to_string()];
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or("");
    let forbidden = ["gitlab".to_string(), "devops".to_string()]
        .into_iter()
        .chain(words(username))
        .chain(words(name))
        .chain(words(local));
    let weak = COMMON_PASSWORDS.contains(&lower.as_str())
        || forbidden.into_iter().any(|w| lower.contains(&w));
    if weak {
        vec![WEAK_PASSWORD.to_string()]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(path_error("alice.smith_2-x"), None);
        assert_eq!(path_error("_a"), None);
        assert!(path_error("-a").is_some());
        assert!(path_error("a.").is_some());
        assert!(path_error("a.git").is_some());
        assert!(path_error("a b").is_some());
        assert!(path_error("a@b").is_some());
        assert_eq!(path_error("Admin"), Some("Admin is a reserved name".into()));
    }

    #[test]
    fn emails_and_passwords() {
        assert!(email_valid("a@b"));
        assert!(!email_valid("a b@c"));
        assert!(!email_valid("ab.c"));
        assert!(!email_valid("a@b@c"));
        assert_eq!(
            password_errors("short", "u", "n", "e@x"),
            vec!["is too short (minimum is 8 characters)"]
        );
        assert_eq!(
            password_errors("Password", "u", "n", "e@x"),
            vec![WEAK_PASSWORD]
        );
        assert_eq!(
            password_errors("xxalicexx", "alice", "n", "e@x"),
            vec![WEAK_PASSWORD]
        );
        assert_eq!(
            password_errors("mygitlab1", "u", "n", "e@x"),
            vec![WEAK_PASSWORD]
        );
        assert!(password_errors("Tr0ub4dor&3", "alice", "Alice Liddell", "alice@x").is_empty());
    }

    #[test]
    fn ruby_hash_inspect() {
        let mut e = Errors::default();
        e.add("path", TAKEN);
        e.add("name", "say \"hi\"");
        assert_eq!(
            e.ruby_inspect(),
            r#"{:path=>["has already been taken"], :name=>["say \"hi\""]}"#
        );
    }
}
