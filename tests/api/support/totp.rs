//! An independent TOTP for the tests (RFC 6238 over RFC 4226, computed here with `hmac` 0.12
//! and `sha1` 0.10; the server uses totp-rs, which has its own HMAC and SHA-1), and the steps
//! of the two-factor flows the tests share.

use hmac::{Hmac, Mac};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sha1::Sha1;

use super::app::{TestApp, TestUser, Tokens};

/// RFC 4648 base32 without padding, as in `otpauth://` URIs.
pub fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut acc, mut out) = (0u32, 0u64, Vec::new());
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base32") as u64;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The 6-digit code of time step `step` (RFC 4226 §5.3 dynamic truncation, HMAC-SHA-1).
pub fn code_at(secret: &[u8], step: i64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("hmac key");
    mac.update(&(step as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    format!("{:06}", bin % 1_000_000)
}

/// The RFC 6238 appendix B vector: the independent implementation is right.
#[test]
fn the_test_totp_matches_rfc_6238() {
    // T = 59 s → step 1 → 94287082 (8 digits); 6 digits keep the last six.
    assert_eq!(code_at(b"12345678901234567890", 1), "287082");
    // T = 1111111109 → 07081804.
    assert_eq!(code_at(b"12345678901234567890", 1111111109 / 30), "081804");
    assert_eq!(base32_decode("GEZDGNBV"), b"12345");
}

/// A user with a confirmed TOTP factor.
pub struct MfaUser {
    pub user: TestUser,
    pub id: String,
    pub secret: Vec<u8>,
    pub recovery_codes: Vec<String>,
    /// The session that enrolled (upgraded to the second factor).
    pub tokens: Tokens,
    /// The step of the enrolment code (used: it cannot log in).
    pub enrolled_step: i64,
}

impl TestApp {
    /// The server's current time step.
    pub fn step(&self) -> i64 {
        self.clock.now().div_euclid(30)
    }

    /// Move the server's clock to the first second of a step, so that codes computed now
    /// stay in their step for the rest of the test's few seconds.
    pub fn align_to_step(&self) {
        let into = self.clock.now().rem_euclid(30);
        self.clock.advance(30 - into + 1);
    }

    /// The code of the current step shifted by `delta` steps.
    pub fn code(&self, secret: &[u8], delta: i64) -> String {
        code_at(secret, self.step() + delta)
    }

    /// `POST /users/me/mfa/totp`, expecting 200; the secret (decoded) and the whole answer.
    pub async fn enrol(&self, access: &str, password: &str) -> (Vec<u8>, Value) {
        let resp = self
            .post(
                "/users/me/mfa/totp",
                Some(access),
                json!({"current_password": password}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.expect("json");
        (
            base32_decode(body["secret"].as_str().expect("secret")),
            body,
        )
    }

    /// A signed-in user who enrolled and confirmed with the code of the previous step (so the
    /// current and next steps are still free for logins).
    pub async fn mfa_user(&self) -> MfaUser {
        self.align_to_step();
        let (user, tokens) = self.signed_in_user().await;
        let id = self.user_id(&tokens.access).await;
        let (secret, _) = self.enrol(&tokens.access, &user.password).await;
        let resp = self
            .post(
                "/users/me/mfa/totp/confirm",
                Some(&tokens.access),
                json!({"code": self.code(&secret, -1)}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.expect("json");
        let recovery_codes = body["recovery_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        let tokens = Tokens {
            access: body["access_token"].as_str().expect("access").to_owned(),
            refresh: tokens.refresh,
        };
        MfaUser {
            user,
            id,
            secret,
            recovery_codes,
            tokens,
            enrolled_step: self.step() - 1,
        }
    }

    /// Log in with the password, expecting 403 `mfa_required`; the `mfa_token`.
    pub async fn mfa_token(&self, user: &TestUser) -> String {
        let resp = self.login(user).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["code"], "mfa_required", "{body}");
        body["mfa_token"].as_str().expect("mfa_token").to_owned()
    }

    /// `POST /auth/mfa` with an authenticator code.
    pub async fn mfa_code(&self, mfa_token: &str, code: &str) -> Response {
        self.post(
            "/auth/mfa",
            None,
            json!({"mfa_token": mfa_token, "code": code}),
        )
        .await
    }

    /// `POST /auth/mfa` with a recovery code.
    pub async fn mfa_recovery(&self, mfa_token: &str, code: &str) -> Response {
        let body = json!({"mfa_token": mfa_token, "recovery_code": code});
        self.post("/auth/mfa", None, body).await
    }

    /// `DELETE path` with a JSON body.
    pub async fn delete_json(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::DELETE, path, token, Some(body)).await
    }
}
