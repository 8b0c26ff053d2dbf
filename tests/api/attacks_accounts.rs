//! Attacks on accounts rather than tokens: mass assignment, Unicode look-alike identities, and
//! password handling (OWASP Authentication and Mass Assignment cheat sheets, ASVS 5.0 6.2).
//! Enumeration is in `attacks_enumeration.rs`.

use crate::both;
use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both!(
    /// R18 (ASVS 5.0 8.2.3 field-level authorization; OWASP Mass Assignment CS): extra fields at
    /// registration (`id`, `user_id`, `roles`, `role`, `is_admin`, `admin`, `is_active`,
    /// `password_hash`, `created_at`, `email_verified`, …) are ignored: the account gets a fresh
    /// id, the `user` role only, is active, and logs in with the password that was sent.
    mass_assignment_at_registration_is_ignored,
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let user = TestUser::generate();
        let chosen_id = uuid::Uuid::now_v7().to_string();
        let known_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let body = json!({
            "email": user.email, "password": user.password, "username": user.username,
            "id": chosen_id, "user_id": chosen_id, "sub": chosen_id,
            "roles": ["admin", "moderator"], "role": "admin", "is_admin": true, "admin": true,
            "is_active": false, "password_hash": known_hash, "created_at": 0,
            "last_login_at": 0, "email_verified": true, "token_version": 0,
        });
        // Act
        let resp = app.post("/auth/register", None, body).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::CREATED);
        let created: Value = resp.json().await.unwrap();
        assert_ne!(created["id"], json!(chosen_id));
        assert_eq!(created["roles"], json!(["user"]), "{created}");
        assert_eq!(created["is_active"], json!(true), "{created}");
        assert!(
            created["created_at"].as_i64().unwrap() > 1_600_000_000,
            "{created}"
        );
        assert!(created.get("password_hash").is_none() && created.get("is_admin").is_none());
        let tokens = app.login_ok(&user).await;
        assert_eq!(claims_of(&tokens.access)["roles"], json!(["user"]));
        assert_eq!(
            app.get("/admin/users", Some(&tokens.access)).await.status(),
            StatusCode::FORBIDDEN
        );
        let by_chosen_id = app
            .get(&format!("/admin/users/{chosen_id}"), Some(&admin.access))
            .await;
        assert_eq!(
            by_chosen_id.status(),
            StatusCode::NOT_FOUND,
            "no account took the chosen id"
        );
    }
);

both!(
    /// R18 (ASVS 5.0 8.2.3; OWASP Mass Assignment CS): `PATCH /users/me` changes the username
    /// and nothing else, whatever other fields (`roles`, `is_active`, `email`, `id`,
    /// `password`, `password_hash`) the body carries.
    mass_assignment_on_the_own_profile_is_ignored,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        let before: Value = app.me(&tokens.access).await;
        let new_name = format!("{}_2", user.username);
        let body = json!({
            "username": new_name, "roles": ["admin"], "is_active": false, "is_admin": true,
            "email": "attacker@example.com", "id": uuid::Uuid::now_v7(),
            "password": "attacker password", "password_hash": "x", "created_at": 0,
        });
        // Act
        let resp = app
            .request(Method::PATCH, "/users/me", Some(&tokens.access), Some(body))
            .await;
        // Assert: the username changes (the request is valid), the extra fields are ignored
        assert_eq!(resp.status(), StatusCode::OK);
        let answered: Value = resp.json().await.unwrap();
        assert_eq!(answered["username"], json!(new_name), "{answered}");
        let after: Value = app.me(&tokens.access).await;
        assert_eq!(after["username"], json!(new_name), "{after}");
        for field in ["id", "email", "roles", "is_active", "created_at"] {
            assert_eq!(after[field], before[field], "{field} changed: {after}");
        }
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::OK,
            "the password is unchanged"
        );
        assert_eq!(
            login_status(&app, "attacker@example.com", "attacker password").await,
            StatusCode::UNAUTHORIZED
        );
    }
);

