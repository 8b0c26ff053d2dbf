//! Lockout that costs the attacker, not the victim: device tokens (OWASP's "device cookie")
//! and failure counters per account *and* client address.
//!
//! A login attempt is counted, before its password is checked, in one of two ways:
//!
//! - **With a device token** that proves an earlier successful login to this account (issued
//!   by every successful login, only its SHA-256 stored, bound to the password hash it was
//!   issued under): against that token's own budget of `threshold` attempts, and never against
//!   the account's locks. A token that reaches its budget with a wrong password is burned.
//!   A success uses the token up; the login issues a fresh one.
//! - **Without one** (or with one that is not valid for this account): against the pair
//!   (account, client address as `limit_key` gives it, so IPv6 per /64), which locks at the
//!   threshold with the growing lock; and against the account's ceiling of untrusted attempts
//!   from all addresses together (`AUTHGATE_ACCOUNT_LOGIN_RATE_LIMIT`), beyond which only
//!   device-token holders get in.
//!
//! So an attacker who locks an account from one address locks only that address; its owner
//! signs in from anywhere else, or from the same address with their device token. Unknown
//! accounts go the second way like any attempt without a valid token, and answer the same.

use uuid::Uuid;

use super::abuse::{ceiling_bucket, too_many};
use super::audit::{Event, EventKind};
use super::error::Result;
use super::state::AuthState;
use crate::domain::ClientInfo;
use crate::domain::abuse::limit_key;
use crate::store::{NewDeviceToken, UserRecord};
use crate::token::refresh;

/// How long a device token stays valid unused (seconds): 180 days.
const DEVICE_TOKEN_TTL: i64 = 180 * 86_400;
/// Device tokens kept per user; a new one beyond this forgets the oldest.
const DEVICE_TOKENS_PER_USER: i64 = 20;

/// How a login attempt was counted; what its outcome must settle.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Lockout is off.
    Unguarded,
    /// Counted against a valid device token (its hash) and its attempts so far.
    Device { hash: String, burns: bool },
    /// Counted against the pair (account, address); `locks` if this attempt set its lock.
    Untrusted { pair: String, locks: bool },
}

/// What a device token is bound to: the password hash it was issued under.
fn pw_tag(user: &UserRecord) -> String {
    refresh::hash(&user.password_hash)
}

impl AuthState {
    /// The failure counter of `account` tried from `client`'s address (its per-IP key).
    pub(crate) fn pair_key(&self, account: &str, client: &ClientInfo) -> Result<String> {
        let prefix = self.issuer()?.cfg.abuse.ipv6_prefix;
        Ok(match client.addr {
            Some(addr) => format!("{account}|{}", limit_key(addr, prefix)),
            None => format!("{account}|-"),
        })
    }

    /// Count a password attempt on `account` (the key of `user`, if it exists) before its
    /// password is checked: against `device_token` when it is valid for `user`, else against
    /// the (account, address) lock and the account's ceiling. 429 when refused.
    pub(crate) async fn begin_login(
        &self,
        account: &str,
        user: Option<&UserRecord>,
        device_token: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Attempt> {
        let issuer = self.issuer()?;
        let Some(policy) = issuer.cfg.abuse.lockout else {
            return Ok(Attempt::Unguarded);
        };
        let now = self.clock().now();
        let token = device_token
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= refresh::MAX_LEN);
        if let (Some(token), Some(user)) = (token, user.filter(|u| u.is_active)) {
            let hash = refresh::hash(token);
            let (tag, max) = (pw_tag(user), policy.threshold);
            let store = &issuer.store;
            if let Some(n) = store
                .begin_device_attempt(&hash, user.id, &tag, max, now)
                .await?
            {
                return Ok(Attempt::Device {
                    hash,
                    burns: n >= max,
                });
            }
        }
        // SECURITY: a forged, expired or another account's token is no token at all, and
        // answers exactly like one.
        let pair = self.pair_key(account, client)?;
        let locks = self
            .begin_attempt(&pair, user.map(|u| u.id), client)
            .await?;
        if let Some(rate) = issuer.cfg.abuse.account_login {
            let bucket = ceiling_bucket(account);
            let now_ms = self.clock().now_ms();
            if let Some(wait_ms) = issuer.store.take(&bucket, rate, now_ms).await? {
                let event = Event::new(EventKind::LoginBlocked, client)
                    .user(user.map(|u| u.id))
                    .detail("too many attempts on this account without a device token");
                self.audit(event).await;
                return Err(too_many(wait_ms));
            }
        }
        Ok(Attempt::Untrusted { pair, locks })
    }

    /// A wrong password: audit it, and the lock or the burned device token it caused.
    pub(crate) async fn login_failed(
        &self,
        attempt: &Attempt,
        user: Option<Uuid>,
        client: &ClientInfo,
    ) -> Result<()> {
        match attempt {
            Attempt::Device { hash, burns } => {
                let failed = Event::new(EventKind::LoginFailed, client).user(user);
                self.audit(failed.detail("with a device token")).await;
                if *burns {
                    self.issuer()?.store.delete_device_token(hash).await?;
                    let event = Event::new(EventKind::AccountLocked, client)
                        .user(user)
                        .detail("device token burned after too many failed logins");
                    self.audit(event).await;
                }
            }
            Attempt::Untrusted { locks, .. } => {
                self.attempt_failed(user, *locks, client, "").await;
            }
            Attempt::Unguarded => self.attempt_failed(user, false, client, "").await,
        }
        Ok(())
    }

    /// A right password: the device token is used up (the login issues a fresh one), or the
    /// pair's failures start over. Other addresses' locks stay.
    pub(crate) async fn login_succeeded(&self, attempt: &Attempt) -> Result<()> {
        let store = &self.issuer()?.store;
        match attempt {
            Attempt::Device { hash, .. } => {
                store.delete_device_token(hash).await?;
            }
            Attempt::Untrusted { pair, .. } => self.attempt_succeeded(pair).await?,
            Attempt::Unguarded => {}
        }
        Ok(())
    }

    /// A new device token for `user`, who just signed in with their password: the token, of
    /// which only the hash is stored. Not audited (every login issues one).
    pub(crate) async fn issue_device_token(&self, user: &UserRecord) -> Result<String> {
        let issuer = self.issuer()?;
        let now = self.clock().now();
        let token = refresh::generate();
        let record = NewDeviceToken {
            token_hash: refresh::hash(&token),
            user_id: user.id,
            pw_tag: pw_tag(user),
            created_at: now,
            expires_at: now + DEVICE_TOKEN_TTL,
        };
        issuer
            .store
            .insert_device_token(&record, DEVICE_TOKENS_PER_USER)
            .await?;
        Ok(token)
    }
}
