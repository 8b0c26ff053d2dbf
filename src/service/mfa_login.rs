//! The second factor at login (issue #11): a correct password of an account with a factor
//! buys only an `mfa_token` (opaque, 256 bits, stored as a keyed hash, 5 minutes, 5
//! attempts, bound to the password hash); `POST /auth/mfa` (or the token endpoint's `mfa-otp`
//! grant) trades it and a code for the session.
//!
//! The rules: a TOTP code is accepted for a time step above the last accepted one, by one
//! atomic UPDATE (never twice, even in parallel); a recovery code is used once, in the
//! transaction that mails its owner. Second-factor failures have their own counter per
//! account and client address (`mfa:user:<id>|<address>`), apart from the password's, with
//! the same policy as password lockout (AUTHGATE_LOCKOUT_*): so an attacker who has the
//! password locks only their own address, and a lock also kills the `mfa_token` it was
//! reached with. Every failure and lock is audited.

use serde_json::json;

use super::TokenPair;
use super::abuse::{account_key, too_many};
use super::audit::{Event, EventKind};
use super::error::{Error, MfaChallenge, Result};
use super::passkeys::{AMR_PASSWORD_PASSKEY, PasskeyCeremony};
use super::state::AuthState;
use crate::domain::{ClientInfo, Limit};
use crate::store::{NewChallenge, UserRecord};
use crate::token::{one_time, refresh, totp};

/// Seconds an `mfa_token` lives.
pub(crate) const CHALLENGE_TTL: i64 = 300;
/// Answers an `mfa_token` takes before it dies.
const CHALLENGE_ATTEMPTS: i64 = 5;
/// How the `mfa_token` of a login that asked for the cookie transport begins. The stored hash
/// covers the whole token, prefix included, so the prefix cannot be added or removed: the
/// transport is bound to the challenge like `remember_me`, without a column (plain tokens are
/// base64url and never contain a '.').
pub const COOKIE_MFA_PREFIX: &str = "c.";

/// What answers the second-factor step.
#[derive(Clone, Copy)]
pub enum MfaAnswer<'a> {
    /// A code from the authenticator app.
    Otp(&'a str),
    /// One of the recovery codes.
    RecoveryCode(&'a str),
    /// A passkey assertion for the ceremony begun at `POST /auth/mfa/passkey/start`.
    Passkey {
        ceremony_id: uuid::Uuid,
        credential: &'a serde_json::Value,
    },
}

impl std::fmt::Debug for MfaAnswer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SECURITY: codes are credentials; never logged.
        match self {
            MfaAnswer::Otp(_) => f.write_str("Otp(..)"),
            MfaAnswer::RecoveryCode(_) => f.write_str("RecoveryCode(..)"),
            MfaAnswer::Passkey { .. } => f.write_str("Passkey(..)"),
        }
    }
}

/// A failed second-factor check: whether it locked the factor (from this address).
struct Failed {
    locked: bool,
}

/// What a password hash is remembered as in a challenge.
fn password_tag(user: &UserRecord) -> String {
    refresh::hash(&user.password_hash)
}

impl AuthState {
    /// The challenge a login of `user` must answer, if they have a confirmed factor.
    pub(crate) async fn mfa_challenge(
        &self,
        user: &UserRecord,
        remember_me: bool,
        cookie_transport: bool,
    ) -> Result<Option<MfaChallenge>> {
        let issuer = self.issuer()?;
        let factor = issuer.store.factor(user.id).await?;
        if factor.is_none_or(|f| f.confirmed_at.is_none()) {
            return Ok(None);
        }
        let token = if cookie_transport {
            format!("{COOKIE_MFA_PREFIX}{}", one_time::generate())
        } else {
            one_time::generate()
        };
        let now = self.clock().now();
        let challenge = NewChallenge {
            hash: self.challenge_hash(&token)?,
            user_id: user.id,
            password_tag: password_tag(user),
            remember_me,
            created_at: now,
            expires_at: now + CHALLENGE_TTL,
        };
        issuer.store.create_challenge(&challenge).await?;
        let mut methods = vec!["otp", "recovery_code"];
        if self.has_passkey(user).await? {
            methods.push("passkey");
        }
        Ok(Some(MfaChallenge {
            mfa_token: token,
            methods,
            expires_in: CHALLENGE_TTL,
        }))
    }

    fn challenge_hash(&self, token: &str) -> Result<String> {
        Ok(one_time::hash(
            &self.issuer()?.token_key,
            &format!("mfa:{token}"),
        ))
    }

