//! authgate as a library: a host axum app with its own state uses the extractors, the role layer
//! and the nested API, driven in-process; and a separate service verifies tokens from the JWKS.

use crate::both;
use crate::support::*;
use authgate::{Admin, AuthState, CurrentUser, RequireRole, require_role};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, Request};
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A host application's state: authgate's beside its own.
#[derive(Clone, FromRef)]
struct Host {
    auth: AuthState,
    greeting: &'static str,
}

async fn whoami(user: CurrentUser) -> String {
    user.id.to_string()
}

async fn maybe(user: Option<CurrentUser>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |u| u.id.to_string())
}

async fn admin_only(admin: RequireRole<Admin>) -> String {
    format!("admin {}", admin.id)
}

/// Below the role layer: the user comes from the request extensions, the greeting from the host.
async fn greet(State(greeting): State<&'static str>, user: CurrentUser) -> String {
    format!("{greeting} {}", user.id)
}

/// The host app: its own routes, a moderator-only subtree, and the authgate API under a prefix.
pub(crate) fn host_app(auth: AuthState) -> Router {
    let moderation = Router::new()
        .route("/greet", get(greet))
        .route("/queue", get(|| async { "queue" }))
        .route_layer(require_role(&auth, &["moderator", "admin"]));
    Router::new()
        .route("/whoami", get(whoami))
        .route("/maybe", get(maybe))
        .route("/admin-only", get(admin_only))
        .nest("/mod", moderation)
        .nest("/authgate", authgate::router())
        .with_state(Host {
            auth,
            greeting: "hello",
        })
}

/// A response read in full.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("utf-8")
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json")
    }

    /// Assert the RFC 6750 refusal of a bad token: 401 with an `invalid_token` challenge.
    pub(crate) fn assert_invalid_token(&self) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED);
        let challenge = self.headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
    }
}

/// One request through the router, in-process.
async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    // What a router served with `into_make_service_with_connect_info` sees: the client's
    // address. Without it authgate's own routes refuse to serve (no per-IP limit could apply).
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .extension(axum::extract::ConnectInfo(peer));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

pub(crate) async fn get_as(router: &Router, uri: &str, token: Option<&str>) -> Answer {
    call(router, "GET", uri, token, None).await
}

/// A token that fails verification: its claims were changed after signing.
pub(crate) fn tampered(token: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["roles"] = json!(["user", "admin"]);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{claims}.{}", parts[0], parts[2])
}

// R10: CurrentUser is 401 with a bare Bearer challenge without a token, and names the caller with one.
both!(
    current_user_extractor_requires_a_valid_token,
    |app| async move {
        // Arrange
        let host = host_app(app.state().clone());
        let (_, tokens) = app.signed_in_user().await;
        let id = app.user_id(&tokens.access).await;
        // Act
        let anonymous = get_as(&host, "/whoami", None).await;
        let bad = get_as(&host, "/whoami", Some(&tampered(&tokens.access))).await;
        let good = get_as(&host, "/whoami", Some(&tokens.access)).await;
        // Assert
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
        assert_eq!(
            anonymous.headers["content-type"],
            "application/problem+json"
        );
        bad.assert_invalid_token();
        assert_eq!(good.status, StatusCode::OK);
        assert_eq!(good.text(), id);
    }
);

// Option<CurrentUser> is None only when no credentials were sent; a bad token is still 401.
both!(
    optional_current_user_is_anonymous_only_without_credentials,
    |app| async move {
        // Arrange
        let host = host_app(app.state().clone());
        let (_, tokens) = app.signed_in_user().await;
        let id = app.user_id(&tokens.access).await;
        // Act
        let anonymous = get_as(&host, "/maybe", None).await;
        let bad = get_as(&host, "/maybe", Some("not-a-token")).await;
        let tampered = get_as(&host, "/maybe", Some(&tampered(&tokens.access))).await;
        let good = get_as(&host, "/maybe", Some(&tokens.access)).await;
        // Assert
        assert_eq!(anonymous.status, StatusCode::OK);
        assert_eq!(anonymous.text(), "anonymous");
        assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
        assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);
        assert_eq!(good.status, StatusCode::OK);
        assert_eq!(good.text(), id);
    }
);

