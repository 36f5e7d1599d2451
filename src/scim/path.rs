//! Attribute paths: `attrPath` of RFC 7644 §3.10 (optionally URN-qualified,
//! one level of sub-attribute) and the PATCH `path` grammar of RFC 7644
//! §3.5.2 (`attrPath`, `valuePath` and `valuePath "." subAttr`).

use std::fmt;

use super::dialect::Dialect;
use super::error::{ScimError, ScimType};
use super::filter::{self, Filter};

/// `[urn ":"] name ["." sub]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URN before the last ':', when the path is qualified.
    pub urn: Option<String>,
    /// The top-level attribute name as written; looked up ignoring case.
    pub name: String,
    /// The sub-attribute after the '.', if any.
    pub sub: Option<String>,
}

impl AttrPath {
    /// An unqualified top-level attribute.
    pub fn new(name: impl Into<String>) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    /// The same path without its sub-attribute.
    pub fn parent(&self) -> AttrPath {
        AttrPath {
            urn: self.urn.clone(),
            name: self.name.clone(),
            sub: None,
        }
    }

    /// The path read as a whole schema URN (`urn:...:enterprise:2.0:User`
    /// parses as URN `urn:...:2.0` plus name `User`), if it can be one.
    pub fn as_schema_urn(&self) -> Option<String> {
        match (&self.urn, &self.sub) {
            (Some(urn), None) => Some(format!("{urn}:{}", self.name)),
            _ => None,
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A PATCH operation target.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// `sub` is always `None` when `filter` is set; see `value_sub`.
    pub attr: AttrPath,
    /// The value filter between `[` and `]`; its paths are relative to each element.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`, as in `emails[type eq "work"].value`.
    pub value_sub: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.value_sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A syntax problem with the character offset (0-based) where it was found,
/// so each caller can wrap it in its own scimType.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Syntax {
    pub pos: usize,
    pub message: String,
}

impl Syntax {
    pub(crate) fn new(pos: usize, message: impl Into<String>) -> Syntax {
        Syntax {
            pos,
            message: message.into(),
        }
    }
}

/// Parses one `attrPath`; errors are 400 invalidPath naming the character position.
pub fn parse_attr_path(s: &str) -> Result<AttrPath, ScimError> {
    parse_attr_path_at(s, 0).map_err(|e| path_error(s, &e))
}

/// Comma-separated paths of `attributes` / `excludedAttributes`
/// (RFC 7644 §3.4.2.5); empty items are skipped.
pub fn parse_attr_list(s: &str) -> Result<Vec<AttrPath>, ScimError> {
    let mut out = Vec::new();
    for item in s.split(',') {
        let item = item.trim();
        if !item.is_empty() {
            out.push(parse_attr_path(item)?);
        }
    }
    Ok(out)
}

/// Parses a PATCH `path` (RFC 7644 §3.5.2); errors are 400 invalidPath naming the character
/// position.
pub fn parse_patch_path(s: &str) -> Result<PatchPath, ScimError> {
    parse_patch_path_inner(s).map_err(|e| path_error(s, &e))
}

fn path_error(s: &str, e: &Syntax) -> ScimError {
    ScimError::bad_request(
        ScimType::InvalidPath,
        format!("invalid path \"{s}\" at position {}: {}", e.pos, e.message),
    )
}

fn parse_patch_path_inner(s: &str) -> Result<PatchPath, Syntax> {
    let Some(open) = s.find('[') else {
        return Ok(PatchPath {
            attr: parse_attr_path_at(s, 0)?,
            filter: None,
            value_sub: None,
        });
    };
    let head = s.get(..open).unwrap_or_default();
    let open_pos = head.chars().count();
    let attr = parse_attr_path_at(head, 0)?;
    if attr.sub.is_some() {
        return Err(Syntax::new(
            open_pos,
            "a value filter must follow the attribute name, not a sub-attribute",
        ));
    }
    let mut in_string = false;
    let mut escaped = false;
    let mut close = None;
    for (i, c) in s.char_indices().skip(open_pos + 1) {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' => {
                let pos = s.get(..i).unwrap_or_default().chars().count();
                return Err(Syntax::new(pos, "value filters cannot be nested"));
            }
            ']' => {
                close = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        return Err(Syntax::new(open_pos, "'[' is never closed by ']'"));
    };
    let inner = s.get(open + 1..close).unwrap_or_default();
    let filter = filter::parse_fragment(inner, open_pos + 1, true, Dialect::Strict)?;
    let rest = s.get(close + 1..).unwrap_or_default();
    let rest_pos = s.get(..close + 1).unwrap_or_default().chars().count();
    let value_sub = if rest.is_empty() {
        None
    } else if let Some(name) = rest.strip_prefix('.') {
        check_name(name, rest_pos + 1)?;
        Some(name.to_owned())
    } else {
        return Err(Syntax::new(
            rest_pos,
            "expected '.' and a sub-attribute name or the end of the path after ']'",
        ));
    };
    Ok(PatchPath {
        attr,
        filter: Some(filter),
        value_sub,
    })
}

/// Parses `s`, reporting positions as if `s` started at character `base`.
pub(crate) fn parse_attr_path_at(s: &str, base: usize) -> Result<AttrPath, Syntax> {
    if s.is_empty() {
        return Err(Syntax::new(base, "expected an attribute name"));
    }
    let (urn, rest, rest_pos) = match s.rfind(':') {
        None => (None, s, base),
        Some(colon) => {
            let starts_with_urn = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
            if !starts_with_urn {
                return Err(Syntax::new(
                    base,
                    "a name containing ':' must be a schema URN starting with \"urn:\"",
                ));
            }
            let urn = s.get(..colon).unwrap_or_default();
            if urn.len() <= 4 {
                return Err(Syntax::new(base, "the schema URN is empty"));
            }
            let rest = s.get(colon + 1..).unwrap_or_default();
            let rest_pos = base + urn.chars().count() + 1;
            (Some(urn.to_owned()), rest, rest_pos)
        }
    };
    let mut parts = rest.splitn(3, '.');
    let name = parts.next().unwrap_or_default();
    check_name(name, rest_pos)?;
    let sub = match parts.next() {
        None => None,
        Some(sub) => {
            check_name(sub, rest_pos + name.chars().count() + 1)?;
            Some(sub.to_owned())
        }
    };
    if parts.next().is_some() {
        let pos = rest_pos + rest.chars().count();
        return Err(Syntax::new(
            pos,
            "only one level of sub-attribute is allowed (attr.subAttr)",
        ));
    }
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub,
    })
}

