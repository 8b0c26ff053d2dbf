//! Passwords as NIST SP 800-63B wants them: 8 to 128 characters, any Unicode, never truncated,
//! no composition rules. The value is wrapped so it cannot be printed by accident.

use std::fmt;

/// Minimum length in characters.
pub const MIN_CHARS: usize = 8;
/// Maximum length in characters.
pub const MAX_CHARS: usize = 128;

/// A password that passed the policy. `Debug` is redacted.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Check the policy. Length is counted in Unicode scalar values, not bytes.
    pub fn parse(input: String) -> Result<Self, String> {
        let n = input.chars().count();
        if n < MIN_CHARS {
            return Err(format!("password must be at least {MIN_CHARS} characters"));
        }
        if n > MAX_CHARS {
            return Err(format!("password must be at most {MAX_CHARS} characters"));
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
    fn debug_never_shows_the_secret() {
        let p = Password::parse("hunter22hunter22".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter"));
    }
}
