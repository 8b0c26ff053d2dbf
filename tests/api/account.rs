//! The caller's own account: `GET` and `PATCH /users/me`.

use crate::both;
use crate::support::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

// Requirement: GET /users/me shows the caller's account fields (with its second factor, `mfa`) and never the hash.
both!(me_returns_the_callers_account, |app| async move {
    // Arrange
    let user = TestUser::generate();
    let created = app.register(&user).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let tokens = app.login_ok(&user).await;
    // Act
    let body = app.me(&tokens.access).await;
    // Assert
    assert_eq!(body["id"], created["id"]);
    assert_eq!(body["email"], json!(user.email));
    assert_eq!(body["username"], json!(user.username));
    assert_eq!(body["roles"], json!(["user"]));
    assert_eq!(body["is_active"], json!(true));
    assert_eq!(body["email_verified"], json!(false));
    assert_eq!(body["created_at"], created["created_at"]);
    assert!(body["last_login_at"].is_i64(), "{body}");
    assert!(body["last_activity_at"].is_i64(), "{body}");
    // Issue #11: the caller's second factor.
    assert_eq!(
        body["mfa"],
        json!({"totp": false, "recovery_codes_left": 0})
    );
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "email_verified",
            "id",
            "is_active",
            "last_activity_at",
            "last_login_at",
            "mfa",
            "roles",
            "username"
        ]
    );
});

// Requirement: PATCH /users/me changes the username, which then works as a login name.
both!(patch_me_changes_the_username, |app| async move {
    // Arrange
    let (mut user, tokens) = app.signed_in_user().await;
    let new_name = format!("new_{}", &Uuid::new_v4().simple().to_string()[..10]);
    // Act
    let resp = patch_me(&app, &tokens.access, json!({"username": new_name})).await;
    // Assert
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["username"], json!(new_name));
    assert_eq!(body["email"], json!(user.email));
    assert_eq!(app.me(&tokens.access).await["username"], json!(new_name));
    assert_eq!(
        login_status(&app, &new_name, &user.password).await,
        StatusCode::OK
    );
    assert_eq!(
        login_status(&app, &user.username, &user.password).await,
        StatusCode::UNAUTHORIZED
    );
    // The old name is free for someone else.
    let mut other = TestUser::generate();
    other.username = std::mem::take(&mut user.username);
    assert_eq!(app.register(&other).await.status(), StatusCode::CREATED);
});

// Requirement: PATCH /users/me with a username taken by another user (in any case) is 409.
both!(
    patch_me_rejects_a_taken_username_with_409,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        let (other, _) = app.signed_in_user().await;
        // Act
        let resp = patch_me(
            &app,
            &tokens.access,
            json!({"username": other.username.to_uppercase()}),
        )
        .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("conflict"));
        assert_eq!(
            app.me(&tokens.access).await["username"],
            json!(user.username),
            "unchanged"
        );
    }
);

// Requirement: PATCH /users/me with an invalid username is 422 with an `errors.username` entry.
both!(
    patch_me_rejects_an_invalid_username_with_422,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        for bad in ["ab", "has space", "a@b.com", &"x".repeat(33)] {
            // Act
            let resp = patch_me(&app, &tokens.access, json!({"username": bad})).await;
            // Assert
            assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            assert_eq!(
                header(&resp, "content-type").as_deref(),
                Some("application/problem+json")
            );
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["code"], json!("validation_failed"), "{bad}");
            assert!(
                body["errors"]["username"]
                    .as_array()
                    .is_some_and(|m| !m.is_empty()),
                "{bad}: {body}"
            );
        }
        assert_eq!(
            app.me(&tokens.access).await["username"],
            json!(user.username),
            "unchanged"
        );
    }
);

// Requirement: PATCH /users/me with username null removes the username; the e-mail still logs in.
both!(patch_me_with_null_clears_the_username, |app| async move {
    // Arrange
    let (user, tokens) = app.signed_in_user().await;
    // Act
    let resp = patch_me(&app, &tokens.access, json!({"username": null})).await;
    // Assert
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["username"], Value::Null);
    assert_eq!(app.me(&tokens.access).await["username"], Value::Null);
    assert_eq!(
        login_status(&app, &user.username, &user.password).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.login(&user).await.status(), StatusCode::OK);
});

// Requirement: PATCH /users/me without the username key is refused, not read as "remove it".
both!(
    patch_me_without_the_username_key_changes_nothing,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        // Act
        let resp = patch_me(&app, &tokens.access, json!({})).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = resp.json().await.unwrap();
        assert!(body["errors"]["username"].is_array(), "{body}");
        assert_eq!(
            app.me(&tokens.access).await["username"],
            json!(user.username)
        );
    }
);

/// `PATCH /users/me` with this body, as the caller holding `access`.
async fn patch_me(app: &TestApp, access: &str, body: Value) -> Response {
    app.request(Method::PATCH, "/users/me", Some(access), Some(body))
        .await
}
