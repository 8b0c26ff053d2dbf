//! Fuzz the parsers in front of authgate's handlers. Byte 0 picks the parser (`data[0] % 32`,
//! see [`run`]); the rest is its input. Adding a parser is one arm in [`run`].
//!
//! Direct cases call the public parsing code (DTOs through serde as axum does, domain parsers,
//! config parsing) and check the invariants their docs promise. HTTP cases drive the real axum
//! router (`authgate::router()` over an in-memory SQLite server state) in-process, for parsing
//! that is private to a handler or extractor: the bearer scheme of `Authorization`, the hand-made
//! RFC 6749 form parsing of `/auth/token`, JSON rejections, query strings, path parameters.
//! No HTTP case reaches password hashing (argon2 costs ~50 ms): bodies that would pass
//! validation of a hashing endpoint are skipped, and those endpoints are never fuzzed otherwise.
//! Any 5xx from the router is a bug.
#![no_main]

use std::sync::LazyLock;

use authgate::internals::dto::{
    AdminUserPatch, ChangePasswordRequest, LoginRequest, RefreshRequest, RegisterRequest,
    RoleResponse, TokenForm, UpdateMeRequest, UserListQuery,
};
use authgate::internals::{
    Email, Password, RoleName, Username, check_hs256_secret, login_key, parse_duration,
};
use authgate::{AuthState, JwtAlg};
use authgate_fuzz::{Fixture, fixture};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use tower::ServiceExt;
use uuid::Uuid;

struct Http {
    fix: Fixture,
    app: Router,
    /// `Bearer …` for a real user (alice), and for a made-up admin.
    user: HeaderValue,
    admin: HeaderValue,
}

static HTTP: LazyLock<Http> = LazyLock::new(|| {
    let fix = fixture(&[JwtAlg::EdDSA]);
    let state: AuthState = fix.rings[0].state.clone();
    let alice = fix.rt.block_on(async {
        // Two real users (two argon2 hashes, once per process) so that username changes can
        // succeed and conflict.
        state
            .register("bob@example.com", "bob-password-1".into(), Some("bob"), &Default::default())
            .await
            .expect("register bob");
        state
            .register(
                "alice@example.com",
                "alice-password-1".into(),
                Some("alice"),
                &Default::default(),
            )
            .await
            .expect("register alice")
    });
    let bearer = |id: Uuid, roles: &[&str]| {
        let v = authgate::internals::verifier(&state);
        let roles = roles.iter().map(|r| (*r).to_owned()).collect();
        let claims = v.claims(id, Uuid::new_v4(), roles, state.clock().now(), 365 * 86_400);
        HeaderValue::try_from(format!("Bearer {}", v.sign(&claims).expect("sign")))
            .expect("header")
    };
    let user = bearer(alice.id, &["user"]);
    let admin = bearer(Uuid::new_v4(), &["admin"]);
    let app = authgate::router().with_state(state);
    Http {
        fix,
        app,
        user,
        admin,
    }
});

fuzz_target!(|data: &[u8]| {
    if let [selector, input @ ..] = data {
        run(selector % 32, input);
    }
});

