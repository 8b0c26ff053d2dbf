//! Bad input is a 4xx problem+json with a stable `code`, never a 500; every response carries a
//! request id and security headers; health, OpenAPI, the docs UI and CORS behave.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

/// POST raw bytes with an optional Content-Type.
async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Response {
    let mut req = app.client.post(app.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.send().await.expect("request")
}

/// Assert a problem+json answer with this status and code; returns the body.
async fn assert_problem(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], json!(code), "{body}");
    assert_eq!(body["status"], json!(status.as_u16()), "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The JSON endpoints that need no token, with a valid body for each.
fn json_endpoints() -> [(&'static str, Value); 3] {
    [
        (
            "/auth/register",
            json!({"email": "a@example.com", "password": "long enough pw"}),
        ),
        (
            "/auth/login",
            json!({"username": "a@example.com", "password": "long enough pw"}),
        ),
        ("/auth/refresh", json!({"refresh_token": "x"})),
    ]
}

// R27: a body that is not JSON at all is 400 "bad_request".
both!(malformed_json_is_400_bad_request, |app| async move {
    for (path, valid) in json_endpoints() {
        // Arrange
        let valid = serde_json::to_vec(&valid).unwrap();
        let truncated = valid[..valid.len() - 1].to_vec();
        let trailing = [&valid[..], b"}"].concat();
        let bodies = [
            truncated,
            trailing,
            b"{email: 1}".to_vec(),
            b"not json".to_vec(),
            b"\xff\xfe".to_vec(),
        ];
        for body in bodies {
            // Act
            let resp = post_raw(&app, path, Some("application/json"), body.clone()).await;
            // Assert
            assert_eq!(
                resp.status(),
                StatusCode::BAD_REQUEST,
                "{path} {:?}",
                String::from_utf8_lossy(&body)
            );
            assert_problem(resp, StatusCode::BAD_REQUEST, "bad_request").await;
        }
    }
});

// R27: JSON endpoints insist on Content-Type: application/json (415), even for a valid body.
both!(wrong_or_missing_content_type_is_415, |app| async move {
    for (path, body) in json_endpoints() {
        let bytes = serde_json::to_vec(&body).unwrap();
        for ct in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            // Act
            let resp = post_raw(&app, path, ct, bytes.clone()).await;
            // Assert
            assert_problem(
                resp,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
        }
    }
});

// R27: well-formed JSON of the wrong shape is 422 "validation_failed" with an `errors` object.
both!(
    missing_field_or_wrong_type_is_422_with_field_errors,
    |app| async move {
        let cases = [
            (
                "/auth/register",
                json!({"email": "a@example.com"}),
                "missing password",
            ),
            (
                "/auth/register",
                json!({"email": 5, "password": "long enough pw"}),
                "number e-mail",
            ),
            (
                "/auth/register",
                json!({"email": null, "password": "long enough pw"}),
                "null e-mail",
            ),
            ("/auth/register", json!([]), "array body"),
            ("/auth/register", json!("string body"), "string body"),
            (
                "/auth/login",
                json!({"username": "a@example.com"}),
                "missing password",
            ),
            (
                "/auth/login",
                json!({"username": "a", "password": "b", "remember_me": "yes"}),
                "string bool",
            ),
            ("/auth/refresh", json!({}), "missing refresh_token"),
            (
                "/auth/refresh",
                json!({"refresh_token": ["x"]}),
                "array token",
            ),
        ];
        for (path, body, why) in cases {
            // Act
            let resp = app.post(path, None, body).await;
            // Assert
            assert_eq!(
                resp.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}: {why}"
            );
            let problem =
                assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert!(problem["errors"].is_object(), "{path}: {why}: {problem}");
            assert!(
                !problem["errors"].as_object().unwrap().is_empty(),
                "{path}: {why}"
            );
        }
    }
);

// R27: field validation lists every bad field at once.
both!(
    invalid_registration_fields_are_reported_per_field,
    |app| async move {
        // Act
        let resp = app
            .post(
                "/auth/register",
                None,
                json!({"email": "no-at-sign", "password": "short", "username": "a b"}),
            )
            .await;
        // Assert
        let body =
            assert_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        for field in ["email", "password", "username"] {
            assert!(body["errors"][field].is_array(), "{field}: {body}");
        }
    }
);

// R34: bodies over 64 KiB are refused with 413 on JSON endpoints and on /auth/token.
both!(body_over_64_kib_is_413, |app| async move {
    // Arrange
    let big = "a".repeat(64 * 1024 + 1);
    for (path, _) in json_endpoints() {
        let body = serde_json::to_vec(
            &json!({"email": big, "username": big, "password": "x", "refresh_token": big}),
        )
        .unwrap();
        // Act
        let resp = post_raw(&app, path, Some("application/json"), body).await;
        // Assert
        assert_problem(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
    let form = format!("grant_type=password&username=a%40example.com&password={big}");
    let resp = app.post_form("/auth/token", &form).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["error"], "invalid_request",
        "the token endpoint answers in RFC 6749 form"
    );
    // Just under the limit is read (and refused for other reasons), not 413.
    let under = format!(
        "grant_type=password&username=a%40example.com&password={}",
        "a".repeat(60 * 1024)
    );
    assert_eq!(
        app.post_form("/auth/token", &under).await.status(),
        StatusCode::BAD_REQUEST
    );
});

// R27: a known route with the wrong method is a 405 problem+json, not an empty body.
both!(wrong_method_is_405_problem_json, |app| async move {
    for (method, path) in [
        (Method::PUT, "/auth/login"),
        (Method::DELETE, "/users/me"),
        (Method::GET, "/auth/token"),
    ] {
        // Act
        let resp = app.request(method.clone(), path, None, None).await;
        // Assert
        assert_problem(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
});

// R27: an unknown route is a 404 problem+json, like every other error.
both!(unknown_route_is_404_problem_json, |app| async move {
    for path in [
        "/nope",
        "/auth",
        "/users/me/nope",
        "/admin/users/x/y",
        "/.well-known/nope",
    ] {
        // Act
        let resp = app.get(path, None).await;
        // Assert
        assert_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
});

// R27: whatever the input, the answer is a client error, never a 500.
both!(
    hostile_bodies_never_cause_a_server_error,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"{}".to_vec(),
        b"{\"email\":\"\\u0000@x.io\",\"password\":\"\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\"}".to_vec(),
        b"{\"username\":\"\xc3\x28\",\"password\":\"x\"}".to_vec(),
        b"{\"email\":\"a@b.co\",\"email\":\"c@d.co\",\"password\":\"long enough pw\"}".to_vec(),
        nested.into_bytes(),
        serde_json::to_vec(&json!({"email": "a@example.com", "password": "p".repeat(10_000)})).unwrap(),
        serde_json::to_vec(&json!({"username": "u".repeat(10_000), "password": "p".repeat(10_000)})).unwrap(),
        serde_json::to_vec(&json!({"refresh_token": "r".repeat(10_000)})).unwrap(),
    ];
        let paths = [
            "/auth/register",
            "/auth/login",
            "/auth/refresh",
            "/users/me/password",
        ];
        for path in paths {
            for body in &bodies {
                // Act
                let resp = app
                    .client
                    .post(app.url(path))
                    .bearer_auth(&tokens.access)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                // Assert
                let status = resp.status();
                assert!(
                    status.is_client_error(),
                    "{path} {:?}: {status}",
                    String::from_utf8_lossy(&body[..body.len().min(60)])
                );
            }
        }
        assert_eq!(
            app.get("/users/me", Some(&tokens.access)).await.status(),
            StatusCode::OK,
            "server still fine"
        );
    }
);

// Every response, success or failure, has an x-request-id and X-Content-Type-Options: nosniff.
both!(
    every_response_has_a_request_id_and_nosniff,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let big = vec![b'a'; 70 * 1024];
        let responses = vec![
            ("200 healthz", app.get("/healthz", None).await),
            ("200 me", app.get("/users/me", Some(&tokens.access)).await),
            ("200 jwks", app.get("/.well-known/jwks.json", None).await),
            ("200 openapi", app.get("/openapi.json", None).await),
            ("200 docs", app.get("/docs/", None).await),
            ("303 docs", app.get("/docs", None).await),
            ("401", app.get("/users/me", None).await),
            ("403", app.get("/admin/users", Some(&tokens.access)).await),
            ("404", app.get("/nope", None).await),
            (
                "400",
                post_raw(&app, "/auth/login", Some("application/json"), b"{".to_vec()).await,
            ),
            (
                "415",
                post_raw(&app, "/auth/login", Some("text/plain"), b"{}".to_vec()).await,
            ),
            ("422", app.post("/auth/login", None, json!({})).await),
            (
                "413",
                post_raw(&app, "/auth/login", Some("application/json"), big).await,
            ),
            (
                "400 token",
                app.post_form("/auth/token", "grant_type=nope").await,
            ),
            (
                "405",
                app.request(Method::PUT, "/auth/login", None, None).await,
            ),
        ];
        let mut ids = std::collections::HashSet::new();
        for (what, resp) in responses {
            // Assert
            let headers = resp.headers();
            let id = headers
                .get("x-request-id")
                .unwrap_or_else(|| panic!("{what}: no x-request-id"));
            assert!(!id.is_empty(), "{what}");
            assert!(
                ids.insert(id.to_str().unwrap().to_owned()),
                "{what}: request id reused"
            );
            assert_eq!(
                headers
                    .get("x-content-type-options")
                    .map(|v| v.to_str().unwrap()),
                Some("nosniff"),
                "{what}"
            );
            assert!(headers.contains_key("content-security-policy"), "{what}");
        }
    }
);

// Liveness and readiness answer 200 while the database is up.
both!(healthz_and_readyz_are_200, |app| async move {
    // Act
    let health = app.get("/healthz", None).await;
    let ready = app.get("/readyz", None).await;
    // Assert
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(ready.status(), StatusCode::OK);
});

// F8/R28: when the database disappears under a running server, requests that need it answer 503
// with Retry-After (never 500, never 200 on stale data), readiness fails, liveness stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_and_readiness_fails_postgres() {
    let Some(admin) = postgres_url() else { return };
    // Arrange
    let app = spawn_app(Backend::Postgres).await;
    let (user, tokens) = app.signed_in_user().await;
    let name = app
        .db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    // Act: the database goes away, connections and all
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    // Assert
    assert_eq!(
        app.get("/healthz", None).await.status(),
        StatusCode::OK,
        "liveness does not need the database"
    );
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    for resp in [
        app.login(&user).await,
        app.refresh(&tokens.refresh).await,
        app.get("/users/me", Some(&tokens.access)).await,
        app.register(&TestUser::generate()).await,
    ] {
        assert!(
            resp.headers().contains_key("retry-after"),
            "503 says when to retry"
        );
        let body =
            assert_problem(resp, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
        assert!(
            !body.to_string().to_lowercase().contains("database"),
            "no driver text leaks: {body}"
        );
    }
    let form = format!(
        "grant_type=password&username={}&password={}",
        user.email, user.password
    );
    let form = app.post_form("/auth/token", &form).await;
    assert_eq!(form.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(form.headers().contains_key("retry-after"));
    assert_eq!(
        form.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
}

// The OpenAPI document describes every route and the OAuth2 password flow Swagger UI uses.
both!(
    openapi_lists_every_route_and_the_password_flow,
    |app| async move {
        // Act
        let resp = app.get("/openapi.json", None).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let doc: Value = resp.json().await.unwrap();
        let paths = doc["paths"].as_object().expect("paths");
        for route in [
            "/auth/register",
            "/auth/token",
            "/auth/login",
            "/auth/refresh",
            "/auth/logout",
            "/auth/logout-all",
            "/users/me",
            "/users/me/password",
            "/users/me/sessions",
            "/users/me/sessions/{id}",
            "/admin/users",
            "/admin/users/{id}",
            "/admin/roles",
            "/.well-known/jwks.json",
            "/.well-known/openid-configuration",
            "/healthz",
            "/readyz",
        ] {
            assert!(
                paths.contains_key(route),
                "{route} missing from {:?}",
                paths.keys().collect::<Vec<_>>()
            );
        }
        for (path, method) in [
            ("/admin/users/{id}", "get"),
            ("/admin/users/{id}", "patch"),
            ("/admin/users/{id}", "delete"),
        ] {
            assert!(paths[path][method].is_object(), "{method} {path}");
        }
        let oauth2 = &doc["components"]["securitySchemes"]["oauth2"];
        assert_eq!(oauth2["type"], json!("oauth2"), "{oauth2}");
        assert_eq!(
            oauth2["flows"]["password"]["tokenUrl"],
            json!("/auth/token"),
            "{oauth2}"
        );
    }
);

/// The `src`/`href` attribute values in an HTML page.
fn html_links(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attr) {
            let after = &rest[start + attr.len()..];
            let end = after.find('"').expect("closing quote");
            links.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    links
}

/// Does this text load scripts or styles from another origin?
fn refers_to_a_cdn(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "unpkg.com",
        "jsdelivr",
        "cdnjs",
        "googleapis.com",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

// The Swagger UI and all its assets are served from the binary; nothing comes from a CDN.
both!(
    docs_ui_and_its_assets_are_served_without_a_cdn,
    |app| async move {
        // Act
        let resp = app.get("/docs/", None).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = resp.text().await.unwrap();
        assert!(html.to_ascii_lowercase().contains("swagger"));
        assert!(!refers_to_a_cdn(&html), "{html}");
        let links = html_links(&html);
        for must in [
            "swagger-ui-bundle.js",
            "swagger-initializer.js",
            "swagger-ui.css",
        ] {
            assert!(
                links.iter().any(|l| l.ends_with(must)),
                "{must} not referenced: {links:?}"
            );
        }
        for link in links {
            assert!(
                !link.contains("://") && !link.starts_with("//"),
                "external asset {link}"
            );
            let path = format!("/docs/{}", link.trim_start_matches("./"));
            let asset = app.get(&path, None).await;
            assert_eq!(asset.status(), StatusCode::OK, "{path}");
            let body = asset.bytes().await.unwrap();
            assert!(!body.is_empty(), "{path} is empty");
            if path.ends_with("initializer.js") {
                let js = String::from_utf8_lossy(&body);
                assert!(js.contains("/openapi.json"), "{js}");
                assert!(!js.contains("http://") && !js.contains("https://"), "{js}");
            }
        }
        let redirect = app.get("/docs", None).await;
        assert!(redirect.status().is_redirection());
        assert_eq!(redirect.headers()["location"], "/docs/");
    }
);

const UI_ORIGIN: &str = "http://localhost:3000";

/// A CORS preflight for `POST /auth/login` from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url("/auth/login"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap()
}

async fn cors_allows_only_the_configured_origin(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, &["--cors-origins", UI_ORIGIN]).await;
    // Act
    let allowed = preflight(&app, UI_ORIGIN).await;
    let evil = preflight(&app, "http://evil.example").await;
    let lookalike = preflight(&app, "http://localhost:3000.evil.example").await;
    let simple = app
        .client
        .get(app.url("/healthz"))
        .header("origin", UI_ORIGIN)
        .send()
        .await
        .unwrap();
    let simple_evil = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    // Assert
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], UI_ORIGIN);
    assert_eq!(h["access-control-allow-credentials"], "true");
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    assert!(
        lookalike
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(simple.headers()["access-control-allow-origin"], UI_ORIGIN);
    assert!(
        simple_evil
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

// CORS allows exactly the configured origins (SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_the_configured_origin_sqlite() {
    cors_allows_only_the_configured_origin(Backend::Sqlite).await;
}

// CORS allows exactly the configured origins (PostgreSQL, when TEST_DATABASE_URL is set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_the_configured_origin_postgres() {
    if postgres_url().is_none() {
        eprintln!("TEST_DATABASE_URL not set: PostgreSQL variant not run");
        return;
    }
    cors_allows_only_the_configured_origin(Backend::Postgres).await;
}

// By default no origin is allowed cross-site.
both!(cors_allows_no_origin_by_default, |app| async move {
    // Act
    let resp = preflight(&app, UI_ORIGIN).await;
    let simple = app
        .client
        .get(app.url("/healthz"))
        .header("origin", UI_ORIGIN)
        .send()
        .await
        .unwrap();
    // Assert
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    assert!(
        simple
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
});

// A wildcard CORS origin is refused at start-up (credentials would be exposed to every site).
#[tokio::test]
async fn cors_wildcard_origin_refuses_to_start() {
    // Arrange
    let db = TestDb::provision(Backend::Sqlite).await;
    let settings = test_settings(&db, &["--cors-origins", "*"]);
    // Act
    let result = authgate::Application::build(settings).await;
    // Assert
    let err = result.err().expect("build must fail");
    assert!(err.to_string().contains("CORS"), "{err}");
}
