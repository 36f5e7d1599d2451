//! The compiled mapping: every section checked, every expression and template parsed. These are
//! the forms the rest of the gateway reads; `compile.rs` builds them from the raw TOML
//! (`model.rs`) and `plan.rs` renders and reads with them.

use std::path::PathBuf;

use super::expr::{Expr, Template, ValueTemplate};
use super::model::{AuthScheme, Completion, OnChange, PaginationStyle};
use super::request::Method;
use crate::scim::filter::CompareOp;
use crate::scim::path::AttrPath;
use crate::scim::{ErrorKind, ScimType};

/// A compiled mapping file: everything the gateway knows about one platform, checked and with
/// every expression and template parsed.
#[derive(Debug)]
pub struct Mapping {
    /// The file it was loaded from, for messages.
    pub file: PathBuf,
    /// The `[platform]` section.
    pub platform: PlatformSpec,
    /// The `[[errors]]` rules, in file order (the first match wins).
    pub errors: Vec<ErrorRule>,
    /// The `[users]` section.
    pub users: ResourceMapping,
    /// Groups, when the platform has them.
    pub groups: Option<ResourceMapping>,
}

/// The `[platform]` section: how the platform is called and how its errors read.
#[derive(Debug)]
pub struct PlatformSpec {
    /// The platform's name for logs and error details.
    pub name: String,
    /// How the credential is sent (`auth.scheme`).
    pub auth_scheme: AuthScheme,
    /// The header carrying the credential (`auth.header`; set only for the header scheme).
    pub auth_header: Option<String>,
    /// Text put before the credential in that header (`auth.prefix`; may be empty).
    pub auth_prefix: String,
    /// Names the gateway config's `[backend.settings]` must provide.
    pub settings: Vec<String>,
    /// Names it may provide (`optional_settings`); no other setting exists.
    pub optional_settings: Vec<String>,
    /// Expression over `response` giving the platform's message in an error answer.
    pub error_message: Option<Expr>,
    /// Headers sent on every call: name and value template (over `settings`).
    pub headers: Vec<(String, Template)>,
}

/// A compiled `[[errors]]` rule: which platform error answer it matches and the SCIM error it
/// becomes.
#[derive(Debug)]
pub struct ErrorRule {
    /// The platform's HTTP status the rule matches.
    pub status: u16,
    /// Text the raw answer body must contain for the rule to match.
    pub body_contains: Option<String>,
    /// What the platform's answer means for the request (from `scim_status`).
    pub kind: ErrorKind,
    /// The SCIM `scimType` of the answer.
    pub scim_type: Option<ScimType>,
}

/// The statuses a SCIM error answers with (RFC 7644 §3.12, Table 8) that a platform's error
/// can mean, and the kind of error each is.
pub const SCIM_STATUSES: [(u16, ErrorKind); 9] = [
    (400, ErrorKind::Invalid),
    (403, ErrorKind::Forbidden),
    (404, ErrorKind::NotFound),
    (409, ErrorKind::Conflict),
    (412, ErrorKind::PreconditionFailed),
    (413, ErrorKind::TooLarge),
    (429, ErrorKind::Throttled),
    (501, ErrorKind::NotImplemented),
    (503, ErrorKind::Unavailable),
];

/// A compiled `[users]` or `[groups]` section: how one SCIM resource type maps onto platform
/// objects and calls.
#[derive(Debug)]
pub struct ResourceMapping {
    /// The section's name (`users`, `groups`), for messages.
    pub section: String,
    /// The platform object's fields as the file declares them (`fields`); empty when it does
    /// not, and the fields the mapping reads are the declaration.
    pub fields: Vec<String>,
    /// Expression over `backend` giving the platform object's stable key.
    pub key: Expr,
    /// Expression over `backend` giving what proves an account is still the one a link names
    /// (`identity`: a creation time, an immutable login); `None`: the key alone.
    pub identity: Option<Expr>,
    /// The SCIM attributes the platform holds, in file order.
    pub attributes: Vec<AttributeMapping>,
    /// The call that reads one object by `key`.
    pub get: CallSpec,
    /// How objects are listed, paged and filtered.
    pub list: ListSpec,
    /// The calls that create an object; the first is unconditional and returns the object.
    pub create: Vec<CallSpec>,
    /// The calls of a PUT or PATCH, each run when its condition holds.
    pub update: Vec<CallSpec>,
    /// The calls that delete an object.
    pub delete: Vec<CallSpec>,
    /// Group membership.
    pub members: Option<MembersSpec>,
    /// The groups a user belongs to.
    pub groups_of: Option<GroupsOfSpec>,
    /// Expression over `backend` (and `settings`) true for accounts the gateway must never
    /// show or touch (`exclude`: its own service account).
    pub exclude: Option<Expr>,
    /// Values generated for each write, by name (`generate`).
    pub generate: Vec<(String, Generator)>,
    /// The platform object's fields the attributes read, which is all of it the gateway
    /// remembers as "last written" (never the whole object: it may hold secrets).
    pub snapshot_fields: Vec<Vec<String>>,
}

