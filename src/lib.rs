//! scimgate: a SCIM 2.0 gateway in front of platforms that only have a user REST API.
//!
//! Module map, pure cores first, I/O at the edges (the README draws a request's way through
//! them):
//! - [`scim`]: RFC 7643/7644 protocol, pure: schemas, filters, paths, PATCH, projection,
//!   sorting, lists, ETags, typed write operations, `/Bulk` requests, error kinds.
//! - [`mapping`]: the TOML mapping language, pure: compiled rules, typed template contexts,
//!   transforms, filter push-down, the meaning of platform errors.
//! - [`service`]: one tenant's gateway: reads, writes and their locks, identity links,
//!   presentation, over the [`backend`], [`store`] and [`cache`] edges.
//! - [`http`]: tower layers, routes, extraction, thin handlers; the one place errors become
//!   HTTP. [`app`]: wiring, the layer stack, serving.
//! - [`backend`]: the platform behind a trait, its HTTP client, classified errors.
//!   [`store`]: one trait per concern (links, audit, tokens, tenants, replica sync).
//!   [`cache`]: lookups. [`clock`]: injected time.
//! - [`tenants`]: SCIM configurations at run time, each fronting a backend. [`admin`]: their
//!   lifecycles and their tokens'. [`tokens`]: managed tokens. [`auth`]: bearer tokens.
//!   [`audit`]: the audit log's entries.
//! - [`metrics`]: the Prometheus metrics every part records into. [`requestlog`]: each SCIM
//!   request with its platform calls, masked, for debugging provisioning. [`redact`]: what is
//!   secret. [`telemetry`]: trace export to an OpenTelemetry collector (OTLP).
//! - [`tls`]: TLS termination with rustls, certificates reloaded when their files change.
//! - [`config`]: the config file, compiled and validated at start-up; [`problems`]: what is
//!   wrong in it, with file and key.
//! - [`sandbox`]: faithful emulators of platform APIs for `demo` and tests. [`demo`]: the demo.

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backend;
pub mod cache;
pub mod clock;
pub mod config;
pub mod demo;
pub mod explain;
pub mod http;
pub mod mapping;
pub mod metrics;
pub mod oauth;
pub mod problems;
pub mod redact;
pub mod requestlog;
pub mod sandbox;
pub mod scim;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod tls;
pub mod tokens;
