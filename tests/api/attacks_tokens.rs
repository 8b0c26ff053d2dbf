//! Token attacks from jwt_tool, the OWASP JWT cheat sheet and the CVE list in SECURITY.md, each
//! against the running server over HTTP. `hostile_tokens.rs` holds the broad catalogue; these
//! are the variants it lacks (every casing and form of `none`, key confusion with PEM keys and
//! in ES256/RS256 mode, psychic signatures, hostile `kid`s, outbound key fetches, duplicate
//! members, ill-typed claims, leeway edges, token-kind confusion, oversized input).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::both;
use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The (header, claims, signature) segments of a compact JWS.
fn segments(token: &str) -> (String, String, String) {
    let p: Vec<&str> = token.split('.').collect();
    (p[0].to_owned(), p[1].to_owned(), p[2].to_owned())
}

/// Fresh claims for `base`'s user and session, valid now.
fn fresh_claims(app: &TestApp, base: &Value) -> Value {
    let now = app.clock.now();
    let mut claims = base.clone();
    merge(
        &mut claims,
        json!({"iat": now, "nbf": now, "exp": now + 900, "jti": uuid::Uuid::new_v4()}),
    );
    claims
}

/// An ES256/RS256-mode token with its header relabelled and its signature replaced.
fn with_signature(header: &Value, claims_b64: &str, signature: &[u8]) -> String {
    format!("{}.{claims_b64}.{}", b64_json(header), b64(signature))
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
        for (case, token) in cases {
            // Act
            let resp = app.get("/users/me", Some(&token)).await;
            // Assert
            assert_invalid_token(resp, &case).await;
        }
        assert_eq!(me_status_of(&app, &tokens.access).await, StatusCode::OK);
    }
);

/// Status of `GET /users/me` with this token.
async fn me_status_of(app: &TestApp, token: &str) -> StatusCode {
    app.get("/users/me", Some(token)).await.status()
}

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
                let token = sign_raw(
                    &header,
                    &claims,
                    &EncodingKey::from_secret(&secret),
                    Algorithm::HS256,
                );
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
            me_status_of(&app, &control).await,
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
                sign_raw(
                    &hs,
                    &claims,
                    &EncodingKey::from_secret(&secret),
                    Algorithm::HS256,
                ),
            ));
        }
        for alg in ["ES384", "ES512", "EdDSA", "none"] {
            let mut relabelled = header.clone();
            relabelled["alg"] = json!(alg);
            cases.push((
                format!("real signature relabelled {alg}"),
                format!(
                    "{}.{claims_b64}.{}",
                    b64_json(&relabelled),
                    segments(&real).2
                ),
            ));
        }
        for (case, token) in cases {
            // Act
            let resp = app.get("/users/me", Some(&token)).await;
            // Assert
            assert_invalid_token(resp, &case).await;
        }
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
                sign_raw(
                    &hs,
                    &claims,
                    &EncodingKey::from_secret(&secret),
                    Algorithm::HS256,
                ),
            ));
        }
        let (_, c, s) = segments(&tokens.access);
        for alg in ["PS256", "RS384", "HS256", "none"] {
            let mut relabelled = header.clone();
            relabelled["alg"] = json!(alg);
            cases.push((
                format!("relabelled {alg}"),
                format!("{}.{c}.{s}", b64_json(&relabelled)),
            ));
        }
        for (case, token) in cases {
            // Act
            let resp = app.get("/users/me", Some(&token)).await;
            // Assert
            assert_invalid_token(resp, &case).await;
        }
        assert_eq!(me_status_of(&app, &tokens.access).await, StatusCode::OK);
    }
);

/// A loopback listener that counts connections: detects any outbound key fetch.
async fn fetch_detector() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (format!("http://{addr}"), hits)
}

both!(
    /// R3 (RFC 8725 §3.10, ASVS 5.0 9.1.3; CVE-2018-0114, jwt_tool `-X s`/`-X i`): a token
    /// signed by the attacker's key and pointing at it through `jwk`, `jku`, `x5u` or `x5c` is
    /// refused, and the server never fetches the URL it names.
    embedded_and_remote_keys_are_never_trusted_nor_fetched,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let mut claims = fresh_claims(&app, &claims_of(&tokens.access));
        claims["roles"] = json!(["user", "admin"]);
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend([0x17u8; 32]);
        let attacker = EncodingKey::from_ed_der(&der);
        let mut attacker_jwk =
            serde_json::to_value(Jwk::from_encoding_key(&attacker, Algorithm::EdDSA).unwrap())
                .unwrap();
        attacker_jwk["kid"] = json!("attacker");
        let (base, hits) = fetch_detector().await;
        let minter = Minter::new(&app).await;
        let headers = [
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "attacker", "jku": format!("{base}/jwks.json")}),
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": minter.kid, "jku": format!("{base}/jwks.json")}),
            json!({"alg": "EdDSA", "typ": "at+jwt", "jku": format!("{base}/jwks.json")}),
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "attacker", "x5u": format!("{base}/cert.pem")}),
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": format!("{base}/jwks.json")}),
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "attacker", "jwk": attacker_jwk}),
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": minter.kid, "jwk": attacker_jwk}),
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "attacker", "x5c": [STANDARD.encode(b"not a certificate")]}),
        ];
        for header in headers {
            // Act
            let token = sign_raw(&header, &claims, &attacker, Algorithm::EdDSA);
            let resp = app.get("/users/me", Some(&token)).await;
            // Assert
            assert_invalid_token(resp, &header.to_string()).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            hits.load(Ordering::SeqCst),
            0,
            "the server fetched a key URL from a token"
        );
    }
);

