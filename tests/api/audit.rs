//! The audit log (issue #3, R29, F20): every security event stored with time, user, IP and user
//! agent, readable by admins at `GET /admin/audit?user=&type=&after=`, never containing a
//! password or a token.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn audit(app: &TestApp, admin: &str, query: &str) -> Value {
    let resp = app.get(&format!("/admin/audit{query}"), Some(admin)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

both!(
    /// R29 (ASVS 5.0 16.3.1), F20 (ASVS 16.2.5): registration, failed and successful logins,
    /// a lock, refresh-token reuse, logout, password change, role change and deactivation are
    /// recorded in order, with IP and user agent, and no secret appears anywhere in the log.
    every_security_event_is_recorded_without_secrets,
    &["--lockout-threshold", "2"],
    |app| async move {
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let user = TestUser::generate();
        app.register(&user).await;
        let wrong = json!({"username": user.email, "password": "wrong password 1"});
        app.post("/auth/login", None, wrong.clone()).await;
        app.post("/auth/login", None, wrong).await;
        let blocked = app.login(&user).await;
        assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
        app.clock.advance(61);
        let first = app.login_ok(&user).await;
        let id = app.user_id(&first.access).await;
        let rotated = Tokens::from_json(&app.refresh(&first.refresh).await.json().await.unwrap());
        app.clock.advance(20);
        assert_eq!(app.refresh(&first.refresh).await.status(), StatusCode::UNAUTHORIZED);
        let second = app.login_ok(&user).await;
        app.post("/auth/logout", Some(&second.access), json!({})).await;
        let third = app.login_ok(&user).await;
        let new_password = "a completely new passphrase";
        let change = json!({"current_password": user.password, "new_password": new_password});
        let changed = app.post("/users/me/password", Some(&third.access), change).await;
        assert_eq!(changed.status(), StatusCode::OK);
        let user_path = format!("/admin/users/{id}");
        let patch = |body: Value| {
            app.request(
                reqwest::Method::PATCH,
                &user_path,
                Some(&admin.access),
                Some(body),
            )
        };
        assert_eq!(patch(json!({"roles": ["user", "moderator"]})).await.status(), StatusCode::OK);
        assert_eq!(patch(json!({"is_active": false})).await.status(), StatusCode::OK);
        // Act
        let page = audit(&app, &admin.access, &format!("?user={id}")).await;
        // Assert
        assert_eq!(
            types(&page),
            [
                "user_registered",
                "login_failed",
                "login_failed",
                "account_locked",
                "login_blocked",
                "login_succeeded",
                "refresh_reuse_detected",
                "login_succeeded",
                "logout",
                "login_succeeded",
                "password_changed",
                "roles_changed",
                "user_deactivated",
            ],
            "{page:#}"
        );
        for event in page["items"].as_array().unwrap() {
            assert_eq!(event["ip"], "127.0.0.1", "{event}");
            assert!(event["user_agent"].is_string() || event["user_agent"].is_null());
            assert!(event["at"].as_i64().unwrap() > 1_700_000_000);
        }
        let admin_id = app.user_id(&admin.access).await;
        let role_change = &page["items"][11];
        assert_eq!(role_change["actor_id"], json!(admin_id));
        assert!(role_change["detail"].as_str().unwrap().contains("moderator"));
        let text = page.to_string();
        for secret in [
            user.password.as_str(),
            new_password,
            &first.access,
            &first.refresh,
            &rotated.refresh,
            &second.access,
            &third.refresh,
        ] {
            assert!(!text.contains(secret), "a secret leaked into the audit log");
        }
    }
);

both!(
    /// The audit endpoint filters by type and user, pages with `after`, refuses unknown types
    /// with the list of known ones, and is for admins only.
    the_audit_log_filters_pages_and_is_admin_only,
    |app| async move {
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (_, moderator) = app.user_with_roles(&["moderator"]).await;
        for _ in 0..3 {
            app.signed_in_user().await;
        }
        // Two logins each for the admin and the moderator (before and after the role grant).
        let logins = audit(&app, &admin.access, "?type=login_succeeded").await;
        assert_eq!(types(&logins).len(), 7, "{logins}");
        let first_page = audit(&app, &admin.access, "?type=login_succeeded&limit=2").await;
        assert_eq!(types(&first_page).len(), 2);
        let next = first_page["next"].as_i64().expect("a next cursor");
        let rest = audit(&app, &admin.access, &format!("?type=login_succeeded&after={next}")).await;
        assert_eq!(types(&rest).len(), 5);
        assert!(rest["next"].is_null());
        let since_future = audit(&app, &admin.access, "?since=99999999999").await;
        assert!(types(&since_future).is_empty());
        let bad = app.get("/admin/audit?type=nope", Some(&admin.access)).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = bad.json().await.unwrap();
        assert!(body["errors"]["type"][0].as_str().unwrap().contains("login_failed"));
        let bad_user = app.get("/admin/audit?user=42", Some(&admin.access)).await;
        assert_eq!(bad_user.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let forbidden = app.get("/admin/audit", Some(&moderator.access)).await;
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.get("/admin/audit", None).await.status(), StatusCode::UNAUTHORIZED);
    }
);

both!(
    /// F6/F7 spirit for the audit log: events older than `AUTHGATE_AUDIT_RETENTION` are purged
    /// by housekeeping, newer ones stay, so the table cannot grow without bound.
    events_older_than_the_retention_are_purged,
    &["--audit-retention", "1d"],
    |app| async move {
        let (_, old) = app.signed_in_user().await;
        let old_id = app.user_id(&old.access).await;
        app.clock.advance(2 * 86_400);
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        // Act
        app.state().purge_expired().await;
        // Assert
        let gone = audit(&app, &admin.access, &format!("?user={old_id}")).await;
        assert!(types(&gone).is_empty(), "{gone}");
        let kept = audit(&app, &admin.access, "?type=login_succeeded").await;
        assert_eq!(types(&kept).len(), 2, "the admin's two logins stay: {kept}");
    }
);
