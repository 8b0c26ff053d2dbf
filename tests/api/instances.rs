//! Several instances on one database (F5): what one instance revokes, the others refuse within
//! the revocation poll interval (3 s), with no restart and no shared memory.

use std::time::{Duration, Instant};

use crate::both;
use crate::support::*;
use authgate::UserChanges;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

/// Poll `GET /users/me` on `base` until it answers `want`; returns how long that took.
pub(crate) async fn wait_for(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    want: StatusCode,
) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        let status = client
            .get(format!("{base}/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status();
        if status == want {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{base} did not answer {want} within 8 s");
}

// F5/R14/R15: logout on instance A and a deactivation made through A's library API both reach
// instance B (same database, separate process state) within the poll interval.
both!(
    revocations_propagate_between_instances_sharing_a_database,
    |app| async move {
        // Arrange: instance A (the TestApp) and instance B on the same database
        let (user, gone) = app.signed_in_user().await;
        let (_, other) = app.signed_in_user().await;
        let a_state = app.state().clone();
        let TestApp {
            address: a,
            client,
            db,
            settings,
            ..
        } = app;
        let b = start(db, settings).await;
        assert_eq!(
            b.me_status(&gone.access).await,
            StatusCode::OK,
            "B accepts A's token"
        );

        // Act 1: log out on A
        let resp = client
            .post(format!("{a}/auth/logout"))
            .bearer_auth(&gone.access)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        // Assert 1: B refuses the token within the poll interval (plus scheduling slack)
        let took = wait_for(
            &b.client,
            &b.address,
            &gone.access,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert!(took < Duration::from_secs(5), "propagation took {took:?}");
        // the user's other session is untouched on B
        let live = b.login_ok(&user).await;
        assert_eq!(b.me_status(&live.access).await, StatusCode::OK);

        // Act 2: deactivate another user through A
        let id = Uuid::parse_str(&b.user_id(&other.access).await).unwrap();
        a_state
            .update_user(
                id,
                UserChanges {
                    roles: None,
                    is_active: Some(false),
                },
                &authgate::Actor::system(),
            )
            .await
            .unwrap();
        // Assert 2
        let took = wait_for(
            &b.client,
            &b.address,
            &other.access,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert!(took < Duration::from_secs(5), "propagation took {took:?}");
    }
);
