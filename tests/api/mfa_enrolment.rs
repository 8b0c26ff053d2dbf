//! Issue #11, enrolment: `POST /users/me/mfa/totp`, `…/confirm`, `…/recovery-codes`,
//! `DELETE …/totp`, the `mfa` member of `GET /users/me`. Codes come from the test's own
//! RFC 6238 implementation (support/totp.rs), never from authgate's.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

// Requirement: enrolment needs the current password and returns a 160-bit secret, the otpauth URI (SHA-1, 6 digits, 30 s, issuer, e-mail) and an SVG QR code; the factor stays off until confirmed.
both!(
    enrolment_returns_the_secret_uri_and_qr_and_stays_pending,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        // Act
        let wrong = app
            .post(
                "/users/me/mfa/totp",
                Some(&tokens.access),
                json!({"current_password": "nope"}),
            )
            .await;
        let (secret, body) = app.enrol(&tokens.access, &user.password).await;
        // Assert
        assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert_eq!(secret.len(), 20, "160 bits");
        let uri = body["otpauth_uri"].as_str().unwrap();
        assert!(uri.starts_with("otpauth://totp/authgate:"), "{uri}");
        for part in ["algorithm=SHA1", "digits=6", "period=30", "issuer=authgate"] {
            assert!(uri.contains(part), "{part} in {uri}");
        }
        assert!(uri.contains(&user.email.replace('@', "%40")), "{uri}");
        assert!(
            body["qr_svg"].as_str().unwrap().contains("<svg"),
            "an SVG QR code"
        );
        let me = app.me(&tokens.access).await;
        assert_eq!(me["mfa"], json!({"totp": false, "recovery_codes_left": 0}));
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::OK,
            "pending: not asked at login"
        );
    }
);

// Requirement: AUTHGATE_ISSUER_NAME names the issuer in the otpauth URI.
both!(
    the_issuer_name_is_configurable,
    &["--issuer-name", "Acme Corp"],
    |app| async move {
        let (user, tokens) = app.signed_in_user().await;
        let (_, body) = app.enrol(&tokens.access, &user.password).await;
        let uri = body["otpauth_uri"].as_str().unwrap();
        assert!(uri.starts_with("otpauth://totp/Acme%20Corp:"), "{uri}");
        assert!(uri.contains("issuer=Acme%20Corp"), "{uri}");
    }
);

