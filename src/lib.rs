//! scimgate: a SCIM 2.0 gateway in front of platforms that only have a user REST API.
//!
//! Module map (pure cores first, I/O at the edges):
//! - [`scim`]: RFC 7643/7644 protocol: schemas, filters, paths, PATCH, projection, sorting, lists, errors.
//! - [`mapping`]: the TOML mapping language: compiled rules, transforms, filter push-down.
//! - [`service`]: one function per SCIM operation, orchestrating the cores and the edges.
//! - [`http`]: routes, extraction, answers; the one place errors become HTTP.
//! - [`backend`]: the platform's HTTP client. [`store`]: identity links and stored attributes.
//!   [`cache`]: lookups. [`auth`]: bearer tokens. [`tokens`]: managed tokens.
//! - [`tenants`]: SCIM configurations, each with its own URL and tokens, fronting a backend.
//! - [`config`]: the config file, compiled and validated at start-up. [`app`]: wiring and serving.
//! - [`sandbox`]: faithful emulators of platform APIs for `demo` and tests. [`demo`]: the demo.

#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backend;
pub mod cache;
pub mod clock;
pub mod config;
pub mod demo;
pub mod http;
pub mod mapping;
pub mod problems;
pub mod sandbox;
pub mod scim;
pub mod service;
pub mod store;
pub mod tenants;
pub mod tokens;
