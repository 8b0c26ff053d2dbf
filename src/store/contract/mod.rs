//! The store contract: every promise of the store traits, checked against both backends.
//!
//! Each case is an `async fn(Arc<dyn Store>)` whose doc says which promise it checks;
//! [`contract!`] turns it into two tests, `<case>::sqlite` (a file in a temp dir, so the pool's
//! connections share it) and `<case>::postgres` (a fresh `authgate_contract_<uuid>` database on
//! `TEST_DATABASE_URL`, dropped afterwards even when the case panics). Without
//! `TEST_DATABASE_URL` the PostgreSQL tests fail, unless `AUTHGATE_TEST_SQLITE_ONLY=1` says
//! that skipping them is meant. Races run on a multi-threaded runtime over the real
//! multi-connection pool of [`connect`].

mod admins;
mod audit;
mod devices;
mod feed;
mod guard;
mod import;
mod keys;
mod mfa;
mod outbox;
mod passkeys;
mod sessions;
mod users;

use std::future::Future;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use uuid::Uuid;

use super::{NewSession, NewUser, Store, UserRecord, connect};
use crate::domain::login_key;

/// A fixed "now" (unix seconds) for the cases; nothing here reads the clock.
pub(super) const NOW: i64 = 1_700_000_000;
/// A day in seconds.
pub(super) const DAY: i64 = 86_400;
/// An hour in seconds.
pub(super) const HOUR: i64 = 3_600;

/// Which database a case runs on.
#[derive(Debug, Clone, Copy)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

/// `contract!(case, …)`: for each `async fn case(store: Arc<dyn Store>)` in scope, a module
/// `case` with the tests `sqlite` and `postgres`.
macro_rules! contract {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            use $crate::store::contract::{Backend, run};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite, super::$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres, super::$case).await;
            }
        }
    )+};
}
pub(super) use contract;

/// Run `case` against a fresh, migrated store on `backend`.
pub(super) async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("contract.db");
            let store = migrated(&format!("sqlite://{}?mode=rwc", path.display())).await;
            case(store).await;
        }
        Backend::Postgres => {
            let Some(server) = postgres_server() else {
                return;
            };
            let name = format!("authgate_contract_{}", Uuid::new_v4().simple());
            admin(&server, &format!("CREATE DATABASE \"{name}\"")).await;
            let store = migrated(&with_database(&server, &name)).await;
            // Spawned, so that a failing case still reaches the DROP below.
            let outcome = tokio::spawn(case(store)).await;
            admin(&server, &format!("DROP DATABASE \"{name}\" WITH (FORCE)")).await;
            if let Err(failure) = outcome {
                std::panic::resume_unwind(failure.into_panic());
            }
        }
    }
}

/// The PostgreSQL server to create databases on; `None` only when skipping it is meant.
fn postgres_server() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("AUTHGATE_TEST_SQLITE_ONLY").is_ok_and(|v| v == "1") => {
            eprintln!("note: AUTHGATE_TEST_SQLITE_ONLY=1: store contract not run on PostgreSQL");
            None
        }
        _ => panic!(
            "TEST_DATABASE_URL is not set, so the store contract cannot run on PostgreSQL. Set \
             it (e.g. postgres://postgres@127.0.0.1:5432/test), or set \
             AUTHGATE_TEST_SQLITE_ONLY=1 to skip PostgreSQL on purpose."
        ),
    }
}

async fn migrated(url: &str) -> Arc<dyn Store> {
    let store = connect(url)
        .await
        .expect("connect to the contract database");
    store
        .migrate()
        .await
        .expect("migrate the contract database");
    store
}

/// Run one statement on the maintenance connection of `server`.
async fn admin(server: &str, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// `server` with its database name replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let options: PgConnectOptions = server
        .parse()
        .expect("TEST_DATABASE_URL is a postgres: URL");
    options.database(name).to_url_lossy().to_string()
}

/// A new active user `name` (`name@example.com`) with the role `user`, keys as the services
/// compute them.
pub(super) fn new_user(name: &str) -> NewUser {
    let email = format!("{name}@Example.com");
    NewUser {
        id: Uuid::now_v7(),
        email_lower: login_key(&email),
        email,
        username: Some(name.to_owned()),
        username_lower: Some(login_key(name)),
        password_hash: format!("$argon2id$v=19$m=8,t=1,p=1$c2FsdA${name}"),
        roles: vec!["user".to_owned()],
        is_active: true,
        email_verified: false,
        created_at: NOW,
    }
}

/// Create `name` (see [`new_user`]).
pub(super) async fn create(store: &dyn Store, name: &str) -> UserRecord {
    store
        .create_user(&new_user(name))
        .await
        .expect("create user")
}

/// A 30-day session of `user` created at `at`, idle for at most a week, as a login makes it.
pub(super) fn new_session(user: &UserRecord, at: i64) -> NewSession {
    NewSession {
        id: Uuid::now_v7(),
        user_id: user.id,
        created_at: at,
        expires_at: at + 30 * DAY,
        idle_ttl: 7 * DAY,
        remember_me: false,
        user_agent: Some("contract".to_owned()),
        ip: Some("203.0.113.7".to_owned()),
        password_hash: user.password_hash.clone(),
    }
}

/// Start a session of `user` at `at` whose first refresh token hashes to `token`.
pub(super) async fn open(store: &dyn Store, user: &UserRecord, at: i64, token: &str) -> Uuid {
    let session = new_session(user, at);
    let created = store
        .create_session(&session, token)
        .await
        .expect("create session");
    assert!(created, "the session of a current, active user is created");
    session.id
}
