//! Oversized input, against the running server: over-long tokens and Authorization headers,
//! chunked bodies past the limit, and bodies announced too large.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::support::*;

both!(
    /// R34, R9 (rfc8725bis "limit sizes"; Rauthy's token length cap): a bearer token over the
    /// 4 KiB cap is 401 `invalid_token`; Authorization headers from 16 KiB up to 1 MiB, and 500
    /// headers of 1 KiB, are 431 (the 16 KiB header limit, or hyper's own cap for the largest);
    /// each answered promptly, never a 5xx, a reset or a hang, and the server keeps serving.
    oversized_authorization_headers_are_refused_without_a_5xx,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let minter = Minter::new(&app).await;
        let mut padded = fresh_claims(&app, &claims_of(&tokens.access));
        padded["pad"] = json!("p".repeat(3100));
        let just_over = minter.mint(json!({}), &padded);
        assert!(just_over.len() > 4096, "{}", just_over.len());
        let mut cases = vec![(
            "validly signed, just over 4 KiB".to_owned(),
            format!("Bearer {just_over}"),
            StatusCode::UNAUTHORIZED,
        )];
        for size in [16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024] {
            cases.push((
                format!("{size} bytes"),
                format!("Bearer {}", "a".repeat(size)),
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ));
        }
        for (case, value, want) in cases {
            // Act
            let resp = app
                .client
                .get(app.url("/users/me"))
                .header("authorization", value)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{case}: no answer ({e})"));
            // Assert
            assert_eq!(resp.status(), want, "{case}");
        }
        // 500 headers of 1 KiB each.
        let mut req = app
            .client
            .get(app.url("/users/me"))
            .bearer_auth(&tokens.access);
        for i in 0..500 {
            req = req.header(format!("x-filler-{i}"), "f".repeat(1024));
        }
        let resp = req
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("500 headers of 1 KiB: an answer");
        assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::OK,
            "still serving"
        );
    }
);

/// The Content-Type each body endpoint expects.
fn content_type_for(path: &str) -> &'static str {
    if path == "/auth/token" {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    }
}

const BODY_PATHS: [&str; 4] = [
    "/auth/login",
    "/auth/register",
    "/auth/refresh",
    "/auth/token",
];

both!(
    /// R34 (RUSTSEC-2022-0055, CVE-2022-3212): a chunked body with no Content-Length that
    /// streams past the 64 KiB limit is cut off with 413, on every endpoint that reads a body.
    chunked_bodies_past_the_limit_are_refused_with_413,
    |app| async move {
        for path in BODY_PATHS {
            // Arrange: 80 chunks of 1 KiB, no Content-Length at all.
            let mut chunked = format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                content_type_for(path)
            )
            .into_bytes();
            for _ in 0..80 {
                chunked.extend_from_slice(format!("400\r\n{}\r\n", "a".repeat(1024)).as_bytes());
            }
            chunked.extend_from_slice(b"0\r\n\r\n");
            // Act
            let (status, _) = raw_http(&app, &chunked, Duration::from_secs(20)).await;
            // Assert
            assert!(
                status.contains(" 413 "),
                "{path} chunked 80 KiB: {status:?}"
            );
        }
        assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    }
);

both!(
    /// R34 (RUSTSEC-2022-0055; slow-body DoS): a request announcing `Content-Length: 10 GiB` is
    /// refused with 413 at once, from the header, instead of holding a connection and a task
    /// while waiting for a body that will never be accepted.
    an_announced_oversized_body_is_refused_at_once,
    |app| async move {
        for path in BODY_PATHS {
            // Arrange: a 10 GiB Content-Length with only a few bytes sent.
            let announced = format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nContent-Length: 10737418240\r\n\r\n{{\"a\":",
                content_type_for(path)
            );
            // Act
            let (status, took) = raw_http(&app, announced.as_bytes(), Duration::from_secs(5)).await;
            // Assert: 413, and at once (a server waiting for the body would not answer at all)
            assert!(
                status.contains(" 413 "),
                "{path} announced 10 GiB: {status:?} after {took:?}"
            );
            assert!(
                took < Duration::from_secs(2),
                "{path}: the 413 took {took:?}"
            );
        }
    }
);
