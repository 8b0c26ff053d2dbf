//! Registration, the token endpoint, JSON login.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::*;

/// A header's value as a string, if present.
fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Form-encode parameters for `POST /auth/token`.
fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("form encoding")
}

/// Assert the RFC 6749 §5.1 token response shape and its no-cache headers.
async fn assert_token_response(resp: reqwest::Response, refresh_expires_in: i64) -> Tokens {
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&resp, "pragma").as_deref(), Some("no-cache"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["expires_in"], json!(900));
    assert_eq!(body["refresh_expires_in"], json!(refresh_expires_in));
    let tokens = Tokens::from_json(&body);
    assert!(!tokens.access.is_empty() && !tokens.refresh.is_empty());
    assert_ne!(tokens.access, tokens.refresh);
    tokens
}

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

// Requirement: the password grant takes an e-mail or a username and returns an uncacheable Bearer pair.
both!(
    token_endpoint_password_grant_returns_an_uncacheable_bearer_pair,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        for login in [
            user.email.clone(),
            user.username.clone(),
            user.username.to_uppercase(),
        ] {
            // Act
            let resp = app
                .post_form(
                    "/auth/token",
                    &form(&[
                        ("grant_type", "password"),
                        ("username", &login),
                        ("password", &user.password),
                    ]),
                )
                .await;
            // Assert
            let tokens = assert_token_response(resp, 86400).await;
            let me = app.get("/users/me", Some(&tokens.access)).await;
            assert_eq!(me.status(), StatusCode::OK, "{login}");
            let me: Value = me.json().await.unwrap();
            assert_eq!(me["email"], json!(user.email), "{login}");
        }
    }
);

// Requirement: the token endpoint answers a wrong password and an unknown user identically (invalid_grant).
both!(
    token_endpoint_answers_invalid_grant_identically_for_wrong_password_and_unknown_user,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let unknown = TestUser::generate();
        // Act
        let wrong_password = app
            .post_form(
                "/auth/token",
                &form(&[
                    ("grant_type", "password"),
                    ("username", &user.email),
                    ("password", "wrong-password"),
                ]),
            )
            .await;
        let unknown_user = app
            .post_form(
                "/auth/token",
                &form(&[
                    ("grant_type", "password"),
                    ("username", &unknown.email),
                    ("password", &unknown.password),
                ]),
            )
            .await;
        // Assert
        assert_eq!(wrong_password.status(), StatusCode::BAD_REQUEST);
        assert_eq!(unknown_user.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            header(&wrong_password, "cache-control").as_deref(),
            Some("no-store")
        );
        let a: Value = wrong_password.json().await.unwrap();
        let b: Value = unknown_user.json().await.unwrap();
        assert_eq!(a["error"], json!("invalid_grant"));
        assert_eq!(a["error_description"], b["error_description"]);
        assert_eq!(a, b);
    }
);

// Requirement: malformed token requests get the RFC 6749 §5.2 error codes, never a 5xx.
both!(
    token_endpoint_rejects_malformed_requests_with_rfc6749_errors,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let (u, p) = (user.email.as_str(), user.password.as_str());
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "missing grant_type",
                form(&[("username", u), ("password", p)]),
                "invalid_request",
            ),
            (
                "missing password",
                form(&[("grant_type", "password"), ("username", u)]),
                "invalid_request",
            ),
            (
                "missing username",
                form(&[("grant_type", "password"), ("password", p)]),
                "invalid_request",
            ),
            (
                "missing refresh_token",
                form(&[("grant_type", "refresh_token")]),
                "invalid_request",
            ),
            (
                "client_credentials",
                form(&[
                    ("grant_type", "client_credentials"),
                    ("username", u),
                    ("password", p),
                ]),
                "unsupported_grant_type",
            ),
            (
                "duplicate parameter",
                form(&[
                    ("grant_type", "password"),
                    ("username", u),
                    ("password", p),
                    ("password", p),
                ]),
                "invalid_request",
            ),
            (
                "duplicate grant_type",
                form(&[
                    ("grant_type", "password"),
                    ("grant_type", "password"),
                    ("username", u),
                    ("password", p),
                ]),
                "invalid_request",
            ),
        ];
        for (name, body, error) in cases {
            // Act
            let resp = app.post_form("/auth/token", &body).await;
            // Assert
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{name}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], json!(error), "{name}: {body}");
            assert!(
                body["error_description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{name}"
            );
        }
        // Act: the right parameters as JSON instead of a form
        let resp = app
            .post(
                "/auth/token",
                None,
                json!({"grant_type": "password", "username": u, "password": p}),
            )
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], json!("invalid_request"));
    }
);

