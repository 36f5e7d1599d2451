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
use super::write::WriteLock;
use super::{RequestContext, Resource, Resources, Result};
use crate::backend::Failure;
use crate::scim::filter::parse_filter;
use crate::scim::list::ListQuery;
use crate::scim::path::AttrPath;
use crate::scim::Projection;
use crate::store::CreateIntent;

/// How long a create's intent answers for its retries.
const INTENT_LIFETIME: Duration = Duration::hours(24);
/// How much earlier than the gateway's clock a platform may date an account it has just made.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// A create about to run, under the SCIM id it gives the resource.
pub(super) struct PendingCreate {
    pub(super) intent: CreateIntent,
}

/// How a POST relates to the creates begun before it.
pub(super) enum Attempt {
    /// The retry of a create begun before, answered with the resource.
    Repeated(Resource, String),
    /// A create to run (anew, or again under the id its first attempt chose).
    Create(Option<PendingCreate>),
}

/// A digest of a request body that does not depend on the order of its members.
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
    canonical(resource, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl crate::backend::PlatformError {
    /// Whether the platform may have carried out the call despite the error: no answer after
    /// the request left, or a server error; a refusal (4xx) or a call never sent did nothing.
    pub fn may_have_acted(&self) -> bool {
        match &self.failure {
            Failure::Timeout(_) => true,
            Failure::Unreachable(_) => self.retry != crate::backend::Retry::Safe,
            Failure::Refused { status, .. } => *status >= 500,
            Failure::InvalidRequest(_) | Failure::CircuitOpen | Failure::Overloaded => false,
        }
    }
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
        let key = format!(
            "{}\u{1f}{}\u{1f}create\u{1f}{name}",
            self.gw.tenant,
            self.type_id()
        );
        let local = self.gw.create_locks.lock(&key).await;
        let replicas = self.gw.replicas.lock_resource(&key).await?;
        Ok(WriteLock::held(local, replicas))
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
        Ok(Attempt::Create(Some(PendingCreate {
            intent: CreateIntent {
                name,
                request,
                scim_id: scim_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                started: now,
            },
        })))
    }

    /// Records the intent, just before the platform is asked to create.
    pub(super) async fn begin(&self, pending: &PendingCreate) -> Result<()> {
        let stale = pending.intent.started - INTENT_LIFETIME;
        self.gw
            .intents
            .begin_create(self.scope(), &pending.intent, stale)
            .await?;
        Ok(())
    }

    /// Drops a create's intent: the create was answered, or the platform made nothing.
    pub(super) async fn end(&self, pending: &PendingCreate) -> Result<()> {
        let intent = &pending.intent;
        self.gw
            .intents
            .drop_create(self.scope(), &intent.name, &intent.scim_id)
            .await?;
        Ok(())
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
        let id = &earlier.scim_id;
        let linked = self.gw.links.get(self.scope(), id).await?.is_some();
        if !linked && !self.adopt(earlier, req).await? {
            return Ok(None);
        }
        let answer = self.replace(id, resource, read_only, None, req).await?;
        self.gw
            .intents
            .drop_create(self.scope(), &earlier.name, id)
            .await?;
        let how = if linked {
            format!("a retry of the create of {id}, which was cut short: finished")
        } else {
            format!(
                "a retry of the create of {id}, whose link was never stored: the account it made was linked and updated"
            )
        };
        Ok(Some((answer, how)))
    }

    /// Links the account an interrupted create made, under the id that create chose: the one
    /// platform object of the create's name that the gateway never wrote and (where the
    /// mapping proves accounts by a creation time) that was not made before the create began.
    async fn adopt(&self, earlier: &CreateIntent, req: &RequestContext<'_>) -> Result<bool> {
        let attribute = self.name_attribute();
        let filter = parse_filter(&format!("{attribute} eq {}", Value::from(&*earlier.name)))?;
        let query = ListQuery {
            filter: Some(filter),
            count: Some(10),
            ..ListQuery::default()
        };
        // Whatever the IdP asked to see, the names and ids are needed; members are not.
        let projection = Projection {
            attributes: Vec::new(),
            excluded: vec![AttrPath::new("members"), AttrPath::new("groups")],
        };
        let context = RequestContext {
            base_url: req.base_url,
            projection: &projection,
        };
        let page = self.list(&query, &context).await?;
        let named: Vec<&str> = page
            .resources
            .iter()
            .filter(|found| {
                found
                    .get(attribute)
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.to_lowercase() == earlier.name)
            })
            .filter_map(|found| found.get("id").and_then(Value::as_str))
            .collect();
        let [found] = named.as_slice() else {
            return Ok(false);
        };
        let lock = self.lock_for_write(found).await?;
        let mut identity = self.identity_from_store(found).await?;
        // Read fresh: the account must still be there, and its proof current.
        self.object_for(&mut identity, true, Locked::Yes).await?;
        if !identity.platform.is_null() {
            // Written through the gateway: another create's account, not this one's.
            return Ok(false);
        }
        if let Some(made) = creation_time(identity.proof.as_deref()) {
            if made < earlier.started - CLOCK_SKEW {
                return Ok(false);
            }
        }
        if !self
            .gw
            .links
            .rekey(self.scope(), found, &earlier.scim_id)
            .await?
        {
            return Ok(false);
        }
        drop(lock);
        self.forget_kept(&identity).await;
        tracing::warn!(
            tenant = %self.gw.tenant,
            resource_type = self.type_id(),
            scim_id = %earlier.scim_id,
            "a create was cut short after the platform made the account: linked on the IdP's retry"
        );
        Ok(true)
    }
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
        // Array order is the IdP's meaning.
        assert_ne!(
            request_digest(&json!({"emails": [{"value": "x"}, {"value": "y"}]})),
            request_digest(&json!({"emails": [{"value": "y"}, {"value": "x"}]}))
        );
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
