//! Access tokens as RFC 9068 describes them, verified as RFC 8725 asks: the shape of what we
//! issue, the keys we publish, and a catalogue of hostile and semantically wrong tokens.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

/// A random-looking 48-character HS256 secret (not one from a tutorial).
const HS_SECRET: &str = "DycezXWH2v2VplbzUuvAZAHPLJ9g6cy4AGw3PIxGt7PiEQRa";
/// The secret from the FastAPI tutorial, which many deployments copied.
const TUTORIAL_SECRET: &str = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7";

/// Like `both!`, but the app starts with extra command-line flags.
macro_rules! both_with {
    ($name:ident, $args:expr, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = spawn_app_with(Backend::Sqlite, $args).await;
                $body.await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if postgres_url().is_none() {
                    eprintln!("TEST_DATABASE_URL not set: PostgreSQL variant not run");
                    return;
                }
                let $app = spawn_app_with(Backend::Postgres, $args).await;
                $body.await;
            }
        }
    };
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(value: &Value) -> String {
    b64(&serde_json::to_vec(value).unwrap())
}

/// Decode segment `i` (0 header, 1 claims) of a compact JWS.
fn segment(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

fn header_of(token: &str) -> Value {
    segment(token, 0)
}

fn claims_of(token: &str) -> Value {
    segment(token, 1)
}

/// A compact JWS over exactly this header and these claims.
fn sign_raw(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64_json(header), b64_json(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

/// Signs arbitrary tokens with the server's own EdDSA key, read from its database: how a test
/// makes "validly signed but semantically wrong" tokens.
struct Minter {
    key: EncodingKey,
    kid: String,
}

impl Minter {
    async fn new(app: &TestApp) -> Self {
        let keys = app
            .state
            .store()
            .expect("server state")
            .signing_keys("EdDSA")
            .await
            .expect("signing keys");
        let newest = keys.first().expect("a signing key");
        let der = STANDARD.decode(&newest.private_der).expect("base64 DER");
        Self {
            key: EncodingKey::from_ed_der(&der),
            kid: newest.kid.clone(),
        }
    }

    /// The header we issue, with `changes` merged in (a null member removes it).
    fn header(&self, changes: Value) -> Value {
        let mut header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid});
        merge(&mut header, changes);
        header
    }

    /// Sign `claims` under our header with `header_changes` applied.
    fn mint(&self, header_changes: Value, claims: &Value) -> String {
        sign_raw(
            &self.header(header_changes),
            claims,
            &self.key,
            Algorithm::EdDSA,
        )
    }
}

/// Shallow merge: set each member of `changes`; null removes the member.
fn merge(target: &mut Value, changes: Value) {
    let target = target.as_object_mut().expect("object");
    for (k, v) in changes.as_object().expect("object") {
        if v.is_null() {
            target.remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
}

/// `GET /users/me` with this exact Authorization header value.
async fn me_with_authorization(app: &TestApp, value: &str) -> Response {
    app.client
        .get(app.url("/users/me"))
        .header("authorization", value)
        .send()
        .await
        .expect("request")
}

/// Assert the RFC 6750 answer to a refused token.
async fn assert_invalid_token(resp: Response, case: &str) {
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{case}");
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{case}: no WWW-Authenticate"))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{case}: {challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{case}: {challenge}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], json!("invalid_token"), "{case}");
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

async fn discovery(app: &TestApp) -> Value {
    let resp = app.get("/.well-known/openid-configuration", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

async fn jwks(app: &TestApp) -> (Value, reqwest::header::HeaderMap) {
    let resp = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    (resp.json().await.unwrap(), headers)
}

// R8, R12, RFC 9068 §2: the access token is typed, asymmetric, short-lived and names the user by id.
both!(
    access_token_has_the_rfc9068_header_and_claims,
    |app| async move {
        // Arrange
        let (user, tokens) = app.signed_in_user().await;
        let id = app.user_id(&tokens.access).await;
        let issuer = discovery(&app).await["issuer"].as_str().unwrap().to_owned();
        // Act
        let header = header_of(&tokens.access);
        let claims = claims_of(&tokens.access);
        // Assert
        assert_eq!(header["typ"], json!("at+jwt"));
        assert_eq!(header["alg"], json!("EdDSA"));
        assert!(
            header["kid"].as_str().is_some_and(|k| !k.is_empty()),
            "{header}"
        );
        for member in ["jwk", "jku", "x5u", "x5c", "crit"] {
            assert!(header.get(member).is_none(), "{member} in {header}");
        }
        assert_eq!(claims["iss"], json!(issuer));
        assert_eq!(claims["aud"], json!("authgate"));
        assert_eq!(claims["sub"], json!(id));
        assert!(uuid::Uuid::parse_str(claims["sub"].as_str().unwrap()).is_ok());
        assert_ne!(claims["sub"], json!(user.email));
        assert_ne!(claims["sub"], json!(user.username));
        let (exp, iat, nbf) = (
            claims["exp"].as_i64().unwrap(),
            claims["iat"].as_i64().unwrap(),
            claims["nbf"].as_i64().unwrap(),
        );
        assert_eq!(exp - iat, 900, "15-minute lifetime");
        assert!(nbf <= iat, "{claims}");
        assert!((iat - app.clock.now()).abs() <= 5, "issued now");
        for uuid_claim in ["jti", "sid"] {
            assert!(
                uuid::Uuid::parse_str(claims[uuid_claim].as_str().unwrap()).is_ok(),
                "{uuid_claim}"
            );
        }
        assert_eq!(claims["roles"], json!(["user"]));
        assert_eq!(claims["client_id"], json!("authgate"));
        assert!(
            claims.get("email").is_none() && claims.get("password").is_none(),
            "{claims}"
        );
        assert!(tokens.access.len() < 1024, "{} bytes", tokens.access.len());
        let again = app.login_ok(&user).await;
        assert_ne!(
            claims_of(&again.access)["jti"],
            claims["jti"],
            "jti is unique"
        );
        assert_ne!(
            claims_of(&again.access)["sid"],
            claims["sid"],
            "a login is a new session"
        );
    }
);

// R31: the JWKS publishes the public Ed25519 key that signed our tokens, never private material.
both!(
    jwks_publishes_only_the_public_signing_key,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let kid = header_of(&tokens.access)["kid"].clone();
        // Act
        let (set, headers) = jwks(&app).await;
        // Assert
        let keys = set["keys"].as_array().expect("keys");
        assert!(!keys.is_empty());
        for key in keys {
            assert_eq!(key["kty"], json!("OKP"), "{key}");
            assert_eq!(key["crv"], json!("Ed25519"), "{key}");
            assert_eq!(key["alg"], json!("EdDSA"), "{key}");
            assert!(key["kid"].is_string() && key["x"].is_string(), "{key}");
            for private in ["d", "k", "p", "q", "dp", "dq", "qi"] {
                assert!(key.get(private).is_none(), "{private} published: {key}");
            }
        }
        assert!(
            keys.iter().any(|k| k["kid"] == kid),
            "token kid {kid} not in {set}"
        );
        let cache = headers
            .get("cache-control")
            .expect("Cache-Control")
            .to_str()
            .unwrap();
        assert!(cache.contains("max-age"), "{cache}");
    }
);

// Discovery metadata lets any JWT library find our issuer, keys and token endpoint.
both!(
    openid_configuration_names_issuer_jwks_and_token_endpoint,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        // Act
        let meta = discovery(&app).await;
        // Assert
        let issuer = meta["issuer"].as_str().expect("issuer");
        assert_eq!(claims_of(&tokens.access)["iss"], json!(issuer));
        assert_eq!(
            meta["jwks_uri"],
            json!(format!("{issuer}/.well-known/jwks.json"))
        );
        assert_eq!(
            meta["token_endpoint"],
            json!(format!("{issuer}/auth/token"))
        );
        assert!(
            meta["id_token_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("EdDSA"))
        );
    }
);

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
            assert_eq!(
                app.get("/users/me", Some(&control)).await.status(),
                StatusCode::OK,
                "{why}"
            );
        }
        for (case, authorization) in cases {
            // Act
            let resp = me_with_authorization(&app, &authorization).await;
            // Assert
            assert_invalid_token(resp, &case).await;
        }
        assert_eq!(
            app.get("/users/me", Some(&valid)).await.status(),
            StatusCode::OK,
            "the genuine token still works"
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
            app.get("/users/me", Some(&good)).await.status(),
            StatusCode::OK,
            "correctly minted token"
        );
        let in_leeway = minter.mint(
            json!({}),
            &with(json!({"exp": now - 5, "iat": now - 905, "nbf": now - 905})),
        );
        assert_eq!(
            app.get("/users/me", Some(&in_leeway)).await.status(),
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

// R5: a genuine token dies once its lifetime plus the leeway has passed.
both!(
    issued_access_token_expires_after_15_minutes_plus_leeway,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        // Act / Assert
        app.clock.advance(900 + 20);
        assert_eq!(
            app.get("/users/me", Some(&tokens.access)).await.status(),
            StatusCode::OK,
            "inside the leeway"
        );
        app.clock.advance(15);
        assert_invalid_token(app.get("/users/me", Some(&tokens.access)).await, "expired").await;
    }
);

both_with!(
    hs256_mode_signs_with_the_secret_and_publishes_no_key,
    &["--jwt-alg", "HS256", "--jwt-secret", HS_SECRET],
    |app| async move {
        // R4, R31: HS256 with a strong secret works, and the secret never appears in the JWKS.
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        // Act
        let header = header_of(&tokens.access);
        let me = app.get("/users/me", Some(&tokens.access)).await;
        let (set, _) = jwks(&app).await;
        // Assert
        assert_eq!(header["alg"], json!("HS256"));
        assert_eq!(header["typ"], json!("at+jwt"));
        assert_eq!(me.status(), StatusCode::OK);
        assert_eq!(set, json!({"keys": []}));
        let raw = app
            .get("/.well-known/jwks.json", None)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !raw.contains(HS_SECRET) && !raw.contains(&b64(HS_SECRET.as_bytes())),
            "{raw}"
        );
        // A token signed with another secret is refused.
        let forged = sign_raw(
            &header,
            &claims_of(&tokens.access),
            &EncodingKey::from_secret(b"another-secret-of-32-bytes-length!!"),
            Algorithm::HS256,
        );
        assert_invalid_token(
            app.get("/users/me", Some(&forged)).await,
            "HS256 with another secret",
        )
        .await;
        // And the same secret with our claims but an EdDSA header is refused (one alg only).
        let mut ed_header = header.clone();
        ed_header["alg"] = json!("EdDSA");
        let parts: Vec<&str> = tokens.access.split('.').collect();
        let relabelled = format!("{}.{}.{}", b64_json(&ed_header), parts[1], parts[2]);
        assert_invalid_token(
            app.get("/users/me", Some(&relabelled)).await,
            "alg relabelled",
        )
        .await;
    }
);

both_with!(
    es256_mode_issues_and_publishes_p256_keys,
    &["--jwt-alg", "ES256"],
    |app| async move {
        // R1, R31: ES256 tokens verify, and the JWKS holds the public P-256 key only.
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        // Act
        let me = app.get("/users/me", Some(&tokens.access)).await;
        let (set, _) = jwks(&app).await;
        // Assert
        assert_eq!(me.status(), StatusCode::OK);
        assert_eq!(header_of(&tokens.access)["alg"], json!("ES256"));
        let key = &set["keys"][0];
        assert_eq!(key["kty"], json!("EC"), "{set}");
        assert_eq!(key["crv"], json!("P-256"), "{set}");
        assert_eq!(key["kid"], header_of(&tokens.access)["kid"]);
        assert!(key.get("d").is_none(), "{key}");
    }
);

both_with!(
    rs256_mode_issues_and_publishes_rsa_keys,
    &["--jwt-alg", "RS256"],
    |app| async move {
        // R1, R31: RS256 tokens verify, and the JWKS holds the public RSA key only.
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        // Act
        let me = app.get("/users/me", Some(&tokens.access)).await;
        let (set, _) = jwks(&app).await;
        // Assert
        assert_eq!(me.status(), StatusCode::OK);
        assert_eq!(header_of(&tokens.access)["alg"], json!("RS256"));
        let key = &set["keys"][0];
        assert_eq!(key["kty"], json!("RSA"), "{set}");
        assert_eq!(key["kid"], header_of(&tokens.access)["kid"]);
        assert!(key["n"].is_string() && key["e"].is_string(), "{key}");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{private} published: {key}");
        }
    }
);

/// Does `Application::build` refuse these flags? Returns the error text.
async fn start_error(extra: &[&str]) -> String {
    let db = TestDb::provision(Backend::Sqlite).await;
    let settings = test_settings(&db, extra);
    match authgate::Application::build(settings).await {
        Ok(_) => panic!("{extra:?} must not start"),
        Err(e) => format!("{e:#}"),
    }
}

// R4, F15: a tutorial secret, a short one, or a missing one stops the server from starting.
#[tokio::test]
async fn weak_or_missing_hs256_secrets_refuse_to_start() {
    // Act
    let tutorial = start_error(&["--jwt-alg", "HS256", "--jwt-secret", TUTORIAL_SECRET]).await;
    let short = start_error(&["--jwt-alg", "HS256", "--jwt-secret", "Xk3!pQ9z"]).await;
    let missing = start_error(&["--jwt-alg", "HS256"]).await;
    let stray = start_error(&["--jwt-secret", HS_SECRET]).await;
    // Assert
    assert!(tutorial.contains("tutorial"), "{tutorial}");
    assert!(short.contains("32 bytes"), "{short}");
    assert!(missing.contains("AUTHGATE_JWT_SECRET"), "{missing}");
    assert!(stray.contains("only used with"), "{stray}");
}

// F5, F14: keys live in the database, so a restart keeps the kid and old tokens stay valid.
both!(signing_keys_survive_a_restart, |app| async move {
    // Arrange
    let (_, tokens) = app.signed_in_user().await;
    let kid = header_of(&tokens.access)["kid"].clone();
    let settings = app.settings.clone();
    // Act
    let restarted = start(app.db, settings).await;
    // Assert
    let (set, _) = jwks(&restarted).await;
    assert_eq!(set["keys"].as_array().unwrap().len(), 1, "{set}");
    assert_eq!(set["keys"][0]["kid"], kid);
    assert_eq!(
        restarted
            .get("/users/me", Some(&tokens.access))
            .await
            .status(),
        StatusCode::OK
    );
    let fresh = restarted.refresh(&tokens.refresh).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let fresh = Tokens::from_json(&fresh.json().await.unwrap());
    assert_eq!(header_of(&fresh.access)["kid"], kid);
});
