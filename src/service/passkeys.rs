//! Passkeys (WebAuthn, issue #13) with webauthn-rs: registration by a signed-in user,
//! username-less sign-in with a discoverable passkey, and a passkey as the second factor of a
//! password login.
//!
//! - The relying party is `AUTHGATE_PUBLIC_URL`: its host is the RP id, its origin the only one
//!   accepted. A loopback IP (the embedded default `http://127.0.0.1:PORT`) becomes `localhost`
//!   on the same port, since browsers refuse IP addresses as RP ids; any other IP address turns
//!   passkeys off (403 with the reason).
//! - Every ceremony's state (with its challenge) is stored in the database for 5 minutes and
//!   taken once by its finish (`PasskeyStore::take_ceremony`): a replayed or expired challenge
//!   finds nothing, and any instance can finish what another started.
//! - webauthn-rs passkeys always require user verification, so an assertion is two factors
//!   (possession and PIN or biometrics). A passkey sign-in opens the session through the same
//!   path as a password login (`open_session_with`, device token, `login_succeeded` audit with
//!   "passkey") at `aal` 2 with `amr: ["hwk","user"]` (RFC 8176: a hardware-bound key, and the
//!   user's verification on it; which kind, PIN or biometrics, the authenticator does not say);
//!   it is never asked for a TOTP code. As a second factor after the password:
//!   `amr: ["pwd","hwk"]`.
//! - A passkey does not turn on the second factor for password logins of an account without
//!   TOTP: such an account has no recovery codes, and losing the device would lock it out.
//!   Its password logins stay `aal` 1; the passkey sign-in is the `aal` 2 way in.
//! - Per-IP login limits apply to the unauthenticated start and finish; a failed assertion is
//!   audited as `login_failed`. Password lockout does not block a passkey sign-in (a passkey
//!   cannot be guessed, so an attacker's password guesses must not lock its owner out), nor
//!   does a passkey sign-in clear that lockout.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn,
    WebauthnBuilder,
};

use super::audit::{Event, EventKind};
use super::error::{Error, Result};
use super::state::AuthState;
use super::{CurrentUser, TokenPair};
use crate::domain::{ClientInfo, Limit};
use crate::store::{NewCeremony, PasskeyRecord, PasskeyUse, StoreError, UserRecord};

/// Seconds a ceremony (and the browser's prompt) lives.
pub(crate) const CEREMONY_TTL: i64 = 300;
/// Passkeys one account may hold.
pub(crate) const MAX_PASSKEYS: i64 = 20;
/// Longest passkey name, in characters.
const MAX_NAME: usize = 64;
/// `amr` of a passkey sign-in and of a passkey second factor (RFC 8176).
pub(crate) const AMR_PASSKEY: &str = "hwk user";
pub(crate) const AMR_PASSWORD_PASSKEY: &str = "pwd hwk";

const KIND_REGISTER: &str = "register";
const KIND_SIGNIN: &str = "signin";
const KIND_MFA: &str = "mfa";

/// A ceremony begun: its id (to send back with the finish) and the options for
/// `navigator.credentials.create` / `get` (webauthn-rs's JSON, `{"publicKey": …}`).
#[derive(Debug, Clone)]
pub struct PasskeyCeremony {
    pub ceremony_id: Uuid,
    pub options: Value,
}

/// A passkey as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub id: Uuid,
    pub name: String,
    /// The credential id, base64url.
    pub credential_id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub sign_count: i64,
    /// Synced (or syncable) between devices, as the authenticator says.
    pub backup_eligible: bool,
    pub backup_state: bool,
}

impl From<PasskeyRecord> for PasskeyInfo {
    fn from(r: PasskeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            credential_id: r.credential_id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            sign_count: r.sign_count,
            backup_eligible: r.backup_eligible,
            backup_state: r.backup_state,
        }
    }
}

/// The relying party of `public_url`: `(rp id, origin)`, or why passkeys are off.
fn relying_party(public_url: &str) -> std::result::Result<(String, Url), &'static str> {
    let url = Url::parse(public_url).map_err(|_| "AUTHGATE_PUBLIC_URL is not a URL")?;
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => "localhost".to_owned(),
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => "localhost".to_owned(),
        _ => {
            return Err(
                "passkeys need AUTHGATE_PUBLIC_URL with a host name (browsers refuse IP addresses)",
            );
        }
    };
    let origin = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    let origin = Url::parse(&origin).map_err(|_| "AUTHGATE_PUBLIC_URL is not a URL")?;
    Ok((host, origin))
}

