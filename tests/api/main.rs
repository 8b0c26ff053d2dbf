//! Black-box API tests: the real server over HTTP, one database per test, both backends.

mod helpers;

mod admin;
mod auth;
mod errors;
mod library;
mod refresh;
mod sessions;
mod tokens;
mod tutorial;
