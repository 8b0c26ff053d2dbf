//! The second factor (issue #11), enrolment side: a TOTP factor pending until its first code,
//! recovery codes shown once, turning it off, the admin's reset, and the `mfa` member of
//! `GET /users/me`. The login step is in `super::mfa_login`.
//!
//! Secrets are sealed at rest (`crate::token::sealed`) and leave the server once, in the
//! enrolment answer. Recovery codes are stored only as HMAC-SHA256 under the server's
//! one-time-token key. Each change that the owner should hear of enqueues its mail in the
//! transaction of the change.

use serde_json::json;
use uuid::Uuid;

use super::audit::{Event, EventKind};
use super::error::{Error, Result};
use super::state::AuthState;
use crate::domain::{Actor, ClientInfo};
use crate::store::{FactorRecord, NewMail, UserRecord};
use crate::token::{one_time, totp};

/// What an authenticator app needs to add the account; shown once, at enrolment.
#[derive(Clone)]
pub struct TotpEnrolment {
    /// The secret, base32 (for typing it in).
    pub secret: String,
    /// `otpauth://totp/…`
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SECURITY: the secret is never logged.
        f.write_str("TotpEnrolment(..)")
    }
}

/// The caller's second factor, as `GET /users/me` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaStatus {
    /// A confirmed TOTP factor is on.
    pub totp: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
}

/// What the owner's recovery codes are, and the access token of the caller's upgraded session.
#[derive(Clone)]
pub struct MfaConfirmed {
    pub recovery_codes: Vec<String>,
    /// A fresh access token of the caller's session, now with `amr: ["pwd","otp"]`.
    pub access_token: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for MfaConfirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaConfirmed(..)")
    }
}

/// The associated data a user's TOTP secret is sealed with: a secret moved to another row
/// does not open.
fn seal_label(user: Uuid) -> String {
    format!("totp:{user}")
}

impl AuthState {
    /// A mail about the account's second factor, due now.
    pub(crate) fn mfa_mail(
        &self,
        user: &UserRecord,
        kind: &str,
        context: serde_json::Value,
    ) -> NewMail {
        NewMail {
            id: Uuid::now_v7(),
            kind: kind.to_owned(),
            recipient: user.email.clone(),
            user_id: Some(user.id),
            context: context.to_string(),
            created_at: self.clock().now(),
        }
    }

    /// `POST /users/me/mfa/totp`: after the current password, a new pending TOTP factor
    /// (replacing a pending one). 409 when a confirmed factor is on.
    pub async fn begin_totp_enrolment(
        &self,
        user_id: Uuid,
        current_password: &str,
        client: &ClientInfo,
    ) -> Result<TotpEnrolment> {
        let detail = "wrong current password on two-factor enrolment";
        let user = self
            .verify_current_password(user_id, current_password, client, detail)
            .await?;
        let issuer = self.issuer()?;
        let secret = totp::new_secret();
        let sealer = &issuer.mfa.sealer;
        let factor = FactorRecord {
            user_id,
            secret_sealed: sealer.seal(&seal_label(user_id), &secret),
            key_id: sealer.current_key_id().to_owned(),
            created_at: self.clock().now(),
            confirmed_at: None,
            last_step: 0,
        };
        if !issuer.store.put_pending_factor(&factor).await? {
            return Err(Error::MfaAlreadyEnabled);
        }
        let (secret, otpauth_uri, qr_svg) =
            totp::provisioning(&secret, &issuer.mfa.issuer_name, &user.email)?;
        Ok(TotpEnrolment {
            secret,
            otpauth_uri,
            qr_svg,
        })
    }

    /// `POST /users/me/mfa/totp/confirm`: the first code turns the pending factor on (its step
    /// is used: it cannot log in), ten recovery codes replace any old ones, every other
    /// session ends, and the caller's session counts as having passed the second factor.
    pub async fn confirm_totp(
        &self,
        user_id: Uuid,
        session: Uuid,
        code: &str,
        client: &ClientInfo,
    ) -> Result<MfaConfirmed> {
        let issuer = self.issuer()?;
        let user = self.live_user(user_id).await?;
        let factor = issuer
            .store
            .factor(user_id)
            .await?
            .filter(|f| f.confirmed_at.is_none())
            .ok_or(Error::NotFound("pending two-factor enrolment"))?;
        let now = self.clock().now();
        let lock = self.begin_otp_attempt(&user, client).await?;
        let step = totp::matching_step(&self.open_secret(&factor)?, code, now);
        let (codes, hashes) = self.new_recovery_codes(user_id)?;
        let mail = self.mfa_mail(&user, "mfa_enabled", json!({}));
        let confirmed = match step {
            Some(step) => {
                issuer
                    .store
                    .confirm_factor(user_id, step, &hashes, Some(&mail), now)
                    .await?
            }
            None => false,
        };
        if !confirmed {
            self.otp_failed(&user, lock, client, "wrong code at enrolment")
                .await;
            return Err(Error::InvalidOtp);
        }
        self.profile_changed(user_id).await;
        self.otp_succeeded(&user, client).await?;
        self.end_all_sessions(user_id, Some(session)).await?;
        issuer.store.mark_session_mfa(session, now).await?;
        self.audit(Event::new(EventKind::MfaEnabled, client).user(user_id))
            .await;
        Ok(MfaConfirmed {
            recovery_codes: codes,
            access_token: self.access_token(&user, session, true)?,
            expires_in: issuer.cfg.access_ttl,
        })
    }

