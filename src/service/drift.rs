//! Drift: how the platform's accounts and groups differ from what the identity links say and
//! what the IdP last wrote (`scimgate drift`, `GET /admin/v1/tenants/{t}/drift`). Read-only:
//! it reads the platform's whole list (up to `scim.max_scan`) and the store's links, and
//! links nothing (a SCIM list would link the accounts it sees for the first time).
//!
//! Four kinds:
//! - **unmanaged**: a platform account no IdP manages: no link, or a link the gateway made
//!   on sight (a list) that no IdP ever wrote;
//! - **gone**: a link whose account is no longer on the platform, or whose key another
//!   account now holds (its creation-time proof differs: `replaced`);
//! - **changed**: an attribute the platform now shows otherwise than right after the
//!   gateway's last write (someone changed the account on the platform directly);
//! - **membership**: a group's members on the platform now, against its members right after
//!   the gateway's last write. The store keeps no member list (membership is the platform's),
//!   only a mark of it in the link's platform snapshot: how many members and a SHA-256 of their
//!   sorted keys (`mark_members`), so drift says that and how the count changed, not who. A
//!   mapping that lists members by a call of their own leaves no mark (reading every member
//!   after each write would cost a scan), and the report says membership was not compared.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::{RequestContext, Resources, Result};
use crate::scim::projection::Projection;
use crate::store::Identity;

/// How many links are read from the store at once.
const LINK_PAGE: u64 = 500;

/// The drift of one resource type.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// `User` or `Group`.
    pub resource_type: String,
    /// Accounts (or groups) on the platform.
    pub platform_objects: usize,
    /// Identity links in the store.
    pub links: usize,
    /// On the platform, managed by no IdP.
    pub unmanaged: Vec<Unmanaged>,
    /// Linked, but the account is not on the platform any more.
    pub gone: Vec<LinkDrift>,
    /// Linked, but another account now holds the key.
    pub replaced: Vec<LinkDrift>,
    /// Attributes changed on the platform since the gateway's last write.
    pub changed: Vec<Changed>,
    /// Groups whose members differ from those after the gateway's last write.
    pub membership: Vec<Membership>,
    /// Whether membership could be compared (members read from the group object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership_compared: Option<bool>,
}

impl Drift {
    /// Whether anything differs.
    pub fn is_empty(&self) -> bool {
        self.unmanaged.is_empty()
            && self.gone.is_empty()
            && self.replaced.is_empty()
            && self.changed.is_empty()
            && self.membership.is_empty()
    }
}

/// A platform object no IdP manages.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unmanaged {
    /// Its platform key.
    pub key: String,
    /// Its `userName` or `displayName`, as SCIM would show it.
    pub name: Value,
    /// Its SCIM id, when the gateway linked it on sight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A link that no longer names its account.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkDrift {
    /// The SCIM id.
    pub id: String,
    /// The platform key it names.
    pub key: String,
    /// The IdP's `externalId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The name the IdP last wrote.
    pub name: Value,
}

/// Attributes the platform changed out of band.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changed {
    /// The SCIM id.
    pub id: String,
    /// The platform key.
    pub key: String,
    /// Each attribute: as after the gateway's last write, and now.
    pub attributes: Vec<AttributeChange>,
}

/// One attribute's change.
#[derive(Debug, Serialize)]
pub struct AttributeChange {
    /// The attribute's name.
    pub name: String,
    /// Its value right after the gateway's last write.
    pub written: Value,
    /// Its value on the platform now.
    pub now: Value,
}

/// A group whose members differ from those right after the gateway's last write.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// The group's SCIM id.
    pub id: String,
    /// The group's platform key.
    pub key: String,
    /// How many members it has on the platform now.
    pub members_now: usize,
    /// How many it had right after the gateway's last write.
    pub members_written: usize,
}

/// Where a link's platform snapshot keeps its membership mark (no platform field starts with
/// a control character).
const MEMBERS_MARK: &str = "\u{1f}members";

/// Marks a group's snapshot with its members: their count and a SHA-256 of their sorted keys.
pub(super) fn mark_members(snapshot: &mut Value, keys: &[String]) {
    if let Some(map) = snapshot.as_object_mut() {
        let (count, digest) = members_digest(keys);
        map.insert(
            MEMBERS_MARK.to_owned(),
            serde_json::json!({"count": count, "sha256": digest}),
        );
    }
}

