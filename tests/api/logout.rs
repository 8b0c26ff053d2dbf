//! Logout, logout everywhere, revocation across a restart, and access tokens that outlive
//! their session.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

// Requirement: logout ends the caller's session at once (access and refresh) and no other session.
both!(
    logout_revokes_the_sessions_access_and_refresh_tokens_immediately,
    |app| async move {
        // Arrange
        let (user, a) = app.signed_in_user().await;
        let b = app.login_ok(&user).await;
        assert_eq!(app.me_status(&a.access).await, StatusCode::OK);
        // Act
        let resp = app.post("/auth/logout", Some(&a.access), json!({})).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let after = app.get("/users/me", Some(&a.access)).await;
        assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
        assert!(
            header(&after, "www-authenticate")
                .unwrap()
                .contains(r#"error="invalid_token""#)
        );
        let refresh = app.refresh(&a.refresh).await;
        assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            refresh.json::<Value>().await.unwrap()["code"],
            json!("invalid_refresh_token")
        );
        assert_eq!(app.me_status(&b.access).await, StatusCode::OK);
        assert_eq!(app.refresh(&b.refresh).await.status(), StatusCode::OK);
        // A retried logout with the dead token answers like the first (skewed_instances.rs).
        let again = app.post("/auth/logout", Some(&a.access), json!({})).await;
        assert_eq!(again.status(), StatusCode::NO_CONTENT);
    }
);

// Requirement: logout without credentials is 401 with a bare `Bearer` challenge (RFC 6750 §3.1).
both!(
    logout_without_a_token_is_401_with_a_bearer_challenge,
    |app| async move {
        // Arrange: nothing
        // Act
        let resp = app.post("/auth/logout", None, json!({})).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&resp, "www-authenticate").as_deref(), Some("Bearer"));
        assert_eq!(
            header(&resp, "content-type").as_deref(),
            Some("application/problem+json")
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("invalid_token"));
    }
);

// Requirement: logout-all ends every session of the caller, access and refresh tokens alike.
both!(
    logout_all_revokes_every_session_of_the_user,
    |app| async move {
        // Arrange
        let (user, a) = app.signed_in_user().await;
        let b = app.login_ok(&user).await;
        let c = app.login_ok(&user).await;
        let (_, stranger) = app.signed_in_user().await;
        // Act
        let resp = app
            .post("/auth/logout-all", Some(&b.access), json!({}))
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        for (name, tokens) in [("a", &a), ("b", &b), ("c", &c)] {
            assert_eq!(
                app.me_status(&tokens.access).await,
                StatusCode::UNAUTHORIZED,
                "{name}"
            );
            assert_eq!(
                app.refresh(&tokens.refresh).await.status(),
                StatusCode::UNAUTHORIZED,
                "{name}"
            );
        }
        assert_eq!(
            app.me_status(&stranger.access).await,
            StatusCode::OK,
            "other users untouched"
        );
        // The account itself still works.
        let fresh = app.login_ok(&user).await;
        assert_eq!(app.me_status(&fresh.access).await, StatusCode::OK);
    }
);

// Requirement: revocations are persisted: a logged-out token stays dead after a restart, live sessions stay live.
both!(revocation_survives_a_restart, |app| async move {
    // Arrange
    let (user, gone) = app.signed_in_user().await;
    let live = app.login_ok(&user).await;
    assert_eq!(
        app.post("/auth/logout", Some(&gone.access), json!({}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // Act: a new server process on the same database
    let TestApp { db, settings, .. } = app;
    let app = start(db, settings).await;
    // Assert
    let resp = app.get("/users/me", Some(&gone.access)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        header(&resp, "www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
    assert_eq!(
        app.refresh(&gone.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.me_status(&live.access).await, StatusCode::OK);
    let next = app.refresh(&live.refresh).await;
    assert_eq!(next.status(), StatusCode::OK);
    let next = Tokens::from_json(&next.json().await.unwrap());
    assert_eq!(app.me_status(&next.access).await, StatusCode::OK);
});

/// A remember-me session refreshed a minute before its 30-day end, then taken past that end:
/// its last access token is still valid for most of its 15 minutes.
async fn session_past_its_absolute_end(app: &TestApp) -> Tokens {
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    let first = login_from(app, &user, "authgate-tests", true).await;
    app.clock.advance(30 * 86_400 - 60);
    let resp = app.refresh(&first.refresh).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let late = Tokens::from_json(&resp.json().await.unwrap());
    app.clock.advance(120);
    assert_eq!(
        app.refresh(&late.refresh).await.status(),
        StatusCode::UNAUTHORIZED,
        "session over"
    );
    assert_eq!(
        app.me_status(&late.access).await,
        StatusCode::OK,
        "access token still alive"
    );
    late
}

// Requirement: logout-all kills every live access token, including one that outlives its session's absolute end.
both!(
    logout_all_revokes_an_access_token_that_outlives_its_session,
    |app| async move {
        // Arrange
        let late = session_past_its_absolute_end(&app).await;
        // Act
        let resp = app
            .post("/auth/logout-all", Some(&late.access), json!({}))
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.me_status(&late.access).await, StatusCode::UNAUTHORIZED);
    }
);

// Requirement: logout still works for a live access token after housekeeping has purged expired sessions.
both!(
    logout_revokes_an_access_token_that_outlives_its_session_after_a_purge,
    |app| async move {
        // Arrange
        let late = session_past_its_absolute_end(&app).await;
        app.state().purge_expired().await;
        // Act
        let resp = app
            .post("/auth/logout", Some(&late.access), json!({}))
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.me_status(&late.access).await, StatusCode::UNAUTHORIZED);
    }
);