fn run(case: u8, input: &[u8]) {
    match case {
        // ---- direct: request DTOs, parsed the way their extractors parse them ----
        0 => token_form(input),
        1 => register_body(input),
        2 => drop(json::<LoginRequest>(input)),
        3 => drop(json::<RefreshRequest>(input)),
        4 => drop(json::<UpdateMeRequest>(input)),
        5 => drop(json::<ChangePasswordRequest>(input)),
        6 => admin_patch(input),
        7 => role_body(input),
        8 => drop(serde_urlencoded::from_bytes::<UserListQuery>(input)),
        // ---- direct: domain parsers and config ----
        9 => with_str(input, email),
        10 => with_str(input, username),
        11 => with_str(input, password),
        12 => with_str(input, role_name),
        13 => with_str(input, duration),
        14 => with_str(input, |s| drop(check_hs256_secret(s))),
        15 => client_ip(input),
        // ---- in-process HTTP: parsing private to handlers and extractors ----
        16 => authorization_header(input),
        17 => token_endpoint(input),
        18 => register_endpoint(input),
        19 => send(Method::POST, "/auth/refresh", None, Some(JSON), input),
        20 => admin_users_query(input),
        21 => send(Method::PATCH, "/users/me", Some(&HTTP.user), Some(JSON), input),
        22 => create_role_endpoint(input),
        23 => any_request(input),
        _ => {}
    }
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

fn with_str(input: &[u8], f: impl FnOnce(&str)) {
    if let Ok(s) = std::str::from_utf8(input) {
        f(s);
    }
}

/// As `axum::Json` parses a body (whole input, trailing whitespace only).
fn json<T: DeserializeOwned>(input: &[u8]) -> Option<T> {
    serde_json::from_slice(input).ok()
}

fn token_form(input: &[u8]) {
    // What the handler does, and the documented DTO.
    let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(input);
    let form = serde_urlencoded::from_bytes::<TokenForm>(input);
    if let (Ok(form), Ok(pairs)) = (form, pairs) {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if pairs.iter().filter(|(k, _)| k == "grant_type").count() == 1 {
            assert_eq!(get("grant_type"), Some(form.grant_type.as_str()));
        }
    }
}

fn register_body(input: &[u8]) {
    if let Some(req) = json::<RegisterRequest>(input) {
        email(&req.email);
        password(&req.password);
        if let Some(u) = req.username.as_deref() {
            username(u.trim());
        }
    }
}

fn admin_patch(input: &[u8]) {
    if let Some(AdminUserPatch {
        roles: Some(roles), ..
    }) = json::<AdminUserPatch>(input)
    {
        roles.iter().for_each(|r| role_name(r));
    }
}

fn role_body(input: &[u8]) {
    if let Some(req) = json::<RoleResponse>(input) {
        role_name(&req.name);
    }
}

fn email(s: &str) {
    if let Ok(e) = Email::parse(s) {
        let v = e.as_str();
        assert_eq!(v, s.trim());
        assert!(v.len() <= 254, "{v:?}");
        assert_eq!(v.matches('@').count(), 1, "{v:?}");
        assert!(!v.chars().any(|c| c.is_whitespace() || c.is_control()), "{v:?}");
        assert_eq!(e.lower(), login_key(v));
        // Logins are looked up by the normalised form, and `check_credentials` refuses a login
        // longer than 254 bytes: an accepted address must stay usable as a login (the bug this
        // found is fixed; fuzz/regressions/ holds its reproducers).
        assert!(e.lower().len() <= 254, "accepted e-mail unusable as a login: {v:?}");
        assert_eq!(e.lower().matches('@').count(), 1, "{v:?}");
    }
}

fn username(s: &str) {
    if let Ok(u) = Username::parse(s) {
        let v = u.as_str();
        assert!((3..=32).contains(&v.chars().count()), "{v:?}");
        assert!(!v.contains('@') && !u.lower().contains('@'), "{v:?}");
        assert_eq!(u.lower(), login_key(v));
    }
}

fn password(s: &str) {
    // Length bounds always hold; inside them the common-password list may still refuse.
    let n = s.chars().count();
    if Password::parse(s.to_owned()).is_ok() {
        assert!((8..=128).contains(&n), "{n} characters accepted");
    }
}

fn role_name(s: &str) {
    if let Ok(r) = RoleName::parse(s) {
        let v = r.as_str();
        assert!((1..=64).contains(&v.len()), "{v:?}");
        assert!(v.starts_with(|c: char| c.is_ascii_lowercase()), "{v:?}");
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-:".contains(&b)),
            "{v:?}"
        );
    }
}

fn duration(s: &str) {
    if let Ok(secs) = parse_duration(s) {
        assert!(secs > 0, "{s:?} -> {secs}");
    }
}

/// The proxies `client_ip` trusts in this case: loopback and 10/8.
static TRUSTED: LazyLock<Vec<ipnet::IpNet>> = LazyLock::new(|| {
    ["127.0.0.0/8", "::1/128", "10.0.0.0/8"]
        .iter()
        .map(|n| n.parse().expect("net"))
        .collect()
});

