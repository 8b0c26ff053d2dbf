//! `/users/me/sessions`: the device list, ending one session, and the activity stamps
//! (`last_activity_at`, `last_used_at`) it shows.

use std::time::{Duration, Instant};

use crate::both;
use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// `GET /users/me/sessions`, expecting 200; the items.
async fn sessions(app: &TestApp, access: &str) -> Vec<Value> {
    let resp = app.get("/users/me/sessions", Some(access)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["items"].as_array().expect("items").clone()
}

/// The id of the session an access token belongs to, from the device list.
async fn current_session_id(app: &TestApp, access: &str) -> String {
    let items = sessions(app, access).await;
    let current: Vec<&Value> = items
        .iter()
        .filter(|s| s["current"] == json!(true))
        .collect();
    assert_eq!(current.len(), 1, "{items:?}");
    current[0]["id"].as_str().expect("id").to_owned()
}

/// `DELETE /users/me/sessions/{id}`.
async fn delete_session(app: &TestApp, access: &str, id: &str) -> reqwest::Response {
    app.request(
        Method::DELETE,
        &format!("/users/me/sessions/{id}"),
        Some(access),
        None,
    )
    .await
}

// Requirement: GET /users/me/sessions lists each device with its client details and marks the current one.
both!(
    sessions_list_shows_each_device_and_marks_the_current_one,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let tag = Uuid::new_v4().simple().to_string();
        let phone_ua = format!("authgate-tests/phone {tag}");
        let laptop_ua = format!("authgate-tests/laptop {tag}");
        let before = app.clock.now();
        let phone = login_from(&app, &user, &phone_ua, true).await;
        let laptop = login_from(&app, &user, &laptop_ua, false).await;
        // Act
        let items = sessions(&app, &laptop.access).await;
        // Assert
        assert_eq!(items.len(), 2, "{items:?}");
        let find = |ua: &str| {
            items
                .iter()
                .find(|s| s["user_agent"] == json!(ua))
                .cloned()
                .expect(ua)
        };
        let (p, l) = (find(&phone_ua), find(&laptop_ua));
        assert_eq!(
            items.iter().filter(|s| s["current"] == json!(true)).count(),
            1
        );
        assert_eq!(l["current"], json!(true));
        assert_eq!(p["current"], json!(false));
        assert_eq!(p["remember_me"], json!(true));
        assert_eq!(l["remember_me"], json!(false));
        for s in [&p, &l] {
            Uuid::parse_str(s["id"].as_str().expect("id")).expect("uuid id");
            assert_eq!(s["ip"], json!("127.0.0.1"));
            let created_at = s["created_at"].as_i64().expect("created_at");
            assert!((before..=app.clock.now()).contains(&created_at), "{s}");
            assert!(
                s["last_used_at"].as_i64().expect("last_used_at") >= created_at,
                "{s}"
            );
        }
        assert_ne!(p["id"], l["id"]);
        // From the phone, the phone is current.
        assert_eq!(
            current_session_id(&app, &phone.access).await,
            p["id"].as_str().unwrap()
        );
        // Another user's list does not show these.
        let (_, stranger) = app.signed_in_user().await;
        assert_eq!(sessions(&app, &stranger.access).await.len(), 1);
    }
);

// Requirement: deleting another of one's own sessions ends it (access and refresh) and removes it from the list.
both!(
    deleting_another_session_revokes_its_tokens,
    |app| async move {
        // Arrange
        let (user, keep) = app.signed_in_user().await;
        let doomed = app.login_ok(&user).await;
        let doomed_id = current_session_id(&app, &doomed.access).await;
        // Act
        let resp = delete_session(&app, &keep.access, &doomed_id).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            app.me_status(&doomed.access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.refresh(&doomed.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.me_status(&keep.access).await, StatusCode::OK);
        let items = sessions(&app, &keep.access).await;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["current"], json!(true));
        assert_eq!(
            delete_session(&app, &keep.access, &doomed_id)
                .await
                .status(),
            StatusCode::NOT_FOUND,
            "already ended"
        );
    }
);

// Requirement: a session id that is not the caller's (someone else's, unknown, or not a uuid) is 404.
both!(
    deleting_a_session_that_is_not_yours_is_404,
    |app| async move {
        // Arrange
        let (_, me_tokens) = app.signed_in_user().await;
        let (_, victim) = app.signed_in_user().await;
        let victim_session = current_session_id(&app, &victim.access).await;
        for id in [
            victim_session.clone(),
            Uuid::new_v4().to_string(),
            "not-a-uuid".to_owned(),
        ] {
            // Act
            let resp = delete_session(&app, &me_tokens.access, &id).await;
            // Assert
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{id}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["code"], json!("not_found"), "{id}");
        }
        assert_eq!(app.me_status(&victim.access).await, StatusCode::OK);
        assert_eq!(app.refresh(&victim.refresh).await.status(), StatusCode::OK);
    }
);

