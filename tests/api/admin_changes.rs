//! `PATCH` and `DELETE /admin/users/{id}`: who may change what, and how fast role changes,
//! deactivation and deletion take effect.

use crate::both;
use crate::support::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

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
        let granted = patch_user(
            &app,
            &admin.access,
            &id,
            json!({"roles": ["user", "moderator"]}),
        )
        .await;
        let unknown = patch_user(
            &app,
            &admin.access,
            &id,
            json!({"roles": ["user", "superuser"]}),
        )
        .await;
        let by_moderator =
            patch_user(&app, &moderator.access, &id, json!({"roles": ["user"]})).await;
        let self_escalation = patch_user(
            &app,
            &moderator.access,
            &moderator_id,
            json!({"roles": ["user", "admin"]}),
        )
        .await;
        // Assert
        assert_eq!(granted.status(), StatusCode::OK);
        let body: Value = granted.json().await.unwrap();
        let mut roles: Vec<String> = serde_json::from_value(body["roles"].clone()).unwrap();
        roles.sort();
        assert_eq!(roles, vec!["moderator", "user"]);
        let body = assert_problem(
            unknown,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(body["errors"]["roles"].is_array(), "{body}");
        assert_problem(by_moderator, StatusCode::FORBIDDEN, "forbidden").await;
        assert_problem(self_escalation, StatusCode::FORBIDDEN, "forbidden").await;
        let after: Value = app
            .get(&format!("/admin/users/{id}"), Some(&admin.access))
            .await
            .json()
            .await
            .unwrap();
        let mut roles: Vec<String> = serde_json::from_value(after["roles"].clone()).unwrap();
        roles.sort();
        assert_eq!(
            roles,
            vec!["moderator", "user"],
            "refused changes left the roles alone"
        );
    }
);

// R18: a moderator may (de)activate plain users but not admins.
both!(
    moderator_may_deactivate_plain_users_but_not_admins,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let admin_id = app.user_id(&admin.access).await;
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
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let admin_id = app.user_id(&admin.access).await;
        // Act
        let deactivate =
            patch_user(&app, &admin.access, &admin_id, json!({"is_active": false})).await;
        let delete = delete_user(&app, &admin.access, &admin_id).await;
        // Assert
        assert_problem(
            deactivate,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_problem(
            delete,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
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
        let resp = patch_user(
            &app,
            &admin.access,
            &id,
            json!({"roles": ["user", "moderator"]}),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
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
        let resp = patch_user(&app, &admin.access, &id, json!({"roles": ["user"]})).await;
        assert_eq!(resp.status(), StatusCode::OK);
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
        let resp = patch_user(&app, &admin.access, &id, json!({"is_active": false})).await;
        assert_eq!(resp.status(), StatusCode::OK);
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
        let resp = patch_user(&app, &admin.access, &id, json!({"is_active": true})).await;
        assert_eq!(resp.status(), StatusCode::OK);
        // Assert: a new login works; the sessions ended by deactivation stay ended
        let fresh = app.login_ok(&user).await;
        assert_eq!(app.me_status(&fresh.access).await, StatusCode::OK);
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.refresh(&tokens.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
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
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.refresh(&tokens.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.login(&user).await.status(), StatusCode::UNAUTHORIZED);
        let gone = app
            .get(&format!("/admin/users/{id}"), Some(&admin.access))
            .await;
        assert_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
        let again = delete_user(&app, &admin.access, &id).await;
        assert_problem(again, StatusCode::NOT_FOUND, "not_found").await;
    }
);
