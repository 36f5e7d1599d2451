//! Expressions and value templates of the mapping language.
//!
//! Mapping files compute values with MiniJinja expressions (`backend.status != 'suspended'`) and
//! build request paths, queries and bodies from templates (`/api/v2/users/{{ key }}`). Everything
//! is compiled once at start-up; evaluation is pure and returns JSON values.
//!
//! A template string that is exactly one `{{ expression }}` keeps the expression's JSON type
//! (a boolean stays a boolean, a list stays a list), so bodies can carry typed values; any other
//! template renders to a string.

use std::sync::OnceLock;

use minijinja::value::Value as JinjaValue;
use minijinja::{Environment, Error as JinjaError, ErrorKind, Expression, UndefinedBehavior};
use serde_json::Value;

/// The one environment all expressions are compiled in. Its filters are fixed by the gateway
/// (not by mapping files), so a process-wide environment lets compiled expressions be `'static`.
fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `resource.name.givenName` on a user without `name` is "no value", not an error.
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.add_filter("local_part", local_part);
        env.add_filter("slug", slug);
        env.add_filter("primary_value", primary_value);
        env.add_filter("require", require);
        env
    })
}

/// Why evaluating an expression failed; the mapping layer turns it into a SCIM `invalidValue`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

impl From<JinjaError> for EvalError {
    fn from(err: JinjaError) -> Self {
        // The custom filters put the operator-facing message in the detail.
        EvalError(
            err.detail()
                .map(str::to_owned)
                .unwrap_or_else(|| err.to_string()),
        )
    }
}

/// A compiled expression together with its source, kept for messages and dry runs.
pub struct Expr {
    source: String,
    compiled: Expression<'static, 'static>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl Expr {
    /// Parses an expression; the error message quotes the source and says what is wrong.
    pub fn compile(source: &str) -> Result<Expr, String> {
        let compiled = environment()
            .compile_expression_owned(source.to_owned())
            .map_err(|e| format!("invalid expression `{source}`: {}", describe(&e)))?;
        Ok(Expr {
            source: source.to_owned(),
            compiled,
        })
    }

    /// The expression as written in the mapping file.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The top-level variables the expression reads.
    pub fn variables(&self) -> std::collections::HashSet<String> {
        self.compiled.undeclared_variables(false)
    }

    /// The dotted paths the expression reads (`backend.status`; a bare `backend` when it reads
    /// the variable as a whole, e.g. by a computed key).
    pub fn paths(&self) -> std::collections::HashSet<String> {
        self.compiled.undeclared_variables(true)
    }

    /// Evaluates to JSON; an undefined result is `None` so callers can omit the value.
    pub fn eval(&self, ctx: &JinjaValue) -> Result<Option<Value>, EvalError> {
        let out = self.compiled.eval(ctx)?;
        to_json(out)
    }

    /// The values of the paths the expression reads, by path, in path order (an undefined one
    /// is `null`): what chose a call, for `scimgate explain`.
    pub fn values_read(&self, ctx: &JinjaValue) -> serde_json::Map<String, Value> {
        let mut paths: Vec<String> = self.paths().into_iter().collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| {
                let value = Expr::compile(&path)
                    .ok()
                    .and_then(|e| e.eval(ctx).ok().flatten())
                    .unwrap_or(Value::Null);
                (path, value)
            })
            .collect()
    }

    /// Evaluates as a condition (Jinja truthiness; undefined is false).
    pub fn eval_bool(&self, ctx: &JinjaValue) -> Result<bool, EvalError> {
        Ok(self.compiled.eval(ctx)?.is_true())
    }
}

fn describe(err: &JinjaError) -> String {
    match err.detail() {
        Some(detail) => format!("{} ({detail})", err.kind()),
        None => err.kind().to_string(),
    }
}

fn to_json(value: JinjaValue) -> Result<Option<Value>, EvalError> {
    if value.is_undefined() {
        return Ok(None);
    }
    serde_json::to_value(&value)
        .map(Some)
        .map_err(|e| EvalError(format!("expression result is not JSON: {e}")))
}

/// A string template: either one typed expression or a string with `{{ }}` parts.
#[derive(Debug)]
pub enum Template {
    /// No `{{ }}`: the text as written.
    Literal(String),
    /// Exactly one `{{ expression }}`: its value keeps its JSON type.
    Typed(Expr),
    /// Text mixed with `{{ }}` parts: renders to a string.
    Text(Vec<TextPart>),
}

