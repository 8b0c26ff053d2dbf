//! `DeviceStore`: device tokens, and forgetting every guard counter of an account.

use std::sync::Arc;

use super::{DAY, NOW, contract, create};
use crate::store::{LockoutPolicy, NewDeviceToken, Rate, Store, UserRecord};

contract!(
    device_attempts_count_only_for_the_right_user_tag_and_time_up_to_the_budget,
    concurrent_device_attempts_never_exceed_the_budget,
    device_tokens_are_capped_per_user_deleted_and_purged,
    clear_account_guards_forgets_every_counter_of_that_account_only,
);

/// A token of `user` called `hash`, issued at `at` under the tag `tag`, valid for a day.
fn token(user: &UserRecord, hash: &str, tag: &str, at: i64) -> NewDeviceToken {
    NewDeviceToken {
        token_hash: hash.to_owned(),
        user_id: user.id,
        pw_tag: tag.to_owned(),
        created_at: at,
        expires_at: at + DAY,
    }
}

/// `begin_device_attempt` counts an attempt (`Some(n)`, this one included) only on the user's
/// own token, under the tag it was issued with, before it expires, and at most `max` times;
/// otherwise `None`, counting nothing. A deleted token counts nothing.
async fn device_attempts_count_only_for_the_right_user_tag_and_time_up_to_the_budget(
    s: Arc<dyn Store>,
) {
    let (alice, bob) = (create(&*s, "alice").await, create(&*s, "bob").await);
    s.insert_device_token(&token(&alice, "h1", "tag", NOW), 10)
        .await
        .unwrap();
    let attempt = |user: &UserRecord, tag: &'static str, at: i64| {
        let (s, id) = (s.clone(), user.id);
        async move { s.begin_device_attempt("h1", id, tag, 3, at).await.unwrap() }
    };
    assert_eq!(
        attempt(&bob, "tag", NOW).await,
        None,
        "another user's token"
    );
    assert_eq!(
        attempt(&alice, "old", NOW).await,
        None,
        "another password hash"
    );
    assert_eq!(attempt(&alice, "tag", NOW + DAY).await, None, "expired");
    let unknown = s.begin_device_attempt("h2", alice.id, "tag", 3, NOW);
    assert_eq!(unknown.await.unwrap(), None, "no such token");
    assert_eq!(
        attempt(&alice, "tag", NOW).await,
        Some(1),
        "nothing counted before"
    );
    assert_eq!(attempt(&alice, "tag", NOW).await, Some(2));
    assert_eq!(attempt(&alice, "tag", NOW).await, Some(3));
    assert_eq!(
        attempt(&alice, "tag", NOW).await,
        None,
        "the budget is spent"
    );
    assert!(s.delete_device_token("h1").await.unwrap());
    assert!(!s.delete_device_token("h1").await.unwrap(), "already gone");
}

/// `begin_device_attempt` is atomic: of ten concurrent attempts on a budget of three, exactly
/// three are counted, numbered 1 to 3.
async fn concurrent_device_attempts_never_exceed_the_budget(s: Arc<dyn Store>) {
    let carol = create(&*s, "carol").await;
    s.insert_device_token(&token(&carol, "hc", "tag", NOW), 10)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (s, id) = (s.clone(), carol.id);
            tokio::spawn(async move { s.begin_device_attempt("hc", id, "tag", 3, NOW).await })
        })
        .collect();
    let mut counted = Vec::new();
    for task in tasks {
        counted.extend(task.await.unwrap().unwrap());
    }
    counted.sort_unstable();
    assert_eq!(counted, vec![1, 2, 3]);
}

