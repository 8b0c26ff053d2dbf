//! Abuse resistance: per-client-IP rate limits and per-account lockout, shared by every way of
//! presenting a password (`/auth/token`, `/auth/login`, password change). How an attempt is
//! keyed (device token, or account and address) is in `super::devices`. The shapes of the
//! limits (rates, the lockout policy, the in-memory buckets) are in `crate::domain::abuse`.
//!
//! Login and registration limits and the lockout counters live in the database (see
//! `crate::store::GuardStore`), so they hold across restarts and across instances sharing one
//! PostgreSQL. The refresh limit is kept in each instance's memory: a refresh guesses nothing
//! (its token is 256 random bits), so the limit only sheds load, and keeping it off the
//! database keeps a refresh at one durable write.

use uuid::Uuid;

use super::audit::{Event, EventKind};
use super::error::{Error, Result};
use super::state::AuthState;
use crate::domain::abuse::limit_key;
use crate::domain::{Actor, ClientInfo, Limit};

pub(crate) fn too_many(wait_ms: i64) -> Error {
    Error::TooManyRequests {
        retry_after: u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1),
    }
}

/// The lockout key of an account: its id when it exists, else the name tried, so that an unknown
/// account locks (and answers) exactly like a known one.
pub(crate) fn account_key(user: Option<Uuid>, login_lower: &str) -> String {
    match user {
        Some(id) => format!("user:{id}"),
        None => format!("login:{login_lower}"),
    }
}

/// The rate-limit bucket of an account's attempts without a device token, from all addresses.
pub(crate) fn ceiling_bucket(account: &str) -> String {
    format!("account:{account}")
}

impl AuthState {
    /// Count a request against the client IP's `limit`: 429 with `Retry-After` when over it.
    /// Requests without a known client address (CLI, direct library calls) are not limited.
    pub async fn check_rate(&self, limit: Limit, client: &ClientInfo) -> Result<()> {
        let issuer = self.issuer()?;
        let Some(addr) = client.addr else {
            return Ok(());
        };
        let Some(rate) = issuer.cfg.abuse.rate(limit) else {
            return Ok(());
        };
        let now_ms = self.clock().now_ms();
        let key = limit_key(addr, issuer.cfg.abuse.ipv6_prefix);
        let wait = match limit {
            Limit::Refresh => issuer.refresh_buckets.take(key, rate, now_ms),
            _ => {
                let bucket = format!("{}:{key}", limit.name());
                issuer.store.take(&bucket, rate, now_ms).await?
            }
        };
        match wait {
            None => Ok(()),
            Some(wait_ms) => {
                let event = Event::new(EventKind::RateLimited, client).detail(limit.name());
                self.audit(event).await;
                Err(too_many(wait_ms))
            }
        }
    }

    /// Count a login attempt on `account` before checking its password. Returns whether this
    /// attempt locked the account (pending its outcome); 429 when the account is locked.
    pub(crate) async fn begin_attempt(
        &self,
        account: &str,
        user: Option<Uuid>,
        client: &ClientInfo,
    ) -> Result<bool> {
        let issuer = self.issuer()?;
        let Some(policy) = issuer.cfg.abuse.lockout else {
            return Ok(false);
        };
        let now = self.clock().now();
        match issuer
            .store
            .begin_login_attempt(account, policy, now)
            .await?
        {
            Ok(locks) => Ok(locks),
            Err(locked_until) => {
                let event = Event::new(EventKind::LoginBlocked, client)
                    .user(user)
                    .detail("account locked");
                self.audit(event).await;
                Err(too_many((locked_until - now) * 1000))
            }
        }
    }

    /// A wrong password: audit the failure, and the lock if this attempt set one.
    pub(crate) async fn attempt_failed(
        &self,
        user: Option<Uuid>,
        locked: bool,
        client: &ClientInfo,
        detail: &str,
    ) {
        let failed = Event::new(EventKind::LoginFailed, client).user(user);
        self.audit(failed.detail(detail)).await;
        if locked {
            let event = Event::new(EventKind::AccountLocked, client)
                .user(user)
                .detail("too many failed logins");
            self.audit(event).await;
        }
    }

    /// A correct password: the account's failure count starts over.
    pub(crate) async fn attempt_succeeded(&self, account: &str) -> Result<()> {
        let issuer = self.issuer()?;
        if issuer.cfg.abuse.lockout.is_some() {
            issuer.store.clear_login_failures(account).await?;
        }
        Ok(())
    }

    /// Lift a user's locks and forget their failed logins (`POST /admin/users/{id}/unlock`, the
    /// CLI's `user unlock`): every address's, the account's ceiling and its device tokens'
    /// counts. 404 for an unknown user.
    pub async fn unlock_user(&self, id: Uuid, actor: &Actor) -> Result<()> {
        let issuer = self.issuer()?;
        if issuer.store.user_by_id(id).await?.is_none() {
            return Err(Error::NotFound("user"));
        }
        // Every counter of the account: each address's lock, the ceiling, its device tokens'.
        let account = account_key(Some(id), "");
        let was_locked = issuer
            .store
            .clear_account_guards(&account, &ceiling_bucket(&account), id)
            .await?;
        // The second factor's own counters (`super::mfa_login`).
        let mfa = format!("mfa:{account}");
        let mfa_locked = issuer
            .store
            .clear_account_guards(&mfa, &ceiling_bucket(&mfa), id)
            .await?;
        let was_locked = was_locked || mfa_locked;
        let detail = if was_locked {
            "failures cleared"
        } else {
            "nothing to clear"
        };
        let event = Event::new(EventKind::AccountUnlocked, &actor.client)
            .user(id)
            .by(actor)
            .detail(detail);
        self.audit(event).await;
        Ok(())
    }
}
