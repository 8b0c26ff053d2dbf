//! Logout, logout everywhere, the caller's own account, password change, the device list,
//! revocation across a restart, activity tracking.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::*;

/// A header's value as a string, if present.
fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Status of `GET /users/me` with this access token.
async fn me_status(app: &TestApp, access: &str) -> StatusCode {
    app.get("/users/me", Some(access)).await.status()
}

/// `GET /users/me`, expecting 200.
async fn me(app: &TestApp, access: &str) -> Value {
    let resp = app.get("/users/me", Some(access)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// Log in with a given User-Agent and remember_me choice.
async fn login_from(app: &TestApp, user: &TestUser, user_agent: &str, remember_me: bool) -> Tokens {
    let resp = app
        .client
        .post(app.url("/auth/login"))
        .header(reqwest::header::USER_AGENT, user_agent)
        .json(
            &json!({"username": user.email, "password": user.password, "remember_me": remember_me}),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    Tokens::from_json(&resp.json().await.unwrap())
}

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

/// Change the password with this access token.
async fn change_password(
    app: &TestApp,
    access: &str,
    current: &str,
    new: &str,
) -> reqwest::Response {
    app.post(
        "/users/me/password",
        Some(access),
        json!({"current_password": current, "new_password": new}),
    )
    .await
}

// Requirement: logout ends the caller's session at once (access and refresh) and no other session.
both!(
    logout_revokes_the_sessions_access_and_refresh_tokens_immediately,
    |app| async move {
        // Arrange
        let (user, a) = app.signed_in_user().await;
        let b = app.login_ok(&user).await;
        assert_eq!(me_status(&app, &a.access).await, StatusCode::OK);
        // Act
        let resp = app.post("/auth/logout", Some(&a.access), json!({})).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let after = app.get("/users/me", Some(&a.access)).await;
        assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
        assert!(
            header(&after, "www-authenticate")
                .unwrap()
                .contains(r#"error="invalid_token""#)
        );
        let refresh = app.refresh(&a.refresh).await;
        assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            refresh.json::<Value>().await.unwrap()["code"],
            json!("invalid_refresh_token")
        );
        assert_eq!(me_status(&app, &b.access).await, StatusCode::OK);
        assert_eq!(app.refresh(&b.refresh).await.status(), StatusCode::OK);
        // Logging out twice with the dead token is 401 too.
        let again = app.post("/auth/logout", Some(&a.access), json!({})).await;
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    }
);

// Requirement: logout without credentials is 401 with a bare `Bearer` challenge (RFC 6750 §3.1).
both!(
    logout_without_a_token_is_401_with_a_bearer_challenge,
    |app| async move {
        // Arrange: nothing
        // Act
        let resp = app.post("/auth/logout", None, json!({})).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&resp, "www-authenticate").as_deref(), Some("Bearer"));
        assert_eq!(
            header(&resp, "content-type").as_deref(),
            Some("application/problem+json")
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("invalid_token"));
    }
);

// Requirement: logout-all ends every session of the caller, access and refresh tokens alike.
both!(
    logout_all_revokes_every_session_of_the_user,
    |app| async move {
        // Arrange
        let (user, a) = app.signed_in_user().await;
        let b = app.login_ok(&user).await;
        let c = app.login_ok(&user).await;
        let (_, stranger) = app.signed_in_user().await;
        // Act
        let resp = app
            .post("/auth/logout-all", Some(&b.access), json!({}))
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        for (name, tokens) in [("a", &a), ("b", &b), ("c", &c)] {
            assert_eq!(
                me_status(&app, &tokens.access).await,
                StatusCode::UNAUTHORIZED,
                "{name}"
            );
            assert_eq!(
                app.refresh(&tokens.refresh).await.status(),
                StatusCode::UNAUTHORIZED,
                "{name}"
            );
        }
        assert_eq!(
            me_status(&app, &stranger.access).await,
            StatusCode::OK,
            "other users untouched"
        );
        // The account itself still works.
        let fresh = app.login_ok(&user).await;
        assert_eq!(me_status(&app, &fresh.access).await, StatusCode::OK);
    }
);

// Requirement: GET /users/me shows the caller's account fields and never the hash.
both!(me_returns_the_callers_account, |app| async move {
    // Arrange
    let user = TestUser::generate();
    let created = app.register(&user).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let tokens = app.login_ok(&user).await;
    // Act
    let body = me(&app, &tokens.access).await;
    // Assert
    assert_eq!(body["id"], created["id"]);
    assert_eq!(body["email"], json!(user.email));
    assert_eq!(body["username"], json!(user.username));
    assert_eq!(body["roles"], json!(["user"]));
    assert_eq!(body["is_active"], json!(true));
    assert_eq!(body["created_at"], created["created_at"]);
    assert!(body["last_login_at"].is_i64(), "{body}");
    assert!(body["last_activity_at"].is_i64(), "{body}");
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "id",
            "is_active",
            "last_activity_at",
            "last_login_at",
            "roles",
            "username"
        ]
    );
});