/// One piece of a text template.
#[derive(Debug)]
pub enum TextPart {
    /// Text copied as is.
    Literal(String),
    /// A `{{ expression }}` whose value is written as text (nothing when undefined or null).
    Expr(Expr),
}

impl Template {
    /// Parses a template string; unbalanced or unclosed braces and bad expressions are errors.
    pub fn compile(source: &str) -> Result<Template, String> {
        let trimmed = source.trim();
        if let Some(inner) = single_expression(trimmed) {
            return Ok(Template::Typed(Expr::compile(inner.trim())?));
        }
        if !source.contains("{{") {
            if source.contains("}}") {
                return Err(format!("unbalanced `}}}}` in template `{source}`"));
            }
            return Ok(Template::Literal(source.to_owned()));
        }
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            let (before, after) = rest.split_at(start);
            if before.contains("}}") {
                return Err(format!("unbalanced `}}}}` in template `{source}`"));
            }
            if !before.is_empty() {
                parts.push(TextPart::Literal(before.to_owned()));
            }
            let after = &after[2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in template `{source}`"))?;
            parts.push(TextPart::Expr(Expr::compile(after[..end].trim())?));
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("unbalanced `}}}}` in template `{source}`"));
        }
        if !rest.is_empty() {
            parts.push(TextPart::Literal(rest.to_owned()));
        }
        Ok(Template::Text(parts))
    }

    /// The top-level variables the template reads.
    pub fn variables(&self) -> std::collections::HashSet<String> {
        match self {
            Template::Literal(_) => Default::default(),
            Template::Typed(e) => e.variables(),
            Template::Text(parts) => parts
                .iter()
                .flat_map(|p| match p {
                    TextPart::Literal(_) => Default::default(),
                    TextPart::Expr(e) => e.variables(),
                })
                .collect(),
        }
    }

    /// The dotted paths the template reads (see [`Expr::paths`]).
    pub fn paths(&self) -> std::collections::HashSet<String> {
        self.exprs().flat_map(Expr::paths).collect()
    }

    /// The expressions of the template.
    pub fn exprs(&self) -> Box<dyn Iterator<Item = &Expr> + '_> {
        match self {
            Template::Literal(_) => Box::new(std::iter::empty()),
            Template::Typed(e) => Box::new(std::iter::once(e)),
            Template::Text(parts) => Box::new(parts.iter().filter_map(|p| match p {
                TextPart::Literal(_) => None,
                TextPart::Expr(e) => Some(e),
            })),
        }
    }

    /// Renders; `None` when a typed expression is undefined (the caller omits the value).
    pub fn render(&self, ctx: &JinjaValue) -> Result<Option<Value>, EvalError> {
        match self {
            Template::Literal(s) => Ok(Some(Value::String(s.clone()))),
            Template::Typed(expr) => expr.eval(ctx),
            Template::Text(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        TextPart::Literal(s) => out.push_str(s),
                        TextPart::Expr(expr) => match expr.eval(ctx)? {
                            None | Some(Value::Null) => {}
                            Some(Value::String(s)) => out.push_str(&s),
                            Some(other) => out.push_str(&other.to_string()),
                        },
                    }
                }
                Ok(Some(Value::String(out)))
            }
        }
    }

    /// Renders to a string (paths, query values, headers).
    pub fn render_string(&self, ctx: &JinjaValue) -> Result<Option<String>, EvalError> {
        Ok(self.render(ctx)?.and_then(|v| match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }))
    }
}

/// `"{{ expr }}"` with nothing around it and no second `{{`.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") {
        return None;
    }
    Some(inner)
}

/// A JSON value whose string leaves are templates: the body of a backend request.
#[derive(Debug)]
pub enum ValueTemplate {
    /// A value with no template in it (numbers, booleans, null, plain strings).
    Fixed(Value),
    /// A string with `{{ }}` parts.
    String(Template),
    /// An array whose elements are templates.
    Array(Vec<ValueTemplate>),
    /// An object whose member values are templates.
    Object(Vec<(String, ValueTemplate)>),
}

