//! Tokens: signed JWT access tokens (RFC 9068), opaque rotating refresh tokens, one-time
//! tokens, the second factor's codes (`totp`) and secrets sealed at rest (`sealed`).

pub mod access;
pub mod csrf;
pub mod keys;
pub mod one_time;
pub mod refresh;
pub mod sealed;
pub mod totp;

pub use access::{AccessClaims, TokenError, Verifier};
pub use keys::{JwtAlg, KeyRing};
