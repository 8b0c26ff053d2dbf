//! Imported bcrypt password hashes: they log in and are upgraded to argon2id.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::*;

/// Insert a user whose password is stored as a legacy bcrypt hash, as an import would.
async fn bcrypt_user(app: &TestApp, password: &str) -> (TestUser, Uuid) {
    let mut user = TestUser::generate();
    user.password = password.to_owned();
    let hash = bcrypt::hash(password, 4).expect("bcrypt");
    assert!(hash.starts_with("$2b$"), "{hash}");
    let id = Uuid::now_v7();
    let new = authgate::store::NewUser {
        id,
        email: user.email.clone(),
        email_lower: user.email.to_lowercase(),
        username: Some(user.username.clone()),
        username_lower: Some(user.username.to_lowercase()),
        password_hash: hash,
        roles: vec!["user".to_owned()],
        is_active: true,
        created_at: app.clock.now(),
    };
    app.state
        .store()
        .unwrap()
        .create_user(&new)
        .await
        .expect("insert bcrypt user");
    (user, id)
}

/// The stored password hash of a user.
async fn stored_hash(app: &TestApp, id: Uuid) -> String {
    app.state
        .store()
        .unwrap()
        .user_by_id(id)
        .await
        .unwrap()
        .expect("user")
        .password_hash
}

// Requirement: imported bcrypt hashes log in and are upgraded to argon2id on the first successful login.
both!(
    bcrypt_hash_logs_in_and_is_upgraded_to_argon2id,
    |app| async move {
        // Arrange
        let (user, id) = bcrypt_user(&app, "tutorial-password").await;
        // Act
        let first = app.login(&user).await;
        // Assert
        assert_eq!(first.status(), StatusCode::OK);
        let hash = stored_hash(&app, id).await;
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let tokens = app.login_ok(&user).await;
        assert_eq!(app.user_id(&tokens.access).await, id.to_string());
        assert_eq!(stored_hash(&app, id).await, hash, "no second rehash");
    }
);

// Requirement: a wrong password for a bcrypt user is refused and leaves the legacy hash alone.
both!(
    bcrypt_user_with_a_wrong_password_is_refused_and_not_upgraded,
    |app| async move {
        // Arrange
        let (mut user, id) = bcrypt_user(&app, "tutorial-password").await;
        user.password = "tutorial-passwore".to_owned();
        // Act
        let resp = app.login(&user).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("invalid_credentials"));
        assert!(stored_hash(&app, id).await.starts_with("$2b$"));
    }
);
