//! Issue 12: Prometheus metrics at `/metrics` on a separate bind (`AUTHGATE_METRICS_BIND`):
//! requests by route template and status, security events (logins by outcome, lockouts,
//! refresh reuse), the hash queue, the revocation list and propagation lag.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// One scrape: `name{labels}` → value (every sample line of the text format).
async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    let base = app
        .metrics_address
        .as_ref()
        .expect("started with --metrics-bind");
    let resp = app
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = resp.text().await.unwrap();
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect();
    (text, samples)
}

/// A sample's value (0 if absent).
fn value(samples: &HashMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

// Requirement: issue 12 — a scrape shows the counters move: requests by route *template* and
// status (never a raw path with an id), logins by outcome, refresh reuse, the hash wait, the
// revocation list size and the propagation lag; the API port does not serve `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_logins_and_revocations() {
    // Arrange
    let app = spawn_app_with(Backend::Sqlite, &["--metrics-bind", "127.0.0.1:0"]).await;
    let (_, before) = scrape(&app).await;
    let login_ok =
        r#"authgate_http_requests_total{route="/auth/login",method="POST",status="200"}"#;
    let login_401 =
        r#"authgate_http_requests_total{route="/auth/login",method="POST",status="401"}"#;
    let by_id =
        r#"authgate_http_requests_total{route="/admin/users/{id}",method="GET",status="403"}"#;
    let event = |kind: &str| format!(r#"authgate_security_events_total{{kind="{kind}"}}"#);

    // Act: a login, a failed login, a request on a route with an id, a refresh reused, a logout
    let (user, tokens) = app.signed_in_user().await;
    let mut wrong = user.clone();
    wrong.password.push('x');
    assert_eq!(app.login(&wrong).await.status(), StatusCode::UNAUTHORIZED);
    let id = app.user_id(&tokens.access).await;
    let resp = app
        .get(&format!("/admin/users/{id}"), Some(&tokens.access))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);
    app.clock.advance(11); // past the refresh grace window
    assert_eq!(
        app.refresh(&tokens.refresh).await.status(),
        StatusCode::UNAUTHORIZED,
        "reuse"
    );
    let other = app.login_ok(&user).await;
    let resp = app
        .post("/auth/logout", Some(&other.access), json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(600)).await; // a revocation sync or two

    // Assert (other tests in this process count too: at least, not exactly)
    let (text, after) = scrape(&app).await;
    let moved = |key: &str| value(&after, key) - value(&before, key);
    assert!(moved(login_ok) >= 2.0, "{login_ok}: {}", moved(login_ok));
    assert!(moved(login_401) >= 1.0);
    assert!(moved(by_id) >= 1.0, "by template");
    assert!(!text.contains(&id), "no raw path or user id in a label");
    assert!(moved(&event("login_succeeded")) >= 2.0);
    assert!(moved(&event("login_failed")) >= 1.0);
    assert!(moved(&event("refresh_reuse_detected")) >= 1.0);
    assert!(moved("authgate_hash_wait_seconds_count") >= 3.0);
    let latency = r#"authgate_http_request_duration_seconds_count{route="/auth/login",method="POST",status="200"}"#;
    assert!(moved(latency) >= 2.0);
    assert!(after.contains_key("authgate_revocation_entries"), "{text}");
    assert!(moved("authgate_revocation_propagation_seconds_count") >= 1.0);
    // not on the API's port
    assert_eq!(
        app.get("/metrics", None).await.status(),
        StatusCode::NOT_FOUND
    );
}
