//! The mapping language's expressions and templates (MiniJinja): compiling any text never
//! panics, and what compiles is evaluated against a small context like the ones mappings
//! see (`backend`, `resource`, `settings`, `key`, ...). An expression and the same expression
//! in parentheses give the same value: the first may take the gateway's own fast paths (a
//! bare path, a plucked list), the second is always evaluated by MiniJinja.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scimgate::mapping::expr::{Expr, Scope, Template};
use serde_json::{json, Value};

fn context() -> &'static Value {
    static CONTEXT: OnceLock<Value> = OnceLock::new();
    CONTEXT.get_or_init(|| {
        json!({
            "key": "uuid-1",
            "settings": {"organization_id": "org-1", "placeholder_email_domain": "none.invalid"},
            "backend": {
                "id": "uuid-1", "username": "bjensen", "name": "Barbara Jensen",
                "email": "bjensen@example.com", "status": "active", "login_type": "password",
                "created_at": "2024-01-02T03:04:05Z", "roles": [{"name": "member"}],
                "members": [{"id": "a", "username": "x"}, {"id": "b", "username": "y"}],
                "profile": {"name": {"first": "Barbara", "last": "Jensen"}},
                "count": 12345678901234567890u64, "ratio": 0.5, "neg": -3, "none": null
            },
            "resource": {
                "userName": "bjensen", "active": true, "externalId": "e-1",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]
            },
            "value": "Barbara",
            "offset": 0, "limit": 100, "page": 1, "per_page": 100,
            "desired": {"username": "bjensen"}, "generated": {"password": "p"},
            "item": {"id": "1"}, "response": {"users": [], "count": 0}, "headers": {}
        })
    })
}

fuzz_target!(|source: &str| {
    // Evaluation is bounded by the expression's size; keep inputs small so that a run
    // explores syntax rather than spends its time building huge strings.
    if source.len() > 512 {
        return;
    }
    let ctx = context();
    let scope = Scope::new(ctx);
    if let Ok(expr) = Expr::compile(source) {
        let _ = expr.source();
        let _ = expr.variables();
        let _ = expr.paths();
        let _ = expr.values_read(&scope);
        let _ = expr.eval_bool(&scope);
        let value = expr.eval(&scope);
        if let Ok(wrapped) = Expr::compile(&format!("({source})")) {
            let again = wrapped.eval(&scope);
            if let (Ok(a), Ok(b)) = (&value, &again) {
                assert_eq!(a, b, "{source:?} and ({source}) evaluate differently");
            }
        }
    }
    if let Ok(template) = Template::compile(source) {
        let _ = template.variables();
        let _ = template.paths();
        let _ = template.render(&scope);
        let _ = template.render_string(&scope);
    }
});
