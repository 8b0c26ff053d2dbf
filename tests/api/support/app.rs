//! The harness: the real server in-process on port 0 over a fresh database, a client for it,
//! and the request helpers every test shares.

use std::sync::LazyLock;

use authgate::{Application, AuthState, Clock, Settings};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::backends::{Backend, announce};
use super::db::TestDb;

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        authgate::init_tracing(authgate::LogFormat::Text);
    }
});

/// A running authgate and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub clock: Clock,
    pub db: TestDb,
    pub settings: Settings,
    /// `http://127.0.0.1:<port>` of `/metrics`, when started with `--metrics-bind`.
    pub metrics_address: Option<String>,
    state: AuthState,
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
        ("--recovery-rate-limit", "off"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag.to_owned(), off.to_owned()]);
        }
    }
    for arg in extra {
        if *arg == super::smtp::WITH_MAIL {
            // Real SMTP to the test receiver; links under a public URL that is not this server
            // (tests read the token out of the link).
            let url = format!("smtp+insecure://127.0.0.1:{}", super::smtp::INBOX.port);
            args.extend(["--smtp-url".to_owned(), url]);
            args.extend(["--mail-from", "authgate tests <authgate@example.com>"].map(String::from));
            if !extra.contains(&"--public-url") {
                args.extend(["--public-url", "https://auth.example.test"].map(String::from));
            }
        } else {
            args.push(arg.to_string());
        }
    }
    Settings::from_args(args).expect("test settings")
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, extra: &[&str]) -> TestApp {
    let db = TestDb::provision(backend).await;
    let settings = test_settings(&db, extra);
    start(db, settings).await
}

/// Start a server on an existing database (for restart tests).
pub async fn start(db: TestDb, settings: Settings) -> TestApp {
    LazyLock::force(&TRACING);
    announce(db.backend);
    let clock = Clock::default();
    let app = Application::build_with_clock(settings.clone(), clock.clone())
        .await
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        metrics_address,
        address,
        client: client(),
        state,
        clock,
        db,
        settings,
    }
}

/// A client that does not follow redirects (tests look at each answer).
pub fn client() -> Client {
    authgate::install_tls_provider();
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
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
    /// The server's `AuthState`, for tests that drive the library API itself: host apps
    /// (library.rs, faults.rs), housekeeping (`purge_expired`, `sync_revocations`) and the
    /// first admin (support/admin.rs). Never a way to the store.
    pub fn state(&self) -> &AuthState {
        &self.state
    }

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

    /// Status of `GET /users/me` with this access token.
    pub async fn me_status(&self, access: &str) -> StatusCode {
        self.get("/users/me", Some(access)).await.status()
    }

    /// `GET /users/me`, expecting 200; the profile.
    pub async fn me(&self, access: &str) -> Value {
        let resp = self.get("/users/me", Some(access)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.expect("json")
    }

    /// The id of the user behind a token.
    pub async fn user_id(&self, access: &str) -> String {
        self.me(access).await["id"].as_str().expect("id").to_owned()
    }
}

/// Another instance of the server on a test's database (same settings, its own port, state
/// and clock): several instances behind one load balancer.
pub struct Peer {
    pub address: String,
    pub client: Client,
    pub clock: Clock,
    pub state: AuthState,
}

impl TestApp {
    /// Start one more instance on this test's database; it serves until the test ends.
    pub async fn peer(&self) -> Peer {
        self.peer_with(self.settings.clone()).await
    }

    /// As [`TestApp::peer`], with other settings (on the same database).
    pub async fn peer_with(&self, settings: Settings) -> Peer {
        let clock = Clock::default();
        let app = Application::build_with_clock(settings, clock.clone())
            .await
            .expect("build peer");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        Peer {
            address,
            client: client(),
            clock,
            state,
        }
    }
}
