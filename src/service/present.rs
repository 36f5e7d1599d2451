//! Presentation: a platform object and its identity link as the SCIM resource the IdP reads
//! (RFC 7643 §3.1 common attributes, §4.1.2 a user's `groups`, §4.2 a group's `members`),
//! with its weak version (RFC 7644 §3.14). Members and groups cost store reads and platform
//! calls, so they are resolved only when the answer keeps them.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::links::strip_common;
use super::{RequestContext, Resource, Resources, Result, ServiceError};
use crate::mapping::compile::{CallSpec, GroupsOfSpec, MemberSource, MembersSpec};
use crate::mapping::expr::Expr;
use crate::mapping::read_user_groups;
use crate::mapping::vars::ReadVars;
use crate::scim::etag::weak_etag;
use crate::scim::ResourceKind;
use crate::store::Identity;

/// What a presentation resolves beyond the attributes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Detail {
    /// A user's read-only `groups` (a platform call per user).
    pub(super) groups: bool,
    /// A group's `members` as SCIM ids and `$ref`s (store reads per member).
    pub(super) members: bool,
    /// The object is a list item that lacks the fields the list declares (`lacks`).
    pub(super) partial: bool,
    /// A group's member keys are read at all (off only where attributes alone are compared:
    /// a mapping that lists members by a call of their own would scan them).
    pub(super) member_keys: bool,
}

impl Detail {
    /// What a single read or a write's answer resolves: groups always, members when the
    /// answer keeps them.
    pub(super) fn answer(req: &RequestContext<'_>) -> Detail {
        Detail {
            groups: true,
            members: req.projection.keeps("members"),
            partial: false,
            member_keys: true,
        }
    }

    /// What a write starts from: every member (the delta is computed from them), no groups.
    pub(super) const FOR_WRITE: Detail = Detail {
        groups: false,
        members: true,
        partial: false,
        member_keys: true,
    };
}

