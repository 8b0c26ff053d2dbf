//! The last active admin: no demotion, deactivation or deletion may leave authgate without one,
//! through the API or the library (which the CLI uses), even when two admins race.

use crate::both;
use crate::support::*;
use authgate::{Actor, ErrorCode, UserChanges};
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

/// How many active admins the database holds.
async fn active_admins(app: &TestApp) -> String {
    let sql = "SELECT CAST(COUNT(*) AS TEXT) FROM users u \
               JOIN user_roles r ON r.user_id = u.user_id \
               WHERE r.role_name = 'admin' AND u.is_active";
    app.db.fetch_text(sql, &[]).await.expect("a count")
}

/// A signed-in admin and their id.
async fn admin(app: &TestApp) -> (Tokens, String) {
    let (_, tokens) = app.user_with_roles(&["admin"]).await;
    let id = app.user_id(&tokens.access).await;
    (tokens, id)
}

// Item 6: the only admin removing their own admin role is 409 `last_admin`; with a second
// admin it goes through.
both!(
    the_last_admin_cannot_remove_their_own_admin_role,
    |app| async move {
        // Arrange
        let (only, id) = admin(&app).await;
        let demote = json!({"roles": ["user"]});
        // Act
        let refused = patch_user(&app, &only.access, &id, demote.clone()).await;
        // Assert
        let body = assert_problem(refused, StatusCode::CONFLICT, "last_admin").await;
        assert!(body["detail"].as_str().unwrap().contains("admin"), "{body}");
        assert_eq!(active_admins(&app).await, "1");
        let still = app.get("/admin/roles", Some(&only.access)).await;
        assert_eq!(still.status(), StatusCode::OK, "still an admin");
        // With another admin, the same change is allowed.
        admin(&app).await;
        let allowed = patch_user(&app, &only.access, &id, demote).await;
        assert_eq!(allowed.status(), StatusCode::OK);
        assert_eq!(active_admins(&app).await, "1");
    }
);

// Item 6: the library (and so the CLI's `set-role` and `deactivate`) and `delete_user` refuse
// the last active admin too: `Error::LastAdmin`, code `last_admin`, nothing changed.
both!(
    the_library_refuses_to_remove_the_last_admin,
    |app| async move {
        // Arrange
        let (_, id) = admin(&app).await;
        let id = Uuid::parse_str(&id).unwrap();
        let system = Actor::system();
        let deactivate = UserChanges {
            roles: None,
            is_active: Some(false),
        };
        let demote = UserChanges {
            roles: Some(vec!["user".into()]),
            is_active: None,
        };
        // Act
        let outcomes = [
            app.state().update_user(id, deactivate, &system).await.err(),
            app.state().update_user(id, demote, &system).await.err(),
            app.state().delete_user(id, &system).await.err(),
        ];
        // Assert
        for outcome in outcomes {
            let e = outcome.expect("refused");
            assert_eq!(e.code(), ErrorCode::LastAdmin, "{e:?}");
            assert_eq!(e.status().as_u16(), 409);
        }
        assert_eq!(active_admins(&app).await, "1");
    }
);

// Item 6: the last two admins demoting each other, or deleting each other, at the same time:
// at least one is refused and one admin is left, every round.
both!(
    the_last_two_admins_removing_each_other_at_once_leave_one,
    |app| async move {
        for round in 0..4 {
            // Arrange: exactly two admins
            let (a, a_id) = admin(&app).await;
            let (b, b_id) = admin(&app).await;
            assert_eq!(active_admins(&app).await, "2", "round {round}");
            // Act
            let (one, two) = if round % 2 == 0 {
                let demote = json!({"roles": ["user"]});
                tokio::join!(
                    patch_user(&app, &a.access, &b_id, demote.clone()),
                    patch_user(&app, &b.access, &a_id, demote),
                )
            } else {
                let (to_b, to_a) = (
                    format!("/admin/users/{b_id}"),
                    format!("/admin/users/{a_id}"),
                );
                tokio::join!(
                    app.request(Method::DELETE, &to_b, Some(&a.access), None),
                    app.request(Method::DELETE, &to_a, Some(&b.access), None),
                )
            };
            // Assert: one went through; the other was refused (409, or 401/403 when its
            // admin was already gone by the time it was authenticated)
            let statuses = [one.status(), two.status()];
            let done = statuses.iter().filter(|s| s.is_success()).count();
            assert_eq!(done, 1, "round {round}: {statuses:?}");
            assert_eq!(
                active_admins(&app).await,
                "1",
                "round {round}: {statuses:?}"
            );
            // Leave no admin for the next round: the survivor goes, now that it is allowed
            // (zero admins before is not "the last one").
            let survivor = if statuses[0].is_success() {
                &a_id
            } else {
                &b_id
            };
            let id = Uuid::parse_str(survivor).unwrap();
            app.db
                .execute(
                    "DELETE FROM user_roles WHERE user_id = $1",
                    &[&id.to_string()],
                )
                .await;
        }
    }
);
