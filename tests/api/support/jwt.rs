//! Reading, signing and minting JWTs; the server's own signing keys; the published JWKS.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::app::TestApp;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_json(value: &Value) -> String {
    b64(&serde_json::to_vec(value).unwrap())
}

/// Decode segment `i` (0 header, 1 claims) of a compact JWS.
fn segment(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

pub fn header_of(token: &str) -> Value {
    segment(token, 0)
}

pub fn claims_of(token: &str) -> Value {
    segment(token, 1)
}

/// A compact JWS over these exact header and claims texts (duplicate members and all).
pub fn sign_text(header: &str, claims: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

/// A compact JWS over exactly this header and these claims.
pub fn sign_raw(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    sign_text(&header.to_string(), &claims.to_string(), key, alg)
}

/// The server's newest private signing key for `alg` ("EdDSA", "ES256", "RS256") and its kid.
///
/// Read with SQL from the test's own database: the private keys never leave the server through
/// its API (that is the point), yet "validly signed but semantically wrong" tokens need them.
pub async fn server_key(app: &TestApp, alg: &str) -> (EncodingKey, String) {
    let row = app
        .db
        .fetch_text(
            "SELECT kid || ' ' || private_der FROM signing_keys WHERE alg = $1 \
             ORDER BY created_at DESC, kid LIMIT 1",
            &[alg],
        )
        .await
        .expect("a signing key");
    let (kid, der) = row.split_once(' ').expect("kid and key");
    let der = match der.strip_prefix("sealed:v1:") {
        Some(sealed) => unseal(app, sealed),
        None => STANDARD.decode(der).expect("base64 DER"),
    };
    let key = match alg {
        "EdDSA" => EncodingKey::from_ed_der(&der),
        "ES256" => EncodingKey::from_ec_der(&der),
        "RS256" => EncodingKey::from_rsa_der(&der),
        other => panic!("no such alg {other}"),
    };
    (key, kid.to_owned())
}

/// Open a private key sealed at rest (`<kek id>:<base64url(nonce ‖ XChaCha20-Poly1305
/// ciphertext)>`) with the KEK the server generated in its data directory (SQLite) — what an
/// attacker needs besides the database.
fn unseal(app: &TestApp, sealed: &str) -> Vec<u8> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chacha20poly1305::aead::{Aead, KeyInit};
    let (_kek_id, body) = sealed.split_once(':').expect("kek id");
    let hex = std::fs::read_to_string(app.settings.data_dir.join("kek")).expect("the KEK file");
    let kek: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex.trim()[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let raw = URL_SAFE_NO_PAD.decode(body).expect("base64url");
    let (nonce, ciphertext) = raw.split_at(24);
    let cipher = chacha20poly1305::XChaCha20Poly1305::new_from_slice(&kek).unwrap();
    let nonce = chacha20poly1305::XNonce::from(<[u8; 24]>::try_from(nonce).unwrap());
    cipher
        .decrypt(&nonce, ciphertext)
        .expect("opens with the KEK")
}

/// Signs arbitrary tokens with the server's own EdDSA key: how a test makes "validly signed
/// but semantically wrong" tokens.
pub struct Minter {
    pub key: EncodingKey,
    pub kid: String,
}

impl Minter {
    pub async fn new(app: &TestApp) -> Self {
        let (key, kid) = server_key(app, "EdDSA").await;
        Self { key, kid }
    }

    /// The header we issue, with `changes` merged in (a null member removes it).
    pub fn header(&self, changes: Value) -> Value {
        let mut header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid});
        merge(&mut header, changes);
        header
    }

    /// Sign `claims` under our header with `header_changes` applied.
    pub fn mint(&self, header_changes: Value, claims: &Value) -> String {
        sign_raw(
            &self.header(header_changes),
            claims,
            &self.key,
            Algorithm::EdDSA,
        )
    }
}

/// The (header, claims, signature) segments of a compact JWS.
pub fn segments(token: &str) -> (String, String, String) {
    let p: Vec<&str> = token.split('.').collect();
    (p[0].to_owned(), p[1].to_owned(), p[2].to_owned())
}

/// Fresh claims for `base`'s user and session, valid now.
pub fn fresh_claims(app: &TestApp, base: &Value) -> Value {
    let now = app.clock.now();
    let mut claims = base.clone();
    merge(
        &mut claims,
        json!({"iat": now, "nbf": now, "exp": now + 900, "jti": uuid::Uuid::new_v4()}),
    );
    claims
}

/// Shallow merge: set each member of `changes`; null removes the member.
pub fn merge(target: &mut Value, changes: Value) {
    let target = target.as_object_mut().expect("object");
    for (k, v) in changes.as_object().expect("object") {
        if v.is_null() {
            target.remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
}

pub async fn jwks(app: &TestApp) -> (Value, reqwest::header::HeaderMap) {
    let resp = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    (resp.json().await.unwrap(), headers)
}

/// PEM armour around DER, 64 columns, trailing newline (what `openssl` writes).
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// SubjectPublicKeyInfo DER of an Ed25519 public key.
pub fn ed25519_spki(x: &[u8]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(x);
    der
}

/// SubjectPublicKeyInfo DER of an uncompressed P-256 public key.
pub fn p256_spki(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    ];
    der.extend_from_slice(x);
    der.extend_from_slice(y);
    der
}
