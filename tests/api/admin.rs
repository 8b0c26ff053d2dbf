//! `/admin/*`: user and role management, who may do what, and how fast changes take effect.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

/// Register an account directly (no login) and return its id.
async fn register_as(app: &TestApp, email: &str, username: Option<&str>) -> String {
    let mut body = json!({"email": email, "password": "correct horse battery"});
    if let Some(u) = username {
        body["username"] = json!(u);
    }
    let resp = app.post("/auth/register", None, body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "register {email}");
    let user: Value = resp.json().await.unwrap();
    user["id"].as_str().unwrap().to_owned()
}

/// Register and sign in a fresh plain user; returns (user, tokens, id).
async fn plain_user(app: &TestApp) -> (TestUser, Tokens, String) {
    let (user, tokens) = app.signed_in_user().await;
    let id = app.user_id(&tokens.access).await;
    (user, tokens, id)
}

/// `GET /admin/users?<query>` as `token`, expecting 200; returns the page.
async fn list_ok(app: &TestApp, token: &str, query: &str) -> Value {
    let resp = app.get(&format!("/admin/users?{query}"), Some(token)).await;
    assert_eq!(resp.status(), StatusCode::OK, "GET /admin/users?{query}");
    resp.json().await.unwrap()
}

/// The ids of a page's items, in order.
fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items array")
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn patch_user(app: &TestApp, token: &str, id: &str, body: Value) -> Response {
    app.request(
        Method::PATCH,
        &format!("/admin/users/{id}"),
        Some(token),
        Some(body),
    )
    .await
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

/// Assert a problem+json answer with this status and code; returns the body.
async fn assert_problem(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], json!(code), "{body}");
    assert_eq!(body["status"], json!(status.as_u16()));
    body
}

// R18: the list has the documented shape and never shows password hashes.
both!(
    list_users_returns_items_and_a_null_cursor_on_the_last_page,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (user, _, user_id) = plain_user(&app).await;
        // Act
        let page = list_ok(&app, &admin.access, "").await;
        // Assert
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(page["next"], Value::Null);
        let listed = items
            .iter()
            .find(|u| u["id"] == json!(user_id))
            .expect("user listed");
        assert_eq!(listed["email"], json!(user.email));
        assert_eq!(listed["roles"], json!(["user"]));
        assert_eq!(listed["is_active"], json!(true));
        for item in items {
            assert!(item.get("password_hash").is_none(), "{item}");
        }
    }
);

// Cursor pagination visits every user exactly once, in id (creation) order.
both!(
    list_users_cursor_pagination_walks_all_users_once_in_order,
    |app| async move {
        // Arrange: 1 admin + 4 users = 5
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let mut created = vec![app.user_id(&admin.access).await];
        for i in 0..4 {
            created.push(register_as(&app, &format!("walk{i}@example.com"), None).await);
        }
        // Act
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(c) => format!("limit=2&after={c}"),
                None => "limit=2".to_owned(),
            };
            let page = list_ok(&app, &admin.access, &query).await;
            let page_ids = ids(&page);
            sizes.push(page_ids.len());
            seen.extend(page_ids);
            match page["next"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(sizes.len() < 10, "pagination does not terminate");
        }
        // Assert
        assert_eq!(sizes, vec![2, 2, 1]);
        assert_eq!(seen, created, "every user once, in creation order");
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted, "ordered by id");
    }
);

// q= matches a substring of e-mail or username, case-insensitively.
both!(
    list_users_q_matches_email_or_username_case_insensitively,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let by_email = register_as(&app, "Alice.Smith@example.com", Some("zed")).await;
        let by_username = register_as(&app, "bob@example.com", Some("AliceFan")).await;
        let _other = register_as(&app, "carol@example.com", Some("carol")).await;
        // Act
        let upper = list_ok(&app, &admin.access, "q=ALICE").await;
        let lower = list_ok(&app, &admin.access, "q=alice").await;
        let none = list_ok(&app, &admin.access, "q=nobody-has-this").await;
        // Assert
        assert_eq!(ids(&upper), vec![by_email.clone(), by_username.clone()]);
        assert_eq!(ids(&lower), vec![by_email, by_username]);
        assert_eq!(ids(&none), Vec::<String>::new());
    }
);

