//! PATCH requests (RFC 7644 §3.5.2): any JSON body is parsed as a PatchOp request, and what
//! parses is applied to a full User and to a Group under the standard schemas. Neither step
//! may panic; a successful PATCH yields a JSON object, and a second application of the same
//! operations to that result does not panic either.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scimgate::scim::patch::{apply_patch, parse_patch_request};
use scimgate::scim::schema::Registry;
use serde_json::{json, Value};

struct Fixtures {
    registry: Registry,
    user: Value,
    group: Value,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let mut user: Value =
            serde_json::from_str(include_str!("../../src/scim/testdata/full_user.json"))
                .expect("full_user.json is JSON");
        if let Some(user) = user.as_object_mut() {
            user.remove("password");
        }
        Fixtures {
            registry: Registry::standard().expect("the standard schemas load"),
            user,
            group: json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
                "displayName": "Tour Guides",
                "members": [
                    {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
                    {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}
                ],
                "meta": {"resourceType": "Group", "version": "W/\"3694e05e9dff592\""}
            }),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(ops) = parse_patch_request(&body) else {
        return;
    };
    let f = fixtures();
    for (rt, resource) in [("User", &f.user), ("Group", &f.group)] {
        let rt = f.registry.resource_type(rt).expect("User and Group are standard");
        if let Ok(patched) = apply_patch(&f.registry, rt, resource, &ops) {
            assert!(patched.is_object(), "a patched resource is an object: {patched}");
            let _ = apply_patch(&f.registry, rt, &patched, &ops);
        }
    }
});