    /// `POST /auth/mfa`, the `mfa-otp` grant: answer the challenge of `mfa_token`; the
    /// session opens with `amr: ["pwd","otp"]`. 401 `invalid_mfa_token` for an unknown, used,
    /// expired or exhausted token; 401 `invalid_otp` for a wrong or reused code; 429 while
    /// the second factor is locked from this address.
    pub async fn complete_mfa(
        &self,
        mfa_token: &str,
        answer: MfaAnswer<'_>,
        client: ClientInfo,
    ) -> Result<TokenPair> {
        let issuer = self.issuer()?;
        self.check_rate(Limit::Login, &client).await?;
        let token = mfa_token.trim();
        if token.is_empty() || token.len() > one_time::MAX_LEN {
            return Err(Error::InvalidMfaToken);
        }
        let hash = self.challenge_hash(token)?;
        let now = self.clock().now();
        let Some(challenge) = issuer
            .store
            .challenge_attempt(&hash, CHALLENGE_ATTEMPTS, now)
            .await?
        else {
            let event = Event::new(EventKind::MfaFailed, &client).detail("invalid mfa_token");
            self.audit(event).await;
            return Err(Error::InvalidMfaToken);
        };
        let user = issuer
            .store
            .user_by_id(challenge.user_id)
            .await?
            .filter(|u| u.is_active && password_tag(u) == challenge.password_tag);
        let Some(user) = user else {
            // Deactivated, or the password changed since: the password step no longer holds.
            issuer.store.finish_challenge(&hash, now).await?;
            return Err(Error::InvalidMfaToken);
        };
        let outcome = match answer {
            MfaAnswer::Otp(code) => self.try_totp(&user, code, &client).await?,
            MfaAnswer::RecoveryCode(code) => self.try_recovery_code(&user, code, &client).await?,
            MfaAnswer::Passkey {
                ceremony_id,
                credential,
            } => {
                self.try_passkey(&user, &hash, ceremony_id, credential, &client)
                    .await?
            }
        };
        if let Err(failed) = outcome {
            // SECURITY: a lock ends the login it was reached in (keycloak#46164), and so does
            // the last attempt.
            if failed.locked || challenge.attempts >= CHALLENGE_ATTEMPTS {
                issuer.store.finish_challenge(&hash, now).await?;
            }
            return Err(match answer {
                MfaAnswer::Passkey { .. } => Error::InvalidPasskey,
                _ => Error::InvalidOtp,
            });
        }
        if !issuer.store.finish_challenge(&hash, now).await? {
            // A parallel answer with another valid code won.
            return Err(Error::InvalidMfaToken);
        }
        if let MfaAnswer::Passkey { .. } = answer {
            let detail = "with a passkey as the second factor";
            return self
                .finish_login_amr(
                    &user,
                    challenge.remember_me,
                    client,
                    AMR_PASSWORD_PASSKEY,
                    detail,
                )
                .await;
        }
        self.finish_login(&user, challenge.remember_me, client, true)
            .await
    }

    /// `POST /auth/mfa/passkey/start`: the options for answering the challenge of `mfa_token`
    /// with one of the user's passkeys. Counts as one of the token's attempts. 401
    /// `invalid_mfa_token` as for `complete_mfa`; 404 when the user has no passkey.
    pub async fn start_mfa_passkey(
        &self,
        mfa_token: &str,
        client: &ClientInfo,
    ) -> Result<PasskeyCeremony> {
        let issuer = self.issuer()?;
        self.check_rate(Limit::Login, client).await?;
        let token = mfa_token.trim();
        if token.is_empty() || token.len() > one_time::MAX_LEN {
            return Err(Error::InvalidMfaToken);
        }
        let hash = self.challenge_hash(token)?;
        let now = self.clock().now();
        let challenge = issuer
            .store
            .challenge_attempt(&hash, CHALLENGE_ATTEMPTS, now)
            .await?
            .ok_or(Error::InvalidMfaToken)?;
        let user = issuer
            .store
            .user_by_id(challenge.user_id)
            .await?
            .filter(|u| u.is_active && password_tag(u) == challenge.password_tag)
            .ok_or(Error::InvalidMfaToken)?;
        self.start_passkey_mfa(&user, hash).await
    }

    async fn try_passkey(
        &self,
        user: &UserRecord,
        challenge_hash: &str,
        ceremony_id: uuid::Uuid,
        credential: &serde_json::Value,
        client: &ClientInfo,
    ) -> Result<std::result::Result<(), Failed>> {
        let locks = self.begin_otp_attempt(user, client).await?;
        if !self
            .check_passkey_mfa(user, challenge_hash, ceremony_id, credential)
            .await?
        {
            let detail = "passkey did not verify (or its ceremony is used or expired)";
            let locked = self.otp_failed(user, locks, client, detail).await;
            return Ok(Err(Failed { locked }));
        }
        self.otp_succeeded(user, client).await?;
        Ok(Ok(()))
    }

