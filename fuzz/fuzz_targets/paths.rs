//! Attribute paths (RFC 7644 §3.10), `attributes` lists (§3.4.2.5) and PATCH paths (§3.5.2):
//! parsing never panics, and what parses prints as text that parses back to the same path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimgate::scim::path::{parse_attr_list, parse_attr_path, parse_patch_path};

fuzz_target!(|source: &str| {
    if let Ok(path) = parse_attr_path(source) {
        let printed = path.to_string();
        let again = parse_attr_path(&printed)
            .unwrap_or_else(|e| panic!("{source:?} printed as {printed:?}: {}", e.detail));
        assert_eq!(again, path, "{source:?} printed as {printed:?}");
        let _ = path.as_schema_urn();
        let _ = path.parent();
    }
    if let Ok(list) = parse_attr_list(source) {
        for path in &list {
            let printed = path.to_string();
            assert!(
                parse_attr_path(&printed).is_ok(),
                "{source:?}: the item printed as {printed:?} does not parse"
            );
        }
    }
    if let Ok(path) = parse_patch_path(source) {
        let printed = path.to_string();
        let again = parse_patch_path(&printed)
            .unwrap_or_else(|e| panic!("{source:?} printed as {printed:?}: {}", e.detail));
        assert_eq!(again, path, "{source:?} printed as {printed:?}");
    }
});
