//! Issue #11, the rules around the second factor: its own lock (not the password's), recovery
//! codes (once, audited, mailed), a password reset keeps the factor, the admin's reset, the
//! step-up extractor and layer, and AUTHGATE_REQUIRE_MFA_ROLES's restricted state.

use crate::both;
use crate::support::*;
use authgate::{RequireMfa, require_mfa};
use axum::Router;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};

const OTP_LOCK_AFTER_3: &[&str] = &["--lockout-threshold", "3", "--lockout-duration", "1m"];

async fn audit_types(app: &TestApp, admin: &str, user: &str) -> Vec<String> {
    let resp = app
        .get(&format!("/admin/audit?user={user}&limit=200"), Some(admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page: Value = resp.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

// Requirement: second-factor failures have their own per-account lock: it locks the code step (429, audited, and the mfa_token dies) while the password step still answers mfa_required.
both!(
    otp_failures_lock_the_second_factor_not_the_password,
    OTP_LOCK_AFTER_3,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let u = app.mfa_user().await;
        let token = app.mfa_token(&u.user).await;
        // Act: three wrong codes reach the threshold.
        for _ in 0..3 {
            let resp = app.mfa_code(&token, "000000").await;
            assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_otp").await;
        }
        // Assert
        let dead = app.mfa_code(&token, &app.code(&u.secret, 0)).await;
        assert_problem(dead, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
        let fresh = app.mfa_token(&u.user).await;
        let locked = app.mfa_code(&fresh, &app.code(&u.secret, 0)).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(header(&locked, "retry-after").is_some());
        let types = audit_types(&app, &admin.access, &u.id).await;
        for kind in ["mfa_failed", "mfa_locked", "mfa_blocked"] {
            assert!(types.iter().any(|t| t == kind), "{kind} in {types:?}");
        }
        // The lock passes with time; the right code then works.
        app.clock.advance(61);
        app.align_to_step();
        let token = app.mfa_token(&u.user).await;
        assert_eq!(
            app.mfa_code(&token, &app.code(&u.secret, 0)).await.status(),
            StatusCode::OK
        );
    }
);

// Requirement: wrong passwords do not count against the second factor's lock (and the other way round).
both!(
    password_failures_do_not_lock_the_second_factor,
    OTP_LOCK_AFTER_3,
    |app| async move {
        // Arrange: two wrong codes, then two wrong passwords: 4 failures, 2 on each counter.
        let u = app.mfa_user().await;
        let token = app.mfa_token(&u.user).await;
        for _ in 0..2 {
            let resp = app.mfa_code(&token, "000000").await;
            assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_otp").await;
        }
        let wrong = TestUser {
            password: "wrong password".into(),
            ..u.user.clone()
        };
        for _ in 0..2 {
            assert_eq!(app.login(&wrong).await.status(), StatusCode::UNAUTHORIZED);
        }
        // Act: the same mfa_token, the right code (a shared counter would be locked at 3).
        let resp = app.mfa_code(&token, &app.code(&u.secret, 0)).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
    }
);

// Requirement: a recovery code logs in once (amr pwd+otp), is audited, mailed with the count left, and counted in GET /users/me.
both!(
    a_recovery_code_works_once_and_is_audited_and_mailed,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let u = app.mfa_user().await;
        let code = u.recovery_codes[3].to_lowercase().replace('-', " ");
        // Act
        let token = app.mfa_token(&u.user).await;
        let resp = app.mfa_recovery(&token, &code).await;
        let token = app.mfa_token(&u.user).await;
        let again = app.mfa_recovery(&token, &u.recovery_codes[3]).await;
        // Assert
        let tokens = assert_token_response(resp, None).await;
        assert_eq!(claims_of(&tokens.access)["amr"], json!(["pwd", "otp"]));
        assert_problem(again, StatusCode::UNAUTHORIZED, "invalid_otp").await;
        assert_eq!(
            app.me(&tokens.access).await["mfa"]["recovery_codes_left"],
            9
        );
        let types = audit_types(&app, &admin.access, &u.id).await;
        assert!(types.iter().any(|t| t == "recovery_code_used"), "{types:?}");
        let mails = wait_for_mails_with(&u.user.email, "recovery code was used", 1).await;
        assert!(
            mail_text(&mails[0].raw).contains("9 of your recovery"),
            "{}",
            mails[0].raw
        );
        wait_for_mails_with(&u.user.email, "Two-factor authentication is now on", 1).await;
    }
);

// Requirement: a password reset does not remove the second factor.
both!(
    a_password_reset_keeps_the_factor,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let u = app.mfa_user().await;
        assert_eq!(
            app.forgot(&u.user.email).await.status(),
            StatusCode::ACCEPTED
        );
        let token = reset_token(&u.user.email, 1).await;
        // Act
        let resp = app.reset_password(&token, "a brand new passphrase").await;
        // Assert
        assert!(resp.status().is_success(), "{}", resp.status());
        let user = TestUser {
            password: "a brand new passphrase".into(),
            ..u.user.clone()
        };
        let mfa_token = app.mfa_token(&user).await;
        assert_eq!(
            app.mfa_code(&mfa_token, &app.code(&u.secret, 0))
                .await
                .status(),
            StatusCode::OK
        );
    }
);

// Requirement: a password change keeps the caller's level: a two-factor session's new session is two-factor too (and a password-only one's stays password-only).
both!(
    a_password_change_keeps_the_callers_second_factor,
    |app| async move {
        // Arrange
        let u = app.mfa_user().await;
        let token = app.mfa_token(&u.user).await;
        let resp = app.mfa_code(&token, &app.code(&u.secret, 0)).await;
        let strong = assert_token_response(resp, None).await;
        // Act
        let resp = change_password(
            &app,
            &strong.access,
            &u.user.password,
            "another long passphrase",
        )
        .await;
        // Assert
        let fresh = assert_token_response(resp, None).await;
        assert_eq!(claims_of(&fresh.access)["amr"], json!(["pwd", "otp"]));
        let (plain_user, plain) = app.signed_in_user().await;
        let resp = change_password(
            &app,
            &plain.access,
            &plain_user.password,
            "another long passphrase",
        )
        .await;
        let fresh = assert_token_response(resp, None).await;
        assert_eq!(claims_of(&fresh.access)["amr"], json!(["pwd"]));
    }
);

// Requirement: an admin's DELETE /admin/users/{id}/mfa removes the factor, ends the user's sessions and is audited; others get 403.
both!(an_admin_resets_a_lost_factor, |app| async move {
    // Arrange
    let (_, admin) = app.user_with_roles(&["admin"]).await;
    let (_, plain) = app.signed_in_user().await;
    let u = app.mfa_user().await;
    let path = format!("/admin/users/{}/mfa", u.id);
    // Act
    let forbidden = app
        .request(reqwest::Method::DELETE, &path, Some(&plain.access), None)
        .await;
    let resp = app
        .request(reqwest::Method::DELETE, &path, Some(&admin.access), None)
        .await;
    // Assert
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.me_status(&u.tokens.access).await,
        StatusCode::UNAUTHORIZED,
        "sessions end"
    );
    let tokens = app.login_ok(&u.user).await;
    assert_eq!(claims_of(&tokens.access)["amr"], json!(["pwd"]));
    let types = audit_types(&app, &admin.access, &u.id).await;
    assert!(types.iter().any(|t| t == "mfa_reset"), "{types:?}");
    let own = format!("/admin/users/{}/mfa", app.user_id(&admin.access).await);
    let resp = app
        .request(reqwest::Method::DELETE, &own, Some(&admin.access), None)
        .await;
    assert_validation_failed(resp).await;
    let unknown = format!("/admin/users/{}/mfa", uuid::Uuid::now_v7());
    let resp = app
        .request(reqwest::Method::DELETE, &unknown, Some(&admin.access), None)
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
});

