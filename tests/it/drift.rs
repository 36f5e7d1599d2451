//! The drift report: each kind of drift made on the emulated Coder behind the gateway's back,
//! found by `GET /admin/v1/tenants/{t}/drift` and `scimgate drift`, without linking anything.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{user, Harness};

/// A call on the emulated Coder's own API, as an administrator would make it.
async fn coder(h: &Harness, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = h
        .http
        .request(method, format!("{}{}", h.demo.emulator_url, path))
        .header("Coder-Session-Token", &h.demo.emulator_token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn admin(h: &Harness, path: &str) -> Value {
    crate::support::admin_get(h, &format!("/tenants/default{path}")).await
}

fn of_type<'a>(report: &'a Value, resource_type: &str) -> &'a Value {
    report["resourceTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resourceType"] == resource_type)
        .unwrap_or_else(|| panic!("no {resource_type} in {report}"))
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect()
}

// Two workers: the CLI process runs while this test's gateway answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_drift_is_reported_and_nothing_is_linked() {
    let h = Harness::start().await;
    let mut made = std::collections::HashMap::new();
    for name in ["ann", "ben", "cat"] {
        let body = h
            .post("/Users", user(name, &format!("{name}@example.com")))
            .await
            .expect(201);
        made.insert(name, body["id"].as_str().unwrap().to_owned());
    }
    let team = h
        .post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "team",
                   "members": [{"value": made["ann"]}, {"value": made["ben"]}]}),
        )
        .await
        .expect(201);
    let team_id = team["id"].as_str().unwrap().to_owned();

    // A membership change through SCIM is the gateway's own write: no drift either.
    let changed = h
        .patch(
            &format!("/Groups/{team_id}"),
            crate::support::patch_op(json!([{"op": "add", "path": "members",
                                         "value": [{"value": made["cat"]}]}])),
        )
        .await;
    assert!(changed.status.is_success(), "{}", changed.body);
    let changed = h.patch(
        &format!("/Groups/{team_id}"),
        crate::support::patch_op(json!([{"op": "remove",
                                         "path": format!("members[value eq \"{}\"]", made["cat"])}])),
    )
    .await;
    assert!(changed.status.is_success(), "{}", changed.body);
    // Written through the gateway, nothing has drifted.
    let report = admin(&h, "/drift").await;
    for rt in ["User", "Group"] {
        let drift = of_type(&report, rt);
        for kind in ["gone", "replaced", "changed", "membership"] {
            assert_eq!(drift[kind], json!([]), "{rt} {kind}: {report}");
        }
    }
    assert_eq!(of_type(&report, "Group")["membershipCompared"], true);

    // Behind the gateway's back: ben suspended, cat deleted, ann taken out of the team, and
    // an account made on the platform directly.
    let coder_id = |name: &str| h.coder_user(name)["id"].as_str().unwrap().to_owned();
    let (ann_key, cat_key) = (coder_id("ann"), coder_id("cat"));
    assert!(h.demo.emulator.set_user_status("ben", "suspended"));
    let (status, _) = coder(
        &h,
        Method::DELETE,
        &format!("/api/v2/users/{cat_key}"),
        None,
    )
    .await;
    assert!(status < 300, "{status}");
    let team_link = admin(&h, &format!("/links/{team_id}?type=Group")).await;
    let team_key = team_link["platformKey"].as_str().unwrap().to_owned();
    let (status, body) = coder(
        &h,
        Method::PATCH,
        &format!("/api/v2/groups/{team_key}"),
        Some(json!({"remove_users": [ann_key]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = coder(
        &h,
        Method::POST,
        "/api/v2/users",
        Some(
            json!({"username": "outsider", "email": "outsider@example.com",
                    "organization_ids": [h.demo.emulator.organization_id()],
                    "login_type": "password", "password": "a-long-enough-password-1"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let outsider_key = body["id"].as_str().unwrap().to_owned();
    let links_before = [
        admin(&h, "/links?type=User").await["total"]
            .as_u64()
            .unwrap(),
        admin(&h, "/links?type=Group").await["total"]
            .as_u64()
            .unwrap(),
    ];

    let report = admin(&h, "/drift").await;
    assert_eq!(report["drift"], true);
    let users = of_type(&report, "User");
    assert_eq!(ids(&users["gone"]), vec![made["cat"].as_str()], "{report}");
    assert_eq!(users["gone"][0]["key"], cat_key.as_str());
    assert_eq!(users["replaced"], json!([]));
    assert_eq!(
        users["changed"],
        json!([{"id": made["ben"], "key": coder_id("ben"),
                "attributes": [{"name": "active", "written": true, "now": false}]}]),
        "{report}"
    );
    let outsider = users["unmanaged"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["key"] == outsider_key.as_str())
        .unwrap_or_else(|| panic!("the outsider is unmanaged: {report}"));
    assert_eq!(outsider["name"], "outsider");
    assert!(outsider.get("id").is_none(), "not linked: {outsider}");
    let groups = of_type(&report, "Group");
    assert_eq!(
        groups["membership"],
        json!([{"id": team_id, "key": team_key, "membersNow": 1, "membersWritten": 2}]),
        "{report}"
    );
    // The report linked nothing: the outsider is still no one's.
    let links_after = [
        admin(&h, "/links?type=User").await["total"]
            .as_u64()
            .unwrap(),
        admin(&h, "/links?type=Group").await["total"]
            .as_u64()
            .unwrap(),
    ];
    assert_eq!(links_after, links_before);

    // The CLI prints the same as lines.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args([
            "drift",
            "--admin-url",
            &h.demo.admin_url,
            "--tenant",
            "default",
        ])
        .env("SCIMGATE_ADMIN_TOKEN", &h.demo.admin_token)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        format!("gone        id {} key {cat_key} cat", made["cat"]),
        format!(
            "changed     id {} key {} active: true → false",
            made["ben"],
            coder_id("ben")
        ),
        format!("membership  id {team_id} key {team_key}: 1 members now, 2 after the gateway's last write"),
        format!("unmanaged   key {outsider_key:<24} outsider"),
    ] {
        assert!(text.contains(&expected), "missing `{expected}` in:\n{text}");
    }
    h.demo.stop().await;
}

/// GitLab lists a group's members by a call of their own: nothing to compare membership with,
/// and the report says so instead of failing or scanning every group's members.
#[tokio::test]
async fn a_mapping_that_lists_members_apart_reports_them_not_compared() {
    let h = Harness::with(scimgate::demo::DemoOptions {
        gitlab: true,
        ..Default::default()
    })
    .await;
    let ann = h
        .post("/Users", user("ann", "ann@example.com"))
        .await
        .expect(201);
    h.post(
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
               "displayName": "team", "members": [{"value": ann["id"]}]}),
    )
    .await
    .expect(201);
    let report = admin(&h, "/drift").await;
    let groups = of_type(&report, "Group");
    assert_eq!(groups["membershipCompared"], false, "{report}");
    assert_eq!(groups["membership"], json!([]));
    assert_eq!(groups["changed"], json!([]), "{report}");
    assert_eq!(of_type(&report, "User")["changed"], json!([]), "{report}");
    h.demo.stop().await;
}

/// `replaced`: the account the link's key names now is not the one linked (its creation-time
/// proof differs). Coder's keys are UUIDs and never reused, so the link's proof is changed in
/// the store instead, as it would read had another account taken the key.
#[tokio::test]
async fn a_link_whose_account_was_replaced_is_reported() {
    let h = Harness::start().await;
    let dan = h
        .post("/Users", user("dan", "dan@example.com"))
        .await
        .expect(201);
    let dan_id = dan["id"].as_str().unwrap().to_owned();
    let report = admin(&h, "/drift?type=User").await;
    assert_eq!(of_type(&report, "User")["replaced"], json!([]), "{report}");
    let url = format!("sqlite://{}", h.demo.store_path.display());
    let store = sqlx::SqlitePool::connect(&url).await.unwrap();
    let changed = sqlx::query("UPDATE identities SET proof = $1 WHERE scim_id = $2")
        .bind("\"2001-01-01T00:00:00Z\"")
        .bind(&dan_id)
        .execute(&store)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    store.close().await;
    let report = admin(&h, "/drift?type=User").await;
    let users = of_type(&report, "User");
    let replaced = users["replaced"].as_array().unwrap();
    assert_eq!(replaced.len(), 1, "{report}");
    assert_eq!(replaced[0]["id"], dan_id.as_str());
    assert_eq!(users["gone"], json!([]));
    h.demo.stop().await;
}
