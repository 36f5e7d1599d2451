//! The HTTP surface: SCIM (RFC 7644 §3) and the admin API over hyper. A request flows
//!
//! ```text
//! requestlog.rs  each SCIM request, its platform calls and bodies → the request log
//! layers.rs   timeout (not /Bulk) ─ body limit ─ authentication: caller + tenant + gateway
//!    │                                             into the request's extensions
//! mod.rs      route(): which area (routes.rs) ─ public /healthz, /info, /readyz and
//!    │        /metrics (health.rs; or on the management address) │ admin/ │ scim.rs
//! scim.rs     endpoint + method (routes.rs) ─ typed pieces (extract.rs): query, projection,
//!    │        preconditions, body → ScimOp ─ the tenant's gateway (service) ─ the answer
//! write.rs    every write: ScimOp → its own task → service → audit log → answer
//! bulk.rs     /Bulk: each operation → the same write path as a single request
//! error.rs    the one place a domain error becomes a status, a scimType and a body
//! ```
//!
//! Answers are `application/scim+json` (RFC 7644 §3.1, §8.1); the admin API answers JSON.

pub mod admin;
mod bulk;
pub mod discovery;
pub mod error;
pub mod extract;
pub mod health;
pub mod layers;
pub mod metered;
mod oauth;
pub mod ratelimit;
pub mod requestlog;
pub mod response;
pub mod routes;
mod scim;
mod scim1;
mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::json;

use self::discovery::Discovery;
use self::error::ErrorAnswer;
use self::layers::{AdminCaller, TenantRequest};
use self::response::{empty, json_response, HttpResponse};
use self::routes::{Area, ScimVersion};
use crate::admin::Admin;
use crate::audit::Audit;
use crate::auth::Authenticator;
use crate::tenants::Tenants;

/// What the HTTP layer needs for every request.
pub struct HttpState {
    /// Every tenant's record and gateway.
    pub tenants: Arc<Tenants>,
    /// The admin lifecycles.
    pub admin: Admin,
    /// Every tenant's OAuth token endpoint.
    pub oauth: crate::oauth::Issuer,
    /// The audit log every write and admin action is recorded in.
    pub audit: Audit,
    /// The config's SCIM tokens: the `default` tenant's.
    pub scim_tokens: Box<dyn Authenticator>,
    /// The admin API's tokens; `None` when the admin API is off.
    pub admin_tokens: Option<Box<dyn Authenticator>>,
    /// Where SCIM is served (`/scim/v2`).
    pub base_path: String,
    /// The URL IdPs reach the gateway at, when it is not the `Host` they send.
    pub public_url: Option<String>,
    /// The largest request body (other than `/Bulk`'s).
    pub max_body_bytes: usize,
    /// The largest request head (request line and headers).
    pub max_header_bytes: usize,
    /// Inbound SCIM request rates per tenant and per token.
    pub rate_limits: ratelimit::RateLimiters,
    /// The whole-request limit (other than `/Bulk`'s).
    pub request_timeout: Duration,
    /// TLS on the listeners (`[server.tls]`); `None`: plain HTTP (TLS ends in front).
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// What each backend serves, by backend name.
    pub discovery: HashMap<String, Arc<Discovery>>,
    /// `/readyz` and `/metrics` are served on the management address only.
    pub management_apart: bool,
    /// The last readiness check, answered again for a second.
    pub readiness: health::ReadinessMemo,
    /// Where each SCIM request is logged for debugging; `None` when the log is off.
    pub request_log: Option<Arc<crate::requestlog::RequestLog>>,
    /// Every config option as in force (`GET /admin/v1/config`).
    pub config_options: Vec<crate::config::show::ConfigOption>,
}

/// What a listener serves: SCIM and the admin API together, or the admin API on its own
/// address (then the SCIM listener does not serve it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Both, on one address.
    ScimAndAdmin,
    /// SCIM only (the admin API has its own address).
    ScimOnly,
    /// The admin API only.
    AdminOnly,
    /// `/healthz`, `/readyz` and `/metrics` only (`server.management_listen`).
    Management,
}

/// Answers one request that passed the layers; never fails (every error is an answer).
pub async fn route<B>(state: Arc<HttpState>, surface: Surface, request: Request<B>) -> HttpResponse
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = request.uri().path().to_owned();
    match routes::area(request.method(), &path, &state.base_path, surface) {
        Area::Health => empty(StatusCode::NO_CONTENT),
        Area::Info => build_info(),
        Area::Ready | Area::Metrics if state.management_apart && surface != Surface::Management => {
            not_found_url(&path)
        }
        Area::Ready => {
            // Beside SCIM, anyone learns whether the replica is ready; only an admin what is
            // not (backend names, error texts).
            let detailed = surface == Surface::Management
                || request.extensions().get::<AdminCaller>().is_some();
            health::readiness(&state, detailed).await
        }
        Area::Metrics => {
            if surface == Surface::Management || request.extensions().get::<AdminCaller>().is_some()
            {
                health::metrics_answer()
            } else {
                // The label values name every tenant: not for anyone who reaches the SCIM URL.
                ErrorAnswer::new(
                    StatusCode::UNAUTHORIZED,
                    "GET /metrics beside SCIM needs an admin token (Authorization: Bearer); \
                     server.management_listen serves it without one on its own address",
                )
                .admin_response()
            }
        }
        Area::DialectDoc(dialect) => {
            let mut response = empty(StatusCode::OK);
            *response.body_mut() =
                http_body_util::Full::new(Bytes::from_static(dialect.documentation().as_bytes()));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        Area::Admin => {
            let caller = request.extensions().get::<AdminCaller>().cloned();
            admin::route(&state, surface, caller, request).await
        }
        Area::Scim { rest, version, .. } => {
            let Some(admitted) = request.extensions().get::<TenantRequest>().cloned() else {
                // The authentication layer lets no SCIM request through without one.
                return ErrorAnswer::new(
                    StatusCode::UNAUTHORIZED,
                    "authentication required: send Authorization: Bearer <token>",
                )
                .scim_response();
            };
            match version {
                ScimVersion::V2 => scim::handle(&state, admitted, rest, request).await,
                ScimVersion::V1 => scim1::handle(&state, admitted, rest, request).await,
            }
        }
        Area::OAuth { tenant, endpoint } => oauth::handle(&state, tenant, endpoint, request).await,
        Area::Nowhere => not_found_url(&path),
    }
}

fn not_found_url(path: &str) -> HttpResponse {
    error::scim_error(&crate::scim::ScimError::not_found(format!(
        "no SCIM endpoint at {path}"
    )))
}

/// What is running: version, commit, the protocol versions served.
fn build_info() -> HttpResponse {
    json_response(
        StatusCode::OK,
        &json!({
            "name": "scimgate",
            "version": env!("CARGO_PKG_VERSION"),
            "commit": env!("SCIMGATE_COMMIT"),
            "scim": {"version": "2.0", "specifications": ["RFC 7643", "RFC 7644"]},
            "adminApi": {"version": "1", "path": routes::ADMIN_PREFIX},
        }),
    )
}
