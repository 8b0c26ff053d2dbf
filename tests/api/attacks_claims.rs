//! Token attacks on the claims, against the running server: time claims at the leeway's edges,
//! ill-typed claims, duplicate members in header or claims, and access/refresh token confusion.

use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::support::*;

both!(
    /// R5 (RFC 7519 §4.1.4–4.1.6, ASVS 5.0 9.2.1; F17 clock skew): `exp`, `nbf` and `iat` are
    /// honoured with the 30 s leeway and no more: 20 s beyond is accepted, 45 s beyond refused.
    time_claims_are_checked_to_the_leeway_and_no_further,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let minter = Minter::new(&app).await;
        let base = fresh_claims(&app, &claims_of(&tokens.access));
        let now = app.clock.now();
        let with = |changes: Value| {
            let mut claims = base.clone();
            merge(&mut claims, changes);
            minter.mint(json!({}), &claims)
        };
        let accepted = [
            (
                "expired 20 s ago",
                with(json!({"exp": now - 20, "iat": now - 920, "nbf": now - 920})),
            ),
            ("nbf 20 s ahead", with(json!({"nbf": now + 20}))),
            ("iat 20 s ahead", with(json!({"iat": now + 20}))),
        ];
        let refused = [
            (
                "expired 45 s ago",
                with(json!({"exp": now - 45, "iat": now - 945, "nbf": now - 945})),
            ),
            ("nbf 45 s ahead", with(json!({"nbf": now + 45}))),
            ("iat 45 s ahead", with(json!({"iat": now + 45, "nbf": now}))),
            (
                "iat a year ahead, exp consistent",
                with(json!({"iat": now + 31_536_000, "nbf": now, "exp": now + 31_536_900})),
            ),
            (
                "exp a century ahead but iat in the future",
                with(json!({"iat": now + 3600, "exp": now + 3_155_760_000_i64})),
            ),
        ];
        for (case, token) in accepted {
            // Act / Assert
            assert_eq!(app.me_status(&token).await, StatusCode::OK, "{case}");
        }
        for (case, token) in refused {
            // Act
            let resp = app.get("/users/me", Some(&token)).await;
            // Assert
            assert_invalid_token(resp, case).await;
        }
    }
);

both!(
    /// R5, R6, R7 (CVE-2026-25537 type confusion; SECURITY.md jsonwebtoken rule "claims of the
    /// wrong JSON type are silently skipped"; "iss/aud arrays pass if any element matches"):
    /// validly signed tokens whose claims have the wrong JSON type, or carry our `iss`/`aud`
    /// inside an array, are refused.
    claims_of_the_wrong_type_or_shape_are_refused,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let minter = Minter::new(&app).await;
        let base = fresh_claims(&app, &claims_of(&tokens.access));
        let (iss, aud, now) = (base["iss"].clone(), base["aud"].clone(), app.clock.now());
        let cases = [
            ("exp null", json!({"exp": Value::Null})),
            (
                "exp string of the future",
                json!({"exp": (now + 900).to_string()}),
            ),
            ("exp bool", json!({"exp": true})),
            ("exp object", json!({"exp": {"$gt": 0}})),
            ("exp beyond i64", json!({"exp": u64::MAX})),
            ("exp float", json!({"exp": (now + 900) as f64 + 0.5})),
            ("nbf string", json!({"nbf": "0"})),
            ("nbf array", json!({"nbf": [0]})),
            ("iat string", json!({"iat": now.to_string()})),
            ("iat null", json!({"iat": Value::Null})),
            ("iss array with ours", json!({"iss": [iss]})),
            (
                "iss array with ours second",
                json!({"iss": ["https://evil.example", iss]}),
            ),
            ("aud array with ours", json!({"aud": [aud]})),
            ("aud array with ours second", json!({"aud": ["other", aud]})),
            ("aud empty string", json!({"aud": ""})),
            ("iss number", json!({"iss": 1})),
            ("sub number", json!({"sub": 1})),
            ("sub array", json!({"sub": [base["sub"]]})),
            (
                "sub nil uuid",
                json!({"sub": "00000000-0000-0000-0000-000000000000"}),
            ),
            ("sid missing", json!({"sid": Value::Null})),
            ("sid not a uuid", json!({"sid": "*"})),
            ("roles as a string", json!({"roles": "admin"})),
            ("jti missing", json!({"jti": Value::Null})),
        ];
        for (case, changes) in cases {
            let mut claims = base.clone();
            let obj = claims.as_object_mut().unwrap();
            for (k, v) in changes.as_object().unwrap() {
                if v.is_null() && !case.ends_with("null") {
                    obj.remove(k);
                } else {
                    obj.insert(k.clone(), v.clone());
                }
            }
            // Act
            let token = minter.mint(json!({}), &claims);
            let resp = app.get("/users/me", Some(&token)).await;
            // Assert
            assert_invalid_token(resp, case).await;
        }
        let claims_array = sign_text(
            &minter.header(json!({})).to_string(),
            &json!([base]).to_string(),
            &minter.key,
            Algorithm::EdDSA,
        );
        assert_invalid_token(
            app.get("/users/me", Some(&claims_array)).await,
            "claims as an array",
        )
        .await;
    }
);

