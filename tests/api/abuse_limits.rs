//! Per-client-IP rate limits (issue #3, R22, R30): login, registration and refresh, answered
//! 429 with Retry-After; the client IP is the socket's peer unless that peer is a configured
//! trusted proxy, so rotating `X-Forwarded-For` dodges nothing.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::abuse_lockout::parallel_logins;
use crate::both;
use crate::support::*;

fn wrong_login(login: &str) -> Value {
    json!({"username": login, "password": "wrong password 1"})
}

/// A login request that claims to come from `forwarded` (an `X-Forwarded-For` header).
fn login_from(app: &TestApp, forwarded: &str, body: &Value) -> RequestBuilder {
    app.client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", forwarded)
        .json(body)
}

both!(
    /// R22: the per-IP login limit (here 3 per minute) answers 429 with Retry-After and a
    /// problem body, whichever accounts are tried; it refills at the configured rate.
    the_login_limit_per_ip_answers_429_with_retry_after,
    &["--login-rate-limit", "3/1m"],
    |app| async move {
        for i in 0..3 {
            let ghost = TestUser::generate();
            let resp = app.post("/auth/login", None, wrong_login(&ghost.email)).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
        }
        let (user, _) = (TestUser::generate(), ());
        let limited = app.post("/auth/login", None, wrong_login(&user.email)).await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=20).contains(&wait), "one attempt per 20 s: Retry-After {wait}");
        let body: Value = limited.json().await.unwrap();
        assert_eq!(body["code"], "too_many_requests");
        assert!(body["detail"].as_str().unwrap().contains("retry after"), "{body}");
        // One interval later, one more attempt.
        app.clock.advance(20);
        let again = app.post("/auth/login", None, wrong_login(&user.email)).await;
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    }
);

both!(
    /// R30 (ASVS 5.0 4.1.3; Supabase's spoofable X-Forwarded-For): with no trusted proxy, a
    /// client that rotates `X-Forwarded-For` and `Forwarded` on every attempt is still one IP.
    rotating_forwarded_headers_do_not_dodge_the_limit,
    &["--login-rate-limit", "3/1m"],
    |app| async move {
        let mut statuses = Vec::new();
        for i in 0..8 {
            let resp = login_from(&app, &format!("198.51.100.{i}"), &wrong_login("nobody@example.com"))
                .header("forwarded", format!("for=203.0.113.{i}"))
                .send()
                .await
                .unwrap();
            statuses.push(resp.status());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(),
            5,
            "{statuses:?}"
        );
    }
);

both!(
    /// R30: behind a configured trusted proxy, the client is the address the proxy appended
    /// (the rightmost untrusted hop): each client has its own budget, and what a client wrote
    /// further left in the header is ignored.
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit,
    &["--login-rate-limit", "3/1m", "--trusted-proxies", "127.0.0.1/32,::1/128"],
    |app| async move {
        let body = wrong_login("nobody@example.com");
        for i in 0..3 {
            // The attacker forges a different leftmost hop each time; the proxy appended 192.0.2.66.
            let forged = format!("10.9.9.{i}, 192.0.2.66");
            let resp = login_from(&app, &forged, &body).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
        let limited = login_from(&app, "10.9.9.99, 192.0.2.66", &body).send().await.unwrap();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        // Another client behind the same proxy is not affected.
        let other = login_from(&app, "192.0.2.77", &body).send().await.unwrap();
        assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
    }
);

both!(
    /// R22 "lockout must not become a way to deny service": a sprayer trying one password on
    /// many accounts from one IP is stopped by the per-IP limit (defaults: 30 per 5 minutes)
    /// long before it has locked anyone (5 failures per account); the victims sign in from
    /// their own addresses as usual.
    password_spraying_is_stopped_before_any_account_locks,
    &["--login-rate-limit", "30/5m", "--lockout-threshold", "5", "--trusted-proxies", "127.0.0.1/32"],
    |app| async move {
        let mut victims = Vec::new();
        for _ in 0..12 {
            victims.push(app.signed_in_user().await.0);
        }
        // The attacker at 203.0.113.9 sprays 5 common passwords over every account.
        let mut statuses = Vec::new();
        for password in ["Password1!", "Winter2026!", "qwerty123456", "letmein2026", "Welcome123!"] {
            for v in &victims {
                let body = json!({"username": v.email, "password": password});
                let resp = login_from(&app, "203.0.113.9", &body).send().await.unwrap();
                statuses.push(resp.status());
            }
        }
        let tried = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
        assert_eq!(tried, 30, "the IP budget, no more: {statuses:?}");
        // No account got 5 failures, so every victim signs in from home.
        for (i, v) in victims.iter().enumerate() {
            let body = json!({"username": v.email, "password": v.password});
            let resp = login_from(&app, &format!("192.0.2.{i}"), &body).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "victim {i}");
        }
    }
);

