//! The example host app (`examples/tutorial_app.rs`): the first tutorial's API on top of the
//! library, exactly as that tutorial's Next.js frontend calls it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::*;
use authgate::{ServerLayers, apply_server_layers};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[allow(dead_code)]
#[path = "../../examples/tutorial_app.rs"]
mod tutorial_app;

struct Tutorial {
    base: String,
    client: reqwest::Client,
    auth: authgate::AuthState,
    _db: TestDb,
}

async fn spawn_tutorial(backend: Backend) -> Tutorial {
    announce(backend);
    let db = TestDb::provision(backend).await;
    let settings = test_settings(&db, &["--cors-origins", "http://localhost:3000"]);
    let auth = authgate::AuthState::from_settings(&settings).await.unwrap();
    let layers = ServerLayers {
        cors_origins: settings.cors_origins.clone(),
        max_body_bytes: 65536,
        request_timeout: Duration::from_secs(30),
        ..ServerLayers::default()
    };
    let router = apply_server_layers(tutorial_app::app(auth.clone()), &layers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    authgate::install_tls_provider();
    Tutorial {
        base,
        client: reqwest::Client::new(),
        auth,
        _db: db,
    }
}

impl Tutorial {
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    async fn post_json(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn signin(&self, username: &str, password: &str) -> String {
        let resp = self
            .post_json(
                "/api/auth/signin",
                json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["token_type"], "bearer");
        body["token"].as_str().unwrap().to_owned()
    }

    async fn grant(&self, token: &str, roles: &[&str]) {
        let me = self.auth.authenticate(token).await.unwrap();
        let roles = roles.iter().map(|r| r.to_string()).collect();
        let changes = authgate::UserChanges {
            roles: Some(roles),
            is_active: None,
        };
        self.auth
            .update_user(me.id, changes, &authgate::Actor::system())
            .await
            .unwrap();
    }
}

async fn frontend_flow_works_end_to_end(backend: Backend) {
    // Arrange
    let app = spawn_tutorial(backend).await;
    let signup =
        json!({"username": "travis", "email": "travis@example.com", "password": "fullstackbook"});

    // Act + Assert: sign-up answers the tutorial's UserRead, a duplicate is 409 (the tutorial's 500)
    let resp = app.post_json("/api/auth/signup", signup.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"username": "travis", "email": "travis@example.com"})
    );
    assert_eq!(
        app.post_json("/api/auth/signup", signup).await.status(),
        StatusCode::CONFLICT
    );

    // sign-in and the form endpoint (grant_type optional, as OAuth2PasswordRequestForm allows)
    let token = app.signin("travis", "fullstackbook").await;
    let wrong = app
        .post_json(
            "/api/auth/signin",
            json!({"username": "travis", "password": "nope-nope"}),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let form = app
        .client
        .post(format!("{}/api/auth/token", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=travis&password=fullstackbook")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let form: Value = form.json().await.unwrap();
    assert_eq!(form["token_type"], "bearer");
    assert!(form["access_token"].as_str().unwrap().len() > 20);

    // the signed-in header calls /api/test/profile on every page
    for path in ["/api/test/profile", "/api/auth/users/me"] {
        let resp = app.get(path, Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"username": "travis", "email": "travis@example.com"})
        );
        assert_eq!(
            app.get(path, None).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path} without a token"
        );
    }

    // role-guarded content
    assert_eq!(
        app.get("/api/test/all", None)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!("public content")
    );
    assert_eq!(
        app.get("/api/test/user", Some(&token))
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!("user content")
    );
    assert_eq!(
        app.get("/api/test/user", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/test/mod", Some(&token)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/test/admin", Some(&token)).await.status(),
        StatusCode::FORBIDDEN
    );

    app.grant(&token, &["user", "moderator"]).await;
    assert_eq!(
        app.get("/api/test/mod", Some(&token))
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!("moderator content")
    );
    assert_eq!(
        app.get("/api/test/admin", Some(&token)).await.status(),
        StatusCode::FORBIDDEN
    );

    app.grant(&token, &["user", "admin"]).await;
    assert_eq!(
        app.get("/api/test/admin", Some(&token))
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!("admin content")
    );

    // the whole authgate API is mounted too
    assert_eq!(
        app.get("/authgate/users/me", Some(&token)).await.status(),
        StatusCode::OK
    );
}

async fn frontend_origin_passes_cors(backend: Backend) {
    let app = spawn_tutorial(backend).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/auth/signin", app.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(
        ok.headers().get("access-control-allow-origin").unwrap(),
        "http://localhost:3000"
    );
    let evil = preflight("http://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_frontend_flow_sqlite() {
    frontend_flow_works_end_to_end(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_frontend_flow_postgres() {
    if postgres_or_skip().is_some() {
        frontend_flow_works_end_to_end(Backend::Postgres).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_cors_lets_the_frontend_origin_in_sqlite() {
    frontend_origin_passes_cors(Backend::Sqlite).await;
}
