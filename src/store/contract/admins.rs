//! `UserStore`: the last active admin cannot be demoted, deactivated or deleted, even by
//! concurrent changes.

use std::sync::Arc;

use uuid::Uuid;

use super::{contract, create};
use crate::store::{Store, StoreError, UserQuery, UserRecord};

contract!(
    the_last_active_admin_cannot_be_demoted_deactivated_or_deleted,
    concurrent_removals_of_the_last_two_admins_leave_one,
);

/// A new active admin called `name`.
async fn admin(s: &dyn Store, name: &str) -> UserRecord {
    let user = create(s, name).await;
    let roles = ["admin".to_owned(), "user".to_owned()];
    assert!(s.set_roles(user.id, &roles).await.unwrap());
    user
}

/// The ids of the active admins.
async fn active_admins(s: &dyn Store) -> Vec<Uuid> {
    let query = UserQuery {
        limit: 100,
        role: Some("admin".into()),
        active: Some(true),
        ..UserQuery::default()
    };
    let users = s.list_users(&query).await.unwrap();
    users.iter().map(|u| u.id).collect()
}

fn is_last_admin<T: std::fmt::Debug>(outcome: Result<T, StoreError>) -> bool {
    match outcome {
        Err(StoreError::LastAdmin) => true,
        other => panic!("expected LastAdmin, got {other:?}"),
    }
}

/// `set_roles` without `admin`, `set_active(false)` and `delete_user` of the last active admin
/// are `LastAdmin` and change nothing; with another active admin they go through. A deactivated
/// admin does not count, and without any admin at all nothing is refused.
async fn the_last_active_admin_cannot_be_demoted_deactivated_or_deleted(s: Arc<dyn Store>) {
    let plain = create(&*s, "plain").await;
    assert!(s.set_active(plain.id, false).await.unwrap(), "no admin yet");
    assert!(s.set_active(plain.id, true).await.unwrap());
    let ann = admin(&*s, "ann").await;
    let user_only = ["user".to_owned()];
    assert!(is_last_admin(s.set_roles(ann.id, &user_only).await));
    assert!(is_last_admin(s.set_roles(ann.id, &[]).await));
    assert!(is_last_admin(s.set_active(ann.id, false).await));
    assert!(is_last_admin(s.delete_user(ann.id).await));
    assert_eq!(active_admins(&*s).await, [ann.id], "nothing changed");
    let kept = s.user_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!(kept.roles, ["admin", "user"]);
    assert!(s.set_roles(ann.id, &["admin".to_owned()]).await.unwrap());
    assert!(
        s.set_active(plain.id, false).await.unwrap(),
        "others are free"
    );
    // A second admin frees the first; a deactivated one does not.
    let bob = admin(&*s, "bob").await;
    let carl = admin(&*s, "carl").await;
    assert!(s.set_active(carl.id, false).await.unwrap());
    assert!(s.set_roles(ann.id, &user_only).await.unwrap());
    assert!(is_last_admin(s.delete_user(bob.id).await));
    assert!(s.set_active(carl.id, true).await.unwrap());
    assert!(s.delete_user(bob.id).await.unwrap());
    assert_eq!(active_admins(&*s).await, [carl.id]);
}

/// Two admins removing each other at once (demotion against deletion, against deactivation):
/// one change goes through, the other is `LastAdmin`, and one admin is left. Each round races
/// the survivor of the last against a new admin.
async fn concurrent_removals_of_the_last_two_admins_leave_one(s: Arc<dyn Store>) {
    let mut survivor = admin(&*s, "a").await.id;
    for round in 0..6 {
        let (a, b) = (survivor, admin(&*s, &format!("b{round}")).await.id);
        let first = {
            let s = s.clone();
            tokio::spawn(async move { s.set_roles(a, &["user".to_owned()]).await })
        };
        let second = {
            let s = s.clone();
            tokio::spawn(async move {
                if round % 2 == 0 {
                    s.delete_user(b).await
                } else {
                    s.set_active(b, false).await
                }
            })
        };
        let outcomes = [first.await.unwrap(), second.await.unwrap()];
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(StoreError::LastAdmin)))
            .count();
        let done = outcomes.iter().filter(|o| matches!(o, Ok(true))).count();
        assert_eq!((done, refused), (1, 1), "round {round}: {outcomes:?}");
        let left = active_admins(&*s).await;
        assert_eq!(left.len(), 1, "round {round}: {left:?}");
        survivor = left[0];
    }
}
