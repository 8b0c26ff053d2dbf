//! Lockout as denial of service (hardening issue, item 3): failed attempts without a device
//! token lock the pair (account, address), not the account; a device token from an earlier
//! successful login (OWASP's "device cookie") is counted on its own and never meets those
//! locks; and attempts without one are still limited per account across all addresses.
//! Addresses are simulated with `X-Forwarded-For` behind the trusted proxy 127.0.0.1.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::support::*;

const PROXIED: &[&str] = &[
    "--trusted-proxies",
    "127.0.0.1/32",
    "--lockout-threshold",
    "5",
];
/// [`PROXIED`] with a per-account ceiling of 10 (then 7) attempts an hour.
const CEILING_10: &[&str] = &[
    "--trusted-proxies",
    "127.0.0.1/32",
    "--lockout-threshold",
    "5",
    "--account-login-rate-limit",
    "10/1h",
];
const CEILING_7: &[&str] = &[
    "--trusted-proxies",
    "127.0.0.1/32",
    "--lockout-threshold",
    "5",
    "--account-login-rate-limit",
    "7/1h",
];
/// The attacker's address, A.
const ATTACKER: &str = "203.0.113.9";
/// The victim's other address, B.
const HOME: &str = "192.0.2.10";

/// `POST /auth/login` from `addr` (as the proxy says), with a device token if given.
async fn login_at(
    app: &TestApp,
    addr: &str,
    login: &str,
    pw: &str,
    device: Option<&str>,
) -> Response {
    let mut body = json!({"username": login, "password": pw});
    if let Some(token) = device {
        body["device_token"] = json!(token);
    }
    let request = app
        .client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", addr);
    request.json(&body).send().await.expect("request")
}

/// The status, and the device token of a 200.
async fn outcome(resp: Response) -> (StatusCode, Option<String>) {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let device = body["device_token"].as_str().map(str::to_owned);
    assert_eq!(
        device.is_some(),
        status == StatusCode::OK,
        "{status}: {body}"
    );
    (status, device)
}

/// Register `user` and sign in from `addr`: the device token of that login.
async fn device_of(app: &TestApp, user: &TestUser, addr: &str) -> String {
    assert_eq!(app.register(user).await.status(), StatusCode::CREATED);
    let resp = login_at(app, addr, &user.email, &user.password, None).await;
    let (status, device) = outcome(resp).await;
    assert_eq!(status, StatusCode::OK);
    device.expect("a device token")
}

/// Five wrong passwords for `login` from `addr`, then check it is locked there.
async fn lock_from(app: &TestApp, addr: &str, login: &str) {
    for i in 0..5 {
        let resp = login_at(app, addr, login, &format!("wrong guess {i}"), None).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let locked = login_at(app, addr, login, "wrong guess 5", None).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
}

both!(
    /// Item 3: after an attacker at A locks V, V signs in with the right password from B, and
    /// from A with the device token of an earlier login; the attacker at A stays locked, and
    /// so does anyone at A without a device token.
    a_lock_set_from_one_address_does_not_lock_the_victim_out,
    PROXIED,
    |app| async move {
        // Arrange
        let victim = TestUser::generate();
        let device = device_of(&app, &victim, HOME).await;
        lock_from(&app, ATTACKER, &victim.email).await;
        // Act
        let from_home = login_at(&app, HOME, &victim.email, &victim.password, None).await;
        let with_device =
            login_at(&app, ATTACKER, &victim.email, &victim.password, Some(&device)).await;
        // Assert
        let (status, _) = outcome(from_home).await;
        assert_eq!(status, StatusCode::OK, "V from B");
        let (status, next) = outcome(with_device).await;
        assert_eq!(status, StatusCode::OK, "V from A with its device token");
        assert_ne!(next.as_deref(), Some(device.as_str()), "a fresh device token");
        let again = login_at(&app, ATTACKER, &victim.email, "wrong guess 6", None).await;
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS, "the attacker at A");
        let right = login_at(&app, ATTACKER, &victim.email, &victim.password, None).await;
        assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS, "A without a token");
        // The token presented was used up; the new one works (and from A too).
        let reused = login_at(&app, ATTACKER, &victim.email, &victim.password, Some(&device));
        assert_eq!(reused.await.status(), StatusCode::TOO_MANY_REQUESTS, "used up");
        let next = next.unwrap();
        let renewed = login_at(&app, ATTACKER, &victim.username, &victim.password, Some(&next));
        assert_eq!(renewed.await.status(), StatusCode::OK);
    }
);

