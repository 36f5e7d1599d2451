//! Lookup cache (moka): platform objects by key and `userName` → SCIM id, per tenant, with a
//! TTL. Every write through the gateway refreshes or invalidates the entries it touches; the TTL
//! bounds how long a change made on the platform directly can stay unseen.

use std::sync::Arc;

use moka::future::Cache;
use serde_json::Value;

use crate::config::CacheConfig;

#[derive(Clone)]
pub struct LookupCache {
    objects: Cache<String, Arc<Value>>,
    names: Cache<String, String>,
}

fn object_key(tenant: &str, resource_type: &str, backend_key: &str) -> String {
    format!("{tenant}\u{1f}{resource_type}\u{1f}{backend_key}")
}

fn name_key(tenant: &str, resource_type: &str, name: &str) -> String {
    // userName is case-insensitive (RFC 7643 §4.1.1).
    format!("{tenant}\u{1f}{resource_type}\u{1f}{}", name.to_lowercase())
}

impl LookupCache {
    pub fn new(config: &CacheConfig) -> LookupCache {
        LookupCache {
            objects: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .build(),
            names: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .build(),
        }
    }

    pub async fn object(&self, tenant: &str, rt: &str, key: &str) -> Option<Arc<Value>> {
        self.objects.get(&object_key(tenant, rt, key)).await
    }

    pub async fn put_object(&self, tenant: &str, rt: &str, key: &str, object: Arc<Value>) {
        self.objects
            .insert(object_key(tenant, rt, key), object)
            .await;
    }

    pub async fn forget_object(&self, tenant: &str, rt: &str, key: &str) {
        self.objects.invalidate(&object_key(tenant, rt, key)).await;
    }

    pub async fn id_for_name(&self, tenant: &str, rt: &str, name: &str) -> Option<String> {
        self.names.get(&name_key(tenant, rt, name)).await
    }

    pub async fn put_name(&self, tenant: &str, rt: &str, name: &str, scim_id: &str) {
        self.names
            .insert(name_key(tenant, rt, name), scim_id.to_owned())
            .await;
    }

    pub async fn forget_name(&self, tenant: &str, rt: &str, name: &str) {
        self.names.invalidate(&name_key(tenant, rt, name)).await;
    }
}
