//! Create intents: a create the gateway began, recorded before the platform is asked (RFC 7644
//! §3.3 create, made safe to retry). A process killed between the platform's answer and the
//! identity link leaves an account no link names; the intent lets the IdP's retry of the same
//! request find it, link it under the SCIM id chosen the first time and answer the create it
//! repeats, instead of making a second account or refusing the IdP's own account with a 409.

use time::OffsetDateTime;

use super::{Scope, StoreFuture};

/// One create begun and not answered, by the name of the resource it creates.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateIntent {
    /// The resource's name as RFC 7643 compares it (`userName`, `displayName`, lowercased).
    pub name: String,
    /// A digest of the request body: only the same request is a retry.
    pub request: String,
    /// The SCIM id the create gives the resource.
    pub scim_id: String,
    /// When the create began.
    pub started: OffsetDateTime,
}

/// The creates each tenant's gateway began.
pub trait IntentStore: Send + Sync + 'static {
    /// The create of this name begun last, if any.
    fn create_intent<'a>(
        &'a self,
        scope: Scope<'a>,
        name: &'a str,
    ) -> StoreFuture<'a, Option<CreateIntent>>;

    /// Records a create about to ask the platform (replacing an older one of the name), and
    /// drops the tenant's intents begun before `stale`.
    fn begin_create<'a>(
        &'a self,
        scope: Scope<'a>,
        intent: &'a CreateIntent,
        stale: OffsetDateTime,
    ) -> StoreFuture<'a, ()>;

    /// Drops the creates that give this SCIM id (its resource is being deleted).
    fn drop_creates_of<'a>(&'a self, scope: Scope<'a>, scim_id: &'a str) -> StoreFuture<'a, ()>;

    /// Drops the create of this name and SCIM id: answered, or refused by the platform.
    fn drop_create<'a>(
        &'a self,
        scope: Scope<'a>,
        name: &'a str,
        scim_id: &'a str,
    ) -> StoreFuture<'a, ()>;
}
