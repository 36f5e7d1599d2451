//! The service over its seams, without a socket: the shipped Coder mapping, a scripted
//! [`Platform`] that records what it is sent, an in-memory store and a clock that stands still.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::*;
use crate::backend::{Fault, PlatformFuture, Retry};
use crate::cache::LookupCache;
use crate::clock::ManualClock;
use crate::config::CacheConfig;
use crate::mapping::compile::compile_mapping_str;
use crate::mapping::{BackendRequest, BackendResponse, Method};
use crate::problems::Problems;
use crate::scim::schema::normalize_resource_parts;
use crate::scim::ScimOp;
use crate::store::SqliteStore;

/// Answers calls from a script, in order, and keeps every request it was sent.
#[derive(Default)]
struct ScriptedPlatform {
    answers: Mutex<VecDeque<Result<BackendResponse, PlatformError>>>,
    sent: Mutex<Vec<BackendRequest>>,
}

impl ScriptedPlatform {
    fn answer(&self, status: u16, body: Value) {
        self.answers.lock().unwrap().push_back(Ok(BackendResponse {
            status,
            headers: Map::new(),
            body: crate::mapping::lazy::JsonBody::from_text(body.to_string()),
        }));
    }

    fn fail(&self, error: PlatformError) {
        self.answers.lock().unwrap().push_back(Err(error));
    }

    fn sent(&self) -> Vec<BackendRequest> {
        self.sent.lock().unwrap().clone()
    }
}

impl Platform for ScriptedPlatform {
    fn send<'a>(&'a self, request: &'a BackendRequest) -> PlatformFuture<'a> {
        self.sent.lock().unwrap().push(request.clone());
        let answer = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("no scripted answer for {request:?}"));
        Box::pin(async move { answer })
    }
}

const AT: time::OffsetDateTime = time::macros::datetime!(2026-12-03 09:30:00 UTC);

async fn gateway(platform: Arc<ScriptedPlatform>) -> (Gateway, Arc<SqliteStore>) {
    let registry = Arc::new(Registry::standard().unwrap());
    let mut problems = Problems::default();
    let mapping = compile_mapping_str(
        Path::new("coder.toml"),
        crate::demo::CODER_MAPPING,
        &registry,
        &mut problems,
    )
    .unwrap();
    let store = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
    crate::store::tests::tenants_for_tests(store.as_ref(), &["acme"]).await;
    let gateway = Gateway {
        tenant: "acme".to_owned(),
        registry,
        mapping: Arc::new(mapping),
        platform,
        links: store.clone(),
        intents: store.clone(),
        replicas: store.clone(),
        cache: LookupCache::new(&CacheConfig {
            ttl: Duration::from_secs(30),
            max_entries: 1000,
        }),
        settings: json!({"organization_id": "org-1"}),
        limits: ScimConfig {
            max_results: 100,
            max_scan: 1000,
        },
        locks: WriteLocks::default(),
        create_locks: WriteLocks::default(),
        clock: Arc::new(ManualClock::new(AT)),
    };
    (gateway, store)
}

fn create(gateway: &Gateway, body: Value) -> ScimOp {
    let rt = gateway.registry.resource_type("User").unwrap();
    let (resource, read_only) = normalize_resource_parts(&gateway.registry, rt, &body).unwrap();
    ScimOp::Create {
        resource,
        read_only,
    }
}

fn coder_user(id: &str) -> Value {
    json!({"id": id, "username": "bjensen", "name": "Barbara Jensen",
           "email": "bjensen@example.com", "status": "dormant",
           "created_at": "2026-12-01T10:00:00Z"})
}

async fn link_count(store: &SqliteStore) -> u64 {
    use crate::store::LinkStore;
    let scope = crate::store::Scope {
        tenant: "acme",
        resource_type: "User",
    };
    store.page(scope, 0, 0).await.unwrap().1
}

#[tokio::test]
async fn a_create_renders_the_mapping_call_and_links_at_the_clock_time() {
    let platform = Arc::new(ScriptedPlatform::default());
    platform.answer(201, coder_user("u-1"));
    platform.answer(200, json!([])); // the user's groups
    let (gateway, store) = gateway(platform.clone()).await;
    let op = create(
        &gateway,
        json!({"userName": "bjensen@example.com", "displayName": "Barbara Jensen"}),
    );
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2/acme",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let made = users.execute(&op, None, &req).await.unwrap().unwrap();
    let sent = platform.sent();
    assert_eq!(
        (sent[0].method, sent[0].path.as_str()),
        (Method::Post, "/api/v2/users")
    );
    assert_eq!(
        sent[0].body,
        Some(
            json!({"email": "bjensen@example.com", "username": "bjensen",
                    "name": "Barbara Jensen", "login_type": "oidc",
                    "organization_ids": ["org-1"]})
        )
    );
    assert_eq!(made.json["userName"], "bjensen@example.com");
    assert_eq!(made.json["meta"]["created"], "2026-12-03T09:30:00Z");
    assert_eq!(
        made.json["meta"]["location"],
        format!("https://scim.example/scim/v2/acme/Users/{}", made.id)
    );
    assert_eq!(link_count(&store).await, 1);
}

