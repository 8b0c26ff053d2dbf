//! Access tokens: JWTs per RFC 9068, verified the way RFC 8725 asks.
//!
//! Verification order: cap the length, insist on compact JWS, read the header, accept only our
//! algorithm, our `typ` and one of our own `kid`s (never a key carried in the token), check the
//! signature, then the claims: `iss`, `aud`, `sub` required and matched; `exp`, `nbf`, `iat`
//! checked against our clock with a small leeway. Any failure is the same 401 to the client.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jsonwebtoken::{Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::{KeyRing, SigningKey, algorithm};

/// Longest access token we will parse. Ours are well under 1 KiB.
pub const MAX_TOKEN_LEN: usize = 4096;
/// The JOSE `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TYP: &str = "at+jwt";
/// The `client_id` claim RFC 9068 requires: tokens are issued to authgate's own first-party clients.
pub const CLIENT_ID: &str = "authgate";

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// The user's immutable id; never an e-mail or username.
    pub sub: Uuid,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: Uuid,
    /// The session (refresh-token family) this token belongs to.
    pub sid: Uuid,
    pub roles: Vec<String>,
    pub client_id: String,
    /// The account's address was confirmed when the token was issued (absent in tokens issued
    /// before the claim existed: false).
    #[serde(default)]
    pub email_verified: bool,
    /// The e-mail address, only with `AUTHGATE_TOKEN_CLAIMS=email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The username, only with `AUTHGATE_TOKEN_CLAIMS=username` (and an account that has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// How the user authenticated (RFC 8176): `["pwd"]`, or `["pwd","otp"]` after the second
    /// factor (absent in tokens issued before the claim existed: none known).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The authenticator assurance level (NIST SP 800-63B): 1 for a password, 2 with the
    /// second factor (absent: 1).
    #[serde(default = "aal1")]
    pub aal: u8,
    /// The restricted state of AUTHGATE_REQUIRE_MFA_ROLES: the holder must enrol a second
    /// factor, and the token reaches only the enrolment endpoints (no roles count).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mfa_enrolment: bool,
}

fn aal1() -> u8 {
    1
}

/// Why a token was refused. Logged at debug level; never shown to the client (no oracle).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    #[error("not a compact JWS")]
    Malformed,
    #[error("unexpected header: {0}")]
    BadHeader(&'static str),
    #[error("unknown key id")]
    UnknownKey,
    #[error("signature or claims rejected: {0}")]
    Rejected(String),
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("issued in the future")]
    IssuedInFuture,
    #[error("session revoked")]
    Revoked,
    #[error("user deactivated")]
    Deactivated,
    /// The revocation list could not be refreshed from the database for too long: we cannot
    /// know whether this token was revoked elsewhere, so fail closed (503).
    #[error("revocation list is stale (database unreachable)")]
    RevocationsStale,
}

/// Signs and verifies access tokens for one issuer and audience.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Arc<KeyRing>,
    issuer: String,
    audience: String,
    leeway: i64,
    validation: Validation,
    verified: Arc<VerifiedTokens>,
}

/// Tokens whose signature and static claims (`iss`, `aud`, header) already passed, keyed by the
/// exact token text, so a client's next request skips the signature check (tens of µs for
/// EdDSA). Time claims are checked again on every hit, and revocation is the caller's check on
/// every request, so remembering changes nothing about what is accepted. Dropped with the
/// verifier when the key ring changes.
#[derive(Default)]
struct VerifiedTokens(RwLock<HashMap<Box<str>, AccessClaims>>);

/// Entries kept (about 1 KiB each): enough for the active tokens of a busy instance.
const VERIFIED_CAPACITY: usize = 4096;

impl VerifiedTokens {
    fn get(&self, token: &str) -> Option<AccessClaims> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        map.get(token).cloned()
    }

    fn insert(&self, token: &str, claims: &AccessClaims, now: i64) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= VERIFIED_CAPACITY {
            map.retain(|_, c| c.exp > now);
            if map.len() >= VERIFIED_CAPACITY {
                // Full of live tokens: start over rather than track recency on every hit.
                map.clear();
            }
        }
        map.insert(token.into(), claims.clone());
    }
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.0.read().map_or(0, |m| m.len());
        write!(f, "VerifiedTokens({len} entries)")
    }
}

