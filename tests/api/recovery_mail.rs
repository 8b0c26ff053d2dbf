//! The outbox (issue #10): mail leaves after the answer, once however many instances run, is
//! retried after a transient failure, and is written as an .eml file when no SMTP is set.

use std::collections::HashSet;
use std::time::Duration;

use crate::both;
use crate::support::*;
use reqwest::StatusCode;

/// Rounds per timing comparison, as in attacks_enumeration.rs.
const ROUNDS: usize = 15;

// Requirement: with no SMTP configured, a reset mail is written as an .eml file under
// <data-dir>/mail/ whose link points at this server's own reset page, and the link works.
both!(the_embedded_default_writes_an_eml_file, |app| async move {
    // Arrange
    let (user, _) = app.signed_in_user().await;
    let dir = app.settings.data_dir.join("mail");
    // Act
    assert_eq!(app.forgot(&user.email).await.status(), StatusCode::ACCEPTED);
    // Assert
    let prefix = format!("{}/reset-password?token=", app.address);
    let start = std::time::Instant::now();
    let text = loop {
        let texts: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .map(|p| mail_text(&std::fs::read_to_string(p).unwrap()))
            .filter(|t| t.contains(&prefix))
            .collect();
        if let Some(t) = texts.into_iter().next() {
            break t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no reset .eml in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let at = text.find(&prefix).unwrap() + prefix.len();
    let token: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(
        app.reset_password(&token, "reset from a mail file")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        login_status(&app, &user.email, "reset from a mail file").await,
        StatusCode::OK
    );
});

// Requirement: two instances on one database send each mail exactly once (ory/kratos#732).
both!(
    two_instances_send_each_mail_exactly_once,
    &[WITH_MAIL],
    |app| async move {
        // Arrange: instance B on A's database, both with their sender running
        let TestApp {
            address: a,
            client,
            db,
            settings,
            ..
        } = app;
        let b = start(db, settings).await;
        let users: Vec<TestUser> = (0..8).map(|_| TestUser::generate()).collect();
        // Act: registrations and forgots spread over both instances
        for (i, user) in users.iter().enumerate() {
            let base = if i % 2 == 0 {
                a.as_str()
            } else {
                b.address.as_str()
            };
            let register = serde_json::json!({"email": user.email, "password": user.password});
            let resp = client
                .post(format!("{base}/auth/register"))
                .json(&register)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED);
            let other = if i % 2 == 0 {
                b.address.as_str()
            } else {
                a.as_str()
            };
            let forgot = serde_json::json!({"email": user.email});
            let resp = client
                .post(format!("{other}/auth/password/forgot"))
                .json(&forgot)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::ACCEPTED);
        }
        for user in &users {
            INBOX.wait_for(&user.email, 2).await;
        }
        settle().await;
        // Assert: exactly two mails (verify + reset) per user, no duplicate
        for user in &users {
            let mails = INBOX.to(&user.email);
            assert_eq!(mails.len(), 2, "{}: {} mails", user.email, mails.len());
            let ids: HashSet<_> = mails.iter().map(|m| m.raw.clone()).collect();
            assert_eq!(ids.len(), 2);
        }
    }
);

// Requirement: a mail refused with a transient error (451) is retried with backoff and then
// delivered; nothing is lost.
both!(
    a_transient_smtp_failure_is_retried,
    &[WITH_MAIL],
    |app| async move {
        // Arrange: the receiver refuses the first attempt to tempfail-* addresses
        let user = TestUser {
            email: format!("tempfail-{}", TestUser::generate().email),
            ..TestUser::generate()
        };
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            INBOX.to(&user.email).is_empty(),
            "the first attempt was refused"
        );
        // Act: the retry is due 30 s later (the test clock)
        app.clock.advance(31);
        // Assert
        let mails = INBOX.wait_for(&user.email, 1).await;
        assert!(mail_text(&mails[0].raw).contains("/verify-email?token="));
    }
);

// Requirement: forgot takes as long for an unknown address as for a real one (the mail is
// enqueued after the answer): medians within the login timing test's tolerance. Each real
// request is for a new account, so each would write a token and a mail if it did so inline.
both!(
    forgot_timing_does_not_reveal_whether_an_account_exists,
    &[WITH_MAIL],
    |app| async move {
        // Arrange: a fresh real account per request, so each one would enqueue a mail (none
        // is held back by the one-mail-a-minute limit)
        let mut users = Vec::new();
        for _ in 0..=ROUNDS {
            let user = TestUser::generate();
            assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
            users.push(user);
        }
        let mut next = users.iter();
        let unknown = TestUser::generate();
        // Act
        let (existing, missing) = paired_medians(
            ROUNDS,
            || {
                let email = next.next().expect("a user per round").email.clone();
                let app = &app;
                async move { app.forgot(&email).await.status() }
            },
            || async { app.forgot(&unknown.email).await.status() },
        )
        .await;
        // Assert
        eprintln!("forgot medians: existing {existing:.2} ms, unknown {missing:.2} ms");
        assert_similar_timing("/auth/password/forgot", existing, missing);
    }
);

// Requirement: a mail refused for good (550) is given up, not retried forever, and the
// give-up is audited (`mail_failed`).
both!(
    a_permanently_refused_mail_is_given_up_and_audited,
    &[WITH_MAIL],
    |app| async move {
        // Arrange
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let user = TestUser {
            email: format!("permfail-{}", TestUser::generate().email),
            ..TestUser::generate()
        };
        // Act
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        // Assert
        let start = std::time::Instant::now();
        loop {
            let page: serde_json::Value = app
                .get("/admin/audit?type=mail_failed", Some(&admin.access))
                .await
                .json()
                .await
                .unwrap();
            let events = page["items"].as_array().cloned().unwrap_or_default();
            if let Some(event) = events.first() {
                assert!(
                    event["detail"].as_str().unwrap().contains("verify_email"),
                    "{event}"
                );
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "no mail_failed event: {page}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(INBOX.to(&user.email).is_empty());
    }
);
