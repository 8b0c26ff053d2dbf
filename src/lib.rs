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

// Layers, top to bottom (docs/architecture.md): `cli` and `startup` compose; `http` speaks
// HTTP; `service` is what authgate does; `store`, `token`, `hashing` and `revocation` are its
// parts; `domain`, `clock` and `config` are the values everything shares. Each module imports
// only from layers below it.
mod cli;
mod clock;
mod config;
mod domain;
mod hashing;
mod http;
mod mail;
mod profiles;
mod revocation;
mod secrets;
mod serve;
mod service;
mod startup;
mod store;
mod telemetry;
mod token;

pub use cli::{Cli, run as run_cli};
pub use clock::Clock;
pub use config::{LogFormat, Settings};
pub use domain::{Actor, ClientInfo};
pub use http::{
    Admin, AppJson, CurrentUser, Moderator, RequireMfa, RequireRole, RoleLayer, RoleMarker,
    ServerLayers, UserRole, apply_server_layers, docs, openapi, require_mfa, require_role, router,
};
pub use service::{
    AuthConfig, AuthState, Error, ErrorCode, Housekeeping, KeyInfo, KeyStatus, MfaAnswer,
    MfaChallenge, MfaConfirmed, MfaStatus, PUBLISH_SECS, Result, RevocationEvent, RevocationFeed,
    TokenPair, TotpEnrolment, User, UserChanges, VerifierInfo, install_tls_provider,
};
pub use startup::Application;
pub use telemetry::init as init_tracing;
pub use token::{AccessClaims, JwtAlg, TokenError};

/// authgate's internals, for its own benchmark and fuzz crates only (feature `internals`).
/// Not a stable API: anything here may change in any release.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::config::{check_hs256_secret, parse_duration};
    pub use crate::domain::{AbusePolicy, Email, Password, RoleName, Username, login_key};
    pub use crate::http::client_ip::client_ip;
    /// The request and response bodies the fuzzer decodes.
    pub mod dto {
        pub use crate::http::dto::{
            AdminUserPatch, ChangePasswordRequest, LoginRequest, RefreshRequest, RegisterRequest,
            RoleResponse, TokenForm, UpdateMeRequest, UserListQuery,
        };
    }
    pub use crate::revocation::Revocations;
    pub use crate::store::{NewSession, NewUser, Store, StoredKey, connect};
    pub use crate::token::access::ACCESS_TYP;
    pub use crate::token::keys::generate as generate_key;
    pub use crate::token::{KeyRing, Verifier, refresh};

    /// The token verifier a state signs and verifies with.
    pub fn verifier(state: &crate::AuthState) -> std::sync::Arc<Verifier> {
        state.verifier()
    }
}

/// The README's code blocks, compiled as doctests so the documented usage cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
