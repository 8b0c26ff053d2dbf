//! Private helpers shared by several test modules of this binary. (The `/admin/*` modules
//! share `admin_support`, the token modules `jwt_support`.)

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

// Auth: headers, forms, token responses.

/// A header's value as a string, if present.
pub fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Form-encode parameters for `POST /auth/token`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("form encoding")
}

/// `POST /auth/token` with the password grant.
pub async fn token_grant(app: &TestApp, login: &str, password: &str) -> Response {
    app.post_form(
        "/auth/token",
        &form(&[
            ("grant_type", "password"),
            ("username", login),
            ("password", password),
        ]),
    )
    .await
}

/// Assert the RFC 6749 §5.1 token response shape and its no-cache headers.
pub async fn assert_token_response(resp: reqwest::Response, refresh_expires_in: i64) -> Tokens {
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&resp, "pragma").as_deref(), Some("no-cache"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["expires_in"], json!(900));
    assert_eq!(body["refresh_expires_in"], json!(refresh_expires_in));
    let tokens = Tokens::from_json(&body);
    assert!(!tokens.access.is_empty() && !tokens.refresh.is_empty());
    assert_ne!(tokens.access, tokens.refresh);
    tokens
}

// The caller's account and sessions.

/// Status of `GET /users/me` with this access token.
pub async fn me_status(app: &TestApp, access: &str) -> StatusCode {
    app.get("/users/me", Some(access)).await.status()
}

/// `GET /users/me`, expecting 200.
pub async fn me(app: &TestApp, access: &str) -> Value {
    let resp = app.get("/users/me", Some(access)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// Log in with a given User-Agent and remember_me choice.
pub async fn login_from(
    app: &TestApp,
    user: &TestUser,
    user_agent: &str,
    remember_me: bool,
) -> Tokens {
    let resp = app
        .client
        .post(app.url("/auth/login"))
        .header(reqwest::header::USER_AGENT, user_agent)
        .json(
            &json!({"username": user.email, "password": user.password, "remember_me": remember_me}),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    Tokens::from_json(&resp.json().await.unwrap())
}

// Raw bodies and problem+json.

/// POST raw bytes with an optional Content-Type.
pub async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Response {
    let mut req = app.client.post(app.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.send().await.expect("request")
}

/// Assert a problem+json answer with this status and code; returns the body.
pub async fn assert_problem(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], json!(code), "{body}");
    assert_eq!(body["status"], json!(status.as_u16()), "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}
