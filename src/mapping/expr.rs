//! Expressions and value templates of the mapping language.
//!
//! Mapping files compute values with MiniJinja expressions (`backend.status != 'suspended'`) and
//! build request paths, queries and bodies from templates (`/api/v2/users/{{ key }}`). Everything
//! is compiled once at start-up; evaluation is pure and returns JSON values.
//!
//! A template string that is exactly one `{{ expression }}` keeps the expression's JSON type
//! (a boolean stays a boolean, a list stays a list), so bodies can carry typed values; any other
//! template renders to a string.
//!
//! Expressions read their variables through a [`Scope`], lazily: a bare path
//! (`backend.id`) is looked up in the JSON directly, and any other expression gets a MiniJinja
//! context holding only the parts of its variables it reads (known at compile time). So reading
//! one field of a platform object costs the same whether the object has ten fields or a group
//! with ten thousand members.

use std::borrow::Cow;
use std::collections::BTreeMap;
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

/// Where a context's variables come from (the typed contexts of `vars.rs`).
pub trait VarSource {
    /// One variable's value; `None` when it is not set (undefined in the expression).
    fn var(&self, name: &str) -> Option<Cow<'_, Value>>;

    /// A variable as MiniJinja reads it, when the context has a lazy form of it (a platform
    /// answer): expressions then read it as it is instead of converting the parts they read.
    fn lazy(&self, _name: &str) -> Option<JinjaValue> {
        None
    }
}

/// A JSON object is a context whose variables are its members (tests, ad-hoc contexts).
impl VarSource for Value {
    fn var(&self, name: &str) -> Option<Cow<'_, Value>> {
        self.get(name).map(Cow::Borrowed)
    }
}

/// The variables an expression can read, handed to [`Expr::eval`] and the templates' `render`.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    source: &'a dyn VarSource,
}

impl<'a> Scope<'a> {
    /// A scope over a context.
    pub fn new(source: &'a dyn VarSource) -> Scope<'a> {
        Scope { source }
    }

    fn var(&self, name: &str) -> Option<Cow<'a, Value>> {
        self.source.var(name)
    }

    fn lazy(&self, name: &str) -> Option<JinjaValue> {
        self.source.lazy(name)
    }
}

/// What of its variables an expression reads: a variable (or member) as a whole, or only
/// some of its members.
#[derive(Debug, Default)]
struct Reads {
    whole: bool,
    members: BTreeMap<String, Reads>,
}

impl Reads {
    /// The tree of the dotted paths an expression reads (see [`Expr::paths`]).
    fn of_paths(paths: &std::collections::HashSet<String>) -> Reads {
        let mut root = Reads::default();
        for path in paths {
            let mut node = &mut root;
            for segment in path.split('.') {
                node = node.members.entry(segment.to_owned()).or_default();
            }
            node.whole = true;
        }
        root
    }

