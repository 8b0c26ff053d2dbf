//! `authgate import tutorial | jsonl` and `authgate export jsonl`, as an operator runs them:
//! a real tutorial database on PostgreSQL, users hashed by passlib, then logins over HTTP.

use serde_json::Value;
use sqlx::Connection;

use super::*;

/// Seed 000's schema: the tutorial's alembic migrations, as SQL (see the file's comment).
const SCHEMA: &str = include_str!("fixtures/tutorial_000_schema.sql");
/// Users with passlib bcrypt hashes, made by tools/passlib_hashes.py.
const USERS: &str = include_str!("fixtures/tutorial_000_users.json");

/// A fresh, empty PostgreSQL database on `TEST_DATABASE_URL`'s server; dropped on drop.
struct PgDb {
    server: String,
    name: String,
    url: String,
}

impl PgDb {
    async fn create(prefix: &str) -> Self {
        let server = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL (the tutorial database is PostgreSQL)");
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        admin(&server, &format!("CREATE DATABASE \"{name}\"")).await;
        let url = match server.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("TEST_DATABASE_URL has no database name: {server}"),
        };
        Self { server, name, url }
    }

    /// A fresh database holding seed 000's tutorial app with [`USERS`].
    async fn tutorial() -> Self {
        let db = Self::create("tutorial").await;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(SCHEMA))
            .execute(&mut conn)
            .await
            .expect("apply the tutorial's migrations");
        // A role of the tutorial's that authgate does not have.
        sqlx::query("INSERT INTO roles (name) VALUES ('ROLE_EDITOR')")
            .execute(&mut conn)
            .await
            .unwrap();
        for user in tutorial_users() {
            let id: i32 = sqlx::query_scalar(
                "INSERT INTO users (username, email, password) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(user["username"].as_str())
            .bind(user["email"].as_str())
            .bind(user["hash"].as_str())
            .fetch_one(&mut conn)
            .await
            .unwrap();
            for role in user["roles"].as_array().unwrap() {
                sqlx::query(
                    "INSERT INTO users_to_roles (user_id, role_id) \
                     SELECT $1, id FROM roles WHERE name = $2",
                )
                .bind(id)
                .bind(role.as_str())
                .execute(&mut conn)
                .await
                .unwrap();
            }
        }
        db
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let (server, sql) = (
            self.server.clone(),
            format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name),
        );
        // A thread with its own runtime: drop may run inside the test's runtime.
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(admin(&server, &sql))
        })
        .join()
        .unwrap();
    }
}