// `%` and `_` in q are literal characters, not LIKE wildcards.
both!(
    list_users_q_treats_percent_and_underscore_literally,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let underscore = register_as(&app, "one@example.com", Some("q1x_y")).await;
        let _plain = register_as(&app, "two@example.com", Some("q1xzy")).await;
        let percent = register_as(&app, "per%cent@example.com", None).await;
        // Act
        let under = list_ok(&app, &admin.access, "q=q1x_y").await;
        let pct = list_ok(&app, &admin.access, "q=%25").await;
        let pct_wild = list_ok(&app, &admin.access, "q=q1x%25y").await;
        // Assert
        assert_eq!(
            ids(&under),
            vec![underscore],
            "_ must not match any character"
        );
        assert_eq!(ids(&pct), vec![percent], "% must match only a literal %");
        assert_eq!(
            ids(&pct_wild),
            Vec::<String>::new(),
            "% must not match any run"
        );
    }
);

// role= lists only users holding that role.
both!(
    list_users_role_filter_returns_only_holders_of_the_role,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let admin_id = app.user_id(&admin.access).await;
        let (_, moderator) = app.user_with_roles(&["moderator"]).await;
        let moderator_id = app.user_id(&moderator.access).await;
        let _plain = register_as(&app, "plain@example.com", None).await;
        // Act
        let admins = list_ok(&app, &admin.access, "role=admin").await;
        let moderators = list_ok(&app, &admin.access, "role=moderator").await;
        let users = list_ok(&app, &admin.access, "role=user").await;
        // Assert
        assert_eq!(ids(&admins), vec![admin_id]);
        assert_eq!(ids(&moderators), vec![moderator_id]);
        assert_eq!(ids(&users).len(), 3, "everyone has the user role");
    }
);

// active=false lists only deactivated users; active=true excludes them.
both!(
    list_users_active_filter_separates_deactivated_users,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let admin_id = app.user_id(&admin.access).await;
        let inactive = register_as(&app, "gone@example.com", None).await;
        let active = register_as(&app, "here@example.com", None).await;
        let resp = patch_user(&app, &admin.access, &inactive, json!({"is_active": false})).await;
        assert_eq!(resp.status(), StatusCode::OK);
        // Act
        let off = list_ok(&app, &admin.access, "active=false").await;
        let on = list_ok(&app, &admin.access, "active=true").await;
        // Assert
        assert_eq!(ids(&off), vec![inactive]);
        assert_eq!(ids(&on), vec![admin_id, active]);
    }
);

// Out-of-range limits and forged cursors are 422, never a 500 or a silent default.
both!(
    list_users_rejects_bad_limit_and_cursor_with_422,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=-1", "limit"),
            ("after=garbage", "after"),
            ("after=1%20OR%201=1", "after"),
        ] {
            // Act
            let resp = app
                .get(&format!("/admin/users?{query}"), Some(&admin.access))
                .await;
            // Assert
            let body =
                assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert!(body["errors"][field].is_array(), "{query}: {body}");
        }
        assert_eq!(
            app.get("/admin/users?limit=1", Some(&admin.access))
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get("/admin/users?limit=100", Some(&admin.access))
                .await
                .status(),
            StatusCode::OK
        );
    }
);

// Query parameters of the wrong type are a problem+json client error, not axum's plain text.
both!(
    list_users_rejects_ill_typed_query_parameters_as_problem_json,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        for query in ["limit=abc", "active=maybe"] {
            // Act
            let resp = app
                .get(&format!("/admin/users?{query}"), Some(&admin.access))
                .await;
            // Assert
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        }
    }
);

