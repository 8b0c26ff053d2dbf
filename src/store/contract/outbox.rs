//! `OutboxStore` and `TokenStore`: the outbox's claims, retries and purge; one-time tokens used
//! at most once.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use super::{HOUR, NOW, contract, create, new_user};
use crate::store::{NewMail, NewOneTimeToken, Store, StoreError};

contract!(
    a_claimed_mail_is_hidden_until_its_lease_ends_and_a_sent_one_for_good,
    failed_mails_come_back_at_their_retry_time_and_given_up_ones_never,
    concurrent_claims_never_return_the_same_mail,
    purge_deletes_only_mails_done_before_the_retention,
    a_token_is_used_once_and_a_newer_one_voids_the_older,
    concurrent_uses_of_one_reset_token_succeed_once,
    expired_tokens_and_password_changes_void_reset_tokens,
    verification_confirms_only_the_address_the_link_was_sent_to,
    an_email_change_to_a_taken_address_conflicts_and_keeps_the_token,
    a_user_is_created_with_their_token_and_mail_in_one_transaction,
);

fn mail(to: &str, at: i64) -> NewMail {
    NewMail {
        id: Uuid::now_v7(),
        kind: "verify_email".into(),
        recipient: to.into(),
        user_id: None,
        context: r#"{"link":"http://x/verify-email?token=t"}"#.into(),
        created_at: at,
    }
}

fn token(user: Uuid, hash: &str, purpose: &'static str, email: &str) -> NewOneTimeToken {
    NewOneTimeToken {
        hash: hash.into(),
        user_id: user,
        purpose,
        email: email.into(),
        created_at: NOW,
        expires_at: NOW + HOUR,
    }
}

/// A claim returns due mails with one more attempt and hides them for the lease; once sent, a
/// mail is never claimed again and its context (which holds the link) is emptied.
async fn a_claimed_mail_is_hidden_until_its_lease_ends_and_a_sent_one_for_good(s: Arc<dyn Store>) {
    let (a, b) = (mail("a@example.com", NOW), mail("b@example.com", NOW + 1));
    s.enqueue_mail(&a).await.unwrap();
    s.enqueue_mail(&b).await.unwrap();
    let claimed = s.claim_mail(NOW + 1, 60, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].id, a.id, "oldest first");
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].context, a.context);
    assert!(
        s.claim_mail(NOW + 30, 60, 10).await.unwrap().is_empty(),
        "leased"
    );
    s.mail_sent(a.id, NOW + 2).await.unwrap();
    let again = s.claim_mail(NOW + 61, 60, 10).await.unwrap();
    assert_eq!(
        again.len(),
        1,
        "only the unsent one comes back after the lease"
    );
    assert_eq!((again[0].id, again[0].attempts), (b.id, 2));
}

