//! The fault cases of SECURITY.md the server must survive: a database that goes away and comes
//! back (F8), corrupt stored password hashes (F13), and a panicking handler (F12).

use std::time::{Duration, Instant};

use crate::both;
use crate::support::*;
use axum::Router;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

/// The name of the PostgreSQL test database.
fn pg_name(app: &TestApp) -> String {
    app.db.pg_name().expect("a PostgreSQL test").to_owned()
}

async fn pg_admin() -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&postgres_url().unwrap())
        .await
        .expect("connect to TEST_DATABASE_URL")
}

/// Run `sql` on the maintenance connection, retrying while the server reconnects in between.
async fn pg_exec_retrying(conn: &mut sqlx::PgConnection, name: &str, sql: &str) {
    for _ in 0..50 {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&mut *conn)
        .await
        .unwrap();
        if sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut *conn)
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("could not run {sql}");
}

/// Takes a PostgreSQL test database away (connections killed, database renamed) and, on drop,
/// removes the renamed copy if the test did not bring it back.
struct Outage {
    name: String,
    down: String,
    restored: bool,
}

impl Outage {
    async fn start(app: &TestApp) -> Self {
        let name = pg_name(app);
        let down = format!("{name}_down");
        let mut conn = pg_admin().await;
        pg_exec_retrying(
            &mut conn,
            &name,
            &format!("ALTER DATABASE \"{name}\" RENAME TO \"{down}\""),
        )
        .await;
        Self {
            name,
            down,
            restored: false,
        }
    }

    async fn end(mut self) {
        let mut conn = pg_admin().await;
        let sql = format!(
            "ALTER DATABASE \"{}\" RENAME TO \"{}\"",
            self.down, self.name
        );
        pg_exec_retrying(&mut conn, &self.down, &sql).await;
        self.restored = true;
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if self.restored {
            return;
        }
        let down = self.down.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let sql = format!("DROP DATABASE IF EXISTS \"{down}\" WITH (FORCE)");
                let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut pg_admin().await)
                    .await;
            });
        })
        .join();
    }
}

/// F8, R28 (ASVS 5.0 16.5.2/16.5.3): while PostgreSQL is unreachable (connections killed, the
/// database gone), every endpoint that needs it answers 503 `service_unavailable` with
/// Retry-After and no driver text, never 200 or 500, liveness stays 200 and readiness 503; when
/// the database is back, the same server recovers without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_503_and_the_server_recovers_postgres() {
    if postgres_or_skip().is_none() {
        return;
    }
    // Arrange
    let app = spawn_app(Backend::Postgres).await;
    let (user, tokens) = app.signed_in_user().await;
    let (_, spare) = app.signed_in_user().await;
    // Act
    let outage = Outage::start(&app).await;
    let answers =
        vec![
        ("login", app.login(&user).await),
        ("refresh", app.refresh(&tokens.refresh).await),
        ("me", app.get("/users/me", Some(&tokens.access)).await),
        ("register", app.register(&TestUser::generate()).await),
        (
            "logout",
            app.request(reqwest::Method::POST, "/auth/logout", Some(&spare.access), None)
                .await,
        ),
        (
            "change password",
            app.post(
                "/users/me/password",
                Some(&tokens.access),
                json!({"current_password": user.password, "new_password": "another password 1"}),
            )
            .await,
        ),
        ("sessions", app.get("/users/me/sessions", Some(&tokens.access)).await),
    ];
    // Assert
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/readyz", None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    for (what, resp) in answers {
        assert!(resp.headers().contains_key("retry-after"), "{what}");
        let body =
            assert_problem(resp, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
        let text = body.to_string().to_lowercase();
        for leak in ["database", "postgres", "sqlx", "connection", "3d000"] {
            assert!(!text.contains(leak), "{what}: {leak} in {body}");
        }
    }
    let grant = token_grant(&app, &user.email, &user.password).await;
    assert_eq!(grant.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&grant, "retry-after").as_deref(), Some("5"));
    // Act: the database comes back
    outage.end().await;
    // Assert: the same process serves again, and the session opened before the outage lives
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.get("/readyz", None).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "readiness never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.login(&user).await.status(), StatusCode::OK);
    assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
    assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);
}

/// F8 ("never 200: the revocation check fails closed"), R14, R28: a host route guarded only by
/// the `CurrentUser` extractor must not keep accepting tokens while the database is
/// unreachable; the in-memory revocation list can no longer learn of logouts made elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extractor_only_routes_fail_closed_during_a_database_outage_postgres() {
    if postgres_or_skip().is_none() {
        return;
    }
    // Arrange
    let app = spawn_app(Backend::Postgres).await;
    let (_, tokens) = app.signed_in_user().await;
    let routes = Router::new().route(
        "/whoami",
        get(|user: authgate::CurrentUser| async move { user.id.to_string() }),
    );
    let host = serve_host(host_router(app.state(), routes)).await;
    let whoami = || {
        app.client
            .get(format!("{host}/whoami"))
            .bearer_auth(&tokens.access)
            .send()
    };
    assert_eq!(whoami().await.unwrap().status(), StatusCode::OK);
    // Act: the database goes away; give the revocation sync time to notice
    let outage = Outage::start(&app).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let during = whoami().await.unwrap().status();
    outage.end().await;
    // Assert
    assert_eq!(during, StatusCode::SERVICE_UNAVAILABLE);
}

