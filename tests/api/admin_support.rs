//! Private helpers shared by the `/admin/*` test modules.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Register an account directly (no login) and return its id.
pub async fn register_as(app: &TestApp, email: &str, username: Option<&str>) -> String {
    let mut body = json!({"email": email, "password": "correct horse battery"});
    if let Some(u) = username {
        body["username"] = json!(u);
    }
    let resp = app.post("/auth/register", None, body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "register {email}");
    let user: Value = resp.json().await.unwrap();
    user["id"].as_str().unwrap().to_owned()
}

/// Register and sign in a fresh plain user; returns (user, tokens, id).
pub async fn plain_user(app: &TestApp) -> (TestUser, Tokens, String) {
    let (user, tokens) = app.signed_in_user().await;
    let id = app.user_id(&tokens.access).await;
    (user, tokens, id)
}

pub async fn patch_user(app: &TestApp, token: &str, id: &str, body: Value) -> Response {
    app.request(
        Method::PATCH,
        &format!("/admin/users/{id}"),
        Some(token),
        Some(body),
    )
    .await
}

/// Assert a problem+json answer with this status and code; returns the body.
pub async fn assert_problem(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], json!(code), "{body}");
    assert_eq!(body["status"], json!(status.as_u16()));
    body
}
