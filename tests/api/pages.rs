//! authgate's own pages for mailed links (issue #10): `/reset-password` and `/verify-email`.
//! The browser run (tests/browser/recovery.mjs) drives them in Chromium; these check the HTTP
//! contract on both databases: a GET spends nothing, headers, the form's answers.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;

fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

async fn html(resp: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(resp.status(), status);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    resp.text().await.unwrap()
}

// Requirement: opening a reset link (a GET, as mail scanners do, any number of times) shows the
// labelled form and spends nothing; the page is no-store, sends no referrer, and its CSP allows
// no script and posts only to this origin.
both!(
    opening_a_reset_link_spends_nothing,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (user, _) = app.signed_in_user().await;
        app.forgot(&user.email).await;
        let token = reset_token(&user.email, 1).await;
        // Act
        let mut pages = Vec::new();
        for _ in 0..3 {
            pages.push(
                app.client
                    .get(app.url(&format!("/reset-password?token={token}")))
                    .send()
                    .await
                    .unwrap(),
            );
        }
        let last = pages.pop().unwrap();
        let headers = last.headers().clone();
        let page = html(last, StatusCode::OK).await;
        let reset = app.reset_password(&token, "a fresh passphrase 77").await;
        // Assert
        assert_eq!(
            reset.status(),
            StatusCode::NO_CONTENT,
            "still unused after 3 GETs"
        );
        assert!(page.contains(r#"<label for="new_password">New password</label>"#));
        assert!(page.contains(r#"<label for="confirm_password">Confirm password</label>"#));
        assert!(page.contains(&format!(r#"name="token" value="{token}""#)));
        assert!(!page.contains("<script"), "works without JavaScript");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(csp.contains("form-action 'self'") && csp.contains("style-src 'sha256-"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"));
    }
);

// Requirement: the reset form sets the password (200 page), and every session ends; the same
// form again is a 400 page saying the link is used; the new password signs in.
both!(
    the_reset_form_changes_the_password_once,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        app.forgot(&user.email).await;
        let token = reset_token(&user.email, 1).await;
        let new_password = "the page's new passphrase 5";
        let body = form(&[
            ("token", &token),
            ("new_password", new_password),
            ("confirm_password", new_password),
        ]);
        // Act
        let done = html(
            app.post_form("/reset-password", &body).await,
            StatusCode::OK,
        )
        .await;
        let again = html(
            app.post_form("/reset-password", &body).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        // Assert
        assert!(done.contains("has been changed"), "{done}");
        assert!(
            again.contains("invalid, already used or expired"),
            "{again}"
        );
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login_status(&app, &user.email, new_password).await,
            StatusCode::OK
        );
    }
);

// Requirement: the page shows why a password was refused (the two fields differ, or the
// policy's own message) with 422, keeps the token in the form, and spends nothing.
both!(
    the_reset_page_shows_the_policy_error,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (user, _) = app.signed_in_user().await;
        app.forgot(&user.email).await;
        let token = reset_token(&user.email, 1).await;
        // Act
        let mismatch = form(&[
            ("token", &token),
            ("new_password", "one long passphrase 1"),
            ("confirm_password", "another long passphrase 2"),
        ]);
        let mismatch = html(
            app.post_form("/reset-password", &mismatch).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let common = form(&[
            ("token", &token),
            ("new_password", "password123"),
            ("confirm_password", "password123"),
        ]);
        let common = html(
            app.post_form("/reset-password", &common).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let short = form(&[
            ("token", &token),
            ("new_password", "ab1"),
            ("confirm_password", "ab1"),
        ]);
        let short = html(
            app.post_form("/reset-password", &short).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        // Assert
        assert!(mismatch.contains("do not match"), "{mismatch}");
        assert!(common.contains("common or breached"), "{common}");
        assert!(short.contains("at least 8 characters"), "{short}");
        for page in [&mismatch, &common, &short] {
            assert!(page.contains(r#"role="alert""#));
            assert!(
                page.contains(&format!(r#"value="{token}""#)),
                "the form keeps its token"
            );
        }
        let reset = app
            .reset_password(&token, "finally a good passphrase 3")
            .await;
        assert_eq!(
            reset.status(),
            StatusCode::NO_CONTENT,
            "refusals spent nothing"
        );
    }
);

// Requirement: a link without a token, a made-up token, and an unreadable form each get an
// HTML page with a 4xx that says what to do, never a 500.
both!(
    broken_links_and_forms_get_a_page_that_says_what_to_do,
    |app| async move {
        // Act
        let no_token = app
            .client
            .get(app.url("/reset-password"))
            .send()
            .await
            .unwrap();
        let blank = app
            .client
            .get(app.url("/verify-email?token="))
            .send()
            .await
            .unwrap();
        let made_up = form(&[
            ("token", "made-up-token"),
            ("new_password", "a long passphrase 9"),
            ("confirm_password", "a long passphrase 9"),
        ]);
        let made_up = app.post_form("/reset-password", &made_up).await;
        let missing_fields = app.post_form("/reset-password", "token=x").await;
        let wrong_type = app
            .client
            .post(app.url("/verify-email"))
            .header("content-type", "text/plain")
            .body("token=x")
            .send()
            .await
            .unwrap();
        let verify_made_up = app.post_form("/verify-email", "token=made-up").await;
        // Assert
        assert!(
            html(no_token, StatusCode::BAD_REQUEST)
                .await
                .contains("missing its token")
        );
        assert!(
            html(blank, StatusCode::BAD_REQUEST)
                .await
                .contains("missing its token")
        );
        assert!(
            html(made_up, StatusCode::BAD_REQUEST)
                .await
                .contains("invalid, already used or expired")
        );
        assert!(
            html(missing_fields, StatusCode::UNPROCESSABLE_ENTITY)
                .await
                .contains("could not be read")
        );
        assert!(
            html(wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .await
                .contains("could not be read")
        );
        assert!(
            html(verify_made_up, StatusCode::BAD_REQUEST)
                .await
                .contains("invalid, already used or expired")
        );
    }
);

// Requirement: opening a verification link shows a button and spends nothing; pressing it
// confirms the address (200 page naming it) and /users/me says email_verified.
both!(
    the_verify_page_confirms_on_the_button_only,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let token = verify_token(&user.email, 1).await;
        // Act
        let page = app
            .client
            .get(app.url(&format!("/verify-email?token={token}")))
            .send()
            .await
            .unwrap();
        let page = html(page, StatusCode::OK).await;
        let tokens = app.login_ok(&user).await;
        let before = app.me(&tokens.access).await["email_verified"].clone();
        let done = app
            .post_form("/verify-email", &form(&[("token", &token)]))
            .await;
        let done = html(done, StatusCode::OK).await;
        // Assert
        assert!(page.contains("Confirm e-mail address"), "{page}");
        assert_eq!(before, false, "the GET confirmed nothing");
        assert!(done.contains("is confirmed"), "{done}");
        assert!(done.contains(&user.email.to_lowercase()) || done.contains(&user.email));
        assert_eq!(app.me(&tokens.access).await["email_verified"], true);
    }
);

// Requirement: what a page puts in HTML is escaped: a token with markup in it comes back inert;
// a link whose token is cut or altered is told so before anyone types a password.
both!(page_values_are_html_escaped, |app| async move {
    // Act
    let hostile = r#""><script>alert(1)</script>"#;
    let body = form(&[
        ("token", hostile),
        ("new_password", "one long passphrase 1"),
        ("confirm_password", "another long passphrase 2"),
    ]);
    let page = html(
        app.post_form("/reset-password", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let cut = app
        .client
        .get(app.url("/reset-password?token=abcDEF123_-"))
        .send()
        .await
        .unwrap();
    let markup = app
        .client
        .get(app.url("/verify-email?token=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
        .send()
        .await
        .unwrap();
    // Assert
    assert!(!page.contains("<script>alert(1)</script>"), "{page}");
    assert!(
        page.contains("&lt;script&gt;") || page.contains("&#x3c;script"),
        "{page}"
    );
    assert!(
        html(cut, StatusCode::BAD_REQUEST)
            .await
            .contains("cut short")
    );
    assert!(
        html(markup, StatusCode::BAD_REQUEST)
            .await
            .contains("cut short")
    );
});