/// The user behind a token, by id.
async fn id_of(app: &TestApp, access: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(&app.user_id(access).await).unwrap()
}

both!(
    /// F13 (RUSTSEC-2026-0199 bcrypt verify panic; ory/kratos hash_limits): a stored password
    /// hash that is multibyte garbage, a truncated PHC string, an unsupported scheme or asks for
    /// 4 GiB / 2³²−1 passes / 255 lanes is a plain credential failure on `/auth/login`,
    /// `/auth/token` and the password change: no panic, no OOM, answered fast, server alive.
    corrupt_stored_hashes_are_a_credential_failure_not_a_crash,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        let id = id_of(&app, &tokens.access).await;
        let (bystander, _) = app.signed_in_user().await;
        let salt = "c29tZXNhbHRzb21lc2FsdA";
        let hash = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        let corrupt = vec![
            String::new(),
            "ñññññññññññññññññññ".to_owned(),
            format!("$2b$12${}", "ñ".repeat(26)),
            format!("$2y$10${}", "€".repeat(20)),
            "$2b$99$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234".to_owned(),
            "$argon2id$v=19$m=19456,t=2,p=1$".to_owned(),
            format!("$argon2id$v=19$m=19456,t=2,p=1${salt}"),
            format!("$argon2id$v=19$m=4194304,t=2,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=19456,t=4294967295,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=19456,t=2,p=255${salt}${hash}"),
            format!("$argon2id$v=19$m=-1,t=2,p=1${salt}${hash}"),
            format!("$argon2id$v=99$m=19456,t=2,p=1${salt}${hash}"),
            "$argon2id$v=19$m=19456,t=2,p=1$ñ$ñ".to_owned(),
            format!("$scrypt$ln=16,r=8,p=1${salt}${hash}"),
            "$pbkdf2-sha256$29000$c2FsdA$aGFzaA".to_owned(),
            "\u{1}\u{2}\u{7f}".to_owned(),
            "$".repeat(10_000),
        ];
        for stored in corrupt {
            let shown: String = stored.chars().take(50).collect();
            // SQL on the test's own database: no API stores a hash it did not compute.
            let sql = "UPDATE users SET password_hash = $1 WHERE user_id = $2";
            assert_eq!(app.db.execute(sql, &[&stored, &id.to_string()]).await, 1);
            let started = Instant::now();
            // Act
            let login = app.login(&user).await;
            let grant = token_grant(&app, &user.email, &user.password).await;
            let change = app
                .post(
                    "/users/me/password",
                    Some(&tokens.access),
                    json!({"current_password": user.password, "new_password": "another password 1"}),
                )
                .await;
            // Assert
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{shown:?}: {:?}",
                started.elapsed()
            );
            assert_problem(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
            assert_eq!(grant.status(), StatusCode::BAD_REQUEST, "{shown:?}");
            assert_eq!(
                grant.json::<Value>().await.unwrap()["error"],
                json!("invalid_grant")
            );
            assert_problem(change, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        }
        assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
        assert_eq!(
            app.login(&bystander).await.status(),
            StatusCode::OK,
            "others still sign in"
        );
    }
);

/// A handler with a bug: it panics with text that must never reach the client.
async fn boom() -> &'static str {
    panic!("secret-internal-detail: invariant broken");
}

both!(
    /// F12, R27 (ASVS 5.0 16.5.4 last-resort handler): a panicking handler behind the server's
    /// layers answers a generic 500 problem+json (no panic text), concurrent panics too, and the
    /// process keeps serving the next request.
    handler_panic_is_a_generic_500_and_the_process_lives,
    |app| async move {
        // Arrange
        let (user, _) = app.signed_in_user().await;
        let base = serve_host(host_router(
            app.state(),
            Router::new().route("/boom", get(boom)),
        ))
        .await;
        let client = app.client.clone();
        // Act
        let first = client.get(format!("{base}/boom")).send().await.unwrap();
        let burst = futures_join(&client, &format!("{base}/boom"), 8).await;
        let after = client
            .post(format!("{base}/auth/login"))
            .json(&json!({"username": user.email, "password": user.password}))
            .send()
            .await
            .unwrap();
        // Assert
        assert!(header(&first, "x-request-id").is_some());
        let body = assert_problem(first, StatusCode::INTERNAL_SERVER_ERROR, "internal_error").await;
        assert_eq!(body["detail"], json!("internal error"));
        assert!(!body.to_string().contains("secret"), "{body}");
        assert!(
            burst
                .iter()
                .all(|s| *s == StatusCode::INTERNAL_SERVER_ERROR),
            "{burst:?}"
        );
        assert_eq!(after.status(), StatusCode::OK, "the next request is fine");
        assert_eq!(
            client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
);

/// Fire `n` concurrent GETs at `url`; their statuses.
async fn futures_join(client: &reqwest::Client, url: &str, n: usize) -> Vec<StatusCode> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (client, url) = (client.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            client.get(url).send().await.map(|r| r.status())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap().unwrap());
    }
    out
}
