//! A verify-only state's link to the authgate that issues its tokens: the JWKS, fetched at
//! start and again when a token names a key we do not know (at most once a minute), and, if
//! configured, its revocation feed (`remote_feed`).

use std::sync::{Arc, Mutex};

use anyhow::Context;
use jsonwebtoken::jwk::JwkSet;

use super::remote_feed::{Follower, Mirror};
use crate::domain::JwtAlg;
use crate::token::{KeyRing, Verifier};

/// A verify-only state's link to the issuing server.
pub(crate) struct Remote {
    pub jwks_url: String,
    pub alg: JwtAlg,
    pub issuer: String,
    pub audience: String,
    pub leeway: i64,
    pub last_fetch: Mutex<i64>,
    /// The issuing server's revocations, when the state follows its feed.
    pub feed: Option<(Arc<Mirror>, Follower)>,
}

/// Pick ring as rustls' crypto provider (once). authgate calls it before fetching a JWKS; a host
/// app that builds its own reqwest client with this crate's feature set calls it first too.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Remote {
    pub(crate) async fn fetch(&self) -> anyhow::Result<Verifier> {
        install_tls_provider();
        let jwks: JwkSet = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?
            .get(&self.jwks_url)
            .send()
            .await
            .with_context(|| format!("could not fetch the JWKS at {}", self.jwks_url))?
            .error_for_status()?
            .json()
            .await
            .context("the JWKS is not valid JSON")?;
        let keys = KeyRing::from_jwks(self.alg, &jwks)?;
        Ok(Verifier::new(
            Arc::new(keys),
            &self.issuer,
            &self.audience,
            self.leeway,
        ))
    }
}
