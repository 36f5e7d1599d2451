//! SCIM filters (RFC 7644 §3.4.2.2): the full ABNF of Figure 1 — comparison
//! and presence tests, `and`/`or`/`not`, grouping and value paths — and their
//! evaluation against a resource with the attribute rules of RFC 7643 §2.
//!
//! Parsing is a recursive descent over characters so that every error can
//! name the 0-based character position where the input stopped making sense.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use super::dialect::Dialect;
use super::error::{ScimError, ScimType};
use super::path::{parse_attr_path_at, AttrPath, Syntax};
use super::schema::{AttrType, Attribute, Registry, ResourceType};
use super::value::{fold, get_ci, is_present, parse_datetime};

/// Longest filter accepted, in bytes; bounds parse time and the AST size.
pub const MAX_FILTER_LEN: usize = 8192;
/// Deepest nesting of parentheses, `not (...)` and `[...]` accepted; bounds
/// recursion so a hostile filter cannot exhaust the stack.
pub const MAX_FILTER_DEPTH: usize = 32;

/// A comparison operator of RFC 7644 §3.4.2.2 (Table 3); written in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: some value equals the literal; `eq null` means the attribute is unassigned.
    Eq,
    /// `ne`: no value equals the literal, so an absent attribute matches.
    Ne,
    /// `co`: a string value contains the literal.
    Co,
    /// `sw`: a string value starts with the literal.
    Sw,
    /// `ew`: a string value ends with the literal.
    Ew,
    /// `gt`: a value is greater; strings compare lexically, dateTimes in time order.
    Gt,
    /// `ge`: a value is greater than or equal to the literal.
    Ge,
    /// `lt`: a value is less than the literal.
    Lt,
    /// `le`: a value is less than or equal to the literal.
    Le,
}

const ALL_OPS: [CompareOp; 9] = [
    CompareOp::Eq,
    CompareOp::Ne,
    CompareOp::Co,
    CompareOp::Sw,
    CompareOp::Ew,
    CompareOp::Gt,
    CompareOp::Ge,
    CompareOp::Lt,
    CompareOp::Le,
];

