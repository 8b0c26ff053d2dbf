//! Token attacks on the algorithm (jwt_tool, the OWASP JWT cheat sheet and the CVE list in
//! SECURITY.md), each against the running server over HTTP: every casing and form of `none`,
//! key confusion with our public keys (PEM, DER, JWK) in EdDSA, ES256 and RS256 mode, psychic
//! signatures. `hostile_tokens.rs` holds the broad catalogue; the `attacks_*` modules the
//! variants it lacks.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::support::*;

/// An ES256/RS256-mode token with its header relabelled and its signature replaced.
fn with_signature(header: &Value, claims_b64: &str, signature: &[u8]) -> String {
    format!("{}.{claims_b64}.{}", b64_json(header), b64(signature))
}

/// An HS256 token signed with `secret` (a public key in some form, for key confusion).
fn hs256_keyed_with(header: &Value, claims: &Value, secret: &[u8]) -> String {
    sign_raw(
        header,
        claims,
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
}

/// A genuine token's claims and signature under a header whose `alg` now says `alg`.
fn relabelled(header: &Value, alg: &str, claims_b64: &str, signature_b64: &str) -> String {
    let mut header = header.clone();
    header["alg"] = json!(alg);
    format!("{}.{claims_b64}.{signature_b64}", b64_json(&header))
}

both!(
    /// R1 (RFC 8725 §3.1; CVE-2015-2951, jwt_tool `-X a`): `alg: none` is refused in every
    /// casing, with an empty, missing or kept signature, and so are a missing, null, empty or
    /// array-valued `alg`.
    alg_none_is_refused_in_every_casing_and_form,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let minter = Minter::new(&app).await;
        let (_, claims_b64, sig) = segments(&tokens.access);
        let mut cases = Vec::new();
        for alg in ["none", "None", "NONE", "nOnE", "NoNe", "none "] {
            for typ in [Some("at+jwt"), Some("JWT"), None] {
                let mut header = json!({"alg": alg, "kid": minter.kid});
                if let Some(t) = typ {
                    header["typ"] = json!(t);
                }
                let h = b64_json(&header);
                cases.push((
                    format!("{alg} {typ:?} trailing dot"),
                    format!("{h}.{claims_b64}."),
                ));
                cases.push((
                    format!("{alg} {typ:?} two segments"),
                    format!("{h}.{claims_b64}"),
                ));
                cases.push((
                    format!("{alg} {typ:?} signature kept"),
                    format!("{h}.{claims_b64}.{sig}"),
                ));
            }
        }
        for (why, alg) in [
            ("alg missing", Value::Null),
            ("alg empty", json!("")),
            ("alg array", json!(["EdDSA"])),
            ("alg array with none", json!(["none", "EdDSA"])),
        ] {
            let mut header = json!({"typ": "at+jwt", "kid": minter.kid});
            if !alg.is_null() {
                header["alg"] = alg;
            }
            cases.push((
                why.to_owned(),
                format!("{}.{claims_b64}.{sig}", b64_json(&header)),
            ));
            cases.push((
                format!("{why}, no signature"),
                format!("{}.{claims_b64}.", b64_json(&header)),
            ));
        }
        // Act / Assert
        assert_bearers_refused(&app, cases).await;
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
    }
);

both!(
    /// R1 (RFC 8725 §2.1; CVE-2016-10555, CVE-2024-33663, CVE-2022-29217, GHSA-hjrf-2m68-5959):
    /// an HS256 token keyed with our Ed25519 public key in every form an attacker can derive from
    /// the JWKS (SPKI PEM with and without newline, DER, base64 DER, raw `x`) is refused.
    hs256_keyed_with_our_eddsa_public_key_pem_is_refused,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let mut claims = fresh_claims(&app, &claims_of(&tokens.access));
        claims["roles"] = json!(["user", "admin"]);
        let (set, _) = jwks(&app).await;
        let kid = set["keys"][0]["kid"].as_str().unwrap().to_owned();
        let x = URL_SAFE_NO_PAD
            .decode(set["keys"][0]["x"].as_str().unwrap())
            .unwrap();
        let der = ed25519_spki(&x);
        let pem_text = pem("PUBLIC KEY", &der);
        let secrets: Vec<(&str, Vec<u8>)> = vec![
            ("SPKI PEM", pem_text.clone().into_bytes()),
            (
                "SPKI PEM without newline",
                pem_text.trim_end().as_bytes().to_vec(),
            ),
            ("SPKI PEM CRLF", pem_text.replace('\n', "\r\n").into_bytes()),
            ("SPKI DER", der.clone()),
            ("base64 SPKI DER", STANDARD.encode(&der).into_bytes()),
            ("raw x", x.clone()),
            ("empty secret (CVE-2019-20933)", Vec::new()),
        ];
        for (what, secret) in secrets {
            for typ in ["at+jwt", "JWT"] {
                let header = json!({"alg": "HS256", "typ": typ, "kid": kid});
                let token = hs256_keyed_with(&header, &claims, &secret);
                // Act
                let resp = app.get("/users/me", Some(&token)).await;
                // Assert
                assert_invalid_token(resp, &format!("HS256 keyed with {what}, typ {typ}")).await;
            }
        }
    }
);

