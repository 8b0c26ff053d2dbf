//! Signing keys: generated on first start, kept in the database so every instance signs with the
//! same key, published (public halves only) as a JWKS.

use std::collections::HashMap;
use std::fmt;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use crate::domain::JwtAlg;
use crate::secrets::{Sealer, sealed_with};
use crate::store::{Store, StoredKey};

/// The jsonwebtoken algorithm for `alg`.
pub(crate) fn algorithm(alg: JwtAlg) -> Algorithm {
    match alg {
        JwtAlg::EdDSA => Algorithm::EdDSA,
        JwtAlg::ES256 => Algorithm::ES256,
        JwtAlg::RS256 => Algorithm::RS256,
        JwtAlg::HS256 => Algorithm::HS256,
    }
}

/// The `Cache-Control: max-age` the JWKS is served with (`GET /.well-known/jwks.json`): a
/// rotated-in key is published at least this long before it signs.
pub const JWKS_MAX_AGE: i64 = 300;

/// PKCS#8 v1 prefix for a raw Ed25519 seed (jsonwebtoken wants exactly this 48-byte form).
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The keys this instance signs and verifies with. Private material never leaves it.
pub struct KeyRing {
    alg: JwtAlg,
    /// `(kid, key)` new tokens are signed with; `None` in a verify-only ring.
    signing: Option<(String, SigningKey)>,
    verifying: HashMap<String, DecodingKey>,
    jwks: JwkSet,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("alg", &self.alg)
            .field("signing_kid", &self.signing_kid())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Load the keys for `alg` from the store, generating the first one if there is none.
    /// HS256 uses `secret` instead and publishes nothing.
    ///
    /// With a `sealer`, private keys are sealed at rest: a new key is stored sealed, and keys
    /// stored in plaintext (before a KEK was configured) are sealed now, in place.
    pub async fn load(
        store: &dyn Store,
        alg: JwtAlg,
        secret: Option<&[u8]>,
        sealer: Option<&Sealer>,
        now: i64,
    ) -> anyhow::Result<Self> {
        if alg == JwtAlg::HS256 {
            let secret =
                secret.context("AUTHGATE_JWT_SECRET is required with AUTHGATE_JWT_ALG=HS256")?;
            return Ok(Self::hmac(secret));
        }
        let mut stored = store.signing_keys(alg.name()).await?;
        if stored.is_empty() {
            let mut key = generate(alg, now)?;
            if let Some(sealer) = sealer {
                key.private_der = seal_private(sealer, &key.private_der)?;
            }
            store.insert_signing_key(&key).await?;
            // Another instance may have won the race; whatever is newest in the store is the key.
            stored = store.signing_keys(alg.name()).await?;
        }
        if let Some(sealer) = sealer {
            for key in &mut stored {
                if sealed_with(&key.private_der).is_none() {
                    let sealed = seal_private(sealer, &key.private_der)?;
                    // Lost only to another instance sealing it at the same moment.
                    store
                        .reseal_signing_key(&key.kid, &key.private_der, &sealed)
                        .await?;
                    tracing::info!(kid = %key.kid, "sealed a plaintext signing key under the KEK");
                    key.private_der = sealed;
                }
            }
        }
        Self::from_stored(alg, &stored, sealer, now)
    }

    /// The ring `stored` (one algorithm's keys, newest first, as the store lists them) makes at
    /// `now`: every key not retired is published and verifies; the newest whose `activates_at`
    /// has come signs (a rotated-in key is published before it signs, so verifiers that cache
    /// the JWKS know it first).
    pub fn from_stored(
        alg: JwtAlg,
        stored: &[StoredKey],
        sealer: Option<&Sealer>,
        now: i64,
    ) -> anyhow::Result<Self> {
        let live: Vec<&StoredKey> = stored.iter().filter(|k| k.retired_at.is_none()).collect();
        let signer = live
            .iter()
            .find(|k| k.activates_at <= now)
            .or_else(|| live.last())
            .context("every signing key is retired: run `authgate keys rotate`")?;
        let der = private_der(&signer.private_der, sealer)?;
        let signing = SigningKey::from_der(alg, &der)?;
        let mut verifying = HashMap::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        for key in &live {
            let jwk: Jwk =
                serde_json::from_str(&key.public_jwk).context("corrupt public JWK in the store")?;
            verifying.insert(key.kid.clone(), DecodingKey::from_jwk(&jwk)?);
            jwks.keys.push(jwk);
        }
        Ok(Self {
            alg,
            signing: Some((signer.kid.clone(), signing)),
            verifying,
            jwks,
        })
    }

