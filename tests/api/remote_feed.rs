//! A verify-only service beside the issuing server that follows its revocation feed
//! (`AuthState::from_jwks_url_with_feed`): logouts and admin changes apply there within a
//! second, and it fails closed (or open, if configured) when the feed falls silent.

use std::time::{Duration, Instant};

use authgate::{AuthState, JwtAlg, RevocationFeed};
use axum::Router;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::library::{get_as, host_app};
use crate::support::*;

/// A host app verifying through the server's JWKS and following its feed with a new
/// credential called `name`.
async fn follower(app: &TestApp, name: &str, feed: fn(RevocationFeed) -> RevocationFeed) -> Router {
    let meta: Value = app
        .get("/.well-known/openid-configuration", None)
        .await
        .json()
        .await
        .unwrap();
    let credential = app.state().create_verifier(name).await.unwrap();
    let remote = AuthState::from_jwks_url_with_feed(
        &app.url("/.well-known/jwks.json"),
        JwtAlg::EdDSA,
        meta["issuer"].as_str().unwrap(),
        "authgate",
        feed(RevocationFeed::new(&app.url("/revocations"), &credential)),
    )
    .await
    .expect("remote state with feed");
    host_app(remote)
}

/// How long until `/whoami` on `host` answers `status` for `token` (gives up after 5 s).
async fn until_status(host: &Router, token: &str, status: StatusCode) -> Duration {
    let start = Instant::now();
    while get_as(host, "/whoami", Some(token)).await.status != status {
        assert!(start.elapsed() < Duration::from_secs(5), "never {status}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

// Requirement: a remote verifier following the feed refuses a logged-out token within 1 s of
// the logout's response, and a deactivated user's token likewise; other tokens stay accepted.
both!(
    a_remote_verifier_refuses_a_logged_out_token_within_a_second,
    |app| async move {
        // Arrange
        let host = follower(&app, "api", |f| f).await;
        let (_, a) = app.signed_in_user().await;
        let (_, b) = app.signed_in_user().await;
        let (_, c) = app.signed_in_user().await;
        for t in [&a, &b, &c] {
            assert_eq!(
                get_as(&host, "/whoami", Some(&t.access)).await.status,
                StatusCode::OK
            );
        }
        // Act
        let resp = app.post("/auth/logout", Some(&a.access), json!({})).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let logout_lag = until_status(&host, &a.access, StatusCode::UNAUTHORIZED).await;
        app.deactivate(&b.access).await;
        let deactivate_lag = until_status(&host, &b.access, StatusCode::UNAUTHORIZED).await;
        // Assert
        assert!(
            logout_lag < Duration::from_secs(1),
            "logout took {logout_lag:?}"
        );
        assert!(
            deactivate_lag < Duration::from_secs(1),
            "deactivation took {deactivate_lag:?}"
        );
        get_as(&host, "/whoami", Some(&a.access))
            .await
            .assert_invalid_token();
        assert_eq!(
            get_as(&host, "/whoami", Some(&c.access)).await.status,
            StatusCode::OK
        );
        // And over 20 more logouts of one user's sessions, every one within the second.
        let (user, _) = app.signed_in_user().await;
        let mut lags = Vec::new();
        for _ in 0..20 {
            let t = app.login_ok(&user).await;
            app.post("/auth/logout", Some(&t.access), json!({})).await;
            lags.push(until_status(&host, &t.access, StatusCode::UNAUTHORIZED).await);
        }
        lags.sort();
        eprintln!(
            "remote logout lag: median {:?}, max {:?}",
            lags[10], lags[19]
        );
        assert!(lags[19] < Duration::from_secs(1), "{lags:?}");
    }
);

// Requirement: a remote verifier started after the logout knows it from the feed's pages.
both!(
    a_remote_verifier_started_later_knows_earlier_logouts,
    |app| async move {
        // Arrange
        let (_, a) = app.signed_in_user().await;
        app.post("/auth/logout", Some(&a.access), json!({})).await;
        // Act
        let host = follower(&app, "late", |f| f).await;
        // Assert
        get_as(&host, "/whoami", Some(&a.access))
            .await
            .assert_invalid_token();
    }
);

// Requirement: when the feed stays unreachable longer than the configured staleness (here: its
// credential was revoked, so every reconnect is refused), the remote verifier answers 503 with
// Retry-After (fail closed); configured fail-open, it keeps accepting.
both!(
    a_remote_verifier_fails_closed_when_the_feed_is_stale_unless_told_otherwise,
    |app| async move {
        // Arrange
        let closed = follower(&app, "closed", |f| f.max_staleness(Duration::from_secs(3))).await;
        let open = follower(&app, "open", |f| {
            f.max_staleness(Duration::from_secs(3)).fail_open()
        })
        .await;
        let (_, a) = app.signed_in_user().await;
        assert_eq!(
            get_as(&closed, "/whoami", Some(&a.access)).await.status,
            StatusCode::OK
        );
        // Act
        app.state().revoke_verifier("closed").await.unwrap();
        app.state().revoke_verifier("open").await.unwrap();
        let lag = until_status(&closed, &a.access, StatusCode::SERVICE_UNAVAILABLE).await;
        let stale = get_as(&closed, "/whoami", Some(&a.access)).await;
        // Assert
        assert!(
            lag >= Duration::from_secs(2),
            "not before the staleness: {lag:?}"
        );
        assert!(stale.headers.contains_key("retry-after"));
        assert_eq!(stale.json()["code"], json!("service_unavailable"));
        assert_eq!(
            get_as(&open, "/whoami", Some(&a.access)).await.status,
            StatusCode::OK
        );
    }
);

// Requirement: a wrong credential is an error at start, not a verifier that silently never
// learns of a logout.
both!(
    a_remote_verifier_with_a_wrong_credential_does_not_start,
    |app| async move {
        // Act
        let result = AuthState::from_jwks_url_with_feed(
            &app.url("/.well-known/jwks.json"),
            JwtAlg::EdDSA,
            "x",
            "authgate",
            RevocationFeed::new(&app.url("/revocations"), "agv_wrong"),
        )
        .await;
        // Assert
        let err = result.err().expect("refused");
        assert!(
            err.to_string().contains("refused the verifier credential"),
            "{err}"
        );
    }
);
