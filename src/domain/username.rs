//! Usernames: 3–32 characters of letters, digits, `.`, `_`, `-`; unique case-insensitively.

/// A valid username. Cannot contain `@`, so a login name is never ambiguous between the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    display: String,
    lower: String,
}

impl Username {
    /// Parse user input.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let len = s.chars().count();
        if !(3..=32).contains(&len) {
            return Err("username must be 3 to 32 characters".into());
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err("username may contain only letters, digits, '.', '_' and '-'".into());
        }
        Ok(Self {
            display: s.to_owned(),
            lower: super::login_key(s),
        })
    }

    /// As the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded key used for uniqueness and login.
    pub fn lower(&self) -> &str {
        &self.lower
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        assert_eq!(Username::parse(" Bob_1 ").unwrap().lower(), "bob_1");
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["ab", "has space", "a@b", &"x".repeat(33), "semi;colon"] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }
}