/// A random value drawn for each write (`[users.generate.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generator {
    /// How many characters.
    pub length: usize,
    /// The distinct characters drawn from.
    pub alphabet: Vec<char>,
}

/// A compiled `[users.groups]` table: how to read the groups a user belongs to.
#[derive(Debug)]
pub enum GroupsOfSpec {
    /// A call of its own per user.
    Call {
        /// The read call (its templates see the user's `key`).
        call: Box<CallSpec>,
        /// Expression over `response` giving the array of platform group objects.
        items: Box<Expr>,
    },
    /// Every group read once through `[groups.list]`, picked by its members
    /// (`[groups.members] from_backend`): one read serves every user while the cache keeps it.
    GroupList,
}

/// A compiled `[groups.members]` table: how a group's members are read and changed.
#[derive(Debug)]
pub struct MembersSpec {
    /// Where the members are read.
    pub source: MemberSource,
    /// How membership changes.
    pub change: MemberChange,
}

/// Where a group's members are read.
#[derive(Debug)]
pub enum MemberSource {
    /// In the group object: an expression over `backend` giving the members' user keys.
    Object(Expr),
    /// From a call of their own: its pages (the list's `key` is the group's), and an
    /// expression over `item` giving each member's user key.
    List {
        /// The paged list call.
        list: Box<ListSpec>,
        /// Expression over `item` giving the user key.
        user_key: Expr,
    },
}

/// How membership changes are sent.
#[derive(Debug)]
pub enum MemberChange {
    /// Calls that send who joined and who left in one go (`added`, `removed`).
    Delta(Vec<CallSpec>),
    /// Calls run once per member who joined (`add`) and once per member who left
    /// (`remove`); `member` is the user's key.
    EachMember {
        /// For each member who joined.
        add: Vec<CallSpec>,
        /// For each member who left.
        remove: Vec<CallSpec>,
    },
}

impl MemberChange {
    /// Every call, for checks.
    pub fn calls(&self) -> impl Iterator<Item = &CallSpec> {
        let (a, b): (&[CallSpec], &[CallSpec]) = match self {
            MemberChange::Delta(calls) => (calls, &[]),
            MemberChange::EachMember { add, remove } => (add, remove),
        };
        a.iter().chain(b)
    }
}

/// A compiled attribute entry: one SCIM attribute and how it converts to and from the
/// platform object.
#[derive(Debug)]
pub struct AttributeMapping {
    /// Where it is in the file (`users.attributes[userName]`), for messages.
    pub key: String,
    /// As written in the file, for messages.
    pub scim_source: String,
    /// The SCIM attribute path, checked against the resource type's schemas.
    pub scim: AttrPath,
    /// Dotted path of the platform field, when the attribute has one.
    pub backend_field: Option<Vec<String>>,
    /// Expression over `backend` giving the SCIM value: the file's `from_backend`, else
    /// `backend.<field>`; `None` when the attribute is not read (`read = false` or no field).
    pub from_backend: Option<Expr>,
    /// Expression over `value` and `resource` giving the platform value; `None` when the
    /// attribute is only read.
    pub to_backend: Option<Expr>,
    /// What an IdP change to the written value does.
    pub on_change: OnChange,
    /// The mutability the platform imposes, overriding the schema's (`mutability`).
    pub mutability: Option<crate::scim::schema::Mutability>,
}

