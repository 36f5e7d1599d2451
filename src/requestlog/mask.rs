//! Masking a body for the request log, pure: secrets and the attributes the config names are
//! replaced by `***` wherever they stand, then the text is cut to a size.
//!
//! What is masked:
//! - every member whose name says it is secret ([`crate::redact::secret_like`]): `password`
//!   (RFC 7643 §4.1.1, never returned but sent by IdPs), `client_secret`, `token`, ...;
//! - every attribute `request_log.mask` names, as a path from the resource (`phoneNumbers`,
//!   `name.familyName`, `urn:...:enterprise:2.0:User:employeeNumber` as `employeeNumber`),
//!   wherever the resource sits (a `/Bulk` operation's `data`, a list's `Resources`);
//! - the `value` of a PATCH operation whose `path` names a masked attribute (RFC 7644
//!   §3.5.2: `{"op":"replace","path":"password","value":"..."}`), and inside the value of one
//!   whose path names its parent (`"path":"name","value":{"familyName":...}`).
//!
//! A value masked is also cut out of every other string of the entry's bodies, so that what a
//! mapping derives from it (`name.formatted` from `name.familyName`, a `displayName`) or an
//! error that quotes it does not show it again. A body that is not JSON is not kept (its
//! secrets could not be found); its size is.

use aho_corasick::AhoCorasick;
use serde_json::{Map, Value};

use crate::redact::{secret_like, REDACTED, SECRET_WORDS};

/// How bodies are masked and bounded.
#[derive(Debug, Clone)]
pub struct Masker {
    /// The configured attribute paths, lower case, dotted, without schema URNs.
    paths: Vec<String>,
    /// Finds, in one pass and in any case, the words whose presence anywhere in a body makes
    /// it worth parsing; `None` (never in practice: a few short words) parses every body.
    words: Option<AhoCorasick>,
    /// Longest text kept of a body, in bytes.
    max_bytes: usize,
}

impl Masker {
    /// Masks `password`, secret-like names and the attribute paths `configured`; keeps at most
    /// `max_bytes` of each body.
    pub fn new(configured: &[String], max_bytes: usize) -> Masker {
        let paths: Vec<String> = configured.iter().map(|p| normalize_path(p)).collect();
        let mut words: Vec<String> = SECRET_WORDS.iter().map(|w| (*w).to_owned()).collect();
        for path in &paths {
            if let Some(last) = path.rsplit('.').next() {
                words.push(last.to_owned());
            }
        }
        // A DFA: the fastest search for a handful of short words, built once.
        let words = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&words)
            .ok();
        Masker {
            paths,
            words,
            max_bytes,
        }
    }

    /// The body as the log keeps it: masked, cut to the size; empty for none.
    pub fn body(&self, bytes: &[u8]) -> String {
        self.body_of_entry(bytes, &mut Vec::new())
    }

    /// [`Masker::body`] for one of an entry's bodies: `masked` holds the values masked in its
    /// bodies so far (they are cut out of this one too) and gains this one's.
    pub fn body_of_entry(&self, bytes: &[u8], masked: &mut Vec<String>) -> String {
        if bytes.is_empty() {
            return String::new();
        }
        // Most bodies name nothing masked: they are kept as sent, without a parse. A body
        // with a `\u` escape (`"pass\u0077ord"`: the only escape that can spell a letter), or
        // after values were masked, is always parsed.
        let must_parse = !masked.is_empty()
            || bytes.windows(2).any(|w| w == b"\\u")
            || self.words.as_ref().is_none_or(|w| w.is_match(bytes));
        let text = if must_parse {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(mut value) => {
                    let mut found = Vec::new();
                    self.mask(&mut value, "", &mut found);
                    // Short values (a `true`, an initial) would cut out too much elsewhere.
                    masked.extend(found.into_iter().filter(|v| v.chars().count() >= 4));
                    if !masked.is_empty() {
                        scrub(&mut value, masked);
                    }
                    value.to_string()
                }
                Err(_) => return not_json(bytes.len()),
            }
        } else if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
            match std::str::from_utf8(bytes) {
                Ok(text) => text.to_owned(),
                Err(_) => return not_json(bytes.len()),
            }
        } else {
            return not_json(bytes.len());
        };
        self.bounded(text)
    }

    fn bounded(&self, mut text: String) -> String {
        if text.len() <= self.max_bytes {
            return text;
        }
        let all = text.len();
        let mut cut = self.max_bytes;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(&format!("... (cut: {all} bytes in all)"));
        text
    }

    /// Whether the attribute at `path` (normalized) is masked: its name says secret, or a
    /// configured path stands in it, whole steps, anywhere (`phonenumbers` in
    /// `operations.data.phonenumbers.value`).
    fn masked(&self, path: &str, name: &str) -> bool {
        if secret_like(name) {
            return true;
        }
        let steps = format!(".{path}.");
        self.paths.iter().any(|p| steps.contains(&format!(".{p}.")))
    }

    /// Masks `value`, which stands at `path` (dotted, lower case; empty at the top); the
    /// strings masked go into `found`.
    fn mask(&self, value: &mut Value, path: &str, found: &mut Vec<String>) {
        match value {
            Value::Array(items) => {
                for item in items {
                    self.mask(item, path, found);
                }
            }
            Value::Object(members) => {
                self.mask_patch_operation(members, path, found);
                for (key, member) in members.iter_mut() {
                    let name = attribute_name(key);
                    // A schema URN holding an extension's attributes adds no step; a key that
                    // is a path (`emails[type eq "work"].value` in a PATCH value) adds its steps.
                    let at = match name {
                        None => path.to_owned(),
                        Some(name) => join(path, &normalize_path(name)),
                    };
                    if let Some(name) = name {
                        let last = at.rsplit('.').next().unwrap_or(name);
                        if self.masked(&at, name) || self.masked(&at, last) {
                            strings_of(member, found);
                            *member = Value::String(REDACTED.to_owned());
                            continue;
                        }
                    }
                    self.mask(member, &at, found);
                }
            }
            _ => {}
        }
    }

    /// A PATCH operation (`{"op", "path", "value"}`): its value is at its path.
    fn mask_patch_operation(
        &self,
        members: &mut Map<String, Value>,
        path: &str,
        found: &mut Vec<String>,
    ) {
        let (Some(Value::String(_)), Some(Value::String(target))) =
            (members.get("op"), members.get("path"))
        else {
            return;
        };
        let target = normalize_path(target);
        let at = join(path, &target);
        let name = target.rsplit('.').next().unwrap_or_default().to_owned();
        if let Some(value) = members.get_mut("value") {
            if self.masked(&at, &name) {
                strings_of(value, found);
                *value = Value::String(REDACTED.to_owned());
            } else {
                self.mask(value, &at, found);
            }
        }
        // The path itself is kept: it names an attribute, never a secret value (a filter in it
        // may hold a value, which is a lookup key, as in the request's query).
    }
}