async fn admin(server: &str, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(server).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn tutorial_users() -> Vec<Value> {
    serde_json::from_str(USERS).unwrap()
}

/// The fixture user called `username`: (email, old password).
fn old_credentials(username: &str) -> (String, String) {
    let user = tutorial_users()
        .into_iter()
        .find(|u| u["username"] == username)
        .unwrap();
    (
        user["email"].as_str().unwrap().to_owned(),
        user["password"].as_str().unwrap().to_owned(),
    )
}

/// Run `authgate <args>` with `env` set; its stdout, after asserting success.
fn run_env(dir: &tempfile::TempDir, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = authgate(dir, args);
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "authgate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Run `authgate <args>` on the data dir's SQLite database; its stdout, after asserting success.
fn run_ok(dir: &tempfile::TempDir, args: &[&str]) -> String {
    run_env(dir, &[], args)
}

/// Log in on `base`; the status and, on success, the user's roles from `/users/me`.
async fn login_roles(base: &str, login: &str, password: &str) -> (u16, Vec<String>) {
    authgate::install_tls_provider();
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": login, "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    if status != 200 {
        return (status, vec![]);
    }
    let tokens: Value = res.json().await.unwrap();
    let me: Value = client
        .get(format!("{base}/users/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let roles = me["roles"].as_array().unwrap();
    (
        status,
        roles
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect(),
    )
}

// Requirement: a seed-000 tutorial database (its own migrations, passlib bcrypt users) moves in with `authgate import tutorial`: `--dry-run` writes nothing, every skipped or changed row is reported with its reason, the users log in with their old passwords and keep their roles, accounts without a usable password cannot log in, a second run changes nothing, and each real run is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tutorial_database_moves_in_with_its_passwords_and_roles() {
    tutorial_moves_in(None).await;
}

// Requirement: the same move-in, with authgate itself on PostgreSQL (`DATABASE_URL`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tutorial_database_moves_into_authgate_on_postgresql() {
    let authgate_db = PgDb::create("authgate_import").await;
    tutorial_moves_in(Some(&authgate_db.url)).await;
    let mut conn = sqlx::PgConnection::connect(&authgate_db.url).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(users, 7, "the accounts went to PostgreSQL");
}

/// The move-in test, authgate on `database_url` (`None`: the data dir's SQLite database).
async fn tutorial_moves_in(database_url: Option<&str>) {
    // Arrange
    let tutorial = PgDb::tutorial().await;
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(&str, &str)> = database_url
        .map(|u| ("DATABASE_URL", u))
        .into_iter()
        .collect();
    let run_ok = |dir: &tempfile::TempDir, args: &[&str]| run_env(dir, &env, args);
    let from = ["import", "tutorial", "--from", tutorial.url.as_str()];

    // Act: a dry run, then the import.
    let dry = run_ok(&dir, &[&from[..], &["--dry-run"]].concat());
    let exported = dir.path().join("after-dry-run.jsonl");
    run_ok(&dir, &["export", "jsonl", exported.to_str().unwrap()]);
    let report = run_ok(&dir, &from);

    // Assert: the dry run said what the import did, and wrote nothing.
    assert!(dry.contains("would import 7 (2 must reset"), "{dry}");
    assert!(dry.contains("dry run: nothing was written"), "{dry}");
    let dry_notes: Vec<&str> = dry.lines().filter(|l| l.starts_with("users.id")).collect();
    let notes: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("users.id"))
        .collect();
    assert_eq!(dry_notes, notes, "a dry run reports what the run does");
    assert_eq!(std::fs::read_to_string(&exported).unwrap(), "", "{dry}");
    // Every awkward row is named, with its reason; the import's summary adds up.
    for expected in [
        "users.id 4 <nopass@example.com>: changed: no password: imported, must reset",
        "users.id 5 <not-an-email>: skipped: invalid e-mail",
        "users.id 6 < ALICE@Example.COM>: skipped: the same address as users.id 1 once normalised",
        "users.id 7 <spaced@example.com>: changed: imported without its username \"has space\"",
        "users.id 8 <editor@example.com>: changed: role \"ROLE_EDITOR\" is unknown to authgate",
        "users.id 9 <plain@example.com>: changed: password is not a bcrypt or argon2 hash",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in\n{report}"
        );
    }
    assert_eq!(notes.len(), 6, "only those rows are named:\n{report}");
    assert!(
        report.contains("read 9 rows: imported 7 (2 must reset their password), 0 already"),
        "{report}"
    );
    assert!(
        !report.contains("hunter2hunter2"),
        "a plaintext password in the hash column is never repeated"
    );

    // Act: a second run.
    let again = run_ok(&dir, &from);
    // Assert: nothing changed; only the rows that are skipped every time are named again.
    assert!(
        again.contains("imported 0 (0 must reset their password), 7 already in authgate"),
        "{again}"
    );
    assert!(!again.contains("changed:"), "{again}");

    // Act: the server, and the tutorial users' old passwords.
    let (child, base) = serve(&dir, &env);
    let _child = KillOnDrop(child);
    // Assert: they log in (by username or e-mail) and keep their roles.
    for (username, roles) in [
        ("alice", vec!["user"]),
        ("moderator", vec!["moderator", "user"]),
        ("root", vec!["admin", "user"]),
        ("editor", vec!["user"]),
    ] {
        let (email, password) = old_credentials(username);
        assert_eq!(
            login_roles(&base, username, &password).await,
            (200, roles.iter().map(|r| (*r).to_owned()).collect()),
            "{username} by username"
        );
        assert_eq!(
            login_roles(&base, &email, &password).await.0,
            200,
            "{email}"
        );
    }
    // An invalid username was dropped: that user logs in by e-mail.
    let (_, password) = old_credentials("has space");
    assert_eq!(
        login_roles(&base, "spaced@example.com", &password).await.0,
        200
    );
    // No usable password: no login, not even with what the tutorial stored.
    assert_eq!(
        login_roles(&base, "plain@example.com", "hunter2hunter2")
            .await
            .0,
        401
    );
    assert_eq!(login_roles(&base, "nopass@example.com", "").await.0, 401);
    // The skipped rows are not there.
    let (_, password) = old_credentials("alice2");
    assert_eq!(login_roles(&base, "alice2", &password).await.0, 401);
    // Each real run (not the dry run) is one audit event with its counts.
    let details = import_audit(&base, "root", &old_credentials("root").1).await;
    assert_eq!(
        details,
        [
            "source=tutorial read=9 created=7 existing=0 skipped=2 must_reset=2",
            "source=tutorial read=9 created=0 existing=7 skipped=2 must_reset=0",
        ]
    );
}

