//! The hosted sign-in (issue 13): `/signup`, `/signin` (+ the second-factor step), `/signout`,
//! the page session's cookies, `return_to` safety, CSRF and Origin checks, and that the page
//! sign-in is the API's login (limits, lockout, revocation, deactivation). Black-box over HTTP
//! with a cookie-jar client (`pages_browser.rs`), both databases.

use reqwest::StatusCode;

use crate::both;
use crate::pages_browser::{Browser, registered};
use crate::support::*;

// Requirement: a visitor signs up at /signup and signs in at /signin; the session lives in
// HttpOnly, SameSite=Lax, Path=/ cookies (session cookies without "Remember me") and /account
// then shows the account.
both!(
    sign_up_then_sign_in_opens_a_page_session,
    |app| async move {
        // Arrange
        let mut browser = Browser::new(&app);
        let user = TestUser::generate();
        // Act
        let created = browser
            .submit(
                "/signup",
                "/signup",
                &[
                    ("email", &user.email),
                    ("username", &user.username),
                    ("password", &user.password),
                    ("confirm_password", &user.password),
                ],
            )
            .await;
        let signed_in = browser.sign_in(&user).await;
        let account = browser.get("/account").await;
        // Assert
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(signed_in.location().as_deref(), Some("/account"));
        let session_cookies: Vec<&String> = browser
            .set_cookies
            .iter()
            .filter(|c| {
                c.starts_with("authgate_page_access=") || c.starts_with("authgate_page_session=")
            })
            .collect();
        assert_eq!(session_cookies.len(), 2, "{:?}", browser.set_cookies);
        for c in session_cookies {
            assert!(
                c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"),
                "{c}"
            );
            assert!(
                !c.contains("Max-Age"),
                "a session cookie without remember-me: {c}"
            );
        }
        assert_eq!(account.status, StatusCode::OK);
        assert!(account.body.contains(&user.email), "{}", account.body);
    }
);

// Requirement: "Remember me" makes the cookies outlive the browser: the refresh cookie's
// Max-Age is the remember-me lifetime.
both!(remember_me_makes_lasting_cookies, |app| async move {
    // Arrange
    let user = registered(&app).await;
    let mut browser = Browser::new(&app);
    // Act
    browser
        .submit(
            "/signin",
            "/signin",
            &[
                ("login", &user.email),
                ("password", &user.password),
                ("remember_me", "on"),
            ],
        )
        .await;
    // Assert
    let refresh = browser
        .set_cookies
        .iter()
        .find(|c| c.starts_with("authgate_page_session="))
        .expect("refresh cookie");
    let ttl = app.settings.remember_me_ttl;
    assert!(refresh.contains(&format!("Max-Age={ttl}")), "{refresh}");
});

// Requirement: a public URL that is not plain http on localhost gets `Secure` cookies with the
// `__Host-` prefix.
both!(
    cookies_are_secure_and_host_prefixed_under_https,
    &["--public-url", "https://auth.example.test"],
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        // Act
        browser.sign_in(&user).await;
        // Assert
        let names: Vec<&String> = browser
            .set_cookies
            .iter()
            .filter(|c| c.contains("page_"))
            .collect();
        assert!(!names.is_empty());
        for c in names {
            assert!(c.starts_with("__Host-authgate_page_"), "{c}");
            assert!(c.contains("; Secure"), "{c}");
        }
    }
);

// Requirement: a page that needs a session answers 303 to /signin?return_to=<the path and query,
// percent-encoded> when there is none, and sign-in then goes back there.
both!(
    a_page_without_session_redirects_to_signin_and_back,
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        // Act
        let first = browser.get("/account?done=profile").await;
        let target = first.location().expect("location");
        let signin = browser.get(&target).await;
        let return_to = signin.hidden("return_to");
        let csrf = signin.hidden("csrf_token");
        let after = browser
            .post(
                "/signin",
                &[
                    ("csrf_token", &csrf),
                    ("login", &user.email),
                    ("password", &user.password),
                    ("return_to", &return_to),
                ],
            )
            .await;
        // Assert
        assert_eq!(first.status, StatusCode::SEE_OTHER);
        assert_eq!(target, "/signin?return_to=%2Faccount%3Fdone%3Dprofile");
        assert_eq!(return_to, "/account?done=profile");
        assert_eq!(after.location().as_deref(), Some("/account?done=profile"));
    }
);