// Requirement: grant_type=refresh_token on /auth/token rotates the refresh token like /auth/refresh.
both!(
    token_endpoint_refresh_token_grant_rotates_the_pair,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let first = app
            .post_form(
                "/auth/token",
                &form(&[
                    ("grant_type", "password"),
                    ("username", &user.email),
                    ("password", &user.password),
                ]),
            )
            .await;
        let first = assert_token_response(first, 86400).await;
        // Act
        let resp = app
            .post_form(
                "/auth/token",
                &form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &first.refresh),
                ]),
            )
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
        let body: Value = resp.json().await.unwrap();
        let second = Tokens::from_json(&body);
        assert_eq!(body["token_type"], json!("Bearer"));
        assert_ne!(second.refresh, first.refresh);
        assert_eq!(
            app.get("/users/me", Some(&second.access)).await.status(),
            StatusCode::OK
        );
        // An unknown refresh token is invalid_grant, in RFC 6749 form.
        let bad = app
            .post_form(
                "/auth/token",
                &form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "not-a-token"),
                ]),
            )
            .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let bad: Value = bad.json().await.unwrap();
        assert_eq!(bad["error"], json!("invalid_grant"));
    }
);

// Requirement: POST /auth/login (JSON) returns the same uncacheable token shape, by e-mail or username.
both!(login_returns_an_uncacheable_bearer_pair, |app| async move {
    // Arrange
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    for login in [user.email.clone(), user.username.clone()] {
        // Act
        let resp = app
            .post(
                "/auth/login",
                None,
                json!({"username": login, "password": user.password}),
            )
            .await;
        // Assert
        let tokens = assert_token_response(resp, 86400).await;
        assert_eq!(
            app.get("/users/me", Some(&tokens.access)).await.status(),
            StatusCode::OK,
            "{login}"
        );
    }
});

// Requirement: JSON login answers 401 invalid_credentials identically for an unknown user and a wrong password.
both!(
    login_answers_401_identically_for_wrong_password_and_unknown_user,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let unknown = TestUser::generate();
        // Act
        let wrong_password = app
            .post(
                "/auth/login",
                None,
                json!({"username": user.email, "password": "wrong-password"}),
            )
            .await;
        let unknown_user = app.login(&unknown).await;
        // Assert
        assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(unknown_user.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&wrong_password, "content-type").as_deref(),
            Some("application/problem+json")
        );
        assert_eq!(
            header(&unknown_user, "content-type").as_deref(),
            Some("application/problem+json")
        );
        let a: Value = wrong_password.json().await.unwrap();
        let b: Value = unknown_user.json().await.unwrap();
        assert_eq!(a["code"], json!("invalid_credentials"));
        assert_eq!(a, b);
    }
);

// Requirement: remember_me gives a 30-day refresh lifetime; without it the session idles out after a day.
both!(
    remember_me_extends_the_refresh_lifetime_to_30_days,
    |app| async move {
        // Arrange
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        for (remember_me, expected) in [
            (Some(true), 2_592_000),
            (Some(false), 86_400),
            (None, 86_400),
        ] {
            let mut body = json!({"username": user.email, "password": user.password});
            if let Some(r) = remember_me {
                body["remember_me"] = json!(r);
            }
            // Act
            let resp = app.post("/auth/login", None, body).await;
            // Assert
            assert_eq!(resp.status(), StatusCode::OK, "{remember_me:?}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                body["refresh_expires_in"],
                json!(expected),
                "{remember_me:?}"
            );
            assert_eq!(body["expires_in"], json!(900), "{remember_me:?}");
        }
    }
);

