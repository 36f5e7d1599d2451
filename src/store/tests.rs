//! The contract every store keeps, run against SQLite and PostgreSQL alike.

use super::*;
use serde_json::json;
use time::OffsetDateTime;

pub(crate) const SCOPE: Scope<'static> = Scope {
    tenant: "default",
    resource_type: "User",
};

pub(crate) fn identity(id: &str, key: &str) -> Identity {
    let now = OffsetDateTime::now_utc();
    let now = now.replace_millisecond(now.millisecond()).unwrap_or(now);
    Identity {
        scim_id: id.to_owned(),
        backend_key: key.to_owned(),
        external_id: Some(format!("ext-{id}")),
        shadow: json!({"userName": id}),
        platform: json!({"id": key}),
        created: now,
        last_modified: now,
        proof: None,
    }
}

/// Tenant rows for the tenants the tests link identities and tokens to.
pub(crate) async fn tenants_for_tests(store: &dyn Store, ids: &[&str]) {
    for id in ids {
        let now = identity("x", "y").created;
        store
            .insert_tenant(&TenantRecord {
                id: (*id).to_owned(),
                name: (*id).to_owned(),
                enabled: true,
                backend: format!("{id}-platform"),
                max_token_lifetime_days: None,
                dialect: crate::scim::Dialect::Lenient,
                bare_token: false,
                deprovision: Deprovision::Delete,
                reactivate: false,
                extensions: json!([]),
                created: now,
                updated: now,
            })
            .await
            .unwrap();
    }
}

