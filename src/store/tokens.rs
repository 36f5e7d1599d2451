//! Managed SCIM bearer tokens as stored: hashes, never secrets; every change written alone.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use super::StoreFuture;

/// A managed SCIM bearer token; the secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// The token's id, also the `<id>` of its `sgt_<id>_<secret>` form.
    pub id: String,
    /// The tenant the token is good for.
    pub tenant: String,
    /// The name given by the admin, shown in logs and the audit log.
    pub name: String,
    /// Hex SHA-256 of the secret part.
    pub hash: String,
    /// When the token was made.
    pub created: OffsetDateTime,
    /// When the current secret was issued (made or regenerated).
    pub issued: OffsetDateTime,
    /// From then on the token is refused; `None`: never.
    pub expires_at: Option<OffsetDateTime>,
    /// When a request last presented it.
    pub last_used_at: Option<OffsetDateTime>,
    /// Once set, never cleared: `put_token` keeps a stored revocation.
    pub revoked_at: Option<OffsetDateTime>,
}

/// One change to a stored token, written alone (one column set, one statement), so that
/// concurrent changes never undo each other: a rename cannot bring an old secret back, nor a
/// check of the token a revocation.
#[derive(Debug, Clone)]
pub enum TokenWrite {
    /// A new name.
    Name(String),
    /// A new expiry (`None`: never), whatever the stored one.
    Expiry(Option<OffsetDateTime>),
    /// An earlier expiry: only while the stored one is this late or later (a limit lowered
    /// meanwhile is not undone).
    ShortenTo(OffsetDateTime),
    /// Revoked at this time (an earlier revocation stays).
    Revoke(OffsetDateTime),
    /// A new secret, issued at `issued`; only while the token is not revoked.
    Secret {
        /// Hex SHA-256 of the new secret part.
        hash: String,
        /// When the new secret was issued.
        issued: OffsetDateTime,
    },
}

/// Every tenant's managed tokens.
pub trait TokenStore: Send + Sync + 'static {
    /// Adds or replaces a managed token (a stored revocation stays).
    fn put_token<'a>(&'a self, token: &'a TokenRecord) -> StoreFuture<'a, ()>;

    /// Writes one change to a tenant's token; false when no token was changed (none of that
    /// id, or, for a new secret, a revoked one).
    fn write_token<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
        write: &'a TokenWrite,
    ) -> StoreFuture<'a, bool>;

    /// Sets a token's `last_used_at` alone (so checking a token never undoes a revocation or
    /// regeneration made meanwhile).
    fn touch_token<'a>(&'a self, id: &'a str, at: OffsetDateTime) -> StoreFuture<'a, ()>;

    /// Makes a tenant's live tokens expire by `latest` at the latest; how many changed.
    fn shorten_tokens<'a>(
        &'a self,
        tenant: &'a str,
        latest: OffsetDateTime,
    ) -> StoreFuture<'a, u64>;

    /// A tenant's managed tokens (one, with `id`), oldest first.
    fn tokens<'a>(
        &'a self,
        tenant: &'a str,
        id: Option<&'a str>,
    ) -> StoreFuture<'a, Vec<TokenRecord>>;
}

/// The managed tokens requests presented, kept in memory by a store only this process writes
/// (SQLite): checking a token then asks no database. Every token write through the store
/// forgets them all, before the write is answered, so a revocation holds for the next request.
/// A store several replicas share keeps none (it reads the database on every request).
#[derive(Debug, Default)]
pub(crate) struct TokenMemo {
    inner: Mutex<MemoState>,
}

#[derive(Debug, Default)]
struct MemoState {
    /// Counts the writes: a record read before a write is not kept after it.
    generation: u64,
    records: HashMap<(String, String), TokenRecord>,
}

/// At most this many tokens are kept; beyond, the memo starts again empty.
const MEMO_CAPACITY: usize = 10_000;

impl TokenMemo {
    /// The token of `tenant` with `id`, if kept; else the generation to hand to
    /// [`TokenMemo::keep`] with what the database answers.
    pub(crate) fn get(&self, tenant: &str, id: &str) -> Result<TokenRecord, u64> {
        let state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        state
            .records
            .get(&(tenant.to_owned(), id.to_owned()))
            .cloned()
            .ok_or(state.generation)
    }

    /// Keeps a record read at `generation`, unless a write came since.
    pub(crate) fn keep(&self, generation: u64, record: &TokenRecord) {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if state.generation != generation {
            return;
        }
        if state.records.len() >= MEMO_CAPACITY {
            state.records.clear();
        }
        state
            .records
            .insert((record.tenant.clone(), record.id.clone()), record.clone());
    }

    /// Forgets every kept token (a token or tenant was written).
    pub(crate) fn forget_all(&self) {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        state.generation += 1;
        state.records.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> TokenRecord {
        let now = OffsetDateTime::now_utc();
        TokenRecord {
            id: id.to_owned(),
            tenant: "t".to_owned(),
            name: "n".to_owned(),
            hash: "h".to_owned(),
            created: now,
            issued: now,
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn a_read_older_than_a_write_is_not_kept() {
        let memo = TokenMemo::default();
        let before = memo.get("t", "a").unwrap_err();
        memo.forget_all();
        memo.keep(before, &record("a"));
        assert!(memo.get("t", "a").is_err());
        let now = memo.get("t", "a").unwrap_err();
        memo.keep(now, &record("a"));
        assert_eq!(memo.get("t", "a").unwrap().id, "a");
        assert!(memo.get("other", "a").is_err());
        memo.forget_all();
        assert!(memo.get("t", "a").is_err());
    }
}
