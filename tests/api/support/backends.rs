//! Which databases a test runs on, and the `both!` macro that runs one body on each.
//!
//! SQLite needs nothing. PostgreSQL needs `TEST_DATABASE_URL`; without it the PostgreSQL half
//! of every test FAILS, so a plain `cargo test` can never report PostgreSQL tests as passed that
//! never ran. `AUTHGATE_TEST_SQLITE_ONLY=1` is the explicit opt-out: the PostgreSQL halves then
//! skip, and each says so.

use std::io::Write;
use std::sync::LazyLock;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server to create test databases on, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Whether the PostgreSQL halves were switched off on purpose.
fn sqlite_only() -> bool {
    std::env::var("AUTHGATE_TEST_SQLITE_ONLY").is_ok_and(|v| v == "1")
}

/// Once per test binary, straight to stderr (past the harness's capture): the backends in use.
static BANNER: LazyLock<()> = LazyLock::new(|| {
    let line = match (sqlite_only(), postgres_url().is_some()) {
        (true, _) => "SQLite only (AUTHGATE_TEST_SQLITE_ONLY=1): PostgreSQL halves are skipped",
        (false, true) => "SQLite and PostgreSQL (TEST_DATABASE_URL)",
        (false, false) => {
            "SQLite; PostgreSQL halves FAIL: set TEST_DATABASE_URL, \
                           or AUTHGATE_TEST_SQLITE_ONLY=1 to skip them"
        }
    };
    let _ = writeln!(std::io::stderr(), "authgate tests: backends {line}");
});

/// Note that a test runs on `backend` (printed with the test's output on failure or with
/// `--nocapture`; the binary-wide banner goes out once).
pub fn announce(backend: Backend) {
    LazyLock::force(&BANNER);
    eprintln!("backend: {backend:?}");
}

/// The gate for every PostgreSQL test: `Some(url)` to run, `None` to skip on purpose
/// (`AUTHGATE_TEST_SQLITE_ONLY=1`, said on stderr); panics when `TEST_DATABASE_URL` is missing.
pub fn postgres_or_skip() -> Option<String> {
    LazyLock::force(&BANNER);
    if sqlite_only() {
        eprintln!("AUTHGATE_TEST_SQLITE_ONLY=1: PostgreSQL variant skipped");
        return None;
    }
    match postgres_url() {
        Some(url) => Some(url),
        None => panic!(
            "TEST_DATABASE_URL is not set, so this PostgreSQL test cannot run. Set it \
             (e.g. postgres://postgres@127.0.0.1:5432/test), or set AUTHGATE_TEST_SQLITE_ONLY=1 \
             to skip the PostgreSQL halves on purpose."
        ),
    }
}

/// Run a test body against SQLite and PostgreSQL: `both!(name, |app| async move { … })` makes
/// `name::sqlite` and `name::postgres`. Optional: the guarded requirement as doc comments,
/// `#[ignore = "BUG: …"]` for an attack that currently succeeds, and extra server flags:
///
/// ```ignore
/// both!(
///     /// R5: …
///     name, &["--jwt-alg", "ES256"], |app| async move { … }
/// );
/// ```
///
/// The PostgreSQL half follows [`postgres_or_skip`]: it fails without `TEST_DATABASE_URL`.
#[macro_export]
macro_rules! both {
    ($(#[doc = $doc:expr])* $(#[ignore = $why:literal])? $name:ident, |$app:ident| $body:expr) => {
        $crate::both!($(#[doc = $doc])* $(#[ignore = $why])? $name, &[], |$app| $body);
    };
    ($(#[doc = $doc:expr])* $(#[ignore = $why:literal])? $name:ident, $args:expr, |$app:ident| $body:expr) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[ignore = $why])?
            async fn sqlite() {
                let $app =
                    $crate::support::spawn_app_with($crate::support::Backend::Sqlite, $args).await;
                $body.await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[ignore = $why])?
            async fn postgres() {
                if $crate::support::postgres_or_skip().is_none() {
                    return;
                }
                let $app =
                    $crate::support::spawn_app_with($crate::support::Backend::Postgres, $args)
                        .await;
                $body.await;
            }
        }
    };
}
