//! Role names: lowercase identifiers such as `user`, `moderator`, `admin`, `billing-reader`.

/// The built-in roles, created by the first migration.
pub const USER: &str = "user";
/// May list and view users, and (de)activate users who are not admins.
pub const MODERATOR: &str = "moderator";
/// May do everything under `/admin`.
pub const ADMIN: &str = "admin";

/// A valid role name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleName(String);

impl RoleName {
    /// Parse: 1–64 characters of `a-z`, `0-9`, `_`, `-`, `:`, starting with a letter.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let ok_len = (1..=64).contains(&s.len());
        let ok_first = s.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | ':'));
        if ok_len && ok_first && ok_chars {
            Ok(Self(s.to_owned()))
        } else {
            Err(
                "role names are 1-64 characters of a-z, 0-9, '_', '-', ':' and start with a letter"
                    .into(),
            )
        }
    }

    /// The name (the fuzzer checks it; the crate itself only needs `into_string`).
    #[cfg(feature = "internals")]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Turn it back into a `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_builtin_and_custom_roles() {
        for ok in [USER, MODERATOR, ADMIN, "billing-reader", "scope:read"] {
            assert!(RoleName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Admin", "1st", "has space", &"a".repeat(65)] {
            assert!(RoleName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