    /// `POST /users/me/mfa/recovery-codes`: with a current authenticator code, ten fresh
    /// recovery codes; the old ones die.
    pub async fn regenerate_recovery_codes(
        &self,
        user_id: Uuid,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Vec<String>> {
        let issuer = self.issuer()?;
        let user = self.live_user(user_id).await?;
        self.check_totp(&user, code, client).await?;
        let (codes, hashes) = self.new_recovery_codes(user_id)?;
        let now = self.clock().now();
        if !issuer
            .store
            .replace_recovery_codes(user_id, &hashes, now)
            .await?
        {
            return Err(Error::NotFound("two-factor factor"));
        }
        self.profile_changed(user_id).await;
        let event = Event::new(EventKind::RecoveryCodesRegenerated, client).user(user_id);
        self.audit(event).await;
        Ok(codes)
    }

    /// `DELETE /users/me/mfa/totp`: the current password and a second factor (an
    /// authenticator code or a recovery code) turn it off; codes die with it.
    pub async fn disable_totp(
        &self,
        user_id: Uuid,
        current_password: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let issuer = self.issuer()?;
        let detail = "wrong current password on turning two-factor off";
        let user = self
            .verify_current_password(user_id, current_password, client, detail)
            .await?;
        let factor = issuer.store.factor(user_id).await?;
        if factor.is_none_or(|f| f.confirmed_at.is_none()) {
            return Err(Error::NotFound("two-factor factor"));
        }
        if totp::normalize_recovery_code(code).is_some() {
            self.use_recovery_code(&user, code, client).await?;
        } else {
            self.check_totp(&user, code, client).await?;
        }
        let mail = self.mfa_mail(&user, "mfa_disabled", json!({}));
        issuer.store.delete_factor(user_id, Some(&mail)).await?;
        self.profile_changed(user_id).await;
        self.audit(Event::new(EventKind::MfaDisabled, client).user(user_id))
            .await;
        Ok(())
    }

    /// `DELETE /admin/users/{id}/mfa`, the CLI's `user reset-mfa`: remove a user's second
    /// factor (they lost device and codes) and end their sessions. 404 for an unknown user;
    /// a user without a factor is answered the same (nothing to remove).
    pub async fn reset_mfa(&self, id: Uuid, actor: &Actor) -> Result<()> {
        let issuer = self.issuer()?;
        let user = issuer
            .store
            .user_by_id(id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let mail = self.mfa_mail(&user, "mfa_disabled", json!({}));
        let removed = issuer.store.delete_factor(id, Some(&mail)).await?;
        self.profile_changed(id).await;
        let ended = self.end_all_sessions(id, None).await?;
        let detail = if removed {
            format!("second factor removed, {ended} sessions ended")
        } else {
            format!("no second factor, {ended} sessions ended")
        };
        let event = Event::new(EventKind::MfaReset, &actor.client)
            .user(id)
            .by(actor)
            .detail(detail);
        self.audit(event).await;
        Ok(())
    }

    /// The user's second factor as `GET /users/me` shows it.
    pub async fn mfa_status(&self, user_id: Uuid) -> Result<MfaStatus> {
        let issuer = self.issuer()?;
        let totp = issuer
            .store
            .factor(user_id)
            .await?
            .is_some_and(|f| f.confirmed_at.is_some());
        let recovery_codes_left = if totp {
            issuer.store.recovery_codes_left(user_id).await?
        } else {
            0
        };
        Ok(MfaStatus {
            totp,
            recovery_codes_left,
        })
    }

    /// The user behind a live token, active.
    async fn live_user(&self, user_id: Uuid) -> Result<UserRecord> {
        self.issuer()?
            .store
            .user_by_id(user_id)
            .await?
            .filter(|u| u.is_active)
            .ok_or(Error::Unauthenticated { token_sent: true })
    }

    /// The factor's secret, unsealed.
    pub(crate) fn open_secret(&self, factor: &FactorRecord) -> Result<Vec<u8>> {
        let sealer = &self.issuer()?.mfa.sealer;
        Ok(sealer.open(&seal_label(factor.user_id), &factor.secret_sealed)?)
    }

    /// What a recovery code of `user` is stored as.
    pub(crate) fn recovery_code_hash(&self, user: Uuid, normalized: &str) -> Result<String> {
        let key = &self.issuer()?.token_key;
        Ok(one_time::hash(
            key,
            &format!("recovery:{user}:{normalized}"),
        ))
    }

    /// A fresh set of codes (as shown) and their stored hashes.
    fn new_recovery_codes(&self, user: Uuid) -> Result<(Vec<String>, Vec<String>)> {
        let codes = totp::new_recovery_codes();
        let hashes = codes
            .iter()
            .map(|c| {
                let normalized = totp::normalize_recovery_code(c)
                    .ok_or_else(|| anyhow::anyhow!("a generated recovery code does not parse"))?;
                self.recovery_code_hash(user, &normalized)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((codes, hashes))
    }
}