/// The details of the `users_imported` audit events, oldest first, read by an admin.
async fn import_audit(base: &str, admin: &str, password: &str) -> Vec<String> {
    let client = reqwest::Client::new();
    let tokens: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": admin, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page: Value = client
        .get(format!("{base}/admin/audit?type=users_imported"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap_or_else(|| panic!("{page}"));
    items
        .iter()
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect()
}

// Requirement: `export jsonl` then `import jsonl` into a fresh SQLite authgate gives back the same accounts (hashes, roles, flags, creation times, a missing password), the export file is private, and the moved users log in there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_export_then_import_round_trips_on_sqlite() {
    // Arrange: accounts of every kind in a first authgate.
    let first = tempfile::tempdir().unwrap();
    let out = run_with_stdin(
        authgate(
            &first,
            &[
                "user",
                "create",
                "--email",
                "Owner@Example.com",
                "--username",
                "owner",
                "--role",
                "admin",
                "--password-stdin",
            ],
        ),
        "the owner's passphrase\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, bcrypt_password) = old_credentials("alice");
    let alice_hash = tutorial_users()[0]["hash"].as_str().unwrap().to_owned();
    let lines = [
        json!({"email": "alice@example.com", "username": "alice", "password_hash": alice_hash,
               "roles": ["moderator", "user"], "email_verified": true, "is_active": true,
               "created_at": "2022-08-31T21:05:14Z"}),
        json!({"email": "gone@example.com", "roles": ["user"], "is_active": false,
               "created_at": 1_600_000_000}),
    ];
    let seed = first.path().join("seed.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&seed, text).unwrap();
    let report = run_ok(&first, &["import", "jsonl", seed.to_str().unwrap()]);
    assert!(report.contains("imported 2 (1 must reset"), "{report}");

    // Act: export, import into a fresh authgate, export again.
    let exported = first.path().join("export.jsonl");
    let said = run_ok(&first, &["export", "jsonl", exported.to_str().unwrap()]);
    let second = tempfile::tempdir().unwrap();
    let moved = run_ok(&second, &["import", "jsonl", exported.to_str().unwrap()]);
    let again = second.path().join("again.jsonl");
    run_ok(&second, &["export", "jsonl", again.to_str().unwrap()]);

    // Assert
    assert!(said.contains("exported 3 accounts"), "{said}");
    assert!(moved.contains("imported 3 (1 must reset"), "{moved}");
    let a = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(
        a,
        std::fs::read_to_string(&again).unwrap(),
        "the same accounts"
    );
    let accounts: Vec<Value> = a
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(accounts[0]["email"], "Owner@Example.com");
    assert_eq!(accounts[0]["roles"], json!(["admin", "user"]));
    assert!(
        accounts[0]["password_hash"]
            .as_str()
            .unwrap()
            .starts_with("$argon2id$")
    );
    assert_eq!(accounts[1]["password_hash"], alice_hash.as_str());
    assert_eq!(accounts[1]["email_verified"], true);
    assert_eq!(accounts[1]["created_at"], "2022-08-31T21:05:14Z");
    assert_eq!(
        accounts[2].get("password_hash"),
        None,
        "no password: none exported"
    );
    assert_eq!(accounts[2]["is_active"], false);
    assert_eq!(accounts[2]["created_at"], "2020-09-13T12:26:40Z");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&exported).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the export holds hashes: owner only");
    }
    let refused = authgate(&first, &["export", "jsonl", exported.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "an export never overwrites a file"
    );
    let (child, base) = serve(&second, &[]);
    let _child = KillOnDrop(child);
    let owner = login_roles(&base, "owner", "the owner's passphrase").await;
    assert_eq!(owner, (200, vec!["admin".to_owned(), "user".to_owned()]));
    assert_eq!(login_roles(&base, "alice", &bcrypt_password).await.0, 200);
}

// Requirement: `import jsonl` reports every bad line with its reason (unreadable JSON, a missing or invalid e-mail, two lines normalising to one address, an unknown role, an unreadable date, a password that is not a hash) without repeating any value that may be a secret, and imports the rest.
#[test]
fn bad_jsonl_lines_are_reported_and_the_rest_imported() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    let lines = [
        r#"{"email": "ok@example.com", "roles": ["user"]}"#.to_owned(),
        r#"{"email": "broken@example.com", "password_hash": "s3cret-one"#.to_owned(),
        r#"{"username": "nomail", "password_hash": "s3cret-two"}"#.to_owned(),
        r#"{"email": "no-at-sign"}"#.to_owned(),
        r#"{"email": "OK@EXAMPLE.COM"}"#.to_owned(),
        r#"{"email": "role@example.com", "roles": ["user", "superuser"]}"#.to_owned(),
        r#"{"email": "date@example.com", "created_at": "yesterday"}"#.to_owned(),
        r#"{"email": "plain@example.com", "password_hash": "s3cret-three"}"#.to_owned(),
        String::new(),
        r#"{"email": "hash@example.com", "password_hash": 42}"#.to_owned(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    // Act
    let report = run_ok(&dir, &["import", "jsonl", file.to_str().unwrap()]);
    // Assert
    for expected in [
        "line 2: skipped: not a JSON account",
        "line 3: skipped: missing field `email`",
        "line 4 <no-at-sign>: skipped: invalid e-mail",
        "line 5 <OK@EXAMPLE.COM>: skipped: the same address as line 1 once normalised",
        "line 6 <role@example.com>: changed: role \"superuser\" is unknown to authgate",
        "line 7 <date@example.com>: changed: created_at is not RFC 3339 or unix seconds",
        "line 8 <plain@example.com>: changed: password is not a bcrypt or argon2 hash",
        "line 10: skipped: not a JSON account",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in\n{report}"
        );
    }
    assert!(
        report.contains(
            "read 9 rows: imported 4 (4 must reset their password), 0 already in \
                         authgate (left as they are), 5 skipped"
        ),
        "{report}"
    );
    assert!(
        !report.contains("s3cret"),
        "no value is repeated:\n{report}"
    );
}