pub(crate) async fn contract(store: &dyn Store) {
    tenants_for_tests(store, &["default", "other"]).await;
    intents_contract(store).await;
    requests_contract(store).await;
    // Nothing is linked to a tenant that does not exist.
    assert!(matches!(
        store
            .insert(
                Scope {
                    tenant: "nowhere",
                    resource_type: "User"
                },
                &identity("n", "key-n")
            )
            .await,
        Err(StoreError::TenantGone(_))
    ));
    let a = identity("a", "key-a");
    store.insert(SCOPE, &a).await.unwrap();
    assert_eq!(store.get(SCOPE, "a").await.unwrap(), Some(a.clone()));
    assert!(matches!(
        store.insert(SCOPE, &identity("b", "key-a")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.insert(SCOPE, &identity("a", "key-other")).await,
        Err(StoreError::Conflict(_))
    ));
    let keys = vec!["key-a".to_owned(), "nope".to_owned()];
    assert_eq!(
        store.get_by_backend_keys(SCOPE, &keys).await.unwrap(),
        vec![a.clone()]
    );
    assert_eq!(
        store.ids_by_backend_keys(SCOPE, &keys).await.unwrap(),
        vec![("key-a".to_owned(), "a".to_owned())]
    );
    let ids = vec!["a".to_owned(), "zz".to_owned()];
    assert_eq!(store.get_many(SCOPE, &ids).await.unwrap(), vec![a.clone()]);
    assert_eq!(
        store.find_by_external_id(SCOPE, "ext-a").await.unwrap(),
        vec![a.clone()]
    );
    // A second link attempt for the same key returns the first link.
    let again = store
        .link_or_get(SCOPE, &identity("c", "key-a"))
        .await
        .unwrap();
    assert_eq!(again.scim_id, "a");
    let fresh = store
        .link_or_get(SCOPE, &identity("d", "key-d"))
        .await
        .unwrap();
    assert_eq!(fresh.scim_id, "d");
    // Updates replace the stored attributes and may move the key; a taken key conflicts.
    let mut changed = a.clone();
    changed.shadow = json!({"userName": "renamed"});
    changed.external_id = None;
    changed.backend_key = "key-a2".to_owned();
    store.update(SCOPE, &changed).await.unwrap();
    assert_eq!(store.get(SCOPE, "a").await.unwrap(), Some(changed.clone()));
    // A lookup by externalId sees every write at once (SQLite keeps lookups in memory).
    assert_eq!(
        store.find_by_external_id(SCOPE, "ext-a").await.unwrap(),
        vec![]
    );
    let mut relinked = changed.clone();
    relinked.external_id = Some("ext-a".to_owned());
    store.update(SCOPE, &relinked).await.unwrap();
    assert_eq!(
        store.find_by_external_id(SCOPE, "ext-a").await.unwrap(),
        vec![relinked.clone()]
    );
    store.update(SCOPE, &changed).await.unwrap();
    assert_eq!(
        store.find_by_external_id(SCOPE, "ext-a").await.unwrap(),
        vec![]
    );
    let e = identity("e", "key-e");
    assert_eq!(
        store.find_by_external_id(SCOPE, "ext-e").await.unwrap(),
        vec![]
    );
    store.insert(SCOPE, &e).await.unwrap();
    assert_eq!(
        store.find_by_external_id(SCOPE, "ext-e").await.unwrap(),
        vec![e.clone()]
    );
    // Another SCIM id, all else kept: found by its externalId under the new id only.
    assert!(store.rekey(SCOPE, "e", "e2").await.unwrap());
    assert!(!store.rekey(SCOPE, "e", "e3").await.unwrap());
    assert!(store.get(SCOPE, "e").await.unwrap().is_none());
    let rekeyed = Identity {
        scim_id: "e2".into(),
        ..e.clone()
    };
    assert_eq!(
        store.find_by_external_id(SCOPE, "ext-e").await.unwrap(),
        vec![rekeyed]
    );
    assert!(store.delete(SCOPE, "e2").await.unwrap());
    assert_eq!(
        store.find_by_external_id(SCOPE, "ext-e").await.unwrap(),
        vec![]
    );
    changed.backend_key = "key-d".to_owned();
    assert!(matches!(
        store.update(SCOPE, &changed).await,
        Err(StoreError::Conflict(_))
    ));
    // Scopes are apart: another tenant or type sees nothing.
    let other_tenant = Scope {
        tenant: "other",
        resource_type: "User",
    };
    let other_type = Scope {
        tenant: "default",
        resource_type: "Group",
    };
    assert_eq!(store.get(other_tenant, "a").await.unwrap(), None);
    assert_eq!(store.get(other_type, "a").await.unwrap(), None);
    store
        .insert(other_tenant, &identity("a", "key-a"))
        .await
        .unwrap();
    // Many keys at once (more than one statement's worth).
    let many: Vec<String> = (0..1200).map(|i| format!("bulk-{i}")).collect();
    for key in many.iter().take(3) {
        store
            .insert(SCOPE, &identity(&format!("id-{key}"), key))
            .await
            .unwrap();
    }
    assert_eq!(
        store.ids_by_backend_keys(SCOPE, &many).await.unwrap().len(),
        3
    );
    let (first, total) = store.page(SCOPE, 0, 2).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(first.len(), 2);
    let (rest, _) = store.page(SCOPE, 2, 10).await.unwrap();
    assert_eq!(rest.len(), 3);
    assert!(rest
        .iter()
        .all(|r| first.iter().all(|f| f.scim_id != r.scim_id)));
    assert!(store.delete(SCOPE, "a").await.unwrap());
    assert!(!store.delete(SCOPE, "a").await.unwrap());
    // The audit log: filters, paging, newest first, retention.
    let now = OffsetDateTime::now_utc();
    for (i, (actor, outcome)) in [
        ("token:okta", "success"),
        ("token:okta", "failure"),
        ("admin:ops", "success"),
    ]
    .into_iter()
    .enumerate()
    {
        let at = now - time::Duration::days(2 - i as i64);
        let at = at.replace_millisecond(at.millisecond()).unwrap_or(at);
        store
            .record(&AuditEntry {
                id: format!("e{i}"),
                at,
                tenant: "default".into(),
                actor: actor.into(),
                operation: "create".into(),
                resource_type: "User".into(),
                target: format!("t{i}"),
                outcome: outcome.into(),
                status: if outcome == "success" { 201 } else { 409 },
                detail: String::new(),
            })
            .await
            .unwrap();
    }
    let all = AuditQuery {
        tenant: "default".into(),
        limit: 10,
        ..Default::default()
    };
    let (entries, total) = store.audit(&all).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        entries.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["e2", "e1", "e0"]
    );
    let okta = AuditQuery {
        actor: Some("token:okta".into()),
        ..all.clone()
    };
    assert_eq!(store.audit(&okta).await.unwrap().1, 2);
    let failed = AuditQuery {
        outcome: Some("failure".into()),
        ..all.clone()
    };
    assert_eq!(store.audit(&failed).await.unwrap().0[0].status, 409);
    let paged = AuditQuery {
        offset: 1,
        limit: 1,
        ..all.clone()
    };
    assert_eq!(store.audit(&paged).await.unwrap().0[0].id, "e1");
    let other = AuditQuery {
        tenant: "other".into(),
        ..all.clone()
    };
    assert_eq!(store.audit(&other).await.unwrap().1, 0);
    assert_eq!(
        store
            .prune_audit(now - time::Duration::hours(36))
            .await
            .unwrap(),
        1
    );
    // Managed tokens: added, listed, replaced (revoked), scoped to their tenant.
    let mut token = TokenRecord {
        id: "tok1".into(),
        tenant: "default".into(),
        name: "okta".into(),
        hash: "ab".repeat(32),
        created: identity("x", "y").created,
        issued: identity("x", "y").created,
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
        kind: crate::store::TokenKind::Bearer,
        client: None,
        parent: None,
    };
    store.put_token(&token).await.unwrap();
    assert_eq!(
        store.tokens("default", None).await.unwrap(),
        vec![token.clone()]
    );
    token.revoked_at = Some(token.created);
    token.name = "okta-prod".into();
    store.put_token(&token).await.unwrap();
    assert_eq!(
        store.tokens("default", Some("tok1")).await.unwrap(),
        vec![token.clone()]
    );
    // A write from an older read does not bring a revoked token back; touching it changes
    // nothing else.
    let mut stale = token.clone();
    stale.revoked_at = None;
    store.put_token(&stale).await.unwrap();
    let later = token.created + time::Duration::minutes(5);
    store.touch_token("tok1", later).await.unwrap();
    let stored = store.tokens("default", Some("tok1")).await.unwrap();
    assert_eq!(stored[0].revoked_at, token.revoked_at);
    assert_eq!(stored[0].last_used_at, Some(later));
    token.last_used_at = Some(later);
    // One change at a time: a rename keeps the secret; a revoked token gets no new secret.
    assert!(store
        .write_token("default", "tok1", &TokenWrite::Name("renamed".into()))
        .await
        .unwrap());
    let secret = TokenWrite::Secret {
        hash: "cd".repeat(32),
        issued: later,
    };
    assert!(!store.write_token("default", "tok1", &secret).await.unwrap());
    assert!(!store
        .write_token("other", "tok1", &TokenWrite::Name("x".into()))
        .await
        .unwrap());
    // Shortening holds only while the stored expiry is at least that late.
    let soon = later + time::Duration::days(1);
    assert!(store
        .write_token("default", "tok1", &TokenWrite::Expiry(Some(soon)))
        .await
        .unwrap());
    assert!(!store
        .write_token(
            "default",
            "tok1",
            &TokenWrite::ShortenTo(soon + time::Duration::days(1))
        )
        .await
        .unwrap());
    assert!(store
        .write_token("default", "tok1", &TokenWrite::Expiry(None))
        .await
        .unwrap());
    let stored = store.tokens("default", Some("tok1")).await.unwrap();
    assert_eq!(stored[0].hash, token.hash);
    assert_eq!(stored[0].name, "renamed");
    token.name = "renamed".into();
    assert!(store
        .tokens("default", Some("nope"))
        .await
        .unwrap()
        .is_empty());
    assert!(store.tokens("other", None).await.unwrap().is_empty());
    assert_eq!(store.audit(&all).await.unwrap().1, 2);
    assert_eq!(store.get(SCOPE, "a").await.unwrap(), None);
    assert!(store.get(other_tenant, "a").await.unwrap().is_some());
    // Tenants: added once, updated, listed by id, deleted with their tokens.
    let mut acme = TenantRecord {
        id: "acme".into(),
        name: "Acme".into(),
        enabled: true,
        backend: "default".into(),
        max_token_lifetime_days: Some(90),
        dialect: crate::scim::Dialect::Strict,
        bare_token: true,
        deprovision: Deprovision::Suspend,
        reactivate: true,
        extensions: json!([{"resourceType": "User", "schema": {"id": "urn:x"}}]),
        created: token.created,
        updated: token.created,
    };
    store.insert_tenant(&acme).await.unwrap();
    assert_eq!(
        store.tenants(Some("acme")).await.unwrap(),
        vec![acme.clone()]
    );
    assert!(matches!(
        store.insert_tenant(&acme).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.tenants(Some("default")).await.unwrap().len(), 1);
    acme.enabled = false;
    acme.max_token_lifetime_days = None;
    acme.dialect = crate::scim::Dialect::Lenient;
    acme.bare_token = false;
    acme.deprovision = Deprovision::Unlink;
    acme.reactivate = false;
    acme.extensions = json!([]);
    acme.name = "Acme Corp".into();
    let read = acme.updated;
    acme.updated = read + time::Duration::seconds(1);
    store.update_tenant(&acme, read).await.unwrap();
    // A write from an older read is refused.
    assert!(matches!(
        store.update_tenant(&acme, read).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.tenants(Some("acme")).await.unwrap(),
        vec![acme.clone()]
    );
    let mut zeta = acme.clone();
    zeta.id = "zeta".into();
    assert!(matches!(
        store.update_tenant(&zeta, zeta.updated).await,
        Err(StoreError::NotFound)
    ));
    // One tenant a backend.
    assert!(matches!(
        store.insert_tenant(&zeta).await,
        Err(StoreError::Conflict(_))
    ));
    zeta.backend = "zeta-platform".into();
    store.insert_tenant(&zeta).await.unwrap();
    zeta.backend = "default".into();
    assert!(matches!(
        store.update_tenant(&zeta, zeta.updated).await,
        Err(StoreError::Conflict(_))
    ));
    zeta.backend = "zeta-platform".into();
    // A tenant with identity links ("other" has one) neither moves nor goes.
    let mut other = store.tenants(Some("other")).await.unwrap().remove(0);
    other.backend = "elsewhere".into();
    assert!(matches!(
        store.update_tenant(&other, other.updated).await,
        Err(StoreError::NotFound)
    ));
    other.backend = "other-platform".into();
    other.enabled = true;
    store.update_tenant(&other, other.updated).await.unwrap();
    assert!(!store.delete_tenant("other").await.unwrap());
    assert_eq!(store.tenants(Some("other")).await.unwrap(), vec![other]);
    assert_eq!(
        store
            .tenants(None)
            .await
            .unwrap()
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>(),
        ["acme", "default", "other", "zeta"]
    );
    let acme_token = TokenRecord {
        id: "tok-acme".into(),
        tenant: "acme".into(),
        revoked_at: None,
        ..token.clone()
    };
    store.put_token(&acme_token).await.unwrap();
    // Shortening: live tokens of the tenant that would outlive the limit, no others.
    let limit = token.created + time::Duration::days(7);
    assert_eq!(store.shorten_tokens("acme", limit).await.unwrap(), 1);
    assert_eq!(
        store.tokens("acme", None).await.unwrap()[0].expires_at,
        Some(limit)
    );
    assert_eq!(store.shorten_tokens("acme", limit).await.unwrap(), 0);
    assert_eq!(
        store.tokens("default", None).await.unwrap()[0].expires_at,
        None
    );
    // OAuth clients: kept with their JWT trust; revoking one revokes its secrets and access
    // tokens, no others; expired access tokens are pruned, secrets never.
    let client = ClientRecord {
        id: "client1".into(),
        tenant: "acme".into(),
        name: "entra".into(),
        created: token.created,
        access_token_minutes: 60,
        jwt: Some(JwtTrust {
            jwks_url: "https://idp.example/keys".into(),
            issuer: Some("https://idp.example".into()),
            subject: None,
            audience: None,
        }),
        revoked_at: None,
    };
    store.put_client(&client).await.unwrap();
    assert_eq!(
        store.clients("acme", None).await.unwrap(),
        std::slice::from_ref(&client)
    );
    assert_eq!(
        store.clients("acme", Some("client1")).await.unwrap(),
        std::slice::from_ref(&client)
    );
    assert!(store
        .clients("default", Some("client1"))
        .await
        .unwrap()
        .is_empty());
    let secret = TokenRecord {
        id: "sec1".into(),
        kind: TokenKind::ClientSecret,
        client: Some("client1".into()),
        // Expired too: secrets are never pruned with access tokens.
        expires_at: Some(token.created + time::Duration::minutes(1)),
        ..acme_token.clone()
    };
    let access = TokenRecord {
        id: "acc1".into(),
        kind: TokenKind::Access,
        client: Some("client1".into()),
        parent: Some("sec1".into()),
        expires_at: Some(token.created + time::Duration::hours(1)),
        ..acme_token.clone()
    };
    store.put_token(&secret).await.unwrap();
    store.put_token(&access).await.unwrap();
    assert_eq!(
        store.tokens("acme", Some("sec1")).await.unwrap(),
        std::slice::from_ref(&secret)
    );
    let later = token.created + time::Duration::hours(2);
    assert_eq!(store.prune_access_tokens("acme", later).await.unwrap(), 1);
    store.put_token(&access).await.unwrap();
    assert_eq!(store.tokens("acme", None).await.unwrap().len(), 3);
    // A token issued for a revoked secret reads as revoked.
    let secret_revoked = token.created + time::Duration::minutes(90);
    assert!(store
        .write_token("acme", "sec1", &TokenWrite::Revoke(secret_revoked))
        .await
        .unwrap());
    assert_eq!(
        store.tokens("acme", Some("acc1")).await.unwrap()[0].revoked_at,
        Some(secret_revoked)
    );
    // Assertions are good once, until they expire.
    let expires = later + time::Duration::minutes(5);
    assert!(store
        .use_assertion("client1", "j1", expires, later)
        .await
        .unwrap());
    assert!(!store
        .use_assertion("client1", "j1", expires, later)
        .await
        .unwrap());
    assert!(store
        .use_assertion("client2", "j1", expires, later)
        .await
        .unwrap());
    let much_later = expires + time::Duration::minutes(1);
    assert!(store
        .use_assertion("client1", "j1", much_later, much_later)
        .await
        .unwrap());
    assert!(store.revoke_client("acme", "client1", later).await.unwrap());
    // A token of a revoked client reads as revoked, whatever its own row says (one written
    // by an issue that raced the revocation).
    let raced = TokenRecord {
        id: "acc2".into(),
        parent: None,
        ..access.clone()
    };
    store.put_token(&raced).await.unwrap();
    assert!(!store.revoke_client("acme", "nobody", later).await.unwrap());
    let revoked = store.clients("acme", None).await.unwrap();
    assert_eq!(revoked[0].revoked_at, Some(later));
    for id in ["acc2"] {
        let stored = store.tokens("acme", Some(id)).await.unwrap();
        assert_eq!(stored[0].revoked_at, Some(later), "{id}");
    }
    assert_eq!(
        store.tokens("acme", Some("tok-acme")).await.unwrap()[0].revoked_at,
        None
    );
    // A revocation stays through a later write of the record.
    store.put_client(&client).await.unwrap();
    assert_eq!(
        store.clients("acme", None).await.unwrap()[0].revoked_at,
        Some(later)
    );
    let logged = crate::store::RequestEntry {
        id: "acme-entry".into(),
        at: later,
        tenant: "acme".into(),
        request_id: "r".into(),
        token: "-".into(),
        method: "GET".into(),
        path: "/".into(),
        status: 200,
        duration_ms: 0.0,
        request_body: String::new(),
        response_body: String::new(),
        calls: Vec::new(),
    };
    store.log_requests(&[logged]).await.unwrap();
    assert!(store.delete_tenant("acme").await.unwrap());
    let acme_log = crate::store::RequestQuery {
        tenant: "acme".into(),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.requests(&acme_log).await.unwrap().1, 0);
    assert!(store.clients("acme", None).await.unwrap().is_empty());
    assert!(!store.delete_tenant("acme").await.unwrap());
    assert!(store.tokens("acme", None).await.unwrap().is_empty());
    assert_eq!(store.tokens("default", None).await.unwrap().len(), 1);
    assert_eq!(store.tenants(None).await.unwrap().len(), 3);
}

/// PostgreSQL from `SCIMGATE_TEST_POSTGRES` (default: the local server). The test makes its
/// own database and drops it. Without a server it is skipped, except under CI, where the
/// server is part of the machine and its absence is a failure.
#[tokio::test]
async fn postgres_store_keeps_the_contract() {
    use sqlx::Connection;
    let admin_url = std::env::var("SCIMGATE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: no PostgreSQL at {admin_url} ({e}); set SCIMGATE_TEST_POSTGRES");
            return;
        }
        Err(e) => panic!("PostgreSQL at {admin_url}: {e}"),
    };
    let db = format!("scimgate_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => panic!("SCIMGATE_TEST_POSTGRES must name a database"),
    };
    {
        let store = PostgresStore::open(&url).await.unwrap();
        contract(&store).await;
        // Opening again (another replica) finds the schema migrated.
        let second = PostgresStore::open(&url).await.unwrap();
        assert!(second.get(SCOPE, "d").await.unwrap().is_some());
    }
    sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// The request log: entries back as stored (calls included), filtered, newest first, pruned
/// by age, by count per tenant, and when their tenant is gone.
async fn requests_contract(store: &dyn Store) {
    use crate::store::{PlatformCall, RequestEntry, RequestQuery};
    let t0 = time::macros::datetime!(2026-01-02 03:04:05.123 UTC);
    let entry = |n: i64, tenant: &str, status: u16| RequestEntry {
        id: format!("r{n:02}-{tenant}"),
        at: t0 + time::Duration::minutes(n),
        tenant: tenant.to_owned(),
        request_id: format!("req-{n}"),
        token: "managed:abc".to_owned(),
        method: if n % 2 == 0 { "GET" } else { "POST" }.to_owned(),
        path: "/scim/v2/Users".to_owned(),
        status,
        duration_ms: 1.5,
        request_body: if n % 2 == 0 {
            String::new()
        } else {
            "{\"password\":\"***\"}".to_owned()
        },
        response_body: "{}".to_owned(),
        calls: vec![PlatformCall {
            backend: "default".to_owned(),
            method: "GET".to_owned(),
            path: "/api/v2/users?q=x".to_owned(),
            status: (status != 503).then_some(200),
            error: (status == 503).then(|| "timeout".to_owned()),
            duration_ms: 0.5,
        }],
    };
    let batch: Vec<RequestEntry> = (0..6)
        .map(|n| {
            entry(
                n,
                "default",
                if n == 3 {
                    401
                } else if n == 5 {
                    503
                } else {
                    200
                },
            )
        })
        .chain([entry(0, "other", 200), entry(1, "gone", 200)])
        .collect();
    store.log_requests(&batch).await.unwrap();
    let all = RequestQuery {
        tenant: "default".into(),
        limit: 100,
        ..Default::default()
    };
    let (entries, total) = store.requests(&all).await.unwrap();
    assert_eq!(total, 6);
    assert_eq!(entries[0], batch[5]);
    assert_eq!(entries[5], batch[0]);
    let refused = RequestQuery {
        status: Some((400, 499)),
        ..all.clone()
    };
    assert_eq!(
        store.requests(&refused).await.unwrap().0,
        vec![batch[3].clone()]
    );
    let posts = RequestQuery {
        method: Some("POST".into()),
        ..all.clone()
    };
    assert_eq!(store.requests(&posts).await.unwrap().1, 3);
    let one = RequestQuery {
        request_id: Some("req-2".into()),
        ..all.clone()
    };
    assert_eq!(store.requests(&one).await.unwrap().0[0].id, "r02-default");
    let window = RequestQuery {
        since: Some(t0 + time::Duration::minutes(2)),
        until: Some(t0 + time::Duration::minutes(4)),
        ..all.clone()
    };
    assert_eq!(store.requests(&window).await.unwrap().1, 2);
    let paged = RequestQuery {
        offset: 1,
        limit: 2,
        ..all.clone()
    };
    let (page, total) = store.requests(&paged).await.unwrap();
    assert_eq!((page.len(), total), (2, 6));
    assert_eq!(page[0].id, "r04-default");
    // Older than minute 1 goes (one of default's, one of other's), and everything of the
    // tenant that is not in the store; then all but default's newest 3.
    let removed = store
        .prune_requests(t0 + time::Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(removed, 1 + 1 + 1);
    assert_eq!(store.trim_requests("default", 3).await.unwrap(), 2);
    assert_eq!(store.trim_requests("default", 3).await.unwrap(), 0);
    let (left, _) = store.requests(&all).await.unwrap();
    assert_eq!(
        left.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["r05-default", "r04-default", "r03-default"]
    );
    let other = RequestQuery {
        tenant: "other".into(),
        ..all.clone()
    };
    assert_eq!(store.requests(&other).await.unwrap().1, 0);
    let gone = RequestQuery {
        tenant: "gone".into(),
        ..all.clone()
    };
    assert_eq!(store.requests(&gone).await.unwrap().1, 0);
    store
        .prune_requests(t0 + time::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(store.requests(&all).await.unwrap().1, 0);
}

/// Create intents: one per name, replaced by a newer create of the name, dropped only under
/// the SCIM id they name, stale ones pruned, none for a tenant that is gone.
async fn intents_contract(store: &dyn Store) {
    use crate::store::CreateIntent;
    let t0 = time::macros::datetime!(2026-01-02 03:04:05.123 UTC);
    let intent = |id: &str, started| CreateIntent {
        name: "alice".to_owned(),
        request: "digest-1".to_owned(),
        scim_id: id.to_owned(),
        started,
    };
    let long_ago = t0 - time::Duration::days(1);
    assert_eq!(store.create_intent(SCOPE, "alice").await.unwrap(), None);
    store
        .begin_create(SCOPE, &intent("s1", t0), long_ago)
        .await
        .unwrap();
    assert_eq!(
        store.create_intent(SCOPE, "alice").await.unwrap(),
        Some(intent("s1", t0))
    );
    // Another resource type's and another tenant's names are their own.
    let groups = Scope {
        tenant: "default",
        resource_type: "Group",
    };
    assert_eq!(store.create_intent(groups, "alice").await.unwrap(), None);
    // Dropping under another id leaves it alone.
    store.drop_create(SCOPE, "alice", "s0").await.unwrap();
    assert_eq!(
        store.create_intent(SCOPE, "alice").await.unwrap(),
        Some(intent("s1", t0))
    );
    // A newer create of the name replaces it.
    let later = t0 + time::Duration::minutes(1);
    store
        .begin_create(SCOPE, &intent("s2", later), long_ago)
        .await
        .unwrap();
    assert_eq!(
        store.create_intent(SCOPE, "alice").await.unwrap(),
        Some(intent("s2", later))
    );
    // Beginning one prunes those begun before `stale`.
    let bob = CreateIntent {
        name: "bob".to_owned(),
        ..intent("s3", later + time::Duration::minutes(1))
    };
    store
        .begin_create(SCOPE, &bob, later + time::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(store.create_intent(SCOPE, "alice").await.unwrap(), None);
    store.drop_creates_of(groups, "s3").await.unwrap();
    assert!(store.create_intent(SCOPE, "bob").await.unwrap().is_some());
    store.drop_creates_of(SCOPE, "s3").await.unwrap();
    assert_eq!(store.create_intent(SCOPE, "bob").await.unwrap(), None);
    let nowhere = Scope {
        tenant: "nowhere",
        resource_type: "User",
    };
    assert!(matches!(
        store.begin_create(nowhere, &bob, long_ago).await,
        Err(StoreError::TenantGone(_))
    ));
}