// R18: RequireRole<Admin> guards one handler: 401 without a token, 403 for a user, 200 for an admin.
both!(require_role_extractor_guards_a_handler, |app| async move {
    // Arrange
    let host = host_app(app.state().clone());
    let (_, user) = app.signed_in_user().await;
    let (_, moderator) = app.user_with_roles(&["moderator"]).await;
    let (_, admin) = app.user_with_roles(&["admin"]).await;
    let admin_id = app.user_id(&admin.access).await;
    // Act
    let anonymous = get_as(&host, "/admin-only", None).await;
    let as_user = get_as(&host, "/admin-only", Some(&user.access)).await;
    let as_moderator = get_as(&host, "/admin-only", Some(&moderator.access)).await;
    let as_admin = get_as(&host, "/admin-only", Some(&admin.access)).await;
    // Assert
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(as_user.status, StatusCode::FORBIDDEN);
    assert_eq!(as_user.json()["code"], json!("forbidden"));
    assert_eq!(as_moderator.status, StatusCode::FORBIDDEN);
    assert_eq!(as_admin.status, StatusCode::OK);
    assert_eq!(as_admin.text(), format!("admin {admin_id}"));
});

// R18: require_role guards a whole subtree, and hands the verified user to the handlers below.
both!(require_role_layer_guards_a_subtree, |app| async move {
    // Arrange
    let host = host_app(app.state().clone());
    let (_, user) = app.signed_in_user().await;
    let (_, moderator) = app.user_with_roles(&["moderator"]).await;
    let moderator_id = app.user_id(&moderator.access).await;
    let (_, admin) = app.user_with_roles(&["admin"]).await;
    for path in ["/mod/greet", "/mod/queue"] {
        // Act
        let anonymous = get_as(&host, path, None).await;
        let bad = get_as(&host, path, Some(&tampered(&moderator.access))).await;
        let as_user = get_as(&host, path, Some(&user.access)).await;
        let as_moderator = get_as(&host, path, Some(&moderator.access)).await;
        let as_admin = get_as(&host, path, Some(&admin.access)).await;
        // Assert
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(anonymous.headers["www-authenticate"], "Bearer", "{path}");
        assert_eq!(bad.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(as_user.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(as_user.json()["code"], json!("forbidden"), "{path}");
        assert_eq!(as_moderator.status, StatusCode::OK, "{path}");
        assert_eq!(as_admin.status, StatusCode::OK, "{path}");
    }
    let greeting = get_as(&host, "/mod/greet", Some(&moderator.access)).await;
    assert_eq!(greeting.text(), format!("hello {moderator_id}"));
});

// The whole authgate API works nested under a prefix of the host app.
both!(
    nested_authgate_api_serves_login_and_the_account,
    |app| async move {
        // Arrange
        let host = host_app(app.state().clone());
        let user = TestUser::generate();
        let body =
            json!({"email": user.email, "password": user.password, "username": user.username});
        let registered = call(&host, "POST", "/authgate/auth/register", None, Some(body)).await;
        assert_eq!(registered.status, StatusCode::CREATED);
        // Act
        let login = call(
            &host,
            "POST",
            "/authgate/auth/login",
            None,
            Some(json!({"username": user.email, "password": user.password})),
        )
        .await;
        // Assert
        assert_eq!(login.status, StatusCode::OK);
        assert_eq!(login.headers["cache-control"], "no-store");
        let tokens = Tokens::from_json(&login.json());
        let me = get_as(&host, "/authgate/users/me", Some(&tokens.access)).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.json()["email"], json!(user.email));
        let whoami = get_as(&host, "/whoami", Some(&tokens.access)).await;
        assert_eq!(whoami.text(), me.json()["id"].as_str().unwrap());
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::OK,
            "same state as the server"
        );
    }
);

// R14, R17: the host sees the server's revocations and role changes at once (shared state).
both!(
    host_extractors_apply_logout_and_role_changes_immediately,
    |app| async move {
        // Arrange
        let host = host_app(app.state().clone());
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let (_, tokens) = app.signed_in_user().await;
        let id = app.user_id(&tokens.access).await;
        assert_eq!(
            get_as(&host, "/mod/queue", Some(&tokens.access))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        // Act: promote
        let resp = app
            .request(
                reqwest::Method::PATCH,
                &format!("/admin/users/{id}"),
                Some(&admin.access),
                Some(json!({"roles": ["user", "moderator"]})),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        // Assert
        assert_eq!(
            get_as(&host, "/mod/queue", Some(&tokens.access))
                .await
                .status,
            StatusCode::OK
        );
        // Act: log out over HTTP
        assert_eq!(
            app.post("/auth/logout", Some(&tokens.access), json!({}))
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        // Assert
        assert_eq!(
            get_as(&host, "/whoami", Some(&tokens.access)).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            get_as(&host, "/mod/queue", Some(&tokens.access))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
);