    /// Whether the ring `stored` makes at `now` differs from this one (a key added, retired,
    /// or come to sign), so that it must be rebuilt.
    pub fn is_outdated(&self, stored: &[StoredKey], now: i64) -> bool {
        let live: Vec<&StoredKey> = stored.iter().filter(|k| k.retired_at.is_none()).collect();
        let signer = live
            .iter()
            .find(|k| k.activates_at <= now)
            .or_else(|| live.last());
        signer.map(|k| k.kid.as_str()) != self.signing_kid()
            || live.len() != self.verifying.len()
            || live.iter().any(|k| !self.verifying.contains_key(&k.kid))
    }

    /// A ring for a shared HMAC secret. The kid is derived from the secret, which it cannot reveal.
    pub fn hmac(secret: &[u8]) -> Self {
        let kid = format!(
            "hs256-{}",
            &hex(&Sha256::new()
                .chain_update(b"authgate-kid")
                .chain_update(secret)
                .finalize())[..16]
        );
        let mut verifying = HashMap::new();
        verifying.insert(kid.clone(), DecodingKey::from_secret(secret));
        // SECURITY: never publish an HMAC key: Jwk::from_encoding_key would put the secret in the JWKS.
        Self {
            alg: JwtAlg::HS256,
            signing: Some((kid, SigningKey::Jwt(EncodingKey::from_secret(secret)))),
            verifying,
            jwks: JwkSet { keys: vec![] },
        }
    }

    /// A verify-only ring from a published JWKS (for services that trust a remote authgate).
    pub fn from_jwks(alg: JwtAlg, jwks: &JwkSet) -> anyhow::Result<Self> {
        let mut verifying = HashMap::new();
        for jwk in &jwks.keys {
            if let Some(kid) = &jwk.common.key_id {
                verifying.insert(kid.clone(), DecodingKey::from_jwk(jwk)?);
            }
        }
        if verifying.is_empty() {
            bail!("the JWKS has no keys with a kid");
        }
        Ok(Self {
            alg,
            signing: None,
            verifying,
            jwks: jwks.clone(),
        })
    }

    /// The configured algorithm.
    pub fn alg(&self) -> JwtAlg {
        self.alg
    }

    /// The key id put in new tokens' headers; `None` for a verify-only ring.
    pub fn signing_kid(&self) -> Option<&str> {
        self.signing.as_ref().map(|(kid, _)| kid.as_str())
    }

    /// The kid and key new tokens are signed with; `None` for a verify-only ring.
    pub(crate) fn signing_key(&self) -> Option<(&str, &SigningKey)> {
        self.signing.as_ref().map(|(kid, key)| (kid.as_str(), key))
    }

    /// The verification key for a `kid`, if it is one of ours.
    pub(crate) fn verifying_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }

    /// The public JWKS.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

/// A private key new tokens are signed with.
pub(crate) enum SigningKey {
    /// EdDSA, ES256 and HS256: jsonwebtoken's own signers.
    Jwt(EncodingKey),
    /// RS256, signed with ring, whose RSA private-key operation is constant time. jsonwebtoken's
    /// RS256 signer is the `rsa` crate's, which is not (RUSTSEC-2023-0071, the Marvin attack),
    /// and every login and refresh signs a token, so its timing would be observable.
    Rsa(Box<ring::signature::RsaKeyPair>),
}

impl SigningKey {
    /// The signing key for `alg` from its stored DER (PKCS#8 for EdDSA and ES256, PKCS#1 for
    /// RS256).
    fn from_der(alg: JwtAlg, der: &[u8]) -> anyhow::Result<Self> {
        match alg {
            JwtAlg::RS256 => ring::signature::RsaKeyPair::from_der(der)
                .map(|pair| SigningKey::Rsa(Box::new(pair)))
                .map_err(|e| anyhow::anyhow!("corrupt RS256 signing key: {e}")),
            _ => Ok(SigningKey::Jwt(encoding_key(alg, der))),
        }
    }
}

fn encoding_key(alg: JwtAlg, der: &[u8]) -> EncodingKey {
    match alg {
        JwtAlg::EdDSA => EncodingKey::from_ed_der(der),
        JwtAlg::ES256 => EncodingKey::from_ec_der(der),
        JwtAlg::RS256 => EncodingKey::from_rsa_der(der),
        JwtAlg::HS256 => EncodingKey::from_secret(der),
    }
}