impl CompareOp {
    /// The lowercase keyword, as the RFC writes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Operators are case-insensitive (RFC 7644 §3.4.2.2).
    pub fn parse(s: &str) -> Option<CompareOp> {
        ALL_OPS
            .iter()
            .copied()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// gt, ge, lt, le: the operators RFC 7644 forbids on boolean and binary.
    pub fn is_ordering(&self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// co, sw, ew: substring operators, meaningful on strings only.
    pub fn is_substring(&self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `compValue` of the ABNF.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A JSON string, escapes decoded.
    String(String),
    /// A JSON number, kept exact.
    Number(serde_json::Number),
    /// `true` or `false`, accepted in any case.
    Bool(bool),
    /// `null`, read as "unassigned" (RFC 7643 §2.5); only `eq` and `ne` can match it.
    Null,
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write!(f, "{}", Value::String(s.clone())),
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

/// A parsed filter (RFC 7644 §3.4.2.2, Figure 1); `Display` prints text that parses back to
/// the same tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `attr op value`: true when a value of the attribute satisfies it (`ne`: when none is
    /// equal).
    Compare {
        /// The attribute compared; a complex one stands for its `value` sub-attribute.
        path: AttrPath,
        /// The comparison operator.
        op: CompareOp,
        /// The literal compared against.
        value: Literal,
    },
    /// `emails[type eq "work" and value co "@example.com"]`; paths in the inner filter are
    /// relative to the element.
    ValuePath {
        /// The multi-valued or complex attribute whose elements are tested.
        path: AttrPath,
        /// The test each element gets; the whole filter matches if any element passes.
        filter: Box<Filter>,
    },
    /// `a and b`: both operands match.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`: at least one operand matches.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`: the operand does not match.
    Not(Box<Filter>),
}

impl fmt::Display for Filter {
    /// Prints a filter that parses back to the same tree: a child is put in
    /// parentheses when precedence or left-associativity would regroup it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::And(a, b) => {
                write_operand(f, a, matches!(**a, Filter::Or(..)))?;
                f.write_str(" and ")?;
                write_operand(f, b, matches!(**b, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(a, b) => {
                write_operand(f, a, false)?;
                f.write_str(" or ")?;
                write_operand(f, b, matches!(**b, Filter::Or(..)))
            }
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, x: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({x})")
    } else {
        write!(f, "{x}")
    }
}

/// Parses a filter of at most [`MAX_FILTER_LEN`] bytes as RFC 7644 writes it; errors are 400
/// invalidFilter naming the character position. Attributes are not checked here: see
/// [`Filter::validate`].
pub fn parse_filter(s: &str) -> Result<Filter, ScimError> {
    parse_filter_in(s, Dialect::Strict)
}

/// [`parse_filter`] in a dialect: [`Dialect::Lenient`] also reads the IdP forms listed in
/// [`super::dialect`].
pub fn parse_filter_in(s: &str, dialect: Dialect) -> Result<Filter, ScimError> {
    parse_fragment(s, 0, false, dialect).map_err(|e| {
        ScimError::bad_request(
            ScimType::InvalidFilter,
            format!("invalid filter at position {}: {}", e.pos, e.message),
        )
    })
}

/// Parses a whole filter, or the inside of a `[...]` when `in_brackets`;
/// positions are reported as if `s` began at character `base`.
pub(crate) fn parse_fragment(
    s: &str,
    base: usize,
    in_brackets: bool,
    dialect: Dialect,
) -> Result<Filter, Syntax> {
    if s.len() > MAX_FILTER_LEN {
        return Err(Syntax::new(
            base,
            format!("filter is longer than {MAX_FILTER_LEN} bytes"),
        ));
    }
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
        base,
        depth: usize::from(in_brackets),
        lenient: dialect.is_lenient(),
    };
    let filter = p.parse_or(in_brackets)?;
    p.skip_ws();
    match p.peek() {
        None => Ok(filter),
        Some(')') => Err(p.err(p.pos, "')' without a matching '('")),
        Some(_) => Err(p.err(
            p.pos,
            format!(
                "expected 'and', 'or' or the end of the filter, found {}",
                p.describe(p.pos)
            ),
        )),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    base: usize,
    depth: usize,
    /// Whether the IdP dialects of [`Dialect::Lenient`] are read.
    lenient: bool,
}

/// A character of an unquoted value ([`Dialect::Lenient`]).
fn is_bare_char(c: char) -> bool {
    !c.is_whitespace() && !"[]()\"".contains(c)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '$')
}

impl Parser {
    fn err(&self, at: usize, message: impl Into<String>) -> Syntax {
        Syntax::new(self.base + at, message)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars
            .get(from..to)
            .unwrap_or_default()
            .iter()
            .collect()
    }

    /// The run of letters/digits at `at`, and where it ends.
    fn word_at(&self, at: usize) -> (String, usize) {
        let mut end = at;
        while self
            .chars
            .get(end)
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            end += 1;
        }
        (self.text(at, end), end)
    }

    /// The unquoted value at `at` (up to a space, a bracket, a parenthesis or a quote), and
    /// where it ends.
    fn bare_word_at(&self, at: usize) -> (String, usize) {
        let mut end = at;
        while self.chars.get(end).is_some_and(|c| is_bare_char(*c)) {
            end += 1;
        }
        (self.text(at, end), end)
    }

    /// What the input holds at `at`, for error messages.
    fn describe(&self, at: usize) -> String {
        let mut end = at;
        while end < self.chars.len() && end - at < 20 {
            match self.chars.get(end) {
                Some(c) if c.is_whitespace() => break,
                _ => end += 1,
            }
        }
        if end == at {
            "the end of the filter".to_owned()
        } else {
            format!("\"{}\"", self.text(at, end))
        }
    }

    /// Consumes keyword `kw` (any case) if it stands alone at the cursor.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let (word, end) = self.word_at(self.pos);
        let standalone = !self.chars.get(end).is_some_and(|c| is_name_char(*c));
        if standalone && word.eq_ignore_ascii_case(kw) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), Syntax> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(self.err(
                at,
                format!("filter is nested more than {MAX_FILTER_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    fn close(&mut self, c: char, opened_at: usize) -> Result<(), Syntax> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            self.depth = self.depth.saturating_sub(1);
            Ok(())
        } else {
            Err(self.err(
                self.pos,
                format!(
                    "expected '{c}' to close the one opened at position {}, found {}",
                    self.base + opened_at,
                    self.describe(self.pos)
                ),
            ))
        }
    }

    fn parse_or(&mut self, in_brackets: bool) -> Result<Filter, Syntax> {
        let mut left = self.parse_and(in_brackets)?;
        loop {
            self.skip_ws();
            if !self.eat_keyword("or") {
                return Ok(left);
            }
            let right = self.parse_and(in_brackets)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
    }

    fn parse_and(&mut self, in_brackets: bool) -> Result<Filter, Syntax> {
        let mut left = self.parse_factor(in_brackets)?;
        loop {
            self.skip_ws();
            if !self.eat_keyword("and") {
                return Ok(left);
            }
            let right = self.parse_factor(in_brackets)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    fn parse_factor(&mut self, in_brackets: bool) -> Result<Filter, Syntax> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('(') {
            self.pos += 1;
            self.enter(start)?;
            let inner = self.parse_or(in_brackets)?;
            self.close(')', start)?;
            return Ok(inner);
        }
        if self.eat_keyword("not") {
            self.skip_ws();
            if self.peek() == Some('(') {
                let open = self.pos;
                self.pos += 1;
                self.enter(open)?;
                let inner = self.parse_or(in_brackets)?;
                self.close(')', open)?;
                return Ok(Filter::Not(Box::new(inner)));
            }
            // An attribute may itself be called "not"; only then is an
            // operator next instead of '('.
            let (word, _) = self.word_at(self.pos);
            let is_op = word.eq_ignore_ascii_case("pr") || CompareOp::parse(&word).is_some();
            if !is_op {
                return Err(self.err(
                    self.pos,
                    format!(
                        "expected '(' after 'not' (the ABNF requires parentheses), found {}",
                        self.describe(self.pos)
                    ),
                ));
            }
            self.pos = start;
        }
        self.parse_attr_expr(in_brackets)
    }

    fn parse_attr_expr(&mut self, in_brackets: bool) -> Result<Filter, Syntax> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && !"[]()\"".contains(c))
        {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(
                start,
                format!(
                    "expected an attribute path, '(' or 'not', found {}",
                    self.describe(start)
                ),
            ));
        }
        let token = self.text(start, self.pos);
        let path = parse_attr_path_at(&token, self.base + start)?;

        if self.peek() == Some('[') {
            let open = self.pos;
            if in_brackets {
                return Err(self.err(open, "value filters cannot be nested"));
            }
            if path.sub.is_some() {
                return Err(self.err(
                    open,
                    "a value filter must follow the attribute name, not a sub-attribute",
                ));
            }
            self.pos += 1;
            self.enter(open)?;
            let mut inner = self.parse_or(true)?;
            self.close(']', open)?;
            if self.peek() == Some('.') {
                if !self.lenient {
                    return Err(self.err(
                        self.pos,
                        "a sub-attribute after ']' is only allowed in PATCH paths, not in filters",
                    ));
                }
                // Entra ID's `emails[type eq "work"].value eq "x"`: the element must pass
                // both tests, so the comparison joins the value filter.
                self.pos += 1;
                let sub_start = self.pos;
                while self.peek().is_some_and(is_name_char) {
                    self.pos += 1;
                }
                let sub = self.text(sub_start, self.pos);
                let sub_path = parse_attr_path_at(&sub, self.base + sub_start)?;
                let test = self.parse_condition(sub_path, &sub)?;
                inner = Filter::And(Box::new(inner), Box::new(test));
            }
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(inner),
            });
        }
        self.parse_condition(path, &token)
    }

    /// The operator and value after the attribute `path`, written `token` in the input.
    fn parse_condition(&mut self, path: AttrPath, token: &str) -> Result<Filter, Syntax> {
        self.skip_ws();
        let op_start = self.pos;
        let (word, end) = self.word_at(op_start);
        if word.eq_ignore_ascii_case("pr") {
            self.pos = end;
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(&word) else {
            return Err(self.err(
                op_start,
                format!(
                    "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after \"{token}\", found {}",
                    self.describe(op_start)
                ),
            ));
        };
        self.pos = end;
        self.skip_ws();
        let value = self.parse_literal()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_literal(&mut self) -> Result<Literal, Syntax> {
        let start = self.pos;
        match self.peek() {
            Some('"') => {
                let mut end = start + 1;
                let mut escaped = false;
                loop {
                    match self.chars.get(end) {
                        None => return Err(self.err(start, "string literal is never closed")),
                        Some('\\') if !escaped => escaped = true,
                        Some('"') if !escaped => break,
                        Some(_) => escaped = false,
                    }
                    end += 1;
                }
                let text = self.text(start, end + 1);
                let s: String = serde_json::from_str(&text)
                    .map_err(|e| self.err(start, format!("invalid string literal: {e}")))?;
                self.pos = end + 1;
                Ok(Literal::String(s))
            }
            Some(c) if self.lenient && is_bare_char(c) => {
                let (word, end) = self.bare_word_at(start);
                self.pos = end;
                Ok(match word.to_ascii_lowercase().as_str() {
                    "true" => Literal::Bool(true),
                    "false" => Literal::Bool(false),
                    "null" => Literal::Null,
                    // Numbers too: `Filter::settle` makes them numbers where the attribute is.
                    _ => Literal::String(word),
                })
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let mut end = start;
                while self
                    .chars
                    .get(end)
                    .is_some_and(|c| c.is_ascii_digit() || "+-.eE".contains(*c))
                {
                    end += 1;
                }
                let text = self.text(start, end);
                let n = parse_number(&text)
                    .ok_or_else(|| self.err(start, format!("\"{text}\" is not a valid number")))?;
                self.pos = end;
                Ok(Literal::Number(n))
            }
            _ => {
                let (word, end) = self.word_at(start);
                let lit = match word.to_ascii_lowercase().as_str() {
                    "true" => Literal::Bool(true),
                    "false" => Literal::Bool(false),
                    "null" => Literal::Null,
                    _ => {
                        return Err(self.err(
                            start,
                            format!(
                                "expected a value (a JSON string, number, true, false or null), found {}",
                                self.describe(start)
                            ),
                        ))
                    }
                };
                self.pos = end;
                Ok(lit)
            }
        }
    }
}

/// Where a filter is being evaluated: the resource itself, or one element of
/// a multi-valued attribute inside `[...]` (whose definition, if known, gives
/// the sub-attribute types).
#[derive(Clone, Copy)]
enum Scope<'v, 'r> {
    Root(&'v Value),
    Element(&'v Value, Option<&'r Attribute>),
}

impl Filter {
    /// Whether `resource`, a resource of type `rt` in its SCIM JSON form, satisfies the filter.
    pub fn matches(&self, resource: &Value, registry: &Registry, rt: &ResourceType) -> bool {
        eval(self, Scope::Root(resource), registry, rt)
    }

    /// Rejects filters RFC 7644 §3.4.2.2 says must fail with 400
    /// invalidFilter: ordering operators on boolean or binary attributes,
    /// and literals of the wrong type for a known attribute. Unknown
    /// attributes pass: they simply match nothing.
    pub fn validate(&self, registry: &Registry, rt: &ResourceType) -> Result<(), ScimError> {
        validate_in(self, None, registry, rt)
    }

    /// The first attribute the filter names that no schema of `rt` defines, if any; the
    /// interoperability profile's strict mode answers it 400 invalidFilter, where RFC 7644
    /// lets it match nothing.
    pub fn undefined(&self, registry: &Registry, rt: &ResourceType) -> Option<String> {
        undefined_in(self, None, registry, rt)
    }

    /// For [`Dialect::Lenient`], which reads unquoted values as strings: a string literal
    /// compared with an integer or decimal attribute that reads as a number becomes that
    /// number (`age eq 42`, `age eq "42"`). Other literals are left as they are.
    pub fn settle(&mut self, registry: &Registry, rt: &ResourceType) {
        settle_in(self, None, registry, rt);
    }
}

/// Evaluates a `[...]` filter against one element of `attr`, as PATCH
/// value paths need (RFC 7644 §3.5.2).
pub(crate) fn matches_element(
    filter: &Filter,
    element: &Value,
    attr: Option<&Attribute>,
    registry: &Registry,
    rt: &ResourceType,
) -> bool {
    eval(filter, Scope::Element(element, attr), registry, rt)
}

/// [`Filter::validate`] for a `[...]` filter whose paths are relative to `attr`.
pub(crate) fn validate_element(
    filter: &Filter,
    attr: Option<&Attribute>,
    registry: &Registry,
    rt: &ResourceType,
) -> Result<(), ScimError> {
    match attr {
        Some(attr) => validate_in(filter, Some(attr), registry, rt),
        None => Ok(()),
    }
}

fn eval(f: &Filter, scope: Scope<'_, '_>, registry: &Registry, rt: &ResourceType) -> bool {
    match f {
        Filter::And(a, b) => eval(a, scope, registry, rt) && eval(b, scope, registry, rt),
        Filter::Or(a, b) => eval(a, scope, registry, rt) || eval(b, scope, registry, rt),
        Filter::Not(inner) => !eval(inner, scope, registry, rt),
        Filter::Present(path) => {
            let (values, _) = lookup(scope, path, registry, rt, false);
            values.into_iter().any(is_present)
        }
        Filter::Compare { path, op, value } => {
            let (values, attr) = lookup(scope, path, registry, rt, true);
            compare_all(&values, *op, value, attr)
        }
        Filter::ValuePath { path, filter } => {
            let Scope::Root(resource) = scope else {
                return false;
            };
            let attr = registry.resolve(rt, path).map(|r| r.attribute);
            let elements: Vec<&Value> = match registry.attr_value(rt, resource, path) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(v @ Value::Object(_)) => vec![v],
                _ => Vec::new(),
            };
            elements
                .into_iter()
                .any(|el| eval(filter, Scope::Element(el, attr), registry, rt))
        }
    }
}

/// The values `path` selects in `scope`, flattened across multi-valued
/// attributes, with the definition that governs how they compare. With
/// `to_value`, a complex value stands for its `value` sub-attribute, which is
/// how `emails co "example.com"` is meant.
fn lookup<'v, 'r>(
    scope: Scope<'v, 'r>,
    path: &AttrPath,
    registry: &'r Registry,
    rt: &ResourceType,
    to_value: bool,
) -> (Vec<&'v Value>, Option<&'r Attribute>) {
    let (raw, mut attr) = match scope {
        Scope::Root(resource) => {
            let attr = registry
                .resolve(rt, path)
                .map(|r| r.sub_attribute.unwrap_or(r.attribute));
            (registry.attr_value(rt, resource, path), attr)
        }
        Scope::Element(el, parent) => {
            let raw = match el {
                Value::Object(o) => get_ci(o, &path.name),
                // A multi-valued simple attribute's element is its own value.
                other if path.name.eq_ignore_ascii_case("value") => Some(other),
                _ => None,
            };
            let attr = parent
                .and_then(|p| p.sub(&path.name))
                .and_then(|a| match &path.sub {
                    Some(sub) => a.sub(sub),
                    None => Some(a),
                });
            (raw, attr)
        }
    };
    let mut out = Vec::new();
    let items: Vec<&Value> = match raw {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
    };
    for item in items {
        match (&path.sub, item) {
            (Some(sub), Value::Object(o)) => match get_ci(o, sub) {
                Some(Value::Array(xs)) => out.extend(xs.iter()),
                Some(x) => out.push(x),
                None => {}
            },
            (Some(_), _) => {}
            (None, Value::Object(o)) if to_value => {
                if let Some(x) = get_ci(o, "value") {
                    out.push(x);
                }
            }
            (None, other) => out.push(other),
        }
    }
    if to_value && path.sub.is_none() {
        if let Some(a) = attr {
            if a.attr_type == AttrType::Complex {
                attr = a.sub("value");
            }
        }
    }
    (out, attr)
}

fn compare_all(values: &[&Value], op: CompareOp, lit: &Literal, attr: Option<&Attribute>) -> bool {
    match (op, lit) {
        // `eq null` is not in the RFC; reading it as "unassigned" matches
        // RFC 7643 §2.5, where null and absence are the same thing.
        (CompareOp::Eq, Literal::Null) => !values.iter().any(|v| is_present(v)),
        (CompareOp::Ne, Literal::Null) => values.iter().any(|v| is_present(v)),
        (_, Literal::Null) => false,
        // `ne` is the negation of `eq` over the whole attribute, so an
        // absent attribute matches and `emails ne "x"` means no email is x.
        (CompareOp::Ne, _) => !values
            .iter()
            .any(|v| compare_one(v, CompareOp::Eq, lit, attr)),
        _ => values.iter().any(|v| compare_one(v, op, lit, attr)),
    }
}

fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

pub(crate) fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn compare_one(v: &Value, op: CompareOp, lit: &Literal, attr: Option<&Attribute>) -> bool {
    let case_exact = attr.is_some_and(|a| a.case_exact);
    let ty = attr.map(|a| a.attr_type);
    match (v, lit) {
        (Value::String(s), Literal::String(l)) => {
            if ty == Some(AttrType::DateTime) && !op.is_substring() {
                if let (Some(a), Some(b)) = (parse_datetime(s), parse_datetime(l)) {
                    return ordering_matches(op, a.cmp(&b));
                }
            }
            if ty == Some(AttrType::Binary) && op.is_ordering() {
                return false;
            }
            let a = fold(s, case_exact);
            let b = fold(l, case_exact);
            match op {
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                _ => ordering_matches(op, a.cmp(&b)),
            }
        }
        (Value::Number(n), Literal::Number(l)) if !op.is_substring() => {
            compare_numbers(n, l).is_some_and(|ord| ordering_matches(op, ord))
        }
        (Value::Bool(b), Literal::Bool(l)) => match op {
            CompareOp::Eq => b == l,
            CompareOp::Ne => b != l,
            _ => false,
        },
        // Some clients quote booleans; validate() lets that through, so
        // evaluation honours it too.
        (Value::Bool(b), Literal::String(l)) if op == CompareOp::Eq => {
            parse_bool(l).is_some_and(|l| *b == l)
        }
        _ => false,
    }
}

/// A JSON number literal with its value correctly rounded: serde_json's own float parsing
/// (without its `float_roundtrip` feature) may be an ulp off, and a printed filter would then
/// not parse back to the same tree.
fn parse_number(text: &str) -> Option<serde_json::Number> {
    let n: serde_json::Number = text.parse().ok()?;
    if n.is_f64() {
        return text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64);
    }
    Some(n)
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The attribute a comparison at `path` reads: inside a value filter a sub-attribute of
/// `parent`, else resolved from the resource type (a complex attribute's own definition).
fn compared_attribute<'r>(
    path: &AttrPath,
    parent: Option<&'r Attribute>,
    registry: &'r Registry,
    rt: &ResourceType,
) -> Option<&'r Attribute> {
    match parent {
        Some(p) => p.sub(&path.name).and_then(|a| match &path.sub {
            Some(sub) => a.sub(sub),
            None => Some(a),
        }),
        None => registry
            .resolve(rt, path)
            .map(|r| r.sub_attribute.unwrap_or(r.attribute)),
    }
}

