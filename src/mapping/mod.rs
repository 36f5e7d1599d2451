//! The mapping engine: how SCIM resources and operations become a platform's REST calls.
//!
//! A mapping file (TOML, see `config/mappings/*.toml` and the README's mapping reference) holds
//! every piece of platform knowledge; this module holds none. It is pure: it compiles the file,
//! renders requests from templates, converts objects both ways, picks filter push-downs and
//! classifies platform errors. The service executes the calls it renders.

pub mod compile;
mod contract;
pub mod expr;
pub mod lazy;
pub mod model;
mod plan;
pub mod redact;
mod request;
pub mod spec;
#[cfg(test)]
mod tests;
pub mod vars;

pub use compile::{load_mapping, Mapping, PlatformSpec, ResourceMapping};

/// The schemas as a backend serves them: the standard ones with the mutability its mapping
/// imposes on attributes the platform cannot change (`mutability = "readOnly"`).
pub fn registry_for(
    standard: &crate::scim::schema::Registry,
    mapping: &Mapping,
) -> crate::scim::schema::Registry {
    let mut registry = standard.clone();
    let sections = [
        ("User", Some(&mapping.users)),
        ("Group", mapping.groups.as_ref()),
    ];
    for (rt, section) in sections {
        for attribute in section.into_iter().flat_map(|s| &s.attributes) {
            if let Some(mutability) = attribute.mutability {
                registry.set_mutability(rt, &attribute.scim, mutability);
            }
        }
    }
    registry
}
pub use plan::{is_core_urn, read_user_groups, MappingError, SNAPSHOT_MARK};
pub use request::{BackendRequest, BackendResponse, Method};
