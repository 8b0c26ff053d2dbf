//! The `authgate` binary as a user runs it: CLI commands, start-up checks, logs, shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_authgate");

fn authgate(dir: &tempfile::TempDir, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AUTHGATE_DATA_DIR", dir.path())
        .current_dir(dir.path());
    cmd
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Start `serve` on a free port; returns the child and the base URL it printed.
fn serve(dir: &tempfile::TempDir, extra_env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = authgate(dir, &["serve", "--bind", "127.0.0.1:0"]);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("authgate listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let mut rest = String::new();
    out.read_line(&mut rest).unwrap();
    assert!(
        rest.contains(&format!("{base}/docs")),
        "start-up names the docs URL: {rest:?}"
    );
    (child, base)
}

/// Kills the server if a test fails before stopping it.
struct KillOnDrop(Child);

/// Read a child's stderr on a thread, so a full pipe never blocks the server.
fn collect_stderr(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    })
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sigterm(child: &Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

// Admins are made from the CLI, the password read from stdin (never argv), and roles changed there.
#[test]
fn user_create_set_role_and_deactivate_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_stdin(
        authgate(
            &dir,
            &[
                "user",
                "create",
                "--email",
                "Root@Example.com",
                "--username",
                "root",
                "--role",
                "admin",
                "--password-stdin",
            ],
        ),
        "a long admin password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("admin") && stdout.contains("user"),
        "{stdout}"
    );

    let dup = run_with_stdin(
        authgate(
            &dir,
            &[
                "user",
                "create",
                "--email",
                "root@example.com",
                "--password-stdin",
            ],
        ),
        "another password\n",
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already taken"));

    let weak = run_with_stdin(
        authgate(
            &dir,
            &[
                "user",
                "create",
                "--email",
                "x@example.com",
                "--password-stdin",
            ],
        ),
        "short\n",
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 8"));

    let set = authgate(
        &dir,
        &[
            "user",
            "set-role",
            "--email",
            "root@example.com",
            "--role",
            "user",
            "--role",
            "moderator",
        ],
    )
    .output()
    .unwrap();
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(String::from_utf8_lossy(&set.stdout).contains("moderator"));

    let unknown = authgate(
        &dir,
        &[
            "user",
            "set-role",
            "--email",
            "root@example.com",
            "--role",
            "wizard",
        ],
    )
    .output()
    .unwrap();
    assert!(!unknown.status.success());

    let off = authgate(&dir, &["user", "deactivate", "--email", "root@example.com"])
        .output()
        .unwrap();
    assert!(
        off.status.success(),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    let missing = authgate(
        &dir,
        &["user", "deactivate", "--email", "nobody@example.com"],
    )
    .output()
    .unwrap();
    assert!(!missing.status.success());
}

// R4/F15: a tutorial's published HS256 secret, or none, stops the start with an actionable message.
#[test]
fn weak_or_missing_hs256_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    for (secret, expect) in [
        (
            Some("09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"),
            "tutorials",
        ),
        (Some("tooshort"), "at least 32 bytes"),
        (None, "needs AUTHGATE_JWT_SECRET"),
    ] {
        let mut cmd = authgate(&dir, &["migrate"]);
        cmd.env("AUTHGATE_JWT_ALG", "HS256");
        if let Some(s) = secret {
            cmd.env("AUTHGATE_JWT_SECRET", s);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{secret:?} must be refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{secret:?}: {stderr}");
        assert!(
            secret.is_none_or(|s| !stderr.contains(s)),
            "the secret itself is never echoed"
        );
    }
}

#[test]
fn help_lists_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = authgate(&dir, &["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "AUTHGATE_BIND",
        "AUTHGATE_DATA_DIR",
        "DATABASE_URL",
        "AUTHGATE_ISSUER",
        "AUTHGATE_AUDIENCE",
        "AUTHGATE_JWT_ALG",
        "AUTHGATE_JWT_SECRET",
        "AUTHGATE_ACCESS_TTL",
        "AUTHGATE_REFRESH_TTL",
        "AUTHGATE_REMEMBER_ME_TTL",
        "AUTHGATE_CORS_ORIGINS",
        "AUTHGATE_LOG_FORMAT",
    ] {
        assert!(help.contains(var), "--help lacks {var}");
    }
}

// F20/R29: the server's logs (JSON, debug level) never contain a password or a token; SIGTERM stops it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_secrets_and_sigterm_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = serve(
        &dir,
        &[("AUTHGATE_LOG_FORMAT", "json"), ("RUST_LOG", "debug")],
    );
    let mut child = KillOnDrop(child);
    let stderr = collect_stderr(&mut child.0);
    authgate::install_tls_provider();
    let client = reqwest::Client::new();
    let password = "SuperSecretPassword-42";
    let reg = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": "log@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 201);
    let tokens: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "log@example.com", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let _ = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "log@example.com", "password": "wrong-password-1"}))
        .send()
        .await;
    let me = client
        .get(format!("{base}/users/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let _ = client
        .get(format!("{base}/users/me?access_token={access}"))
        .bearer_auth("garbage.token.value")
        .send()
        .await;
    let _ = client
        .post(format!("{base}/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await;

    sigterm(&child.0);
    let status = wait_exit(&mut child.0, Duration::from_secs(10)).expect("exits after SIGTERM");
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
    let logs = stderr.join().unwrap();
    assert!(
        logs.contains("login_succeeded") && logs.contains("login_failed"),
        "auth events are logged:\n{logs}"
    );
    for secret in [
        password,
        "wrong-password-1",
        &access,
        &refresh,
        access.split('.').nth(2).unwrap(),
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

// Issue #3: an operator lifts an account lock from the CLI (`user unlock`), while the server
// runs, on the same database; an unknown e-mail is an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_unlock_from_the_cli_lifts_a_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = serve(&dir, &[("AUTHGATE_LOCKOUT_THRESHOLD", "2")]);
    let mut child = KillOnDrop(child);
    let _stderr = collect_stderr(&mut child.0);
    authgate::install_tls_provider();
    let client = reqwest::Client::new();
    let login = |password: &'static str| {
        client
            .post(format!("{base}/auth/login"))
            .json(&json!({"username": "locked@example.com", "password": password}))
            .send()
    };
    let reg = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": "locked@example.com", "password": "the right passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 201);
    for _ in 0..2 {
        assert_eq!(login("a wrong passphrase").await.unwrap().status(), 401);
    }
    assert_eq!(login("the right passphrase").await.unwrap().status(), 429);
    let unlock = authgate(&dir, &["user", "unlock", "--email", "locked@example.com"])
        .output()
        .unwrap();
    assert!(
        unlock.status.success(),
        "{}",
        String::from_utf8_lossy(&unlock.stderr)
    );
    assert!(String::from_utf8_lossy(&unlock.stdout).contains("unlocked"));
    assert_eq!(login("the right passphrase").await.unwrap().status(), 200);
    let missing = authgate(&dir, &["user", "unlock", "--email", "nobody@example.com"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
}