#[tokio::test]
async fn a_create_that_timed_out_says_a_retry_is_unsafe_and_links_nothing() {
    let platform = Arc::new(ScriptedPlatform::default());
    platform.fail(PlatformError::timeout(
        Method::Post,
        Duration::from_secs(10),
    ));
    let (gateway, store) = gateway(platform.clone()).await;
    let op = create(&gateway, json!({"userName": "bjensen@example.com"}));
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let Err(ServiceError::Platform(e)) = users.execute(&op, None, &req).await else {
        panic!("a platform error");
    };
    assert_eq!((e.fault, e.retry), (Fault::Platform, Retry::Unsafe));
    assert_eq!(link_count(&store).await, 0);
    // The platform may have made the account: the create's intent stays, for the retry.
    let intent = crate::store::IntentStore::create_intent(
        store.as_ref(),
        users.scope(),
        "bjensen@example.com",
    )
    .await
    .unwrap()
    .expect("the intent is kept");
    assert_eq!(intent.request.len(), 64, "a SHA-256 digest");
}

#[tokio::test]
async fn a_create_refused_or_answered_leaves_no_intent() {
    let platform = Arc::new(ScriptedPlatform::default());
    platform.answer(409, json!({"message": "user already exists"}));
    platform.answer(201, coder_user("u-1"));
    platform.answer(200, json!([]));
    let (gateway, store) = gateway(platform.clone()).await;
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let intent = || async {
        crate::store::IntentStore::create_intent(
            store.as_ref(),
            users.scope(),
            "bjensen@example.com",
        )
        .await
        .unwrap()
    };
    let refused = create(&gateway, json!({"userName": "BJensen@example.com"}));
    let e = users.execute(&refused, None, &req).await.unwrap_err();
    assert!(e.is_uniqueness_conflict(), "{e}");
    assert_eq!(intent().await, None);
    let made = create(&gateway, json!({"userName": "bjensen@example.com"}));
    users.execute(&made, None, &req).await.unwrap().unwrap();
    assert_eq!(intent().await, None);
}

#[tokio::test]
async fn an_account_the_platform_no_longer_has_is_not_found_and_unlinked() {
    let platform = Arc::new(ScriptedPlatform::default());
    platform.answer(201, coder_user("u-1"));
    platform.answer(200, json!([]));
    let (gateway, store) = gateway(platform.clone()).await;
    let op = create(&gateway, json!({"userName": "bjensen@example.com"}));
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let made = users.execute(&op, None, &req).await.unwrap().unwrap();
    // Coder answers 400 for a user it does not know; the mapping says that means not found.
    gateway.cache.forget_tenant("acme");
    platform.answer(
        400,
        json!({"message": "\"user\" must be an existing uuid or username."}),
    );
    let gone = users.get(&made.id, &req).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert_eq!(link_count(&store).await, 0);
}

/// The Coder mapping with list items that lack `status`, completed as `complete` says.
async fn lacking_gateway(platform: Arc<ScriptedPlatform>, complete: &str) -> Gateway {
    let (mut gateway, _) = gateway(platform).await;
    let text = crate::demo::CODER_MAPPING.replacen(
        "max_page_size = 100",
        &format!("max_page_size = 100\nlacks = [\"status\"]\ncomplete = \"{complete}\""),
        1,
    );
    let mut problems = Problems::default();
    let mapping = compile_mapping_str(
        Path::new("coder.toml"),
        &text,
        &gateway.registry,
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems}");
    gateway.mapping = Arc::new(mapping.unwrap());
    gateway
}

fn list_item(id: &str, username: &str) -> Value {
    json!({"id": id, "username": username, "name": username, "email": format!("{username}@example.com")})
}