// Requirement: return_to is honoured only for paths on this server or URLs under
// AUTHGATE_PUBLIC_URL / a listed CORS origin; anything else (other hosts, scheme-relative,
// backslash tricks, javascript:, encoded forms) signs in to /account.
both!(
    return_to_never_leaves_the_trusted_origins,
    &["--cors-origins", "https://app.example.test"],
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let public = app.address.clone();
        let honoured = [
            ("/account?x=1".to_owned(), "/account?x=1".to_owned()),
            (format!("{public}/account"), format!("{public}/account")),
            (
                "https://app.example.test/after".to_owned(),
                "https://app.example.test/after".to_owned(),
            ),
        ];
        let refused = [
            "//evil.com",
            "https://evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "%2F%2Fevil.com",
            "/%2F%2Fevil.com",
            "/%5Cevil.com",
            "/%252F%252Fevil.com",
            "https://app.example.test.evil.com/",
            "https://user@app.example.test/",
            "http://app.example.test/",
            "evil.com",
            "/\tevil",
            "data:text/html,hi",
        ];
        // Act + Assert
        for (given, expected) in honoured.iter() {
            let mut browser = Browser::new(&app);
            let page = browser
                .submit(
                    "/signin",
                    "/signin",
                    &[
                        ("login", &user.email),
                        ("password", &user.password),
                        ("return_to", given),
                    ],
                )
                .await;
            assert_eq!(
                page.location().as_deref(),
                Some(expected.as_str()),
                "{given}"
            );
        }
        for given in refused {
            let mut browser = Browser::new(&app);
            let page = browser
                .submit(
                    "/signin",
                    "/signin",
                    &[
                        ("login", &user.email),
                        ("password", &user.password),
                        ("return_to", given),
                    ],
                )
                .await;
            assert_eq!(
                page.location().as_deref(),
                Some("/account"),
                "{given:?} must not be followed"
            );
            // An already signed-in browser asking /signin?return_to=… is not sent there either.
            let encoded = form(&[("return_to", given)]);
            let again = browser.get(&format!("/signin?{encoded}")).await;
            assert_eq!(
                again.location().as_deref(),
                Some("/account"),
                "{given:?} (GET)"
            );
        }
    }
);