/// [`Filter::settle`] below `parent`.
fn settle_in(f: &mut Filter, parent: Option<&Attribute>, registry: &Registry, rt: &ResourceType) {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            settle_in(a, parent, registry, rt);
            settle_in(b, parent, registry, rt);
        }
        Filter::Not(inner) => settle_in(inner, parent, registry, rt),
        Filter::Present(_) => {}
        Filter::ValuePath { path, filter } => {
            let attr = registry.resolve(rt, path).map(|r| r.attribute);
            settle_in(filter, attr, registry, rt);
        }
        Filter::Compare { path, value, .. } => {
            let Some(attr) = compared_attribute(path, parent, registry, rt) else {
                return;
            };
            let attr = match attr.attr_type {
                AttrType::Complex => attr.sub("value").unwrap_or(attr),
                _ => attr,
            };
            if let (AttrType::Integer | AttrType::Decimal, Literal::String(text)) =
                (attr.attr_type, &*value)
            {
                if let Some(n) = parse_number(text) {
                    *value = Literal::Number(n);
                }
            }
        }
    }
}

/// [`Filter::undefined`] below `parent` (`None` at the root; `Some(None)` inside a value
/// filter whose attribute is itself undefined, reported already).
fn undefined_in(
    f: &Filter,
    parent: Option<Option<&Attribute>>,
    registry: &Registry,
    rt: &ResourceType,
) -> Option<String> {
    // `schemas` is every resource's (RFC 7643 §3), though no schema lists it.
    let find = |path: &AttrPath| match parent {
        None if path.urn.is_none() && path.name.eq_ignore_ascii_case("schemas") => Some(()),
        Some(None) => Some(()),
        _ => compared_attribute(path, parent.flatten(), registry, rt).map(|_| ()),
    };
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            undefined_in(a, parent, registry, rt).or_else(|| undefined_in(b, parent, registry, rt))
        }
        Filter::Not(inner) => undefined_in(inner, parent, registry, rt),
        Filter::Present(path) | Filter::Compare { path, .. } => match find(path) {
            Some(()) => None,
            None => Some(path.to_string()),
        },
        Filter::ValuePath { path, filter } => match registry.resolve(rt, path) {
            Some(r) => undefined_in(filter, Some(Some(r.attribute)), registry, rt),
            None => Some(path.to_string()),
        },
    }
}

