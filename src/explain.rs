//! `scimgate explain`: one SCIM request run through serve's own code (the same layers, router,
//! service and mapping) in front of a platform that records the calls instead of sending them.
//! It prints each call in order, the condition (`when`) that chose or skipped it with the
//! values of the variables it read, the rendered request, and the SCIM answer the IdP would get.
//!
//! Nothing leaves the process: secrets are withheld (the credential shows as `***`, generated
//! values as `***`), the identity store is an in-memory one, and reads are answered from a
//! platform object the operator recorded (`--object`, the body of the platform's own answer to
//! the `get` call). A read explain has no answer for stops the request there, and says so.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Map, Value};
use tower::ServiceExt;

use crate::backend::{Platform, PlatformFuture};
use crate::config::{
    ApiToken, Config, ConfiguredBackend, Problems, Secret, Secrets, DEFAULT_BACKEND,
};
use crate::mapping::{BackendRequest, BackendResponse, Method, ResourceMapping};
use crate::scim::schema::Registry;
use crate::store::{self, Identity, Scope};

/// What to explain.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    /// The SCIM method (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`).
    pub method: http::Method,
    /// The path under the tenant's SCIM base URL, with any query (`/Users/123`,
    /// `/Users?filter=...`).
    pub path: String,
    /// The request body (JSON), for writes.
    pub body: Option<Value>,
    /// The tenant (`default` fronts `[backend]`; another is looked up in the config's store).
    pub tenant: String,
    /// The platform's answer to a read of the object the request is about (as `curl` showed
    /// it): reads of it are answered with it, writes answer it back.
    pub object: Option<Value>,
    /// More reads explain answers: a platform path (without query) and its answer's body.
    pub reads: Vec<(String, Value)>,
    /// Users the request names as group members, as `(SCIM id, platform user key)`.
    pub members: Vec<(String, String)>,
    /// Read the resource's identity link (what the IdP last wrote) from the config's store
    /// instead of making one up from `object`.
    pub link_from_store: bool,
}

/// Why a request could not be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The config or its mapping has problems.
    #[error("{0}")]
    Config(Problems),
    /// Something explain needs is missing or wrong.
    #[error("{0}")]
    Usage(String),
    /// The store or the in-process gateway could not be set up.
    #[error("{0}")]
    Start(String),
}

/// One thing that happened on the way to the platform.
#[derive(Debug, Clone)]
pub enum Step {
    /// A call's condition was weighed.
    Considered {
        /// The call's key in the mapping (`users.update[1]`).
        call: String,
        /// The `when` expression.
        condition: String,
        /// Whether it held (the call is made) or not (skipped).
        held: bool,
        /// The values of the variables it read.
        variables: Map<String, Value>,
    },
    /// A call the gateway would send, and how explain answered it.
    Call {
        /// The rendered request.
        request: BackendRequest,
        /// The status explain answered with.
        status: u16,
        /// Where that answer came from.
        answered: &'static str,
    },
}

/// What explain found: the platform, the steps, and the SCIM answer.
#[derive(Debug)]
pub struct Explanation {
    /// `METHOD url` of the SCIM request.
    pub request_line: String,
    /// Platform name, backend name and base URL.
    pub platform: String,
    /// How the credential is sent (`PRIVATE-TOKEN: ***`), when the mapping sends one.
    pub credential: Option<String>,
    /// Notes about assumptions made (a made-up link, a member key taken as given).
    pub notes: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The SCIM answer's status.
    pub status: u16,
    /// The SCIM answer's body (`Null` when empty).
    pub answer: Value,
}

/// Records calls and answers them from the recorded object.
struct RecordingPlatform {
    steps: Mutex<Vec<Step>>,
    /// `(path, body)` of reads explain can answer.
    reads: Vec<(String, Value)>,
    /// What a write is answered with.
    object: Option<Value>,
}

impl RecordingPlatform {
    fn push(&self, step: Step) {
        let mut steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        steps.push(step);
    }