/// `mail_failed` with a retry time makes the mail due then (not before); with none it is given
/// up and never claimed again.
async fn failed_mails_come_back_at_their_retry_time_and_given_up_ones_never(s: Arc<dyn Store>) {
    let m = mail("a@example.com", NOW);
    s.enqueue_mail(&m).await.unwrap();
    assert_eq!(s.claim_mail(NOW, 600, 10).await.unwrap().len(), 1);
    s.mail_failed(m.id, Some(NOW + 20), NOW, "421 try later")
        .await
        .unwrap();
    assert!(s.claim_mail(NOW + 19, 600, 10).await.unwrap().is_empty());
    let back = s.claim_mail(NOW + 20, 600, 10).await.unwrap();
    assert_eq!(
        back.len(),
        1,
        "due at the retry time, before the old lease ended"
    );
    s.mail_failed(m.id, None, NOW + 20, "550 no such user")
        .await
        .unwrap();
    assert!(
        s.claim_mail(NOW + 10 * HOUR, 600, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Four claimers racing over twenty mails: each mail is claimed exactly once.
async fn concurrent_claims_never_return_the_same_mail(s: Arc<dyn Store>) {
    for i in 0..20 {
        s.enqueue_mail(&mail(&format!("u{i}@example.com"), NOW))
            .await
            .unwrap();
    }
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = s.claim_mail(NOW, 60, 3).await.unwrap();
                    if batch.is_empty() {
                        return got;
                    }
                    got.extend(batch.into_iter().map(|m| m.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 20, "every mail claimed");
    assert_eq!(distinct.len(), 20, "none twice");
}

/// The purge deletes sent and given-up mails done before its cut-off, never pending ones.
async fn purge_deletes_only_mails_done_before_the_retention(s: Arc<dyn Store>) {
    let (sent, failed, pending) = (
        mail("a@x.io", NOW),
        mail("b@x.io", NOW),
        mail("c@x.io", NOW),
    );
    for m in [&sent, &failed, &pending] {
        s.enqueue_mail(m).await.unwrap();
    }
    s.mail_sent(sent.id, NOW).await.unwrap();
    s.mail_failed(failed.id, None, NOW + 100, "gave up")
        .await
        .unwrap();
    assert_eq!(s.purge_mail(NOW + 50).await.unwrap(), 1, "the sent one");
    assert_eq!(
        s.purge_mail(NOW + 10 * HOUR).await.unwrap(),
        1,
        "the failed one"
    );
    assert_eq!(
        s.claim_mail(NOW, 60, 10).await.unwrap().len(),
        1,
        "pending stays"
    );
}

/// A reset token sets the password once; issuing a newer one voids the older.
async fn a_token_is_used_once_and_a_newer_one_voids_the_older(s: Arc<dyn Store>) {
    let user = create(s.as_ref(), "alice").await;
    s.issue_token(&token(user.id, "old", "reset", &user.email), &[])
        .await
        .unwrap();
    s.issue_token(&token(user.id, "new", "reset", &user.email), &[])
        .await
        .unwrap();
    assert_eq!(s.reset_password("old", "$h1", NOW + 1).await.unwrap(), None);
    assert!(s.token_owner("new", "reset", NOW).await.unwrap().is_some());
    assert!(
        s.token_owner("new", "verify", NOW).await.unwrap().is_none(),
        "other purpose"
    );
    assert_eq!(
        s.reset_password("new", "$h2", NOW + 1).await.unwrap(),
        Some(user.id)
    );
    assert_eq!(
        s.reset_password("new", "$h3", NOW + 2).await.unwrap(),
        None,
        "used"
    );
    let stored = s.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, "$h2");
}

/// Ten concurrent uses of one reset token: exactly one sets the password.
async fn concurrent_uses_of_one_reset_token_succeed_once(s: Arc<dyn Store>) {
    let user = create(s.as_ref(), "bob").await;
    s.issue_token(&token(user.id, "t", "reset", &user.email), &[])
        .await
        .unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.reset_password("t", &format!("$h{i}"), NOW + 1).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap().unwrap().is_some() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

/// A token is refused at its expiry; a password change voids outstanding reset tokens.
async fn expired_tokens_and_password_changes_void_reset_tokens(s: Arc<dyn Store>) {
    let user = create(s.as_ref(), "carol").await;
    s.issue_token(&token(user.id, "a", "reset", &user.email), &[])
        .await
        .unwrap();
    assert_eq!(
        s.reset_password("a", "$h", NOW + HOUR).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(s.purge_tokens(NOW + HOUR + 1).await.unwrap(), 1);
    s.issue_token(&token(user.id, "b", "reset", &user.email), &[])
        .await
        .unwrap();
    s.set_password_hash(user.id, "$changed").await.unwrap();
    assert_eq!(s.reset_password("b", "$h", NOW + 1).await.unwrap(), None);
}

/// `verify` marks the account verified only while its address is the link's, once.
async fn verification_confirms_only_the_address_the_link_was_sent_to(s: Arc<dyn Store>) {
    let user = create(s.as_ref(), "dave").await;
    s.issue_token(&token(user.id, "other", "verify", "someone@else.io"), &[])
        .await
        .unwrap();
    assert_eq!(s.confirm_email("other", "verify", NOW).await.unwrap(), None);
    // The stored address is `dave@Example.com`: the link's case does not matter.
    s.issue_token(&token(user.id, "v", "verify", "DAVE@example.com"), &[])
        .await
        .unwrap();
    assert_eq!(
        s.confirm_email("v", "reset", NOW).await.unwrap(),
        None,
        "purpose"
    );
    assert_eq!(
        s.confirm_email("v", "verify", NOW).await.unwrap(),
        Some(user.id)
    );
    assert_eq!(
        s.confirm_email("v", "verify", NOW).await.unwrap(),
        None,
        "once"
    );
    assert!(s.user_by_id(user.id).await.unwrap().unwrap().email_verified);
}

/// `email_change` moves the account to the address, verified; if another account took it
/// meanwhile, `Conflict("email")` and the token stays usable.
async fn an_email_change_to_a_taken_address_conflicts_and_keeps_the_token(s: Arc<dyn Store>) {
    let user = create(s.as_ref(), "erin").await;
    s.issue_token(&token(user.id, "c", "email_change", "New@example.com"), &[])
        .await
        .unwrap();
    let mut taker = new_user("taker");
    taker.email = "new@EXAMPLE.com".into();
    taker.email_lower = "new@example.com".into();
    s.create_user(&taker).await.unwrap();
    let e = s.confirm_email("c", "email_change", NOW).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict("email")), "{e:?}");
    s.delete_user(taker.id).await.unwrap();
    assert_eq!(
        s.confirm_email("c", "email_change", NOW).await.unwrap(),
        Some(user.id)
    );
    let stored = s.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.email.as_str(), stored.email_verified),
        ("New@example.com", true)
    );
    assert!(s.user_by_login("new@example.com").await.unwrap().is_some());
}

/// `create_user_with_token` writes all three or nothing: a taken e-mail leaves no token and
/// no mail behind.
async fn a_user_is_created_with_their_token_and_mail_in_one_transaction(s: Arc<dyn Store>) {
    let user = new_user("frank");
    let t = token(user.id, "f", "verify", &user.email);
    s.create_user_with_token(&user, &t, &mail(&user.email, NOW))
        .await
        .unwrap();
    assert!(s.token_owner("f", "verify", NOW).await.unwrap().is_some());
    let mut twin = new_user("frank2");
    twin.email = user.email.clone();
    twin.email_lower = user.email_lower.clone();
    let t2 = token(twin.id, "f2", "verify", &twin.email);
    let e = s
        .create_user_with_token(&twin, &t2, &mail(&twin.email, NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict("email")), "{e:?}");
    assert_eq!(
        s.claim_mail(NOW, 60, 10).await.unwrap().len(),
        1,
        "one mail only"
    );
}