/// A client's WebAuthn JSON, or 400 saying what is wrong with it.
fn parse_credential<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T> {
    serde_json::from_value(value.clone()).map_err(|e| {
        Error::BadRequest(format!(
            "credential is not a {what} as navigator.credentials returns it (JSON, binary \
             fields base64url): {e}"
        ))
    })
}

fn state_json<T: serde::Serialize>(state: &T) -> Result<String> {
    serde_json::to_string(state).map_err(|e| Error::Internal(e.into()))
}

fn open_state<T: serde::de::DeserializeOwned>(state: &str) -> Result<T> {
    serde_json::from_str(state).map_err(|e| Error::Internal(e.into()))
}

fn open_passkey(record: &PasskeyRecord) -> Result<Passkey> {
    serde_json::from_str(&record.passkey).map_err(|e| Error::Internal(e.into()))
}

/// The counter and backup flags inside a serialised passkey (webauthn-rs keeps them private).
fn passkey_flags(json: &str) -> (i64, bool, bool) {
    let v: Value = serde_json::from_str(json).unwrap_or_default();
    let cred = &v["cred"];
    (
        cred["counter"].as_i64().unwrap_or(0),
        cred["backup_eligible"].as_bool().unwrap_or(false),
        cred["backup_state"].as_bool().unwrap_or(false),
    )
}

/// A name the user gave, trimmed; 422 when empty or too long.
fn passkey_name(name: Option<&str>, default: &str) -> Result<String> {
    let name = name.map(str::trim).unwrap_or(default);
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::field(
            "name",
            format!("give the passkey a name of 1 to {MAX_NAME} characters, no control characters"),
        ));
    }
    Ok(name.to_owned())
}

