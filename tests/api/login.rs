//! `POST /auth/login`: the JSON login, identical refusals, remember_me, inactive users,
//! last_login_at.

use crate::both;
use crate::support::*;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// `POST /auth/login` (JSON) with these credentials.
async fn json_login(app: &TestApp, login: &str, password: &str) -> Response {
    app.post(
        "/auth/login",
        None,
        json!({"username": login, "password": password}),
    )
    .await
}

// Requirement: POST /auth/login (JSON) returns the same uncacheable token shape, by e-mail or username.
both!(login_returns_an_uncacheable_bearer_pair, |app| async move {
    // Arrange
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    for login in [user.email.clone(), user.username.clone()] {
        // Act
        let resp = json_login(&app, &login, &user.password).await;
        // Assert
        let tokens = assert_token_response(resp, Some(86400..=86400)).await;
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::OK,
            "{login}"
        );
    }
});

// Requirement: JSON login answers 401 invalid_credentials identically for an unknown user and a wrong password.
both!(
    login_answers_401_identically_for_wrong_password_and_unknown_user,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let unknown = TestUser::generate();
        // Act
        let wrong_password = json_login(&app, &user.email, "wrong-password").await;
        let unknown_user = app.login(&unknown).await;
        // Assert
        assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(unknown_user.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&wrong_password, "content-type").as_deref(),
            Some("application/problem+json")
        );
        assert_eq!(
            header(&unknown_user, "content-type").as_deref(),
            Some("application/problem+json")
        );
        let a: Value = wrong_password.json().await.unwrap();
        let b: Value = unknown_user.json().await.unwrap();
        assert_eq!(a["code"], json!("invalid_credentials"));
        assert_eq!(a, b);
    }
);

// Requirement: remember_me gives a 30-day refresh lifetime; without it the session idles out after a day.
both!(
    remember_me_extends_the_refresh_lifetime_to_30_days,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        for (remember_me, expected) in [
            (Some(true), 2_592_000),
            (Some(false), 86_400),
            (None, 86_400),
        ] {
            let mut body = json!({"username": user.email, "password": user.password});
            if let Some(r) = remember_me {
                body["remember_me"] = json!(r);
            }
            // Act
            let resp = app.post("/auth/login", None, body).await;
            // Assert
            assert_eq!(resp.status(), StatusCode::OK, "{remember_me:?}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                body["refresh_expires_in"],
                json!(expected),
                "{remember_me:?}"
            );
            assert_eq!(body["expires_in"], json!(900), "{remember_me:?}");
        }
    }
);

// Requirement: a deactivated user cannot log in by either endpoint, and learns nothing more than from a wrong password.
both!(inactive_user_cannot_log_in, |app| async move {
    // Arrange
    let (user, tokens) = app.signed_in_user().await;
    app.deactivate(&tokens.access).await;
    // Act
    let by_json = app.login(&user).await;
    let form_login = token_grant(&app, &user.email, &user.password).await;
    let wrong_password = json_login(&app, &user.email, "wrong-password").await;
    // Assert
    assert_eq!(by_json.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(form_login.status(), StatusCode::BAD_REQUEST);
    let json_body: Value = by_json.json().await.unwrap();
    let form_body: Value = form_login.json().await.unwrap();
    assert_eq!(json_body["code"], json!("invalid_credentials"));
    assert_eq!(json_body, wrong_password.json::<Value>().await.unwrap());
    assert_eq!(form_body["error"], json!("invalid_grant"));
    assert_eq!(
        app.me_status(&tokens.access).await,
        StatusCode::UNAUTHORIZED
    );
});

// Requirement: a successful login records last_login_at.
both!(login_records_last_login_at, |app| async move {
    // Arrange
    let user = TestUser::generate();
    let created: Value = app.register(&user).await.json().await.unwrap();
    assert_eq!(
        created["last_login_at"],
        Value::Null,
        "not before the first login: {created}"
    );
    let before = app.clock.now();
    // Act
    let tokens = app.login_ok(&user).await;
    // Assert
    let me = app.me(&tokens.access).await;
    let first = me["last_login_at"].as_i64().expect("last_login_at");
    assert!((before..=app.clock.now()).contains(&first), "{first}");
    // A later login moves it forward.
    app.clock.advance(3600);
    let tokens = app.login_ok(&user).await;
    let me = app.me(&tokens.access).await;
    assert!(
        me["last_login_at"].as_i64().unwrap() >= first + 3600,
        "{me}"
    );
    // A failed login does not (10 minutes on: a stamp would show, and the access token used to
    // look is still valid).
    app.clock.advance(600);
    let wrong = json_login(&app, &user.email, "wrong-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let after_failure = app.me(&tokens.access).await;
    assert_eq!(after_failure["last_login_at"], me["last_login_at"]);
});
