//! HTTP beyond the JSON helpers of `TestApp`: headers, forms, the token grant, raw bodies and
//! raw bytes on a socket, and the shapes of the answers (problem+json, RFC 6749, RFC 6750).

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::app::{TestApp, TestUser, Tokens};

/// A header's value as a string, if present.
pub fn header(resp: &Response, name: &str) -> Option<String> {
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

/// Assert the RFC 6749 §5.1 token response shape and its no-cache headers; with
/// `refresh_expires_in`, also that the refresh lifetime lies in that range.
pub async fn assert_token_response(
    resp: Response,
    refresh_expires_in: Option<RangeInclusive<i64>>,
) -> Tokens {
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&resp, "pragma").as_deref(), Some("no-cache"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["expires_in"], json!(900));
    if let Some(range) = refresh_expires_in {
        let got = body["refresh_expires_in"]
            .as_i64()
            .unwrap_or_else(|| panic!("refresh_expires_in: {body}"));
        assert!(
            range.contains(&got),
            "refresh_expires_in {got} not in {range:?}"
        );
    }
    let tokens = Tokens::from_json(&body);
    assert!(!tokens.access.is_empty() && !tokens.refresh.is_empty());
    assert_ne!(tokens.access, tokens.refresh);
    tokens
}

/// `POST /auth/login` with these credentials; returns the status.
pub async fn login_status(app: &TestApp, login: &str, password: &str) -> StatusCode {
    app.post(
        "/auth/login",
        None,
        json!({"username": login, "password": password}),
    )
    .await
    .status()
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

/// Assert an RFC 9457 problem+json answer with this status and code (content type, `status`
/// member, `title` and `detail` present); returns the body.
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

/// Assert a 422 `validation_failed` problem+json answer; returns the body.
pub async fn assert_validation_failed(resp: Response) -> Value {
    assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await
}

/// Assert the RFC 6750 answer to a refused token.
pub async fn assert_invalid_token(resp: Response, case: &str) {
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{case}");
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{case}: no WWW-Authenticate"))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{case}: {challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{case}: {challenge}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], json!("invalid_token"), "{case}");
}

/// Present each `(case, token)` as the bearer of `GET /users/me`; assert every one gets the
/// RFC 6750 refusal.
pub async fn assert_bearers_refused(app: &TestApp, cases: Vec<(String, String)>) {
    for (case, token) in cases {
        let resp = app.get("/users/me", Some(&token)).await;
        assert_invalid_token(resp, &case).await;
    }
}

/// Send raw bytes over a fresh TCP connection; returns the status line (empty if the server
/// closed the connection, or did not answer within `wait`) and how long that took.
pub async fn raw_http(app: &TestApp, request: &[u8], wait: Duration) -> (String, Duration) {
    let addr = app.address.trim_start_matches("http://");
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer (and close) before it has read everything: ignore write errors.
    let _ = stream.write_all(request).await;
    let mut buf = vec![0u8; 4096];
    let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(read) => read.unwrap_or(0),
        Err(_) => 0,
    };
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    let status_line = head.lines().next().unwrap_or_default().to_owned();
    (status_line, started.elapsed())
}

/// Every operation the OpenAPI document lists, as (method, path template), sorted.
pub async fn documented_operations(app: &TestApp) -> Vec<(String, String)> {
    let resp = app.get("/openapi.json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: Value = resp.json().await.unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            // A path item may also carry `parameters`, `summary`…: only the methods count.
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops.sort();
    ops
}

/// The status of `GET url` with a bearer token (for hosts and instances beside the test server).
pub async fn bearer_status(client: &reqwest::Client, url: &str, token: &str) -> StatusCode {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
}

/// `POST /users/me/password` with the current and the new password.
pub async fn change_password(app: &TestApp, access: &str, current: &str, new: &str) -> Response {
    let body = json!({"current_password": current, "new_password": new});
    app.post("/users/me/password", Some(access), body).await
}
