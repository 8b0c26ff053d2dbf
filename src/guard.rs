//! Abuse resistance: per-client-IP rate limits and per-account lockout, shared by every way of
//! presenting a password (`/auth/token`, `/auth/login`, password change).
//!
//! Login and registration limits and the lockout counters live in the database (see
//! [`crate::store::GuardStore`]), so they hold across restarts and across instances sharing one
//! PostgreSQL. The refresh limit is kept in each instance's memory: a refresh guesses nothing
//! (its token is 256 random bits), so the limit only sheds load, and keeping it off the
//! database keeps a refresh at one durable write.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use uuid::Uuid;

use crate::audit::{Actor, EventKind};
use crate::config::RateLimit;
use crate::error::{Error, Result};
use crate::service::ClientInfo;
use crate::state::AuthState;
use crate::store::{LockoutPolicy, Rate};

/// Which per-IP limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Login,
    Register,
    Refresh,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::Login => "login",
            Limit::Register => "register",
            Limit::Refresh => "refresh",
        }
    }
}

/// The limits a server enforces. [`AbusePolicy::default`] is the secure default.
#[derive(Debug, Clone)]
pub struct AbusePolicy {
    pub login: Option<Rate>,
    pub register: Option<Rate>,
    pub refresh: Option<Rate>,
    /// `None`: accounts are never locked.
    pub lockout: Option<LockoutPolicy>,
    /// Proxies whose forwarding headers are believed (see [`crate::http::client_ip`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for AbusePolicy {
    fn default() -> Self {
        let rate = |s: &str| RateLimit::parse(s).ok().and_then(|r| r.rate());
        Self {
            login: rate("30/5m"),
            register: rate("20/1h"),
            refresh: rate("150/5m"),
            lockout: Some(LockoutPolicy {
                threshold: 5,
                first_lock: 60,
                max_lock: 900,
            }),
            trusted_proxies: Vec::new(),
        }
    }
}

/// GCRA buckets in memory, for the refresh limit.
#[derive(Debug, Default)]
pub(crate) struct MemoryBuckets(Mutex<HashMap<IpAddr, i64>>);

impl MemoryBuckets {
    /// The same rule as the SQL store's `take`: `None` when allowed, else milliseconds to wait.
    fn take(&self, ip: IpAddr, rate: Rate, now_ms: i64) -> Option<i64> {
        let mut buckets = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tat = buckets.get(&ip).copied().unwrap_or(now_ms).max(now_ms) + rate.interval_ms;
        if tat - now_ms > rate.period_ms {
            return Some((tat - rate.period_ms - now_ms).max(1));
        }
        buckets.insert(ip, tat);
        None
    }

    /// Forget buckets that have drained (called by housekeeping).
    pub(crate) fn purge(&self, now_ms: i64) {
        let mut buckets = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets.retain(|_, tat| *tat > now_ms);
    }
}

fn too_many(wait_ms: i64) -> Error {
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

impl AuthState {
    /// Count a request against the client IP's `limit`: 429 with `Retry-After` when over it.
    /// Requests without a known client address (CLI, direct library calls) are not limited.
    pub async fn check_rate(&self, limit: Limit, client: &ClientInfo) -> Result<()> {
        let server = self.server()?;
        let Some(addr) = client.addr else {
            return Ok(());
        };
        let policy = &server.cfg.abuse;
        let rate = match limit {
            Limit::Login => policy.login,
            Limit::Register => policy.register,
            Limit::Refresh => policy.refresh,
        };
        let Some(rate) = rate else { return Ok(()) };
        let now_ms = self.clock().now_ms();
        let wait = match limit {
            Limit::Refresh => server.refresh_buckets.take(addr, rate, now_ms),
            _ => {
                let bucket = format!("{}:{addr}", limit.name());
                server.store.take(&bucket, rate, now_ms).await?
            }
        };
        match wait {
            None => Ok(()),
            Some(wait_ms) => {
                self.audit(
                    EventKind::RateLimited,
                    None,
                    None,
                    client,
                    limit.name().to_owned(),
                )
                .await;
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
        let server = self.server()?;
        let Some(policy) = server.cfg.abuse.lockout else {
            return Ok(false);
        };
        let now = self.clock().now();
        match server
            .store
            .begin_login_attempt(account, policy, now)
            .await?
        {
            Ok(locks) => Ok(locks),
            Err(locked_until) => {
                let detail = "account locked".to_owned();
                self.audit(EventKind::LoginBlocked, user, None, client, detail)
                    .await;
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
        self.audit(
            EventKind::LoginFailed,
            user,
            None,
            client,
            detail.to_owned(),
        )
        .await;
        if locked {
            let detail = "too many failed logins".to_owned();
            self.audit(EventKind::AccountLocked, user, None, client, detail)
                .await;
        }
    }

    /// A correct password: the account's failure count starts over.
    pub(crate) async fn attempt_succeeded(&self, account: &str) -> Result<()> {
        let server = self.server()?;
        if server.cfg.abuse.lockout.is_some() {
            server.store.clear_login_failures(account).await?;
        }
        Ok(())
    }

    /// Lift a user's lock and forget their failed logins (`POST /admin/users/{id}/unlock`, the
    /// CLI's `user unlock`). 404 for an unknown user.
    pub async fn unlock_user(&self, id: Uuid, actor: &Actor) -> Result<()> {
        let server = self.server()?;
        if server.store.user_by_id(id).await?.is_none() {
            return Err(Error::NotFound("user"));
        }
        let was_locked = server
            .store
            .clear_login_failures(&account_key(Some(id), ""))
            .await?;
        let detail = if was_locked {
            "failures cleared"
        } else {
            "nothing to clear"
        };
        self.audit(
            EventKind::AccountUnlocked,
            Some(id),
            actor.id,
            &actor.client,
            detail.to_owned(),
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_buckets_allow_a_burst_then_the_sustained_rate() {
        let rate = Rate {
            interval_ms: 1000,
            period_ms: 3000,
        };
        let b = MemoryBuckets::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(b.take(ip, rate, 10_000), None);
        }
        assert_eq!(
            b.take(ip, rate, 10_000),
            Some(1000),
            "the fourth waits one interval"
        );
        assert_eq!(
            b.take("192.0.2.2".parse().unwrap(), rate, 10_000),
            None,
            "per IP"
        );
        assert_eq!(b.take(ip, rate, 11_000), None, "one more after an interval");
        assert!(b.take(ip, rate, 11_000).is_some());
        b.purge(20_000);
        assert!(b.0.lock().unwrap().is_empty());
    }
}
