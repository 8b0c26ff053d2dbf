//! Issue #13, passkeys: registering one from a session, the username-less sign-in, a passkey
//! as the login's second step, and what must be refused (another origin or RP id, a replayed
//! challenge, another user's credential, a deactivated account), against an independent
//! software authenticator built here: ES256 keys with `p256`, attestation `none`, CBOR and
//! `authenticatorData` written by hand per WebAuthn Level 2 §6.1 and §6.5 (the server uses
//! webauthn-rs, which parses them with its own CBOR and crypto).

use crate::both;
use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(crate) const PUBLIC_URL: &str = "https://auth.example.test";
pub(crate) const RP_ID: &str = "auth.example.test";
pub(crate) const ARGS: &[&str] = &["--public-url", PUBLIC_URL];

fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// CBOR (RFC 8949) head: major type and argument.
fn cbor_head(major: u8, n: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=255 => out.extend([m | 24, n as u8]),
        _ => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
    }
}

fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len(), out);
    out.extend(b);
}

fn cbor_text(s: &str, out: &mut Vec<u8>) {
    cbor_head(3, s.len(), out);
    out.extend(s.as_bytes());
}

/// A software authenticator holding one discoverable ES256 credential.
pub(crate) struct SoftKey {
    key: SigningKey,
    pub(crate) cred_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
}

/// What the authenticator is made to claim, to test the server's checks.
pub(crate) struct Claim<'a> {
    pub(crate) origin: &'a str,
    pub(crate) rp_id: &'a str,
    pub(crate) user_verified: bool,
}

pub(crate) const HONEST: Claim<'static> = Claim {
    origin: PUBLIC_URL,
    rp_id: RP_ID,
    user_verified: true,
};

fn auth_data(rp_id: &str, flags: u8, counter: u32) -> Vec<u8> {
    let mut out = Sha256::digest(rp_id.as_bytes()).to_vec();
    out.push(flags);
    out.extend(counter.to_be_bytes());
    out
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false
    }))
    .unwrap()
}

impl SoftKey {
    /// `navigator.credentials.create` for `options` (the server's `{"publicKey": …}`).
    pub(crate) fn create(options: &Value, claim: &Claim) -> (SoftKey, Value) {
        let cred_id: Vec<u8> = (0..16).map(|_| rand::random::<u8>()).collect();
        Self::create_with_id(options, claim, cred_id)
    }

