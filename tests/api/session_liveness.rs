//! The issuer's endpoints that read the database (`/users/me/sessions` on every call,
//! `/users/me` on the first call of each session on an instance, then from its profile cache:
//! issue 14) confirm there that the token's session is live (issue #9 item 7, R14). A route that only
//! verifies the token (the `CurrentUser` extractor, no database round trip) does not: it
//! accepts a validly signed token until a revocation reaches memory (the 3 s poll), and a token
//! whose `sid` never existed (forged with a leaked HS256 secret, or a leaked signing key) until
//! it expires. That is the documented price of verification without a database read.

use authgate::{AuthState, CurrentUser};
use axum::Router;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::both;
use crate::support::*;

/// A host route guarded only by the extractor.
fn whoami_routes() -> Router<AuthState> {
    Router::new().route(
        "/whoami",
        get(|user: CurrentUser| async move { user.id.to_string() }),
    )
}

async fn get_status(app: &TestApp, url: String, token: &str) -> StatusCode {
    bearer_status(&app.client, &url, token).await
}

both!(
    /// Issue #9 item 7, R14: a token signed with the server's own key for a real user but a
    /// random `sid` is refused (401 `invalid_token`) by `/users/me` and `/users/me/sessions`;
    /// a route that only verifies still accepts it (see the module comment). The real token of
    /// the same user keeps working everywhere.
    a_token_for_an_unknown_session_is_refused_where_the_database_is_read,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let minter = Minter::new(&app).await;
        let mut claims = fresh_claims(&app, &claims_of(&tokens.access));
        claims["sid"] = json!(Uuid::now_v7());
        let forged = minter.mint(json!({}), &claims);
        let host = serve_host(host_router(app.state(), whoami_routes())).await;
        // Act
        let me = app.get("/users/me", Some(&forged)).await;
        let sessions = app.get("/users/me/sessions", Some(&forged)).await;
        let verified_only = get_status(&app, format!("{host}/whoami"), &forged).await;
        // Assert
        assert_invalid_token(me, "/users/me, unknown sid").await;
        assert_invalid_token(sessions, "/users/me/sessions, unknown sid").await;
        assert_eq!(verified_only, StatusCode::OK, "only verified: accepted (documented)");
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
        let real_sessions = app.get("/users/me/sessions", Some(&tokens.access)).await;
        assert_eq!(real_sessions.status(), StatusCode::OK);
    }
);

both!(
    /// Issue #9 item 7, R14, F5: a session revoked by another instance before this one first
    /// saw it is refused by `/users/me` and `/users/me/sessions` at once, before the revocation
    /// reaches this instance's memory. A session `/users/me` had already confirmed here is then
    /// answered from the profile cache (issue 14) like a route that only verifies, until the
    /// revocation reaches memory (`LISTEN/NOTIFY` or the poll; here an instance that never syncs
    /// until the test says so); `/users/me/sessions` still reads the database every time.
    a_session_revoked_elsewhere_is_refused_where_the_database_is_read_before_any_sync,
    |app| async move {
        // Arrange: a second instance on the same database, without housekeeping
        let other = AuthState::from_settings(&app.settings).await.unwrap();
        let base = serve_host(host_router(&other, whoami_routes())).await;
        let (user, seen) = app.signed_in_user().await;
        let unseen = app.login_ok(&user).await;
        assert_eq!(get_status(&app, format!("{base}/users/me"), &seen.access).await, StatusCode::OK);
        // Act: log out both sessions through the test server
        for tokens in [&seen, &unseen] {
            let resp = app.post("/auth/logout", Some(&tokens.access), json!({})).await;
            assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        }
        // Assert: the session `other` never confirmed is refused where the database is read
        let me = get_status(&app, format!("{base}/users/me"), &unseen.access).await;
        let sessions = get_status(&app, format!("{base}/users/me/sessions"), &unseen.access).await;
        let verified_only = get_status(&app, format!("{base}/whoami"), &unseen.access).await;
        assert_eq!(me, StatusCode::UNAUTHORIZED);
        assert_eq!(sessions, StatusCode::UNAUTHORIZED);
        assert_eq!(verified_only, StatusCode::OK, "not yet in memory (documented)");
        // the confirmed one: cached until the revocation arrives, then refused everywhere
        let cached = get_status(&app, format!("{base}/users/me"), &seen.access).await;
        let sessions = get_status(&app, format!("{base}/users/me/sessions"), &seen.access).await;
        assert_eq!(cached, StatusCode::OK, "answered from the cache (documented)");
        assert_eq!(sessions, StatusCode::UNAUTHORIZED);
        other.sync_revocations().await;
        for path in ["/users/me", "/users/me/sessions", "/whoami"] {
            let status = get_status(&app, format!("{base}{path}"), &seen.access).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} after the sync");
        }
    }
);
