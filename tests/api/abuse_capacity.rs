//! Hashing capacity (issue #3, F11): more logins than the hashing pool serves wait in a bounded
//! queue; beyond it they get 503 with Retry-After at once, never a 500, and the server stays
//! responsive. Memory is bounded by construction: only `hash-concurrency` hashes hold argon2's
//! 19 MiB at a time (the benchmark's `storm` scenario measures the peak RSS).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::abuse_lockout::parallel_logins;
use crate::both;

both!(
    /// F11, R28: 24 simultaneous logins against 1 hashing slot and a queue of 3: a few are
    /// checked, the rest are shed with 503 + Retry-After and a problem body; none fails with
    /// 500, and `/healthz` answers quickly throughout.
    logins_beyond_the_hashing_queue_are_shed_with_503,
    &["--hash-concurrency", "1", "--hash-queue", "3"],
    |app| async move {
        let (user, _) = app.signed_in_user().await;
        let bodies = (0..24)
            .map(|i| json!({"username": user.email, "password": format!("guess {i}")}))
            .collect();
        let health = async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let start = Instant::now();
            let status = app.get("/healthz", None).await.status();
            (status, start.elapsed())
        };
        let (statuses, (health_status, health_time)) =
            tokio::join!(parallel_logins(&app, bodies), health);
        let shed = statuses
            .iter()
            .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
            .count();
        let checked = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count();
        assert_eq!(shed + checked, 24, "only 401 or 503: {statuses:?}");
        assert!(shed >= 10, "the queue holds 3: {statuses:?}");
        assert!(checked >= 4, "one hashing plus three queued: {statuses:?}");
        assert_eq!(health_status, StatusCode::OK);
        assert!(health_time < Duration::from_millis(500), "{health_time:?}");
        // The shape of a shed answer.
        let mut shed_answer = None;
        for _ in 0..10 {
            let bodies = (0..12)
                .map(|_| json!({"username": user.email, "password": "guess"}))
                .collect::<Vec<Value>>();
            let mut set = tokio::task::JoinSet::new();
            for body in bodies {
                let req = app.client.post(app.url("/auth/login")).json(&body);
                set.spawn(async move { req.send().await.unwrap() });
            }
            for resp in set.join_all().await {
                if resp.status() == StatusCode::SERVICE_UNAVAILABLE && shed_answer.is_none() {
                    let retry = resp.headers()["retry-after"].to_str().unwrap().to_owned();
                    shed_answer = Some((retry, resp.json::<Value>().await.unwrap()));
                }
            }
            if shed_answer.is_some() {
                break;
            }
        }
        let (retry, body) = shed_answer.expect("a shed answer");
        assert_eq!(retry, "1");
        assert_eq!(body["code"], "service_unavailable");
        assert!(body["detail"].as_str().unwrap().contains("busy"), "{body}");
        // Afterwards the user signs in normally.
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
    }
);
