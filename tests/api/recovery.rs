//! Password reset over real SMTP (issue #10): forgot → mail → reset → login, and what a reset
//! does to sessions, locks and other links.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

// Requirement: forgot answers 202 {"status":"accepted"}; the mailed link (under
// AUTHGATE_PUBLIC_URL) sets a new password; the old one stops working, the new one logs in.
both!(forgot_mail_reset_login, &[WITH_MAIL], |app| async move {
    // Arrange
    let (user, _) = app.signed_in_user().await;
    let new_password = "a brand new passphrase 42";
    // Act
    let resp = app.forgot(&user.email).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"status": "accepted"})
    );
    let mails = wait_for_mails_with(&user.email, "/reset-password?token=", 1).await;
    let text = mail_text(&mails[0].raw);
    let token = token_in(&mails[0], "/reset-password");
    let resp = app.reset_password(&token, new_password).await;
    // Assert
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(
        text.contains(&format!(
            "https://auth.example.test/reset-password?token={token}"
        )),
        "{text}"
    );
    assert!(text.contains("Reset your authgate password"), "{text}");
    assert_eq!(
        login_status(&app, &user.email, &user.password).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_status(&app, &user.email, new_password).await,
        StatusCode::OK
    );
});

// Requirement: a reset link works once: the second use (another browser, a retry) is 400
// invalid_token, and the password stays the one the first use set.
both!(a_reset_link_works_once, &[WITH_MAIL], |app| async move {
    // Arrange
    let (user, _) = app.signed_in_user().await;
    app.forgot(&user.email).await;
    let token = reset_token(&user.email, 1).await;
    // Act
    let first = app.reset_password(&token, "first new passphrase 1").await;
    let second = app.reset_password(&token, "second new passphrase 2").await;
    // Assert
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    let body = assert_problem(second, StatusCode::BAD_REQUEST, "invalid_token").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("invalid, already used or expired")
    );
    assert_eq!(
        login_status(&app, &user.email, "first new passphrase 1").await,
        StatusCode::OK
    );
});

// Requirement: a newer reset link voids the older one (keycloak#40631), and invalid, used and
// expired tokens get one and the same answer.
both!(
    a_newer_link_voids_the_older_and_expired_links_fail,
    &[WITH_MAIL],
    |app| async move {
        // Arrange: two links, a minute apart (one mail per account per minute)
        let (user, _) = app.signed_in_user().await;
        app.forgot(&user.email).await;
        let older = reset_token(&user.email, 1).await;
        app.clock.advance(61);
        app.forgot(&user.email).await;
        let newer = reset_token(&user.email, 2).await;
        assert_ne!(older, newer);
        // Act + Assert: the older is void, the newer expires after AUTHGATE_RESET_TTL (30m)
        let old = app.reset_password(&older, "some new passphrase 7").await;
        let old_body = assert_problem(old, StatusCode::BAD_REQUEST, "invalid_token").await;
        app.clock.advance(30 * 60);
        let expired = app.reset_password(&newer, "some new passphrase 7").await;
        let expired_body = assert_problem(expired, StatusCode::BAD_REQUEST, "invalid_token").await;
        let unknown = app
            .reset_password("x".repeat(43).as_str(), "some new passphrase 7")
            .await;
        let unknown_body = assert_problem(unknown, StatusCode::BAD_REQUEST, "invalid_token").await;
        assert_eq!(old_body["detail"], expired_body["detail"]);
        assert_eq!(old_body["detail"], unknown_body["detail"]);
        assert_eq!(
            login_status(&app, &user.email, &user.password).await,
            StatusCode::OK
        );
    }
);

