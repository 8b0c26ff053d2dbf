//! The hosted pages' passkeys (issue 13): "Add a passkey", rename and remove on `/account`,
//! "Sign in with a passkey" on `/signin` into a page session, and a passkey as the pages'
//! second-factor step, driven over HTTP with the software authenticator of `passkeys.rs` and
//! the cookie-jar client of `pages_browser.rs`, the way `/assets/passkeys.js` calls them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::pages_browser::{Browser, Page, registered};
use crate::passkeys::{ARGS, HONEST, PUBLIC_URL, SoftKey};
use crate::support::*;

/// The CSRF token the page's passkey block carries (`data-csrf`).
fn block_csrf(page: &Page) -> String {
    page.attr("data-csrf")
}

/// "Add a passkey" on /account as the script does it: start (with the password), create,
/// finish. The finish's answer and the key.
async fn add_passkey(
    browser: &mut Browser<'_>,
    password: &str,
    name: &str,
) -> (Page, Option<SoftKey>) {
    let account = browser.get("/account").await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.body);
    let csrf = block_csrf(&account);
    let start = browser
        .post_json(
            "/account/passkeys/start",
            &csrf,
            &json!({"current_password": password}),
        )
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let start = start.json();
    let (key, credential) = SoftKey::create(&start["options"], &HONEST);
    let body = json!({"ceremony_id": start["ceremony_id"], "credential": credential, "name": name});
    let finish = browser
        .post_json("/account/passkeys/finish", &csrf, &body)
        .await;
    let ok = finish.status == StatusCode::CREATED;
    (finish, ok.then_some(key))
}

/// A user registered over the API, signed in on the pages with the password, holding one
/// passkey added on /account.
async fn page_passkey_user(app: &TestApp) -> (TestUser, SoftKey) {
    let user = registered(app).await;
    let mut browser = Browser::new(app);
    browser.sign_in(&user).await;
    let (finish, key) = add_passkey(&mut browser, &user.password, "Laptop").await;
    assert_eq!(finish.status, StatusCode::CREATED, "{}", finish.body);
    (user, key.expect("key"))
}