/// `insert_device_token` keeps the newest `keep` tokens of the user (others' untouched);
/// `delete_user_device_tokens` deletes all of one user's; `purge_device_tokens` the expired.
async fn device_tokens_are_capped_per_user_deleted_and_purged(s: Arc<dyn Store>) {
    let (dave, erin) = (create(&*s, "dave").await, create(&*s, "erin").await);
    s.insert_device_token(&token(&erin, "e1", "t", NOW), 2)
        .await
        .unwrap();
    for (i, hash) in ["d1", "d2", "d3"].into_iter().enumerate() {
        let at = NOW + i64::try_from(i).unwrap();
        s.insert_device_token(&token(&dave, hash, "t", at), 2)
            .await
            .unwrap();
    }
    let live = |hash: &'static str, user: &UserRecord| {
        let (s, id) = (s.clone(), user.id);
        async move { s.begin_device_attempt(hash, id, "t", 9, NOW).await.unwrap() }
    };
    assert_eq!(
        live("d1", &dave).await,
        None,
        "the oldest beyond two is gone"
    );
    assert_eq!(live("d2", &dave).await, Some(1));
    assert_eq!(live("d3", &dave).await, Some(1));
    assert_eq!(
        live("e1", &erin).await,
        Some(1),
        "another user's token stays"
    );
    assert_eq!(s.delete_user_device_tokens(dave.id).await.unwrap(), 2);
    assert_eq!(live("d3", &dave).await, None);
    assert_eq!(s.purge_device_tokens(NOW + DAY - 1).await.unwrap(), 0);
    assert_eq!(s.purge_device_tokens(NOW + DAY).await.unwrap(), 1);
}

/// `clear_account_guards` forgets the account's failure rows (`account` and every
/// `account|<address>`), its bucket and its device tokens' counts; another account's rows,
/// even one whose key starts with the same text, stay.
async fn clear_account_guards_forgets_every_counter_of_that_account_only(s: Arc<dyn Store>) {
    let frank = create(&*s, "frank").await;
    s.insert_device_token(&token(&frank, "hf", "t", NOW), 10)
        .await
        .unwrap();
    let policy = LockoutPolicy {
        threshold: 1,
        first_lock: 60,
        max_lock: 60,
    };
    let rate = Rate::per(1, 3600);
    for key in [
        "user:f",
        "user:f|192.0.2.1",
        "user:f|2001:db8::",
        "user:ff|192.0.2.1",
    ] {
        assert_eq!(
            s.begin_login_attempt(key, policy, NOW).await.unwrap(),
            Ok(true)
        );
    }
    for bucket in ["account:user:f", "account:user:ff"] {
        assert_eq!(s.take(bucket, rate, NOW * 1000).await.unwrap(), None);
    }
    assert_eq!(
        s.begin_device_attempt("hf", frank.id, "t", 2, NOW)
            .await
            .unwrap(),
        Some(1)
    );
    // Act
    let cleared = s.clear_account_guards("user:f", "account:user:f", frank.id);
    assert!(cleared.await.unwrap());
    // Assert
    for key in ["user:f", "user:f|192.0.2.1", "user:f|2001:db8::"] {
        let again = s.begin_login_attempt(key, policy, NOW).await.unwrap();
        assert_eq!(
            again,
            Ok(true),
            "{key} was forgotten: it counts (and locks) again"
        );
    }
    let other = s.begin_login_attempt("user:ff|192.0.2.1", policy, NOW);
    assert_eq!(
        other.await.unwrap(),
        Err(NOW + 60),
        "another account stays locked"
    );
    assert_eq!(
        s.take("account:user:f", rate, NOW * 1000).await.unwrap(),
        None
    );
    assert!(
        s.take("account:user:ff", rate, NOW * 1000)
            .await
            .unwrap()
            .is_some()
    );
    let device = s.begin_device_attempt("hf", frank.id, "t", 2, NOW);
    assert_eq!(
        device.await.unwrap(),
        Some(1),
        "the token's count starts over"
    );
    let nothing = s.clear_account_guards("user:g", "account:user:g", uuid::Uuid::now_v7());
    assert!(!nothing.await.unwrap(), "nothing to forget");
}