// Requirement: a reset ends every session of the user (keycloak#8920) and lifts a lockout.
both!(
    a_reset_ends_every_session_and_lifts_the_lockout,
    &[WITH_MAIL, "--lockout-threshold", "3"],
    |app| async move {
        // Arrange: a live session, then the account locked by wrong passwords
        let (user, tokens) = app.signed_in_user().await;
        for _ in 0..3 {
            login_status(&app, &user.email, "wrong password").await;
        }
        assert_eq!(
            login_status(&app, &user.email, &user.password).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        app.forgot(&user.email).await;
        let token = reset_token(&user.email, 1).await;
        // Act
        let resp = app.reset_password(&token, "after the reset 99").await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.refresh(&tokens.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login_status(&app, &user.email, "after the reset 99").await,
            StatusCode::OK
        );
    }
);

// Requirement: the password policy applies to a reset (422 on new_password), and a refused
// password leaves the link usable.
both!(
    a_reset_applies_the_password_policy,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (user, _) = app.signed_in_user().await;
        app.forgot(&user.email).await;
        let token = reset_token(&user.email, 1).await;
        // Act
        let short = app.reset_password(&token, "short").await;
        let own_email = app.reset_password(&token, &user.email).await;
        // Assert
        let body =
            assert_problem(short, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(body["errors"]["new_password"].is_array(), "{body}");
        assert_eq!(own_email.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            app.reset_password(&token, "a good long passphrase")
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
    }
);

// Requirement: a password change voids the reset links still out.
both!(
    a_password_change_voids_outstanding_reset_links,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        app.forgot(&user.email).await;
        let token = reset_token(&user.email, 1).await;
        // Act
        let resp = app
            .post(
                "/users/me/password",
                Some(&tokens.access),
                json!({"current_password": user.password, "new_password": "changed by hand 12"}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        // Assert
        let late = app.reset_password(&token, "an attacker's passphrase").await;
        assert_problem(late, StatusCode::BAD_REQUEST, "invalid_token").await;
    }
);

// Requirement: forgot answers unknown and deactivated addresses exactly like real ones, sends
// them nothing, and sends a real account at most one mail per 60 s however often it is asked.
both!(
    forgot_answers_alike_and_mails_once_a_minute,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (user, _) = app.signed_in_user().await;
        let (gone, gone_tokens) = app.signed_in_user().await;
        app.deactivate(&gone_tokens.access).await;
        let unknown = TestUser::generate();
        // Act
        let mut answers = Vec::new();
        for email in [
            &user.email,
            &user.email,
            &user.email,
            &gone.email,
            &unknown.email,
        ] {
            let resp = app.forgot(email).await;
            answers.push((resp.status(), resp.json::<Value>().await.unwrap()));
        }
        settle().await;
        // Assert
        assert!(
            answers
                .iter()
                .all(|a| *a == (StatusCode::ACCEPTED, json!({"status": "accepted"})))
        );
        let resets = |to: &str| {
            INBOX
                .to(to)
                .iter()
                .filter(|m| mail_text(&m.raw).contains("/reset-password"))
                .count()
        };
        assert_eq!(resets(&user.email), 1, "one mail per minute");
        assert_eq!(resets(&gone.email), 0, "deactivated");
        assert_eq!(INBOX.to(&unknown.email).len(), 0, "unknown");
    }
);

// Requirement: forgot is limited per client IP (429 with Retry-After beyond the limit).
both!(
    forgot_is_limited_per_client_ip,
    &["--recovery-rate-limit", "3/1h"],
    |app| async move {
        // Act
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(app.forgot(&TestUser::generate().email).await);
        }
        // Assert
        let last = statuses.pop().unwrap();
        assert!(statuses.iter().all(|r| r.status() == StatusCode::ACCEPTED));
        assert!(header(&last, "retry-after").is_some());
        assert_problem(last, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    }
);

// Requirement: an admin can mail a user a reset link (202); 404 for an unknown user, 403 for
// a non-admin.
both!(
    an_admin_sends_a_reset_link,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (user, tokens, id) = plain_user(&app).await;
        // Act
        let resp = app
            .post(
                &format!("/admin/users/{id}/send-reset"),
                Some(&admin.access),
                json!({}),
            )
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        // (the user's own token, before the reset ends their session)
        let own = app
            .post(
                &format!("/admin/users/{id}/send-reset"),
                Some(&tokens.access),
                json!({}),
            )
            .await;
        assert_eq!(own.status(), StatusCode::FORBIDDEN);
        let token = reset_token(&user.email, 1).await;
        assert_eq!(
            app.reset_password(&token, "set after the admin's mail")
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        let unknown = uuid::Uuid::new_v4();
        let missing = app
            .post(
                &format!("/admin/users/{unknown}/send-reset"),
                Some(&admin.access),
                json!({}),
            )
            .await;
        assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
    }
);
