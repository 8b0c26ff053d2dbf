//! Refresh-token rotation, reuse detection, idle and absolute expiry.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Refresh, expecting success; returns the new pair.
async fn refresh_ok(app: &TestApp, refresh_token: &str) -> Tokens {
    let resp = app.refresh(refresh_token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    Tokens::from_json(&resp.json().await.unwrap())
}

/// Assert a 401 `invalid_refresh_token` problem.
async fn assert_invalid_refresh(resp: reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&resp, "content-type").as_deref(),
        Some("application/problem+json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], json!("invalid_refresh_token"), "{body}");
}

/// Log in with JSON, choosing remember_me.
async fn login_remember(app: &TestApp, user: &TestUser, remember_me: bool) -> (Tokens, Value) {
    let resp = app
        .post(
            "/auth/login",
            None,
            json!({"username": user.email, "password": user.password, "remember_me": remember_me}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    (Tokens::from_json(&body), body)
}

// Requirement: POST /auth/refresh rotates the refresh token and the response must not be cached.
both!(
    refresh_rotates_the_refresh_token_and_is_not_cacheable,
    |app| async move {
        // Arrange
        let (_, r0) = app.signed_in_user().await;
        // Act
        let resp = app.refresh(&r0.refresh).await;
        // Assert
        let r1 = assert_token_response(resp, Some(86_398..=86_400)).await;
        assert_ne!(r1.refresh, r0.refresh);
        assert_ne!(r1.access, r0.access);
        assert_eq!(app.user_id(&r1.access).await, app.user_id(&r0.access).await);
        // The new refresh token works in turn, and rotates again.
        let r2 = refresh_ok(&app, &r1.refresh).await;
        assert_ne!(r2.refresh, r1.refresh);
        assert_ne!(r2.refresh, r0.refresh);
    }
);

// Requirement: presenting a rotated refresh token after the grace window revokes the whole family at once.
both!(
    refresh_token_reuse_revokes_the_whole_family,
    |app| async move {
        // Arrange
        let (user, r0) = app.signed_in_user().await;
        let other_session = app.login_ok(&user).await;
        let r1 = refresh_ok(&app, &r0.refresh).await;
        app.clock.advance(11);
        // Act: the stolen parent comes back
        let replay = app.refresh(&r0.refresh).await;
        // Assert
        assert_invalid_refresh(replay).await;
        assert_invalid_refresh(app.refresh(&r1.refresh).await).await;
        assert_eq!(app.me_status(&r1.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(app.me_status(&r0.access).await, StatusCode::UNAUTHORIZED);
        // Another login of the same user is a different family and is unaffected.
        assert_eq!(app.me_status(&other_session.access).await, StatusCode::OK);
        let other_next = refresh_ok(&app, &other_session.refresh).await;
        assert_eq!(app.me_status(&other_next.access).await, StatusCode::OK);
    }
);

// Requirement: concurrent refreshes with one token all succeed with the same successor, without a logout.
both!(
    concurrent_refreshes_with_one_token_all_get_the_same_successor,
    |app| async move {
        // Arrange
        let (_, r0) = app.signed_in_user().await;
        let url = app.url("/auth/refresh");
        // Act: 10 at once
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let client = app.client.clone();
                let url = url.clone();
                let body = json!({"refresh_token": r0.refresh});
                tokio::spawn(async move {
                    let resp = client.post(url).json(&body).send().await.expect("request");
                    let status = resp.status();
                    (status, resp.json::<Value>().await.expect("json"))
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("task"));
        }
        // Assert
        for (status, body) in &results {
            assert_eq!(*status, StatusCode::OK, "{body}");
        }
        let successors: Vec<&str> = results
            .iter()
            .map(|(_, b)| b["refresh_token"].as_str().expect("refresh_token"))
            .collect();
        assert!(
            successors.iter().all(|s| *s == successors[0]),
            "{successors:?}"
        );
        assert_ne!(successors[0], r0.refresh);
        for (_, body) in &results {
            assert_eq!(
                app.me_status(body["access_token"].as_str().unwrap()).await,
                StatusCode::OK
            );
        }
        assert_eq!(app.me_status(&r0.access).await, StatusCode::OK, "no logout");
        // The shared successor works once more.
        let r2 = refresh_ok(&app, successors[0]).await;
        assert_eq!(app.me_status(&r2.access).await, StatusCode::OK);
    }
);

// Requirement: within the grace window a just-rotated token is answered with the same successor (retries, tabs).
both!(
    replaying_a_rotated_token_within_grace_returns_the_same_successor,
    |app| async move {
        // Arrange
        let (_, r0) = app.signed_in_user().await;
        let r1 = refresh_ok(&app, &r0.refresh).await;
        app.clock.advance(8);
        // Act
        let again = refresh_ok(&app, &r0.refresh).await;
        // Assert
        assert_eq!(again.refresh, r1.refresh);
        assert_eq!(app.me_status(&r1.access).await, StatusCode::OK);
        let r2 = refresh_ok(&app, &r1.refresh).await;
        assert_eq!(app.me_status(&r2.access).await, StatusCode::OK);
    }
);

// Requirement: replaying a token whose successor was already used is reuse even inside the grace window.
both!(
    replaying_a_token_whose_successor_was_used_revokes_the_family_even_within_grace,
    |app| async move {
        // Arrange: R0 → R1 → R2, all within a second or two
        let (_, r0) = app.signed_in_user().await;
        let r1 = refresh_ok(&app, &r0.refresh).await;
        let r2 = refresh_ok(&app, &r1.refresh).await;
        // Act
        let replay = app.refresh(&r0.refresh).await;
        // Assert
        assert_invalid_refresh(replay).await;
        assert_invalid_refresh(app.refresh(&r2.refresh).await).await;
        assert_eq!(app.me_status(&r2.access).await, StatusCode::UNAUTHORIZED);
    }
);

// Requirement: without remember_me a session ends after 24h without a refresh; each refresh restarts that window.
both!(
    refresh_session_expires_after_24h_idle_without_remember_me,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let (r0, _) = login_remember(&app, &user, false).await;
        app.clock.advance(23 * 3600);
        let r1 = refresh_ok(&app, &r0.refresh).await;
        app.clock.advance(23 * 3600);
        let r2 = refresh_ok(&app, &r1.refresh).await;
        // Act: a day and a second idle
        app.clock.advance(24 * 3600 + 1);
        let resp = app.refresh(&r2.refresh).await;
        // Assert
        assert_invalid_refresh(resp).await;
    }
);

// Requirement: an idle session without remember_me ends exactly after 24h+1s idle from login.
both!(
    refresh_fails_24h_after_login_without_use,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let (r0, _) = login_remember(&app, &user, false).await;
        // Act
        app.clock.advance(24 * 3600 + 1);
        let resp = app.refresh(&r0.refresh).await;
        // Assert
        assert_invalid_refresh(resp).await;
    }
);

// Requirement: remember_me sessions survive a day idle but end 30 days after login, however often refreshed.
both!(
    remember_me_session_survives_a_day_idle_but_not_30_days,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let (r0, body) = login_remember(&app, &user, true).await;
        assert_eq!(body["refresh_expires_in"], json!(2_592_000));
        // Act: 25 hours idle
        app.clock.advance(25 * 3600);
        let resp = app.refresh(&r0.refresh).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        let left = body["refresh_expires_in"].as_i64().unwrap();
        let expected = 30 * 86_400 - 25 * 3600;
        assert!(
            (expected - 2..=expected).contains(&left),
            "capped at the absolute end: {left}"
        );
        let r1 = Tokens::from_json(&body);
        // Refreshing keeps it alive 20 days later, but the absolute end stays 30 days after login.
        app.clock.advance(20 * 86_400);
        let r2 = refresh_ok(&app, &r1.refresh).await;
        app.clock.advance(30 * 86_400 - 25 * 3600 - 20 * 86_400 + 1);
        assert_invalid_refresh(app.refresh(&r2.refresh).await).await;
    }
);

// Requirement: garbage, empty and oversized refresh tokens are 401, never a 5xx.
both!(
    malformed_refresh_tokens_are_401_never_500,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let cases = [
            String::new(),
            "   ".to_owned(),
            "garbage".to_owned(),
            "x".repeat(10 * 1024),
            format!("{}x", tokens.refresh),
            tokens.access.clone(),
            "ünïcödé\u{0}\u{202e}".to_owned(),
            "' OR 1=1 --".to_owned(),
        ];
        for token in cases {
            // Act
            let resp = app.refresh(&token).await;
            // Assert
            assert_eq!(
                resp.status(),
                StatusCode::UNAUTHORIZED,
                "{:?}",
                &token[..token.len().min(40)]
            );
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["code"], json!("invalid_refresh_token"));
        }
        // The real token is unharmed by all that.
        refresh_ok(&app, &tokens.refresh).await;
    }
);

// Requirement: a deactivated user's refresh token no longer works.
both!(
    refresh_is_refused_for_a_deactivated_user,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let id = app.deactivate(&tokens.access).await;
        // Act
        let resp = app.refresh(&tokens.refresh).await;
        // Assert
        assert_invalid_refresh(resp).await;
        // Reactivation does not bring the ended session back.
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let on = json!({"is_active": true});
        let resp = patch_user(&app, &admin.access, &id.to_string(), on).await;
        assert_eq!(resp.status(), StatusCode::OK, "reactivated");
        assert_invalid_refresh(app.refresh(&tokens.refresh).await).await;
    }
);
