//! Every response, success or failure, carries a request id and security headers.

use crate::both;
use crate::support::*;
use reqwest::Method;
use serde_json::json;

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