both!(
    /// Item 3: attempts without a device token from many addresses, each below its own lock,
    /// meet the account's ceiling (here 10 per hour): then even the right password from a new
    /// address is refused, and only a device token gets in. Unknown accounts alike.
    attempts_from_many_addresses_without_a_device_token_are_limited_per_account,
    CEILING_10,
    |app| async move {
        // Arrange: V signs in once from home (one attempt of the ten).
        let victim = TestUser::generate();
        let device = device_of(&app, &victim, HOME).await;
        let ghost = TestUser::generate();
        // Act: three guesses from each of many addresses.
        let mut tried = [0, 0];
        for i in 0..10 {
            let addr = format!("198.51.100.{i}");
            for (n, login) in [&victim.email, &ghost.email].into_iter().enumerate() {
                for _ in 0..3 {
                    let resp = login_at(&app, &addr, login, "wrong guess", None).await;
                    match resp.status() {
                        StatusCode::UNAUTHORIZED => tried[n] += 1,
                        status => assert_eq!(status, StatusCode::TOO_MANY_REQUESTS),
                    }
                }
            }
        }
        // Assert
        assert_eq!(tried[0], 9, "the ceiling, less V's own login");
        assert_eq!(tried[1], 10, "an unknown account has the same ceiling");
        let elsewhere = login_at(&app, "192.0.2.99", &victim.email, &victim.password, None).await;
        assert_eq!(elsewhere.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait = header(&elsewhere, "retry-after").expect("Retry-After");
        assert!(wait.parse::<u64>().unwrap() > 0, "{wait}");
        let with_device =
            login_at(&app, "192.0.2.99", &victim.email, &victim.password, Some(&device)).await;
        assert_eq!(with_device.status(), StatusCode::OK, "a device token gets in");
    }
);

both!(
    /// Item 3: a forged device token, or another user's, is no token at all: the locked pair
    /// stays locked, and the answer is the same as without one.
    a_forged_or_another_users_device_token_is_no_help,
    PROXIED,
    |app| async move {
        let victim = TestUser::generate();
        device_of(&app, &victim, HOME).await;
        let other = TestUser::generate();
        let others_device = device_of(&app, &other, ATTACKER).await;
        lock_from(&app, ATTACKER, &victim.email).await;
        let forged = "A".repeat(43);
        for token in [forged.as_str(), others_device.as_str(), "", &"x".repeat(10_000)] {
            let resp = login_at(&app, ATTACKER, &victim.email, &victim.password, Some(token));
            let shown = &token[..token.len().min(8)];
            assert_eq!(resp.await.status(), StatusCode::TOO_MANY_REQUESTS, "{shown}");
        }
        // The other user's token is still theirs.
        let theirs = login_at(&app, ATTACKER, &other.email, &other.password, Some(&others_device));
        assert_eq!(theirs.await.status(), StatusCode::OK);
    }
);

both!(
    /// Item 3: a device token has a budget of its own (the lockout threshold): five wrong
    /// passwords with it burn it (audited as `account_locked`), after which it is no help.
    a_device_token_burns_after_the_threshold_of_failures,
    PROXIED,
    |app| async move {
        let victim = TestUser::generate();
        let device = device_of(&app, &victim, HOME).await;
        let id = {
            let tokens = app.login_ok(&victim).await;
            app.user_id(&tokens.access).await
        };
        for i in 0..5 {
            let guess = format!("guess {i}");
            let resp = login_at(&app, ATTACKER, &victim.email, &guess, Some(&device)).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "guess {i}");
        }
        // Burned: attempts with it now count on the pair (A, V), which locks.
        lock_from(&app, ATTACKER, &victim.email).await;
        let burned = login_at(&app, ATTACKER, &victim.email, &victim.password, Some(&device));
        assert_eq!(burned.await.status(), StatusCode::TOO_MANY_REQUESTS);
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let log: Value = app
            .get(&format!("/admin/audit?user={id}&type=account_locked"), Some(&admin.access))
            .await
            .json()
            .await
            .unwrap();
        let items = log["items"].as_array().unwrap();
        let details: Vec<&str> = items.iter().filter_map(|e| e["detail"].as_str()).collect();
        assert!(details.iter().any(|d| d.contains("device token burned")), "{log}");
        assert_eq!(details.len(), 2, "the burn and the pair's lock: {log}");
    }
);

