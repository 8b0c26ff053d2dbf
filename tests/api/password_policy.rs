//! Password policy (issue #3, R19, R20; NIST SP 800-63B §5.1.1.2): a configurable minimum
//! length, up to 128 characters, no composition rules, common and breached passwords refused,
//! and never the account's own e-mail or username; the error names the rule.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn password_error(resp: reqwest::Response, field: &str) -> String {
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    body["errors"][field][0]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} error in {body}"))
        .to_owned()
}

both!(
    /// R20 (ASVS 5.0 6.2.4): common and breached passwords are refused at registration, in any
    /// letter case, with a message that says why.
    common_passwords_are_refused_at_registration,
    |app| async move {
        for common in ["password123", "Password123", "qwertyuiop", "1q2w3e4r5t", "iloveyou2"] {
            let mut user = TestUser::generate();
            user.password = common.to_owned();
            let err = password_error(app.register(&user).await, "password").await;
            assert!(err.contains("common or breached"), "{common}: {err}");
        }
    }
);

both!(
    /// Issue #3: the password may not be the account's e-mail or username (any case).
    the_password_may_not_be_the_email_or_username,
    |app| async move {
        let mut user = TestUser::generate();
        user.password = user.email.to_uppercase();
        let err = password_error(app.register(&user).await, "password").await;
        assert!(err.contains("e-mail address or username"), "{err}");
        let mut user = TestUser::generate();
        user.password = user.username.clone();
        let err = password_error(app.register(&user).await, "password").await;
        assert!(err.contains("e-mail address or username"), "{err}");
    }
);

both!(
    /// R19: the minimum length is configurable (here 12), 64 and 128 characters are accepted,
    /// and there are no composition rules (all lowercase letters and spaces is fine).
    the_minimum_length_is_configurable_and_long_passphrases_work,
    &["--min-password-length", "12"],
    |app| async move {
        let mut short = TestUser::generate();
        short.password = "elevenchars".to_owned();
        let err = password_error(app.register(&short).await, "password").await;
        assert!(err.contains("at least 12"), "{err}");
        for password in [
            "plain lowercase words".to_owned(),
            "x7".repeat(32),
            "ü".repeat(128),
        ] {
            let mut user = TestUser::generate();
            user.password = password;
            assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
            assert_eq!(app.login(&user).await.status(), StatusCode::OK);
        }
    }
);

both!(
    /// R19, R20: the same rules apply to a password change (`new_password`), and a rejected
    /// change leaves the old password working.
    a_password_change_meets_the_same_policy,
    |app| async move {
        let (user, tokens) = app.signed_in_user().await;
        for (new, rule) in [
            ("sunshine1".to_owned(), "common or breached"),
            (user.email.clone(), "e-mail address or username"),
            ("short".to_owned(), "at least 8"),
        ] {
            let body = json!({"current_password": user.password, "new_password": new});
            let resp = app
                .post("/users/me/password", Some(&tokens.access), body)
                .await;
            let err = password_error(resp, "new_password").await;
            assert!(err.contains(rule), "{new}: {err}");
        }
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
    }
);
