//! Sandbox: faithful emulators of backend APIs, for demo and tests.

pub mod coder;
pub mod gitlab;
