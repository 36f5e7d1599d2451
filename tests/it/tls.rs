//! TLS termination (`[server.tls]`) on the real `scimgate serve`: HTTPS with the configured
//! certificate, no plain HTTP on that port, a renewed certificate served without a restart,
//! and a certificate whose key does not match refused by `scimgate check` with the key named.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::processes::{serve_config, Replica, CODER_TOKEN, SCIM_TOKEN};

/// A fresh self-signed certificate for `localhost`: (certificate PEM, key PEM).
fn self_signed() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (made.cert.pem(), made.key_pair.serialize_pem())
}

/// A client that trusts only `cert`, reaching `localhost` at the gateway's address.
fn trusting(cert: &str, address: std::net::SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
        .resolve("localhost", address)
        .build()
        .unwrap()
}

async fn config_with_tls(dir: &Path, reload_secs: u64) -> std::path::PathBuf {
    let coder = scimgate::sandbox::coder::CoderEmulator::new(CODER_TOKEN);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let organization = coder.organization_id();
    tokio::spawn(coder.serve(listener, std::future::pending()));
    let store = format!("sqlite://{}", dir.join("ids.sqlite").display());
    let config = serve_config(dir, &store, &[("default", &url, &organization)]);
    let mut text = std::fs::read_to_string(&config).unwrap();
    // Keys of [server] go before the other tables: the file is read again whole.
    text = format!(
        "[server.tls]\ncert_file = \"tls/server.crt\"\nkey_file = \"tls/server.key\"\nreload_secs = {reload_secs}\n\n{text}"
    );
    std::fs::write(&config, text).unwrap();
    config
}

#[tokio::test]
async fn https_is_served_and_a_renewed_certificate_is_used_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    let (cert_a, key_a) = self_signed();
    std::fs::write(dir.path().join("tls/server.crt"), &cert_a).unwrap();
    std::fs::write(dir.path().join("tls/server.key"), &key_a).unwrap();
    let config = config_with_tls(dir.path(), 1).await;
    let gateway = Replica::start(&config);
    let address: std::net::SocketAddr = gateway.url.trim_start_matches("http://").parse().unwrap();
    let https = format!("https://localhost:{}/scim/v2/Users", address.port());

    let old = trusting(&cert_a, address);
    let answer = old
        .get(&https)
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.version(), reqwest::Version::HTTP_11);
    // Locations say https, whatever a forwarded header claims.
    let made: serde_json::Value = old
        .post(&https)
        .bearer_auth(SCIM_TOKEN)
        .header("x-forwarded-proto", "http")
        .json(&crate::support::user("tia", "tia@example.com"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let location = made["meta"]["location"].as_str().unwrap();
    assert!(location.starts_with("https://localhost:"), "{location}");
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{address}/scim/v2/Users"))
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");

    // Renewed: the files are replaced (key first, so for a moment the pair does not match:
    // the old certificate stays until both are there).
    let (cert_b, key_b) = self_signed();
    std::fs::write(dir.path().join("tls/server.key"), &key_b).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = trusting(&cert_a, address);
    let answer = still.get(&https).bearer_auth(SCIM_TOKEN).send().await;
    assert_eq!(
        answer.map(|a| a.status().as_u16()).ok(),
        Some(200),
        "a half-renewed pair keeps the certificate in use"
    );
    std::fs::write(dir.path().join("tls/server.crt"), &cert_b).unwrap();
    let new = trusting(&cert_b, address);
    let started = Instant::now();
    loop {
        // A new client each time: a new connection, a new handshake.
        let answer = trusting(&cert_b, address)
            .get(&https)
            .bearer_auth(SCIM_TOKEN)
            .send()
            .await;
        if let Ok(answer) = answer {
            assert_eq!(answer.status(), 200);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the renewed certificate is served within the reload interval"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answer = new
        .get(&https)
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let refused = trusting(&cert_a, address)
        .get(&https)
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await;
    assert!(refused.is_err(), "the old certificate is no longer served");
}

/// `scimgate check` on a config: whether it passed, and what it said.
fn check(config: &Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["check", "--config"])
        .arg(config)
        .env("IT_SCIM_TOKEN", SCIM_TOKEN)
        .env("IT_ADMIN_TOKEN", "admin-token-for-the-tls-check")
        .env("IT_CODER_TOKEN", CODER_TOKEN)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), said)
}

#[tokio::test]
async fn check_names_a_key_that_is_not_the_certificates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    let (cert, _) = self_signed();
    let (_, other_key) = self_signed();
    std::fs::write(dir.path().join("tls/server.crt"), &cert).unwrap();
    std::fs::write(dir.path().join("tls/server.key"), &other_key).unwrap();
    let config = config_with_tls(dir.path(), 10).await;
    let (ok, said) = check(&config);
    assert!(!ok, "{said}");
    assert!(said.contains("server.tls.key_file"), "{said}");
    assert!(said.contains("not the certificate's"), "{said}");
    // A missing certificate file is named under its own key.
    std::fs::remove_file(dir.path().join("tls/server.crt")).unwrap();
    let (ok, said) = check(&config);
    assert!(!ok, "{said}");
    assert!(said.contains("server.tls.cert_file"), "{said}");
}
