//! Database faults a running server must survive (issue #9 item 9, F8, R28), each injected
//! from outside the server, which is never told:
//!
//! - **slow** (PostgreSQL): a TCP proxy in this test between authgate and PostgreSQL holds
//!   every chunk 2 s, both ways, while a flag is set (so one round trip takes 4 s, more than
//!   the pool's 3 s acquire timeout);
//! - **pool exhaustion** (both): many more concurrent logins and session reads than pool
//!   connections (16 on PostgreSQL, 8 on SQLite);
//! - **disk full** (SQLite): the database lives on a small tmpfs mounted by the test, which
//!   then fills it with a file. "Read-only" cannot be injected under a running server here: the
//!   server's connections hold the file open for writing, which `chmod` does not affect (for
//!   root or anyone), and Linux refuses to remount a filesystem read-only (EBUSY) while files
//!   on it are open for writing; a full disk is the same failure as far as writes go.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::both;
use crate::support::*;

/// A TCP proxy to PostgreSQL that, while `slow` is set, holds every chunk 2 s before passing
/// it on, in both directions.
struct SlowProxy {
    addr: SocketAddr,
    slow: Arc<AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

const DELAY: Duration = Duration::from_secs(2);

impl SlowProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let slow = Arc::new(AtomicBool::new(false));
        let flag = slow.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(client_read, server_write, flag.clone()));
                tokio::spawn(pipe(server_read, client_write, flag.clone()));
            }
        });
        Self { addr, slow, accept }
    }

    fn set_slow(&self, slow: bool) {
        self.slow.store(slow, Ordering::SeqCst);
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    slow: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if slow.load(Ordering::SeqCst) {
            tokio::time::sleep(DELAY).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// `url` with its host and port replaced by `addr`.
fn via(url: &str, addr: SocketAddr) -> String {
    let mut url = reqwest::Url::parse(url).expect("a database URL");
    url.set_host(Some(&addr.ip().to_string())).unwrap();
    url.set_port(Some(addr.port())).unwrap();
    url.to_string()
}

/// host:port of a PostgreSQL URL (5432 unless given).
fn host_port(url: &str) -> String {
    let url = reqwest::Url::parse(url).expect("a database URL");
    format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    )
}

/// Send one request; its answer and how long it took.
async fn timed(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (Response, Duration) {
    let started = Instant::now();
    let resp = app.request(method, path, token, body).await;
    (resp, started.elapsed())
}

/// The slowest a request may take while the database is slow: the 3 s acquire timeout and
/// scheduling slack, well short of the 30 s request timeout.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// F8, R28 (issue #9 item 9): while every chunk to and from PostgreSQL is held 2 s, every
/// endpoint that needs the database answers 503 `service_unavailable` with Retry-After within
/// 10 s (never 500, never a hang to the 30 s request timeout), and keeps doing so a while later
/// (the pool has not wedged on its stuck connections); when the delay ends the same server
/// serves again, sessions opened before intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_database_answers_503_and_the_server_recovers_postgres() {
    if postgres_or_skip().is_none() {
        return;
    }
    // Arrange: authgate reaches PostgreSQL only through the proxy
    let mut db = TestDb::provision(Backend::Postgres).await;
    let proxy = SlowProxy::start(host_port(&db.url)).await;
    let direct = std::mem::take(&mut db.url);
    db.url = via(&direct, proxy.addr);
    let settings = test_settings(&db, &[]);
    db.url = direct;
    let app = start(db, settings).await;
    let (user, tokens) = app.signed_in_user().await;
    let login = || json!({"username": user.email, "password": user.password});
    let register = || {
        let u = TestUser::generate();
        json!({"email": u.email, "password": u.password})
    };
    // Act: the database turns slow; two waves of requests, the second 5 s after the first
    proxy.set_slow(true);
    for wave in 0..2 {
        let (a, b, c, d) = tokio::join!(
            timed(&app, Method::POST, "/auth/login", None, Some(login())),
            timed(&app, Method::GET, "/users/me", Some(&tokens.access), None),
            timed(&app, Method::POST, "/auth/register", None, Some(register())),
            timed(
                &app,
                Method::GET,
                "/users/me/sessions",
                Some(&tokens.access),
                None
            ),
        );
        // Assert
        for (what, (resp, took)) in [("login", a), ("me", b), ("register", c), ("sessions", d)] {
            assert!(took < ANSWER_WITHIN, "wave {wave}, {what}: {took:?}");
            assert!(
                resp.headers().contains_key("retry-after"),
                "wave {wave}, {what}"
            );
            assert_problem(resp, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
        }
        let (ready, took) = timed(&app, Method::GET, "/readyz", None, None).await;
        assert_eq!(
            ready.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "wave {wave}"
        );
        assert!(took < ANSWER_WITHIN, "wave {wave}, readyz: {took:?}");
        assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
        if wave == 0 {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }
    // Act: the delay ends
    proxy.set_slow(false);
    // Assert: the same process serves again within a few seconds
    let started = Instant::now();
    while app.get("/readyz", None).await.status() != StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "readiness never recovered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    while app.me_status(&tokens.access).await != StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "/users/me never recovered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.login(&user).await.status(), StatusCode::OK);
    assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);
    assert_eq!(
        app.register(&TestUser::generate()).await.status(),
        StatusCode::CREATED
    );
}

/// Run `n` copies of `request` at once; their statuses.
async fn at_once<F, Fut>(n: usize, request: F) -> Vec<StatusCode>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = StatusCode> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(request(i))).collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

