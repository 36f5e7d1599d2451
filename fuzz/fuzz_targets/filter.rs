//! SCIM filters (RFC 7644 §3.4.2.2) in both dialects: parsing never panics, a parsed filter
//! prints text that parses back to the same tree (the promise of `Filter`'s `Display`), and
//! validating and matching it against the standard User schema and a full User never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scimgate::scim::filter::{parse_filter, parse_filter_in, Filter, MAX_FILTER_LEN};
use scimgate::scim::schema::Registry;
use scimgate::scim::Dialect;
use serde_json::Value;

fn fixtures() -> &'static (Registry, Value) {
    static FIXTURES: OnceLock<(Registry, Value)> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let registry = Registry::standard().expect("the standard schemas load");
        let user = serde_json::from_str(include_str!("../../src/scim/testdata/full_user.json"))
            .expect("full_user.json is JSON");
        (registry, user)
    })
}

fn check(source: &str, parsed: Filter, dialect: Dialect) {
    let (registry, user) = fixtures();
    let printed = parsed.to_string();
    if printed.len() <= MAX_FILTER_LEN {
        match parse_filter_in(&printed, dialect) {
            Ok(again) => assert_eq!(
                again, parsed,
                "{dialect:?}: {source:?} printed as {printed:?} parses to another tree"
            ),
            Err(e) => panic!(
                "{dialect:?}: {source:?} printed as {printed:?} does not parse back: {}",
                e.detail
            ),
        }
    }
    for rt in ["User", "Group"] {
        let rt = registry.resource_type(rt).expect("User and Group are standard");
        let _ = parsed.validate(registry, rt);
        let _ = parsed.undefined(registry, rt);
        let mut settled = parsed.clone();
        settled.settle(registry, rt);
        let _ = parsed.matches(user, registry, rt);
        let _ = settled.matches(user, registry, rt);
    }
}

fuzz_target!(|source: &str| {
    if let Ok(parsed) = parse_filter(source) {
        check(source, parsed, Dialect::Strict);
    }
    if let Ok(parsed) = parse_filter_in(source, Dialect::Lenient) {
        check(source, parsed, Dialect::Lenient);
    }
});
