//! SCIM errors (RFC 7644 §3.12): the `scimType` vocabulary and the error value every other
//! module returns. An error says what kind of failure it is, not which HTTP status answers it:
//! `http::error` is the one place a kind becomes a status (Table 8) and a body.

/// The `scimType` detail codes of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter syntax is invalid, or the filter names an attribute it cannot (400).
    InvalidFilter,
    /// The filter yields more results than the service answers (400).
    TooMany,
    /// A value is not unique where it must be (409).
    Uniqueness,
    /// The change is not allowed by an attribute's mutability (400).
    Mutability,
    /// The request body is not a valid message (400).
    InvalidSyntax,
    /// A path is invalid or names no attribute (400).
    InvalidPath,
    /// A PATCH path's filter matched nothing (400).
    NoTarget,
    /// A value is invalid: wrong type, not allowed, missing where required (400).
    InvalidValue,
    /// The protocol version is not supported (400).
    InvalidVers,
    /// The request carries information that may not be sent that way (403).
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
    /// The keyword as it appears in an error body.
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

/// What kind of failure an error reports (RFC 7644 §3.12, Table 8, by meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or holds an invalid value; the `scimType` says how.
    Invalid,
    /// The caller may not do this here (a filter on a discovery endpoint, a disabled tenant).
    Forbidden,
    /// No such resource or endpoint.
    NotFound,
    /// The request conflicts with the service's state (a name taken, a reference that cannot
    /// be resolved, an account that still owns something).
    Conflict,
    /// The resource changed since the version the request names (§3.14).
    PreconditionFailed,
    /// The request is larger than the service accepts (§3.7.4).
    TooLarge,
    /// The service does not do this (an endpoint or resource type not served).
    NotImplemented,
    /// The service cannot answer now; the caller may try again later.
    Unavailable,
    /// Too many requests: the caller should slow down (not in RFC 7644's Table 8, but IdPs
    /// honour it with `Retry-After`).
    Throttled,
}

/// A failed SCIM operation: its kind, the optional `scimType` and a human-readable detail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// The RFC 7644 §3.12 keyword, when one applies.
    pub scim_type: Option<ScimType>,
    /// What went wrong, for the person reading the answer.
    pub detail: String,
}

impl ScimError {
    /// An error of any kind.
    pub fn new(kind: ErrorKind, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            kind,
            scim_type,
            detail: detail.into(),
        }
    }

    /// An invalid request; `scim_type` says how it is invalid.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, Some(scim_type), detail)
    }

    /// No such resource or endpoint.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, None, detail)
    }

    /// A value that must be unique is taken.
    pub fn conflict_uniqueness(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, Some(ScimType::Uniqueness), detail)
    }

    /// The request conflicts with the current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, None, detail)
    }

    /// The resource is no longer at the version the request names.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::PreconditionFailed, None, detail)
    }

    /// The request is larger than allowed.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, None, detail)
    }

    /// The caller may not do this here.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, None, detail)
    }

    /// Not something this service does.
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotImplemented, None, detail)
    }

    /// Not possible right now; try again later.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, None, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_name_their_kind() {
        let e = ScimError::bad_request(ScimType::InvalidFilter, "bad filter");
        assert_eq!(
            (e.kind, e.scim_type),
            (ErrorKind::Invalid, Some(ScimType::InvalidFilter))
        );
        assert_eq!(e.to_string(), "bad filter");
        assert_eq!(ScimError::not_found("x").kind, ErrorKind::NotFound);
        let dup = ScimError::conflict_uniqueness("dup");
        assert_eq!(
            (dup.kind, dup.scim_type),
            (ErrorKind::Conflict, Some(ScimType::Uniqueness))
        );
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