/// ATTRNAME of RFC 7643 §2.1, plus the leading `$` of `$ref`.
fn check_name(name: &str, pos: usize) -> Result<(), Syntax> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(Syntax::new(pos, "expected an attribute name")),
        Some(c) if c.is_ascii_alphabetic() || c == '$' => {}
        Some(c) => {
            return Err(Syntax::new(
                pos,
                format!("an attribute name must start with a letter, found '{c}'"),
            ))
        }
    }
    for (i, c) in chars.enumerate() {
        if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(Syntax::new(
                pos + i + 1,
                format!("unexpected character '{c}' in attribute name"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::{CompareOp, Literal};

    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn simple_and_sub_paths() {
        assert_eq!(
            parse_attr_path("userName").unwrap(),
            AttrPath::new("userName")
        );
        let p = parse_attr_path("name.givenName").unwrap();
        assert_eq!(p.name, "name");
        assert_eq!(p.sub.as_deref(), Some("givenName"));
        assert_eq!(
            parse_attr_path("members.$ref").unwrap().sub.as_deref(),
            Some("$ref")
        );
    }

    #[test]
    fn urn_paths() {
        let p = parse_attr_path(&format!("{CORE}:name.givenName")).unwrap();
        assert_eq!(p.urn.as_deref(), Some(CORE));
        assert_eq!(p.name, "name");
        assert_eq!(p.sub.as_deref(), Some("givenName"));
        let p = parse_attr_path(&format!("{ENT}:manager.value")).unwrap();
        assert_eq!(p.urn.as_deref(), Some(ENT));
        assert_eq!(p.to_string(), format!("{ENT}:manager.value"));
        let whole = parse_attr_path(ENT).unwrap();
        assert_eq!(whole.as_schema_urn().as_deref(), Some(ENT));
        assert!(parse_attr_path("URN:x:y:employeeNumber").is_ok());
    }

    #[test]
    fn bad_paths() {
        for bad in [
            "",
            "foo:bar",
            "1abc",
            "name.given.x",
            "name..x",
            "urn:",
            "a b",
            "emails[",
        ] {
            let e = parse_attr_path(bad).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad}");
            assert!(e.detail.contains("position"), "{}", e.detail);
        }
        let e = parse_attr_path("name.giv#en").unwrap_err();
        assert!(e.detail.contains("position 8"), "{}", e.detail);
    }

    #[test]
    fn attr_lists() {
        let l = parse_attr_list("userName, name.givenName,,emails").unwrap();
        assert_eq!(l.len(), 3);
        assert!(parse_attr_list("").unwrap().is_empty());
        assert!(parse_attr_list("userName,bad path").is_err());
    }

    #[test]
    fn patch_paths() {
        let p = parse_patch_path("members").unwrap();
        assert_eq!(p.attr, AttrPath::new("members"));
        assert!(p.filter.is_none());

        let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr, AttrPath::new("emails"));
        assert_eq!(p.value_sub.as_deref(), Some("value"));
        assert_eq!(
            p.filter,
            Some(Filter::Compare {
                path: AttrPath::new("type"),
                op: CompareOp::Eq,
                value: Literal::String("work".into())
            })
        );
        let p = parse_patch_path(r#"members[value eq "2819c223"]"#).unwrap();
        assert!(p.filter.is_some());
        assert!(p.value_sub.is_none());

        let p = parse_patch_path(&format!(r#"{CORE}:emails[type eq "a:b]"].value"#)).unwrap();
        assert_eq!(p.attr.urn.as_deref(), Some(CORE));
        assert_eq!(p.attr.name, "emails");
        assert_eq!(
            p.to_string(),
            format!(r#"{CORE}:emails[type eq "a:b]"].value"#)
        );
    }

    #[test]
    fn bad_patch_paths_say_where() {
        let cases = [
            (r#"emails[type eq "work""#, "position 6"),
            (r#"emails[type eq "work"]x"#, "position 22"),
            (r#"emails[type zz "work"]"#, "position 12"),
            (r#"name.x[type eq "work"]"#, "position 6"),
            (r#"emails[type eq "work"].1"#, "position 23"),
            (r#"emails[a[b eq 1]]"#, "position 8"),
        ];
        for (s, pos) in cases {
            let e = parse_patch_path(s).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{s}");
            assert!(e.detail.contains(pos), "{s}: {}", e.detail);
        }
    }
}
