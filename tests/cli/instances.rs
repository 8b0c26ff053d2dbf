//! Issue 12, faults across instances: one of three real `authgate serve` processes on one
//! PostgreSQL database killed with SIGKILL under load. The others keep serving, and nothing any
//! instance acknowledged is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Mutex;
use uuid::Uuid;

use super::crash::{Target, client, login, register};
use super::*;

/// What the writers were told, and what the survivors refused.
#[derive(Default)]
struct Seen {
    registered: Vec<String>,
    logged_out: Vec<(String, String)>,
}

// Requirement: issue 12 — kill -9 one of three instances under load: the two others answer
// every request (no error, no 5xx) before and after; every registration and logout any instance
// acknowledged holds on the survivors (the account signs in, the logged-out access and refresh
// tokens are refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_of_three_instances_loses_nothing_acknowledged() {
    if std::env::var("AUTHGATE_TEST_SQLITE_ONLY").is_ok_and(|v| v == "1") {
        return;
    }
    // Arrange: three servers on one fresh database, writers spreading over them
    let target = Target::postgres().await;
    let mut servers: Vec<(KillOnDrop, String)> = (0..3).map(|_| target.start()).collect();
    let bases: Arc<Vec<String>> = Arc::new(servers.iter().map(|(_, b)| b.clone()).collect());
    let (dead, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (acks, survivor_errors) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut writers = Vec::new();
    for w in 0..3usize {
        let (bases, dead, stop) = (bases.clone(), dead.clone(), stop.clone());
        let (acks, errors, seen) = (acks.clone(), survivor_errors.clone(), seen.clone());
        writers.push(tokio::spawn(async move {
            let client = client();
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let mut on = (w + i) % 3;
                if on == 0 && dead.load(Ordering::Relaxed) {
                    on = 1 + i % 2;
                }
                let survivor = on != 0;
                let base = &bases[on];
                let email = format!("k{}@example.com", Uuid::new_v4().simple());
                match register(&client, base, &email).await {
                    Some(201) => {
                        seen.lock().await.registered.push(email.clone());
                        acks.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        if survivor {
                            eprintln!("survivor {base}: register answered {other:?}");
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        continue;
                    }
                }
                let Some(tokens) = login(&client, base, &email).await else {
                    if survivor {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                };
                let access = tokens["access_token"].as_str().unwrap().to_owned();
                let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
                let out = client
                    .post(format!("{base}/auth/logout"))
                    .bearer_auth(&access)
                    .json(&json!({}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                match out {
                    Ok(204) => seen.lock().await.logged_out.push((access, refresh)),
                    other if survivor => {
                        eprintln!("survivor {base}: logout answered {other:?}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        }));
    }

    // Act: SIGKILL instance 0 once the load is running, keep the load going on the others
    let wait_for = |n: usize| {
        let acks = acks.clone();
        async move {
            let start = Instant::now();
            while acks.load(Ordering::Relaxed) < n {
                assert!(start.elapsed() < Duration::from_secs(30), "load stalled");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    wait_for(30).await;
    servers[0].0.0.kill().unwrap();
    dead.store(true, Ordering::Relaxed);
    let at_kill = acks.load(Ordering::Relaxed);
    wait_for(at_kill + 30).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }

    // Assert: the survivors never failed, and hold everything acknowledged
    assert_eq!(
        survivor_errors.load(Ordering::Relaxed),
        0,
        "survivors failed requests"
    );
    let seen = seen.lock().await;
    let client = client();
    eprintln!(
        "acknowledged: {} registrations, {} logouts ({} before the kill)",
        seen.registered.len(),
        seen.logged_out.len(),
        at_kill
    );
    for (n, email) in seen.registered.iter().enumerate() {
        let base = &bases[1 + n % 2];
        assert!(login(&client, base, email).await.is_some(), "{email} lost");
    }
    for (access, refresh) in seen.logged_out.iter() {
        for base in &bases[1..] {
            let me = client
                .get(format!("{base}/users/me"))
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(me, 401, "a logged-out token accepted by {base}");
        }
        let again = client
            .post(format!("{}/auth/refresh", bases[1]))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(again, 401, "a logged-out session refreshed");
    }
    servers.truncate(0);
}
