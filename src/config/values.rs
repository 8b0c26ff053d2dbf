//! The value types of settings that are only settings: secrets. Durations and rate limits are
//! domain values (`crate::domain`), re-exported here.

use std::fmt;

use anyhow::bail;

pub use crate::domain::{RateLimit, parse_duration};

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
    fn tutorial_and_weak_secrets_are_refused() {
        assert!(
            check_hs256_secret("09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7")
                .is_err()
        );
        assert!(check_hs256_secret("short").is_err());
        assert!(check_hs256_secret(&"ab".repeat(32)).is_err());
        assert!(check_hs256_secret("q8Xv3LrT0pZ2mN7sKc4yWb9eHf1gJd6uAo5iRtE=").is_ok());
    }
}
