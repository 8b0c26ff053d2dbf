//! Black-box API tests: the real server over HTTP, one database per test, both backends.

mod helpers;

mod auth;
