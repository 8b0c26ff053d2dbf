//! The one set of helpers for the API tests, by theme: which backends run (`both!`), the
//! database per test, the harness and its request helpers, answer shapes, JWTs, accounts for
//! the admin tests, host apps, timing. Test modules `use crate::support::*`.

#![allow(dead_code)]

mod admin;
mod app;
mod backends;
mod db;
mod host;
mod http;
mod jwt;
mod smtp;
mod sse;
mod timing;
mod totp;

pub use admin::*;
pub use app::*;
pub use backends::*;
pub use db::*;
pub use host::*;
pub use http::*;
pub use jwt::*;
pub use smtp::*;
pub use sse::*;
pub use timing::*;
pub use totp::*;