// Requirement: a deactivated user cannot log in by either endpoint, and learns nothing more than from a wrong password.
both!(inactive_user_cannot_log_in, |app| async move {
    // Arrange
    let (user, tokens) = app.signed_in_user().await;
    let id = Uuid::parse_str(&app.user_id(&tokens.access).await).unwrap();
    let changes = authgate::service::UserChanges {
        roles: None,
        is_active: Some(false),
    };
    app.state
        .update_user(id, changes, true)
        .await
        .expect("deactivate");
    // Act
    let json_login = app.login(&user).await;
    let form_login = app
        .post_form(
            "/auth/token",
            &form(&[
                ("grant_type", "password"),
                ("username", &user.email),
                ("password", &user.password),
            ]),
        )
        .await;
    let wrong_password = app
        .post(
            "/auth/login",
            None,
            json!({"username": user.email, "password": "wrong-password"}),
        )
        .await;
    // Assert
    assert_eq!(json_login.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(form_login.status(), StatusCode::BAD_REQUEST);
    let json_body: Value = json_login.json().await.unwrap();
    let form_body: Value = form_login.json().await.unwrap();
    assert_eq!(json_body["code"], json!("invalid_credentials"));
    assert_eq!(json_body, wrong_password.json::<Value>().await.unwrap());
    assert_eq!(form_body["error"], json!("invalid_grant"));
    assert_eq!(
        app.get("/users/me", Some(&tokens.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
});

/// Insert a user whose password is stored as a legacy bcrypt hash, as an import would.
async fn bcrypt_user(app: &TestApp, password: &str) -> (TestUser, Uuid) {
    let mut user = TestUser::generate();
    user.password = password.to_owned();
    let hash = bcrypt::hash(password, 4).expect("bcrypt");
    assert!(hash.starts_with("$2b$"), "{hash}");
    let id = Uuid::now_v7();
    let new = authgate::store::NewUser {
        id,
        email: user.email.clone(),
        email_lower: user.email.to_lowercase(),
        username: Some(user.username.clone()),
        username_lower: Some(user.username.to_lowercase()),
        password_hash: hash,
        roles: vec!["user".to_owned()],
        is_active: true,
        created_at: app.clock.now(),
    };
    app.state
        .store()
        .unwrap()
        .create_user(&new)
        .await
        .expect("insert bcrypt user");
    (user, id)
}

/// The stored password hash of a user.
async fn stored_hash(app: &TestApp, id: Uuid) -> String {
    app.state
        .store()
        .unwrap()
        .user_by_id(id)
        .await
        .unwrap()
        .expect("user")
        .password_hash
}

// Requirement: imported bcrypt hashes log in and are upgraded to argon2id on the first successful login.
both!(
    bcrypt_hash_logs_in_and_is_upgraded_to_argon2id,
    |app| async move {
        // Arrange
        let (user, id) = bcrypt_user(&app, "tutorial-password").await;
        // Act
        let first = app.login(&user).await;
        // Assert
        assert_eq!(first.status(), StatusCode::OK);
        let hash = stored_hash(&app, id).await;
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let tokens = app.login_ok(&user).await;
        assert_eq!(app.user_id(&tokens.access).await, id.to_string());
        assert_eq!(stored_hash(&app, id).await, hash, "no second rehash");
    }
);

// Requirement: a wrong password for a bcrypt user is refused and leaves the legacy hash alone.
both!(
    bcrypt_user_with_a_wrong_password_is_refused_and_not_upgraded,
    |app| async move {
        // Arrange
        let (mut user, id) = bcrypt_user(&app, "tutorial-password").await;
        user.password = "tutorial-passwore".to_owned();
        // Act
        let resp = app.login(&user).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!("invalid_credentials"));
        assert!(stored_hash(&app, id).await.starts_with("$2b$"));
    }
);

// Requirement: a successful login records last_login_at.
both!(login_records_last_login_at, |app| async move {
    // Arrange
    let user = TestUser::generate();
    let created: Value = app.register(&user).await.json().await.unwrap();
    let id = Uuid::parse_str(created["id"].as_str().unwrap()).unwrap();
    let stored = app
        .state
        .store()
        .unwrap()
        .user_by_id(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.last_login_at, None, "not before the first login");
    let before = app.clock.now();
    // Act
    let tokens = app.login_ok(&user).await;
    // Assert
    let me: Value = app
        .get("/users/me", Some(&tokens.access))
        .await
        .json()
        .await
        .unwrap();
    let first = me["last_login_at"].as_i64().expect("last_login_at");
    assert!((before..=app.clock.now()).contains(&first), "{first}");
    // A later login moves it forward.
    app.clock.advance(3600);
    let tokens = app.login_ok(&user).await;
    let me: Value = app
        .get("/users/me", Some(&tokens.access))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        me["last_login_at"].as_i64().unwrap() >= first + 3600,
        "{me}"
    );
    // A failed login does not.
    app.clock.advance(3600);
    let wrong = app
        .post(
            "/auth/login",
            None,
            json!({"username": user.email, "password": "wrong-password"}),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let stored = app
        .state
        .store()
        .unwrap()
        .user_by_id(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.last_login_at, me["last_login_at"].as_i64());
});