both!(
    /// R1, R2 (CVE-2022-21449 "psychic signatures", CVE-2016-10555, CVE-2020-28042): in ES256
    /// mode, r = s = 0 (raw and DER), r = s = n, a zero r with a real s, a stripped signature and
    /// HS256 keyed with our P-256 public key (PEM, DER, raw x‖y, JWK text) are all refused.
    es256_psychic_signatures_and_key_confusion_are_refused,
    &["--jwt-alg", "ES256"],
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let (key, kid) = server_key(&app, "ES256").await;
        let header = header_of(&tokens.access);
        let mut claims = fresh_claims(&app, &claims_of(&tokens.access));
        let control = sign_raw(&header, &claims, &key, Algorithm::ES256);
        assert_eq!(
            app.me_status(&control).await,
            StatusCode::OK,
            "positive control"
        );
        claims["roles"] = json!(["user", "admin"]);
        let claims_b64 = b64_json(&claims);
        let real = sign_raw(&header, &claims, &key, Algorithm::ES256);
        let real_sig = URL_SAFE_NO_PAD.decode(segments(&real).2).unwrap();
        // The order n of the P-256 group.
        let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        let mut cases: Vec<(String, String)> = vec![
            (
                "r = s = 0, raw 64 bytes".into(),
                with_signature(&header, &claims_b64, &[0u8; 64]),
            ),
            (
                "r = s = 0, DER".into(),
                with_signature(
                    &header,
                    &claims_b64,
                    &[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
                ),
            ),
            (
                "r = s = n".into(),
                with_signature(&header, &claims_b64, &[n.clone(), n.clone()].concat()),
            ),
            (
                "r = 0, real s".into(),
                with_signature(
                    &header,
                    &claims_b64,
                    &[&[0u8; 32][..], &real_sig[32..]].concat(),
                ),
            ),
            (
                "real r, s = 0".into(),
                with_signature(
                    &header,
                    &claims_b64,
                    &[&real_sig[..32], &[0u8; 32][..]].concat(),
                ),
            ),
            (
                "signature stripped".into(),
                format!("{}.{claims_b64}.", b64_json(&header)),
            ),
            (
                "32-byte signature".into(),
                with_signature(&header, &claims_b64, &real_sig[..32]),
            ),
        ];
        let (set, _) = jwks(&app).await;
        let jwk = set["keys"][0].clone();
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
        let der = p256_spki(&x, &y);
        for (what, secret) in [
            ("SPKI PEM", pem("PUBLIC KEY", &der).into_bytes()),
            ("SPKI DER", der.clone()),
            ("raw x||y", [x.clone(), y.clone()].concat()),
            ("JWK text", jwk.to_string().into_bytes()),
        ] {
            let hs = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
            cases.push((
                format!("HS256 keyed with {what}"),
                hs256_keyed_with(&hs, &claims, &secret),
            ));
        }
        for alg in ["ES384", "ES512", "EdDSA", "none"] {
            cases.push((
                format!("real signature relabelled {alg}"),
                relabelled(&header, alg, &claims_b64, &segments(&real).2),
            ));
        }
        // Act / Assert
        assert_bearers_refused(&app, cases).await;
    }
);

/// Bytes from a hex string.
fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

both!(
    /// R1 (RFC 8725 §2.1; CVE-2016-10555, CVE-2015-9235 class, node jsonwebtoken
    /// GHSA-hjrf-2m68-5959): in RS256 mode an HS256 token keyed with our RSA public key as SPKI
    /// or PKCS#1 PEM is refused, and so is the real signature relabelled PS256/HS256.
    rs256_key_confusion_with_the_public_pem_is_refused,
    &["--jwt-alg", "RS256"],
    |app| async move {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let header = header_of(&tokens.access);
        let mut claims = fresh_claims(&app, &claims_of(&tokens.access));
        claims["roles"] = json!(["user", "admin"]);
        let (set, _) = jwks(&app).await;
        let jwk = &set["keys"][0];
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
        let public = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&n),
            rsa::BigUint::from_bytes_be(&e),
        )
        .unwrap();
        let spki = public.to_public_key_pem(LineEnding::LF).unwrap();
        let pkcs1 = public.to_pkcs1_pem(LineEnding::LF).unwrap();
        let mut cases = Vec::new();
        for (what, secret) in [
            ("SPKI PEM", spki.as_bytes().to_vec()),
            ("PKCS#1 PEM", pkcs1.as_bytes().to_vec()),
            (
                "SPKI DER",
                public.to_public_key_der().unwrap().as_bytes().to_vec(),
            ),
            ("JWK text", jwk.to_string().into_bytes()),
        ] {
            let mut hs = header.clone();
            hs["alg"] = json!("HS256");
            cases.push((
                format!("HS256 keyed with {what}"),
                hs256_keyed_with(&hs, &claims, &secret),
            ));
        }
        let (_, c, s) = segments(&tokens.access);
        for alg in ["PS256", "RS384", "HS256", "none"] {
            cases.push((format!("relabelled {alg}"), relabelled(&header, alg, &c, &s)));
        }
        // Act / Assert
        assert_bearers_refused(&app, cases).await;
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
    }
);
