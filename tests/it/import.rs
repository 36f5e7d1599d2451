//! `scimgate links import`: accounts made on the emulated Coder before SCIM, linked to the
//! IdP's identities from a CSV export; a dry run links nothing, an interrupted import run again
//! links nothing twice, and the IdP's first provisioning then finds each person's account.

use serde_json::{json, Value};

use crate::support::{filter_query, user, Harness};

async fn make_on_platform(h: &Harness, name: &str, email: &str) -> String {
    let response = h
        .http
        .post(format!("{}/api/v2/users", h.demo.emulator_url))
        .header("Coder-Session-Token", &h.demo.emulator_token)
        .json(&json!({"username": name, "email": email,
                      "organization_ids": [h.demo.emulator.organization_id()],
                      "login_type": "password", "password": "a-long-enough-password-1"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn link_count(h: &Harness) -> u64 {
    let response = h
        .http
        .get(format!(
            "{}/admin/v1/tenants/default/links",
            h.demo.admin_url
        ))
        .bearer_auth(&h.demo.admin_token)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["total"].as_u64().unwrap()
}

fn run_import(h: &Harness, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args([
            "links",
            "--admin-url",
            &h.demo.admin_url,
            "--tenant",
            "default",
            "import",
        ])
        .args(args)
        .env("SCIMGATE_ADMIN_TOKEN", &h.demo.admin_token)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

// Two workers: the CLI runs while this test's gateway answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_from_before_scim_are_linked_once_and_the_idp_finds_them() {
    let h = Harness::start().await;
    let ann = make_on_platform(&h, "ann", "ann@example.com").await;
    let ben = make_on_platform(&h, "ben", "ben@example.com").await;
    // Provisioned already, as another IdP identity.
    h.post(
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
               "userName": "eve@example.com", "externalId": "okta-eve-before",
               "emails": [{"value": "eve@example.com", "primary": true}]}),
    )
    .await
    .expect(201);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("okta-export.csv");
    std::fs::write(
        &csv,
        "Username,Primary email,id\n\
         ann@example.com,ann@example.com,okta-ann\n\
         ben@example.com,BEN@example.com,okta-ben\n\
         zed@example.com,zed@example.com,okta-zed\n\
         eve@example.com,eve@example.com,okta-eve\n\
         nomail,,okta-nomail\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap().to_owned();
    let before = link_count(&h).await;

    let (ok, text) = run_import(&h, &["--csv", &csv, "--dry-run"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(
            "dry run: linked 0, wouldLink 2, alreadyLinked 0, ambiguous 0, unmatched 2, conflict 1"
        ),
        "{text}"
    );
    assert_eq!(link_count(&h).await, before, "a dry run links nothing");

    // Interrupted after its first rows (as if killed after the first batch): their links stay.
    let first = dir.path().join("first.csv");
    let all = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&first, all.lines().take(2).collect::<Vec<_>>().join("\n")).unwrap();
    let (ok, text) = run_import(&h, &["--csv", first.to_str().unwrap()]);
    assert!(ok && text.contains("linked 1,"), "{text}");
    // Run again whole, two rows a request: the rest is linked, the first not twice.
    let (ok, text) = run_import(&h, &["--csv", &csv, "--batch", "2"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(
            "linked 1, wouldLink 0, alreadyLinked 1, ambiguous 0, unmatched 2, conflict 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("unmatched  zed@example.com  (0 candidates)"),
        "{text}"
    );
    assert!(
        text.contains("unmatched    (0 candidates): the identity has no email"),
        "{text}"
    );
    assert!(
        text.contains("conflict   eve@example.com  (1 candidates): the account is linked to another IdP identity (externalId okta-eve-before)"),
        "{text}"
    );
    assert_eq!(link_count(&h).await, before + 2);
    let (ok, text) = run_import(&h, &["--csv", &csv]);
    assert!(
        ok && text.contains("linked 0, wouldLink 0, alreadyLinked 2"),
        "{text}"
    );
    assert_eq!(link_count(&h).await, before + 2, "nothing linked twice");

    // The IdP's first provisioning finds each person's account, by externalId or userName.
    for (external_id, key, user_name) in [
        ("okta-ann", &ann, "ann@example.com"),
        ("okta-ben", &ben, "ben@example.com"),
    ] {
        let found = h
            .get(&format!(
                "/Users?{}",
                filter_query(&format!("externalId eq \"{external_id}\""))
            ))
            .await
            .expect(200);
        assert_eq!(found["totalResults"], 1, "{found}");
        let id = found["Resources"][0]["id"].as_str().unwrap().to_owned();
        let by_name = h
            .get(&format!(
                "/Users?{}",
                filter_query(&format!("userName eq \"{user_name}\""))
            ))
            .await
            .expect(200);
        assert_eq!(by_name["Resources"][0]["id"], id.as_str(), "{by_name}");
        let link = h
            .http
            .get(format!(
                "{}/admin/v1/tenants/default/links/{id}",
                h.demo.admin_url
            ))
            .bearer_auth(&h.demo.admin_token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(link["platformKey"], key.as_str());
        assert_eq!(link["externalId"], external_id);
    }
    // A create for an imported person is the account that exists: 409, not a second account.
    h.post("/Users", user("ann@example.com", "ann@example.com"))
        .await
        .expect_error(409, Some("uniqueness"));

    // Without a CSV: every account not yet linked gets a SCIM id; again, nothing more.
    let (ok, text) = run_import(&h, &[]);
    assert!(ok && text.contains("linked "), "{text}");
    let (ok, text) = run_import(&h, &[]);
    assert!(ok && text.contains("linked 0,"), "{text}");
    let audit = h
        .http
        .get(format!(
            "{}/admin/v1/tenants/default/audit?operation=relink",
            h.demo.admin_url
        ))
        .bearer_auth(&h.demo.admin_token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        audit.to_string().contains("imported: ann@example.com"),
        "{audit}"
    );
    h.demo.stop().await;
}
