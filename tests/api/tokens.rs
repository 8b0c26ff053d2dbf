//! Access tokens as RFC 9068 describes them: the shape of what we issue, the keys we publish,
//! discovery, expiry, and keys across a restart.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn discovery(app: &TestApp) -> Value {
    let resp = app.get("/.well-known/openid-configuration", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
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
            meta.get("id_token_signing_alg_values_supported").is_none(),
            "{meta}"
        );
    }
);

// R5, R12: a genuine access token dies once its 15 minutes plus the 30 s leeway have passed,
// with an RFC 6750 invalid_token challenge; the refresh token outlives it.
both!(
    issued_access_token_expires_after_15_minutes_plus_leeway,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        app.clock.advance(900 + 20);
        assert_eq!(
            app.me_status(&tokens.access).await,
            StatusCode::OK,
            "inside the leeway"
        );
        // Act: one second past lifetime + leeway
        app.clock.advance(11);
        let resp = app.get("/users/me", Some(&tokens.access)).await;
        // Assert
        assert_invalid_token(resp, "expired").await;
        let next = app.refresh(&tokens.refresh).await;
        assert_eq!(
            next.status(),
            StatusCode::OK,
            "the refresh token outlives it"
        );
        let next = Tokens::from_json(&next.json().await.unwrap());
        assert_eq!(app.me_status(&next.access).await, StatusCode::OK);
    }
);

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
    assert_eq!(restarted.me_status(&tokens.access).await, StatusCode::OK);
    let fresh = restarted.refresh(&tokens.refresh).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let fresh = Tokens::from_json(&fresh.json().await.unwrap());
    assert_eq!(header_of(&fresh.access)["kid"], kid);
});
