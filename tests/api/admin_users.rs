//! `GET /admin/users` and `GET /admin/users/{id}`: listing, pagination, filters, lookup.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
