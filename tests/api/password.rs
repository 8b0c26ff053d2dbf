//! `POST /users/me/password`: changing the password ends every session.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Change the password with this access token.
async fn change_password(
    app: &TestApp,
    access: &str,
    current: &str,
    new: &str,
) -> reqwest::Response {
    app.post(
        "/users/me/password",
        Some(access),
        json!({"current_password": current, "new_password": new}),
    )
    .await
}

// Requirement: changing the password ends every session and returns a fresh, uncacheable pair.
both!(
    change_password_ends_every_session_and_returns_a_fresh_pair,
    |app| async move {
        // Arrange
        let (mut user, caller) = app.signed_in_user().await;
        let other = app.login_ok(&user).await;
        let new_password = format!("new-{}", user.password);
        // Act
        let resp = change_password(&app, &caller.access, &user.password, &new_password).await;
        // Assert
        let fresh = assert_token_response(resp, None).await;
        assert_eq!(app.me_status(&other.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.refresh(&other.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.me_status(&caller.access).await,
            StatusCode::UNAUTHORIZED,
            "the old session ends too"
        );
        assert_eq!(
            app.refresh(&caller.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.me_status(&fresh.access).await, StatusCode::OK);
        assert_eq!(app.refresh(&fresh.refresh).await.status(), StatusCode::OK);
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::UNAUTHORIZED,
            "old password"
        );
        user.password = new_password;
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::OK,
            "new password"
        );
    }
);

// Requirement: a wrong current password is 401 invalid_credentials and changes nothing.
both!(
    change_password_with_a_wrong_current_password_changes_nothing,
    |app| async move {
        // Arrange
        let (mut user, caller) = app.signed_in_user().await;
        let other = app.login_ok(&user).await;
        // Act
        let resp = change_password(
            &app,
            &caller.access,
            "not-the-password",
            "brand-new-password",
        )
        .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("invalid_credentials"));
        assert_eq!(app.me_status(&caller.access).await, StatusCode::OK);
        assert_eq!(app.me_status(&other.access).await, StatusCode::OK);
        assert_eq!(app.refresh(&other.refresh).await.status(), StatusCode::OK);
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::OK,
            "old password still works"
        );
        user.password = "brand-new-password".into();
        assert_eq!(app.login(&user).await.status(), StatusCode::UNAUTHORIZED);
    }
);

// Requirement: a too-short new password is 422 on `new_password` and changes nothing.
both!(
    change_password_rejects_a_too_short_new_password,
    |app| async move {
        // Arrange
        let (mut user, caller) = app.signed_in_user().await;
        let other = app.login_ok(&user).await;
        // Act
        let resp = change_password(&app, &caller.access, &user.password, "short77").await;
        // Assert
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("validation_failed"));
        assert!(body["errors"]["new_password"].is_array(), "{body}");
        assert_eq!(app.me_status(&caller.access).await, StatusCode::OK);
        assert_eq!(app.me_status(&other.access).await, StatusCode::OK);
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
        user.password = "short77".into();
        assert_eq!(app.login(&user).await.status(), StatusCode::UNAUTHORIZED);
    }
);
