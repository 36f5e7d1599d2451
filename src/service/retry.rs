//! Creates safe to retry (RFC 7644 §3.3 create; RFC 7231 §4.2.2 on why a POST is not). IdPs
//! retry a create whose answer they did not get, and processes get killed: a create whose
//! platform call succeeded while the process died before the identity link was stored leaves
//! an account no link names. Each create therefore records an intent (its resource's name, a
//! digest of the request, the SCIM id it gives) before asking the platform, and drops it once
//! the create is answered or the platform refused it. The same request again, within a day,
//! while its intent is there, is the IdP's retry of a create cut short:
//!
//! - the link was stored but the rest was not (members, later calls, the answer): the request
//!   is applied to the resource as a replace would, and answered 201;
//! - no link: the platform's account of that name, if one appeared that the gateway never
//!   wrote (and, where the mapping's `identity` is a creation time, not made before the create
//!   began), is linked under the SCIM id chosen the first time and the request applied to it;
//!   with no such account the create runs again under that id.
//!
//! A create that was answered leaves no intent: the same POST again is a 409 `uniqueness`, as
//! RFC 7644 §3.3 says of any POST for a name the platform has (an IdP that lost the answer
//! looks the name up). Creates of one
//! name are serialized (in the process, and across replicas sharing the store), so a retry
//! never races the create it repeats.

use serde_json::Value;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::links::Locked;
use super::write::{Whole, WriteLock};
use super::{RequestContext, Resource, Resources, Result};
use crate::scim::filter::parse_filter;
use crate::scim::list::ListQuery;
use crate::scim::path::AttrPath;
use crate::scim::Projection;
use crate::store::CreateIntent;

/// How long a create's intent answers for its retries.
const INTENT_LIFETIME: Duration = Duration::hours(24);
/// How much earlier than the gateway's clock a platform may date an account it has just made.
const CLOCK_SKEW: Duration = Duration::minutes(5);
/// How much later than the create began the platform may date the account it made (the
/// platform's time to answer, retries and clock skew): an account made later was made by
/// something else (a sign-in, an admin).
const CREATE_WINDOW: Duration = Duration::minutes(10);

/// How a POST relates to the creates begun before it.
pub(super) enum Attempt {
    /// The retry of a create begun before, answered with the resource.
    Repeated(Resource, String),
    /// A create to run (anew, or again under the id its first attempt chose), with the
    /// intent to record before the platform is asked.
    Create(Option<CreateIntent>),
}