both!(
    /// F8, R28 (issue #9 item 9): 64 concurrent logins (right and wrong passwords, against a
    /// per-IP limit of 40 a minute) alongside 64 concurrent session listings, far more than
    /// the pool's connections (16 on PostgreSQL, 8 on SQLite): every login answers 200, 401,
    /// 429 or 503 and every listing 200 or 503 (queued or shed, never 500); afterwards the
    /// server serves as before.
    more_concurrent_requests_than_pool_connections_are_queued_or_shed_never_500,
    &["--login-rate-limit", "40/1m"],
    |app| async move {
        // Arrange
        let mut users = Vec::new();
        for _ in 0..4 {
            users.push(app.signed_in_user().await);
        }
        let users = Arc::new(users);
        let (client, base) = (app.client.clone(), app.address.clone());
        // Act
        let logins = at_once(64, |i| {
            let (client, base, users) = (client.clone(), base.clone(), users.clone());
            async move {
                let (user, _) = &users[i % users.len()];
                let password = if i % 2 == 0 { user.password.as_str() } else { "wrong password 1" };
                let body = json!({"username": user.email, "password": password});
                let resp = client.post(format!("{base}/auth/login")).json(&body).send().await;
                resp.map_or(StatusCode::IM_A_TEAPOT, |r| r.status())
            }
        });
        let listings = at_once(64, |i| {
            let (client, base, users) = (client.clone(), base.clone(), users.clone());
            async move {
                let (_, tokens) = &users[i % users.len()];
                let url = format!("{base}/users/me/sessions");
                let resp = client.get(url).bearer_auth(&tokens.access).send().await;
                resp.map_or(StatusCode::IM_A_TEAPOT, |r| r.status())
            }
        });
        let (logins, listings) = tokio::join!(logins, listings);
        // Assert
        let login_ok = [200, 401, 429, 503].map(|s| StatusCode::from_u16(s).unwrap());
        assert!(logins.iter().all(|s| login_ok.contains(s)), "logins: {logins:?}");
        let listing_ok = [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE];
        assert!(listings.iter().all(|s| listing_ok.contains(s)), "listings: {listings:?}");
        assert!(logins.contains(&StatusCode::OK), "some logins got through: {logins:?}");
        let (user, tokens) = &users[0];
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
        app.clock.advance(60);
        assert_eq!(app.login(user).await.status(), StatusCode::OK);
    }
);

/// A small tmpfs mounted for one test (needs root, or CAP_SYS_ADMIN), unmounted on drop.
struct SmallDisk {
    mountpoint: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mount an 8 MiB tmpfs; `None` when this machine does not let the test mount one.
    fn mount() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mountpoint = dir.path().join("disk");
        std::fs::create_dir(&mountpoint).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "authgate-test"])
            .arg(&mountpoint)
            .output()
            .is_ok_and(|o| o.status.success());
        if !mounted {
            return None;
        }
        Some(Self {
            mountpoint,
            _dir: dir,
        })
    }

    fn filler(&self) -> PathBuf {
        self.mountpoint.join("filler")
    }

    /// Fill the disk: write a file until the filesystem refuses (ENOSPC).
    fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.filler()).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write(&chunk).is_ok_and(|n| n > 0) {}
        let _ = file.sync_all();
    }

    /// Free the space again.
    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }

    fn path(&self) -> &Path {
        &self.mountpoint
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the server may still hold the database open.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.mountpoint)
            .output();
    }
}

/// F8, R28 (issue #9 item 9), SQLite "database gone" as a full disk (see the module comment
/// for why not read-only): while the disk holding the database is full, writes (registration,
/// login, password change) answer 503 `service_unavailable`, never 500; reads (the profile, the
/// sessions, the admin's user list) keep working; when space is freed the same server writes
/// again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_keeps_reads_and_recovers_sqlite() {
    // Arrange: the database on a disk of its own
    let Some(disk) = SmallDisk::mount() else {
        eprintln!("SKIPPED: could not mount a tmpfs (needs root or CAP_SYS_ADMIN)");
        return;
    };
    let mut db = TestDb::provision(Backend::Sqlite).await;
    db.url = format!("sqlite://{}?mode=rwc", disk.path().join("t.db").display());
    let settings = test_settings(&db, &[]);
    let app = start(db, settings).await;
    let (user, tokens) = app.signed_in_user().await;
    let (_, admin) = app.user_with_roles(&["admin"]).await;
    // Act: the disk fills up
    disk.fill();
    let register = app.register(&TestUser::generate()).await;
    let login = app.login(&user).await;
    let change = change_password(&app, &tokens.access, &user.password, "another password 1").await;
    let me = app.get("/users/me", Some(&tokens.access)).await;
    let sessions = app.get("/users/me/sessions", Some(&tokens.access)).await;
    let users = app.get("/admin/users", Some(&admin.access)).await;
    // Assert: writes are 503, reads are answered
    for (what, resp) in [
        ("register", register),
        ("login", login),
        ("password", change),
    ] {
        assert!(resp.headers().contains_key("retry-after"), "{what}");
        let body =
            assert_problem(resp, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
        assert!(
            !body.to_string().to_lowercase().contains("disk"),
            "{what}: {body}"
        );
    }
    for (what, resp) in [("me", me), ("sessions", sessions), ("admin users", users)] {
        assert_eq!(resp.status(), StatusCode::OK, "{what}");
    }
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    // Act: space is freed
    disk.free();
    // Assert: the same server writes again
    assert_eq!(
        app.register(&TestUser::generate()).await.status(),
        StatusCode::CREATED
    );
    let fresh = app.login_ok(&user).await;
    assert_eq!(app.me_status(&fresh.access).await, StatusCode::OK);
    assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);
}
