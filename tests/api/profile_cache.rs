//! `GET /users/me` answers from a profile cache (issue 14). Every change of what it shows is
//! seen at once on the instance that made it, and on the others within the revocation feed's
//! latency (`LISTEN/NOTIFY` on PostgreSQL, the 250 ms poll on SQLite), whatever changed it: the
//! user, an admin through the library, a second factor, a deletion.

use std::time::{Duration, Instant};

use authgate::UserChanges;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;

/// `GET {base}/users/me` as JSON (any status: `null` body on a refusal).
async fn me_at(client: &reqwest::Client, base: &str, access: &str) -> (StatusCode, Value) {
    let resp = client
        .get(format!("{base}/users/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Poll `GET {base}/users/me` until `done` holds; how long that took (panics after 5 s).
async fn until_seen(
    client: &reqwest::Client,
    base: &str,
    access: &str,
    what: &str,
    done: impl Fn(StatusCode, &Value) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let (status, body) = me_at(client, base, access).await;
        if done(status, &body) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{base} never showed {what}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

both!(
    /// A username change, a role change by an admin and a deletion, each made on instance A,
    /// reach `/users/me` on A at once and on B (which had cached the profile) within a second.
    profile_changes_reach_every_instance,
    |app| async move {
        // Arrange: B has the profile cached
        let b = app.peer().await;
        let (_, tokens) = app.signed_in_user().await;
        let (status, before) = me_at(&b.client, &b.address, &tokens.access).await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(before["username"], "renamed_here");
        assert_eq!(me_at(&b.client, &b.address, &tokens.access).await.1, before);

        // Act 1: the user renames themselves on A
        let resp = app
            .request(
                Method::PATCH,
                "/users/me",
                Some(&tokens.access),
                Some(json!({"username": "renamed_here"})),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        // Assert 1: A at once, B soon
        assert_eq!(app.me(&tokens.access).await["username"], "renamed_here");
        let took = until_seen(&b.client, &b.address, &tokens.access, "the new username", |_, v| {
            v["username"] == "renamed_here"
        })
        .await;
        assert!(took < Duration::from_secs(2), "the rename took {took:?}");

        // Act 2: an admin (the library, as the CLI does) grants a role on A
        let id = Uuid::parse_str(&app.user_id(&tokens.access).await).unwrap();
        let changes = UserChanges {
            roles: Some(vec!["moderator".into(), "user".into()]),
            is_active: None,
        };
        app.state()
            .update_user(id, changes, &authgate::Actor::system())
            .await
            .unwrap();
        // Assert 2
        assert_eq!(app.me(&tokens.access).await["roles"], json!(["moderator", "user"]));
        until_seen(&b.client, &b.address, &tokens.access, "the new role", |_, v| {
            v["roles"] == json!(["moderator", "user"])
        })
        .await;

        // Act 3: the user is deleted on A
        app.state()
            .delete_user(id, &authgate::Actor::system())
            .await
            .unwrap();
        // Assert 3: refused on both
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::UNAUTHORIZED);
        until_seen(&b.client, &b.address, &tokens.access, "a 401", |s, _| {
            s == StatusCode::UNAUTHORIZED
        })
        .await;
    }
);

both!(
    /// Turning on two-factor changes `mfa` in `/users/me` at once on the instance that did it
    /// and soon on another; using a recovery code changes the count left.
    second_factor_changes_reach_every_instance,
    |app| async move {
        // Arrange: B has the profile of a user without a second factor cached
        let b = app.peer().await;
        let before_align = app.clock.now();
        app.align_to_step();
        b.clock.advance(app.clock.now() - before_align); // one time on both instances
        let (user, tokens) = app.signed_in_user().await;
        let (_, before) = me_at(&b.client, &b.address, &tokens.access).await;
        assert_eq!(before["mfa"]["totp"], false);
        // Act 1: enrol and confirm on A (the session stays, with a new access token)
        let (secret, _) = app.enrol(&tokens.access, &user.password).await;
        let resp = app
            .post(
                "/users/me/mfa/totp/confirm",
                Some(&tokens.access),
                json!({"code": app.code(&secret, -1)}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        let access = body["access_token"].as_str().unwrap().to_owned();
        let codes: Vec<String> = serde_json::from_value(body["recovery_codes"].clone()).unwrap();
        // Assert 1
        let left = codes.len() as i64;
        let on_a = app.me(&access).await;
        assert_eq!((&on_a["mfa"]["totp"], &on_a["mfa"]["recovery_codes_left"]), (&json!(true), &json!(left)));
        until_seen(&b.client, &b.address, &access, "totp on", |_, v| {
            v["mfa"]["totp"] == true
        })
        .await;
        // Act 2: a sign-in with a recovery code on A
        let mfa_token = app.mfa_token(&user).await;
        let resp = app.mfa_recovery(&mfa_token, &codes[0]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        // Assert 2: one fewer, on A at once and on B soon
        assert_eq!(app.me(&access).await["mfa"]["recovery_codes_left"], json!(left - 1));
        until_seen(&b.client, &b.address, &access, "one code fewer", |_, v| {
            v["mfa"]["recovery_codes_left"] == json!(left - 1)
        })
        .await;
    }
);
