//! A platform call as the mapping renders it and the answer as the mapping reads it: plain
//! values, so that rendering and reading stay pure and the platform client alone does HTTP.

use serde_json::{Map, Value};

/// The HTTP methods a mapping's calls use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Reads.
    Get,
    /// Creates (not idempotent).
    Post,
    /// Replaces (idempotent).
    Put,
    /// Changes part of an object (not idempotent).
    Patch,
    /// Deletes (idempotent).
    Delete,
}

impl Method {
    /// The method a mapping names, in any letter case.
    pub fn parse(s: &str) -> Option<Method> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "PATCH" => Some(Method::Patch),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }

    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Whether sending the call twice has the effect of sending it once (RFC 9110 §9.2.2).
    pub fn is_idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Put | Method::Delete)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One HTTP request to the platform, fully rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendRequest {
    /// The HTTP method.
    pub method: Method,
    /// Path and nothing else; appended to the backend base URL.
    pub path: String,
    /// Query parameters, in order, not yet URL-encoded.
    pub query: Vec<(String, String)>,
    /// Headers of this call, besides the platform's own and the credential.
    pub headers: Vec<(String, String)>,
    /// JSON body; `None` sends none.
    pub body: Option<Value>,
}

/// The platform's answer: status, lower-cased headers and the body (JSON, or a JSON string
/// holding the text when the body is not JSON; `Null` when empty).
#[derive(Debug, Clone)]
pub struct BackendResponse {
    /// The HTTP status.
    pub status: u16,
    /// Header values as JSON strings, by lower-case name.
    pub headers: Map<String, Value>,
    /// The body: its text, read as JSON where needed (`body.value()`, `body.text()`).
    pub body: super::lazy::JsonBody,
}

impl BackendResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}
