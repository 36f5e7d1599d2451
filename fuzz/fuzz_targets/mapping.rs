//! Whole mapping files (the TOML mapping language) through the same compiler `scimgate check`
//! and start-up use: any text either compiles or yields problems, and never panics.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scimgate::mapping::compile::compile_mapping_str;
use scimgate::problems::Problems;
use scimgate::scim::schema::Registry;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::standard().expect("the standard schemas load"))
}

fuzz_target!(|text: &str| {
    let mut problems = Problems::default();
    let mapping = compile_mapping_str(Path::new("fuzz.toml"), text, registry(), &mut problems);
    if let Some(mapping) = mapping {
        if problems.is_empty() {
            // The schemas as the backend would serve them.
            let _ = scimgate::mapping::registry_for(registry(), &mapping);
        }
    }
    let _ = problems.to_string();
});
