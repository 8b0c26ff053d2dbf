//! Two instances on one database whose clocks disagree by 10 s: revocations are polled by the
//! sequence number the database assigns, so a logout on either reaches the other within the
//! poll interval (3 s), and a retried logout answers 204 wherever it lands.

use std::time::Duration;

use crate::both;
use crate::instances::wait_for;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;

/// `POST /auth/logout` with `token` on the instance at `base`.
async fn logout(client: &reqwest::Client, base: &str, token: &str) -> StatusCode {
    let resp = client
        .post(format!("{base}/auth/logout"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    resp.status()
}

// Item 4: instance B's clock is 10 s behind A's. A has already seen a revocation written at its
// own time; B's logout, stamped 10 s earlier, still reaches A, and A's reaches B.
both!(
    logouts_reach_the_other_instance_when_one_clock_is_10_s_behind,
    |app| async move {
        // Arrange: A (the TestApp), and B on the same database with its clock 10 s behind
        let (_, first) = app.signed_in_user().await;
        let (_, on_b) = app.signed_in_user().await;
        let (_, on_a) = app.signed_in_user().await;
        let a_state = app.state().clone();
        let TestApp {
            address: a,
            client,
            db,
            settings,
            ..
        } = app;
        let b = start(db, settings).await;
        b.clock.advance(-10);
        assert_eq!(
            logout(&client, &a, &first.access).await,
            StatusCode::NO_CONTENT
        );
        wait_for(
            &b.client,
            &b.address,
            &first.access,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        // A has loaded its own entry too: the newest row it has seen is stamped with its time.
        a_state.sync_revocations().await;
        assert_eq!(b.me_status(&on_b.access).await, StatusCode::OK);

        // Act 1: log out on the skewed instance B
        assert_eq!(
            logout(&b.client, &b.address, &on_b.access).await,
            StatusCode::NO_CONTENT
        );
        // Assert 1: A refuses the token within the poll interval (plus scheduling slack)
        let took = wait_for(&client, &a, &on_b.access, StatusCode::UNAUTHORIZED).await;
        assert!(took < Duration::from_secs(5), "B to A took {took:?}");

        // Act 2: and the other way round
        assert_eq!(b.me_status(&on_a.access).await, StatusCode::OK);
        assert_eq!(
            logout(&client, &a, &on_a.access).await,
            StatusCode::NO_CONTENT
        );
        // Assert 2
        let took = wait_for(
            &b.client,
            &b.address,
            &on_a.access,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert!(took < Duration::from_secs(5), "A to B took {took:?}");
    }
);

// Item 4: a retried logout (the first answer lost, or the session already ended on another
// instance) answers 204 like the first, on either instance, and the token stays dead; a token
// whose session no longer exists is still 401.
both!(
    a_retried_logout_answers_204_on_either_instance,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let (_, doomed) = app.signed_in_user().await;
        app.deactivate(&doomed.access).await;
        let (_, gone) = app.signed_in_user().await;
        let gone_id = uuid::Uuid::parse_str(&app.user_id(&gone.access).await).unwrap();
        app.state()
            .delete_user(gone_id, &authgate::Actor::system())
            .await
            .unwrap();
        let TestApp {
            address: a,
            client,
            db,
            settings,
            ..
        } = app;
        let b = start(db, settings).await;
        // Act: log out on A, then retry on A and, before it has synced, on B
        let first = logout(&client, &a, &tokens.access).await;
        let again = logout(&client, &a, &tokens.access).await;
        let elsewhere = logout(&b.client, &b.address, &tokens.access).await;
        // Assert
        assert_eq!(
            [first, again, elsewhere],
            [StatusCode::NO_CONTENT; 3],
            "a logout is idempotent"
        );
        assert_eq!(b.me_status(&tokens.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            b.refresh(&tokens.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        // A deactivated user's session ended with the deactivation: logging out is a retry.
        assert_eq!(
            logout(&b.client, &b.address, &doomed.access).await,
            StatusCode::NO_CONTENT
        );
        // A session deleted with its user is not a retry: there is nothing to log out.
        assert_eq!(
            logout(&b.client, &b.address, &gone.access).await,
            StatusCode::UNAUTHORIZED
        );
    }
);
