//! The mapping file as written: serde structs that mirror the TOML one to one.
//!
//! Unknown keys are rejected (`deny_unknown_fields`) so a typo is an error with its key, not a
//! silently ignored setting. `compile.rs` turns these into the checked, compiled form.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The `[platform]` section: the platform's name, how calls authenticate, the settings the
/// gateway config must supply, how error answers read and the headers sent on every call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatform {
    /// Shown in logs and messages ("Coder").
    pub name: String,
    /// `auth`: how the credential from `backend.credential` is sent.
    pub auth: RawAuth,
    /// Names of the settings the `[backend.settings]` table of the gateway config must provide.
    #[serde(default)]
    pub settings: Vec<String>,
    /// Names of the settings it may provide (`optional_settings`); any other is a typo.
    #[serde(default)]
    pub optional_settings: Vec<String>,
    /// Expression over `response` (the error body) giving the message shown in SCIM errors.
    pub error_message: Option<String>,
    /// Headers sent with every call (templates over `settings`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `platform.auth.scheme`: how the platform credential goes on each call.
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

/// `platform.auth`: `{ scheme = ..., header = ..., prefix = ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// `scheme`: `"header"`, `"bearer"`, `"basic"` or `"none"`.
    pub scheme: AuthScheme,
    /// `header`: the header that carries the secret; required with, and only allowed with,
    /// `scheme = "header"`.
    pub header: Option<String>,
    /// `prefix`: text put before the secret in that header (default: none).
    #[serde(default)]
    pub prefix: String,
}

/// One `[[errors]]` rule: which platform error answers mean which SCIM error. Rules are tried
/// in order.
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

/// An attribute's `on_change`: what a change from the IdP to a value written with
/// `to_backend` does.
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

/// One `[[users.attributes]]` or `[[groups.attributes]]` entry: a SCIM attribute the platform
/// holds, and how it is read from and written to the platform object.
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
    /// `on_change`: `"apply"` (default), `"reject"` or `"keep"`.
    #[serde(default)]
    pub on_change: OnChange,
    /// `false`: the attribute is only written to the platform, never read from it (another
    /// entry reads it, e.g. a group's display name written both as a name and a display name).
    #[serde(default = "yes")]
    pub read: bool,
    /// What the platform allows, when it allows less than the SCIM schema says (`"readOnly"`:
    /// the platform sets it, IdPs cannot; `"immutable"`: given at creation only). `/Schemas`
    /// says so, and writes that would change it are refused.
    pub mutability: Option<crate::scim::schema::Mutability>,
}

fn yes() -> bool {
    true
}

/// A value the gateway generates for each write (`[users.generate.<name>]`): a random secret
/// a platform requires (a password at creation), seen by templates as `generated.<name>`,
/// never logged or stored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGenerate {
    /// How many characters (1 to 256).
    pub length: usize,
    /// The characters to draw from (default: letters and digits without the look-alikes `I`,
    /// `O`, `l`, `0` and `1`, and `-_.~!@#%^*+=`).
    pub alphabet: Option<String>,
}

/// Group membership (`[groups.members]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMembers {
    /// Expression over `backend` (the group object) giving the platform keys of its members,
    /// when the group object holds them.
    pub from_backend: Option<String>,
    /// Instead: a call that lists the members (when the group object does not hold them).
    pub list: Option<RawMembersList>,
    /// Calls that change membership in one go; `added` and `removed` hold platform user keys.
    pub update: Option<Vec<RawCall>>,
    /// Instead: calls run once for each member who joined (`member` is the user's key).
    pub add: Option<Vec<RawCall>>,
    /// With `add`: calls run once for each member who left.
    pub remove: Option<Vec<RawCall>>,
}

/// The members of a group listed by a call of their own (`[groups.members.list]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMembersList {
    /// HTTP method (default: `GET`).
    pub method: Option<String>,
    /// Path template (over the group's `key`, paging variables and `settings`).
    pub path: String,
    /// Query parameters (templates).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Headers (templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Expression over `response` (and `headers`) giving the array of member items.
    pub items: String,
    /// Expression over `response` (and `headers`) giving the total, when told.
    pub total: Option<String>,
    /// How pages are asked for (as `[users.list]`).
    #[serde(default)]
    pub pagination: PaginationStyle,
    /// The largest page the platform serves.
    pub max_page_size: Option<usize>,
    /// Expression over `item` (one member item) giving the member's user key, the key the
    /// `[users]` section gives users (`item.id`; `item.username` where users are keyed by name).
    pub user_key: String,
}

