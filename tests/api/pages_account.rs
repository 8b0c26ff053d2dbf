//! The hosted `/account` page (issue 13): profile, password, e-mail, devices with "Sign out"
//! per device and "Sign out everywhere", two-factor enrolment (QR code, recovery codes once).

use reqwest::StatusCode;

use crate::both;
use crate::pages_browser::{Browser, registered};
use crate::support::*;

// Requirement: /account shows the profile with a labelled form for each change, the passkeys
// block, and every form carries the session's CSRF token.
both!(
    the_account_page_shows_the_profile_and_labelled_forms,
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        browser.sign_in(&user).await;
        // Act
        let page = browser.get("/account").await;
        // Assert
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&user.email));
        let forms = page.body.matches("<form ").count();
        let tokens = page.body.matches(r#"name="csrf_token""#).count();
        assert_eq!(forms, tokens, "every form carries the CSRF token");
        for id in [
            "username",
            "pw-current",
            "pw-new",
            "pw-confirm",
            "new-email",
            "email-current",
            "mfa-password",
        ] {
            assert!(
                page.body.contains(&format!(r#"<label for="{id}">"#)),
                "label for {id}"
            );
        }
        assert!(page.body.contains(r#"id="passkeys""#), "the passkeys block");
    }
);

// Requirement: the username can be set from the page.
both!(the_profile_form_sets_the_username, |app| async move {
    // Arrange
    let user = registered(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&user).await;
    // Act
    let saved = browser
        .submit(
            "/account",
            "/account/profile",
            &[("username", "page_name_1")],
        )
        .await;
    let me = app.me(&browser.access_token()).await;
    // Assert
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location().as_deref(), Some("/account?done=profile"));
    assert_eq!(me["username"], "page_name_1");
});

// Requirement: changing the password needs the current one (a wrong one: 401 with the form
// again), ends the other sessions and keeps this browser signed in with a new session.
both!(
    changing_the_password_ends_other_sessions,
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let other = app.login_ok(&user).await;
        let mut browser = Browser::new(&app);
        browser.sign_in(&user).await;
        let new = "a brand new passphrase 42";
        // Act
        let wrong = browser
            .submit(
                "/account",
                "/account/password",
                &[
                    ("current_password", "not it at all"),
                    ("new_password", new),
                    ("confirm_password", new),
                ],
            )
            .await;
        let changed = browser
            .submit(
                "/account",
                "/account/password",
                &[
                    ("current_password", &user.password),
                    ("new_password", new),
                    ("confirm_password", new),
                ],
            )
            .await;
        let page = browser.get("/account").await;
        // Assert
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains(r#"role="alert""#));
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(app.me_status(&other.access).await, StatusCode::UNAUTHORIZED);
        let relogin = TestUser {
            password: new.to_owned(),
            ..user
        };
        assert_eq!(app.login(&relogin).await.status(), StatusCode::OK);
    }
);

// Requirement: a device (session) can be signed out from the page, and "Sign out everywhere"
// ends every session, this browser's included.
both!(
    devices_can_be_signed_out_one_by_one_or_all,
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let other = app.login_ok(&user).await;
        let other_sid = claims_of(&other.access)["sid"].as_str().unwrap().to_owned();
        let mut browser = Browser::new(&app);
        browser.sign_in(&user).await;
        let third = app.login_ok(&user).await;
        // Act
        let listed = browser.get("/account").await;
        let one = browser
            .submit(
                "/account",
                "/account/sessions/end",
                &[("session_id", &other_sid)],
            )
            .await;
        let after_one = app.me_status(&other.access).await;
        let still = browser.get("/account").await;
        let all = browser
            .submit("/account", "/account/sessions/end-all", &[])
            .await;
        let page = browser.get("/account").await;
        // Assert
        assert!(
            listed.body.contains(&other_sid),
            "the other device is listed"
        );
        assert!(listed.body.contains("this device"));
        assert_eq!(one.location().as_deref(), Some("/account?done=session"));
        assert_eq!(after_one, StatusCode::UNAUTHORIZED);
        assert_eq!(still.status, StatusCode::OK);
        assert_eq!(all.location().as_deref(), Some("/signin"));
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(app.me_status(&third.access).await, StatusCode::UNAUTHORIZED);
    }
);

// Requirement: two-factor enrolment on the page shows the QR code (inline SVG) and the key,
// confirms with a code, then shows the recovery codes once; the next sign-in asks for a code.
both!(
    two_factor_enrolment_shows_the_qr_code_and_codes_once,
    |app| async move {
        // Arrange
        app.align_to_step();
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        browser.sign_in(&user).await;
        // Act
        let enrol = browser
            .submit(
                "/account",
                "/account/mfa/totp",
                &[("current_password", &user.password)],
            )
            .await;
        let secret_start = enrol
            .body
            .find(r#"id="totp-secret">"#)
            .expect("secret shown")
            + r#"id="totp-secret">"#.len();
        let secret =
            &enrol.body[secret_start..secret_start + enrol.body[secret_start..].find('<').unwrap()];
        let secret = base32_decode(secret);
        let csrf = enrol.hidden("csrf_token");
        let confirmed = browser
            .post(
                "/account/mfa/totp/confirm",
                &[("csrf_token", &csrf), ("code", &app.code(&secret, -1))],
            )
            .await;
        let account = browser.get("/account").await;
        let mut fresh = Browser::new(&app);
        let next = fresh
            .submit(
                "/signin",
                "/signin",
                &[("login", &user.email), ("password", &user.password)],
            )
            .await;
        // Assert
        assert_eq!(enrol.status, StatusCode::OK, "{}", enrol.body);
        assert!(enrol.body.contains("<svg"), "the QR code, inline");
        assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
        assert_eq!(
            confirmed.body.matches("<li><code>").count(),
            10,
            "ten recovery codes"
        );
        assert!(
            !account
                .body
                .contains(&enrol.body[secret_start..secret_start + 8]),
            "the key is not shown again"
        );
        assert!(account.body.contains("recovery codes left"));
        assert_eq!(
            claims_of(&browser.access_token())["aal"],
            2,
            "this session passed the factor"
        );
        assert_eq!(next.status, StatusCode::OK);
        assert!(
            next.body.contains(r#"name="mfa_token""#),
            "the next sign-in asks for the code"
        );
    }
);

// Requirement: changing the e-mail on the page mails a confirmation link to the new address
// (the change applies when it is opened).
both!(
    changing_the_email_sends_a_link_to_the_new_address,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        browser.sign_in(&user).await;
        let new_email = format!("new-{}", user.email);
        // Act
        let sent = browser
            .submit(
                "/account",
                "/account/email",
                &[
                    ("new_email", &new_email),
                    ("current_password", &user.password),
                ],
            )
            .await;
        let mails = INBOX.wait_for(&new_email, 1).await;
        // Assert
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        assert_eq!(sent.location().as_deref(), Some("/account?done=email"));
        assert_eq!(mails.len(), 1);
    }
);