impl AuthState {
    fn webauthn(&self) -> Result<Webauthn> {
        let issuer = self.issuer()?;
        let (rp_id, origin) =
            relying_party(&issuer.recovery.public_url).map_err(Error::Forbidden)?;
        WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name("authgate").build())
            .map_err(|e| Error::Internal(anyhow::anyhow!("webauthn configuration: {e:?}")))
    }

    async fn store_ceremony(
        &self,
        kind: &str,
        user_id: Option<Uuid>,
        bound_to: Option<String>,
        state: String,
        options: Value,
    ) -> Result<PasskeyCeremony> {
        let now = self.clock().now();
        let ceremony = NewCeremony {
            id: Uuid::new_v4(),
            kind: kind.to_owned(),
            user_id,
            bound_to,
            state,
            created_at: now,
            expires_at: now + CEREMONY_TTL,
        };
        self.issuer()?.store.create_ceremony(&ceremony).await?;
        Ok(PasskeyCeremony {
            ceremony_id: ceremony.id,
            options,
        })
    }

    /// Start adding a passkey for the signed-in `user`, the API's and the pages' one way in:
    /// `current_password` is required (and checked like a login) unless the session passed a
    /// second factor (`aal` 2), so a stolen access token or page cookie alone cannot add the
    /// thief's passkey. 422 without it, 401 when wrong.
    pub async fn begin_passkey_registration(
        &self,
        user: &CurrentUser,
        current_password: Option<&str>,
        client: &ClientInfo,
    ) -> Result<PasskeyCeremony> {
        if user.claims.aal < 2 {
            let Some(password) = current_password else {
                return Err(Error::field(
                    "current_password",
                    "send your current password (or sign in with a second factor first)",
                ));
            };
            self.verify_current_password(user.id, password, client, "adding a passkey")
                .await?;
        }
        self.start_passkey_registration(user.id, user.session_id)
            .await
    }

    /// Start adding a passkey to `user_id`'s account (the caller's live `session`).
    pub async fn start_passkey_registration(
        &self,
        user_id: Uuid,
        session: Uuid,
    ) -> Result<PasskeyCeremony> {
        let issuer = self.issuer()?;
        let webauthn = self.webauthn()?;
        let user = issuer
            .store
            .user_with_live_session(user_id, session)
            .await?
            .ok_or(Error::Unauthenticated { token_sent: true })?;
        let existing = issuer.store.passkeys(user.id).await?;
        if existing.len() as i64 >= MAX_PASSKEYS {
            return Err(Error::field(
                "passkey",
                format!("an account holds at most {MAX_PASSKEYS} passkeys; remove one first"),
            ));
        }
        let exclude = existing
            .iter()
            .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok())
            .collect::<Vec<_>>();
        let name = user.username.clone().unwrap_or_else(|| user.email.clone());
        let (options, state) = webauthn
            .start_passkey_registration(user.id, &user.email, &name, Some(exclude))
            .map_err(|e| Error::Internal(anyhow::anyhow!("webauthn: {e:?}")))?;
        let mut options = serde_json::to_value(&options).map_err(|e| Error::Internal(e.into()))?;
        // webauthn-rs asks for a non-discoverable credential (`residentKey: "discouraged"`), but
        // the username-less sign-in finds only discoverable ones (a browser's authenticator that
        // obeys creates a key the sign-in button cannot use). The finish does not depend on it.
        if let Some(selection) = options["publicKey"]["authenticatorSelection"].as_object_mut() {
            selection.insert("residentKey".into(), Value::from("required"));
            selection.insert("requireResidentKey".into(), Value::from(true));
        }
        self.store_ceremony(
            KIND_REGISTER,
            Some(user.id),
            Some(session.to_string()),
            state_json(&state)?,
            options,
        )
        .await
    }

    /// Finish adding a passkey: the browser's `credential` for the ceremony `ceremony_id`,
    /// which must be this user's and this session's. 401 `invalid_passkey` for an unknown,
    /// used or expired ceremony or a credential that does not verify; 409 when the credential
    /// is registered already.
    pub async fn finish_passkey_registration(
        &self,
        user_id: Uuid,
        session: Uuid,
        ceremony_id: Uuid,
        credential: &Value,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> Result<PasskeyInfo> {
        let issuer = self.issuer()?;
        let webauthn = self.webauthn()?;
        let name = passkey_name(name, "Passkey")?;
        let credential: RegisterPublicKeyCredential = parse_credential(
            credential,
            "PublicKeyCredential from navigator.credentials.create",
        )?;
        let now = self.clock().now();
        let ceremony = issuer
            .store
            .take_ceremony(ceremony_id, KIND_REGISTER, now)
            .await?
            .filter(|c| {
                c.user_id == Some(user_id) && c.bound_to.as_deref() == Some(&session.to_string())
            })
            .ok_or(Error::InvalidPasskey)?;
        if issuer
            .store
            .user_with_live_session(user_id, session)
            .await?
            .is_none()
        {
            return Err(Error::Unauthenticated { token_sent: true });
        }
        let state: PasskeyRegistration = open_state(&ceremony.state)?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| {
                tracing::info!(error = ?e, "passkey registration refused");
                Error::InvalidPasskey
            })?;
        let json = state_json(&passkey)?;
        let (sign_count, backup_eligible, backup_state) = passkey_flags(&json);
        let record = PasskeyRecord {
            id: Uuid::now_v7(),
            user_id,
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            passkey: json,
            name,
            sign_count,
            backup_eligible,
            backup_state,
            created_at: now,
            last_used_at: None,
        };
        match issuer.store.add_passkey(&record, MAX_PASSKEYS).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::field(
                    "passkey",
                    format!("an account holds at most {MAX_PASSKEYS} passkeys; remove one first"),
                ));
            }
            Err(StoreError::Conflict(_)) => return Err(Error::Conflict("passkey")),
            Err(e) => return Err(e.into()),
        }
        let event = Event::new(EventKind::PasskeyAdded, client)
            .user(user_id)
            .detail(format!("passkey {}", record.id));
        self.audit(event).await;
        Ok(record.into())
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: Uuid) -> Result<Vec<PasskeyInfo>> {
        let list = self.issuer()?.store.passkeys(user_id).await?;
        Ok(list.into_iter().map(PasskeyInfo::from).collect())
    }

    /// Rename one of the user's passkeys; 404 when it is not theirs.
    pub async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> Result<PasskeyInfo> {
        let issuer = self.issuer()?;
        let name = passkey_name(Some(name), "")?;
        if !issuer.store.rename_passkey(user_id, id, &name).await? {
            return Err(Error::NotFound("passkey"));
        }
        issuer
            .store
            .passkeys(user_id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .map(PasskeyInfo::from)
            .ok_or(Error::NotFound("passkey"))
    }

    /// Remove one of the user's passkeys; 404 when it is not theirs. Sessions it opened stay
    /// (end them at `DELETE /users/me/sessions/{id}`).
    pub async fn delete_passkey(&self, user_id: Uuid, id: Uuid, client: &ClientInfo) -> Result<()> {
        if !self.issuer()?.store.delete_passkey(user_id, id).await? {
            return Err(Error::NotFound("passkey"));
        }
        let event = Event::new(EventKind::PasskeyRemoved, client)
            .user(user_id)
            .detail(format!("passkey {id}"));
        self.audit(event).await;
        Ok(())
    }

    /// Start a username-less sign-in (any discoverable passkey of this RP). Counts against the
    /// client's login limit.
    pub async fn start_passkey_signin(&self, client: &ClientInfo) -> Result<PasskeyCeremony> {
        self.check_rate(Limit::Login, client).await?;
        let webauthn = self.webauthn()?;
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| Error::Internal(anyhow::anyhow!("webauthn: {e:?}")))?;
        let mut options = serde_json::to_value(&options).map_err(|e| Error::Internal(e.into()))?;
        // webauthn-rs asks for conditional mediation (autofill); a button press wants the
        // ordinary prompt, and a page that wants autofill sets it itself.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        self.store_ceremony(KIND_SIGNIN, None, None, state_json(&state)?, options)
            .await
    }

    /// Finish a username-less sign-in: the session opens (as a password login's would) with
    /// `aal` 2 and `amr: ["hwk","user"]`. 401 `invalid_passkey` for an unknown, used or
    /// expired ceremony, an unknown credential or one that does not verify; 403
    /// `account_deactivated` for a deactivated account (the passkey verified, so only its
    /// holder learns it).
    pub async fn finish_passkey_signin(
        &self,
        ceremony_id: Uuid,
        credential: &Value,
        remember_me: bool,
        client: ClientInfo,
    ) -> Result<TokenPair> {
        let issuer = self.issuer()?;
        self.check_rate(Limit::Login, &client).await?;
        let webauthn = self.webauthn()?;
        let credential: PublicKeyCredential = parse_credential(
            credential,
            "PublicKeyCredential from navigator.credentials.get",
        )?;
        let now = self.clock().now();
        let Some(ceremony) = issuer
            .store
            .take_ceremony(ceremony_id, KIND_SIGNIN, now)
            .await?
        else {
            return Err(self
                .passkey_failed(None, &client, "unknown, used or expired ceremony")
                .await);
        };
        let state: DiscoverableAuthentication = open_state(&ceremony.state)?;
        let credential_id = URL_SAFE_NO_PAD.encode(credential.get_credential_id());
        let Some(record) = issuer.store.passkey_by_credential(&credential_id).await? else {
            return Err(self.passkey_failed(None, &client, "unknown passkey").await);
        };
        // The user handle the authenticator returned must be the credential's owner.
        let handle = webauthn
            .identify_discoverable_authentication(&credential)
            .ok();
        if handle.map(|(u, _)| u) != Some(record.user_id) {
            let detail = "user handle does not match the passkey's owner";
            return Err(self
                .passkey_failed(Some(record.user_id), &client, detail)
                .await);
        }
        let mut passkey = open_passkey(&record)?;
        let result =
            match webauthn.finish_discoverable_authentication_v2(&credential, state, &passkey) {
                Ok(r) => r,
                Err(e) => {
                    tracing::info!(error = ?e, "passkey sign-in refused");
                    let detail = "passkey assertion did not verify";
                    return Err(self
                        .passkey_failed(Some(record.user_id), &client, detail)
                        .await);
                }
            };
        self.passkey_verified(&record, &mut passkey, &result)
            .await?;
        let user = issuer
            .store
            .user_by_id(record.user_id)
            .await?
            .ok_or(Error::InvalidPasskey)?;
        if !user.is_active {
            let detail = "passkey of a deactivated account";
            self.passkey_failed(Some(user.id), &client, detail).await;
            return Err(Error::Deactivated);
        }
        if issuer.recovery.require_verified_email && !user.email_verified {
            return Err(Error::EmailNotVerified);
        }
        self.finish_login_amr(&user, remember_me, client, AMR_PASSKEY, "with a passkey")
            .await
    }

    /// Start a passkey answer to the second-factor step of `user` (whose `mfa_token` hashes to
    /// `challenge_hash`): only their passkeys are allowed.
    pub(crate) async fn start_passkey_mfa(
        &self,
        user: &UserRecord,
        challenge_hash: String,
    ) -> Result<PasskeyCeremony> {
        let issuer = self.issuer()?;
        let webauthn = self.webauthn()?;
        let passkeys = issuer
            .store
            .passkeys(user.id)
            .await?
            .iter()
            .map(open_passkey)
            .collect::<Result<Vec<_>>>()?;
        if passkeys.is_empty() {
            return Err(Error::NotFound("passkey"));
        }
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| Error::Internal(anyhow::anyhow!("webauthn: {e:?}")))?;
        let options = serde_json::to_value(&options).map_err(|e| Error::Internal(e.into()))?;
        self.store_ceremony(
            KIND_MFA,
            Some(user.id),
            Some(challenge_hash),
            state_json(&state)?,
            options,
        )
        .await
    }

    /// Check a passkey answer to the second-factor step: `Ok(true)` when it verifies for
    /// `user` and the ceremony bound to `challenge_hash`.
    pub(crate) async fn check_passkey_mfa(
        &self,
        user: &UserRecord,
        challenge_hash: &str,
        ceremony_id: Uuid,
        credential: &Value,
    ) -> Result<bool> {
        let issuer = self.issuer()?;
        let webauthn = self.webauthn()?;
        let credential: PublicKeyCredential = parse_credential(
            credential,
            "PublicKeyCredential from navigator.credentials.get",
        )?;
        let now = self.clock().now();
        let Some(ceremony) = issuer
            .store
            .take_ceremony(ceremony_id, KIND_MFA, now)
            .await?
            .filter(|c| {
                c.user_id == Some(user.id) && c.bound_to.as_deref() == Some(challenge_hash)
            })
        else {
            return Ok(false);
        };
        let state: PasskeyAuthentication = open_state(&ceremony.state)?;
        let credential_id = URL_SAFE_NO_PAD.encode(credential.get_credential_id());
        let Some(record) = issuer
            .store
            .passkey_by_credential(&credential_id)
            .await?
            .filter(|r| r.user_id == user.id)
        else {
            return Ok(false);
        };
        let mut passkey = open_passkey(&record)?;
        match webauthn.finish_passkey_authentication(&credential, &state) {
            Ok(result) => {
                self.passkey_verified(&record, &mut passkey, &result)
                    .await?;
                Ok(true)
            }
            Err(e) => {
                tracing::info!(error = ?e, "passkey second factor refused");
                Ok(false)
            }
        }
    }

    /// Whether `user` has a passkey (the second-factor step then offers it).
    pub(crate) async fn has_passkey(&self, user: &UserRecord) -> Result<bool> {
        Ok(!self.issuer()?.store.passkeys(user.id).await?.is_empty())
    }

    /// A verified assertion: store the passkey's new counter and flags.
    async fn passkey_verified(
        &self,
        record: &PasskeyRecord,
        passkey: &mut Passkey,
        result: &AuthenticationResult,
    ) -> Result<()> {
        passkey.update_credential(result);
        let json = state_json(passkey)?;
        let used = PasskeyUse {
            id: record.id,
            passkey: &json,
            sign_count: i64::from(result.counter()),
            backup_state: result.backup_state(),
            now: self.clock().now(),
        };
        if !self.issuer()?.store.passkey_used(&used).await? {
            // A parallel use with a higher counter won, or the passkey was just removed.
            return Err(Error::InvalidPasskey);
        }
        Ok(())
    }

    /// [`AuthState::finish_login`] for a session with its own `amr` (a passkey's): stamp the
    /// login, open the session at `aal` 2, issue a device token, audit `login_succeeded`.
    pub(crate) async fn finish_login_amr(
        &self,
        user: &UserRecord,
        remember_me: bool,
        client: ClientInfo,
        amr: &str,
        detail: &str,
    ) -> Result<TokenPair> {
        let issuer = self.issuer()?;
        issuer
            .store
            .record_login(user.id, self.clock().now())
            .await?;
        self.forget_profile_here(user.id);
        let mut tokens = self
            .open_session_amr(user, remember_me, client.clone(), true, Some(amr))
            .await?;
        tokens.device_token = Some(self.issue_device_token(user).await?);
        let event = Event::new(EventKind::LoginSucceeded, &client)
            .user(user.id)
            .detail(detail);
        self.audit(event).await;
        Ok(tokens)
    }

    /// Audit a failed passkey sign-in; the error to answer.
    async fn passkey_failed(&self, user: Option<Uuid>, client: &ClientInfo, detail: &str) -> Error {
        let event = Event::new(EventKind::LoginFailed, client)
            .user(user)
            .detail(format!("passkey: {detail}"));
        self.audit(event).await;
        Error::InvalidPasskey
    }
}

#[cfg(test)]
mod tests {
    use super::relying_party;

    #[test]
    fn the_rp_id_is_the_public_url_host_and_loopback_ips_become_localhost() {
        let (id, origin) = relying_party("https://auth.example.com/base").unwrap();
        assert_eq!(id, "auth.example.com");
        assert_eq!(origin.as_str(), "https://auth.example.com/");
        let (id, origin) = relying_party("http://127.0.0.1:8080").unwrap();
        assert_eq!(id, "localhost");
        assert_eq!(origin.as_str(), "http://localhost:8080/");
        assert!(relying_party("http://10.0.0.1:8080").is_err());
    }
}