impl ValueTemplate {
    /// Compiles every string leaf of a JSON value as a template.
    pub fn compile(value: &Value) -> Result<ValueTemplate, String> {
        Ok(match value {
            Value::String(s) => match Template::compile(s)? {
                Template::Literal(lit) => ValueTemplate::Fixed(Value::String(lit)),
                other => ValueTemplate::String(other),
            },
            Value::Array(items) => ValueTemplate::Array(
                items
                    .iter()
                    .map(ValueTemplate::compile)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => ValueTemplate::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), ValueTemplate::compile(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => ValueTemplate::Fixed(other.clone()),
        })
    }

    /// The templates of the value, depth first.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            ValueTemplate::Fixed(_) => Vec::new(),
            ValueTemplate::String(t) => vec![t],
            ValueTemplate::Array(items) => items.iter().flat_map(|i| i.templates()).collect(),
            ValueTemplate::Object(members) => {
                members.iter().flat_map(|(_, t)| t.templates()).collect()
            }
        }
    }

    /// Renders; object members whose value is undefined are left out.
    pub fn render(&self, ctx: &JinjaValue) -> Result<Option<Value>, EvalError> {
        match self {
            ValueTemplate::Fixed(v) => Ok(Some(v.clone())),
            ValueTemplate::String(t) => t.render(ctx),
            ValueTemplate::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(v) = item.render(ctx)? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            ValueTemplate::Object(members) => {
                let mut out = serde_json::Map::new();
                for (k, t) in members {
                    if let Some(v) = t.render(ctx)? {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
        }
    }
}

fn invalid(msg: String) -> JinjaError {
    // The message travels as the error's detail; `EvalError::from` picks it up.
    JinjaError::new(ErrorKind::InvalidOperation, msg)
}

/// `"Alice.Smith@example.com" | local_part` → `"Alice.Smith"`; strings without `@` pass through.
fn local_part(value: String) -> String {
    match value.split_once('@') {
        Some((local, _)) => local.to_owned(),
        None => value,
    }
}

/// Lower-cases and keeps `[a-z0-9]`, joining runs of anything else with one `-`, trimmed and cut
/// to `max_len` (platform user names such as Coder's). An empty result is an error, so an IdP
/// gets a clear `invalidValue` instead of a platform error about an empty name.
fn slug(value: String, max_len: Option<usize>, keep: Option<String>) -> Result<String, JinjaError> {
    let max_len = max_len.unwrap_or(usize::MAX);
    let keep = keep.unwrap_or_default();
    let mut out = String::with_capacity(value.len());
    // The separator a run of other characters becomes: the first kept one in it, else `-`.
    let mut pending: Option<char> = None;
    for c in value.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            if let Some(sep) = pending.take() {
                if !out.is_empty() {
                    out.push(sep);
                }
            }
            out.push(c);
        } else if keep.contains(c) {
            pending = match pending {
                None | Some('-') if c != '-' => Some(c),
                other => other.or(Some(c)),
            };
        } else {
            pending = pending.or(Some('-'));
        }
    }
    if out.len() > max_len {
        out.truncate(max_len);
        while out.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
            out.pop();
        }
    }
    if out.is_empty() {
        return Err(invalid(format!(
            "`{value}` has no letters or digits to build a platform name from"
        )));
    }
    Ok(out)
}

/// The `value` of the primary element of a SCIM multi-valued attribute, else of the first.
fn primary_value(value: JinjaValue) -> Result<JinjaValue, JinjaError> {
    if value.is_undefined() || value.is_none() {
        return Ok(JinjaValue::UNDEFINED);
    }
    let mut first = None;
    for item in value.try_iter()? {
        let is_primary = item
            .get_attr("primary")
            .map(|p| p.is_true())
            .unwrap_or(false);
        let v = item.get_attr("value").unwrap_or(JinjaValue::UNDEFINED);
        if is_primary {
            return Ok(v);
        }
        if first.is_none() {
            first = Some(v);
        }
    }
    Ok(first.unwrap_or(JinjaValue::UNDEFINED))
}

