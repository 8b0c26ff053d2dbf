//! Accounts imported without a usable password (`authgate import`: none in the source, or a
//! format authgate cannot check): they never log in, and trying costs what a wrong password does.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

/// The marker the import stores for such an account (`hashing::NO_PASSWORD`; a unit test there
/// keeps this literal in step).
const NO_PASSWORD: &str = "!no-password: reset required";

/// Rounds per timing comparison, as in `attacks_enumeration`.
const ROUNDS: usize = 15;

/// A registered user whose hash is then replaced by the marker, as the import leaves it (SQL:
/// no API stores a hash it did not make).
async fn user_without_password(app: &TestApp) -> TestUser {
    let user = TestUser::generate();
    let created: Value = app.register(&user).await.json().await.unwrap();
    let id = Uuid::parse_str(created["id"].as_str().expect("id")).unwrap();
    let sql = "UPDATE users SET password_hash = $1 WHERE user_id = $2";
    let changed = app.db.execute(sql, &[NO_PASSWORD, &id.to_string()]).await;
    assert_eq!(changed, 1, "plant the marker");
    user
}

// Requirement: an imported account without a usable password never logs in until it is reset (not with its old password, the marker itself or an empty one).
both!(
    an_account_without_a_usable_password_never_logs_in,
    |app| async move {
        // Arrange
        let user = user_without_password(&app).await;
        // Act / Assert
        for password in [user.password.as_str(), NO_PASSWORD, ""] {
            let status = login_status(&app, &user.email, password).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{password:?}");
        }
    }
);

// Requirement: trying to log in to an account without a usable password takes as long as a wrong password for an ordinary account (medians within the enumeration tests' 2×).
both!(
    an_account_without_a_password_costs_what_a_wrong_password_costs,
    |app| async move {
        // Arrange
        let (ordinary, _) = app.signed_in_user().await;
        let marked = user_without_password(&app).await;
        // Act
        let (wrong, no_password) = paired_medians(
            ROUNDS,
            || login_status(&app, &ordinary.email, "wrong password 1"),
            || login_status(&app, &marked.email, "wrong password 1"),
        )
        .await;
        // Assert
        assert_similar_timing("/auth/login (no password)", wrong, no_password);
    }
);