// Requirement: PATCH /users/me changes the username, which then works as a login name.
both!(patch_me_changes_the_username, |app| async move {
    // Arrange
    let (mut user, tokens) = app.signed_in_user().await;
    let new_name = format!("new_{}", &Uuid::new_v4().simple().to_string()[..10]);
    // Act
    let resp = app
        .request(
            Method::PATCH,
            "/users/me",
            Some(&tokens.access),
            Some(json!({"username": new_name})),
        )
        .await;
    // Assert
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["username"], json!(new_name));
    assert_eq!(body["email"], json!(user.email));
    assert_eq!(me(&app, &tokens.access).await["username"], json!(new_name));
    let by_new = app
        .post(
            "/auth/login",
            None,
            json!({"username": new_name, "password": user.password}),
        )
        .await;
    assert_eq!(by_new.status(), StatusCode::OK);
    let by_old = app
        .post(
            "/auth/login",
            None,
            json!({"username": user.username, "password": user.password}),
        )
        .await;
    assert_eq!(by_old.status(), StatusCode::UNAUTHORIZED);
    // The old name is free for someone else.
    let mut other = TestUser::generate();
    other.username = std::mem::take(&mut user.username);
    assert_eq!(app.register(&other).await.status(), StatusCode::CREATED);
});

// Requirement: PATCH /users/me with a username taken by another user (in any case) is 409.
both!(
    patch_me_rejects_a_taken_username_with_409,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        let (other, _) = app.signed_in_user().await;
        // Act
        let resp = app
            .request(
                Method::PATCH,
                "/users/me",
                Some(&tokens.access),
                Some(json!({"username": other.username.to_uppercase()})),
            )
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("conflict"));
        assert_eq!(
            me(&app, &tokens.access).await["username"],
            json!(user.username),
            "unchanged"
        );
    }
);

// Requirement: PATCH /users/me with an invalid username is 422 with an `errors.username` entry.
both!(
    patch_me_rejects_an_invalid_username_with_422,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        for bad in ["ab", "has space", "a@b.com", &"x".repeat(33)] {
            // Act
            let resp = app
                .request(
                    Method::PATCH,
                    "/users/me",
                    Some(&tokens.access),
                    Some(json!({"username": bad})),
                )
                .await;
            // Assert
            assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            assert_eq!(
                header(&resp, "content-type").as_deref(),
                Some("application/problem+json")
            );
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["code"], json!("validation_failed"), "{bad}");
            assert!(
                body["errors"]["username"]
                    .as_array()
                    .is_some_and(|m| !m.is_empty()),
                "{bad}: {body}"
            );
        }
        assert_eq!(
            me(&app, &tokens.access).await["username"],
            json!(user.username),
            "unchanged"
        );
    }
);

// Requirement: PATCH /users/me with username null removes the username; the e-mail still logs in.
both!(patch_me_with_null_clears_the_username, |app| async move {
    // Arrange
    let (user, tokens) = app.signed_in_user().await;
    // Act
    let resp = app
        .request(
            Method::PATCH,
            "/users/me",
            Some(&tokens.access),
            Some(json!({"username": null})),
        )
        .await;
    // Assert
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["username"], Value::Null);
    assert_eq!(me(&app, &tokens.access).await["username"], Value::Null);
    let by_old = app
        .post(
            "/auth/login",
            None,
            json!({"username": user.username, "password": user.password}),
        )
        .await;
    assert_eq!(by_old.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login(&user).await.status(), StatusCode::OK);
});

