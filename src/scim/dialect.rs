//! The two dialects of SCIM the gateway answers: `Strict`, RFC 7644 to the letter, and
//! `Lenient`, which also reads what real IdPs send where it departs from the RFC.
//!
//! Every departure `Lenient` allows is one line here, so an operator can tell what a tenant
//! accepts (and the README repeats the list):
//!
//! - **Filter, sub-attribute after a value filter** (Microsoft Entra ID):
//!   `emails[type eq "work"].value eq "x"` is read as `emails[type eq "work" and value eq "x"]`.
//!   RFC 7644 §3.4.2.2 allows `attr[filter].sub` only in PATCH paths (§3.5.2).
//! - **Filter, unquoted values** (Microsoft Entra ID): `externalId eq 5f1c-77` is read as
//!   `externalId eq "5f1c-77"`; a bare number compared with a string attribute is read as its
//!   text (`employeeNumber eq 0042` stays `"0042"`). The ABNF's `compValue` requires a JSON
//!   string.
//! - **PATCH, one-element arrays for single-valued attributes** (Microsoft Entra ID):
//!   `{"op": "Add", "path": "manager", "value": [{"value": "..."}]}` is read with the element as
//!   the value ([`super::lenient::lenient_single_values`]).
//! - **PATCH add, one object for a multi-valued attribute**: `{"op": "add", "path": "emails",
//!   "value": {...}}` is read with the object as a one-element array
//!   ([`super::lenient::lenient_multi_values`]); a `replace`'s, or a resource body's, lone
//!   object stays refused.
//! - **Members of schemas the resource type does not have** (Microsoft Entra ID sends its own,
//!   `urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User`): in POST, PUT and
//!   PATCH they are left out and named in a warning
//!   ([`super::schema::drop_undeclared_extensions`]); unknown attributes of a schema the type
//!   has stay refused.
//! - **SCIM 1.1 bodies at the 2.0 URL** (OneLogin, when the admin pasted the 2.0 URL): a POST,
//!   PUT or PATCH body whose `schemas` names a 1.1 URN is read as 1.1 ([`super::v1`]).
//! - **Empty strings clear** (Microsoft Entra ID's "null update", sent for an attribute emptied
//!   at the source): `"title": ""` in POST, PUT or a path-less PATCH value, and
//!   `{"op": "Replace", "path": "title", "value": ""}`, clear the single-valued attribute as
//!   `null` or `remove` do ([`super::lenient::clear_empty_strings`]). RFC 7643 makes `""` a value;
//!   a required attribute sent as `""` is then missing (400).
//!
//! `Strict` refuses the filter forms with 400 `invalidFilter` naming the position, the arrays
//! with 400 `invalidValue`, and the undeclared schemas' members with 400 `invalidSyntax`. It
//! also follows the SCIM interoperability profile where RFC 7644 is permissive: a filter on an
//! attribute no schema defines is 400 `invalidFilter` (RFC 7644 and `Lenient` let it match
//! nothing), and a PATCH operation without `path` is 400 `invalidPath`.

/// How forgiving the protocol core is of IdP dialects; see the module docs for each departure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// RFC 7644 to the letter.
    Strict,
    /// RFC 7644 plus the IdP dialects listed in the module docs; the default.
    #[default]
    Lenient,
}

impl Dialect {
    /// Both, as named in config, the admin API and the store.
    pub const ALL: [Dialect; 2] = [Dialect::Strict, Dialect::Lenient];

    /// `strict` or `lenient`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Strict => "strict",
            Dialect::Lenient => "lenient",
        }
    }

    /// The dialect `name` names (any case).
    pub fn parse(name: &str) -> Option<Dialect> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether the IdP dialects are read.
    pub fn is_lenient(self) -> bool {
        self == Dialect::Lenient
    }

    /// What a tenant of this dialect accepts, for people: the document a ServiceProviderConfig's
    /// `documentationUri` points to (the gateway serves it at `/docs/dialect/<name>`).
    pub fn documentation(self) -> &'static str {
        match self {
            Dialect::Strict => STRICT_DOCUMENTATION,
            Dialect::Lenient => LENIENT_DOCUMENTATION,
        }
    }
}

const STRICT_DOCUMENTATION: &str = "\
scimgate: the strict dialect

Requests are read as RFC 7644 has them, and as the SCIM interoperability profile
(draft-zollner-scim-interop-profile) tightens it:
- unknown attributes, and members of schemas the resource type does not have: 400 invalidSyntax;
- a filter on an attribute no schema defines: 400 invalidFilter;
- a PATCH operation without a path: 400 invalidPath;
- DELETE deletes the platform account (no other deprovisioning policy is allowed);
- the IdP forms the lenient dialect reads are answered with the RFC's error.
";

const LENIENT_DOCUMENTATION: &str = "\
scimgate: the lenient dialect

RFC 7644, and also these forms of real IdPs, read as the IdP means them (each is answered with
the RFC's error in the strict dialect):
- emails[type eq \"work\"].value eq \"x\" in a filter (Microsoft Entra ID): read as
  emails[type eq \"work\" and value eq \"x\"];
- unquoted filter values, externalId eq 5f1c-77 (Microsoft Entra ID): read as strings (numbers
  where the attribute is an integer or decimal);
- one-element arrays for single-valued attributes in PATCH (Microsoft Entra ID's manager): read
  as the element, and one object for a multi-valued attribute in a PATCH add with a path: read
  as a one-element array (a replace's lone object stays refused);
- members of extension schemas the tenant does not declare (Microsoft Entra ID's own): left out,
  with a warning in the gateway's log;
- an empty string for a single-valued attribute (Microsoft Entra ID's null update): clears it;
- a SCIM 1.1 body at the 2.0 URL (OneLogin): read as SCIM 1.1, answered in 2.0 form;
- a filter on an attribute no schema defines matches nothing, and a PATCH operation without a
  path applies to the resource (RFC 7644; the interoperability profile refuses both).
";
