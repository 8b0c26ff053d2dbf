//! `POST /auth/token`: the OAuth 2.0 password and refresh-token grants and their RFC 6749 errors.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

// Requirement: the password grant takes an e-mail or a username and returns an uncacheable Bearer pair.
both!(
    token_endpoint_password_grant_returns_an_uncacheable_bearer_pair,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        for login in [
            user.email.clone(),
            user.username.clone(),
            user.username.to_uppercase(),
        ] {
            // Act
            let resp = token_grant(&app, &login, &user.password).await;
            // Assert
            let tokens = assert_token_response(resp, Some(86400..=86400)).await;
            let me = app.get("/users/me", Some(&tokens.access)).await;
            assert_eq!(me.status(), StatusCode::OK, "{login}");
            let me: Value = me.json().await.unwrap();
            assert_eq!(me["email"], json!(user.email), "{login}");
        }
    }
);

// Requirement: the token endpoint answers a wrong password and an unknown user identically (invalid_grant).
both!(
    token_endpoint_answers_invalid_grant_identically_for_wrong_password_and_unknown_user,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let unknown = TestUser::generate();
        // Act
        let wrong_password = token_grant(&app, &user.email, "wrong-password").await;
        let unknown_user = token_grant(&app, &unknown.email, &unknown.password).await;
        // Assert
        assert_eq!(wrong_password.status(), StatusCode::BAD_REQUEST);
        assert_eq!(unknown_user.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            header(&wrong_password, "cache-control").as_deref(),
            Some("no-store")
        );
        let a: Value = wrong_password.json().await.unwrap();
        let b: Value = unknown_user.json().await.unwrap();
        assert_eq!(a["error"], json!("invalid_grant"));
        assert_eq!(a["error_description"], b["error_description"]);
        assert_eq!(a, b);
    }
);

// Requirement: malformed token requests get the RFC 6749 §5.2 error codes, never a 5xx.
both!(
    token_endpoint_rejects_malformed_requests_with_rfc6749_errors,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let (u, p) = (user.email.as_str(), user.password.as_str());
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "missing grant_type",
                form(&[("username", u), ("password", p)]),
                "invalid_request",
            ),
            (
                "missing password",
                form(&[("grant_type", "password"), ("username", u)]),
                "invalid_request",
            ),
            (
                "missing username",
                form(&[("grant_type", "password"), ("password", p)]),
                "invalid_request",
            ),
            (
                "missing refresh_token",
                form(&[("grant_type", "refresh_token")]),
                "invalid_request",
            ),
            (
                "client_credentials",
                form(&[
                    ("grant_type", "client_credentials"),
                    ("username", u),
                    ("password", p),
                ]),
                "unsupported_grant_type",
            ),
            (
                "duplicate parameter",
                form(&[
                    ("grant_type", "password"),
                    ("username", u),
                    ("password", p),
                    ("password", p),
                ]),
                "invalid_request",
            ),
            (
                "duplicate grant_type",
                form(&[
                    ("grant_type", "password"),
                    ("grant_type", "password"),
                    ("username", u),
                    ("password", p),
                ]),
                "invalid_request",
            ),
        ];
        for (name, body, error) in cases {
            // Act
            let resp = app.post_form("/auth/token", &body).await;
            // Assert
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{name}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], json!(error), "{name}: {body}");
            assert!(
                body["error_description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{name}"
            );
        }
        // Act: the right parameters as JSON instead of a form
        let resp = app
            .post(
                "/auth/token",
                None,
                json!({"grant_type": "password", "username": u, "password": p}),
            )
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], json!("invalid_request"));
    }
);

// Requirement: grant_type=refresh_token on /auth/token rotates the refresh token like /auth/refresh.
both!(
    token_endpoint_refresh_token_grant_rotates_the_pair,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let first = token_grant(&app, &user.email, &user.password).await;
        let first = assert_token_response(first, Some(86400..=86400)).await;
        // Act
        let resp = app
            .post_form(
                "/auth/token",
                &form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &first.refresh),
                ]),
            )
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
        let body: Value = resp.json().await.unwrap();
        let second = Tokens::from_json(&body);
        assert_eq!(body["token_type"], json!("Bearer"));
        assert_ne!(second.refresh, first.refresh);
        assert_eq!(app.me_status(&second.access).await, StatusCode::OK);
        // An unknown refresh token is invalid_grant, in RFC 6749 form.
        let bad = app
            .post_form(
                "/auth/token",
                &form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "not-a-token"),
                ]),
            )
            .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let bad: Value = bad.json().await.unwrap();
        assert_eq!(bad["error"], json!("invalid_grant"));
    }
);
