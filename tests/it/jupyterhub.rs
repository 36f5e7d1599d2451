//! The real JupyterHub that `scripts/test` starts (`scripts/jupyterhub start`), spoken to
//! directly: the calls a JupyterHub mapping makes, and the quirks it has to live with. Every test
//! uses names of its own, so all share one hub.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The test hub, from `SCIMGATE_TEST_JUPYTERHUB_URL` (the base a client uses; the API is under
/// `/hub/api`) and `SCIMGATE_TEST_JUPYTERHUB_TOKEN` (the token of the API service
/// `scim-gateway`).
pub struct TestJupyterHub {
    pub url: String,
    pub token: String,
    http: reqwest::Client,
}

impl TestJupyterHub {
    /// `None` (skip) when the variables are not set, except under CI, where `scripts/test`
    /// always starts a hub and their absence is a failure.
    pub fn from_env() -> Option<TestJupyterHub> {
        let url = std::env::var("SCIMGATE_TEST_JUPYTERHUB_URL").ok();
        let token = std::env::var("SCIMGATE_TEST_JUPYTERHUB_TOKEN").ok();
        match (url, token) {
            (Some(url), Some(token)) if !url.is_empty() && !token.is_empty() => {
                Some(TestJupyterHub {
                    url: url.trim_end_matches('/').to_owned(),
                    token,
                    http: reqwest::Client::new(),
                })
            }
            _ if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "SKIPPED: no JupyterHub (SCIMGATE_TEST_JUPYTERHUB_URL and \
                     SCIMGATE_TEST_JUPYTERHUB_TOKEN; scripts/test starts one)"
                );
                None
            }
            _ => panic!(
                "CI: SCIMGATE_TEST_JUPYTERHUB_URL and SCIMGATE_TEST_JUPYTERHUB_TOKEN must be set \
                 (scripts/test starts a JupyterHub)"
            ),
        }
    }

    /// The REST API's base URL.
    pub fn api_url(&self) -> String {
        format!("{}/hub/api", self.url)
    }

    /// One API call with the service token: the status and the JSON body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let request = self
            .http
            .request(method, format!("{}{path}", self.api_url()))
            .header("authorization", format!("token {}", self.token));
        send(request, body, headers).await
    }
}

async fn send(
    mut request: reqwest::RequestBuilder,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("JupyterHub answers");
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    (status, body)
}

/// A lower-case name no other test uses (user names are the URL, and the hub is shared).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

const PAGINATION: (&str, &str) = ("accept", "application/jupyterhub-pagination+json");

#[track_caller]
pub fn expect(answer: (StatusCode, Value), status: u16) -> Value {
    assert_eq!(answer.0.as_u16(), status, "unexpected answer: {}", answer.1);
    answer.1
}

#[tokio::test]
async fn users_and_groups_through_the_rest_api() {
    let Some(hub) = TestJupyterHub::from_env() else {
        return;
    };
    let name = unique("it-user");
    let group = unique("it-group");

    // A user is a name, and little more.
    let user = expect(
        hub.call(Method::POST, &format!("/users/{name}"), None, &[])
            .await,
        201,
    );
    assert_eq!(user["name"], json!(name));
    assert_eq!(user["kind"], "user");
    assert_eq!(user["admin"], false);
    assert_eq!(user["groups"], json!([]));
    let read = expect(
        hub.call(Method::GET, &format!("/users/{name}"), None, &[])
            .await,
        200,
    );
    assert_eq!(read["name"], json!(name));
    expect(
        hub.call(Method::POST, &format!("/users/{name}"), None, &[])
            .await,
        409,
    );

    // Listing with the pagination header: an object with the total.
    let page = expect(
        hub.call(
            Method::GET,
            &format!("/users?name_filter={name}"),
            None,
            &[PAGINATION],
        )
        .await,
        200,
    );
    assert_eq!(page["_pagination"]["total"], 1, "{page}");
    assert_eq!(page["items"][0]["name"], json!(name));
    // Without it, a plain array.
    let plain = expect(
        hub.call(
            Method::GET,
            &format!("/users?name_filter={name}"),
            None,
            &[],
        )
        .await,
        200,
    );
    assert_eq!(plain.as_array().map(Vec::len), Some(1), "{plain}");

    // A group, its members and its properties.
    let created = expect(
        hub.call(Method::POST, &format!("/groups/{group}"), None, &[])
            .await,
        201,
    );
    assert_eq!(created["kind"], "group");
    assert_eq!(created["users"], json!([]));
    assert_eq!(created["properties"], json!({}));
    let members = json!({"users": [name]});
    let added = expect(
        hub.call(
            Method::POST,
            &format!("/groups/{group}/users"),
            Some(members.clone()),
            &[],
        )
        .await,
        200,
    );
    assert_eq!(added["users"], json!([name]));
    let member = expect(
        hub.call(Method::GET, &format!("/users/{name}"), None, &[])
            .await,
        200,
    );
    assert_eq!(member["groups"], json!([group]));
    let properties = json!({"displayName": "Blue Team", "externalId": "ext-1"});
    let with_properties = expect(
        hub.call(
            Method::PUT,
            &format!("/groups/{group}/properties"),
            Some(properties.clone()),
            &[],
        )
        .await,
        200,
    );
    assert_eq!(with_properties["properties"], properties);
    let removed = expect(
        hub.call(
            Method::DELETE,
            &format!("/groups/{group}/users"),
            Some(members),
            &[],
        )
        .await,
        200,
    );
    assert_eq!(removed["users"], json!([]));
    let read = expect(
        hub.call(Method::GET, &format!("/groups/{group}"), None, &[])
            .await,
        200,
    );
    assert_eq!(read["users"], json!([]));
    assert_eq!(read["properties"], properties);

    // Deleting both; they are gone.
    expect(
        hub.call(Method::DELETE, &format!("/users/{name}"), None, &[])
            .await,
        204,
    );
    expect(
        hub.call(Method::DELETE, &format!("/groups/{group}"), None, &[])
            .await,
        204,
    );
    let gone = expect(
        hub.call(Method::GET, &format!("/users/{name}"), None, &[])
            .await,
        404,
    );
    assert_eq!(gone["status"], 404);
    expect(
        hub.call(Method::GET, &format!("/groups/{group}"), None, &[])
            .await,
        404,
    );
}

