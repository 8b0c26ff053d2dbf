//! Tokens: signed JWT access tokens (RFC 9068) and opaque rotating refresh tokens.

pub mod access;
pub mod keys;
pub mod one_time;
pub mod refresh;

pub use access::{AccessClaims, TokenError, Verifier};
pub use keys::{JwtAlg, KeyRing};