// Requirement: PATCH /users/me without the username key is refused, not read as "remove it".
both!(
    patch_me_without_the_username_key_changes_nothing,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        // Act
        let resp = app
            .request(
                Method::PATCH,
                "/users/me",
                Some(&tokens.access),
                Some(json!({})),
            )
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = resp.json().await.unwrap();
        assert!(body["errors"]["username"].is_array(), "{body}");
        assert_eq!(
            me(&app, &tokens.access).await["username"],
            json!(user.username)
        );
    }
);

// Requirement: changing the password ends every session and returns a fresh, uncacheable pair.
both!(
    change_password_ends_every_session_and_returns_a_fresh_pair,
    |app| async move {
        // Arrange
        let (mut user, caller) = app.signed_in_user().await;
        let other = app.login_ok(&user).await;
        let new_password = format!("new-{}", user.password);
        // Act
        let resp = change_password(&app, &caller.access, &user.password, &new_password).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
        assert_eq!(header(&resp, "pragma").as_deref(), Some("no-cache"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["token_type"], json!("Bearer"));
        assert_eq!(body["expires_in"], json!(900));
        let fresh = Tokens::from_json(&body);
        assert_eq!(
            me_status(&app, &other.access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.refresh(&other.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            me_status(&app, &caller.access).await,
            StatusCode::UNAUTHORIZED,
            "the old session ends too"
        );
        assert_eq!(
            app.refresh(&caller.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(me_status(&app, &fresh.access).await, StatusCode::OK);
        assert_eq!(app.refresh(&fresh.refresh).await.status(), StatusCode::OK);
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::UNAUTHORIZED,
            "old password"
        );
        user.password = new_password;
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::OK,
            "new password"
        );
    }
);

// Requirement: a wrong current password is 401 invalid_credentials and changes nothing.
both!(
    change_password_with_a_wrong_current_password_changes_nothing,
    |app| async move {
        // Arrange
        let (mut user, caller) = app.signed_in_user().await;
        let other = app.login_ok(&user).await;
        // Act
        let resp = change_password(
            &app,
            &caller.access,
            "not-the-password",
            "brand-new-password",
        )
        .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("invalid_credentials"));
        assert_eq!(me_status(&app, &caller.access).await, StatusCode::OK);
        assert_eq!(me_status(&app, &other.access).await, StatusCode::OK);
        assert_eq!(app.refresh(&other.refresh).await.status(), StatusCode::OK);
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::OK,
            "old password still works"
        );
        user.password = "brand-new-password".into();
        assert_eq!(app.login(&user).await.status(), StatusCode::UNAUTHORIZED);
    }
);

// Requirement: a too-short new password is 422 on `new_password` and changes nothing.
both!(
    change_password_rejects_a_too_short_new_password,
    |app| async move {
        // Arrange
        let (mut user, caller) = app.signed_in_user().await;
        let other = app.login_ok(&user).await;
        // Act
        let resp = change_password(&app, &caller.access, &user.password, "short77").await;
        // Assert
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("validation_failed"));
        assert!(body["errors"]["new_password"].is_array(), "{body}");
        assert_eq!(me_status(&app, &caller.access).await, StatusCode::OK);
        assert_eq!(me_status(&app, &other.access).await, StatusCode::OK);
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
        user.password = "short77".into();
        assert_eq!(app.login(&user).await.status(), StatusCode::UNAUTHORIZED);
    }
);

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
            me_status(&app, &doomed.access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.refresh(&doomed.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(me_status(&app, &keep.access).await, StatusCode::OK);
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
        assert_eq!(me_status(&app, &victim.access).await, StatusCode::OK);
        assert_eq!(app.refresh(&victim.refresh).await.status(), StatusCode::OK);
    }
);