both!(
    /// R3 (RFC 8725 §3.10 "sanitize kid"; jwt_tool `-I -hc kid`): hostile `kid` values (path
    /// traversal to /dev/null, SQL injection, command injection, NUL, CRLF, Unicode, 10 KB) are
    /// refused whether the token is validly signed or HS256-signed with the value the injection
    /// would make the server use (empty key, `key`, the kid itself); the server stays healthy.
    hostile_kid_values_are_refused,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        let minter = Minter::new(&app).await;
        let claims = fresh_claims(&app, &claims_of(&tokens.access));
        let kids = [
            "../../dev/null".to_owned(),
            "/dev/null".to_owned(),
            "../../../../../../proc/self/environ".to_owned(),
            "' OR 1=1--".to_owned(),
            "x' UNION SELECT 'key' --".to_owned(),
            format!("{}' OR '1'='1", minter.kid),
            "key; ls -la".to_owned(),
            "|id".to_owned(),
            "$(id)".to_owned(),
            format!("{}\u{0}", minter.kid),
            format!("{}\r\nX-Injected: 1", minter.kid),
            format!("{}\u{202e}", minter.kid),
            minter.kid.to_uppercase(),
            format!(" {}", minter.kid),
            "k".repeat(10 * 1024),
        ];
        for kid in &kids {
            let mut cases = vec![(
                "validly signed".to_owned(),
                minter.mint(json!({"kid": kid}), &claims),
            )];
            for (what, secret) in [
                ("empty key", &b""[..]),
                ("key", b"key"),
                ("kid itself", kid.as_bytes()),
            ] {
                let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
                cases.push((
                    format!("HS256 keyed with {what}"),
                    sign_raw(
                        &header,
                        &claims,
                        &EncodingKey::from_secret(secret),
                        Algorithm::HS256,
                    ),
                ));
            }
            for (how, token) in cases {
                // Act
                let resp = app.get("/users/me", Some(&token)).await;
                // Assert
                let shown: String = kid.chars().take(40).collect();
                assert_invalid_token(resp, &format!("kid {shown:?}, {how}")).await;
            }
        }
        assert_eq!(me_status_of(&app, &tokens.access).await, StatusCode::OK);
        assert_eq!(
            app.login(&user).await.status(),
            StatusCode::OK,
            "the users table is intact"
        );
    }
);

both!(
    /// R2 (ASVS 5.0 9.1.1; CVE-2020-28042 null signature): a genuine header and claims with the
    /// signature emptied, zeroed, truncated, extended, or replaced by the text `null` are refused.
    stripped_null_and_zeroed_signatures_are_refused,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let (h, c, s) = segments(&tokens.access);
        let sig = URL_SAFE_NO_PAD.decode(&s).unwrap();
        let cases = [
            ("empty", format!("{h}.{c}.")),
            ("64 zero bytes", format!("{h}.{c}.{}", b64(&[0u8; 64]))),
            ("one zero byte", format!("{h}.{c}.{}", b64(&[0u8]))),
            ("text null", format!("{h}.{c}.{}", b64(b"null"))),
            ("literal null", format!("{h}.{c}.null")),
            (
                "truncated by a byte",
                format!("{h}.{c}.{}", b64(&sig[..63])),
            ),
            (
                "one byte appended",
                format!("{h}.{c}.{}", b64(&[&sig[..], &[0u8]].concat())),
            ),
            (
                "doubled",
                format!("{h}.{c}.{}", b64(&[&sig[..], &sig[..]].concat())),
            ),
            (
                "standard base64 alphabet",
                format!("{h}.{c}.{}", STANDARD.encode(&sig)),
            ),
        ];
        for (case, token) in cases {
            // Act
            let resp = app.get("/users/me", Some(&token)).await;
            // Assert
            assert_invalid_token(resp, case).await;
        }
        assert_eq!(me_status_of(&app, &tokens.access).await, StatusCode::OK);
    }
);

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
            assert_eq!(me_status_of(&app, &token).await, StatusCode::OK, "{case}");
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
            me_status_of(&app, &assert_control).await,
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
            me_status_of(&app, &tokens.access).await,
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

both!(
    /// R34, R9 (rfc8725bis "limit sizes"; Rauthy's token length cap): over-long bearer tokens
    /// and Authorization headers up to 1 MiB are refused with 401 or 431, never a 5xx or a hang,
    /// and the server keeps serving.
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
        )];
        for size in [16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024] {
            cases.push((
                format!("{size} bytes"),
                format!("Bearer {}", "a".repeat(size)),
            ));
        }
        for (case, value) in cases {
            // Act
            let resp = app
                .client
                .get(app.url("/users/me"))
                .header("authorization", value)
                .timeout(Duration::from_secs(20))
                .send()
                .await;
            // Assert: a closed connection is an acceptable refusal too; a 5xx is not.
            if let Ok(resp) = resp {
                let status = resp.status();
                assert!(
                    status == StatusCode::UNAUTHORIZED
                        || status == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "{case}: {status}"
                );
            }
        }
        // 500 headers of 1 KiB each.
        let mut req = app
            .client
            .get(app.url("/users/me"))
            .bearer_auth(&tokens.access);
        for i in 0..500 {
            req = req.header(format!("x-filler-{i}"), "f".repeat(1024));
        }
        if let Ok(resp) = req.timeout(Duration::from_secs(20)).send().await {
            assert!(!resp.status().is_server_error(), "{}", resp.status());
        }
        assert_eq!(
            me_status_of(&app, &tokens.access).await,
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
            // Assert
            assert!(
                status.contains(" 413 "),
                "{path} announced 10 GiB: {status:?} after {took:?}"
            );
        }
    }
);