/// Generate a fresh key pair for `alg` with the OS random generator.
pub fn generate(alg: JwtAlg, now: i64) -> anyhow::Result<StoredKey> {
    let der: Vec<u8> = match alg {
        JwtAlg::EdDSA => {
            let mut seed = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut seed);
            [ED25519_PKCS8_PREFIX.as_slice(), &seed].concat()
        }
        JwtAlg::ES256 => {
            use p256::pkcs8::EncodePrivateKey;
            p256::SecretKey::random(&mut rand::rngs::OsRng)
                .to_pkcs8_der()?
                .as_bytes()
                .to_vec()
        }
        JwtAlg::RS256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)?
                .to_pkcs1_der()?
                .as_bytes()
                .to_vec()
        }
        JwtAlg::HS256 => bail!("HS256 keys come from AUTHGATE_JWT_SECRET, not the key store"),
    };
    let mut jwk = Jwk::from_encoding_key(&encoding_key(alg, &der), algorithm(alg))?;
    let kid = jwk.thumbprint(ThumbprintHash::SHA256)?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(StoredKey {
        kid,
        alg: alg.name().to_owned(),
        private_der: STANDARD.encode(&der),
        public_jwk: serde_json::to_string(&jwk)?,
        created_at: now,
        activates_at: now,
        retired_at: None,
    })
}

/// Seal a stored private key (base64 DER) under the KEK.
pub(crate) fn seal_private(sealer: &Sealer, base64_der: &str) -> anyhow::Result<String> {
    let der = STANDARD.decode(base64_der).context("corrupt signing key")?;
    sealer.seal(&der)
}

/// The DER of a stored private key: opened with the KEK if sealed, else decoded.
fn private_der(stored: &str, sealer: Option<&Sealer>) -> anyhow::Result<Vec<u8>> {
    match (sealed_with(stored), sealer) {
        (None, _) => STANDARD.decode(stored).context("corrupt signing key"),
        (Some(_), Some(sealer)) => sealer
            .open(stored)
            .context("could not open the signing key: is this the right AUTHGATE_KEK_FILE?"),
        (Some(id), None) => bail!(
            "the signing keys are encrypted under key-encryption key {id}: set AUTHGATE_KEK_FILE \
             or AUTHGATE_KEK to it"
        ),
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::token::Verifier;

    /// A full ring's key, and a verify-only ring built from its published JWK.
    fn issuer_and_remote() -> (StoredKey, KeyRing) {
        let stored = generate(JwtAlg::EdDSA, 0).unwrap();
        let jwk: Jwk = serde_json::from_str(&stored.public_jwk).unwrap();
        let remote = KeyRing::from_jwks(JwtAlg::EdDSA, &JwkSet { keys: vec![jwk] }).unwrap();
        (stored, remote)
    }

    #[test]
    fn published_jwk_has_no_private_part() {
        let (stored, _) = issuer_and_remote();
        let jwk: serde_json::Value = serde_json::from_str(&stored.public_jwk).unwrap();
        assert!(jwk.get("d").is_none(), "{jwk}");
        assert_eq!(jwk["kid"], stored.kid);
    }

    #[test]
    fn a_verify_only_ring_verifies_but_never_signs() {
        // Arrange: a token signed with the issuer's private key
        let (stored, remote) = issuer_and_remote();
        let verifier = Verifier::new(Arc::new(remote), "iss", "aud", 30);
        let claims = verifier.claims(uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), vec![], 100, 60);
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(stored.kid.clone());
        let der = STANDARD.decode(&stored.private_der).unwrap();
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&der)).unwrap();
        // Act + Assert
        assert_eq!(verifier.verify(&token, 100), Ok(claims.clone()));
        assert!(verifier.keys().signing_kid().is_none());
        assert!(
            verifier.sign(&claims).is_err(),
            "a ring built from a JWKS has nothing to sign with"
        );
    }

    #[test]
    fn rs256_is_signed_by_ring_with_the_bytes_the_rsa_crate_would_sign() {
        // PKCS#1 v1.5 signatures are deterministic, so the independent implementation (the
        // `rsa` crate, through jsonwebtoken) must produce the very same token.
        let stored = generate(JwtAlg::RS256, 0).unwrap();
        let der = STANDARD.decode(&stored.private_der).unwrap();
        let jwk: Jwk = serde_json::from_str(&stored.public_jwk).unwrap();
        let signing = SigningKey::from_der(JwtAlg::RS256, &der).unwrap();
        assert!(
            matches!(signing, SigningKey::Rsa(_)),
            "RS256 signs with ring"
        );
        let ring = KeyRing {
            alg: JwtAlg::RS256,
            signing: Some((stored.kid.clone(), signing)),
            verifying: HashMap::from([(stored.kid.clone(), DecodingKey::from_jwk(&jwk).unwrap())]),
            jwks: JwkSet { keys: vec![jwk] },
        };
        let verifier = Verifier::new(Arc::new(ring), "iss", "aud", 30);
        let claims = verifier.claims(uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), vec![], 100, 60);

        let ours = verifier.sign(&claims).unwrap();

        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(stored.kid.clone());
        let theirs =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(&der)).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(verifier.verify(&ours, 100), Ok(claims));
    }
}