/// `e` with the first ASCII `from` replaced by `to`.
fn swap_first(e: &str, from: char, to: &str) -> String {
    e.replacen(from, to, 1)
}

both!(
    /// Issue #3 "Unicode look-alike e-mails" (R16/R18: an account is reached only with its own
    /// credentials): registering or signing in with a look-alike of a victim's e-mail or
    /// username (Cyrillic `а`, fullwidth, the Kelvin sign, ligatures, zero-width space, case)
    /// never yields the victim's account, changes it, or locks the victim out.
    unicode_look_alikes_never_reach_the_victims_account,
    |app| async move {
        // Arrange
        let mut victim = TestUser::generate();
        victim.email = format!("kafi.{}", victim.email);
        victim.username = format!("kafi_{}", &victim.username[5..]);
        assert_eq!(app.register(&victim).await.status(), StatusCode::CREATED);
        let victim_tokens = app.login_ok(&victim).await;
        let victim_id = app.user_id(&victim_tokens.access).await;
        let look_alikes = |s: &str| {
            vec![
                ("Cyrillic a", swap_first(s, 'a', "\u{0430}")),
                ("fullwidth k", swap_first(s, 'k', "\u{FF4B}")),
                ("Kelvin sign", swap_first(s, 'k', "\u{212A}")),
                ("fi ligature", s.replacen("fi", "\u{FB01}", 1)),
                ("zero-width space", s.replacen("ka", "k\u{200B}a", 1)),
                ("combining acute", s.replacen("ka", "ka\u{0301}", 1)),
                ("upper case", s.to_uppercase()),
            ]
        };
        let mut cases = look_alikes(&victim.email);
        for (why, name) in look_alikes(&victim.username) {
            cases.push((why, name));
        }
        for (why, alike) in cases {
            let is_email = alike.contains('@');
            let mut attacker = TestUser::generate();
            attacker.password = "attacker password 1".into();
            if is_email {
                attacker.email = alike.clone();
            } else {
                attacker.username = alike.clone();
            }
            // Act
            let registered = app.register(&attacker).await.status();
            let signed_in = app
                .post(
                    "/auth/login",
                    None,
                    json!({"username": alike, "password": attacker.password}),
                )
                .await;
            // Assert
            assert!(
                [
                    StatusCode::CREATED,
                    StatusCode::CONFLICT,
                    StatusCode::UNPROCESSABLE_ENTITY
                ]
                .contains(&registered),
                "{why} {alike:?}: {registered}"
            );
            if signed_in.status() == StatusCode::OK {
                let tokens = Tokens::from_json(&signed_in.json().await.unwrap());
                assert_ne!(
                    app.user_id(&tokens.access).await,
                    victim_id,
                    "{why} {alike:?}: took over the victim"
                );
            } else {
                assert_eq!(
                    signed_in.status(),
                    StatusCode::UNAUTHORIZED,
                    "{why} {alike:?}"
                );
            }
        }
        let me: Value = app.me(&victim_tokens.access).await;
        assert_eq!(me["email"], json!(victim.email));
        assert_eq!(me["username"], json!(victim.username));
        assert_eq!(
            app.login(&victim).await.status(),
            StatusCode::OK,
            "the victim still signs in"
        );
    }
);

both!(
    /// Issue #3 "Unicode look-alike e-mails cannot duplicate an existing account" (RFC 8265
    /// PRECIS width mapping; NFKC): an e-mail that is the victim's after compatibility
    /// normalisation (fullwidth letters, the `ﬁ` ligature) must be the same account (409) or be
    /// refused (422), not a second account that displays like the victim's.
    compatibility_equivalent_emails_do_not_create_a_second_account,
    |app| async move {
        // Arrange
        let mut victim = TestUser::generate();
        victim.email = format!("kafi.{}", victim.email);
        assert_eq!(app.register(&victim).await.status(), StatusCode::CREATED);
        for (why, alike) in [
            ("fullwidth k", swap_first(&victim.email, 'k', "\u{FF4B}")),
            ("fi ligature", victim.email.replacen("fi", "\u{FB01}", 1)),
            ("fullwidth @", victim.email.replacen('@', "\u{FF20}", 1)),
        ] {
            let mut attacker = TestUser::generate();
            attacker.email = alike.clone();
            // Act
            let status = app.register(&attacker).await.status();
            // Assert
            assert!(
                status == StatusCode::CONFLICT || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{why} {alike:?}: {status}"
            );
        }
    }
);

