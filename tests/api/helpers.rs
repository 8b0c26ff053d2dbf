//! The test harness: the real server in-process on port 0, one fresh database per test.
//!
//! SQLite always (a file in a temp dir); PostgreSQL when `TEST_DATABASE_URL` is set: a database
//! `authgate_test_<uuid>` is created per test and dropped (WITH (FORCE)) when the test ends,
//! even if it panicked.

#![allow(dead_code)]

use std::sync::LazyLock;

use authgate::{Application, AuthState, Clock, Settings};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use tempfile::TempDir;
use uuid::Uuid;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        authgate::telemetry::init(authgate::config::LogFormat::Text);
    }
});

/// The PostgreSQL server to create test databases on, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    dir: TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn provision(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
                Self {
                    url,
                    backend,
                    dir,
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_url().expect("TEST_DATABASE_URL");
                let name = format!("authgate_test_{}", Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let url = replace_db_name(&admin, &name);
                Self {
                    url,
                    backend,
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let Some(admin) = postgres_url() else { return };
        // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running authgate and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub state: AuthState,
    pub clock: Clock,
    pub db: TestDb,
    pub settings: Settings,
}

/// Settings for tests: port 0, the given database, plus any extra flags.
pub fn test_settings(db: &TestDb, extra: &[&str]) -> Settings {
    let mut args: Vec<String> = vec![
        "--bind",
        "127.0.0.1:0",
        "--database-url",
        &db.url,
        "--data-dir",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    args.push(db.dir.path().display().to_string());
    // Most tests register and log in many times from 127.0.0.1: the abuse limits are off unless
    // a test turns them on (tests/api/abuse_*.rs do, with the defaults or tighter values).
    for (flag, off) in [
        ("--login-rate-limit", "off"),
        ("--register-rate-limit", "off"),
        ("--refresh-rate-limit", "off"),
        ("--lockout-threshold", "0"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag.to_owned(), off.to_owned()]);
        }
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    Settings::from_args(args).expect("test settings")
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, extra: &[&str]) -> TestApp {
    LazyLock::force(&TRACING);
    let db = TestDb::provision(backend).await;
    let settings = test_settings(&db, extra);
    start(db, settings).await
}

/// Start a server on an existing database (for restart tests).
pub async fn start(db: TestDb, settings: Settings) -> TestApp {
    let clock = Clock::default();
    let app = Application::build_with_clock(settings.clone(), clock.clone())
        .await
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    authgate::install_tls_provider();
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        address,
        client,
        state,
        clock,
        db,
        settings,
    }
}

/// A user with random credentials.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub email: String,
    pub username: String,
    pub password: String,
}

impl TestUser {
    pub fn generate() -> Self {
        let id = Uuid::new_v4().simple().to_string();
        Self {
            email: format!("user-{}@example.com", &id[..12]),
            username: format!("user_{}", &id[..12]),
            password: format!("pw-{}", &id[..20]),
        }
    }
}

/// A token pair as returned by the token endpoints.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    pub fn from_json(v: &Value) -> Self {
        Self {
            access: v["access_token"].as_str().expect("access_token").to_owned(),
            refresh: v["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// One request helper for every JSON call: method, path, optional bearer token, optional body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn post_form(&self, path: &str, form: &str) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .expect("request")
    }

    pub async fn register(&self, user: &TestUser) -> Response {
        self.post(
            "/auth/register",
            None,
            json!({"email": user.email, "password": user.password, "username": user.username}),
        )
        .await
    }

    pub async fn login(&self, user: &TestUser) -> Response {
        self.post(
            "/auth/login",
            None,
            json!({"username": user.email, "password": user.password}),
        )
        .await
    }

    /// Register and log in a fresh user.
    pub async fn signed_in_user(&self) -> (TestUser, Tokens) {
        let user = TestUser::generate();
        assert_eq!(self.register(&user).await.status(), StatusCode::CREATED);
        let tokens = self.login_ok(&user).await;
        (user, tokens)
    }

    pub async fn login_ok(&self, user: &TestUser) -> Tokens {
        let resp = self.login(user).await;
        assert_eq!(resp.status(), StatusCode::OK);
        Tokens::from_json(&resp.json().await.expect("json"))
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post(
            "/auth/refresh",
            None,
            json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// The id of the user behind a token.
    pub async fn user_id(&self, access: &str) -> String {
        let me: Value = self
            .get("/users/me", Some(access))
            .await
            .json()
            .await
            .expect("json");
        me["id"].as_str().expect("id").to_owned()
    }

    /// Deactivate the user behind `access` through the library, as an admin would; returns their id.
    pub async fn deactivate(&self, access: &str) -> Uuid {
        let id = Uuid::parse_str(&self.user_id(access).await).expect("uuid");
        let changes = authgate::service::UserChanges {
            roles: None,
            is_active: Some(false),
        };
        self.state
            .update_user(id, changes, true)
            .await
            .expect("deactivate");
        id
    }

    /// A signed-in user with extra roles, granted directly through the library.
    pub async fn user_with_roles(&self, roles: &[&str]) -> (TestUser, Tokens) {
        let (user, tokens) = self.signed_in_user().await;
        let id = Uuid::parse_str(&self.user_id(&tokens.access).await).expect("uuid");
        let mut all = vec!["user".to_owned()];
        all.extend(roles.iter().map(|r| r.to_string()));
        let changes = authgate::service::UserChanges {
            roles: Some(all),
            is_active: None,
        };
        self.state
            .update_user(id, changes, true)
            .await
            .expect("grant roles");
        let tokens = self.login_ok(&user).await;
        (user, tokens)
    }
}

/// Run a test body against SQLite and, when `TEST_DATABASE_URL` is set, PostgreSQL:
/// `both!(name, |app| async move { … });` makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both {
    ($name:ident, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await;
                $body.await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_url().is_none() {
                    eprintln!("TEST_DATABASE_URL not set: PostgreSQL variant not run");
                    return;
                }
                let $app = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await;
                $body.await;
            }
        }
    };
}
