//! The value types of settings, each parsed and checked on its own: durations, rate limits,
//! secrets.

use std::fmt;

use anyhow::bail;

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
    pub fn rate(&self) -> Option<crate::store::Rate> {
        self.0.map(|(count, period)| crate::store::Rate {
            interval_ms: (period * 1000 / i64::from(count)).max(1),
            period_ms: period * 1000,
        })
    }
}

/// A secret string: never printed.
#[derive(Clone)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// Parse `900`, `900s`, `15m`, `24h` or `30d` into seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 900s, 15m, 24h or 30d"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("unknown unit {unit:?} in {s:?}: use s, m, h or d")),
    };
    n.checked_mul(factor)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("{s:?} must be positive"))
}

/// Secrets published in tutorials and documentation; using one is the same as having none.
const WELL_KNOWN_SECRETS: &[&str] = &[
    "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
    "your-secret-key",
    "secret",
    "changeme",
    "supersecret",
    "mysecretkey",
];

/// Refuse an HS256 secret that is short, well known or obviously low-entropy.
pub fn check_hs256_secret(secret: &str) -> anyhow::Result<()> {
    let lower = secret.to_ascii_lowercase();
    if WELL_KNOWN_SECRETS.iter().any(|known| lower.contains(known)) {
        bail!(
            "AUTHGATE_JWT_SECRET is a value published in tutorials; generate one with `openssl rand -base64 48`"
        );
    }
    if secret.len() < 32 {
        bail!(
            "AUTHGATE_JWT_SECRET must be at least 32 bytes (256 bits); generate one with `openssl rand -base64 48`"
        );
    }
    let mut distinct: Vec<char> = secret.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 12 {
        bail!(
            "AUTHGATE_JWT_SECRET looks low-entropy (only {} distinct characters); use `openssl rand -base64 48`",
            distinct.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("900"), Ok(900));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("24h"), Ok(86400));
        assert_eq!(parse_duration("30d"), Ok(30 * 86400));
        for bad in ["", "m", "15x", "-5m", "0s", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tutorial_and_weak_secrets_are_refused() {
        assert!(
            check_hs256_secret("09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7")
                .is_err()
        );
        assert!(check_hs256_secret("short").is_err());
        assert!(check_hs256_secret(&"ab".repeat(32)).is_err());
        assert!(check_hs256_secret("q8Xv3LrT0pZ2mN7sKc4yWb9eHf1gJd6uAo5iRtE=").is_ok());
    }

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
}
