//! Black-box API tests: the real server over HTTP, one database per test, both backends.

mod helpers;

mod admin_support;
mod attack_support;
mod jwt_support;
mod support;

mod abuse_capacity;
mod abuse_headers;
mod abuse_limits;
mod abuse_lockout;
mod account;
mod admin_changes;
mod admin_roles;
mod admin_users;
mod algorithms;
mod attacks_accounts;
mod attacks_tokens;
mod audit;
mod cors;
mod devices;
mod docs;
mod errors;
mod faults;
mod health;
mod hostile_tokens;
mod instances;
mod legacy_hashes;
mod library;
mod login;
mod logout;
mod migrations;
mod password;
mod password_policy;
mod races;
mod refresh;
mod register;
mod remote_verifier;
mod response_headers;
mod token_endpoint;
mod tokens;
mod tutorial;
mod wrong_claims;
