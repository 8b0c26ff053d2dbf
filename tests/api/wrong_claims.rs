//! Validly signed access tokens whose claims are wrong.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

// R5, R6, R7: validly signed tokens with wrong claims are refused; a correct one is accepted.
both!(
    validly_signed_tokens_with_wrong_claims_are_refused,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let minter = Minter::new(&app).await;
        let now = app.clock.now();
        let mut base = claims_of(&tokens.access);
        merge(
            &mut base,
            json!({"iat": now, "nbf": now, "exp": now + 900, "jti": uuid::Uuid::new_v4()}),
        );
        let with = |changes: Value| {
            let mut claims = base.clone();
            merge(&mut claims, changes);
            claims
        };
        // Act / Assert: the minting itself is sound
        let good = minter.mint(json!({}), &base);
        assert_eq!(
            app.me_status(&good).await,
            StatusCode::OK,
            "correctly minted token"
        );
        let in_leeway = minter.mint(
            json!({}),
            &with(json!({"exp": now - 5, "iat": now - 905, "nbf": now - 905})),
        );
        assert_eq!(
            app.me_status(&in_leeway).await,
            StatusCode::OK,
            "expired 5 s ago, inside the 30 s leeway"
        );
        let uuid = uuid::Uuid::new_v4().to_string();
        let cases = [
            (
                "expired beyond the leeway",
                with(json!({"exp": now - 120, "iat": now - 1020, "nbf": now - 1020})),
            ),
            ("nbf in the future", with(json!({"nbf": now + 300}))),
            (
                "iat in the future",
                with(json!({"iat": now + 300, "nbf": now})),
            ),
            ("wrong iss", with(json!({"iss": "https://evil.example"}))),
            (
                "iss with a trailing slash",
                with(json!({"iss": format!("{}/", base["iss"].as_str().unwrap())})),
            ),
            ("wrong aud", with(json!({"aud": "another-service"}))),
            ("missing aud", with(json!({"aud": null}))),
            ("missing iss", with(json!({"iss": null}))),
            ("missing sub", with(json!({"sub": null}))),
            (
                "sub not a uuid",
                with(json!({"sub": "someone@example.com"})),
            ),
            (
                "sub of a user that does not exist",
                with(json!({"sub": uuid})),
            ),
            ("missing exp", with(json!({"exp": null}))),
            ("missing nbf", with(json!({"nbf": null}))),
            (
                "exp as a string (CVE-2026-25537)",
                with(json!({"exp": "9999999999"})),
            ),
            (
                "nbf as a string",
                with(json!({"nbf": (now + 3600).to_string()})),
            ),
            ("exp as a float far away", with(json!({"exp": 1e300}))),
        ];
        for (case, claims) in cases {
            // Act
            let token = minter.mint(json!({}), &claims);
            let resp = app.get("/users/me", Some(&token)).await;
            // Assert
            assert_invalid_token(resp, case).await;
        }
    }
);
