//! E-mail addresses: trimmed, length-capped, one `@`, compared case-insensitively.

use std::fmt;

/// A syntactically plausible e-mail address. The original spelling is kept for display; the
/// lowercase form is what uniqueness is decided on (one account per address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    lower: String,
}

impl Email {
    /// Parse user input. Deliberately modest: full RFC 5322 is not what users type, and the real
    /// check is a confirmation e-mail.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("e-mail must not be empty".into());
        }
        if s.len() > 254 {
            return Err("e-mail must be at most 254 characters".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("e-mail must not contain spaces or control characters".into());
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("e-mail must contain an @".into());
        };
        if local.is_empty() || local.len() > 64 {
            return Err("the part before @ must be 1 to 64 characters".into());
        }
        if domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err("the part after @ must be a domain such as example.com".into());
        }
        // The address is unique and looked up under its normalised key, which NFKC and lowercasing
        // can make longer than the input or give a second '@' (a fullwidth one): check it too.
        let lower = super::login_key(s);
        if lower.len() > 254 {
            return Err("e-mail must be at most 254 characters once normalised".into());
        }
        if lower.matches('@').count() != 1 {
            return Err("e-mail must contain exactly one @".into());
        }
        Ok(Self {
            display: s.to_owned(),
            lower,
        })
    }

    /// As the user wrote it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded key used for uniqueness and login.
    pub fn lower(&self) -> &str {
        &self.lower
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_address_is_always_usable_as_a_login() {
        // Found by the request_parsers fuzz target (fuzz/regressions/): NFKC and lowercasing
        // can grow an address past the 254 bytes a login may have, or add an '@'.
        let grows = format!("a@{}.com", "\u{FDFA}".repeat(13));
        let lower_grows = format!("a@{}.com", "\u{023A}".repeat(124));
        for bad in [
            grows.as_str(),
            lower_grows.as_str(),
            "a\u{FF20}b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        let ok = Email::parse("Ｋafi@Example.com").unwrap();
        assert_eq!(ok.lower(), "kafi@example.com");
    }
    use proptest::prelude::*;

    #[test]
    fn trims_and_lowercases_for_comparison() {
        let e = Email::parse("  Alice@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Alice@Example.COM");
        assert_eq!(e.lower(), "alice@example.com");
    }

    #[test]
    fn rejects_invalid_addresses_with_a_reason() {
        for (input, why) in [
            ("", "empty"),
            ("no-at-sign", "no @"),
            ("a@b", "no dot in domain"),
            ("a@@b.com", "two @"),
            ("@example.com", "empty local part"),
            ("a b@example.com", "space"),
            ("a@.example.com", "leading dot"),
        ] {
            assert!(
                Email::parse(input).is_err(),
                "{why}: {input:?} should be rejected"
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_accepts_only_bounded_input(s in "\\PC{0,300}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert!(e.as_str().len() <= 254);
                prop_assert!(e.as_str().contains('@'));
            }
        }

        /// Structured addresses (`local@label.label.tld`, the shape people type): every one is
        /// accepted, kept as typed but trimmed, and its lookup key is the lowercase form, which
        /// is itself a valid address with the same key.
        #[test]
        fn well_formed_addresses_are_accepted_and_keyed_in_lowercase(
            local in "[A-Za-z0-9][A-Za-z0-9._+-]{0,30}",
            labels in proptest::collection::vec("[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?", 1..4),
            tld in "[A-Za-z]{2,10}",
            pad in "[ \t]{0,3}",
        ) {
            prop_assume!(!local.ends_with('.') && !local.contains(".."));
            let address = format!("{local}@{}.{tld}", labels.join("."));
            let e = Email::parse(&format!("{pad}{address}{pad}"))
                .map_err(|why| TestCaseError::fail(format!("{address:?} refused: {why}")))?;
            prop_assert_eq!(e.as_str(), address.as_str());
            prop_assert_eq!(e.lower(), address.to_lowercase());
            let again = Email::parse(e.lower()).unwrap();
            prop_assert_eq!(again.lower(), e.lower());
        }
    }
}