/// A digest of a request body that does not depend on the order of its members, without the
/// password (the store never holds one, not even as a fast hash).
fn request_digest(resource: &Value) -> String {
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut names: Vec<&String> = map.keys().collect();
                names.sort();
                out.push('{');
                for name in names {
                    out.push_str(&Value::from(name.as_str()).to_string());
                    out.push(':');
                    if let Some(inner) = map.get(name) {
                        canonical(inner, out);
                    }
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for item in items {
                    canonical(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    match resource {
        Value::Object(map) => {
            let kept: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("password"))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            canonical(&Value::Object(kept), &mut text);
        }
        other => canonical(other, &mut text),
    }
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(digest)
}

impl Resources<'_> {
    /// The name a create is known by (`userName`, `displayName`), as RFC 7643 compares it.
    fn create_name(&self, resource: &Value) -> Option<String> {
        resource
            .get(self.name_attribute())
            .and_then(Value::as_str)
            .map(str::to_lowercase)
    }

    /// Serializes creates of one name (in this process, and across replicas).
    pub(super) async fn lock_for_create(&self, resource: &Value) -> Result<WriteLock<'_>> {
        let name = self.create_name(resource).unwrap_or_default();
        self.lock_in(&self.gw.create_locks, &format!("create\u{1f}{name}"))
            .await
    }

    /// Tells a retry from a new create (the caller holds the create lock): a retry is
    /// answered here; a create gets the intent to record before the platform is asked.
    pub(super) async fn attempt(
        &self,
        resource: &Value,
        read_only: &Value,
        req: &RequestContext<'_>,
    ) -> Result<Attempt> {
        let Some(name) = self.create_name(resource) else {
            // Refused by validation before anything is asked of the platform.
            return Ok(Attempt::Create(None));
        };
        let now = self.gw.clock.now();
        let request = request_digest(resource);
        let earlier = self
            .gw
            .intents
            .create_intent(self.scope(), &name)
            .await?
            .filter(|i| i.request == request && i.started > now - INTENT_LIFETIME);
        let mut scim_id = None;
        if let Some(earlier) = earlier {
            if let Some((resource, how)) = self.repeat(&earlier, resource, read_only, req).await? {
                return Ok(Attempt::Repeated(resource, how));
            }
            // It left nothing on the platform: the create runs again under its id.
            scim_id = Some(earlier.scim_id);
        }
        Ok(Attempt::Create(Some(CreateIntent {
            name,
            request,
            scim_id: scim_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            started: now,
        })))
    }

    /// Records the intent, just before the platform is asked to create.
    pub(super) async fn begin(&self, intent: &CreateIntent) -> Result<()> {
        let stale = intent.started - INTENT_LIFETIME;
        self.gw
            .intents
            .begin_create(self.scope(), intent, stale)
            .await?;
        Ok(())
    }

    /// Drops a create's intent: the IdP got an answer. A store that fails here leaves it to
    /// expire, logged; the answer stands.
    pub(super) async fn end(&self, intent: &CreateIntent) {
        let dropped = self
            .gw
            .intents
            .drop_create(self.scope(), &intent.name, &intent.scim_id)
            .await;
        if let Err(e) = dropped {
            tracing::warn!(error = %e, scim_id = %intent.scim_id, "a create's intent stays until it expires");
        }
    }

    /// Answers the retry of `earlier`, when there is something to answer with: the resource
    /// it made, finished; `None` when it left nothing on the platform.
    async fn repeat(
        &self,
        earlier: &CreateIntent,
        resource: &Value,
        read_only: &Value,
        req: &RequestContext<'_>,
    ) -> Result<Option<(Resource, String)>> {
        let linked = self
            .gw
            .links
            .get(self.scope(), &earlier.scim_id)
            .await?
            .is_some();
        let (id, how) = if linked {
            (
                earlier.scim_id.clone(),
                "which was cut short after the link was stored: finished",
            )
        } else {
            match self.adopt(earlier, resource, req).await? {
                Some(id) => (
                    id,
                    "whose link was never stored: the account it made was linked and updated",
                ),
                None => return Ok(None),
            }
        };
        let answer = self
            .replace_as(&id, resource, read_only, None, req, Whole::Repeat)
            .await?;
        self.end(earlier).await;
        Ok(Some((
            answer,
            format!("a retry of the create of {id}, {how}"),
        )))
    }

    /// The account an interrupted create made, found by the create's name: the one platform
    /// object of that name that the gateway never wrote, made (by the creation time the
    /// mapping's `identity` proves it by) while the create ran, holding what the create asked
    /// for. Answers its SCIM id (the link the list made, or had made: an id a list may have
    /// shown already stays the account's). A mapping without such a proof cannot tell the
    /// account from one made otherwise: none.
    async fn adopt(
        &self,
        earlier: &CreateIntent,
        resource: &Value,
        req: &RequestContext<'_>,
    ) -> Result<Option<String>> {
        // What the platform holds after the create's first call, as SCIM (its later calls,
        // such as a suspension, may not have run).
        let desired = self.section.desired(resource, &self.gw.settings)?;
        let asked = self
            .section
            .to_scim(&Value::Object(desired), None, None, &self.gw.settings)?;
        let attribute = self.name_attribute();
        let filter = parse_filter(&format!("{attribute} eq {}", Value::from(&*earlier.name)))?;
        let query = ListQuery {
            filter: Some(filter),
            count: Some(10),
            ..ListQuery::default()
        };
        // Whatever the IdP asked to see, the ids are needed; members are not.
        let projection = Projection {
            attributes: Vec::new(),
            excluded: vec![AttrPath::new("members"), AttrPath::new("groups")],
        };
        let context = RequestContext {
            base_url: req.base_url,
            projection: &projection,
        };
        // The filter matches as the gateway does (an account it never wrote by its name in
        // the platform's form too: `bjensen` for `bjensen@example.com`).
        let page = self.list(&query, &context).await?;
        let [only] = page.resources.as_slice() else {
            return Ok(None);
        };
        if !holds_what_was_asked(only, &asked) {
            // Another account of the name (an older one, made on the platform directly).
            return Ok(None);
        }
        let Some(found) = only.get("id").and_then(Value::as_str) else {
            return Ok(None);
        };
        let _lock = self.lock_for_write(found).await?;
        let mut identity = match self.identity_from_store(found).await {
            Ok(identity) => identity,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        // Read fresh: the account must still be there, and its proof current.
        match self.object_for(&mut identity, true, Locked::Yes).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        }
        if !identity.platform.is_null() {
            // Written through the gateway: another create's account, not this one's.
            return Ok(None);
        }
        let Some(made) = creation_time(identity.proof.as_deref()) else {
            return Ok(None);
        };
        if made < earlier.started - CLOCK_SKEW || made > earlier.started + CREATE_WINDOW {
            return Ok(None);
        }
        tracing::warn!(
            tenant = %self.gw.tenant,
            resource_type = self.type_id(),
            scim_id = %identity.scim_id,
            "a create was cut short after the platform made the account: linked on the IdP's retry"
        );
        Ok(Some(identity.scim_id))
    }
}