fn members_digest(keys: &[String]) -> (usize, String) {
    use sha2::{Digest, Sha256};
    let sorted: BTreeSet<&String> = keys.iter().collect();
    let mut hash = Sha256::new();
    for key in &sorted {
        hash.update(key.as_bytes());
        hash.update([0u8]);
    }
    (sorted.len(), hex::encode(hash.finalize()))
}

impl Resources<'_> {
    /// This type's drift; see the module docs.
    pub async fn drift(&self) -> Result<Drift> {
        let settings = &self.gw.settings;
        let listed_from = self.gw.clock.now();
        let objects: HashMap<String, (Value, Option<String>)> = self
            .scan_keyed()
            .await?
            .into_iter()
            .map(|(key, proof, object)| (key, (object, proof)))
            .collect();
        let mut links = Vec::new();
        loop {
            let (page, total) = self.links(links.len() as u64, LINK_PAGE).await?;
            let done = page.is_empty() || links.len() + page.len() >= total as usize;
            links.extend(page);
            if done {
                break;
            }
        }
        let projection = Projection::default();
        let req = RequestContext {
            base_url: "",
            projection: &projection,
        };
        let mut drift = Drift {
            resource_type: self.type_id().to_owned(),
            platform_objects: objects.len(),
            links: links.len(),
            ..Drift::default()
        };
        let mut linked_keys = BTreeSet::new();
        for identity in &links {
            linked_keys.insert(identity.backend_key.clone());
            let written_by_idp = written_by_idp(identity);
            let Some((listed, proof)) = objects.get(&identity.backend_key) else {
                // Not in the list: gone, unless linked after the list began (a create that
                // ran meanwhile). Not asked on its own: platforms answer a deleted account's
                // id (Coder keeps it as a tombstone), and the list is what they show.
                if identity.created < listed_from {
                    drift.gone.push(self.link_drift(identity));
                }
                continue;
            };
            if let (Some(known), Some(seen)) = (&identity.proof, proof) {
                if known != seen {
                    drift.replaced.push(self.link_drift(identity));
                    continue;
                }
            }
            if !written_by_idp {
                drift.unmanaged.push(Unmanaged {
                    key: identity.backend_key.clone(),
                    name: self.name_in(identity, listed, &req).await?,
                    id: Some(identity.scim_id.clone()),
                });
                continue;
            }
            if identity.platform.is_null() {
                continue;
            }
            // A list item that lacks fields is not the object: compared, it is read whole.
            let whole;
            let object = if self.section.list.lacks.is_empty() {
                listed
            } else {
                whole = self.fetch_object(&identity.backend_key, true).await?;
                whole.as_ref()
            };
            let then = self
                .present(identity, &identity.platform, COMPARED, &req)
                .await?;
            let now = self.present(identity, object, COMPARED, &req).await?;
            let attributes = differences(&then.json, &now.json);
            if !attributes.is_empty() {
                drift.changed.push(Changed {
                    id: identity.scim_id.clone(),
                    key: identity.backend_key.clone(),
                    attributes,
                });
            }
            if let Some(spec) = &self.section.members {
                let mark = identity.platform.get(MEMBERS_MARK);
                let (Some(mark), Some(now)) = (mark, spec.member_keys(object, settings)?) else {
                    drift.membership_compared = Some(false);
                    continue;
                };
                drift.membership_compared.get_or_insert(true);
                let (count, digest) = members_digest(&now);
                if mark.get("sha256").and_then(Value::as_str) != Some(digest.as_str()) {
                    drift.membership.push(Membership {
                        id: identity.scim_id.clone(),
                        key: identity.backend_key.clone(),
                        members_now: count,
                        members_written: mark
                            .get("count")
                            .and_then(Value::as_u64)
                            .unwrap_or_default() as usize,
                    });
                }
            }
        }
        let mut unlinked: Vec<(&String, &Value)> = objects
            .iter()
            .filter(|(key, _)| !linked_keys.contains(*key))
            .map(|(key, (object, _))| (key, object))
            .collect();
        unlinked.sort_by(|a, b| a.0.cmp(b.0));
        for (key, object) in unlinked {
            let transient = self.new_link(String::new(), key);
            drift.unmanaged.push(Unmanaged {
                key: key.clone(),
                name: self.name_in(&transient, object, &req).await?,
                id: None,
            });
        }
        drift.unmanaged.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(drift)
    }

    fn link_drift(&self, identity: &Identity) -> LinkDrift {
        LinkDrift {
            id: identity.scim_id.clone(),
            key: identity.backend_key.clone(),
            external_id: identity.external_id.clone(),
            name: identity
                .shadow
                .get(self.name_attribute())
                .cloned()
                .unwrap_or(Value::Null),
        }
    }

    /// The resource's name as SCIM shows it.
    async fn name_in(
        &self,
        identity: &Identity,
        object: &Value,
        req: &RequestContext<'_>,
    ) -> Result<Value> {
        let resource = self.present(identity, object, COMPARED, req).await?;
        Ok(resource
            .json
            .get(self.name_attribute())
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// The snapshot of a platform object the link keeps (`Identity::platform`): the fields
    /// the mapping reads, and a group's membership mark when its members are in the object.
    pub(super) fn snapshot(&self, object: &Value) -> Value {
        let mut snapshot = self.section.snapshot_of(object);
        if let Some(spec) = &self.section.members {
            if let Ok(Some(keys)) = spec.member_keys(object, &self.gw.settings) {
                mark_members(&mut snapshot, &keys);
            }
        }
        snapshot
    }
}

/// What the comparison presents: attributes only (no groups, no member values: those would
/// cost calls and link what they see).
pub(super) const COMPARED: super::present::Detail = super::present::Detail {
    groups: false,
    members: false,
    partial: false,
    member_keys: false,
};

/// Whether an IdP ever wrote through this link (a link made on sight holds nothing written).
fn written_by_idp(identity: &Identity) -> bool {
    identity.external_id.is_some()
        || !identity.platform.is_null()
        || identity
            .shadow
            .as_object()
            .is_some_and(|shadow| !shadow.is_empty())
}

/// The top-level attributes two presentations of one resource differ in (not `meta`, `id`
/// or `schemas`, which say nothing of the account).
fn differences(then: &Value, now: &Value) -> Vec<AttributeChange> {
    let (Some(then), Some(now)) = (then.as_object(), now.as_object()) else {
        return Vec::new();
    };
    let names: BTreeSet<&String> = then.keys().chain(now.keys()).collect();
    names
        .into_iter()
        .filter(|name| {
            !matches!(
                name.as_str(),
                "meta" | "id" | "schemas" | "members" | "groups"
            )
        })
        .filter_map(|name| {
            let written = then.get(name).cloned().unwrap_or(Value::Null);
            let current = now.get(name).cloned().unwrap_or(Value::Null);
            (written != current).then(|| AttributeChange {
                name: name.clone(),
                written,
                now: current,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_membership_mark_is_a_note_presentation_ignores() {
        assert!(MEMBERS_MARK.starts_with(crate::mapping::SNAPSHOT_MARK));
        let mut snapshot = json!({"display_name": "Eng"});
        mark_members(
            &mut snapshot,
            &["b".to_owned(), "a".to_owned(), "a".to_owned()],
        );
        let mut same = json!({"display_name": "Eng"});
        mark_members(&mut same, &["a".to_owned(), "b".to_owned()]);
        assert_eq!(snapshot, same, "order and repeats do not change the mark");
        assert_eq!(snapshot[MEMBERS_MARK]["count"], 2);
    }

    #[test]
    fn only_account_attributes_count_as_changes() {
        let then = json!({"id": "1", "userName": "ann", "active": true,
                          "meta": {"version": "W/\"a\""}, "name": {"givenName": "Ann"}});
        let now = json!({"id": "1", "userName": "ann", "active": false,
                         "meta": {"version": "W/\"b\""}, "name": {"givenName": "Anne"},
                         "title": "CTO"});
        let changed: Vec<(String, Value, Value)> = differences(&then, &now)
            .into_iter()
            .map(|c| (c.name, c.written, c.now))
            .collect();
        assert_eq!(
            changed,
            vec![
                ("active".into(), json!(true), json!(false)),
                (
                    "name".into(),
                    json!({"givenName": "Ann"}),
                    json!({"givenName": "Anne"})
                ),
                ("title".into(), Value::Null, json!("CTO")),
            ]
        );
    }
}