// Requirement: the second-factor step: an account with TOTP gets the code form after the
// password, and the session opens only with a right code (a wrong one shows the form again).
both!(
    signing_in_with_a_second_factor_asks_for_the_code,
    |app| async move {
        // Arrange
        let mfa = app.mfa_user().await;
        let mut browser = Browser::new(&app);
        // Act
        let step = browser
            .submit(
                "/signin",
                "/signin",
                &[("login", &mfa.user.email), ("password", &mfa.user.password)],
            )
            .await;
        let (csrf, mfa_token) = (step.hidden("csrf_token"), step.hidden("mfa_token"));
        let wrong = browser
            .post(
                "/signin/mfa",
                &[
                    ("csrf_token", &csrf),
                    ("mfa_token", &mfa_token),
                    ("code", "000000"),
                ],
            )
            .await;
        let before = browser.get("/account").await;
        let code = app.code(&mfa.secret, 0);
        let right = browser
            .post(
                "/signin/mfa",
                &[
                    ("csrf_token", &csrf),
                    ("mfa_token", &mfa_token),
                    ("code", &code),
                ],
            )
            .await;
        let account = browser.get("/account").await;
        // Assert
        assert_eq!(step.status, StatusCode::OK);
        assert!(step.body.contains(r#"<label for="code">"#), "{}", step.body);
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains(r#"role="alert""#));
        assert_eq!(
            before.status,
            StatusCode::SEE_OTHER,
            "no session before the code"
        );
        assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
        assert_eq!(account.status, StatusCode::OK);
        let claims = claims_of(&browser.access_token());
        assert_eq!(claims["aal"], 2);
    }
);

// Requirement: every page POST needs the form's CSRF token: a missing or wrong one, or a
// foreign Origin, is a 403 page with code csrf_failed; nothing is changed.
both!(
    page_forms_refuse_missing_wrong_or_foreign_csrf,
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        let signin = browser.get("/signin").await;
        let csrf = signin.hidden("csrf_token");
        let creds = [
            ("login", user.email.as_str()),
            ("password", user.password.as_str()),
        ];
        // Act
        let missing = browser.post("/signin", &creds).await;
        let mut with_wrong = vec![("csrf_token", "AAAA.BBBB")];
        with_wrong.extend_from_slice(&creds);
        let wrong = browser.post("/signin", &with_wrong).await;
        let mut with_right = vec![("csrf_token", csrf.as_str())];
        with_right.extend_from_slice(&creds);
        let foreign = browser
            .post_from("/signin", &with_right, Some("https://evil.com"))
            .await;
        let null = browser
            .post_from("/signin", &with_right, Some("null"))
            .await;
        let no_cookie = Browser::new(&app).post("/signin", &with_right).await;
        let still_out = browser.get("/account").await;
        browser.sign_in(&user).await;
        let account = browser.get("/account").await;
        let token = account.hidden("csrf_token");
        let profile_missing = browser
            .post("/account/profile", &[("username", "changed_by_csrf")])
            .await;
        let profile_foreign = browser
            .post_from(
                "/account/profile",
                &[("csrf_token", &token), ("username", "changed_by_csrf")],
                Some("https://evil.com"),
            )
            .await;
        let signout_missing = browser.post("/signout", &[]).await;
        let after = browser.get("/account").await;
        // Assert
        for (case, page) in [
            ("missing", &missing),
            ("wrong", &wrong),
            ("foreign origin", &foreign),
            ("null origin", &null),
            ("no pre-session cookie", &no_cookie),
            ("profile without token", &profile_missing),
            ("profile from another origin", &profile_foreign),
            ("sign-out without token", &signout_missing),
        ] {
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{case}: {}", page.body);
            assert!(page.body.contains("csrf_failed"), "{case}");
            assert!(
                page.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
        }
        assert_eq!(
            still_out.status,
            StatusCode::SEE_OTHER,
            "no session was opened"
        );
        assert_eq!(after.status, StatusCode::OK, "still signed in");
        assert!(!after.body.contains("changed_by_csrf"));
    }
);

// Requirement: the page sign-in is the API's login for the limits: failed page sign-ins count
// towards the account lockout, and a locked account is refused on the page (429) and the API.
both!(
    page_sign_ins_count_towards_the_lockout,
    &["--lockout-threshold", "3", "--lockout-duration", "1m"],
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        // Act
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let page = browser
                .submit(
                    "/signin",
                    "/signin",
                    &[("login", &user.email), ("password", "wrong password 1")],
                )
                .await;
            statuses.push(page.status);
        }
        let locked_page = browser
            .submit(
                "/signin",
                "/signin",
                &[("login", &user.email), ("password", &user.password)],
            )
            .await;
        let api = app.login(&user).await;
        // Assert
        assert_eq!(statuses, vec![StatusCode::UNAUTHORIZED; 3]);
        assert_eq!(
            locked_page.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            locked_page.body
        );
        assert!(locked_page.headers.contains_key("retry-after"));
        assert!(locked_page.body.contains(r#"role="alert""#));
        assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    }
);

// Requirement: the per-address login rate limit counts page sign-ins too.
both!(
    page_sign_ins_count_towards_the_rate_limit,
    &["--login-rate-limit", "3/1m"],
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        // Act
        for _ in 0..3 {
            browser
                .submit(
                    "/signin",
                    "/signin",
                    &[("login", &user.email), ("password", "wrong password 1")],
                )
                .await;
        }
        let api = app.login(&user).await;
        // Assert
        assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    }
);

// Requirement: the page session is a normal session: ending all sessions over the API
// (logout-all) signs the page out at once, and its cookies are cleared.
both!(api_logout_all_signs_the_page_out, |app| async move {
    // Arrange
    let user = registered(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&user).await;
    let access = browser.access_token();
    // Act
    let before = browser.get("/account").await;
    let resp = app
        .post("/auth/logout-all", Some(&access), serde_json::json!({}))
        .await;
    let after = browser.get("/account").await;
    // Assert
    assert_eq!(before.status, StatusCode::OK);
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(
        browser.cookie("authgate_page_access").is_none(),
        "cookie cleared"
    );
});

// Requirement: a deactivated user cannot sign in on the page (answered like a wrong password),
// and an open page session of theirs ends.
both!(a_deactivated_user_is_refused, |app| async move {
    // Arrange
    let user = registered(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&user).await;
    app.deactivate(&browser.access_token()).await;
    // Act
    let open = browser.get("/account").await;
    let again = Browser::new(&app)
        .submit(
            "/signin",
            "/signin",
            &[("login", &user.email), ("password", &user.password)],
        )
        .await;
    let wrong = Browser::new(&app)
        .submit(
            "/signin",
            "/signin",
            &[("login", &user.email), ("password", "not the password")],
        )
        .await;
    // Assert
    assert_eq!(open.status, StatusCode::SEE_OTHER);
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(again.body.contains("is not right"));
});

// Requirement: an expired access cookie is renewed through the normal refresh (rotated refresh
// cookie), so the browser stays signed in.
both!(an_expired_access_cookie_is_refreshed, |app| async move {
    // Arrange
    let user = registered(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&user).await;
    let (access, refresh) = (
        browser.access_token(),
        browser.cookie("authgate_page_session").unwrap().to_owned(),
    );
    // Act
    app.clock.advance(app.settings.access_ttl + 120);
    let page = browser.get("/account").await;
    // Assert
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_ne!(browser.access_token(), access);
    assert_ne!(browser.cookie("authgate_page_session").unwrap(), refresh);
});

// Requirement: sign-out (POST with the CSRF token) ends the session and expires the cookies;
// the old access token is refused afterwards.
both!(
    sign_out_ends_the_session_and_expires_the_cookies,
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        browser.sign_in(&user).await;
        let access = browser.access_token();
        // Act
        let out = browser.submit("/account", "/signout", &[]).await;
        let page = browser.get("/account").await;
        // Assert
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(out.location().as_deref(), Some("/signin"));
        let expired: Vec<&String> = browser
            .set_cookies
            .iter()
            .filter(|c| c.contains("Max-Age=0"))
            .collect();
        assert!(
            expired
                .iter()
                .any(|c| c.starts_with("authgate_page_access=")),
            "{expired:?}"
        );
        assert!(
            expired
                .iter()
                .any(|c| c.starts_with("authgate_page_session=")),
            "{expired:?}"
        );
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(app.me_status(&access).await, StatusCode::UNAUTHORIZED);
    }
);

// Requirement: every hosted page is no-store, sends no referrer to other sites, may not be framed, and has a
// CSP without 'unsafe-*': scripts only by a per-response nonce, on the pages that have them.
both!(every_page_sends_the_strict_headers, |app| async move {
    // Arrange
    let user = registered(&app).await;
    let mut browser = Browser::new(&app);
    let mut pages = Vec::new();
    for path in ["/signin", "/signup", "/forgot-password"] {
        pages.push((path, browser.get(path).await));
    }
    browser.sign_in(&user).await;
    pages.push(("/account", browser.get("/account").await));
    let enrol = browser
        .submit(
            "/account",
            "/account/mfa/totp",
            &[("current_password", &user.password)],
        )
        .await;
    pages.push(("/account/mfa/totp", enrol));
    let again = browser.get("/signin").await;
    // Assert
    let mut nonces = Vec::new();
    for (path, page) in &pages {
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(page.headers["cache-control"], "no-store", "{path}");
        // same-origin, not no-referrer: with no-referrer browsers post `Origin: null`.
        assert_eq!(page.headers["referrer-policy"], "same-origin", "{path}");
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        if let Some(i) = csp.find("'nonce-") {
            nonces.push(csp[i..].split('\'').nth(1).unwrap().to_owned());
        }
        assert!(
            page.body.contains(r#"<html lang="en">"#) && page.body.contains("name=\"viewport\"")
        );
        for outside in [
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "href=\"//",
            "url(",
            "@import",
        ] {
            assert!(
                !page.body.contains(outside),
                "{path} loads nothing from elsewhere ({outside})"
            );
        }
    }
    assert_eq!(
        again.status,
        StatusCode::SEE_OTHER,
        "signed in: /signin moves on"
    );
    let unique: std::collections::HashSet<_> = nonces.iter().collect();
    assert_eq!(unique.len(), nonces.len(), "a fresh nonce per response");
});