    /// The part of `value` this node reads.
    fn prune(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) if !self.whole => {
                let mut out = serde_json::Map::new();
                for (key, reads) in &self.members {
                    if let Some(member) = map.get(key) {
                        out.insert(key.clone(), reads.prune(member));
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

/// A compiled expression together with its source, kept for messages and dry runs.
pub struct Expr {
    source: String,
    compiled: Expression<'static, 'static>,
    /// The variables it reads, and which of their members.
    reads: Reads,
    /// The expression is a bare path (`backend.profile.name`): its segments.
    path: Option<Vec<String>>,
    /// The expression plucks one member of each element of a list at a bare path
    /// (`backend.members | map(attribute='id') | list`): the path and the member.
    pluck: Option<Box<(Vec<String>, String)>>,
}

/// Where `}}` stands outside a string literal in an expression, if anywhere.
fn closing_braces_outside_strings(source: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut previous_brace = false;
    for (at, c) in source.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                previous_brace = false;
            }
            None => {
                if c == '}' && previous_brace {
                    return Some(at - 1);
                }
                previous_brace = c == '}';
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
            }
        }
    }
    None
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl Expr {
    /// Parses an expression; the error message quotes the source and says what is wrong.
    pub fn compile(source: &str) -> Result<Expr, String> {
        if let Some(at) = closing_braces_outside_strings(source) {
            // MiniJinja's lexer reads `}}` as the end of a `{{ }}` tag, which an expression has
            // none of, and panics (found by `cargo fuzz`, target `expr`).
            return Err(format!(
                "invalid expression `{source}`: `}}}}` at byte {at} (write `}} }}` to close two braces)"
            ));
        }
        // A panic inside the template engine is a mapping error here, never a crash of
        // `scimgate check` or of start-up.
        let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            environment().compile_expression_owned(source.to_owned())
        }))
        .map_err(|_| format!("invalid expression `{source}`: the template engine cannot read it"))?
        .map_err(|e| format!("invalid expression `{source}`: {}", describe(&e)))?;
        let reads = Reads::of_paths(&compiled.undeclared_variables(true));
        Ok(Expr {
            source: source.to_owned(),
            compiled,
            reads,
            path: bare_path(source),
            pluck: plucked_path(source).map(Box::new),
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
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Option<Value>, EvalError> {
        if let Some(found) = self.follow_path(scope) {
            return Ok(found.map(Cow::into_owned));
        }
        if let Some(plucked) = self.pluck(scope) {
            return Ok(Some(plucked));
        }
        let out = self.compiled.eval(self.context(scope))?;
        to_json(out)
    }

    /// A group's member keys read on every group read: a plucking expression evaluated in
    /// the JSON itself, where every element is an object holding the member (a warm group
    /// read spent a fifth of its CPU in MiniJinja here). `None` leaves it to MiniJinja.
    fn pluck(&self, scope: &Scope<'_>) -> Option<Value> {
        let (path, member) = self.pluck.as_deref()?;
        let found = follow(path, scope)??;
        let Value::Array(items) = &*found else {
            return None;
        };
        items
            .iter()
            .map(|item| item.as_object()?.get(member).cloned())
            .collect::<Option<Vec<Value>>>()
            .map(Value::Array)
    }

    /// A bare path's value looked up in the JSON itself: `Some(None)` when a member on the way
    /// is missing (undefined), `None` when MiniJinja must decide (the path crosses a value that
    /// is not an object).
    fn follow_path<'s>(&self, scope: &Scope<'s>) -> Option<Option<Cow<'s, Value>>> {
        follow(self.path.as_deref()?, scope)
    }

    /// A MiniJinja context with the parts of the scope's variables this expression reads,
    /// read lazily.
    fn context(&self, scope: &Scope<'_>) -> JinjaValue {
        self.reads
            .members
            .iter()
            .filter_map(|(name, reads)| {
                if let Some(lazy) = scope.lazy(name) {
                    return Some((name.as_str(), lazy));
                }
                let value = scope.var(name)?;
                // Converted to MiniJinja values only where the expression looks.
                let pruned = std::sync::Arc::new(reads.prune(&value));
                Some((name.as_str(), super::lazy::lazy(pruned)))
            })
            .collect()
    }

    /// The values of the paths the expression reads, by path, in path order (an undefined one
    /// is `null`): what chose a call, for `scimgate explain`.
    pub fn values_read(&self, ctx: &Scope<'_>) -> serde_json::Map<String, Value> {
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
    pub fn eval_bool(&self, scope: &Scope<'_>) -> Result<bool, EvalError> {
        if let Some(found) = self.follow_path(scope) {
            return Ok(found.is_some_and(|v| is_true(&v)));
        }
        Ok(self.compiled.eval(self.context(scope))?.is_true())
    }
}

/// [`Expr::follow_path`] for the path `segments`.
fn follow<'s>(segments: &[String], scope: &Scope<'s>) -> Option<Option<Cow<'s, Value>>> {
    let (root, members) = segments.split_first()?;

    let Some(mut value) = scope.var(root) else {
        return Some(None);
    };
    for member in members {
        let next = match &value {
            Cow::Borrowed(borrowed) => {
                let borrowed: &'s Value = borrowed;
                match borrowed {
                    Value::Object(map) => map.get(member).map(Cow::Borrowed),
                    _ => return None,
                }
            }
            Cow::Owned(Value::Object(map)) => map.get(member).cloned().map(Cow::Owned),
            Cow::Owned(_) => return None,
        };
        match next {
            Some(next) => value = next,
            None => return Some(None),
        }
    }
    Some(Some(value))
}