    fn answer(&self, request: &BackendRequest) -> (u16, Value, &'static str) {
        match request.method {
            Method::Get => match self.reads.iter().find(|(path, _)| *path == request.path) {
                Some((_, body)) => (200, body.clone(), "the recorded answer"),
                None => (
                    599,
                    Value::String("explain has no answer for this read".to_owned()),
                    "not simulated: no recorded answer for this read (pass it with --object or --read PATH=FILE)",
                ),
            },
            Method::Delete => (204, Value::Null, "204, as a platform that deleted it"),
            _ => match (&self.object, &request.body) {
                (Some(object), _) => (200, object.clone(), "the recorded object, unchanged"),
                (None, Some(body)) => (
                    201,
                    body.clone(),
                    "the request's own body (pass --object with the platform's answer, with its key)",
                ),
                (None, None) => (204, Value::Null, "204, empty"),
            },
        }
    }
}

impl Platform for RecordingPlatform {
    fn send<'a>(&'a self, request: &'a BackendRequest) -> PlatformFuture<'a> {
        let (status, body, answered) = self.answer(request);
        self.push(Step::Call {
            request: request.clone(),
            status,
            answered,
        });
        Box::pin(async move {
            Ok(BackendResponse {
                status,
                headers: Map::new(),
                body: crate::mapping::lazy::JsonBody::from_value(body),
            })
        })
    }

    fn explains(&self) -> bool {
        true
    }

    fn considered(&self, call: &str, condition: &str, held: bool, variables: Map<String, Value>) {
        self.push(Step::Considered {
            call: call.to_owned(),
            condition: condition.to_owned(),
            held,
            variables,
        });
    }
}

