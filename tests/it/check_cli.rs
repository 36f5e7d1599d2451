//! `scimgate check`: every problem of a config and its mapping, with file and key, and a
//! non-zero exit.

use std::process::Command;

#[test]
fn check_reports_every_problem_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/mappings/coder.toml"
    ))
    .unwrap()
    .replace(
        "to_backend = \"value | local_part | slug(32)\"",
        "to_backend = \"value | local_part |\"",
    )
    .replace("scim = \"displayName\"", "scim = \"displayNme\"")
    .replace("method = \"DELETE\"", "method = \"TELEPORT\"")
    .replace(
        "items = \"response.users\"",
        "items = \"response.users\"\ncolour = \"blue\"",
    );
    std::fs::create_dir(dir.path().join("mappings")).unwrap();
    std::fs::write(dir.path().join("mappings/coder.toml"), mapping).unwrap();
    let config = dir.path().join("scimgate.toml");
    std::fs::write(
        &config,
        r#"
[server]
listen = "not an address"
management_listen = "localhost"

[log]
format = "xml"

[otlp]
endpoint = "collector:4317"
sample_ratio = 1.5
timeout_secs = 0

[[auth.tokens]]
name = "okta"
env = "SCIMGATE_TEST_TOKEN_THAT_IS_NOT_SET"

[backend]
mapping = "mappings/coder.toml"
base_url = "coder.example.com"
credential = { env = "SCIMGATE_TEST_CREDENTIAL_THAT_IS_NOT_SET" }
"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let config_name = config.display().to_string();
    let mapping_name = dir.path().join("mappings/coder.toml").display().to_string();
    for expected in [
        format!("{config_name}: server.listen:"),
        format!("{config_name}: server.management_listen: `localhost` is not an address:port"),
        format!("{config_name}: log.format: `xml` is not a log format"),
        format!("{config_name}: otlp.endpoint: `collector:4317` must start with http:// or https://"),
        format!("{config_name}: otlp.sample_ratio: must be from 0 to 1"),
        format!("{config_name}: otlp.timeout_secs: must be at least 1"),
        format!("{config_name}: auth.tokens[0]: environment variable SCIMGATE_TEST_TOKEN_THAT_IS_NOT_SET is not set"),
        format!("{config_name}: backend.base_url:"),
        format!("{config_name}: backend.credential:"),
        format!("{mapping_name}: users.attributes[userName].to_backend: invalid expression `value | local_part |`"),
        format!("{mapping_name}: users.attributes[displayNme].scim: `displayNme` is not an attribute"),
        format!("{mapping_name}: users.delete[0].method: unsupported HTTP method `TELEPORT`"),
        format!("{mapping_name}: users.list: unknown field `colour`"),
    ] {
        assert!(stderr.contains(&expected), "missing `{expected}` in:\n{stderr}");
    }
    assert!(stderr.contains("problem(s) found"), "{stderr}");
}

#[test]
fn check_accepts_the_shipped_example() {
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args([
            "check",
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/scimgate.toml"),
        ])
        .env("SCIMGATE_OKTA_TOKEN", "an-okta-token-of-enough-length")
        .env("CODER_SESSION_TOKEN", "abcdefghij-0123456789abcdefghijkl")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
}

#[test]
fn check_names_missing_settings_the_mapping_needs() {
    let dir = tempfile::tempdir().unwrap();
    crate::processes::with_coder_mapping(dir.path());
    let config = dir.path().join("scimgate.toml");
    std::fs::write(
        &config,
        "[[auth.tokens]]\nname = \"okta\"\nenv = \"SCIMGATE_IT_TOKEN\"\n\n[backend]\nmapping = \"mappings/coder.toml\"\nbase_url = \"http://127.0.0.1:1\"\ncredential = { env = \"SCIMGATE_IT_CREDENTIAL\" }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["check", "--config"])
        .arg(&config)
        .env("SCIMGATE_IT_TOKEN", "an-okta-token-of-enough-length")
        .env(
            "SCIMGATE_IT_CREDENTIAL",
            "abcdefghij-0123456789abcdefghijkl",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "{}: backend.settings.organization_id: the Coder mapping needs this setting",
            config.display()
        )),
        "{stderr}"
    );
}

/// Named backends (`[backends.<name>]`) are checked like `[backend]`, each under its own key;
/// a config with only named backends and the admin API (tokens made there) is complete.
#[test]
fn check_names_problems_of_named_backends() {
    let dir = tempfile::tempdir().unwrap();
    crate::processes::with_coder_mapping(dir.path());
    let backend = |name: &str, settings: &str| {
        format!(
            "[backends.{name}]\nmapping = \"mappings/coder.toml\"\nbase_url = \"http://127.0.0.1:1\"\ncredential = {{ env = \"SCIMGATE_IT_CREDENTIAL\" }}\n{settings}\n"
        )
    };
    let admin = "[[admin.tokens]]\nname = \"ops\"\nenv = \"SCIMGATE_IT_TOKEN\"\n\n";
    let check = |text: String| {
        let config = dir.path().join("scimgate.toml");
        std::fs::write(&config, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
            .args(["check", "--config"])
            .arg(&config)
            .env("SCIMGATE_IT_TOKEN", "an-admin-token-of-enough-length")
            .env(
                "SCIMGATE_IT_CREDENTIAL",
                "abcdefghij-0123456789abcdefghijkl",
            )
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let settings = "settings = { organization_id = \"00000000-0000-0000-0000-000000000000\" }";
    let (ok, said) = check(format!(
        "{admin}{}{}",
        backend("coder-eu", settings),
        backend("coder-us", settings)
    ));
    assert!(ok, "{said}");
    assert!(said.contains("backend coder-eu: platform Coder"), "{said}");
    assert!(said.contains("backend coder-us: platform Coder"), "{said}");

    let (ok, said) = check(format!(
        "{admin}{}{}",
        backend("EU", settings),
        backend("coder-us", "")
    ));
    assert!(!ok);
    assert!(
        said.contains("backends.EU: backend name `EU` must be"),
        "{said}"
    );
    assert!(
        said.contains(
            "backends.coder-us.settings.organization_id: the Coder mapping needs this setting"
        ),
        "{said}"
    );

    // Config tokens are the default tenant's: without [backend] there is none.
    let (ok, said) = check(format!(
        "[[auth.tokens]]\nname = \"okta\"\nenv = \"SCIMGATE_IT_TOKEN\"\n\n{}",
        backend("coder-eu", settings)
    ));
    assert!(!ok);
    assert!(
        said.contains("auth.tokens: these tokens are the default tenant's"),
        "{said}"
    );
    let (ok, said) = check(String::new());
    assert!(!ok);
    assert!(said.contains("backend: no backend configured"), "{said}");
}

#[test]
fn check_refuses_two_listeners_on_one_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scimgate.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:8080\"\nmanagement_listen = \"127.0.0.1:8080\"\n\n[admin]\nlisten = \"127.0.0.1:9191\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("server.management_listen: is the same address as server.listen"),
        "{stderr}"
    );
}