/// "Sign in with a passkey" on a fresh browser: GET /signin, start, get, finish with `extra`
/// members (return_to, remember_me). The browser and the finish's answer.
async fn passkey_sign_in<'a>(
    app: &'a TestApp,
    key: &mut SoftKey,
    extra: Value,
) -> (Browser<'a>, Page) {
    let mut browser = Browser::new(app);
    let signin = browser.get("/signin").await;
    assert!(
        signin.body.contains(r#"data-passkey="signin""#),
        "the passkey block"
    );
    let csrf = block_csrf(&signin);
    let start = browser
        .post_json("/signin/passkey/start", &csrf, &json!({}))
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let start = start.json();
    let mut body = json!({
        "ceremony_id": start["ceremony_id"],
        "credential": key.get(&start["options"], &HONEST),
    });
    merge(&mut body, extra);
    let finish = browser
        .post_json("/signin/passkey/finish", &csrf, &body)
        .await;
    (browser, finish)
}

/// The user's passkeys as the API lists them to the page session's own access token.
async fn listed(app: &TestApp, browser: &Browser<'_>) -> Vec<Value> {
    let list: Value = app
        .get("/users/me/passkeys", Some(&browser.access_token()))
        .await
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().clone()
}

// Requirement: a signed-in user adds a passkey from /account (password, create, finish); the
// page lists it with its name and dates; it can be renamed and removed with plain forms.
both!(
    a_passkey_is_added_renamed_and_removed_on_the_account_page,
    ARGS,
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        browser.sign_in(&user).await;
        let before = browser.get("/account").await;
        // Act
        let (added, _key) = add_passkey(&mut browser, &user.password, "Laptop").await;
        let after_add = browser.get("/account").await;
        let id = listed(&app, &browser).await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let renamed = browser
            .submit(
                "/account",
                "/account/passkeys/rename",
                &[("passkey_id", &id), ("name", "Work laptop")],
            )
            .await;
        let bad_name = browser
            .submit(
                "/account",
                "/account/passkeys/rename",
                &[("passkey_id", &id), ("name", "   ")],
            )
            .await;
        let after_rename = browser.get("/account").await;
        let removed = browser
            .submit(
                "/account",
                "/account/passkeys/remove",
                &[("passkey_id", &id)],
            )
            .await;
        let again = browser
            .submit(
                "/account",
                "/account/passkeys/remove",
                &[("passkey_id", &id)],
            )
            .await;
        let after_remove = browser.get("/account").await;
        // Assert
        assert!(before.body.contains(r#"id="passkey-none""#));
        assert!(before.body.contains(r#"data-passkey="register""#));
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        assert_eq!(
            added.json()["redirect"],
            "/account?done=passkey_added#passkeys"
        );
        assert!(after_add.body.contains("Laptop"), "{}", after_add.body);
        assert!(after_add.body.contains("not used yet"));
        assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
        assert_eq!(
            renamed.location().as_deref(),
            Some("/account?done=passkey_renamed#passkeys")
        );
        assert_eq!(bad_name.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad_name.body.contains(r#"role="alert""#));
        assert!(after_rename.body.contains("Work laptop"));
        assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
        assert_eq!(
            removed.location().as_deref(),
            Some("/account?done=passkey_removed#passkeys")
        );
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        assert!(after_remove.body.contains(r#"id="passkey-none""#));
        assert!(listed(&app, &browser).await.is_empty());
    }
);

// Requirement: adding a passkey from a password session needs the current password (422
// without, 401 wrong), and the page's CSRF token (403 `csrf_failed` without or with another
// session's); without a page session the call is sent to /signin; rename and remove forms
// need their token too.
both!(
    adding_a_passkey_needs_the_password_and_the_csrf_token,
    ARGS,
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        browser.sign_in(&user).await;
        let csrf = block_csrf(&browser.get("/account").await);
        let other = registered(&app).await;
        let mut other_browser = Browser::new(&app);
        other_browser.sign_in(&other).await;
        let other_csrf = block_csrf(&other_browser.get("/account").await);
        let mut nobody = Browser::new(&app);
        let path = "/account/passkeys/start";
        // Act
        let no_password = browser.post_json(path, &csrf, &json!({})).await;
        let wrong = browser
            .post_json(path, &csrf, &json!({"current_password": "not it at all"}))
            .await;
        let body = json!({"current_password": user.password});
        let no_token = browser.post_json(path, "", &body).await;
        let foreign_token = browser.post_json(path, &other_csrf, &body).await;
        let signed_out = nobody.post_json(path, &csrf, &body).await;
        let form_without_token = browser
            .post(
                "/account/passkeys/remove",
                &[("passkey_id", &uuid::Uuid::now_v7().to_string())],
            )
            .await;
        // Assert
        assert_eq!(no_password.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        for (case, page) in [
            ("no token", &no_token),
            ("another session's", &foreign_token),
        ] {
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{case}");
            assert_eq!(page.json()["code"], "csrf_failed", "{case}");
        }
        assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
        assert!(
            signed_out
                .location()
                .is_some_and(|l| l.starts_with("/signin"))
        );
        assert_eq!(form_without_token.status, StatusCode::FORBIDDEN);
    }
);

// Requirement: "Sign in with a passkey" opens a page session (the page cookies a password
// sign-in sets; `amr: ["hwk","user"]`), after which /account is 200; the passkey shows as used.
both!(
    a_passkey_signs_in_to_a_page_session,
    ARGS,
    |app| async move {
        // Arrange
        let (user, mut key) = page_passkey_user(&app).await;
        // Act
        let (mut browser, finish) = passkey_sign_in(&app, &mut key, json!({})).await;
        let account = browser.get("/account").await;
        // Assert
        assert_eq!(finish.status, StatusCode::OK, "{}", finish.body);
        assert_eq!(finish.json()["redirect"], "/account");
        assert_eq!(
            header_value(&finish, "cache-control").as_deref(),
            Some("no-store")
        );
        assert!(browser.cookie("authgate_page_session").is_some());
        let claims = claims_of(&browser.access_token());
        assert_eq!(claims["amr"], json!(["hwk", "user"]));
        assert_eq!(account.status, StatusCode::OK);
        assert!(account.body.contains(&user.email));
        assert!(account.body.contains("last used"));
        assert!(
            !account.body.contains(r#"id="passkey-password""#),
            "a passkey session is not asked for the password again"
        );
    }
);

// Requirement: after a passkey sign-in the page goes to `return_to` when it is a path here or
// under AUTHGATE_PUBLIC_URL, and to /account for a foreign one (no open redirect).
both!(
    the_passkey_sign_in_honours_return_to_and_refuses_a_foreign_one,
    ARGS,
    |app| async move {
        // Arrange
        let (_user, mut key) = page_passkey_user(&app).await;
        let under_public = format!("{PUBLIC_URL}/account?tab=1");
        let cases = [
            ("/account?tab=passkeys", "/account?tab=passkeys"),
            (under_public.as_str(), under_public.as_str()),
            ("https://evil.example.com/steal", "/account"),
            ("//evil.example.com/steal", "/account"),
            ("/%2F%2Fevil.example.com", "/account"),
        ];
        for (return_to, expected) in cases {
            // Act
            let (_, finish) =
                passkey_sign_in(&app, &mut key, json!({"return_to": return_to})).await;
            // Assert
            assert_eq!(
                finish.status,
                StatusCode::OK,
                "{return_to}: {}",
                finish.body
            );
            assert_eq!(finish.json()["redirect"], expected, "{return_to}");
        }
    }
);

// Requirement: the passkey sign-in calls need the sign-in page's CSRF token, bound to its
// pre-session cookie (403 `csrf_failed` without it, with a wrong one, or without the cookie),
// and refuse a foreign Origin; the ceremony is not consumed by a refused finish.
both!(
    the_passkey_sign_in_refuses_a_missing_or_foreign_csrf_token,
    ARGS,
    |app| async move {
        // Arrange
        let (_user, mut key) = page_passkey_user(&app).await;
        let mut browser = Browser::new(&app);
        let csrf = block_csrf(&browser.get("/signin").await);
        let start = browser
            .post_json("/signin/passkey/start", &csrf, &json!({}))
            .await
            .json();
        let body = json!({
            "ceremony_id": start["ceremony_id"],
            "credential": key.get(&start["options"], &HONEST),
        });
        let mut cookieless = Browser::new(&app);
        // Act
        let no_token = browser
            .post_json("/signin/passkey/start", "", &json!({}))
            .await;
        let wrong_finish = browser
            .post_json("/signin/passkey/finish", "forged", &body)
            .await;
        let no_cookie = cookieless
            .post_json("/signin/passkey/start", &csrf, &json!({}))
            .await;
        let foreign = app
            .client
            .post(app.url("/signin/passkey/start"))
            .header("cookie", browser_cookies(&browser))
            .header("origin", "https://evil.example.com")
            .header("x-csrf-token", &csrf)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let honest = browser
            .post_json("/signin/passkey/finish", &csrf, &body)
            .await;
        // Assert
        for (case, page) in [
            ("no token", &no_token),
            ("a forged token", &wrong_finish),
            ("no pre-session cookie", &no_cookie),
        ] {
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{case}");
            assert_eq!(page.json()["code"], "csrf_failed", "{case}");
        }
        assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
        assert_eq!(honest.status, StatusCode::OK, "{}", honest.body);
    }
);

// Requirement: on the pages' second-factor step an account with a passkey is offered it, and
// answering with it opens the page session (`amr: ["pwd","hwk"]`); an account without one is
// not offered it.
both!(
    a_passkey_answers_the_second_factor_step_of_the_pages,
    ARGS,
    |app| async move {
        // Arrange
        let mfa = app.mfa_user().await;
        let (ceremony, options) = app
            .passkey_start(&mfa.tokens.access, &mfa.user.password)
            .await;
        let (mut key, credential) = SoftKey::create(&options, &HONEST);
        let added = app
            .passkey_finish(&mfa.tokens.access, &ceremony, &credential)
            .await;
        assert_eq!(added.status(), StatusCode::CREATED);
        let plain = app.mfa_user().await;
        let mut browser = Browser::new(&app);
        let login = [
            ("login", mfa.user.email.as_str()),
            ("password", &mfa.user.password),
        ];
        // Act
        let step = browser.submit("/signin", "/signin", &login).await;
        let csrf = block_csrf(&step);
        let mfa_token = step.attr("data-mfa-token");
        let start = browser
            .post_json(
                "/signin/mfa/passkey/start",
                &csrf,
                &json!({"mfa_token": mfa_token}),
            )
            .await;
        let start = start.json();
        let body = json!({
            "mfa_token": mfa_token,
            "ceremony_id": start["ceremony_id"],
            "credential": key.get(&start["options"], &HONEST),
            "return_to": "/account?from=mfa",
        });
        let finish = browser
            .post_json("/signin/mfa/passkey/finish", &csrf, &body)
            .await;
        let account = browser.get("/account").await;
        let mut other = Browser::new(&app);
        let plain_login = [
            ("login", plain.user.email.as_str()),
            ("password", &plain.user.password),
        ];
        let plain_step = other.submit("/signin", "/signin", &plain_login).await;
        // Assert
        assert_eq!(step.status, StatusCode::OK);
        assert!(step.body.contains(r#"data-passkey="mfa""#), "{}", step.body);
        assert_eq!(finish.status, StatusCode::OK, "{}", finish.body);
        assert_eq!(finish.json()["redirect"], "/account?from=mfa");
        assert_eq!(
            claims_of(&browser.access_token())["amr"],
            json!(["pwd", "hwk"])
        );
        assert_eq!(account.status, StatusCode::OK);
        assert_eq!(plain_step.status, StatusCode::OK);
        assert!(plain_step.body.contains(r#"name="mfa_token""#));
        assert!(!plain_step.body.contains(r#"data-passkey="mfa""#));
    }
);

// Requirement: the pages with a passkey part load /assets/passkeys.js (served here as
// text/javascript) with the nonce their CSP allows, and nothing inline.
both!(
    the_passkey_script_is_served_and_loaded_by_nonce,
    ARGS,
    |app| async move {
        // Arrange
        let user = registered(&app).await;
        let mut browser = Browser::new(&app);
        // Act
        let script = app.get("/assets/passkeys.js", None).await;
        let content_type = header(&script, "content-type");
        let text = script.text().await.unwrap();
        let signin = browser.get("/signin").await;
        browser.sign_in(&user).await;
        let account = browser.get("/account").await;
        // Assert
        assert_eq!(
            content_type.as_deref(),
            Some("text/javascript; charset=utf-8")
        );
        assert!(text.contains("navigator.credentials.create"));
        for (name, page) in [("/signin", &signin), ("/account", &account)] {
            let nonce = page.attr("nonce");
            let csp = header_value(page, "content-security-policy").unwrap();
            assert!(
                csp.contains(&format!("script-src 'nonce-{nonce}'")),
                "{name}: {csp}"
            );
            assert!(page.body.contains(r#"src="/assets/passkeys.js""#), "{name}");
            assert!(
                !page.body.contains(" onclick="),
                "{name}: no inline handlers"
            );
        }
    }
);

// Requirement: the page's passkey sign-in counts against the same per-IP login limit as the
// API's (429 with Retry-After once it is used up), shared with `POST /auth/passkey/start`.
both!(
    the_page_passkey_sign_in_is_rate_limited_like_the_api,
    &["--public-url", PUBLIC_URL, "--login-rate-limit", "3/1m"],
    |app| async move {
        // Arrange
        let mut browser = Browser::new(&app);
        let csrf = block_csrf(&browser.get("/signin").await);
        for _ in 0..2 {
            let start = browser
                .post_json("/signin/passkey/start", &csrf, &json!({}))
                .await;
            assert_eq!(start.status, StatusCode::OK);
        }
        let api = app.post("/auth/passkey/start", None, json!({})).await;
        assert_eq!(api.status(), StatusCode::OK);
        // Act
        let limited = browser
            .post_json("/signin/passkey/start", &csrf, &json!({}))
            .await;
        // Assert
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.json()["code"], "too_many_requests");
        assert!(header_value(&limited, "retry-after").is_some());
    }
);

fn header_value(page: &Page, name: &str) -> Option<String> {
    page.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn browser_cookies(browser: &Browser<'_>) -> String {
    browser
        .jar
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}
