//! Issue 12: private signing keys and the refresh rotation key are sealed at rest (AEAD) under a
//! key-encryption key that is not in the database; plaintext rows from before are sealed on the
//! first start with a KEK, and a database without its KEK does not start.

use authgate::{Application, Clock};
use reqwest::StatusCode;

use crate::both;
use crate::support::*;

/// A KEK for tests (64 hex digits); and another one.
const KEK: &str = "4b1c0e6d3f2a59788a9b0c1d2e3f405162738495a6b7c8d9eaf0011223344556";
const OTHER_KEK: &str = "0000000000000000000000000000000000000000000000000000000000000001";

/// Every stored private key, and the stored rotation key, as the database holds them.
async fn stored_secrets(app: &TestApp) -> (String, String) {
    let key = app
        .db
        .fetch_text(
            "SELECT private_der FROM signing_keys ORDER BY created_at DESC",
            &[],
        )
        .await
        .expect("a signing key");
    let rotation = app
        .db
        .fetch_text(
            "SELECT value FROM server_secrets WHERE name = 'refresh-rotation-key'",
            &[],
        )
        .await
        .expect("the rotation key");
    (key, rotation)
}

/// Settings for another start on `app`'s database with `kek` (or none).
fn with_kek(app: &TestApp, kek: Option<&str>) -> authgate::Settings {
    let mut extra = vec![];
    if let Some(kek) = kek {
        extra.extend(["--kek", kek]);
    }
    test_settings(&app.db, &extra)
}

// Requirement: issue 12 — a copy of the database alone no longer mints tokens: the private key
// and the refresh rotation key are stored sealed (`sealed:v1:<kek id>:…`), and tokens signed
// with them work as before (login, protected request, refresh).
both!(
    private_keys_and_the_rotation_key_are_sealed_at_rest,
    &["--kek", KEK],
    |app| async move {
        // Arrange / Act
        let (_, tokens) = app.signed_in_user().await;
        // Assert: stored sealed, never the plaintext form (base64 DER)
        let (key, rotation) = stored_secrets(&app).await;
        assert!(
            key.starts_with("sealed:v1:"),
            "private key stored as {key:.12}…"
        );
        assert!(
            rotation.starts_with("sealed:v1:"),
            "rotation key {rotation:.12}…"
        );
        assert_eq!(
            key.split(':').nth(2),
            rotation.split(':').nth(2),
            "both name the same KEK id"
        );
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
        assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);
    }
);

// Requirement: issue 12 — the database without its KEK cannot sign: a start with another KEK,
// or (on PostgreSQL) with none, fails with a message naming the KEK to set, not a panic, and
// the stored keys are left as they were.
both!(
    a_start_without_the_right_kek_fails_and_says_which,
    &["--kek", KEK],
    |app| async move {
        // Arrange
        let before = stored_secrets(&app).await;
        let mut attempts = vec![with_kek(&app, Some(OTHER_KEK))];
        if app.db.backend == Backend::Postgres {
            attempts.push(with_kek(&app, None));
        }
        for settings in attempts {
            // Act
            let err = Application::build_with_clock(settings, Clock::default())
                .await
                .err()
                .expect("refused to start");
            // Assert
            let text = format!("{err:#}");
            assert!(text.contains("key-encryption key"), "{text}");
            assert!(text.contains("AUTHGATE_KEK"), "names the setting: {text}");
        }
        assert_eq!(stored_secrets(&app).await, before, "nothing rewritten");
    }
);

// Requirement: issue 12 — the migration path: keys stored in plaintext (PostgreSQL without a
// KEK, as before this change) are sealed in place on the first start with a KEK; the same key
// keeps signing, so tokens and refresh tokens issued before stay valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_keys_are_sealed_on_the_first_start_with_a_kek() {
    if postgres_or_skip().is_none() {
        return;
    }
    // Arrange: a server without a KEK, with a signed-in user
    let app = spawn_app(Backend::Postgres).await;
    let (_, tokens) = app.signed_in_user().await;
    let (plain_key, plain_rotation) = stored_secrets(&app).await;
    assert!(!plain_key.starts_with("sealed:") && !plain_rotation.starts_with("sealed:"));

    // Act: start an instance with a KEK on the same database
    let sealed = app.peer_with(with_kek(&app, Some(KEK))).await;

    // Assert: sealed in place, and the old tokens still work on the new instance
    let (key, rotation) = stored_secrets(&app).await;
    assert!(key.starts_with("sealed:v1:"), "{key:.12}…");
    assert!(rotation.starts_with("sealed:v1:"), "{rotation:.12}…");
    let me = sealed
        .client
        .get(format!("{}/users/me", sealed.address))
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK, "the same signing key");
    let refreshed = sealed
        .client
        .post(format!("{}/auth/refresh", sealed.address))
        .json(&serde_json::json!({"refresh_token": tokens.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK, "the same rotation key");
    // a second start with the KEK reads the sealed rows
    let again = app.peer_with(with_kek(&app, Some(KEK))).await;
    assert!(!again.address.is_empty());
    assert_eq!(stored_secrets(&app).await, (key, rotation), "sealed once");
}

// Requirement: issue 12 — the embedded default needs no setting: on SQLite without a KEK one is
// generated into the data directory, readable by its owner only, and used on the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_generates_a_private_kek_file_in_the_data_dir() {
    // Arrange / Act
    let app = spawn_app(Backend::Sqlite).await;
    let (_, tokens) = app.signed_in_user().await;
    // Assert
    let path = app.settings.data_dir.join("kek");
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(&path)
            .expect("kek file")
            .permissions()
            .mode()
    };
    assert_eq!(mode & 0o777, 0o600, "owner read/write only");
    let (key, _) = stored_secrets(&app).await;
    assert!(key.starts_with("sealed:v1:"));
    let again = app.peer().await;
    let me = again
        .client
        .get(format!("{}/users/me", again.address))
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "the next start opens the same key"
    );
}
