//! A catalogue of hostile tokens and Authorization headers, verified as RFC 8725 asks.

use crate::both;
use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::{Response, StatusCode};
use serde_json::json;

/// `GET /users/me` with this exact Authorization header value.
async fn me_with_authorization(app: &TestApp, value: &str) -> Response {
    app.client
        .get(app.url("/users/me"))
        .header("authorization", value)
        .send()
        .await
        .expect("request")
}

/// An Ed25519 key the server has never seen (fixed seed, PKCS#8 v1 DER).
fn attacker_ed25519_key() -> EncodingKey {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend([0x42u8; 32]);
    EncodingKey::from_ed_der(&der)
}

// R1, R2, R3, R8, R9, R10: hostile tokens of every known kind get the same RFC 6750 401.
both!(
    hostile_tokens_are_refused_with_invalid_token,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let (_, other) = app.signed_in_user().await;
        let minter = Minter::new(&app).await;
        let valid = tokens.access.clone();
        let parts: Vec<&str> = valid.split('.').collect();
        let (header_b64, claims_b64, sig_b64) = (parts[0], parts[1], parts[2]);
        let claims = claims_of(&valid);
        let mut admin_claims = claims.clone();
        admin_claims["roles"] = json!(["user", "admin"]);
        let other_sig = other.access.split('.').nth(2).unwrap();
        let (set, _) = jwks(&app).await;
        let public_jwk = set["keys"][0].clone();
        let x_bytes = URL_SAFE_NO_PAD
            .decode(public_jwk["x"].as_str().unwrap())
            .unwrap();
        let attacker = attacker_ed25519_key();
        let attacker_jwk =
            serde_json::to_value(Jwk::from_encoding_key(&attacker, Algorithm::EdDSA).unwrap())
                .unwrap();

        let mut cases: Vec<(String, String)> = Vec::new();
        let mut bearer =
            |case: &str, token: String| cases.push((case.to_owned(), format!("Bearer {token}")));
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = json!({"alg": alg, "typ": "at+jwt", "kid": minter.kid});
            bearer(
                &format!("alg {alg}, empty signature"),
                format!("{}.{}.", b64_json(&header), b64_json(&admin_claims)),
            );
            bearer(
                &format!("alg {alg}, original signature"),
                format!("{}.{claims_b64}.{sig_b64}", b64_json(&header)),
            );
        }
        bearer(
            "signature stripped, two segments",
            format!("{header_b64}.{claims_b64}"),
        );
        bearer(
            "signature stripped, trailing dot",
            format!("{header_b64}.{claims_b64}."),
        );
        bearer(
            "signature of another token",
            format!("{header_b64}.{claims_b64}.{other_sig}"),
        );
        bearer(
            "payload tampered (roles admin), signature kept",
            format!("{header_b64}.{}.{sig_b64}", b64_json(&admin_claims)),
        );
        bearer(
            "signature bytes flipped",
            format!(
                "{header_b64}.{claims_b64}.{}{}",
                if sig_b64.starts_with('A') { "B" } else { "A" },
                &sig_b64[1..]
            ),
        );
        let hs_header = json!({"alg": "HS256", "typ": "at+jwt", "kid": minter.kid});
        bearer(
            "HS256 keyed with the public key bytes",
            sign_raw(
                &hs_header,
                &admin_claims,
                &EncodingKey::from_secret(&x_bytes),
                Algorithm::HS256,
            ),
        );
        bearer(
            "HS256 keyed with the public JWK text",
            sign_raw(
                &hs_header,
                &admin_claims,
                &EncodingKey::from_secret(public_jwk.to_string().as_bytes()),
                Algorithm::HS256,
            ),
        );
        bearer(
            "HS256 keyed with the x member text",
            sign_raw(
                &hs_header,
                &admin_claims,
                &EncodingKey::from_secret(public_jwk["x"].as_str().unwrap().as_bytes()),
                Algorithm::HS256,
            ),
        );
        let embedded =
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": minter.kid, "jwk": attacker_jwk});
        bearer(
            "attacker key embedded as jwk",
            sign_raw(&embedded, &admin_claims, &attacker, Algorithm::EdDSA),
        );
        let embedded_no_kid = json!({"alg": "EdDSA", "typ": "at+jwt", "jwk": attacker_jwk});
        bearer(
            "attacker key embedded as jwk, no kid",
            sign_raw(&embedded_no_kid, &admin_claims, &attacker, Algorithm::EdDSA),
        );
        bearer(
            "signed by an unknown key under our kid",
            sign_raw(
                &minter.header(json!({})),
                &admin_claims,
                &attacker,
                Algorithm::EdDSA,
            ),
        );
        bearer(
            "validly signed, header carries jwk",
            minter.mint(json!({"jwk": attacker_jwk}), &claims),
        );
        bearer(
            "validly signed, header carries jku",
            minter.mint(json!({"jku": "http://127.0.0.1:9/jwks.json"}), &claims),
        );
        bearer(
            "validly signed, header carries x5u",
            minter.mint(json!({"x5u": "http://127.0.0.1:9/cert.pem"}), &claims),
        );
        bearer(
            "validly signed, header carries x5c",
            minter.mint(json!({"x5c": ["MIIB"]}), &claims),
        );
        bearer(
            "validly signed, unknown crit extension",
            minter.mint(json!({"crit": ["exp"], "exp": 1}), &claims),
        );
        bearer(
            "validly signed, kid path traversal",
            minter.mint(json!({"kid": "../../etc/passwd"}), &claims),
        );
        bearer(
            "validly signed, unknown kid",
            minter.mint(json!({"kid": "no-such-key"}), &claims),
        );
        bearer(
            "validly signed, no kid",
            minter.mint(json!({"kid": null}), &claims),
        );
        bearer(
            "validly signed, kid 200 chars",
            minter.mint(
                json!({"kid": format!("{}{}", minter.kid, "a".repeat(200))}),
                &claims,
            ),
        );
        bearer(
            "validly signed, kid 10 KB",
            minter.mint(json!({"kid": "k".repeat(10 * 1024)}), &claims),
        );
        bearer(
            "validly signed, typ JWT",
            minter.mint(json!({"typ": "JWT"}), &claims),
        );
        bearer(
            "validly signed, no typ",
            minter.mint(json!({"typ": null}), &claims),
        );
        bearer(
            "validly signed, typ refresh+jwt",
            minter.mint(json!({"typ": "refresh+jwt"}), &claims),
        );
        bearer(
            "validly signed, alg ES256 in header",
            minter.mint(json!({"alg": "ES256"}), &claims),
        );
        let mut padded = claims.clone();
        padded["pad"] = json!("p".repeat(10 * 1024));
        bearer(
            "validly signed, 10 KB token",
            minter.mint(json!({}), &padded),
        );
        bearer(
            "five-segment JWE",
            format!(
                "{}.{}.{}.{}.{}",
                b64_json(&json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": minter.kid})),
                b64(b"key"),
                b64(b"iv"),
                b64(b"ciphertext"),
                b64(b"tag")
            ),
        );
        bearer("four segments", format!("{valid}.{sig_b64}"));
        bearer("padding characters", format!("{valid}=="));
        bearer("garbage", "x".repeat(10 * 1024));
        bearer("refresh token as bearer", tokens.refresh.clone());
        cases.push(("Bearer, no token".into(), "Bearer".into()));
        cases.push(("Bearer, blank token".into(), "Bearer    ".into()));
        cases.push(("Basic scheme".into(), "Basic abc".into()));
        cases.push((
            "Basic scheme with our token".into(),
            format!("Basic {valid}"),
        ));
        cases.push(("no scheme, token only".into(), valid.clone()));
        cases.push(("two tokens".into(), format!("Bearer {valid} {valid}")));
        // Positive controls: the minting is sound, so each refusal below is down to the one change.
        for (typ, why) in [
            ("at+jwt", "our header"),
            ("application/at+jwt", "RFC 9068 long form"),
        ] {
            let control = minter.mint(json!({"typ": typ}), &claims);
            assert_eq!(app.me_status(&control).await, StatusCode::OK, "{why}");
        }
        for (case, authorization) in cases {
            // Act
            let resp = me_with_authorization(&app, &authorization).await;
            // Assert
            assert_invalid_token(resp, &case).await;
        }
        assert_eq!(
            app.me_status(&valid).await,
            StatusCode::OK,
            "the genuine token still works"
        );
    }
);

// R10: a bearer token is accepted only in the Authorization header, never from the URL or a body
// (a token in a URL ends up in logs, histories and Referer headers).
both!(
    tokens_outside_the_authorization_header_are_ignored,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        // Act
        let in_query = app
            .get(&format!("/users/me?access_token={}", tokens.access), None)
            .await;
        let in_form = app
            .client
            .post(app.url("/auth/logout"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("access_token={}", tokens.access))
            .send()
            .await
            .unwrap();
        // Assert
        for resp in [in_query, in_form] {
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                resp.headers().get("www-authenticate").unwrap(),
                "Bearer",
                "no credentials were seen"
            );
        }
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::OK,
            "the session is untouched"
        );
    }
);

// R10: the auth scheme is case-insensitive (RFC 7235 §2.1).
both!(bearer_scheme_is_case_insensitive, |app| async move {
    // Arrange
    let (_, tokens) = app.signed_in_user().await;
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        // Act
        let resp = me_with_authorization(&app, &format!("{scheme} {}", tokens.access)).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK, "{scheme}");
    }
});
