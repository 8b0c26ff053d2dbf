//! `authgate user …`: accounts from the command line, on the same database as a server.

use super::*;

/// `POST /auth/login` on `base`; the status.
async fn login(base: &str, email: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `authgate user create --email <email> <extra…> --password-stdin`, the password on stdin.
fn create_user(
    dir: &tempfile::TempDir,
    email: &str,
    extra: &[&str],
    password: &str,
) -> std::process::Output {
    let mut args = vec!["user", "create", "--email", email];
    args.extend_from_slice(extra);
    args.push("--password-stdin");
    run_with_stdin(authgate(dir, &args), &format!("{password}\n"))
}

// Admins are made from the CLI, the password read from stdin (never argv), and roles changed
// there; a deactivation from the CLI refuses the next login on a running server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_create_set_role_and_deactivate_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out = create_user(
        &dir,
        "Root@Example.com",
        &["--username", "root", "--role", "admin"],
        "a long admin password",
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

    let dup = create_user(&dir, "root@example.com", &[], "another password");
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already taken"));

    let weak = create_user(&dir, "x@example.com", &[], "short");
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

    let (child, base) = serve(&dir, &[]);
    let mut child = KillOnDrop(child);
    let _stderr = collect_stderr(&mut child.0);
    authgate::install_tls_provider();
    let (email, password) = ("root@example.com", "a long admin password");
    assert_eq!(login(&base, email, password).await, 200, "active: signs in");

    let off = authgate(&dir, &["user", "deactivate", "--email", "root@example.com"])
        .output()
        .unwrap();
    assert!(
        off.status.success(),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    assert_eq!(
        login(&base, email, password).await,
        401,
        "the deactivated account is refused (like a wrong password: nothing to learn)"
    );
    let missing = authgate(
        &dir,
        &["user", "deactivate", "--email", "nobody@example.com"],
    )
    .output()
    .unwrap();
    assert!(!missing.status.success());
}

// A password is never taken from the command line (shell history, `ps`): `--password` and a
// positional password are both usage errors, and no account is made.
#[test]
fn a_password_on_the_command_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let email = "argv@example.com";
    for args in [
        vec![
            "user",
            "create",
            "--email",
            email,
            "--password",
            "secret on argv",
        ],
        vec![
            "user",
            "create",
            "--email",
            email,
            "--password=secret on argv",
        ],
        vec!["user", "create", "--email", email, "secret on argv"],
    ] {
        let out = run_with_stdin(authgate(&dir, &args), "");
        assert!(!out.status.success(), "{args:?} must be refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("unexpected argument"), "{args:?}: {stderr}");
    }
    let create = create_user(&dir, email, &[], "a password from stdin");
    assert!(
        create.status.success(),
        "no account was made before: {}",
        String::from_utf8_lossy(&create.stderr)
    );
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
