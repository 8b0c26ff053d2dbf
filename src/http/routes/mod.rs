//! Handlers, one module per area of the API.

pub mod admin;
pub mod auth;
pub mod feed;
pub mod meta;
pub mod mfa;
pub mod passkeys;
pub mod recovery;
pub mod users;
