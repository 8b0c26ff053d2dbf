//! F1 and F2: the real server killed with SIGKILL, on both databases.
//!
//! F1 (crash after acknowledgement): writers register accounts and log sessions out while the
//! server is killed the instant an answer arrives; after a restart every acknowledged account
//! signs in and every acknowledged logout still holds. F2 (crash mid-transaction): a trigger the
//! test adds to the database stalls the registration transaction between its `INSERT INTO
//! users` and its commit, the server is killed there, and afterwards the account is absent (not
//! half-written) and can be registered again. The stall is the database's own doing, so the
//! server carries no test hook.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::Connection;
use tokio::sync::Mutex;
use uuid::Uuid;

use super::*;

pub(super) const PASSWORD: &str = "crash-test-Password-42";

/// Where a crash test keeps its data: the data dir (SQLite) or a fresh PostgreSQL database.
pub(super) struct Target {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Target {
    fn sqlite() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            database_url: None,
        }
    }

    pub(super) async fn postgres() -> Self {
        let admin = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL (set in .cargo/config.toml) names the PostgreSQL server");
        let name = format!("authgate_crash_{}", Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Self {
            dir: tempfile::tempdir().unwrap(),
            database_url: Some(format!("{base}/{name}")),
        }
    }

    /// Start `authgate serve` on a free port with every limit that would refuse a test's burst
    /// of writes from one address turned off; returns the child and its base URL.
    pub(super) fn start(&self) -> (KillOnDrop, String) {
        let mut cmd = authgate(&self.dir, &["serve", "--bind", "127.0.0.1:0"]);
        cmd.env("AUTHGATE_REGISTER_RATE_LIMIT", "off")
            .env("AUTHGATE_LOGIN_RATE_LIMIT", "off")
            .env("AUTHGATE_ACCOUNT_LOGIN_RATE_LIMIT", "off")
            .env("AUTHGATE_REFRESH_RATE_LIMIT", "off")
            .env("AUTHGATE_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(url) = &self.database_url {
            cmd.env("DATABASE_URL", url);
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("authgate listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        (KillOnDrop(child), base)
    }

    /// Run `sql` on the database directly (the test's own connection, not the server's).
    async fn execute(&self, sql: &str) {
        match &self.database_url {
            Some(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            None => {
                let url = format!("sqlite://{}", self.dir.path().join("authgate.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
    }

    /// The number `sql` counts.
    async fn count(&self, sql: &str) -> i64 {
        match &self.database_url {
            Some(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
            None => {
                let url = format!("sqlite://{}", self.dir.path().join("authgate.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
        }
    }
}

pub(super) fn client() -> reqwest::Client {
    authgate::install_tls_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub(super) async fn register(client: &reqwest::Client, base: &str, email: &str) -> Option<u16> {
    let res = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .ok()?;
    Some(res.status().as_u16())
}

pub(super) async fn login(client: &reqwest::Client, base: &str, email: &str) -> Option<Value> {
    let res = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": email, "password": PASSWORD}))
        .send()
        .await
        .ok()?;
    if res.status() != 200 {
        return None;
    }
    res.json().await.ok()
}

/// What the writers of F1 were told before the kill.
#[derive(Default)]
struct Acknowledged {
    registered: HashSet<String>,
    /// (access token, refresh token) of sessions whose logout answered 204.
    logged_out: Vec<(String, String)>,
}

/// F1: `rounds` times, start the server, run `writers` concurrent loops that register (and log
/// out a session), SIGKILL the server the instant the `kill_after`-th acknowledgement of the round
/// arrives; then restart and check that nothing acknowledged was lost.
async fn acknowledged_writes_survive_sigkill(target: Target) {
    let rounds = 30;
    let writers = 4;
    let kill_after = 6;
    let client = client();
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    for round in 0..rounds {
        let (server, base) = target.start();
        let server = Arc::new(std::sync::Mutex::new(Some(server)));
        let killed = Arc::new(AtomicBool::new(false));
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let logouts_before = acked.lock().await.logged_out.len();
        let mut tasks = Vec::new();
        for w in 0..writers {
            let (client, base, acked, server, killed, count) = (
                client.clone(),
                base.clone(),
                acked.clone(),
                server.clone(),
                killed.clone(),
                count.clone(),
            );
            tasks.push(tokio::spawn(async move {
                // The instant an answer is acknowledged: record it, then maybe kill the server.
                // The kill waits for at least one logout in the round, so every round has both.
                let ack = |record: Box<dyn FnOnce(&mut Acknowledged) + Send>| {
                    let (acked, server, killed, count) =
                        (acked.clone(), server.clone(), killed.clone(), count.clone());
                    async move {
                        let logouts = {
                            let mut acked = acked.lock().await;
                            record(&mut acked);
                            acked.logged_out.len()
                        };
                        if count.fetch_add(1, Ordering::SeqCst) + 1 >= kill_after
                            && logouts > logouts_before
                            && let Some(mut s) = server.lock().unwrap().take()
                        {
                            // SIGKILL: no destructor, no flush, no graceful stop.
                            let _ = s.0.kill();
                            let _ = s.0.wait();
                            killed.store(true, Ordering::SeqCst);
                        }
                    }
                };
                for i in 0.. {
                    if killed.load(Ordering::SeqCst) {
                        break;
                    }
                    let email = format!("r{round}w{w}n{i}@example.com");
                    if register(&client, &base, &email).await == Some(201) {
                        let e = email.clone();
                        ack(Box::new(move |a| {
                            a.registered.insert(e);
                        }))
                        .await;
                    } else {
                        continue;
                    }
                    // Every other account also opens a session and logs it out.
                    if i % 2 == 1 {
                        let Some(tokens) = login(&client, &base, &email).await else {
                            continue;
                        };
                        let access = tokens["access_token"].as_str().unwrap().to_owned();
                        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
                        let res = client
                            .post(format!("{base}/auth/logout"))
                            .bearer_auth(&access)
                            .json(&json!({"refresh_token": refresh}))
                            .send()
                            .await;
                        if res.is_ok_and(|r| r.status() == 204) {
                            ack(Box::new(move |a| a.logged_out.push((access, refresh)))).await;
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(killed.load(Ordering::SeqCst), "round {round}: never killed");
    }

    // Restart and check everything the clients were told.
    let (_server, base) = target.start();
    let acked = acked.lock().await;
    assert!(acked.registered.len() >= rounds * kill_after / 2);
    assert!(acked.logged_out.len() >= rounds, "a logout in every round");
    for email in &acked.registered {
        assert!(
            login(&client, &base, email).await.is_some(),
            "{email} was acknowledged (201) before the kill but cannot sign in after it"
        );
    }
    for (access, refresh) in &acked.logged_out {
        let me = client
            .get(format!("{base}/users/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 401, "an acknowledged logout's access token");
        let refreshed = client
            .post(format!("{base}/auth/refresh"))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await
            .unwrap();
        assert!(
            refreshed.status().is_client_error(),
            "an acknowledged logout's refresh token works again: {}",
            refreshed.status()
        );
    }
    // Whatever was in flight at a kill is absent or whole: no user without their role.
    let orphans = target
        .count(
            "SELECT COUNT(*) FROM users u WHERE NOT EXISTS \
             (SELECT 1 FROM user_roles r WHERE r.user_id = u.user_id)",
        )
        .await;
    assert_eq!(orphans, 0, "users without a role after SIGKILLs");
}

/// F2: the registration transaction stalls (a trigger on `user_roles`, after the users row is
/// written and before the commit); the server is killed there. Afterwards the account does not
/// exist, the e-mail registers again, and the new account signs in.
async fn a_kill_mid_transaction_leaves_no_half_written_account(target: Target, stall: &str) {
    let client = client();
    {
        // The first start migrates, so the trigger has a table to go on.
        let (_server, base) = target.start();
        assert_eq!(
            register(&client, &base, "before@example.com").await,
            Some(201)
        );
    }
    target.execute(stall).await;
    let (server, base) = target.start();
    let email = "midway@example.com";
    let pending = tokio::spawn({
        let (client, base) = (client.clone(), base.clone());
        async move { register(&client, &base, email).await }
    });
    // Let the transaction reach the stall: its users row is written, not committed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!pending.is_finished(), "the registration should be stalled");
    drop(server); // SIGKILL (KillOnDrop)
    assert_eq!(
        pending.await.unwrap(),
        None,
        "the client never got an answer"
    );

    if target.database_url.is_some() {
        // The stalled backend ends its transaction (a rollback: its client is gone) once the
        // trigger's sleep returns; wait for that before looking.
        let start = Instant::now();
        while target
            .count(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .await
            > 0
        {
            assert!(start.elapsed() < Duration::from_secs(30), "backends linger");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    target
        .execute(match target.database_url {
            Some(_) => "DROP TRIGGER stall_user_roles ON user_roles",
            None => "DROP TRIGGER stall_user_roles",
        })
        .await;
    let users = target
        .count("SELECT COUNT(*) FROM users WHERE email_lower = 'midway@example.com'")
        .await;
    assert_eq!(
        users, 0,
        "a user row outlived the transaction that wrote it"
    );
    let (_server, base) = target.start();
    assert_eq!(
        register(&client, &base, email).await,
        Some(201),
        "re-register"
    );
    assert!(login(&client, &base, email).await.is_some());
    assert!(login(&client, &base, "before@example.com").await.is_some());
}

// F1: every registration and logout acknowledged before a SIGKILL survives it (SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_writes_survive_sigkill() {
    acknowledged_writes_survive_sigkill(Target::sqlite()).await;
}

// F1: every registration and logout acknowledged before a SIGKILL survives it (PostgreSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_writes_survive_sigkill() {
    acknowledged_writes_survive_sigkill(Target::postgres().await).await;
}

// F2: a SIGKILL between a registration's INSERT and its COMMIT leaves no half-written account (SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_kill_mid_transaction_leaves_no_half_written_account() {
    // SQLite triggers cannot sleep; a cross join of 30,000 rows with themselves is seconds of
    // work inside the writer's transaction.
    let stall = "CREATE TABLE stall_rows (x INTEGER); \
        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000) \
        INSERT INTO stall_rows SELECT x FROM c; \
        CREATE TRIGGER stall_user_roles AFTER INSERT ON user_roles BEGIN \
          SELECT COUNT(*) FROM stall_rows a, stall_rows b WHERE a.x + b.x < 0; \
        END;";
    a_kill_mid_transaction_leaves_no_half_written_account(Target::sqlite(), stall).await;
}

// F2: a SIGKILL between a registration's INSERT and its COMMIT leaves no half-written account (PostgreSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_kill_mid_transaction_leaves_no_half_written_account() {
    let stall = "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS \
          $$ BEGIN PERFORM pg_sleep(4); RETURN NEW; END $$; \
        CREATE TRIGGER stall_user_roles AFTER INSERT ON user_roles \
          FOR EACH ROW EXECUTE FUNCTION stall();";
    a_kill_mid_transaction_leaves_no_half_written_account(Target::postgres().await, stall).await;
}