async fn step_up_host(app: &TestApp) -> String {
    async fn guarded(user: RequireMfa) -> String {
        format!("hello {}", user.id)
    }
    async fn open() -> &'static str {
        "step-up area"
    }
    let layered: Router<authgate::AuthState> = Router::new()
        .route("/layered", get(open))
        .route_layer(require_mfa(app.state()));
    let routes = Router::new().route("/guarded", get(guarded)).merge(layered);
    serve_host(host_router(app.state(), routes)).await
}

// Requirement: RequireMfa and require_mfa answer 403 mfa_required for a password-only token and let a second-factor token through.
both!(step_up_needs_the_second_factor, |app| async move {
    // Arrange
    let base = step_up_host(&app).await;
    let (_, plain) = app.signed_in_user().await;
    let u = app.mfa_user().await;
    let token = app.mfa_token(&u.user).await;
    let resp = app.mfa_code(&token, &app.code(&u.secret, 0)).await;
    let strong = assert_token_response(resp, None).await;
    for path in ["/guarded", "/layered"] {
        // Act
        let weak = app
            .client
            .get(format!("{base}{path}"))
            .bearer_auth(&plain.access)
            .send()
            .await
            .unwrap();
        let ok = app
            .client
            .get(format!("{base}{path}"))
            .bearer_auth(&strong.access)
            .send()
            .await
            .unwrap();
        let none = app
            .client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        // Assert
        assert_problem(weak, StatusCode::FORBIDDEN, "mfa_required").await;
        assert_eq!(ok.status(), StatusCode::OK, "{path}");
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    }
});

