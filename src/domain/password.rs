//! Passwords as NIST SP 800-63B wants them: 8 (configurable) to 128 characters, any Unicode,
//! never truncated, no composition rules, not a common or breached password, and not the
//! account's own e-mail or username. The value is wrapped so it cannot be printed by accident.

use std::fmt;

use sha2::{Digest, Sha256};

/// Default minimum length in characters.
pub const MIN_CHARS: usize = 8;
/// Maximum length in characters.
pub const MAX_CHARS: usize = 128;

/// The shipped list of common and breached passwords (see tools/common_passwords.py): sorted
/// 4-byte SHA-256 prefixes of ~97,000 lowercased passwords, the SecLists top 100,000 included.
static COMMON: &[u8] = include_bytes!("common_passwords.bin");

/// Whether `password` (compared case-insensitively) is on the common-password list.
pub fn is_common(password: &str) -> bool {
    let digest = Sha256::digest(password.to_lowercase().as_bytes());
    let key = [digest[0], digest[1], digest[2], digest[3]];
    let entries = COMMON.len() / 4;
    let (mut lo, mut hi) = (0, entries);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match COMMON[mid * 4..mid * 4 + 4].cmp(&key) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// The rules a new password must meet beyond its length cap.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    pub min_chars: usize,
    /// The account's e-mail and username: the password may not be one of them.
    pub identifiers: &'a [&'a str],
}

impl Default for Policy<'_> {
    fn default() -> Self {
        Self {
            min_chars: MIN_CHARS,
            identifiers: &[],
        }
    }
}

/// A password that passed the policy. `Debug` is redacted.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Check the default policy. Length is counted in Unicode scalar values, not bytes.
    #[cfg(any(test, feature = "internals"))]
    pub fn parse(input: String) -> Result<Self, String> {
        Self::check(input, Policy::default())
    }

    /// Check `policy`; the message names the rule that failed.
    pub fn check(input: String, policy: Policy<'_>) -> Result<Self, String> {
        let n = input.chars().count();
        let min = policy.min_chars;
        if n < min {
            return Err(format!("password must be at least {min} characters"));
        }
        if n > MAX_CHARS {
            return Err(format!("password must be at most {MAX_CHARS} characters"));
        }
        let lower = input.to_lowercase();
        if policy
            .identifiers
            .iter()
            .any(|id| !id.is_empty() && id.to_lowercase() == lower)
        {
            return Err("password must not be your e-mail address or username".into());
        }
        if is_common(&input) {
            return Err(
                "password is on the list of common or breached passwords; choose one that is harder to guess"
                    .into(),
            );
        }
        Ok(Self(input))
    }

    /// The secret itself, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        assert!(
            Password::parse("ééééééé".into()).is_err(),
            "7 chars, 14 bytes"
        );
        assert!(Password::parse("éééééééé".into()).is_ok(), "8 chars");
        assert!(Password::parse("x".repeat(128)).is_ok());
        assert!(Password::parse("x".repeat(129)).is_err());
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        for common in [
            "password",
            "PASSWORD1",
            "12345678",
            "qwertyuiop",
            "iloveyou",
            "trustno1",
        ] {
            let err = Password::parse(common.into()).unwrap_err();
            assert!(err.contains("common or breached"), "{common}: {err}");
        }
        // Entries from the end of the SecLists top 100,000 (ranks 98,001 and 99,996) are there too.
        assert!(is_common("277rte87hryloitru") && is_common("07021954"));
        for fine in ["correct horse battery staple", "vT9#kq2!Lm", "ᚠᛇᚻ᛫ᛒᛦᚦ᛫ᚠᚱ"]
        {
            assert!(Password::parse(fine.into()).is_ok(), "{fine}");
        }
    }

    #[test]
    fn the_password_may_not_be_the_email_or_username() {
        let policy = Policy {
            min_chars: 8,
            identifiers: &["Ada@Example.com", "lovelace1815"],
        };
        for same in ["ada@example.com", "LOVELACE1815"] {
            let err = Password::check(same.into(), policy).unwrap_err();
            assert!(err.contains("e-mail address or username"), "{err}");
        }
        assert!(Password::check("ada@example.com!".into(), policy).is_ok());
    }

    #[test]
    fn the_minimum_length_is_configurable() {
        let policy = Policy {
            min_chars: 15,
            identifiers: &[],
        };
        let err = Password::check("fourteen chars".into(), policy).unwrap_err();
        assert!(err.contains("at least 15"), "{err}");
        assert!(Password::check("fifteen chars!!".into(), policy).is_ok());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::parse("hunter22hunter22".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter"));
    }
}
