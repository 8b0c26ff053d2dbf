//! Signing algorithms other than the default EdDSA: HS256, ES256, RS256, and weak HS256
//! secrets that refuse to start.

use crate::both;
use crate::support::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use serde_json::json;

/// A random-looking 48-character HS256 secret (not one from a tutorial).
const HS_SECRET: &str = "DycezXWH2v2VplbzUuvAZAHPLJ9g6cy4AGw3PIxGt7PiEQRa";
/// The secret from the FastAPI tutorial, which many deployments copied.
const TUTORIAL_SECRET: &str = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7";

both!(
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

both!(
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

both!(
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
