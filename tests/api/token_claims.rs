//! `AUTHGATE_TOKEN_CLAIMS=email,username`: extra claims in access tokens, off by default.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::support::*;

// Requirement: by default access tokens carry neither the e-mail nor the username (no personal
// data beyond the id).
both!(
    access_tokens_carry_no_email_or_username_by_default,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        // Act
        let claims = claims_of(&tokens.access);
        // Assert
        assert!(claims.get("email").is_none(), "{claims}");
        assert!(claims.get("username").is_none(), "{claims}");
    }
);

// Requirement: with AUTHGATE_TOKEN_CLAIMS=email,username, tokens from login and from refresh
// carry both, the server itself still accepts them, and a username change reaches the token
// at the next refresh.
both!(
    token_claims_setting_adds_email_and_username_at_login_and_refresh,
    &["--token-claims", "email,username"],
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        // Act
        let at_login = claims_of(&tokens.access);
        let renamed = app
            .request(
                reqwest::Method::PATCH,
                "/users/me",
                Some(&tokens.access),
                Some(json!({"username": "renamed_one"})),
            )
            .await;
        let refreshed = app.refresh(&tokens.refresh).await;
        assert_eq!(refreshed.status(), StatusCode::OK);
        let refreshed = Tokens::from_json(&refreshed.json().await.unwrap());
        let after_refresh = claims_of(&refreshed.access);
        // Assert
        assert_eq!(at_login["email"], json!(user.email));
        assert_eq!(at_login["username"], json!(user.username));
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
        assert_eq!(renamed.status(), StatusCode::OK);
        assert_eq!(after_refresh["email"], json!(user.email));
        assert_eq!(after_refresh["username"], json!("renamed_one"));
    }
);

// Requirement: an unknown claim name in AUTHGATE_TOKEN_CLAIMS is refused at start with the
// names that are allowed, rather than silently ignored.
#[test]
fn token_claims_setting_refuses_unknown_names() {
    // Act
    let err = authgate::Settings::from_args(["--token-claims", "email,phone"].map(String::from))
        .expect_err("refused");
    // Assert
    let text = err.to_string();
    assert!(
        text.contains("phone") && text.contains("username"),
        "{text}"
    );
}
