//! Whose address a per-IP limit counts (issue #9 items 1 and 2, R30): behind a trusted proxy
//! only the one configured forwarding header is read, so a client's own copy of another header
//! changes nothing; an IPv4 proxy reaching a server bound to `[::]` is still recognised; IPv6
//! clients share a budget per /64.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::support::*;

fn wrong_login() -> Value {
    json!({"username": "nobody@example.com", "password": "wrong password 1"})
}

/// A random documentation address (TEST-NET-3), different on almost every call.
fn random_ip() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!("203.0.113.{}", n % 250 + 1)
}

/// A random RFC 7239 node: an IPv4 address, or a bracketed IPv6 one, as a client may write.
fn random_node() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    if n.is_multiple_of(2) {
        random_ip()
    } else {
        format!(
            "\"[2001:db8:{:x}::{:x}]\"",
            (n >> 8) as u16,
            (n >> 24) as u16
        )
    }
}

/// POST /auth/login with a wrong password and these extra headers; the status.
async fn login_with(app: &TestApp, headers: &[(&str, String)]) -> StatusCode {
    let mut req = app.client.post(app.url("/auth/login")).json(&wrong_login());
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    req.send().await.expect("request").status()
}

/// Statuses of 40 logins where `fixed` names one client and `rotated` a fresh one each time.
async fn forty_logins(app: &TestApp, fixed: (&str, &str), rotated: &str) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let spoof = if rotated == "forwarded" {
            format!("for={}", random_node())
        } else {
            random_ip()
        };
        let headers = [(fixed.0, fixed.1.to_owned()), (rotated, spoof)];
        statuses.push(login_with(app, &headers).await);
    }
    statuses
}

/// 30 password checks, then 429: the default burst of one client. The tests allow 30 per hour
/// rather than the default 30 per 5 minutes, so that no attempt refills during a slow run (one
/// every 10 s would).
fn assert_thirty_then_limited(statuses: &[StatusCode]) {
    let expected: Vec<StatusCode> = (0..40)
        .map(|i| {
            if i < 30 {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::TOO_MANY_REQUESTS
            }
        })
        .collect();
    assert_eq!(statuses, expected);
}

both!(
    /// Issue #9 item 1, R30 (nginx/HAProxy/ALB append to X-Forwarded-For and pass a client's own
    /// `Forwarded` through): with trusted proxy 127.0.0.1 and the default header, a client that
    /// sends `Forwarded: for=<random>` on each of 40 logins behind one fixed `X-Forwarded-For`
    /// is one client: 30 attempts (the default burst), then 429. Another address in
    /// `X-Forwarded-For` still has its own budget, so that header is the one read.
    a_client_forwarded_header_does_not_dodge_the_limit_behind_an_x_forwarded_for_proxy,
    &["--login-rate-limit", "30/1h", "--trusted-proxies", "127.0.0.1/32"],
    |app| async move {
        let statuses = forty_logins(&app, ("x-forwarded-for", "192.0.2.10"), "forwarded").await;
        assert_thirty_then_limited(&statuses);
        let other = [("x-forwarded-for", "192.0.2.11".to_owned())];
        assert_eq!(login_with(&app, &other).await, StatusCode::UNAUTHORIZED);
    }
);

both!(
    /// Issue #9 item 1, R30, the roles swapped: with `AUTHGATE_FORWARDED_HEADER=forwarded`
    /// (a proxy that writes RFC 7239), a random `X-Forwarded-For` on each of 40 logins behind
    /// one fixed `Forwarded: for=…` is one client: 30 attempts, then 429; another `for=` has its
    /// own budget.
    a_client_x_forwarded_for_does_not_dodge_the_limit_behind_a_forwarded_proxy,
    &["--login-rate-limit", "30/1h", "--trusted-proxies", "127.0.0.1/32",
      "--forwarded-header", "forwarded"],
    |app| async move {
        let statuses = forty_logins(&app, ("forwarded", "for=192.0.2.10"), "x-forwarded-for").await;
        assert_thirty_then_limited(&statuses);
        let other = [("forwarded", "for=192.0.2.11".to_owned())];
        assert_eq!(login_with(&app, &other).await, StatusCode::UNAUTHORIZED);
    }
);

/// Whether this machine can use IPv6 at all (binding the loopback `[::1]`).
async fn has_ipv6() -> bool {
    tokio::net::TcpListener::bind("[::1]:0").await.is_ok()
}

/// Issue #9 item 2, R30: a server bound to `[::]` sees an IPv4 proxy at 127.0.0.1 as the
/// IPv4-mapped `::ffff:127.0.0.1`; with `AUTHGATE_TRUSTED_PROXIES=127.0.0.0/8` it must still be
/// recognised, so each forwarded client gets its own budget (were the proxy not recognised,
/// every client behind it would share the proxy's one budget).
async fn a_dual_stack_server_recognises_an_ipv4_proxy(backend: Backend) {
    if !has_ipv6().await {
        eprintln!("SKIPPED: this machine has no IPv6 (binding [::1]:0 failed)");
        return;
    }
    let db = TestDb::provision(backend).await;
    let extra = [
        "--login-rate-limit",
        "3/1m",
        "--trusted-proxies",
        "127.0.0.0/8",
    ];
    let mut settings = test_settings(&db, &extra);
    settings.bind = "[::]:0".parse().unwrap();
    // The harness reaches the server at 127.0.0.1, over IPv4, through the [::] socket.
    let app = start(db, settings).await;
    let as_client = |ip: &str| [("x-forwarded-for", ip.to_owned())];
    for i in 0..3 {
        let status = login_with(&app, &as_client("192.0.2.1")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(
        login_with(&app, &as_client("192.0.2.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_with(&app, &as_client("192.0.2.2")).await,
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy has its own budget"
    );
}

mod a_dual_stack_server_recognises_an_ipv4_proxy {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_dual_stack_server_recognises_an_ipv4_proxy(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if postgres_or_skip().is_none() {
            return;
        }
        super::a_dual_stack_server_recognises_an_ipv4_proxy(Backend::Postgres).await;
    }
}

both!(
    /// Issue #9 item 2, R30: one host owns a whole IPv6 /64, so clients in one /64 share a
    /// budget (2001:db8:1:2::a and ::b), while the next /64 (2001:db8:1:3::a) has its own.
    ipv6_clients_in_one_64_share_a_budget,
    &["--login-rate-limit", "3/1m", "--trusted-proxies", "127.0.0.1/32"],
    |app| async move {
        let as_client = |ip: &str| [("x-forwarded-for", ip.to_owned())];
        for i in 0..3 {
            let status = login_with(&app, &as_client("2001:db8:1:2::a")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
        }
        assert_eq!(
            login_with(&app, &as_client("2001:db8:1:2::b")).await,
            StatusCode::TOO_MANY_REQUESTS,
            "the same /64"
        );
        assert_eq!(
            login_with(&app, &as_client("2001:db8:1:3::a")).await,
            StatusCode::UNAUTHORIZED,
            "the next /64"
        );
    }
);
