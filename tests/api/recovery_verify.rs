//! E-mail verification (issue #10): the link mailed at registration, the `email_verified`
//! claim, AUTHGATE_REQUIRE_VERIFIED_EMAIL, and changing the address.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

// Requirement: registration mails a verification link; confirming it (once) marks the account
// verified in GET /users/me and in the `email_verified` claim of new access tokens.
both!(
    registration_mails_a_link_that_verifies_the_address,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (user, before) = app.signed_in_user().await;
        assert_eq!(app.me(&before.access).await["email_verified"], json!(false));
        assert_eq!(claims_of(&before.access)["email_verified"], json!(false));
        let token = verify_token(&user.email, 1).await;
        // Act
        let resp = app.verify_email(&token).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            (body["email"].as_str(), &body["email_verified"]),
            (Some(user.email.as_str()), &json!(true))
        );
        let again = app.verify_email(&token).await;
        assert_problem(again, StatusCode::BAD_REQUEST, "invalid_token").await;
        let after = app.login_ok(&user).await;
        assert_eq!(app.me(&after.access).await["email_verified"], json!(true));
        assert_eq!(claims_of(&after.access)["email_verified"], json!(true));
    }
);

// Requirement: verify-email/request always answers 202 and mails a new link only to an
// unverified account; the new link voids the one from registration.
both!(
    a_new_verification_link_voids_the_first,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (user, _) = app.signed_in_user().await;
        let first = verify_token(&user.email, 1).await;
        // Act
        let resp = app
            .post(
                "/auth/verify-email/request",
                None,
                json!({"email": user.email}),
            )
            .await;
        let unknown = app
            .post(
                "/auth/verify-email/request",
                None,
                json!({"email": TestUser::generate().email}),
            )
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        assert_eq!(unknown.status(), StatusCode::ACCEPTED);
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            unknown.json::<Value>().await.unwrap()
        );
        let second = verify_token(&user.email, 2).await;
        assert_problem(
            app.verify_email(&first).await,
            StatusCode::BAD_REQUEST,
            "invalid_token",
        )
        .await;
        assert_eq!(app.verify_email(&second).await.status(), StatusCode::OK);
    }
);

// Requirement: with AUTHGATE_REQUIRE_VERIFIED_EMAIL an unverified account's correct password
// gets 403 email_not_verified (a wrong one still 401), and it logs in once verified.
both!(
    require_verified_email_refuses_unverified_logins_after_the_password,
    &[WITH_MAIL, "--require-verified-email"],
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        // Act
        let unverified = app.login(&user).await;
        let wrong = login_status(&app, &user.email, "not the password").await;
        let token = verify_token(&user.email, 1).await;
        assert_eq!(app.verify_email(&token).await.status(), StatusCode::OK);
        // Assert
        assert_problem(unverified, StatusCode::FORBIDDEN, "email_not_verified").await;
        assert_eq!(wrong, StatusCode::UNAUTHORIZED);
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
    }
);

// Requirement: with AUTHGATE_REQUIRE_VERIFIED_EMAIL, registering a taken address answers the
// same 201 shape as a new one, creates nothing, and mails the owner a notice instead.
both!(
    require_verified_email_hides_taken_addresses_at_registration,
    &[WITH_MAIL, "--require-verified-email"],
    |app| async move {
        // Arrange
        let owner = TestUser::generate();
        assert_eq!(app.register(&owner).await.status(), StatusCode::CREATED);
        let intruder = TestUser {
            email: owner.email.to_uppercase(),
            ..TestUser::generate()
        };
        // Act
        let taken = app.register(&intruder).await;
        let fresh = app.register(&TestUser::generate()).await;
        // Assert
        assert_eq!(
            (taken.status(), fresh.status()),
            (StatusCode::CREATED, StatusCode::CREATED)
        );
        let (taken, fresh): (Value, Value) =
            (taken.json().await.unwrap(), fresh.json().await.unwrap());
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&taken), keys(&fresh));
        assert_eq!(taken["email_verified"], json!(false));
        let notice = wait_for_mails_with(&owner.email, "tried to create", 1).await;
        assert!(mail_text(&notice[0].raw).contains("/auth/password/forgot"));
        assert_eq!(
            login_status(&app, &owner.email, &intruder.password).await,
            StatusCode::UNAUTHORIZED
        );
    }
);

// Requirement: without AUTHGATE_REQUIRE_VERIFIED_EMAIL a taken address is still 409 (the
// default stays as it was).
both!(
    without_the_setting_a_taken_address_is_409,
    |app| async move {
        // Arrange
        let (user, _) = app.signed_in_user().await;
        // Act
        let resp = app
            .register(&TestUser {
                email: user.email.clone(),
                ..TestUser::generate()
            })
            .await;
        // Assert
        assert_problem(resp, StatusCode::CONFLICT, "conflict").await;
    }
);

// Requirement: POST /users/me/email needs the current password, mails a link to the new
// address and a notice to the old one, and changes the address only when the link is used.
both!(
    an_email_change_takes_effect_when_the_new_address_confirms,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        let new_email = TestUser::generate().email;
        let change = |password: String| {
            let body = json!({"new_email": new_email, "current_password": password});
            app.post("/users/me/email", Some(&tokens.access), body)
        };
        // Act
        let wrong = change("not my password".into()).await;
        let resp = change(user.password.clone()).await;
        // Assert
        assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"status": "accepted"})
        );
        let notice = wait_for_mails_with(&user.email, "is about to change", 1).await;
        assert!(mail_text(&notice[0].raw).contains(&new_email));
        assert_eq!(
            app.me(&tokens.access).await["email"],
            json!(user.email),
            "not yet"
        );
        let token = verify_token(&new_email, 1).await;
        let confirmed = app.verify_email(&token).await;
        assert_eq!(confirmed.status(), StatusCode::OK);
        let me = app.me(&tokens.access).await;
        assert_eq!(
            (&me["email"], &me["email_verified"]),
            (&json!(new_email), &json!(true))
        );
        assert_eq!(
            login_status(&app, &new_email, &user.password).await,
            StatusCode::OK
        );
        assert_eq!(
            login_status(&app, &user.email, &user.password).await,
            StatusCode::UNAUTHORIZED
        );
    }
);

// Requirement: if the new address was taken between request and confirmation, confirming is
// 409 and the account keeps its address.
both!(
    an_email_change_to_an_address_taken_meanwhile_is_409,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        let new_email = TestUser::generate().email;
        let body = json!({"new_email": new_email, "current_password": user.password});
        assert_eq!(
            app.post("/users/me/email", Some(&tokens.access), body)
                .await
                .status(),
            StatusCode::ACCEPTED
        );
        let token = verify_token(&new_email, 1).await;
        register_as(&app, &new_email, None).await;
        // Act
        let resp = app.verify_email(&token).await;
        // Assert
        assert_problem(resp, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(app.me(&tokens.access).await["email"], json!(user.email));
    }
);