impl Verifier {
    /// A verifier over `keys`. `leeway` is the clock-skew allowance in seconds.
    pub fn new(keys: Arc<KeyRing>, issuer: &str, audience: &str, leeway: i64) -> Self {
        let mut validation = Validation::new(algorithm(keys.alg()));
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        // Time claims are checked below against the injectable clock, with our own leeway.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Self {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            leeway,
            validation,
            verified: Arc::default(),
        }
    }

    /// The key ring (for the JWKS endpoint).
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The `iss` this verifier issues and accepts.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Claims for a new token. The caller decides the lifetime.
    pub fn claims(
        &self,
        user: Uuid,
        session: Uuid,
        roles: Vec<String>,
        now: i64,
        ttl: i64,
    ) -> AccessClaims {
        AccessClaims {
            iss: self.issuer.clone(),
            sub: user,
            aud: self.audience.clone(),
            exp: now + ttl,
            nbf: now,
            iat: now,
            jti: Uuid::new_v4(),
            sid: session,
            roles,
            client_id: CLIENT_ID.to_owned(),
            email_verified: false,
            email: None,
            username: None,
            amr: Vec::new(),
            aal: 1,
            mfa_enrolment: false,
        }
    }

    /// Sign claims into a compact JWS with `typ: at+jwt` and our `kid`.
    pub fn sign(&self, claims: &AccessClaims) -> anyhow::Result<String> {
        let mut header = Header::new(algorithm(self.keys.alg()));
        header.typ = Some(ACCESS_TYP.to_owned());
        let (kid, key) = self.keys.signing_key().ok_or_else(|| {
            anyhow::anyhow!("this key ring only verifies tokens (it was built from a JWKS)")
        })?;
        header.kid = Some(kid.to_owned());
        match key {
            SigningKey::Jwt(key) => Ok(encode(&header, claims, key)?),
            SigningKey::Rsa(pair) => sign_rs256(&header, claims, pair),
        }
    }

    /// Verify a token's form, signature and claims at time `now`. Revocation is the caller's job.
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        if let Some(claims) = self.verified.get(token) {
            self.check_times(&claims, now)?;
            return Ok(claims);
        }
        let claims = self.verify_uncached(token, now)?;
        self.verified.insert(token, &claims, now);
        Ok(claims)
    }

    /// [`Verifier::verify`] without remembering: every step, every time (benchmarks compare).
    pub fn verify_uncached(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let is_b64url = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 || !parts.iter().all(|p| is_b64url(p)) {
            return Err(TokenError::Malformed);
        }
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != algorithm(self.keys.alg()) {
            return Err(TokenError::BadHeader("alg"));
        }
        if !header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(TokenError::BadHeader("typ"));
        }
        // SECURITY: keys come only from our own ring. A token that carries its own key or key URL,
        // or asks us to understand extensions, is not one we issued.
        if header.jwk.is_some()
            || header.jku.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
        {
            return Err(TokenError::BadHeader("embedded key"));
        }
        if header.crit.is_some() || header.zip.is_some() || header.enc.is_some() {
            return Err(TokenError::BadHeader("crit/zip/enc"));
        }
        let kid = header
            .kid
            .as_deref()
            .filter(|k| k.len() <= 128)
            .ok_or(TokenError::UnknownKey)?;
        let key = self.keys.verifying_key(kid).ok_or(TokenError::UnknownKey)?;
        let data = decode::<AccessClaims>(token, key, &self.validation)
            .map_err(|e| TokenError::Rejected(e.to_string()))?;
        let claims = data.claims;
        self.check_times(&claims, now)?;
        Ok(claims)
    }

    fn check_times(&self, claims: &AccessClaims, now: i64) -> Result<(), TokenError> {
        if claims.exp <= now - self.leeway {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now + self.leeway {
            return Err(TokenError::NotYetValid);
        }
        if claims.iat > now + self.leeway {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(())
    }
}

/// A compact RS256 JWS signed with ring (RFC 7515 §3.1, RSASSA-PKCS1-v1_5 with SHA-256), the
/// same bytes jsonwebtoken's `encode` would produce for this header and claims.
fn sign_rs256(
    header: &Header,
    claims: &AccessClaims,
    pair: &ring::signature::RsaKeyPair,
) -> anyhow::Result<String> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
    );
    let mut signature = vec![0; pair.public().modulus_len()];
    let rng = ring::rand::SystemRandom::new();
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &rng,
        message.as_bytes(),
        &mut signature,
    )
    .map_err(|_| anyhow::anyhow!("RS256 signing failed"))?;
    Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> Verifier {
        Verifier::new(
            Arc::new(KeyRing::hmac(&[7u8; 32])),
            "https://issuer.test",
            "api",
            30,
        )
    }

    #[test]
    fn round_trip_keeps_every_claim() {
        let v = verifier();
        let claims = v.claims(
            Uuid::new_v4(),
            Uuid::new_v4(),
            vec!["user".into()],
            1_000,
            900,
        );
        let token = v.sign(&claims).unwrap();
        assert_eq!(v.verify(&token, 1_100).unwrap(), claims);
    }

    #[test]
    fn time_claims_are_checked_with_leeway() {
        let v = verifier();
        let claims = v.claims(Uuid::new_v4(), Uuid::new_v4(), vec![], 1_000, 900);
        let token = v.sign(&claims).unwrap();
        assert_eq!(v.verify(&token, 1_929), Ok(claims.clone()), "inside leeway");
        assert_eq!(v.verify(&token, 1_930), Err(TokenError::Expired));
        assert_eq!(v.verify(&token, 969), Err(TokenError::NotYetValid));
    }

    #[test]
    fn remembered_tokens_are_exact_matches_and_rechecked_for_time() {
        let v = verifier();
        let claims = v.claims(Uuid::new_v4(), Uuid::new_v4(), vec![], 1_000, 900);
        let token = v.sign(&claims).unwrap();
        assert!(v.verify(&token, 1_100).is_ok());
        assert!(v.verified.get(&token).is_some(), "remembered");
        // One changed character of the signature is a different token: verified in full, refused.
        let mut tampered = token.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(matches!(
            v.verify(&tampered, 1_100),
            Err(TokenError::Rejected(_))
        ));
        assert_eq!(v.verify(&token, 2_000), Err(TokenError::Expired));
        assert_eq!(v.verify(&token, 500), Err(TokenError::NotYetValid));
        // A fresh verifier (new key ring) remembers nothing.
        assert!(verifier().verified.get(&token).is_none());
    }

    #[test]
    fn shape_is_checked_before_parsing() {
        let v = verifier();
        assert_eq!(
            v.verify(&"a".repeat(MAX_TOKEN_LEN + 1), 0),
            Err(TokenError::TooLong)
        );
        for bad in ["", "a.b", "a.b.c.d.e", "a..c", "a.b.c=", "a.b.c d"] {
            assert_eq!(v.verify(bad, 0), Err(TokenError::Malformed), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,600}") {
            let _ = verifier().verify(&s, 0);
        }
    }
}
