//! A separate service that only verifies tokens, trusting the server's published JWKS
//! (`AuthState::from_jwks_url`), driven through the same host app as `library.rs`.

use authgate::{AuthState, JwtAlg};
use reqwest::StatusCode;
use serde_json::Value;

use crate::both;
use crate::library::{get_as, host_app, tampered};
use crate::support::*;

/// The issuer the server puts in its tokens, from its discovery document.
async fn issuer_of(app: &TestApp) -> String {
    let meta: Value = app
        .get("/.well-known/openid-configuration", None)
        .await
        .json()
        .await
        .unwrap();
    meta["issuer"].as_str().expect("issuer").to_owned()
}

// R3, R6, R7: a separate service trusting the server's JWKS accepts its tokens and nothing else.
both!(
    remote_jwks_verifier_accepts_issued_tokens_and_rejects_tampered_ones,
    |app| async move {
        // Arrange
        let issuer = issuer_of(&app).await;
        let jwks_url = format!("{}/.well-known/jwks.json", app.address);
        let remote = AuthState::from_jwks_url(&jwks_url, JwtAlg::EdDSA, &issuer, "authgate")
            .await
            .expect("remote state");
        assert!(
            remote.user(uuid::Uuid::nil()).await.is_err(),
            "verify-only: no database behind it"
        );
        let host = host_app(remote);
        let (_, tokens) = app.signed_in_user().await;
        let id = app.user_id(&tokens.access).await;
        let (_, admin) = app.user_with_roles(&["admin"]).await;
        // Act
        let good = get_as(&host, "/whoami", Some(&tokens.access)).await;
        let bad = get_as(&host, "/whoami", Some(&tampered(&tokens.access))).await;
        let anonymous = get_as(&host, "/maybe", None).await;
        let user_on_admin = get_as(&host, "/admin-only", Some(&tokens.access)).await;
        let admin_on_admin = get_as(&host, "/admin-only", Some(&admin.access)).await;
        // Assert
        assert_eq!(good.status, StatusCode::OK);
        assert_eq!(good.text(), id);
        bad.assert_invalid_token();
        assert_eq!(anonymous.text(), "anonymous");
        assert_eq!(user_on_admin.status, StatusCode::FORBIDDEN);
        assert_eq!(admin_on_admin.status, StatusCode::OK);
    }
);

// R6, R7: a remote verifier configured for another issuer or audience refuses the tokens.
both!(
    remote_jwks_verifier_checks_issuer_and_audience,
    |app| async move {
        // Arrange
        let issuer = issuer_of(&app).await;
        let jwks_url = format!("{}/.well-known/jwks.json", app.address);
        let (_, tokens) = app.signed_in_user().await;
        let other_issuer = AuthState::from_jwks_url(
            &jwks_url,
            JwtAlg::EdDSA,
            "https://other.example",
            "authgate",
        )
        .await
        .unwrap();
        let other_audience = AuthState::from_jwks_url(&jwks_url, JwtAlg::EdDSA, &issuer, "billing")
            .await
            .unwrap();
        let other_alg =
            AuthState::from_jwks_url(&jwks_url, JwtAlg::ES256, &issuer, "authgate").await;
        // Act
        let wrong_iss = get_as(&host_app(other_issuer), "/whoami", Some(&tokens.access)).await;
        let wrong_aud = get_as(&host_app(other_audience), "/whoami", Some(&tokens.access)).await;
        // Assert
        assert_eq!(wrong_iss.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong_aud.status, StatusCode::UNAUTHORIZED);
        match other_alg {
            Err(_) => {}
            Ok(state) => {
                let resp = get_as(&host_app(state), "/whoami", Some(&tokens.access)).await;
                assert_eq!(
                    resp.status,
                    StatusCode::UNAUTHORIZED,
                    "EdDSA token under an ES256-only verifier"
                );
            }
        }
    }
);

// R4: HS256 secrets are never published, so a remote verifier cannot be built for them.
#[tokio::test]
async fn remote_jwks_verifier_refuses_hs256() {
    // Act
    let result = AuthState::from_jwks_url(
        "http://127.0.0.1:9/.well-known/jwks.json",
        JwtAlg::HS256,
        "x",
        "authgate",
    )
    .await;
    // Assert
    let err = result.err().expect("HS256 must be refused");
    assert!(err.to_string().contains("HS256"), "{err}");
}
