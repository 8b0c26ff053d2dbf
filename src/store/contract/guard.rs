//! `GuardStore`: rate-limit buckets and login-failure counters.

use std::sync::Arc;

use super::{NOW, contract};
use crate::store::{LockoutPolicy, Rate, Store};

contract!(
    take_allows_a_burst_then_reports_the_wait,
    concurrent_takes_never_exceed_the_burst,
    begin_login_attempt_locks_at_the_threshold_with_doubling_locks,
    concurrent_login_attempts_never_exceed_the_threshold,
);

/// Three events per three seconds.
const RATE: Rate = Rate {
    interval_ms: 1_000,
    period_ms: 3_000,
};
/// Lock after three attempts, for a minute, then for at most 100 seconds.
const POLICY: LockoutPolicy = LockoutPolicy {
    threshold: 3,
    first_lock: 60,
    max_lock: 100,
};

/// `take` allows a burst of `period / interval` events, then refuses (counting nothing) with the
/// milliseconds until the next event is allowed; buckets are independent.
async fn take_allows_a_burst_then_reports_the_wait(s: Arc<dyn Store>) {
    let t0 = NOW * 1000;
    for n in 0..3 {
        assert_eq!(
            s.take("login:a", RATE, t0).await.unwrap(),
            None,
            "event {n}"
        );
    }
    assert_eq!(s.take("login:a", RATE, t0).await.unwrap(), Some(1_000));
    assert_eq!(s.take("login:a", RATE, t0 + 400).await.unwrap(), Some(600));
    assert_eq!(
        s.take("login:b", RATE, t0).await.unwrap(),
        None,
        "another bucket"
    );
    assert_eq!(s.take("login:a", RATE, t0 + 1_000).await.unwrap(), None);
    assert_eq!(
        s.take("login:a", RATE, t0 + 1_000).await.unwrap(),
        Some(1_000)
    );
}

/// `take` is atomic: ten concurrent events on one bucket, exactly three allowed.
async fn concurrent_takes_never_exceed_the_burst(s: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.take("burst", RATE, NOW * 1000).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.unwrap().is_none());
    }
    assert_eq!(allowed, 3);
}

/// `begin_login_attempt` lets attempts through until the one reaching the threshold, which
/// locks the account (`Ok(true)`); while locked it refuses with the lock's end, counting
/// nothing; the next lock lasts twice as long (capped); `clear_login_failures` forgets it all.
async fn begin_login_attempt_locks_at_the_threshold_with_doubling_locks(s: Arc<dyn Store>) {
    let attempt = |at: i64| {
        let s = s.clone();
        async move { s.begin_login_attempt("user:a", POLICY, at).await.unwrap() }
    };
    assert_eq!(attempt(NOW).await, Ok(false));
    assert_eq!(attempt(NOW).await, Ok(false));
    assert_eq!(attempt(NOW).await, Ok(true), "the third attempt locks");
    assert_eq!(attempt(NOW + 59).await, Err(NOW + 60));
    assert_eq!(attempt(NOW + 60).await, Ok(false), "the lock has ended");
    assert_eq!(attempt(NOW + 60).await, Ok(false));
    assert_eq!(attempt(NOW + 60).await, Ok(true));
    assert_eq!(
        attempt(NOW + 61).await,
        Err(NOW + 160),
        "100 s: doubled, capped"
    );
    assert!(s.clear_login_failures("user:a").await.unwrap());
    assert!(
        !s.clear_login_failures("user:a").await.unwrap(),
        "nothing left to forget"
    );
    assert_eq!(
        attempt(NOW + 61).await,
        Ok(false),
        "unlocked, counting from zero"
    );
    let other = s
        .begin_login_attempt("user:b", POLICY, NOW + 61)
        .await
        .unwrap();
    assert_eq!(other, Ok(false), "accounts are independent");
}

/// `begin_login_attempt` is atomic: of ten concurrent attempts, exactly three proceed and
/// exactly one of them is the locking one.
async fn concurrent_login_attempts_never_exceed_the_threshold(s: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.begin_login_attempt("user:c", POLICY, NOW).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        3,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == Ok(true)).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().all(|o| o.is_ok() || *o == Err(NOW + 60)),
        "{outcomes:?}"
    );
}