/// `Forwarded` / `X-Forwarded-For` behind a trusted proxy: `peer-selector` then header lines,
/// each `0`/`1` (forwarded / x-forwarded-for) followed by the value, separated by `\n`.
fn client_ip(input: &[u8]) {
    use std::net::IpAddr;
    let [peer, rest @ ..] = input else {
        return;
    };
    let peer: IpAddr = match peer % 3 {
        0 => [10, 0, 0, 1].into(),
        1 => std::net::Ipv6Addr::LOCALHOST.into(),
        _ => [203, 0, 113, 7].into(),
    };
    let mut headers = axum::http::HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        let Some((kind, value)) = line.split_first() else {
            continue;
        };
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        let name = if kind % 2 == 0 { "forwarded" } else { "x-forwarded-for" };
        headers.append(name, value);
    }
    let ip = authgate::internals::client_ip(peer, &headers, &TRUSTED);
    let trusted = |ip: &IpAddr| TRUSTED.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        assert_eq!(ip, peer, "an untrusted peer's headers were believed");
    }
    if ip != peer && ip.is_ipv4() {
        // Anything other than the peer must have been named in a header (IPv4 text is canonical;
        // IPv6 has many spellings, so it is not checked this way).
        let text = ip.to_string();
        let named = headers.values().any(|v| {
            String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase().contains(&text)
        });
        assert!(named, "{ip} appears in no header: {headers:?}");
    }
}

/// Send one request through the router; a 5xx is a bug. Returns the status.
fn request(req: Request<Body>) -> StatusCode {
    let http = &*HTTP;
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let response = http
        .fix
        .rt
        .block_on(http.app.clone().oneshot(req))
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    assert!(
        !status.is_server_error(),
        "{method} {uri} answered {status}"
    );
    status
}

fn send(
    method: Method,
    uri: &str,
    auth: Option<&HeaderValue>,
    content_type: Option<&str>,
    body: &[u8],
) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(auth) = auth {
        req = req.header(header::AUTHORIZATION, auth);
    }
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    request(req.body(Body::from(body.to_vec())).expect("request"));
}

/// The bearer extraction and the whole verification behind it: nothing the fuzzer writes is a
/// token we signed, so every request must be refused with 401.
fn authorization_header(input: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(input) else {
        return;
    };
    let req = Request::get("/users/me")
        .header(header::AUTHORIZATION, value)
        .body(Body::empty())
        .expect("request");
    let status = request(req);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{:?}", String::from_utf8_lossy(input));
}

/// `/auth/token`, except the password grant (it always hashes, by design).
fn token_endpoint(input: &[u8]) {
    if let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(input) {
        if pairs.iter().any(|(k, v)| k == "grant_type" && v == "password") {
            return;
        }
    }
    send(Method::POST, "/auth/token", None, Some(FORM), input);
}

/// `/auth/register`, except bodies that would pass validation (they would hash a password).
fn register_endpoint(input: &[u8]) {
    if let Some(req) = json::<RegisterRequest>(input) {
        let username_ok = req
            .username
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .is_none_or(|u| Username::parse(u).is_ok());
        if Email::parse(&req.email).is_ok() && Password::parse(req.password).is_ok() && username_ok
        {
            return;
        }
    }
    send(Method::POST, "/auth/register", None, Some(JSON), input);
}

fn admin_users_query(input: &[u8]) {
    let Ok(query) = std::str::from_utf8(input) else {
        return;
    };
    let Ok(uri) = Uri::try_from(format!("/admin/users?{query}")) else {
        return;
    };
    let req = Request::get(uri)
        .header(header::AUTHORIZATION, &HTTP.admin)
        .body(Body::empty())
        .expect("request");
    request(req);
}

/// `POST /admin/roles`, except names that would really create a role (keeps the database small).
fn create_role_endpoint(input: &[u8]) {
    if let Some(req) = json::<RoleResponse>(input) {
        if RoleName::parse(&req.name).is_ok() {
            return;
        }
    }
    send(Method::POST, "/admin/roles", Some(&HTTP.admin), Some(JSON), input);
}

/// Endpoints whose happy path hashes a password; never sent by [`any_request`].
const HASHING: &[&str] = &["/auth/login", "/auth/token", "/auth/register", "/users/me/password"];

/// Any method, path and query, headers picked by the input, and a body: `flags path\nbody`.
fn any_request(input: &[u8]) {
    let [method, flags, rest @ ..] = input else {
        return;
    };
    let (target, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    if HASHING.contains(&uri.path()) {
        return;
    }
    let method = match method % 6 {
        0 => Method::GET,
        1 => Method::POST,
        2 => Method::PATCH,
        3 => Method::DELETE,
        4 => Method::PUT,
        _ => Method::OPTIONS,
    };
    let auth = match flags & 3 {
        0 => None,
        1 => Some(&HTTP.user),
        _ => Some(&HTTP.admin),
    };
    let content_type = match (flags >> 2) & 3 {
        0 => None,
        1 => Some(JSON),
        2 => Some(FORM),
        _ => Some("application/json; charset=utf-8"),
    };
    send(method, &uri.to_string(), auth, content_type, body);
}
