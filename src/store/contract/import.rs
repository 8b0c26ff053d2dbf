//! `ImportStore`: batches of imported users.

use std::sync::Arc;

use uuid::Uuid;

use super::{contract, create, new_user};
use crate::store::{Imported, NewUser, Store, UserQuery};

contract!(
    import_users_creates_new_users_with_their_roles,
    importing_the_same_batch_again_changes_nothing,
    an_imported_user_whose_username_is_taken_comes_without_it,
    a_dry_run_answers_the_same_and_writes_nothing,
    rows_of_one_batch_that_share_a_key_are_told_apart,
);

/// `new_user(name)` with the roles `roles`.
fn with_roles(name: &str, roles: &[&str]) -> NewUser {
    let mut u = new_user(name);
    u.roles = roles.iter().map(|r| (*r).to_owned()).collect();
    u
}

async fn all_users(s: &dyn Store) -> Vec<(String, Option<String>, String, Vec<String>)> {
    let query = UserQuery {
        limit: 100,
        ..UserQuery::default()
    };
    let mut users: Vec<_> = s
        .list_users(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.email, u.username, u.password_hash, u.roles))
        .collect();
    users.sort();
    users
}

/// New users are inserted with their hash, flags and roles, one outcome per input in order.
async fn import_users_creates_new_users_with_their_roles(s: Arc<dyn Store>) {
    let mut bob = with_roles("bob", &["user", "moderator"]);
    bob.is_active = false;
    bob.email_verified = true;
    let batch = [with_roles("alice", &["admin", "user"]), bob.clone()];
    let outcomes = s.import_users(&batch, false).await.unwrap();
    assert_eq!(outcomes, [Imported::Created, Imported::Created]);
    let read = s.user_by_id(bob.id).await.unwrap().expect("bob stored");
    assert_eq!(read.roles, ["moderator", "user"]);
    assert_eq!(read.password_hash, bob.password_hash);
    assert!(!read.is_active && read.email_verified);
    let alice = s.user_by_login("alice@example.com").await.unwrap();
    assert_eq!(alice.expect("alice stored").roles, ["admin", "user"]);
}

/// Keyed by e-mail: users already stored (by an earlier import, a registration, or earlier in
/// the same batch) are `Exists` and left exactly as they were, even if the input differs.
async fn importing_the_same_batch_again_changes_nothing(s: Arc<dyn Store>) {
    let registered = create(&*s, "carol").await;
    let batch = [with_roles("alice", &["user"]), with_roles("bob", &["user"])];
    s.import_users(&batch, false).await.unwrap();
    let before = all_users(&*s).await;
    // A second run (new ids, as a new run makes them), and a changed copy of carol.
    let mut again: Vec<NewUser> = batch
        .iter()
        .map(|u| NewUser {
            id: Uuid::now_v7(),
            ..u.clone()
        })
        .collect();
    let mut carol = with_roles("carol", &["admin"]);
    carol.password_hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$other".into();
    again.push(carol);
    let mut twin = with_roles("alice", &["admin"]);
    twin.email = "ALICE@example.com".into();
    again.push(twin);
    let outcomes = s.import_users(&again, false).await.unwrap();
    assert_eq!(outcomes, [Imported::Exists; 4]);
    assert_eq!(all_users(&*s).await, before, "nothing changed");
    let carol = s.user_by_id(registered.id).await.unwrap().unwrap();
    assert_eq!(carol.roles, ["user"], "an existing account keeps its roles");
}

/// A username whose key another account has: the user is imported without a username.
async fn an_imported_user_whose_username_is_taken_comes_without_it(s: Arc<dyn Store>) {
    create(&*s, "alice").await;
    let mut other = with_roles("bob", &["user"]);
    other.username = Some("ALICE".into());
    other.username_lower = Some("alice".into());
    let outcomes = s.import_users(&[other.clone()], false).await.unwrap();
    assert_eq!(outcomes, [Imported::WithoutUsername]);
    let read = s.user_by_id(other.id).await.unwrap().expect("imported");
    assert_eq!(read.username, None);
    assert_eq!(read.roles, ["user"]);
}

/// `dry_run`: the same outcomes as a real run, and nothing stored.
async fn a_dry_run_answers_the_same_and_writes_nothing(s: Arc<dyn Store>) {
    create(&*s, "alice").await;
    let before = all_users(&*s).await;
    let batch = [with_roles("alice", &["user"]), with_roles("bob", &["user"])];
    let outcomes = s.import_users(&batch, true).await.unwrap();
    assert_eq!(outcomes, [Imported::Exists, Imported::Created]);
    assert_eq!(all_users(&*s).await, before, "a dry run writes nothing");
    let real = s.import_users(&batch, false).await.unwrap();
    assert_eq!(real, outcomes, "the dry run said what the run does");
}

/// Within one batch (one multi-row statement): a second row with the same e-mail key is
/// `Exists`, a second row with only the same username key comes without it.
async fn rows_of_one_batch_that_share_a_key_are_told_apart(s: Arc<dyn Store>) {
    let alice = with_roles("alice", &["user"]);
    let mut twin = with_roles("twin", &["admin"]);
    twin.email = "ALICE@example.com".into();
    twin.email_lower = alice.email_lower.clone();
    let mut namesake = with_roles("bob", &["user"]);
    namesake.username = Some("Alice".into());
    namesake.username_lower = Some("alice".into());
    let outcomes = s
        .import_users(&[alice, twin.clone(), namesake.clone()], false)
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            Imported::Created,
            Imported::Exists,
            Imported::WithoutUsername
        ]
    );
    assert!(s.user_by_id(twin.id).await.unwrap().is_none());
    let bob = s.user_by_id(namesake.id).await.unwrap().expect("imported");
    assert_eq!((bob.username, bob.roles), (None, vec!["user".to_owned()]));
}
