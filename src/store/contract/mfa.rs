//! `MfaStore`: a time step accepted once and only upwards, recovery codes used once in their
//! transaction, challenges within their budget and life.

use std::sync::Arc;

use uuid::Uuid;

use super::{HOUR, NOW, contract, create, open};
use crate::store::{FactorRecord, NewChallenge, NewMail, Store};

contract!(
    a_pending_factor_is_replaced_but_a_confirmed_one_is_kept,
    confirmation_needs_a_step_above_the_stored_one_and_activates_the_factor,
    a_step_is_accepted_only_above_the_last_and_once_under_concurrency,
    a_recovery_code_is_used_once_with_its_mail_even_in_parallel,
    deleting_the_factor_deletes_its_codes_and_codes_need_a_factor,
    a_challenge_counts_attempts_up_to_its_budget_and_dies_when_used_or_expired,
    a_session_remembers_its_second_factor,
);

fn factor(user: Uuid, sealed: &str) -> FactorRecord {
    FactorRecord {
        user_id: user,
        secret_sealed: sealed.into(),
        key_id: "k1".into(),
        created_at: NOW,
        confirmed_at: None,
        last_step: 0,
    }
}

fn mail(user: Uuid, kind: &str, left: i64) -> NewMail {
    NewMail {
        id: Uuid::now_v7(),
        kind: kind.into(),
        recipient: "owner@example.com".into(),
        user_id: Some(user),
        context: format!(r#"{{"left":{left}}}"#),
        created_at: NOW,
    }
}

fn codes(prefix: &str) -> Vec<String> {
    (0..10).map(|i| format!("{prefix}-{i}")).collect()
}

/// Due mails in the outbox (claimed, so each call sees only new ones).
async fn mails(s: &dyn Store) -> Vec<String> {
    let claimed = s.claim_mail(NOW + 10, 60, 100).await.unwrap();
    claimed.into_iter().map(|m| m.context).collect()
}

/// Enrolling again replaces a pending secret; once confirmed, a new enrolment is refused and
/// the secret stays.
async fn a_pending_factor_is_replaced_but_a_confirmed_one_is_kept(s: Arc<dyn Store>) {
    let u = create(s.as_ref(), "ann").await;
    assert!(s.put_pending_factor(&factor(u.id, "one")).await.unwrap());
    assert!(s.put_pending_factor(&factor(u.id, "two")).await.unwrap());
    assert_eq!(s.factor(u.id).await.unwrap().unwrap().secret_sealed, "two");
    assert!(
        s.confirm_factor(u.id, 5, &codes("a"), None, NOW)
            .await
            .unwrap()
    );
    assert!(!s.put_pending_factor(&factor(u.id, "three")).await.unwrap());
    let kept = s.factor(u.id).await.unwrap().unwrap();
    assert_eq!(kept.secret_sealed, "two");
    assert_eq!(kept.confirmed_at, Some(NOW));
    assert_eq!(kept.last_step, 5);
}

/// Confirming stores the enrolment code's step, the codes and the mail in one go; a second
/// confirmation, or one without a pending factor, changes nothing.
async fn confirmation_needs_a_step_above_the_stored_one_and_activates_the_factor(
    s: Arc<dyn Store>,
) {
    let u = create(s.as_ref(), "bob").await;
    assert!(
        !s.confirm_factor(u.id, 5, &codes("a"), None, NOW)
            .await
            .unwrap()
    );
    s.put_pending_factor(&factor(u.id, "x")).await.unwrap();
    assert!(
        !s.confirm_factor(u.id, 0, &codes("a"), None, NOW)
            .await
            .unwrap()
    );
    let m = mail(u.id, "mfa_enabled", 0);
    assert!(
        s.confirm_factor(u.id, 7, &codes("a"), Some(&m), NOW)
            .await
            .unwrap()
    );
    assert!(
        !s.confirm_factor(u.id, 9, &codes("b"), None, NOW)
            .await
            .unwrap()
    );
    assert_eq!(s.recovery_codes_left(u.id).await.unwrap(), 10);
    assert_eq!(mails(s.as_ref()).await.len(), 1);
    assert!(
        !s.accept_step(u.id, 7).await.unwrap(),
        "the enrolment code's step is used"
    );
}

/// Only a step above the stored one is accepted; of 16 parallel acceptances of one step, one
/// wins.
async fn a_step_is_accepted_only_above_the_last_and_once_under_concurrency(s: Arc<dyn Store>) {
    let u = create(s.as_ref(), "cat").await;
    s.put_pending_factor(&factor(u.id, "x")).await.unwrap();
    assert!(
        !s.accept_step(u.id, 3).await.unwrap(),
        "a pending factor accepts nothing"
    );
    s.confirm_factor(u.id, 10, &codes("a"), None, NOW)
        .await
        .unwrap();
    assert!(s.accept_step(u.id, 11).await.unwrap());
    assert!(!s.accept_step(u.id, 11).await.unwrap(), "replay");
    assert!(!s.accept_step(u.id, 10).await.unwrap(), "older step");
    let racers = (0..16).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.accept_step(u.id, 12).await.unwrap() })
    });
    let mut wins = 0;
    for r in racers {
        wins += usize::from(r.await.unwrap());
    }
    assert_eq!(wins, 1);
}

