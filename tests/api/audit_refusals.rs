//! The smaller audit and refresh rules of issue #9 item 7 (R29, F20): a flood of refusals is
//! one audit row per address per minute plus a summary with the count; a refresh-token grace
//! replay from another user agent is audited; the grace window is bounded at start-up.

use std::process::Command;

use reqwest::StatusCode;
use reqwest::header::USER_AGENT;
use serde_json::{Value, json};

use crate::both;
use crate::support::*;

/// The audit events of `kind`, oldest first.
async fn events(app: &TestApp, admin: &str, kind: &str) -> Vec<Value> {
    let resp = app
        .get(&format!("/admin/audit?type={kind}"), Some(admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page: Value = resp.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

both!(
    /// Issue #9 item 7, R29, F20: 100 rate-limited logins from one address write one
    /// `rate_limited` row, not 100; once the minute has passed, housekeeping writes one more row
    /// for that address with the count of those held back (99).
    a_flood_of_rate_limited_logins_is_one_audit_row_and_a_count,
    &["--login-rate-limit", "3/1m", "--trusted-proxies", "127.0.0.1/32"],
    |app| async move {
        // Arrange: the admin signs in from 127.0.0.1; the flood comes from 198.51.100.7
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let flood = json!({"username": "victim@example.com", "password": "wrong password 1"});
        let mut statuses = Vec::new();
        // Act
        for _ in 0..103 {
            let resp = app
                .client
                .post(app.url("/auth/login"))
                .header("x-forwarded-for", "198.51.100.7")
                .json(&flood)
                .send()
                .await
                .unwrap();
            statuses.push(resp.status());
        }
        // Assert: 100 refusals, one row
        let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!(refused, 100, "{statuses:?}");
        let rows = events(&app, &admin.access, "rate_limited").await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["ip"], json!("198.51.100.7"));
        // Act: the window ends; housekeeping runs (purge_expired also writes the summaries)
        app.clock.advance(61);
        app.state().purge_expired().await;
        // Assert: one summary row with the count
        let rows = events(&app, &admin.access, "rate_limited").await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[1]["ip"], json!("198.51.100.7"));
        let detail = rows[1]["detail"].as_str().unwrap();
        assert!(detail.contains("99"), "{detail}");
        // Nothing more to summarise: another run writes nothing
        app.state().purge_expired().await;
        assert_eq!(events(&app, &admin.access, "rate_limited").await.len(), 2);
    }
);

/// `POST /auth/refresh` with this token, sent by `agent`.
async fn refresh_as(app: &TestApp, refresh_token: &str, agent: &str) -> reqwest::Response {
    app.client
        .post(app.url("/auth/refresh"))
        .header(USER_AGENT, agent)
        .json(&json!({"refresh_token": refresh_token}))
        .send()
        .await
        .unwrap()
}

both!(
    /// Issue #9 item 7, R29: a just-rotated refresh token presented again within the grace
    /// window from the session's own user agent (parallel tabs) is answered and not audited;
    /// from another user agent (perhaps a copied token) it is answered and audited as
    /// `refresh_grace_replay`, with that agent and the user.
    a_grace_replay_from_another_user_agent_is_audited,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let tokens = login_from(&app, &user, "browser-A", false).await;
        let id = app.user_id(&tokens.access).await;
        assert_eq!(refresh_as(&app, &tokens.refresh, "browser-A").await.status(), StatusCode::OK);
        // Act: the same agent replays within the grace window
        let same = refresh_as(&app, &tokens.refresh, "browser-A").await;
        // Assert
        assert_eq!(same.status(), StatusCode::OK);
        assert!(events(&app, &admin.access, "refresh_grace_replay").await.is_empty());
        // Act: another agent replays within the grace window
        let other = refresh_as(&app, &tokens.refresh, "curl/8.0").await;
        // Assert
        assert_eq!(other.status(), StatusCode::OK);
        let rows = events(&app, &admin.access, "refresh_grace_replay").await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["user_agent"], json!("curl/8.0"));
        assert_eq!(rows[0]["user_id"], json!(id));
        let detail = rows[0]["detail"].to_string();
        assert!(!detail.contains(&tokens.refresh), "no token in the log: {detail}");
    }
);

/// Issue #9 item 7: `AUTHGATE_REFRESH_GRACE` above 60 s (here 2m) is refused at start-up: the
/// binary exits with an error that names the variable, and never serves.
#[test]
fn a_refresh_grace_over_a_minute_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AUTHGATE_DATA_DIR", dir.path())
        .env("AUTHGATE_REFRESH_GRACE", "2m")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "started: {stdout}");
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(stderr.contains("AUTHGATE_REFRESH_GRACE"), "{stderr}");
}