impl Masker {
    /// `text` (a path and query, a platform call's path) without the values masked in the
    /// entry's bodies, as written or percent-encoded, where they stand as whole words.
    pub fn scrub_text(&self, text: &str, masked: &[String]) -> String {
        let mut out = text.to_owned();
        for value in masked {
            for form in [
                value.clone(),
                percent_encoded(value, "%20"),
                percent_encoded(value, "+"),
            ] {
                if contains_ignore_case(out.as_bytes(), &form.to_ascii_lowercase()) {
                    out = replace_ignore_case(&out, &form);
                }
            }
        }
        out
    }
}

/// A path and query with the values of parameters whose names say secret (`access_token`,
/// `client_secret`) masked.
pub fn secret_query(path_and_query: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return path_and_query.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if secret_like(&percent_decoded(name)) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// `value` percent-encoded as a query carries it (spaces as `space`).
fn percent_encoded(value: &str, space: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push_str(space),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `%xx` and `+` decoded (a query parameter's name).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every string in `value` (a masked attribute's values), into `found`.
fn strings_of(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) if s != REDACTED => found.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings_of(v, found)),
        Value::Object(members) => members.values().for_each(|v| strings_of(v, found)),
        _ => {}
    }
}

/// Cuts each of `masked` out of every string in `value`, in any case.
fn scrub(value: &mut Value, masked: &[String]) {
    match value {
        Value::String(s) => {
            for m in masked {
                if contains_ignore_case(s.as_bytes(), &m.to_ascii_lowercase()) {
                    *s = replace_ignore_case(s, m);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, masked)),
        Value::Object(members) => members.values_mut().for_each(|v| scrub(v, masked)),
        _ => {}
    }
}

/// `text` with every whole-word occurrence of `needle` (any ASCII case) replaced by `***`:
/// `Barbara Jensen` loses `Jensen`, `bjensen` keeps it (a user name is the key an IdP looks up,
/// and cutting letters out of it would make the log useless for the lookups it debugs).
fn replace_ignore_case(text: &str, needle: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    // ASCII lowering keeps byte offsets, so positions in `lower` are positions in `text`.
    while let Some(found) = lower.get(from..).and_then(|l| l.find(&needle)) {
        let start = from + found;
        let end = start + needle.len();
        let before = text.get(..start).and_then(|t| t.chars().next_back());
        let after = text.get(end..).and_then(|t| t.chars().next());
        // In a query, `%22Jensen` starts a word too.
        let escaped = start >= 3
            && text.as_bytes().get(start - 3) == Some(&b'%')
            && text
                .as_bytes()
                .get(start - 2..start)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        if (escaped || !word(before)) && !word(after) {
            out.push_str(text.get(copied..start).unwrap_or_default());
            out.push_str(REDACTED);
            copied = end;
        }
        from = end.max(start + 1);
        while !lower.is_char_boundary(from) {
            from += 1;
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

/// An attribute path as written (`name.familyName`, `emails[type eq "work"].value`,
/// `urn:...:User:employeeNumber`) as compared: lower case, dotted, no filter, no URN.
fn normalize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            _ => out.push(c.to_ascii_lowercase()),
        }
    }
    // `urn:...:User:name.familyName`: the attribute is after the URN's last colon.
    match out.rfind(':') {
        Some(colon) => out.split_off(colon + 1),
        None => out,
    }
}

/// The attribute a member's key names: its name, the part after a schema URN's last colon
/// for an extension attribute written whole, or `None` for a schema URN holding an extension's
/// attributes (`"urn:...:enterprise:2.0:User": {...}`).
fn attribute_name(key: &str) -> Option<&str> {
    if !key.to_ascii_lowercase().starts_with("urn:") {
        return Some(key);
    }
    let last = key.rsplit(':').next().unwrap_or(key);
    // A schema URN ends in the resource type's name (`User`, `Group`), capitalized.
    if last.chars().next().is_some_and(char::is_uppercase) {
        None
    } else {
        Some(last)
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn not_json(size: usize) -> String {
    format!("({size} bytes, not JSON: not kept, since secrets in it could not be masked)")
}

/// Whether `haystack` holds `needle` (lower-case ASCII), in any case.
fn contains_ignore_case(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    if needle.is_empty() || haystack.len() < needle.len() {
        return needle.is_empty();
    }
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masked(configured: &[&str], body: Value) -> Value {
        let masker = Masker::new(
            &configured
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>(),
            1 << 20,
        );
        serde_json::from_str(&masker.body(body.to_string().as_bytes())).unwrap()
    }

    #[test]
    fn a_user_create_loses_its_password_and_keeps_the_rest() {
        // RFC 7643 §8.2's full user, shortened, with the password IdPs send.
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bjensen",
            "password": "t1meMa$heen",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "emails": [{"value": "bjensen@example.com", "type": "work"}]
        });
        let out = masked(&[], body.clone());
        assert_eq!(out["password"], "***");
        assert_eq!(out["userName"], "bjensen");
        assert_eq!(out["name"], body["name"]);
        assert_eq!(out["emails"], body["emails"]);
    }

    #[test]
    fn configured_paths_are_masked_wherever_the_resource_stands() {
        let user = json!({
            "userName": "bjensen",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984", "costCenter": "4130"
            }
        });
        let configured = ["name.familyName", "phoneNumbers", "employeeNumber"];
        let out = masked(&configured, user.clone());
        assert_eq!(out["name"]["familyName"], "***");
        assert_eq!(out["name"]["givenName"], "Barbara");
        assert_eq!(out["phoneNumbers"], "***");
        let enterprise = &out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        assert_eq!(enterprise["employeeNumber"], "***");
        assert_eq!(enterprise["costCenter"], "4130");
        // In a list's Resources and in a /Bulk operation's data alike.
        let list = masked(&configured, json!({"Resources": [user.clone()]}));
        assert_eq!(list["Resources"][0]["phoneNumbers"], "***");
        let bulk = masked(
            &configured,
            json!({"Operations": [{"method": "POST", "data": user}]}),
        );
        assert_eq!(bulk["Operations"][0]["data"]["name"]["familyName"], "***");
        assert_eq!(bulk["Operations"][0]["data"]["userName"], "bjensen");
    }

    #[test]
    fn patch_values_are_masked_by_their_path() {
        // RFC 7644 §3.5.2: values addressed by path, and values holding attributes.
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "path": "password", "value": "hunter2"},
                {"op": "replace", "path": "name", "value": {"familyName": "Doe", "givenName": "J"}},
                {"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "555"},
                {"op": "replace", "value": {"password": "hunter3", "active": true}},
                {"op": "replace", "path": "active", "value": false}
            ]
        });
        let out = masked(&["name.familyName", "phoneNumbers"], body);
        let ops = &out["Operations"];
        assert_eq!(ops[0]["value"], "***");
        assert_eq!(ops[0]["path"], "password");
        assert_eq!(ops[1]["value"]["familyName"], "***");
        assert_eq!(ops[1]["value"]["givenName"], "J");
        assert_eq!(ops[2]["value"], "***");
        assert_eq!(ops[3]["value"]["password"], "***");
        assert_eq!(ops[3]["value"]["active"], true);
        assert_eq!(ops[4]["value"], false);
    }

    #[test]
    fn a_masked_value_is_cut_out_of_what_repeats_it() {
        // A mapping derives name.formatted from the parts; an error may quote a value.
        let masker = Masker::new(&["name.familyName".to_owned()], 1 << 20);
        let mut masked = Vec::new();
        let request = json!({"name": {"familyName": "Jensen"}, "password": "t1meMa$heen"});
        let logged = masker.body_of_entry(request.to_string().as_bytes(), &mut masked);
        assert!(
            !logged.contains("Jensen") && !logged.contains("t1meMa$heen"),
            "{logged}"
        );
        let answer = json!({
            "name": {"familyName": "Jensen", "formatted": "Barbara JENSEN"},
            "displayName": "Barbara Jensen",
            "detail": "password t1meMa$heen is too weak"
        });
        let logged = masker.body_of_entry(answer.to_string().as_bytes(), &mut masked);
        let out: Value = serde_json::from_str(&logged).unwrap();
        assert_eq!(out["name"]["formatted"], "Barbara ***");
        assert_eq!(out["displayName"], "Barbara ***");
        assert_eq!(out["detail"], "password *** is too weak");
        // An answer that names no masked attribute but quotes a masked value is scrubbed too;
        // a value holding it inside a word keeps it.
        let quoted = masker.body_of_entry(
            br#"{"detail":"jensen exists","userName":"bjensen","emails":[{"value":"jensen@example.com"}]}"#,
            &mut masked,
        );
        let out: Value = serde_json::from_str(&quoted).unwrap();
        assert_eq!(out["detail"], "*** exists");
        assert_eq!(out["userName"], "bjensen");
        assert_eq!(out["emails"][0]["value"], "***@example.com");
    }

    #[test]
    fn secret_names_are_masked_in_any_case_and_any_depth() {
        let out = masked(
            &[],
            json!({"a": {"Client_Secret": "s", "X-Api-Token": "t"}, "b": 1}),
        );
        assert_eq!(out["a"]["Client_Secret"], "***");
        assert_eq!(out["a"]["X-Api-Token"], "***");
        assert_eq!(out["b"], 1);
    }

    #[test]
    fn bodies_that_are_not_json_are_not_kept() {
        let masker = Masker::new(&[], 100);
        let text = masker.body(b"userName=bob&password=hunter2");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("29 bytes"), "{text}");
        assert!(masker.body(b"{\"a\": ").contains("not JSON"));
        assert_eq!(masker.body(b""), "");
    }

    #[test]
    fn bodies_are_cut_at_the_size_on_a_character_boundary() {
        let masker = Masker::new(&[], 10);
        let text = masker.body("\"ééééééééé\"".as_bytes());
        assert!(text.starts_with("\"éééé"), "{text}");
        assert!(text.ends_with("(cut: 20 bytes in all)"), "{text}");
        // Bodies naming nothing masked are kept byte for byte.
        let masker = Masker::new(&[], 1000);
        let body = r#"{"userName":  "bob", "active":true}"#;
        assert_eq!(masker.body(body.as_bytes()), body);
    }

    #[test]
    fn escaped_names_and_path_keys_are_masked_too() {
        let out = masked(
            &["emails"],
            serde_json::from_str(
                r#"{"pass\u0077ord": "hunter2", "Operations": [{"op": "add",
                "value": {"emails[type eq \"work\"].value": "a@example.com"}}]}"#,
            )
            .unwrap(),
        );
        assert_eq!(out["password"], "***");
        assert_eq!(
            out["Operations"][0]["value"]["emails[type eq \"work\"].value"],
            "***"
        );
        let masker = Masker::new(&[], 1000);
        let raw = br#"{"pass\u0077ord":"hunter2"}"#;
        assert!(!masker.body(raw).contains("hunter2"));
    }

    #[test]
    fn queries_lose_secret_parameters_and_masked_values() {
        assert_eq!(
            secret_query("/scim/v2/Users?access_token=abc&filter=userName+eq+%22bob%22"),
            "/scim/v2/Users?access_token=***&filter=userName+eq+%22bob%22"
        );
        assert_eq!(secret_query("/scim/v2/Users"), "/scim/v2/Users");
        let masker = Masker::new(&[], 1000);
        let masked = vec!["Jensen Family".to_owned()];
        assert_eq!(
            masker.scrub_text(
                "/Users?filter=name.familyName+eq+%22Jensen+Family%22",
                &masked
            ),
            "/Users?filter=name.familyName+eq+%22***%22"
        );
        assert_eq!(
            masker.scrub_text("/api/users?q=Jensen%20Family", &masked),
            "/api/users?q=***"
        );
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize_path("name.familyName"), "name.familyname");
        assert_eq!(
            normalize_path("emails[type eq \"work\"].value"),
            "emails.value"
        );
        assert_eq!(
            normalize_path(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
            ),
            "employeenumber"
        );
    }
}