impl Resources<'_> {
    /// The resource a platform object and its link make.
    pub(super) async fn present(
        &self,
        identity: &Identity,
        object: &Value,
        detail: Detail,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        let members = match (&self.section.members, detail.member_keys) {
            (Some(spec), true) => {
                let keys = self.group_member_keys(spec, object).await?;
                let values = match detail.members {
                    true => Some(self.member_values(&keys, req).await?),
                    false => None,
                };
                Some((keys, values))
            }
            _ => None,
        };
        let mut resource = self.render(identity, object, members, detail.partial, req)?;
        if let (true, Some(spec)) = (detail.groups, &self.section.groups_of) {
            // A user's groups are a courtesy of the read: a platform that cannot list them
            // (Coder without its Premium licence answers 403) must not fail the user.
            match self.group_values(spec, &identity.backend_key, req).await {
                Ok(groups) => {
                    if let (false, Some(map)) = (groups.is_empty(), resource.json.as_object_mut()) {
                        // Derived from the platform: not part of what the version covers.
                        map.insert("groups".to_owned(), Value::Array(groups));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the user's groups; answering without them")
                }
            }
        }
        Ok(resource)
    }

    /// The user keys of a group's members: from the group object, or from the members'
    /// own list call (every page, up to the scan bound).
    pub(super) async fn group_member_keys(
        &self,
        spec: &MembersSpec,
        group: &Value,
    ) -> Result<Vec<String>> {
        let settings = &self.gw.settings;
        if let Some(keys) = spec.member_keys(group, settings)? {
            return Ok(keys);
        }
        let MemberSource::List { list, .. } = &spec.source else {
            return Ok(Vec::new());
        };
        let key = self.section.key_of(group, settings)?;
        let items = self.scan_of(list, Some(&key), &[]).await?;
        let mut keys = Vec::with_capacity(items.len());
        for item in &items {
            if let Some(key) = spec.member_key_of(item, settings)? {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    /// The platform group objects a user belongs to, read by the `[users.groups]` call of its
    /// own (cached per user).
    async fn groups_by_call(
        &self,
        call: &CallSpec,
        items: &Expr,
        user_key: &str,
    ) -> Result<Arc<Vec<Value>>> {
        if let Some(hit) = self.gw.cache.groups_of(&self.gw.tenant, user_key).await {
            return Ok(hit);
        }
        let vars = ReadVars {
            key: user_key,
            settings: &self.gw.settings,
        };
        let request = call.render(&vars, &[])?;
        let response = self.send(&request).await?;
        let groups = Arc::new(read_user_groups(items, &response, &self.gw.settings)?);
        self.gw
            .cache
            .put_groups_of(&self.gw.tenant, user_key, groups.clone())
            .await;
        Ok(groups)
    }

    /// Every group `[groups.list]` reads, each with its members' user keys: what a tenant's
    /// index of groups by member is built from.
    async fn groups_with_members(&self) -> Result<Vec<(Value, Vec<String>)>> {
        let Some(spec) = &self.section.members else {
            return Ok(Vec::new());
        };
        let groups = self.scan_of(&self.section.list, None, &[]).await?;
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            let members = self.group_member_keys(spec, &group).await?;
            out.push((group, members));
        }
        Ok(out)
    }

    /// A user's groups as SCIM values (`value`, `$ref`, `display`, `type` "direct").
    async fn group_values(
        &self,
        spec: &GroupsOfSpec,
        user_key: &str,
        req: &RequestContext<'_>,
    ) -> Result<Vec<Value>> {
        let groups = self.gw.resources(ResourceKind::Group)?;
        let (index, fetched);
        let objects: Vec<&Value> = match spec {
            GroupsOfSpec::GroupList => {
                index = self
                    .gw
                    .cache
                    .member_index(&self.gw.tenant, || groups.groups_with_members())
                    .await
                    .map_err(ServiceError::Shared)?;
                index.groups_of(user_key).iter().map(|g| &**g).collect()
            }
            GroupsOfSpec::Call { call, items } => {
                fetched = self.groups_by_call(call, items, user_key).await?;
                fetched.iter().collect()
            }
        };
        let mut out = Vec::with_capacity(objects.len());
        // Linked without caching the objects: these may be older than a group write's answer.
        let mut keyed = HashMap::with_capacity(objects.len());
        let mut keys = Vec::with_capacity(objects.len());
        for object in objects {
            let key = groups.section.key_of(object, &self.gw.settings)?;
            keyed.insert(key.clone(), object);
            keys.push(key);
        }
        for identity in groups.link_keys(&keys).await? {
            let Some(object) = keyed.get(&identity.backend_key) else {
                continue;
            };
            let attrs = groups.section.to_scim(
                object,
                Some(&identity.shadow),
                Some(&identity.platform),
                &self.gw.settings,
            )?;
            let mut group = Map::new();
            group.insert("value".to_owned(), Value::String(identity.scim_id.clone()));
            group.insert(
                "$ref".to_owned(),
                Value::String(format!(
                    "{}{}/{}",
                    req.base_url, groups.rt.endpoint, identity.scim_id
                )),
            );
            if let Some(display) = attrs.get("displayName") {
                group.insert("display".to_owned(), display.clone());
            }
            group.insert("type".to_owned(), Value::String("direct".to_owned()));
            out.push(Value::Object(group));
        }
        Ok(out)
    }

    /// A group's members as SCIM values (`value`, `$ref`, `type`), from their platform keys.
    async fn member_values(&self, keys: &[String], req: &RequestContext<'_>) -> Result<Vec<Value>> {
        let users = self.gw.resources(ResourceKind::User)?;
        let ids = users.link_ids(keys).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let mut member = Map::new();
                member.insert(
                    "$ref".to_owned(),
                    Value::String(format!("{}{}/{}", req.base_url, users.rt.endpoint, id)),
                );
                member.insert("value".to_owned(), Value::String(id));
                member.insert("type".to_owned(), Value::String("User".to_owned()));
                Value::Object(member)
            })
            .collect())
    }

    /// The resource: the mapping's attributes over what the IdP wrote, `externalId`, members
    /// (with the `display` the IdP gave each), `schemas`, `id` and `meta`.
    fn render(
        &self,
        identity: &Identity,
        object: &Value,
        members: Option<(Vec<String>, Option<Vec<Value>>)>,
        partial: bool,
        req: &RequestContext<'_>,
    ) -> Result<Resource> {
        let (member_keys, members) = match members {
            Some((keys, values)) => (Some(keys), values),
            None => (None, None),
        };
        let rt = self.rt;
        // The `display` the IdP gave each member (the stored copy keeps nothing else of them).
        let displays: HashMap<&str, &Value> = identity
            .shadow
            .get("members")
            .and_then(Value::as_array)
            .map(|members| {
                members
                    .iter()
                    .filter_map(|m| Some((m.get("value")?.as_str()?, m.get("display")?)))
                    .collect()
            })
            .unwrap_or_default();
        let members = members.map(|list| {
            list.into_iter()
                .map(|mut member| {
                    let display = member
                        .get("value")
                        .and_then(Value::as_str)
                        .and_then(|id| displays.get(id));
                    if let (Some(display), Some(map)) = (display, member.as_object_mut()) {
                        map.insert("display".to_owned(), (*display).clone());
                    }
                    member
                })
                .collect::<Vec<_>>()
        });
        let lacking: &[String] = if partial {
            &self.section.list.lacks
        } else {
            &[]
        };
        let mut attrs = self.section.to_scim_lacking(
            object,
            Some(&identity.shadow),
            Some(&identity.platform),
            &self.gw.settings,
            lacking,
        )?;
        attrs = strip_common(attrs);
        let Value::Object(mut map) = attrs else {
            return Err(ServiceError::Mapping(
                "resource is not an object".to_owned(),
            ));
        };
        if let Some(ext) = &identity.external_id {
            map.insert("externalId".to_owned(), Value::String(ext.clone()));
        }
        // Membership always comes from the platform, never from the stored copy.
        map.remove("members");
        let mut attrs = Value::Object(map);
        // The version covers the attributes and who the members are (by platform key), so it is
        // the same however the resource is read: through any host name, with or without members.
        let version = weak_etag(&attrs, member_keys.as_deref());
        let Value::Object(map) = &mut attrs else {
            return Err(ServiceError::Mapping(
                "resource is not an object".to_owned(),
            ));
        };
        if let Some(members) = members.filter(|m| !m.is_empty()) {
            map.insert("members".to_owned(), Value::Array(members));
        }
        let mut schemas = vec![Value::String(rt.schema.clone())];
        for ext in &rt.extensions {
            if map.contains_key(&ext.schema) {
                schemas.push(Value::String(ext.schema.clone()));
            }
        }
        let mut out = Map::new();
        out.insert("schemas".to_owned(), Value::Array(schemas));
        out.insert("id".to_owned(), Value::String(identity.scim_id.clone()));
        out.append(map);
        out.insert(
            "meta".to_owned(),
            json!({
                "resourceType": self.type_id(),
                "created": rfc3339(identity.created),
                "lastModified": rfc3339(identity.last_modified),
                "location": format!("{}{}/{}", req.base_url, rt.endpoint, identity.scim_id),
                "version": version,
            }),
        );
        Ok(Resource {
            id: identity.scim_id.clone(),
            json: Value::Object(out),
            version,
        })
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}
