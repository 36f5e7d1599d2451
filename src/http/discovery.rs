//! Discovery documents (RFC 7644 §4, RFC 7643 §5–7): ServiceProviderConfig, ResourceTypes and
//! Schemas, built from the schema registry and limited to the resource types the mapping serves,
//! so that they tell the truth about what this gateway does.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::scim::bulk::{MAX_OPERATIONS, MAX_PAYLOAD_SIZE};
use crate::scim::list::list_response;
use crate::scim::schema::{Registry, ResourceType, Schema};

/// The discovery documents of one backend: only the resource types its mapping serves.
pub struct Discovery {
    registry: Arc<Registry>,
    /// Resource type ids served (`User`).
    published: Vec<String>,
    max_results: usize,
}

impl Discovery {
    /// Publishes the resource types `published` of `registry`, advertising `max_results` as
    /// `filter.maxResults`.
    pub fn new(registry: Arc<Registry>, published: Vec<String>, max_results: usize) -> Self {
        Discovery {
            registry,
            published,
            max_results,
        }
    }

    /// The same documents over another registry (a tenant's, with the extension schemas it
    /// declares).
    pub fn with_registry(&self, registry: Arc<Registry>) -> Discovery {
        Discovery {
            registry,
            published: self.published.clone(),
            max_results: self.max_results,
        }
    }

    fn resource_types_published(&self) -> impl Iterator<Item = &ResourceType> {
        self.registry
            .resource_types()
            .iter()
            .filter(|rt| self.published.iter().any(|p| p == &rt.id))
    }

    fn schemas_published(&self) -> Vec<&Schema> {
        let mut urns: Vec<&str> = Vec::new();
        for rt in self.resource_types_published() {
            urns.push(&rt.schema);
            urns.extend(rt.extensions.iter().map(|e| e.schema.as_str()));
        }
        self.registry
            .schemas()
            .iter()
            .filter(|s| urns.iter().any(|u| u.eq_ignore_ascii_case(&s.id)))
            .collect()
    }

    /// The ServiceProviderConfig document (RFC 7643 §5), its location under `base_url`; its
    /// `documentationUri` says how the tenant reads requests (`documentation`: the dialect's
    /// page the gateway serves).
    pub fn service_provider_config(&self, base_url: &str, documentation: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": documentation,
            "patch": {"supported": true},
            "bulk": {
                "supported": true,
                "maxOperations": MAX_OPERATIONS,
                "maxPayloadSize": MAX_PAYLOAD_SIZE
            },
            "filter": {"supported": true, "maxResults": self.max_results},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with a bearer token issued by the gateway's operator (RFC 6750)",
                "primary": true
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{base_url}/ServiceProviderConfig")
            }
        })
    }

    /// Every published resource type, as a ListResponse.
    pub fn resource_types(&self, base_url: &str) -> Value {
        let items: Vec<Value> = self
            .resource_types_published()
            .map(|rt| self.resource_type_json(rt, base_url))
            .collect();
        list_response(items.len(), 1, items)
    }

    fn resource_type_json(&self, rt: &ResourceType, base_url: &str) -> Value {
        self.registry
            .resource_type_json(rt, &format!("{base_url}/ResourceTypes/{}", rt.id))
    }

    /// One published resource type by id; `None` when it is not published.
    pub fn resource_type(&self, id: &str, base_url: &str) -> Option<Value> {
        self.resource_types_published()
            .find(|rt| rt.id == id)
            .map(|rt| self.resource_type_json(rt, base_url))
    }

    /// The schemas (with extensions) of the published resource types, as a ListResponse.
    pub fn schemas(&self, base_url: &str) -> Value {
        let items: Vec<Value> = self
            .schemas_published()
            .into_iter()
            .map(|s| {
                self.registry
                    .schema_json(s, &format!("{base_url}/Schemas/{}", s.id))
            })
            .collect();
        list_response(items.len(), 1, items)
    }

    /// One published schema by URN (case-insensitive); `None` when it is not published.
    pub fn schema(&self, id: &str, base_url: &str) -> Option<Value> {
        self.schemas_published()
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
            .map(|s| {
                self.registry
                    .schema_json(s, &format!("{base_url}/Schemas/{}", s.id))
            })
    }
}
