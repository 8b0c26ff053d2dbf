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

/// `authgate user set-role --email <email> --role <role>…`.
fn set_roles(dir: &tempfile::TempDir, email: &str, roles: &[&str]) -> std::process::Output {
    let mut args = vec!["user", "set-role", "--email", email];
    for &role in roles {
        args.extend(["--role", role]);
    }
    authgate(dir, &args).output().unwrap()
}

/// `authgate user <verb> --email <email>` (`deactivate`, `unlock`).
fn user_by_email(dir: &tempfile::TempDir, verb: &str, email: &str) -> std::process::Output {
    authgate(dir, &["user", verb, "--email", email])
        .output()
        .unwrap()
}

/// Assert the command succeeded, showing its stderr if not.
fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert_success(&out);
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

    // The only admin cannot step down (#9 item 6) until there is another.
    let last = set_roles(&dir, "root@example.com", &["user", "moderator"]);
    assert!(!last.status.success());
    assert!(String::from_utf8_lossy(&last.stderr).contains("no active admin"));
    let second = create_user(
        &dir,
        "second@example.com",
        &["--role", "admin"],
        "a second admin pw",
    );
    assert_success(&second);

    let set = set_roles(&dir, "root@example.com", &["user", "moderator"]);
    assert_success(&set);
    assert!(String::from_utf8_lossy(&set.stdout).contains("moderator"));

    let unknown = set_roles(&dir, "root@example.com", &["wizard"]);
    assert!(!unknown.status.success());

    let (child, base) = serve(&dir, &[]);
    let mut child = KillOnDrop(child);
    let _stderr = collect_stderr(&mut child.0);
    authgate::install_tls_provider();
    let (email, password) = ("root@example.com", "a long admin password");
    assert_eq!(login(&base, email, password).await, 200, "active: signs in");

    assert_success(&user_by_email(&dir, "deactivate", "root@example.com"));
    assert_eq!(
        login(&base, email, password).await,
        401,
        "the deactivated account is refused (like a wrong password: nothing to learn)"
    );
    assert!(
        !user_by_email(&dir, "deactivate", "nobody@example.com")
            .status
            .success()
    );
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
    let email = "locked@example.com";
    let reg = reqwest::Client::new()
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": "locked@example.com", "password": "the right passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 201);
    for _ in 0..2 {
        assert_eq!(login(&base, email, "a wrong passphrase").await, 401);
    }
    assert_eq!(login(&base, email, "the right passphrase").await, 429);
    let unlock = user_by_email(&dir, "unlock", email);
    assert_success(&unlock);
    assert!(String::from_utf8_lossy(&unlock.stdout).contains("unlocked"));
    assert_eq!(login(&base, email, "the right passphrase").await, 200);
    assert!(
        !user_by_email(&dir, "unlock", "nobody@example.com")
            .status
            .success()
    );
}

/// `POST /auth/password/reset` on `base`; the status.
async fn reset(base: &str, token: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/auth/password/reset"))
        .json(&json!({"token": token, "new_password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

// Requirement: `authgate user reset-link --email E` prints a one-time reset link for operators
// without SMTP (under the server's own address by default); a newer one voids the older, the
// link works once, and an unknown e-mail is an error. The server says at start-up that mail is
// not delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_reset_link_prints_a_one_time_link() {
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = serve(&dir, &[]);
    let mut child = KillOnDrop(child);
    let stderr = collect_stderr(&mut child.0);
    authgate::install_tls_provider();
    let email = "forgetful@example.com";
    let reg = reqwest::Client::new()
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": email, "password": "the old passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 201);
    let link_of = |out: &std::process::Output| {
        assert_success(out);
        let link = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let prefix = "http://127.0.0.1:8080/reset-password?token=";
        assert!(link.starts_with(prefix), "{link}");
        link[prefix.len()..].to_owned()
    };
    let older = link_of(&user_by_email(&dir, "reset-link", email));
    let newer = link_of(&user_by_email(&dir, "reset-link", email));
    assert_eq!(reset(&base, &older, "a new passphrase 1").await, 400);
    assert_eq!(reset(&base, &newer, "a new passphrase 1").await, 204);
    assert_eq!(reset(&base, &newer, "a new passphrase 2").await, 400);
    assert_eq!(login(&base, email, "a new passphrase 1").await, 200);
    let unknown = user_by_email(&dir, "reset-link", "nobody@example.com");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user with e-mail"));
    sigterm(&child.0);
    wait_exit(&mut child.0, Duration::from_secs(10));
    let log = stderr.join().unwrap();
    assert!(log.contains("mail is NOT delivered"), "{log}");
    assert!(!log.contains(&newer), "the link is never logged");
}

// Requirement: `authgate user reset-mfa --email E` removes a lost second factor on the server's
// database (the next login needs only the password); an unknown e-mail is an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_reset_mfa_removes_a_lost_factor() {
    // Arrange: a user with a confirmed factor on a running server.
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = serve(&dir, &[]);
    let mut child = KillOnDrop(child);
    let _stderr = collect_stderr(&mut child.0);
    authgate::install_tls_provider();
    let (email, password) = ("lost-phone@example.com", "the right passphrase");
    let client = reqwest::Client::new();
    let reg = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 201);
    let tokens: serde_json::Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let enrol: serde_json::Value = client
        .post(format!("{base}/users/me/mfa/totp"))
        .bearer_auth(access)
        .json(&json!({"current_password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = current_code(enrol["secret"].as_str().unwrap());
    let confirm = client
        .post(format!("{base}/users/me/mfa/totp/confirm"))
        .bearer_auth(access)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    assert_eq!(login(&base, email, password).await, 403, "mfa_required");
    // Act
    let out = user_by_email(&dir, "reset-mfa", email);
    // Assert
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("second factor removed"));
    assert_eq!(login(&base, email, password).await, 200);
    assert!(
        !user_by_email(&dir, "reset-mfa", "nobody@example.com")
            .status
            .success()
    );
}

// Requirement: issue 12 — on SQLite a change made from the CLI reaches a running server
// within 1 s: a moderator whose role the CLI removed is refused the moderators' route with their
// old token by then. The route reads no user from the database, so only the server's poll of
// the revocation entries (every 250 ms) can refuse it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_role_change_reaches_a_running_server_within_a_second() {
    // Arrange: a moderator signed in on a running server
    let dir = tempfile::tempdir().unwrap();
    let (email, password) = ("moderator@example.com", "a long enough password");
    assert_success(&create_user(
        &dir,
        email,
        &["--role", "moderator"],
        password,
    ));
    let (child, base) = serve(&dir, &[]);
    let _child = KillOnDrop(child);
    authgate::install_tls_provider();
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let access = resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = || {
        client
            .get(format!("{base}/admin/users"))
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(list().await.unwrap().status(), 200);

    // Act: take the role away from the CLI
    assert_success(&set_roles(&dir, email, &["user"]));
    let done = Instant::now();

    // Assert: the server refuses the old token within a second of the command finishing
    while list().await.unwrap().status() != 403 {
        assert!(
            done.elapsed() <= Duration::from_secs(1),
            "still a moderator {:?} after the CLI changed the role",
            done.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("CLI role change applied after {:?}", done.elapsed());
}