    /// Check an authenticator code of `user` (enrolment aside): 401 `invalid_otp` when wrong
    /// or reused, 429 while locked.
    pub(crate) async fn check_totp(
        &self,
        user: &UserRecord,
        code: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        match self.try_totp(user, code, client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::InvalidOtp),
        }
    }

    /// Use a recovery code of `user`: 401 `invalid_otp` when unknown or used, 429 while
    /// locked.
    pub(crate) async fn use_recovery_code(
        &self,
        user: &UserRecord,
        code: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        match self.try_recovery_code(user, code, client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::InvalidOtp),
        }
    }

    async fn try_totp(
        &self,
        user: &UserRecord,
        code: &str,
        client: &ClientInfo,
    ) -> Result<std::result::Result<(), Failed>> {
        let issuer = self.issuer()?;
        let locks = self.begin_otp_attempt(user, client).await?;
        let factor = issuer
            .store
            .factor(user.id)
            .await?
            .filter(|f| f.confirmed_at.is_some());
        let step = match &factor {
            Some(f) => totp::matching_step(&self.open_secret(f)?, code, self.clock().now()),
            None => None,
        };
        let accepted = match step {
            Some(step) => issuer.store.accept_step(user.id, step).await?,
            None => false,
        };
        if !accepted {
            let detail = if step.is_some() {
                "code already used (replay)"
            } else {
                "wrong code"
            };
            let locked = self.otp_failed(user, locks, client, detail).await;
            return Ok(Err(Failed { locked }));
        }
        self.otp_succeeded(user, client).await?;
        Ok(Ok(()))
    }

    async fn try_recovery_code(
        &self,
        user: &UserRecord,
        code: &str,
        client: &ClientInfo,
    ) -> Result<std::result::Result<(), Failed>> {
        let issuer = self.issuer()?;
        let locks = self.begin_otp_attempt(user, client).await?;
        let now = self.clock().now();
        let left = match totp::normalize_recovery_code(code) {
            Some(normalized) => {
                let hash = self.recovery_code_hash(user.id, &normalized)?;
                let mail =
                    |left: i64| self.mfa_mail(user, "recovery_code_used", json!({ "left": left }));
                issuer
                    .store
                    .use_recovery_code(user.id, &hash, &mail, now)
                    .await?
            }
            None => None,
        };
        let Some(left) = left else {
            let detail = "unknown or used recovery code";
            let locked = self.otp_failed(user, locks, client, detail).await;
            return Ok(Err(Failed { locked }));
        };
        self.profile_changed(user.id).await;
        self.otp_succeeded(user, client).await?;
        let event = Event::new(EventKind::RecoveryCodeUsed, client)
            .user(user.id)
            .detail(format!("{left} left"));
        self.audit(event).await;
        Ok(Ok(()))
    }

    /// The second factor's failure counter of `user` from `client`'s address.
    fn otp_key(&self, user: &UserRecord, client: &ClientInfo) -> Result<String> {
        self.pair_key(&format!("mfa:{}", account_key(Some(user.id), "")), client)
    }

    /// Count a second-factor attempt before checking it: whether it locks (pending its
    /// outcome); 429 while locked. Off when password lockout is off.
    pub(crate) async fn begin_otp_attempt(
        &self,
        user: &UserRecord,
        client: &ClientInfo,
    ) -> Result<bool> {
        let issuer = self.issuer()?;
        let Some(policy) = issuer.cfg.abuse.lockout else {
            return Ok(false);
        };
        let now = self.clock().now();
        let key = self.otp_key(user, client)?;
        match issuer.store.begin_login_attempt(&key, policy, now).await? {
            Ok(locks) => Ok(locks),
            Err(locked_until) => {
                let event = Event::new(EventKind::MfaBlocked, client)
                    .user(user.id)
                    .detail("second factor locked");
                self.audit(event).await;
                Err(too_many((locked_until - now) * 1000))
            }
        }
    }

    /// A failed second factor: audited, and the lock if this attempt set one. Returns `locks`.
    pub(crate) async fn otp_failed(
        &self,
        user: &UserRecord,
        locks: bool,
        client: &ClientInfo,
        detail: &str,
    ) -> bool {
        let event = Event::new(EventKind::MfaFailed, client)
            .user(user.id)
            .detail(detail);
        self.audit(event).await;
        if locks {
            let event = Event::new(EventKind::MfaLocked, client)
                .user(user.id)
                .detail("too many failed second-factor codes");
            self.audit(event).await;
        }
        locks
    }

    /// A passed second factor: its failure count from this address starts over.
    pub(crate) async fn otp_succeeded(&self, user: &UserRecord, client: &ClientInfo) -> Result<()> {
        let issuer = self.issuer()?;
        if issuer.cfg.abuse.lockout.is_some() {
            let key = self.otp_key(user, client)?;
            issuer.store.clear_login_failures(&key).await?;
        }
        Ok(())
    }
}
