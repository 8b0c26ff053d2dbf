//! authgate's hosted pages (issue 13): sign-in (with the second-factor step), sign-up, the
//! forgotten-password form, the account page, and the pages of the links it mails
//! (`/reset-password`, `/verify-email`).
//!
//! Server-rendered HTML that works without JavaScript (only the passkey parts script, by
//! nonce). Every page is `no-store`, sends no referrer to other sites and has a strict CSP (see [`render`]).
//! A signed-in browser holds a normal authgate session in cookies ([`session`]); every form
//! carries a CSRF token and a foreign `Origin` is refused.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod passkeys;
pub(crate) mod recovery;
pub(crate) mod render;
pub mod session;
pub(crate) mod signin;
pub(crate) mod signup;
