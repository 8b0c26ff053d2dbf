//! `PATCH` and `DELETE /admin/users/{id}`: who may change what, and how fast role changes,
//! deactivation and deletion take effect.

use crate::both;
use crate::support::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// `PATCH /admin/users/{id}` that must succeed.
async fn patch_user_ok(app: &TestApp, token: &str, id: &str, body: Value) {
    let resp = patch_user(app, token, id, body).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// `PATCH /admin/users/{id}` setting these roles.
async fn patch_roles(app: &TestApp, token: &str, id: &str, roles: &[&str]) -> Response {
    patch_user(app, token, id, json!({ "roles": roles })).await
}

/// Assert that neither token of this session works any more.
async fn assert_session_ended(app: &TestApp, tokens: &Tokens) {
    assert_eq!(
        app.me_status(&tokens.access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&tokens.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// A signed-in admin and their id.
async fn admin_with_id(app: &TestApp) -> (Tokens, String) {
    let (_, admin) = app.user_with_roles(&["admin"]).await;
    let id = app.user_id(&admin.access).await;
    (admin, id)
}

/// The `roles` of a user document, sorted.
fn sorted_roles(user: &Value) -> Vec<String> {
    let mut roles: Vec<String> = serde_json::from_value(user["roles"].clone()).unwrap();
    roles.sort();
    roles
}

async fn delete_user(app: &TestApp, token: &str, id: &str) -> Response {
    app.request(
        Method::DELETE,
        &format!("/admin/users/{id}"),
        Some(token),
        None,
    )
    .await
}

// R18: only admins change roles; roles must exist.
both!(
    patch_roles_is_admin_only_and_checks_the_role_exists,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (_, moderator) = app.user_with_roles(&["moderator"]).await;
        let moderator_id = app.user_id(&moderator.access).await;
        let (_, _, id) = plain_user(&app).await;
        // Act
        let granted = patch_roles(&app, &admin.access, &id, &["user", "moderator"]).await;
        let unknown = patch_roles(&app, &admin.access, &id, &["user", "superuser"]).await;
        let by_moderator = patch_roles(&app, &moderator.access, &id, &["user"]).await;
        let self_escalation =
            patch_roles(&app, &moderator.access, &moderator_id, &["user", "admin"]).await;
        // Assert
        assert_eq!(granted.status(), StatusCode::OK);
        let body: Value = granted.json().await.unwrap();
        assert_eq!(sorted_roles(&body), ["moderator", "user"]);
        let body = assert_validation_failed(unknown).await;
        assert!(body["errors"]["roles"].is_array(), "{body}");
        assert_problem(by_moderator, StatusCode::FORBIDDEN, "forbidden").await;
        assert_problem(self_escalation, StatusCode::FORBIDDEN, "forbidden").await;
        let after: Value = app
            .get(&format!("/admin/users/{id}"), Some(&admin.access))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            sorted_roles(&after),
            ["moderator", "user"],
            "refused changes left the roles alone"
        );
    }
);

// R18: a moderator may (de)activate plain users but not admins.
both!(
    moderator_may_deactivate_plain_users_but_not_admins,
    |app| async move {
        // Arrange
        let (admin, admin_id) = admin_with_id(&app).await;
        let (_, moderator) = app.user_with_roles(&["moderator"]).await;
        let (_, _, id) = plain_user(&app).await;
        // Act
        let off = patch_user(&app, &moderator.access, &id, json!({"is_active": false})).await;
        let on = patch_user(&app, &moderator.access, &id, json!({"is_active": true})).await;
        let admin_off = patch_user(
            &app,
            &moderator.access,
            &admin_id,
            json!({"is_active": false}),
        )
        .await;
        // Assert
        assert_eq!(off.status(), StatusCode::OK);
        assert_eq!(
            off.json::<Value>().await.unwrap()["is_active"],
            json!(false)
        );
        assert_eq!(on.status(), StatusCode::OK);
        assert_eq!(on.json::<Value>().await.unwrap()["is_active"], json!(true));
        assert_problem(admin_off, StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(
            app.me_status(&admin.access).await,
            StatusCode::OK,
            "admin untouched"
        );
    }
);

// An admin cannot lock themselves out: self-deactivation and self-deletion are 422.
both!(
    admin_cannot_deactivate_or_delete_themselves,
    |app| async move {
        // Arrange
        let (admin, admin_id) = admin_with_id(&app).await;
        // Act
        let deactivate =
            patch_user(&app, &admin.access, &admin_id, json!({"is_active": false})).await;
        let delete = delete_user(&app, &admin.access, &admin_id).await;
        // Assert
        assert_validation_failed(deactivate).await;
        assert_validation_failed(delete).await;
        assert_eq!(
            app.get("/admin/users", Some(&admin.access)).await.status(),
            StatusCode::OK
        );
    }
);

// R17: a role change applies to the user's very next request, even with a token issued before it.
both!(
    role_change_applies_to_existing_tokens_on_the_next_request,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (_, tokens, id) = plain_user(&app).await;
        assert_eq!(
            app.get("/admin/users", Some(&tokens.access)).await.status(),
            StatusCode::FORBIDDEN
        );
        // Act: grant moderator
        patch_user_ok(
            &app,
            &admin.access,
            &id,
            json!({"roles": ["user", "moderator"]}),
        )
        .await;
        // Assert: the same (older) token now carries the new role
        assert_eq!(
            app.get("/admin/users", Some(&tokens.access)).await.status(),
            StatusCode::OK
        );
        let me: Value = app.me(&tokens.access).await;
        assert!(
            me["roles"]
                .as_array()
                .unwrap()
                .contains(&json!("moderator")),
            "{me}"
        );
        // Act: take it away again
        patch_user_ok(&app, &admin.access, &id, json!({"roles": ["user"]})).await;
        // Assert
        let resp = app.get("/admin/users", Some(&tokens.access)).await;
        assert_problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    }
);

// R15: deactivation ends access, refresh and login at once; reactivation allows login again.
both!(
    deactivation_applies_on_the_next_request_and_reactivation_restores_login,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (user, tokens, id) = plain_user(&app).await;
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
        // Act
        patch_user_ok(&app, &admin.access, &id, json!({"is_active": false})).await;
        // Assert
        let me = app.get("/users/me", Some(&tokens.access)).await;
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
        let challenge = me.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert_eq!(
            app.refresh(&tokens.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let login = app.login(&user).await;
        assert_problem(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        // Act: reactivate
        patch_user_ok(&app, &admin.access, &id, json!({"is_active": true})).await;
        // Assert: a new login works; the sessions ended by deactivation stay ended
        let fresh = app.login_ok(&user).await;
        assert_eq!(app.me_status(&fresh.access).await, StatusCode::OK);
        assert_session_ended(&app, &tokens).await;
    }
);

// R15: deleting a user kills their tokens at once; only admins may delete.
both!(
    delete_user_is_admin_only_and_kills_the_users_tokens,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (_, moderator) = app.user_with_roles(&["moderator"]).await;
        let (user, tokens, id) = plain_user(&app).await;
        // Act
        let by_moderator = delete_user(&app, &moderator.access, &id).await;
        assert_problem(by_moderator, StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::OK,
            "still there"
        );
        let resp = delete_user(&app, &admin.access, &id).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(resp.text().await.unwrap(), "");
        assert_session_ended(&app, &tokens).await;
        assert_eq!(app.login(&user).await.status(), StatusCode::UNAUTHORIZED);
        let gone = app
            .get(&format!("/admin/users/{id}"), Some(&admin.access))
            .await;
        assert_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
        let again = delete_user(&app, &admin.access, &id).await;
        assert_problem(again, StatusCode::NOT_FOUND, "not_found").await;
    }
);