/// A compiled platform call, ready to be rendered with a template context.
#[derive(Debug)]
pub struct CallSpec {
    /// Where it is in the file (`users.update[0]`), for messages.
    pub key: String,
    /// Condition; the call is skipped when it is false.
    pub when: Option<Expr>,
    /// The HTTP method.
    pub method: Method,
    /// Path template, appended to the backend base URL.
    pub path: Template,
    /// Query parameters: name and value template, in name order.
    pub query: Vec<(String, Template)>,
    /// Headers for this call: name and value template, in name order.
    pub headers: Vec<(String, Template)>,
    /// JSON body template; `None` sends no body.
    pub body: Option<ValueTemplate>,
    /// The answer is the platform object, whose key and body the later calls see.
    pub returns_object: bool,
    /// Where the platform object is in the answer (`object`); `None`: the answer is it.
    pub object: Option<Expr>,
    /// The `desired` fields the call sends (in its path, query, headers or body).
    pub sends: Sends,
}

/// The `desired` fields a call sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sends {
    /// It sends `desired` as a whole.
    pub all: bool,
    /// The field paths it sends.
    pub fields: Vec<Vec<String>>,
}

impl Sends {
    /// What the templates of a call send.
    pub fn of<'t>(templates: impl IntoIterator<Item = &'t Template>) -> Sends {
        let mut sends = Sends::default();
        for template in templates {
            for path in template.paths() {
                if path == "desired" {
                    sends.all = true;
                } else if let Some(rest) = path.strip_prefix("desired.") {
                    let field: Vec<String> = rest.split('.').map(str::to_owned).collect();
                    if !sends.fields.contains(&field) {
                        sends.fields.push(field);
                    }
                }
            }
        }
        sends
    }

    /// Adds what another call sends.
    pub fn add(&mut self, other: &Sends) {
        self.all |= other.all;
        for field in &other.fields {
            if !self.fields.contains(field) {
                self.fields.push(field.clone());
            }
        }
    }

    /// Whether a platform field reaches the platform: it, a field it lies in, or a field in
    /// it is sent.
    pub fn covers(&self, field: &[String]) -> bool {
        self.all
            || self
                .fields
                .iter()
                .any(|f| field.starts_with(f) || f.starts_with(field))
    }
}

impl CallSpec {
    /// The templates of the call that reach the platform, by part name.
    pub fn templates(&self) -> Vec<(&'static str, &Template)> {
        let mut out = vec![("path", &self.path)];
        out.extend(self.query.iter().map(|(_, t)| ("query", t)));
        out.extend(self.headers.iter().map(|(_, t)| ("headers", t)));
        if let Some(body) = &self.body {
            out.extend(body.templates().into_iter().map(|t| ("body", t)));
        }
        out
    }
}

/// A compiled `list` table: the list call, how its answer reads, paging and push-downs.
#[derive(Debug)]
pub struct ListSpec {
    /// The list call (method `GET` unless the file says otherwise).
    pub call: CallSpec,
    /// Expression over `response` and `headers` giving the array of platform objects.
    pub items: Expr,
    /// Expression over `response` and `headers` giving the total count, when the platform
    /// tells it.
    pub total: Option<Expr>,
    /// How a page is asked for.
    pub pagination: PaginationStyle,
    /// The largest page to ask for (the file's value, else 100; at least 1).
    pub max_page_size: usize,
    /// Filter push-down rules, tried in order.
    pub pushdowns: Vec<Pushdown>,
    /// Fields list items lack (`lacks`).
    pub lacks: Vec<String>,
    /// How items that lack fields are completed.
    pub complete: Completion,
}

/// A compiled filter push-down rule: a SCIM comparison the list call can answer.
#[derive(Debug)]
pub struct Pushdown {
    /// The SCIM attribute the filter compares.
    pub attribute: AttrPath,
    /// The SCIM comparison operator.
    pub op: CompareOp,
    /// Query parameters added to the list call: name and value template (over `value`).
    pub query: Vec<(String, Template)>,
    /// Instead: a call that reads the one object the filter names.
    pub get: Option<CallSpec>,
    /// The platform's match is exactly the SCIM filter, so its answer is not filtered again.
    pub exact: bool,
}
