//! F4: writes that race a password change or a deactivation. The races are a few milliseconds
//! wide, so these tests drive the store guards that close them directly.

use authgate::service::UserChanges;
use authgate::store::NewSession;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::both;
use crate::helpers::*;

fn session_for(user: Uuid, password_hash: &str, now: i64) -> NewSession {
    NewSession {
        id: Uuid::now_v7(),
        user_id: user,
        created_at: now,
        expires_at: now + 3600,
        idle_ttl: 3600,
        remember_me: false,
        user_agent: None,
        ip: None,
        password_hash: password_hash.to_owned(),
    }
}

// F4/R16: a login whose password check raced a password change or a deactivation opens no session.
both!(
    a_login_checked_against_a_stale_password_opens_no_session,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let id = Uuid::parse_str(&app.user_id(&tokens.access).await).unwrap();
        let store = app.state.store().unwrap().clone();
        let current = store.user_by_id(id).await.unwrap().unwrap().password_hash;
        let now = app.clock.now();
        // Act + Assert: the hash the login saw is no longer the user's
        assert!(
            !store
                .create_session(&session_for(id, "$argon2id$stale", now), "hash-a")
                .await
                .unwrap()
        );
        // the current hash opens a session
        assert!(
            store
                .create_session(&session_for(id, &current, now), "hash-b")
                .await
                .unwrap()
        );
        // a deactivation that landed in between stops it too
        let off = UserChanges {
            roles: None,
            is_active: Some(false),
        };
        assert!(
            !app.state
                .update_user(id, off, true)
                .await
                .unwrap()
                .is_active
        );
        assert!(
            !store
                .create_session(&session_for(id, &current, now), "hash-c")
                .await
                .unwrap()
        );
    }
);

// F4/R16: upgrading a legacy hash on login never overwrites a password change that landed meanwhile.
both!(
    a_legacy_hash_upgrade_never_reverts_a_password_change,
    |app| async move {
        // Arrange: a tutorial-era bcrypt user
        let user = TestUser::generate();
        let legacy = bcrypt::hash(&user.password, 4).unwrap();
        let id = Uuid::now_v7();
        let store = app.state.store().unwrap().clone();
        store
            .create_user(&authgate::store::NewUser {
                id,
                email: user.email.clone(),
                email_lower: user.email.to_lowercase(),
                username: None,
                username_lower: None,
                password_hash: legacy.clone(),
                roles: vec!["user".into()],
                is_active: true,
                created_at: app.clock.now(),
            })
            .await
            .unwrap();
        // Act: the password changes after a login read the bcrypt hash but before it upgrades it
        store
            .set_password_hash(id, "$argon2id$changed")
            .await
            .unwrap();
        let upgraded = store
            .upgrade_password_hash(id, &legacy, "$argon2id$rehash-of-old")
            .await
            .unwrap();
        // Assert
        assert!(!upgraded);
        assert_eq!(
            store.user_by_id(id).await.unwrap().unwrap().password_hash,
            "$argon2id$changed"
        );
        let login = app
            .post(
                "/auth/login",
                None,
                json!({"username": user.email, "password": user.password}),
            )
            .await;
        assert_eq!(
            login.status(),
            StatusCode::UNAUTHORIZED,
            "the old password is gone for good"
        );
    }
);