#[tokio::test]
async fn quirks_the_gateway_lives_with() {
    let Some(hub) = TestJupyterHub::from_env() else {
        return;
    };
    let name = unique("it-quirk");
    expect(
        hub.call(Method::POST, &format!("/users/{name}"), None, &[])
            .await,
        201,
    );

    // A bad token, and none, answer 403 (not 401).
    let (status, body) = send(
        hub.http
            .get(format!("{}/users", hub.api_url()))
            .header("authorization", "token not-a-token"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["status"], 403);
    let (status, _) = send(hub.http.get(format!("{}/users", hub.api_url())), None, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // PATCH: an unknown key is 400 "Invalid JSON keys"; a non-empty `groups` or any
    // `auth_state` is a 500.
    let path = format!("/users/{name}");
    let body = expect(
        hub.call(
            Method::PATCH,
            &path,
            Some(json!({"email": "x@example.com"})),
            &[],
        )
        .await,
        400,
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Invalid JSON keys")),
        "{body}"
    );
    let group = unique("it-quirk-group");
    expect(
        hub.call(Method::POST, &format!("/groups/{group}"), None, &[])
            .await,
        201,
    );
    expect(
        hub.call(Method::PATCH, &path, Some(json!({"groups": [group]})), &[])
            .await,
        500,
    );
    expect(
        hub.call(Method::PATCH, &path, Some(json!({"auth_state": {}})), &[])
            .await,
        500,
    );

    // The service may not grant the admin flag (its scopes are not enough for that).
    expect(
        hub.call(Method::PATCH, &path, Some(json!({"admin": true})), &[])
            .await,
        403,
    );

    // Names: `POST /users/{name}` keeps the case it is given, but a rename and group
    // membership lower-case the name, so only lower-case names are safe for the gateway.
    let mixed = format!("Mixed-{name}");
    let created = expect(
        hub.call(Method::POST, &format!("/users/{mixed}"), None, &[])
            .await,
        201,
    );
    assert_eq!(created["name"], json!(mixed));
    let renamed = format!("Renamed-{name}");
    let after = expect(
        hub.call(
            Method::PATCH,
            &format!("/users/{mixed}"),
            Some(json!({"name": renamed})),
            &[],
        )
        .await,
        200,
    );
    assert_eq!(after["name"], json!(renamed.to_lowercase()));
    let unknown = expect(
        hub.call(
            Method::POST,
            &format!("/groups/{group}/users"),
            Some(json!({"users": [format!("Nobody-{name}")]})),
            &[],
        )
        .await,
        400,
    );
    assert!(
        unknown["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("nobody-{name}"))),
        "{unknown}"
    );

    for user in [name, renamed.to_lowercase()] {
        expect(
            hub.call(Method::DELETE, &format!("/users/{user}"), None, &[])
                .await,
            204,
        );
    }
    expect(
        hub.call(Method::DELETE, &format!("/groups/{group}"), None, &[])
            .await,
        204,
    );
}

#[tokio::test]
async fn a_plain_list_is_cut_without_a_word() {
    let Some(hub) = TestJupyterHub::from_env() else {
        return;
    };
    let prefix = unique("it-page");
    let names: Vec<String> = (0..3).map(|i| format!("{prefix}-{i}")).collect();
    let created = expect(
        hub.call(
            Method::POST,
            "/users",
            Some(json!({ "usernames": names })),
            &[],
        )
        .await,
        201,
    );
    assert_eq!(created.as_array().map(Vec::len), Some(3));
    let query = format!("/users?name_filter={prefix}");

    // With the pagination header: pages of 50 by default, at most 200 (`api_page_default_limit`,
    // `api_page_max_limit`), with the total and the next page.
    let page = expect(
        hub.call(Method::GET, &query, None, &[PAGINATION]).await,
        200,
    );
    assert_eq!(page["_pagination"]["limit"], 50, "{}", page["_pagination"]);
    assert_eq!(page["_pagination"]["total"], 3, "{}", page["_pagination"]);
    assert!(page["_pagination"]["next"].is_null());
    let page = expect(
        hub.call(
            Method::GET,
            &format!("{query}&limit=1000"),
            None,
            &[PAGINATION],
        )
        .await,
        200,
    );
    assert_eq!(page["_pagination"]["limit"], 200, "{}", page["_pagination"]);
    let page = expect(
        hub.call(
            Method::GET,
            &format!("{query}&limit=2"),
            None,
            &[PAGINATION],
        )
        .await,
        200,
    );
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["_pagination"]["total"], 3, "{}", page["_pagination"]);
    assert_eq!(
        page["_pagination"]["next"]["offset"], 2,
        "{}",
        page["_pagination"]
    );

    // Without it, the same page is a bare array: nothing says there is more. (Without a `limit`
    // it holds up to `api_page_max_limit`, 200, users.)
    let plain = expect(
        hub.call(Method::GET, &format!("{query}&limit=2"), None, &[])
            .await,
        200,
    );
    assert_eq!(plain.as_array().map(Vec::len), Some(2), "{plain}");

    for name in &names {
        expect(
            hub.call(Method::DELETE, &format!("/users/{name}"), None, &[])
                .await,
            204,
        );
    }
}