/// A recovery code is used once; the count left and its mail come from the same transaction,
/// also when the same code is tried in parallel; another user's code does not count.
async fn a_recovery_code_is_used_once_with_its_mail_even_in_parallel(s: Arc<dyn Store>) {
    let u = create(s.as_ref(), "dan").await;
    let other = create(s.as_ref(), "eve").await;
    s.put_pending_factor(&factor(u.id, "x")).await.unwrap();
    s.confirm_factor(u.id, 1, &codes("a"), None, NOW)
        .await
        .unwrap();
    let id = u.id;
    let make = move |left: i64| mail(id, "recovery_code_used", left);
    let left = s.use_recovery_code(u.id, "a-0", &make, NOW).await.unwrap();
    assert_eq!(left, Some(9));
    assert_eq!(
        s.use_recovery_code(u.id, "a-0", &make, NOW).await.unwrap(),
        None
    );
    assert_eq!(
        s.use_recovery_code(other.id, "a-1", &make, NOW)
            .await
            .unwrap(),
        None
    );
    let racers = (0..8).map(|_| {
        let s = s.clone();
        tokio::spawn(async move {
            let make = move |left: i64| mail(id, "recovery_code_used", left);
            s.use_recovery_code(id, "a-1", &make, NOW).await.unwrap()
        })
    });
    let mut wins = Vec::new();
    for r in racers {
        wins.extend(r.await.unwrap());
    }
    assert_eq!(wins, vec![8]);
    assert_eq!(s.recovery_codes_left(u.id).await.unwrap(), 8);
    let sent = mails(s.as_ref()).await;
    assert_eq!(sent.len(), 2, "one mail per use: {sent:?}");
    assert!(sent.contains(&r#"{"left":8}"#.to_owned()));
}

/// Deleting the factor deletes every code; new codes need a confirmed factor; replacing
/// codes kills the old ones.
async fn deleting_the_factor_deletes_its_codes_and_codes_need_a_factor(s: Arc<dyn Store>) {
    let u = create(s.as_ref(), "fay").await;
    assert!(
        !s.replace_recovery_codes(u.id, &codes("b"), NOW)
            .await
            .unwrap()
    );
    s.put_pending_factor(&factor(u.id, "x")).await.unwrap();
    s.confirm_factor(u.id, 1, &codes("a"), None, NOW)
        .await
        .unwrap();
    assert!(
        s.replace_recovery_codes(u.id, &codes("b"), NOW)
            .await
            .unwrap()
    );
    let make = |left: i64| mail(u.id, "recovery_code_used", left);
    assert_eq!(
        s.use_recovery_code(u.id, "a-0", &make, NOW).await.unwrap(),
        None
    );
    assert_eq!(s.recovery_codes_left(u.id).await.unwrap(), 10);
    let m = mail(u.id, "mfa_disabled", 0);
    assert!(s.delete_factor(u.id, Some(&m)).await.unwrap());
    assert!(!s.delete_factor(u.id, Some(&m)).await.unwrap());
    assert_eq!(s.factor(u.id).await.unwrap(), None);
    assert_eq!(s.recovery_codes_left(u.id).await.unwrap(), 0);
    assert_eq!(
        mails(s.as_ref()).await.len(),
        1,
        "one mail for the one deletion"
    );
}

/// A challenge takes at most `max` attempts, none after it expired or was used; purge
/// deletes expired ones only.
async fn a_challenge_counts_attempts_up_to_its_budget_and_dies_when_used_or_expired(
    s: Arc<dyn Store>,
) {
    let u = create(s.as_ref(), "gus").await;
    let c = |hash: &str| NewChallenge {
        hash: hash.into(),
        user_id: u.id,
        password_tag: "tag".into(),
        remember_me: true,
        created_at: NOW,
        expires_at: NOW + 300,
    };
    s.create_challenge(&c("c1")).await.unwrap();
    s.create_challenge(&c("c2")).await.unwrap();
    for n in 1..=3 {
        let got = s.challenge_attempt("c1", 3, NOW).await.unwrap().unwrap();
        assert_eq!(
            (got.attempts, got.user_id, got.remember_me),
            (n, u.id, true)
        );
    }
    assert_eq!(s.challenge_attempt("c1", 3, NOW).await.unwrap(), None);
    assert!(
        s.challenge_attempt("c2", 3, NOW + 300)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.finish_challenge("c2", NOW).await.unwrap());
    assert!(!s.finish_challenge("c2", NOW).await.unwrap());
    assert!(s.challenge_attempt("c2", 3, NOW).await.unwrap().is_none());
    assert_eq!(s.challenge_attempt("nope", 3, NOW).await.unwrap(), None);
    assert_eq!(s.purge_challenges(NOW + HOUR).await.unwrap(), 2);
}

/// A session's second factor is remembered; other sessions know none.
async fn a_session_remembers_its_second_factor(s: Arc<dyn Store>) {
    let u = create(s.as_ref(), "hal").await;
    let a = open(s.as_ref(), &u, NOW, "ta").await;
    let b = open(s.as_ref(), &u, NOW, "tb").await;
    s.mark_session_mfa(a, NOW + 1).await.unwrap();
    assert_eq!(s.session_mfa(a).await.unwrap(), Some(NOW + 1));
    assert_eq!(s.session_mfa(b).await.unwrap(), None);
    assert_eq!(s.session_mfa(Uuid::now_v7()).await.unwrap(), None);
}