#[tokio::test]
async fn list_items_that_lack_fields_are_read_whole_and_never_cached_as_objects() {
    let platform = Arc::new(ScriptedPlatform::default());
    let gateway = lacking_gateway(platform.clone(), "get").await;
    platform.answer(
        200,
        json!({"users": [list_item("u-1", "ann"), list_item("u-2", "bob")], "count": 2}),
    );
    let mut suspended = coder_user("u-2");
    suspended["username"] = json!("bob");
    suspended["status"] = json!("suspended");
    let mut ann = coder_user("u-1");
    ann["username"] = json!("ann");
    platform.answer(200, ann);
    platform.answer(200, suspended);
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let page = users
        .list(&crate::scim::list::ListQuery::default(), &req)
        .await
        .unwrap();
    let active: Vec<&Value> = page.resources.iter().map(|r| &r["active"]).collect();
    assert_eq!(active, [&json!(true), &json!(false)]);
    let paths: Vec<String> = platform.sent().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/api/v2/users", "/api/v2/users/u-1", "/api/v2/users/u-2"]
    );
}

#[tokio::test]
async fn list_items_may_leave_out_what_they_lack_and_a_read_by_id_asks_the_platform() {
    let platform = Arc::new(ScriptedPlatform::default());
    let gateway = lacking_gateway(platform.clone(), "omit").await;
    platform.answer(200, json!({"users": [list_item("u-1", "ann")], "count": 1}));
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let page = users
        .list(&crate::scim::list::ListQuery::default(), &req)
        .await
        .unwrap();
    let listed = &page.resources[0];
    // Not "active: true" from a missing status: left out.
    assert!(listed.get("active").is_none(), "{listed}");
    assert_eq!(listed["userName"], "ann");
    // The item was not cached as the object: reading it asks the platform.
    let mut suspended = coder_user("u-1");
    suspended["username"] = json!("ann");
    suspended["status"] = json!("suspended");
    platform.answer(200, suspended);
    platform.answer(200, json!([])); // the user's groups
    let id = listed["id"].as_str().unwrap();
    let read = users.get(id, &req).await.unwrap();
    assert_eq!(read.json["active"], false);
}

#[tokio::test]
async fn an_envelope_is_declared_once_on_the_call() {
    let platform = Arc::new(ScriptedPlatform::default());
    let (mut gateway, _) = gateway(platform.clone()).await;
    let text = crate::demo::CODER_MAPPING.replacen(
        "path = \"/api/v2/users/{{ key }}\"",
        "path = \"/api/v2/users/{{ key }}\"\nobject = \"response.user\"",
        1,
    );
    let mut problems = Problems::default();
    let mapping = compile_mapping_str(
        Path::new("coder.toml"),
        &text,
        &gateway.registry,
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems}");
    gateway.mapping = Arc::new(mapping.unwrap());
    platform.answer(201, coder_user("u-1"));
    platform.answer(200, json!([]));
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let op = create(&gateway, json!({"userName": "bjensen@example.com"}));
    let made = users.execute(&op, None, &req).await.unwrap().unwrap();
    gateway.cache.forget_tenant("acme");
    let mut wrapped = coder_user("u-1");
    wrapped["name"] = json!("Babs Jensen");
    platform.answer(200, json!({"user": wrapped, "api_key": "never kept"}));
    platform.answer(200, json!([]));
    let read = users.get(&made.id, &req).await.unwrap();
    assert_eq!(read.json["displayName"], "Babs Jensen");
    // An envelope that holds no object is the mapping's mistake, said so.
    gateway.cache.forget_tenant("acme");
    platform.answer(200, json!({"usr": {}}));
    let err = users.get(&made.id, &req).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::Mapping(m) if m.contains("users.get.object")),
        "{err}"
    );
}

#[tokio::test]
async fn an_id_the_platform_reused_answers_404_and_the_new_account_gets_its_own_id() {
    let platform = Arc::new(ScriptedPlatform::default());
    platform.answer(201, coder_user("7"));
    platform.answer(200, json!([]));
    let (gateway, store) = gateway(platform.clone()).await;
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let op = create(
        &gateway,
        json!({"userName": "bjensen@example.com", "externalId": "okta-1"}),
    );
    let bjensen = users.execute(&op, None, &req).await.unwrap().unwrap();
    // The platform deleted bjensen out of band and gave id 7 to someone else.
    let mut grace = coder_user("7");
    grace["username"] = json!("grace");
    grace["email"] = json!("grace@example.com");
    grace["created_at"] = json!("2026-12-03T08:00:00Z");
    gateway.cache.forget_tenant("acme");
    platform.answer(200, grace.clone());
    let gone = users.get(&bjensen.id, &req).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert_eq!(link_count(&store).await, 0, "the link is retired");
    // Listed, the new account has its own SCIM id and none of bjensen's data.
    platform.answer(200, json!({"users": [grace], "count": 1}));
    let page = users
        .list(&crate::scim::list::ListQuery::default(), &req)
        .await
        .unwrap();
    assert_eq!(page.total_results, 1);
    let listed = &page.resources[0];
    assert_ne!(listed["id"], bjensen.json["id"]);
    assert_eq!(listed["userName"], "grace");
    assert!(listed.get("externalId").is_none(), "{listed}");
}