both!(
    /// R22 with parallel requests: the IP budget is taken atomically in the database, so 20
    /// simultaneous attempts against a limit of 5 get exactly 5 password checks.
    parallel_attempts_cannot_exceed_the_ip_budget,
    &["--login-rate-limit", "5/1m", "--hash-queue", "100"],
    |app| async move {
        let bodies = (0..20)
            .map(|i| wrong_login(&format!("ghost-{i}@example.com")))
            .collect();
        let statuses = parallel_logins(&app, bodies).await;
        let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
        assert_eq!(checked, 5, "{statuses:?}");
    }
);

both!(
    /// Issue #3 rate limits on registration; R23 (registration answers 409 for a taken e-mail
    /// by design): the per-IP registration limit is what bounds enumeration through it.
    registration_enumeration_is_bounded_by_the_per_ip_limit,
    &["--register-rate-limit", "3/1h"],
    |app| async move {
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(app.register(&TestUser::generate()).await.status());
        }
        assert_eq!(&statuses[..3], &[StatusCode::CREATED; 3]);
        assert_eq!(&statuses[3..], &[StatusCode::TOO_MANY_REQUESTS; 3]);
        let limited = app.register(&TestUser::generate()).await;
        let wait: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=1200).contains(&wait), "{wait}");
    }
);

both!(
    /// Issue #3 rate limits on refresh: per IP (in each instance's memory), 429 with
    /// Retry-After on `/auth/refresh` and `slow_down` on the token endpoint's refresh grant.
    refresh_is_limited_per_ip,
    &["--refresh-rate-limit", "3/1m"],
    |app| async move {
        let (_, tokens) = app.signed_in_user().await;
        let mut current = tokens.refresh;
        for _ in 0..3 {
            let resp = app.refresh(&current).await;
            assert_eq!(resp.status(), StatusCode::OK);
            current = Tokens::from_json(&resp.json().await.unwrap()).refresh;
        }
        let limited = app.refresh(&current).await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(limited.headers().contains_key("retry-after"));
        let form = serde_urlencoded::to_string([
            ("grant_type", "refresh_token"),
            ("refresh_token", current.as_str()),
        ])
        .unwrap();
        let grant = app.post_form("/auth/token", &form).await;
        assert_eq!(grant.status(), StatusCode::TOO_MANY_REQUESTS);
        let body: Value = grant.json().await.unwrap();
        assert_eq!(body["error"], "slow_down");
        // The refused refresh did not use the token up.
        app.clock.advance(20);
        assert_eq!(app.refresh(&current).await.status(), StatusCode::OK);
    }
);

both!(
    /// F21: the login budget is in the database, shared by every instance on it.
    the_ip_budget_is_shared_between_instances,
    &["--login-rate-limit", "2/1m"],
    |app| async move {
        for _ in 0..2 {
            app.post("/auth/login", None, wrong_login("nobody@example.com")).await;
        }
        let TestApp { db, settings, .. } = app;
        let second = start(db, settings).await;
        let resp = second.post("/auth/login", None, wrong_login("nobody@example.com")).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    }
);
