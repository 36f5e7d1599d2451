//! Black-box integration tests: the real gateway on port 0 in front of the Coder emulator,
//! spoken to over HTTP as IdPs speak to it.

// Test code: a failed expectation stops the test where it failed.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod admin;
mod bulk;
mod check_cli;
mod crashes;
mod discovery;
mod drift;
mod entra;
mod explain;
mod faults;
mod gitlab;
mod groups;
mod hostile;
mod import;
mod jupyterhub;
mod jupyterhub_scim;
mod lifecycle;
mod load;
mod mappings;
mod oauth;
mod okta;
mod onelogin;
mod operations;
mod pipeline;
mod processes;
mod protocol;
mod requestlog;
mod secrets;
mod support;
mod telemetry;
mod tenants;
mod tls;