// Requirement: confirming with a code turns the factor on, shows 10 recovery codes once, ends the other sessions and upgrades the caller's (amr pwd+otp).
both!(
    confirmation_turns_it_on_ends_other_sessions_and_upgrades_the_caller,
    |app| async move {
        // Arrange
        app.align_to_step();
        let (user, tokens) = app.signed_in_user().await;
        let other = app.login_ok(&user).await;
        let (secret, _) = app.enrol(&tokens.access, &user.password).await;
        // Act
        let wrong = app
            .post(
                "/users/me/mfa/totp/confirm",
                Some(&tokens.access),
                json!({"code": "000000"}),
            )
            .await;
        let resp = app
            .post(
                "/users/me/mfa/totp/confirm",
                Some(&tokens.access),
                json!({"code": app.code(&secret, 0)}),
            )
            .await;
        // Assert
        assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_otp").await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
        let body: Value = resp.json().await.unwrap();
        let codes = body["recovery_codes"].as_array().unwrap();
        assert_eq!(codes.len(), 10);
        let access = body["access_token"].as_str().unwrap();
        assert_eq!(claims_of(access)["amr"], json!(["pwd", "otp"]));
        assert_eq!(claims_of(access)["aal"], 2);
        assert_eq!(
            app.me_status(&other.access).await,
            StatusCode::UNAUTHORIZED,
            "other session ended"
        );
        assert_eq!(
            app.refresh(&other.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let me = app.me(access).await;
        assert_eq!(me["mfa"], json!({"totp": true, "recovery_codes_left": 10}));
        assert!(
            !me.to_string().contains(&codes[0].to_string()),
            "codes are shown once"
        );
        let refreshed = app.refresh(&tokens.refresh).await;
        assert_eq!(
            refreshed.status(),
            StatusCode::OK,
            "the caller's session lives on"
        );
        let refreshed = Tokens::from_json(&refreshed.json().await.unwrap());
        assert_eq!(
            claims_of(&refreshed.access)["amr"],
            json!(["pwd", "otp"]),
            "and stays upgraded"
        );
        // A second enrolment is refused while the factor is on.
        let again = app
            .post(
                "/users/me/mfa/totp",
                Some(access),
                json!({"current_password": user.password}),
            )
            .await;
        assert_problem(again, StatusCode::CONFLICT, "conflict").await;
    }
);

// Requirement: new recovery codes need a current code; the old ones die.
both!(
    regenerated_recovery_codes_replace_the_old_ones,
    |app| async move {
        // Arrange
        let u = app.mfa_user().await;
        // Act
        let resp = app
            .post(
                "/users/me/mfa/recovery-codes",
                Some(&u.tokens.access),
                json!({"code": app.code(&u.secret, 0)}),
            )
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        let fresh: Vec<String> = body["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(fresh.len(), 10);
        let token = app.mfa_token(&u.user).await;
        let old = app.mfa_recovery(&token, &u.recovery_codes[0]).await;
        assert_problem(old, StatusCode::UNAUTHORIZED, "invalid_otp").await;
        assert_eq!(
            app.mfa_recovery(&token, &fresh[0]).await.status(),
            StatusCode::OK
        );
    }
);

// Requirement: turning it off needs the password and a code (a recovery code may stand in); then logins are password-only again.
both!(turning_it_off_needs_password_and_code, |app| async move {
    // Arrange
    let u = app.mfa_user().await;
    let access = u.tokens.access.clone();
    // Act
    let no_password = app
        .delete_json(
            "/users/me/mfa/totp",
            Some(&access),
            json!({"current_password": "wrong", "code": u.recovery_codes[0]}),
        )
        .await;
    let no_code = app
        .delete_json(
            "/users/me/mfa/totp",
            Some(&access),
            json!({"current_password": u.user.password, "code": "123456"}),
        )
        .await;
    let off = app
        .delete_json(
            "/users/me/mfa/totp",
            Some(&access),
            json!({"current_password": u.user.password, "code": u.recovery_codes[0]}),
        )
        .await;
    // Assert
    assert_problem(no_password, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_problem(no_code, StatusCode::UNAUTHORIZED, "invalid_otp").await;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);
    let tokens = app.login_ok(&u.user).await;
    assert_eq!(claims_of(&tokens.access)["amr"], json!(["pwd"]));
    assert_eq!(app.me(&tokens.access).await["mfa"]["totp"], false);
});

// Requirement: the TOTP secret is never returned after enrolment and is not stored in the clear.
both!(
    the_secret_is_sealed_at_rest_and_never_shown_again,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        let (secret, body) = app.enrol(&tokens.access, &user.password).await;
        let base32 = body["secret"].as_str().unwrap().to_owned();
        // Act
        let me = app.me(&tokens.access).await.to_string();
        // Assert
        assert!(!me.contains(&base32));
        let id = app.user_id(&tokens.access).await;
        let sql = "SELECT secret_sealed FROM mfa_factors WHERE user_id = $1";
        let sealed = app
            .db
            .fetch_text(sql, &[&id])
            .await
            .expect("a pending factor");
        assert!(
            sealed.starts_with("v1.k1."),
            "sealed, with its key id: {sealed}"
        );
        assert!(!sealed.contains(&base32));
        let key_sql = "SELECT key_id FROM mfa_factors WHERE user_id = $1";
        assert_eq!(
            app.db.fetch_text(key_sql, &[&id]).await.as_deref(),
            Some("k1")
        );
        let _ = secret;
        let codes_sql = "SELECT code_hash FROM mfa_recovery_codes WHERE user_id = $1";
        assert_eq!(
            app.db.fetch_text(codes_sql, &[&id]).await,
            None,
            "no codes before confirmation"
        );
    }
);
