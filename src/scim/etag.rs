//! Versions and conditional requests (RFC 7644 §3.14, RFC 7232): a resource's weak entity tag
//! computed from its content, and the `If-Match` / `If-None-Match` lists a request names.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// An `If-Match` or `If-None-Match` header: `*`, or a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTags(Vec<String>);

impl EntityTags {
    /// The tags of a header value (`W/"a", "b"` or `*`).
    pub fn parse(header: &str) -> EntityTags {
        EntityTags(
            header
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Whether the list names this version (`*` names any). Weak and strong tags compare by
    /// their opaque part: SCIM versions are weak (§3.14).
    pub fn names(&self, version: &str) -> bool {
        let wanted = opaque(version);
        self.0.iter().any(|tag| tag == "*" || opaque(tag) == wanted)
    }
}

fn opaque(tag: &str) -> &str {
    tag.trim().trim_start_matches("W/")
}

/// What a request makes conditional on the resource's current version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// A write happens only while the resource has one of these versions.
    pub if_match: Option<EntityTags>,
    /// A read answers 304 when the resource still has one of these versions.
    pub if_none_match: Option<EntityTags>,
}

/// A weak entity tag over a resource's attributes and its members' platform keys (RFC 7232
/// §2.3). Object keys are hashed in sorted order, so equal content gives the same tag whatever
/// order an IdP sent it in, and a member list is hashed as a set.
pub fn weak_etag(attrs: &Value, member_keys: Option<&[String]>) -> String {
    let mut text = Vec::with_capacity(512);
    canonical(attrs, &mut text);
    if let Some(keys) = member_keys {
        let mut keys: Vec<&String> = keys.iter().collect();
        keys.sort();
        text.extend_from_slice(b"|members:");
        for k in keys {
            text.extend_from_slice(k.as_bytes());
            text.push(b',');
        }
    }
    let digest = Sha256::digest(&text);
    let hex = hex::encode(digest.get(..10).unwrap_or_default());
    format!("W/\"{hex}\"")
}

/// Object keys sorted, scalars and keys as JSON text (written in place: this runs for every
/// resource of every answer).
fn canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (k, v) in members {
                json_text(k, out);
                out.push(b':');
                canonical(v, out);
                out.push(b',');
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for item in items {
                canonical(item, out);
                out.push(b',');
            }
            out.push(b']');
        }
        other => json_text(other, out),
    }
}

fn json_text<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing JSON text of a string or a JSON scalar into memory cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_name_versions_weakly() {
        let version = "W/\"e180ee84f0671b1\"";
        assert!(EntityTags::parse("W/\"e180ee84f0671b1\"").names(version));
        assert!(EntityTags::parse("\"e180ee84f0671b1\"").names(version));
        assert!(EntityTags::parse("W/\"x\", W/\"e180ee84f0671b1\"").names(version));
        assert!(EntityTags::parse("*").names(version));
        assert!(!EntityTags::parse("W/\"x\"").names(version));
        assert!(!EntityTags::parse("").names(version));
    }

    #[test]
    fn tags_follow_content_not_order() {
        let a = weak_etag(
            &json!({"userName": "bjensen", "name": {"a": 1, "b": 2}}),
            None,
        );
        let b = weak_etag(
            &json!({"name": {"b": 2, "a": 1}, "userName": "bjensen"}),
            None,
        );
        assert_eq!(a, b);
        assert!(a.starts_with("W/\""));
        let c = weak_etag(&json!({"userName": "bjensen2"}), None);
        assert_ne!(a, c);
        let members = |keys: &[&str]| {
            let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
            weak_etag(&json!({}), Some(&keys))
        };
        assert_eq!(members(&["1", "2"]), members(&["2", "1"]));
        assert_ne!(members(&["1", "2"]), members(&["1"]));
    }

    /// The text hashed is fixed (IdPs keep versions across the gateway's upgrades): keys
    /// sorted, JSON scalars, a trailing comma after each member, then the sorted member keys.
    #[test]
    fn the_hashed_text_is_stable() {
        // sha256 of {"name":{"a":1,"b":2,},"tags":["x\"y",true,null,1.5,],"userName":"bjensen",}|members:1,2,
        let tag = weak_etag(
            &json!({"userName": "bjensen", "tags": ["x\"y", true, null, 1.5], "name": {"b": 2, "a": 1}}),
            Some(&["2".to_owned(), "1".to_owned()]),
        );
        assert_eq!(tag, "W/\"6d7e386a3ce21320d35d\"");
    }
}
