//! Token attacks on keys and signatures, against the running server: embedded and remote keys
//! (never trusted, never fetched), hostile `kid`s, and stripped, null or zeroed signatures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::support::*;

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
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
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
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
    }
);
