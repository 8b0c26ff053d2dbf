//! Imported bcrypt password hashes: they log in and are upgraded to argon2id.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// A user whose password is stored as a legacy bcrypt hash, as an import would leave it.
///
/// SQL on the test's own database: no API stores a hash it did not make (that is the point),
/// so the account is registered over HTTP and its hash then replaced, as an import script would.
pub async fn bcrypt_user(app: &TestApp, password: &str) -> (TestUser, Uuid) {
    let mut user = TestUser::generate();
    user.password = password.to_owned();
    let created: Value = app.register(&user).await.json().await.unwrap();
    let id = Uuid::parse_str(created["id"].as_str().expect("id")).unwrap();
    let hash = bcrypt::hash(password, 4).expect("bcrypt");
    assert!(hash.starts_with("$2b$"), "{hash}");
    let sql = "UPDATE users SET password_hash = $1 WHERE user_id = $2";
    let changed = app.db.execute(sql, &[&hash, &id.to_string()]).await;
    assert_eq!(changed, 1, "plant the bcrypt hash");
    (user, id)
}

/// The stored password hash of a user (SQL: the API never shows a hash).
pub async fn stored_hash(app: &TestApp, id: Uuid) -> String {
    let sql = "SELECT password_hash FROM users WHERE user_id = $1";
    app.db
        .fetch_text(sql, &[&id.to_string()])
        .await
        .expect("user")
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