/// Whether a platform account, as SCIM, holds every value a create asked for (its state
/// aside: a later call sets it).
fn holds_what_was_asked(found: &Value, asked: &Value) -> bool {
    let Some(asked) = asked.as_object() else {
        return false;
    };
    asked
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "active" | "id" | "meta" | "schemas"))
        .all(|(name, value)| found.get(name) == Some(value))
}

/// The time a mapping's `identity` proof names, when it is one (a JSON string in RFC 3339).
fn creation_time(proof: Option<&str>) -> Option<OffsetDateTime> {
    let text: String = serde_json::from_str(proof?).ok()?;
    OffsetDateTime::parse(&text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_digest_ignores_member_order_but_not_values() {
        let a = json!({"userName": "a", "name": {"givenName": "A", "familyName": "B"}});
        let b = json!({"name": {"familyName": "B", "givenName": "A"}, "userName": "a"});
        let c = json!({"userName": "a", "name": {"givenName": "A", "familyName": "C"}});
        assert_eq!(request_digest(&a), request_digest(&b));
        assert_ne!(request_digest(&a), request_digest(&c));
        // The password is no part of it.
        let with_password = json!({"userName": "a", "name": {"givenName": "A", "familyName": "B"}, "Password": "s3cret-Pa55"});
        assert_eq!(request_digest(&a), request_digest(&with_password));
        // Array order is the IdP's meaning.
        assert_ne!(
            request_digest(&json!({"emails": [{"value": "x"}, {"value": "y"}]})),
            request_digest(&json!({"emails": [{"value": "y"}, {"value": "x"}]}))
        );
    }

    #[test]
    fn an_account_holds_what_was_asked_whatever_its_state() {
        let asked =
            json!({"userName": "bjensen", "emails": [{"value": "b@example.com"}], "active": true});
        let same = json!({"id": "1", "userName": "bjensen", "emails": [{"value": "b@example.com"}], "active": false, "title": "x"});
        let other =
            json!({"id": "2", "userName": "bjensen", "emails": [{"value": "someone@example.com"}]});
        assert!(holds_what_was_asked(&same, &asked));
        assert!(!holds_what_was_asked(&other, &asked));
        assert!(!holds_what_was_asked(&same, &json!(null)));
    }

    #[test]
    fn a_creation_time_is_read_from_a_proof_that_is_one() {
        let t = creation_time(Some("\"2026-12-04T18:00:00.123Z\"")).unwrap();
        assert_eq!(t.unix_timestamp(), 1_796_407_200);
        assert_eq!(creation_time(Some("42")), None);
        assert_eq!(creation_time(Some("\"not a time\"")), None);
        assert_eq!(creation_time(None), None);
    }
}
