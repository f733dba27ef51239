//! chiase-server: the `chiase` binary's code as a library, so that tests
//! start the real application.

// `ApiError` carries a message in two languages and per-field details; it
// is large, but it is the cold path of every handler and boxing it would
// only make each construction noisier.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod app;
pub mod audit_anchor;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod oidc;
pub mod params;
pub mod secrets;
pub mod state;
pub mod usecase;
pub mod web;

/// Installs the TLS crypto provider (ring) once, before any connection.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
