//! Private helpers shared by the token test modules: reading, signing and minting JWTs,
//! the published keys, and the RFC 6750 refusal.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

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

/// A compact JWS over exactly this header and these claims.
pub fn sign_raw(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64_json(header), b64_json(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

/// Signs arbitrary tokens with the server's own EdDSA key, read from its database: how a test
/// makes "validly signed but semantically wrong" tokens.
pub struct Minter {
    pub key: EncodingKey,
    pub kid: String,
}

impl Minter {
    pub async fn new(app: &TestApp) -> Self {
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

/// Assert the RFC 6750 answer to a refused token.
pub async fn assert_invalid_token(resp: Response, case: &str) {
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

pub async fn jwks(app: &TestApp) -> (Value, reqwest::header::HeaderMap) {
    let resp = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    (resp.json().await.unwrap(), headers)
}
