//! Issue #11, the login step: `mfa_required` from `/auth/login` and the password grant,
//! `POST /auth/mfa`, the `mfa-otp` grant, `amr`/`aal`, and the rules that make the step
//! impossible to skip: no replay, no enrolment code, ±1 step only, 5 attempts per token.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const MFA_OTP: &str = "urn:authgate:params:oauth:grant-type:mfa-otp";

// Requirement: with a factor on, the password buys only an mfa_token (403 mfa_required), which is no bearer token; the code then gives a pair with amr ["pwd","otp"] and aal 2, kept across refresh.
both!(
    a_login_with_a_factor_needs_the_second_step,
    |app| async move {
        // Arrange
        let u = app.mfa_user().await;
        // Act
        let resp = app.login(&u.user).await;
        // Assert
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
        let body = assert_problem(resp, StatusCode::FORBIDDEN, "mfa_required").await;
        assert_eq!(body["methods"], json!(["otp", "recovery_code"]));
        assert_eq!(body["expires_in"], 300);
        assert!(body.get("access_token").is_none());
        let token = body["mfa_token"].as_str().unwrap();
        assert_eq!(
            app.me_status(token).await,
            StatusCode::UNAUTHORIZED,
            "never a bearer token"
        );
        let resp = app.mfa_code(token, &app.code(&u.secret, 0)).await;
        let tokens = assert_token_response(resp, None).await;
        let claims = claims_of(&tokens.access);
        assert_eq!(claims["amr"], json!(["pwd", "otp"]));
        assert_eq!(claims["aal"], 2);
        let refreshed = app.refresh(&tokens.refresh).await;
        let refreshed = Tokens::from_json(&refreshed.json().await.unwrap());
        assert_eq!(claims_of(&refreshed.access)["amr"], json!(["pwd", "otp"]));
        // The token is used up by its success.
        let again = app.mfa_code(token, &app.code(&u.secret, 1)).await;
        assert_problem(again, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    }
);

// Requirement: a password-only login of a user without a factor keeps amr ["pwd"] and aal 1.
both!(password_only_logins_say_pwd, |app| async move {
    let (_, tokens) = app.signed_in_user().await;
    let claims = claims_of(&tokens.access);
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["aal"], 1);
});

