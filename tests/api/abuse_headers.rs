//! Response headers and request size limits (issue #3, R34): HSTS only when configured for
//! HTTPS, the security headers on every answer (errors and 429s included), 431 for oversized
//! headers.

use crate::both;
use reqwest::StatusCode;

both!(
    /// Issue #3: `Strict-Transport-Security` is sent when configured (behind TLS), on every
    /// answer, including errors.
    hsts_is_sent_when_configured,
    &["--hsts-max-age", "365d"],
    |app| async move {
        for resp in [app.get("/healthz", None).await, app.get("/users/me", None).await] {
            assert_eq!(
                resp.headers()["strict-transport-security"],
                "max-age=31536000; includeSubDomains"
            );
            assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        }
    }
);

both!(
    /// Secure by default: no HSTS unless configured (a plain-HTTP development server must not
    /// pin browsers to HTTPS), but the other security headers always.
    no_hsts_by_default_but_the_other_headers_always,
    |app| async move {
        let resp = app.get("/healthz", None).await;
        assert!(!resp.headers().contains_key("strict-transport-security"));
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
        ] {
            assert_eq!(resp.headers()[name], value);
        }
    }
);

both!(
    /// R34: request headers and URI beyond the configured total (here 2 KiB) are refused with 431 and
    /// a problem body, before any handler runs.
    oversized_headers_are_refused_with_431,
    &["--max-header-bytes", "2048"],
    |app| async move {
        let resp = app
            .client
            .get(app.url("/healthz"))
            .header("x-padding", "p".repeat(3000))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "headers_too_large");
        // The request line counts too: a 3 KiB query string is refused the same way.
        let long_query = format!("/healthz?{}", "q".repeat(3000));
        assert_eq!(
            app.get(&long_query, None).await.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    }
);
