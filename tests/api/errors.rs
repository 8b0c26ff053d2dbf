//! Bad input is a 4xx problem+json with a stable `code`, never a 500.

use crate::both;
use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

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
            app.me_status(&tokens.access).await,
            StatusCode::OK,
            "server still fine"
        );
    }
);