// Requirement: with AUTHGATE_REQUIRE_MFA_ROLES=admin, an admin without a factor gets a restricted token (no roles, enrolment endpoints only) until they enrol; then a full admin token.
both!(
    required_roles_get_a_restricted_token_until_they_enrol,
    &["--require-mfa-roles", "admin"],
    |app| async move {
        // Arrange
        app.align_to_step();
        let (user, admin) = app.user_with_roles(&["admin"]).await;
        let (_, plain) = app.signed_in_user().await;
        // Act / Assert: the restricted state.
        let claims = claims_of(&admin.access);
        assert_eq!(claims["mfa_enrolment"], true);
        assert_eq!(claims["roles"], json!([]));
        assert_eq!(
            claims_of(&plain.access).get("mfa_enrolment"),
            None,
            "other roles: unchanged"
        );
        let users = app.get("/admin/users", Some(&admin.access)).await;
        assert_problem(users, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
        assert_eq!(
            app.me_status(&admin.access).await,
            StatusCode::OK,
            "GET /users/me works"
        );
        let refreshed = app.refresh(&admin.refresh).await;
        let refreshed = Tokens::from_json(&refreshed.json().await.unwrap());
        assert_eq!(
            claims_of(&refreshed.access)["mfa_enrolment"],
            true,
            "refresh keeps it"
        );
        // Enrolment is reachable and lifts it.
        let (secret, _) = app.enrol(&admin.access, &user.password).await;
        let body = json!({"code": app.code(&secret, 0)});
        let resp = app
            .post("/users/me/mfa/totp/confirm", Some(&admin.access), body)
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let full = resp.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut roles: Vec<String> =
            serde_json::from_value(claims_of(&full)["roles"].clone()).unwrap();
        roles.sort();
        assert_eq!(roles, ["admin", "user"]);
        assert_eq!(
            app.get("/admin/users", Some(&full)).await.status(),
            StatusCode::OK
        );
        // And the next login asks for the second factor.
        let token = app.mfa_token(&user).await;
        let resp = app.mfa_code(&token, &app.code(&secret, 1)).await;
        let tokens = assert_token_response(resp, None).await;
        assert_eq!(
            app.get("/admin/users", Some(&tokens.access)).await.status(),
            StatusCode::OK
        );
    }
);
