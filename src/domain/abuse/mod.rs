//! The shapes of abuse resistance: rates, the lockout policy, the limits a server enforces, the
//! address a client is counted under, and (in `memory`) the per-instance counters. Pure values
//! and arithmetic; the service applies them.

mod memory;

use std::net::IpAddr;

pub use memory::{MemoryBuckets, Repeat, RepeatedEvents};

use super::{ForwardedHeader, parse_duration};

/// The defaults, written once: `Settings` uses them as its flag defaults and
/// [`AbusePolicy::default`] parses them.
pub mod defaults {
    /// Password attempts per client IP.
    pub const LOGIN_RATE: &str = "30/5m";
    /// Password attempts without a device token per account, from all addresses together.
    pub const ACCOUNT_LOGIN_RATE: &str = "50/1h";
    /// Registrations per client IP.
    pub const REGISTER_RATE: &str = "20/1h";
    /// Password-reset and verification mail requests per client IP.
    pub const RECOVERY_RATE: &str = "10/15m";
    /// Refreshes per client IP (per instance).
    pub const REFRESH_RATE: &str = "150/5m";
    /// Consecutive failures that lock an account.
    pub const LOCKOUT_THRESHOLD: i64 = 5;
    /// The first lock, as a duration.
    pub const LOCKOUT_DURATION: &str = "1m";
    /// The longest lock, as a duration.
    pub const LOCKOUT_MAX: &str = "15m";
    /// IPv6 clients share a budget per network of this prefix length.
    pub const IPV6_PREFIX: u8 = 64;
}

/// `N/DURATION` (e.g. `30/5m`: 30 at once, 30 per five minutes sustained) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit(pub Option<(u32, i64)>);

impl RateLimit {
    /// Parse `30/5m` or `off`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(RateLimit(None));
        }
        let (count, period) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a rate like 30/5m (or off)"))?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{s:?}: the count must be a positive whole number"))?;
        Ok(RateLimit(Some((count, parse_duration(period)?))))
    }

    /// The limit as the store applies it; `None` when off.
    pub fn rate(&self) -> Option<Rate> {
        self.0.map(|(count, period)| Rate::per(count, period))
    }
}

/// A limit on how often something may happen, as the store applies it (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Milliseconds between two events at the sustained rate (`period / count`).
    pub interval_ms: i64,
    /// The window: up to `count` events may arrive at once, `count` per `period` sustained.
    pub period_ms: i64,
}

impl Rate {
    /// `count` at once and `count` per `period_secs` sustained.
    pub fn per(count: u32, period_secs: i64) -> Self {
        Self {
            interval_ms: (period_secs * 1000 / i64::from(count.max(1))).max(1),
            period_ms: period_secs * 1000,
        }
    }
}

/// The account-lockout policy, as the store applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the account.
    pub threshold: i64,
    /// Seconds the first lock lasts; each further lock lasts twice as long...
    pub first_lock: i64,
    /// ...up to this many seconds.
    pub max_lock: i64,
}

/// Which per-IP limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Login,
    Register,
    Refresh,
    /// Requests for a reset or verification mail.
    Recovery,
}

impl Limit {
    /// The name used in bucket keys and audit details.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Login => "login",
            Limit::Register => "register",
            Limit::Refresh => "refresh",
            Limit::Recovery => "recovery",
        }
    }
}

/// The limits a server enforces. [`AbusePolicy::default`] is the secure default, the same as
/// `Settings`' defaults (both read [`defaults`]).
#[derive(Debug, Clone)]
pub struct AbusePolicy {
    pub login: Option<Rate>,
    pub register: Option<Rate>,
    pub refresh: Option<Rate>,
    pub recovery: Option<Rate>,
    /// `None`: accounts are never locked.
    pub lockout: Option<LockoutPolicy>,
    /// Attempts without a device token per account from all addresses (applies with `lockout`).
    pub account_login: Option<Rate>,
    /// Proxies whose forwarding header is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header those proxies name the client in.
    pub forwarded_header: ForwardedHeader,
    /// IPv6 clients are limited per network of this prefix length: one host usually owns a
    /// whole /64, and would otherwise get a fresh budget per address.
    pub ipv6_prefix: u8,
}

impl AbusePolicy {
    /// The rate for `limit`, `None` when that limit is off.
    pub fn rate(&self, limit: Limit) -> Option<Rate> {
        match limit {
            Limit::Login => self.login,
            Limit::Register => self.register,
            Limit::Refresh => self.refresh,
            Limit::Recovery => self.recovery,
        }
    }
}

impl Default for AbusePolicy {
    fn default() -> Self {
        let rate = |s: &str| RateLimit::parse(s).ok().and_then(|r| r.rate());
        let secs = |s: &str| parse_duration(s).unwrap_or(60);
        Self {
            login: rate(defaults::LOGIN_RATE),
            register: rate(defaults::REGISTER_RATE),
            refresh: rate(defaults::REFRESH_RATE),
            recovery: rate(defaults::RECOVERY_RATE),
            lockout: Some(LockoutPolicy {
                threshold: defaults::LOCKOUT_THRESHOLD,
                first_lock: secs(defaults::LOCKOUT_DURATION),
                max_lock: secs(defaults::LOCKOUT_MAX),
            }),
            account_login: rate(defaults::ACCOUNT_LOGIN_RATE),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            ipv6_prefix: defaults::IPV6_PREFIX,
        }
    }
}

/// The address a client's per-IP limits are counted under: an IPv4 address (IPv4-mapped IPv6
/// included) as it is, an IPv6 address as its network of `ipv6_prefix` bits.
pub fn limit_key(addr: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits() {
        assert_eq!(RateLimit::parse("30/5m"), Ok(RateLimit(Some((30, 300)))));
        assert_eq!(RateLimit::parse("off"), Ok(RateLimit(None)));
        let rate = RateLimit::parse("4/1s").unwrap().rate().unwrap();
        assert_eq!((rate.interval_ms, rate.period_ms), (250, 1000));
        for bad in ["", "30", "0/1m", "-1/1m", "x/1m", "30/", "30/5x"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ipv6_clients_are_limited_per_network_and_mapped_ipv4_is_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa::1"), 64),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa::1"), 64),
            limit_key(ip("2001:db8:1:2:ffff:1:2:3"), 64)
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1"), 64),
            limit_key(ip("2001:db8:1:3::1"), 64)
        );
        assert_eq!(limit_key(ip("2001:db8::1"), 128), ip("2001:db8::1"));
        assert_eq!(limit_key(ip("2001:db8::1"), 0), ip("::"));
        assert_eq!(limit_key(ip("::ffff:10.0.0.2"), 64), ip("10.0.0.2"));
        assert_eq!(limit_key(ip("192.0.2.7"), 64), ip("192.0.2.7"));
    }

    #[test]
    fn the_default_policy_is_the_settings_default() {
        let policy = AbusePolicy::default();
        assert_eq!(policy.login, Some(Rate::per(30, 300)));
        assert_eq!(policy.register, Some(Rate::per(20, 3600)));
        assert_eq!(policy.refresh, Some(Rate::per(150, 300)));
        assert_eq!(policy.account_login, Some(Rate::per(50, 3600)));
        let lockout = policy.lockout.unwrap();
        assert_eq!(
            (lockout.threshold, lockout.first_lock, lockout.max_lock),
            (5, 60, 900)
        );
    }
}
