//! `scimgate explain`: the platform calls one SCIM request would make, with the conditions that
//! chose them, without calling the platform (its base URL here answers nothing) and without any
//! secret set in the environment.

use std::path::Path;
use std::process::Command;

/// A config in front of GitLab whose secrets are not set anywhere, and whose platform is not
/// reachable: explain must need neither. The mapping adds a generated password to creates.
fn gitlab_config(dir: &Path) -> std::path::PathBuf {
    let mapping = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/mappings/gitlab.toml"
    ))
    .unwrap()
    .replace(
        "force_random_password = true,",
        "password = \"{{ generated.password }}\",",
    )
    .replace(
        "[users.get]",
        "[users.generate.password]\nlength = 24\n\n[users.get]",
    );
    std::fs::write(dir.join("gitlab.toml"), mapping).unwrap();
    let config = dir.join("scimgate.toml");
    std::fs::write(
        &config,
        r#"
[[auth.tokens]]
name = "okta"
env = "SCIMGATE_TEST_EXPLAIN_TOKEN_NOT_SET"

[store]
url = "sqlite://never-made.sqlite"

[backend]
mapping = "gitlab.toml"
base_url = "http://127.0.0.1:9"
credential = { env = "SCIMGATE_TEST_EXPLAIN_CREDENTIAL_NOT_SET" }

[backend.settings]
service_account = "root"
"#,
    )
    .unwrap();
    config
}

fn explain(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .arg("explain")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("scimgate runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn explain_shows_the_calls_a_patch_would_make_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = gitlab_config(dir.path());
    let object = dir.path().join("alice.json");
    std::fs::write(
        &object,
        r#"{"id": 2, "username": "alice", "name": "Alice L", "email": "alice@example.com",
            "state": "active", "created_at": "2026-01-02T03:04:05.000Z"}"#,
    )
    .unwrap();
    let (ok, out, err) = explain(
        &config,
        &[
            "--object",
            object.to_str().unwrap(),
            "PATCH",
            "/Users/2819c223",
            "--body",
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations":[{"op":"replace","path":"active","value":false}]}"#,
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Credential   : PRIVATE-TOKEN: ***"), "{out}");
    // The profile call's condition is false (nothing of the profile changed) and says why.
    assert!(
        out.contains("users.update[0]: when `changed.username or changed.name or changed.email` is false: skipped"),
        "{out}"
    );
    // The block call's condition held, with the values that made it hold.
    assert!(
        out.contains("users.update[1]: when `scim.active == false and current.state in ['active', 'deactivated']` is true: made"),
        "{out}"
    );
    assert!(out.contains("      current.state = \"active\""), "{out}");
    assert!(out.contains("      scim.active = false"), "{out}");
    assert!(out.contains("POST /api/v4/users/2/block"), "{out}");
    assert!(
        !out.contains("PUT /api/v4/users/2"),
        "no profile update: {out}"
    );
    assert!(out.contains("SCIM answer  : 200"), "{out}");
    assert!(
        !dir.path().join("never-made.sqlite").exists(),
        "explain leaves the config's store alone"
    );
}

#[test]
fn explain_shows_a_create_with_its_secrets_withheld() {
    let dir = tempfile::tempdir().unwrap();
    let config = gitlab_config(dir.path());
    let created = dir.path().join("created.json");
    std::fs::write(
        &created,
        r#"{"id": 3, "username": "bob", "name": "Bob", "email": "bob@example.com",
            "state": "active", "created_at": "2026-01-02T03:04:05.000Z"}"#,
    )
    .unwrap();
    let (ok, out, err) = explain(
        &config,
        &[
            "--object",
            created.to_str().unwrap(),
            "POST",
            "/Users",
            "--body",
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName":"Bob@Example.com","password":"the-idp-password-42"}"#,
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("1. POST /api/v4/users"), "{out}");
    assert!(out.contains("\"password\": \"***\""), "{out}");
    assert!(out.contains("\"username\": \"bob\""), "{out}");
    assert!(out.contains("\"email\": \"Bob@Example.com\""), "{out}");
    assert!(!out.contains("the-idp-password-42"), "{out}");
    assert!(out.contains("SCIM answer  : 201"), "{out}");
}

#[test]
fn explain_says_when_it_has_no_answer_for_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = gitlab_config(dir.path());
    let (ok, out, err) = explain(
        &config,
        &["GET", "/Users?filter=userName eq \"bob@example.com\""],
    );
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("GET /api/v4/users?order_by=id&page=1&per_page=100&sort=asc&username=bob"),
        "the filter is pushed down to GitLab's username parameter: {out}"
    );
    assert!(out.contains("not simulated"), "{out}");

    // A write to an existing resource needs what the platform holds.
    let (ok, _, err) = explain(&config, &["DELETE", "/Users/123"]);
    assert!(!ok);
    assert!(err.contains("--object"), "{err}");
}

#[test]
fn explain_reads_a_group_with_the_groups_mapping_and_never_makes_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = gitlab_config(dir.path());
    let group = dir.path().join("group.json");
    std::fs::write(
        &group,
        r#"{"id": 9, "name": "Data Science", "path": "data-science"}"#,
    )
    .unwrap();
    let members = dir.path().join("members.json");
    std::fs::write(&members, "[]").unwrap();
    let read = format!("/api/v4/groups/9/members={}", members.display());
    let (ok, out, err) = explain(
        &config,
        &[
            "--object",
            group.to_str().unwrap(),
            "--read",
            &read,
            "POST",
            "/Groups",
            "--body",
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Data Science"}"#,
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("1. POST /api/v4/groups"), "{out}");
    assert!(out.contains("\"path\": \"data-science\""), "{out}");
    assert!(
        out.contains("2. GET /api/v4/groups/9/members?page=1&per_page=100\n   answered 200: the recorded answer"),
        "{out}"
    );
    assert!(out.contains("SCIM answer  : 201"), "{out}");

    // Another tenant is looked up in the config's store, which explain never creates.
    let (ok, _, err) = explain(&config, &["--tenant", "acme", "GET", "/Users"]);
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!dir.path().join("never-made.sqlite").exists());
}
