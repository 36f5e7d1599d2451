//! Request parameters of the GitLab emulator. Grape merges the query string with a
//! form-encoded or JSON body into one `params` hash (the body wins on a clash); the typed
//! getters of [`Check`] coerce values the way Grape declares them and collect Grape's
//! parameter errors, answered as one `400 {"error": "a is missing, b is invalid"}`.

use std::collections::BTreeMap;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::routes::ApiError;

/// One parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Param {
    /// A scalar (JSON numbers and booleans are kept as their text).
    Str(String),
    /// `key[]=a&key[]=b` or a JSON array.
    List(Vec<String>),
    /// JSON `null`.
    Null,
}

/// The merged parameters of a request.
#[derive(Debug, Default, Clone)]
pub(super) struct Params {
    map: BTreeMap<String, Param>,
}

/// The body does not parse as its declared content type (Grape's `InvalidMessageBody`).
pub(super) const INVALID_BODY: &str = "message body does not match declared format";

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Params {
    /// Query string pairs in order, keys and values decoded (`+` is a space).
    pub(super) fn query_pairs(raw: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(raw.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn add_pair(&mut self, key: String, value: String) {
        match key.strip_suffix("[]") {
            Some(base) => match self.map.get_mut(base) {
                Some(Param::List(list)) => list.push(value),
                _ => {
                    self.map.insert(base.to_string(), Param::List(vec![value]));
                }
            },
            None => {
                self.map.insert(key, Param::Str(value));
            }
        }
    }

    /// Merges the query pairs and the body; `Err` when a JSON body does not parse.
    pub(super) fn parse(
        query: &[(String, String)],
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let mut p = Params::default();
        for (k, v) in query {
            p.add_pair(k.clone(), v.clone());
        }
        let is_json = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("json"));
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(p);
        }
        if is_json {
            let value: Value =
                serde_json::from_slice(body).map_err(|_| ApiError::grape(INVALID_BODY))?;
            let Value::Object(obj) = value else {
                return Err(ApiError::grape(INVALID_BODY));
            };
            for (k, v) in obj {
                let param = match v {
                    Value::Null => Param::Null,
                    Value::Array(items) => Param::List(items.iter().map(scalar).collect()),
                    other => Param::Str(scalar(&other)),
                };
                p.map.insert(k, param);
            }
        } else {
            for (k, v) in form_urlencoded::parse(body) {
                p.add_pair(k.into_owned(), v.into_owned());
            }
        }
        Ok(p)
    }

    /// Whether the key was sent at all (Grape's presence check).
    pub(super) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The raw value of a key.
    pub(super) fn get(&self, key: &str) -> Option<&Param> {
        self.map.get(key)
    }

    /// Adds a route parameter (path segments are params in Grape too).
    pub(super) fn set(&mut self, key: &str, value: &str) {
        self.map
            .insert(key.to_string(), Param::Str(value.to_string()));
    }
}

/// `Grape::API::Boolean` coercion (dry-types `Params::Bool`).
pub(super) fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
        "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// Grape `Integer` coercion: an optional sign and digits.
pub(super) fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// Typed access to [`Params`] collecting Grape's validation errors in declaration order.
pub(super) struct Check<'a> {
    params: &'a Params,
    errors: Vec<String>,
}

impl<'a> Check<'a> {
    pub(super) fn new(params: &'a Params) -> Self {
        Check {
            params,
            errors: Vec::new(),
        }
    }

    fn invalid(&mut self, key: &str) {
        self.errors.push(format!("{key} is invalid"));
    }

    /// `requires :key`: the key must be present.
    pub(super) fn require(&mut self, key: &str) {
        if !self.params.has(key) {
            self.errors.push(format!("{key} is missing"));
        }
    }

    /// A `String` parameter (`null` reads as absent).
    pub(super) fn string(&mut self, key: &str) -> Option<String> {
        match self.params.get(key)? {
            Param::Str(s) => Some(s.clone()),
            Param::Null => None,
            Param::List(_) => {
                self.invalid(key);
                None
            }
        }
    }

