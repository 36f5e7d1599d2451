//! SCIM 2.0 protocol core: schemas, paths, filters, PATCH, projection, sorting
//! and list responses (RFC 7643, RFC 7644), independent of HTTP and storage.
//!
//! URN constants for the message and resource schemas live here so every
//! module (and the HTTP layer) names them the same way (RFC 7644 §3.1, §8.2).

pub mod bulk;
pub mod declared;
pub mod dialect;
pub mod error;
pub mod etag;
pub mod filter;
pub mod json;
pub mod lenient;
pub mod list;
pub mod op;
pub mod patch;
pub mod path;
pub mod projection;
pub mod schema;
pub mod sort;
pub mod v1;
mod value;

pub use dialect::Dialect;
pub use error::{ErrorKind, ScimError, ScimType};
pub use etag::{EntityTags, Preconditions};
pub use op::{ResourceKind, ScimOp, WriteMethod};
pub use projection::Projection;

/// RFC 7644 §3.12.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// RFC 7644 §3.4.2.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// RFC 7644 §3.5.2.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// RFC 7644 §3.4.3.
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// RFC 7644 §3.7.
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// RFC 7644 §3.7.
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// RFC 7643 §4.1.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// RFC 7643 §4.2.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// RFC 7643 §4.3.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// RFC 7643 §5.
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// RFC 7643 §6.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// RFC 7643 §7.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
