//! Shared set-up for the fuzz targets: real authgate server states (one per signing algorithm)
//! over one SQLite database on tmpfs (`/dev/shm/authgate-fuzz-<pid>.db`), built once per fuzzing process.
//!
//! Everything here is built the way `authgate serve` builds its state: keys go through the key
//! store and `AuthState::build` (which loads them, self-tests signing, loads revocations), so the
//! verifier under test is byte-for-byte the one the HTTP extractors use.

use std::sync::Arc;

use authgate::internals::{AbusePolicy, Store, StoredKey, connect, generate_key};
use authgate::{AuthConfig, AuthState, Clock, JwtAlg};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey};
use tokio::runtime::Runtime;

pub const ISSUER: &str = "https://authgate.fuzz";
pub const AUDIENCE: &str = "authgate-fuzz-api";
pub const LEEWAY: i64 = 30;
/// The HS256 secret of the HS256 state (passes `check_hs256_secret`).
pub const HS256_SECRET: &[u8] = b"fuzz-Q7vL2pXk9RzT4mWc8NbJ3hYd6sFg1aEu";
/// A different secret, for "signed by somebody else" tokens.
pub const HS256_FOREIGN: &[u8] = b"other-Z3nK8wQp5VtR1yHc7MbL4gXd9sJf2aEu";

/// One server state and the private material the harness needs to forge its own test tokens.
pub struct Ring {
    pub alg: JwtAlg,
    pub state: AuthState,
    /// The `kid` our tokens carry.
    pub kid: String,
    /// Our signing key (as the server holds it).
    pub own: EncodingKey,
    /// A key of the same algorithm that is *not* ours.
    pub foreign: EncodingKey,
    /// Public material an attacker has (the JWK JSON; for HS256 nothing public, so the kid).
    pub public: Vec<u8>,
}

impl Ring {
    pub fn algorithm(&self) -> Algorithm {
        match self.alg {
            JwtAlg::EdDSA => Algorithm::EdDSA,
            JwtAlg::ES256 => Algorithm::ES256,
            JwtAlg::RS256 => Algorithm::RS256,
            JwtAlg::HS256 => Algorithm::HS256,
        }
    }
}

/// The process-wide fixture: a runtime, the database, and one [`Ring`] per algorithm.
pub struct Fixture {
    pub rt: Runtime,
    /// Unix time when the fixture was built. The verify target checks time claims against this
    /// fixed value (not a moving clock) so that an input behaves the same on every execution.
    pub now: i64,
    pub rings: Vec<Ring>,
}

fn encoding_key(alg: JwtAlg, key: &StoredKey) -> EncodingKey {
    let der = STANDARD.decode(&key.private_der).expect("stored key is base64");
    match alg {
        JwtAlg::EdDSA => EncodingKey::from_ed_der(&der),
        JwtAlg::ES256 => EncodingKey::from_ec_der(&der),
        JwtAlg::RS256 => EncodingKey::from_rsa_der(&der),
        JwtAlg::HS256 => unreachable!("HS256 keys are secrets, not stored keys"),
    }
}

/// The config a server runs with; argon2 at the minimum the config accepts.
pub fn auth_config(alg: JwtAlg) -> AuthConfig {
    AuthConfig {
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        alg,
        access_ttl: 900,
        refresh_ttl: 86_400,
        remember_me_ttl: 30 * 86_400,
        refresh_grace: 10,
        leeway: LEEWAY,
        activity_interval: 60,
        argon2_memory_kib: 19_456,
        argon2_iterations: 2,
        hash_concurrency: 1,
        hash_queue: 64,
        min_password_length: 8,
        // Per-IP limits only apply to requests with a socket address; the fuzzers send none.
        abuse: AbusePolicy::default(),
        audit_retention: 90 * 86_400,
        // The server's default (`--max-sessions-per-user`).
        max_sessions_per_user: 100,
        token_claims: Vec::new(),
    }
}

/// Build the fixture for `algs` (the first one is the "default" ring).
pub fn fixture(algs: &[JwtAlg]) -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // A file on tmpfs where there is one: SQLite's shared-cache in-memory databases vanish when the
    // pool closes its last connection, and every fsync here would cost a disk write.
    let dir = ["/dev/shm"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let db = dir.join(format!("authgate-fuzz-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let rings = rt.block_on(async {
        let store: Arc<dyn Store> = connect(&url).await.expect("store");
        store.migrate().await.expect("migrations");
        let mut rings = Vec::new();
        for &alg in algs {
            let now = Clock::default().now();
            let ring = if alg == JwtAlg::HS256 {
                let state = AuthState::build(
                    auth_config(alg),
                    store.clone(),
                    Some(HS256_SECRET),
                    Clock::default(),
                )
                .await
                .expect("HS256 state");
                let kid = authgate::internals::verifier(&state)
                    .keys()
                    .signing_kid()
                    .expect("kid")
                    .to_owned();
                Ring {
                    alg,
                    state,
                    public: kid.as_bytes().to_vec(),
                    kid,
                    own: EncodingKey::from_secret(HS256_SECRET),
                    foreign: EncodingKey::from_secret(HS256_FOREIGN),
                }
            } else {
                // Our key goes into the key store exactly as a first start would put it there.
                let ours = generate_key(alg, now).expect("generate key");
                store.insert_signing_key(&ours).await.expect("store key");
                let theirs = generate_key(alg, now).expect("generate foreign key");
                let state =
                    AuthState::build(auth_config(alg), store.clone(), None, Clock::default())
                        .await
                        .expect("state");
                assert_eq!(
                    authgate::internals::verifier(&state).keys().signing_kid(),
                    Some(ours.kid.as_str()),
                    "the state must sign with the key we stored"
                );
                Ring {
                    alg,
                    state,
                    kid: ours.kid.clone(),
                    own: encoding_key(alg, &ours),
                    foreign: encoding_key(alg, &theirs),
                    public: ours.public_jwk.as_bytes().to_vec(),
                }
            };
            rings.push(ring);
        }
        rings
    });
    Fixture {
        now: Clock::default().now(),
        rt,
        rings,
    }
}

/// base64url without padding, as JWS uses.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS over arbitrary header and payload bytes, signed with `key` as `alg`.
pub fn sign_raw(header: &[u8], payload: &[u8], key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{sig}")
}