/// The path with its query made URI-safe (`filter=userName eq "bob"` as typed on a command
/// line), leaving escapes already there as they are.
fn encode_query(path: &str) -> String {
    let Some((path, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let mut out = format!("{path}?");
    for b in query.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~=&%:/?@!$'()*,;".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The resource type and id a path names (`/Users/123` → `("User", "123")`).
fn resource_of(path: &str) -> Option<(&'static str, Option<&str>)> {
    let path = path.split('?').next().unwrap_or_default();
    let mut parts = path.trim_start_matches('/').split('/');
    let kind = match parts.next()? {
        "Users" => "User",
        "Groups" => "Group",
        _ => return None,
    };
    Some((kind, parts.next().filter(|id| !id.is_empty())))
}

/// The platform object in a recorded `get` answer, with its key and the get call's path.
fn recorded(
    section: &ResourceMapping,
    answer: &Value,
    settings: &Value,
) -> Option<(Value, String, String)> {
    let response = BackendResponse {
        status: 200,
        headers: Map::new(),
        body: crate::mapping::lazy::JsonBody::from_value(answer.clone()),
    };
    let object = section.get.object_of(&response, settings).ok()?;
    let key = section.key_of(&object, settings).ok()?;
    let vars = crate::mapping::vars::ReadVars {
        key: &key,
        settings,
    };
    let path = section.get.render(&vars, &[]).ok()?.path;
    Some((object, key, path))
}

/// Explains one request against the config at `path`.
pub async fn explain(
    config_path: &Path,
    registry: Arc<Registry>,
    request: ExplainRequest,
) -> Result<Explanation, ExplainError> {
    let mut config =
        Config::load_as(config_path, &registry, Secrets::Withheld).map_err(ExplainError::Config)?;
    let real_store_url = config.store_url.clone();
    // explain reads the config's store only when asked to (a tenant, a stored link), and
    // never makes one.
    let open_real_store = || async {
        if let Some(file) = real_store_url.strip_prefix("sqlite://") {
            if !Path::new(file).exists() {
                return Err(ExplainError::Usage(format!(
                    "the config's store {real_store_url} does not exist"
                )));
            }
        }
        store::open(&real_store_url)
            .await
            .map_err(|e| ExplainError::Start(format!("the config's store: {e}")))
    };
    let backend_name = if request.tenant == DEFAULT_BACKEND {
        DEFAULT_BACKEND.to_owned()
    } else {
        let real = open_real_store().await?;
        let found = real
            .tenants(Some(&request.tenant))
            .await
            .map_err(|e| ExplainError::Start(format!("the config's store: {e}")))?;
        found.into_iter().next().map(|t| t.backend).ok_or_else(|| {
            ExplainError::Usage(format!(
                "no tenant `{}` in the config's store",
                request.tenant
            ))
        })?
    };
    let backend: ConfiguredBackend = config.backends.remove(&backend_name).ok_or_else(|| {
        ExplainError::Usage(format!("the config has no backend `{backend_name}`"))
    })?;
    let settings = Value::Object(backend.config.settings.clone());
    let platform_line = format!(
        "{} (backend {backend_name}, {})",
        backend.mapping.platform.name, backend.config.base_url
    );
    let credential = backend.config.credential.as_ref().and_then(|_| {
        let p = &backend.mapping.platform;
        match p.auth_scheme {
            crate::mapping::model::AuthScheme::None => None,
            crate::mapping::model::AuthScheme::Header => p
                .auth_header
                .as_ref()
                .map(|h| format!("{h}: {}***", p.auth_prefix)),
            crate::mapping::model::AuthScheme::Bearer => {
                Some("Authorization: Bearer ***".to_owned())
            }
            crate::mapping::model::AuthScheme::Basic => Some("Authorization: Basic ***".to_owned()),
        }
    });

    let mut notes = Vec::new();
    let target = resource_of(&request.path);
    let section = match target.map(|(kind, _)| kind) {
        Some("Group") => backend.mapping.groups.as_ref(),
        _ => Some(&backend.mapping.users),
    };
    let mut reads = request.reads.clone();
    let mut object = None;
    if let (Some(answer), Some(section)) = (&request.object, section) {
        let Some((platform_object, key, path)) = recorded(section, answer, &settings) else {
            return Err(ExplainError::Usage(
                "--object: the mapping's get call does not read a platform object (with a key) from it"
                    .to_owned(),
            ));
        };
        reads.push((path, answer.clone()));
        object = Some((platform_object, key));
    }
    let identity = match (target, section) {
        (Some((kind, Some(id))), Some(section)) if request.method != http::Method::POST => {
            if request.link_from_store {
                let real = open_real_store().await?;
                let scope = Scope {
                    tenant: &request.tenant,
                    resource_type: kind,
                };
                let link = real
                    .get(scope, id)
                    .await
                    .map_err(|e| ExplainError::Start(format!("the config's store: {e}")))?
                    .ok_or_else(|| {
                        ExplainError::Usage(format!("no {kind} {id} in the config's store"))
                    })?;
                notes.push(format!(
                    "{kind} {id}: the identity link as stored (platform key {})",
                    link.backend_key
                ));
                Some((kind, link))
            } else if let Some((platform_object, key)) = &object {
                notes.push(format!(
                    "{kind} {id}: a link made up from --object (platform key {key}), as if the IdP had last written what the platform holds; --link-from-store uses the stored one"
                ));
                let now = time::OffsetDateTime::now_utc();
                Some((
                    kind,
                    Identity {
                        scim_id: id.to_owned(),
                        backend_key: key.clone(),
                        external_id: None,
                        shadow: section
                            .to_scim(platform_object, None, None, &settings)
                            .map_err(|e| ExplainError::Usage(format!("--object: {e}")))?,
                        platform: section.snapshot_of(platform_object),
                        created: now,
                        last_modified: now,
                        proof: section
                            .proof_of(platform_object, &settings)
                            .map_err(|e| ExplainError::Usage(format!("--object: {e}")))?,
                    },
                ))
            } else {
                return Err(ExplainError::Usage(format!(
                    "{} names {kind} {id}: pass --object with the platform's answer to reading it (or --link-from-store)",
                    request.path
                )));
            }
        }
        _ => None,
    };

    let token = format!("explain-{}", uuid::Uuid::new_v4().simple());
    config.backends.insert(DEFAULT_BACKEND.to_owned(), backend);
    config.tokens = vec![ApiToken {
        name: "explain".to_owned(),
        secret: Secret::new(token.clone()),
    }];
    config.admin.tokens.clear();
    config.admin.listen = None;
    config.store_url = "sqlite::memory:".to_owned();
    config.cache.ttl = std::time::Duration::ZERO;
    config.cache.max_entries = 0;
    config.audit_retention = None;
    config.request_log.enabled = false;
    let recorder = Arc::new(RecordingPlatform {
        steps: Mutex::new(Vec::new()),
        reads,
        object: object
            .as_ref()
            .map(|_| request.object.clone().unwrap_or_default()),
    });
    let platform: Arc<dyn Platform> = recorder.clone();
    let state = crate::app::build_with(config, registry, &|_, _, _| Ok(platform.clone()))
        .await
        .map_err(|e| ExplainError::Start(e.to_string()))?;
    let store = state.tenants.store().clone();
    if let Some((kind, link)) = &identity {
        let scope = Scope {
            tenant: DEFAULT_BACKEND,
            resource_type: kind,
        };
        store
            .insert(scope, link)
            .await
            .map_err(|e| ExplainError::Start(e.to_string()))?;
    }
    for (scim_id, key) in &request.members {
        let now = time::OffsetDateTime::now_utc();
        let member = Identity {
            scim_id: scim_id.clone(),
            backend_key: key.clone(),
            external_id: None,
            shadow: Value::Object(Map::new()),
            platform: Value::Null,
            created: now,
            last_modified: now,
            proof: None,
        };
        let scope = Scope {
            tenant: DEFAULT_BACKEND,
            resource_type: "User",
        };
        store
            .insert(scope, &member)
            .await
            .map_err(|e| ExplainError::Start(e.to_string()))?;
    }

    let base_path = state.base_path.clone();
    let uri = format!("{base_path}{}", encode_query(&request.path));
    let mut builder = http::Request::builder()
        .method(request.method.clone())
        .uri(&uri)
        .header(http::header::HOST, "scimgate.explain")
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match &request.body {
        Some(body) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/scim+json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    let http_request = builder
        .body(Full::new(body))
        .map_err(|e| ExplainError::Usage(format!("the request: {e}")))?;
    let service = crate::app::service(state, crate::http::Surface::ScimOnly);
    let response = match service.oneshot(http_request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let answer = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let steps = recorder
        .steps
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Ok(Explanation {
        request_line: format!("{} {uri}", request.method),
        platform: platform_line,
        credential,
        notes,
        steps,
        status,
        answer,
    })
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "SCIM request : {}", self.request_line)?;
        writeln!(f, "Platform     : {}", self.platform)?;
        if let Some(credential) = &self.credential {
            writeln!(f, "Credential   : {credential} (on every call)")?;
        }
        for note in &self.notes {
            writeln!(f, "Note         : {note}")?;
        }
        writeln!(f)?;
        if self.steps.is_empty() {
            writeln!(f, "No platform call.")?;
        }
        let mut n = 0;
        for step in &self.steps {
            match step {
                Step::Considered {
                    call,
                    condition,
                    held,
                    variables,
                } => {
                    let verdict = if *held {
                        "true: made"
                    } else {
                        "false: skipped"
                    };
                    writeln!(f, "  {call}: when `{condition}` is {verdict}")?;
                    for (name, value) in variables {
                        let secret = name.starts_with("generated")
                            || name.split('.').any(crate::mapping::redact::is_secret_key);
                        if secret && !value.is_null() && !value.is_boolean() {
                            writeln!(f, "      {name} = ***")?;
                        } else {
                            writeln!(f, "      {name} = {value}")?;
                        }
                    }
                }
                Step::Call {
                    request,
                    status,
                    answered,
                } => {
                    n += 1;
                    let query = if request.query.is_empty() {
                        String::new()
                    } else {
                        let pairs: Vec<String> = request
                            .query
                            .iter()
                            .map(|(k, v)| {
                                let v = if crate::mapping::redact::is_secret_key(k) {
                                    "***"
                                } else {
                                    v.as_str()
                                };
                                format!("{k}={v}")
                            })
                            .collect();
                        format!("?{}", pairs.join("&"))
                    };
                    writeln!(f, "{n}. {} {}{query}", request.method, request.path)?;
                    for (name, value) in &request.headers {
                        let value = if crate::mapping::redact::is_secret_key(name) {
                            "***"
                        } else {
                            value.as_str()
                        };
                        writeln!(f, "     {name}: {value}")?;
                    }
                    if let Some(body) = &request.body {
                        let shown = crate::mapping::redact::mask_secret_fields(body);
                        let text = serde_json::to_string_pretty(&shown).unwrap_or_default();
                        for line in text.lines() {
                            writeln!(f, "     {line}")?;
                        }
                    }
                    writeln!(f, "   answered {status}: {answered}")?;
                }
            }
        }
        writeln!(f)?;
        writeln!(f, "SCIM answer  : {}", self.status)?;
        if !self.answer.is_null() {
            let text = serde_json::to_string_pretty(&self.answer).unwrap_or_default();
            writeln!(f, "{text}")?;
        }
        Ok(())
    }
}
