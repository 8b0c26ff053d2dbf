//! Issue 12: on PostgreSQL, `LISTEN/NOTIFY` carries every revocation to every instance within
//! a second (the 3 s poll is only the fallback), also after the listener's connection was
//! lost.

use std::time::{Duration, Instant};

use crate::support::*;
use reqwest::{Client, StatusCode};
use serde_json::json;

/// Status of `GET /users/me` on `base` with `token`.
async fn me(client: &Client, base: &str, token: &str) -> StatusCode {
    client
        .get(format!("{base}/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// Log `user` in on `base`; the tokens.
async fn login(client: &Client, base: &str, user: &TestUser) -> Tokens {
    let resp = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": user.email, "password": user.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    Tokens::from_json(&resp.json().await.unwrap())
}

/// Log out `token` on `base`, expecting 204.
async fn logout(client: &Client, base: &str, token: &str) {
    let resp = client
        .post(format!("{base}/auth/logout"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

/// How long after now until `base` refuses `token` (polling every 5 ms; gives up after 5 s).
async fn until_refused(client: &Client, base: &str, token: &str) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if me(client, base, token).await == StatusCode::UNAUTHORIZED {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{base} still accepts a logged-out token after 5 s");
}

/// Log in on instance `on`, check every instance accepts the token, log out on `on`; how long
/// from the logout's response until every other instance refuses it.
async fn one_revocation(client: &Client, bases: &[String], on: usize, user: &TestUser) -> Duration {
    let tokens = login(client, &bases[on], user).await;
    for base in bases {
        assert_eq!(me(client, base, &tokens.access).await, StatusCode::OK);
    }
    logout(client, &bases[on], &tokens.access).await;
    let others: Vec<_> = (0..bases.len())
        .filter(|&i| i != on)
        .map(|i| {
            let (client, base, token) = (client.clone(), bases[i].clone(), tokens.access.clone());
            tokio::spawn(async move { until_refused(&client, &base, &token).await })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for other in others {
        slowest = slowest.max(other.await.unwrap());
    }
    slowest
}

/// The distribution of `lags`, sorted in place, as one line.
fn distribution(lags: &mut [Duration]) -> (String, Duration) {
    lags.sort();
    let at = |q: f64| lags[((lags.len() as f64 * q).ceil() as usize).clamp(1, lags.len()) - 1];
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let line = format!(
        "n={} min={} p50={} p90={} p99={} max={}",
        lags.len(),
        ms(lags[0]),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(lags[lags.len() - 1])
    );
    (line, at(0.99))
}

// Requirement: issue 12 — with three instances on one PostgreSQL database, a logout on any of
// them is refused by the two others within 1 s at the 99th percentile, over 120 revocations
// (the 3 s poll alone would put the median near 1.5 s). Prints the distribution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logouts_reach_the_other_two_instances_within_a_second_at_p99() {
    if postgres_or_skip().is_none() {
        return;
    }
    // Arrange: three instances on one fresh database, one user
    let app = spawn_app(Backend::Postgres).await;
    let b = app.peer().await;
    let c = app.peer().await;
    let bases = [app.address.clone(), b.address.clone(), c.address.clone()];
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);

    // Act: 120 sessions, each logged out on a different instance in turn
    let mut lags = Vec::new();
    for i in 0..120 {
        lags.push(one_revocation(&app.client, &bases, i % 3, &user).await);
    }

    // Assert
    let (line, p99) = distribution(&mut lags);
    eprintln!("logout → refused on the other two instances: {line}");
    assert!(p99 <= Duration::from_secs(1), "p99 over 1 s: {line}");
}

// Requirement: issue 12 — a listener whose connection is lost reconnects by itself and catches
// up: a logout committed while it was away, and one right after, both reach the instance
// within 1 s, not at the 3 s poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_connection_reconnects_and_catches_up() {
    if postgres_or_skip().is_none() {
        return;
    }
    // Arrange: two instances; B's view is warm
    let app = spawn_app(Backend::Postgres).await;
    let b = app.peer().await;
    let bases = [app.address.clone(), b.address.clone()];
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    one_revocation(&app.client, &bases, 0, &user).await;
    let during = login(&app.client, &bases[0], &user).await;
    let after = login(&app.client, &bases[0], &user).await;
    assert_eq!(
        me(&b.client, &bases[1], &during.access).await,
        StatusCode::OK
    );

    // Act 1: end every listening connection on the database (both instances'), and log out
    // at once, before they can be listening again
    let killed = app
        .db
        .fetch_text(
            "SELECT CAST(count(pg_terminate_backend(pid)) AS TEXT) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%' \
             AND pid <> pg_backend_pid()",
            &[],
        )
        .await;
    assert_eq!(
        killed.as_deref(),
        Some("2"),
        "one listening connection per instance"
    );
    logout(&app.client, &bases[0], &during.access).await;
    // Assert 1: caught up by the reconnected listener, not the 3 s poll
    let took = until_refused(&b.client, &bases[1], &during.access).await;
    assert!(took <= Duration::from_secs(1), "catch-up took {took:?}");

    // Act 2 / Assert 2: the new listener hears the next logout
    tokio::time::sleep(Duration::from_millis(300)).await;
    logout(&app.client, &bases[0], &after.access).await;
    let took = until_refused(&b.client, &bases[1], &after.access).await;
    assert!(
        took <= Duration::from_secs(1),
        "after reconnecting took {took:?}"
    );
}