fn validate_in(
    f: &Filter,
    parent: Option<&Attribute>,
    registry: &Registry,
    rt: &ResourceType,
) -> Result<(), ScimError> {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            validate_in(a, parent, registry, rt)?;
            validate_in(b, parent, registry, rt)
        }
        Filter::Not(inner) => validate_in(inner, parent, registry, rt),
        Filter::Present(_) => Ok(()),
        Filter::ValuePath { path, filter } => {
            let attr = registry.resolve(rt, path).map(|r| r.attribute);
            validate_in(filter, attr, registry, rt)
        }
        Filter::Compare { path, op, value } => {
            match compared_attribute(path, parent, registry, rt) {
                Some(attr) => check_comparison(attr, path, *op, value),
                None => Ok(()),
            }
        }
    }
}

fn check_comparison(
    attr: &Attribute,
    path: &AttrPath,
    op: CompareOp,
    lit: &Literal,
) -> Result<(), ScimError> {
    let fail = |detail: String| Err(ScimError::bad_request(ScimType::InvalidFilter, detail));
    let attr = if attr.attr_type == AttrType::Complex {
        match attr.sub("value") {
            Some(v) => v,
            None => {
                return fail(format!(
                    "\"{path}\" is a complex attribute; compare one of its sub-attributes"
                ))
            }
        }
    } else {
        attr
    };
    if *lit == Literal::Null {
        if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return Ok(());
        }
        return fail(format!("\"{op}\" cannot compare \"{path}\" with null"));
    }
    let type_name = attr.attr_type.as_str();
    match attr.attr_type {
        AttrType::Boolean | AttrType::Binary if op.is_ordering() => fail(format!(
            "\"{op}\" cannot be used on the {type_name} attribute \"{path}\""
        )),
        AttrType::Boolean | AttrType::Integer | AttrType::Decimal if op.is_substring() => fail(
            format!("\"{op}\" cannot be used on the {type_name} attribute \"{path}\""),
        ),
        AttrType::Boolean => match lit {
            Literal::Bool(_) => Ok(()),
            Literal::String(s) if parse_bool(s).is_some() => Ok(()),
            _ => fail(format!(
                "\"{path}\" is boolean; compare it with true or false, not {lit}"
            )),
        },
        AttrType::Integer | AttrType::Decimal => match lit {
            Literal::Number(_) => Ok(()),
            _ => fail(format!(
                "\"{path}\" is {type_name}; compare it with a number, not {lit}"
            )),
        },
        AttrType::DateTime => match lit {
            Literal::String(s) if op.is_substring() || parse_datetime(s).is_some() => Ok(()),
            _ => fail(format!(
                "\"{path}\" is a dateTime; compare it with an xsd:dateTime string, not {lit}"
            )),
        },
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::Complex => {
            match lit {
                Literal::String(_) => Ok(()),
                _ => fail(format!(
                    "\"{path}\" is {type_name}; compare it with a string, not {lit}"
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        serde_json::from_str(include_str!("testdata/full_user.json")).unwrap()
    }

    fn reg() -> Registry {
        Registry::standard().unwrap()
    }

    fn check(filter: &str, resource: &Value) -> bool {
        let registry = reg();
        let rt = registry.resource_type("User").unwrap();
        let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        f.validate(&registry, rt)
            .unwrap_or_else(|e| panic!("{filter}: {e}"));
        // The printed form must parse back to the same tree.
        assert_eq!(parse_filter(&f.to_string()).unwrap(), f, "{filter}");
        f.matches(resource, &registry, rt)
    }

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn rfc7644_examples_against_rfc7643_full_user() {
        let u = user();
        let cases: &[(&str, bool)] = &[
            (r#"userName eq "bjensen""#, false),
            (r#"name.familyName co "O'Malley""#, false),
            (r#"userName sw "J""#, false),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                false,
            ),
            ("title pr", true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr or userType eq "Intern""#, true),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                false,
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                true,
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(check(filter, &u), *expected, "{filter}");
        }
    }

    #[test]
    fn more_evaluation_rules() {
        let u = user();
        let cases: &[(&str, bool)] = &[
            // case-insensitive by default, case-exact for id/externalId
            (r#"userName eq "BJENSEN@example.com""#, true),
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
            (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
            (r#"externalId eq "701984""#, true),
            (r#"userName ew "EXAMPLE.COM""#, true),
            (r#"userName gt "a""#, true),
            (r#"userName lt "a""#, false),
            ("active eq true", true),
            ("ACTIVE EQ FALSE", false),
            (r#"active eq "True""#, true),
            // ne matches absent attributes; eq null means "unassigned"
            (r#"nickName ne "Bob""#, true),
            (r#"department ne "x""#, true),
            ("department eq null", true),
            ("title eq null", false),
            ("title ne null", true),
            ("department pr", false),
            ("emails pr", true),
            ("emails.display pr", false),
            (r#"emails[type eq "home"]"#, true),
            (r#"emails[type eq "other"]"#, false),
            (r#"emails[not (type eq "work")]"#, true),
            (r#"emails.type eq "HOME""#, true),
            (r#"groups.display eq "employees""#, true),
            (r#"phoneNumbers[type eq "mobile" and value sw "555"]"#, true),
            (r#"meta.created lt "2010-01-23T05:56:22+01:00""#, false),
            (r#"meta.created lt "2010-01-23T06:56:22+01:00""#, true),
            (r#"unknownAttr eq "x""#, false),
            (r#"unknownAttr ne "x""#, true),
            (
                r#"not (userName eq "x") and (title pr or nickName pr)"#,
                true,
            ),
            (
                r#"USERNAME Eq "bjensen@example.com" AND NOT (title Pr)"#,
                false,
            ),
            (r#"title pr or nickName eq "x" and userName eq "y""#, true),
            (
                r#"(title pr or nickName eq "x") and userName eq "y""#,
                false,
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(check(filter, &u), *expected, "{filter}");
        }
    }

    #[test]
    fn extension_attributes() {
        let mut u = user();
        u[ENT] = json!({"employeeNumber": "701984", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}});
        assert!(check(&format!(r#"{ENT}:employeeNumber eq "701984""#), &u));
        assert!(check(&format!(r#"{ENT}:manager.value sw "2611""#), &u));
        assert!(check(r#"employeeNumber eq "701984""#, &u));
        assert!(!check(&format!(r#"{ENT}:department pr"#), &u));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "barbara""#,
            &u
        ));
    }

    #[test]
    fn group_filters() {
        let registry = reg();
        let rt = registry.resource_type("Group").unwrap();
        let g = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1",
            "displayName": "Tour Guides",
            "members": [{"value": "u1", "type": "User"}, {"value": "g2", "type": "Group"}]
        });
        let m = |s: &str| {
            let f = parse_filter(s).unwrap();
            f.validate(&registry, rt).unwrap();
            f.matches(&g, &registry, rt)
        };
        assert!(m(r#"displayName eq "tour guides""#));
        assert!(m(r#"members[value eq "u1"]"#));
        assert!(m(r#"members eq "g2""#));
        assert!(!m(r#"members[value eq "u1" and type eq "Group"]"#));
        assert!(m(r#"members.type eq "group""#));
        assert!(!m(r#"userName eq "x""#));
    }

    #[test]
    fn numbers_compare_numerically() {
        let registry = reg();
        let rt = registry.resource_type("User").unwrap();
        let r = json!({"count": 10, "ratio": 2.5});
        let m = |s: &str| parse_filter(s).unwrap().matches(&r, &registry, rt);
        assert!(m("count gt 9"));
        assert!(m("count lt 1e2"));
        assert!(m("ratio ge 2.5"));
        assert!(!m("ratio gt 2.5"));
        assert!(!m("count co 1"));
        assert!(m("count eq 10.0"));
    }

    #[test]
    fn literals_and_escapes() {
        let f = parse_filter(r#"displayName eq "a \"quoted\" \\ \u00e9""#).unwrap();
        assert_eq!(
            f,
            Filter::Compare {
                path: AttrPath::new("displayName"),
                op: CompareOp::Eq,
                value: Literal::String("a \"quoted\" \\ é".into())
            }
        );
        assert!(matches!(
            parse_filter("x eq -1.5e3").unwrap(),
            Filter::Compare {
                value: Literal::Number(_),
                ..
            }
        ));
        assert!(matches!(
            parse_filter("x eq NULL").unwrap(),
            Filter::Compare {
                value: Literal::Null,
                ..
            }
        ));
        assert!(matches!(
            parse_filter("x eq True").unwrap(),
            Filter::Compare {
                value: Literal::Bool(true),
                ..
            }
        ));
    }

    #[test]
    fn precedence_and_associativity() {
        let f = parse_filter("a pr or b pr and c pr").unwrap();
        assert!(matches!(f, Filter::Or(_, ref r) if matches!(**r, Filter::And(..))));
        let f = parse_filter("a pr and b pr and c pr").unwrap();
        assert!(matches!(f, Filter::And(ref l, _) if matches!(**l, Filter::And(..))));
        let f = parse_filter("a pr and (b pr or c pr)").unwrap();
        assert_eq!(f.to_string(), "a pr and (b pr or c pr)");
        // An attribute may be called "not" or "and".
        assert!(parse_filter(r#"not eq "x""#).is_ok());
        assert!(parse_filter("and pr").is_ok());
    }

    fn err(s: &str) -> ScimError {
        let e = parse_filter(s).unwrap_err();
        assert_eq!(e.kind, super::super::ErrorKind::Invalid);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{s}");
        e
    }

    #[test]
    fn errors_name_the_position() {
        let cases = [
            (r#"userName eq"#, "position 11", "value"),
            (r#"userName xx "a""#, "position 9", "operator"),
            (r#"userName eq "a" and"#, "position 19", "attribute path"),
            (r#"userName eq "a"#, "position 12", "never closed"),
            (r#"(userName eq "a""#, "position 16", "')'"),
            (r#"userName eq "a")"#, "position 15", "')'"),
            (r#"not userName eq "a""#, "position 4", "'('"),
            (
                r#"emails[type eq "work"].value eq "x""#,
                "position 22",
                "PATCH",
            ),
            (r#"emails[type eq "work""#, "position 21", "']'"),
            (r#"emails[ims[type eq "x"]]"#, "position 10", "nested"),
            (r#"userName eq bjensen"#, "position 12", "value"),
            (
                r#"userName eq "a" xor title pr"#,
                "position 16",
                "'and', 'or'",
            ),
            (r#"1bad eq "a""#, "position 0", "letter"),
            (r#"foo:bar eq "a""#, "position 0", "urn:"),
            (r#"x eq 1.2.3"#, "position 5", "number"),
            ("", "position 0", "attribute path"),
            ("name.a.b pr", "position 8", "one level"),
        ];
        for (s, pos, what) in cases {
            let e = err(s);
            assert!(e.detail.contains(pos), "{s}: {}", e.detail);
            assert!(e.detail.contains(what), "{s}: {}", e.detail);
        }
    }

    #[test]
    fn depth_and_length_limits() {
        let ok = format!(
            "{}title pr{}",
            "(".repeat(MAX_FILTER_DEPTH),
            ")".repeat(MAX_FILTER_DEPTH)
        );
        assert!(parse_filter(&ok).is_ok());
        let deep = format!(
            "{}title pr{}",
            "(".repeat(MAX_FILTER_DEPTH + 1),
            ")".repeat(MAX_FILTER_DEPTH + 1)
        );
        assert!(err(&deep).detail.contains("nested"));
        let nots = format!("{}title pr{}", "not (".repeat(40), ")".repeat(40));
        assert!(err(&nots).detail.contains("nested"));
        let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_LEN));
        assert!(err(&long).detail.contains("longer"));
        // A long flat chain is neither deep nor too long.
        let chain = vec!["title pr"; 500].join(" and ");
        assert!(parse_filter(&chain).is_ok());
    }

    #[test]
    fn validate_rejects_wrong_types() {
        let registry = reg();
        let rt = registry.resource_type("User").unwrap();
        for bad in [
            "active gt true",
            "active co \"t\"",
            r#"x509Certificates.value lt "abc""#,
            r#"active eq "yes""#,
            "userName eq 1",
            r#"meta.created gt "yesterday""#,
            "name eq \"x\"",
            "title gt null",
            r#"emails[primary gt true]"#,
        ] {
            let e = parse_filter(bad)
                .unwrap()
                .validate(&registry, rt)
                .unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{bad}");
        }
        for good in [
            "active eq false",
            r#"emails co "x""#,
            r#"meta.created co "2010""#,
            "unknown gt true",
            r#"emails[primary eq true]"#,
            "title eq null",
        ] {
            parse_filter(good).unwrap().validate(&registry, rt).unwrap();
        }
    }

    #[test]
    fn compare_op_names() {
        for op in ALL_OPS {
            assert_eq!(CompareOp::parse(op.as_str()), Some(op));
            assert_eq!(CompareOp::parse(&op.as_str().to_uppercase()), Some(op));
        }
        assert_eq!(CompareOp::parse("pr"), None);
    }

    /// Found by `cargo fuzz` (target `filter`, and `paths` for the second): number literals
    /// whose nearest f64 serde_json's float parsing missed by an ulp printed as text that parsed
    /// to another number.
    #[test]
    fn number_literals_print_back_to_the_same_tree() {
        for source in [
            "meta.vers6e lt 12345678.910536427890",
            "emails[type eq 500000000000000000001448019128]",
        ] {
            let parsed = parse_filter(source).unwrap();
            let printed = parsed.to_string();
            assert_eq!(
                parse_filter(&printed).unwrap(),
                parsed,
                "{source} printed as {printed}"
            );
        }
    }
}
