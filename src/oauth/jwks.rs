//! JWK Sets (RFC 7517 §5) of the IdPs that sign client assertions, fetched over HTTP with a
//! timeout and kept for a while: an IdP rotating its keys is seen at the latest when the
//! kept set expires, or at once when an assertion names a key id the kept set lacks (fetched
//! again at most once a minute, so unknown ids cannot make the gateway hammer the IdP).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::Algorithm;

use super::assertion::select_key;

/// The largest JWK Set read.
const MAX_BYTES: usize = 256 * 1024;

/// The least time between two fetches of one set for an unknown key id.
const REFETCH_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Fetched {
    set: JwkSet,
    at: Instant,
}

/// Fetches and keeps JWK Sets by URL.
pub struct JwksCache {
    http: reqwest::Client,
    sets: moka::future::Cache<String, Arc<Fetched>>,
}

impl JwksCache {
    /// Sets fetched within `timeout` (redirects not followed), kept for `keep`.
    pub fn new(timeout: Duration, keep: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot make the HTTP client for JWK Sets: {e}"))?;
        Ok(JwksCache {
            http,
            sets: moka::future::Cache::builder()
                .max_capacity(1000)
                .time_to_live(keep)
                .build(),
        })
    }

    /// The key of the set at `url` that checks a JWT with `kid` and `alg`; an error saying
    /// why there is none (the set cannot be fetched, or lacks the key).
    pub async fn key(&self, url: &str, kid: Option<&str>, alg: Algorithm) -> Result<Jwk, String> {
        let fetched = self.fetched(url).await?;
        if let Some(key) = select_key(&fetched.set, kid, alg) {
            return Ok(key.clone());
        }
        if fetched.at.elapsed() >= REFETCH_AFTER {
            self.sets.invalidate(url).await;
            let again = self.fetched(url).await?;
            if let Some(key) = select_key(&again.set, kid, alg) {
                return Ok(key.clone());
            }
        }
        Err(match kid {
            Some(kid) => format!("the JWK Set at {url} has no signing key `{kid}` for {alg:?}"),
            None => {
                format!("the JWK Set at {url} has no single signing key for {alg:?}; send a kid")
            }
        })
    }

    async fn fetched(&self, url: &str) -> Result<Arc<Fetched>, String> {
        self.sets
            .try_get_with(url.to_owned(), async {
                let set = self.fetch(url).await?;
                Ok::<_, String>(Arc::new(Fetched {
                    set,
                    at: Instant::now(),
                }))
            })
            .await
            .map_err(|e| (*e).clone())
    }

    async fn fetch(&self, url: &str) -> Result<JwkSet, String> {
        let cannot = |why: String| format!("cannot fetch the JWK Set at {url}: {why}");
        let mut response = self
            .http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| cannot(e.to_string()))?;
        if !response.status().is_success() {
            return Err(cannot(format!("it answered {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| cannot(e.to_string()))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BYTES {
                return Err(cannot(format!("it is larger than {MAX_BYTES} bytes")));
            }
        }
        // Keys of kinds this build does not know are left out, not a reason to refuse the set.
        let raw: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| cannot(format!("not JSON: {e}")))?;
        let keys = raw
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| cannot("no `keys` array".to_owned()))?;
        Ok(JwkSet {
            keys: keys
                .iter()
                .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
                .collect(),
        })
    }
}

/// Whether a JWK Set URL may be used: https, or plain http to this machine only (a local
/// IdP, a test); the reason when not.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| "a URL with a host".to_owned())?;
    let local = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if local => Ok(()),
        other => Err(format!(
            "`{other}:` URLs are not fetched; use https (http only to this machine)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_urls_are_https_or_local() {
        assert!(check_url("https://login.example/keys").is_ok());
        assert!(check_url("http://127.0.0.1:9000/keys").is_ok());
        assert!(check_url("http://localhost/keys").is_ok());
        assert!(check_url("http://login.example/keys").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("keys").is_err());
    }
}
