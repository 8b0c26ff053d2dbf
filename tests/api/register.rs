//! `POST /auth/register`: what a new account gets, uniqueness, validation, concurrency.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

// Requirement: registration grants only the `user` role and ignores mass-assigned fields.
both!(
    register_returns_201_with_the_user_role_only,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        // Act: mass assignment attempt
        let resp = app
        .post("/auth/register", None, json!({"email": user.email, "password": user.password, "roles": ["admin"], "is_active": false}))
        .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["roles"], json!(["user"]));
        assert_eq!(body["is_active"], json!(true));
        assert!(body.get("password_hash").is_none());
    }
);

// Requirement: POST /auth/register answers 201 with the public user fields and never a hash.
both!(
    register_returns_the_public_user_fields_and_never_a_hash,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        let before = app.clock.now();
        // Act
        let resp = app.register(&user).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.unwrap();
        Uuid::parse_str(body["id"].as_str().expect("id")).expect("id is a uuid");
        assert_eq!(body["email"], json!(user.email));
        assert_eq!(body["username"], json!(user.username));
        assert_eq!(body["roles"], json!(["user"]));
        assert_eq!(body["is_active"], json!(true));
        let created_at = body["created_at"].as_i64().expect("created_at");
        assert!(
            (before..=app.clock.now()).contains(&created_at),
            "{created_at}"
        );
        let text = body.to_string();
        assert!(
            !text.contains("argon2") && !text.contains(&user.password),
            "{text}"
        );
        assert!(
            body.as_object()
                .unwrap()
                .keys()
                .all(|k| !k.contains("password")),
            "{text}"
        );
    }
);

// Requirement: e-mails are trimmed and unique case-insensitively (409 conflict for a case variant).
both!(
    register_trims_the_email_and_treats_case_variants_as_taken,
    |app| async move {
        // Arrange
        let local = format!("alice-{}", &Uuid::new_v4().simple().to_string()[..8]);
        let first = app
            .post(
                "/auth/register",
                None,
                json!({"email": format!("  {local}@x.com "), "password": "correct-horse-1"}),
            )
            .await;
        assert_eq!(first.status(), StatusCode::CREATED);
        let first: Value = first.json().await.unwrap();
        assert_eq!(
            first["email"],
            json!(format!("{local}@x.com")),
            "stored trimmed"
        );
        // Act
        let resp = app
        .post(
            "/auth/register",
            None,
            json!({"email": format!(" {}@X.com ", local.to_uppercase()), "password": "correct-horse-2"}),
        )
        .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        assert_eq!(
            header(&resp, "content-type").as_deref(),
            Some("application/problem+json")
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("conflict"));
        assert_eq!(body["status"], json!(409));
        // The account is reachable by any spelling of the address.
        let login = app
        .post(
            "/auth/login",
            None,
            json!({"username": format!("{}@X.COM", local.to_uppercase()), "password": "correct-horse-1"}),
        )
        .await;
        assert_eq!(login.status(), StatusCode::OK);
    }
);

// Requirement: usernames are unique case-insensitively (409 conflict).
both!(
    register_rejects_a_username_taken_in_another_case,
    |app| async move {
        // Arrange
        let first = TestUser::generate();
        assert_eq!(app.register(&first).await.status(), StatusCode::CREATED);
        let mut second = TestUser::generate();
        second.username = first.username.to_uppercase();
        // Act
        let resp = app.register(&second).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("conflict"));
        assert!(
            body["detail"].as_str().unwrap().contains("username"),
            "{body}"
        );
        // The second e-mail was not used up by the failed attempt.
        second.username = format!("{}_2", first.username);
        assert_eq!(app.register(&second).await.status(), StatusCode::CREATED);
    }
);

// Requirement: invalid registration input is 422 problem+json with an `errors` entry per bad field.
both!(
    register_rejects_invalid_fields_with_422_per_field,
    |app| async move {
        // Arrange
        let ok = TestUser::generate();
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            (
                "bad e-mail",
                json!({"email": "not-an-email", "password": ok.password}),
                vec!["email"],
            ),
            (
                "e-mail without domain dot",
                json!({"email": "a@b", "password": ok.password}),
                vec!["email"],
            ),
            (
                "7-char password",
                json!({"email": ok.email, "password": "1234567"}),
                vec!["password"],
            ),
            (
                "129-char password",
                json!({"email": ok.email, "password": "p".repeat(129)}),
                vec!["password"],
            ),
            (
                "short username",
                json!({"email": ok.email, "password": ok.password, "username": "ab"}),
                vec!["username"],
            ),
            (
                "username with @",
                json!({"email": ok.email, "password": ok.password, "username": "a@b.com"}),
                vec!["username"],
            ),
            (
                "username with space",
                json!({"email": ok.email, "password": ok.password, "username": "has space"}),
                vec!["username"],
            ),
            (
                "every field at once",
                json!({"email": "nope", "password": "short", "username": "x"}),
                vec!["email", "password", "username"],
            ),
        ];
        for (name, body, fields) in cases {
            // Act
            let resp = app.post("/auth/register", None, body).await;
            // Assert
            assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
            assert_eq!(
                header(&resp, "content-type").as_deref(),
                Some("application/problem+json"),
                "{name}"
            );
            let problem: Value = resp.json().await.unwrap();
            assert_eq!(problem["code"], json!("validation_failed"), "{name}");
            assert_eq!(problem["status"], json!(422), "{name}");
            let errors = problem["errors"]
                .as_object()
                .unwrap_or_else(|| panic!("{name}: {problem}"));
            let mut keys: Vec<&str> = errors.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, fields, "{name}: {problem}");
            for field in fields {
                let messages = errors[field].as_array().expect("messages");
                assert!(
                    !messages.is_empty() && messages.iter().all(Value::is_string),
                    "{name}"
                );
            }
        }
        // Nothing was created along the way.
        assert_eq!(app.register(&ok).await.status(), StatusCode::CREATED);
    }
);

