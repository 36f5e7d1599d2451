//! TLS termination (RFC 8446, with TLS 1.2 for older IdP stacks) with rustls, on the
//! certificate and key files the config names (`[server.tls]`). The files are read at start-up
//! (a bad pair is a config error) and watched: when either changes, the new pair is used for
//! every handshake from then on, without a restart; a pair that does not load is logged and the
//! one in use kept. Certificates renewed by cert-manager, certbot or a mounted secret are picked
//! up this way.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::ring::{default_provider, sign::any_supported_type};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// How long a client may take over its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate and key files, and how often they are looked at.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, PEM (the server's certificate first).
    pub cert: PathBuf,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// How often the files are checked for a change.
    pub reload_every: Duration,
}

/// Why a certificate and key pair does not load, by the file at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PairError {
    /// The certificate file.
    #[error("{0}")]
    Certificate(String),
    /// The key file (or a key that is not the certificate's).
    #[error("{0}")]
    Key(String),
}

/// Reads and checks a certificate chain and its key: the chain is not empty and the key is
/// the one its first certificate names.
pub fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, PairError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| PairError::Certificate(format!("cannot read {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            PairError::Certificate(format!(
                "{} is not a PEM certificate chain: {e}",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(PairError::Certificate(format!(
            "{} holds no certificate",
            cert.display()
        )));
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        PairError::Key(format!(
            "cannot read a PEM private key from {}: {e}",
            key.display()
        ))
    })?;
    let signing = any_supported_type(&der)
        .map_err(|e| PairError::Key(format!("{}: unsupported private key: {e}", key.display())))?;
    let pair = CertifiedKey::new(chain, signing);
    pair.keys_match().map_err(|e| {
        PairError::Key(format!(
            "the key in {} is not the certificate's in {}: {e}",
            key.display(),
            cert.display()
        ))
    })?;
    Ok(pair)
}

/// The pair in use, swapped when the files change.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|pair| pair.clone())
    }
}

/// The TLS side of the listeners: the acceptor, and the pair it presents.
pub struct Tls {
    acceptor: TlsAcceptor,
    current: Arc<Current>,
    files: TlsFiles,
}

impl Tls {
    /// Loads the files and makes the acceptor (HTTP/2 and HTTP/1.1 offered by ALPN).
    pub fn load(files: TlsFiles) -> Result<Tls, String> {
        let pair = load_pair(&files.cert, &files.key).map_err(|e| e.to_string())?;
        let current = Arc::new(Current(RwLock::new(Arc::new(pair))));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            current,
            files,
        })
    }

    /// The acceptor every connection's handshake goes through.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Loads the files again now; the new pair is used from the next handshake on. On an
    /// error the pair in use stays.
    pub fn reload(&self) -> Result<(), PairError> {
        let pair = load_pair(&self.files.cert, &self.files.key)?;
        if let Ok(mut current) = self.current.0.write() {
            *current = Arc::new(pair);
        }
        Ok(())
    }

    /// Watches the files for as long as the returned task runs, reloading when either's
    /// modification time or size changes.
    pub fn watch(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let tls = Arc::downgrade(self);
        let every = self.files.reload_every;
        let mut seen = self.stamp();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(tls) = tls.upgrade() else { return };
                let now = tls.stamp();
                if now == seen {
                    continue;
                }
                match tls.reload() {
                    Ok(()) => {
                        tracing::info!(cert = %tls.files.cert.display(), "TLS certificate reloaded");
                        seen = now;
                    }
                    // Half-written files (a renewal in progress) are tried again next time.
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS certificate not reloaded; the one in use stays")
                    }
                }
            }
        })
    }

    fn stamp(&self) -> [Option<(SystemTime, u64)>; 2] {
        let of = |path: &Path| {
            std::fs::metadata(path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        };
        [of(&self.files.cert), of(&self.files.key)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
        (cert, key)
    }

    #[test]
    fn a_matching_pair_loads_and_a_mismatched_or_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_a, key_a) = pair(dir.path(), "a");
        let (_, key_b) = pair(dir.path(), "b");
        assert!(load_pair(&cert_a, &key_a).is_ok());
        let Err(PairError::Key(e)) = load_pair(&cert_a, &key_b) else {
            panic!("a key that is not the certificate's");
        };
        assert!(e.contains("is not the certificate's"), "{e}");
        let Err(PairError::Certificate(e)) = load_pair(&dir.path().join("nope.crt"), &key_a) else {
            panic!("a missing certificate");
        };
        assert!(e.contains("nope.crt"), "{e}");
        // A key file given as the certificate: no certificate in it.
        let Err(PairError::Certificate(e)) = load_pair(&key_a, &key_a) else {
            panic!("no certificate");
        };
        assert!(e.contains("no certificate"), "{e}");
        std::fs::write(dir.path().join("empty.key"), "").unwrap();
        let Err(PairError::Key(e)) = load_pair(&cert_a, &dir.path().join("empty.key")) else {
            panic!("an empty key file");
        };
        assert!(e.contains("empty.key"), "{e}");
    }

    #[test]
    fn a_reload_swaps_the_pair_and_a_bad_one_keeps_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "live");
        let tls = Tls::load(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            reload_every: Duration::from_secs(60),
        })
        .unwrap();
        let served = || tls.current.0.read().unwrap().cert[0].clone();
        let first = served();
        let (new_cert, new_key) = pair(dir.path(), "new");
        std::fs::copy(&new_cert, &cert).unwrap();
        std::fs::copy(&new_key, &key).unwrap();
        tls.reload().unwrap();
        let second = served();
        assert_ne!(first, second);
        std::fs::write(&key, "garbage").unwrap();
        assert!(tls.reload().is_err());
        assert_eq!(served(), second);
    }
}