both!(
    /// R19 (NIST SP 800-63B §5.1.1.2, ASVS 5.0 6.2.5/6.2.9): passwords are compared exactly:
    /// no case folding, no trimming, no truncation at 128 characters (a longer input with the
    /// right prefix fails); any Unicode works; 129 characters are refused at registration.
    passwords_are_compared_exactly,
    |app| async move {
        // Arrange
        let mut user = TestUser::generate();
        user.password = "Pässwörd 🔑 \u{0301}Zeichen".to_owned();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let mut long_user = TestUser::generate();
        long_user.password = "p".repeat(128);
        assert_eq!(app.register(&long_user).await.status(), StatusCode::CREATED);
        // Act / Assert
        assert_eq!(
            login_status(&app, &user.email, &user.password).await,
            StatusCode::OK
        );
        for (why, attempt) in [
            ("upper case", user.password.to_uppercase()),
            ("lower case", user.password.to_lowercase()),
            ("trailing space", format!("{} ", user.password)),
            ("leading space", format!(" {}", user.password)),
            (
                "without the combining mark",
                user.password.replace('\u{0301}', ""),
            ),
        ] {
            assert_eq!(
                login_status(&app, &user.email, &attempt).await,
                StatusCode::UNAUTHORIZED,
                "{why}"
            );
        }
        assert_eq!(
            login_status(&app, &long_user.email, &long_user.password).await,
            StatusCode::OK
        );
        assert_eq!(
            login_status(&app, &long_user.email, &"p".repeat(129)).await,
            StatusCode::UNAUTHORIZED,
            "129 characters with the right 128-character prefix"
        );
        let mut too_long = TestUser::generate();
        too_long.password = "p".repeat(129);
        assert_eq!(
            app.register(&too_long).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
);

both!(
    /// R27 (ASVS 5.0 16.5.1: bad input is the client's error, never an internal one): a NUL
    /// byte in a login name, password, refresh token, registration field, profile or admin
    /// search never makes a 500 (PostgreSQL refuses NUL in text with SQLSTATE 22021).
    nul_bytes_in_any_input_are_never_a_server_error,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let nul_login = format!("{}\u{0}", user.email);
        // Act
        let login_body = json!({"username": nul_login, "password": user.password});
        let password_body = json!({"username": user.email, "password": "pass\u{0}word"});
        let register_body = json!({
            "email": "a\u{0}b@example.com",
            "password": "long enough pw",
            "username": "nul\u{0}name",
        });
        let profile_body = json!({"username": "a\u{0}b"});
        let refresh = format!("{}\u{0}", tokens.refresh);
        let answers = [
            (
                "login name",
                app.post("/auth/login", None, login_body).await,
            ),
            (
                "login password",
                app.post("/auth/login", None, password_body).await,
            ),
            (
                "token grant login name",
                token_grant(&app, &nul_login, &user.password).await,
            ),
            ("refresh token", app.refresh(&refresh).await),
            (
                "register",
                app.post("/auth/register", None, register_body).await,
            ),
            (
                "admin search",
                app.get("/admin/users?q=%00", Some(&admin.access)).await,
            ),
            (
                "profile",
                app.request(
                    Method::PATCH,
                    "/users/me",
                    Some(&tokens.access),
                    Some(profile_body),
                )
                .await,
            ),
        ];
        // Assert
        let server_errors: Vec<String> = answers
            .iter()
            .filter(|(_, resp)| resp.status().is_server_error())
            .map(|(what, resp)| format!("{what}: {}", resp.status()))
            .collect();
        assert!(server_errors.is_empty(), "{server_errors:?}");
        assert_eq!(app.login(&user).await.status(), StatusCode::OK);
    }
);