// Requirement: passwords of 128 characters are accepted and never truncated.
both!(
    register_accepts_a_128_char_password_without_truncating_it,
    |app| async move {
        // Arrange
        let mut user = TestUser::generate();
        let full: String = user.password.chars().cycle().take(128).collect();
        user.password = full.clone();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        // Act
        let with_full = app.login(&user).await;
        user.password = full.chars().take(127).collect();
        let with_prefix = app.login(&user).await;
        user.password = full.chars().take(72).collect();
        let with_bcrypt_prefix = app.login(&user).await;
        // Assert
        assert_eq!(with_full.status(), StatusCode::OK);
        assert_eq!(with_prefix.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(with_bcrypt_prefix.status(), StatusCode::UNAUTHORIZED);
    }
);

// Requirement: concurrent registrations of one e-mail create exactly one account, never a 5xx.
both!(
    concurrent_registrations_of_one_email_create_exactly_one_account,
    |app| async move {
        // Arrange
        let base = TestUser::generate();
        let url = app.url("/auth/register");
        // Act: 20 at once, in varying letter case
        let tasks: Vec<_> = (0..20)
        .map(|i| {
            let client = app.client.clone();
            let url = url.clone();
            let email = if i % 2 == 0 { base.email.clone() } else { base.email.to_uppercase() };
            let body = json!({"email": email, "password": base.password, "username": format!("{}_{i}", base.username)});
            tokio::spawn(async move { client.post(url).json(&body).send().await.expect("request").status() })
        })
        .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.expect("task"));
        }
        // Assert
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let conflicts = statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count();
        assert!(
            statuses.iter().all(|s| !s.is_server_error()),
            "{statuses:?}"
        );
        assert_eq!((created, conflicts), (1, 19), "{statuses:?}");
        assert_eq!(app.login(&base).await.status(), StatusCode::OK);
    }
);

// Requirement: on SQLite a write waits for another connection's write lock (the busy timeout)
// instead of failing at once. A transaction that read before its first write (SQLite preparing
// the FTS5 trigger of `users` reads the search index) is refused the upgrade without waiting,
// "database is locked": a 503 that a burst of sign-ups hit now and then. Deterministic here: the
// first registration on a fresh server, while another connection holds the lock for 300 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_waits_for_another_writer_on_sqlite() {
    use sqlx::Connection;
    // Arrange
    let app = spawn_app(Backend::Sqlite).await;
    let mut holder = sqlx::SqliteConnection::connect(&app.db.url)
        .await
        .expect("connect");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .expect("take the write lock");
    let user = TestUser::generate();
    // Act
    let registering = {
        let (client, url) = (app.client.clone(), app.url("/auth/register"));
        let body =
            json!({"email": user.email, "password": user.password, "username": user.username});
        tokio::spawn(async move { client.post(url).json(&body).send().await.expect("request") })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sqlx::query("COMMIT")
        .execute(&mut holder)
        .await
        .expect("release the write lock");
    let response = registering.await.expect("task");
    // Assert
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.login(&user).await.status(), StatusCode::OK);
}

// Requirement: F22 — 50 concurrent writers on one database: every one lands, none sees
// "database is locked" (SQLite) or any other 5xx.
both!(fifty_concurrent_registrations_all_land, |app| async move {
    // Arrange
    let users: Vec<TestUser> = (0..50).map(|_| TestUser::generate()).collect();
    // Act
    let tasks: Vec<_> = users
        .iter()
        .map(|user| {
            let (client, url) = (app.client.clone(), app.url("/auth/register"));
            let body =
                json!({"email": user.email, "password": user.password, "username": user.username});
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .expect("request")
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    // Assert
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    assert_eq!(app.login(&users[49]).await.status(), StatusCode::OK);
});
