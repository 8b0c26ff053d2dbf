//! Account lockout (issue #3, R22, R23, R26, F21): failures are counted per account before the
//! password is checked, in the database, on every way in; a locked account gets no token even
//! with the right password; unknown accounts lock exactly like known ones; an admin can unlock.

use crate::both;
use crate::support::*;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const LOCK_AFTER_3: &[&str] = &["--lockout-threshold", "3", "--lockout-duration", "1m"];

async fn login_as(app: &TestApp, login: &str, password: &str) -> Response {
    app.post(
        "/auth/login",
        None,
        json!({"username": login, "password": password}),
    )
    .await
}

fn retry_after(resp: &Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a numeric Retry-After")
}

/// Status, Retry-After and body: everything a client can compare.
async fn observed(resp: Response) -> (StatusCode, Option<String>, Value) {
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

both!(
    /// R22 (NIST 800-63B §5.2.2): after the threshold of consecutive failures the account is
    /// locked: 429 with Retry-After even for the right password, until the lock expires.
    a_locked_account_gets_no_token_even_with_the_right_password,
    LOCK_AFTER_3,
    |app| async move {
        // Arrange
        let (user, _) = app.signed_in_user().await;
        for _ in 0..3 {
            let resp = login_as(&app, &user.email, "wrong password 1").await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
        // Act
        let locked = login_as(&app, &user.email, &user.password).await;
        // Assert
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait = retry_after(&locked);
        assert!((50..=60).contains(&wait), "Retry-After {wait}");
        let body: Value = locked.json().await.unwrap();
        assert_eq!(body["code"], "too_many_requests");
        assert!(body.get("access_token").is_none());
        // The lock expires by itself.
        app.clock.advance(61);
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
    }
);

both!(
    /// R23 (OWASP Authentication CS): an account that does not exist answers every attempt,
    /// lock included, exactly like one that does: status, body and Retry-After.
    unknown_accounts_lock_and_answer_exactly_like_known_ones,
    LOCK_AFTER_3,
    |app| async move {
        let (user, _) = app.signed_in_user().await;
        let ghost = TestUser::generate();
        for attempt in 0..5 {
            let known = observed(login_as(&app, &user.email, "wrong password 1").await).await;
            let mut unknown =
                observed(login_as(&app, &ghost.email, "wrong password 1").await).await;
            // The two locks start a few milliseconds apart: across a second boundary their
            // countdowns differ by one second, which says nothing about the account.
            if let (Some(k), Some(u)) = (&known.1, &unknown.1)
                && k != u
            {
                let (k_s, u_s): (i64, i64) = (k.parse().unwrap(), u.parse().unwrap());
                assert!((k_s - u_s).abs() <= 1, "attempt {attempt}: {k} vs {u}");
                let detail = unknown.2["detail"].as_str().unwrap().replace(u, k);
                unknown.2["detail"] = json!(detail);
                unknown.1 = known.1.clone();
            }
            assert_eq!(known, unknown, "attempt {attempt}");
            let want = if attempt < 3 {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            assert_eq!(known.0, want, "attempt {attempt}");
        }
    }
);

both!(
    /// R22 (Zitadel's lockout was beaten by parallel checks): attempts are counted before the
    /// password is checked, atomically in the database, so 40 parallel guesses get exactly the
    /// threshold's worth of password checks and the rest are refused.
    parallel_guesses_cannot_exceed_the_threshold,
    &["--lockout-threshold", "5", "--hash-queue", "100"],
    |app| async move {
        let (user, _) = app.signed_in_user().await;
        let guesses = (0..40)
            .map(|i| json!({"username": user.email, "password": format!("guess number {i}")}))
            .collect();
        let statuses = parallel_logins(&app, guesses).await;
        let checked = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!(checked, 5, "{statuses:?}");
        assert_eq!(refused, 35, "{statuses:?}");
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
);

both!(
    /// R22: locks grow (1 min, then 2, ... up to the maximum), and a successful login starts
    /// the count over.
    locks_grow_progressively_and_a_success_resets_them,
    &["--lockout-threshold", "2", "--lockout-duration", "1m", "--lockout-max", "3m"],
    |app| async move {
        let (user, _) = app.signed_in_user().await;
        let mut waits = Vec::new();
        for _ in 0..3 {
            for _ in 0..2 {
                assert_eq!(
                    login_as(&app, &user.email, "wrong password 1").await.status(),
                    StatusCode::UNAUTHORIZED
                );
            }
            let locked = app.login(&user).await;
            assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
            let wait = retry_after(&locked);
            waits.push(wait);
            app.clock.advance(wait as i64 + 1);
        }
        assert!((55..=60).contains(&waits[0]), "{waits:?}");
        assert!((115..=120).contains(&waits[1]), "{waits:?}");
        assert!((175..=180).contains(&waits[2]), "capped at 3m: {waits:?}");
        // A success resets: one more failure is a plain 401, not a lock.
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
        assert_eq!(
            login_as(&app, &user.email, "wrong password 1").await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
    }
);

both!(
    /// R26 (ASVS 5.0 6.3.4): the JSON login, the OAuth2 token endpoint and the password change
    /// share one counter: failures on each add up, and the lock applies to all of them.
    every_way_in_shares_one_counter,
    LOCK_AFTER_3,
    |app| async move {
        let (user, tokens) = app.signed_in_user().await;
        let wrong_json = login_as(&app, &user.username, "wrong password 1").await;
        let form = |pw: &str| {
            serde_urlencoded::to_string([
                ("grant_type", "password"),
                ("username", user.email.as_str()),
                ("password", pw),
            ])
            .unwrap()
        };
        let wrong_form = app.post_form("/auth/token", &form("wrong password 2")).await;
        let change = json!({"current_password": "wrong password 3", "new_password": "a brand new passphrase"});
        let wrong_change = app
            .post("/users/me/password", Some(&tokens.access), change.clone())
            .await;
        for resp in [wrong_json, wrong_form, wrong_change] {
            assert_ne!(resp.status(), StatusCode::OK);
            assert_ne!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        // Locked on every way in, with the right password too.
        let grant = app.post_form("/auth/token", &form(&user.password)).await;
        assert_eq!(grant.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(retry_after(&grant) > 0);
        let body: Value = grant.json().await.unwrap();
        assert_eq!(body["error"], "slow_down", "{body}");
        assert_eq!(
            login_as(&app, &user.username, &user.password).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let right_change =
            json!({"current_password": user.password, "new_password": "a brand new passphrase"});
        let change = app
            .post("/users/me/password", Some(&tokens.access), right_change)
            .await;
        assert_eq!(change.status(), StatusCode::TOO_MANY_REQUESTS);
    }
);

both!(
    /// Issue #3: an admin lifts a lock with `POST /admin/users/{id}/unlock` (admins only; 404
    /// for an unknown user), and the unlock is audited.
    an_admin_unlocks_a_locked_account,
    LOCK_AFTER_3,
    |app| async move {
        let (user, tokens) = app.signed_in_user().await;
        let id = app.user_id(&tokens.access).await;
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (_, moderator) = app.user_with_roles(&["moderator"]).await;
        for _ in 0..3 {
            login_as(&app, &user.email, "wrong password 1").await;
        }
        assert_eq!(app.login(&user).await.status(), StatusCode::TOO_MANY_REQUESTS);
        let path = format!("/admin/users/{id}/unlock");
        // Act / Assert
        let by_moderator = app.post(&path, Some(&moderator.access), json!({})).await;
        assert_eq!(by_moderator.status(), StatusCode::FORBIDDEN);
        let by_user = app.post(&path, Some(&tokens.access), json!({})).await;
        assert_eq!(by_user.status(), StatusCode::FORBIDDEN);
        let unknown = format!("/admin/users/{}/unlock", uuid::Uuid::now_v7());
        let missing = app.post(&unknown, Some(&admin.access), json!({})).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let unlocked = app.post(&path, Some(&admin.access), json!({})).await;
        assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
        let log: Value = app
            .get(&format!("/admin/audit?user={id}&type=account_unlocked"), Some(&admin.access))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");
    }
);

both!(
    /// F21 (limiter state survives restart / scale-out): the counters are in the database, so
    /// a second instance on the same database sees the lock the first one set, and so does a
    /// restarted one.
    locks_hold_across_instances_and_restarts,
    LOCK_AFTER_3,
    |app| async move {
        let (user, _) = app.signed_in_user().await;
        for _ in 0..3 {
            login_as(&app, &user.email, "wrong password 1").await;
        }
        let TestApp { db, settings, .. } = app;
        let second = start(db, settings).await;
        assert_eq!(
            second.login(&user).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
);

/// Send `bodies` to `/auth/login` all at once; the statuses, in no particular order.
pub async fn parallel_logins(app: &TestApp, bodies: Vec<Value>) -> Vec<StatusCode> {
    let mut set = tokio::task::JoinSet::new();
    for body in bodies {
        let request = app.client.post(app.url("/auth/login")).json(&body);
        set.spawn(async move { request.send().await.expect("request").status() });
    }
    set.join_all().await
}
