//! # authgate
//!
//! A JWT authentication server, and the library behind it. Run it as a server
//! (`authgate serve`), or mount it into your own axum app and protect your handlers with its
//! extractors:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use authgate::{AuthState, CurrentUser, RequireRole, Admin};
//!
//! async fn me(user: CurrentUser) -> String { format!("hello {}", user.id) }
//! async fn reports(_: RequireRole<Admin>) -> &'static str { "for admins" }
//!
//! # async fn run(auth: AuthState) {
//! let app: Router = Router::new()
//!     .nest("/authgate", authgate::router())      // the whole API under a prefix
//!     .route("/me", get(me))                       // 401 without a valid token
//!     .route("/reports", get(reports))             // 403 without the admin role
//!     .with_state(auth);
//! # }
//! ```
//!
//! A host with its own state derives `FromRef` so that `AuthState: FromRef<HostState>`; a
//! service that only verifies tokens from a separate authgate builds its state with
//! [`AuthState::from_jwks_url`].
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod guard;
pub mod http;
pub mod password;
pub mod revocation;
pub mod service;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod token;

pub use audit::Actor;
pub use clock::Clock;
pub use config::{LogFormat, Settings};
pub use error::{Error, ErrorCode, Result};
pub use http::extract::{
    Admin, CurrentUser, Moderator, RequireRole, RoleLayer, RoleMarker, UserRole, require_role,
};
pub use http::json::AppJson;
pub use http::{ServerLayers, apply_server_layers, docs, openapi, router};
pub use service::{ClientInfo, TokenResponse, User, UserChanges};
pub use startup::Application;
pub use state::{AuthConfig, AuthState};
pub use telemetry::init as init_tracing;
pub use token::{AccessClaims, JwtAlg, TokenError};

/// authgate's internals, for its own benchmark and fuzz crates only (feature `internals`).
/// Not a stable API: anything here may change in any release.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::config::{check_hs256_secret, parse_duration};
    pub use crate::domain::{Email, Password, RoleName, Username, login_key};
    pub use crate::guard::AbusePolicy;
    pub use crate::http::client_ip::client_ip;
    pub use crate::http::dto;
    pub use crate::revocation::Revocations;
    pub use crate::store::{NewSession, NewUser, Store, StoredKey, connect};
    pub use crate::token::access::ACCESS_TYP;
    pub use crate::token::keys::generate as generate_key;
    pub use crate::token::{KeyRing, Verifier, refresh};
}

/// Pick ring as rustls' crypto provider (once). authgate calls it before fetching a JWKS; a host
/// app that builds its own reqwest client with this crate's feature set calls it first too.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The README's code blocks, compiled as doctests so the documented usage cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