// Requirement: the token endpoint's password grant answers 403 mfa_required with an mfa_token, and the mfa-otp grant (mfa_token + otp) completes it; a wrong otp is invalid_grant.
both!(the_token_endpoint_has_the_mfa_otp_grant, |app| async move {
    // Arrange
    let u = app.mfa_user().await;
    // Act
    let resp = token_grant(&app, &u.user.email, &u.user.password).await;
    // Assert
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required");
    let token = body["mfa_token"].as_str().unwrap().to_owned();
    let wrong = app
        .post_form(
            "/auth/token",
            &form(&[
                ("grant_type", MFA_OTP),
                ("mfa_token", &token),
                ("otp", "000000"),
            ]),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let code = app.code(&u.secret, 0);
    let resp = app
        .post_form(
            "/auth/token",
            &form(&[
                ("grant_type", MFA_OTP),
                ("mfa_token", &token),
                ("otp", &code),
            ]),
        )
        .await;
    let tokens = assert_token_response(resp, None).await;
    assert_eq!(claims_of(&tokens.access)["amr"], json!(["pwd", "otp"]));
});

// Requirement: a code is never accepted twice (RFC 6238 §5.2), and the enrolment code cannot log in.
both!(
    a_code_is_never_accepted_twice_and_the_enrolment_code_never_logs_in,
    |app| async move {
        // Arrange
        let u = app.mfa_user().await;
        let enrolment_code = code_at(&u.secret, u.enrolled_step);
        // Act
        let t1 = app.mfa_token(&u.user).await;
        let enrolment = app.mfa_code(&t1, &enrolment_code).await;
        let current = app.code(&u.secret, 0);
        let first = app.mfa_code(&t1, &current).await;
        let t2 = app.mfa_token(&u.user).await;
        let replay = app.mfa_code(&t2, &current).await;
        // Assert
        assert_problem(enrolment, StatusCode::UNAUTHORIZED, "invalid_otp").await;
        assert_eq!(first.status(), StatusCode::OK);
        assert_problem(replay, StatusCode::UNAUTHORIZED, "invalid_otp").await;
        // An older step is refused too, even if within the window.
        let older = app.mfa_code(&t2, &app.code(&u.secret, -1)).await;
        assert_problem(older, StatusCode::UNAUTHORIZED, "invalid_otp").await;
    }
);

// Requirement: codes of the steps -1 and +1 are accepted, -2 and +2 are not.
both!(the_window_is_one_step_either_side, |app| async move {
    // Arrange: enrolled with step n-1; n and n+1 are free.
    let u = app.mfa_user().await;
    let token = app.mfa_token(&u.user).await;
    // Act / Assert
    for delta in [-2, 2] {
        let resp = app.mfa_code(&token, &app.code(&u.secret, delta)).await;
        assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_otp").await;
    }
    assert_eq!(
        app.mfa_code(&token, &app.code(&u.secret, 1)).await.status(),
        StatusCode::OK
    );
    // Three steps later (now n+3), the code of the previous step (n+2, above the last used
    // n+1) is accepted.
    app.clock.advance(90);
    let token = app.mfa_token(&u.user).await;
    assert_eq!(
        app.mfa_code(&token, &app.code(&u.secret, -1))
            .await
            .status(),
        StatusCode::OK
    );
});

// Requirement: two parallel submissions of one code (two logins) give exactly one success.
both!(
    parallel_submissions_of_one_code_succeed_once,
    |app| async move {
        // Arrange
        let u = app.mfa_user().await;
        let mut tokens = Vec::new();
        for _ in 0..6 {
            tokens.push(app.mfa_token(&u.user).await);
        }
        let code = app.code(&u.secret, 0);
        // Act
        let answers = futures_join(&app, &tokens, &code).await;
        // Assert
        let ok = answers.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 1, "{answers:?}");
        assert!(
            answers
                .iter()
                .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED)
        );
    }
);

async fn futures_join(app: &TestApp, tokens: &[String], code: &str) -> Vec<StatusCode> {
    let handles: Vec<_> = tokens
        .iter()
        .map(|t| {
            let (client, url) = (app.client.clone(), app.url("/auth/mfa"));
            let body = json!({"mfa_token": t, "code": code});
            tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap().status() })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

// Requirement: an mfa_token takes at most 5 attempts, then dies (even for the right code); it also dies after 5 minutes.
both!(
    an_mfa_token_takes_five_attempts_and_five_minutes,
    |app| async move {
        // Arrange
        let u = app.mfa_user().await;
        let token = app.mfa_token(&u.user).await;
        // Act
        for _ in 0..5 {
            let resp = app.mfa_code(&token, "000000").await;
            assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_otp").await;
        }
        let sixth = app.mfa_code(&token, &app.code(&u.secret, 0)).await;
        // Assert
        assert_problem(sixth, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
        let late = app.mfa_token(&u.user).await;
        app.clock.advance(301);
        let resp = app.mfa_code(&late, &app.code(&u.secret, 0)).await;
        assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    }
);

// Requirement: POST /auth/mfa refuses bodies without exactly one answer with 422, and garbage tokens with 401.
both!(the_mfa_step_refuses_bad_input_with_4xx, |app| async move {
    let u = app.mfa_user().await;
    let token = app.mfa_token(&u.user).await;
    let both_answers = json!({"mfa_token": token, "code": "123456", "recovery_code": "x"});
    assert_validation_failed(app.post("/auth/mfa", None, both_answers).await).await;
    assert_validation_failed(
        app.post("/auth/mfa", None, json!({"mfa_token": token}))
            .await,
    )
    .await;
    for bad in ["", "x", &"a".repeat(5000), "\0"] {
        let resp = app.mfa_code(bad, "123456").await;
        assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    }
    for bad in ["12345", "1234567", "abcdef", "", "12 34 5x"] {
        let resp = app.mfa_code(&token, bad).await;
        assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_otp").await;
    }
});