both!(
    /// R9 (RFC 7515 §5.2, RFC 7519 §4 "claim names MUST be unique"): validly signed tokens whose
    /// header or claims repeat a member (so parsers could disagree on its value) are refused.
    duplicate_members_in_header_or_claims_are_refused,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let (_, other) = app.signed_in_user().await;
        let minter = Minter::new(&app).await;
        let base = fresh_claims(&app, &claims_of(&tokens.access));
        let victim_sub = claims_of(&other.access)["sub"].clone();
        let header = minter.header(json!({})).to_string();
        let claims = base.to_string();
        let body = &claims[1..claims.len() - 1];
        let now = app.clock.now();
        let assert_control = sign_text(&header, &claims, &minter.key, Algorithm::EdDSA);
        assert_eq!(
            app.me_status(&assert_control).await,
            StatusCode::OK,
            "positive control"
        );
        let dup_claims = [
            ("sub twice", format!("{{{body},\"sub\":{victim_sub}}}")),
            (
                "exp twice, second in the past",
                format!("{{{body},\"exp\":{}}}", now - 3600),
            ),
            ("aud twice", format!("{{{body},\"aud\":\"other\"}}")),
            (
                "iss twice",
                format!("{{{body},\"iss\":\"https://evil.example\"}}"),
            ),
            (
                "roles twice",
                format!("{{{body},\"roles\":[\"user\",\"admin\"]}}"),
            ),
        ];
        for (case, text) in dup_claims {
            // Act
            let token = sign_text(&header, &text, &minter.key, Algorithm::EdDSA);
            let resp = app.get("/users/me", Some(&token)).await;
            // Assert
            assert_invalid_token(resp, case).await;
        }
        let h = &header[1..header.len() - 1];
        let dup_headers = [
            ("alg twice", format!("{{{h},\"alg\":\"none\"}}")),
            (
                "alg twice, same value",
                format!("{{{h},\"alg\":\"EdDSA\"}}"),
            ),
            ("typ twice", format!("{{{h},\"typ\":\"JWT\"}}")),
            ("kid twice", format!("{{{h},\"kid\":\"../../dev/null\"}}")),
        ];
        for (case, text) in dup_headers {
            // Act
            let token = sign_text(&text, &claims, &minter.key, Algorithm::EdDSA);
            let resp = app.get("/users/me", Some(&token)).await;
            // Assert
            assert_invalid_token(resp, case).await;
        }
    }
);

both!(
    /// R8 (RFC 8725 §3.11–3.12, ASVS 5.0 9.2.2): access and refresh tokens are not
    /// interchangeable: an access token is no refresh token on `/auth/refresh` or the
    /// `refresh_token` grant, a refresh token is no bearer token on `/auth/logout`, and the
    /// failed attempts revoke nothing.
    access_and_refresh_tokens_are_not_interchangeable,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        // Act
        let access_as_refresh = app.refresh(&tokens.access).await;
        let access_as_grant = app
            .post_form(
                "/auth/token",
                &form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &tokens.access),
                ]),
            )
            .await;
        let refresh_as_bearer = app
            .request(
                reqwest::Method::POST,
                "/auth/logout",
                Some(&tokens.refresh),
                None,
            )
            .await;
        let refresh_as_me = app.get("/users/me", Some(&tokens.refresh)).await;
        // Assert
        assert_eq!(access_as_refresh.status(), StatusCode::UNAUTHORIZED);
        let body: Value = access_as_refresh.json().await.unwrap();
        assert_eq!(body["code"], json!("invalid_refresh_token"), "{body}");
        assert_eq!(access_as_grant.status(), StatusCode::BAD_REQUEST);
        let body: Value = access_as_grant.json().await.unwrap();
        assert_eq!(body["error"], json!("invalid_grant"), "{body}");
        assert_invalid_token(refresh_as_bearer, "refresh token on /auth/logout").await;
        assert_invalid_token(refresh_as_me, "refresh token on /users/me").await;
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::OK,
            "session untouched"
        );
        assert_eq!(
            app.refresh(&tokens.refresh).await.status(),
            StatusCode::OK,
            "refresh untouched"
        );
    }
);