/// One platform call (`[users.get]`, each `[[users.create]]`, `[[users.update]]`,
/// `[[users.delete]]`, `[[groups.members.update]]`, ...).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCall {
    /// Condition (expression); the call is skipped when false.
    pub when: Option<String>,
    /// HTTP method: `GET`, `POST`, `PUT`, `PATCH` or `DELETE` (any letter case).
    pub method: String,
    /// Path template, appended to the backend base URL.
    pub path: String,
    /// Query parameters: name to value template.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Headers for this call only: name to value template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body template (string leaves are templates).
    pub body: Option<toml::Value>,
    /// The answer is the platform object (its key is taken from it).
    #[serde(default)]
    pub returns_object: bool,
    /// Expression over `response` (and `headers`) giving the platform object when the answer
    /// wraps it (`response.user`); default: the answer is the object.
    pub object: Option<String>,
}

/// `list.pagination`: how the list call asks for one page.
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

/// The `[users.list]` or `[groups.list]` table: the call that lists platform objects, how its
/// answer reads, how it pages, and which SCIM filters it can answer itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawList {
    /// HTTP method (default: `GET`).
    pub method: Option<String>,
    /// Path template, appended to the backend base URL.
    pub path: String,
    /// Query parameters: name to value template (with the paging variables).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Headers for the list call: name to value template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Expression over `response` (and `headers`) giving the array of platform objects.
    pub items: String,
    /// Expression over `response` (and `headers`) giving the total count, when the platform tells it.
    pub total: Option<String>,
    /// `pagination`: `"offset"` (default), `"page"` or `"none"`.
    #[serde(default)]
    pub pagination: PaginationStyle,
    /// The largest page the platform serves (default: 100).
    pub max_page_size: Option<usize>,
    /// Filter push-down rules, tried in order.
    #[serde(default)]
    pub filters: Vec<RawPushdown>,
    /// Fields of the platform object that list items lack (a user list without `status`):
    /// the gateway never takes such an item for the whole object.
    #[serde(default)]
    pub lacks: Vec<String>,
    /// What the gateway does with items that lack fields: `"get"` (read each one, a bounded
    /// number at a time; the default) or `"omit"` (answer the attributes read from the
    /// missing fields as the IdP last wrote them, or not at all).
    #[serde(default)]
    pub complete: Completion,
}

/// How list items that lack fields are completed (`[users.list] complete`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Completion {
    /// Each item is read whole with the `get` call.
    #[default]
    Get,
    /// Attributes read from the missing fields are left out of list answers.
    Omit,
}

/// One `[[users.list.filters]]` rule: a SCIM filter shape (attribute and operator) the list
/// call can answer, and the query parameters that ask the platform for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPushdown {
    /// The SCIM attribute of the filter (`userName`).
    pub attribute: String,
    /// The SCIM operator (`eq`, `co`, `sw`, ...).
    pub op: String,
    /// Query parameters added to the list call (templates over `value`).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Instead of list parameters: a call that reads the one object the filter names (a get
    /// by name); an answer the `[[errors]]` rules read as not found means none.
    pub get: Option<RawRead>,
    /// True when the platform's match is exactly the SCIM filter; otherwise the gateway
    /// filters the platform's answer again.
    #[serde(default)]
    pub exact: bool,
}

/// A read call of a push-down rule (`get = { path = "...", object = "..." }`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRead {
    /// HTTP method (default: `GET`).
    pub method: Option<String>,
    /// Path template (over `value` and `settings`).
    pub path: String,
    /// Query parameters (templates).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Headers (templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Where the object is in the answer (default: the answer is it).
    pub object: Option<String>,
}

/// How to read the groups a user belongs to (`[users.groups]`), for the user's read-only
/// `groups` attribute.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroupsOf {
    /// `"groups.list"`: read every group once through `[groups.list]` and keep the ones whose
    /// members (`[groups.members] from_backend`) include the user; instead of a call of its own.
    pub from: Option<String>,
    /// HTTP method (default: `GET`).
    pub method: Option<String>,
    /// Path template (`key` is the user's platform key).
    pub path: Option<String>,
    /// Query parameters: name to value template (over `key`).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Expression over `response` giving the array of platform group objects.
    pub items: Option<String>,
}