// GET /admin/users/{id}: 200 for a user, 404 for an unknown or malformed id.
both!(get_user_returns_the_user_or_404, |app| async move {
    // Arrange
    let (_, admin) = app.user_with_roles(&["admin"]).await;
    let (user, _, id) = plain_user(&app).await;
    // Act
    let found = app
        .get(&format!("/admin/users/{id}"), Some(&admin.access))
        .await;
    let unknown = app
        .get(
            &format!("/admin/users/{}", uuid::Uuid::new_v4()),
            Some(&admin.access),
        )
        .await;
    let malformed = app
        .get("/admin/users/not-a-uuid", Some(&admin.access))
        .await;
    // Assert
    assert_eq!(found.status(), StatusCode::OK);
    let body: Value = found.json().await.unwrap();
    assert_eq!(body["id"], json!(id));
    assert_eq!(body["email"], json!(user.email));
    assert!(body.get("password_hash").is_none());
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(malformed, StatusCode::NOT_FOUND, "not_found").await;
});

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
            app.get("/users/me", Some(&admin.access)).await.status(),
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
        let me: Value = app
            .get("/users/me", Some(&tokens.access))
            .await
            .json()
            .await
            .unwrap();
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
        assert_eq!(
            app.get("/users/me", Some(&tokens.access)).await.status(),
            StatusCode::OK
        );
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
        assert_eq!(
            app.get("/users/me", Some(&fresh.access)).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get("/users/me", Some(&tokens.access)).await.status(),
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
            app.get("/users/me", Some(&tokens.access)).await.status(),
            StatusCode::OK,
            "still there"
        );
        let resp = delete_user(&app, &admin.access, &id).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(resp.text().await.unwrap(), "");
        assert_eq!(
            app.get("/users/me", Some(&tokens.access)).await.status(),
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

// The built-in roles are listed; admins create new ones, which are then assignable.
both!(roles_are_listed_created_and_assignable, |app| async move {
    // Arrange
    let (_, admin) = app.user_with_roles(&["admin"]).await;
    let (_, tokens, id) = plain_user(&app).await;
    // Act
    let listed: Value = app
        .get("/admin/roles", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    let created = app
        .post(
            "/admin/roles",
            Some(&admin.access),
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
    let listed: Value = app
        .get("/admin/roles", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
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
    let me: Value = app
        .get("/users/me", Some(&tokens.access))
        .await
        .json()
        .await
        .unwrap();
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
        let builtin = app
            .post(
                "/admin/roles",
                Some(&admin.access),
                json!({"name": "admin"}),
            )
            .await;
        let first = app
            .post(
                "/admin/roles",
                Some(&admin.access),
                json!({"name": "auditor"}),
            )
            .await;
        let dup = app
            .post(
                "/admin/roles",
                Some(&admin.access),
                json!({"name": "auditor"}),
            )
            .await;
        // Assert
        assert_problem(builtin, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(first.status(), StatusCode::CREATED);
        assert_problem(dup, StatusCode::CONFLICT, "conflict").await;
        for bad in ["Bad Name", "", "1st", "UPPER", "has space"] {
            let resp = app
                .post("/admin/roles", Some(&admin.access), json!({"name": bad}))
                .await;
            let body =
                assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert!(body["errors"]["name"].is_array(), "{bad:?}: {body}");
        }
        let long = "d".repeat(257);
        let resp = app
            .post(
                "/admin/roles",
                Some(&admin.access),
                json!({"name": "ok-role", "description": long}),
            )
            .await;
        assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
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
        let create = app
            .post(
                "/admin/roles",
                Some(&moderator.access),
                json!({"name": "sneaky"}),
            )
            .await;
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

/// Every `/admin` endpoint, as (method, path, body).
fn admin_endpoints(id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/admin/users".into(), None),
        (Method::GET, format!("/admin/users/{id}"), None),
        (
            Method::PATCH,
            format!("/admin/users/{id}"),
            Some(json!({"is_active": false})),
        ),
        (
            Method::PATCH,
            format!("/admin/users/{id}"),
            Some(json!({"roles": ["user", "admin"]})),
        ),
        (Method::DELETE, format!("/admin/users/{id}"), None),
        (Method::GET, "/admin/roles".into(), None),
        (
            Method::POST,
            "/admin/roles".into(),
            Some(json!({"name": "sneaky"})),
        ),
    ]
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
            for (method, path, body) in admin_endpoints(target) {
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
        let me: Value = app
            .get("/users/me", Some(&tokens.access))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["roles"], json!(["user"]));
    }
);

// R10: without a token every /admin endpoint is 401 with a bare `WWW-Authenticate: Bearer`.
both!(
    no_token_gets_401_with_bearer_challenge_on_every_admin_endpoint,
    |app| async move {
        // Arrange
        let victim = register_as(&app, "victim@example.com", None).await;
        for (method, path, body) in admin_endpoints(&victim) {
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