    /// A `Boolean` parameter; the empty string reads as absent.
    pub(super) fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.params.get(key)? {
            Param::Str(s) if s.is_empty() => None,
            Param::Str(s) => {
                let b = parse_bool(s);
                if b.is_none() {
                    self.invalid(key);
                }
                b
            }
            Param::Null => None,
            Param::List(_) => {
                self.invalid(key);
                None
            }
        }
    }

    /// An `Integer` parameter; the empty string reads as absent.
    pub(super) fn integer(&mut self, key: &str) -> Option<i64> {
        match self.params.get(key)? {
            Param::Str(s) if s.is_empty() => None,
            Param::Str(s) => {
                let n = parse_int(s);
                if n.is_none() {
                    self.invalid(key);
                }
                n
            }
            Param::Null => None,
            Param::List(_) => {
                self.invalid(key);
                None
            }
        }
    }

    /// A `DateTime` parameter: RFC 3339, or a bare `YYYY-MM-DD` (midnight UTC).
    pub(super) fn datetime(&mut self, key: &str) -> Option<OffsetDateTime> {
        let raw = self.string(key)?;
        if raw.is_empty() {
            return None;
        }
        let date = time::macros::format_description!("[year]-[month]-[day]");
        let parsed = OffsetDateTime::parse(&raw, &Rfc3339).ok().or_else(|| {
            time::Date::parse(&raw, &date)
                .ok()
                .map(|d| d.midnight().assume_utc())
        });
        if parsed.is_none() {
            self.invalid(key);
        }
        parsed
    }

    /// `Array[Integer]` with `CommaSeparatedToIntegerArray`: `k[]=1&k[]=2`, `k=1,2` or `[1,2]`.
    pub(super) fn int_list(&mut self, key: &str) -> Option<Vec<i64>> {
        let raw: Vec<String> = match self.params.get(key)? {
            Param::Str(s) => s.split(',').map(str::to_string).collect(),
            Param::List(items) => items
                .iter()
                .flat_map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>())
                .collect(),
            Param::Null => return None,
        };
        let mut out = Vec::new();
        for item in raw.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            match parse_int(item) {
                Some(n) => out.push(n),
                None => {
                    self.invalid(key);
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A `String` parameter restricted to `values`.
    pub(super) fn one_of(&mut self, key: &str, values: &[&str]) -> Option<String> {
        let v = self.string(key)?;
        if values.contains(&v.as_str()) {
            Some(v)
        } else {
            self.reject_value(key);
            None
        }
    }

    /// Reports a value outside the declared `values:` list.
    pub(super) fn reject_value(&mut self, key: &str) {
        self.errors
            .push(format!("{key} does not have a valid value"));
    }

    fn present(&self, keys: &[&str]) -> usize {
        keys.iter().filter(|k| self.params.has(k)).count()
    }

    /// `all_or_none_of`.
    pub(super) fn all_or_none(&mut self, keys: &[&str]) {
        let n = self.present(keys);
        if n != 0 && n != keys.len() {
            self.errors.push(format!(
                "{} provide all or none of parameters",
                keys.join(", ")
            ));
        }
    }

    /// `at_least_one_of`.
    pub(super) fn at_least_one(&mut self, keys: &[&str]) {
        if self.present(keys) == 0 {
            self.errors.push(format!(
                "{} are missing, at least one parameter must be provided",
                keys.join(", ")
            ));
        }
    }

    /// `mutually_exclusive`.
    pub(super) fn mutually_exclusive(&mut self, keys: &[&str]) {
        if self.present(keys) > 1 {
            self.errors
                .push(format!("{} are mutually exclusive", keys.join(", ")));
        }
    }

    /// The collected errors as one Grape 400, if any.
    pub(super) fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::grape(self.errors.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_query_form_and_json() {
        let q = Params::query_pairs("a=1&ids[]=2&ids[]=3&s=x+y");
        let p = Params::parse(&q, None, b"a=9&b=%2Fz").unwrap();
        assert_eq!(p.get("a"), Some(&Param::Str("9".into())));
        assert_eq!(p.get("b"), Some(&Param::Str("/z".into())));
        assert_eq!(p.get("s"), Some(&Param::Str("x y".into())));
        assert_eq!(
            p.get("ids"),
            Some(&Param::List(vec!["2".into(), "3".into()]))
        );
        let p = Params::parse(
            &[],
            Some("application/json"),
            br#"{"n":5,"t":true,"z":null,"l":[1,"2"]}"#,
        )
        .unwrap();
        assert_eq!(p.get("n"), Some(&Param::Str("5".into())));
        assert_eq!(p.get("t"), Some(&Param::Str("true".into())));
        assert_eq!(p.get("z"), Some(&Param::Null));
        assert_eq!(p.get("l"), Some(&Param::List(vec!["1".into(), "2".into()])));
        assert!(Params::parse(&[], Some("application/json"), b"[1]").is_err());
        assert!(Params::parse(&[], Some("application/json"), b"{").is_err());
    }

    #[test]
    fn grape_errors_in_order() {
        let q = Params::query_pairs("admin=maybe&n=x&extern_uid=1&v=bad");
        let p = Params::parse(&q, None, b"").unwrap();
        let mut c = Check::new(&p);
        c.require("email");
        assert_eq!(c.boolean("admin"), None);
        assert_eq!(c.integer("n"), None);
        c.all_or_none(&["extern_uid", "provider"]);
        assert_eq!(c.one_of("v", &["good"]), None);
        c.at_least_one(&["password", "reset_password"]);
        let err = c.finish().unwrap_err();
        assert_eq!(
            err.body_text(),
            r#"{"error":"email is missing, admin is invalid, n is invalid, extern_uid, provider provide all or none of parameters, v does not have a valid value, password, reset_password are missing, at least one parameter must be provided"}"#
        );
    }

    #[test]
    fn coercions() {
        assert_eq!(parse_bool("YES"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("nah"), None);
        assert_eq!(parse_int("-12"), Some(-12));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int(""), None);
        let p = Params::parse(&Params::query_pairs("u=1,2&w[]=3&w[]=4,5"), None, b"").unwrap();
        let mut c = Check::new(&p);
        assert_eq!(c.int_list("u"), Some(vec![1, 2]));
        assert_eq!(c.int_list("w"), Some(vec![3, 4, 5]));
        assert!(c.finish().is_ok());
    }
}
