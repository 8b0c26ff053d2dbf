//! Registration, the token endpoint, JSON login.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

both!(register_returns_201_with_the_user_role_only, |app| async move {
    // Arrange
    let user = TestUser::generate();
    // Act: mass assignment attempt
    let resp = app
        .post("/auth/register", None, json!({"email": user.email, "password": user.password, "roles": ["admin"], "is_active": false}))
        .await;
    // Assert
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["roles"], json!(["user"]));
    assert_eq!(body["is_active"], json!(true));
    assert!(body.get("password_hash").is_none());
});