/// Poll `last_activity_at` (written in the background) until `done` holds or 5 s have passed.
async fn poll_activity(app: &TestApp, access: &str, done: impl Fn(i64) -> bool) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let last = app.me(access).await["last_activity_at"]
            .as_i64()
            .expect("last_activity_at");
        if done(last) || Instant::now() > deadline {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Poll the current session's `last_used_at` until `done` holds or 5 s have passed.
async fn poll_used_at(app: &TestApp, access: &str, done: impl Fn(i64) -> bool) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let items = sessions(app, access).await;
        let last = items[0]["last_used_at"].as_i64().expect("last_used_at");
        if done(last) || Instant::now() > deadline {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// Requirement: last_activity_at follows requests, but is written at most once a minute per session.
both!(
    last_activity_at_is_written_at_most_once_a_minute,
    |app| async move {
        // Arrange: log in (which stamps activity), then come back a little later
        let (_, tokens) = app.signed_in_user().await;
        let login_at = app.me(&tokens.access).await["last_login_at"]
            .as_i64()
            .unwrap();
        // The GET above already counted as activity at login time; move on and use the session anew.
        app.clock.advance(61);
        let seen = poll_activity(&app, &tokens.access, |t| t >= login_at + 61).await;
        assert!(
            seen >= login_at + 61,
            "a request sets it: {seen} vs login {login_at}"
        );
        // Act: 30 seconds later
        app.clock.advance(30);
        let after_30 = app.me(&tokens.access).await["last_activity_at"]
            .as_i64()
            .unwrap();
        // Assert
        assert_eq!(after_30, seen, "not written again within a minute");
        // Act: 61 seconds after the last write
        app.clock.advance(31);
        let after_61 = poll_activity(&app, &tokens.access, |t| t > seen).await;
        // Assert: written again after a minute. This also proves the requests at +30 wrote
        // nothing, without waiting for a write that should not come: a write at +30 would have
        // restarted the minute there, this request (31 s later) would have been held back, and
        // the poll would end on the +30 stamp.
        assert!(
            after_61 >= seen + 61,
            "written again after a minute, and not at +30: {after_61} vs {seen}"
        );
        // The device list moves with it.
        let items = sessions(&app, &tokens.access).await;
        assert!(
            items[0]["last_used_at"].as_i64().unwrap() >= seen + 61,
            "{items:?}"
        );
    }
);

// Requirement: last_activity_at and last_used_at never move back in time, even when background writes land out of order.
both!(
    last_activity_never_moves_backwards_when_writes_land_out_of_order,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let user_id = Uuid::parse_str(&app.user_id(&tokens.access).await).unwrap();
        let session_id = Uuid::parse_str(&current_session_id(&app, &tokens.access).await).unwrap();
        let now = app.clock.now();
        let (user, session) = (user_id.to_string(), session_id.to_string());
        // Act 1: a newer write (+120) has committed to the user's row; the older one (+61) lands
        // after it. SQL plants the newer stamp: the background writes cannot be reordered from
        // outside. The +61 write also stamps the session, which tells when it has landed.
        let plant_user =
            "UPDATE users SET last_activity_at = CAST($1 AS BIGINT) WHERE user_id = $2";
        let later = (now + 120).to_string();
        assert_eq!(app.db.execute(plant_user, &[&later, &user]).await, 1);
        app.clock.advance(61);
        let landed = poll_used_at(&app, &tokens.access, |t| t >= now + 61).await;
        // Assert 1
        assert!(landed >= now + 61, "the +61 write landed: {landed}");
        assert_eq!(
            app.me(&tokens.access).await["last_activity_at"],
            json!(now + 120),
            "the user's stamp did not move back"
        );
        // Act 2: the same for the session: its newer stamp (+300) is there, a +122 write lands.
        let plant_session =
            "UPDATE sessions SET last_used_at = CAST($1 AS BIGINT) WHERE session_id = $2";
        let latest = (now + 300).to_string();
        assert_eq!(app.db.execute(plant_session, &[&latest, &session]).await, 1);
        app.clock.advance(61);
        let user_stamp = poll_activity(&app, &tokens.access, |t| t >= now + 122).await;
        // Assert 2
        assert!(
            user_stamp >= now + 122,
            "the +122 write landed: {user_stamp}"
        );
        let items = sessions(&app, &tokens.access).await;
        assert_eq!(items[0]["last_used_at"], json!(now + 300), "{items:?}");
    }
);

both!(
    /// F7 (ASVS 5.0 7.1.2: a documented cap on concurrent sessions): a user's live sessions are
    /// capped (here 3); each login beyond the cap ends the oldest session, refresh token and
    /// access tokens alike, so a script logging in forever cannot grow the session table.
    logins_beyond_the_session_cap_end_the_oldest_sessions,
    &["--max-sessions-per-user", "3"],
    |app| async move {
        let (user, first) = app.signed_in_user().await;
        let mut pairs = vec![first];
        for _ in 0..4 {
            pairs.push(app.login_ok(&user).await);
        }
        for (i, pair) in pairs.iter().enumerate() {
            let want = if i < 2 { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
            let me = app.me_status(&pair.access).await;
            assert_eq!(me, want, "access token of login {i}");
        }
        assert_eq!(
            app.refresh(&pairs[0].refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(sessions(&app, &pairs[4].access).await.len(), 3);
        assert_eq!(app.refresh(&pairs[2].refresh).await.status(), StatusCode::OK);
    }
);
