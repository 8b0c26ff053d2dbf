//! F4: logins that race a password change or a deactivation. The window is a few milliseconds
//! wide (a login reads the hash, verifies it, then opens a session), so these tests keep many
//! logins in flight while the change lands, over HTTP, and check the promises whatever the
//! interleaving: once the change has answered, the old state never yields a token, no token
//! from a racing login outlives the change, and nothing answers 5xx.
//!
//! The store guards behind this (the password-hash compare on session creation and on the
//! bcrypt upgrade) are also tested directly, on both backends, by the store contract suite.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::legacy_hashes::{bcrypt_user, stored_hash};
use crate::support::*;

/// Logins kept in flight at once.
const WIDTH: usize = 8;

/// One racing login: whether it was sent after the change had answered, and what it got.
struct Attempt {
    after_change: bool,
    status: StatusCode,
    tokens: Option<Tokens>,
}

/// Keep `WIDTH` logins with `body` in flight and run `change` among them (once the first login
/// has succeeded if `after_first_token`, else at once); stop each worker after two logins sent
/// after the change answered. Returns every attempt and the change's answer.
async fn logins_racing(
    app: &TestApp,
    body: Value,
    after_first_token: bool,
    change: impl Future<Output = Response>,
) -> (Vec<Attempt>, Response) {
    let changed = Arc::new(AtomicBool::new(false));
    let started = Arc::new(tokio::sync::Notify::new());
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WIDTH {
        let (client, url, body) = (app.client.clone(), app.url("/auth/login"), body.clone());
        let (changed, started) = (changed.clone(), started.clone());
        workers.spawn(async move {
            let (mut attempts, mut after) = (Vec::new(), 0);
            while after < 2 {
                let after_change = changed.load(Ordering::SeqCst);
                let resp = client.post(&url).json(&body).send().await.expect("login");
                let status = resp.status();
                let tokens = if status == StatusCode::OK {
                    Some(Tokens::from_json(&resp.json().await.expect("json")))
                } else {
                    None
                };
                if tokens.is_some() {
                    started.notify_one();
                }
                after += usize::from(after_change);
                attempts.push(Attempt {
                    after_change,
                    status,
                    tokens,
                });
            }
            attempts
        });
    }
    if after_first_token {
        started.notified().await;
    }
    let answer = change.await;
    changed.store(true, Ordering::SeqCst);
    let attempts = workers.join_all().await.into_iter().flatten().collect();
    (attempts, answer)
}

/// The promises every race keeps: no 5xx, only `allowed` statuses, nothing but `refused_after`
/// once the change answered, and every token a racing login got is dead now.
async fn assert_race_outcome(
    app: &TestApp,
    attempts: &[Attempt],
    allowed: &[StatusCode],
    refused_after: &[StatusCode],
) {
    for a in attempts {
        assert!(allowed.contains(&a.status), "racing login: {}", a.status);
        if a.after_change {
            assert!(
                refused_after.contains(&a.status),
                "a login sent after the change answered: {}",
                a.status
            );
        }
        if let Some(tokens) = &a.tokens {
            assert_eq!(
                app.me_status(&tokens.access).await,
                StatusCode::UNAUTHORIZED
            );
            assert_eq!(
                app.refresh(&tokens.refresh).await.status(),
                StatusCode::UNAUTHORIZED,
                "a racing login's session outlived the change"
            );
        }
    }
}

/// `POST /users/me/password`.
async fn change_password(app: &TestApp, access: &str, current: &str, new: &str) -> Response {
    let body = json!({"current_password": current, "new_password": new});
    app.post("/users/me/password", Some(access), body).await
}

const OK_OR_REFUSED: [StatusCode; 2] = [StatusCode::OK, StatusCode::UNAUTHORIZED];

// F4/R16: logins with the old password racing a password change: once the change answered, the
// old password yields no token, and no racing login keeps a session (the hash it checked is
// stale, so its session is refused or ended).
both!(
    logins_racing_a_password_change_never_keep_the_old_password_alive,
    |app| async move {
        // Arrange
        let (mut user, tokens) = app.signed_in_user().await;
        let old = json!({"username": user.email, "password": user.password});
        let new_password = format!("new-{}", user.password);
        // Act
        let change = change_password(&app, &tokens.access, &user.password, &new_password);
        let (attempts, answer) = logins_racing(&app, old, true, change).await;
        // Assert
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(attempts.iter().any(|a| a.tokens.is_some()), "the race ran");
        let fresh = Tokens::from_json(&answer.json().await.unwrap());
        assert_race_outcome(&app, &attempts, &OK_OR_REFUSED, &[StatusCode::UNAUTHORIZED]).await;
        assert_eq!(app.login(&user).await.status(), StatusCode::UNAUTHORIZED);
        user.password = new_password;
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
        assert_eq!(app.me_status(&fresh.access).await, StatusCode::OK);
    }
);

// F4/R16: logins racing a deactivation: once it answered, no login yields a token, and no
// session a racing login opened survives it.
both!(
    logins_racing_a_deactivation_keep_no_session,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (user, tokens) = app.signed_in_user().await;
        let id = app.user_id(&tokens.access).await;
        let body = json!({"username": user.email, "password": user.password});
        // Act
        let path = format!("/admin/users/{id}");
        let off = app.request(
            Method::PATCH,
            &path,
            Some(&admin.access),
            Some(json!({"is_active": false})),
        );
        let (attempts, answer) = logins_racing(&app, body, true, off).await;
        // Assert
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(attempts.iter().any(|a| a.tokens.is_some()), "the race ran");
        let refused = [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN];
        let allowed = [
            StatusCode::OK,
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
        ];
        assert_race_outcome(&app, &attempts, &allowed, &refused).await;
        let after = app.login(&user).await;
        assert_problem(after, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
);

// F4/R16: logins of an imported bcrypt account (each one wanting to upgrade the hash to argon2id)
// racing a password change: no upgrade ever writes a rehash of the old password over the new one.
both!(
    legacy_hash_upgrades_racing_a_password_change_never_revert_it,
    |app| async move {
        // Arrange: a tutorial-era bcrypt user
        let (mut user, id) = bcrypt_user(&app, "tutorial-password").await;
        let old = json!({"username": user.email, "password": user.password});
        // The racing logins need the old password to stay right until the change: sign in first
        // (this upgrades the hash once), then put the bcrypt hash back.
        let tokens = app.login_ok(&user).await;
        let legacy = bcrypt::hash(&user.password, 4).unwrap();
        let sql = "UPDATE users SET password_hash = $1 WHERE user_id = $2";
        assert_eq!(app.db.execute(sql, &[&legacy, &id.to_string()]).await, 1);
        let new_password = "a changed password".to_owned();
        // Act: the change starts with the first wave, while every login still wants to upgrade
        let change = change_password(&app, &tokens.access, &user.password, &new_password);
        let (attempts, answer) = logins_racing(&app, old, false, change).await;
        // Assert
        assert_eq!(answer.status(), StatusCode::OK);
        assert_race_outcome(&app, &attempts, &OK_OR_REFUSED, &[StatusCode::UNAUTHORIZED]).await;
        assert!(stored_hash(&app, id).await.starts_with("$argon2id$"));
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::UNAUTHORIZED,
            "the old password is gone for good"
        );
        user.password = new_password;
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
    }
);