    /// [`SoftKey::create`] with a chosen credential id.
    fn create_with_id(options: &Value, claim: &Claim, cred_id: Vec<u8>) -> (SoftKey, Value) {
        let pk = &options["publicKey"];
        let challenge = pk["challenge"].as_str().expect("challenge");
        assert_eq!(pk["rp"]["id"], RP_ID, "the RP id is the public URL's host");
        assert_eq!(
            pk["authenticatorSelection"]["residentKey"], "required",
            "a discoverable credential, for the username-less sign-in"
        );
        let user_handle = URL_SAFE_NO_PAD
            .decode(pk["user"]["id"].as_str().expect("user id"))
            .unwrap();
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let point = key.verifying_key().to_encoded_point(false);
        // COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(point.x().unwrap(), &mut cose);
        cose.push(0x22);
        cbor_bytes(point.y().unwrap(), &mut cose);
        // UP | UV (if claimed) | AT
        let flags = 0x01 | if claim.user_verified { 0x04 } else { 0 } | 0x40;
        let mut data = auth_data(claim.rp_id, flags, 0);
        data.extend([0u8; 16]); // AAGUID
        data.extend((cred_id.len() as u16).to_be_bytes());
        data.extend(&cred_id);
        data.extend(&cose);
        let mut att = vec![0xa3];
        cbor_text("fmt", &mut att);
        cbor_text("none", &mut att);
        cbor_text("attStmt", &mut att);
        att.push(0xa0);
        cbor_text("authData", &mut att);
        cbor_bytes(&data, &mut att);
        let credential = json!({
            "id": b64u(&cred_id), "rawId": b64u(&cred_id), "type": "public-key",
            "response": {
                "attestationObject": b64u(&att),
                "clientDataJSON": b64u(&client_data("webauthn.create", challenge, claim.origin)),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        });
        let soft = SoftKey {
            key,
            cred_id,
            user_handle,
            counter: 0,
        };
        (soft, credential)
    }

    /// `navigator.credentials.get` for `options`.
    pub(crate) fn get(&mut self, options: &Value, claim: &Claim) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("challenge");
        self.counter += 1;
        let flags = 0x01 | if claim.user_verified { 0x04 } else { 0 };
        let data = auth_data(claim.rp_id, flags, self.counter);
        let cdata = client_data("webauthn.get", challenge, claim.origin);
        let mut signed = data.clone();
        signed.extend(Sha256::digest(&cdata));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64u(&self.cred_id), "rawId": b64u(&self.cred_id), "type": "public-key",
            "response": {
                "authenticatorData": b64u(&data),
                "clientDataJSON": b64u(&cdata),
                "signature": b64u(signature.to_der().as_bytes()),
                "userHandle": b64u(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}

impl TestApp {
    /// `POST /users/me/passkeys/register/start` with the password; `(ceremony_id, options)`.
    pub(crate) async fn passkey_start(&self, access: &str, password: &str) -> (String, Value) {
        let body = json!({"current_password": password});
        let resp = self
            .post("/users/me/passkeys/register/start", Some(access), body)
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
        let body: Value = resp.json().await.unwrap();
        (
            body["ceremony_id"].as_str().unwrap().to_owned(),
            body["options"].clone(),
        )
    }

    pub(crate) async fn passkey_finish(
        &self,
        access: &str,
        ceremony: &str,
        credential: &Value,
    ) -> reqwest::Response {
        let body = json!({"ceremony_id": ceremony, "credential": credential, "name": "Laptop"});
        self.post("/users/me/passkeys/register/finish", Some(access), body)
            .await
    }

    /// A signed-in user with one registered passkey.
    async fn passkey_user(&self) -> (TestUser, Tokens, SoftKey, Value) {
        let (user, tokens) = self.signed_in_user().await;
        let (ceremony, options) = self.passkey_start(&tokens.access, &user.password).await;
        let (key, credential) = SoftKey::create(&options, &HONEST);
        let resp = self
            .passkey_finish(&tokens.access, &ceremony, &credential)
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.unwrap();
        (user, tokens, key, body)
    }

    /// `POST /auth/passkey/start`: `(ceremony_id, options)`.
    async fn signin_start(&self) -> (String, Value) {
        let resp = self.post("/auth/passkey/start", None, json!({})).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        (
            body["ceremony_id"].as_str().unwrap().to_owned(),
            body["options"].clone(),
        )
    }

    async fn signin_finish(&self, ceremony: &str, credential: &Value) -> reqwest::Response {
        let body = json!({"ceremony_id": ceremony, "credential": credential});
        self.post("/auth/passkey/finish", None, body).await
    }
}

// Requirement: a signed-in user adds a passkey (with the password); it is listed with its name; a username-less sign-in with it opens a session with amr ["hwk","user"] and aal 2, kept across refresh, audited as a login with a passkey.
both!(
    a_registered_passkey_signs_in_without_a_username,
    ARGS,
    |app| async move {
        // Arrange
        let (_user, tokens, mut key, body) = app.passkey_user().await;
        assert_eq!(body["name"], "Laptop");
        assert_eq!(body["credential_id"], b64u(&key.cred_id));
        let list: Value = app
            .get("/users/me/passkeys", Some(&tokens.access))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        // Act
        let (ceremony, options) = app.signin_start().await;
        assert!(
            options["publicKey"]["allowCredentials"]
                .as_array()
                .is_none_or(|a| a.is_empty())
        );
        assert!(options.get("mediation").is_none());
        let resp = app
            .signin_finish(&ceremony, &key.get(&options, &HONEST))
            .await;
        // Assert
        let signed_in = assert_token_response(resp, None).await;
        let claims = claims_of(&signed_in.access);
        assert_eq!(claims["amr"], json!(["hwk", "user"]));
        assert_eq!(claims["aal"], 2);
        assert_eq!(claims["sub"], claims_of(&tokens.access)["sub"]);
        let refreshed = app.refresh(&signed_in.refresh).await;
        let refreshed = Tokens::from_json(&refreshed.json().await.unwrap());
        assert_eq!(claims_of(&refreshed.access)["amr"], json!(["hwk", "user"]));
        assert_eq!(claims_of(&refreshed.access)["aal"], 2);
        let list: Value = app
            .get("/users/me/passkeys", Some(&tokens.access))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list["items"][0]["sign_count"], 1);
        assert!(list["items"][0]["last_used_at"].is_i64());
    }
);

// Requirement: a sign-in challenge is used once: the same assertion (or a new one) for a finished ceremony is refused with 401 invalid_passkey, and an unknown ceremony too.
both!(a_replayed_challenge_is_refused, ARGS, |app| async move {
    // Arrange
    let (_user, _tokens, mut key, _) = app.passkey_user().await;
    let (ceremony, options) = app.signin_start().await;
    let assertion = key.get(&options, &HONEST);
    assert_eq!(
        app.signin_finish(&ceremony, &assertion).await.status(),
        StatusCode::OK
    );
    // Act
    let replay = app.signin_finish(&ceremony, &assertion).await;
    let fresh = app
        .signin_finish(&ceremony, &key.get(&options, &HONEST))
        .await;
    let unknown = app
        .signin_finish(
            &uuid::Uuid::new_v4().to_string(),
            &key.get(&options, &HONEST),
        )
        .await;
    // Assert
    assert_problem(replay, StatusCode::UNAUTHORIZED, "invalid_passkey").await;
    assert_problem(fresh, StatusCode::UNAUTHORIZED, "invalid_passkey").await;
    assert_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_passkey").await;
});

// Requirement: an assertion made for another origin or another RP id, or without user verification, does not sign in (401 invalid_passkey); nor does a registration made for another origin or RP id.
both!(another_origin_or_rp_id_is_refused, ARGS, |app| async move {
    // Arrange
    let (user, tokens, mut key, _) = app.passkey_user().await;
    let claims = [
        Claim {
            origin: "https://evil.example.test",
            ..HONEST
        },
        Claim {
            rp_id: "example.test",
            ..HONEST
        },
        Claim {
            user_verified: false,
            ..HONEST
        },
    ];
    for claim in &claims {
        // Act
        let (ceremony, options) = app.signin_start().await;
        let resp = app
            .signin_finish(&ceremony, &key.get(&options, claim))
            .await;
        // Assert
        assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_passkey").await;
        let (ceremony, options) = app.passkey_start(&tokens.access, &user.password).await;
        let (_, credential) = SoftKey::create(&options, claim);
        let resp = app
            .passkey_finish(&tokens.access, &ceremony, &credential)
            .await;
        assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_passkey").await;
    }
    let (ceremony, options) = app.signin_start().await;
    assert_eq!(
        app.signin_finish(&ceremony, &key.get(&options, &HONEST))
            .await
            .status(),
        StatusCode::OK,
        "the honest assertion still works"
    );
});

// Requirement: a user cannot register another's credential id (409), cannot finish another user's ceremony, and cannot rename or remove another's passkey (404); a sign-in whose user handle is not the credential's owner is refused.
both!(
    another_users_credential_is_refused,
    ARGS,
    |app| async move {
        // Arrange
        let (_a, a_tokens, a_key, a_body) = app.passkey_user().await;
        let (b, b_tokens) = app.signed_in_user().await;
        // Act: A finishes B's ceremony; B registers a passkey with A's credential id.
        let (ceremony, options) = app.passkey_start(&b_tokens.access, &b.password).await;
        let (_, credential) = SoftKey::create(&options, &HONEST);
        let finish_other = app
            .passkey_finish(&a_tokens.access, &ceremony, &credential)
            .await;
        let (ceremony, options) = app.passkey_start(&b_tokens.access, &b.password).await;
        let (_, taken) = SoftKey::create_with_id(&options, &HONEST, a_key.cred_id.clone());
        let duplicate = app
            .passkey_finish(&b_tokens.access, &ceremony, &taken)
            .await;
        let (ceremony, options) = app.passkey_start(&b_tokens.access, &b.password).await;
        let (mut b_key, b_cred) = SoftKey::create(&options, &HONEST);
        let b_added = app
            .passkey_finish(&b_tokens.access, &ceremony, &b_cred)
            .await;
        let id = a_body["id"].as_str().unwrap();
        let rename = app
            .request(
                reqwest::Method::PATCH,
                &format!("/users/me/passkeys/{id}"),
                Some(&b_tokens.access),
                Some(json!({"name": "stolen"})),
            )
            .await;
        let remove = app
            .request(
                reqwest::Method::DELETE,
                &format!("/users/me/passkeys/{id}"),
                Some(&b_tokens.access),
                None,
            )
            .await;
        // B's authenticator claims to be A's passkey (A's credential id, B's key and handle).
        b_key.cred_id = a_key.cred_id.clone();
        let (c, o) = app.signin_start().await;
        let forged = app.signin_finish(&c, &b_key.get(&o, &HONEST)).await;
        // Assert
        assert_problem(finish_other, StatusCode::UNAUTHORIZED, "invalid_passkey").await;
        assert_problem(duplicate, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(b_added.status(), StatusCode::CREATED);
        assert_problem(rename, StatusCode::NOT_FOUND, "not_found").await;
        assert_problem(remove, StatusCode::NOT_FOUND, "not_found").await;
        assert_problem(forged, StatusCode::UNAUTHORIZED, "invalid_passkey").await;
        let list: Value = app
            .get("/users/me/passkeys", Some(&a_tokens.access))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(list["items"][0]["name"], "Laptop");
    }
);

// Requirement: the owner renames a passkey (bad names 422) and removes it; a removed passkey no longer signs in.
both!(a_passkey_is_renamed_and_removed, ARGS, |app| async move {
    // Arrange
    let (_user, tokens, mut key, body) = app.passkey_user().await;
    let path = format!("/users/me/passkeys/{}", body["id"].as_str().unwrap());
    // Act
    let renamed = app
        .request(
            reqwest::Method::PATCH,
            &path,
            Some(&tokens.access),
            Some(json!({"name": " Phone "})),
        )
        .await;
    let empty = app
        .request(
            reqwest::Method::PATCH,
            &path,
            Some(&tokens.access),
            Some(json!({"name": "  "})),
        )
        .await;
    let removed = app
        .request(reqwest::Method::DELETE, &path, Some(&tokens.access), None)
        .await;
    // Assert
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(renamed.json::<Value>().await.unwrap()["name"], "Phone");
    assert_validation_failed(empty).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let (ceremony, options) = app.signin_start().await;
    let resp = app
        .signin_finish(&ceremony, &key.get(&options, &HONEST))
        .await;
    assert_problem(resp, StatusCode::UNAUTHORIZED, "invalid_passkey").await;
    let list: Value = app
        .get("/users/me/passkeys", Some(&tokens.access))
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
});

// Requirement: adding a passkey needs the current password unless the token is aal 2 (422 without it, 401 with a wrong one).
both!(
    adding_a_passkey_needs_the_password,
    ARGS,
    |app| async move {
        // Arrange
        let (_user, tokens) = app.signed_in_user().await;
        // Act
        let none = app
            .post(
                "/users/me/passkeys/register/start",
                Some(&tokens.access),
                json!({}),
            )
            .await;
        let wrong = app
            .post(
                "/users/me/passkeys/register/start",
                Some(&tokens.access),
                json!({"current_password": "not the password at all"}),
            )
            .await;
        // Assert
        assert_validation_failed(none).await;
        assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
);

// Requirement: a deactivated account cannot sign in with its passkey (403 account deactivated).
both!(
    a_deactivated_user_cannot_sign_in_with_a_passkey,
    ARGS,
    |app| async move {
        // Arrange
        let (_user, tokens, mut key, _) = app.passkey_user().await;
        app.deactivate(&tokens.access).await;
        // Act
        let (ceremony, options) = app.signin_start().await;
        let resp = app
            .signin_finish(&ceremony, &key.get(&options, &HONEST))
            .await;
        // Assert
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
);

// Requirement: with TOTP on, the password login offers "passkey" among the methods; a passkey answers the second step instead of a code (amr ["pwd","hwk"], aal 2); a failed passkey answer is 401 invalid_passkey and the mfa_token's ceremony is single-use.
both!(a_passkey_is_the_second_factor, ARGS, |app| async move {
    // Arrange
    let u = app.mfa_user().await;
    let (ceremony, options) = app.passkey_start(&u.tokens.access, &u.user.password).await;
    let (mut key, credential) = SoftKey::create(&options, &HONEST);
    let resp = app
        .passkey_finish(&u.tokens.access, &ceremony, &credential)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = app.login(&u.user).await;
    let body = assert_problem(resp, StatusCode::FORBIDDEN, "mfa_required").await;
    assert_eq!(body["methods"], json!(["otp", "recovery_code", "passkey"]));
    let mfa_token = body["mfa_token"].as_str().unwrap().to_owned();
    // Act
    let start = |token: String| {
        let app = &app;
        async move {
            let resp = app
                .post("/auth/mfa/passkey/start", None, json!({"mfa_token": token}))
                .await;
            assert_eq!(resp.status(), StatusCode::OK);
            let body: Value = resp.json().await.unwrap();
            (
                body["ceremony_id"].as_str().unwrap().to_owned(),
                body["options"].clone(),
            )
        }
    };
    let (c1, o1) = start(mfa_token.clone()).await;
    assert_eq!(
        o1["publicKey"]["allowCredentials"][0]["id"],
        json!(b64u(&key.cred_id))
    );
    let bad = key.get(
        &o1,
        &Claim {
            origin: "https://evil.example.test",
            ..HONEST
        },
    );
    let refused = app
        .post(
            "/auth/mfa",
            None,
            json!({"mfa_token": mfa_token, "passkey": {"ceremony_id": c1, "credential": bad}}),
        )
        .await;
    let (c2, o2) = start(mfa_token.clone()).await;
    let good = key.get(&o2, &HONEST);
    let resp = app
        .post(
            "/auth/mfa",
            None,
            json!({"mfa_token": mfa_token, "passkey": {"ceremony_id": c2, "credential": good}}),
        )
        .await;
    // Assert
    assert_problem(refused, StatusCode::UNAUTHORIZED, "invalid_passkey").await;
    let tokens = assert_token_response(resp, None).await;
    let claims = claims_of(&tokens.access);
    assert_eq!(claims["amr"], json!(["pwd", "hwk"]));
    assert_eq!(claims["aal"], 2);
});

// Requirement: a passkey alone does not turn on the second factor: the password login of an account with a passkey but no TOTP opens an aal 1 session, as before.
both!(
    a_passkey_alone_does_not_add_a_second_step_to_password_logins,
    ARGS,
    |app| async move {
        // Arrange
        let (user, _tokens, _key, _) = app.passkey_user().await;
        // Act
        let tokens = app.login_ok(&user).await;
        // Assert
        let claims = claims_of(&tokens.access);
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_eq!(claims["aal"], 1);
    }
);

// Requirement: the unauthenticated passkey endpoints count against the per-IP login limit (429 once it is spent).
both!(
    the_passkey_sign_in_is_rate_limited,
    &["--public-url", PUBLIC_URL, "--login-rate-limit", "3/1m"],
    |app| async move {
        // Arrange
        for _ in 0..3 {
            assert_eq!(
                app.post("/auth/passkey/start", None, json!({}))
                    .await
                    .status(),
                StatusCode::OK
            );
        }
        // Act
        let resp = app.post("/auth/passkey/start", None, json!({})).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    }
);
