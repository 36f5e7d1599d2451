//! SCIM error responses (RFC 7644 §3.12): the `scimType` vocabulary and the
//! error value every other module returns, with its JSON body.

use serde_json::{json, Value};

/// The `scimType` detail codes of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

const ALL_TYPES: [ScimType; 10] = [
    ScimType::InvalidFilter,
    ScimType::TooMany,
    ScimType::Uniqueness,
    ScimType::Mutability,
    ScimType::InvalidSyntax,
    ScimType::InvalidPath,
    ScimType::NoTarget,
    ScimType::InvalidValue,
    ScimType::InvalidVers,
    ScimType::Sensitive,
];

impl ScimType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }

    /// Inverse of [`ScimType::as_str`]; any letter case is accepted because
    /// configuration files are written by hand.
    pub fn parse(s: &str) -> Option<ScimType> {
        ALL_TYPES
            .iter()
            .copied()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed SCIM operation, ready to be rendered as an RFC 7644 §3.12 body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {detail}")]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    pub fn conflict_uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }

    /// The error body. `status` is a string because RFC 7644 §3.12 defines it
    /// as one, and some clients (Entra) reject a number.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [super::ERROR_SCHEMA],
            "status": self.status.to_string(),
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".to_owned(), Value::String(t.as_str().to_owned()));
        }
        if let Some(obj) = body.as_object_mut() {
            obj.insert("detail".to_owned(), Value::String(self.detail.clone()));
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_has_string_status_and_type() {
        let e = ScimError::bad_request(ScimType::InvalidFilter, "bad filter");
        assert_eq!(
            e.to_json(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "bad filter"
            })
        );
        assert_eq!(e.to_string(), "400 bad filter");
    }

    #[test]
    fn json_body_omits_missing_type() {
        let body = ScimError::not_found("no such user").to_json();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
        assert_eq!(ScimError::conflict_uniqueness("dup").status, 409);
    }

    #[test]
    fn type_names_round_trip() {
        for t in ALL_TYPES {
            assert_eq!(ScimType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ScimType::parse("NOTARGET"), Some(ScimType::NoTarget));
        assert_eq!(ScimType::parse("nope"), None);
    }
}
