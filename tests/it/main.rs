//! Black-box integration tests: the real gateway on port 0 in front of the Coder emulator,
//! spoken to over HTTP as IdPs speak to it.

mod admin;
mod bulk;
mod check_cli;
mod discovery;
mod entra;
mod groups;
mod okta;
mod processes;
mod protocol;
mod support;
mod tenants;
