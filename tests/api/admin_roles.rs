//! `/admin/roles`, and the 403/401 matrix over every `/admin` endpoint.

use crate::both;
use crate::support::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

// The built-in roles are listed; admins create new ones, which are then assignable.
both!(roles_are_listed_created_and_assignable, |app| async move {
    // Arrange
    let (_, admin) = app.user_with_roles(&["admin"]).await;
    let (_, tokens, id) = plain_user(&app).await;
    // Act
    let listed = list_roles(&app, &admin.access).await;
    let created = create_role(
        &app,
        &admin.access,
        json!({"name": "billing-reader", "description": "Reads invoices"}),
    )
    .await;
    // Assert
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for builtin in ["user", "moderator", "admin"] {
        assert!(names.contains(&builtin), "{names:?}");
    }
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    assert_eq!(
        body,
        json!({"name": "billing-reader", "description": "Reads invoices"})
    );
    let listed = list_roles(&app, &admin.access).await;
    assert!(
        listed["items"].as_array().unwrap().contains(&body),
        "{listed}"
    );
    let resp = patch_user(
        &app,
        &admin.access,
        &id,
        json!({"roles": ["user", "billing-reader"]}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Value = app.me(&tokens.access).await;
    assert!(
        me["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("billing-reader")),
        "{me}"
    );
});

// Role names are unique and well-formed.
both!(
    create_role_rejects_duplicates_with_409_and_bad_names_with_422,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        // Act
        let builtin = create_role(&app, &admin.access, json!({"name": "admin"})).await;
        let first = create_role(&app, &admin.access, json!({"name": "auditor"})).await;
        let dup = create_role(&app, &admin.access, json!({"name": "auditor"})).await;
        // Assert
        assert_problem(builtin, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(first.status(), StatusCode::CREATED);
        assert_problem(dup, StatusCode::CONFLICT, "conflict").await;
        for bad in ["Bad Name", "", "1st", "UPPER", "has space"] {
            let resp = create_role(&app, &admin.access, json!({"name": bad})).await;
            let body = assert_validation_failed(resp).await;
            assert!(body["errors"]["name"].is_array(), "{bad:?}: {body}");
        }
        let long = "d".repeat(257);
        let resp = create_role(
            &app,
            &admin.access,
            json!({"name": "ok-role", "description": long}),
        )
        .await;
        assert_validation_failed(resp).await;
    }
);

// R18: roles are admin business; moderators get 403.
both!(
    moderator_is_forbidden_from_role_management,
    |app| async move {
        // Arrange
        let (_, moderator) = app.user_with_roles(&["moderator"]).await;
        // Act
        let list = app.get("/admin/roles", Some(&moderator.access)).await;
        let create = create_role(&app, &moderator.access, json!({"name": "sneaky"})).await;
        // Assert
        assert_problem(list, StatusCode::FORBIDDEN, "forbidden").await;
        assert_problem(create, StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(
            app.get("/admin/users", Some(&moderator.access))
                .await
                .status(),
            StatusCode::OK,
            "but may list users"
        );
    }
);

/// Every `/admin` operation the OpenAPI document lists (so a new endpoint is covered without
/// editing this test), as (method, path, body) aimed at user `id`. An operation with a body
/// gets one that would change something; `PATCH /admin/users/{id}` gets two.
async fn admin_endpoints(app: &TestApp, id: &str) -> Vec<(Method, String, Option<Value>)> {
    let ops: Vec<(String, String)> = documented_operations(app)
        .await
        .into_iter()
        .filter(|(_, path)| path.starts_with("/admin/") && !path.starts_with("/admin/console/"))
        .collect();
    // The floor: the list may grow, never lose one of these.
    for known in [
        "GET /admin/users",
        "GET /admin/users/{id}",
        "PATCH /admin/users/{id}",
        "DELETE /admin/users/{id}",
        "POST /admin/users/{id}/unlock",
        "GET /admin/audit",
        "GET /admin/roles",
        "POST /admin/roles",
    ] {
        assert!(
            ops.iter().any(|(m, p)| format!("{m} {p}") == known),
            "{known} missing from {ops:?}"
        );
    }
    let mut endpoints = Vec::new();
    for (method, template) in ops {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let path = template.replace("{id}", id);
        let bodies = match (method.as_str(), template.as_str()) {
            ("PATCH", "/admin/users/{id}") => vec![
                Some(json!({"is_active": false})),
                Some(json!({"roles": ["user", "admin"]})),
            ],
            ("POST", "/admin/roles") => vec![Some(json!({"name": "sneaky"}))],
            ("POST" | "PUT" | "PATCH", _) => vec![Some(json!({}))],
            _ => vec![None],
        };
        for body in bodies {
            endpoints.push((method.clone(), path.clone(), body));
        }
    }
    endpoints
}

// R18: a plain user is refused every /admin endpoint with 403 "forbidden", and nothing changes.
both!(
    plain_user_gets_403_forbidden_on_every_admin_endpoint,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (_, tokens, id) = plain_user(&app).await;
        let victim = register_as(&app, "victim@example.com", None).await;
        for target in [&victim, &id] {
            for (method, path, body) in admin_endpoints(&app, target).await {
                // Act
                let resp = app
                    .request(method.clone(), &path, Some(&tokens.access), body)
                    .await;
                // Assert
                assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{method} {path}");
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["code"], json!("forbidden"), "{method} {path}");
            }
        }
        let victim_now: Value = app
            .get(&format!("/admin/users/{victim}"), Some(&admin.access))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(victim_now["is_active"], json!(true));
        let me: Value = app.me(&tokens.access).await;
        assert_eq!(me["roles"], json!(["user"]));
    }
);

// R10: without a token every /admin endpoint is 401 with a bare `WWW-Authenticate: Bearer`.
both!(
    no_token_gets_401_with_bearer_challenge_on_every_admin_endpoint,
    |app| async move {
        // Arrange
        let victim = register_as(&app, "victim@example.com", None).await;
        for (method, path, body) in admin_endpoints(&app, &victim).await {
            // Act
            let resp = app.request(method.clone(), &path, None, body).await;
            // Assert
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(
                resp.headers()["www-authenticate"],
                "Bearer",
                "{method} {path}"
            );
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["code"], json!("invalid_token"), "{method} {path}");
        }
    }
);

/// `POST /admin/roles` with this body, as the holder of `access`.
async fn create_role(app: &TestApp, access: &str, body: Value) -> Response {
    app.post("/admin/roles", Some(access), body).await
}

/// `GET /admin/roles` as the holder of `access`, as JSON.
async fn list_roles(app: &TestApp, access: &str) -> Value {
    app.get("/admin/roles", Some(access))
        .await
        .json()
        .await
        .unwrap()
}
