//! The mapping file as written: serde structs that mirror the TOML one to one.
//!
//! Unknown keys are rejected (`deny_unknown_fields`) so a typo is an error with its key, not a
//! silently ignored setting. `compile.rs` turns these into the checked, compiled form.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatform {
    /// Shown in logs and messages ("Coder").
    pub name: String,
    pub auth: RawAuth,
    /// Names of the settings the `[backend.settings]` table of the gateway config must provide.
    #[serde(default)]
    pub settings: Vec<String>,
    /// Expression over `response` (the error body) giving the message shown in SCIM errors.
    pub error_message: Option<String>,
    /// Headers sent with every call (templates over `settings`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthScheme {
    /// `<header>: <prefix><secret>`
    Header,
    /// `Authorization: Bearer <secret>`
    Bearer,
    /// `Authorization: Basic base64(<secret>)`, the secret being `user:password`.
    Basic,
    /// No credential (a platform behind its own network controls).
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub scheme: AuthScheme,
    pub header: Option<String>,
    #[serde(default)]
    pub prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawErrorRule {
    /// The platform's HTTP status this rule applies to.
    pub status: u16,
    /// Applies only when the raw body contains this text.
    pub body_contains: Option<String>,
    /// The SCIM status to answer (default: the platform's status).
    pub scim_status: Option<u16>,
    /// The SCIM `scimType` to answer.
    pub scim_type: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnChange {
    /// Changes are sent to the platform.
    #[default]
    Apply,
    /// The platform cannot change this value: a different value is a SCIM `mutability` error.
    Reject,
    /// The platform cannot change this value and keeps the first one; the gateway keeps what
    /// the IdP last wrote and answers with it (each ignored change is logged as a warning).
    Keep,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAttribute {
    /// The SCIM attribute path (`userName`, `name.givenName`, `emails`, URN-qualified extension paths).
    pub scim: String,
    /// The platform object's field (dotted path) that holds this attribute.
    pub backend: Option<String>,
    /// Expression over `backend` (the platform object) giving the SCIM value; default: the `backend` field.
    pub from_backend: Option<String>,
    /// Expression over `value` (the SCIM value) and `resource` (the SCIM resource) giving the
    /// platform value; without it the attribute is read-only towards the platform.
    pub to_backend: Option<String>,
    #[serde(default)]
    pub on_change: OnChange,
    /// `false`: the attribute is only written to the platform, never read from it (another
    /// entry reads it, e.g. a group's display name written both as a name and a display name).
    #[serde(default = "yes")]
    pub read: bool,
}

fn yes() -> bool {
    true
}

/// Group membership (`[groups.members]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMembers {
    /// Expression over `backend` (the group object) giving the platform keys of its members.
    pub from_backend: String,
    /// Calls that change membership; `added` and `removed` hold platform user keys.
    pub update: Vec<RawCall>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCall {
    /// Condition (expression); the call is skipped when false.
    pub when: Option<String>,
    pub method: String,
    /// Path template, appended to the backend base URL.
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body template (string leaves are templates).
    pub body: Option<toml::Value>,
    /// The answer is the platform object (its key is taken from it).
    #[serde(default)]
    pub returns_object: bool,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PaginationStyle {
    /// `offset`/`limit` variables; the total comes from `total`.
    #[default]
    Offset,
    /// `page` (1-based)/`per_page` variables; the total from `total` (e.g. an `X-Total` header).
    Page,
    /// One answer holds every object.
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawList {
    pub method: Option<String>,
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Expression over `response` (and `headers`) giving the array of platform objects.
    pub items: String,
    /// Expression over `response` (and `headers`) giving the total count, when the platform tells it.
    pub total: Option<String>,
    #[serde(default)]
    pub pagination: PaginationStyle,
    /// The largest page the platform serves.
    pub max_page_size: Option<usize>,
    /// Filter push-down rules, tried in order.
    #[serde(default)]
    pub filters: Vec<RawPushdown>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPushdown {
    /// The SCIM attribute of the filter (`userName`).
    pub attribute: String,
    /// The SCIM operator (`eq`, `co`, `sw`, ...).
    pub op: String,
    /// Query parameters added to the list call (templates over `value`).
    pub query: BTreeMap<String, String>,
    /// True when the platform's match is exactly the SCIM filter; otherwise the gateway
    /// filters the platform's answer again.
    #[serde(default)]
    pub exact: bool,
}

/// How to read the groups a user belongs to (`[users.groups]`), for the user's read-only
/// `groups` attribute.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroupsOf {
    pub method: Option<String>,
    /// Path template (`key` is the user's platform key).
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Expression over `response` giving the array of platform group objects.
    pub items: String,
}