// Requirement: revocations are persisted: a logged-out token stays dead after a restart, live sessions stay live.
both!(revocation_survives_a_restart, |app| async move {
    // Arrange
    let (user, gone) = app.signed_in_user().await;
    let live = app.login_ok(&user).await;
    assert_eq!(
        app.post("/auth/logout", Some(&gone.access), json!({}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // Act: a new server process on the same database
    let TestApp { db, settings, .. } = app;
    let app = start(db, settings).await;
    // Assert
    let resp = app.get("/users/me", Some(&gone.access)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        header(&resp, "www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
    assert_eq!(
        app.refresh(&gone.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me_status(&app, &live.access).await, StatusCode::OK);
    let next = app.refresh(&live.refresh).await;
    assert_eq!(next.status(), StatusCode::OK);
    let next = Tokens::from_json(&next.json().await.unwrap());
    assert_eq!(me_status(&app, &next.access).await, StatusCode::OK);
});

/// Poll `last_activity_at` (written in the background) until `done` holds, or give up.
async fn poll_activity(app: &TestApp, access: &str, done: impl Fn(i64) -> bool) -> i64 {
    let mut last = 0;
    for _ in 0..30 {
        last = me(app, access).await["last_activity_at"]
            .as_i64()
            .expect("last_activity_at");
        if done(last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

// Requirement: last_activity_at follows requests, but is written at most once a minute per session.
both!(
    last_activity_at_is_written_at_most_once_a_minute,
    |app| async move {
        // Arrange: log in (which stamps activity), then come back a little later
        let (_, tokens) = app.signed_in_user().await;
        let login_at = me(&app, &tokens.access).await["last_login_at"]
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
        let _ = me(&app, &tokens.access).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after_30 = me(&app, &tokens.access).await["last_activity_at"]
            .as_i64()
            .unwrap();
        // Assert
        assert_eq!(after_30, seen, "not written again within a minute");
        // Act: 61 seconds after the last write
        app.clock.advance(31);
        let after_61 = poll_activity(&app, &tokens.access, |t| t > seen).await;
        // Assert
        assert!(
            after_61 >= seen + 61,
            "written again after a minute: {after_61} vs {seen}"
        );
        // The device list moves with it.
        let items = sessions(&app, &tokens.access).await;
        assert!(
            items[0]["last_used_at"].as_i64().unwrap() >= seen + 61,
            "{items:?}"
        );
    }
);

/// A remember-me session refreshed a minute before its 30-day end, then taken past that end:
/// its last access token is still valid for most of its 15 minutes.
async fn session_past_its_absolute_end(app: &TestApp) -> Tokens {
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    let first = login_from(app, &user, "authgate-tests", true).await;
    app.clock.advance(30 * 86_400 - 60);
    let resp = app.refresh(&first.refresh).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let late = Tokens::from_json(&resp.json().await.unwrap());
    app.clock.advance(120);
    assert_eq!(
        app.refresh(&late.refresh).await.status(),
        StatusCode::UNAUTHORIZED,
        "session over"
    );
    assert_eq!(
        me_status(app, &late.access).await,
        StatusCode::OK,
        "access token still alive"
    );
    late
}

// Requirement: logout-all kills every live access token, including one that outlives its session's absolute end.
both!(
    logout_all_revokes_an_access_token_that_outlives_its_session,
    |app| async move {
        // Arrange
        let late = session_past_its_absolute_end(&app).await;
        // Act
        let resp = app
            .post("/auth/logout-all", Some(&late.access), json!({}))
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            me_status(&app, &late.access).await,
            StatusCode::UNAUTHORIZED
        );
    }
);

// Requirement: logout still works for a live access token after housekeeping has purged expired sessions.
both!(
    logout_revokes_an_access_token_that_outlives_its_session_after_a_purge,
    |app| async move {
        // Arrange
        let late = session_past_its_absolute_end(&app).await;
        app.state.purge_expired().await;
        // Act
        let resp = app
            .post("/auth/logout", Some(&late.access), json!({}))
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            me_status(&app, &late.access).await,
            StatusCode::UNAUTHORIZED
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
        let store = app.state.store().unwrap();
        let now = app.clock.now();
        // Act: the newer write commits first, the older one after it
        store
            .record_activity(user_id, session_id, now + 120)
            .await
            .unwrap();
        store
            .record_activity(user_id, session_id, now + 60)
            .await
            .unwrap();
        // Assert
        let stored = store.user_by_id(user_id).await.unwrap().unwrap();
        assert_eq!(stored.last_activity_at, Some(now + 120));
        let items = sessions(&app, &tokens.access).await;
        assert_eq!(items[0]["last_used_at"], json!(now + 120));
        assert_eq!(
            me(&app, &tokens.access).await["last_activity_at"],
            json!(now + 120)
        );
    }
);
