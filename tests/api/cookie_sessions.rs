//! Issue #13, cookie sessions for browser apps: `"transport": "cookie"` at login (and at the
//! second-factor step), the cookie refresh and logout with their CSRF and `Origin` checks, CORS
//! with credentials, and the body transport left as it was.

use crate::both;
use crate::support::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const SPA: &str = "http://localhost:3000";
const ARGS: &[&str] = &["--cors-origins", SPA];

/// What a cookie login or refresh left in the browser.
#[derive(Debug, Clone)]
struct Jar {
    access: String,
    /// (name, value) of the refresh cookie.
    refresh: (String, String),
    /// (name, value) of the CSRF cookie.
    csrf: (String, String),
    /// Every `Set-Cookie` of the answer.
    set_cookies: Vec<String>,
}

fn set_cookies(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `Set-Cookie`s for cookie `name`.
fn cookies_named<'a>(all: &'a [String], name: &str) -> Vec<&'a String> {
    all.iter()
        .filter(|c| c.starts_with(&format!("{name}=")))
        .collect()
}

fn value_of(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

/// The answer of a cookie login/refresh/mfa step, checked: 200, no refresh token in the body,
/// the refresh cookie `refresh_name` (at both paths, same value) and `csrf_name`.
async fn jar_from(resp: Response, refresh_name: &str, csrf_name: &str) -> Jar {
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    let all = set_cookies(&resp);
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let refresh = cookies_named(&all, refresh_name);
    assert_eq!(refresh.len(), 2, "{all:?}");
    assert_eq!(value_of(refresh[0]), value_of(refresh[1]));
    let csrf = cookies_named(&all, csrf_name);
    assert_eq!(csrf.len(), 1, "{all:?}");
    Jar {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: (refresh_name.to_owned(), value_of(refresh[0])),
        csrf: (csrf_name.to_owned(), value_of(csrf[0])),
        set_cookies: all,
    }
}

async fn cookie_login(app: &TestApp, user: &TestUser, remember_me: bool) -> Response {
    let body = json!({"username": user.email, "password": user.password,
                      "remember_me": remember_me, "transport": "cookie"});
    app.post("/auth/login", None, body).await
}

/// A fresh user signed in with the cookie transport (plain-http development names).
async fn cookie_user(app: &TestApp) -> (TestUser, Jar) {
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
    let jar = jar_from(
        cookie_login(app, &user, false).await,
        "authgate_refresh",
        "authgate_csrf",
    )
    .await;
    (user, jar)
}

/// `POST path` as the browser sends it: the cookie, `origin` and `csrf` (each if given), no body.
async fn cookie_post(
    app: &TestApp,
    path: &str,
    jar: &Jar,
    origin: Option<&str>,
    csrf: Option<&str>,
) -> Response {
    let cookie = format!(
        "{}={}; {}={}",
        jar.refresh.0, jar.refresh.1, jar.csrf.0, jar.csrf.1
    );
    let mut req = app.client.post(app.url(path)).header("cookie", cookie);
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    if let Some(csrf) = csrf {
        req = req.header("x-csrf-token", csrf);
    }
    req.send().await.unwrap()
}

/// A cookie request done right: listed origin, the jar's CSRF token.
async fn cookie_refresh(app: &TestApp, jar: &Jar) -> Response {
    cookie_post(app, "/auth/refresh", jar, Some(SPA), Some(&jar.csrf.1)).await
}

// Requirement: a cookie login sets the refresh token only as an HttpOnly SameSite=Strict cookie scoped to /auth/refresh and /auth/logout, and a page-readable CSRF cookie; a refresh with the cookie, CSRF token and listed Origin rotates the cookie and returns a new access token only.
both!(
    a_cookie_login_sets_the_cookies_and_a_cookie_refresh_rotates_them,
    ARGS,
    |app| async move {
        // Arrange
        let (_, jar) = cookie_user(&app).await;
        // Assert: the login
        let refresh = cookies_named(&jar.set_cookies, "authgate_refresh");
        let paths: Vec<bool> = ["Path=/auth/refresh;", "Path=/auth/logout;"]
            .iter()
            .map(|p| refresh.iter().any(|c| c.contains(p)))
            .collect();
        assert_eq!(paths, [true, true], "{refresh:?}");
        for c in &refresh {
            assert!(
                c.contains("; HttpOnly") && c.contains("; SameSite=Strict"),
                "{c}"
            );
            assert!(
                c.contains("; Max-Age=86400"),
                "a day, as the refresh token: {c}"
            );
            assert!(!c.contains("Secure"), "plain http on localhost: {c}");
        }
        let csrf = &cookies_named(&jar.set_cookies, "authgate_csrf")[0];
        assert!(
            csrf.contains("Path=/;") && csrf.contains("SameSite=Strict"),
            "{csrf}"
        );
        assert!(!csrf.contains("HttpOnly"), "the page reads it: {csrf}");
        assert_eq!(app.me_status(&jar.access).await, StatusCode::OK);
        // Act
        let resp = cookie_refresh(&app, &jar).await;
        // Assert: rotated
        let next = jar_from(resp, "authgate_refresh", "authgate_csrf").await;
        assert_ne!(next.refresh.1, jar.refresh.1);
        assert_ne!(next.access, jar.access);
        assert_eq!(app.me_status(&next.access).await, StatusCode::OK);
        let again = jar_from(
            cookie_refresh(&app, &next).await,
            "authgate_refresh",
            "authgate_csrf",
        )
        .await;
        assert_eq!(app.me_status(&again.access).await, StatusCode::OK);
    }
);

// Requirement: a "remember me" cookie login lives as long as the remember-me refresh token (Max-Age).
both!(
    a_remembered_cookie_login_lives_as_long_as_its_refresh_token,
    ARGS,
    |app| async move {
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let resp = cookie_login(&app, &user, true).await;
        let jar = jar_from(resp, "authgate_refresh", "authgate_csrf").await;
        for c in &jar.set_cookies {
            assert!(c.contains("; Max-Age=2592000"), "30 days: {c}");
        }
    }
);

// Requirement: a cookie refresh or logout without the CSRF token of its own session in X-CSRF-Token is 403 csrf_failed, and the refusal does not use up the cookie.
both!(
    cookie_requests_without_their_sessions_csrf_token_are_refused,
    ARGS,
    |app| async move {
        // Arrange
        let (_, jar) = cookie_user(&app).await;
        let (_, other) = cookie_user(&app).await;
        let mut flipped = jar.csrf.1.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        for path in ["/auth/refresh", "/auth/logout"] {
            for (csrf, why) in [
                (None, "missing"),
                (Some("nonsense"), "malformed"),
                (Some(flipped.as_str()), "altered"),
                (Some(other.csrf.1.as_str()), "another session's"),
            ] {
                // Act
                let resp = cookie_post(&app, path, &jar, Some(SPA), csrf).await;
                // Assert
                assert!(set_cookies(&resp).is_empty(), "{path} {why}");
                let body = assert_problem(resp, StatusCode::FORBIDDEN, "csrf_failed").await;
                assert!(body["detail"].as_str().unwrap().contains("CSRF"), "{body}");
            }
        }
        assert_eq!(app.me_status(&jar.access).await, StatusCode::OK);
        let next = cookie_refresh(&app, &jar).await;
        assert_eq!(next.status(), StatusCode::OK, "the cookie still works");
    }
);

// Requirement: a cookie refresh or logout needs an Origin listed in AUTHGATE_CORS_ORIGINS: a missing, unlisted, look-alike or null Origin is 403 csrf_failed, even with the right CSRF token.
both!(
    cookie_requests_from_a_missing_or_unlisted_origin_are_refused,
    ARGS,
    |app| async move {
        let (_, jar) = cookie_user(&app).await;
        for path in ["/auth/refresh", "/auth/logout"] {
            for origin in [
                None,
                Some("http://evil.example"),
                Some("http://localhost:3000.evil.example"),
                Some("http://localhost:3001"),
                Some("null"),
            ] {
                let resp = cookie_post(&app, path, &jar, origin, Some(&jar.csrf.1)).await;
                let body = assert_problem(resp, StatusCode::FORBIDDEN, "csrf_failed").await;
                let detail = body["detail"].as_str().unwrap();
                assert!(
                    detail.contains("AUTHGATE_CORS_ORIGINS"),
                    "{origin:?}: {detail}"
                );
            }
        }
        assert_eq!(app.me_status(&jar.access).await, StatusCode::OK);
    }
);

// Requirement: without AUTHGATE_CORS_ORIGINS no cookie refresh is accepted (secure by default).
both!(
    without_listed_origins_no_cookie_refresh_passes,
    |app| async move {
        let (_, jar) = cookie_user(&app).await;
        let resp = cookie_refresh(&app, &jar).await;
        assert_problem(resp, StatusCode::FORBIDDEN, "csrf_failed").await;
    }
);

// Requirement: presenting a rotated refresh cookie after the grace window is refresh-token reuse: the whole session ends, and the answer expires the cookies.
both!(
    reusing_a_rotated_cookie_ends_the_session,
    ARGS,
    |app| async move {
        // Arrange
        let (_, old) = cookie_user(&app).await;
        let new = jar_from(
            cookie_refresh(&app, &old).await,
            "authgate_refresh",
            "authgate_csrf",
        )
        .await;
        app.clock.advance(11);
        // Act: the old cookie comes back
        let replay = cookie_refresh(&app, &old).await;
        // Assert
        let expired = set_cookies(&replay);
        assert_eq!(expired.len(), 3, "{expired:?}");
        assert!(
            expired.iter().all(|c| c.contains("Max-Age=0")),
            "{expired:?}"
        );
        assert_problem(replay, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
        let current = cookie_refresh(&app, &new).await;
        assert_problem(current, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
        assert_eq!(app.me_status(&new.access).await, StatusCode::UNAUTHORIZED);
    }
);

// Requirement: a cookie logout (CSRF token and listed Origin, no bearer token needed) ends the session: its access token is refused at once, both cookies are expired, and the cookie no longer refreshes.
both!(
    a_cookie_logout_expires_both_cookies_and_ends_the_session,
    ARGS,
    |app| async move {
        // Arrange
        let (_, jar) = cookie_user(&app).await;
        // Act
        let resp = cookie_post(&app, "/auth/logout", &jar, Some(SPA), Some(&jar.csrf.1)).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let expired = set_cookies(&resp);
        for name in ["authgate_refresh", "authgate_csrf"] {
            let named = cookies_named(&expired, name);
            assert!(!named.is_empty(), "{name}: {expired:?}");
            assert!(
                named
                    .iter()
                    .all(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0")),
                "{named:?}"
            );
        }
        assert_eq!(app.me_status(&jar.access).await, StatusCode::UNAUTHORIZED);
        let refresh = cookie_refresh(&app, &jar).await;
        assert_problem(refresh, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
        // A retried logout answers 204 again.
        let retry = cookie_post(&app, "/auth/logout", &jar, Some(SPA), Some(&jar.csrf.1)).await;
        assert_eq!(retry.status(), StatusCode::NO_CONTENT);
    }
);

/// A preflight of `POST /auth/refresh` with the CSRF header, from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url("/auth/refresh"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-csrf-token",
        )
        .send()
        .await
        .unwrap()
}

// Requirement: CORS allows credentials (and the X-CSRF-Token header) for listed origins only; an unlisted origin gets neither Access-Control-Allow-Origin nor Access-Control-Allow-Credentials.
both!(
    cors_allows_credentials_only_for_listed_origins,
    ARGS,
    |app| async move {
        let listed = preflight(&app, SPA).await;
        assert!(listed.status().is_success(), "{}", listed.status());
        assert_eq!(
            header(&listed, "access-control-allow-origin").as_deref(),
            Some(SPA)
        );
        assert_eq!(
            header(&listed, "access-control-allow-credentials").as_deref(),
            Some("true")
        );
        let allowed = header(&listed, "access-control-allow-headers").unwrap();
        assert!(
            allowed.to_ascii_lowercase().contains("x-csrf-token"),
            "{allowed}"
        );
        for origin in ["http://evil.example", "http://localhost:3000.evil.example"] {
            let other = preflight(&app, origin).await;
            assert_eq!(
                header(&other, "access-control-allow-origin"),
                None,
                "{origin}"
            );
            assert_eq!(
                header(&other, "access-control-allow-credentials"),
                None,
                "{origin}"
            );
        }
    }
);

// Requirement: the body transport is the default and unchanged (refresh token in the body, no cookies); a transport other than body/cookie is 422; a refresh token in the body wins over a cookie sent along.
both!(
    the_body_transport_is_unchanged_and_the_body_wins,
    ARGS,
    |app| async move {
        // Arrange
        let (user, jar) = cookie_user(&app).await;
        // Act + Assert: default and explicit body
        for transport in [None, Some("body")] {
            let mut body = json!({"username": user.email, "password": user.password});
            if let Some(t) = transport {
                body["transport"] = json!(t);
            }
            let resp = app.post("/auth/login", None, body).await;
            assert!(set_cookies(&resp).is_empty(), "{transport:?}");
            let tokens = assert_token_response(resp, None).await;
            assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
        }
        for bad in [json!("header"), json!(""), json!(1), json!(null)] {
            let body = json!({"username": user.email, "password": user.password, "transport": bad});
            let resp = app.post("/auth/login", None, body).await;
            assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            let problem =
                assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert!(
                problem["errors"].to_string().contains("transport"),
                "{problem}"
            );
        }
        // The body wins: its token rotates, the cookie is left alone.
        let other = app.login_ok(&user).await;
        let resp = app
            .client
            .post(app.url("/auth/refresh"))
            .header("cookie", format!("{}={}", jar.refresh.0, jar.refresh.1))
            .header("origin", SPA)
            .header("x-csrf-token", &jar.csrf.1)
            .json(&json!({"refresh_token": other.refresh}))
            .send()
            .await
            .unwrap();
        assert!(set_cookies(&resp).is_empty());
        let rotated = assert_token_response(resp, None).await;
        assert_ne!(rotated.refresh, other.refresh);
        assert_eq!(cookie_refresh(&app, &jar).await.status(), StatusCode::OK);
        // No body token and no cookie: 422 as before.
        let none = app.post("/auth/refresh", None, json!({})).await;
        assert_problem(none, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
);

// Requirement: a cookie login answered with mfa_required ends at POST /auth/mfa with the cookie, not a body refresh token; the transport is bound to the mfa_token (altering it kills the token), and a body login's second step still answers in the body.
both!(
    the_second_factor_step_keeps_the_cookie_transport,
    ARGS,
    |app| async move {
        // Arrange
        let u = app.mfa_user().await;
        let login = cookie_login(&app, &u.user, false).await;
        assert!(
            set_cookies(&login).is_empty(),
            "no session before the second step"
        );
        let body = assert_problem(login, StatusCode::FORBIDDEN, "mfa_required").await;
        let token = body["mfa_token"].as_str().unwrap().to_owned();
        // Act: the mark stripped off is another token
        let stripped = app.mfa_code(&token[2..], &app.code(&u.secret, 0)).await;
        assert_problem(stripped, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
        let resp = app.mfa_code(&token, &app.code(&u.secret, 0)).await;
        // Assert
        let jar = jar_from(resp, "authgate_refresh", "authgate_csrf").await;
        assert_eq!(claims_of(&jar.access)["amr"], json!(["pwd", "otp"]));
        let next = jar_from(
            cookie_refresh(&app, &jar).await,
            "authgate_refresh",
            "authgate_csrf",
        )
        .await;
        assert_eq!(claims_of(&next.access)["aal"], 2);
        // A body login's second step is unchanged.
        let body = assert_problem(
            app.login(&u.user).await,
            StatusCode::FORBIDDEN,
            "mfa_required",
        )
        .await;
        let resp = app
            .mfa_code(body["mfa_token"].as_str().unwrap(), &app.code(&u.secret, 1))
            .await;
        assert!(set_cookies(&resp).is_empty());
        assert_token_response(resp, None).await;
    }
);

// Requirement: behind an https public URL the cookies are Secure and prefixed: __Secure-authgate_refresh (path-scoped, so not __Host-) and __Host-authgate_csrf (Path=/), and they work as the plain ones do.
both!(
    secure_deployments_get_secure_prefixed_cookies,
    &[
        "--cors-origins",
        SPA,
        "--public-url",
        "https://auth.example.test"
    ],
    |app| async move {
        let user = TestUser::generate();
        assert_eq!(app.register(&user).await.status(), StatusCode::CREATED);
        let resp = cookie_login(&app, &user, false).await;
        let jar = jar_from(resp, "__Secure-authgate_refresh", "__Host-authgate_csrf").await;
        assert!(cookies_named(&jar.set_cookies, "authgate_refresh").is_empty());
        for c in &jar.set_cookies {
            assert!(c.contains("; Secure"), "{c}");
        }
        let csrf = &cookies_named(&jar.set_cookies, "__Host-authgate_csrf")[0];
        assert!(csrf.contains("Path=/;"), "{csrf}");
        let resp = cookie_refresh(&app, &jar).await;
        jar_from(resp, "__Secure-authgate_refresh", "__Host-authgate_csrf").await;
        // The bare name is not read where the prefixed one is due.
        let bare = Jar {
            refresh: ("authgate_refresh".into(), jar.refresh.1.clone()),
            ..jar.clone()
        };
        let resp = cookie_refresh(&app, &bare).await;
        assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
);