#[tokio::test]
async fn a_key_deleted_through_the_gateway_and_reused_is_listed_not_hidden() {
    let platform = Arc::new(ScriptedPlatform::default());
    platform.answer(201, coder_user("7"));
    platform.answer(200, json!([]));
    let (gateway, _) = gateway(platform.clone()).await;
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let op = create(&gateway, json!({"userName": "bjensen@example.com"}));
    let bjensen = users.execute(&op, None, &req).await.unwrap().unwrap();
    platform.answer(204, Value::Null);
    users
        .execute(
            &ScimOp::Delete {
                id: bjensen.id.clone(),
            },
            None,
            &req,
        )
        .await
        .unwrap();
    let mut grace = coder_user("7");
    grace["username"] = json!("grace");
    grace["created_at"] = json!("2026-12-03T08:00:00Z");
    platform.answer(200, json!({"users": [grace], "count": 1}));
    let page = users
        .list(&crate::scim::list::ListQuery::default(), &req)
        .await
        .unwrap();
    assert_eq!((page.total_results, page.resources.len()), (1, 1));
    assert_eq!(page.resources[0]["userName"], "grace");
}

#[tokio::test]
async fn a_generated_password_reaches_the_platform_and_nothing_else() {
    let platform = Arc::new(ScriptedPlatform::default());
    let (mut gateway, store) = gateway(platform.clone()).await;
    let text = crate::demo::CODER_MAPPING
        .replacen(
            "identity = \"backend.created_at\"",
            "identity = \"backend.created_at\"\ngenerate = { password = { length = 20, alphabet = \"abc123\" } }",
            1,
        )
        .replacen(
            "login_type = \"oidc\",",
            "login_type = \"password\", password = \"{{ generated.password }}\",",
            1,
        );
    let mut problems = Problems::default();
    let mapping = compile_mapping_str(
        Path::new("coder.toml"),
        &text,
        &gateway.registry,
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems}");
    gateway.mapping = Arc::new(mapping.unwrap());
    platform.answer(201, coder_user("u-1"));
    platform.answer(200, json!([]));
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let op = create(&gateway, json!({"userName": "bjensen@example.com"}));
    let made = users.execute(&op, None, &req).await.unwrap().unwrap();
    let body = platform.sent()[0].body.clone().unwrap();
    let password = body["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 20);
    assert!(password.chars().all(|c| "abc123".contains(c)), "{password}");
    use crate::store::LinkStore;
    let scope = crate::store::Scope {
        tenant: "acme",
        resource_type: "User",
    };
    let link = store.get(scope, &made.id).await.unwrap().unwrap();
    let kept = format!("{} {}", link.shadow, link.platform);
    assert!(!kept.contains(&password), "{kept}");
    assert!(!made.json.to_string().contains(&password));
    // A second user gets another secret.
    platform.answer(201, coder_user("u-2"));
    platform.answer(200, json!([]));
    let op = create(&gateway, json!({"userName": "grace@example.com"}));
    users.execute(&op, None, &req).await.unwrap();
    assert_ne!(
        platform.sent()[2].body.clone().unwrap()["password"],
        password
    );
}

#[tokio::test]
async fn the_gateways_own_account_is_never_listed_nor_shown_as_a_member() {
    let platform = Arc::new(ScriptedPlatform::default());
    let (mut gateway, store) = gateway(platform.clone()).await;
    let text = crate::demo::CODER_MAPPING
        .replacen(
            "optional_settings = [\"placeholder_email_domain\"]",
            "optional_settings = [\"placeholder_email_domain\", \"service_account\"]",
            1,
        )
        .replacen(
            "identity = \"backend.created_at\"",
            "identity = \"backend.created_at\"\nexclude = \"backend.username == settings.service_account\"",
            1,
        );
    let mut problems = Problems::default();
    let mapping = compile_mapping_str(
        Path::new("coder.toml"),
        &text,
        &gateway.registry,
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems}");
    gateway.mapping = Arc::new(mapping.unwrap());
    gateway.settings = json!({"organization_id": "org-1", "service_account": "admin"});
    let mut admin = coder_user("u-0");
    admin["username"] = json!("admin");
    let mut ann = coder_user("u-1");
    ann["username"] = json!("ann");
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    // A list: the gateway counts and pages itself, without the service account.
    platform.answer(
        200,
        json!({"users": [admin.clone(), ann.clone()], "count": 2}),
    );
    let users = gateway.resources(ResourceKind::User).unwrap();
    let page = users
        .list(&crate::scim::list::ListQuery::default(), &req)
        .await
        .unwrap();
    assert_eq!((page.total_results, page.resources.len()), (1, 1));
    assert_eq!(page.resources[0]["userName"], "ann");
    assert_eq!(link_count(&store).await, 1);
    // A group's members: the service account seen for the first time is read, and hidden.
    gateway.cache.forget_tenant("acme");
    let group = json!({"id": "g-1", "name": "ops", "display_name": "Ops",
                       "members": [{"id": "u-0"}, {"id": "u-1"}]});
    let groups = gateway.resources(ResourceKind::Group).unwrap();
    platform.answer(200, json!([group]));
    platform.answer(200, admin);
    let page = groups
        .list(&crate::scim::list::ListQuery::default(), &req)
        .await
        .unwrap();
    let members = &page.resources[0]["members"];
    assert_eq!(members.as_array().map(Vec::len), Some(1), "{members}");
    assert_eq!(
        link_count(&store).await,
        1,
        "the service account is never linked"
    );
}

#[tokio::test]
async fn a_filter_pushed_down_to_a_get_by_name_reads_one_object() {
    let platform = Arc::new(ScriptedPlatform::default());
    let (mut gateway, _) = gateway(platform.clone()).await;
    let text = crate::demo::CODER_MAPPING.replacen(
        "query = { q = \"{{ value | local_part | slug(32) }}\" }",
        "get = { path = \"/api/v2/users/{{ value | local_part | slug(32) }}\" }",
        1,
    );
    let mut problems = Problems::default();
    let mapping = compile_mapping_str(
        Path::new("coder.toml"),
        &text,
        &gateway.registry,
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems}");
    gateway.mapping = Arc::new(mapping.unwrap());
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let query = |filter: &str| crate::scim::list::ListQuery {
        filter: Some(crate::scim::filter::parse_filter(filter).unwrap()),
        ..Default::default()
    };
    platform.answer(200, coder_user("u-1"));
    let page = users
        .list(&query(r#"userName eq "bjensen@example.com""#), &req)
        .await
        .unwrap();
    assert_eq!(page.total_results, 1);
    assert_eq!(platform.sent()[0].path, "/api/v2/users/bjensen");
    // Coder's "no such user" (a 400 the mapping reads as not found) is an empty answer.
    platform.answer(
        400,
        json!({"message": "\"user\" must be an existing uuid or username."}),
    );
    let page = users
        .list(&query(r#"userName eq "nobody@example.com""#), &req)
        .await
        .unwrap();
    assert_eq!((page.total_results, page.resources.len()), (0, 0));
    assert_eq!(
        platform.sent().len(),
        2,
        "one call each, whatever the platform holds"
    );
}

#[tokio::test]
async fn a_scan_reads_on_when_the_platform_serves_less_than_asked() {
    // A platform whose page limit is below the mapping's max_page_size (a JupyterHub with a
    // lower api_page_max_limit) answers short pages while its total says there is more.
    let platform = Arc::new(ScriptedPlatform::default());
    let (gateway, _) = gateway(platform.clone()).await;
    platform.answer(
        200,
        json!({"users": [list_item("u-1", "ann"), list_item("u-2", "bob")], "count": 3}),
    );
    platform.answer(200, json!({"users": [list_item("u-3", "cy")], "count": 3}));
    let projection = Projection::default();
    let req = RequestContext {
        base_url: "https://scim.example/scim/v2",
        projection: &projection,
    };
    let users = gateway.resources(ResourceKind::User).unwrap();
    let query = crate::scim::list::ListQuery {
        filter: Some(crate::scim::filter::parse_filter(r#"displayName eq "cy""#).unwrap()),
        ..Default::default()
    };
    let page = users.list(&query, &req).await.unwrap();
    assert_eq!(page.total_results, 1, "the third user is found");
    let offsets: Vec<String> = platform
        .sent()
        .iter()
        .map(|r| {
            r.query
                .iter()
                .find(|(k, _)| k == "offset")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(offsets, ["0", "2"]);
}