/// `value | require("an email")` fails with a clear message when the value is missing or empty.
fn require(value: JinjaValue, what: String) -> Result<JinjaValue, JinjaError> {
    if value.is_undefined() || value.is_none() || value.as_str() == Some("") {
        return Err(invalid(format!("{what} is required by the platform")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(v: Value) -> JinjaValue {
        JinjaValue::from_serialize(&v)
    }

    #[test]
    fn typed_template_keeps_json_type() {
        let t = Template::compile("{{ backend.status != 'suspended' }}").unwrap();
        let out = t
            .render(&ctx(json!({"backend": {"status": "dormant"}})))
            .unwrap();
        assert_eq!(out, Some(json!(true)));
    }

    #[test]
    fn text_template_renders_string() {
        let t = Template::compile("/api/v2/users/{{ key }}/status/suspend").unwrap();
        let out = t.render_string(&ctx(json!({"key": "abc"}))).unwrap();
        assert_eq!(out.as_deref(), Some("/api/v2/users/abc/status/suspend"));
    }

    #[test]
    fn undefined_members_are_omitted() {
        let v = ValueTemplate::compile(&json!({"a": "{{ x.y }}", "b": "fixed", "c": ["{{ z }}"]}))
            .unwrap();
        let out = v.render(&ctx(json!({"z": 1}))).unwrap();
        assert_eq!(out, Some(json!({"b": "fixed", "c": [1]})));
    }

    #[test]
    fn slug_follows_coder_rules() {
        let e = Expr::compile("value | local_part | slug(32)").unwrap();
        let out = e
            .eval(&ctx(json!({"value": "Alice..Smith@Example.com"})))
            .unwrap();
        assert_eq!(out, Some(json!("alice-smith")));
        let long = e.eval(&ctx(json!({"value": "a".repeat(40)}))).unwrap();
        assert_eq!(long, Some(json!("a".repeat(32))));
        let err = e.eval(&ctx(json!({"value": "@@"}))).unwrap_err();
        assert!(err.0.contains("no letters or digits"), "{}", err.0);
    }

    #[test]
    fn slug_keeps_the_separators_a_platform_allows() {
        // GitLab usernames allow `.`, `_` and `-` between letters and digits, never two in a
        // row, never at either end.
        let e = Expr::compile("value | local_part | slug(255, '._-')").unwrap();
        for (given, expected) in [
            ("John.Doe@example.com", "john.doe"),
            ("Bob_Smith", "bob_smith"),
            ("a._b", "a.b"),
            ("a -b", "a-b"),
            ("a .b", "a.b"),
            ("_lead.trail_", "lead.trail"),
            ("x y", "x-y"),
        ] {
            let out = e.eval(&ctx(json!({ "value": given }))).unwrap();
            assert_eq!(out, Some(json!(expected)), "{given}");
        }
    }

    #[test]
    fn primary_value_prefers_primary() {
        let e = Expr::compile("value | primary_value").unwrap();
        let emails = json!({"value": [{"value": "a@x"}, {"value": "b@x", "primary": true}]});
        assert_eq!(e.eval(&ctx(emails)).unwrap(), Some(json!("b@x")));
        assert_eq!(e.eval(&ctx(json!({}))).unwrap(), None);
    }

    #[test]
    fn bad_expression_is_reported() {
        let err = Expr::compile("backend.status !=").unwrap_err();
        assert!(err.contains("backend.status !="), "{err}");
        assert!(Template::compile("{{ a ").is_err());
        assert!(Template::compile("a }}").is_err());
    }

    #[test]
    fn expressions_tell_the_paths_they_read() {
        let paths = |source: &str| {
            let mut p: Vec<String> = Expr::compile(source).unwrap().paths().into_iter().collect();
            p.sort();
            p
        };
        assert_eq!(
            paths("changed.username or changed.name"),
            ["changed.name", "changed.username"]
        );
        assert_eq!(
            paths("backend.members | map(attribute='id') | list"),
            ["backend.members"]
        );
        assert_eq!(
            paths("response | rejectattr('id', 'eq', settings.organization_id) | list"),
            ["response", "settings.organization_id"]
        );
        assert_eq!(
            paths("(backend.user or backend).x"),
            ["backend", "backend.user"]
        );
        assert_eq!(
            paths("resource.name.givenName ~ key"),
            ["key", "resource.name.givenName"]
        );
        assert_eq!(paths("scim['urn:x:User'].a"), ["scim"]);
        let t = Template::compile("/users/{{ key }}/x/{{ settings.org }}").unwrap();
        let mut p: Vec<String> = t.paths().into_iter().collect();
        p.sort();
        assert_eq!(p, ["key", "settings.org"]);
    }
}