/// Jinja truthiness of a JSON value (as MiniJinja's `Value::is_true`).
fn is_true(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// `<bare path> | map(attribute='<name>') | list` (either quote, any spacing): the path and
/// the member name.
fn plucked_path(source: &str) -> Option<(Vec<String>, String)> {
    let parts: Vec<&str> = source.split('|').map(str::trim).collect();
    let [path, map, "list"] = parts.as_slice() else {
        return None;
    };
    let inner = map
        .strip_prefix("map")?
        .trim()
        .strip_prefix('(')?
        .strip_suffix(')')?
        .trim()
        .strip_prefix("attribute")?
        .trim()
        .strip_prefix('=')?
        .trim();
    let name = inner
        .strip_prefix('\'')
        .and_then(|n| n.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|n| n.strip_suffix('"')))?;
    // A name of digits would be an index for MiniJinja.
    let plain = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain.then(|| Some((bare_path(path)?, name.to_owned())))?
}

/// The segments of an expression that is only a dotted path of names (`backend.id`).
fn bare_path(source: &str) -> Option<Vec<String>> {
    let segments: Vec<String> = source.trim().split('.').map(str::to_owned).collect();
    let is_name = |s: &String| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let keyword = matches!(
        segments.first().map(String::as_str),
        Some("true" | "false" | "none" | "True" | "False" | "None" | "loop")
    );
    (!keyword && segments.iter().all(is_name)).then_some(segments)
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
    // A function named without a call (`dict`, `range`) is no value to send to a platform;
    // serialized it would be its Rust name (found by `cargo fuzz`, target `expr`).
    if value.kind() == minijinja::value::ValueKind::Plain {
        return Err(EvalError(format!(
            "expression result is a function, not a value (call it): {value}"
        )));
    }
    super::lazy::to_json(&value)
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
    pub fn render(&self, ctx: &Scope<'_>) -> Result<Option<Value>, EvalError> {
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
    pub fn render_string(&self, ctx: &Scope<'_>) -> Result<Option<String>, EvalError> {
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
    pub fn render(&self, ctx: &Scope<'_>) -> Result<Option<Value>, EvalError> {
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

    /// Found by `cargo fuzz` (target `expr`): a builtin function named without a call
    /// evaluated to its Rust name as a string.
    #[test]
    fn a_function_is_not_a_value() {
        let ctx = json!({});
        let scope = Scope::new(&ctx);
        let e = Expr::compile("(dict)").unwrap().eval(&scope).unwrap_err();
        assert!(e.0.contains("function"), "{}", e.0);
        assert!(Expr::compile("dict(a=1)").unwrap().eval(&scope).is_ok());
    }

    /// Found by `cargo fuzz` (target `expr`): MiniJinja's lexer panicked on `}}` in an
    /// expression. It is a mapping error now, naming where and what to write instead.
    #[test]
    fn closing_braces_in_an_expression_are_an_error_not_a_panic() {
        let e = Expr::compile("r}}esourb").unwrap_err();
        assert!(e.contains("`}}` at byte 1"), "{e}");
        let e = Expr::compile("{'a': {'b': 1}}").unwrap_err();
        assert!(e.contains("write `} }`"), "{e}");
        assert!(Expr::compile("{'a': {'b': 1} }").is_ok());
        // Inside a string literal they are text.
        assert!(Expr::compile("'}}' ~ scim.userName").is_ok());
        assert!(Expr::compile("\"a\\\"}}\" ~ x").is_ok());
    }
    use serde_json::json;

    #[test]
    fn typed_template_keeps_json_type() {
        let t = Template::compile("{{ backend.status != 'suspended' }}").unwrap();
        let out = t
            .render(&Scope::new(&json!({"backend": {"status": "dormant"}})))
            .unwrap();
        assert_eq!(out, Some(json!(true)));
    }

    #[test]
    fn text_template_renders_string() {
        let t = Template::compile("/api/v2/users/{{ key }}/status/suspend").unwrap();
        let out = t
            .render_string(&Scope::new(&json!({"key": "abc"})))
            .unwrap();
        assert_eq!(out.as_deref(), Some("/api/v2/users/abc/status/suspend"));
    }

    #[test]
    fn undefined_members_are_omitted() {
        let v = ValueTemplate::compile(&json!({"a": "{{ x.y }}", "b": "fixed", "c": ["{{ z }}"]}))
            .unwrap();
        let out = v.render(&Scope::new(&json!({"z": 1}))).unwrap();
        assert_eq!(out, Some(json!({"b": "fixed", "c": [1]})));
    }

    #[test]
    fn slug_follows_coder_rules() {
        let e = Expr::compile("value | local_part | slug(32)").unwrap();
        let out = e
            .eval(&Scope::new(&json!({"value": "Alice..Smith@Example.com"})))
            .unwrap();
        assert_eq!(out, Some(json!("alice-smith")));
        let long = e
            .eval(&Scope::new(&json!({"value": "a".repeat(40)})))
            .unwrap();
        assert_eq!(long, Some(json!("a".repeat(32))));
        let err = e.eval(&Scope::new(&json!({"value": "@@"}))).unwrap_err();
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
            let out = e.eval(&Scope::new(&json!({ "value": given }))).unwrap();
            assert_eq!(out, Some(json!(expected)), "{given}");
        }
    }

    #[test]
    fn primary_value_prefers_primary() {
        let e = Expr::compile("value | primary_value").unwrap();
        let emails = json!({"value": [{"value": "a@x"}, {"value": "b@x", "primary": true}]});
        assert_eq!(e.eval(&Scope::new(&emails)).unwrap(), Some(json!("b@x")));
        assert_eq!(e.eval(&Scope::new(&json!({}))).unwrap(), None);
    }

    /// Reading lazily (a bare path in the JSON, or a context with only what the expression
    /// reads) gives what MiniJinja gives over the whole context.
    #[test]
    fn lazy_reads_agree_with_the_whole_context() {
        let ctx = json!({
            "backend": {
                "id": "u1", "status": "active", "n": 0, "f": 1.5, "none": null, "empty": "",
                "profile": {"name": "Ann", "tags": ["a", "b"]},
                "members": [{"id": "m1"}, {"id": "m2"}],
                "mixed": [{"id": "m1"}, {"x": 1}, 3],
                "items": {"x": 1},
                "list": [1, 2],
            },
            "settings": {"org": "o1"},
            "key": "k1",
        });
        let whole = JinjaValue::from_serialize(&ctx);
        for source in [
            "backend.id",
            "backend.profile.name",
            "backend.profile.missing.deeper",
            "backend.missing",
            "nothing",
            "nothing.at.all",
            "backend.none",
            "backend.none.x",
            "backend.id.x",
            "backend.list.x",
            "backend.n",
            "backend.f",
            "backend.empty",
            "backend.profile",
            "backend.profile.tags | length",
            "backend.members | map(attribute='id') | list",
            "backend.members|map( attribute = \"id\" )|list",
            "backend.members | map(attribute='x') | list",
            "backend.mixed | map(attribute='id') | list",
            "backend.list | map(attribute='id') | list",
            "backend.items | map(attribute='x') | list",
            "backend.missing | map(attribute='id') | list",
            "backend.items.x",
            "backend.items | length",
            "backend.items | items | list | length",
            "backend.profile | dictsort | first",
            "backend.profile.name | upper",
            "backend.status != 'suspended' and settings.org == 'o1'",
            "(backend.missing or backend).id",
            "backend['id'] ~ '-' ~ key",
            "backend.id is defined and backend.gone is undefined",
            "true",
            "none",
        ] {
            let expr = Expr::compile(source).unwrap();
            let scope = Scope::new(&ctx);
            let expected = to_json(expr.compiled.eval(&whole).unwrap()).unwrap();
            assert_eq!(expr.eval(&scope).unwrap(), expected, "{source}");
            let truth = expr.compiled.eval(&whole).unwrap().is_true();
            assert_eq!(
                expr.eval_bool(&scope).unwrap(),
                truth,
                "{source} as a condition"
            );
        }
    }

    #[test]
    fn plucking_is_recognised_only_in_its_plain_form() {
        let plucked = |s: &str| Expr::compile(s).unwrap().pluck.is_some();
        assert!(plucked("backend.members | map(attribute='id') | list"));
        assert!(plucked("backend.members|map(attribute=\"user_id\")|list"));
        assert!(!plucked("backend.members | map(attribute='a.b') | list"));
        assert!(!plucked("backend.members | map('upper') | list"));
        assert!(!plucked("backend.members | map(attribute='0') | list"));
        assert!(!plucked(
            "backend.members | map(attribute='id') | unique | list"
        ));
        assert!(!plucked(
            "(backend.members or []) | map(attribute='id') | list"
        ));
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