both!(
    /// Item 3: a password change voids the device tokens issued before it (they are bound to
    /// the password hash), and an admin's unlock clears every counter: each address's lock
    /// and the per-account ceiling.
    a_password_change_voids_device_tokens_and_unlock_clears_every_counter,
    CEILING_7,
    |app| async move {
        let victim = TestUser::generate();
        let device = device_of(&app, &victim, HOME).await;
        let resp = login_at(&app, HOME, &victim.email, &victim.password, None).await;
        let tokens = Tokens::from_json(&resp.json().await.unwrap());
        let id = app.user_id(&tokens.access).await;
        let new_password = "a brand new passphrase 42";
        let change = json!({"current_password": victim.password, "new_password": new_password});
        let changed = app.post("/users/me/password", Some(&tokens.access), change).await;
        assert_eq!(changed.status(), StatusCode::OK);
        // Locked at A, and the ceiling reached (7: two logins and five guesses).
        lock_from(&app, ATTACKER, &victim.email).await;
        let voided = login_at(&app, ATTACKER, &victim.email, new_password, Some(&device)).await;
        assert_eq!(voided.status(), StatusCode::TOO_MANY_REQUESTS, "a void token");
        let elsewhere = login_at(&app, "192.0.2.99", &victim.email, new_password, None).await;
        assert_eq!(elsewhere.status(), StatusCode::TOO_MANY_REQUESTS, "the ceiling");
        // Act
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        let path = format!("/admin/users/{id}/unlock");
        let unlocked = app.post(&path, Some(&admin.access), json!({})).await;
        assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
        // Assert
        for addr in [ATTACKER, "192.0.2.99"] {
            let resp = login_at(&app, addr, &victim.email, new_password, None).await;
            assert_eq!(resp.status(), StatusCode::OK, "from {addr}");
        }
    }
);

both!(
    /// Item 3: the OAuth2 password grant issues a device token too and accepts one back as the
    /// `device_token` parameter; both fields are in the OpenAPI document.
    the_token_endpoint_issues_and_accepts_device_tokens,
    PROXIED,
    |app| async move {
        let victim = TestUser::generate();
        assert_eq!(app.register(&victim).await.status(), StatusCode::CREATED);
        let grant = |device: Option<&str>, addr: &str| {
            let mut pairs = vec![
                ("grant_type", "password"),
                ("username", victim.email.as_str()),
                ("password", victim.password.as_str()),
            ];
            pairs.extend(device.map(|d| ("device_token", d)));
            app.client
                .post(app.url("/auth/token"))
                .header("x-forwarded-for", addr)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&pairs))
                .send()
        };
        let (status, device) = outcome(grant(None, HOME).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        lock_from(&app, ATTACKER, &victim.email).await;
        let with_device = grant(device.as_deref(), ATTACKER).await.unwrap();
        assert_eq!(with_device.status(), StatusCode::OK);
        let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
        let schemas = &doc["components"]["schemas"];
        for schema in ["TokenResponse", "LoginRequest", "TokenForm"] {
            assert!(schemas[schema]["properties"]["device_token"].is_object(), "{schema}");
        }
    }
);
