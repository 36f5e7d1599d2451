//! Managed SCIM bearer tokens: made through the admin API, shown once, stored as SHA-256
//! hashes, compared in constant time, with expiry, `last_used_at`, revocation and regeneration.
//! Every request looks its token up in the store, so a revocation holds at once on every
//! replica sharing the store.
//!
//! A token reads `sgt_<id>_<secret>`: the id finds the record, the secret is checked against
//! its hash. OAuth client secrets (`sgc_<id>_<secret>`) and the access tokens the OAuth token
//! endpoint issues (`sgt_...`, kind `access`) are made and checked the same way (`crate::oauth`);
//! a client secret is never let in as a bearer token.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::auth::Caller;
use crate::store::{StoreError, TokenKind, TokenRecord, TokenStore};

const PREFIX: &str = "sgt_";
const CLIENT_SECRET_PREFIX: &str = "sgc_";

fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::ClientSecret => CLIENT_SECRET_PREFIX,
        TokenKind::Bearer | TokenKind::Access => PREFIX,
    }
}

fn random_hex(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(bytes * 2);
    out
}

pub(crate) fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new bearer token's record and its full secret (to be shown once).
pub fn issue(
    tenant: &str,
    name: &str,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> (TokenRecord, String) {
    issue_kind(TokenKind::Bearer, None, tenant, name, expires_at, now)
}

/// A new token of any kind (of OAuth client `client`) and its full secret.
pub fn issue_kind(
    kind: TokenKind,
    client: Option<&str>,
    tenant: &str,
    name: &str,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> (TokenRecord, String) {
    let id = random_hex(8);
    let mut record = TokenRecord {
        id: id.clone(),
        tenant: tenant.to_owned(),
        name: name.to_owned(),
        hash: String::new(),
        created: now,
        issued: now,
        expires_at,
        last_used_at: None,
        revoked_at: None,
        kind,
        client: client.map(str::to_owned),
        parent: None,
    };
    let token = regenerate(&mut record, now);
    (record, token)
}

/// A new secret for a record, issued `now` (the old one stops working once the record is
/// stored).
pub fn regenerate(record: &mut TokenRecord, now: OffsetDateTime) -> String {
    let secret = random_hex(24);
    record.hash = hash(&secret);
    record.issued = now;
    format!("{}{}_{secret}", prefix(record.kind), record.id)
}

/// The latest expiry a tenant's maximum token lifetime (in days) allows for a secret issued
/// at `issued`; `None` without a limit.
pub fn latest_expiry(max_days: Option<u32>, issued: OffsetDateTime) -> Option<OffsetDateTime> {
    max_days.map(|d| issued + time::Duration::days(i64::from(d)))
}

/// Whether a secret issued at `issued` may be set to expire at `expires_at` (`None`: never)
/// under a tenant's maximum lifetime; the reason when not. The lifetime counts from the
/// secret's issue, so moving the expiry again and again cannot keep a secret alive.
pub fn check_expiry(
    expires_at: Option<OffsetDateTime>,
    max_days: Option<u32>,
    issued: OffsetDateTime,
) -> Result<(), String> {
    // A client's clock and the request's own time: a minute's grace.
    let grace = time::Duration::minutes(1);
    match (expires_at, latest_expiry(max_days, issued)) {
        (None, Some(_)) => Err(format!(
            "this tenant's tokens live at most {} days: a token must expire",
            max_days.unwrap_or_default()
        )),
        (Some(t), Some(latest)) if t > latest + grace => Err(format!(
            "this tenant's tokens live at most {} days from their issue: expiresAt must be before {}",
            max_days.unwrap_or_default(),
            latest
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        )),
        _ => Ok(()),
    }
}

/// Whether a bearer looks like a managed token (else it is checked against the config's).
pub fn is_managed(bearer: &str) -> bool {
    bearer.starts_with(PREFIX)
}

/// The id a presented managed token names (`sgt_<id>_<secret>`), for logs: never the secret,
/// and `None` when it is not of that form (an id too long or of other characters than a
/// managed id's is not echoed).
pub fn presented_id(presented: &str) -> Option<&str> {
    let (id, _secret) = presented.strip_prefix(PREFIX)?.split_once('_')?;
    // Exactly an id's form (16 hex digits, as `issue` makes them): a mangled token whose secret landed
    // in the id's place is not echoed.
    let plausible = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    plausible.then_some(id)
}

/// The caller a managed bearer token (an admin's or an OAuth access token) belongs to, when
/// it is valid for `tenant` at `now`.
pub async fn verify(
    store: &dyn TokenStore,
    tenant: &str,
    bearer: &str,
    now: OffsetDateTime,
) -> Result<Option<Caller>, StoreError> {
    let Some(record) = find_live(store, tenant, bearer, now).await? else {
        return Ok(None);
    };
    if !record.kind.is_bearer() {
        return Ok(None);
    }
    note_use(store, record, now).await.map(Some)
}

/// The live record (not revoked, not expired) a presented secret of `tenant` matches.
pub async fn find_live(
    store: &dyn TokenStore,
    tenant: &str,
    presented: &str,
    now: OffsetDateTime,
) -> Result<Option<TokenRecord>, StoreError> {
    let Some((id, secret)) = [PREFIX, CLIENT_SECRET_PREFIX]
        .into_iter()
        .find_map(|p| presented.strip_prefix(p))
        .and_then(|rest| rest.split_once('_'))
    else {
        return Ok(None);
    };
    let Some(record) = store.tokens(tenant, Some(id)).await?.into_iter().next() else {
        return Ok(None);
    };
    let matches: bool = hash(secret).as_bytes().ct_eq(record.hash.as_bytes()).into();
    // The prefix belongs to the kind: a client secret shown as `sgt_` is no token.
    let right_prefix = presented.starts_with(prefix(record.kind));
    let live = record.revoked_at.is_none() && record.expires_at.is_none_or(|e| e > now);
    Ok((matches && right_prefix && live).then_some(record))
}

/// Notes the use of a live token and answers its caller.
pub async fn note_use(
    store: &dyn TokenStore,
    mut record: TokenRecord,
    now: OffsetDateTime,
) -> Result<Caller, StoreError> {
    // `last_used_at` to the minute: not a store write on every request. Only that column is
    // written, so a revocation made meanwhile stands.
    if record
        .last_used_at
        .is_none_or(|t| now - t > time::Duration::minutes(1))
    {
        record.last_used_at = Some(now);
        // A token that checks out is let in even when its use cannot be noted.
        if let Err(e) = store.touch_token(&record.id, now).await {
            tracing::warn!(error = %e, token = %record.id, "cannot note a token's last use");
        }
    }
    Ok(Caller {
        token_name: format!("{}:{}", record.id, record.name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let now = OffsetDateTime::now_utc();
        let (record, token) = issue("default", "okta", None, now);
        assert!(token.starts_with(&format!("sgt_{}_", record.id)));
        let secret = token.rsplit('_').next().unwrap();
        assert_eq!(record.hash, hash(secret));
        assert!(!record.hash.contains(secret));
        let (other, other_token) = issue("default", "okta", None, now);
        assert_ne!(record.id, other.id);
        assert_ne!(token, other_token);
        let mut again = record.clone();
        let new_token = regenerate(&mut again, now);
        assert_ne!(new_token, token);
        assert_eq!(again.id, record.id);
        assert_ne!(again.hash, record.hash);
    }

    #[test]
    fn expiry_policy() {
        let now = OffsetDateTime::now_utc();
        let days = |d: i64| Some(now + time::Duration::days(d));
        assert!(check_expiry(None, None, now).is_ok());
        assert!(check_expiry(days(400), None, now).is_ok());
        // An expiry in the past is allowed (it ends a token now, reversibly).
        assert!(check_expiry(days(-1), Some(90), now).is_ok());
        assert!(check_expiry(days(89), Some(90), now).is_ok());
        assert!(check_expiry(days(90), Some(90), now).is_ok());
        assert!(check_expiry(days(91), Some(90), now)
            .unwrap_err()
            .contains("at most 90 days"));
        assert!(check_expiry(None, Some(90), now).is_err());
        // Counted from the secret's issue: moving the expiry later and later does not help.
        let issued_long_ago = now - time::Duration::days(20);
        assert!(check_expiry(days(9), Some(30), issued_long_ago).is_ok());
        assert!(check_expiry(days(15), Some(30), issued_long_ago).is_err());
        assert_eq!(latest_expiry(Some(90), now), days(90));
        assert_eq!(latest_expiry(None, now), None);
    }

    #[tokio::test]
    async fn verification_honours_revocation_expiry_and_tenant() {
        let store = crate::store::SqliteStore::open("sqlite::memory:")
            .await
            .unwrap();
        crate::store::tests::tenants_for_tests(&store, &["default", "other"]).await;
        let clock = crate::clock::ManualClock::new(OffsetDateTime::now_utc());
        let now = || crate::clock::Clock::now(&clock);
        let (mut record, token) = issue("default", "okta", None, now());
        record.expires_at = Some(now() + time::Duration::days(30));
        store.put_token(&record).await.unwrap();
        let caller = verify(&store, "default", &token, now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(caller.token_name, format!("{}:okta", record.id));
        assert_eq!(
            store.tokens("default", Some(&record.id)).await.unwrap()[0].last_used_at,
            Some(now())
        );
        assert!(verify(&store, "other", &token, now())
            .await
            .unwrap()
            .is_none());
        assert!(verify(&store, "default", &format!("{token}x"), now())
            .await
            .unwrap()
            .is_none());
        assert!(verify(&store, "default", "sgt_nope_nope", now())
            .await
            .unwrap()
            .is_none());
        // Good until its expiry, refused from then on.
        clock.advance(time::Duration::days(30) - time::Duration::milliseconds(1));
        assert!(verify(&store, "default", &token, now())
            .await
            .unwrap()
            .is_some());
        clock.advance(time::Duration::milliseconds(1));
        assert!(verify(&store, "default", &token, now())
            .await
            .unwrap()
            .is_none());
        record.expires_at = None;
        record.revoked_at = Some(now());
        store.put_token(&record).await.unwrap();
        assert!(verify(&store, "default", &token, now())
            .await
            .unwrap()
            .is_none());
    }
}
